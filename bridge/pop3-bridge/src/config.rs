//! Configuration: defaults < TOML file < environment (`POP3_BRIDGE_*`) < command-line flags.
//!
//! [`Config`] is what the library runs on; tests build it directly. [`Cli`] is the clap
//! front-end, [`FileConfig`] the TOML shape (see bridge/pop3-bridge/bridge.sample.toml).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use serde::Deserialize;

use crate::policy::{IpNet, Policy, parse_host};
use crate::token::TokenMode;

/// Per-server settings for servers the operator knows (e.g. a self-signed home server).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// Host name exactly as users will type it. An entry only gives the server its TLS and
    /// plaintext settings: it does not allow-list the host (put it in `allow_hosts` for a
    /// server on the LAN or with `servers_only`).
    pub host: String,
    /// PEM file with extra CA certificates trusted for this server only.
    #[serde(default)]
    pub extra_ca: Option<PathBuf>,
    /// SHA-256 fingerprints (hex, colons optional) of the server's end-entity certificate.
    /// With pins, the certificate must match one, even if its chain verifies; a matching pin
    /// also accepts a certificate whose chain does not verify.
    #[serde(default)]
    pub pin_sha256: Vec<String>,
    /// Allow `security: "plain"` to this server even when plaintext is off globally.
    #[serde(default)]
    pub allow_plaintext: bool,
}

/// Resource limits and timeouts.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Concurrent WebSocket sessions, all clients together. The next one gets HTTP 503.
    pub max_sessions: usize,
    /// Concurrent sessions per client IP. The next one gets HTTP 429.
    pub max_sessions_per_ip: usize,
    /// Concurrent TCP connections to the listener (sessions plus pending HTTP requests).
    pub max_connections: usize,
    /// Concurrent not-yet-upgraded HTTP connections per client IP, so one address cannot
    /// hold the whole listener with idle sockets. Connections from a trusted proxy are counted
    /// per forwarded client while a request of that client is being answered.
    pub max_connections_per_ip: usize,
    /// IPv6 clients are counted per prefix of this many bits in every per-client cap (one
    /// customer usually has a whole /64). IPv4 clients are counted per address.
    pub ipv6_prefix: u8,
    /// Time for the HTTP request headers, and then for the client's target message.
    pub handshake_timeout: Duration,
    /// TCP connect to the mail server.
    pub connect_timeout: Duration,
    /// TLS handshake to the mail server (also bounds the listener's TLS handshake).
    pub tls_timeout: Duration,
    /// The whole STLS exchange: greeting, STLS, +OK.
    pub stls_timeout: Duration,
    /// No POP3 bytes in either direction for this long closes the session. RFC 1939 servers
    /// wait at least 10 minutes, so we never cut earlier than the server would.
    pub idle_timeout: Duration,
    /// WebSocket ping interval; a browser that answers no ping for two intervals is dead.
    pub ping_interval: Duration,
    /// Longest time one frame may wait for the browser to accept it (backpressure).
    pub write_timeout: Duration,
    /// Longest time writing one HTTP response (a static file, a refusal, metrics) may take; a
    /// client that has not taken it all by then is disconnected, so slow readers cannot hold
    /// connection slots.
    pub http_write_timeout: Duration,
    /// Largest WebSocket message and frame accepted from the browser.
    pub max_message_size: usize,
    /// How long shutdown waits for sessions to close.
    pub shutdown_grace: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_sessions: 1024,
            max_sessions_per_ip: 32,
            max_connections: 4096,
            max_connections_per_ip: 64,
            ipv6_prefix: 64,
            handshake_timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(10),
            tls_timeout: Duration::from_secs(15),
            stls_timeout: Duration::from_secs(15),
            idle_timeout: Duration::from_secs(15 * 60),
            ping_interval: Duration::from_secs(30),
            write_timeout: Duration::from_secs(120),
            http_write_timeout: Duration::from_secs(60),
            max_message_size: 64 * 1024,
            shutdown_grace: Duration::from_secs(10),
        }
    }
}

/// Everything the bridge runs on.
///
/// `Debug` shows whether a token secret is set, never the secret (see `redact.rs`).
#[derive(Clone)]
pub struct Config {
    /// Address the binary binds (tests and embedders bind their own listener).
    pub listen: SocketAddr,
    /// Directory of the web UI, served at `/`.
    pub web_root: Option<PathBuf>,
    /// Directory of the built wasm package, served at `/pkg/`.
    pub pkg_root: Option<PathBuf>,
    /// Extra names this bridge is reached by (Host header allow-list; loopback names are
    /// always accepted when the bridge listens on loopback).
    pub public_hosts: Vec<String>,
    /// Extra allowed `Origin` values (the bridge's own origin is always allowed).
    pub origins: Vec<String>,
    /// Operator target allow-list: host names, IPs, CIDRs.
    pub allow_hosts: Vec<String>,
    /// Extra target ports besides 110 and 995.
    pub allow_ports: Vec<u16>,
    /// Only the allow-listed hosts (`allow_hosts`) may be reached.
    pub servers_only: bool,
    /// Allow `security: "plain"` to any allowed target.
    pub allow_plaintext: bool,
    /// Relay only end-to-end encrypted sessions (`end_to_end` in the connect request): the
    /// bridge never does TLS itself, so it never sees a password or a message, and users can
    /// be told so. A request for bridge-side TLS is refused (`relay_only`). Cannot be combined
    /// with plaintext (refused at start-up); `extra_ca` and `[[server]]` CAs and pins are
    /// then unused (a warning says so).
    pub relay_only: bool,
    /// Extra CA PEM files trusted for all servers.
    pub extra_ca: Vec<PathBuf>,
    /// Servers the operator knows, with their own CA, pins or plaintext (not an allow-list).
    pub servers: Vec<ServerConfig>,
    /// When set, every session needs an access token checked with this secret. The binary
    /// reads it from `token_secret_file`, the environment or the TOML file, never from its
    /// command line.
    pub token_secret: Option<String>,
    /// How tokens are checked (HMAC-signed claims by default).
    pub token_mode: TokenMode,
    /// Also accept the token as `?token=` in the WebSocket URL (HMAC tokens only). Off by
    /// default: URLs end up in proxy and access logs, so a token there is refused (400) and
    /// belongs in the connect request. Refused at start-up with `token_mode` shared.
    pub token_in_query: bool,
    /// TLS for the listener (required for a non-loopback bind unless behind a proxy).
    pub tls_cert: Option<PathBuf>,
    /// The private key (PEM) belonging to `tls_cert`.
    pub tls_key: Option<PathBuf>,
    /// A TLS-terminating reverse proxy is in front: allow a public bind without listener TLS,
    /// and take the client IP from `X-Forwarded-For` on connections from `trusted_proxies`.
    pub behind_proxy: bool,
    /// The reverse proxies (IPs or CIDR networks) whose `X-Forwarded-For` is believed (with
    /// `behind_proxy`). A public bind behind a proxy needs at least one; on a loopback bind
    /// the default is the loopback addresses (a proxy on the same host).
    pub trusted_proxies: Vec<String>,
    /// Who may show the served UI in a frame: CSP `frame-ancestors` sources such as `'self'`
    /// or `https://portal.example.org`. Empty (the default) means `'none'`: nobody.
    pub frame_ancestors: Vec<String>,
    /// A separate listener for `/metrics` (off by default). The main listener answers 404 for
    /// `/metrics` unless `metrics_token` is set.
    pub metrics_listen: Option<SocketAddr>,
    /// A bearer token for `/metrics` (`Authorization: Bearer TOKEN`, at least 16 characters).
    /// With it, the main listener serves `/metrics` to requests that carry it, and the metrics
    /// listener requires it too.
    pub metrics_token: Option<String>,
    /// Read the UI's files from disk on every request instead of once at start-up: for working
    /// on `web/` only (edits show without a restart).
    pub web_reload: bool,
    /// Kiosk mode for the UI this bridge serves (`/client-config.json`): nothing stored, mail
    /// left on the server, idle logout after `kiosk_idle_secs`. Embedders cannot turn it off.
    pub kiosk: bool,
    /// Seconds without activity before a kiosk session logs out.
    pub kiosk_idle_secs: u32,
    /// Run on a non-loopback address without tokens and without `servers_only`: anyone who
    /// can reach the bridge may use it to reach any public POP3 server. Refused unless set.
    pub open_relay: bool,
    /// Also serve `web_root/dev/`: the mock API (`?api=mock`) and the test pages. For tests
    /// and development only; off, those paths answer 404 and the UI ignores `?api=mock`.
    pub dev_pages: bool,
    /// Resource limits and timeouts.
    pub limits: Limits,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            web_root: None,
            pkg_root: None,
            public_hosts: Vec::new(),
            origins: Vec::new(),
            allow_hosts: Vec::new(),
            allow_ports: Vec::new(),
            servers_only: false,
            allow_plaintext: false,
            relay_only: false,
            extra_ca: Vec::new(),
            servers: Vec::new(),
            token_secret: None,
            token_mode: TokenMode::Hmac,
            token_in_query: false,
            tls_cert: None,
            tls_key: None,
            behind_proxy: false,
            trusted_proxies: Vec::new(),
            frame_ancestors: Vec::new(),
            metrics_listen: None,
            metrics_token: None,
            web_reload: false,
            kiosk: false,
            kiosk_idle_secs: 300,
            open_relay: false,
            dev_pages: false,
            limits: Limits::default(),
        }
    }
}

