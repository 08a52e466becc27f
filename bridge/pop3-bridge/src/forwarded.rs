//! Who the client of a request is, behind reverse proxies: a pure function of the socket peer,
//! the `X-Forwarded-For` header lines and the operator's trusted proxies, and the key per-client
//! caps count under (an IPv4 address, or an IPv6 prefix).
//!
//! Rules:
//!
//! - The header is used only when the socket peer is a trusted proxy. From anyone else it is
//!   the client's own claim and is ignored.
//! - All `X-Forwarded-For` lines are joined (RFC 9110 §5.3: several lines of a list header are
//!   one comma-separated list), and the list is walked from the right: each proxy appends the
//!   address it saw, so the entries on the right were written by proxies and those on the left
//!   by whoever the first proxy talked to. The first entry that is not a trusted proxy is the
//!   client. Entries further left are the client's claims and never count.
//! - An entry that does not parse stops the walk: the client is then the last hop that did
//!   (a trusted proxy), never anything further left. When every entry is a trusted proxy, the
//!   leftmost is the client.
//! - Entries may be `1.2.3.4`, `1.2.3.4:port`, `2001:db8::1`, `[2001:db8::1]` or
//!   `[2001:db8::1]:port`; IPv4-mapped IPv6 addresses count as the IPv4 address.

use std::net::{IpAddr, Ipv6Addr};

use crate::policy::IpNet;

/// One `X-Forwarded-For` entry as an address, or None if it is not one of the accepted forms.
pub fn parse_entry(entry: &str) -> Option<IpAddr> {
    let e = entry.trim();
    let ip = if let Some(rest) = e.strip_prefix('[') {
        let (inside, after) = rest.split_once(']')?;
        if !(after.is_empty() || is_port(after.strip_prefix(':')?)) {
            return None;
        }
        IpAddr::V6(inside.parse::<Ipv6Addr>().ok()?)
    } else if let Ok(ip) = e.parse::<IpAddr>() {
        ip
    } else {
        // Only IPv4 may carry a port without brackets (a bare IPv6 address has colons).
        let (host, port) = e.rsplit_once(':')?;
        if !is_port(port) {
            return None;
        }
        IpAddr::V4(host.parse().ok()?)
    };
    Some(ip.to_canonical())
}

fn is_port(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 5
        && s.bytes().all(|b| b.is_ascii_digit())
        && s.parse::<u16>().is_ok()
}

fn trusted_hop(trusted: &[IpNet], ip: IpAddr) -> bool {
    trusted.iter().any(|n| n.contains(ip))
}

/// The client of a request that arrived from `peer` with these `X-Forwarded-For` header lines
/// (in the order they appear), given the trusted proxies (see the module documentation).
pub fn client_addr<'a>(
    peer: IpAddr,
    xff_lines: impl IntoIterator<Item = &'a str>,
    trusted: &[IpNet],
) -> IpAddr {
    let peer = peer.to_canonical();
    if !trusted_hop(trusted, peer) {
        return peer;
    }
    let joined: Vec<&str> = xff_lines.into_iter().collect();
    let joined = joined.join(",");
    let mut client = peer;
    for entry in joined.rsplit(',') {
        if entry.trim().is_empty() {
            // Empty list elements are allowed (and ignored) by the list syntax.
            continue;
        }
        let Some(ip) = parse_entry(entry) else {
            return client;
        };
        client = ip;
        if !trusted_hop(trusted, ip) {
            return ip;
        }
    }
    client
}

