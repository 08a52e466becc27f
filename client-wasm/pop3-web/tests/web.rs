//! The JS API in a real headless browser, through the real bridge, to a real Dovecot.
//!
//! Run by `tests/tests/wasm_browser.rs`, which starts Dovecot and the bridge and passes their
//! addresses at compile time (`option_env!`); built alone it checks nothing and says so.
#![cfg(target_arch = "wasm32")]

use js_sys::{Array, Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

struct Env {
    bridge: &'static str,
    tls_port: u16,
    plain_port: u16,
    digest: &'static str,
    count: u32,
}

fn env() -> Env {
    let (Some(bridge), Some(tls), Some(plain), Some(digest), Some(count)) = (
        option_env!("POP3_TEST_BRIDGE"),
        option_env!("POP3_TEST_TLS_PORT"),
        option_env!("POP3_TEST_PLAIN_PORT"),
        option_env!("POP3_TEST_DIGEST"),
        option_env!("POP3_TEST_COUNT"),
    ) else {
        panic!("run through tests/tests/wasm_browser.rs, which starts Dovecot and the bridge")
    };
    Env {
        bridge,
        tls_port: tls.parse().unwrap(),
        plain_port: plain.parse().unwrap(),
        digest,
        count: count.parse().unwrap(),
    }
}

fn options(pairs: &[(&str, JsValue)]) -> JsValue {
    let o = js_sys::Object::new();
    for (k, v) in pairs {
        Reflect::set(&o, &(*k).into(), v).unwrap();
    }
    o.into()
}

fn login(e: &Env, user: &str, password: &str, port: u16, security: &str) -> JsValue {
    options(&[
        ("bridgeUrl", e.bridge.into()),
        ("host", "localhost".into()),
        ("port", port.into()),
        ("security", security.into()),
        ("user", user.into()),
        ("password", password.into()),
    ])
}

async fn wait(p: js_sys::Promise) -> Result<JsValue, JsValue> {
    JsFuture::from(p).await
}

fn prop(v: &JsValue, k: &str) -> JsValue {
    Reflect::get(v, &k.into()).unwrap()
}

/// FNV-1a over all messages in order, as the orchestrator computes it from the Maildir.
fn fnv(acc: u64, bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .fold(acc, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x100000001b3))
}

#[wasm_bindgen_test]
async fn logs_in_over_tls_and_downloads_every_message_byte_exact() {
    let e = env();
    let s = pop3_web::connect(login(&e, "web", "pw-web", e.tls_port, "tls"))
        .await
        .unwrap();
    assert_eq!(s.login_method().as_deref(), Some("SCRAM-SHA-256"));
    let tls = s.tls();
    assert_eq!(prop(&tls, "verified"), JsValue::TRUE);
    assert!(
        prop(&tls, "version")
            .as_string()
            .unwrap()
            .starts_with("TLSv1.")
    );
    assert_eq!(prop(&s.capabilities(), "pipelining"), JsValue::TRUE);

    let list = Array::from(&wait(s.list()).await.unwrap());
    assert_eq!(list.length(), e.count);
    let msgs: Vec<u32> = (1..=e.count).collect();
    let got = std::rc::Rc::new(std::cell::RefCell::new(Vec::<(u32, Vec<u8>)>::new()));
    let sink = got.clone();
    let on_message = wasm_bindgen::closure::Closure::<dyn FnMut(u32, Uint8Array)>::new(
        move |m: u32, b: Uint8Array| sink.borrow_mut().push((m, b.to_vec())),
    );
    let progress = std::rc::Rc::new(std::cell::Cell::new(0u32));
    let p2 = progress.clone();
    let on_progress =
        wasm_bindgen::closure::Closure::<dyn FnMut(JsValue)>::new(move |p: JsValue| {
            p2.set(prop(&p, "done").as_f64().unwrap() as u32)
        });
    let opts = options(&[
        ("onMessage", on_message.as_ref().clone()),
        ("onProgress", on_progress.as_ref().clone()),
    ]);
    let summary = wait(s.download(msgs, opts)).await.unwrap();
    assert_eq!(prop(&summary, "count").as_f64(), Some(f64::from(e.count)));
    assert_eq!(progress.get(), e.count);
    let got = got.take();
    let numbers: Vec<u32> = got.iter().map(|(m, _)| *m).collect();
    assert_eq!(numbers, (1..=e.count).collect::<Vec<_>>(), "in order");
    let mut h = 0xcbf29ce484222325u64;
    for ((_, body), entry) in got.iter().zip(list.iter()) {
        assert_eq!(body.len() as f64, prop(&entry, "size").as_f64().unwrap());
        h = fnv(h, body);
    }
    assert_eq!(
        format!("{h:016x}"),
        e.digest,
        "message bytes differ from the Maildir"
    );

    let one = Uint8Array::new(&wait(s.retr(1)).await.unwrap()).to_vec();
    assert_eq!(one, got[0].1);
    let q = wait(s.quit()).await.unwrap();
    assert_eq!(prop(&q, "committed"), JsValue::TRUE);
}

