//! The fault proxy itself: the sync tests trust it to break connections at exact offsets, so
//! prove that it does (and that it is transparent without a plan).

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use e2e::fault_proxy::{DRAIN_BYTES, Traffic};
use e2e::{Direction, Fault, FaultPlan, FaultProxy};

/// A server that, for each connection, reads one byte, sends `n` bytes (0, 1, 2, … mod 251),
/// and then closes if `then_wait` is false, or waits for the client to close: in the middle of
/// a session, a server closes only when told.
fn server(n: usize, then_wait: bool) -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { continue };
            thread::spawn(move || {
                let mut one = [0u8; 1];
                if s.read_exact(&mut one).is_err() {
                    return;
                }
                let data: Vec<u8> = (0..n).map(|i| (i % 251) as u8).collect();
                let _ = s.write_all(&data);
                if then_wait {
                    let _ = std::io::copy(&mut s, &mut std::io::sink());
                }
            });
        }
    });
    addr
}

/// [`server`] closing when it has sent its bytes.
fn byte_server(n: usize) -> SocketAddr {
    server(n, false)
}

fn fetch(proxy: &FaultProxy) -> (Vec<u8>, Option<ErrorKind>) {
    let mut c = TcpStream::connect(proxy.local_addr()).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    c.write_all(b"x").unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match c.read(&mut buf) {
            Ok(0) => return (got, None),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) => return (got, Some(e.kind())),
        }
    }
}

#[test]
fn without_a_plan_the_proxy_relays_everything() {
    let p = FaultProxy::start_local(byte_server(100_000)).unwrap();
    let (got, err) = fetch(&p);
    assert_eq!(err, None);
    assert_eq!(got.len(), 100_000);
    assert!(got.iter().enumerate().all(|(i, b)| *b == (i % 251) as u8));
    assert_eq!(p.fired(), 0);
}

#[test]
fn a_cut_delivers_exactly_the_bytes_before_the_offset_then_eof() {
    let p = FaultProxy::start_local(byte_server(100_000)).unwrap();
    p.push(Some(FaultPlan {
        direction: Direction::ToClient,
        at_byte: 12_345,
        fault: Fault::Cut,
    }));
    let (got, err) = fetch(&p);
    assert_eq!(err, None, "a cut is an orderly close");
    assert_eq!(got.len(), 12_345);
    assert_eq!(p.fired(), 1);
    // The plan was for one connection only: the next one goes through.
    assert_eq!(fetch(&p).0.len(), 100_000);
}

#[test]
fn a_reset_is_seen_as_a_connection_reset() {
    let p = FaultProxy::start_local(byte_server(1_000_000)).unwrap();
    p.push(Some(FaultPlan {
        direction: Direction::ToClient,
        at_byte: 50_000,
        fault: Fault::Reset,
    }));
    let (got, err) = fetch(&p);
    assert!(
        got.len() <= 50_000,
        "nothing after the offset: {}",
        got.len()
    );
    assert_eq!(err, Some(ErrorKind::ConnectionReset));
}

#[test]
fn a_stall_pauses_then_delivers_everything() {
    let p = FaultProxy::start_local(byte_server(10_000)).unwrap();
    p.push(Some(FaultPlan {
        direction: Direction::ToClient,
        at_byte: 5_000,
        fault: Fault::Stall(Duration::from_millis(300)),
    }));
    let t = Instant::now();
    let (got, err) = fetch(&p);
    assert_eq!(err, None);
    assert_eq!(got.len(), 10_000);
    // Not a timing assertion on our code's speed: the stall is the behaviour under test.
    assert!(t.elapsed() >= Duration::from_millis(300));
}

#[test]
fn a_fault_on_the_client_direction_fires_on_commands() {
    let p = FaultProxy::start_local(byte_server(10_000)).unwrap();
    p.push(Some(FaultPlan {
        direction: Direction::ToServer,
        at_byte: 0,
        fault: Fault::Cut,
    }));
    let (got, _) = fetch(&p);
    assert!(got.is_empty(), "the server never saw the request");
    assert_eq!(p.fired(), 1);
}

/// One connection to `to` through a proxy that applies `fault` to the server's bytes at
/// `at_byte`: how many bytes the client got, and the connection's record.
fn faulted(to: SocketAddr, at_byte: u64, fault: Fault) -> (usize, Traffic) {
    let p = FaultProxy::start_local(to).unwrap();
    p.push(Some(FaultPlan {
        direction: Direction::ToClient,
        at_byte,
        fault,
    }));
    let (got, _) = fetch(&p);
    let t = tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(p.traffic_of(0, Duration::from_secs(10)))
        .unwrap();
    assert!(t.fired, "{fault:?}");
    (got.len(), t)
}

#[test]
fn a_cut_or_reset_records_what_the_sender_still_sent_and_whether_it_had_finished() {
    for fault in [Fault::Cut, Fault::Reset] {
        // A server that ends on its own: all it sent from the offset on, and that it closed.
        let (got, t) = faulted(byte_server(100_000), 100_000 - 24, fault);
        assert!(got <= 100_000 - 24, "{fault:?}: {got}");
        assert_eq!((t.withheld, t.sender_closed), (24, true), "{fault:?}");

        // A server in the middle of its session is not taken for one that finished.
        let (got, t) = faulted(server(1_000, true), 1_000, fault);
        assert!(got <= 1_000, "{fault:?}: {got}");
        assert_eq!((t.withheld, t.sender_closed), (0, false), "{fault:?}");

        // One with much more to send is let go once it has passed DRAIN_BYTES, closed or not.
        let (_, t) = faulted(byte_server(1_000_000), 1_000, fault);
        assert!(!t.sender_closed, "{fault:?}");
        assert!(
            t.withheld > DRAIN_BYTES && t.withheld < 1_000_000 - 1_000,
            "{fault:?}: {}",
            t.withheld
        );
    }
}
