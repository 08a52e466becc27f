//! Runs the wasm client's browser tests (client-wasm/pop3-web/tests/web.rs) in headless Chromium through
//! wasm-bindgen-test-runner, against a real bridge (in this process) and a real Dovecot.

use e2e::loopback::LoopbackOnly;
use e2e::wasm_tests::{self, Driver};
use e2e::{Dovecot, DovecotOptions, Mailbox};
use pop3_bridge::{Bridge, Config};
use std::sync::Arc;
use tokio::net::TcpListener;

const COUNT: usize = 30;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wasm_client_passes_its_browser_tests_against_bridge_and_dovecot() {
    let d = Dovecot::start(
        DovecotOptions::new()
            .user("web", "pw-web", Mailbox::new(COUNT))
            .user("del", "pw-del", Mailbox::new(5)),
    )
    .expect("dovecot starts");
    let mut digest = 0xcbf29ce484222325u64;
    for i in 0..COUNT {
        for b in d.expected_bytes("web", i) {
            digest = (digest ^ u64::from(b)).wrapping_mul(0x100000001b3);
        }
    }

    // The test page's origin must be allowed by the bridge, so pin the runner's address.
    let page = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let page_addr = page.local_addr().unwrap();
    drop(page);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let bridge_addr = listener.local_addr().unwrap();
    let config = Config {
        listen: bridge_addr,
        allow_hosts: vec!["localhost".into(), "127.0.0.1".into()],
        allow_ports: vec![d.plain_port(), d.tls_port()],
        extra_ca: vec![d.ca_pem_path().to_path_buf()],
        origins: vec![format!("http://{page_addr}")],
        ..Config::default()
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    // The browser tests name a private address the policy must refuse: whatever the policy
    // says, this bridge dials only Dovecot on loopback.
    let dialer = Arc::new(LoopbackOnly::new(vec![d.plain_port(), d.tls_port()]));
    let bridge = tokio::spawn(Bridge::new(config).with_connector(dialer.clone()).run(
        listener,
        async {
            let _ = stopped.await;
        },
    ));

    let (tls_port, plain_port) = (d.tls_port(), d.plain_port());
    let env = vec![
        ("WASM_BINDGEN_TEST_ADDRESS", page_addr.to_string()),
        ("POP3_TEST_BRIDGE", format!("ws://{bridge_addr}/pop3")),
        ("POP3_TEST_TLS_PORT", tls_port.to_string()),
        ("POP3_TEST_PLAIN_PORT", plain_port.to_string()),
        ("POP3_TEST_DIGEST", format!("{digest:016x}")),
        ("POP3_TEST_COUNT", COUNT.to_string()),
    ];
    let passed =
        tokio::task::spawn_blocking(move || wasm_tests::run("web", Driver::Chromium, &env))
            .await
            .unwrap();
    let _ = stop.send(());
    let _ = bridge.await;
    assert!(passed, "the browser tests failed (see their output above)");
    let dials = dialer.dialled();
    assert!(
        dials.iter().all(|a| a.ip().is_loopback()),
        "the bridge tried to dial {dials:?}"
    );
    // deletion_happens_at_quit marked 1, undid it, marked 2 and quit: exactly message 2 is
    // gone, and 1, 3, 4 and 5 remain (which ones, not only how many).
    assert_eq!(
        d.remaining_messages("del").unwrap(),
        [1, 3, 4, 5],
        "the messages left on the server"
    );
}