#[wasm_bindgen_test]
async fn headers_of_the_newest_messages_come_newest_first() {
    let e = env();
    let s = pop3_web::connect(login(&e, "web", "pw-web", e.tls_port, "tls"))
        .await
        .unwrap();
    let h = wait(s.fetch_headers(options(&[("newest", 5.into())])))
        .await
        .unwrap();
    let h = Array::from(&h);
    assert_eq!(h.length(), 5);
    // The whole order, not just the first: count, count-1, ..., count-4.
    let msgs: Vec<f64> = h
        .iter()
        .map(|r| prop(&r, "msg").as_f64().unwrap())
        .collect();
    let want: Vec<f64> = (0..5).map(|i| f64::from(e.count - i)).collect();
    assert_eq!(msgs, want, "newest first");
    for r in h.iter() {
        assert!(prop(&r, "uid").is_string());
        let headers = Uint8Array::new(&prop(&r, "headers")).to_vec();
        assert!(
            headers.ends_with(b"\r\n\r\n"),
            "TOP n 0 ends after the header"
        );
    }
    s.close();
}

#[wasm_bindgen_test]
async fn stls_through_the_bridge_logs_in() {
    let e = env();
    let s = pop3_web::connect(login(&e, "web", "pw-web", e.plain_port, "stls"))
        .await
        .unwrap();
    assert!(!s.insecure());
    let stat = wait(s.stat()).await.unwrap();
    assert_eq!(prop(&stat, "count").as_f64(), Some(f64::from(e.count)));
    s.close();
}

#[wasm_bindgen_test]
async fn wrong_password_is_reported_as_auth_failed_with_the_servers_words() {
    let e = env();
    let err = pop3_web::connect(login(&e, "web", "nope", e.tls_port, "tls"))
        .await
        .err()
        .unwrap();
    assert!(err.is_instance_of::<js_sys::Error>());
    assert_eq!(prop(&err, "name").as_string().as_deref(), Some("Pop3Error"));
    assert_eq!(
        prop(&err, "code").as_string().as_deref(),
        Some("auth_failed")
    );
    assert!(prop(&err, "serverText").is_string());
}

#[wasm_bindgen_test]
async fn a_private_address_is_refused_by_the_bridge() {
    let e = env();
    // Policy refuses before any packet is sent to it.
    let err = pop3_web::connect(options(&[
        ("bridgeUrl", e.bridge.into()),
        ("host", "10.0.0.1".into()),
        ("port", 995.into()),
        ("security", "tls".into()),
        ("user", "u".into()),
        ("password", "p".into()),
    ]))
    .await
    .err()
    .unwrap();
    assert_eq!(
        prop(&err, "code").as_string().as_deref(),
        Some("target_refused")
    );
    assert!(prop(&err, "message").as_string().unwrap().len() > 10);
}

#[wasm_bindgen_test]
async fn plaintext_is_refused_by_default() {
    let e = env();
    let err = pop3_web::connect(login(&e, "web", "pw-web", e.plain_port, "plain"))
        .await
        .err()
        .unwrap();
    assert_eq!(
        prop(&err, "code").as_string().as_deref(),
        Some("plaintext_refused")
    );
}

