//! The web UI's static files (`web_root` at `/`, the wasm package at `/pkg/`).
//!
//! Paths are checked segment by segment (no `..`, no hidden files, no backslashes, no
//! percent-escapes) and the final file must still be inside the root after resolving symlinks.
//!
//! `web_root/dev/` holds test and development pages (the mock API, the safety and sync test
//! pages). They are not part of the product: they answer 404 unless `dev_pages` is on.
//!
//! The files are read once, at start-up ([`StaticFiles::load`]), and served from memory: a
//! request never touches the file system, a file changed or deleted while the bridge runs is
//! served as it was loaded, and one added is not served. `web_reload` (for working on `web/`)
//! keeps the old way, reading the file on every request.
//!
//! Every file of the product (not `dev/`) is served with the page's Content-Security-Policy as
//! a header ([`UI_CSP`], the same policy as the meta tag in web/index.html, plus
//! `frame-ancestors`, which only works as a header).

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use hyper::header::HeaderValue;
use tracing::warn;

/// Files larger than this are not served (the UI and wasm are a few MiB at most).
const MAX_FILE: u64 = 64 << 20;

/// All loaded files together (the bridge keeps them in memory). A web root this large is a
/// mistake (the wrong folder), refused at start-up.
const MAX_TOTAL: u64 = 512 << 20;

/// Files (and folders) in the roots together, for the same reason.
const MAX_ENTRIES: usize = 20_000;

/// Folder depth followed below a root.
const MAX_DEPTH: usize = 32;

/// The Content-Security-Policy of the UI, without `frame-ancestors`: exactly what the meta tag
/// in web/index.html says (tests/headers.rs compares them, so they cannot drift). The bridge
/// sends it as a header with `frame-ancestors` added from the configuration.
pub const UI_CSP: &str = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self' 'unsafe-inline'; connect-src 'self'; img-src 'self' data: http: https:; object-src 'none'; base-uri 'none'; form-action 'none'";

/// The folder of `web_root` with the test and development pages.
const DEV_DIR: &str = "dev";

#[derive(Debug, Clone, Default)]
pub struct StaticFiles {
    web_root: Option<PathBuf>,
    pkg_root: Option<PathBuf>,
    dev_pages: bool,
    /// Read from disk on every request (`web_reload`).
    reload: bool,
    /// Loaded files by request path without the leading slash (`""` and `"inbox"` are the
    /// folders' `index.html`).
    web: HashMap<String, StaticFile>,
    pkg: HashMap<String, StaticFile>,
    headers: PageHeaders,
}

#[derive(Debug, Clone)]
pub struct StaticFile {
    pub body: Bytes,
    pub content_type: &'static str,
    /// Part of the product (not a `dev/` page): served with the page's security policy.
    pub product: bool,
}

/// The headers that govern how the UI's pages may be used (see [`StaticFiles::page_headers`]).
#[derive(Debug, Clone)]
pub struct PageHeaders {
    /// [`UI_CSP`] plus `frame-ancestors`.
    pub csp: HeaderValue,
    /// `X-Frame-Options` for browsers without `frame-ancestors`: `DENY` for `'none'`,
    /// `SAMEORIGIN` for `'self'`, absent for a list it cannot express.
    pub frame_options: Option<HeaderValue>,
}

impl Default for PageHeaders {
    fn default() -> Self {
        PageHeaders::new("'none'")
    }
}

impl PageHeaders {
    /// The headers for these `frame-ancestors` sources (already checked by the configuration).
    pub fn new(frame_ancestors: &str) -> Self {
        let csp = HeaderValue::from_str(&format!("{UI_CSP}; frame-ancestors {frame_ancestors}"))
            .unwrap_or_else(|_| {
                HeaderValue::from_str(&format!("{UI_CSP}; frame-ancestors 'none'"))
                    .unwrap_or(HeaderValue::from_static("default-src 'none'"))
            });
        let frame_options = match frame_ancestors {
            "'self'" => Some(HeaderValue::from_static("SAMEORIGIN")),
            "'none'" => Some(HeaderValue::from_static("DENY")),
            _ => None,
        };
        PageHeaders { csp, frame_options }
    }
}

fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "html" | "htm" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "wasm" => "application/wasm",
        "json" | "map" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "txt" => "text/plain; charset=utf-8",
        "webmanifest" => "application/manifest+json",
        _ => "application/octet-stream",
    }
}

/// Turn a request path into segments, or None if any segment is suspicious.
fn segments(path: &str) -> Option<Vec<&str>> {
    let mut out = Vec::new();
    for seg in path.split('/') {
        if seg.is_empty() {
            continue;
        }
        if seg.starts_with('.')
            || seg.contains(['\\', '%', '\0', ':'])
            || seg.chars().any(char::is_control)
        {
            return None;
        }
        out.push(seg);
    }
    Some(out)
}

impl StaticFiles {
    /// Serves `web_root` at `/` and `pkg_root` at `/pkg/`; `web_root/dev/` stays hidden.
    pub fn new(web_root: Option<PathBuf>, pkg_root: Option<PathBuf>) -> Self {
        StaticFiles {
            web_root,
            pkg_root,
            ..StaticFiles::default()
        }
    }

    /// Read files on every request instead of once (see [`crate::Config::web_reload`]).
    pub fn with_reload(mut self, on: bool) -> Self {
        self.reload = on;
        self
    }

    /// Serve the product's files with these page headers.
    pub fn with_page_headers(mut self, h: PageHeaders) -> Self {
        self.headers = h;
        self
    }

    /// The headers for the product's pages.
    pub fn page_headers(&self) -> &PageHeaders {
        &self.headers
    }

    /// Read every file that can be served into memory (nothing with `reload`). Blocking: call
    /// it once, at start-up. A root that cannot be read is logged and serves nothing (as it
    /// did when files were read per request); roots too large to hold are an error.
    pub fn load(mut self) -> io::Result<Self> {
        if self.reload {
            return Ok(self);
        }
        let mut loader = Loader::default();
        if let Some(root) = self.web_root.clone() {
            self.web = loader.tree(&root, !self.dev_pages, true)?;
        }
        if let Some(root) = self.pkg_root.clone() {
            self.pkg = loader.tree(&root, false, false)?;
        }
        Ok(self)
    }

    /// Also serve `web_root/dev/` (tests and development only; see [`crate::Config::dev_pages`]).
    pub fn with_dev_pages(mut self, on: bool) -> Self {
        self.dev_pages = on;
        self
    }

    /// Look up a file for a GET/HEAD path. None means 404.
    pub async fn get(&self, path: &str) -> Option<StaticFile> {
        let (root, rest, web) = match path.strip_prefix("/pkg/") {
            Some(rest) if self.pkg_root.is_some() => (self.pkg_root.as_ref()?, rest, false),
            _ => (self.web_root.as_ref()?, path, true),
        };
        let segs = segments(rest)?;
        // Any spelling of the folder (a case-insensitive file system would find /DEV/ too).
        let hide_dev = web && !self.dev_pages;
        if hide_dev
            && segs
                .first()
                .is_some_and(|s| s.eq_ignore_ascii_case(DEV_DIR))
        {
            return None;
        }
        if !self.reload {
            let files = if web { &self.web } else { &self.pkg };
            return files.get(&segs.join("/")).cloned();
        }
        let mut p = root.clone();
        p.extend(&segs);
        let root_real = tokio::fs::canonicalize(root).await.ok()?;
        let mut real = tokio::fs::canonicalize(&p).await.ok()?;
        if !real.starts_with(&root_real) {
            return None;
        }
        // And whatever leads there (a symlink elsewhere in the web root, say).
        if hide_dev && real.starts_with(root_real.join(DEV_DIR)) {
            return None;
        }
        let mut meta = tokio::fs::metadata(&real).await.ok()?;
        if meta.is_dir() {
            real.push("index.html");
            meta = tokio::fs::metadata(&real).await.ok()?;
        }
        if !meta.is_file() || meta.len() > MAX_FILE {
            return None;
        }
        let body = tokio::fs::read(&real).await.ok()?;
        Some(StaticFile {
            body: Bytes::from(body),
            content_type: content_type(&real),
            product: !(web && real.starts_with(root_real.join(DEV_DIR))),
        })
    }
}