/// Why a configuration could not be loaded or is refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The TOML file could not be read.
    #[error("cannot read config file {0}: {1}")]
    Read(PathBuf, std::io::Error),
    /// The TOML file is not valid TOML, or has an unknown key or a wrong type.
    #[error("config file {0} is not valid: {1}")]
    Parse(PathBuf, String),
    /// A setting is out of range or conflicts with another (the message says which).
    #[error("{0}")]
    Invalid(String),
}

/// The TOML file. Every key is optional; see bridge/pop3-bridge/bridge.sample.toml.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub listen: Option<SocketAddr>,
    pub web_root: Option<PathBuf>,
    pub pkg_root: Option<PathBuf>,
    #[serde(default)]
    pub public_hosts: Vec<String>,
    #[serde(default)]
    pub origins: Vec<String>,
    #[serde(default)]
    pub allow_hosts: Vec<String>,
    #[serde(default)]
    pub allow_ports: Vec<u16>,
    pub servers_only: Option<bool>,
    pub allow_plaintext: Option<bool>,
    pub relay_only: Option<bool>,
    #[serde(default)]
    pub extra_ca: Vec<PathBuf>,
    #[serde(default, rename = "server")]
    pub servers: Vec<ServerConfig>,
    pub token_secret: Option<String>,
    pub token_secret_file: Option<PathBuf>,
    pub token_mode: Option<TokenMode>,
    pub token_in_query: Option<bool>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    pub behind_proxy: Option<bool>,
    #[serde(default)]
    pub trusted_proxies: Vec<String>,
    #[serde(default)]
    pub frame_ancestors: Vec<String>,
    pub metrics_listen: Option<SocketAddr>,
    pub metrics_token: Option<String>,
    pub metrics_token_file: Option<PathBuf>,
    pub web_reload: Option<bool>,
    pub kiosk: Option<bool>,
    pub kiosk_idle_secs: Option<u32>,
    pub open_relay: Option<bool>,
    pub dev_pages: Option<bool>,
    pub log: Option<String>,
    #[serde(default)]
    pub limits: FileLimits,
}

/// `[limits]` in the TOML file; durations in seconds (fractions allowed).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileLimits {
    pub max_sessions: Option<usize>,
    pub max_sessions_per_ip: Option<usize>,
    pub max_connections: Option<usize>,
    pub max_connections_per_ip: Option<usize>,
    pub ipv6_prefix: Option<u8>,
    pub handshake_timeout: Option<f64>,
    pub connect_timeout: Option<f64>,
    pub tls_timeout: Option<f64>,
    pub stls_timeout: Option<f64>,
    pub idle_timeout: Option<f64>,
    pub ping_interval: Option<f64>,
    pub write_timeout: Option<f64>,
    pub http_write_timeout: Option<f64>,
    pub max_message_size: Option<usize>,
    pub shutdown_grace: Option<f64>,
}

/// `--version`: the crate version and the web UI built into the binary (a hash of its files,
/// or "no web UI embedded"; see build.rs).
const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (",
    env!("POP3_BRIDGE_UI_ID"),
    ")"
);

/// pop3-bridge: a WebSocket-to-POP3 relay for the in-browser POP3 client.
///
/// Serves the web UI, /healthz, /metrics and the WebSocket endpoint /pop3 (subprotocol
/// pop3-bridge.v1). Targets are default-deny: ports 110/995 only, public addresses only, TLS
/// or STLS only. Every flag can also be set in the TOML file (--config) or as an environment
/// variable `POP3_BRIDGE_<FLAG>` (list flags take comma-separated values there). The token
/// secret is read from a file (--token-secret-file), a systemd credential (token-secret) or
/// the environment variable POP3_BRIDGE_TOKEN_SECRET, never from the command line, which every
/// user can see (ps). Started by socket activation (LISTEN_FDS, pop3-bridge.socket), it serves
/// on the inherited socket instead of binding --listen.
#[derive(Debug, Parser)]
#[command(name = "pop3-bridge", version = VERSION, about, long_about)]
pub struct Cli {
    /// A subcommand instead of running the bridge.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// The settings.
    #[command(flatten)]
    pub opts: CliOpts,
}

/// The binary's subcommands; without one it runs the bridge.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print an HMAC access token bound to one server (uses the token secret: --token-secret-file
    /// or POP3_BRIDGE_TOKEN_SECRET).
    MintToken {
        /// Mail server host name the token is valid for.
        #[arg(long)]
        host: String,
        /// Mail server port the token is valid for.
        #[arg(long)]
        port: u16,
        /// Lifetime in seconds.
        #[arg(long, default_value_t = 3600)]
        ttl: u64,
    },
}

