//! A POP3 session in the browser: the sans-IO core driven by WebSocket events and one timer.
//!
//! Nothing here loops or awaits: every input (a frame, the timer, a JS call) runs the core once
//! and drains its output, the way the core's contract says. JS callbacks and promise
//! settlements are collected while the state is borrowed and run after, so user code called
//! from here may call back into the session safely.

use crate::direct::{self, DirectEvent, DirectSocket, Stage};
use crate::end_to_end::{self as e2e, EndToEnd};
use crate::error::Pop3Error;
use crate::interop::*;
use crate::link::{Link, LinkEvent};
use crate::timer::Timer;
use js_sys::{Array, Function, Object, Promise, Reflect, Uint8Array};
use pop3_bridge_protocol::api::Code;
use pop3_bridge_protocol::{
    Answer, ConnectRequest, EndToEnd as WireEndToEnd, ErrorCode, Refusal, Security,
};
use pop3_proto::{
    AuthMethod, Client, CommandError, ConnectionError, Credentials, Event, Handle, Instant, Login,
    Mechanism, MsgNum, Options, Secret, SessionState,
};
use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::rc::{Rc, Weak};
use std::time::Duration;
use wasm_bindgen::prelude::*;

/// Commands a batch keeps in the core's queue at once: enough to keep the pipelining window
/// (400) full, few enough that cancelling stops the traffic quickly.
const BATCH_WINDOW: usize = 500;

/// The pieces a streamed download hands over (`download`'s `streamOver`): big enough that a
/// 60 MB message is some 60 calls and stored parts, small enough that the page never holds
/// more than a few of them.
const STREAM_PIECE: usize = 1 << 20;

/// A promise's two functions.
struct Deferred {
    resolve: Function,
    reject: Function,
}

