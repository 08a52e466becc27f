//! Embeds the web UI (web/ plus the built wasm package in web/pkg/) into the bridge, so that a
//! release binary serves it without `--web-root`.
//!
//! Which UI, from the environment variable `POP3_BRIDGE_UI_DIR`:
//! * a folder: embed it (it must hold `index.html` and the built package in `pkg/`, else the
//!   build fails saying what is missing); `cargo xtask dist` sets it to `web/`.
//! * `none`: embed nothing.
//! * unset: release builds embed the repository's `web/` when `web/pkg/` holds the built
//!   package (`cargo xtask build-web` makes it), and warn and embed nothing when it does not;
//!   debug and test builds embed nothing (they stay fast, and the tests give their own roots).
//!
//! `dev/` (the test pages) and hidden or oddly named entries are never embedded. The files are
//! `include_bytes!`'d from a generated `$OUT_DIR/embedded_ui.rs`, and `POP3_BRIDGE_UI_ID` (for
//! `--version`) names the build: a SHA-256 over the embedded paths and contents.

use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// What the UI needs to run: the page and the sign-in package (the reading package is
/// loaded later, but a UI without it is broken too).
const REQUIRED: &[&str] = &[
    "index.html",
    "pkg/pop3_web.js",
    "pkg/pop3_web_bg.wasm",
    "pkg/pop3_mime_web.js",
    "pkg/pop3_mime_web_bg.wasm",
];

/// Never embedded: test and development pages.
const DEV_DIR: &str = "dev";

const MAX_DEPTH: usize = 16;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=POP3_BRIDGE_UI_DIR");
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let manifest = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let release = env::var("PROFILE").is_ok_and(|p| p == "release");
    let chosen = env::var("POP3_BRIDGE_UI_DIR").ok();
    let dir = match chosen.as_deref().map(str::trim) {
        Some("none") | Some("") => None,
        Some(d) => {
            let d = PathBuf::from(d);
            let d = if d.is_relative() {
                // Relative to the workspace root, where `cargo` is usually run.
                manifest.join("../..").join(d)
            } else {
                d
            };
            if let Err(missing) = check(&d) {
                fail(&format!(
                    "POP3_BRIDGE_UI_DIR={} has no {missing}: build the UI first (`cargo xtask build-web` builds web/pkg/), or set POP3_BRIDGE_UI_DIR=none for a bridge without the UI",
                    d.display()
                ));
            }
            Some(d)
        }
        None if release => {
            let web = manifest.join("../../web");
            // web/ changes when web/pkg/ is made.
            println!("cargo:rerun-if-changed={}", web.display());
            match check(&web) {
                Ok(()) => Some(web),
                Err(missing) => {
                    println!(
                        "cargo:warning=no web UI embedded: {} has no {missing}. Run `cargo xtask build-web` and build again (or `cargo xtask dist`), or serve a UI with --web-root. POP3_BRIDGE_UI_DIR=none silences this.",
                        web.display()
                    );
                    None
                }
            }
        }
        None => None,
    };

    let mut files = Vec::new();
    if let Some(dir) = &dir {
        let dir = fs::canonicalize(dir)
            .unwrap_or_else(|e| fail(&format!("cannot read {}: {e}", dir.display())));
        println!("cargo:rerun-if-changed={}", dir.display());
        collect(&dir, &dir, "", 0, &mut files);
        files.sort();
    }

    let mut hash = Sha256::new();
    let mut code = String::from(
        "/// The embedded UI: request path (no leading slash) and contents.\npub(crate) static EMBEDDED_UI: &[(&str, &[u8])] = &[\n",
    );
    for (key, path) in &files {
        let bytes =
            fs::read(path).unwrap_or_else(|e| fail(&format!("reading {}: {e}", path.display())));
        hash.update((key.len() as u64).to_le_bytes());
        hash.update(key.as_bytes());
        hash.update((bytes.len() as u64).to_le_bytes());
        hash.update(&bytes);
        let _ = writeln!(code, "    ({key:?}, include_bytes!({:?})),", path.display());
    }
    code.push_str("];\n");
    fs::write(out.join("embedded_ui.rs"), code)
        .unwrap_or_else(|e| fail(&format!("writing embedded_ui.rs: {e}")));

    let id = if files.is_empty() {
        "no web UI embedded".to_owned()
    } else {
        let digest = hash.finalize();
        let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
        format!("web UI sha256:{hex}, {} files", files.len())
    };
    println!("cargo:rustc-env=POP3_BRIDGE_UI_ID={id}");
}

fn fail(msg: &str) -> ! {
    eprintln!("pop3-bridge build: {msg}");
    println!("cargo:warning={msg}");
    std::process::exit(1);
}

/// `Err(the first missing file)` unless `dir` holds a built UI.
fn check(dir: &Path) -> Result<(), &'static str> {
    match REQUIRED.iter().find(|f| !dir.join(f).is_file()) {
        Some(missing) => Err(missing),
        None => Ok(()),
    }
}

/// The files under `dir` as (request path, file), by the rules the bridge serves a web root
/// with: no hidden or oddly named entries, no `dev/`, symlinks only inside the root.
fn collect(root: &Path, dir: &Path, prefix: &str, depth: usize, out: &mut Vec<(String, PathBuf)>) {
    if depth > MAX_DEPTH {
        return;
    }
    let Ok(list) = fs::read_dir(dir) else { return };
    for entry in list.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if name.starts_with('.')
            || name.contains(['\\', '%', '\0', ':', '/'])
            || name.chars().any(char::is_control)
            || (prefix.is_empty() && name.eq_ignore_ascii_case(DEV_DIR))
        {
            continue;
        }
        let Ok(real) = fs::canonicalize(entry.path()) else {
            continue;
        };
        if !real.starts_with(root) || real.starts_with(root.join(DEV_DIR)) {
            continue;
        }
        let key = format!("{prefix}{name}");
        if real.is_dir() {
            collect(root, &real, &format!("{key}/"), depth + 1, out);
        } else if real.is_file() {
            out.push((key, real));
        }
    }
}
