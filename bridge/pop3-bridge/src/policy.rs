//! Target policy: which host names, addresses and ports a browser may ask the bridge to reach.
//!
//! The bridge is an open relay by construction unless this module says no. Everything here is
//! pure (no I/O) so every case can be unit-tested: the session resolves a name once, hands
//! *every* resolved address to [`Policy::check_addrs`], and then connects to exactly the
//! addresses that passed (DNS rebinding cannot swap them, because there is no second lookup).
//!
//! Default-deny: ports 110 and 995 only; addresses must be globally routable unicast. The
//! operator may allow extra ports, host names, single IPs or whole networks (a home server on
//! the LAN is a real use), or restrict the bridge to the listed servers only.
//!
//! What an entry opens depends on its kind. A host name entry opens only the private,
//! unique-local and shared (CGNAT) classes for that name: a DNS answer must never be enough to
//! reach the bridge host (loopback) or a link-local service such as the cloud metadata
//! address, so those need an address or network entry of their own (the special-use name
//! `localhost`, loopback by definition, is the one name entry that opens loopback). No entry
//! opens unspecified, multicast or broadcast addresses, and the bridge host's own addresses
//! (see [`Policy::refuse_own`]) open only with an entry for exactly that address.

use std::collections::{BTreeSet, HashSet};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

/// A target host as the user typed it, after syntactic validation and canonicalisation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetHost {
    /// A DNS name: lower-case ASCII, no trailing dot. This is also the TLS server name.
    Name(String),
    /// An IP literal (IPv6 may be written in brackets).
    Ip(IpAddr),
}

impl TargetHost {
    /// The name used for SNI and certificate verification: always what the user typed, never
    /// a resolved address.
    pub fn as_server_name(&self) -> String {
        match self {
            TargetHost::Name(n) => n.clone(),
            TargetHost::Ip(ip) => ip.to_string(),
        }
    }
}

impl fmt::Display for TargetHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TargetHost::Name(n) => f.write_str(n),
            TargetHost::Ip(IpAddr::V6(ip)) => write!(f, "[{ip}]"),
            TargetHost::Ip(ip) => write!(f, "{ip}"),
        }
    }
}

/// Why a host string is not acceptable as a target, before any lookup.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HostError {
    #[error("the host name is empty")]
    Empty,
    #[error("the host name is longer than 253 characters")]
    TooLong,
    #[error("the host name must be ASCII (write international names in their xn-- form)")]
    NonAscii,
    #[error("the host name contains a character that is not allowed: {0:?}")]
    BadChar(char),
    #[error("the host name has an empty or over-long label")]
    BadLabel,
    #[error("'{0}' is not a valid IPv6 address")]
    BadIpv6(String),
    #[error(
        "'{0}' looks like a number or a shortened/hex/octal IP address; write the address as four decimal parts (a.b.c.d) or use a host name"
    )]
    NumericTrick(String),
}

/// Classification of one IP address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddrClass {
    /// Globally routable unicast: the only class allowed by default.
    Public,
    Unspecified,
    Loopback,
    /// RFC 1918 private IPv4.
    Private,
    /// 169.254/16 (incl. the cloud metadata address 169.254.169.254) and fe80::/10.
    LinkLocal,
    /// 100.64/10 carrier-grade NAT.
    SharedCgnat,
    /// fc00::/7.
    UniqueLocal,
    /// fec0::/10 (deprecated, still routed internally by some stacks).
    SiteLocal,
    Multicast,
    Broadcast,
    Documentation,
    Benchmarking,
    /// 240/4, 192.0.0/24, 0/8 and IPv6 space outside 2000::/3, and similar.
    Reserved,
    /// An IPv4 address hidden in IPv6 (mapped, compatible, NAT64, 6to4, Teredo). Refused as a
    /// whole: the embedded IPv4 address is what the packets would really reach.
    Ipv4Embedded(Ipv4Addr),
}

