//! The bridge host's own addresses are refused as targets, every interface's, also when the
//! bridge listens on all of them (0.0.0.0) and an allow-list entry opens their class; only an
//! entry for exactly that address opens one. The list is taken again at every reload.
//!
//! This needs an address on an interface that is not loopback. The test does not touch the
//! machine's own network: it runs itself again inside a new network namespace (`unshare -rn`:
//! a user namespace mapping us to root, and a network namespace with nothing in it) with a
//! veth pair carrying 10.77.0.0/24, so no packet can leave the machine. Without namespaces
//! (or `ip`) it is skipped with a printed reason.

mod common;

use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;

use common::*;
use serde_json::{Value, json};
use tokio::net::TcpSocket;

/// Set by `cargo xtask test`: a test that cannot run here fails instead of skipping.
const SKIP_NOTHING: &str = "POP3_TESTS_SKIP_NOTHING";
/// Set in the copy of this test that runs inside the namespace.
const INSIDE: &str = "POP3_BRIDGE_TEST_INSIDE_NETNS";
const NAME: &str = "own_interface_addresses_are_refused_on_a_wildcard_bind";
/// The namespace's network: loopback up, and a veth pair with an address of a private class
/// on one end (both ends stay in the namespace).
const SETUP: &str = "ip link set lo up && ip link add pb0 type veth peer name pb1 && ip addr add 10.77.0.1/24 dev pb0 && ip link set pb0 up && ip link set pb1 up";
const OWN: &str = "10.77.0.1";
/// Added to the interface while the bridge runs.
const LATER: &str = "10.77.0.9";

#[test]
fn own_interface_addresses_are_refused_on_a_wildcard_bind() {
    if std::env::var_os(INSIDE).is_some() {
        return tokio::runtime::Runtime::new()
            .unwrap()
            .block_on(inside_the_namespace());
    }
    let probe = Command::new("unshare")
        .args(["-rn", "sh", "-c", SETUP])
        .output();
    let why = match probe {
        Ok(o) if o.status.success() => None,
        Ok(o) => Some(format!(
            "cannot set up a network namespace with `unshare -rn` ({}): {}",
            o.status,
            String::from_utf8_lossy(&o.stderr).trim()
        )),
        Err(e) => Some(format!("cannot run unshare: {e}")),
    };
    if let Some(why) = why {
        // Under `cargo xtask test` nothing may pass without running.
        assert!(
            std::env::var_os(SKIP_NOTHING).is_none(),
            "{why} ({SKIP_NOTHING} is set)"
        );
        println!("skipped: {why}");
        return;
    }
    let exe = std::env::current_exe().unwrap();
    let out = Command::new("unshare")
        .args(["-rn", "sh", "-c"])
        .arg(format!("{SETUP} && exec \"$0\" \"$@\""))
        .arg(exe)
        .args(["--exact", NAME, "--nocapture", "--test-threads=1"])
        .env(INSIDE, "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "inside the namespace: {}\n{stdout}\n{stderr}",
        out.status
    );
    // It ran (a filter that matched nothing would pass too).
    assert!(
        stdout.contains("checked inside the namespace"),
        "{stdout}\n{stderr}"
    );
}

fn plain(host: &str, port: u16) -> Value {
    json!({"host": host, "port": port, "security": "plain"})
}

/// A new session's answer: "ok" (after the greeting came through) or its error code and
/// technical detail.
async fn outcome(b: &TestBridge, req: Value) -> (String, String) {
    let (mut ws, ans) = session(b, req).await;
    if ans["ok"] == true {
        let greeting = read_n(&mut ws, b"+OK fake POP3 ready\r\n".len()).await;
        assert_eq!(greeting, b"+OK fake POP3 ready\r\n");
        return ("ok".into(), String::new());
    }
    (
        ans["error"]["code"].as_str().unwrap_or("").into(),
        ans["error"]["detail"].as_str().unwrap_or("").into(),
    )
}

async fn inside_the_namespace() {
    // A POP3 stand-in on every address of the namespace (it is the only thing listening).
    let up = {
        let l = TcpSocket::new_v4().unwrap();
        l.bind("0.0.0.0:0".parse().unwrap()).unwrap();
        l.listen(64).unwrap()
    };
    let port = up.local_addr().unwrap().port();
    tokio::spawn(async move {
        use tokio::io::AsyncWriteExt;
        while let Ok((mut s, _)) = up.accept().await {
            tokio::spawn(async move {
                let _ = s.write_all(b"+OK fake POP3 ready\r\n").await;
                let (mut r, mut w) = s.split();
                let _ = tokio::io::copy(&mut r, &mut w).await;
            });
        }
    });
    // The bridge on all addresses, with an entry that opens the whole private network.
    let listener = {
        let l = TcpSocket::new_v4().unwrap();
        l.bind("0.0.0.0:0".parse::<SocketAddr>().unwrap()).unwrap();
        l.listen(64).unwrap()
    };
    let mut c = test_config();
    c.listen = "0.0.0.0:0".parse().unwrap();
    // What a public bind needs: a TLS front (a proxy here, the test itself on loopback) and
    // no open relay (only the listed servers).
    c.behind_proxy = true;
    c.trusted_proxies = vec!["127.0.0.1".into()];
    c.servers_only = true;
    c.allow_hosts = vec!["10.77.0.0/24".into()];
    c.allow_ports = vec![port];
    c.allow_plaintext = true;
    c.limits.connect_timeout = Duration::from_secs(5);
    let b = TestBridge::start_on(listener, c.clone(), None, None).await;

    // The interface's address: refused as the bridge host's own, though 10.77.0.0/24 is
    // allowed and the bridge listens on 0.0.0.0 rather than on it.
    let (code, detail) = outcome(&b, plain(OWN, port)).await;
    assert_eq!(code, "target_refused", "{detail}");
    assert!(detail.contains("own"), "{detail}");

    // An address the interface gains later is refused from the next reload on.
    let added = Command::new("ip")
        .args(["addr", "add", &format!("{LATER}/24"), "dev", "pb0"])
        .status()
        .unwrap();
    assert!(added.success());
    assert_eq!(outcome(&b, plain(LATER, port)).await.0, "ok");
    b.reloader.reload(c.clone()).await.expect("reload");
    let (code, detail) = outcome(&b, plain(LATER, port)).await;
    assert_eq!(code, "target_refused", "{detail}");
    assert!(detail.contains("own"), "{detail}");

    // An entry for exactly the address opens it (a mail server on the bridge host).
    c.allow_hosts.push(OWN.into());
    b.reloader.reload(c).await.expect("reload");
    assert_eq!(outcome(&b, plain(OWN, port)).await.0, "ok");
    assert_eq!(outcome(&b, plain(LATER, port)).await.0, "target_refused");
    b.stop().await.unwrap();
    println!("checked inside the namespace");
}
