//! Response parsing throughput: a 100 MB RETR answer through the whole client (status line,
//! dot-unstuffing, events), fed in 64 KiB reads as a socket would deliver it.
//!
//! `cargo bench -p pop3-proto --bench parse` (or `cargo xtask bench parse`). Prints the best of
//! several runs; the goal is at least 1 GB/s.

use pop3_proto::{Event, Instant};
use pop3_proto::{Unstuffer, stuff};
use std::hint::black_box;

const SIZE: usize = 100 * 1024 * 1024;
const READ: usize = 64 * 1024;

fn message() -> Vec<u8> {
    // Mail-like lines of 20-76 bytes; one in 50 starts with a dot so the stuffing path is
    // exercised, as in real mail with quoted text and signatures.
    let mut body = Vec::with_capacity(SIZE + 100);
    let mut x: u32 = 12345;
    while body.len() < SIZE {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
        let len = 20 + (x >> 16) as usize % 57;
        if (x >> 8).is_multiple_of(50) {
            body.push(b'.');
        }
        body.extend((0..len).map(|i| b'a' + ((x as usize + i) % 26) as u8));
        body.extend_from_slice(b"\r\n");
    }
    body
}

fn main() {
    let body = message();
    let mut wire = b"+OK message follows\r\n".to_vec();
    wire.extend_from_slice(&stuff(&body));
    let mb = wire.len() as f64 / 1e6;

    let mut best_client = f64::MAX;
    let mut best_unstuff = f64::MAX;
    for _ in 0..5 {
        // Whole client: the fuzz fixture's logged-in session, whose sixth pipelined command is
        // RETR 1; answer the five before it so that the RETR is next.
        let mut c = pop3_proto::fuzzing::logged_in_client();
        let now = Instant::now();
        let warm: &[u8] = b"+OK 1 1\r\n+OK\r\n.\r\n+OK 1 1\r\n+OK\r\n.\r\n+OK 1 a\r\n";
        c.feed(warm, now).expect("fixture answers");
        while c.poll_event().is_some() {}
        let start = std::time::Instant::now();
        let mut bytes = 0u64;
        for chunk in wire.chunks(READ) {
            c.feed(chunk, now).expect("valid response");
            while let Some(e) = c.poll_event() {
                if let Event::MessageData { data, .. } = e {
                    bytes += data.len() as u64;
                    black_box(&data);
                }
            }
        }
        let secs = start.elapsed().as_secs_f64();
        assert_eq!(bytes as usize, body.len(), "every byte delivered");
        best_client = best_client.min(secs);

        let start = std::time::Instant::now();
        let mut u = Unstuffer::new();
        let mut out = Vec::with_capacity(READ);
        for chunk in wire[21..].chunks(READ) {
            out.clear();
            black_box(u.feed(chunk, &mut out));
        }
        best_unstuff = best_unstuff.min(start.elapsed().as_secs_f64());
    }
    println!(
        "parse: client RETR {:.0} MB in {:.1} ms = {:.2} GB/s; unstuffer alone {:.2} GB/s",
        mb,
        best_client * 1e3,
        mb / best_client / 1e3,
        mb / best_unstuff / 1e3
    );
}
