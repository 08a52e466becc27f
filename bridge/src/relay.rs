//! The byte relay between the browser's WebSocket and the mail server, once both are ready.
//!
//! Two pumps run in one task:
//! - *down* (browser → server): each binary message is written to the server before the next
//!   one is read, so a server that stops reading stops the browser too (TCP backpressure).
//! - *up* (server → browser): reads at most 256 KiB, sends it as binary frames of at most
//!   64 KiB and waits until they are written to the socket before reading again. A browser
//!   that stops reading therefore stops the bridge from reading the server: memory per session
//!   is bounded by one read buffer plus tungstenite's write buffer, whatever the server streams.
//!
//! The up pump owns the WebSocket sink, so it also sends pings and the close frame. On server
//! EOF every byte already read has been written before the close frame is sent (a frame is
//! only considered sent once flushed), so the browser receives all data before the close.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use bytes::{BufMut, BytesMut};
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::oneshot;
use tokio::time::{Instant, MissedTickBehavior, interval, timeout};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use crate::metrics::Metrics;
use crate::shutdown::ShutdownSignal;
use crate::upstream::UpstreamStream;

/// Largest frame sent to the browser.
pub const MAX_FRAME_TO_CLIENT: usize = 64 * 1024;
/// Initial read size: idle sessions keep only this much; it doubles while data streams.
const MIN_READ: usize = 4 * 1024;
/// Largest single read from the server while streaming; it is sent as several frames of at
/// most 64 KiB and flushed once (fewer wake-ups and syscalls: ~15-25 % more throughput).
pub const MAX_READ: usize = 256 * 1024;
/// How long to wait for the browser's close reply before dropping the socket.
const CLOSE_WAIT: Duration = Duration::from_secs(3);

#[derive(Debug, Clone)]
pub struct RelayParams {
    pub idle_timeout: Duration,
    pub ping_interval: Duration,
    pub write_timeout: Duration,
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
    UpstreamError(String),
    Shutdown,
}

enum Down {
    ClientClosed,
    ClientProtocol(String, CloseCode),
    UpstreamWriteFailed(String),
}

fn close_frame(code: CloseCode, reason: &'static str) -> Message {
    Message::Close(Some(CloseFrame {
        code,
        reason: reason.into(),
    }))
}

