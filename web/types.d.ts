// The shapes of the JavaScript API (docs/js-api.md), for the type check of web/ (`tsc` in
// xtask/js, run by `cargo xtask test`). Browsers never load this file: the modules refer to it
// only in JSDoc (`@import … from './types.js'`). The declarations wasm-bindgen generates
// (pkg/*.d.ts) type every options object and most results as `any`; these are the shapes the
// Rust side (client-wasm/pop3-web, pop3-mime-web, pop3-sync) accepts and returns.

import type { Msg } from './i18n/index.js';

// ------------------------------------------------------------------------------ errors

/** Every rejection of the API: an `Error` named "Pop3Error" (docs/js-api.md, "Errors"). */
export interface Pop3Error extends Error {
  /** Stable, for programs (`errorCodes()` lists them). */
  code: string;
  /** The server's own words, when it said something (show it as a quotation). */
  serverText?: string | undefined;
  /** Technical detail (e.g. the certificate problem as TLS reported it). */
  detail?: string | undefined;
}

/** One entry of `errorCodes()`. */
export interface ErrorCode {
  code: string;
  group: string;
}

/** What an error handler may find on anything thrown (a Pop3Error, a StoreError, an Error). */
export interface ErrorLike {
  name?: string | undefined;
  message?: string | undefined;
  code?: string | undefined;
  serverText?: string | undefined;
  detail?: string | undefined;
}

// ------------------------------------------------------------------------------ connect

export type Security = 'tls' | 'stls' | 'plain';

/** `connect(options)`. */
export interface ConnectOptions {
  /** WebSocket URL of the bridge's `/pop3` endpoint (not with `direct`). */
  bridgeUrl?: string | undefined;
  /**
   * Connect with the runtime's own sockets instead of a bridge (Node, Deno, workerd: their
   * package entries install the opener). Not with `bridgeUrl` or `token`.
   */
  direct?: boolean | undefined;
  host: string;
  port: number;
  /** Default `'tls'`. */
  security?: Security | undefined;
  user: string;
  password?: string | undefined;
  oauthToken?: string | undefined;
  /** SASL names, `"USER"`, `"APOP"`. */
  mechanisms?: string[] | undefined;
  allowInsecure?: boolean | undefined;
  allowApop?: boolean | undefined;
  noInitialResponse?: boolean | undefined;
  /** Bridge access token. */
  token?: string | undefined;
  timeoutMs?: number | undefined;
  keepaliveMs?: number | undefined;
  /**
   * Where TLS to the mail server ends, through a bridge: `true` (in this client, or fail),
   * `'prefer'` (the default: in this client unless the bridge's operator set up TLS for this
   * server), `false` (at the bridge).
   */
  endToEnd?: boolean | 'require' | 'prefer' | undefined;
  /** Trust beyond the web PKI roots for TLS that ends in this client. */
  tlsTrust?: TlsTrust | undefined;
}

/** `connect({ tlsTrust })`: CA certificates (PEM) and SHA-256 pins of the server's certificate. */
export interface TlsTrust {
  cas?: string[] | undefined;
  pins?: string[] | undefined;
}

/** `session.capabilities`. */
export interface Capabilities {
  top: boolean;
  uidl: boolean;
  user: boolean;
  pipelining: boolean;
  respCodes: boolean;
  utf8: boolean;
  lang: boolean;
  sasl: string[];
  implementation: string | null;
  /** Days the server keeps downloaded mail; null when unknown, -1 for "never". */
  expireDays: number | null;
  /** Minimum seconds between logins. */
  loginDelay: number | null;
}

/** `session.tls`: the bridge's TLS connection to the server. */
export interface TlsInfo {
  version: string;
  cipher: string;
  serverName: string;
  subject: string;
  issuer: string;
  notAfter: string;
  verified: boolean;
  pinMatched?: boolean | undefined;
  /** End to end only: where the TLS engine runs, a worker (browsers) or this thread. */
  engine?: 'worker' | 'in-thread' | undefined;
}

// ------------------------------------------------------------------------------ the session

export interface StatResult {
  count: number;
  size: number;
}

/** One line of LIST. */
export interface ListEntry {
  msg: number;
  size: number;
}

/** One line of UIDL. */
export interface UidlEntry {
  msg: number;
  uid: string;
}

export interface QuitResult {
  committed: boolean;
}

/** What `onProgress` receives (`totalBytes` from LIST, for downloads). */
export interface Progress {
  done: number;
  total: number;
  bytes: number;
  /** (The mock leaves it out for headers.) */
  totalBytes?: number | undefined;
}

export interface FetchHeadersOptions {
  /** The newest `newest` messages … */
  newest?: number | undefined;
  /** … or these. */
  msgs?: number[] | undefined;
  onProgress?: ((progress: Progress) => void) | undefined;
  signal?: AbortSignal | undefined;
}

