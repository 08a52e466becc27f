//! Kiosk mode's idle time is clamped to a sane range (issue #11): node runs web/kiosk.js (the
//! timing) and web/inbox/kiosk-idle.js (how the element chooses the time) on a fake clock.
//!
//! - `clampIdleSeconds` keeps any number within 10 s to 24 h, and takes the default (300 s)
//!   for what is not a positive finite number;
//! - an `IdleLogout` asked for a huge or odd time logs out at the clamped time, and never asks
//!   `setTimeout` for more than its 32 bits (a longer delay fires at once in browsers);
//! - the element's time is its `kiosk-idle` (the attribute, which the page URL may set), never
//!   above the operator's (the serving bridge's `kioskIdleSeconds`), both clamped.
//!
//! The browser test `ui_kiosk` checks the ceiling end to end (a URL asking for 100000 s is
//! logged out after the bridge's 12 s); this one covers the values a browser test cannot wait
//! for. Needs `node` (Debian's nodejs package); no wasm.

const SCRIPT: &str = r#"
import { pathToFileURL } from 'node:url';
const root = process.env.POP3_ROOT;
const at = (p) => pathToFileURL(`${root}/${p}`).href;
// KioskIdle makes its countdown element in its constructor; it is not looked at here.
globalThis.document = { createElement: () => ({ setAttribute() {}, addEventListener() {} }) };
const { clampIdleSeconds, IdleLogout } = await import(at('web/kiosk.js'));
const { KioskIdle } = await import(at('web/inbox/kiosk-idle.js'));

const failures = [];
let checked = 0;
const expect = (what, got, want) => {
  checked++;
  if (JSON.stringify(got) !== JSON.stringify(want)) failures.push({ what, got, want });
};
const DAY = 24 * 3600;

for (const [v, want] of [
  [1e12, DAY], [2 ** 53, DAY], [DAY + 1, DAY], [3600.7, 3600], [10, 10], [5, 10], [0.5, 10],
  [Infinity, 300], [-Infinity, 300], [NaN, 300], [-5, 300], [0, 300],
]) {
  expect(`clampIdleSeconds(${v})`, clampIdleSeconds(v), want);
}

// A fake clock: Date.now and setTimeout, run in order of their due time.
let now = 0;
let nextId = 1;
let maxDelay = 0;
const timers = new Map();
Date.now = () => now;
globalThis.setTimeout = (f, ms) => {
  maxDelay = Math.max(maxDelay, ms);
  const id = nextId++;
  timers.set(id, { due: now + ms, f });
  return id;
};
globalThis.clearTimeout = (id) => timers.delete(id);
const runUntil = (limit) => {
  for (;;) {
    const next = [...timers.entries()].sort((a, b) => a[1].due - b[1].due)[0];
    if (!next || next[1].due > limit) {
      now = limit;
      return;
    }
    timers.delete(next[0]);
    now = Math.max(now, next[1].due);
    next[1].f();
  }
};

for (const [v, want] of [[1e12, DAY], [2 ** 31, DAY], [Infinity, 300], [NaN, 300], [1, 10], [120, 120]]) {
  now = 0;
  maxDelay = 0;
  timers.clear();
  let loggedOut = null;
  const idle = new IdleLogout(new EventTarget(), { idleSeconds: v, onTimeout: () => (loggedOut = now / 1000) });
  idle.start();
  runUntil(3 * DAY * 1000);
  idle.stop();
  expect(`IdleLogout asked for ${v} s logs out after`, loggedOut, want);
  expect(`IdleLogout asked for ${v} s: its longest timer fits setTimeout`, maxDelay <= 2 ** 31 - 1, true);
}

// The element: `kiosk-idle` (null: no attribute) under the operator's ceiling (null: none).
const host = (attr) => ({ getAttribute: (n) => (n === 'kiosk-idle' ? attr : null), hasAttribute: () => true });
const seconds = (attr, max) => new KioskIdle(host(attr), {}, { onTimeout() {}, maxSeconds: () => max }).seconds;
for (const [attr, max, want] of [
  [null, null, 300], ['', null, 300], ['60', null, 60], ['1e12', null, DAY], ['abc', null, 300], ['-5', null, 300], ['5', null, 10],
  ['100000', 12, 12], ['5', 12, 10], ['60', 120, 60], ['600', 120, 120], ['abc', 12, 12], [null, 12, 12],
  [null, 1e12, 300], ['1e12', 1e12, DAY], ['1e12', 5, 10],
]) {
  expect(`kiosk-idle ${JSON.stringify(attr)} under the operator's ${max}`, seconds(attr, max), want);
}

console.log(JSON.stringify({ checked, failures }, null, 1));
process.exit(failures.length ? 1 : 0);
"#;

#[test]
fn the_kiosk_idle_time_is_clamped_and_the_operators_is_a_ceiling() {
    let r = e2e::node_module::run(SCRIPT, &[]);
    let (stdout, stderr) = (&r.stdout, &r.stderr);
    assert!(
        r.ok,
        "the idle time is not what it should be ({}):\n{stdout}\n{stderr}",
        r.status
    );
    assert!(stdout.contains("\"failures\": []"), "{stdout}\n{stderr}");
    // Every case ran: 12 clamps, 6 logouts of 2 checks each, 16 element times.
    assert!(stdout.contains("\"checked\": 40"), "{stdout}\n{stderr}");
}
