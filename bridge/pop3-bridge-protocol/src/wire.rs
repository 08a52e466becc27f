//! The `pop3-bridge.v1` wire protocol (docs/bridge-protocol.md): one JSON request from the
//! client, one JSON answer from the bridge, then binary frames carrying POP3 bytes.

use std::fmt;

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize};

/// The WebSocket subprotocol name. A new incompatible protocol gets a new name.
pub const SUBPROTOCOL: &str = "pop3-bridge.v1";

/// The path of the WebSocket endpoint.
pub const WS_PATH: &str = "/pop3";

/// How the bridge secures the connection to the mail server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Security {
    /// Implicit TLS (normally port 995).
    Tls,
    /// Plain connect, then `STLS` and a TLS handshake done by the bridge (normally port 110).
    Stls,
    /// No encryption at all; refused unless the operator allowed it.
    Plain,
}

impl Security {
    /// The name on the wire: `tls`, `stls` or `plain`.
    pub fn as_str(self) -> &'static str {
        match self {
            Security::Tls => "tls",
            Security::Stls => "stls",
            Security::Plain => "plain",
        }
    }
}

/// Whether TLS ends in the client instead of in the bridge (§2, `end_to_end`).
///
/// In relay mode the bridge checks the token and the policy, resolves and connects, and then
/// relays raw bytes: the client does TLS (and, for `stls`, sends `STLS`) itself, so the bridge
/// never sees the password or the mail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EndToEnd {
    /// Relay mode or nothing: a bridge that would have to do TLS itself refuses instead.
    Require,
    /// Relay mode, unless the operator configured this server's trust (its own CA or pins) on
    /// the bridge: then the bridge does TLS as without the field (the answer says which).
    Prefer,
}

impl EndToEnd {
    /// The name on the wire: `require` or `prefer`.
    pub fn as_str(self) -> &'static str {
        match self {
            EndToEnd::Require => "require",
            EndToEnd::Prefer => "prefer",
        }
    }
}

/// The client's first (and only) text frame (§2).
///
/// `Debug` shows whether a token is present, never the token.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectRequest {
    /// The mail server as the user typed it (also the TLS server name).
    pub host: String,
    /// The mail server's port (110 or 995 unless the operator allowed others).
    pub port: u16,
    /// How the bridge secures the connection to the mail server.
    pub security: Security,
    /// Access token, when it was not in the query string. A secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// Ask for relay mode (TLS in the client). Absent: the bridge does TLS, as in the first
    /// version of the protocol; an older bridge refuses a request carrying it (`bad_request`,
    /// unknown fields are errors), so absent is never written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_to_end: Option<EndToEnd>,
}

impl fmt::Debug for ConnectRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectRequest")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("end_to_end", &self.end_to_end)
            .finish()
    }
}

/// TLS details of the bridge's connection to the mail server (§3), as on the wire
/// (snake_case). The JS API shows the same fields in camelCase.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TlsInfo {
    /// "TLSv1.3" or "TLSv1.2".
    pub version: String,
    /// The negotiated cipher suite, e.g. "TLS13_AES_256_GCM_SHA384".
    pub cipher: String,
    /// The name the certificate was checked against (what the user typed).
    pub server_name: String,
    /// The end-entity certificate's subject (distinguished name).
    pub subject: String,
    /// The end-entity certificate's issuer (distinguished name).
    pub issuer: String,
    /// RFC 3339 UTC, e.g. "2030-01-01T00:00:00Z".
    pub not_after: String,
    /// True when the chain verified against the web PKI roots or a configured extra CA.
    pub verified: bool,
    /// Present when the operator configured pins for this server: whether one matched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pin_matched: Option<bool>,
}

/// The success answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectOk {
    /// Always true.
    pub ok: bool,
    /// The security the client asked for, now in place.
    pub security: Security,
    /// The address the bridge connected to (after the policy check).
    pub peer: String,
    /// TLS details; absent for `plain`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsInfo>,
    /// With `stls`: the server greeting received *before* TLS. Untrusted: a network attacker
    /// could have written it. Never parse it (e.g. for an APOP timestamp); show it as text only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub greeting_untrusted: Option<String>,
    /// True when the POP3 stream is not encrypted (operator-allowed plaintext).
    pub insecure: bool,
    /// True in relay mode: the bridge connected and relays raw bytes; the client does TLS
    /// (and `STLS`) itself. Then `tls` and `greeting_untrusted` are absent and `insecure` is
    /// false. Written only when true, so a bridge-side TLS answer is byte for byte as before.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub end_to_end: bool,
}

