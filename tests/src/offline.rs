//! Steps the offline tests share: the text a message shows in the reader's sandboxed frame, and
//! a newer build of the web UI (a copy of its shell with a change, served by another bridge).

use std::io;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::browser::{INBOX_HOST, InboxPage};

/// The text the reader's plain-text frame renders, once it contains `wanted` (or whatever it
/// shows after `secs`). The frame is sandboxed (an opaque origin), so the page's scripts
/// cannot read it: WebDriver enters it and reads its body as the browser renders it.
pub async fn reader_text(page: &InboxPage, wanted: &str, secs: u64) -> String {
    let start = Instant::now();
    loop {
        let text = async {
            let f = page
                .b
                .find_in_shadow(
                    INBOX_HOST,
                    ".reader iframe.message-text-frame:not([hidden])",
                )
                .await?;
            f.enter_frame().await?;
            let text = async {
                page.b
                    .client
                    .find(fantoccini::Locator::Css("body"))
                    .await?
                    .text()
                    .await
            }
            .await;
            page.b.client.enter_parent_frame().await?;
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(text?)
        }
        .await
        .unwrap_or_default();
        if text.contains(wanted) || start.elapsed() > Duration::from_secs(secs) {
            return text;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Copies the web UI at `web` to `to`, without `pkg/` (a bridge serves the package from its own
/// root, `pkg_root`) and `dev/`: a build whose shell a test can change.
pub fn copy_shell(web: &Path, to: &Path) -> io::Result<()> {
    fn copy(from: &Path, to: &Path, top: bool) -> io::Result<()> {
        std::fs::create_dir_all(to)?;
        for entry in std::fs::read_dir(from)? {
            let entry = entry?;
            let name = entry.file_name();
            if top && (name == "pkg" || name == "dev") {
                continue;
            }
            let kind = entry.file_type()?;
            if kind.is_dir() {
                copy(&entry.path(), &to.join(&name), false)?;
            } else if kind.is_file() {
                std::fs::copy(entry.path(), to.join(&name))?;
            }
        }
        Ok(())
    }
    copy(web, to, true)
}

/// A page script: changes one byte of kept messages of account `arguments[0]` (same size, same
/// recorded checksum), as a damaged disk would; returns how many (or the error, as text).
/// Without `arguments[1]`: every message kept as a Blob, in its middle. With it: every message
/// kept as bytes whose text holds `arguments[1]`, three bytes before its end (its header
/// section, which the list shows, stays as it was).
pub const DAMAGE_KEPT: &str = r#"
const [account, holding] = arguments;
const open = () => new Promise((resolve, reject) => { const r = indexedDB.open('pop3-mail'); r.onsuccess = () => resolve(r.result); r.onerror = () => reject(r.error); });
const req = (r) => new Promise((resolve, reject) => { r.onsuccess = () => resolve(r.result); r.onerror = () => reject(r.error); });
return (async () => {
  const db = await open();
  try {
    const all = await req(db.transaction('messages').objectStore('messages').getAll(IDBKeyRange.bound([account, ''], [account, []])));
    const hit = all.filter((m) => holding == null
      ? m.bytes instanceof window.Blob
      : window.ArrayBuffer.isView(m.bytes) && new window.TextDecoder().decode(m.bytes).includes(holding));
    for (const m of hit) {
      if (window.ArrayBuffer.isView(m.bytes)) {
        const b = new window.Uint8Array(m.bytes);
        b[b.length - 3] ^= 1;
        m.bytes = b;
      } else {
        const at = Math.floor(m.size / 2);
        const was = new window.Uint8Array(await m.bytes.slice(at, at + 1).arrayBuffer())[0];
        m.bytes = new window.Blob([m.bytes.slice(0, at), new window.Uint8Array([was ^ 1]), m.bytes.slice(at + 1)]);
      }
    }
    const tx = db.transaction('messages', 'readwrite');
    for (const m of hit) tx.objectStore('messages').put(m);
    await new Promise((resolve, reject) => { tx.oncomplete = resolve; tx.onabort = () => reject(tx.error); });
    return hit.length;
  } catch (e) {
    return String(e);
  } finally {
    db.close();
  }
})();
"#;
