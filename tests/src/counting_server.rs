//! A counting HTTP server on 127.0.0.1 for the mail-safety browser tests: it records the path
//! of every request it receives, so a test can prove that opening a hostile message made no
//! request at all (remote images, CSS, fonts, prefetch, beacons, scripts).
//!
//! It answers every request so that a request which did slip through would also *do*
//! something observable: paths that look like scripts get JavaScript setting `__xss` in
//! every reachable window; everything else gets a 1x1 GIF (so opted-in images load).

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// One recorded request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    pub method: String,
    /// Path and query as requested, e.g. `/m3/img.png?x=1`.
    pub path: String,
    /// The `Accept` header: browsers send `image/...` first for image fetches, which tells an
    /// image request from a document, style or script one.
    pub accept: String,
}

impl Hit {
    /// Whether the browser fetched this as an image.
    pub fn is_image(&self) -> bool {
        self.accept.trim_start().starts_with("image/")
    }
}

/// The server; dropping it stops accepting.
pub struct CountingServer {
    pub addr: SocketAddr,
    hits: Arc<Mutex<Vec<Hit>>>,
    task: tokio::task::JoinHandle<()>,
}

/// 1x1 transparent GIF.
const GIF: &[u8] = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;";
/// What a script request gets: proof of execution wherever it runs, also from a frame without
/// same-origin (where only the message gets through; the UI tests record it in the page).
const SCRIPT: &[u8] = b"try{top.postMessage('xss-served-script','*')}catch(e){};try{window.__xss=1}catch(e){};try{parent.__xss=1}catch(e){};try{top.__xss=1}catch(e){}";

/// Whether a request path names a script (or a script-like beacon) rather than an image.
pub fn is_script_path(path: &str) -> bool {
    let p = path
        .split(['?', '#'])
        .next()
        .unwrap_or("")
        .to_ascii_lowercase();
    p.ends_with(".js") || p.contains("script") || p.contains("xss") || p.contains("beacon")
}

impl CountingServer {
    pub async fn start() -> std::io::Result<Self> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let addr = listener.local_addr()?;
        let hits = Arc::new(Mutex::new(Vec::new()));
        let h = hits.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let h = h.clone();
                tokio::spawn(async move {
                    let _ = serve_one(stream, &h).await;
                });
            }
        });
        Ok(CountingServer { addr, hits, task })
    }

    /// `http://127.0.0.1:PORT` (no trailing slash), the value that replaces `__PROBE__`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every request so far.
    pub fn hits(&self) -> Vec<Hit> {
        self.hits.lock().map(|v| v.clone()).unwrap_or_default()
    }

    /// Requests whose path starts with `prefix`.
    pub fn hits_under(&self, prefix: &str) -> Vec<Hit> {
        self.hits()
            .into_iter()
            .filter(|h| h.path.starts_with(prefix))
            .collect()
    }

    pub fn clear(&self) {
        if let Ok(mut v) = self.hits.lock() {
            v.clear();
        }
    }
}

impl Drop for CountingServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve_one(
    mut stream: tokio::net::TcpStream,
    hits: &Mutex<Vec<Hit>>,
) -> std::io::Result<()> {
    let mut buf = Vec::with_capacity(2048);
    let mut chunk = [0u8; 2048];
    // Keep-alive: serve requests on this connection until it closes.
    loop {
        let end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            let n = stream.read(&mut chunk).await?;
            if n == 0 || buf.len() > 64 * 1024 {
                return Ok(());
            }
            buf.extend_from_slice(&chunk[..n]);
        };
        let head = String::from_utf8_lossy(&buf[..end]).into_owned();
        // A request body (e.g. a ping POST) is not needed; drop what was read of it.
        let body_len = header_value(&head, "content-length")
            .and_then(|v| v.parse::<usize>().ok())
            .unwrap_or(0);
        buf.drain(..end);
        let mut parts = head.split_whitespace();
        let method = parts.next().unwrap_or("").to_string();
        let path = parts.next().unwrap_or("/").to_string();
        let accept = header_value(&head, "accept").unwrap_or_default();
        // Record before answering, so a test that reads right after the browser finished
        // loading cannot miss it.
        if let Ok(mut v) = hits.lock() {
            v.push(Hit {
                method: method.clone(),
                path: path.clone(),
                accept,
            });
        }
        let mut remaining = body_len.saturating_sub(buf.len());
        buf.drain(..body_len.min(buf.len()));
        while remaining > 0 {
            let n = stream.read(&mut chunk).await?;
            if n == 0 {
                return Ok(());
            }
            remaining = remaining.saturating_sub(n);
        }
        let (ctype, body) = if is_script_path(&path) {
            ("text/javascript", SCRIPT)
        } else {
            ("image/gif", GIF)
        };
        let header = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nCache-Control: no-store\r\nAccess-Control-Allow-Origin: *\r\n\r\n",
            body.len()
        );
        stream.write_all(header.as_bytes()).await?;
        if method != "HEAD" {
            stream.write_all(body).await?;
        }
    }
}

/// First value of header `name` (case-insensitive) in a request head.
fn header_value(head: &str, name: &str) -> Option<String> {
    head.lines().skip(1).find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim()
            .eq_ignore_ascii_case(name)
            .then(|| v.trim().to_string())
    })
}