/// The bridge's settings as flags and environment variables (the `Config` fields, with
/// durations in seconds); `into_config` merges them over the TOML file.
#[derive(Args, Clone)]
pub struct CliOpts {
    /// TOML configuration file (flags and environment override it).
    #[arg(long, env = "POP3_BRIDGE_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Address to listen on. Default 127.0.0.1:8080. A non-loopback address requires
    /// --tls-cert/--tls-key or --behind-proxy.
    #[arg(long, env = "POP3_BRIDGE_LISTEN", value_name = "ADDR:PORT")]
    pub listen: Option<SocketAddr>,
    /// Directory with the web UI, served at /.
    #[arg(long, env = "POP3_BRIDGE_WEB_ROOT", value_name = "DIR")]
    pub web_root: Option<PathBuf>,
    /// Directory with the built wasm package, served at /pkg/.
    #[arg(long, env = "POP3_BRIDGE_PKG_ROOT", value_name = "DIR")]
    pub pkg_root: Option<PathBuf>,
    /// Allow a target: host name, IP address or CIDR network (e.g. a home server). A name
    /// opens private, unique-local and CGNAT addresses for that name; loopback and link-local
    /// need an IP or CIDR entry (`localhost` opens loopback). Repeatable.
    #[arg(
        long = "allow-host",
        env = "POP3_BRIDGE_ALLOW_HOST",
        value_delimiter = ',',
        value_name = "HOST|IP|CIDR"
    )]
    pub allow_hosts: Vec<String>,
    /// Allow an extra target port besides 110 and 995. Repeatable.
    #[arg(
        long = "allow-port",
        env = "POP3_BRIDGE_ALLOW_PORT",
        value_delimiter = ',',
        value_name = "PORT"
    )]
    pub allow_ports: Vec<u16>,
    /// Only allow-listed hosts (--allow-host) may be reached.
    #[arg(long, env = "POP3_BRIDGE_SERVERS_ONLY")]
    pub servers_only: bool,
    /// Allow unencrypted POP3 (security "plain"). The UI marks such sessions insecure.
    #[arg(long, env = "POP3_BRIDGE_ALLOW_PLAINTEXT")]
    pub allow_plaintext: bool,
    /// Relay only end-to-end encrypted sessions: TLS ends in the browser, never here, so this
    /// bridge cannot read mail or passwords. Requests for bridge-side TLS are refused
    /// (relay_only); not with --allow-plaintext.
    #[arg(long, env = "POP3_BRIDGE_RELAY_ONLY")]
    pub relay_only: bool,
    /// Extra CA certificates (PEM) trusted for all servers, in addition to the web PKI roots.
    #[arg(
        long = "extra-ca",
        env = "POP3_BRIDGE_EXTRA_CA",
        value_delimiter = ',',
        value_name = "PEM"
    )]
    pub extra_ca: Vec<PathBuf>,
    /// Extra allowed Origin (e.g. `https://mail.example.org`). The bridge's own origin is
    /// always allowed. Repeatable.
    #[arg(
        long = "origin",
        env = "POP3_BRIDGE_ORIGIN",
        value_delimiter = ',',
        value_name = "ORIGIN"
    )]
    pub origins: Vec<String>,
    /// A name this bridge is reached by (Host header allow-list, against DNS rebinding).
    /// Loopback names are always accepted on a loopback bind. Repeatable.
    #[arg(
        long = "public-host",
        env = "POP3_BRIDGE_PUBLIC_HOST",
        value_delimiter = ',',
        value_name = "NAME"
    )]
    pub public_hosts: Vec<String>,
    /// Require access tokens signed with (hmac) or equal to (shared) the secret in FILE (at
    /// least 16 characters; one trailing newline is ignored; the file must not be accessible
    /// to other users). Or put the secret itself in the environment variable
    /// POP3_BRIDGE_TOKEN_SECRET, or, under systemd, in the credential `token-secret`
    /// (LoadCredential=token-secret:/etc/pop3-bridge/token-secret; read from
    /// $CREDENTIALS_DIRECTORY). There is no flag taking the secret: every user can read a
    /// process's arguments.
    #[arg(long, env = "POP3_BRIDGE_TOKEN_SECRET_FILE", value_name = "FILE")]
    pub token_secret_file: Option<PathBuf>,
    /// The token secret from the environment (POP3_BRIDGE_TOKEN_SECRET): not a flag;
    /// `into_config` reads the variable when this is not set.
    #[arg(skip)]
    pub token_secret: Option<String>,
    /// The removed `--token-secret` flag, hidden: given, `into_config` refuses to start and
    /// says what to use instead.
    #[arg(
        long = "token-secret",
        hide = true,
        value_name = "SECRET",
        num_args = 0..=1,
        default_missing_value = ""
    )]
    pub token_secret_arg: Option<String>,
    /// Token mode: hmac (expiring, bound to a server; default) or shared.
    #[arg(long, env = "POP3_BRIDGE_TOKEN_MODE", value_parser = ["hmac", "shared"])]
    pub token_mode: Option<String>,
    /// Also accept the access token as ?token= in the WebSocket URL (hmac tokens only, not
    /// with --token-mode shared). Off by default: URLs end up in proxy and access logs, so a
    /// token there is refused (400); it belongs in the connect request.
    #[arg(long, env = "POP3_BRIDGE_TOKEN_IN_QUERY")]
    pub token_in_query: bool,
    /// Certificate chain (PEM) for TLS on the listener (wss://).
    #[arg(long, env = "POP3_BRIDGE_TLS_CERT", value_name = "PEM")]
    pub tls_cert: Option<PathBuf>,
    /// Private key (PEM) for TLS on the listener.
    #[arg(long, env = "POP3_BRIDGE_TLS_KEY", value_name = "PEM")]
    pub tls_key: Option<PathBuf>,
    /// A TLS-terminating reverse proxy is in front (allows a public bind without --tls-cert;
    /// the client IP is taken from X-Forwarded-For on connections from --trusted-proxy).
    #[arg(long, env = "POP3_BRIDGE_BEHIND_PROXY")]
    pub behind_proxy: bool,
    /// A reverse proxy (IP or CIDR) whose X-Forwarded-For is believed, with --behind-proxy.
    /// Needed for a public bind behind a proxy; on a loopback bind loopback is the default.
    /// Repeatable.
    #[arg(
        long = "trusted-proxy",
        env = "POP3_BRIDGE_TRUSTED_PROXY",
        value_delimiter = ',',
        value_name = "IP|CIDR"
    )]
    pub trusted_proxies: Vec<String>,
    /// Who may frame the served UI: a CSP frame-ancestors source (`'self'`,
    /// `https://portal.example.org`). Default: nobody (`'none'`). Repeatable.
    #[arg(
        long = "frame-ancestor",
        env = "POP3_BRIDGE_FRAME_ANCESTOR",
        value_delimiter = ',',
        value_name = "SOURCE"
    )]
    pub frame_ancestors: Vec<String>,
    /// Serve /metrics on this separate address (off by default; the main listener answers
    /// 404 for /metrics unless a metrics token is set).
    #[arg(long, env = "POP3_BRIDGE_METRICS_LISTEN", value_name = "ADDR:PORT")]
    pub metrics_listen: Option<SocketAddr>,
    /// Require `Authorization: Bearer TOKEN` for /metrics, the token read from FILE (at least
    /// 16 printable characters; one trailing newline is ignored; the file must not be
    /// accessible to other users); with it the main listener serves /metrics too. Or put the
    /// token itself in the environment variable POP3_BRIDGE_METRICS_TOKEN, or, under systemd,
    /// in the credential `metrics-token` ($CREDENTIALS_DIRECTORY/metrics-token). There is no
    /// flag taking the token: every user can read a process's arguments.
    #[arg(long, env = "POP3_BRIDGE_METRICS_TOKEN_FILE", value_name = "FILE")]
    pub metrics_token_file: Option<PathBuf>,
    /// The metrics token from the environment (POP3_BRIDGE_METRICS_TOKEN): not a flag;
    /// `into_config` reads the variable when this is not set.
    #[arg(skip)]
    pub metrics_token: Option<String>,
    /// The removed `--metrics-token` flag, hidden: given, `into_config` refuses to start and
    /// says what to use instead.
    #[arg(
        long = "metrics-token",
        hide = true,
        value_name = "TOKEN",
        num_args = 0..=1,
        default_missing_value = ""
    )]
    pub metrics_token_arg: Option<String>,
    /// Read the UI's files on every request instead of once at start-up (for working on
    /// web/; not for production).
    #[arg(long, env = "POP3_BRIDGE_WEB_RELOAD")]
    pub web_reload: bool,
    /// Kiosk mode for the served UI: mail only in memory, left on the server, idle logout.
    #[arg(long, env = "POP3_BRIDGE_KIOSK")]
    pub kiosk: bool,
    /// Seconds without activity before a kiosk session logs out (default 300).
    #[arg(long, env = "POP3_BRIDGE_KIOSK_IDLE_SECS", value_name = "SECS")]
    pub kiosk_idle_secs: Option<u32>,
    /// Allow a non-loopback listener without a token secret and without --servers-only: an
    /// open relay that anyone who reaches it can use to connect to any public POP3 server.
    #[arg(long, env = "POP3_BRIDGE_OPEN_RELAY")]
    pub open_relay: bool,
    /// Also serve the test and development pages under web/dev/ (the mock API behind
    /// ?api=mock). Never in production; off, they answer 404.
    #[arg(long, env = "POP3_BRIDGE_DEV_PAGES")]
    pub dev_pages: bool,
    /// Maximum concurrent sessions (default 1024).
    #[arg(long, env = "POP3_BRIDGE_MAX_SESSIONS")]
    pub max_sessions: Option<usize>,
    /// Maximum concurrent sessions per client IP (default 32).
    #[arg(long, env = "POP3_BRIDGE_MAX_SESSIONS_PER_IP")]
    pub max_sessions_per_ip: Option<usize>,
    /// Maximum pending (not yet upgraded) HTTP connections per client IP (default 64).
    #[arg(long, env = "POP3_BRIDGE_MAX_CONNECTIONS_PER_IP")]
    pub max_connections_per_ip: Option<usize>,
    /// IPv6 clients are counted per prefix of this length in the per-client caps (default 64).
    #[arg(long, env = "POP3_BRIDGE_IPV6_PREFIX", value_name = "BITS")]
    pub ipv6_prefix: Option<u8>,
    /// Idle timeout in seconds (default 900; RFC 1939 servers allow at least 600).
    #[arg(long, env = "POP3_BRIDGE_IDLE_TIMEOUT")]
    pub idle_timeout: Option<f64>,
    /// Upstream connect timeout in seconds (default 10).
    #[arg(long, env = "POP3_BRIDGE_CONNECT_TIMEOUT")]
    pub connect_timeout: Option<f64>,
    /// Maximum concurrent TCP connections to the listener, sessions plus pending HTTP
    /// requests (default 4096).
    #[arg(long, env = "POP3_BRIDGE_MAX_CONNECTIONS")]
    pub max_connections: Option<usize>,
    /// Seconds for the HTTP request headers, and then for the connect request (default 10).
    #[arg(long, env = "POP3_BRIDGE_HANDSHAKE_TIMEOUT")]
    pub handshake_timeout: Option<f64>,
    /// Seconds for the TLS handshake with the mail server (default 15).
    #[arg(long, env = "POP3_BRIDGE_TLS_TIMEOUT")]
    pub tls_timeout: Option<f64>,
    /// Seconds for the whole STLS exchange: greeting, STLS, +OK (default 15).
    #[arg(long, env = "POP3_BRIDGE_STLS_TIMEOUT")]
    pub stls_timeout: Option<f64>,
    /// WebSocket ping interval in seconds; no frame for two intervals = dead (default 30).
    #[arg(long, env = "POP3_BRIDGE_PING_INTERVAL")]
    pub ping_interval: Option<f64>,
    /// Seconds one frame may wait for the browser to accept it (default 120).
    #[arg(long, env = "POP3_BRIDGE_WRITE_TIMEOUT")]
    pub write_timeout: Option<f64>,
    /// Seconds to write one HTTP response (a file, metrics, a refusal); a client that has not
    /// read it by then is disconnected (default 60).
    #[arg(long, env = "POP3_BRIDGE_HTTP_WRITE_TIMEOUT")]
    pub http_write_timeout: Option<f64>,
    /// Largest WebSocket message from the browser in bytes (default 65536, at most 1048576).
    #[arg(long, env = "POP3_BRIDGE_MAX_MESSAGE_SIZE")]
    pub max_message_size: Option<usize>,
    /// Seconds graceful shutdown waits for sessions to close (default 10).
    #[arg(long, env = "POP3_BRIDGE_SHUTDOWN_GRACE")]
    pub shutdown_grace: Option<f64>,
    /// Log filter (tracing EnvFilter syntax), default "info".
    #[arg(long, env = "POP3_BRIDGE_LOG")]
    pub log: Option<String>,
}

