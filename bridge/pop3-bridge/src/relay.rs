//! The byte relay between the browser's WebSocket and the mail server, once both are ready.
//!
//! The relay speaks WebSocket framing itself on the upgraded connection (the connect request
//! and answer before it go through tungstenite): a server-to-client frame is just a 2-10 byte
//! header in front of unmasked payload, so the payload read from the mail server is written
//! to the browser's socket straight from the read buffer, headers and payloads of one read in
//! one vectored write. No copy into a WebSocket write buffer, no allocation per message.
//!
//! Two pumps run in one task:
//! - *down* (browser → server): reads frames into one bounded buffer, unmasks binary payloads
//!   in place and writes each to the server before reading on, so a server that stops reading
//!   stops the browser too (TCP backpressure). Fragmented messages are relayed fragment by
//!   fragment; the message size limit still applies to the whole message (1009).
//! - *up* (server → browser): reads at most 256 KiB, writes it as frames of at most 64 KiB and
//!   waits until they are written to the socket before reading again. A browser that stops
//!   reading therefore stops the bridge from reading the server: memory per session is
//!   bounded by one read buffer, whatever the server streams.
//!
//! In relay mode (end to end) the down pump passes every payload through a [`TlsGuard`]
//! first: only TLS records (and, for `stls`, the one `STLS` command) reach the server. At the
//! first byte that is not, the bytes before it are written, nothing after, and the session
//! ends with 4000 `protocol_violation`. Bridge-side TLS sessions have no guard: there the
//! bytes are encrypted by the bridge's own TLS.
//!
//! The up pump owns the write half, so it also sends pings, the pongs the down pump asks for,
//! and the close frame. On server EOF every byte already read has been written before the
//! close frame is sent, so the browser receives all data before the close.

use std::io::IoSlice;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use bytes::{Buf, BufMut, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};
use tokio::time::{Instant, MissedTickBehavior, interval, timeout};

use crate::metrics::Metrics;
use crate::protocol::ErrorCode;
use crate::shutdown::ShutdownSignal;
use crate::tls_guard::TlsGuard;
use crate::upstream::UpstreamStream;

/// Largest frame sent to the browser.
pub const MAX_FRAME_TO_CLIENT: usize = 64 * 1024;
/// Initial read size: idle sessions keep only this much; it doubles while data streams.
const MIN_READ: usize = 4 * 1024;
/// Read buffer for the browser's frames between messages (POP3 commands are short lines; a
/// bigger frame gets room for exactly its size).
const DOWN_READ: usize = 1024;
/// Largest single read from the server while streaming; it is sent as several frames of at
/// most 64 KiB in one vectored write (fewer wake-ups and syscalls).
pub const MAX_READ: usize = 256 * 1024;
/// How long to wait for the browser's close reply before dropping the socket.
const CLOSE_WAIT: Duration = Duration::from_secs(3);

/// WebSocket close codes the relay sends (RFC 6455 §7.4 and the bridge's own 4xxx).
mod code {
    pub const NORMAL: u16 = 1000;
    pub const AWAY: u16 = 1001;
    pub const PROTOCOL: u16 = 1002;
    pub const UNSUPPORTED: u16 = 1003;
    pub const SIZE: u16 = 1009;
    /// `ErrorCode::IdleTimeout.close_code()` (a test checks).
    pub const TIMEOUT: u16 = 4009;
    /// `ErrorCode::UpstreamError.close_code()` (a test checks).
    pub const UPSTREAM: u16 = 4010;
    /// `ErrorCode::ProtocolViolation.close_code()` (a test checks): a relay-mode client sent
    /// something that is not TLS.
    pub const VIOLATION: u16 = 4000;
}

const OP_CONT: u8 = 0x0;
const OP_TEXT: u8 = 0x1;
const OP_BINARY: u8 = 0x2;
const OP_CLOSE: u8 = 0x8;
const OP_PING: u8 = 0x9;
const OP_PONG: u8 = 0xA;

