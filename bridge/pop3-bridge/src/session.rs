//! One WebSocket session after the 101: read the target request, check it, connect, answer,
//! relay. Every refusal happens before any TCP connect to the target.
//!
//! A session runs in one of two modes ([`choose_mode`]): bridge-side TLS (the first version of
//! the protocol: the bridge does TLS or STLS and relays the POP3 stream), or relay mode (end to
//! end: the bridge connects and relays raw bytes, the client does TLS itself, and the bridge
//! checks only that what the client sends is TLS, see `tls_guard`).

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Instant;

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::timeout;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role};
use tracing::{Instrument, debug, info, warn};

use pop3_bridge_protocol::EndToEnd;

use crate::Shared;
use crate::policy::{Refusal, TargetHost, parse_host};
use crate::protocol::{ConnectErr, ConnectOk, ConnectRequest, ErrorCode, Security};
use crate::relay::{RelayEnd, RelayParams, relay};
use crate::shutdown::ShutdownSignal;
use crate::tls_guard::TlsGuard;
use crate::token::{TokenClaims, TokenError, now_unix};
use crate::upstream::{self, Connected, Timeouts};

/// How a session reaches the mail server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// The bridge does TLS or STLS itself (or nothing, for allowed plaintext), as in the first
    /// version of the protocol.
    Bridge,
    /// End to end: the bridge connects and relays raw bytes; the client does TLS.
    Relay,
}

/// The mode of a session asking for `security` with `end_to_end`, on a bridge that is
/// `relay_only` or not, to a server the operator gave trust of its own (`server_trust`: a
/// `[[server]]` entry with its own CA or pins, `Config::has_server_trust`). A refusal is the
/// code and the detail for the answer.
///
/// - No `end_to_end`: bridge-side TLS, as before the field existed; a relay-only bridge
///   refuses (`relay_only`) rather than decrypt.
/// - `require`: relay mode, whatever the operator configured.
/// - `prefer`: relay mode, except for a server the operator vouches for with its own CA or
///   pins on a bridge that may do TLS: the client cannot know that trust (a self-signed home
///   server), so the bridge does TLS there, and the answer says so.
/// - `plain` has nothing to encrypt: with `require` that is a client bug (`bad_request`); with
///   `prefer` it is plain as before (a relay-only bridge refuses plaintext, `plaintext_refused`).
pub(crate) fn choose_mode(
    security: Security,
    end_to_end: Option<EndToEnd>,
    relay_only: bool,
    server_trust: bool,
) -> Result<Mode, (ErrorCode, &'static str)> {
    match (security, end_to_end) {
        (Security::Plain, Some(EndToEnd::Require)) => Err((
            ErrorCode::BadRequest,
            "security \"plain\" has nothing to encrypt end to end",
        )),
        (Security::Plain, _) if relay_only => Err((
            ErrorCode::PlaintextRefused,
            "this bridge only relays end-to-end encrypted sessions",
        )),
        (Security::Plain, _) => Ok(Mode::Bridge),
        (_, None) if relay_only => Err((
            ErrorCode::RelayOnly,
            "bridge-side TLS was asked for (no end_to_end), and this bridge is relay-only",
        )),
        (_, None) => Ok(Mode::Bridge),
        (_, Some(EndToEnd::Require)) => Ok(Mode::Relay),
        (_, Some(EndToEnd::Prefer)) if server_trust && !relay_only => Ok(Mode::Bridge),
        (_, Some(EndToEnd::Prefer)) => Ok(Mode::Relay),
    }
}

/// [`choose_mode`] for `req` on this bridge.
fn session_mode(shared: &Shared, req: &ConnectRequest) -> Result<Mode, SessionError> {
    let config = &shared.config;
    // A host that does not parse is refused by `authorize` next; it has no entry either way.
    let server_trust =
        parse_host(&req.host).is_ok_and(|h| config.has_server_trust(&h.as_server_name()));
    choose_mode(
        req.security,
        req.end_to_end,
        config.relay_only,
        server_trust,
    )
    .map_err(|(code, detail)| SessionError::new(code, detail))
}