impl AddrClass {
    pub fn label(&self) -> &'static str {
        match self {
            AddrClass::Public => "public",
            AddrClass::Unspecified => "unspecified",
            AddrClass::Loopback => "loopback",
            AddrClass::Private => "private",
            AddrClass::LinkLocal => "link-local",
            AddrClass::SharedCgnat => "carrier-grade NAT",
            AddrClass::UniqueLocal => "unique-local",
            AddrClass::SiteLocal => "site-local",
            AddrClass::Multicast => "multicast",
            AddrClass::Broadcast => "broadcast",
            AddrClass::Documentation => "documentation",
            AddrClass::Benchmarking => "benchmarking",
            AddrClass::Reserved => "reserved",
            AddrClass::Ipv4Embedded(_) => "IPv4 embedded in IPv6",
        }
    }

    /// Classes an operator allow-list may never open: they are not a single reachable host.
    fn never_allowed(&self) -> bool {
        matches!(
            self,
            AddrClass::Unspecified | AddrClass::Multicast | AddrClass::Broadcast
        )
    }

    /// Classes a host name entry opens for that name: networks that hold other people's
    /// servers (a LAN, a VPN, a carrier's NAT). Loopback, link-local and the rest need an
    /// address or network entry.
    fn opened_by_name(&self) -> bool {
        matches!(
            self,
            AddrClass::Private | AddrClass::UniqueLocal | AddrClass::SharedCgnat
        )
    }
}

/// The special-use names that always mean this host (RFC 6761 §6.3).
fn is_localhost_name(n: &str) -> bool {
    n == "localhost" || n.ends_with(".localhost")
}

/// Classify one address. Embedded IPv4 forms are unwrapped first so the verdict names the
/// address that would really be reached.
pub fn classify(ip: IpAddr) -> AddrClass {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

fn in_v4(ip: Ipv4Addr, net: [u8; 4], prefix: u32) -> bool {
    let mask = if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - prefix)
    };
    (u32::from(ip) & mask) == (u32::from(Ipv4Addr::from(net)) & mask)
}

fn classify_v4(ip: Ipv4Addr) -> AddrClass {
    if ip.is_unspecified() {
        AddrClass::Unspecified
    } else if in_v4(ip, [0, 0, 0, 0], 8) {
        AddrClass::Reserved // "this network"
    } else if ip.is_loopback() {
        AddrClass::Loopback
    } else if ip.is_private() {
        AddrClass::Private
    } else if ip.is_link_local() {
        AddrClass::LinkLocal
    } else if in_v4(ip, [100, 64, 0, 0], 10) {
        AddrClass::SharedCgnat
    } else if ip.is_broadcast() {
        AddrClass::Broadcast
    } else if ip.is_multicast() {
        AddrClass::Multicast
    } else if in_v4(ip, [192, 0, 2, 0], 24)
        || in_v4(ip, [198, 51, 100, 0], 24)
        || in_v4(ip, [203, 0, 113, 0], 24)
    {
        AddrClass::Documentation
    } else if in_v4(ip, [198, 18, 0, 0], 15) {
        AddrClass::Benchmarking
    } else if in_v4(ip, [240, 0, 0, 0], 4)
        || in_v4(ip, [192, 0, 0, 0], 24)
        || in_v4(ip, [192, 88, 99, 0], 24)
    {
        AddrClass::Reserved
    } else {
        AddrClass::Public
    }
}

fn classify_v6(ip: Ipv6Addr) -> AddrClass {
    let s = ip.segments();
    let v4_tail = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    if ip.is_unspecified() {
        return AddrClass::Unspecified;
    }
    if ip.is_loopback() {
        return AddrClass::Loopback;
    }
    // ::ffff:a.b.c.d (mapped) and ::a.b.c.d (deprecated "compatible").
    if s[0..5] == [0, 0, 0, 0, 0] && (s[5] == 0xffff || s[5] == 0) {
        return AddrClass::Ipv4Embedded(v4_tail);
    }
    // NAT64 well-known prefix 64:ff9b::/96 and local-use 64:ff9b:1::/48.
    if (s[0] == 0x64 && s[1] == 0xff9b) && (s[2..6] == [0, 0, 0, 0] || s[2] == 1) {
        return AddrClass::Ipv4Embedded(v4_tail);
    }
    // 6to4 2002:AABB:CCDD::/48 carries the IPv4 address in segments 1 and 2.
    if s[0] == 0x2002 {
        let v4 = Ipv4Addr::new((s[1] >> 8) as u8, s[1] as u8, (s[2] >> 8) as u8, s[2] as u8);
        return AddrClass::Ipv4Embedded(v4);
    }
    // Teredo 2001:0::/32: the client address is the bit-inverted last 32 bits.
    if s[0] == 0x2001 && s[1] == 0 {
        let v4 = Ipv4Addr::from(!u32::from(v4_tail));
        return AddrClass::Ipv4Embedded(v4);
    }
    if s[0] & 0xff00 == 0xff00 {
        return AddrClass::Multicast;
    }
    if s[0] & 0xfe00 == 0xfc00 {
        return AddrClass::UniqueLocal;
    }
    if s[0] & 0xffc0 == 0xfe80 {
        return AddrClass::LinkLocal;
    }
    if s[0] & 0xffc0 == 0xfec0 {
        return AddrClass::SiteLocal;
    }
    if s[0] == 0x2001 && s[1] == 0x0db8 || s[0] == 0x3fff && s[1] & 0xf000 == 0 {
        return AddrClass::Documentation;
    }
    if s[0] == 0x2001 && s[1] == 0x0002 && s[2] == 0 {
        return AddrClass::Benchmarking;
    }
    // 2001::/23 is IETF protocol assignments (ORCHID etc.), 100::/64 is discard-only.
    if s[0] == 0x2001 && s[1] < 0x0200 {
        return AddrClass::Reserved;
    }
    // Only 2000::/3 is allocated global unicast.
    if s[0] & 0xe000 != 0x2000 {
        return AddrClass::Reserved;
    }
    AddrClass::Public
}