#[derive(Debug, Clone)]
pub struct RelayParams {
    pub idle_timeout: Duration,
    pub ping_interval: Duration,
    pub write_timeout: Duration,
    /// Largest message from the browser (the sum of its fragments); larger closes with 1009.
    pub max_message_size: usize,
}

/// Why a relay ended (for logs and metrics; never contains payload).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RelayEnd {
    /// The server closed; all its data was delivered, then close 1000.
    UpstreamClosed,
    /// The browser closed (or vanished).
    ClientClosed,
    /// No POP3 bytes either way for `idle_timeout`; close 4009.
    Idle,
    /// No frame (not even a pong) from the browser for two ping intervals; close 4009.
    PingTimeout,
    /// The browser did not accept a frame within `write_timeout`.
    WriteTimeout,
    /// The browser sent something other than binary data, or an oversized message.
    ClientProtocol(String),
    /// Relay mode: the browser sent bytes that are not TLS records (or not the `STLS`
    /// command); they were not forwarded. Close 4000 `protocol_violation`.
    NotTls(&'static str),
    UpstreamError(String),
    Shutdown,
}

enum Down {
    /// The browser sent a close frame (its code, echoed) or vanished (`None`).
    ClientClosed(Option<u16>),
    ClientProtocol(String, u16),
    /// The relay-mode guard refused the client's bytes (the reason).
    NotTls(&'static str),
    UpstreamWriteFailed(String),
}

/// A frame header from the browser.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Header {
    pub(crate) fin: bool,
    pub(crate) opcode: u8,
    pub(crate) mask: [u8; 4],
    /// Header length in bytes (2-14).
    pub(crate) head: usize,
    pub(crate) len: usize,
}

/// Parses a client-to-server frame header. `Ok(None)`: more bytes are needed.
pub(crate) fn parse_header(b: &[u8]) -> Result<Option<Header>, (u16, &'static str)> {
    if b.len() < 2 {
        return Ok(None);
    }
    let (b0, b1) = (b[0], b[1]);
    let fin = b0 & 0x80 != 0;
    let opcode = b0 & 0x0F;
    if b0 & 0x70 != 0 {
        return Err((code::PROTOCOL, "reserved bits set"));
    }
    if b1 & 0x80 == 0 {
        return Err((code::PROTOCOL, "unmasked frame from the client"));
    }
    if !matches!(
        opcode,
        OP_CONT | OP_TEXT | OP_BINARY | OP_CLOSE | OP_PING | OP_PONG
    ) {
        return Err((code::PROTOCOL, "reserved opcode"));
    }
    let (len, at) = match b1 & 0x7F {
        126 => {
            if b.len() < 4 {
                return Ok(None);
            }
            (u16::from_be_bytes([b[2], b[3]]) as u64, 4)
        }
        127 => {
            if b.len() < 10 {
                return Ok(None);
            }
            let mut l = [0u8; 8];
            l.copy_from_slice(&b[2..10]);
            let l = u64::from_be_bytes(l);
            if l >> 63 != 0 {
                return Err((code::PROTOCOL, "invalid frame length"));
            }
            (l, 10)
        }
        l => (u64::from(l), 2),
    };
    if opcode >= OP_CLOSE && (!fin || len > 125) {
        return Err((code::PROTOCOL, "fragmented or oversized control frame"));
    }
    if b.len() < at + 4 {
        return Ok(None);
    }
    let mask = [b[at], b[at + 1], b[at + 2], b[at + 3]];
    Ok(Some(Header {
        fin,
        opcode,
        mask,
        head: at + 4,
        len: usize::try_from(len).unwrap_or(usize::MAX),
    }))
}