/// A session failure: the code the client gets, and a technical detail (never payload, never
/// a secret).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{code:?}: {detail}")]
pub struct SessionError {
    pub code: ErrorCode,
    pub detail: String,
}

impl SessionError {
    pub fn new(code: ErrorCode, detail: impl Into<String>) -> Self {
        SessionError {
            code,
            detail: detail.into(),
        }
    }
}

impl From<TokenError> for SessionError {
    fn from(e: TokenError) -> Self {
        let code = match e {
            TokenError::Expired | TokenError::NotYetValid => ErrorCode::TokenExpired,
            _ => ErrorCode::TokenInvalid,
        };
        SessionError::new(code, e.to_string())
    }
}

/// What the upgrade step learned about the token in the query string.
#[derive(Debug, Clone)]
pub enum QueryToken {
    /// Token auth is off.
    NotRequired,
    /// A valid token was given in the query (claims for HMAC tokens).
    Verified(Option<TokenClaims>),
    /// Tokens are required and none was in the query: the request must carry one.
    Absent,
}

/// Read the one text frame naming the target. Anything else first is an error.
async fn read_request<S>(ws: &mut WebSocketStream<S>) -> Result<ConnectRequest, SessionError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(t))) => {
                return serde_json::from_str(t.as_str()).map_err(|e| {
                    SessionError::new(ErrorCode::BadRequest, format!("invalid request: {e}"))
                });
            }
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            Some(Ok(Message::Binary(_))) => {
                return Err(SessionError::new(
                    ErrorCode::ProtocolViolation,
                    "binary data before the connect request",
                ));
            }
            Some(Ok(_)) | None => {
                return Err(SessionError::new(
                    ErrorCode::BadRequest,
                    "closed before a request",
                ));
            }
            Some(Err(e)) => return Err(SessionError::new(ErrorCode::BadRequest, e.to_string())),
        }
    }
}

/// Token, plaintext and target policy, then resolve once and check every address.
pub(crate) async fn authorize(
    shared: &Shared,
    req: &ConnectRequest,
    query: &QueryToken,
) -> Result<(TargetHost, Vec<IpAddr>), SessionError> {
    let claims = match (query, &shared.tokens) {
        (QueryToken::NotRequired, _) | (_, None) => None,
        (QueryToken::Verified(c), _) => c.clone(),
        (QueryToken::Absent, Some(auth)) => {
            let t = req.token.as_deref().ok_or(TokenError::Missing)?;
            auth.verify(t, now_unix())?
        }
    };
    if let Some(c) = &claims {
        c.permits(&req.host, req.port)?;
    }
    let refused = |e: Refusal| SessionError::new(ErrorCode::TargetRefused, e.to_string());
    shared
        .policy
        .check_port(req.port)
        .map_err(|e| SessionError::new(ErrorCode::PortRefused, e.to_string()))?;
    let host = parse_host(&req.host).map_err(|e| refused(e.into()))?;
    shared.policy.check_name(&host).map_err(refused)?;
    if req.security == Security::Plain
        && !shared.tls.for_host(&host.as_server_name()).allow_plaintext
    {
        return Err(SessionError::new(
            ErrorCode::PlaintextRefused,
            "security \"plain\" is disabled by the operator",
        ));
    }
    let addrs = match &host {
        TargetHost::Ip(ip) => vec![*ip],
        TargetHost::Name(n) => {
            match timeout(
                shared.config.limits.connect_timeout,
                shared.resolver.resolve(n),
            )
            .await
            {
                Ok(Ok(a)) if !a.is_empty() => a,
                Ok(Ok(_)) => return Err(unresolvable(n, &"no addresses")),
                Ok(Err(e)) => return Err(unresolvable(n, &e)),
                Err(_) => return Err(unresolvable(n, &"lookup timed out")),
            }
        }
    };
    match (&host, shared.policy.check_addrs(&host, &addrs)) {
        (_, Ok(())) => Ok((host, addrs)),
        (TargetHost::Name(n), Err(e)) => Err(unresolvable(n, &e)),
        // The user typed the address: its class tells them nothing new.
        (TargetHost::Ip(_), Err(Refusal::Address { host, class, .. })) => Err(SessionError::new(
            ErrorCode::TargetRefused,
            format!("{host} is a {class} address, which this bridge does not connect to"),
        )),
        (TargetHost::Ip(_), Err(e)) => Err(refused(e)),
    }
}