fn secs(v: f64, what: &str) -> Result<Duration, ConfigError> {
    Duration::try_from_secs_f64(v).map_err(|_| {
        ConfigError::Invalid(format!("{what} must be a non-negative number of seconds"))
    })
}

impl CliOpts {
    /// The configuration read again the way start-up read it, for a reload (SIGHUP): the TOML
    /// file and the secret files read anew, merged under the same flags and environment.
    /// The log filter is not reloaded. Pass the result to
    /// [`Reloader::reload`](crate::Reloader::reload).
    pub fn reload_config(&self) -> Result<Config, ConfigError> {
        self.clone().into_config().map(|(c, _log)| c)
    }

    /// Merge file and flags into a [`Config`]; returns it with the log filter.
    pub fn into_config(self) -> Result<(Config, String), ConfigError> {
        let file = match &self.config {
            Some(p) => load_file(p)?,
            None => FileConfig::default(),
        };
        let mut c = Config::default();
        let mut log = "info".to_string();
        apply_file(&mut c, file, &mut log)?;
        if let Some(v) = self.listen {
            c.listen = v;
        }
        if self.web_root.is_some() {
            c.web_root = self.web_root;
        }
        if self.pkg_root.is_some() {
            c.pkg_root = self.pkg_root;
        }
        c.allow_hosts.extend(self.allow_hosts);
        c.allow_ports.extend(self.allow_ports);
        c.servers_only |= self.servers_only;
        c.allow_plaintext |= self.allow_plaintext;
        c.relay_only |= self.relay_only;
        c.extra_ca.extend(self.extra_ca);
        c.origins.extend(self.origins);
        c.public_hosts.extend(self.public_hosts);
        // systemd's credentials (LoadCredential=), for a service: see SecretSource::read_cli.
        let credentials = std::env::var_os("CREDENTIALS_DIRECTORY").map(PathBuf::from);
        if let Some(secret) = TOKEN_SECRET.read_cli(
            self.token_secret_arg.is_some(),
            self.token_secret,
            self.token_secret_file.as_deref(),
            credentials.as_deref(),
        )? {
            c.token_secret = Some(secret);
        }
        c.token_in_query |= self.token_in_query;
        match self.token_mode.as_deref() {
            Some("shared") => c.token_mode = TokenMode::Shared,
            Some(_) => c.token_mode = TokenMode::Hmac,
            None => {}
        }
        if self.tls_cert.is_some() {
            c.tls_cert = self.tls_cert;
        }
        if self.tls_key.is_some() {
            c.tls_key = self.tls_key;
        }
        c.behind_proxy |= self.behind_proxy;
        c.trusted_proxies.extend(self.trusted_proxies);
        c.frame_ancestors.extend(self.frame_ancestors);
        if self.metrics_listen.is_some() {
            c.metrics_listen = self.metrics_listen;
        }
        if let Some(token) = METRICS_TOKEN.read_cli(
            self.metrics_token_arg.is_some(),
            self.metrics_token,
            self.metrics_token_file.as_deref(),
            credentials.as_deref(),
        )? {
            c.metrics_token = Some(token);
        }
        c.web_reload |= self.web_reload;
        c.kiosk |= self.kiosk;
        if let Some(s) = self.kiosk_idle_secs {
            c.kiosk_idle_secs = s;
        }
        c.dev_pages |= self.dev_pages;
        c.open_relay |= self.open_relay;
        if let Some(v) = self.max_sessions {
            c.limits.max_sessions = v;
        }
        if let Some(v) = self.max_sessions_per_ip {
            c.limits.max_sessions_per_ip = v;
        }
        if let Some(v) = self.max_connections_per_ip {
            c.limits.max_connections_per_ip = v;
        }
        if let Some(v) = self.ipv6_prefix {
            c.limits.ipv6_prefix = v;
        }
        if let Some(v) = self.idle_timeout {
            c.limits.idle_timeout = secs(v, "idle-timeout")?;
        }
        if let Some(v) = self.connect_timeout {
            c.limits.connect_timeout = secs(v, "connect-timeout")?;
        }
        if let Some(v) = self.max_connections {
            c.limits.max_connections = v;
        }
        if let Some(v) = self.max_message_size {
            c.limits.max_message_size = v;
        }
        let l = &mut c.limits;
        for (val, slot, name) in [
            (
                self.handshake_timeout,
                &mut l.handshake_timeout,
                "handshake-timeout",
            ),
            (self.tls_timeout, &mut l.tls_timeout, "tls-timeout"),
            (self.stls_timeout, &mut l.stls_timeout, "stls-timeout"),
            (self.ping_interval, &mut l.ping_interval, "ping-interval"),
            (self.write_timeout, &mut l.write_timeout, "write-timeout"),
            (
                self.http_write_timeout,
                &mut l.http_write_timeout,
                "http-write-timeout",
            ),
            (self.shutdown_grace, &mut l.shutdown_grace, "shutdown-grace"),
        ] {
            if let Some(v) = val {
                *slot = secs(v, name)?;
            }
        }
        if let Some(v) = self.log {
            log = v;
        }
        c.validate()?;
        Ok((c, log))
    }
}

