//! axe-core in the page: one rule set and one way to run it for every UI test that checks
//! accessibility (`ui_a11y` on the inbox's screens, `ui_offline` on the page's offer of a new
//! version).

use std::path::PathBuf;

use serde_json::{Value as Json, json};

use crate::browser::Browser;

/// The rule sets axe runs: WCAG 2.0, 2.1 and 2.2 level A and AA, and Deque's best practices.
pub const TAGS: &[&str] = &[
    "wcag2a",
    "wcag2aa",
    "wcag21a",
    "wcag21aa",
    "wcag22aa",
    "best-practice",
];

/// axe-core's browser build, from the JavaScript tools `cargo xtask test` installs.
pub fn source() -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../xtask/js/node_modules/axe-core/axe.min.js");
    std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; axe-core is installed with the JavaScript tools by `cargo xtask test` \
             (npm ci in xtask/js)",
            path.display()
        )
    })
}

/// Runs axe on the whole document (it enters open shadow roots by itself; message frames are
/// left out: their markup is the sender's) once the inbox's animations have finished (a dialog
/// fading in would be measured half transparent), injecting `axe` (its [`source`]) first if
/// the page has none. The violations, each with the elements it concerns.
pub async fn violations(b: &Browser, axe: &str) -> Result<Vec<Json>, String> {
    let loaded = b
        .js("return typeof window.axe === 'object';", vec![])
        .await
        .map_err(|e| e.to_string())?;
    if loaded != Json::Bool(true) {
        b.js(&format!("{axe}\nreturn 1;"), vec![])
            .await
            .map_err(|e| format!("injecting axe: {e}"))?;
    }
    let v = b
        .client
        .execute_async(
            "const [tags, done] = arguments;
             const root = document.querySelector('pop3-inbox')?.shadowRoot;
             Promise.all((root ? root.getAnimations() : []).map((a) => a.finished.catch(() => null)))
             .then(() => axe.run(document, { runOnly: { type: 'tag', values: tags }, iframes: false, resultTypes: ['violations'] }))
               .then((res) => done({ ok: true, rules: res.passes.length + res.violations.length,
                 violations: res.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help,
                   nodes: v.nodes.map((n) => ({ target: n.target, html: n.html.slice(0, 160), why: n.failureSummary })) })) }),
                     (e) => done({ ok: false, error: String(e) }));",
            vec![json!(TAGS)],
        )
        .await
        .map_err(|e| e.to_string())?;
    if v["ok"] != true {
        return Err(format!("axe did not run: {v}"));
    }
    Ok(v["violations"].as_array().cloned().unwrap_or_default())
}
