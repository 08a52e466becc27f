//! TLS that ends in the browser: the JS API through the bridge's relay (`endToEnd`), in a
//! real headless browser (Chromium and Firefox), to a real Dovecot and to servers with broken
//! certificates or a lying STLS answer.
//!
//! Run by `tests/tests/end_to_end_browsers.rs`, which starts Dovecot, the fake servers and a
//! bridge that itself trusts Dovecot's CA (so `"prefer"` gets the bridge's TLS there, and
//! `require` proves the bridge's trust does not count), and passes their addresses at compile
//! time (`option_env!`). The TLS module (`pop3-tls-web`) is linked into this test and
//! installed as the loader web/pop3.js installs in a page.
#![cfg(target_arch = "wasm32")]

use js_sys::{Promise, Reflect, Uint8Array};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

struct Env {
    bridge: &'static str,
    ca_pem: &'static str,
    tls_port: u16,
    plain_port: u16,
    dovecot_pin: &'static str,
    expired_port: u16,
    wrong_name_port: u16,
    unknown_ca_port: u16,
    injection_port: u16,
    first_message_len: u32,
    old_bridge: &'static str,
    /// The access token the old bridge records (and the host test checks).
    old_bridge_token: &'static str,
}

fn port(v: &str) -> u16 {
    v.parse().expect("a port number")
}

fn env() -> Env {
    let (
        Some(bridge),
        Some(ca_pem),
        Some(tls),
        Some(plain),
        Some(pin),
        Some(expired),
        Some(wrong_name),
        Some(unknown_ca),
        Some(injection),
        Some(first_len),
        Some(old_bridge),
        Some(old_bridge_token),
    ) = (
        option_env!("POP3_E2E_BRIDGE"),
        option_env!("POP3_E2E_CA_PEM"),
        option_env!("POP3_E2E_TLS_PORT"),
        option_env!("POP3_E2E_PLAIN_PORT"),
        option_env!("POP3_E2E_DOVECOT_PIN"),
        option_env!("POP3_E2E_EXPIRED_PORT"),
        option_env!("POP3_E2E_WRONG_NAME_PORT"),
        option_env!("POP3_E2E_UNKNOWN_CA_PORT"),
        option_env!("POP3_E2E_INJECTION_PORT"),
        option_env!("POP3_E2E_FIRST_MESSAGE_LEN"),
        option_env!("POP3_E2E_OLD_BRIDGE"),
        option_env!("POP3_E2E_OLD_BRIDGE_TOKEN"),
    )
    else {
        panic!("run through tests/tests/end_to_end_browsers.rs, which starts the servers")
    };
    Env {
        bridge,
        ca_pem,
        tls_port: port(tls),
        plain_port: port(plain),
        dovecot_pin: pin,
        expired_port: port(expired),
        wrong_name_port: port(wrong_name),
        unknown_ca_port: port(unknown_ca),
        injection_port: port(injection),
        first_message_len: first_len.parse().expect("a length"),
        old_bridge,
        old_bridge_token,
    }
}

/// The engine factory of the TLS module linked into this test.
fn factory() -> JsValue {
    Closure::<dyn Fn(String, JsValue) -> Result<JsValue, JsValue>>::new(
        |name: String, trust: JsValue| pop3_tls_web::TlsClient::new(name, trust).map(JsValue::from),
    )
    .into_js_value()
}

// The loader web/pop3.js installs in a page, with the page's parts swapped for this test's:
// web/tls-worker.js itself (its text, compiled in) runs in the worker, importing the TLS
// module's exports from this test's own module (it links pop3-tls-web), which it is given
// compiled. A worker script that cannot start stands for one a Content Security Policy blocks.
#[wasm_bindgen(inline_js = "
export function workerLoader(source, factory, module) {
  const url = URL.createObjectURL(new Blob([source], { type: 'text/javascript' }));
  const worker = () => new Worker(url, { type: 'module' });
  return () => Promise.resolve({ worker, inThread: () => Promise.resolve(factory), module });
}
export function testModuleUrl() { return new URL('/wasm-bindgen-test.js', location.href).href; }
")]
extern "C" {
    #[wasm_bindgen(js_name = workerLoader)]
    fn worker_loader(source: &str, factory: JsValue, module: JsValue) -> JsValue;
    #[wasm_bindgen(js_name = testModuleUrl)]
    fn test_module_url() -> String;
}

fn install(loader: &JsValue) {
    Reflect::set(
        &js_sys::global(),
        &js_sys::Symbol::for_("pop3-web.tls"),
        loader,
    )
    .unwrap();
}

/// What web/pop3.js installs in a browser: a worker per connection runs the engine.
fn install_tls_module() {
    const WORKER: &str = include_str!("../../../web/tls-worker.js");
    const GLUE: &str = "'./pkg/pop3_tls_web.js'";
    assert!(WORKER.contains(GLUE), "web/tls-worker.js imports {GLUE}");
    let source = WORKER.replace(GLUE, &format!("'{}'", test_module_url()));
    install(&worker_loader(&source, factory(), wasm_bindgen::module()));
}