/// A secret the bridge takes from a file, a systemd credential or the environment, never from
/// a flag (every user of the machine can read a process's arguments). Its flag, variable,
/// credential and TOML key names all derive from `flag` and `env`, so the two secrets cannot
/// drift apart in how they are read.
struct SecretSource {
    /// What it is, in messages ("token secret").
    what: &'static str,
    /// What it is called in "put the … in a file" ("secret").
    noun: &'static str,
    /// The removed flag, without dashes ("token-secret"); `--{flag}-file` reads the file.
    flag: &'static str,
    /// The variable holding the secret itself; `{env}_FILE` names the file.
    env: &'static str,
}

/// The access-token secret (hmac key or shared token).
const TOKEN_SECRET: SecretSource = SecretSource {
    what: "token secret",
    noun: "secret",
    flag: "token-secret",
    env: "POP3_BRIDGE_TOKEN_SECRET",
};

/// The bearer token of /metrics.
const METRICS_TOKEN: SecretSource = SecretSource {
    what: "metrics token",
    noun: "token",
    flag: "metrics-token",
    env: "POP3_BRIDGE_METRICS_TOKEN",
};

impl SecretSource {
    /// The TOML key of the secret itself (`token_secret`); `{key}_file` names the file.
    fn toml_key(&self) -> String {
        self.flag.replace('-', "_")
    }

    /// From the command line's view: refuses the removed flag, then takes the secret from its
    /// environment variable (`from_env`, when clap did not set it, read here), from the file,
    /// or from the systemd credential named `flag` (`credentials` is `$CREDENTIALS_DIRECTORY`,
    /// which systemd sets for a service with `LoadCredential=token-secret:/etc/…`), exactly
    /// one of them. `None` when none is given.
    fn read_cli(
        &self,
        removed_flag_given: bool,
        from_env: Option<String>,
        file: Option<&Path>,
        credentials: Option<&Path>,
    ) -> Result<Option<String>, ConfigError> {
        let (what, noun, flag, env) = (self.what, self.noun, self.flag, self.env);
        let key = self.toml_key();
        if removed_flag_given {
            return Err(ConfigError::Invalid(format!(
                "--{flag} is no longer accepted: every user of the machine can read a process's arguments (ps, /proc). Put the {noun} in a file only the bridge can read and pass --{flag}-file FILE ({env}_FILE, TOML {key}_file), or set the environment variable {env}"
            )));
        }
        let from_env = match from_env {
            Some(s) => Some(s),
            None => match std::env::var(env) {
                Ok(s) => Some(s),
                Err(std::env::VarError::NotPresent) => None,
                Err(std::env::VarError::NotUnicode(_)) => {
                    return Err(ConfigError::Invalid(format!("{env} is not valid UTF-8")));
                }
            },
        };
        let credential = credentials.map(|d| d.join(flag)).filter(|p| p.exists());
        match (from_env, file, credential) {
            (Some(_), Some(_), _) => Err(ConfigError::Invalid(format!(
                "the {what} is given twice, in {env} and as --{flag}-file ({env}_FILE): give one"
            ))),
            (Some(_), None, Some(c)) | (None, Some(_), Some(c)) => {
                Err(ConfigError::Invalid(format!(
                    "the {what} is given twice, as the systemd credential {} and in {env} or --{flag}-file ({env}_FILE): give one",
                    c.display()
                )))
            }
            (Some(s), None, None) => Ok(Some(s)),
            (None, Some(p), None) => read_secret_file(p, what).map(Some),
            (None, None, Some(p)) => read_secret_file(&p, what).map(Some),
            (None, None, None) => Ok(None),
        }
    }

    /// From the TOML file: the secret itself or its file, never both. `None` when neither.
    fn read_toml(
        &self,
        secret: Option<String>,
        file: Option<PathBuf>,
    ) -> Result<Option<String>, ConfigError> {
        let (noun, key) = (self.noun, self.toml_key());
        match (secret, file) {
            (Some(_), Some(_)) => Err(ConfigError::Invalid(format!(
                "{key} and {key}_file are both set: keep one ({key}_file keeps the {noun} out of the configuration file)"
            ))),
            (Some(s), None) => Ok(Some(s)),
            (None, Some(p)) => read_secret_file(&p, self.what).map(Some),
            (None, None) => Ok(None),
        }
    }
}

/// A secret from `path` (`what` names it in the errors: "token secret"): its text without one
/// trailing newline (`\n` or `\r\n`).
///
/// Refused when empty, or when other users may read or write the file (on Unix: any of the
/// mode's "other" bits), as ssh does with private keys: a secret every user of the machine can
/// read is none, and a refusal at start-up is seen where a warning in a log is easily missed
/// (the fix is one `chmod o-rwx`). Group access is allowed: a file `root:pop3-bridge`, mode
/// 0640, is the usual way to hand a secret to a service.
fn read_secret_file(path: &Path, what: &str) -> Result<String, ConfigError> {
    use std::io::Read;
    let shown = path.display();
    let unreadable = |e: std::io::Error| {
        ConfigError::Invalid(format!("cannot read the {what} file {shown}: {e}"))
    };
    let mut file = std::fs::File::open(path).map_err(unreadable)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = file.metadata().map_err(unreadable)?.permissions().mode();
        if mode & 0o007 != 0 {
            return Err(ConfigError::Invalid(format!(
                "the {what} file {shown} is accessible to other users (mode {:03o}): make it readable by the bridge only (chmod o-rwx {shown})",
                mode & 0o777
            )));
        }
    }
    let mut text = String::new();
    file.read_to_string(&mut text).map_err(unreadable)?;
    let secret = match text.strip_suffix('\n') {
        Some(t) => t.strip_suffix('\r').unwrap_or(t),
        None => &text,
    };
    if secret.is_empty() {
        return Err(ConfigError::Invalid(format!(
            "the {what} file {shown} is empty"
        )));
    }
    Ok(secret.to_string())
}

pub fn load_file(path: &Path) -> Result<FileConfig, ConfigError> {
    let text =
        std::fs::read_to_string(path).map_err(|e| ConfigError::Read(path.to_path_buf(), e))?;
    toml::from_str(&text).map_err(|e| ConfigError::Parse(path.to_path_buf(), e.to_string()))
}