/** One answer of `fetchHeaders`: `TOP msg 0`. */
export interface FetchedHeaders {
  msg: number;
  /** null when the session has no UIDL answer for it. */
  uid: string | null;
  size: number;
  headers: Uint8Array;
}

export interface DownloadOptions {
  /** Each message in order; for a streamed one (`streamOver`) `bytes` is null and `streamed` says what `onChunk` got. */
  onMessage?: ((msg: number, bytes: Uint8Array | null, streamed?: StreamedMessage) => void) | undefined;
  onProgress?: ((progress: Progress) => void) | undefined;
  signal?: AbortSignal | undefined;
  /** A message that passes this many bytes goes to `onChunk` in pieces, never whole. */
  streamOver?: number | undefined;
  /** The pieces of a streamed message, in order: the first holds everything up to `streamOver`, the others about 1 MiB. */
  onChunk?: ((msg: number, bytes: Uint8Array) => void) | undefined;
}

/** `onMessage`'s third argument for a streamed message. */
export interface StreamedMessage {
  size: number;
  /** Lower-case hex SHA-256 of all its pieces joined. */
  sha256: string;
}

export interface DownloadResult {
  count: number;
  bytes: number;
}

/** A logged-in session (`connect()`); the mock (dev/mock-api.js) has most of its shape. */
export interface Session {
  readonly capabilities: Capabilities;
  readonly tls: TlsInfo | null;
  readonly insecure: boolean;
  /** True when TLS ends in this client: the bridge relays bytes it cannot read. */
  readonly endToEnd: boolean;
  readonly loginMethod: string | undefined;
  readonly markedForDeletion: ArrayLike<number>;
  /** True while the session can take commands. */
  readonly open: boolean;
  stat(): Promise<StatResult>;
  list(): Promise<ListEntry[]>;
  uidl(): Promise<UidlEntry[]>;
  top(msg: number, lines: number): Promise<Uint8Array>;
  retr(msg: number): Promise<Uint8Array>;
  dele(msg: number): Promise<unknown>;
  rset(): Promise<unknown>;
  noop(): Promise<unknown>;
  quit(): Promise<QuitResult>;
  fetchHeaders(options: FetchHeadersOptions): Promise<FetchedHeaders[]>;
  download(msgs: number[], options: DownloadOptions): Promise<DownloadResult>;
  close(): void;
}

// ------------------------------------------------------------------------------ header display

/** `summarizeHeaders(bytes)` of the client package (crate pop3-headers). */
export interface HeaderSummary {
  from: string;
  to: string;
  cc: string;
  subject: string;
  dateText: string;
  date: Date | null;
  dateMs: number | null;
  messageId: string | null;
}

// ------------------------------------------------------------------------------ reading messages

/** One address of a parsed header (either may be null). */
export interface Address {
  name: string | null;
  address: string | null;
}

/** One part of `parseMessage(bytes).parts`. */
export interface MessagePart {
  id: string;
  contentType: string;
  disposition: 'inline' | 'attachment';
  filename: string | null;
  extension: string;
  size: number;
  contentId: string | null;
  isAttachment: boolean;
  depth: number;
  /** In an outline (`OutlineBuilder`): its mark, `<nonce> <leaf index>`; else null. */
  outline: string | null;
}

/** One part body of an outlined message: where it lies in the message, decoded size, encoding. */
export interface OutlineLeaf {
  start: number;
  end: number;
  size: number;
  encoding: 'base64' | 'quoted-printable' | 'identity';
  /** The outline holds only its start. */
  cut: boolean;
}

/** `OutlineBuilder.finish()`. */
export interface Outline {
  /** A message in its own right: every header section, and the start of each part. */
  bytes: Uint8Array;
  leaves: OutlineLeaf[];
  size: number;
  /** Some part is shown only in part. */
  cut: boolean;
}

/** A big message's outline, fed in pieces. */
export interface OutlineBuilderApi {
  feed(piece: Uint8Array): void;
  finish(): Outline | null;
  free(): void;
}

/** A part's transfer encoding undone piece by piece. */
export interface PartDecoderApi {
  update(piece: Uint8Array): Uint8Array;
  finish(): Uint8Array;
  free(): void;
}

/** SHA-256 taken piece by piece: `finish()` gives lower-case hex. */
export interface Sha256StreamApi {
  update(piece: Uint8Array): void;
  finish(): string;
  free(): void;
}

/** `parseMessage(bytes)`. */
export interface ParsedMessage {
  subject: string | null;
  from: Address[];
  to: Address[];
  cc: Address[];
  replyTo: Address[];
  date: string | null;
  messageId: string | null;
  parts: MessagePart[];
  textParts: string[];
  htmlParts: string[];
  text: string | null;
  textHtml: string | null;
  hasHtml: boolean;
  warnings: string[];
}

