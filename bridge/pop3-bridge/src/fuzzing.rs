//! Entry points of the `cargo fuzz` targets (`fuzz/fuzz_targets/`) and of the test that replays
//! their corpora (`tests/fuzz_corpus.rs`), so an input the fuzzer saves becomes an ordinary
//! failing test. Each function takes the fuzzer's raw bytes and panics only when a property of
//! the bridge's input handling is violated. Not part of the API (behind the `fuzzing` feature).
//!
//! The targets cover everything the bridge reads from an untrusted browser before (and while)
//! relaying: the WebSocket frame headers of the relay, the target host and the address
//! policy, the JSON connect request with every check the session makes before connecting, and
//! access tokens.
#![doc(hidden)]

use std::cell::RefCell;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;
use std::sync::Arc;

use tokio::sync::Semaphore;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use crate::metrics::Metrics;
use crate::policy::{AddrClass, IpNet, Policy, TargetHost, classify, parse_host};
use crate::protocol::{ConnectRequest, ErrorCode, Security};
use crate::relay::parse_header;
use crate::resolve::{BoxFuture, DirectConnector, Resolver};
use crate::session::{QueryToken, authorize};
use crate::static_files::StaticFiles;
use crate::tls::ClientTls;
use crate::token::{TokenAuth, TokenClaims, TokenError, TokenMode, now_unix};
use crate::{Config, ServerConfig, Shared, shutdown};

// ---------------------------------------------------------------------------------------------
// WebSocket frame headers (relay.rs)

/// Longest client frame header: 2 bytes, 8 bytes of extended length, 4 bytes of mask.
const MAX_HEAD: usize = 14;

/// The relay's frame header parser on arbitrary bytes (the browser's side of the socket).
///
/// - A parsed header never claims more bytes than it was given, is 6, 8 or 14 bytes long
///   (client frames are always masked), and says exactly what those bytes encode: FIN, a
///   defined opcode, the mask, the payload length in the form the length byte chose, and a
///   control frame is final and at most 125 bytes. `head + len` cannot overflow.
/// - "Need more bytes" is only ever said for fewer than 14 bytes.
/// - The answer is the same however the bytes arrive: every prefix either needs more bytes or
///   gives the final answer, and a header is complete exactly at its own length.
/// - Walking a buffer frame by frame (what the relay and its close drain do) always advances.
pub fn frame_header(data: &[u8]) {
    let whole = parse_header(data);
    match whole {
        Ok(Some(h)) => {
            assert!(
                h.head <= data.len(),
                "header claims {} bytes of {}",
                h.head,
                data.len()
            );
            assert!(
                matches!(h.head, 6 | 8 | 14),
                "header length {} is not 2 + (0|2|8) + 4",
                h.head
            );
            assert_eq!(data[0] & 0x70, 0, "reserved bits accepted");
            assert_ne!(data[1] & 0x80, 0, "unmasked frame accepted");
            assert_eq!(h.fin, data[0] & 0x80 != 0);
            assert_eq!(h.opcode, data[0] & 0x0F);
            assert!(
                matches!(h.opcode, 0x0 | 0x1 | 0x2 | 0x8 | 0x9 | 0xA),
                "reserved opcode {:#x} accepted",
                h.opcode
            );
            assert_eq!(
                h.mask,
                data[h.head - 4..h.head],
                "mask is not the last 4 bytes"
            );
            let l7 = data[1] & 0x7F;
            let want = match h.head {
                6 => {
                    assert!(l7 < 126);
                    u64::from(l7)
                }
                8 => {
                    assert_eq!(l7, 126);
                    u64::from(u16::from_be_bytes([data[2], data[3]]))
                }
                _ => {
                    assert_eq!(l7, 127);
                    let mut l = [0u8; 8];
                    l.copy_from_slice(&data[2..10]);
                    let l = u64::from_be_bytes(l);
                    assert_eq!(l >> 63, 0, "64-bit length with the top bit set accepted");
                    l
                }
            };
            assert_eq!(h.len as u64, want, "payload length misread");
            if h.opcode >= 0x8 {
                assert!(h.fin && h.len <= 125, "fragmented or long control frame");
            }
            assert!(h.head.checked_add(h.len).is_some(), "head + len overflows");
        }
        Ok(None) => assert!(
            data.len() < MAX_HEAD,
            "asks for more than {MAX_HEAD} bytes of header"
        ),
        Err((code, why)) => {
            assert_eq!(code, 1002, "header errors are protocol errors: {why}");
            assert!(!why.is_empty());
        }
    }
    // Chunking: prefixes need more bytes or give the final answer, never a different one.
    for k in 0..data.len().min(MAX_HEAD + 1) {
        let part = parse_header(&data[..k]);
        match (&whole, &part) {
            (_, Ok(None)) => {
                if let Ok(Some(h)) = &whole {
                    assert!(k < h.head, "complete header at {k} bytes not recognised");
                }
            }
            (Ok(Some(h)), Ok(Some(p))) => {
                assert!(k >= h.head, "header recognised before its end");
                assert_eq!(h, p, "header differs with {k} bytes");
            }
            _ => assert_eq!(
                &whole,
                &part,
                "answer differs with {k} of {} bytes",
                data.len()
            ),
        }
    }
    // Frame by frame through the buffer, as the relay and its close drain do.
    let mut at = 0;
    let mut frames = 0;
    while let Ok(Some(h)) = parse_header(&data[at..]) {
        let total = h.head + h.len;
        assert!(total >= 6, "a frame that does not advance");
        if data.len() - at < total {
            break;
        }
        at += total;
        frames += 1;
    }
    assert!(frames <= data.len() / 6);
}