/// What web/pop3.js installs where there is no worker (Node, Deno, workerd): the factory.
fn install_tls_module_without_worker() {
    let factory = factory();
    install(
        &Closure::<dyn Fn() -> Promise>::new(move || Promise::resolve(&factory)).into_js_value(),
    );
}

/// A worker that cannot start (as a CSP without 'self' for workers makes it).
fn install_tls_module_with_a_failing_worker() {
    let source = "throw new Error('this worker cannot start');";
    install(&worker_loader(source, factory(), wasm_bindgen::module()));
}

fn object(pairs: &[(&str, JsValue)]) -> JsValue {
    let o = js_sys::Object::new();
    for (k, v) in pairs {
        Reflect::set(&o, &(*k).into(), v).unwrap();
    }
    o.into()
}

fn strings(items: &[&str]) -> JsValue {
    items
        .iter()
        .map(|s| JsValue::from_str(s))
        .collect::<js_sys::Array>()
        .into()
}

/// Options for `port` with `security`, TLS ending in the browser (`endToEnd: true`), and
/// `trust` as `tlsTrust`.
fn options(e: &Env, port: u16, security: &str, trust: JsValue) -> JsValue {
    object(&[
        ("bridgeUrl", e.bridge.into()),
        ("host", "localhost".into()),
        ("port", port.into()),
        ("security", security.into()),
        ("user", "web".into()),
        ("password", "pw-web".into()),
        ("endToEnd", JsValue::TRUE),
        ("tlsTrust", trust),
        ("timeoutMs", 20_000u32.into()),
    ])
}

fn trusting_the_ca(e: &Env) -> JsValue {
    object(&[("cas", strings(&[e.ca_pem]))])
}

fn prop(v: &JsValue, k: &str) -> JsValue {
    Reflect::get(v, &k.into()).unwrap()
}

async fn error_code(options: JsValue) -> String {
    install_tls_module();
    match pop3_web::connect(options).await {
        Ok(_) => panic!("connected, but an error was expected"),
        Err(e) => prop(&e, "code").as_string().unwrap_or_default(),
    }
}

#[wasm_bindgen_test]
async fn implicit_tls_ends_in_the_browser_and_reads_mail() {
    let e = env();
    install_tls_module();
    let s = pop3_web::connect(options(&e, e.tls_port, "tls", trusting_the_ca(&e)))
        .await
        .unwrap();
    assert!(s.end_to_end(), "TLS ends in this client");
    let tls = s.tls();
    assert_eq!(prop(&tls, "verified"), JsValue::TRUE);
    assert_eq!(
        prop(&tls, "serverName").as_string().as_deref(),
        Some("localhost")
    );
    assert!(
        prop(&tls, "version")
            .as_string()
            .unwrap()
            .starts_with("TLSv1.")
    );
    assert!(!prop(&tls, "subject").as_string().unwrap().is_empty());
    assert_eq!(
        prop(&tls, "engine").as_string().as_deref(),
        Some("worker"),
        "a browser runs the TLS engine in a worker"
    );
    // The client offers ChaCha20-Poly1305 first and Dovecot follows: every record of this
    // session went through pop3-tls-chacha's wasm SIMD code, the handshake's too.
    assert_eq!(
        prop(&tls, "cipher").as_string().as_deref(),
        Some("TLS13_CHACHA20_POLY1305_SHA256")
    );
    let body = Uint8Array::new(&JsFuture::from(s.retr(1)).await.unwrap()).to_vec();
    assert_eq!(body.len() as u32, e.first_message_len);
    let q = JsFuture::from(s.quit()).await.unwrap();
    assert_eq!(prop(&q, "committed"), JsValue::TRUE);
}

#[wasm_bindgen_test]
async fn stls_is_sent_by_the_browser_and_tls_ends_there() {
    let e = env();
    install_tls_module();
    let s = pop3_web::connect(options(&e, e.plain_port, "stls", trusting_the_ca(&e)))
        .await
        .unwrap();
    assert!(s.end_to_end());
    assert!(!s.insecure());
    assert_eq!(prop(&s.tls(), "verified"), JsValue::TRUE);
    let stat = JsFuture::from(s.stat()).await.unwrap();
    assert!(prop(&stat, "count").as_f64().unwrap() >= 1.0);
    s.close();
}

#[wasm_bindgen_test]
async fn the_bridges_own_ca_is_no_trust_for_the_browser() {
    // The bridge trusts Dovecot's CA; TLS that ends here trusts only what the page gave.
    let e = env();
    let code = error_code(options(&e, e.tls_port, "tls", JsValue::UNDEFINED)).await;
    assert_eq!(code, "cert_unknown_issuer");
}

#[wasm_bindgen_test]
async fn prefer_takes_the_bridges_tls_where_the_operator_set_up_trust() {
    let e = env();
    install_tls_module();
    let o = options(&e, e.tls_port, "tls", JsValue::UNDEFINED);
    Reflect::set(&o, &"endToEnd".into(), &"prefer".into()).unwrap();
    let s = pop3_web::connect(o).await.unwrap();
    assert!(
        !s.end_to_end(),
        "the bridge holds the trust for this server, so it does TLS"
    );
    assert_eq!(prop(&s.tls(), "verified"), JsValue::TRUE);
    s.close();
}

