//! Proves the test harness itself works, talking raw POP3 over tokio TCP/TLS (no POP3 library):
//! real Dovecot greets, logs in with every mechanism, reports the written messages and serves
//! byte-exact content; the TLS port verifies against the test CA; the delay proxy delays without
//! altering bytes.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use e2e::certs::Validity;
use e2e::maildir::{Folder, LineEnding};
use e2e::{DelayProxy, Dovecot, DovecotOptions, Mailbox};
use md5::{Digest, Md5};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::pki_types::ServerName;

const TIMEOUT: Duration = Duration::from_secs(20);

/// A raw line-oriented POP3 connection.
struct Raw<S> {
    io: BufReader<S>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Raw<S> {
    fn new(s: S) -> Self {
        Raw {
            io: BufReader::new(s),
        }
    }

    async fn line(&mut self) -> String {
        let mut buf = Vec::new();
        let n = tokio::time::timeout(TIMEOUT, self.io.read_until(b'\n', &mut buf))
            .await
            .expect("timed out reading a line")
            .expect("read error");
        assert!(n > 0, "unexpected EOF");
        assert!(buf.ends_with(b"\r\n"), "line not CRLF-terminated: {buf:?}");
        buf.truncate(buf.len() - 2);
        String::from_utf8(buf).expect("UTF-8 line")
    }

    async fn send(&mut self, cmd: &str) {
        self.io
            .get_mut()
            .write_all(format!("{cmd}\r\n").as_bytes())
            .await
            .expect("write");
        self.io.get_mut().flush().await.expect("flush");
    }

    async fn cmd(&mut self, cmd: &str) -> String {
        self.send(cmd).await;
        self.line().await
    }

    async fn ok(&mut self, cmd: &str) -> String {
        let r = self.cmd(cmd).await;
        assert!(r.starts_with("+OK"), "{cmd:?} -> {r:?}");
        r
    }

    /// Reads a multi-line body up to the `.` line and removes dot-stuffing; returns raw bytes
    /// with CRLF line endings.
    async fn multiline(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        loop {
            let mut buf = Vec::new();
            let n = tokio::time::timeout(TIMEOUT, self.io.read_until(b'\n', &mut buf))
                .await
                .expect("timed out in multi-line response")
                .expect("read error");
            assert!(n > 0, "EOF inside multi-line response");
            if buf == b".\r\n" {
                return out;
            }
            let start = usize::from(buf.starts_with(b"."));
            out.extend_from_slice(&buf[start..]);
        }
    }

    fn into_inner(self) -> S {
        self.io.into_inner()
    }
}

async fn connect(addr: SocketAddr) -> Raw<TcpStream> {
    let s = tokio::time::timeout(TIMEOUT, TcpStream::connect(addr))
        .await
        .expect("connect timed out")
        .expect("connect");
    Raw::new(s)
}

async fn login(d: &Dovecot, user: &str) -> Raw<TcpStream> {
    let mut c = connect(d.plain_addr()).await;
    let greeting = c.line().await;
    assert!(greeting.starts_with("+OK"), "{greeting}");
    let u = d.user(user);
    c.ok(&format!("USER {}", u.name)).await;
    c.ok(&format!("PASS {}", u.password)).await;
    c
}

fn opts_alice(n: usize) -> DovecotOptions {
    DovecotOptions::new().user("alice", "alice-secret", Mailbox::new(n))
}

#[tokio::test]
async fn greeting_user_pass_capa_stat() {
    let d = Dovecot::start_async(opts_alice(7))
        .await
        .expect("dovecot starts");
    assert_eq!(d.host(), "127.0.0.1");
    assert_eq!(d.message_count("alice"), 7);

    let mut c = connect(d.plain_addr()).await;
    let greeting = c.line().await;
    assert!(greeting.starts_with("+OK"), "{greeting}");
    // APOP is enabled: the greeting carries a timestamp.
    assert!(
        greeting.contains('<') && greeting.ends_with('>'),
        "{greeting}"
    );

    c.ok("CAPA").await;
    let capa = String::from_utf8(c.multiline().await).unwrap();
    let caps: Vec<&str> = capa.lines().collect();
    for want in ["STLS", "PIPELINING", "UIDL", "TOP", "USER", "RESP-CODES"] {
        assert!(caps.contains(&want), "CAPA lacks {want}: {caps:?}");
    }
    let sasl = caps
        .iter()
        .find(|l| l.starts_with("SASL "))
        .expect("SASL capability");
    for mech in [
        "PLAIN",
        "LOGIN",
        "CRAM-MD5",
        "SCRAM-SHA-1",
        "SCRAM-SHA-256",
        "OAUTHBEARER",
        "XOAUTH2",
    ] {
        assert!(
            sasl.split(' ').any(|m| m == mech),
            "SASL lacks {mech}: {sasl}"
        );
    }

    c.ok("USER alice").await;
    c.ok("PASS alice-secret").await;
    let stat = c.ok("STAT").await;
    let total = d.user("alice").mailbox.total_octets();
    assert_eq!(stat, format!("+OK 7 {total}"));
    c.ok("QUIT").await;
}

/// The harness turns Dovecot's authentication failure delay off (2 s by default), or every
/// test of a refused login would wait for it: a wrong password is refused at once.
#[tokio::test]
async fn wrong_password_is_refused_without_the_failure_delay() {
    let d = Dovecot::start_async(opts_alice(1)).await.unwrap();
    let mut c = connect(d.plain_addr()).await;
    c.line().await;
    c.ok("USER alice").await;
    let t = Instant::now();
    let r = c.cmd("PASS wrong").await;
    assert!(r.starts_with("-ERR"), "{r}");
    assert!(
        t.elapsed() < Duration::from_millis(1800),
        "failure delay should be off"
    );
}

#[tokio::test]
async fn retr_is_byte_exact_with_edge_cases_and_order() {
    let mailbox = Mailbox::new(6)
        .edge_cases(true)
        .seed(42)
        .raw_message(b"Subject: tiny\n\n.\n".to_vec())
        .raw_message(b"Subject: crlf\r\n\r\n..\r\n+OK\r\n".to_vec());
    let d = Dovecot::start_async(DovecotOptions::new().user("bob", "pw-bob", mailbox))
        .await
        .unwrap();
    let n = d.message_count("bob");
    assert_eq!(n, 8);
    let mut c = login(&d, "bob").await;
    c.ok("LIST").await;
    let list = String::from_utf8(c.multiline().await).unwrap();
    for (i, line) in list.lines().enumerate() {
        assert_eq!(
            line,
            format!("{} {}", i + 1, d.user("bob").mailbox.octets(i))
        );
    }
    c.ok("UIDL").await;
    let uidl = String::from_utf8(c.multiline().await).unwrap();
    assert_eq!(uidl.lines().count(), n);
    for line in uidl.lines() {
        let uid = line.split(' ').nth(1).unwrap();
        assert_eq!(uid.len(), 16, "uidl format %08Xu%08Xv: {line}");
    }
    for i in 0..n {
        let r = c.ok(&format!("RETR {}", i + 1)).await;
        let body = c.multiline().await;
        let want = d.expected_bytes("bob", i);
        assert_eq!(
            String::from_utf8_lossy(&body),
            String::from_utf8_lossy(&want),
            "message {} ({r})",
            i + 1
        );
    }
    c.ok("QUIT").await;
}

#[tokio::test]
async fn cur_folder_and_crlf_files() {
    let mb = Mailbox::new(3)
        .folder(Folder::Cur)
        .line_ending(LineEnding::Crlf)
        .size(1000);
    let d = Dovecot::start_async(DovecotOptions::new().user("carol", "pw", mb).oauth2(false))
        .await
        .unwrap();
    let mut c = login(&d, "carol").await;
    assert_eq!(
        c.ok("STAT").await,
        format!("+OK 3 {}", d.user("carol").mailbox.total_octets())
    );
    for i in 0..3 {
        c.ok(&format!("RETR {}", i + 1)).await;
        assert_eq!(c.multiline().await, d.expected_bytes("carol", i));
    }
}

#[tokio::test]
async fn a_thousand_message_mailbox_is_listed_and_served_byte_exact() {
    let d = Dovecot::start_async(DovecotOptions::new().user("bench", "pw", Mailbox::new(1000)))
        .await
        .unwrap();
    let mut c = login(&d, "bench").await;
    let stat = c.ok("STAT").await;
    assert!(stat.starts_with("+OK 1000 "), "{stat}");
    for i in [0usize, 499, 999] {
        c.ok(&format!("RETR {}", i + 1)).await;
        assert_eq!(
            c.multiline().await,
            d.expected_bytes("bench", i),
            "message {}",
            i + 1
        );
    }
}

#[tokio::test]
async fn sasl_mechanisms_and_apop() {
    let d = Dovecot::start_async(opts_alice(2)).await.unwrap();

    // APOP.
    let mut c = connect(d.plain_addr()).await;
    let greeting = c.line().await;
    let ts = &greeting[greeting.find('<').unwrap()..];
    let digest = Md5::digest(format!("{ts}alice-secret").as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    c.ok(&format!("APOP alice {hex}")).await;
    c.ok("STAT").await;

    // AUTH PLAIN with initial response.
    let mut c = connect(d.plain_addr()).await;
    c.line().await;
    let ir = B64.encode(b"\0alice\0alice-secret");
    c.ok(&format!("AUTH PLAIN {ir}")).await;

    // AUTH XOAUTH2 and OAUTHBEARER against the local introspection server.
    let token = d.user("alice").oauth_token.clone();
    let mut c = connect(d.plain_addr()).await;
    c.line().await;
    let ir = B64.encode(format!("user=alice\x01auth=Bearer {token}\x01\x01"));
    c.ok(&format!("AUTH XOAUTH2 {ir}")).await;
    c.ok("STAT").await;

    let mut c = connect(d.plain_addr()).await;
    c.line().await;
    let ir = B64.encode(format!("n,a=alice,\x01auth=Bearer {token}\x01\x01"));
    c.ok(&format!("AUTH OAUTHBEARER {ir}")).await;

    // A bad token fails.
    let mut c = connect(d.plain_addr()).await;
    c.line().await;
    let ir = B64.encode("user=alice\x01auth=Bearer nope\x01\x01");
    let r = c.cmd(&format!("AUTH XOAUTH2 {ir}")).await;
    if r.starts_with('+') && !r.starts_with("+OK") {
        // XOAUTH2 sends an error challenge first; answer with an empty line.
        let r = c.cmd("").await;
        assert!(r.starts_with("-ERR"), "{r}");
    } else {
        assert!(r.starts_with("-ERR"), "{r}");
    }
}

async fn tls_connect(
    d: &Dovecot,
    tcp: TcpStream,
    name: &str,
) -> std::io::Result<tokio_rustls::client::TlsStream<TcpStream>> {
    let connector = TlsConnector::from(d.rustls_client_config());
    let name = ServerName::try_from(name.to_owned()).unwrap();
    tokio::time::timeout(TIMEOUT, connector.connect(name, tcp))
        .await
        .expect("TLS handshake timed out")
}

#[tokio::test]
async fn implicit_tls_port_verifies_against_ca() {
    let d = Dovecot::start_async(opts_alice(3)).await.unwrap();
    assert!(
        std::fs::read_to_string(d.ca_pem_path())
            .unwrap()
            .contains("BEGIN CERTIFICATE")
    );
    let tcp = TcpStream::connect(d.tls_addr()).await.unwrap();
    let tls = tls_connect(&d, tcp, "localhost").await.expect("handshake");
    let mut c = Raw::new(tls);
    assert!(c.line().await.starts_with("+OK"));
    c.ok("USER alice").await;
    c.ok("PASS alice-secret").await;
    assert!(c.ok("STAT").await.starts_with("+OK 3 "));
    // The IP SAN works too.
    let tcp = TcpStream::connect(d.tls_addr()).await.unwrap();
    tls_connect(&d, tcp, "127.0.0.1").await.expect("IP SAN");
    // A name not in the certificate is refused.
    let tcp = TcpStream::connect(d.tls_addr()).await.unwrap();
    assert!(tls_connect(&d, tcp, "example.test").await.is_err());
}

#[tokio::test]
async fn stls_upgrade_on_plain_port() {
    let d = Dovecot::start_async(opts_alice(1)).await.unwrap();
    let mut c = connect(d.plain_addr()).await;
    c.line().await;
    c.ok("STLS").await;
    let tcp = c.into_inner();
    let tls = tls_connect(&d, tcp, "localhost")
        .await
        .expect("STLS handshake");
    let mut c = Raw::new(tls);
    c.ok("USER alice").await;
    c.ok("PASS alice-secret").await;
    c.ok("STAT").await;
}

#[tokio::test]
async fn expired_certificate_from_same_ca_is_rejected() {
    let ca = Arc::new(e2e::TestCa::new().unwrap());
    let cert = ca
        .issue(&["localhost", "127.0.0.1"], Validity::Expired)
        .unwrap();
    let d = Dovecot::start_async(opts_alice(0).ca(ca).server_cert(cert).oauth2(false))
        .await
        .unwrap();
    let tcp = TcpStream::connect(d.tls_addr()).await.unwrap();
    let err = tls_connect(&d, tcp, "localhost")
        .await
        .expect_err("expired");
    assert!(err.to_string().to_lowercase().contains("expired"), "{err}");
}

#[tokio::test]
async fn parallel_instances_are_isolated() {
    let (a, b) = tokio::join!(
        Dovecot::start_async(opts_alice(2)),
        Dovecot::start_async(opts_alice(5))
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_ne!(a.plain_port(), b.plain_port());
    assert_ne!(a.dir(), b.dir());
    assert!(
        login(&a, "alice")
            .await
            .ok("STAT")
            .await
            .starts_with("+OK 2 ")
    );
    assert!(
        login(&b, "alice")
            .await
            .ok("STAT")
            .await
            .starts_with("+OK 5 ")
    );
    let dir = a.dir().to_owned();
    drop(a);
    assert!(!dir.exists(), "temp dir removed on drop");
}

/// An echo server for the proxy tests.
async fn echo_server() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            tokio::spawn(async move {
                let (mut r, mut w) = s.split();
                let _ = tokio::io::copy(&mut r, &mut w).await;
            });
        }
    });
    addr
}