// ---------------------------------------------------------------------------------------------
// Target hosts and the address policy (policy.rs)

/// Addresses the fuzz resolver answers with: one of each class, and the tricky encodings.
const ADDRS: &[&str] = &[
    "93.184.216.34",
    "2a00:1450:4001:82b::200e",
    "10.0.0.1",
    "172.16.5.4",
    "192.168.1.10",
    "127.0.0.1",
    "::1",
    "169.254.169.254",
    "fe80::1",
    "100.64.0.1",
    "fd00::1",
    "fec0::1",
    "0.0.0.0",
    "::",
    "224.0.0.1",
    "ff02::1",
    "255.255.255.255",
    "192.0.2.1",
    "2001:db8::1",
    "198.18.0.1",
    "240.0.0.1",
    "::ffff:127.0.0.1",
    "::ffff:8.8.8.8",
    "64:ff9b::a00:1",
    "2002:7f00:1::1",
    "2001:0:4136:e378:8000:63bf:3fff:fdd2",
    "8.8.8.8",
    "192.168.1.77",
];

/// The bridge host's own addresses in the host target (also in `ADDRS`).
const OWN: &[&str] = &["8.8.8.8", "192.168.1.77"];

/// What the fuzz resolver answers for `name` (deterministic, so replays are stable). A first
/// label `nx…` fails, `none…` has no address, `r<i>[-<j>…]` gives entries i, j … of `ADDRS`;
/// `pop.…` is public (IPv4 and IPv6), `localhost` and `*.localhost` are loopback; any other
/// name gets one to three entries picked by a hash of the name.
pub fn fuzz_resolve(name: &str) -> io::Result<Vec<IpAddr>> {
    let first = name.split('.').next().unwrap_or_default();
    let pick = |i: usize| -> IpAddr { ADDRS[i % ADDRS.len()].parse().expect("a valid address") };
    if first.starts_with("nx") {
        return Err(io::Error::new(io::ErrorKind::NotFound, "no such name"));
    }
    if first.starts_with("none") {
        return Ok(Vec::new());
    }
    if first == "pop" {
        return Ok(vec![pick(0), pick(1)]);
    }
    if name == "localhost" || name.ends_with(".localhost") {
        return Ok(vec![pick(5), pick(6)]);
    }
    if let Some(list) = first.strip_prefix('r') {
        let idx: Option<Vec<usize>> = list.split('-').map(|i| i.parse().ok()).collect();
        if let Some(idx) = idx.filter(|v| !v.is_empty() && v.len() <= 8) {
            return Ok(idx.into_iter().map(pick).collect());
        }
    }
    // FNV-1a.
    let h = name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    let n = 1 + (h % 3) as usize;
    Ok((0..n)
        .map(|i| pick((h >> (8 * (i + 1))) as usize))
        .collect())
}

