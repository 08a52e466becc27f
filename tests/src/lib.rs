//! End-to-end test support: a real Dovecot POP3 server, deterministic Maildirs, a test CA and a
//! latency-adding TCP proxy.

pub mod axe;
pub mod bench;
pub mod browser;
pub mod certs;
pub mod counting_server;
pub mod delay_proxy;
pub mod dovecot;
pub mod driver;
pub mod fault_proxy;
pub mod loopback;
pub mod maildir;
pub mod node_module;
pub mod npm;
pub mod offline;
pub mod proxies;
mod proxy_thread;
pub mod served;
pub mod wasm_tests;

pub use certs::{IssuedCert, TestCa, Validity};
pub use delay_proxy::DelayProxy;
pub use dovecot::{Dovecot, DovecotOptions, User};
pub use fault_proxy::{Direction, Fault, FaultPlan, FaultProxy};
pub use maildir::{Mailbox, WrittenMailbox};

/// The SHA-256 of `bytes` in lowercase hex: how the store writes its checksums (web/store.js),
/// so tests compare what the page kept with what the server holds.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
