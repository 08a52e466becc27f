// The window properties the test-only pages under web/dev/ share with the browser tests
// (tests/tests/ui_*.rs, sync_faults.rs). Only for the type check of web/ (tsconfig.json here);
// web/types.d.ts has the API's own types.

declare global {
  /** dev/mock-api.js: the last mock session's state, for the tests. */
  var __pop3Mock: { deleted: Set<number>; committed: boolean | null; calls: (string | number)[][] } | undefined;
  /** dev/mock-api.js, user `hostile`: the raw messages a test put there (message 1 first). */
  var __pop3MockMailbox: unknown;
  /** dev/safety.js: every download the page asked for (observed, not performed). */
  var __saves: { download: string | null; href: string; rel: string; blob: { type: string; size: number } | null }[];
  /** dev/safety.js: the driver of tests/tests/ui_safety.rs. */
  var __safety: object;
  /** dev/sync-harness.js: the driver of tests/tests/sync_faults.rs (`last`: the sync `start` began). */
  var harness: { last?: Promise<unknown>; [method: string]: unknown };
  var harnessReady: boolean;
}

export {};