/// True for addresses that are not globally routable unicast, by an independent reading of the
/// IANA special-purpose registries (mostly std's own predicates).
fn is_special(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            v4.is_unspecified()
                || v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || o[0] == 0
                || (o[0] == 100 && o[1] & 0xC0 == 64)
                || (o[0] == 198 && o[1] & 0xFE == 18)
                || o[0] >= 240
                || (o[0] == 192 && o[1] == 0 && o[2] == 0)
                || (o[0] == 192 && o[1] == 88 && o[2] == 99)
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            v6.is_unspecified()
                || v6.is_loopback()
                || v6.is_multicast()
                || v6.is_unique_local()
                || v6.is_unicast_link_local()
                || v6.to_ipv4().is_some()
                || s[0] & 0xffc0 == 0xfec0
                || s[0] & 0xe000 != 0x2000
                || s[0] == 0x2002
                || (s[0] == 0x2001 && s[1] < 0x0200)
                || (s[0] == 0x2001 && s[1] == 0x0db8)
                || (s[0] == 0x3fff && s[1] < 0x1000)
        }
    }
}

/// Every address gets a class, and "public" is never given to a special-purpose address.
fn check_classified(ip: IpAddr) -> AddrClass {
    let c = classify(ip);
    assert!(!c.label().is_empty());
    if c == AddrClass::Public {
        assert!(
            !is_special(ip),
            "{ip} is special-purpose but classified public"
        );
    }
    if let IpAddr::V6(v6) = ip
        && let Some(v4) = v6.to_ipv4_mapped()
    {
        assert_eq!(c, AddrClass::Ipv4Embedded(v4), "{ip}: mapped address");
    }
    c
}

/// A name the policy treats as local (refused unless allow-listed).
fn is_local_name(n: &str) -> bool {
    n == "localhost"
        || n.ends_with(".localhost")
        || n.ends_with(".local")
        || n.ends_with(".internal")
        || !n.contains('.')
}

/// What a host that parsed must be: a canonical DNS name that cannot be read as a number, or
/// an address written the one canonical way; either reads back to itself.
fn check_parsed(input: &str, host: &TargetHost) {
    let lower = input.to_ascii_lowercase();
    match host {
        TargetHost::Name(n) => {
            assert!(!n.is_empty() && n.len() <= 253, "name length {}", n.len());
            assert!(
                lower == *n || lower.strip_suffix('.') == Some(n.as_str()),
                "{input:?} became {n:?}"
            );
            assert!(
                n.bytes().all(|b| b.is_ascii_lowercase()
                    || b.is_ascii_digit()
                    || b == b'-'
                    || b == b'.'),
                "{n:?} has a character outside [a-z0-9.-]"
            );
            for label in n.split('.') {
                assert!(
                    (1..=63).contains(&label.len())
                        && !label.starts_with('-')
                        && !label.ends_with('-'),
                    "{n:?}: bad label {label:?}"
                );
            }
            let last = n.rsplit('.').next().unwrap_or_default();
            let numeric = last.bytes().all(|b| b.is_ascii_digit())
                || last
                    .strip_prefix("0x")
                    .is_some_and(|h| h.bytes().all(|b| b.is_ascii_hexdigit()));
            assert!(
                !numeric,
                "{n:?} is numeric: resolvers read it as an address"
            );
            assert!(n.parse::<IpAddr>().is_err(), "{n:?} is an address");
            assert_eq!(parse_host(n), Ok(host.clone()), "{n:?} does not read back");
            assert_eq!(host.as_server_name(), *n);
        }
        TargetHost::Ip(ip) => {
            check_classified(*ip);
            assert_eq!(
                parse_host(&host.to_string()),
                Ok(host.clone()),
                "{host} does not read back"
            );
            assert_eq!(host.as_server_name().parse::<IpAddr>().ok(), Some(*ip));
            if let IpAddr::V4(v4) = ip {
                let typed = lower.strip_suffix('.').unwrap_or(&lower);
                assert_eq!(
                    typed,
                    v4.to_string(),
                    "IPv4 accepted in a non-canonical form"
                );
            }
        }
    }
}

