//! The web UI's test and development pages (web/dev/: the mock API behind `?api=mock`, the
//! pages of the UI tests) are not part of the product: a bridge serves them only with
//! `dev_pages` on, and answers 404 for them by default, however the path is spelled.

mod common;

use std::path::{Path, PathBuf};

use common::*;

/// The repository's own web/ folder: what a deployment serves.
fn web_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../web")
}

const DEV_FILES: &[&str] = &[
    "/dev/mock-api.js",
    "/dev/safety.html",
    "/dev/safety.js",
    "/dev/safety-inbox.html",
    "/dev/sync-harness.html",
    "/dev/sync-harness.js",
];

/// A bridge serving `web_root`; `dev_pages` None leaves the default alone.
async fn bridge(web_root: PathBuf, dev_pages: Option<bool>) -> TestBridge {
    let mut c = test_config();
    c.web_root = Some(web_root);
    if let Some(on) = dev_pages {
        c.dev_pages = on;
    }
    TestBridge::start(c).await
}

#[tokio::test]
async fn the_default_bridge_does_not_serve_dev_pages() {
    assert!(
        web_dir().join("dev/mock-api.js").is_file(),
        "web/dev/mock-api.js is missing"
    );
    let b = bridge(web_dir(), None).await;
    for p in DEV_FILES.iter().copied().chain([
        "/dev/",
        "/dev",
        "//dev/mock-api.js",
        "/./dev/mock-api.js",
    ]) {
        assert_eq!(b.get(p).await.0, 404, "{p}");
    }
    // The product itself is served.
    for p in [
        "/",
        "/index.html",
        "/pop3-inbox.js",
        "/inbox/controller.js",
        "/inbox/dom.js",
    ] {
        assert_eq!(b.get(p).await.0, 200, "{p}");
    }
    b.stop().await.unwrap();
}

#[tokio::test]
async fn dev_pages_are_served_when_asked_for() {
    let b = bridge(web_dir(), Some(true)).await;
    for p in DEV_FILES {
        assert_eq!(b.get(p).await.0, 200, "{p}");
    }
    let (_, body) = b.get("/dev/mock-api.js").await;
    assert!(body.contains("export async function connect"), "{body}");
    b.stop().await.unwrap();
}

/// Another spelling or a link elsewhere in the web root does not reach dev/ either.
#[cfg(unix)]
#[tokio::test]
async fn no_other_path_leads_into_dev() {
    let dir = std::env::temp_dir().join(format!("pop3-bridge-devpages-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("dev")).unwrap();
    std::fs::write(dir.join("index.html"), "<h1>hi</h1>").unwrap();
    std::fs::write(dir.join("dev/mock-api.js"), "export {};").unwrap();
    std::os::unix::fs::symlink(dir.join("dev"), dir.join("alias")).unwrap();
    std::os::unix::fs::symlink(dir.join("dev/mock-api.js"), dir.join("mock.js")).unwrap();
    let b = bridge(dir.clone(), None).await;
    for p in [
        "/dev/mock-api.js",
        "/DEV/mock-api.js",
        "/Dev/mock-api.js",
        "/alias/mock-api.js",
        "/mock.js",
    ] {
        assert_eq!(b.get(p).await.0, 404, "{p}");
    }
    assert_eq!(b.get("/index.html").await.0, 200);
    b.stop().await.unwrap();
    let b = bridge(dir.clone(), Some(true)).await;
    for p in ["/dev/mock-api.js", "/alias/mock-api.js", "/mock.js"] {
        assert_eq!(b.get(p).await.0, 200, "{p}");
    }
    b.stop().await.unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}