/// The failure answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConnectErr {
    /// Always false.
    pub ok: bool,
    /// What went wrong.
    pub error: ErrorBody,
}

impl ConnectErr {
    /// The answer for `code`, with its plain-language message.
    pub fn new(code: ErrorCode, detail: impl Into<String>) -> ConnectErr {
        ConnectErr {
            ok: false,
            error: ErrorBody {
                code,
                message: code.message().to_owned(),
                detail: detail.into(),
            },
        }
    }
}

/// The `error` object of a failure answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ErrorBody {
    /// The machine-readable code the UI switches on.
    pub code: ErrorCode,
    /// A plain-language sentence the UI may show as is.
    pub message: String,
    /// Technical detail (may quote sanitised server text).
    pub detail: String,
}

/// The bridge's answer as a client reads it: success, or a refusal.
///
/// Reading is lenient where a newer bridge could differ without breaking the session: unknown
/// fields are ignored, and a refusal with a code this version does not know (or without an
/// error body) is still a refusal, with [`Refusal::code`] `None`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// The bridge is connected to the mail server; POP3 bytes follow.
    Ok(ConnectOk),
    /// The bridge refused; it closes the WebSocket next.
    Refused(Refusal),
}

/// A failure answer as read by the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The code, when it is one of this version's answer codes ([`ErrorCode::in_answer`]).
    pub code: Option<ErrorCode>,
    /// The code as the bridge sent it (empty when it sent none).
    pub code_sent: String,
    /// The bridge's plain-language sentence (empty when it sent none).
    pub message: String,
    /// Technical detail, when the bridge sent some (may quote sanitised server text).
    pub detail: Option<String>,
}

#[derive(Deserialize)]
struct RawAnswer {
    ok: bool,
    #[serde(default)]
    security: Option<Security>,
    #[serde(default)]
    peer: Option<String>,
    #[serde(default)]
    tls: Option<TlsInfo>,
    #[serde(default)]
    greeting_untrusted: Option<String>,
    #[serde(default)]
    insecure: Option<bool>,
    #[serde(default)]
    end_to_end: bool,
    #[serde(default)]
    error: Option<RawError>,
}

#[derive(Deserialize)]
struct RawError {
    #[serde(default)]
    code: String,
    #[serde(default)]
    message: String,
    #[serde(default)]
    detail: Option<String>,
}

impl<'de> Deserialize<'de> for Answer {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Answer, D::Error> {
        let raw = RawAnswer::deserialize(d)?;
        if !raw.ok {
            let e = raw.error.unwrap_or(RawError {
                code: String::new(),
                message: String::new(),
                detail: None,
            });
            return Ok(Answer::Refused(Refusal {
                code: ErrorCode::from_name(&e.code).filter(|c| c.in_answer()),
                code_sent: e.code,
                message: e.message,
                detail: e.detail,
            }));
        }
        Ok(Answer::Ok(ConnectOk {
            ok: true,
            security: raw
                .security
                .ok_or_else(|| D::Error::missing_field("security"))?,
            peer: raw.peer.ok_or_else(|| D::Error::missing_field("peer"))?,
            tls: raw.tls,
            greeting_untrusted: raw.greeting_untrusted,
            insecure: raw
                .insecure
                .ok_or_else(|| D::Error::missing_field("insecure"))?,
            end_to_end: raw.end_to_end,
        }))
    }
}