/// What an allow-list holds, read independently of [`Policy`].
#[derive(Default)]
struct AllowList {
    names: Vec<String>,
    nets: Vec<IpNet>,
    /// Entries for exactly one address (no prefix, or the full one).
    exact: Vec<IpAddr>,
}

impl AllowList {
    fn add(&mut self, policy: &mut Policy, entry: &str) {
        let ok = policy.allow_host(entry).is_ok();
        let e = entry.trim();
        if let Ok(net) = IpNet::from_str(e) {
            assert!(ok, "{e:?} is a network but was refused");
            let addr = e.split('/').next().unwrap_or_default();
            let addr = addr.trim_start_matches('[').trim_end_matches(']');
            let addr: IpAddr = addr.parse().expect("IpNet parsed it");
            assert!(net.contains(addr), "{e:?} does not contain its own address");
            let max = if addr.is_ipv4() { 32 } else { 128 };
            if e.split_once('/')
                .is_none_or(|(_, p)| p.parse::<u8>() == Ok(max))
            {
                self.exact.push(addr);
            }
            self.nets.push(net);
        } else {
            match parse_host(e) {
                Ok(TargetHost::Name(n)) => {
                    assert!(ok, "{e:?} is a host name but was refused");
                    self.names.push(n);
                }
                Ok(TargetHost::Ip(ip)) => {
                    assert!(ok, "{e:?} is an address but was refused");
                    self.nets
                        .push(IpNet::from_str(&ip.to_string()).expect("an address"));
                    self.exact.push(ip);
                }
                Err(_) => assert!(
                    !ok,
                    "{e:?} is neither a host nor a network but was accepted"
                ),
            }
        }
    }

    fn name_listed(&self, host: &TargetHost) -> bool {
        matches!(host, TargetHost::Name(n) if self.names.contains(n))
    }

    fn covers(&self, ip: IpAddr) -> bool {
        self.nets.iter().any(|n| n.contains(ip))
    }
}

/// The target checks on a host that parsed, with `allow` being what `policy` was given and
/// `own` the bridge host's addresses it refuses. Returns whether the target passed.
fn check_target(
    policy: &Policy,
    allow: &AllowList,
    servers_only: bool,
    own: &[IpAddr],
    host: &TargetHost,
    addrs: &[IpAddr],
) -> bool {
    let listed = allow.name_listed(host) || matches!(host, TargetHost::Ip(ip) if allow.covers(*ip));
    let name_ok = policy.check_name(host).is_ok();
    if name_ok {
        if let TargetHost::Name(n) = host {
            assert!(
                !is_local_name(n) || listed,
                "local name {n:?} passed without being listed"
            );
        }
        assert!(
            !servers_only || listed,
            "{host} is not listed (servers only)"
        );
    }
    let addrs_ok = policy.check_addrs(host, addrs).is_ok();
    let each_ok = addrs
        .iter()
        .all(|a| policy.check_addrs(host, &[*a]).is_ok());
    assert_eq!(
        addrs_ok, each_ok,
        "one refused address must refuse the answer"
    );
    if addrs_ok {
        for &a in addrs {
            let c = check_classified(a);
            assert!(
                !matches!(
                    c,
                    AddrClass::Unspecified | AddrClass::Multicast | AddrClass::Broadcast
                ),
                "{host}: {a} ({}) can never be allowed",
                c.label()
            );
            if own.contains(&a) {
                assert!(
                    allow.exact.contains(&a),
                    "{host}: the bridge's own {a} passed without an entry for exactly it"
                );
            } else if c != AddrClass::Public && !allow.covers(a) {
                // A name entry opens only what a LAN server can be, and loopback for the
                // special-use name localhost (RFC 6761); never link-local (metadata) and such.
                let by_name = match host {
                    TargetHost::Name(n) if allow.names.contains(n) => {
                        matches!(
                            c,
                            AddrClass::Private | AddrClass::UniqueLocal | AddrClass::SharedCgnat
                        ) || (c == AddrClass::Loopback
                            && (n == "localhost" || n.ends_with(".localhost")))
                    }
                    _ => false,
                };
                assert!(
                    by_name,
                    "{host}: {a} ({}) passed without an allow-list entry that opens it",
                    c.label()
                );
            }
        }
    }
    name_ok && addrs_ok
}

