//! `cargo xtask npm`: the client as an npm package (`pop3-web`), packed with `npm pack` into
//! `target/npm/`, and the runtimes its tests run in (`xtask/runtimes`: Deno, workerd and the
//! `ws` package, pinned by their lock file and installed with `npm ci`).
//!
//! The package is web/ as the bridge serves it (the JS API, the inbox element, the wasm
//! packages from `build-web`) plus the runtime entries in npm/ (Node, Deno, workerd), the
//! TypeScript declarations `tsc` emits from the JSDoc types, the README and the licenses.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{Result, header, run_cmd, target_dir};

/// The modules of web/ that make up the package (tests, demos and dev pages stay out).
const WEB_FILES: &[&str] = &[
    "pop3.js",
    // The TLS engine's worker in browsers (pop3.js starts it next to itself).
    "tls-worker.js",
    // The offline store's keep worker in browsers (store.js starts it next to itself).
    "keep-worker.js",
    "types.d.ts",
    "pop3-inbox.js",
    "pop3-inbox.css.js",
    "store.js",
    "sync.js",
    // The inbox's search (inbox/search-box.js imports it), with its vendored index below.
    "search.js",
    "message-view.js",
    "file-name.js",
    "kiosk.js",
];

/// The package's own files, in npm/.
const NPM_FILES: &[&str] = &[
    "node.js",
    "deno.js",
    "workerd.js",
    "runtime-socket.js",
    "direct-socket.js",
    "runtime-modules.d.ts",
    "README.md",
];

/// Entries whose declarations `tsc` emits (the rest follow from their imports).
const ENTRIES: &[&str] = &[
    "pop3.js",
    "pop3-inbox.js",
    "node.js",
    "deno.js",
    "workerd.js",
];

/// The environment variable through which `cargo xtask test` tells the tests where the packed
/// package and the runtimes are.
pub const PACKAGE_ENV: &str = "POP3_NPM_PACKAGE";
/// See [`PACKAGE_ENV`].
pub const RUNTIMES_ENV: &str = "POP3_NPM_RUNTIMES";