/// XOR-unmasks `data` in place, eight bytes at a time.
fn unmask(data: &mut [u8], mask: [u8; 4]) {
    let m8 = u64::from_ne_bytes([
        mask[0], mask[1], mask[2], mask[3], mask[0], mask[1], mask[2], mask[3],
    ]);
    let mut chunks = data.chunks_exact_mut(8);
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        c.copy_from_slice(&(u64::from_ne_bytes(w) ^ m8).to_ne_bytes());
    }
    for (i, b) in chunks.into_remainder().iter_mut().enumerate() {
        *b ^= mask[i % 4];
    }
}

/// A server-to-client (unmasked) frame header; returns the header buffer and its length.
fn server_header(fin_opcode: u8, len: usize) -> ([u8; 10], usize) {
    let mut h = [0u8; 10];
    h[0] = fin_opcode;
    if len < 126 {
        h[1] = len as u8;
        (h, 2)
    } else if len <= 0xFFFF {
        h[1] = 126;
        h[2..4].copy_from_slice(&(len as u16).to_be_bytes());
        (h, 4)
    } else {
        h[1] = 127;
        h[2..10].copy_from_slice(&(len as u64).to_be_bytes());
        (h, 10)
    }
}

/// Writes all of `bufs` with vectored writes (one syscall when the socket takes it all).
async fn write_all_vectored<W: AsyncWrite + Unpin>(
    w: &mut W,
    bufs: &mut [IoSlice<'_>],
) -> std::io::Result<()> {
    let mut bufs = bufs;
    IoSlice::advance_slices(&mut bufs, 0);
    while !bufs.is_empty() {
        let n = w.write_vectored(bufs).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::WriteZero.into());
        }
        IoSlice::advance_slices(&mut bufs, n);
    }
    Ok(())
}

/// Writes `data` as binary frames of at most 64 KiB: all headers and payloads in one vectored
/// write, straight from the read buffer. `data` is at most `MAX_READ` bytes.
async fn send_binary<W: AsyncWrite + Unpin>(w: &mut W, data: &[u8]) -> std::io::Result<()> {
    const MAX_FRAMES: usize = MAX_READ / MAX_FRAME_TO_CLIENT;
    let mut heads = [([0u8; 10], 0usize); MAX_FRAMES];
    let mut n = 0;
    for (i, part) in data.chunks(MAX_FRAME_TO_CLIENT).enumerate() {
        heads[i] = server_header(0x80 | OP_BINARY, part.len());
        n = i + 1;
    }
    let mut slices: Vec<IoSlice<'_>> = Vec::with_capacity(2 * MAX_FRAMES);
    for (h, part) in heads[..n].iter().zip(data.chunks(MAX_FRAME_TO_CLIENT)) {
        slices.push(IoSlice::new(&h.0[..h.1]));
        slices.push(IoSlice::new(part));
    }
    write_all_vectored(w, &mut slices).await?;
    w.flush().await
}

/// Writes one control frame (payload at most 125 bytes).
async fn send_control<W: AsyncWrite + Unpin>(
    w: &mut W,
    opcode: u8,
    payload: &[u8],
) -> std::io::Result<()> {
    let payload = &payload[..payload.len().min(125)];
    let mut frame = [0u8; 127];
    frame[0] = 0x80 | opcode;
    frame[1] = payload.len() as u8;
    frame[2..2 + payload.len()].copy_from_slice(payload);
    w.write_all(&frame[..2 + payload.len()]).await?;
    w.flush().await
}

async fn send_close<W: AsyncWrite + Unpin>(
    w: &mut W,
    code: u16,
    reason: &str,
) -> std::io::Result<()> {
    let mut p = Vec::with_capacity(2 + reason.len());
    p.extend_from_slice(&code.to_be_bytes());
    p.extend_from_slice(reason.as_bytes());
    send_control(w, OP_CLOSE, &p).await
}