/// Host parsing and the address policy. The first line is the host as typed; further lines
/// (up to 8) are operator allow-list entries; the first 16 bytes are also read as raw IPv6 and
/// IPv4 addresses to classify.
///
/// - A host that parses is canonical (`check_parsed`), and an address is classified: public
///   only if it is no special-purpose address (an independent list), mapped IPv6 is unwrapped.
/// - Allow-list entries are accepted exactly when they are a network, an address or a host
///   name; a network contains its own address.
/// - With the default policy nothing but public addresses passes; with entries, a non-public
///   address passes only through an entry for its name or its network, never an unspecified,
///   multicast or broadcast one; local names need an entry; one bad address refuses them all.
pub fn host(data: &[u8]) {
    let mut raw = [0u8; 16];
    let n = data.len().min(16);
    raw[..n].copy_from_slice(&data[..n]);
    check_classified(IpAddr::V6(Ipv6Addr::from(raw)));
    check_classified(IpAddr::V4(Ipv4Addr::new(raw[0], raw[1], raw[2], raw[3])));

    let text = String::from_utf8_lossy(data);
    let mut lines = text.split('\n');
    let typed = lines.next().unwrap_or_default();
    let mut policy = Policy::default();
    let mut allow = AllowList::default();
    for entry in lines.take(8) {
        allow.add(&mut policy, entry);
    }
    let Ok(host) = parse_host(typed) else {
        return;
    };
    check_parsed(typed, &host);
    let addrs = match &host {
        TargetHost::Ip(ip) => vec![*ip],
        TargetHost::Name(n) => fuzz_resolve(n).unwrap_or_default(),
    };
    let none = AllowList::default();
    if check_target(&Policy::default(), &none, false, &[], &host, &addrs) {
        assert!(addrs.iter().all(|a| classify(*a) == AddrClass::Public));
    }
    check_target(&policy, &allow, false, &[], &host, &addrs);
    // The bridge's own addresses (one public, one private) and servers only.
    let own: Vec<IpAddr> = OWN.iter().map(|a| a.parse().expect("an address")).collect();
    for a in &own {
        policy.refuse_own(*a);
    }
    check_target(&policy, &allow, false, &own, &host, &addrs);
    policy.set_servers_only(true);
    check_target(&policy, &allow, true, &own, &host, &addrs);
}

// ---------------------------------------------------------------------------------------------
// The connect request and the session's checks before connecting (session.rs)

/// The shared secret of the fuzzed bridge in `shared` token mode.
pub const SHARED_SECRET: &str = "fuzz-shared-secret";
/// The HMAC key of the fuzzed bridge in `hmac` token mode.
pub const HMAC_SECRET: &str = "fuzz-hmac-secret";

/// The fuzz resolver as a [`Resolver`].
struct FuzzResolver;

impl Resolver for FuzzResolver {
    fn resolve<'a>(&'a self, host: &'a str) -> BoxFuture<'a, io::Result<Vec<IpAddr>>> {
        Box::pin(async move { fuzz_resolve(host) })
    }
}

/// One bridge configuration the connect request is checked against.
struct Case {
    shared: Shared,
    query: QueryToken,
    allow: AllowList,
    ports: Vec<u16>,
    /// Host names `security: "plain"` is allowed for (`None`: all of them).
    plain: Option<Vec<String>>,
    _trigger: shutdown::Trigger,
}

