//! The bridge host's own addresses: every address on every interface, enumerated with
//! `getifaddrs` at start-up and at every reload, so that a browser cannot use the bridge to
//! reach services on the bridge host itself through one of its interface addresses, whatever
//! address the bridge listens on (a wildcard bind listens on all of them). The policy refuses
//! them even inside an allowed network; only an entry for exactly that address opens one (see
//! `Policy::refuse_own`).
//!
//! Loopback addresses are left out: the policy refuses loopback by class already, and an
//! operator's explicit `127.0.0.1` or `127.0.0.0/8` entry (a mail server on the same host)
//! keeps meaning what it says.

use std::io;
use std::net::IpAddr;

use crate::policy::{AddrClass, classify};

/// The addresses of this host's interfaces, loopback left out, without duplicates.
pub(crate) fn own_addresses() -> io::Result<Vec<IpAddr>> {
    let mut out = Vec::new();
    for ip in interface_addresses()? {
        if classify(ip) != AddrClass::Loopback && !out.contains(&ip) {
            out.push(ip);
        }
    }
    Ok(out)
}

#[cfg(unix)]
fn interface_addresses() -> io::Result<Vec<IpAddr>> {
    let addrs = nix::ifaddrs::getifaddrs().map_err(io::Error::from)?;
    Ok(addrs
        .filter_map(|a| {
            let sa = a.address?;
            if let Some(v4) = sa.as_sockaddr_in() {
                Some(IpAddr::V4(v4.ip()))
            } else {
                sa.as_sockaddr_in6().map(|v6| IpAddr::V6(v6.ip()))
            }
        })
        .collect())
}

/// Where `getifaddrs` is not wired up, the bridge cannot know its addresses and says so: it
/// refuses to start rather than run without the check.
#[cfg(not(unix))]
fn interface_addresses() -> io::Result<Vec<IpAddr>> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "cannot list this host's interface addresses on this platform",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_no_loopback_and_no_duplicates() {
        let all = interface_addresses().expect("getifaddrs");
        // Every host has a loopback interface; it is enumerated and then left out.
        assert!(all.iter().any(|a| a.is_loopback()), "{all:?}");
        let own = own_addresses().unwrap();
        assert!(own.iter().all(|a| !a.is_loopback()), "{own:?}");
        for (i, a) in own.iter().enumerate() {
            assert!(!own[i + 1..].contains(a), "{a} twice in {own:?}");
        }
        // Everything else is kept.
        for a in all.iter().filter(|a| !a.is_loopback()) {
            assert!(own.contains(a), "{a} missing from {own:?}");
        }
    }
}
