//! Entry points shared by the `cargo fuzz` targets (`fuzz/fuzz_targets/`) and by the tests that
//! replay their seed corpora, so an input the fuzzer saves becomes an ordinary failing test.
//! Each function panics only when a property is violated.
#![doc(hidden)]

use crate::codec::capa::Capabilities;
use crate::codec::greeting::{Greeting, apop_timestamp};
use crate::codec::listing::{parse_scan, parse_stat, parse_uid};
use crate::codec::multiline::{Unstuffer, stuff};
use crate::{AuthMethod, Client, ConnectionError, Event, Login, MsgNum, Options};
use web_time::Instant;

/// The server side of a fixed session prefix: greeting, CAPA (with PIPELINING), USER/PASS, CAPA.
pub const PREFIX: &[&[u8]] = &[
    b"+OK ready\r\n",
    b"+OK\r\nPIPELINING\r\nUSER\r\n.\r\n",
    b"+OK\r\n",
    b"+OK\r\n",
    b"+OK\r\nPIPELINING\r\nTOP\r\nUIDL\r\nLANG\r\n.\r\n",
];

/// A client that went through [`PREFIX`] and has pipelined one of every TRANSACTION command,
/// so every byte the fuzzer sends next is read as an answer to something.
pub fn logged_in_client() -> Client {
    let now = Instant::now();
    let mut c = Client::new(Options::implicit_tls(), now);
    for (i, chunk) in PREFIX.iter().enumerate() {
        c.feed(chunk, now).expect("the prefix is a valid session");
        while c.poll_transmit(now).is_some() {}
        while c.poll_event().is_some() {}
        if i == 1 {
            let mut l = Login::password("u", "p", vec![0; 32]);
            l.methods = Some(vec![AuthMethod::UserPass]);
            let a = c.authorization().expect("authorization state");
            a.login(l).expect("login starts");
            while c.poll_transmit(now).is_some() {}
        }
    }
    let one = MsgNum::new(1).expect("1 is a message number");
    let mut t = c.transaction().expect("logged in");
    t.stat();
    t.list(None);
    t.list(Some(one));
    t.uidl(None);
    t.uidl(Some(one));
    t.retr(one);
    t.top(one, 0);
    t.lang(None).expect("no argument to check");
    t.dele(one);
    t.rset();
    t.noop();
    t.quit();
    while c.poll_transmit(now).is_some() {}
    c
}

/// Feeds `chunks` as server bytes to a [`logged_in_client`] and returns what it reported.
pub fn session_events(chunks: &[&[u8]]) -> (Vec<Event>, Option<ConnectionError>) {
    let now = Instant::now();
    let mut c = logged_in_client();
    let mut events = Vec::new();
    let mut error = None;
    for chunk in chunks {
        if let Err(e) = c.feed(chunk, now) {
            error = Some(e);
            break;
        }
    }
    while let Some(e) = c.poll_event() {
        events.push(e);
    }
    (events, error)
}

/// F1: arbitrary server bytes in an arbitrary chunking (given by `cuts`) never panic, and give
/// the same events as the bytes in one piece, once adjacent message data is joined.
pub fn response_reader(data: &[u8], cuts: &[u8]) {
    let whole = session_events(&[data]);
    let mut chunks = Vec::new();
    let mut rest = data;
    for &c in cuts {
        let n = (c as usize).min(rest.len());
        let (a, b) = rest.split_at(n);
        chunks.push(a);
        rest = b;
    }
    chunks.push(rest);
    let split = session_events(&chunks);
    assert_eq!(
        join_data(whole.0),
        join_data(split.0),
        "events differ by chunking"
    );
    assert_eq!(whole.1, split.1, "errors differ by chunking");
}

/// Message data may arrive in different pieces; the bytes per command may not differ.
fn join_data(events: Vec<Event>) -> Vec<Event> {
    let mut out: Vec<Event> = Vec::new();
    for e in events {
        if let (
            Event::MessageData { handle, data },
            Some(Event::MessageData {
                handle: last,
                data: acc,
            }),
        ) = (&e, out.last_mut())
            && handle == last
        {
            acc.extend_from_slice(data);
            continue;
        }
        out.push(e);
    }
    out
}

/// F2: unstuffing inverts stuffing for any bytes (given a final line ending), in any chunking.
pub fn unstuff_roundtrip(body: &[u8], cut: usize) {
    let mut body = body.to_vec();
    if body.last().is_some_and(|b| *b != b'\n') {
        body.extend_from_slice(b"\r\n");
    }
    let wire = stuff(&body);
    let cut = cut % (wire.len() + 1);
    let mut u = Unstuffer::new();
    let mut out = Vec::new();
    let p1 = u.feed(&wire[..cut], &mut out);
    let done = if p1.done {
        assert_eq!(p1.consumed, cut, "terminator found early");
        true
    } else {
        let p2 = u.feed(&wire[cut..], &mut out);
        assert_eq!(p2.consumed, wire.len() - cut);
        p2.done
    };
    assert!(done, "terminator not found");
    assert_eq!(out, body);
}

/// F4: the greeting parser accepts only strict msg-ids, found inside the input.
pub fn greeting(data: &[u8]) {
    let g = Greeting::parse(data);
    assert!(!g.text.chars().any(char::is_control));
    if let Some(ts) = apop_timestamp(data) {
        assert!(ts.starts_with(b"<") && ts.ends_with(b">"));
        let inner = &ts[1..ts.len() - 1];
        assert_eq!(inner.iter().filter(|b| **b == b'@').count(), 1);
        assert!(
            inner
                .iter()
                .all(|b| (0x21..0x7f).contains(b) && *b != b'<' && *b != b'>')
        );
        assert!(data.windows(ts.len()).any(|w| w == ts));
    }
}

/// F3: CAPA/LIST/UIDL/STAT parsers never panic, and what they accept re-encodes to input they
/// accept with the same meaning.
pub fn listings(data: &[u8]) {
    let lines: Vec<&[u8]> = data.split(|b| *b == b'\n').collect();
    let caps = Capabilities::parse(lines.iter().copied());
    assert!(caps.other.iter().all(|l| !l.chars().any(char::is_control)));
    for line in lines {
        if let Some(e) = parse_scan(line) {
            assert_eq!(
                parse_scan(format!("{} {}", e.msg, e.size).as_bytes()),
                Some(e)
            );
        }
        if let Some(e) = parse_uid(line) {
            assert_eq!(
                parse_uid(format!("{} {}", e.msg, e.uid).as_bytes()),
                Some(e)
            );
        }
        if let Some(s) = parse_stat(line) {
            assert_eq!(
                parse_stat(format!("{} {}", s.count, s.size).as_bytes()),
                Some(s)
            );
        }
    }
}

/// [`response_reader`] from one fuzzer input: byte 0 is the number of cuts (mod 8), the next
/// bytes are the chunk lengths, the rest is server data.
pub fn response_reader_raw(input: &[u8]) {
    let n = input.first().map_or(0, |b| (b % 8) as usize);
    let cuts = input.get(1..1 + n).unwrap_or_default();
    let data = input.get(1 + n..).unwrap_or_default();
    response_reader(data, cuts);
}

/// [`unstuff_roundtrip`] from one fuzzer input: two bytes of cut position, then the body.
pub fn unstuff_roundtrip_raw(input: &[u8]) {
    let cut = match input {
        [a, b, ..] => u16::from_le_bytes([*a, *b]) as usize,
        _ => 0,
    };
    unstuff_roundtrip(input.get(2..).unwrap_or_default(), cut);
}