fn case(config: Config, query: QueryToken, plain: Option<Vec<String>>) -> Case {
    // The policy as the bridge builds it; the mirror to check it against.
    let policy = config.policy().expect("a valid allow-list");
    let mut allow = AllowList::default();
    for h in &config.allow_hosts {
        allow.add(&mut Policy::default(), h);
    }
    let mut ports = vec![110, 995];
    ports.extend(&config.allow_ports);
    let metrics = Arc::new(Metrics::default());
    let (trigger, tracker) = shutdown::channel(metrics.clone());
    let tokens = config
        .token_secret
        .as_ref()
        .map(|s| TokenAuth::new(config.token_mode, s.as_bytes()));
    let shared = Shared {
        policy,
        tls: ClientTls::from_config(&config).expect("no TLS files to load"),
        tokens,
        resolver: Arc::new(FuzzResolver),
        connector: Arc::new(DirectConnector),
        metrics,
        sessions: Arc::new(Semaphore::new(1)),
        per_ip: Arc::default(),
        host_names: Vec::new(),
        origins: Vec::new(),
        files: StaticFiles::new(None, None),
        ws_config: WebSocketConfig::default(),
        shutdown: tracker.signal(),
        tracker,
        config,
    };
    Case {
        shared,
        query,
        allow,
        ports,
        plain,
        _trigger: trigger,
    }
}

/// A token the HMAC bridge accepts in the query string: for `pop.example.com:995`.
fn query_claims() -> TokenClaims {
    TokenClaims {
        host: "pop.example.com".into(),
        port: 995,
        exp: u64::MAX,
        nbf: None,
    }
}

fn cases() -> Vec<Case> {
    let with_tokens = |mode: TokenMode, secret: &str| Config {
        token_secret: Some(secret.into()),
        token_mode: mode,
        ..Config::default()
    };
    let listed = Config {
        allow_hosts: vec![
            "mail.lan".into(),
            "192.168.1.0/24".into(),
            "fd00::/8".into(),
            "127.0.0.1".into(),
            "pop.home.arpa".into(),
            "localhost".into(),
            "r2.lan".into(),
            "r5-2.lan".into(),
            "r7.lan".into(),
        ],
        allow_ports: vec![2110],
        servers: vec![ServerConfig {
            host: "pop.home.arpa".into(),
            extra_ca: None,
            pin_sha256: Vec::new(),
            allow_plaintext: true,
        }],
        ..Config::default()
    };
    let plain_home = || Some(vec!["pop.home.arpa".to_string()]);
    vec![
        case(Config::default(), QueryToken::NotRequired, Some(Vec::new())),
        case(
            Config {
                allow_plaintext: true,
                ..Config::default()
            },
            QueryToken::NotRequired,
            None,
        ),
        case(
            with_tokens(TokenMode::Shared, SHARED_SECRET),
            QueryToken::Absent,
            Some(Vec::new()),
        ),
        case(
            with_tokens(TokenMode::Hmac, HMAC_SECRET),
            QueryToken::Absent,
            Some(Vec::new()),
        ),
        case(
            with_tokens(TokenMode::Hmac, HMAC_SECRET),
            QueryToken::Verified(Some(query_claims())),
            Some(Vec::new()),
        ),
        case(listed.clone(), QueryToken::NotRequired, plain_home()),
        case(
            Config {
                servers_only: true,
                ..listed
            },
            QueryToken::NotRequired,
            plain_home(),
        ),
    ]
}

struct Fixtures {
    rt: tokio::runtime::Runtime,
    cases: Vec<Case>,
}

thread_local! {
    static FIXTURES: RefCell<Option<Fixtures>> = const { RefCell::new(None) };
}

fn with_fixtures<R>(f: impl FnOnce(&Fixtures) -> R) -> R {
    FIXTURES.with(|cell| {
        let mut slot = cell.borrow_mut();
        let fx = slot.get_or_insert_with(|| Fixtures {
            rt: tokio::runtime::Builder::new_current_thread()
                .enable_time()
                .build()
                .expect("a tokio runtime"),
            cases: cases(),
        });
        f(fx)
    })
}