fn deferred() -> (Promise, Deferred) {
    let mut slot = None;
    let p = Promise::new(&mut |resolve, reject| slot = Some(Deferred { resolve, reject }));
    (p, slot.expect("the executor runs synchronously"))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum BatchKind {
    Headers,
    Download,
}

struct Batch {
    kind: BatchKind,
    d: Deferred,
    /// Waiting for UIDL/LIST before the message list is known.
    listing_pending: u8,
    /// The list of messages to fetch is fixed.
    planned: bool,
    newest: Option<u32>,
    todo: VecDeque<u32>,
    outstanding: usize,
    total: u32,
    done: u32,
    bytes: f64,
    total_bytes: f64,
    sizes: Rc<HashMap<u32, u64>>,
    uids: Rc<HashMap<u32, String>>,
    results: Array,
    on_progress: Option<Function>,
    on_message: Option<Function>,
    /// `download`'s streaming: past this many bytes a message goes to `on_chunk` in pieces.
    stream_over: Option<usize>,
    on_chunk: Option<Function>,
    signal: Option<web_sys::AbortSignal>,
}

/// One message of a batch while it arrives: its bytes, or, once it is streamed (bigger than
/// the batch's `stream_over`), the piece not yet handed over and the checksum of all of it.
#[derive(Default)]
struct Arriving {
    buf: Vec<u8>,
    streamed: Option<Streamed>,
}

struct Streamed {
    sha256: pop3_sync::Sha256Hasher,
    size: u64,
}

/// `onMessage`'s third argument for a streamed message: its bytes went to `onChunk`.
#[derive(serde::Serialize)]
struct StreamedJs {
    size: f64,
    sha256: String,
}

impl Batch {
    /// The piece of `a` to hand over now, if any: once a download passes `stream_over` bytes
    /// (whatever LIST said, so a server cannot make the page hold more by understating a
    /// size), everything it holds, then every `STREAM_PIECE` bytes. Each piece joins the
    /// message's checksum as it goes.
    fn piece_due(&self, a: &mut Arriving) -> Option<Vec<u8>> {
        if self.kind != BatchKind::Download || self.on_chunk.is_none() {
            return None;
        }
        let due = match &a.streamed {
            Some(_) => a.buf.len() >= STREAM_PIECE,
            None => a.buf.len() > self.stream_over?,
        };
        if !due {
            return None;
        }
        let s = a.streamed.get_or_insert_with(|| Streamed {
            sha256: pop3_sync::Sha256Hasher::default(),
            size: 0,
        });
        s.sha256.update(&a.buf);
        s.size += a.buf.len() as u64;
        let keep = a.buf.capacity().min(STREAM_PIECE * 2);
        Some(std::mem::replace(&mut a.buf, Vec::with_capacity(keep)))
    }
}

/// What an awaited command's answer settles.
enum Op {
    Stat(Deferred),
    List(Deferred),
    Uidl(Deferred),
    Body(Deferred, Vec<u8>),
    Unit(Deferred),
    /// DELE or RSET: its answer changes which messages LIST and UIDL show ([`Listing`]).
    Change(Deferred),
    Quit(Deferred),
    BatchList(u64),
    BatchUidl(u64),
    BatchItem(u64, u32, Arriving),
}

impl Op {
    /// The promise this answer settles itself, or the batch that settles for it.
    fn settles(self) -> Result<Deferred, u64> {
        match self {
            Op::Stat(d)
            | Op::List(d)
            | Op::Uidl(d)
            | Op::Body(d, _)
            | Op::Unit(d)
            | Op::Change(d)
            | Op::Quit(d) => Ok(d),
            Op::BatchList(id) | Op::BatchUidl(id) | Op::BatchItem(id, ..) => Err(id),
        }
    }
}

/// This session's scan listing (LIST) and unique ids (UIDL), from their last full answers.
/// RFC 1939 locks the maildrop for the session: message numbers, sizes and unique ids stay as
/// they are until a DELE or RSET changes which messages are listed. Each batch (fetchHeaders,
/// download) asked for both again before its first command: one round trip per batch, and for
/// 10,000 messages some 300 KB of UIDL each time the inbox fetched its next 200 headers.
#[derive(Default)]
struct Listing {
    sizes: Option<Rc<HashMap<u32, u64>>>,
    uids: Option<Rc<HashMap<u32, String>>>,
    /// DELE or RSET commands not answered yet: meanwhile no listing is used or recorded (an
    /// answer to a LIST sent before them may arrive after them).
    changing: u32,
}

impl Listing {
    /// A DELE or RSET goes out: what is known may no longer be what the server lists.
    fn change_sent(&mut self) {
        self.changing += 1;
        self.sizes = None;
        self.uids = None;
    }

    /// Its answer (either): the next full LIST or UIDL answer is this session's again.
    fn change_answered(&mut self) {
        self.changing = self.changing.saturating_sub(1);
    }

    fn sizes(&self) -> Option<Rc<HashMap<u32, u64>>> {
        (self.changing == 0).then(|| self.sizes.clone()).flatten()
    }

    fn uids(&self) -> Option<Rc<HashMap<u32, String>>> {
        (self.changing == 0).then(|| self.uids.clone()).flatten()
    }

    fn record_sizes(&mut self, sizes: &Rc<HashMap<u32, u64>>) {
        if self.changing == 0 {
            self.sizes = Some(sizes.clone());
        }
    }

    fn record_uids(&mut self, uids: &Rc<HashMap<u32, String>>) {
        if self.changing == 0 {
            self.uids = Some(uids.clone());
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Phase {
    /// Waiting for the bridge's answer.
    Bridge,
    /// Waiting for the direct socket to open (and, with implicit TLS, its handshake).
    Opening,
    /// POP3 bytes flow.
    Pop3,
    /// Finished (QUIT or failure).
    Over,
}

pub(crate) struct Inner {
    me: Weak<RefCell<Inner>>,
    opts: ConnectOptions,
    phase: Phase,
    link: Option<Link>,
    /// The direct socket, instead of `link` (`direct: true`).
    direct: Option<DirectSocket>,
    /// Bytes a direct socket delivered before its opener's promise settled.
    early: Vec<u8>,
    /// The STLS command of a direct `stls` session, until the server answered it.
    stls_handle: Option<Handle>,
    client: Option<Client>,
    tls: Option<TlsJs>,
    insecure: bool,
    /// The TLS module's loader, when TLS may end in this client (`endToEnd`): the request
    /// offers end to end only with one.
    tls_loader: Option<Function>,
    /// Where the engine runs (a worker, or the factory here), once the loader answered
    /// (after the bridge agreed to relay).
    tls_engines: Option<e2e::Engines>,
    /// TLS in this client is due (the answer for implicit TLS, the `+OK` to STLS) and waits
    /// for the module: nothing goes to or comes from the server in clear meanwhile.
    tls_due: bool,
    /// The bridge relays raw bytes: STLS and TLS are this client's (answer `end_to_end`).
    relay: bool,
    /// TLS inside this client, once started (implicit TLS: at the answer; STLS: at the `+OK`).
    e2e: Option<EndToEnd>,
    /// The WebSocket closed while bytes it brought were still with the TLS worker: the close
    /// is handled after them (the server's last answer, QUIT's `+OK`, comes before its close).
    closed_behind_tls: Option<(u16, String)>,
    /// The bridge token of a request that preferred end to end, until its answer: an older
    /// bridge refuses that request, and it is asked again without (`again_without_end_to_end`).
    retry_token: Option<Option<Secret<String>>>,
    login_handle: Option<Handle>,
    /// A direct STLS upgrade is under way (between the `+OK` and the handshake's end).
    upgrading: bool,
    /// A direct socket that has not delivered a byte since it opened (or since its STLS
    /// upgrade): a runtime that checks the certificate only when reading (workerd) reports a
    /// refused certificate as the connection's end, which is then that stage's failure.
    quiet: Option<Stage>,
    login_method: Option<String>,
    logged_in: bool,
    connect: Option<Deferred>,
    pending: HashMap<Handle, Op>,
    batches: HashMap<u64, Batch>,
    next_batch: u64,
    listing: Listing,
    failure: Option<Pop3Error>,
    timer: Option<Timer>,
    /// The timer whose callback may be running right now: dropped at the next reschedule, never
    /// inside its own callback.
    old_timer: Option<Timer>,
    /// JS calls to make once the state is no longer borrowed.
    calls: Vec<(Function, Array)>,
}

/// A direct socket ends with its session, however that ends (the bridge's WebSocket closes
/// itself when its `Link` is dropped).
impl Drop for Inner {
    fn drop(&mut self) {
        if let Some(d) = &self.direct {
            d.shut();
        }
    }
}

/// Runs `f` on the state, drives the core, then makes the collected JS calls.
fn with_inner(rc: &Rc<RefCell<Inner>>, f: impl FnOnce(&mut Inner)) {
    let calls = {
        let Ok(mut i) = rc.try_borrow_mut() else {
            return;
        };
        f(&mut i);
        i.pump();
        std::mem::take(&mut i.calls)
    };
    for (func, args) in calls {
        let _ = func.apply(&JsValue::NULL, &args);
    }
}

impl Inner {
    fn call(&mut self, f: &Function, args: &[JsValue]) {
        self.calls.push((f.clone(), args.iter().collect()));
    }

    fn resolve(&mut self, d: Deferred, v: JsValue) {
        self.call(&d.resolve, &[v]);
    }

    fn reject(&mut self, d: Deferred, e: &Pop3Error) {
        self.call(&d.reject, &[e.to_js()]);
    }

    fn on_link(&mut self, ev: LinkEvent) {
        match ev {
            LinkEvent::Open => {
                let end_to_end = self.end_to_end_asked();
                let (req, retry) = connect_request(&mut self.opts, end_to_end);
                self.retry_token = retry;
                let json = js_sys::JSON::stringify(&to_js(&req))
                    .ok()
                    .and_then(|s| s.as_string())
                    .unwrap_or_default();
                if let Some(l) = &self.link {
                    let _ = l.send_text(&json);
                }
            }
            LinkEvent::Text(text) if self.phase == Phase::Bridge => self.on_answer(&text),
            LinkEvent::Text(_) => self.fail(Pop3Error::new(
                Code::Protocol,
                "The bridge sent an unexpected message.",
            )),
            // After the end (a link kept open to say goodbye, end_to_end.rs): nothing to do.
            LinkEvent::Binary(_) if self.phase == Phase::Over => {}
            LinkEvent::Binary(bytes) => {
                if self.client.is_none() {
                    return self.fail(Pop3Error::new(
                        Code::Protocol,
                        "The bridge sent data before its answer.",
                    ));
                }
                if self.e2e.is_none() && self.awaiting_tls() {
                    // Plaintext where only TLS may come (before the ClientHello went out):
                    // never shown to the core, which would take it for the server's words.
                    let code = if self.opts.security == Security::Stls {
                        ErrorCode::StlsInjection
                    } else {
                        ErrorCode::TlsHandshake
                    };
                    return self.fail(
                        Pop3Error::new(Code::Bridge(code), code.message())
                            .detail("bytes arrived before this client's TLS handshake began"),
                    );
                }
                match &mut self.e2e {
                    Some(t) => {
                        t.receive(bytes);
                        self.tls_flush();
                    }
                    None => self.feed(&bytes.to_vec()),
                }
            }
            LinkEvent::Closed { code, reason } => {
                if self.e2e.as_ref().is_some_and(|t| !t.idle()) {
                    self.closed_behind_tls = Some((code, reason));
                } else {
                    self.on_closed(code, &reason);
                }
            }
        }
    }

    fn on_answer(&mut self, text: &str) {
        let answer: Option<Answer> = js_sys::JSON::parse(text)
            .ok()
            .and_then(|v| serde_wasm_bindgen::from_value(v).ok());
        let Some(answer) = answer else {
            return self.fail(Pop3Error::new(
                Code::Protocol,
                "The bridge's answer is not valid.",
            ));
        };
        let retry_token = self.retry_token.take();
        let ok = match (answer, retry_token) {
            (Answer::Ok(ok), _) => ok,
            (Answer::Refused(r), Some(token)) if r.code == Some(ErrorCode::BadRequest) => {
                return self.again_without_end_to_end(token);
            }
            (Answer::Refused(r), _) => return self.fail(refusal(r)),
        };
        let asked = self.end_to_end_asked().is_some();
        if ok.end_to_end && !asked {
            return self.fail(Pop3Error::new(
                Code::Protocol,
                "The bridge relays raw bytes, but this client did not ask it to.",
            ));
        }
        if asked && !ok.end_to_end && self.opts.end_to_end == EndToEndChoice::Require {
            // A bridge that honours `require` relays or refuses; this one did neither.
            return self.fail(Pop3Error::new(
                Code::Protocol,
                "The bridge did TLS itself although this client required TLS to end here.",
            ));
        }
        self.relay = ok.end_to_end;
        self.tls = ok.tls.as_ref().map(TlsJs::from);
        self.insecure = ok.insecure;
        self.phase = Phase::Pop3;
        let mut o = match (self.opts.security, self.relay) {
            (Security::Stls, false) => Options::after_stls(),
            (Security::Tls, _) => Options::implicit_tls(),
            // Through the relay, STLS is the core's: a plain start, the greeting, STLS.
            (Security::Stls, true) | (Security::Plain, _) => Options::default(),
        };
        self.client_options(&mut o);
        self.client = Some(Client::new(o, Instant::now()));
        if self.relay {
            self.load_tls();
        }
        match (self.opts.security, self.relay) {
            // No greeting comes after the bridge's STLS; the core waits for CAPA itself.
            (Security::Stls, false) => self.start_login(),
            // Implicit TLS in this client: the handshake starts now, the greeting follows it.
            (Security::Tls, true) => self.start_client_tls(),
            _ => {}
        }
    }

    /// What the connect request asks for (`end_to_end`): only with a TLS module to end TLS in
    /// this client ([`tls_loader`] has none for `plain`, `direct` or `endToEnd: false`).
    fn end_to_end_asked(&self) -> Option<WireEndToEnd> {
        self.tls_loader.as_ref()?;
        match self.opts.end_to_end {
            EndToEndChoice::Require => Some(WireEndToEnd::Require),
            EndToEndChoice::Prefer => Some(WireEndToEnd::Prefer),
            EndToEndChoice::Off => None,
        }
    }

    /// The bridge refused a request that preferred end to end as malformed: a bridge older than
    /// relay mode, which does not know the field. Asks once more without it, on a new
    /// WebSocket (dropping the old one detaches its handlers); TLS is then the bridge's, and
    /// `endToEnd` says so.
    fn again_without_end_to_end(&mut self, token: Option<Secret<String>>) {
        self.tls_loader = None;
        self.opts.token = token.map(Secret::into_inner);
        let Some(url) = self.opts.bridge_url.clone() else {
            return self.fail(Pop3Error::new(Code::Protocol, "No bridge to ask again."));
        };
        let me = self.me.clone();
        match Link::open(&url, move |ev| {
            if let Some(rc) = me.upgrade() {
                with_inner(&rc, |i| i.on_link(ev));
            }
        }) {
            Ok(link) => self.link = Some(link),
            Err(e) => self.fail(
                Pop3Error::new(
                    Code::BridgeUnreachable,
                    "The bridge could not be reached again.",
                )
                .detail(format!("{e:?}")),
            ),
        }
    }

    /// Fetches the TLS module (the bridge relays: TLS is this client's), in parallel with the
    /// greeting and STLS; [`Inner::on_tls_loaded`] continues.
    fn load_tls(&mut self) {
        let Some(loader) = self.tls_loader.clone() else {
            return self.fail(Pop3Error::new(Code::Protocol, "No TLS module to load."));
        };
        let me = self.me.clone();
        wasm_bindgen_futures::spawn_local(async move {
            let r = e2e::load(loader).await;
            if let Some(rc) = me.upgrade() {
                with_inner(&rc, |i| i.on_tls_loaded(r));
            }
        });
    }

    fn on_tls_loaded(&mut self, r: Result<e2e::Engines, Pop3Error>) {
        if self.phase == Phase::Over {
            return;
        }
        match r {
            Ok(engines) => {
                self.tls_engines = Some(engines);
                if self.tls_due {
                    self.start_client_tls();
                }
            }
            Err(e) => self.fail(e),
        }
    }

    /// The engine's worker reported (end_to_end.rs).
    fn on_tls_event(&mut self, ev: e2e::TlsEvent) {
        if self.phase == Phase::Over {
            return;
        }
        let Some(t) = &mut self.e2e else { return };
        match ev {
            e2e::TlsEvent::Result(v) => {
                let r = t.result(&v);
                // The next batch goes before this one's plaintext is handled: the worker
                // decrypts while this thread parses.
                self.tls_flush();
                self.on_decrypted(r);
                self.tls_flush();
                self.close_behind_tls();
            }
            e2e::TlsEvent::Failed(reason) => {
                let engines = self.tls_engines.clone().unwrap_or_default();
                match t.worker_failed(&reason, &engines) {
                    Ok(e2e::Fallback::Now(f)) => self.tls_here(Ok(f)),
                    Ok(e2e::Fallback::Load(l)) => self.load_tls_here(l),
                    Err(e) => self.fail(e),
                }
            }
        }
    }

    /// The worker could not run the engine: loads the module on this thread.
    fn load_tls_here(&mut self, loader: Function) {
        let me = self.me.clone();
        wasm_bindgen_futures::spawn_local(async move {
            let r = e2e::in_thread(loader).await;
            if let Some(rc) = me.upgrade() {
                with_inner(&rc, |i| i.tls_here(r));
            }
        });
    }

    /// Runs the engine on this thread from now on (its first result: the ClientHello).
    fn tls_here(&mut self, factory: Result<Function, Pop3Error>) {
        if self.phase == Phase::Over {
            return;
        }
        if let (Ok(f), Some(e)) = (&factory, &mut self.tls_engines) {
            e.factory = Some(f.clone());
        }
        let Some(t) = &mut self.e2e else { return };
        match factory.and_then(|f| t.run_here(&f)) {
            Ok(r) => {
                self.on_decrypted(r);
                self.tls_flush();
                self.close_behind_tls();
            }
            Err(e) => self.fail(e),
        }
    }

    /// The WebSocket's close, once the TLS engine handed on everything that came before it.
    fn close_behind_tls(&mut self) {
        if self.e2e.as_ref().is_some_and(EndToEnd::idle)
            && let Some((code, reason)) = self.closed_behind_tls.take()
        {
            self.on_closed(code, &reason);
        }
    }

    /// Runs what waits for the engine: here, its results now (until nothing waits); on the
    /// worker, its result comes later ([`Inner::on_tls_event`]).
    fn tls_flush(&mut self) {
        while self.phase != Phase::Over {
            let Some(r) = self.e2e.as_mut().and_then(EndToEnd::flush) else {
                return;
            };
            self.on_decrypted(r);
        }
    }

    /// In relay mode, TLS is due or under way but not up: no byte may pass in clear.
    fn awaiting_tls(&self) -> bool {
        self.relay && self.tls.is_none() && (self.tls_due || self.e2e.is_some())
    }

    /// Starts TLS inside this client (implicit TLS at the answer, STLS after the `+OK`); if the
    /// module is still loading, when it has.
    fn start_client_tls(&mut self) {
        let Some(engines) = &self.tls_engines else {
            self.tls_due = true;
            return;
        };
        self.tls_due = false;
        let trust = self
            .opts
            .tls_trust
            .as_ref()
            .map_or(JsValue::UNDEFINED, to_js);
        let me = self.me.clone();
        let sink = move |ev| {
            if let Some(rc) = me.upgrade() {
                with_inner(&rc, |i| i.on_tls_event(ev));
            }
        };
        match EndToEnd::start(engines, &self.opts.host, &trust, sink) {
            Ok((t, hello)) => {
                let waiting = t.waiting();
                self.e2e = Some(t);
                match (hello, &engines.in_thread) {
                    (Some(r), _) => self.on_decrypted(r),
                    // No worker could be created: the module loads here.
                    (None, Some(l)) if waiting => {
                        let l = l.clone();
                        self.load_tls_here(l);
                    }
                    // The worker's first result brings the ClientHello.
                    _ => {}
                }
            }
            Err(e) => self.fail(e),
        }
    }

    /// Bytes for the wire, through the bridge's WebSocket or the direct socket.
    fn send_wire(&self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        if let Some(l) = &self.link {
            let _ = l.send_bytes(bytes);
        } else if let Some(d) = &self.direct {
            let _ = d.send(bytes);
        }
    }

    /// What the client's TLS made of bytes from the relay.
    fn on_decrypted(&mut self, r: e2e::Received) {
        self.send_wire(&r.outgoing);
        if let Some(info) = r.handshake_done {
            if self.upgrading {
                self.upgraded(info);
                if self.phase == Phase::Over {
                    return;
                }
            } else {
                // Implicit TLS: the greeting comes next, inside TLS.
                self.tls = Some(info);
                self.insecure = false;
            }
        }
        if !r.plaintext.is_empty() {
            self.feed(&r.plaintext);
        }
        if let Some(e) = r.error {
            self.fail(e);
        }
    }

    /// An STLS upgrade finished (the runtime's, or this client's own TLS through the relay):
    /// the core forgets what it learnt in plaintext, and the login starts.
    fn upgraded(&mut self, info: TlsJs) {
        self.upgrading = false;
        self.tls = Some(info);
        self.insecure = false;
        let r = self
            .client
            .as_mut()
            .map(|c| c.tls_established(Instant::now()));
        match r {
            Some(Ok(())) => self.start_login(),
            _ => self.fail(Pop3Error::new(
                Code::Protocol,
                "The TLS upgrade came too late.",
            )),
        }
    }

    fn on_closed(&mut self, code: u16, reason: &str) {
        if self.phase == Phase::Over {
            return;
        }
        if self.e2e.is_some() && self.tls.is_none() {
            // Closed before this client's handshake finished: the server (or something on the
            // way) ended it, as a refused certificate does on the server's side.
            return self.fail(
                Pop3Error::new(
                    Code::Bridge(ErrorCode::TlsHandshake),
                    ErrorCode::TlsHandshake.message(),
                )
                .detail(format!(
                    "the connection closed during the TLS handshake (WebSocket {code} {reason})"
                )),
            );
        }
        if self.phase == Phase::Bridge {
            return self.fail(
                Pop3Error::new(
                    Code::BridgeUnreachable,
                    "The bridge could not be reached, or it refused this page \
                     (check the bridge address and its allowed origins).",
                )
                .detail(format!("WebSocket closed with code {code} {reason}")),
            );
        }
        let r = self.client.as_mut().map(Client::handle_close);
        match r {
            Some(Ok(())) => self.phase = Phase::Over,
            Some(Err(e)) => {
                let mut p: Pop3Error = (&e).into();
                if !reason.is_empty() {
                    p.detail = Some(format!("bridge: {code} {reason}"));
                }
                self.fail(p)
            }
            None => {}
        }
    }

    /// The API error for a fatal core error. Only a direct session sees STLS in the core (the
    /// bridge runs it itself): there, data around the upgrade is the injection it guards against.
    fn connection_error(&self, e: &ConnectionError) -> Pop3Error {
        let mut p: Pop3Error = e.into();
        if self.direct.is_some() || self.relay {
            match e {
                ConnectionError::DataAfterStls | ConnectionError::DataDuringTlsUpgrade => {
                    p.code = Code::Bridge(ErrorCode::StlsInjection);
                    p.detail = Some(p.message.clone());
                    p.message = ErrorCode::StlsInjection.message().to_owned();
                }
                ConnectionError::TimedOut { .. } if self.upgrading => {
                    p.code = Code::Bridge(ErrorCode::TlsTimeout);
                }
                _ => {}
            }
        }
        p
    }

    fn on_direct(&mut self, ev: DirectEvent) {
        match ev {
            DirectEvent::Opened(Ok(socket)) => {
                let socket: DirectSocket = socket.unchecked_into();
                if self.phase != Phase::Opening {
                    // Failed (timed out, closed) while opening: this socket is not used.
                    return socket.shut();
                }
                let tls = self.opts.security == Security::Tls;
                self.tls = tls.then(|| tls_of(&socket.tls_info(), &self.opts.host));
                self.insecure = self.opts.security == Security::Plain;
                self.direct = Some(socket);
                self.phase = Phase::Pop3;
                self.quiet = Some(Stage::Connect);
                let mut o = match self.opts.security {
                    Security::Tls => Options::implicit_tls(),
                    // A plain start: the greeting, then STLS (start_stls) and the upgrade.
                    Security::Stls | Security::Plain => Options::default(),
                };
                self.client_options(&mut o);
                self.client = Some(Client::new(o, Instant::now()));
                let early = std::mem::take(&mut self.early);
                self.feed(&early);
            }
            DirectEvent::Opened(Err(e)) => {
                let (name, code, message) = direct::error_parts(&e);
                self.fail(direct::classify(&name, &code, &message, Stage::Connect));
            }
            DirectEvent::Data(bytes) if self.phase == Phase::Opening => {
                self.early.extend_from_slice(&bytes)
            }
            DirectEvent::Data(bytes) => {
                self.quiet = None;
                self.feed(&bytes)
            }
            DirectEvent::Closed(error) => {
                if self.phase == Phase::Over {
                    return;
                }
                let detail = error.as_ref().map(|e| {
                    let (name, code, message) = direct::error_parts(e);
                    format!("{name} {code}: {message}").trim().to_owned()
                });
                let stage = if self.upgrading {
                    Some(Stage::Upgrade)
                } else if self.phase == Phase::Opening {
                    Some(Stage::Connect)
                } else {
                    self.quiet
                };
                if let Some(stage) = stage {
                    // Opening, upgrading, or nothing heard since: the runtime's error says why.
                    let (name, code, message) =
                        error.as_ref().map(direct::error_parts).unwrap_or_default();
                    return self.fail(direct::classify(&name, &code, &message, stage));
                }
                match self.client.as_mut().map(Client::handle_close) {
                    Some(Ok(())) => self.phase = Phase::Over,
                    Some(Err(e)) => {
                        let mut p = self.connection_error(&e);
                        if detail.is_some() {
                            p.detail = detail;
                        }
                        self.fail(p)
                    }
                    None => {}
                }
            }
            DirectEvent::TlsUp(Ok(info)) => {
                if self.phase == Phase::Over || !self.upgrading {
                    return;
                }
                self.quiet = Some(Stage::Upgrade);
                self.upgraded(tls_of(&info, &self.opts.host));
            }
            DirectEvent::TlsUp(Err(e)) => {
                let (name, code, message) = direct::error_parts(&e);
                self.fail(direct::classify(&name, &code, &message, Stage::Upgrade));
            }
        }
    }

    fn feed(&mut self, bytes: &[u8]) {
        let Some(c) = &mut self.client else { return };
        if let Err(e) = c.feed(bytes, Instant::now()) {
            let e = self.connection_error(&e);
            self.fail(e);
        }
    }

    /// Timeouts and keep-alive from the options.
    fn client_options(&self, o: &mut Options) {
        if let Some(ms) = self.opts.timeout_ms {
            o.response_timeout = Duration::from_millis(ms.into());
            o.greeting_timeout = Duration::from_millis(ms.into());
        }
        o.keepalive = Some(Duration::from_millis(
            self.opts.keepalive_ms.unwrap_or(60_000).into(),
        ));
    }

    /// Direct `stls`: asks the server to start TLS (the core's guards apply: nothing read in
    /// plaintext survives the upgrade, and bytes after its `+OK` end the session).
    fn start_stls(&mut self) {
        let r = self
            .client
            .as_mut()
            .and_then(Client::authorization)
            .map(|a| a.stls());
        match r {
            Some(Ok(h)) => self.stls_handle = Some(h),
            _ => self.fail(Pop3Error::new(Code::Protocol, "Cannot start TLS now.")),
        }
    }

    /// The core says the server agreed to STLS: the runtime's upgrade of this connection.
    fn start_upgrade(&mut self) {
        self.stls_handle = None;
        self.upgrading = true;
        if self.relay {
            return self.start_client_tls();
        }
        let Some(d) = &self.direct else {
            return self.fail(Pop3Error::new(Code::Protocol, "Cannot start TLS here."));
        };
        let me = self.me.clone();
        d.upgrade(move |ev| {
            if let Some(rc) = me.upgrade() {
                with_inner(&rc, |i| i.on_direct(ev));
            }
        });
    }

    fn start_login(&mut self) {
        let login = login_request(&mut self.opts, random_bytes(32));
        let r = match self.client.as_mut().and_then(Client::authorization) {
            Some(a) => a
                .login(login)
                .map_err(|e| Pop3Error::new(Code::BadOptions, e.to_string())),
            None => Err(Pop3Error::new(Code::Protocol, "Cannot log in now.")),
        };
        match r {
            Ok(h) => self.login_handle = Some(h),
            Err(e) => self.fail(e),
        }
    }

    /// Runs the core's output: bytes to the socket, events to promises, batches refilled,
    /// the timer rescheduled. Repeats while anything changes.
    fn pump(&mut self) {
        loop {
            let Some(c) = &mut self.client else { return };
            let now = Instant::now();
            let mut progressed = false;
            let mut out = Vec::new();
            while let Some(bytes) = c.poll_transmit(now) {
                progressed = true;
                out.push(bytes);
            }
            let mut events = Vec::new();
            while let Some(e) = c.poll_event() {
                events.push(e);
            }
            progressed |= !events.is_empty();
            let hold = self.e2e.is_none() && self.awaiting_tls();
            match &mut self.e2e {
                _ if out.is_empty() => {}
                // Nothing the core writes goes out in clear while TLS is due.
                None if hold => {
                    return self.fail(Pop3Error::new(
                        Code::Protocol,
                        "The client had something to send before its TLS was up.",
                    ));
                }
                // One encryption for everything the core wrote: fewer records and JS calls.
                Some(t) => {
                    t.send(&out.concat());
                    self.tls_flush();
                    if self.phase == Phase::Over {
                        return;
                    }
                }
                None => {
                    for bytes in out {
                        self.send_wire(&bytes);
                    }
                }
            }
            for e in events {
                self.on_event(e);
            }
            progressed |= self.refill_batches();
            if !progressed {
                break;
            }
        }
        self.check_connected();
        self.schedule_timer();
    }

    fn check_connected(&mut self) {
        let idle = self
            .client
            .as_ref()
            .is_some_and(|c| c.pending_commands() == 0);
        if self.logged_in
            && idle
            && let Some(d) = self.connect.take()
        {
            self.resolve(d, JsValue::TRUE);
        }
    }

    fn schedule_timer(&mut self) {
        self.old_timer = self.timer.take();
        if self.failure.is_some() {
            return;
        }
        let Some(deadline) = self.client.as_ref().and_then(Client::poll_timeout) else {
            return;
        };
        let ms = deadline
            .saturating_duration_since(Instant::now())
            .as_secs_f64()
            * 1000.0;
        let me = self.me.clone();
        self.timer = Some(Timer::after(ms + 1.0, move || {
            if let Some(rc) = me.upgrade() {
                with_inner(&rc, |i| {
                    let r = i.client.as_mut().map(|c| c.handle_timeout(Instant::now()));
                    if let Some(Err(e)) = r {
                        let e = i.connection_error(&e);
                        i.fail(e);
                    }
                });
            }
        }));
    }

    fn on_event(&mut self, e: Event) {
        match e {
            Event::Greeting(_)
                if (self.opts.direct || self.relay)
                    && self.opts.security == Security::Stls
                    && self.stls_handle.is_none()
                    && self.login_handle.is_none() =>
            {
                self.start_stls()
            }
            Event::Greeting(_) if self.login_handle.is_none() => self.start_login(),
            Event::UpgradeToTls { .. } => self.start_upgrade(),
            Event::LoggedIn { method, .. } => {
                self.logged_in = true;
                self.login_method = Some(method.to_string());
            }
            Event::Stat { handle, stat } => {
                if let Some(Op::Stat(d)) = self.pending.remove(&handle) {
                    let v = to_js(&StatJs {
                        count: stat.count,
                        size: stat.size as f64,
                    });
                    self.resolve(d, v);
                }
            }
            Event::List { handle, entries } => match self.pending.remove(&handle) {
                Some(Op::List(d)) => {
                    self.listing.record_sizes(&Rc::new(
                        entries.iter().map(|e| (e.msg.get(), e.size)).collect(),
                    ));
                    let v: Vec<ScanJs> = entries
                        .iter()
                        .map(|e| ScanJs {
                            msg: e.msg.get(),
                            size: e.size as f64,
                        })
                        .collect();
                    self.resolve(d, to_js(&v));
                }
                Some(Op::BatchList(id)) => {
                    let sizes = Rc::new(entries.iter().map(|e| (e.msg.get(), e.size)).collect());
                    self.listing.record_sizes(&sizes);
                    if let Some(b) = self.batches.get_mut(&id) {
                        b.sizes = sizes;
                        b.listing_pending -= 1;
                    }
                }
                _ => {}
            },
            Event::Uidl { handle, entries } => match self.pending.remove(&handle) {
                Some(Op::Uidl(d)) => {
                    self.listing.record_uids(&Rc::new(
                        entries
                            .iter()
                            .map(|e| (e.msg.get(), e.uid.to_string()))
                            .collect(),
                    ));
                    let v: Vec<UidJs> = entries
                        .iter()
                        .map(|e| UidJs {
                            msg: e.msg.get(),
                            uid: e.uid.to_string(),
                        })
                        .collect();
                    self.resolve(d, to_js(&v));
                }
                Some(Op::BatchUidl(id)) => {
                    let uids = Rc::new(
                        entries
                            .into_iter()
                            .map(|e| (e.msg.get(), e.uid.to_string()))
                            .collect(),
                    );
                    self.listing.record_uids(&uids);
                    if let Some(b) = self.batches.get_mut(&id) {
                        b.uids = uids;
                        b.listing_pending -= 1;
                    }
                }
                _ => {}
            },
            Event::MessageData { handle, data } => match self.pending.get_mut(&handle) {
                Some(Op::Body(_, buf)) => buf.extend_from_slice(&data),
                Some(Op::BatchItem(id, msg, a)) => {
                    let (id, msg) = (*id, *msg);
                    // A cancelled batch's answers still arrive; nobody takes them, so nothing
                    // of them is held (a big message would otherwise be, whole).
                    let Some(b) = self.batches.get(&id) else {
                        return;
                    };
                    a.buf.extend_from_slice(&data);
                    if let Some(piece) = b.piece_due(a) {
                        self.batch_piece(id, msg, piece);
                    }
                }
                _ => {}
            },
            Event::MessageEnd { handle, .. } => match self.pending.remove(&handle) {
                Some(Op::Body(d, buf)) => {
                    let v = Uint8Array::from(buf.as_slice()).into();
                    self.resolve(d, v);
                }
                Some(Op::BatchItem(id, msg, a)) => self.batch_item_done(id, msg, a),
                _ => {}
            },
            Event::Done { handle, .. } => match self.pending.remove(&handle) {
                Some(Op::Unit(d)) => self.resolve(d, JsValue::UNDEFINED),
                Some(Op::Change(d)) => {
                    self.listing.change_answered();
                    self.resolve(d, JsValue::UNDEFINED);
                }
                _ => {}
            },
            Event::Languages { handle, languages } => {
                if let Some(Op::Unit(d)) = self.pending.remove(&handle) {
                    self.resolve(d, to_js(&languages));
                }
            }
            Event::Closed { handle, committed } => {
                self.phase = Phase::Over;
                if let Some(Op::Quit(d)) = self.pending.remove(&handle) {
                    self.resolve(d, to_js(&QuitJs { committed }));
                }
            }
            Event::Failed { handle, error } => self.on_failed(handle, &error),
            _ => {}
        }
    }

    fn on_failed(&mut self, handle: Handle, error: &CommandError) {
        let e: Pop3Error = error.into();
        if Some(handle) == self.stls_handle {
            // Never continues in plaintext.
            let mut r = Pop3Error::new(
                Code::Bridge(ErrorCode::StlsRefused),
                ErrorCode::StlsRefused.message(),
            );
            r.server_text = e.server_text;
            return self.fail(r);
        }
        if Some(handle) == self.login_handle && !self.logged_in {
            return self.fail(e);
        }
        let op = self.pending.remove(&handle);
        if matches!(op, Some(Op::Change(_))) {
            self.listing.change_answered();
        }
        match op.map(Op::settles) {
            Some(Ok(d)) => self.reject(d, &e),
            Some(Err(id)) => {
                if let Some(b) = self.batches.remove(&id) {
                    self.reject(b.d, &e);
                }
            }
            None => {}
        }
    }

    /// Ends the session: every promise still open is rejected with `e`.
    fn fail(&mut self, e: Pop3Error) {
        if self.failure.is_some() {
            return;
        }
        self.phase = Phase::Over;
        self.failure = Some(e.clone());
        // A session that ends before the bridge answered keeps no bridge token either.
        self.retry_token = None;
        self.opts.token = None;
        if let Some(d) = self.connect.take() {
            self.reject(d, &e);
        }
        for (_, op) in std::mem::take(&mut self.pending) {
            // Batch parts settle through their batch, below.
            if let Ok(d) = op.settles() {
                self.reject(d, &e);
            }
        }
        for (_, b) in std::mem::take(&mut self.batches) {
            self.reject(b.d, &e);
        }
        if let Some(l) = &self.link {
            l.close();
        }
        if let Some(d) = &self.direct {
            d.shut();
        }
        // The TLS worker's thread ends; the engine itself stays until the session goes, as
        // this may run inside the worker's own callback.
        if let Some(t) = &mut self.e2e {
            t.stop();
        }
        // Not dropped here: this may run inside the timer's own callback.
        self.old_timer = self.timer.take();
    }

    // ----- batches -----

    /// Hands a streamed message's next piece to `onChunk`.
    fn batch_piece(&mut self, id: u64, msg: u32, piece: Vec<u8>) {
        if let Some(f) = self.batches.get(&id).and_then(|b| b.on_chunk.clone()) {
            let bytes: JsValue = Uint8Array::from(piece.as_slice()).into();
            self.call(&f, &[JsValue::from(msg), bytes]);
        }
    }

    fn batch_item_done(&mut self, id: u64, msg: u32, mut a: Arriving) {
        // A streamed message: its last piece goes to `onChunk`, and `onMessage` gets its size
        // and checksum in place of the bytes.
        let streamed = a.streamed.take().map(|mut s| {
            s.sha256.update(&a.buf);
            s.size += a.buf.len() as u64;
            s
        });
        if streamed.is_some() && !a.buf.is_empty() {
            let last = std::mem::take(&mut a.buf);
            self.batch_piece(id, msg, last);
        }
        let Some(b) = self.batches.get_mut(&id) else {
            return;
        };
        b.outstanding -= 1;
        b.done += 1;
        b.bytes += streamed.as_ref().map_or(a.buf.len() as u64, |s| s.size) as f64;
        let progress = to_js(&ProgressJs {
            done: b.done,
            total: b.total,
            bytes: b.bytes,
            total_bytes: b.total_bytes,
        });
        let mut calls = Vec::new();
        match (b.kind, streamed) {
            (BatchKind::Headers, _) => {
                let o = Object::new();
                let _ = Reflect::set(&o, &"msg".into(), &msg.into());
                let uid = b
                    .uids
                    .get(&msg)
                    .map_or(JsValue::NULL, |u| u.as_str().into());
                let _ = Reflect::set(&o, &"uid".into(), &uid);
                let size = b.sizes.get(&msg).copied().unwrap_or_default() as f64;
                let _ = Reflect::set(&o, &"size".into(), &size.into());
                let bytes: JsValue = Uint8Array::from(a.buf.as_slice()).into();
                let _ = Reflect::set(&o, &"headers".into(), &bytes);
                b.results.push(&o);
            }
            (BatchKind::Download, streamed) => {
                if let Some(f) = &b.on_message {
                    let args = match streamed {
                        Some(s) => vec![
                            JsValue::from(msg),
                            JsValue::NULL,
                            to_js(&StreamedJs {
                                size: s.size as f64,
                                sha256: s.sha256.finish().as_str().to_string(),
                            }),
                        ],
                        None => vec![
                            JsValue::from(msg),
                            Uint8Array::from(a.buf.as_slice()).into(),
                        ],
                    };
                    calls.push((f.clone(), args));
                }
            }
        }
        if let Some(f) = &b.on_progress {
            calls.push((f.clone(), vec![progress]));
        }
        for (f, args) in calls {
            self.call(&f, &args);
        }
    }

    /// Issues more of each batch's commands, and settles finished or cancelled batches.
    fn refill_batches(&mut self) -> bool {
        let mut progressed = false;
        let ids: Vec<u64> = self.batches.keys().copied().collect();
        for id in ids {
            let Some(b) = self.batches.get_mut(&id) else {
                continue;
            };
            if b.signal.as_ref().is_some_and(web_sys::AbortSignal::aborted) {
                // Answers to commands already sent still arrive; they find no batch and are
                // dropped.
                if let Some(b) = self.batches.remove(&id) {
                    self.reject(b.d, &Pop3Error::new(Code::Cancelled, "Cancelled."));
                }
                progressed = true;
                continue;
            }
            if b.listing_pending > 0 {
                continue;
            }
            if !b.planned {
                // The listing just arrived. Without an explicit list: the newest messages.
                if b.todo.is_empty() {
                    let mut msgs: Vec<u32> = b.sizes.keys().copied().collect();
                    msgs.sort_unstable_by(|a, b| b.cmp(a));
                    msgs.truncate(b.newest.unwrap_or(u32::MAX) as usize);
                    b.todo = msgs.into();
                }
                b.total = b.todo.len() as u32;
                if b.kind == BatchKind::Download {
                    b.total_bytes = b
                        .todo
                        .iter()
                        .map(|m| b.sizes.get(m).copied().unwrap_or_default() as f64)
                        .sum();
                }
                b.planned = true;
            }
            let Some(t) = self.client.as_mut().and_then(Client::transaction) else {
                continue;
            };
            let mut t = t;
            while b.outstanding < BATCH_WINDOW {
                let Some(msg) = b.todo.pop_front() else { break };
                let Some(n) = MsgNum::new(msg) else { continue };
                let h = match b.kind {
                    BatchKind::Headers => t.top(n, 0),
                    BatchKind::Download => t.retr(n),
                };
                b.outstanding += 1;
                self.pending
                    .insert(h, Op::BatchItem(id, msg, Arriving::default()));
                progressed = true;
            }
            if b.todo.is_empty()
                && b.outstanding == 0
                && let Some(b) = self.batches.remove(&id)
            {
                let v = match b.kind {
                    BatchKind::Headers => b.results.into(),
                    BatchKind::Download => {
                        let o = Object::new();
                        let _ = Reflect::set(&o, &"count".into(), &b.done.into());
                        let _ = Reflect::set(&o, &"bytes".into(), &b.bytes.into());
                        o.into()
                    }
                };
                self.resolve(b.d, v);
                progressed = true;
            }
        }
        progressed
    }
}

/// `session.tls` of a direct socket, from what its runtime gave.
pub(crate) fn tls_of(info: &JsValue, host: &str) -> TlsJs {
    let parsed: DirectTlsInfo = if info.is_object() {
        serde_wasm_bindgen::from_value(info.clone()).unwrap_or_default()
    } else {
        DirectTlsInfo::default()
    };
    parsed.into_js(host)
}

fn random_bytes(n: usize) -> Vec<u8> {
    let mut v = vec![0u8; n];
    let crypto = Reflect::get(&js_sys::global(), &"crypto".into()).ok();
    if let Some(c) = crypto {
        let arr = Uint8Array::new_with_length(n as u32);
        let f = Reflect::get(&c, &"getRandomValues".into())
            .ok()
            .and_then(|f| f.dyn_into::<Function>().ok());
        if let Some(f) = f {
            let _ = f.call1(&c, &arr);
            arr.copy_to(&mut v);
        }
    }
    v
}

/// The login the core runs for `opts`. The secrets (password, OAuth token) move out of the
/// options into the core's redacting `Secret`s: a session lives on after login, its secrets
/// need not, and the core drops the login (credentials included) once it succeeded or failed.
fn login_request(opts: &mut ConnectOptions, nonce: Vec<u8>) -> Login {
    let (oauth_token, password) = (opts.oauth_token.take(), opts.password.take());
    let o = &*opts;
    let creds = match (oauth_token, password) {
        (Some(token), _) => Credentials::OAuth2 {
            username: o.user.clone(),
            token: Secret::new(token),
            host: Some(o.host.clone()),
            port: Some(o.port),
        },
        (None, pw) => Credentials::Password {
            username: o.user.clone(),
            password: Secret::new(pw.unwrap_or_default()),
            authzid: None,
        },
    };
    let mut login = Login::with(creds, nonce);
    login.allow_insecure = o.allow_insecure;
    login.allow_apop = o.allow_apop;
    login.sasl_initial_response = !o.no_initial_response;
    login.methods = o.mechanisms.as_ref().map(|names| {
        names
            .iter()
            .filter_map(|n| match n.to_ascii_uppercase().as_str() {
                "USER" => Some(AuthMethod::UserPass),
                "APOP" => Some(AuthMethod::Apop),
                other => Mechanism::from_name(other).map(AuthMethod::Sasl),
            })
            .collect()
    });
    login
}

/// A logged-in POP3 session (see docs/js-api.md). Create it with `connect()`.
#[wasm_bindgen]
pub struct Session {
    inner: Rc<RefCell<Inner>>,
}

/// Shows where the session is, never its credentials or tokens.
impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut d = f.debug_struct("Session");
        match self.inner.try_borrow() {
            Ok(i) => d
                .field("host", &i.opts.host)
                .field("port", &i.opts.port)
                .field("phase", &i.phase)
                .field("logged_in", &i.logged_in),
            // Only while the session itself is running (e.g. from a callback inside it).
            Err(_) => d.field("state", &"<busy>"),
        };
        d.finish_non_exhaustive()
    }
}

/// The request for a link that just opened. The bridge token leaves the options here: it is
/// sent once and not kept in the session, except (returned second, redacted) until the
/// bridge's answer when the request prefers end to end: a bridge older than relay mode refuses
/// that as `bad_request` (unknown field), and the same request then goes again without it.
fn connect_request(
    opts: &mut ConnectOptions,
    end_to_end: Option<WireEndToEnd>,
) -> (ConnectRequest, Option<Option<Secret<String>>>) {
    let token = opts.token.take();
    let retry = (end_to_end == Some(WireEndToEnd::Prefer)).then(|| token.clone().map(Secret::new));
    let req = ConnectRequest {
        host: opts.host.clone(),
        port: opts.port,
        security: opts.security,
        token,
        end_to_end,
    };
    (req, retry)
}

/// Opens a session: WebSocket to the bridge, target request, greeting, login (or, with
/// `direct`, the runtime's socket to the server, STLS when asked, greeting, login). Resolves
/// when logged in and the post-login capabilities are known.
#[wasm_bindgen]
pub async fn connect(options: JsValue) -> Result<Session, JsValue> {
    let opts: ConnectOptions = serde_wasm_bindgen::from_value(options)
        .map_err(|e| Pop3Error::new(Code::BadOptions, e.to_string()).to_js())?;
    let target = check_target(&opts).map_err(|e| e.to_js())?;
    let tls_loader = tls_loader(&opts, &target).map_err(|e| e.to_js())?;
    let timeout = f64::from(opts.timeout_ms.unwrap_or(30_000));
    let inner = Rc::new_cyclic(|me| {
        RefCell::new(Inner {
            me: me.clone(),
            phase: match target {
                Target::Bridge(_) => Phase::Bridge,
                Target::Direct => Phase::Opening,
            },
            link: None,
            direct: None,
            early: Vec::new(),
            stls_handle: None,
            upgrading: false,
            quiet: None,
            client: None,
            tls: None,
            insecure: false,
            tls_loader,
            tls_engines: None,
            tls_due: false,
            relay: false,
            e2e: None,
            closed_behind_tls: None,
            retry_token: None,
            login_handle: None,
            login_method: None,
            logged_in: false,
            connect: None,
            pending: HashMap::new(),
            batches: HashMap::new(),
            next_batch: 1,
            listing: Listing::default(),
            failure: None,
            timer: None,
            old_timer: None,
            calls: Vec::new(),
            opts,
        })
    });
    let (promise, d) = deferred();
    inner.borrow_mut().connect = Some(d);
    match target {
        Target::Bridge(url) => {
            let weak = Rc::downgrade(&inner);
            let link = Link::open(&url, move |ev| {
                if let Some(rc) = weak.upgrade() {
                    with_inner(&rc, |i| i.on_link(ev));
                }
            })
            .map_err(|e| {
                Pop3Error::new(
                    Code::BadOptions,
                    "The bridge address is not a valid WebSocket URL.",
                )
                .detail(format!("{e:?}"))
                .to_js()
            })?;
            inner.borrow_mut().link = Some(link);
        }
        Target::Direct => {
            let weak = Rc::downgrade(&inner);
            let (host, port, tls) = {
                let i = inner.borrow();
                (
                    i.opts.host.clone(),
                    i.opts.port,
                    i.opts.security == Security::Tls,
                )
            };
            direct::open(&host, port, tls, move |ev| {
                if let Some(rc) = weak.upgrade() {
                    with_inner(&rc, |i| i.on_direct(ev));
                }
            })
            .map_err(|e| e.to_js())?;
        }
    }
    // The bridge phase (or the direct socket's opening) has no core timer yet.
    let weak = Rc::downgrade(&inner);
    let guard = Timer::after(timeout, move || {
        if let Some(rc) = weak.upgrade() {
            with_inner(&rc, |i| match i.phase {
                Phase::Bridge => i.fail(Pop3Error::new(
                    Code::Timeout,
                    "The bridge did not answer in time.",
                )),
                Phase::Opening => i.fail(Pop3Error::new(
                    Code::Bridge(ErrorCode::ConnectTimeout),
                    ErrorCode::ConnectTimeout.message(),
                )),
                _ => {}
            });
        }
    });
    wasm_bindgen_futures::JsFuture::from(promise).await?;
    drop(guard);
    Ok(Session { inner })
}

/// The TLS module's loader when TLS may end in this client: through a bridge, not `plain`,
/// `endToEnd` not false. Without a loader (the wasm package used without web/pop3.js) `"prefer"`
/// goes on with the bridge's TLS (the session says so in `endToEnd`) and `true` fails. The
/// module itself is fetched only once the bridge agreed to relay ([`Inner::load_tls`]); if it
/// then does not load, the session fails, with either choice.
fn tls_loader(o: &ConnectOptions, target: &Target) -> Result<Option<Function>, Pop3Error> {
    if !matches!(target, Target::Bridge(_))
        || o.security == Security::Plain
        || o.end_to_end == EndToEndChoice::Off
    {
        return Ok(None);
    }
    match (o.end_to_end, e2e::loader()) {
        (_, Some(l)) => Ok(Some(l)),
        (EndToEndChoice::Require, None) => Err(Pop3Error::new(
            Code::BadOptions,
            "endToEnd: true needs the TLS module: load the client through web/pop3.js (or \
             install a loader under Symbol.for('pop3-web.tls')).",
        )),
        (_, None) => Ok(None),
    }
}

/// Where `connect()` goes.
#[derive(Debug, PartialEq, Eq)]
enum Target {
    Bridge(String),
    Direct,
}

/// The transport the options ask for: a bridge URL, or `direct` (then no bridge URL and no
/// bridge token). A direct `plain` session needs `allowInsecure`: the user's consent is the
/// only one there is (through a bridge its operator must allow `plain` too).
fn check_target(o: &ConnectOptions) -> Result<Target, Pop3Error> {
    match (&o.bridge_url, o.direct) {
        (Some(url), false) => Ok(Target::Bridge(url.clone())),
        (None, false) => Err(Pop3Error::new(
            Code::BadOptions,
            "Give bridgeUrl (through a bridge) or direct: true (a socket to the server).",
        )),
        (Some(_), true) => Err(Pop3Error::new(
            Code::BadOptions,
            "Give either bridgeUrl or direct: true, not both.",
        )),
        (None, true) if o.token.is_some() => Err(Pop3Error::new(
            Code::BadOptions,
            "token is a bridge access token; a direct socket has no bridge.",
        )),
        (None, true) if o.security == Security::Plain && !o.allow_insecure => Err(Pop3Error::new(
            Code::Bridge(ErrorCode::PlaintextRefused),
            "Unencrypted POP3 needs allowInsecure: true. Use TLS (port 995) or STLS \
                 (port 110).",
        )),
        (None, true) => Ok(Target::Direct),
    }
}

#[wasm_bindgen]
impl Session {
    /// True when TLS to the mail server ends in this client (through the bridge's relay, or a
    /// direct socket): the bridge, if any, cannot read the session.
    #[wasm_bindgen(getter, js_name = endToEnd)]
    pub fn end_to_end(&self) -> bool {
        let i = self.inner.borrow();
        (i.relay || i.opts.direct) && !i.insecure
    }

    /// What the server can do (after login).
    #[wasm_bindgen(getter)]
    pub fn capabilities(&self) -> JsValue {
        let i = self.inner.borrow();
        match i.client.as_ref().and_then(Client::capabilities) {
            Some(c) => to_js(&CapsJs::from(c)),
            None => JsValue::NULL,
        }
    }

    /// TLS details of the bridge's connection to the server, or null without TLS.
    #[wasm_bindgen(getter)]
    pub fn tls(&self) -> JsValue {
        self.inner
            .borrow()
            .tls
            .as_ref()
            .map_or(JsValue::NULL, to_js)
    }

    /// True when the connection to the mail server is not encrypted.
    #[wasm_bindgen(getter)]
    pub fn insecure(&self) -> bool {
        self.inner.borrow().insecure
    }

    /// How the login was done, e.g. "SCRAM-SHA-256".
    #[wasm_bindgen(getter, js_name = loginMethod)]
    pub fn login_method(&self) -> Option<String> {
        self.inner.borrow().login_method.clone()
    }

    /// Message numbers marked with dele() in this session (removed only at quit()).
    #[wasm_bindgen(getter, js_name = markedForDeletion)]
    pub fn marked_for_deletion(&self) -> Vec<u32> {
        let i = self.inner.borrow();
        i.client
            .as_ref()
            .map(|c| c.marked_for_deletion().iter().map(|m| m.get()).collect())
            .unwrap_or_default()
    }

    /// True while the session can take commands.
    #[wasm_bindgen(getter)]
    pub fn open(&self) -> bool {
        let i = self.inner.borrow();
        i.failure.is_none()
            && i.client
                .as_ref()
                .is_some_and(|c| c.state() == SessionState::Transaction)
    }

    /// Bytes the browser has queued on the WebSocket but not yet sent.
    #[wasm_bindgen(getter, js_name = bufferedAmount)]
    pub fn buffered_amount(&self) -> u32 {
        self.inner.borrow().link.as_ref().map_or(0, Link::buffered)
    }

    fn command(
        &self,
        issue: impl FnOnce(&mut pop3_proto::Transaction<'_>) -> Handle,
        op: impl FnOnce(Deferred) -> Op,
    ) -> Promise {
        let (p, d) = deferred();
        with_inner(&self.inner, |i| {
            if let Some(e) = &i.failure {
                let e = e.clone();
                return i.reject(d, &e);
            }
            match i.client.as_mut().and_then(Client::transaction) {
                Some(mut t) => {
                    let h = issue(&mut t);
                    let op = op(d);
                    // DELE, RSET: the listing batches reuse is forgotten as it goes out, and
                    // recorded again only after its answer.
                    if matches!(op, Op::Change(_)) {
                        i.listing.change_sent();
                    }
                    i.pending.insert(h, op);
                }
                None => i.reject(
                    d,
                    &Pop3Error::new(Code::NotLoggedIn, "The session is not open for commands."),
                ),
            }
        });
        p
    }

    /// `{count, size}` of the maildrop.
    pub fn stat(&self) -> Promise {
        self.command(|t| t.stat(), Op::Stat)
    }

    /// `[{msg, size}]` of all messages.
    pub fn list(&self) -> Promise {
        self.command(|t| t.list(None), Op::List)
    }

    /// `[{msg, uid}]` of all messages.
    pub fn uidl(&self) -> Promise {
        self.command(|t| t.uidl(None), Op::Uidl)
    }

    /// The header and first `lines` body lines of a message, as a Uint8Array.
    pub fn top(&self, msg: u32, lines: u32) -> Promise {
        match MsgNum::new(msg) {
            Some(n) => self.command(|t| t.top(n, lines), |d| Op::Body(d, Vec::new())),
            None => bad_msg(),
        }
    }

    /// A whole message as a Uint8Array.
    pub fn retr(&self, msg: u32) -> Promise {
        match MsgNum::new(msg) {
            Some(n) => self.command(|t| t.retr(n), |d| Op::Body(d, Vec::new())),
            None => bad_msg(),
        }
    }

    /// Marks a message for deletion at quit().
    pub fn dele(&self, msg: u32) -> Promise {
        match MsgNum::new(msg) {
            Some(n) => self.command(|t| t.dele(n), Op::Change),
            None => bad_msg(),
        }
    }

    /// Unmarks all messages marked in this session.
    pub fn rset(&self) -> Promise {
        self.command(|t| t.rset(), Op::Change)
    }

    /// Does nothing, keeps the session alive.
    pub fn noop(&self) -> Promise {
        self.command(|t| t.noop(), Op::Unit)
    }

    /// Ends the session; resolves `{committed}`: true when the server confirmed the deletions.
    pub fn quit(&self) -> Promise {
        let (p, d) = deferred();
        with_inner(&self.inner, |i| {
            if let Some(e) = &i.failure {
                let e = e.clone();
                return i.reject(d, &e);
            }
            match i.client.as_mut().and_then(Client::transaction) {
                Some(t) => {
                    let h = t.quit();
                    i.pending.insert(h, Op::Quit(d));
                }
                None => i.reject(
                    d,
                    &Pop3Error::new(Code::NotLoggedIn, "The session is not open."),
                ),
            }
        });
        p
    }

    /// Headers (TOP n 0) of the newest `newest` messages (or of `msgs`), pipelined, newest
    /// first: `[{msg, uid, size, headers}]`. Options: `newest`, `msgs`, `onProgress`, `signal`.
    #[wasm_bindgen(js_name = fetchHeaders)]
    pub fn fetch_headers(&self, options: JsValue) -> Promise {
        let msgs = get(&options, "msgs").map(|v| {
            Array::from(&v)
                .iter()
                .filter_map(|x| x.as_f64())
                .map(|x| x as u32)
                .collect::<Vec<_>>()
        });
        let newest = get(&options, "newest")
            .and_then(|v| v.as_f64())
            .map(|x| x as u32);
        self.batch(BatchKind::Headers, msgs, newest, &options)
    }

    /// Downloads `msgs` (RETR, pipelined), calling `onMessage(msg, bytes)` for each in order;
    /// resolves `{count, bytes}`. Options: `onMessage`, `onProgress`, `signal`, and for big
    /// messages `streamOver` with `onChunk`: a message that passes `streamOver` bytes is handed
    /// to `onChunk(msg, bytes)` in pieces (the first holds everything up to that point, the
    /// others about 1 MiB), never whole, and then `onMessage(msg, null, {size, sha256})`
    /// gives its size and the checksum of all its pieces.
    pub fn download(&self, msgs: Vec<u32>, options: JsValue) -> Promise {
        self.batch(BatchKind::Download, Some(msgs), None, &options)
    }

    fn batch(
        &self,
        kind: BatchKind,
        msgs: Option<Vec<u32>>,
        newest: Option<u32>,
        options: &JsValue,
    ) -> Promise {
        let (p, d) = deferred();
        let func = |k| get(options, k).and_then(|v| v.dyn_into::<Function>().ok());
        let signal = get(options, "signal").and_then(|v| v.dyn_into::<web_sys::AbortSignal>().ok());
        with_inner(&self.inner, |i| {
            if let Some(e) = &i.failure {
                let e = e.clone();
                return i.reject(d, &e);
            }
            let id = i.next_batch;
            i.next_batch += 1;
            let mut b = Batch {
                kind,
                d,
                listing_pending: 0,
                planned: false,
                newest,
                todo: VecDeque::new(),
                outstanding: 0,
                total: 0,
                done: 0,
                bytes: 0.0,
                total_bytes: 0.0,
                sizes: Rc::default(),
                uids: Rc::default(),
                results: Array::new(),
                on_progress: func("onProgress"),
                on_message: func("onMessage"),
                stream_over: get(options, "streamOver")
                    .and_then(|v| v.as_f64())
                    .filter(|v| *v >= 0.0)
                    .map(|v| v as usize),
                on_chunk: func("onChunk"),
                signal,
            };
            let uidl = i
                .client
                .as_ref()
                .and_then(Client::capabilities)
                .is_some_and(|c| c.uidl);
            let Some(mut t) = i.client.as_mut().and_then(Client::transaction) else {
                let e = Pop3Error::new(Code::NotLoggedIn, "The session is not open for commands.");
                return i.reject(b.d, &e);
            };
            // Sizes (and uids for headers) first, from this session's listing when it has
            // one (`Listing`); then the list to fetch is fixed.
            match i.listing.sizes() {
                Some(sizes) => b.sizes = sizes,
                None => {
                    let hl = t.list(None);
                    b.listing_pending += 1;
                    i.pending.insert(hl, Op::BatchList(id));
                }
            }
            if uidl && kind == BatchKind::Headers {
                match i.listing.uids() {
                    Some(uids) => b.uids = uids,
                    None => {
                        let hu = t.uidl(None);
                        b.listing_pending += 1;
                        i.pending.insert(hu, Op::BatchUidl(id));
                    }
                }
            }
            if let Some(m) = msgs {
                b.todo = m.into();
            }
            i.batches.insert(id, b);
        });
        p
    }

    /// Closes the connection without QUIT (nothing marked is deleted).
    pub fn close(&self) {
        with_inner(&self.inner, |i| {
            // TLS in this client says goodbye properly (close_notify) before the link goes.
            if let Some(t) = i.e2e.take() {
                t.close(i.link.take());
            }
            i.fail(Pop3Error::new(Code::Closed, "The session was closed."));
        });
    }
}

/// The JS error for the bridge's refusal: its code (or `bridge_error` for one this version
/// does not know), its sentence, and its detail.
fn refusal(r: Refusal) -> Pop3Error {
    let code = Code::from_answer(r.code);
    let message = match code {
        _ if !r.message.is_empty() => r.message,
        Code::Bridge(c) => c.message().to_owned(),
        _ => "The bridge refused the connection.".to_owned(),
    };
    let mut p = Pop3Error::new(code, message);
    p.detail = match (code, r.detail) {
        (Code::BridgeError, d) if !r.code_sent.is_empty() => Some(format!(
            "bridge code {:?}{}",
            r.code_sent,
            d.map(|d| format!(": {d}")).unwrap_or_default()
        )),
        (_, d) => d,
    };
    p
}

fn bad_msg() -> Promise {
    Promise::reject(&Pop3Error::new(Code::BadArgument, "Message numbers start at 1.").to_js())
}

#[cfg(test)]
mod tests {
    use super::*;
    use pop3_bridge_protocol::ErrorCode;

    fn refused(code: Option<ErrorCode>, sent: &str, message: &str) -> Pop3Error {
        refusal(Refusal {
            code,
            code_sent: sent.into(),
            message: message.into(),
            detail: Some("d".into()),
        })
    }

    const PASSWORD: &str = "pw-Sekr1t-value";
    const TOKEN: &str = "oauth-Sekr1t-token";

    fn options(password: Option<&str>, oauth_token: Option<&str>) -> ConnectOptions {
        ConnectOptions {
            bridge_url: Some("wss://bridge.example/pop3".into()),
            direct: false,
            host: "pop.example.com".into(),
            port: 995,
            security: Security::Tls,
            user: "ann".into(),
            password: password.map(Into::into),
            oauth_token: oauth_token.map(Into::into),
            mechanisms: None,
            allow_insecure: false,
            allow_apop: false,
            no_initial_response: false,
            token: None,
            timeout_ms: None,
            keepalive_ms: None,
            end_to_end: EndToEndChoice::Prefer,
            tls_trust: None,
        }
    }

    /// The session's login, run the way `Inner` runs it (`login_request`, then the core) against
    /// a scripted server: after every step nothing this session shows (`Debug` of the options,
    /// the login, the core and its events) holds a secret, and once the login has succeeded or
    /// failed the options hold no password and no token. Returns what went on the wire.
    fn log_in(
        mut opts: ConnectOptions,
        capa: &str,
        answers: &[(&str, &str)],
    ) -> (String, Vec<Event>) {
        let secrets = [PASSWORD, TOKEN];
        let clean = |what: &str, shown: String| {
            for s in secrets {
                assert!(!shown.contains(s), "{what} shows a secret: {shown}");
            }
        };
        let now = Instant::now();
        let mut client = Client::new(Options::implicit_tls(), now);
        let mut wire = String::new();
        let mut events = Vec::new();
        let mut step = |client: &mut Client, input: &str, wire: &mut String| {
            client
                .feed(input.as_bytes(), now)
                .expect("server input accepted");
            let mut sent = String::new();
            while let Some(b) = client.poll_transmit(now) {
                sent.push_str(&String::from_utf8_lossy(&b));
            }
            while let Some(e) = client.poll_event() {
                clean("an event", format!("{e:?}"));
                events.push(e);
            }
            clean("the core", format!("{client:?}"));
            wire.push_str(&sent);
            sent
        };
        let sent = step(&mut client, "+OK ready\r\n", &mut wire);
        assert_eq!(sent, "CAPA\r\n");
        step(&mut client, capa, &mut wire);

        clean("the options", format!("{opts:?}"));
        let login = login_request(&mut opts, vec![7; 32]);
        clean("the login", format!("{login:?}"));
        clean("the options", format!("{opts:?}"));
        let handle = client
            .authorization()
            .expect("authorization state")
            .login(login)
            .expect("login starts");
        let mut sent = String::new();
        while let Some(b) = client.poll_transmit(now) {
            sent.push_str(&String::from_utf8_lossy(&b));
        }
        wire.push_str(&sent);
        for (expect, answer) in answers {
            assert!(
                sent.starts_with(expect),
                "expected {expect:?}, the client sent {sent:?}"
            );
            sent = step(&mut client, answer, &mut wire);
            clean("the options", format!("{opts:?}"));
        }
        let done = events.iter().any(|e| {
            matches!(e, Event::LoggedIn { handle: h, .. } | Event::Failed { handle: h, .. } if *h == handle)
        });
        assert!(done, "the login did not finish: {events:?}");
        assert!(
            opts.password.is_none() && opts.oauth_token.is_none(),
            "the session's options still hold a secret after the login: password {:?}, token {:?}",
            opts.password.as_deref().map(str::len),
            opts.oauth_token.as_deref().map(str::len),
        );
        (wire, events)
    }

    #[test]
    fn the_password_leaves_the_options_at_login_and_is_never_shown() {
        let (wire, events) = log_in(
            options(Some(PASSWORD), None),
            "+OK\r\nUSER\r\n.\r\n",
            &[("USER ann\r\n", "+OK\r\n"), ("PASS ", "+OK logged in\r\n")],
        );
        // The login really used it (and only on the wire).
        assert!(wire.contains(&format!("PASS {PASSWORD}\r\n")), "{wire}");
        assert!(
            matches!(events.last(), Some(Event::LoggedIn { .. })),
            "{events:?}"
        );
    }

    #[test]
    fn a_failed_login_keeps_no_password_either() {
        let (_, events) = log_in(
            options(Some(PASSWORD), None),
            "+OK\r\nUSER\r\n.\r\n",
            &[("USER ann\r\n", "+OK\r\n"), ("PASS ", "-ERR [AUTH] no\r\n")],
        );
        assert!(
            matches!(events.last(), Some(Event::Failed { .. })),
            "{events:?}"
        );
    }

    #[test]
    fn the_token_and_an_unused_password_leave_the_options_at_login() {
        let (wire, events) = log_in(
            options(Some(PASSWORD), Some(TOKEN)),
            "+OK\r\nSASL XOAUTH2\r\n.\r\n",
            &[("AUTH XOAUTH2 ", "+OK\r\n")],
        );
        assert!(wire.starts_with("CAPA\r\nAUTH XOAUTH2 "), "{wire}");
        assert!(
            matches!(events.last(), Some(Event::LoggedIn { .. })),
            "{events:?}"
        );
    }

    /// The bridge access token goes out in the connect request and leaves the options with it;
    /// only a request that prefers end to end keeps it, redacted, for the one retry an older
    /// bridge may need, and nothing this session shows holds it.
    #[test]
    fn the_bridge_token_leaves_the_options_with_the_connect_request() {
        const BRIDGE_TOKEN: &str = "bridge-Sekr1t-token";
        let cases = [
            (Some(WireEndToEnd::Prefer), true),
            (Some(WireEndToEnd::Require), false),
            (None, false),
        ];
        for (end_to_end, kept) in cases {
            let mut opts = ConnectOptions {
                token: Some(BRIDGE_TOKEN.into()),
                ..options(Some(PASSWORD), None)
            };
            let before = format!("{opts:?}");
            let (req, retry) = connect_request(&mut opts, end_to_end);
            assert_eq!(req.token.as_deref(), Some(BRIDGE_TOKEN), "{end_to_end:?}");
            assert_eq!(req.end_to_end, end_to_end);
            assert_eq!(
                opts.token, None,
                "{end_to_end:?}: the options keep the token"
            );
            let retry_token = retry.clone().flatten().map(Secret::into_inner);
            assert_eq!(
                retry_token.as_deref(),
                kept.then_some(BRIDGE_TOKEN),
                "{end_to_end:?}"
            );
            for shown in [before, format!("{req:?}"), format!("{retry:?}")] {
                assert!(!shown.contains(BRIDGE_TOKEN), "{end_to_end:?}: {shown}");
            }
        }
        // Without a token, none is sent or kept.
        let mut opts = options(Some(PASSWORD), None);
        let (req, retry) = connect_request(&mut opts, Some(WireEndToEnd::Prefer));
        assert_eq!(req.token, None);
        assert!(matches!(retry, Some(None)), "{retry:?}");
    }

    #[test]
    fn connect_goes_to_a_bridge_or_direct_never_both() {
        let bridge = options(Some(PASSWORD), None);
        assert_eq!(
            check_target(&bridge).unwrap(),
            Target::Bridge("wss://bridge.example/pop3".into())
        );
        let direct = ConnectOptions {
            bridge_url: None,
            direct: true,
            ..options(Some(PASSWORD), None)
        };
        assert_eq!(check_target(&direct).unwrap(), Target::Direct);
        let refused = |o: ConnectOptions| check_target(&o).unwrap_err().code.as_str();
        // Neither, both, and a bridge token without a bridge.
        assert_eq!(
            refused(ConnectOptions {
                bridge_url: None,
                ..options(Some(PASSWORD), None)
            }),
            "bad_options"
        );
        assert_eq!(
            refused(ConnectOptions {
                direct: true,
                ..options(Some(PASSWORD), None)
            }),
            "bad_options"
        );
        assert_eq!(
            refused(ConnectOptions {
                token: Some("t".into()),
                ..direct_options()
            }),
            "bad_options"
        );
    }

    fn direct_options() -> ConnectOptions {
        ConnectOptions {
            bridge_url: None,
            direct: true,
            ..options(Some(PASSWORD), None)
        }
    }

    #[test]
    fn direct_plain_needs_the_users_consent() {
        let plain = ConnectOptions {
            security: Security::Plain,
            ..direct_options()
        };
        let e = check_target(&plain).unwrap_err();
        assert_eq!(e.code.as_str(), "plaintext_refused");
        let consented = ConnectOptions {
            allow_insecure: true,
            ..plain
        };
        assert_eq!(check_target(&consented).unwrap(), Target::Direct);
        // Through a bridge `plain` is the bridge operator's call (and the core's, at login).
        let bridge_plain = ConnectOptions {
            security: Security::Plain,
            ..options(Some(PASSWORD), None)
        };
        assert!(matches!(check_target(&bridge_plain), Ok(Target::Bridge(_))));
    }

    #[test]
    fn a_bridge_refusal_keeps_its_code_words_and_detail() {
        let e = refused(Some(ErrorCode::CertExpired), "cert_expired", "Expired.");
        assert_eq!(e.code, Code::Bridge(ErrorCode::CertExpired));
        assert_eq!(e.code.as_str(), "cert_expired");
        assert_eq!(
            (e.message.as_str(), e.detail.as_deref()),
            ("Expired.", Some("d"))
        );
        let e = refused(Some(ErrorCode::PortRefused), "port_refused", "");
        assert_eq!(e.message, ErrorCode::PortRefused.message());
    }

    #[test]
    fn an_unknown_bridge_code_is_bridge_error_with_the_code_in_detail() {
        let e = refused(None, "quota_exceeded", "Over quota.");
        assert_eq!(e.code, Code::BridgeError);
        assert_eq!(e.message, "Over quota.");
        assert_eq!(
            e.detail.as_deref(),
            Some("bridge code \"quota_exceeded\": d")
        );
        let e = refused(None, "", "");
        assert_eq!(e.message, "The bridge refused the connection.");
        assert_eq!(e.detail.as_deref(), Some("d"));
    }
}