/// Run the relay to completion on the upgraded connection `io` (the WebSocket handshake and
/// the connect answer are done). Consumes both sides; both are closed when it returns.
/// `guard` checks what the browser sends in relay mode (`None`: bridge-side TLS or plain).
pub async fn relay<S>(
    io: S,
    upstream: UpstreamStream,
    params: &RelayParams,
    mut guard: Option<TlsGuard>,
    metrics: &Arc<Metrics>,
    mut shutdown: ShutdownSignal,
) -> RelayEnd
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let start = Instant::now();
    let now_ms = move || start.elapsed().as_millis() as u64;
    // Last frame of any kind from the browser, and last POP3 byte either way.
    let last_seen = AtomicU64::new(0);
    let last_data = AtomicU64::new(0);
    let (mut ws_r, mut ws_w) = tokio::io::split(io);
    let (mut up_r, mut up_w) = tokio::io::split(upstream);
    let (down_tx, mut down_rx) = oneshot::channel::<Down>();
    // Pongs the down pump wants sent (answers to the browser's pings).
    let (pong_tx, mut pong_rx) = mpsc::channel::<Vec<u8>>(4);
    let max_message = params.max_message_size;

    let down = async {
        let mut rbuf = BytesMut::with_capacity(DOWN_READ);
        // Bytes of the binary message in progress (fragments so far), if one is.
        let mut in_message: Option<usize> = None;
        let reason = 'frames: loop {
            // Parse the next header, reading until it is complete.
            let h = loop {
                match parse_header(&rbuf) {
                    Ok(Some(h)) => break h,
                    Ok(None) => {}
                    Err((c, why)) => break 'frames Down::ClientProtocol(why.into(), c),
                }
                if rbuf.capacity() - rbuf.len() < 64 {
                    rbuf.reserve(DOWN_READ);
                }
                match ws_r.read_buf(&mut rbuf).await {
                    Ok(0) | Err(_) => break 'frames Down::ClientClosed(None),
                    Ok(_) => {}
                }
            };
            // Limits are checked on the header, before any payload is read.
            match h.opcode {
                OP_TEXT => {
                    break Down::ClientProtocol(
                        "text frame after the handshake".into(),
                        code::UNSUPPORTED,
                    );
                }
                OP_BINARY if in_message.is_some() => {
                    break Down::ClientProtocol(
                        "new message inside a fragmented one".into(),
                        code::PROTOCOL,
                    );
                }
                OP_CONT if in_message.is_none() => {
                    break Down::ClientProtocol(
                        "continuation without a message".into(),
                        code::PROTOCOL,
                    );
                }
                OP_BINARY | OP_CONT => {
                    let so_far = in_message.unwrap_or(0);
                    if h.len > max_message || so_far + h.len > max_message {
                        break Down::ClientProtocol(
                            format!("message larger than {max_message} bytes"),
                            code::SIZE,
                        );
                    }
                }
                _ => {}
            }
            let total = h.head + h.len;
            while rbuf.len() < total {
                rbuf.reserve(total - rbuf.len());
                match ws_r.read_buf(&mut rbuf).await {
                    Ok(0) | Err(_) => break 'frames Down::ClientClosed(None),
                    Ok(_) => {}
                }
            }
            last_seen.store(now_ms(), Relaxed);
            rbuf.advance(h.head);
            let payload = &mut rbuf[..h.len];
            unmask(payload, h.mask);
            match h.opcode {
                OP_BINARY | OP_CONT => {
                    last_data.store(now_ms(), Relaxed);
                    in_message = if h.fin {
                        None
                    } else {
                        Some(in_message.unwrap_or(0) + h.len)
                    };
                    // Only the part the guard accepts goes out: the verified prefix, even when
                    // the rest of the frame is refused (it was the client's to send).
                    let refused = guard.as_mut().and_then(|g| g.feed(payload).err());
                    let ok = refused.map_or(h.len, |v| v.valid);
                    let written = up_w.write_all(&payload[..ok]).await;
                    if let Some(v) = refused {
                        if written.is_ok() {
                            metrics.bytes_to_server.fetch_add(ok as u64, Relaxed);
                        }
                        break Down::NotTls(v.reason);
                    }
                    if let Err(e) = written {
                        break Down::UpstreamWriteFailed(e.kind().to_string());
                    }
                    metrics.bytes_to_server.fetch_add(h.len as u64, Relaxed);
                }
                OP_CLOSE => {
                    let c = (h.len >= 2).then(|| u16::from_be_bytes([payload[0], payload[1]]));
                    break Down::ClientClosed(Some(c.unwrap_or(code::NORMAL)));
                }
                OP_PING if pong_tx.send(payload.to_vec()).await.is_err() => {
                    break Down::ClientClosed(None);
                }
                // A pong only proves liveness.
                _ => {}
            }
            rbuf.advance(h.len);
            // Between messages, an idle session gives back a buffer that grew for a big one.
            if rbuf.is_empty() && rbuf.capacity() > 4 * DOWN_READ {
                rbuf = BytesMut::with_capacity(DOWN_READ);
            }
        };
        let _ = down_tx.send(reason);
        // Never finish: the up pump decides when the session is over.
        std::future::pending::<()>().await
    };

    let up = async {
        let mut buf = BytesMut::new();
        let mut want = MIN_READ;
        let mut ping = interval(params.ping_interval);
        ping.set_missed_tick_behavior(MissedTickBehavior::Delay);
        ping.tick().await;
        let idle_ms = params.idle_timeout.as_millis() as u64;
        let dead_ms = 2 * params.ping_interval.as_millis() as u64;
        let mut down_done = false;
        let w = &mut ws_w;
        loop {
            buf.reserve(want);
            let mut limited = (&mut buf).limit(want);
            tokio::select! {
                biased;
                r = &mut down_rx, if !down_done => {
                    down_done = true;
                    match r {
                        Ok(Down::ClientClosed(Some(c))) => {
                            // Answer the browser's close (RFC 6455 §5.5.1), briefly.
                            let _ = timeout(Duration::from_secs(1), send_close(w, c, "")).await;
                            break RelayEnd::ClientClosed;
                        }
                        Ok(Down::ClientClosed(None)) | Err(_) => break RelayEnd::ClientClosed,
                        Ok(Down::ClientProtocol(why, c)) => {
                            let _ = timeout(CLOSE_WAIT, send_close(w, c, "protocol error")).await;
                            break RelayEnd::ClientProtocol(why);
                        }
                        Ok(Down::NotTls(why)) => {
                            let reason = ErrorCode::ProtocolViolation.as_str();
                            let _ = timeout(CLOSE_WAIT, send_close(w, code::VIOLATION, reason)).await;
                            break RelayEnd::NotTls(why);
                        }
                        // The server stopped accepting data; it will close, or the idle
                        // timer ends the session. Keep relaying what it sends.
                        Ok(Down::UpstreamWriteFailed(why)) => {
                            tracing::debug!(%why, "server stopped accepting data");
                            continue;
                        }
                    }
                }
                _ = shutdown.recv() => {
                    let _ = timeout(CLOSE_WAIT, send_close(w, code::AWAY, "bridge shutting down")).await;
                    break RelayEnd::Shutdown;
                }
                Some(p) = pong_rx.recv() => {
                    match timeout(params.write_timeout, send_control(w, OP_PONG, &p)).await {
                        Ok(Ok(())) => {}
                        Ok(Err(_)) => break RelayEnd::ClientClosed,
                        Err(_) => break RelayEnd::WriteTimeout,
                    }
                }
                _ = ping.tick() => {
                    let now = now_ms();
                    if now.saturating_sub(last_data.load(Relaxed)) >= idle_ms {
                        let _ = timeout(CLOSE_WAIT, send_close(w, code::TIMEOUT, ErrorCode::IdleTimeout.as_str())).await;
                        break RelayEnd::Idle;
                    }
                    if now.saturating_sub(last_seen.load(Relaxed)) >= dead_ms {
                        let _ = timeout(CLOSE_WAIT, send_close(w, code::TIMEOUT, "ping_timeout")).await;
                        break RelayEnd::PingTimeout;
                    }
                    match timeout(params.write_timeout, send_control(w, OP_PING, &[])).await {
                        Ok(Ok(())) => {}
                        Ok(Err(_)) => break RelayEnd::ClientClosed,
                        Err(_) => break RelayEnd::WriteTimeout,
                    }
                }
                r = up_r.read_buf(&mut limited) => {
                    match r {
                        Ok(0) => {
                            let _ = timeout(CLOSE_WAIT, send_close(w, code::NORMAL, "server closed")).await;
                            break RelayEnd::UpstreamClosed;
                        }
                        Ok(n) => {
                            last_data.store(now_ms(), Relaxed);
                            metrics.bytes_in_flight.fetch_add(n as i64, Relaxed);
                            let sent = timeout(params.write_timeout, send_binary(w, &buf)).await;
                            metrics.bytes_in_flight.fetch_sub(n as i64, Relaxed);
                            buf.clear();
                            // Adapt the read size: grow while reads fill it; after a small
                            // read (the stream paused) go back to the minimum and release
                            // the big buffer, so idle sessions stay cheap.
                            if n == want && want < MAX_READ {
                                want *= 2;
                            } else if n < want / 4 && want > MIN_READ {
                                want = MIN_READ;
                                buf = BytesMut::new();
                            }
                            match sent {
                                Ok(Ok(())) => {
                                    metrics.bytes_to_client.fetch_add(n as u64, Relaxed);
                                }
                                Ok(Err(_)) => break RelayEnd::ClientClosed,
                                // A frame may be half written: no close frame can follow.
                                Err(_) => break RelayEnd::WriteTimeout,
                            }
                        }
                        // A server that closes TCP without TLS close_notify (common after
                        // QUIT) is a normal end, not an error: nothing more can arrive.
                        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                            let _ = timeout(CLOSE_WAIT, send_close(w, code::NORMAL, "server closed")).await;
                            break RelayEnd::UpstreamClosed;
                        }
                        Err(e) => {
                            let _ = timeout(CLOSE_WAIT, send_close(w, code::UPSTREAM, ErrorCode::UpstreamError.as_str())).await;
                            break RelayEnd::UpstreamError(e.kind().to_string());
                        }
                    }
                }
            }
        }
    };

    let end = tokio::select! {
        end = up => end,
        // The down pump never completes; this arm only satisfies the type checker.
        _ = down => RelayEnd::ClientClosed,
    };
    // Close the server side first: it must not wait for the browser.
    drop(up_r);
    drop(up_w);
    // A live browser gets a moment to answer our close frame, so the TCP close is orderly
    // (unread data at close would turn it into a reset that can destroy the tail of the
    // stream on the browser's side). A dead or stalled browser gets no wait. Its frames are
    // only read and dropped here (up to its close frame or EOF).
    let browser_alive = !matches!(
        end,
        RelayEnd::ClientClosed | RelayEnd::PingTimeout | RelayEnd::WriteTimeout
    );
    if browser_alive {
        let _ = timeout(CLOSE_WAIT, drain_until_close(&mut ws_r)).await;
    }
    if end != RelayEnd::WriteTimeout {
        let _ = timeout(Duration::from_secs(1), ws_w.shutdown()).await;
    }
    end
}