/// The key per-client caps count `ip` under: an IPv4 address as it is, an IPv6 address cut to
/// its first `v6_prefix` bits (one customer usually has a whole /64, so counting addresses
/// would let one client open a new quota per address).
pub fn client_key(ip: IpAddr, v6_prefix: u8) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => {
            let p = u32::from(v6_prefix.min(128));
            let mask = if p == 0 { 0 } else { u128::MAX << (128 - p) };
            IpAddr::V6(Ipv6Addr::from(u128::from(v6) & mask))
        }
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|s| s.parse().unwrap()).collect()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn entry_forms() {
        for (s, want) in [
            ("203.0.113.5", "203.0.113.5"),
            (" 203.0.113.5:4711 ", "203.0.113.5"),
            ("2001:db8::1", "2001:db8::1"),
            ("[2001:db8::1]", "2001:db8::1"),
            ("[2001:db8::1]:443", "2001:db8::1"),
            ("::ffff:203.0.113.5", "203.0.113.5"),
            ("[::ffff:203.0.113.5]:80", "203.0.113.5"),
        ] {
            assert_eq!(parse_entry(s), Some(ip(want)), "{s}");
        }
        for s in [
            "",
            "unknown",
            "_hidden",
            "203.0.113.5:",
            "203.0.113.5:99999",
            "203.0.113.5:80:80",
            "[2001:db8::1",
            "[2001:db8::1]x",
            "[203.0.113.5]",
            "2001:db8::1:443x",
            "0x7f.1",
            "example.com",
        ] {
            assert_eq!(parse_entry(s), None, "{s:?}");
        }
    }

    #[test]
    fn the_walk_from_the_right() {
        let t = nets(&["10.0.0.0/8", "[2001:db8:ffff::]/48"]);
        let proxy = ip("10.0.0.1");
        // Not from a trusted proxy: the header is the client's claim.
        assert_eq!(
            client_addr(ip("198.51.100.9"), ["203.0.113.5"], &t),
            ip("198.51.100.9")
        );
        // One proxy appended the client.
        assert_eq!(
            client_addr(proxy, ["6.6.6.6, 203.0.113.5"], &t),
            ip("203.0.113.5")
        );
        // Two lines are one list; trusted hops on the right are skipped.
        assert_eq!(
            client_addr(proxy, ["6.6.6.6", "203.0.113.5, 10.1.1.1"], &t),
            ip("203.0.113.5")
        );
        assert_eq!(
            client_addr(proxy, ["[2001:db8::7]:5, [2001:db8:ffff::1]"], &t),
            ip("2001:db8::7")
        );
        // No header: the proxy itself.
        assert_eq!(client_addr(proxy, [], &t), proxy);
        // Garbage stops the walk at the last good hop, never further left.
        assert_eq!(
            client_addr(proxy, ["203.0.113.5, garbage, 10.2.2.2"], &t),
            ip("10.2.2.2")
        );
        assert_eq!(client_addr(proxy, ["garbage"], &t), proxy);
        // Only trusted hops: the leftmost.
        assert_eq!(
            client_addr(proxy, ["10.3.3.3, 10.2.2.2"], &t),
            ip("10.3.3.3")
        );
        // A v4-mapped peer is the IPv4 proxy.
        assert_eq!(
            client_addr(ip("::ffff:10.0.0.1"), ["203.0.113.5"], &t),
            ip("203.0.113.5")
        );
        // Nothing trusted: never the header.
        assert_eq!(client_addr(proxy, ["203.0.113.5"], &[]), proxy);
    }

    #[test]
    fn ipv6_clients_are_counted_per_prefix() {
        assert_eq!(
            client_key(ip("2001:db8:1:2:aaaa::1"), 64),
            ip("2001:db8:1:2::")
        );
        assert_eq!(
            client_key(ip("2001:db8:1:2:aaaa::1"), 48),
            ip("2001:db8:1::")
        );
        assert_eq!(client_key(ip("2001:db8::1"), 128), ip("2001:db8::1"));
        assert_eq!(client_key(ip("203.0.113.5"), 64), ip("203.0.113.5"));
        assert_eq!(client_key(ip("::ffff:203.0.113.5"), 64), ip("203.0.113.5"));
    }

    fn any_ip() -> impl Strategy<Value = IpAddr> {
        prop_oneof![
            any::<[u8; 4]>().prop_map(IpAddr::from),
            any::<[u8; 16]>().prop_map(|o| IpAddr::from(o).to_canonical()),
        ]
    }

    /// How a proxy may write an address in the header.
    fn spelled(ip: IpAddr, form: u8, port: u16) -> String {
        match (ip, form % 3) {
            (IpAddr::V4(v4), 0) => v4.to_string(),
            (IpAddr::V4(v4), _) => format!("{v4}:{port}"),
            (IpAddr::V6(v6), 0) => v6.to_string(),
            (IpAddr::V6(v6), 1) => format!("[{v6}]"),
            (IpAddr::V6(v6), _) => format!("[{v6}]:{port}"),
        }
    }

    /// Splits `entries` into header lines at the given cut points.
    fn lines(entries: &[String], cuts: &[usize]) -> Vec<String> {
        let mut out = Vec::new();
        let mut start = 0;
        for &c in cuts {
            let c = c % (entries.len() + 1);
            if c > start {
                out.push(entries[start..c].join(", "));
                start = c;
            }
        }
        out.push(entries[start..].join(","));
        out
    }

    proptest! {
        /// Whatever the header says, it is never parsed (and never panics) unless the peer is
        /// trusted, and the answer is always the peer or an address in the header.
        #[test]
        fn never_panics_and_names_only_the_peer_or_a_listed_address(
            peer in any_ip(),
            xff in proptest::collection::vec("\\PC{0,40}", 0..4),
            trust_peer in any::<bool>(),
        ) {
            let trusted: Vec<IpNet> = if trust_peer { vec![peer.to_string().parse().unwrap()] } else { vec![] };
            let got = client_addr(peer, xff.iter().map(String::as_str), &trusted);
            if !trust_peer {
                prop_assert_eq!(got, peer);
            } else {
                let listed = xff.join(",").split(',').filter_map(parse_entry).any(|e| e == got);
                prop_assert!(got == peer || listed, "{} from {:?}", got, xff);
            }
        }

        /// A chain as proxies build it: whatever the client claimed (`claims`, possibly
        /// garbage), then the real client appended by the first trusted proxy, then the
        /// trusted hops between; in any spelling and split into any number of lines, the
        /// answer is the real client.
        #[test]
        fn the_real_client_is_found_past_trusted_hops_whatever_the_client_claims(
            claims in proptest::collection::vec("\\PC{0,20}|[0-9.]{7,15}", 0..4),
            client in any_ip(),
            hops in proptest::collection::vec(0u8..=255, 0..4),
            forms in proptest::collection::vec(any::<u8>(), 5),
            port in any::<u16>(),
            cuts in proptest::collection::vec(any::<usize>(), 0..4),
        ) {
            let trusted = vec!["10.0.0.0/8".parse::<IpNet>().unwrap(), "fd00::/8".parse().unwrap()];
            prop_assume!(!trusted.iter().any(|n| n.contains(client)));
            let claims: Vec<String> = claims.into_iter().filter(|c| !c.contains(',')).collect();
            let mut entries = claims;
            entries.push(spelled(client, forms[0], port));
            for (i, h) in hops.iter().enumerate() {
                let hop = if i % 2 == 0 {
                    IpAddr::from([10, 1, 2, *h])
                } else {
                    IpAddr::from([0xfd00, 0, 0, 0, 0, 0, 0, u16::from(*h)])
                };
                entries.push(spelled(hop, forms[1 + i % 4], port));
            }
            let ls = lines(&entries, &cuts);
            let got = client_addr(ip("10.0.0.1"), ls.iter().map(String::as_str), &trusted);
            prop_assert_eq!(got, client, "{:?}", ls);
        }

        /// Addresses in one IPv6 prefix share a key; addresses in different prefixes do not;
        /// IPv4 is counted per address.
        #[test]
        fn keys_follow_the_prefix(a in any::<u128>(), b in any::<u128>(), prefix in 1u8..=128) {
            let (va, vb) = (IpAddr::V6(Ipv6Addr::from(a)), IpAddr::V6(Ipv6Addr::from(b)));
            prop_assume!(va.to_canonical().is_ipv6() && vb.to_canonical().is_ipv6());
            let mask = u128::MAX << (128 - u32::from(prefix));
            prop_assert_eq!(client_key(va, prefix) == client_key(vb, prefix), a & mask == b & mask);
        }
    }
}