/// Parse and canonicalise what the user typed as a host.
///
/// Numeric forms that C's `inet_aton` would accept but that are not a canonical dotted quad
/// (`2130706433`, `0x7f.1`, `0177.0.0.1`, `127.1`) are refused outright: different resolvers
/// interpret them differently, which is exactly what SSRF filter bypasses exploit.
pub fn parse_host(input: &str) -> Result<TargetHost, HostError> {
    if input.is_empty() {
        return Err(HostError::Empty);
    }
    if !input.is_ascii() {
        return Err(HostError::NonAscii);
    }
    if let Some(inner) = input.strip_prefix('[') {
        let inner = inner
            .strip_suffix(']')
            .ok_or_else(|| HostError::BadIpv6(input.to_string()))?;
        // Zone ids ("%eth0") are refused by the std parser, which is what we want.
        return Ipv6Addr::from_str(inner)
            .map(|ip| TargetHost::Ip(IpAddr::V6(ip)))
            .map_err(|_| HostError::BadIpv6(input.to_string()));
    }
    if input.contains(':') {
        return Ipv6Addr::from_str(input)
            .map(|ip| TargetHost::Ip(IpAddr::V6(ip)))
            .map_err(|_| HostError::BadIpv6(input.to_string()));
    }
    if input.len() > 254 {
        return Err(HostError::TooLong);
    }
    let lower = input.to_ascii_lowercase();
    // One trailing dot is a fully-qualified name ("localhost." is localhost).
    let name = lower.strip_suffix('.').unwrap_or(&lower);
    if name.is_empty() {
        return Err(HostError::Empty);
    }
    if name.len() > 253 {
        return Err(HostError::TooLong);
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '.'))
    {
        return Err(HostError::BadChar(bad));
    }
    // std's parser only accepts four decimal parts without leading zeros: canonical form.
    if let Ok(v4) = Ipv4Addr::from_str(name) {
        return Ok(TargetHost::Ip(IpAddr::V4(v4)));
    }
    let labels: Vec<&str> = name.split('.').collect();
    // WHATWG URL rule: a host whose last label is a number is an IPv4 address, whatever else
    // it looks like. Anything numeric that std did not accept above is a trick.
    let last = labels.last().copied().unwrap_or_default();
    let is_num = |l: &str| {
        !l.is_empty()
            && (l.bytes().all(|b| b.is_ascii_digit())
                || l.strip_prefix("0x")
                    .is_some_and(|h| h.bytes().all(|b| b.is_ascii_hexdigit())))
    };
    if is_num(last) {
        return Err(HostError::NumericTrick(input.to_string()));
    }
    for label in &labels {
        if label.is_empty() || label.len() > 63 || label.starts_with('-') || label.ends_with('-') {
            return Err(HostError::BadLabel);
        }
    }
    Ok(TargetHost::Name(name.to_string()))
}

/// An IP network (address + prefix length) in the operator's allow-list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNet {
    addr: IpAddr,
    prefix: u8,
}

impl IpNet {
    /// Whether this entry names exactly `ip` (a single address, no wider network).
    fn is_exactly(&self, ip: IpAddr) -> bool {
        let max = if self.addr.is_ipv4() { 32 } else { 128 };
        self.addr == ip && self.prefix == max
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => in_v4(ip, net.octets(), u32::from(self.prefix)),
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let p = u32::from(self.prefix);
                let mask = if p == 0 { 0 } else { u128::MAX << (128 - p) };
                (u128::from(net) & mask) == (u128::from(ip) & mask)
            }
            _ => false,
        }
    }
}

impl FromStr for IpNet {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr = addr.trim_start_matches('[').trim_end_matches(']');
        let addr = IpAddr::from_str(addr).map_err(|_| format!("'{s}' is not an IP or CIDR"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("'{s}' has an invalid prefix length"))?,
            None => max,
        };
        Ok(IpNet { addr, prefix })
    }
}