/// Reads the roots at start-up, by the rules `get` applies per request with `web_reload`:
/// hidden and oddly named entries are skipped, symlinks are followed only inside their root,
/// `dev/` (however reached) only with `dev_pages`, files over [`MAX_FILE`] are left out. A file
/// reached twice (web/pkg both as `/pkg/` and as the web root's `pkg/`) is held once.
#[derive(Default)]
struct Loader {
    by_real_path: HashMap<PathBuf, Bytes>,
    total: u64,
    entries: usize,
}

impl Loader {
    fn tree(
        &mut self,
        root: &Path,
        hide_dev: bool,
        web: bool,
    ) -> io::Result<HashMap<String, StaticFile>> {
        let mut out = HashMap::new();
        let root_real = match std::fs::canonicalize(root) {
            Ok(r) => r,
            Err(e) => {
                warn!(root = %root.display(), error = %e, "cannot read the web root; nothing is served from it");
                return Ok(out);
            }
        };
        let dev = web.then(|| root_real.join(DEV_DIR));
        let mut ancestors = vec![root_real.clone()];
        self.dir(
            &root_real,
            &root_real,
            "",
            hide_dev,
            &dev,
            &mut ancestors,
            &mut out,
        )?;
        Ok(out)
    }

    #[allow(clippy::too_many_arguments)]
    fn dir(
        &mut self,
        root_real: &Path,
        dir: &Path,
        prefix: &str,
        hide_dev: bool,
        dev: &Option<PathBuf>,
        ancestors: &mut Vec<PathBuf>,
        out: &mut HashMap<String, StaticFile>,
    ) -> io::Result<()> {
        if ancestors.len() > MAX_DEPTH {
            return Ok(());
        }
        let Ok(list) = std::fs::read_dir(dir) else {
            return Ok(());
        };
        for entry in list.flatten() {
            self.entries += 1;
            if self.entries > MAX_ENTRIES {
                return Err(io::Error::other(format!(
                    "{} holds more than {MAX_ENTRIES} files: is it the right web root?",
                    root_real.display()
                )));
            }
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            if segments(name).as_deref() != Some(&[name][..]) {
                continue;
            }
            let Ok(real) = std::fs::canonicalize(entry.path()) else {
                continue;
            };
            let in_dev = dev.as_ref().is_some_and(|d| real.starts_with(d));
            if !real.starts_with(root_real) || (hide_dev && in_dev) {
                continue;
            }
            let Ok(meta) = std::fs::metadata(&real) else {
                continue;
            };
            let key = format!("{prefix}{name}");
            if meta.is_dir() {
                if ancestors.contains(&real) {
                    continue;
                }
                ancestors.push(real.clone());
                let r = self.dir(
                    root_real,
                    &real,
                    &format!("{key}/"),
                    hide_dev,
                    dev,
                    ancestors,
                    out,
                );
                ancestors.pop();
                r?;
            } else if meta.is_file() && meta.len() <= MAX_FILE {
                let body = match self.by_real_path.get(&real) {
                    Some(b) => b.clone(),
                    None => {
                        let Ok(bytes) = std::fs::read(&real) else {
                            continue;
                        };
                        self.total += bytes.len() as u64;
                        if self.total > MAX_TOTAL {
                            return Err(io::Error::other(format!(
                                "the files under {} are larger than {} MiB together: is it the right web root?",
                                root_real.display(),
                                MAX_TOTAL >> 20
                            )));
                        }
                        let b = Bytes::from(bytes);
                        self.by_real_path.insert(real.clone(), b.clone());
                        b
                    }
                };
                out.insert(
                    key,
                    StaticFile {
                        body,
                        content_type: content_type(&real),
                        product: !in_dev,
                    },
                );
            }
        }
        // A folder's path serves its index.html.
        if let Some(index) = out.get(&format!("{prefix}index.html")).cloned() {
            out.insert(prefix.trim_end_matches('/').to_string(), index);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suspicious_paths_are_refused() {
        for p in [
            "/../etc/passwd",
            "/a/../../b",
            "/.git/config",
            "/a\\b",
            "/%2e%2e/x",
            "/a:b",
        ] {
            assert!(segments(p).is_none(), "{p}");
        }
        assert_eq!(segments("/pkg/a.wasm").unwrap(), ["pkg", "a.wasm"]);
    }
}