#[wasm_bindgen_test]
async fn deletion_happens_at_quit() {
    let e = env();
    let s = pop3_web::connect(login(&e, "del", "pw-del", e.tls_port, "tls"))
        .await
        .unwrap();
    wait(s.dele(1)).await.unwrap();
    assert_eq!(s.marked_for_deletion(), vec![1]);
    wait(s.rset()).await.unwrap();
    assert!(s.marked_for_deletion().is_empty());
    wait(s.dele(2)).await.unwrap();
    let q = wait(s.quit()).await.unwrap();
    assert_eq!(prop(&q, "committed"), JsValue::TRUE);
    // The orchestrator (tests/tests/wasm_browser.rs) checks on the Dovecot side that exactly
    // message 2 is gone and messages 1, 3, 4 and 5 remain.
}

#[wasm_bindgen_test]
async fn cancelling_a_download_rejects_with_cancelled() {
    let e = env();
    let s = pop3_web::connect(login(&e, "web", "pw-web", e.tls_port, "tls"))
        .await
        .unwrap();
    let ctl = web_sys::AbortController::new().unwrap();
    let p = s.download(
        (1..=e.count).collect(),
        options(&[("signal", ctl.signal().into())]),
    );
    ctl.abort();
    let err = wait(p).await.err().unwrap();
    assert_eq!(prop(&err, "code").as_string().as_deref(), Some("cancelled"));
    // The session stays usable.
    let stat = wait(s.stat()).await.unwrap();
    assert!(prop(&stat, "count").as_f64().is_some());
    let _ = err.dyn_into::<js_sys::Error>().unwrap();
    s.close();
}

/// Records what this page sends on its WebSockets (the bridge terminates TLS here, so they carry
/// the POP3 commands): returns a function that stops recording and gives the command lines.
fn record_commands() -> js_sys::Function {
    let start = js_sys::Function::new_no_args(
        r#"
        const proto = WebSocket.prototype;
        const real = proto.send;
        const lines = [];
        const dec = new TextDecoder();
        proto.send = function (data) {
          const bytes = data instanceof ArrayBuffer ? new Uint8Array(data) : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
          lines.push(...dec.decode(bytes).split('\r\n').filter((l) => l));
          return real.call(this, data);
        };
        return () => { proto.send = real; return lines; };
        "#,
    );
    start.call0(&JsValue::NULL).unwrap().unchecked_into()
}

/// Checks how many of the recorded command `lines` asked for the whole maildrop's listing:
/// (LIST, UIDL).
fn assert_listings(lines: &JsValue, want: (usize, usize)) {
    let lines: Vec<String> = Array::from(lines)
        .iter()
        .filter_map(|l| l.as_string())
        .collect();
    let count = |cmd: &str| lines.iter().filter(|l| *l == cmd).count();
    assert_eq!((count("LIST"), count("UIDL")), want, "{lines:?}");
}

/// `fetchHeaders({ msgs })`'s answers.
async fn headers_of(s: &pop3_web::Session, msgs: &[u32]) -> Array {
    let msgs: Array = msgs.iter().map(|&m| JsValue::from(m)).collect();
    let opts = options(&[("msgs", msgs.into())]);
    Array::from(&wait(s.fetch_headers(opts)).await.unwrap())
}

#[wasm_bindgen_test]
async fn batches_reuse_the_sessions_listing_until_dele_or_rset() {
    let e = env();
    let s = pop3_web::connect(login(&e, "web", "pw-web", e.tls_port, "tls"))
        .await
        .unwrap();
    let stop = record_commands();
    // The first batch of the session asks for its listing; the next ones do not.
    let first = headers_of(&s, &[1, 2]).await;
    let second = headers_of(&s, &[3, 4]).await;
    let list = Array::from(&wait(s.list()).await.unwrap());
    let uidl = Array::from(&wait(s.uidl()).await.unwrap());
    let got = wait(s.download(vec![5, 6], options(&[]))).await.unwrap();
    assert_eq!(prop(&got, "count").as_f64(), Some(2.0));
    // One LIST and one UIDL for the first batch, one each for list() and uidl(); none for
    // the second batch or the download.
    assert_listings(&stop.call0(&JsValue::NULL).unwrap(), (2, 2));
    // The reused listing gives each message the size and unique id the server lists.
    for r in first.iter().chain(second.iter()) {
        let msg = prop(&r, "msg");
        let listed = list.iter().find(|x| prop(x, "msg") == msg).unwrap();
        let uid = uidl.iter().find(|x| prop(x, "msg") == msg).unwrap();
        assert_eq!(prop(&r, "size"), prop(&listed, "size"));
        assert_eq!(prop(&r, "uid"), prop(&uid, "uid"));
    }

    // After DELE, and again after RSET, the next batch asks the server again.
    let stop = record_commands();
    wait(s.dele(1)).await.unwrap();
    assert_eq!(headers_of(&s, &[2]).await.length(), 1);
    wait(s.rset()).await.unwrap();
    wait(s.download(vec![3], options(&[]))).await.unwrap();
    assert_listings(&stop.call0(&JsValue::NULL).unwrap(), (2, 1));
    // Nothing is deleted: this mailbox serves the other tests.
    s.close();
}