/// What the browser learns about a name the bridge will not connect to: the same answer
/// whether the name did not resolve or resolved to an address the policy refuses, so the
/// bridge cannot be used to find out which internal names exist or where they point. The
/// reason (the lookup error, or the address and its class) is logged for the operator only.
fn unresolvable(name: &str, why: &dyn std::fmt::Display) -> SessionError {
    info!(host = name, reason = %why, "name refused: no address this bridge connects to");
    SessionError::new(
        ErrorCode::ResolveFailed,
        "the name did not resolve to an address this bridge connects to",
    )
}

/// Connect while watching the browser: a binary frame before the success answer would be a
/// command sent before TLS is up (STLS command injection), so it aborts the session.
async fn connect_guarded<S>(
    shared: &Shared,
    ws: &mut WebSocketStream<S>,
    req: &ConnectRequest,
    mode: Mode,
    host: &TargetHost,
    addrs: &[IpAddr],
) -> Result<Connected, SessionError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let l = &shared.config.limits;
    let t = Timeouts {
        connect: l.connect_timeout,
        tls: l.tls_timeout,
        stls: l.stls_timeout,
    };
    let name = host.as_server_name();
    let open = async {
        match mode {
            Mode::Relay => {
                upstream::open_relay(shared.connector.as_ref(), addrs, req.port, &t).await
            }
            Mode::Bridge => {
                let target = shared.tls.for_host(&name);
                let c = shared.connector.as_ref();
                upstream::open(c, &name, addrs, req.port, req.security, target, &t).await
            }
        }
    };
    tokio::pin!(open);
    loop {
        tokio::select! {
            r = &mut open => return r,
            m = ws.next() => match m {
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                Some(Ok(Message::Binary(_))) => {
                    return Err(SessionError::new(
                        ErrorCode::ProtocolViolation,
                        "client sent data before the session was ready",
                    ));
                }
                _ => return Err(SessionError::new(ErrorCode::BadRequest, "client left during connect")),
            }
        }
    }
}

async fn send_error<S>(ws: &mut WebSocketStream<S>, e: &SessionError)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let body = ConnectErr::new(e.code, e.detail.clone());
    let json = serde_json::to_string(&body).unwrap_or_default();
    let close = Message::Close(Some(CloseFrame {
        code: CloseCode::from(e.code.close_code()),
        reason: e.code.as_str().into(),
    }));
    let grace = std::time::Duration::from_secs(2);
    let _ = timeout(grace, async {
        ws.send(Message::text(json)).await?;
        ws.send(close).await?;
        // Drain until the browser's close reply so the TCP close is orderly.
        while let Some(Ok(_)) = ws.next().await {}
        Ok::<(), tokio_tungstenite::tungstenite::Error>(())
    })
    .await;
}