/// Reads and discards the browser's frames until its close frame or EOF.
async fn drain_until_close<R: AsyncRead + Unpin>(r: &mut R) -> std::io::Result<()> {
    let mut buf = BytesMut::with_capacity(MIN_READ);
    loop {
        // Skip whole frames; stop at a close frame.
        loop {
            match parse_header(&buf) {
                Ok(Some(h)) if h.opcode == OP_CLOSE => return Ok(()),
                Ok(Some(h)) if buf.len() >= h.head + h.len => buf.advance(h.head + h.len),
                Ok(Some(h)) => {
                    // Skip a large payload without buffering it.
                    let mut skip = h.head + h.len - buf.len();
                    buf.clear();
                    let mut sink = [0u8; 4096];
                    while skip > 0 {
                        let n = r.read(&mut sink[..skip.min(4096)]).await?;
                        if n == 0 {
                            return Ok(());
                        }
                        skip -= n;
                    }
                }
                Ok(None) => break,
                Err(_) => return Ok(()),
            }
        }
        buf.reserve(MIN_READ);
        if r.read_buf(&mut buf).await? == 0 {
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_end_close_codes_are_the_protocol_crates() {
        assert_eq!(code::TIMEOUT, ErrorCode::IdleTimeout.close_code());
        assert_eq!(code::UPSTREAM, ErrorCode::UpstreamError.close_code());
        assert_eq!(code::VIOLATION, ErrorCode::ProtocolViolation.close_code());
    }

    fn masked(opcode: u8, fin: bool, payload: &[u8], mask: [u8; 4]) -> Vec<u8> {
        let (h, n) = server_header(if fin { 0x80 } else { 0 } | opcode, payload.len());
        let mut f = h[..n].to_vec();
        f[1] |= 0x80;
        f.extend_from_slice(&mask);
        let mut p = payload.to_vec();
        unmask(&mut p, mask);
        f.extend_from_slice(&p);
        f
    }

    #[test]
    fn headers_of_every_length_form_parse_back() {
        for len in [0usize, 1, 125, 126, 65_535, 65_536, 300_000] {
            let payload = vec![7u8; len];
            let f = masked(OP_BINARY, true, &payload, [1, 2, 3, 4]);
            let h = parse_header(&f).unwrap().unwrap();
            assert_eq!((h.len, h.fin, h.opcode), (len, true, OP_BINARY));
            assert_eq!(f.len(), h.head + len);
            // Every strict prefix of the header asks for more bytes.
            for cut in 0..h.head {
                assert_eq!(parse_header(&f[..cut]).unwrap(), None);
            }
            let mut p = f[h.head..].to_vec();
            unmask(&mut p, h.mask);
            assert_eq!(p, payload);
        }
    }

    #[test]
    fn invalid_headers_are_protocol_errors() {
        let unmasked = [0x82u8, 0x01, b'x'];
        assert_eq!(parse_header(&unmasked).unwrap_err().0, code::PROTOCOL);
        let rsv = [0xC2u8, 0x80, 0, 0, 0, 0];
        assert_eq!(parse_header(&rsv).unwrap_err().0, code::PROTOCOL);
        let reserved_op = [0x83u8, 0x80, 0, 0, 0, 0];
        assert_eq!(parse_header(&reserved_op).unwrap_err().0, code::PROTOCOL);
        let fragmented_ping = masked(OP_PING, false, b"", [0; 4]);
        assert_eq!(
            parse_header(&fragmented_ping).unwrap_err().0,
            code::PROTOCOL
        );
        let long_ping = masked(OP_PING, true, &[0; 126], [0; 4]);
        assert_eq!(parse_header(&long_ping).unwrap_err().0, code::PROTOCOL);
    }

    #[test]
    fn unmask_matches_the_bytewise_definition() {
        let data: Vec<u8> = (0..1000u32).map(|i| (i * 7) as u8).collect();
        for len in [0, 1, 3, 7, 8, 9, 15, 16, 17, 1000] {
            let mut a = data[..len].to_vec();
            unmask(&mut a, [0xA1, 0xB2, 0xC3, 0xD4]);
            let b: Vec<u8> = data[..len]
                .iter()
                .enumerate()
                .map(|(i, x)| x ^ [0xA1, 0xB2, 0xC3, 0xD4][i % 4])
                .collect();
            assert_eq!(a, b, "len {len}");
        }
    }
}