/// What `authorize` answered in one case must be what that configuration allows.
fn check_authorized(
    case: &Case,
    req: &ConnectRequest,
    r: &Result<(TargetHost, Vec<IpAddr>), crate::session::SessionError>,
) {
    let (host, addrs) = match r {
        Err(e) => {
            assert!(
                matches!(
                    e.code,
                    ErrorCode::TokenInvalid
                        | ErrorCode::TokenExpired
                        | ErrorCode::PortRefused
                        | ErrorCode::TargetRefused
                        | ErrorCode::PlaintextRefused
                        | ErrorCode::ResolveFailed
                ),
                "unexpected refusal {:?}",
                e.code
            );
            if case.shared.tokens.is_none() {
                assert!(!matches!(
                    e.code,
                    ErrorCode::TokenInvalid | ErrorCode::TokenExpired
                ));
            }
            return;
        }
        Ok(ok) => ok,
    };
    assert_eq!(
        parse_host(&req.host).as_ref(),
        Ok(host),
        "checked another host"
    );
    assert!(case.ports.contains(&req.port), "port {} passed", req.port);
    let expected = match host {
        TargetHost::Ip(ip) => vec![*ip],
        TargetHost::Name(n) => fuzz_resolve(n).expect("resolved"),
    };
    assert!(!addrs.is_empty());
    assert_eq!(*addrs, expected, "not the addresses the lookup gave");
    let c = &case.shared.config;
    check_target(
        &case.shared.policy,
        &case.allow,
        c.servers_only,
        &[],
        host,
        addrs,
    );
    if req.security == Security::Plain {
        let name = host.as_server_name();
        assert!(
            case.plain.as_ref().is_none_or(|p| p.contains(&name)),
            "plaintext to {name} passed"
        );
    }
    match (&case.query, &case.shared.tokens) {
        (QueryToken::Absent, Some(auth)) if auth.mode() == TokenMode::Shared => {
            assert_eq!(
                req.token.as_deref(),
                Some(SHARED_SECRET),
                "wrong shared token passed"
            );
        }
        (QueryToken::Absent, Some(auth)) => {
            let t = req.token.as_deref().expect("a token passed");
            let claims = auth
                .verify(t, now_unix())
                .expect("a valid token")
                .expect("claims");
            assert!(claims.permits(&req.host, req.port).is_ok());
        }
        (QueryToken::Verified(Some(claims)), _) => {
            assert!(
                claims.permits(&req.host, req.port).is_ok(),
                "token for another target"
            );
        }
        _ => {}
    }
}

/// The connect request: the first WebSocket message, as the session reads it (a text frame,
/// so UTF-8 JSON), then every check the session makes before it connects, in seven bridge
/// configurations (open, plaintext allowed, shared and HMAC tokens in the request or the
/// query, an allow-list, servers only), with a deterministic fake resolver.
///
/// - A request that parses serialises back to the same request; its `Debug` does not depend
///   on the token.
/// - Whatever passes is allowed by that configuration: the host it will connect to is the one
///   typed, canonical; the port is allowed; the addresses are exactly the lookup's and pass the
///   policy properties of [`host`]; plaintext only where allowed; a token that verifies and is
///   bound to this host and port where tokens are on. A refusal is one of the session's codes.
/// - Tokens only ever refuse more: a request refused by the open bridge is refused by every
///   token-protected one.
pub fn connect_request(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(req) = serde_json::from_str::<ConnectRequest>(text) else {
        return;
    };
    let json = serde_json::to_string(&req).expect("a request serialises");
    let again: ConnectRequest = serde_json::from_str(&json).expect("its JSON parses");
    assert_eq!(again, req, "request does not round-trip through {json}");
    let blank = ConnectRequest {
        token: req.token.as_ref().map(|_| String::new()),
        ..req.clone()
    };
    assert_eq!(
        format!("{req:?}"),
        format!("{blank:?}"),
        "Debug shows the token"
    );

    with_fixtures(|fx| {
        let results: Vec<_> = fx
            .cases
            .iter()
            .map(|case| {
                let r = fx.rt.block_on(authorize(&case.shared, &req, &case.query));
                check_authorized(case, &req, &r);
                r.is_ok()
            })
            .collect();
        // Cases 2..5 are the open bridge (0) with tokens.
        if !results[0] {
            assert!(
                results[2..5].iter().all(|ok| !ok),
                "a token let a refused request through"
            );
        }
    });
}

// ---------------------------------------------------------------------------------------------
// Tokens (token.rs)

fn u64_at(data: &[u8], at: usize) -> u64 {
    let mut b = [0u8; 8];
    for (i, x) in b.iter_mut().enumerate() {
        *x = data.get(at + i).copied().unwrap_or(0);
    }
    u64::from_le_bytes(b)
}