export interface RenderOptions {
  allowRemote?: boolean | undefined;
}

/** `renderHtml` / `sanitizeHtml`. */
export interface RenderResult {
  html: string;
  remoteBlocked: number;
  truncated: boolean;
}

/** `cleanFilename(name)`. */
export interface CleanedName {
  name: string;
  extension: string;
}

/** The reading functions, as `pop3.js` exports them once `ready()` resolved. */
export interface MimeApi {
  parseMessage(bytes: Uint8Array): ParsedMessage;
  renderHtml(bytes: Uint8Array, options?: RenderOptions): RenderResult;
  partBytes(bytes: Uint8Array, partId: string): Uint8Array;
  sanitizeHtml?(html: string, options?: RenderOptions): RenderResult;
  cleanFilename(name: string): CleanedName;
  /** For a message too big to read whole (web/pop3.js; absent in a reduced build). */
  OutlineBuilder?: new (nonce: string) => OutlineBuilderApi;
  PartDecoder?: new (encoding: string) => PartDecoderApi;
  Sha256Stream?: new () => Sha256StreamApi;
}

// ------------------------------------------------------------------------------ sync

/** How a record's message is kept here. */
export type StoredKind = 'none' | 'headers' | 'full';

/** The sync engine's record of one message (docs/js-api.md, "Records"). */
export interface KnownRecord {
  /** Stable store key; missing/'' on input means "= uid". */
  key: string;
  uid: string | null;
  size: number;
  fingerprint: string | null;
  firstSeenMs: number;
  stored: StoredKind;
  sha256: string | null;
  localDeleted?: boolean | undefined;
  deletePending?: boolean | undefined;
  serverGone?: boolean | undefined;
}

export type PolicyMode = 'leave' | 'delete-after-download' | 'keep-days' | 'mirror-local-deletes';

/** An account's sync policy (other fields are ignored by the engine). */
export interface SyncPolicy {
  mode: PolicyMode;
  keepDays?: number | undefined;
  /** Octets: bigger messages get headers only. */
  sizeLimit?: number | undefined;
}

/** `new SyncRun(options)`. */
export interface SyncRunOptions {
  account: string;
  policy: SyncPolicy | Record<string, never>;
  known: KnownRecord[];
  nowMs: number;
  downloadAndDeleteWithoutUidl?: boolean | undefined;
}

/** A warning of the plan, of `bodiesWithin`, or of the sync (`dele_failed`). */
export interface SyncWarning {
  code: string;
  message: string;
  /** How many messages it concerns. */
  count: number;
}

/** Why a run downloads and deletes nothing (`uidl_failed`, `no_uidl`). */
export interface SyncBlocked {
  code: string;
  message: string;
}

export type EntryStatus = 'new' | 'known' | 'verify' | 'no-uidl' | 'ignored';

export interface PlanEntry {
  msg: number;
  uid: string | null;
  /** The key at listing time: null for `verify` entries and mail without UIDL. */
  key: string | null;
  size: number;
  status: EntryStatus;
  stored: StoredKind;
}

/** `run.listing(…)` and `run.plan()`. */
export interface SyncPlan {
  headers: number[];
  bodies: number[];
  totalBytes: number;
  warnings: SyncWarning[];
  blocked: SyncBlocked | null;
  vanished: string[];
  massVanish: boolean;
  entries: PlanEntry[];
}

/** `run.listing(input)`. */
export interface ListingInput {
  uidlAdvertised: boolean;
  uidl: UidlEntry[] | null;
  uidlError: string | null;
  list: ListEntry[];
}

/** `run.headers(msg, bytes)`. */
export interface HeadersResult {
  uid: string | null;
  key: string | null;
  fingerprint: string | null;
  /** Raw values (unfolded, encoded words not decoded); null when missing. */
  summary: { from: string | null; subject: string | null; date: string | null; messageId: string | null };
  reusedUid: boolean;
  matchedKey: string | null;
  needsBody: boolean;
  /** The record to write with these header bytes, or null when they are not to be written. */
  record: KnownRecord | null;
}

/** `navigator.storage.estimate()` as `bodiesWithin` takes it. */
export interface StorageEstimate {
  usage: number;
  quota: number;
}

/** `run.bodiesWithin(estimate)`. */
export interface BodiesWithin {
  bodies: number[];
  totalBytes: number;
  warning: SyncWarning | null;
}

/** A deletion of `deletions()`, `pendingDeletes()`, `undoDeletions()`. */
export interface SyncDeletion {
  msg: number;
  uid: string | null;
  key: string;
  reason: 'pending' | 'after-download' | 'expired' | 'local-delete' | 'download-and-delete';
  /** The checksum that proves the copy kept here. */
  sha256: string;
}