/// Why the policy refused a target.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("port {0} is not allowed; this bridge only connects to POP3 ports {1}")]
    Port(u16, String),
    #[error("{0}")]
    BadHost(#[from] HostError),
    #[error("'{0}' is a local name and is not allowed")]
    LocalName(String),
    #[error("'{0}' is not one of the mail servers this bridge is configured for")]
    NotListed(String),
    #[error(
        "'{host}' resolves to {addr}, a {class} address, which this bridge does not connect to"
    )]
    Address {
        host: String,
        addr: IpAddr,
        class: &'static str,
    },
}

/// The operator's target policy.
#[derive(Debug, Clone)]
pub struct Policy {
    ports: BTreeSet<u16>,
    names: HashSet<String>,
    nets: Vec<IpNet>,
    own: Vec<IpAddr>,
    servers_only: bool,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            ports: [110, 995].into_iter().collect(),
            names: HashSet::new(),
            nets: Vec::new(),
            own: Vec::new(),
            servers_only: false,
        }
    }
}

impl Policy {
    /// Add an operator allow-list entry: a host name, an IP address, or a CIDR network.
    pub fn allow_host(&mut self, entry: &str) -> Result<(), String> {
        let entry = entry.trim();
        if let Ok(net) = IpNet::from_str(entry) {
            self.nets.push(net);
            return Ok(());
        }
        match parse_host(entry) {
            Ok(TargetHost::Name(n)) => {
                self.names.insert(n);
                Ok(())
            }
            Ok(TargetHost::Ip(ip)) => {
                self.nets.push(IpNet::from_str(&ip.to_string())?);
                Ok(())
            }
            Err(e) => Err(format!("allow-host '{entry}': {e}")),
        }
    }

    pub fn allow_port(&mut self, port: u16) {
        self.ports.insert(port);
    }

    /// Only hosts on the allow-list may be reached at all (no public internet).
    pub fn set_servers_only(&mut self, on: bool) {
        self.servers_only = on;
    }

    /// Refuse `ip`, an address of the bridge host itself, even when it is public or inside an
    /// allowed network; only an entry for exactly this address opens it.
    pub fn refuse_own(&mut self, ip: IpAddr) {
        if !self.own.contains(&ip) {
            self.own.push(ip);
        }
    }

    /// How many addresses [`Policy::refuse_own`] was given.
    pub fn own_count(&self) -> usize {
        self.own.len()
    }

    pub fn check_port(&self, port: u16) -> Result<(), Refusal> {
        if self.ports.contains(&port) {
            Ok(())
        } else {
            let list: Vec<String> = self.ports.iter().map(u16::to_string).collect();
            Err(Refusal::Port(port, list.join(", ")))
        }
    }

    fn name_allowed(&self, host: &TargetHost) -> bool {
        match host {
            TargetHost::Name(n) => self.names.contains(n),
            TargetHost::Ip(ip) => self.nets.iter().any(|n| n.contains(*ip)),
        }
    }

    /// Checks that need no lookup: syntax was checked by [`parse_host`]; here local names and
    /// the servers-only restriction.
    pub fn check_name(&self, host: &TargetHost) -> Result<(), Refusal> {
        let explicitly = self.name_allowed(host);
        if self.servers_only && !explicitly {
            return Err(Refusal::NotListed(host.to_string()));
        }
        if let TargetHost::Name(n) = host {
            let local = n == "localhost"
                || n.ends_with(".localhost")
                || n.ends_with(".local")
                || n.ends_with(".internal")
                || !n.contains('.');
            if local && !explicitly {
                return Err(Refusal::LocalName(n.clone()));
            }
        }
        Ok(())
    }

