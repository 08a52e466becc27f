//! `cargo xtask bench search`: the search over kept mail (web/search.js, issue #17) in headless
//! Chromium and Firefox. The benchmark itself is the ignored test
//! `bench_search_keystroke_to_results` of tests/tests/ui_search.rs (it needs the tests'
//! browser and bridge helpers, which live in the `e2e` crate): in each browser, through
//! web/dev/search-harness.html on the bridge with dev pages, `--messages` (10 000) messages are
//! kept in IndexedDB in batches of 500 and indexed (headers at once, bodies in idle time), the
//! index is saved and opened again from IndexedDB, then `--queries` (200) queries are typed char
//! by char into the search field, each keystroke timed in the page from its `input` event to
//! the results callback; then the same account is opened offline in the real `<pop3-inbox>`
//! and the same queries typed into its search field, each keystroke timed until the first frame
//! painted after the list shows the results. It reports p50/p95/max per keystroke (both ways),
//! the slowest keystrokes, the time to keep and to index everything, the load time and the
//! serialized index size. It only reports: nothing is asserted on time.
//!
//! Options: `--messages N --queries N --browsers chromium,firefox`.

use std::path::Path;
use std::process::Command;

use crate::{Result, build_web, cargo, header, run_cmd, setup};

/// Builds web/pkg and runs the benchmark with the options given.
pub fn bench_search(root: &Path, extra: &[String]) -> Result {
    let mut env = Vec::new();
    let mut args = extra.iter();
    while let Some(a) = args.next() {
        let name = match a.as_str() {
            "--messages" => "SEARCH_BENCH_MESSAGES",
            "--queries" => "SEARCH_BENCH_QUERIES",
            "--browsers" => "SEARCH_BENCH_BROWSERS",
            other => {
                return Err(format!(
                    "bench search: unknown option {other:?} (--messages N, --queries N, --browsers chromium,firefox)"
                ));
            }
        };
        let value = args
            .next()
            .ok_or_else(|| format!("bench search: {a} needs a value"))?;
        if name != "SEARCH_BENCH_BROWSERS" && value.parse::<u64>().is_err() {
            return Err(format!("bench search: {a} {value:?} is not a number"));
        }
        env.push((name, value.clone()));
    }
    setup()?;
    build_web(root)?;
    header("bench search");
    let mut cmd = Command::new(cargo());
    cmd.current_dir(root)
        .args([
            "test",
            "-p",
            "e2e",
            "--test",
            "ui_search",
            "--",
            "--ignored",
            "--exact",
            "bench_search_keystroke_to_results",
            "--nocapture",
        ])
        .envs(env);
    run_cmd(&mut cmd)
}
