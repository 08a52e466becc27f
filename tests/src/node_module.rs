//! The JavaScript modules of `web/` tested in node, without a browser: a test's script runs as
//! an ES module with `POP3_ROOT` set to the repository root, from where it imports the modules
//! (and `web/pkg`, which must be built: `cargo xtask build-web`).

use std::path::PathBuf;
use std::process::Command;

/// A script's start that loads both wasm modules with `initSync` (node cannot fetch them):
/// `root`, `at(path)` (a file URL under the root), `readFileSync`, `pathToFileURL`, `mime`
/// (pop3_mime_web) and `client` (pop3_web).
pub const BOTH_WASM: &str = r#"
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
const root = process.env.POP3_ROOT;
const at = (p) => pathToFileURL(`${root}/${p}`).href;
const mime = await import(at('web/pkg/pop3_mime_web.js'));
mime.initSync({ module: readFileSync(`${root}/web/pkg/pop3_mime_web_bg.wasm`) });
const client = await import(at('web/pkg/pop3_web.js'));
client.initSync({ module: readFileSync(`${root}/web/pkg/pop3_web_bg.wasm`) });
"#;

/// What node printed and how it ended.
pub struct NodeRun {
    pub ok: bool,
    /// Its exit status, for messages (an empty stdout with a failure: a promise never settled,
    /// node exits 13 at top level).
    pub status: String,
    pub stdout: String,
    pub stderr: String,
}

/// The repository root (the parent of this crate).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("repository root")
        .to_path_buf()
}

/// Runs `script` in node after checking that `web/pkg` holds each of `wasm` (file names).
pub fn run(script: &str, wasm: &[&str]) -> NodeRun {
    let root = repo_root();
    for f in wasm {
        assert!(
            root.join("web/pkg").join(f).exists(),
            "web/pkg/{f} is missing: run `cargo xtask build-web`"
        );
    }
    let out = Command::new("node")
        .args(["--input-type=module", "-e", script])
        .env("POP3_ROOT", &root)
        .output()
        .expect("node runs (Debian's nodejs package)");
    NodeRun {
        ok: out.status.success(),
        status: out.status.to_string(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}