#[tokio::test]
async fn delay_proxy_round_trip_and_bytes() {
    let echo = echo_server().await;
    let delay = Duration::from_millis(25);
    let proxy = DelayProxy::start_local(echo, delay).unwrap();
    let mut s = TcpStream::connect(proxy.local_addr()).await.unwrap();
    s.set_nodelay(true).unwrap();

    // One small round trip costs at least 2 × delay.
    let t = Instant::now();
    s.write_all(b"ping\r\n").await.unwrap();
    let mut buf = [0u8; 6];
    s.read_exact(&mut buf).await.unwrap();
    let rtt = t.elapsed();
    assert_eq!(&buf, b"ping\r\n");
    assert!(rtt >= 2 * delay, "rtt {rtt:?}");
    assert!(rtt < 2 * delay + Duration::from_secs(2), "rtt {rtt:?}");
    assert_eq!(proxy.connections(), 1);
}

#[tokio::test]
async fn delay_proxy_does_not_limit_throughput() {
    // With 200 ms each way, stop-and-wait forwarding of 4 MiB in 64 KiB reads would need at
    // least 64 round trips (25 s); a pipe that keeps reading while data is in flight needs about
    // one round trip plus the copying. The bytes must come back unchanged.
    let echo = echo_server().await;
    let delay = Duration::from_millis(200);
    let proxy = DelayProxy::start_local(echo, delay).unwrap();
    let s = TcpStream::connect(proxy.local_addr()).await.unwrap();
    let data: Vec<u8> = (0..4u32 << 20)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    let (mut r, mut w) = s.into_split();
    let t = Instant::now();
    let expected = data.clone();
    let writer = tokio::spawn(async move {
        for chunk in data.chunks(1000) {
            w.write_all(chunk).await.unwrap();
        }
        w.shutdown().await.unwrap();
    });
    let mut got = Vec::new();
    tokio::time::timeout(TIMEOUT, r.read_to_end(&mut got))
        .await
        .unwrap()
        .unwrap();
    writer.await.unwrap();
    let took = t.elapsed();
    assert_eq!(got.len(), expected.len());
    assert!(got == expected, "bytes changed");
    assert!(took >= 2 * delay, "{took:?}");
    assert!(
        took < Duration::from_secs(10),
        "throughput limited: {took:?}"
    );
}

#[tokio::test]
async fn pop3_through_delay_proxy() {
    let d = Dovecot::start_async(opts_alice(2)).await.unwrap();
    let delay = Duration::from_millis(25);
    let proxy = DelayProxy::start_local(d.plain_addr(), delay).unwrap();
    let mut c = connect(proxy.local_addr()).await;
    assert!(c.line().await.starts_with("+OK"));
    let t = Instant::now();
    c.ok("USER alice").await;
    assert!(t.elapsed() >= 2 * delay);
    c.ok("PASS alice-secret").await;
    c.ok("RETR 2").await;
    assert_eq!(c.multiline().await, d.expected_bytes("alice", 1));
    c.ok("QUIT").await;
    // Server closes after QUIT; the proxy propagates the close.
    let mut rest = Vec::new();
    let n = tokio::time::timeout(TIMEOUT, c.into_inner().read_to_end(&mut rest))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(n, 0);
}