#[wasm_bindgen_test]
async fn a_pin_the_page_gave_accepts_a_certificate_no_root_vouches_for() {
    let e = env();
    install_tls_module();
    let trust = object(&[("pins", strings(&[e.dovecot_pin]))]);
    let s = pop3_web::connect(options(&e, e.tls_port, "tls", trust))
        .await
        .unwrap();
    let tls = s.tls();
    assert_eq!(prop(&tls, "pinMatched"), JsValue::TRUE);
    assert_eq!(prop(&tls, "verified"), JsValue::FALSE);
    s.close();
}

#[wasm_bindgen_test]
async fn an_expired_certificate_is_refused_in_the_browser() {
    let e = env();
    let code = error_code(options(&e, e.expired_port, "tls", trusting_the_ca(&e))).await;
    assert_eq!(code, "cert_expired");
}

#[wasm_bindgen_test]
async fn a_certificate_for_another_name_is_refused_in_the_browser() {
    let e = env();
    let code = error_code(options(&e, e.wrong_name_port, "tls", trusting_the_ca(&e))).await;
    assert_eq!(code, "cert_name_mismatch");
}

#[wasm_bindgen_test]
async fn a_certificate_from_an_unknown_ca_is_refused_in_the_browser() {
    let e = env();
    let code = error_code(options(&e, e.unknown_ca_port, "tls", trusting_the_ca(&e))).await;
    assert_eq!(code, "cert_unknown_issuer");
}

#[wasm_bindgen_test]
async fn a_wrong_pin_refuses_a_certificate_whose_chain_verifies() {
    let e = env();
    let trust = trusting_the_ca(&e);
    Reflect::set(&trust, &"pins".into(), &strings(&[&"ab".repeat(32)])).unwrap();
    let code = error_code(options(&e, e.tls_port, "tls", trust)).await;
    assert_eq!(code, "cert_invalid");
}

#[wasm_bindgen_test]
async fn bytes_injected_after_the_stls_answer_end_the_session() {
    let e = env();
    let code = error_code(options(&e, e.injection_port, "stls", trusting_the_ca(&e))).await;
    assert_eq!(code, "stls_injection");
}

#[wasm_bindgen_test]
async fn prefer_asks_an_older_bridge_again_without_end_to_end() {
    let e = env();
    install_tls_module();
    let o = options(&e, e.tls_port, "tls", JsValue::UNDEFINED);
    Reflect::set(&o, &"bridgeUrl".into(), &e.old_bridge.into()).unwrap();
    Reflect::set(&o, &"token".into(), &e.old_bridge_token.into()).unwrap();
    Reflect::set(&o, &"endToEnd".into(), &"prefer".into()).unwrap();
    let s = pop3_web::connect(o).await.unwrap();
    assert!(!s.end_to_end(), "the old bridge did TLS itself");
    let stat = JsFuture::from(s.stat()).await.unwrap();
    assert!(prop(&stat, "count").as_f64().unwrap() >= 1.0);
    s.close();
}

#[wasm_bindgen_test]
async fn require_does_not_fall_back_on_an_older_bridge() {
    let e = env();
    let o = options(&e, e.tls_port, "tls", trusting_the_ca(&e));
    Reflect::set(&o, &"bridgeUrl".into(), &e.old_bridge.into()).unwrap();
    Reflect::set(&o, &"token".into(), &e.old_bridge_token.into()).unwrap();
    assert_eq!(error_code(o).await, "bad_request");
}

/// Connects with implicit TLS ending here, reads the first message and quits; where the
/// engine ran (`session.tls.engine`).
async fn engine_that_read_mail(e: &Env) -> String {
    let s = pop3_web::connect(options(e, e.tls_port, "tls", trusting_the_ca(e)))
        .await
        .unwrap();
    let body = Uint8Array::new(&JsFuture::from(s.retr(1)).await.unwrap()).to_vec();
    assert_eq!(body.len() as u32, e.first_message_len);
    JsFuture::from(s.quit()).await.unwrap();
    prop(&s.tls(), "engine").as_string().unwrap_or_default()
}

#[wasm_bindgen_test]
async fn without_a_worker_the_engine_runs_on_the_page() {
    let e = env();
    install_tls_module_without_worker();
    assert_eq!(engine_that_read_mail(&e).await, "in-thread");
}

#[wasm_bindgen_test]
async fn a_worker_that_cannot_start_leaves_the_engine_on_the_page() {
    let e = env();
    install_tls_module_with_a_failing_worker();
    assert_eq!(engine_that_read_mail(&e).await, "in-thread");
}

#[wasm_bindgen_test]
async fn certificate_errors_come_through_the_page_engine_unchanged() {
    let e = env();
    install_tls_module_without_worker();
    let o = options(&e, e.expired_port, "tls", trusting_the_ca(&e));
    match pop3_web::connect(o).await {
        Ok(_) => panic!("connected to a server with an expired certificate"),
        Err(err) => assert_eq!(
            prop(&err, "code").as_string().as_deref(),
            Some("cert_expired")
        ),
    }
}