fn apply_file(c: &mut Config, f: FileConfig, log: &mut String) -> Result<(), ConfigError> {
    if let Some(v) = f.listen {
        c.listen = v;
    }
    c.web_root = f.web_root.or(c.web_root.take());
    c.pkg_root = f.pkg_root.or(c.pkg_root.take());
    c.public_hosts.extend(f.public_hosts);
    c.origins.extend(f.origins);
    c.allow_hosts.extend(f.allow_hosts);
    c.allow_ports.extend(f.allow_ports);
    c.servers_only = f.servers_only.unwrap_or(c.servers_only);
    c.allow_plaintext = f.allow_plaintext.unwrap_or(c.allow_plaintext);
    c.relay_only = f.relay_only.unwrap_or(c.relay_only);
    c.extra_ca.extend(f.extra_ca);
    c.servers.extend(f.servers);
    c.token_secret = TOKEN_SECRET
        .read_toml(f.token_secret, f.token_secret_file)?
        .or(c.token_secret.take());
    c.token_mode = f.token_mode.unwrap_or(c.token_mode);
    c.token_in_query = f.token_in_query.unwrap_or(c.token_in_query);
    c.tls_cert = f.tls_cert.or(c.tls_cert.take());
    c.tls_key = f.tls_key.or(c.tls_key.take());
    c.behind_proxy = f.behind_proxy.unwrap_or(c.behind_proxy);
    c.trusted_proxies.extend(f.trusted_proxies);
    c.frame_ancestors.extend(f.frame_ancestors);
    c.metrics_listen = f.metrics_listen.or(c.metrics_listen.take());
    c.metrics_token = METRICS_TOKEN
        .read_toml(f.metrics_token, f.metrics_token_file)?
        .or(c.metrics_token.take());
    c.web_reload = f.web_reload.unwrap_or(c.web_reload);
    c.kiosk = f.kiosk.unwrap_or(c.kiosk);
    c.kiosk_idle_secs = f.kiosk_idle_secs.unwrap_or(c.kiosk_idle_secs);
    c.dev_pages = f.dev_pages.unwrap_or(c.dev_pages);
    c.open_relay = f.open_relay.unwrap_or(c.open_relay);
    if let Some(l) = f.log {
        *log = l;
    }
    let l = &mut c.limits;
    let fl = f.limits;
    if let Some(v) = fl.max_sessions {
        l.max_sessions = v;
    }
    if let Some(v) = fl.max_sessions_per_ip {
        l.max_sessions_per_ip = v;
    }
    if let Some(v) = fl.max_connections {
        l.max_connections = v;
    }
    if let Some(v) = fl.max_connections_per_ip {
        l.max_connections_per_ip = v;
    }
    if let Some(v) = fl.ipv6_prefix {
        l.ipv6_prefix = v;
    }
    if let Some(v) = fl.max_message_size {
        l.max_message_size = v;
    }
    for (val, slot, name) in [
        (
            fl.handshake_timeout,
            &mut l.handshake_timeout,
            "handshake_timeout",
        ),
        (
            fl.connect_timeout,
            &mut l.connect_timeout,
            "connect_timeout",
        ),
        (fl.tls_timeout, &mut l.tls_timeout, "tls_timeout"),
        (fl.stls_timeout, &mut l.stls_timeout, "stls_timeout"),
        (fl.idle_timeout, &mut l.idle_timeout, "idle_timeout"),
        (fl.ping_interval, &mut l.ping_interval, "ping_interval"),
        (fl.write_timeout, &mut l.write_timeout, "write_timeout"),
        (
            fl.http_write_timeout,
            &mut l.http_write_timeout,
            "http_write_timeout",
        ),
        (fl.shutdown_grace, &mut l.shutdown_grace, "shutdown_grace"),
    ] {
        if let Some(v) = val {
            *slot = secs(v, name)?;
        }
    }
    Ok(())
}

/// The sources of the CSP `frame-ancestors` directive: `'none'` when `list` is empty, else the
/// entries, each one source (`'self'`, a scheme like `https:`, or a host source such as
/// `https://portal.example.org`), without spaces, quotes other than around `self`/`none`,
/// `;` or `,` (which would end the directive or the policy).
fn frame_ancestors_source(list: &[String]) -> Result<String, ConfigError> {
    if list.is_empty() {
        return Ok("'none'".into());
    }
    for e in list {
        let ok = match e.as_str() {
            "'self'" => true,
            "'none'" => list.len() == 1,
            s => {
                !s.is_empty()
                    && s.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b".-:/*[]_".contains(&b))
            }
        };
        if !ok {
            return Err(ConfigError::Invalid(format!(
                "frame_ancestors entry '{e}' is not a CSP source ('self', 'none' alone, a scheme or an origin such as https://portal.example.org)"
            )));
        }
    }
    Ok(list.join(" "))
}