    /// Check every resolved address. One bad address refuses the whole target: a name that
    /// resolves to both a public and a private address is a rebinding attempt or a
    /// misconfiguration, and either way not something to connect to.
    pub fn check_addrs(&self, host: &TargetHost, addrs: &[IpAddr]) -> Result<(), Refusal> {
        let listed_name = match host {
            TargetHost::Name(n) if self.names.contains(n) => Some(n.as_str()),
            _ => None,
        };
        for &addr in addrs {
            let class = classify(addr);
            let by_name = listed_name.is_some_and(|n| {
                class.opened_by_name() || (class == AddrClass::Loopback && is_localhost_name(n))
            });
            let by_net = self.nets.iter().any(|n| n.contains(addr));
            let allowed = if class.never_allowed() {
                false
            } else if self.own.contains(&addr) {
                self.nets.iter().any(|n| n.is_exactly(addr))
            } else {
                class == AddrClass::Public || by_name || by_net
            };
            if !allowed {
                let class = if self.own.contains(&addr) && !class.never_allowed() {
                    "bridge host's own"
                } else {
                    class.label()
                };
                return Err(Refusal::Address {
                    host: host.to_string(),
                    addr,
                    class,
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        IpAddr::from_str(s).unwrap()
    }

    #[test]
    fn refuses_every_non_public_ipv4_class() {
        let cases = [
            ("0.0.0.0", AddrClass::Unspecified),
            ("0.1.2.3", AddrClass::Reserved),
            ("127.0.0.1", AddrClass::Loopback),
            ("127.255.255.254", AddrClass::Loopback),
            ("10.0.0.1", AddrClass::Private),
            ("172.16.0.1", AddrClass::Private),
            ("172.31.255.255", AddrClass::Private),
            ("192.168.1.1", AddrClass::Private),
            ("169.254.169.254", AddrClass::LinkLocal),
            ("100.64.0.1", AddrClass::SharedCgnat),
            ("100.127.255.255", AddrClass::SharedCgnat),
            ("224.0.0.1", AddrClass::Multicast),
            ("239.255.255.250", AddrClass::Multicast),
            ("240.0.0.1", AddrClass::Reserved),
            ("255.255.255.255", AddrClass::Broadcast),
            ("192.0.2.1", AddrClass::Documentation),
            ("198.18.0.1", AddrClass::Benchmarking),
            ("192.0.0.8", AddrClass::Reserved),
        ];
        for (a, want) in cases {
            assert_eq!(classify(ip(a)), want, "{a}");
        }
    }

    #[test]
    fn public_ipv4_and_ipv6_are_public() {
        for a in [
            "8.8.8.8",
            "1.1.1.1",
            "172.32.0.1",
            "100.128.0.1",
            "2a00:1450:4001::1",
        ] {
            assert_eq!(classify(ip(a)), AddrClass::Public, "{a}");
        }
    }

    #[test]
    fn refuses_every_non_public_ipv6_class() {
        let cases = [
            ("::", AddrClass::Unspecified),
            ("::1", AddrClass::Loopback),
            ("fc00::1", AddrClass::UniqueLocal),
            ("fd12:3456::1", AddrClass::UniqueLocal),
            ("fe80::1", AddrClass::LinkLocal),
            ("fec0::1", AddrClass::SiteLocal),
            ("ff02::1", AddrClass::Multicast),
            ("2001:db8::1", AddrClass::Documentation),
            ("100::1", AddrClass::Reserved),
            ("4000::1", AddrClass::Reserved),
        ];
        for (a, want) in cases {
            assert_eq!(classify(ip(a)), want, "{a}");
        }
    }

    #[test]
    fn unwraps_ipv4_hidden_in_ipv6() {
        let lo = Ipv4Addr::new(127, 0, 0, 1);
        let ten = Ipv4Addr::new(10, 0, 0, 1);
        let cases = [
            ("::ffff:127.0.0.1", lo),
            ("::ffff:7f00:1", lo),
            ("::127.0.0.1", lo),
            ("64:ff9b::a00:1", ten),
            ("64:ff9b:1::a00:1", ten),
            ("2002:7f00:1::", lo),
            ("2002:a00:1::1", ten),
            // Teredo: server 0:0, client address inverted.
            ("2001:0:0:0:0:0:80ff:fffe", lo),
            // Mapped *public* addresses are refused too: we never dial through translation.
            ("::ffff:8.8.8.8", Ipv4Addr::new(8, 8, 8, 8)),
        ];
        for (a, v4) in cases {
            assert_eq!(classify(ip(a)), AddrClass::Ipv4Embedded(v4), "{a}");
        }
    }

    #[test]
    fn refuses_numeric_tricks() {
        for t in [
            "2130706433",
            "0x7f000001",
            "0x7f.1",
            "0177.0.0.1",
            "127.1",
            "127.0.1",
            "0x7f.0x0.0x0.0x1",
            "017700000001",
            "1.2.3.04",
            "a.0x10",
            "example.123",
        ] {
            assert!(
                matches!(parse_host(t), Err(HostError::NumericTrick(_))),
                "{t}: {:?}",
                parse_host(t)
            );
        }
    }

    #[test]
    fn canonicalises_names_and_literals() {
        assert_eq!(
            parse_host("Mail.Example.COM."),
            Ok(TargetHost::Name("mail.example.com".into()))
        );
        assert_eq!(
            parse_host("localhost."),
            Ok(TargetHost::Name("localhost".into()))
        );
        assert_eq!(parse_host("127.0.0.1"), Ok(TargetHost::Ip(ip("127.0.0.1"))));
        assert_eq!(parse_host("[::1]"), Ok(TargetHost::Ip(ip("::1"))));
        assert_eq!(
            parse_host("::ffff:7f00:1"),
            Ok(TargetHost::Ip(ip("::ffff:127.0.0.1")))
        );
    }

    #[test]
    fn rejects_malformed_hosts() {
        for t in [
            "",
            ".",
            "a..b",
            "-a.com",
            "a-.com",
            "exa mple.com",
            "user@host.com",
            "host.com/x",
            "[::1",
            "fe80::1%eth0",
            "[fe80::1%25eth0]",
            "bücher.de",
            "host.com:995",
        ] {
            assert!(parse_host(t).is_err(), "{t} accepted");
        }
        assert_eq!(parse_host(&"a".repeat(64)), Err(HostError::BadLabel));
        assert_eq!(parse_host(&"a.".repeat(130)), Err(HostError::TooLong));
    }

    #[test]
    fn default_ports_are_pop3_only() {
        let p = Policy::default();
        assert!(p.check_port(110).is_ok());
        assert!(p.check_port(995).is_ok());
        for bad in [0, 22, 25, 80, 443, 3306, 6379, 143, 993, 1110] {
            assert!(matches!(p.check_port(bad), Err(Refusal::Port(..))), "{bad}");
        }
    }

    #[test]
    fn operator_can_add_ports() {
        let mut p = Policy::default();
        p.allow_port(1995);
        assert!(p.check_port(1995).is_ok());
    }

    #[test]
    fn local_names_refused_unless_allowed() {
        let p = Policy::default();
        for n in [
            "localhost",
            "localhost.",
            "foo.localhost",
            "printer.local",
            "intranet",
            "db.internal",
        ] {
            let h = parse_host(n).unwrap();
            assert!(
                matches!(p.check_name(&h), Err(Refusal::LocalName(_))),
                "{n}"
            );
        }
        let mut p = Policy::default();
        p.allow_host("localhost").unwrap();
        let h = parse_host("localhost.").unwrap();
        assert!(p.check_name(&h).is_ok());
        assert!(p.check_addrs(&h, &[ip("127.0.0.1"), ip("::1")]).is_ok());
    }

    #[test]
    fn the_localhost_entry_opens_loopback_for_localhost_only() {
        let mut p = Policy::default();
        p.allow_host("localhost").unwrap();
        p.allow_host("mail.example.net").unwrap();
        let lo = parse_host("localhost").unwrap();
        assert!(p.check_addrs(&lo, &[ip("127.0.0.1"), ip("::1")]).is_ok());
        // Beyond what any name entry opens, only loopback: never link-local.
        assert!(p.check_addrs(&lo, &[ip("169.254.169.254")]).is_err());
        assert!(p.check_addrs(&lo, &[ip("fe80::1")]).is_err());
        let other = parse_host("mail.example.net").unwrap();
        assert!(p.check_addrs(&other, &[ip("127.0.0.1")]).is_err());
        assert!(p.check_addrs(&other, &[ip("192.168.0.2")]).is_ok());
    }

    #[test]
    fn resolved_private_address_refused() {
        let p = Policy::default();
        let h = parse_host("mail.example.com").unwrap();
        assert!(p.check_addrs(&h, &[ip("93.184.216.34")]).is_ok());
        assert!(
            p.check_addrs(&h, &[ip("93.184.216.34"), ip("10.1.2.3")])
                .is_err()
        );
        assert!(p.check_addrs(&h, &[ip("::ffff:10.1.2.3")]).is_err());
    }

    #[test]
    fn allow_listed_network_opens_exactly_that_network() {
        let mut p = Policy::default();
        p.allow_host("192.168.1.0/24").unwrap();
        p.allow_host("fd00::/8").unwrap();
        let h = parse_host("home.example.net").unwrap();
        assert!(p.check_addrs(&h, &[ip("192.168.1.20")]).is_ok());
        assert!(p.check_addrs(&h, &[ip("192.168.2.20")]).is_err());
        assert!(p.check_addrs(&h, &[ip("fd00::5")]).is_ok());
        assert!(p.check_addrs(&h, &[ip("127.0.0.1")]).is_err());
        let lit = parse_host("192.168.1.7").unwrap();
        assert!(p.check_name(&lit).is_ok());
        assert!(p.check_addrs(&lit, &[ip("192.168.1.7")]).is_ok());
    }

    #[test]
    fn allow_list_never_opens_multicast_or_unspecified() {
        let mut p = Policy::default();
        p.allow_host("0.0.0.0/0").unwrap();
        let h = parse_host("x.example").unwrap();
        assert!(p.check_addrs(&h, &[ip("0.0.0.0")]).is_err());
        assert!(p.check_addrs(&h, &[ip("224.0.0.1")]).is_err());
        assert!(p.check_addrs(&h, &[ip("10.0.0.1")]).is_ok());
    }

    #[test]
    fn servers_only_refuses_unlisted_public_hosts() {
        let mut p = Policy::default();
        p.allow_host("pop.example.com").unwrap();
        p.set_servers_only(true);
        assert!(
            p.check_name(&parse_host("pop.example.com").unwrap())
                .is_ok()
        );
        assert!(matches!(
            p.check_name(&parse_host("pop.other.com").unwrap()),
            Err(Refusal::NotListed(_))
        ));
        assert!(p.check_name(&parse_host("8.8.8.8").unwrap()).is_err());
    }

    #[test]
    fn ipnet_parsing() {
        assert!("10.0.0.0/8".parse::<IpNet>().is_ok());
        assert!("10.0.0.0/33".parse::<IpNet>().is_err());
        assert!("[fd00::]/8".parse::<IpNet>().is_ok());
        assert!("example.com".parse::<IpNet>().is_err());
    }

    proptest::proptest! {
        /// Whatever the input, parsing never panics, and anything accepted as a name cannot
        /// be read as an IPv4 address by a lenient resolver (its last label is not numeric).
        #[test]
        fn parse_host_never_panics_and_names_are_never_numeric(s in "\\PC{0,80}") {
            if let Ok(TargetHost::Name(n)) = parse_host(&s) {
                let last = n.rsplit('.').next().unwrap_or_default();
                proptest::prop_assert!(!last.bytes().all(|b| b.is_ascii_digit()));
                proptest::prop_assert!(!last.starts_with("0x"));
                proptest::prop_assert!(n.parse::<IpAddr>().is_err());
            }
        }

        #[test]
        fn dotted_numeric_strings_are_canonical_ips_or_refused(
            parts in proptest::collection::vec("0x[0-9a-f]{1,4}|[0-9]{1,4}", 1..5)
        ) {
            let s = parts.join(".");
            match parse_host(&s) {
                Ok(TargetHost::Ip(ip)) => proptest::prop_assert_eq!(ip.to_string(), s),
                Ok(TargetHost::Name(n)) => proptest::prop_assert!(false, "accepted as a name: {}", n),
                Err(_) => {}
            }
        }

        /// A name on the operator's list opens exactly the private, unique-local and shared
        /// (CGNAT) classes beyond the public default; never loopback, link-local or anything
        /// else a DNS answer could point at.
        #[test]
        fn an_allow_listed_name_lifts_only_private_unique_local_and_shared(addr in any_addr()) {
            let mut p = Policy::default();
            p.allow_host("mail.home.example").unwrap();
            let h = parse_host("mail.home.example").unwrap();
            let class = classify(addr);
            let want = matches!(
                class,
                AddrClass::Public | AddrClass::Private | AddrClass::UniqueLocal | AddrClass::SharedCgnat
            );
            proptest::prop_assert_eq!(p.check_addrs(&h, &[addr]).is_ok(), want, "{} ({:?})", addr, class);
        }

        /// Loopback and link-local need an explicit address or network entry; with one, they
        /// open for a name and for the literal alike.
        #[test]
        fn loopback_and_link_local_open_only_by_address_entry(addr in loopback_or_link_local(), prefix in 0u8..=8) {
            let h = parse_host("mail.home.example").unwrap();
            let mut by_name = Policy::default();
            by_name.allow_host("mail.home.example").unwrap();
            proptest::prop_assert!(by_name.check_addrs(&h, &[addr]).is_err(), "{}", addr);
            let max = if addr.is_ipv4() { 32 } else { 128 };
            let net = IpNet::from_str(&format!("{addr}/{}", max - prefix)).unwrap();
            let mut by_addr = Policy::default();
            by_addr.allow_host(&format!("{addr}/{}", max - prefix)).unwrap();
            proptest::prop_assert!(net.contains(addr));
            proptest::prop_assert!(by_addr.check_addrs(&h, &[addr]).is_ok(), "{}", addr);
            let lit = TargetHost::Ip(addr);
            proptest::prop_assert!(by_addr.check_name(&lit).is_ok());
            proptest::prop_assert!(by_addr.check_addrs(&lit, &[addr]).is_ok());
        }

        /// The bridge host's own addresses are refused whatever their class, even inside an
        /// allowed network or behind an allowed name; an entry for exactly the address opens
        /// it.
        #[test]
        fn own_addresses_open_only_by_their_exact_entry(addr in any_addr()) {
            proptest::prop_assume!(!classify(addr).never_allowed());
            let h = parse_host("mail.home.example").unwrap();
            let wide = if addr.is_ipv4() { "0.0.0.0/0" } else { "::/0" };
            let mut p = Policy::default();
            p.allow_host("mail.home.example").unwrap();
            p.allow_host(wide).unwrap();
            proptest::prop_assert!(p.check_addrs(&h, &[addr]).is_ok());
            p.refuse_own(addr);
            proptest::prop_assert!(p.check_addrs(&h, &[addr]).is_err(), "{}", addr);
            proptest::prop_assert!(p.check_addrs(&TargetHost::Ip(addr), &[addr]).is_err());
            p.allow_host(&addr.to_string()).unwrap();
            proptest::prop_assert!(p.check_addrs(&h, &[addr]).is_ok(), "{}", addr);
        }

        /// One refused address refuses the whole answer, whatever the allow-list holds.
        #[test]
        fn one_refused_address_refuses_the_answer(addrs in proptest::collection::vec(any_addr(), 1..6)) {
            let mut p = Policy::default();
            p.allow_host("mail.home.example").unwrap();
            let h = parse_host("mail.home.example").unwrap();
            let all_ok = addrs.iter().all(|a| p.check_addrs(&h, &[*a]).is_ok());
            proptest::prop_assert_eq!(p.check_addrs(&h, &addrs).is_ok(), all_ok);
        }
    }

    /// Any IPv4 or IPv6 address, biased towards the special ranges so every class is hit.
    fn any_addr() -> impl proptest::strategy::Strategy<Value = IpAddr> {
        use proptest::prelude::*;
        let v4_prefixes: Vec<(u32, u32)> = vec![
            (0x0000_0000, 8),
            (0x7f00_0000, 8),
            (0x0a00_0000, 8),
            (0xac10_0000, 12),
            (0xc0a8_0000, 16),
            (0xa9fe_0000, 16),
            (0x6440_0000, 10),
            (0xe000_0000, 4),
            (0xf000_0000, 4),
            (0xc000_0200, 24),
            (0xc612_0000, 15),
            (0x0800_0000, 8),
        ];
        let v6_prefixes: Vec<(u128, u32)> = vec![
            (0, 120),
            (0xffff_0000_0000, 96),
            (0xfc00 << 112, 7),
            (0xfe80 << 112, 10),
            (0xfec0 << 112, 10),
            (0xff00 << 112, 8),
            (0x2001_0db8 << 96, 32),
            (0x2002 << 112, 16),
            (0x0064_ff9b << 96, 96),
            (0x2a00 << 112, 16),
        ];
        prop_oneof![
            any::<u32>().prop_map(|v| IpAddr::V4(Ipv4Addr::from(v))),
            (proptest::sample::select(v4_prefixes), any::<u32>()).prop_map(|((net, len), r)| {
                let host = if len == 32 { 0 } else { r & (u32::MAX >> len) };
                IpAddr::V4(Ipv4Addr::from(net | host))
            }),
            any::<u128>().prop_map(|v| IpAddr::V6(Ipv6Addr::from(v))),
            (proptest::sample::select(v6_prefixes), any::<u128>()).prop_map(|((net, len), r)| {
                let host = if len == 128 {
                    0
                } else {
                    r & (u128::MAX >> len)
                };
                IpAddr::V6(Ipv6Addr::from(net | host))
            }),
        ]
    }

    /// Loopback (127/8, ::1) and link-local (169.254/16, fe80::/10) addresses.
    fn loopback_or_link_local() -> impl proptest::strategy::Strategy<Value = IpAddr> {
        use proptest::prelude::*;
        prop_oneof![
            any::<u32>().prop_map(|r| IpAddr::V4(Ipv4Addr::from(0x7f00_0000 | (r & 0x00ff_ffff)))),
            any::<u32>().prop_map(|r| IpAddr::V4(Ipv4Addr::from(0xa9fe_0000 | (r & 0xffff)))),
            Just(IpAddr::V6(Ipv6Addr::LOCALHOST)),
            any::<u128>().prop_map(|r| IpAddr::V6(Ipv6Addr::from(
                (0xfe80u128 << 112) | (r & (u128::MAX >> 10))
            ))),
        ]
    }
}