#[wasm_bindgen_test]
async fn a_message_past_stream_over_comes_in_pieces_that_join_to_its_bytes_with_their_checksum() {
    let e = env();
    let s = pop3_web::connect(login(&e, "web", "pw-web", e.tls_port, "tls"))
        .await
        .unwrap();
    // The mailbox's smallest and biggest messages; the threshold lies between them.
    let mut all = Vec::new();
    for m in 1..=e.count {
        all.push((m, Uint8Array::new(&wait(s.retr(m)).await.unwrap()).to_vec()));
    }
    all.sort_by_key(|(_, b)| b.len());
    let (small, big) = (all[0].clone(), all[all.len() - 1].clone());
    assert!(
        small.1.len() < big.1.len(),
        "the mailbox's messages differ in size"
    );
    let over = small.1.len() as u32;

    type Seen = Vec<(u32, Option<Vec<u8>>, JsValue)>;
    let pieces = std::rc::Rc::new(std::cell::RefCell::new(Vec::<(u32, Vec<u8>)>::new()));
    let ends = std::rc::Rc::new(std::cell::RefCell::new(Seen::new()));
    let (p, m) = (pieces.clone(), ends.clone());
    let on_chunk = wasm_bindgen::closure::Closure::<dyn FnMut(u32, Uint8Array)>::new(
        move |msg: u32, b: Uint8Array| p.borrow_mut().push((msg, b.to_vec())),
    );
    let on_message = wasm_bindgen::closure::Closure::<dyn FnMut(u32, JsValue, JsValue)>::new(
        move |msg: u32, b: JsValue, info: JsValue| {
            let bytes = (!b.is_null()).then(|| Uint8Array::new(&b).to_vec());
            m.borrow_mut().push((msg, bytes, info));
        },
    );
    let opts = options(&[
        ("onMessage", on_message.as_ref().clone()),
        ("onChunk", on_chunk.as_ref().clone()),
        ("streamOver", over.into()),
    ]);
    let got = wait(s.download(vec![big.0, small.0], opts)).await.unwrap();
    assert_eq!(
        prop(&got, "bytes").as_f64(),
        Some((big.1.len() + small.1.len()) as f64),
        "the batch counts a streamed message's bytes too"
    );
    let ends = ends.take();
    assert_eq!(ends.len(), 2, "onMessage once per message");
    // The big one: pieces only, joined they are its bytes, and its checksum is theirs.
    let (msg, bytes, info) = &ends[0];
    assert_eq!(
        (*msg, bytes.is_none()),
        (big.0, true),
        "no whole bytes for a streamed message"
    );
    let pieces = pieces.take();
    // (Here it may all arrive in one read: one piece, past the threshold.)
    assert!(!pieces.is_empty(), "handed over in pieces");
    assert!(
        pieces.iter().all(|(m, _)| *m == big.0),
        "only the big message streams"
    );
    assert!(pieces[0].1.len() > over as usize);
    let joined: Vec<u8> = pieces.iter().flat_map(|(_, b)| b.clone()).collect();
    assert_eq!(joined, big.1, "the pieces join to the message's bytes");
    assert_eq!(prop(info, "size").as_f64(), Some(big.1.len() as f64));
    assert_eq!(
        prop(info, "sha256").as_string(),
        Some(pop3_web::sha256_hex(&big.1))
    );
    // The small one comes whole, as without streaming.
    assert_eq!(ends[1].0, small.0);
    assert_eq!(ends[1].1.as_deref(), Some(small.1.as_slice()));
    s.close();
}