impl Config {
    /// Checks that do not need the network. `run` also calls it with the real bound address.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.validate_bind(self.listen)?;
        if self.tls_cert.is_some() != self.tls_key.is_some() {
            return Err(ConfigError::Invalid(
                "--tls-cert and --tls-key must be given together".into(),
            ));
        }
        if self.limits.max_message_size == 0 || self.limits.max_message_size > 1 << 20 {
            return Err(ConfigError::Invalid(
                "limits.max_message_size must be between 1 and 1048576 bytes".into(),
            ));
        }
        if self.limits.max_sessions == 0 || self.limits.max_sessions_per_ip == 0 {
            return Err(ConfigError::Invalid(
                "session limits must be at least 1".into(),
            ));
        }
        if self.limits.ping_interval.is_zero() {
            return Err(ConfigError::Invalid(
                "ping_interval must be positive".into(),
            ));
        }
        if let Some(s) = &self.token_secret
            && s.len() < 16
        {
            return Err(ConfigError::Invalid(
                "token secret must be at least 16 characters".into(),
            ));
        }
        if self.token_in_query && self.token_mode == TokenMode::Shared {
            return Err(ConfigError::Invalid(
                "token_in_query (--token-in-query) cannot be used with token_mode shared: the token would be the secret itself, written into every proxy and access log that records URLs. Send the token in the connect request".into(),
            ));
        }
        if let Some(s) = &self.metrics_token
            && (s.len() < 16 || !s.bytes().all(|b| b.is_ascii_graphic()))
        {
            return Err(ConfigError::Invalid(
                "metrics token must be at least 16 printable characters without spaces".into(),
            ));
        }
        if self.limits.http_write_timeout.is_zero() {
            return Err(ConfigError::Invalid(
                "http_write_timeout must be positive".into(),
            ));
        }
        if !(16..=128).contains(&self.limits.ipv6_prefix) {
            return Err(ConfigError::Invalid(
                "limits.ipv6_prefix must be between 16 and 128".into(),
            ));
        }
        self.trusted_proxy_nets()?;
        if !self.trusted_proxies.is_empty() && !self.behind_proxy {
            return Err(ConfigError::Invalid(
                "trusted_proxies is set but behind_proxy is not: X-Forwarded-For is only read behind a proxy (set --behind-proxy)".into(),
            ));
        }
        frame_ancestors_source(&self.frame_ancestors)?;
        self.validate_relay_only()?;
        let policy = self.policy()?;
        if self.servers_only {
            // A [[server]] entry is not an allow-list entry: with servers_only, one that no
            // allow_hosts entry covers could never be reached.
            for s in &self.servers {
                let host = parse_host(s.host.trim()).map_err(|e| {
                    ConfigError::Invalid(format!("[[server]] host '{}': {e}", s.host))
                })?;
                if policy.check_name(&host).is_err() {
                    return Err(ConfigError::Invalid(format!(
                        "[[server]] host '{}' is not in allow_hosts: with servers_only it can never be reached (a [[server]] entry only sets TLS and plaintext options)",
                        s.host
                    )));
                }
            }
        }
        Ok(())
    }

    /// Relay-only promises that this bridge never carries readable mail: plaintext would break
    /// that promise, so the two together are a configuration mistake, not a choice.
    fn validate_relay_only(&self) -> Result<(), ConfigError> {
        if !self.relay_only {
            return Ok(());
        }
        if self.allow_plaintext {
            return Err(ConfigError::Invalid(
                "relay_only (--relay-only) and allow_plaintext (--allow-plaintext) cannot be combined: a relay-only bridge promises it never carries readable mail, and plaintext POP3 is readable. Turn one of them off".into(),
            ));
        }
        if let Some(s) = self.servers.iter().find(|s| s.allow_plaintext) {
            return Err(ConfigError::Invalid(format!(
                "relay_only (--relay-only) and allow_plaintext in [[server]] '{}' cannot be combined: a relay-only bridge promises it never carries readable mail, and plaintext POP3 is readable. Remove one of them",
                s.host
            )));
        }
        Ok(())
    }

    /// The trust settings a relay-only bridge never uses (it does no TLS): the global
    /// `extra_ca` and the `[[server]]` hosts with their own CA or pins. Empty unless
    /// `relay_only`; the bridge warns about them when it loads the configuration.
    pub(crate) fn unused_in_relay_only(&self) -> Vec<String> {
        if !self.relay_only {
            return Vec::new();
        }
        let mut out = Vec::new();
        if !self.extra_ca.is_empty() {
            out.push("extra_ca".to_string());
        }
        for s in &self.servers {
            if s.extra_ca.is_some() || !s.pin_sha256.is_empty() {
                out.push(format!("[[server]] '{}' extra_ca/pin_sha256", s.host));
            }
        }
        out
    }

    /// Whether the operator gave the server `name` (as the TLS code matches it: lower case,
    /// no trailing dot) trust on this bridge beyond the web PKI: a `[[server]]` entry with its
    /// own CA or pins, or an `extra_ca` for every server. Such a server is one the operator
    /// vouches for through the bridge (a private CA a client would not know), so an
    /// `end_to_end: "prefer"` session to it gets bridge-side TLS (see `session::choose_mode`).
    pub(crate) fn has_server_trust(&self, name: &str) -> bool {
        !self.extra_ca.is_empty()
            || self.servers.iter().any(|s| {
                (s.extra_ca.is_some() || !s.pin_sha256.is_empty())
                    && s.host.trim_end_matches('.').eq_ignore_ascii_case(name)
            })
    }

    /// `trusted_proxies` parsed.
    fn trusted_proxy_nets(&self) -> Result<Vec<IpNet>, ConfigError> {
        self.trusted_proxies
            .iter()
            .map(|s| {
                s.trim()
                    .parse::<IpNet>()
                    .map_err(|e| ConfigError::Invalid(format!("trusted proxy: {e}")))
            })
            .collect()
    }

    /// The proxies whose `X-Forwarded-For` is believed on a listener bound to `local`: none
    /// unless `behind_proxy`; `trusted_proxies`, or on a loopback bind without any, loopback
    /// (a proxy on the same host).
    pub(crate) fn trusted_proxies_for(&self, local: SocketAddr) -> Result<Vec<IpNet>, ConfigError> {
        if !self.behind_proxy {
            return Ok(Vec::new());
        }
        let nets = self.trusted_proxy_nets()?;
        if nets.is_empty() && local.ip().is_loopback() {
            return Ok(["127.0.0.0/8", "::1"]
                .iter()
                .filter_map(|s| s.parse().ok())
                .collect());
        }
        Ok(nets)
    }

    /// The CSP `frame-ancestors` directive's sources for the UI.
    pub(crate) fn frame_ancestors_source(&self) -> Result<String, ConfigError> {
        frame_ancestors_source(&self.frame_ancestors)
    }

    /// The target policy these settings describe: `allow_hosts` and `allow_ports` over the
    /// defaults, and `servers_only`. `[[server]]` entries do not widen it.
    pub(crate) fn policy(&self) -> Result<Policy, ConfigError> {
        let mut policy = Policy::default();
        for h in &self.allow_hosts {
            policy.allow_host(h).map_err(ConfigError::Invalid)?;
        }
        for p in &self.allow_ports {
            policy.allow_port(*p);
        }
        policy.set_servers_only(self.servers_only);
        Ok(policy)
    }

    /// A public bind exposes a credential-carrying relay: it must have TLS on the listener
    /// or sit behind a TLS-terminating proxy.
    ///
    /// It must also not be an open relay by accident: without tokens and without
    /// `servers_only`, anyone who reaches it can use it (and its address) to connect to any
    /// public POP3 server, which the operator has to ask for with `open_relay`.
    pub fn validate_bind(&self, addr: SocketAddr) -> Result<(), ConfigError> {
        if addr.ip().is_loopback() {
            return Ok(());
        }
        if self.tls_cert.is_none() && !self.behind_proxy {
            return Err(ConfigError::Invalid(format!(
                "listening on {addr} (not loopback) requires --tls-cert/--tls-key or --behind-proxy"
            )));
        }
        if self.token_secret.is_none() && !self.servers_only && !self.open_relay {
            return Err(ConfigError::Invalid(format!(
                "listening on {addr} (not loopback) without a token secret or --servers-only makes this bridge an open relay: anyone who can reach it can use it to connect to any public POP3 server. Set a token secret (--token-secret-file or POP3_BRIDGE_TOKEN_SECRET), or --servers-only with the servers in --allow-host, or pass --open-relay (POP3_BRIDGE_OPEN_RELAY=true, open_relay = true) if that is what you want"
            )));
        }
        if self.behind_proxy && self.trusted_proxies.is_empty() {
            return Err(ConfigError::Invalid(format!(
                "listening on {addr} (not loopback) behind a proxy requires --trusted-proxy (the proxy's address or network, TOML trusted_proxies): without it, X-Forwarded-For is never believed and every client behind the proxy shares one per-client quota"
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_bind_without_tls_is_refused() {
        let c = Config {
            listen: "0.0.0.0:8080".parse().unwrap(),
            ..Config::default()
        };
        assert!(c.validate().is_err());
        let c = Config {
            behind_proxy: true,
            token_secret: Some("0123456789abcdef".into()),
            trusted_proxies: vec!["10.0.0.1".into()],
            ..c
        };
        assert!(c.validate().is_ok());
    }

    #[test]
    fn public_bind_without_tokens_or_servers_only_is_an_open_relay_and_refused() {
        let c = Config {
            listen: "0.0.0.0:8443".parse().unwrap(),
            behind_proxy: true,
            trusted_proxies: vec!["10.0.0.0/8".into()],
            ..Config::default()
        };
        let e = c.validate().unwrap_err().to_string();
        assert!(
            e.contains("open relay") && e.contains("--open-relay"),
            "{e}"
        );
        let e = c
            .validate_bind("192.0.2.7:443".parse().unwrap())
            .unwrap_err()
            .to_string();
        assert!(e.contains("--open-relay"), "{e}");
        // Loopback is not public: no tokens needed (what `cargo xtask run` and the tests do).
        assert!(c.validate_bind("127.0.0.1:8080".parse().unwrap()).is_ok());
        assert!(c.validate_bind("[::1]:8080".parse().unwrap()).is_ok());
        // Tokens, servers_only or the explicit flag each lift the refusal.
        for c in [
            Config {
                token_secret: Some("0123456789abcdef".into()),
                ..c.clone()
            },
            Config {
                servers_only: true,
                ..c.clone()
            },
            Config {
                open_relay: true,
                ..c.clone()
            },
        ] {
            assert!(c.validate().is_ok(), "{c:?}");
        }
    }

    #[test]
    fn open_relay_is_set_by_flag_and_by_toml() {
        let args = [
            "pop3-bridge",
            "--listen",
            "0.0.0.0:8443",
            "--behind-proxy",
            "--trusted-proxy",
            "10.0.0.1",
        ];
        assert!(
            Cli::try_parse_from(args)
                .unwrap()
                .opts
                .into_config()
                .is_err()
        );
        let with_flag = args.iter().copied().chain(["--open-relay"]);
        let (c, _) = Cli::try_parse_from(with_flag)
            .unwrap()
            .opts
            .into_config()
            .unwrap();
        assert!(c.open_relay);
        let f: FileConfig = toml::from_str("open_relay = true").unwrap();
        let mut c = Config::default();
        apply_file(&mut c, f, &mut String::new()).unwrap();
        assert!(c.open_relay);
    }

    #[test]
    fn a_server_entry_is_not_an_allow_list_entry() {
        let server = ServerConfig {
            host: "mail.home.example".into(),
            pin_sha256: vec!["ab".repeat(32)],
            ..ServerConfig::default()
        };
        let c = Config {
            servers: vec![server],
            ..Config::default()
        };
        assert!(c.validate().is_ok());
        let p = c.policy().unwrap();
        let h = parse_host("mail.home.example").unwrap();
        assert!(
            p.check_addrs(&h, &["192.168.1.10".parse().unwrap()])
                .is_err()
        );
        // With servers_only, an entry that no allow_hosts entry covers is a mistake.
        let c = Config {
            servers_only: true,
            ..c
        };
        let e = c.validate().unwrap_err().to_string();
        assert!(
            e.contains("mail.home.example") && e.contains("allow_hosts"),
            "{e}"
        );
        let c = Config {
            allow_hosts: vec!["mail.home.example".into()],
            ..c
        };
        assert!(c.validate().is_ok());
        let p = c.policy().unwrap();
        assert!(p.check_name(&h).is_ok());
        assert!(
            p.check_addrs(&h, &["192.168.1.10".parse().unwrap()])
                .is_ok()
        );
    }

    #[test]
    fn sample_config_parses() {
        let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("bridge.sample.toml");
        let f = load_file(&p).unwrap();
        let mut c = Config::default();
        let mut log = String::new();
        apply_file(&mut c, f, &mut log).unwrap();
        assert!(c.validate().is_ok());
    }

    #[test]
    fn xtask_flags_parse() {
        let cli = Cli::try_parse_from([
            "pop3-bridge",
            "--listen",
            "127.0.0.1:8080",
            "--web-root",
            "web",
            "--allow-host",
            "127.0.0.1",
            "--allow-host",
            "localhost",
            "--allow-port",
            "1110",
            "--allow-port",
            "1995",
            "--extra-ca",
            ".run/ca.pem",
        ])
        .unwrap();
        let (c, _) = cli.opts.into_config().unwrap();
        assert_eq!(c.allow_hosts, ["127.0.0.1", "localhost"]);
        assert_eq!(c.allow_ports, [1110, 1995]);
        assert_eq!(c.extra_ca.len(), 1);
    }

    #[test]
    fn every_limit_is_settable_by_flag() {
        let cli = Cli::try_parse_from([
            "pop3-bridge",
            "--max-sessions",
            "10",
            "--max-sessions-per-ip",
            "2",
            "--max-connections",
            "20",
            "--max-connections-per-ip",
            "3",
            "--handshake-timeout",
            "1.5",
            "--connect-timeout",
            "2",
            "--tls-timeout",
            "3",
            "--stls-timeout",
            "4",
            "--idle-timeout",
            "700",
            "--ping-interval",
            "5",
            "--write-timeout",
            "6",
            "--max-message-size",
            "4096",
            "--shutdown-grace",
            "7",
        ])
        .unwrap();
        let (c, _) = cli.opts.into_config().unwrap();
        let l = &c.limits;
        assert_eq!(
            (l.max_sessions, l.max_sessions_per_ip, l.max_connections),
            (10, 2, 20)
        );
        assert_eq!((l.max_connections_per_ip, l.max_message_size), (3, 4096));
        let s = |d: Duration| d.as_secs_f64();
        assert_eq!(
            [
                s(l.handshake_timeout),
                s(l.connect_timeout),
                s(l.tls_timeout),
                s(l.stls_timeout),
                s(l.idle_timeout),
                s(l.ping_interval),
                s(l.write_timeout),
                s(l.shutdown_grace)
            ],
            [1.5, 2.0, 3.0, 4.0, 700.0, 5.0, 6.0, 7.0]
        );
    }

    #[test]
    fn dev_pages_are_off_unless_asked_for() {
        let (c, _) = Cli::try_parse_from(["pop3-bridge"])
            .unwrap()
            .opts
            .into_config()
            .unwrap();
        assert!(!c.dev_pages);
        let (c, _) = Cli::try_parse_from(["pop3-bridge", "--dev-pages"])
            .unwrap()
            .opts
            .into_config()
            .unwrap();
        assert!(c.dev_pages);
        let f: FileConfig = toml::from_str("dev_pages = true").unwrap();
        let mut c = Config::default();
        apply_file(&mut c, f, &mut String::new()).unwrap();
        assert!(c.dev_pages);
    }

    #[cfg(unix)]
    #[test]
    fn a_systemd_credential_is_one_source_of_a_secret() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("pop3-bridge-creds-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let cred = dir.join("token-secret");
        std::fs::write(&cred, "credential-secret-0123\n").unwrap();
        std::fs::set_permissions(&cred, std::fs::Permissions::from_mode(0o400)).unwrap();
        let from_cred = TOKEN_SECRET
            .read_cli(false, None, None, Some(&dir))
            .unwrap();
        assert_eq!(from_cred.as_deref(), Some("credential-secret-0123"));
        // Only the credential named after the secret: none for the metrics token here.
        assert_eq!(
            METRICS_TOKEN
                .read_cli(false, Some("x".repeat(16)), None, Some(&dir))
                .unwrap()
                .as_deref(),
            Some("x".repeat(16).as_str())
        );
        // The credential and another source: refused, whichever the other is.
        let e = TOKEN_SECRET
            .read_cli(false, Some("y".repeat(16)), None, Some(&dir))
            .unwrap_err()
            .to_string();
        assert!(e.contains("given twice") && e.contains("credential"), "{e}");
        assert!(
            TOKEN_SECRET
                .read_cli(false, None, Some(&cred), Some(&dir))
                .is_err()
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn relay_only_is_set_by_flag_and_by_toml() {
        let (c, _) = Cli::try_parse_from(["pop3-bridge", "--relay-only"])
            .unwrap()
            .opts
            .into_config()
            .unwrap();
        assert!(c.relay_only);
        let f: FileConfig = toml::from_str("relay_only = true").unwrap();
        let mut c = Config::default();
        apply_file(&mut c, f, &mut String::new()).unwrap();
        assert!(c.relay_only);
        assert!(!Config::default().relay_only);
    }

    #[test]
    fn relay_only_with_plaintext_anywhere_is_refused_at_start_up() {
        let relay_only = Config {
            relay_only: true,
            ..Config::default()
        };
        assert!(relay_only.validate().is_ok());
        let e = Config {
            allow_plaintext: true,
            ..relay_only.clone()
        }
        .validate()
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("relay_only") && e.contains("allow_plaintext"),
            "{e}"
        );
        let e = Config {
            servers: vec![ServerConfig {
                host: "mail.home.example".into(),
                allow_plaintext: true,
                ..ServerConfig::default()
            }],
            ..relay_only.clone()
        }
        .validate()
        .unwrap_err()
        .to_string();
        assert!(e.contains("mail.home.example"), "{e}");
        // The flags together: the binary does not start.
        assert!(
            Cli::try_parse_from(["pop3-bridge", "--relay-only", "--allow-plaintext"])
                .unwrap()
                .opts
                .into_config()
                .is_err()
        );
    }

    #[test]
    fn relay_only_names_the_trust_it_will_not_use() {
        let servers = vec![
            ServerConfig {
                host: "pinned.example".into(),
                pin_sha256: vec!["ab".repeat(32)],
                ..ServerConfig::default()
            },
            ServerConfig {
                host: "plain-entry.example".into(),
                ..ServerConfig::default()
            },
        ];
        let c = Config {
            servers,
            extra_ca: vec!["/ca.pem".into()],
            ..Config::default()
        };
        assert!(c.unused_in_relay_only().is_empty());
        let c = Config {
            relay_only: true,
            ..c
        };
        assert!(c.validate().is_ok(), "allowed, only unused");
        assert_eq!(
            c.unused_in_relay_only(),
            [
                "extra_ca",
                "[[server]] 'pinned.example' extra_ca/pin_sha256"
            ]
        );
    }

    #[test]
    fn server_trust_is_a_global_ca_or_an_entry_with_its_own_ca_or_pins() {
        let c = Config {
            servers: vec![
                ServerConfig {
                    host: "Pinned.Example.".into(),
                    pin_sha256: vec!["ab".repeat(32)],
                    ..ServerConfig::default()
                },
                ServerConfig {
                    host: "ca.example".into(),
                    extra_ca: Some("/ca.pem".into()),
                    ..ServerConfig::default()
                },
                ServerConfig {
                    host: "bare.example".into(),
                    ..ServerConfig::default()
                },
            ],
            ..Config::default()
        };
        assert!(c.has_server_trust("pinned.example"));
        assert!(c.has_server_trust("ca.example"));
        // An entry without CA or pins vouches for nothing.
        assert!(!c.has_server_trust("bare.example"));
        assert!(!c.has_server_trust("other.example"));
        // A global extra CA is the operator's trust for every server.
        let global = Config {
            extra_ca: vec!["/private-ca.pem".into()],
            ..c
        };
        assert!(global.has_server_trust("bare.example"));
        assert!(global.has_server_trust("other.example"));
    }

    #[test]
    fn oversized_message_limit_is_refused() {
        let mut c = Config::default();
        c.limits.max_message_size = 64 << 20;
        assert!(c.validate().is_err());
    }
}