/// One session on the upgraded connection `io`: tungstenite handles the connect request and
/// the answer; the relay then frames the byte stream itself on `io` (see `relay`).
///
/// Tungstenite is dropped before the relay starts, with anything it had read but not parsed.
/// That can only be bytes the client sent before it saw the answer, which the protocol forbids
/// except for pings (browsers do not send pings on their own).
pub(crate) async fn run<S>(
    shared: Arc<Shared>,
    mut io: S,
    client_ip: IpAddr,
    query: QueryToken,
    shutdown: ShutdownSignal,
) where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut ws =
        WebSocketStream::from_raw_socket(&mut io, Role::Server, Some(shared.ws_config)).await;
    let limits = &shared.config.limits;
    let mut stop = shutdown.clone();
    let read = tokio::select! {
        r = timeout(limits.handshake_timeout, read_request(&mut ws)) => r,
        _ = stop.recv() => Ok(Err(shutting_down())),
    };
    let req = match read {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => return fail(&shared, &mut ws, e).await,
        Err(_) => {
            let e = SessionError::new(ErrorCode::HandshakeTimeout, "no connect request in time");
            return fail(&shared, &mut ws, e).await;
        }
    };
    // The host is not secret; the token is, and is never logged.
    let span = tracing::info_span!("session", client = %client_ip, host = %req.host, port = req.port, security = ?req.security, end_to_end = ?req.end_to_end);
    let Some((connected, mode)) = prepare(&shared, &mut ws, &req, &query, &shutdown)
        .instrument(span.clone())
        .await
    else {
        return;
    };
    drop(ws);
    // In relay mode the client's bytes must be TLS (after `STLS` for stls) from the first.
    let guard = match (mode, req.security) {
        (Mode::Relay, Security::Stls) => Some(TlsGuard::stls()),
        (Mode::Relay, _) => Some(TlsGuard::tls()),
        (Mode::Bridge, _) => None,
    };
    serve(&shared, io, connected, guard, shutdown)
        .instrument(span)
        .await;
}

/// Choose the mode, authorize, connect and answer; `None` when the session ended there
/// (answered with an error, or the answer could not be sent).
async fn prepare<S>(
    shared: &Shared,
    ws: &mut WebSocketStream<S>,
    req: &ConnectRequest,
    query: &QueryToken,
    shutdown: &ShutdownSignal,
) -> Option<(Connected, Mode)>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let m = &shared.metrics;
    let limits = &shared.config.limits;
    let started = Instant::now();
    let prepare = async {
        // What the request asks for is decided first: a request this bridge will not serve
        // in any case is refused before the token and the policy are looked at.
        let mode = session_mode(shared, req)?;
        let (host, addrs) = authorize(shared, req, query).await?;
        let c = connect_guarded(shared, ws, req, mode, &host, &addrs).await?;
        Ok::<_, SessionError>((c, mode))
    };
    // Shutdown during lookup/connect/TLS ends the session with a clear answer too.
    let mut stop = shutdown.clone();
    let prepared = tokio::select! {
        r = prepare => r,
        _ = stop.recv() => Err(shutting_down()),
    };
    let (connected, mode) = match prepared {
        Ok(c) => c,
        Err(e) => {
            fail(shared, ws, e).await;
            return None;
        }
    };
    m.observe_connect(started.elapsed());
    let relay_mode = mode == Mode::Relay;
    let ok = ConnectOk {
        ok: true,
        security: req.security,
        peer: connected.peer.to_string(),
        // In relay mode the stream is the client's TLS: not insecure, though the bridge has
        // no TLS of its own to report.
        insecure: !relay_mode && connected.tls.is_none(),
        tls: connected.tls.clone(),
        greeting_untrusted: connected.greeting_untrusted.clone(),
        end_to_end: relay_mode,
    };
    let json = serde_json::to_string(&ok).unwrap_or_default();
    match timeout(limits.write_timeout, ws.send(Message::text(json))).await {
        Ok(Ok(())) => Some((connected, mode)),
        _ => None,
    }
}

