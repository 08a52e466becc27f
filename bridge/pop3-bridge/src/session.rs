//! One WebSocket session after the 101: read the target request, check it, connect, answer,
//! relay. Every refusal happens before any TCP connect to the target.

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
use tracing::{Instrument, debug, info};

use crate::Shared;
use crate::policy::{Refusal, TargetHost, parse_host};
use crate::protocol::{ConnectErr, ConnectOk, ConnectRequest, ErrorCode, Security};
use crate::relay::{RelayEnd, RelayParams, relay};
use crate::shutdown::ShutdownSignal;
use crate::token::{TokenClaims, TokenError, now_unix};
use crate::upstream::{self, Connected, Timeouts};

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
    let target = shared.tls.for_host(&name);
    let open = upstream::open(
        shared.connector.as_ref(),
        &name,
        addrs,
        req.port,
        req.security,
        target,
        &t,
    );
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
    let span = tracing::info_span!("session", client = %client_ip, host = %req.host, port = req.port, security = ?req.security);
    let Some(connected) = prepare(&shared, &mut ws, &req, &query, &shutdown)
        .instrument(span.clone())
        .await
    else {
        return;
    };
    drop(ws);
    serve(&shared, io, connected, shutdown)
        .instrument(span)
        .await;
}

/// Authorize, connect and answer; `None` when the session ended there (answered with an
/// error, or the answer could not be sent).
async fn prepare<S>(
    shared: &Shared,
    ws: &mut WebSocketStream<S>,
    req: &ConnectRequest,
    query: &QueryToken,
    shutdown: &ShutdownSignal,
) -> Option<Connected>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let m = &shared.metrics;
    let limits = &shared.config.limits;
    let started = Instant::now();
    let prepare = async {
        let (host, addrs) = authorize(shared, req, query).await?;
        connect_guarded(shared, ws, req, &host, &addrs).await
    };
    // Shutdown during lookup/connect/TLS ends the session with a clear answer too.
    let mut stop = shutdown.clone();
    let prepared = tokio::select! {
        r = prepare => r,
        _ = stop.recv() => Err(shutting_down()),
    };
    let connected = match prepared {
        Ok(c) => c,
        Err(e) => {
            fail(shared, ws, e).await;
            return None;
        }
    };
    m.observe_connect(started.elapsed());
    let ok = ConnectOk {
        ok: true,
        security: req.security,
        peer: connected.peer.to_string(),
        insecure: connected.tls.is_none(),
        tls: connected.tls.clone(),
        greeting_untrusted: connected.greeting_untrusted.clone(),
    };
    let json = serde_json::to_string(&ok).unwrap_or_default();
    match timeout(limits.write_timeout, ws.send(Message::text(json))).await {
        Ok(Ok(())) => Some(connected),
        _ => None,
    }
}

/// Relay on the raw upgraded connection until either side ends.
async fn serve<S>(shared: &Shared, io: S, connected: Connected, shutdown: ShutdownSignal)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let m = &shared.metrics;
    let limits = &shared.config.limits;
    info!(peer = %connected.peer, "session ready");
    m.sessions_active.fetch_add(1, Relaxed);
    let params = RelayParams {
        idle_timeout: limits.idle_timeout,
        ping_interval: limits.ping_interval,
        write_timeout: limits.write_timeout,
        max_message_size: limits.max_message_size,
    };
    let end = relay(io, connected.stream, &params, m, shutdown).await;
    m.sessions_active.fetch_sub(1, Relaxed);
    match &end {
        RelayEnd::Idle | RelayEnd::PingTimeout | RelayEnd::WriteTimeout => {
            m.error(ErrorCode::IdleTimeout)
        }
        RelayEnd::UpstreamError(_) => m.error(ErrorCode::UpstreamError),
        RelayEnd::ClientProtocol(_) => m.error(ErrorCode::ProtocolViolation),
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