/** `run.stored(msg, info)`. */
export interface StoredInfo {
  sha256?: string | undefined;
  full?: boolean | undefined;
}

/** `run.quit(committed, userDeleted)`. */
export interface SyncQuitResult {
  committed: boolean;
  deleted: string[];
  pending: string[];
  deleteLocal: string[];
}

/** `SyncRun.identify(input)`. */
export interface IdentifyInput {
  uidl: UidlEntry[];
  list: ListEntry[];
  known: KnownRecord[];
  headers?: { msg: number; headers: Uint8Array }[] | undefined;
}

export interface Identified {
  msg: number;
  key: string;
  uid: string | null;
  stored: 'headers' | 'full';
}

/** One sync of one account over one session (the wasm `SyncRun`). */
export interface SyncRun {
  listing(input: ListingInput): SyncPlan;
  headers(msg: number, headerBytes: Uint8Array | null): HeadersResult;
  bodies(): number[];
  bodiesWithin(estimate: StorageEstimate | null): BodiesWithin;
  /** The headers still to read while `bodies` download now; null: read every header first. */
  headersBesides(bodies: number[]): number[] | null;
  recordFor(msg: number, bytes: Uint8Array): KnownRecord;
  /** `recordFor` for a message downloaded in pieces: its first piece's header section, and the checksum of all of it. */
  recordForStreamed(msg: number, head: Uint8Array, sha256: string): KnownRecord;
  stored(msg: number, info: StoredInfo): { key: string; duplicate: boolean };
  deletions(): SyncDeletion[];
  deleteAcked(msg: number): void;
  pendingDeletes(): SyncDeletion[];
  undoDeletions(): SyncDeletion[];
  quit(committed: boolean, userDeleted?: number[] | null): SyncQuitResult;
  known(): KnownRecord[];
  dropped(): string[];
  plan(): SyncPlan;
  msgOf(key: string): number | undefined;
}

export interface SyncRunConstructor {
  new (options: SyncRunOptions): SyncRun;
  identify(input: IdentifyInput): Identified[];
}

// ------------------------------------------------------------------------------ export and import

/**
 * `new ArchiveWriter('mbox' | 'zip')`: an archive a message at a time, each message a piece at
 * a time. mbox: the archive is every result in order; zip: `end()`'s bytes go before the
 * message's own bytes, which go in unchanged.
 */
export interface ArchiveWriter {
  begin(uid: string | null, dateMs?: number | undefined): void;
  write(piece: Uint8Array): Uint8Array<ArrayBuffer>;
  end(): Uint8Array<ArrayBuffer>;
  abandon(): void;
  finish(): Uint8Array<ArrayBuffer>;
  free(): void;
}

/** `importArchive(bytes, options)`. */
export interface ImportResult {
  format: 'mbox' | 'zip';
  skipped: number;
  messages: { uid: string | null; raw: Uint8Array; sha256: string; record: KnownRecord }[];
}

// ------------------------------------------------------------------------------ the packages

/** The initialised client package, as `wasm()` of pop3.js resolves it. */
export interface Pop3Wasm {
  SyncRun: SyncRunConstructor;
  sha256Hex(bytes: Uint8Array): string;
  errorCodes(): ErrorCode[];
  summarizeHeaders(bytes: Uint8Array): HeaderSummary;
  displayName(from: string): string;
}

/** What the inbox needs of an API module: pop3.js, or dev/mock-api.js (which has no `wasm` of its own but re-exports it). */
export interface InboxApi {
  connect(options: ConnectOptions): Promise<Session>;
  wasm?: (() => Promise<Pop3Wasm>) | undefined;
}

// ------------------------------------------------------------------------------ the DOM builder

/** An `on…` property of `h()`: a listener for that event, typed by its name. */
export type ElementHandlers = {
  [K in keyof HTMLElementEventMap as `on${K}`]?: (ev: HTMLElementEventMap[K]) => unknown;
};

/**
 * The properties of `h(tag, props, …children)` (inbox/dom.js): `class`, `text`, `dataset`,
 * `on…` listeners, else attributes (`true` is an empty attribute; false, null and undefined
 * leave it out).
 */
export type ElementProps = ElementHandlers & {
  class?: string | undefined;
  text?: string | Msg | undefined;
  dataset?: Record<string, string> | undefined;
  [attribute: string]: string | Msg | number | boolean | null | undefined | Record<string, string> | ((ev: never) => unknown);
};

/** A child of `h()`: text becomes a text node; null, undefined and false are left out. */
export type ElementChild = Node | string | Msg | null | undefined | false;

/** The element's error box: a plain-language `title`, the error's message, the server's words. */
export type ShowError = (slot: Element, err: unknown, title: string | Msg) => void;