/// Relay on the raw upgraded connection until either side ends.
async fn serve<S>(
    shared: &Shared,
    io: S,
    connected: Connected,
    guard: Option<TlsGuard>,
    shutdown: ShutdownSignal,
) where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let m = &shared.metrics;
    let limits = &shared.config.limits;
    let end_to_end = guard.is_some();
    info!(peer = %connected.peer, end_to_end, "session ready");
    if end_to_end {
        m.end_to_end_total.fetch_add(1, Relaxed);
    }
    m.sessions_active.fetch_add(1, Relaxed);
    let params = RelayParams {
        idle_timeout: limits.idle_timeout,
        ping_interval: limits.ping_interval,
        write_timeout: limits.write_timeout,
        max_message_size: limits.max_message_size,
    };
    let end = relay(io, connected.stream, &params, guard, m, shutdown).await;
    m.sessions_active.fetch_sub(1, Relaxed);
    match &end {
        RelayEnd::Idle | RelayEnd::PingTimeout | RelayEnd::WriteTimeout => {
            m.error(ErrorCode::IdleTimeout)
        }
        RelayEnd::UpstreamError(_) => m.error(ErrorCode::UpstreamError),
        RelayEnd::ClientProtocol(_) => m.error(ErrorCode::ProtocolViolation),
        RelayEnd::NotTls(why) => {
            m.error(ErrorCode::ProtocolViolation);
            // The client broke the relay's one rule; what it sent is not logged (it may be
            // a password), only that it was refused and not forwarded.
            warn!(
                reason = why,
                "relay mode: the client sent bytes that are not TLS; they were not forwarded"
            );
        }
        _ => {}
    }
    info!(end = ?end, "session closed");
}

fn shutting_down() -> SessionError {
    SessionError::new(ErrorCode::ShuttingDown, "the bridge is shutting down")
}

async fn fail<S>(shared: &Shared, ws: &mut WebSocketStream<S>, e: SessionError)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    shared.metrics.error(e.code);
    debug!(code = e.code.as_str(), detail = %e.detail, "session refused");
    send_error(ws, &e).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    const TLS: Security = Security::Tls;
    const STLS: Security = Security::Stls;
    const PLAIN: Security = Security::Plain;
    const REQUIRE: Option<EndToEnd> = Some(EndToEnd::Require);
    const PREFER: Option<EndToEnd> = Some(EndToEnd::Prefer);

    fn code(r: Result<Mode, (ErrorCode, &'static str)>) -> Result<Mode, ErrorCode> {
        r.map_err(|(c, _)| c)
    }

    #[test]
    fn without_end_to_end_the_bridge_does_tls_unless_it_is_relay_only() {
        for sec in [TLS, STLS] {
            for trust in [false, true] {
                assert_eq!(code(choose_mode(sec, None, false, trust)), Ok(Mode::Bridge));
                assert_eq!(
                    code(choose_mode(sec, None, true, trust)),
                    Err(ErrorCode::RelayOnly)
                );
            }
        }
    }

    #[test]
    fn require_always_relays() {
        for sec in [TLS, STLS] {
            for (relay_only, trust) in [(false, false), (false, true), (true, false), (true, true)]
            {
                assert_eq!(
                    code(choose_mode(sec, REQUIRE, relay_only, trust)),
                    Ok(Mode::Relay)
                );
            }
        }
    }

    #[test]
    fn prefer_gives_bridge_side_tls_only_for_operator_trust_on_a_bridge_that_may_do_tls() {
        for sec in [TLS, STLS] {
            assert_eq!(
                code(choose_mode(sec, PREFER, false, false)),
                Ok(Mode::Relay)
            );
            assert_eq!(
                code(choose_mode(sec, PREFER, false, true)),
                Ok(Mode::Bridge)
            );
            assert_eq!(code(choose_mode(sec, PREFER, true, true)), Ok(Mode::Relay));
            assert_eq!(code(choose_mode(sec, PREFER, true, false)), Ok(Mode::Relay));
        }
    }

    #[test]
    fn plain_is_never_end_to_end() {
        for relay_only in [false, true] {
            assert_eq!(
                code(choose_mode(PLAIN, REQUIRE, relay_only, false)),
                Err(ErrorCode::BadRequest)
            );
        }
        assert_eq!(
            code(choose_mode(PLAIN, PREFER, false, true)),
            Ok(Mode::Bridge)
        );
        assert_eq!(
            code(choose_mode(PLAIN, None, false, false)),
            Ok(Mode::Bridge)
        );
        for e2e in [None, PREFER] {
            assert_eq!(
                code(choose_mode(PLAIN, e2e, true, false)),
                Err(ErrorCode::PlaintextRefused)
            );
        }
    }
}