/// Machine-readable error codes: the `code` of a failure answer, the reason of the close that
/// follows it, and the `kind` label of the bridge's error metric. The UI switches on these;
/// `message` is for people.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The connect request is malformed or missing (a bug in the client).
    BadRequest,
    /// No connect request arrived within the handshake timeout.
    HandshakeTimeout,
    /// The token is missing, malformed, wrongly signed, or for another host or port.
    TokenInvalid,
    /// The token is past its `exp` (or before its `nbf`).
    TokenExpired,
    /// The policy refuses the host: a local, private or reserved address, a numeric trick,
    /// a local name, or not on the operator's list.
    TargetRefused,
    /// The policy refuses the port (not 110 or 995, and not allowed by the operator).
    PortRefused,
    /// `plain` was requested but the operator does not allow it.
    PlaintextRefused,
    /// The bridge only relays end-to-end encrypted sessions (relay-only) and the request asked
    /// it to do TLS itself (no `end_to_end`).
    RelayOnly,
    /// The host name did not resolve, or resolved only to addresses the policy refuses: the
    /// same answer for both, so a page cannot learn which internal names exist.
    ResolveFailed,
    /// The TCP connection was refused or reset.
    ConnectFailed,
    /// No TCP answer within the connect timeout.
    ConnectTimeout,
    /// The TLS handshake failed for a reason other than the certificate.
    TlsHandshake,
    /// No TLS handshake within the TLS timeout.
    TlsTimeout,
    /// Any other certificate problem.
    CertInvalid,
    /// The certificate has expired or is not valid yet.
    CertExpired,
    /// The certificate is not valid for the name the user typed.
    CertNameMismatch,
    /// The chain does not lead to a trusted root or configured CA, and no pin matched.
    CertUnknownIssuer,
    /// The greeting was not `+OK`, `STLS` was answered with anything but `+OK`, or the
    /// server closed. Never continues in plaintext.
    StlsRefused,
    /// Bytes arrived after the greeting before `STLS` was sent, or after the `+OK` to `STLS`
    /// before the handshake (response injection).
    StlsInjection,
    /// Greeting, `STLS` and `+OK` took longer than the STLS timeout.
    StlsTimeout,
    /// The client sent binary data before the answer (the STLS command-injection guard), or,
    /// in relay mode, something other than TLS records (and the one `STLS` command): only a
    /// close reason then, since the session was already answered.
    ProtocolViolation,
    /// Only a close reason and a metric kind (§4), never in an answer.
    IdleTimeout,
    /// Only a close reason and a metric kind (§4), never in an answer.
    UpstreamError,
    /// The bridge is shutting down.
    ShuttingDown,
}

impl ErrorCode {
    /// Every code, in declaration order (for tables, metrics and tests).
    pub const ALL: [ErrorCode; 24] = [
        ErrorCode::BadRequest,
        ErrorCode::HandshakeTimeout,
        ErrorCode::TokenInvalid,
        ErrorCode::TokenExpired,
        ErrorCode::TargetRefused,
        ErrorCode::PortRefused,
        ErrorCode::PlaintextRefused,
        ErrorCode::RelayOnly,
        ErrorCode::ResolveFailed,
        ErrorCode::ConnectFailed,
        ErrorCode::ConnectTimeout,
        ErrorCode::TlsHandshake,
        ErrorCode::TlsTimeout,
        ErrorCode::CertInvalid,
        ErrorCode::CertExpired,
        ErrorCode::CertNameMismatch,
        ErrorCode::CertUnknownIssuer,
        ErrorCode::StlsRefused,
        ErrorCode::StlsInjection,
        ErrorCode::StlsTimeout,
        ErrorCode::ProtocolViolation,
        ErrorCode::IdleTimeout,
        ErrorCode::UpstreamError,
        ErrorCode::ShuttingDown,
    ];