/// Run the relay to completion. Consumes both sides; both are closed when it returns.
pub async fn relay<S>(
    ws: WebSocketStream<S>,
    upstream: UpstreamStream,
    params: &RelayParams,
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
    let (mut sink, mut stream) = ws.split();
    let (mut up_r, mut up_w) = tokio::io::split(upstream);
    let (down_tx, mut down_rx) = oneshot::channel::<Down>();

    let down = async {
        let reason = loop {
            match stream.next().await {
                None => break Down::ClientClosed,
                Some(Err(e)) => {
                    use tokio_tungstenite::tungstenite::Error as WsErr;
                    break match e {
                        WsErr::Capacity(c) => Down::ClientProtocol(c.to_string(), CloseCode::Size),
                        WsErr::Protocol(p) => {
                            Down::ClientProtocol(p.to_string(), CloseCode::Protocol)
                        }
                        _ => Down::ClientClosed,
                    };
                }
                Some(Ok(msg)) => {
                    last_seen.store(now_ms(), Relaxed);
                    match msg {
                        Message::Binary(data) => {
                            last_data.store(now_ms(), Relaxed);
                            if let Err(e) = up_w.write_all(&data).await {
                                break Down::UpstreamWriteFailed(e.kind().to_string());
                            }
                            metrics
                                .bytes_to_server
                                .fetch_add(data.len() as u64, Relaxed);
                        }
                        Message::Text(_) => {
                            break Down::ClientProtocol(
                                "text frame after the handshake".into(),
                                CloseCode::Unsupported,
                            );
                        }
                        Message::Close(_) => break Down::ClientClosed,
                        // tungstenite answers pings itself; pongs only prove liveness.
                        Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => {}
                    }
                }
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
        loop {
            buf.reserve(want);
            let mut limited = (&mut buf).limit(want);
            tokio::select! {
                biased;
                r = &mut down_rx, if !down_done => {
                    down_done = true;
                    match r {
                        Ok(Down::ClientClosed) | Err(_) => break RelayEnd::ClientClosed,
                        Ok(Down::ClientProtocol(why, code)) => {
                            let _ = timeout(CLOSE_WAIT, sink.send(close_frame(code, "protocol error"))).await;
                            break RelayEnd::ClientProtocol(why);
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
                    let _ = timeout(CLOSE_WAIT, sink.send(close_frame(CloseCode::Away, "bridge shutting down"))).await;
                    break RelayEnd::Shutdown;
                }
                _ = ping.tick() => {
                    let now = now_ms();
                    if now.saturating_sub(last_data.load(Relaxed)) >= idle_ms {
                        let _ = timeout(CLOSE_WAIT, sink.send(close_frame(CloseCode::Library(4009), "idle_timeout"))).await;
                        break RelayEnd::Idle;
                    }
                    if now.saturating_sub(last_seen.load(Relaxed)) >= dead_ms {
                        let _ = timeout(CLOSE_WAIT, sink.send(close_frame(CloseCode::Library(4009), "ping_timeout"))).await;
                        break RelayEnd::PingTimeout;
                    }
                    match timeout(params.write_timeout, sink.send(Message::Ping(Default::default()))).await {
                        Ok(Ok(())) => {}
                        Ok(Err(_)) => break RelayEnd::ClientClosed,
                        Err(_) => break RelayEnd::WriteTimeout,
                    }
                }
                r = up_r.read_buf(&mut limited) => {
                    match r {
                        Ok(0) => {
                            let _ = timeout(CLOSE_WAIT, sink.send(close_frame(CloseCode::Normal, "server closed"))).await;
                            break RelayEnd::UpstreamClosed;
                        }
                        Ok(n) => {
                            last_data.store(now_ms(), Relaxed);
                            metrics.bytes_in_flight.fetch_add(n as i64, Relaxed);
                            let mut data = buf.split().freeze();
                            // Adapt the read size: grow while reads fill it; after a small
                            // read (the stream paused) go back to the minimum and release
                            // the big buffer, so idle sessions stay cheap.
                            if n == want && want < MAX_READ {
                                want *= 2;
                            } else if n < want / 4 && want > MIN_READ {
                                want = MIN_READ;
                                buf = BytesMut::new();
                            }
                            let sent = timeout(params.write_timeout, async {
                                // Frames of at most 64 KiB, queued, then one flush.
                                while data.len() > MAX_FRAME_TO_CLIENT {
                                    let part = data.split_to(MAX_FRAME_TO_CLIENT);
                                    sink.feed(Message::Binary(part)).await?;
                                }
                                sink.send(Message::Binary(data)).await
                            })
                            .await;
                            metrics.bytes_in_flight.fetch_sub(n as i64, Relaxed);
                            match sent {
                                Ok(Ok(())) => {
                                    metrics.bytes_to_client.fetch_add(n as u64, Relaxed);
                                }
                                Ok(Err(_)) => break RelayEnd::ClientClosed,
                                Err(_) => {
                                    let _ = timeout(Duration::from_millis(100), sink.send(close_frame(CloseCode::Library(4009), "client_stalled"))).await;
                                    break RelayEnd::WriteTimeout;
                                }
                            }
                        }
                        // A server that closes TCP without TLS close_notify (common after
                        // QUIT) is a normal end, not an error: nothing more can arrive.
                        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                            let _ = timeout(CLOSE_WAIT, sink.send(close_frame(CloseCode::Normal, "server closed"))).await;
                            break RelayEnd::UpstreamClosed;
                        }
                        Err(e) => {
                            let _ = timeout(CLOSE_WAIT, sink.send(close_frame(CloseCode::Library(4010), "upstream_error"))).await;
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
    // stream on the browser's side). A dead or stalled browser gets no wait.
    let browser_alive = !matches!(
        end,
        RelayEnd::ClientClosed | RelayEnd::PingTimeout | RelayEnd::WriteTimeout
    );
    if browser_alive {
        let _ = timeout(CLOSE_WAIT, async {
            while let Some(Ok(m)) = stream.next().await {
                if m.is_close() {
                    break;
                }
            }
        })
        .await;
    }
    if end != RelayEnd::WriteTimeout {
        let _ = timeout(Duration::from_secs(1), sink.close()).await;
    }
    end
}
