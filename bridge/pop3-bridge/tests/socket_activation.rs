//! Socket activation for real, with `systemd-socket-activate` (it needs no systemd as PID 1):
//! it binds the socket and starts the bridge only when the first connection arrives, passing
//! the listener by the `sd_listen_fds` protocol (`LISTEN_FDS`, `LISTEN_PID`, descriptor 3).
//! A connection made before the bridge process runs must be answered by it, on the inherited
//! socket, and a socket the bridge cannot serve must stop it with an explanation.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_pop3-bridge");
const ACTIVATE: &str = "/usr/bin/systemd-socket-activate";

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Kills the child when the test ends, however it ends.
struct Reap(Child);

impl Drop for Reap {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Connects once `systemd-socket-activate` listens (polling a bounded number of times; the
/// successful connect is the one that activates the bridge).
fn connect_when_listening(addr: SocketAddr, activator: &mut Child) -> TcpStream {
    for _ in 0..500 {
        if let Ok(s) = TcpStream::connect(addr) {
            return s;
        }
        if let Ok(Some(status)) = activator.try_wait() {
            panic!("systemd-socket-activate exited with {status} before listening");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("systemd-socket-activate never listened on {addr}");
}

#[test]
fn a_connection_made_before_the_bridge_runs_is_served_on_the_inherited_socket() {
    assert!(
        Path::new(ACTIVATE).exists(),
        "{ACTIVATE} is missing (Debian package systemd)"
    );
    let port = free_port();
    // A different --listen port: the bridge must not bind it when it is given a socket.
    let other = free_port();
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let mut activator = Reap(
        Command::new(ACTIVATE)
            .arg("-l")
            .arg(addr.to_string())
            .arg(BIN)
            .args(["--listen", &format!("127.0.0.1:{other}")])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut conn = connect_when_listening(addr, &mut activator.0);
    // The request is written before the bridge can have started: only the activator existed
    // when the connection was made, and it starts the bridge in reaction to it.
    let wrote =
        conn.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    // Against a hang if the bridge never accepts (the test then fails, it does not wait on).
    conn.set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let mut answer = String::new();
    let read = conn.read_to_string(&mut answer);
    if !answer.starts_with("HTTP/1.1 200") {
        // What the activator and the bridge said tells why (once, a CI run saw the
        // connection reset at the write, with nothing else to go on).
        let _ = activator.0.kill();
        let mut said = String::new();
        if let Some(mut e) = activator.0.stderr.take() {
            let _ = e.read_to_string(&mut said);
        }
        panic!(
            "no answer from the bridge on the inherited socket (write {wrote:?}, read \
             {read:?}): {answer:?}; the activator and the bridge said: {said}"
        );
    }
    // It serves on the inherited socket and did not bind its own `--listen`.
    assert!(
        TcpStream::connect(("127.0.0.1", other)).is_err(),
        "the bridge bound --listen although it was given a socket"
    );
    // The same bridge keeps serving later connections on that socket.
    let mut again = TcpStream::connect(addr).unwrap();
    again
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .unwrap();
    again
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let mut answer = String::new();
    let _ = again.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer:?}");
}

/// A UNIX socket is not something the bridge can serve: it exits with code 2 and says so,
/// rather than panicking or binding elsewhere.
#[test]
fn a_socket_that_is_not_tcp_is_refused_with_an_explanation() {
    let dir = std::env::temp_dir().join(format!("pop3-bridge-activation-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("bridge.sock");
    let other = free_port();
    let activator = Command::new(ACTIVATE)
        .arg("-l")
        .arg(&path)
        .arg(BIN)
        .args(["--listen", &format!("127.0.0.1:{other}")])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut connected = false;
    for _ in 0..500 {
        if std::os::unix::net::UnixStream::connect(&path).is_ok() {
            connected = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        connected,
        "systemd-socket-activate never listened on {path:?}"
    );
    let out = activator.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("not a TCP stream socket"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