    /// The name on the wire (snake_case, as serde writes it), e.g. `"cert_expired"`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::BadRequest => "bad_request",
            ErrorCode::HandshakeTimeout => "handshake_timeout",
            ErrorCode::TokenInvalid => "token_invalid",
            ErrorCode::TokenExpired => "token_expired",
            ErrorCode::TargetRefused => "target_refused",
            ErrorCode::PortRefused => "port_refused",
            ErrorCode::PlaintextRefused => "plaintext_refused",
            ErrorCode::RelayOnly => "relay_only",
            ErrorCode::ResolveFailed => "resolve_failed",
            ErrorCode::ConnectFailed => "connect_failed",
            ErrorCode::ConnectTimeout => "connect_timeout",
            ErrorCode::TlsHandshake => "tls_handshake",
            ErrorCode::TlsTimeout => "tls_timeout",
            ErrorCode::CertInvalid => "cert_invalid",
            ErrorCode::CertExpired => "cert_expired",
            ErrorCode::CertNameMismatch => "cert_name_mismatch",
            ErrorCode::CertUnknownIssuer => "cert_unknown_issuer",
            ErrorCode::StlsRefused => "stls_refused",
            ErrorCode::StlsInjection => "stls_injection",
            ErrorCode::StlsTimeout => "stls_timeout",
            ErrorCode::ProtocolViolation => "protocol_violation",
            ErrorCode::IdleTimeout => "idle_timeout",
            ErrorCode::UpstreamError => "upstream_error",
            ErrorCode::ShuttingDown => "shutting_down",
        }
    }

    /// The code named `name`, if there is one.
    pub fn from_name(name: &str) -> Option<ErrorCode> {
        ErrorCode::ALL.into_iter().find(|c| c.as_str() == name)
    }

    /// Whether the bridge sends this code in a failure answer (§3). `idle_timeout` and
    /// `upstream_error` end a session that was already answered with success (§4).
    pub fn in_answer(self) -> bool {
        !matches!(self, ErrorCode::IdleTimeout | ErrorCode::UpstreamError)
    }

    /// The WebSocket close code sent after the error answer (one per error class).
    pub fn close_code(self) -> u16 {
        use ErrorCode::*;
        match self {
            BadRequest | ProtocolViolation => 4000,
            TokenInvalid | TokenExpired => 4001,
            HandshakeTimeout => 4002,
            TargetRefused | PortRefused | PlaintextRefused | RelayOnly => 4003,
            ResolveFailed => 4004,
            ConnectFailed | ConnectTimeout => 4005,
            TlsHandshake | TlsTimeout => 4006,
            CertInvalid | CertExpired | CertNameMismatch | CertUnknownIssuer => 4007,
            StlsRefused | StlsInjection | StlsTimeout => 4008,
            IdleTimeout => 4009,
            UpstreamError => 4010,
            ShuttingDown => 1001,
        }
    }

    /// The plain-language sentence for the UI.
    pub fn message(self) -> &'static str {
        use ErrorCode::*;
        match self {
            BadRequest => "The app sent a request the bridge does not understand. Reload the page.",
            HandshakeTimeout => "The app did not say which server to connect to in time.",
            TokenInvalid => {
                "This bridge needs a valid access token for this server. Ask its operator for one."
            }
            TokenExpired => "Your access token has expired. Get a new one and try again.",
            TargetRefused => {
                "This bridge does not connect to that server (local, private or unlisted addresses are refused)."
            }
            PortRefused => {
                "This bridge only connects to the POP3 ports (110 and 995, unless its operator added others)."
            }
            PlaintextRefused => {
                "Unencrypted POP3 is not allowed by this bridge. Use TLS (port 995) or STLS (port 110)."
            }
            RelayOnly => {
                "This bridge only relays end-to-end encrypted connections: it never decrypts mail, so it does not do TLS for you."
            }
            ResolveFailed => "The server name could not be found. Check the spelling.",
            ConnectFailed => {
                "The mail server refused or dropped the connection. Check the host and port."
            }
            ConnectTimeout => {
                "The mail server did not answer in time. Check the host and port, or try later."
            }
            TlsHandshake => "A secure (TLS) connection to the mail server could not be set up.",
            TlsTimeout => "The mail server did not complete the secure (TLS) connection in time.",
            CertInvalid => "The mail server's certificate is not valid.",
            CertExpired => "The mail server's certificate has expired (or is not valid yet).",
            CertNameMismatch => {
                "The mail server's certificate is for a different name than the one you entered."
            }
            CertUnknownIssuer => {
                "The mail server's certificate was issued by an authority this bridge does not trust (self-signed?). The operator can add its CA or a pin."
            }
            StlsRefused => {
                "The mail server does not offer STLS (encryption on port 110). The connection was stopped rather than continue unencrypted."
            }
            StlsInjection => {
                "The mail server (or someone in between) sent unexpected data while switching to encryption. The connection was stopped for your safety."
            }
            StlsTimeout => {
                "The mail server did not answer the switch to encryption (STLS) in time."
            }
            ProtocolViolation => {
                "The app sent data before the connection was ready. Reload the page."
            }
            IdleTimeout => "The session was idle for too long and was closed.",
            UpstreamError => "The connection to the mail server failed.",
            ShuttingDown => "The bridge is shutting down. Try again in a moment.",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_match_serde() {
        for c in ErrorCode::ALL {
            assert_eq!(ErrorCode::from_name(c.as_str()), Some(c));
            let json = serde_json::to_string(&c).unwrap();
            assert_eq!(json, format!("\"{}\"", c.as_str()));
        }
        assert_eq!(ErrorCode::from_name("internal"), None);
    }

    #[test]
    fn debug_of_a_request_hides_the_token() {
        let req = ConnectRequest {
            host: "pop.example.com".into(),
            port: 995,
            security: Security::Tls,
            token: Some("v1.secret-token".into()),
            end_to_end: Some(EndToEnd::Require),
        };
        let shown = format!("{req:?}");
        assert!(!shown.contains("secret-token"), "{shown}");
        assert!(
            shown.contains("pop.example.com")
                && shown.contains("<redacted>")
                && shown.contains("Require"),
            "{shown}"
        );
    }
}