/// Tokens. Layout: byte 0 flags (bit 0: the claims have `nbf`; bits 1-7: which byte of the
/// minted token to alter), bytes 1-8 the clock, 9-16 `exp`, 17-24 `nbf`, 25-26 the port (all
/// little-endian); the rest is the host, then after the first newline a raw token.
///
/// - A minted token verifies to exactly its claims while it is valid, else with the right
///   reason (too long, expired, not yet valid); the claims then permit their own target (also
///   written in upper case with a trailing dot), and no other port.
/// - No other key, no shared-secret bridge, and no alteration of one byte make it verify.
/// - A raw token never panics either check; if it verifies (seeds minted with
///   [`HMAC_SECRET`]), its claims are in their time window and re-mint to a token that
///   verifies to the same claims. In shared mode only the secret itself passes.
pub fn token(data: &[u8]) {
    let flags = data.first().copied().unwrap_or(0);
    let now = u64_at(data, 1);
    let exp = u64_at(data, 9);
    let nbf = (flags & 1 == 1).then(|| u64_at(data, 17));
    let port = u16::from_le_bytes([
        data.get(25).copied().unwrap_or(0),
        data.get(26).copied().unwrap_or(0),
    ]);
    let rest = String::from_utf8_lossy(data.get(27..).unwrap_or_default()).into_owned();
    let (host, raw) = rest.split_once('\n').unwrap_or((&rest, ""));
    let claims = TokenClaims {
        host: host.to_string(),
        port,
        exp,
        nbf,
    };
    let hmac = TokenAuth::new(TokenMode::Hmac, HMAC_SECRET);
    let other = TokenAuth::new(TokenMode::Hmac, "another key");
    let shared = TokenAuth::new(TokenMode::Shared, SHARED_SECRET);

    let minted = hmac.mint(&claims);
    let verified = hmac.verify(&minted, now);
    if minted.len() > 1024 {
        assert_eq!(
            verified,
            Err(TokenError::Invalid),
            "an over-long token passed"
        );
    } else if now >= exp {
        assert_eq!(verified, Err(TokenError::Expired));
    } else if nbf.is_some_and(|nbf| now < nbf) {
        assert_eq!(verified, Err(TokenError::NotYetValid));
    } else {
        let got = verified
            .expect("a valid token verifies")
            .expect("HMAC tokens carry claims");
        assert_eq!(got, claims, "claims do not round-trip");
        assert_eq!(got.permits(host, port), Ok(()));
        let shouted = format!("{}.", host.to_ascii_uppercase());
        if !host.ends_with('.') {
            assert_eq!(got.permits(&shouted, port), Ok(()));
        }
        assert_eq!(
            got.permits(host, port ^ 1),
            Err(TokenError::WrongTarget),
            "claims permit another port"
        );
    }
    if minted.len() <= 1024 {
        assert_eq!(other.verify(&minted, now), Err(TokenError::Invalid));
        assert!(shared.verify(&minted, now).is_err());
        let mut altered = minted.clone().into_bytes();
        let i = usize::from(flags >> 1) * 7 % altered.len();
        altered[i] = if altered[i] == b'A' { b'B' } else { b'A' };
        let altered = String::from_utf8(altered).expect("tokens are ASCII");
        assert!(
            hmac.verify(&altered, now).is_err(),
            "token altered at byte {i} still verifies"
        );
    }

    match hmac.verify(raw, now) {
        Ok(Some(c)) => {
            assert!(now < c.exp && c.nbf.is_none_or(|nbf| nbf <= now));
            let again = hmac.mint(&c);
            if again.len() <= 1024 {
                assert_eq!(hmac.verify(&again, now), Ok(Some(c)));
            }
        }
        Ok(None) => panic!("an HMAC bridge verified a token without claims"),
        Err(TokenError::Missing) => assert!(raw.is_empty()),
        Err(_) => {}
    }
    match shared.verify(raw, now) {
        Ok(c) => {
            assert_eq!(raw, SHARED_SECRET);
            assert_eq!(c, None);
        }
        Err(e) => assert_ne!(raw, SHARED_SECRET, "the shared secret refused: {e}"),
    }
}
