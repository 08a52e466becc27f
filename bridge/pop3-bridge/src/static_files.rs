//! The web UI's static files (`web_root` at `/`, the wasm package at `/pkg/`).
//!
//! Paths are checked segment by segment (no `..`, no hidden files, no backslashes, no
//! percent-escapes) and the final file must still be inside the root after resolving symlinks.
//!
//! `web_root/dev/` holds test and development pages (the mock API, the safety and sync test
//! pages). They are not part of the product: they answer 404 unless `dev_pages` is on.

use std::path::{Path, PathBuf};

use bytes::Bytes;

/// Files larger than this are not served (the UI and wasm are a few MiB at most).
const MAX_FILE: u64 = 64 << 20;

/// The folder of `web_root` with the test and development pages.
const DEV_DIR: &str = "dev";

#[derive(Debug, Clone, Default)]
pub struct StaticFiles {
    web_root: Option<PathBuf>,
    pkg_root: Option<PathBuf>,
    dev_pages: bool,
}

pub struct StaticFile {
    pub body: Bytes,
    pub content_type: &'static str,
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
            dev_pages: false,
        }
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
        })
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