/// Assembles and packs the package from web/ (with web/pkg already built); the .tgz path.
pub fn pack(root: &Path, tsc: &Path) -> Result<PathBuf> {
    header("npm package");
    let version = crate_version(root)?;
    let out_dir = target_dir(root).join("npm");
    let pkg = out_dir.join("package");
    if pkg.exists() {
        std::fs::remove_dir_all(&pkg).map_err(|e| format!("clearing {}: {e}", pkg.display()))?;
    }
    let web = root.join("web");
    for f in WEB_FILES {
        copy(&web.join(f), &pkg.join(f))?;
    }
    copy_dir(&web.join("inbox"), &pkg.join("inbox"))?;
    copy_dir(&web.join("i18n"), &pkg.join("i18n"))?;
    copy_dir(&web.join("pkg"), &pkg.join("pkg"))?;
    // MiniSearch (MIT, its LICENSE.txt inside), imported by search.js.
    copy_dir(&web.join("vendor"), &pkg.join("vendor"))?;
    for f in NPM_FILES {
        copy(&root.join("npm").join(f), &pkg.join(f))?;
    }
    for f in ["LICENSE-MIT", "LICENSE-APACHE"] {
        copy(&root.join(f), &pkg.join(f))?;
    }
    // The wasm-bindgen output's own .gitignore would make npm leave the folder out.
    let _ = std::fs::remove_file(pkg.join("pkg").join(".gitignore"));
    let manifest = std::fs::read_to_string(root.join("npm").join("package.json"))
        .map_err(|e| format!("reading npm/package.json: {e}"))?;
    let manifest = manifest.replace("0.0.0-set-by-cargo-xtask-npm", &version);
    write(&pkg.join("package.json"), &manifest)?;

    // Declarations from the JSDoc types: strict, as the js check is.
    let entries = ENTRIES
        .iter()
        .map(|e| format!("\"{e}\""))
        .collect::<Vec<_>>()
        .join(", ");
    write(
        &pkg.join("tsconfig.json"),
        &format!(
            r#"{{
  "compilerOptions": {{
    "target": "es2022", "module": "esnext", "moduleResolution": "bundler",
    "lib": ["es2023", "esnext.disposable", "dom", "dom.iterable"], "types": [],
    "allowJs": true, "checkJs": true, "strict": true, "exactOptionalPropertyTypes": true,
    "strictPropertyInitialization": false, "skipLibCheck": true,
    "declaration": true, "emitDeclarationOnly": true, "outDir": "."
  }},
  "files": [{entries}, "runtime-modules.d.ts", "types.d.ts"]
}}
"#
        ),
    )?;
    run_cmd(Command::new(tsc).arg("-p").arg(pkg.join("tsconfig.json")))?;
    std::fs::remove_file(pkg.join("tsconfig.json")).map_err(|e| e.to_string())?;
    for e in ENTRIES {
        let dts = pkg.join(e.replace(".js", ".d.ts"));
        if !dts.is_file() {
            return Err(format!("tsc emitted no {}", dts.display()));
        }
    }

    let out = Command::new("npm")
        .args(["pack", "--json", "--pack-destination"])
        .arg(&out_dir)
        .current_dir(&pkg)
        .output()
        .map_err(|e| format!("cannot run npm pack: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "npm pack failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let tgz = out_dir.join(format!("pop3-web-{version}.tgz"));
    if !tgz.is_file() {
        return Err(format!("npm pack made no {}", tgz.display()));
    }
    let size = std::fs::metadata(&tgz).map(|m| m.len()).unwrap_or(0);
    println!("npm package: {} ({size} bytes packed)", tgz.display());
    // What a page downloads before it can connect (the reading module comes later, lazily).
    let mut entry = vec![
        pkg.join("pop3.js"),
        pkg.join("pkg/pop3_web.js"),
        pkg.join("pkg/pop3_web_bg.wasm"),
    ];
    entry.extend(files_under(&pkg.join("pkg/snippets")));
    let gz: u64 = entry.iter().map(|f| gzip_size(f)).sum();
    println!(
        "browser entry (gzip -9, {} files: pop3.js, the client's glue, wasm and snippets): {gz} bytes",
        entry.len()
    );
    // TLS that ends in the client: fetched by the first connection that needs it.
    let tls: u64 = [
        pkg.join("tls-worker.js"),
        pkg.join("pkg/pop3_tls_web.js"),
        pkg.join("pkg/pop3_tls_web_bg.wasm"),
    ]
    .iter()
    .map(|f| gzip_size(f))
    .sum();
    println!("TLS module (gzip -9, its worker, glue and wasm, loaded on demand): {tls} bytes");
    Ok(tgz)
}

/// Every file under `dir`, recursively.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// The size of `file` compressed by `gzip -9` (0 if gzip cannot run).
fn gzip_size(file: &Path) -> u64 {
    Command::new("gzip")
        .args(["-9", "-c"])
        .arg(file)
        .output()
        .map(|o| o.stdout.len() as u64)
        .unwrap_or(0)
}

/// Installs the pinned runtimes (`npm ci` in xtask/runtimes when its lock file changed); their
/// folder.
pub fn runtimes(root: &Path) -> Result<PathBuf> {
    let dir = root.join("xtask").join("runtimes");
    crate::npm_ci(&dir, &["deno", "workerd", "vite"])?;
    Ok(dir)
}

/// The client crate's version: the package's.
fn crate_version(root: &Path) -> Result<String> {
    let toml = std::fs::read_to_string(root.join("client-wasm/pop3-web/Cargo.toml"))
        .map_err(|e| format!("reading client-wasm/pop3-web/Cargo.toml: {e}"))?;
    toml.lines()
        .find_map(|l| {
            let v = l.strip_prefix("version")?.trim_start().strip_prefix('=')?;
            Some(v.trim().trim_matches('"').to_owned())
        })
        .ok_or_else(|| "client-wasm/pop3-web/Cargo.toml has no version".to_owned())
}

fn write(path: &Path, text: &str) -> Result {
    std::fs::write(path, text).map_err(|e| format!("writing {}: {e}", path.display()))
}

fn copy(from: &Path, to: &Path) -> Result {
    if let Some(parent) = to.parent() {
        std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
    }
    std::fs::copy(from, to)
        .map(|_| ())
        .map_err(|e| format!("copying {} to {}: {e}", from.display(), to.display()))
}

fn copy_dir(from: &Path, to: &Path) -> Result {
    let entries = std::fs::read_dir(from).map_err(|e| format!("{}: {e}", from.display()))?;
    for entry in entries {
        let entry = entry.map_err(|e| e.to_string())?;
        let path = entry.path();
        let dest = to.join(entry.file_name());
        if path.is_dir() {
            copy_dir(&path, &dest)?;
        } else {
            copy(&path, &dest)?;
        }
    }
    Ok(())
}
