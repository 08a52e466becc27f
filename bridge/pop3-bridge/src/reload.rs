//! Reloading the configuration while the bridge runs (the binary does it on SIGHUP).
//!
//! The state every connection uses ([`Shared`]) comes in generations. The accept loop and
//! every HTTP request take the current generation ([`Live::shared`]); a WebSocket session
//! keeps the generation it was accepted under for its whole life, so a reload never touches
//! a session that is open. A reload builds the whole next generation first (policy with the
//! host's own addresses enumerated again, upstream TLS with its CA files and pins, token
//! checker, listener certificate) and swaps it in only when every part of it loaded: a bad
//! new configuration is refused with a typed error, logged, and the running one stays.
//!
//! What reloads: the target policy (`allow_hosts`, `allow_ports`, `servers_only`,
//! `open_relay`), the host's own addresses, the upstream TLS settings (`extra_ca`,
//! `[[server]]`, `allow_plaintext`, `relay_only`: the last two are checked together, as at
//! start-up, so a reload can never leave a relay-only bridge carrying plaintext), the tokens (`token_secret`, `token_mode`,
//! `token_in_query`) and the listener certificate (`tls_cert`/`tls_key`, the files read
//! again even when their paths did not change). Everything else is fixed while the bridge
//! runs (the listener, limits, served files, metrics, proxies, origins, kiosk settings); a
//! reload that changes any of it is applied without those changes and logs which settings
//! need a restart.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError, RwLock, Weak};

use tracing::{info, warn};

use crate::config::Config;
use crate::own_addresses::own_addresses;
use crate::policy::Policy;
use crate::tls::{self, ClientTls, ListenerCert};
use crate::token::TokenAuth;
use crate::{BridgeError, Shared};

/// The parts of [`Shared`] a reload replaces, built from one configuration.
pub(crate) struct Parts {
    pub(crate) policy: Policy,
    pub(crate) tls: ClientTls,
    pub(crate) tokens: Option<TokenAuth>,
}

impl Parts {
    /// Build them (blocking: reads the CA files and the interface list) for a listener bound
    /// to `local`.
    pub(crate) fn build(config: &Config, local: SocketAddr) -> Result<Parts, BridgeError> {
        let mut policy = config.policy()?;
        // The bridge host's own addresses: the one listened on, and every interface's
        // (loopback is refused by class already).
        if !local.ip().is_unspecified() && !local.ip().is_loopback() {
            policy.refuse_own(local.ip());
        }
        for ip in own_addresses().map_err(BridgeError::OwnAddresses)? {
            policy.refuse_own(ip);
        }
        let unused = config.unused_in_relay_only();
        if !unused.is_empty() {
            // Allowed (an operator may switch a bridge to relay-only and keep its entries),
            // but the entries no longer do anything: say so, once per load.
            warn!(
                settings = %unused.join(", "),
                "relay_only: these trust settings are not used (this bridge does no TLS to mail servers)"
            );
        }
        let tls = ClientTls::from_config(config)?;
        let tokens = config
            .token_secret
            .as_ref()
            .map(|s| TokenAuth::new(config.token_mode, s.as_bytes()));
        Ok(Parts {
            policy,
            tls,
            tokens,
        })
    }
}

/// The running bridge's current state, and what a reload needs to replace it.
pub(crate) struct Live {
    current: RwLock<Arc<Shared>>,
    /// The listener's certificate, when the listener does TLS.
    cert: Option<Arc<ListenerCert>>,
    /// The address the listener is bound to (the new configuration is checked against it).
    local: SocketAddr,
    /// One reload at a time.
    reloading: tokio::sync::Mutex<()>,
}

impl Live {
    pub(crate) fn new(
        shared: Arc<Shared>,
        cert: Option<Arc<ListenerCert>>,
        local: SocketAddr,
    ) -> Self {
        Live {
            current: RwLock::new(shared),
            cert,
            local,
            reloading: tokio::sync::Mutex::new(()),
        }
    }

    /// The current generation, for a new connection or request.
    pub(crate) fn shared(&self) -> Arc<Shared> {
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Check and build the next generation from `new`, then swap it in. On an error nothing
    /// changed.
    async fn reload(&self, new: Config) -> Result<(), BridgeError> {
        let _one = self.reloading.lock().await;
        let old = self.shared();
        let local = self.local;
        let listener_tls = self.cert.is_some();
        // File reads and getifaddrs: off the runtime's threads.
        let built = tokio::task::spawn_blocking(move || {
            new.validate()?;
            new.validate_bind(local)?;
            let restart = needs_restart(&old.config, &new, listener_tls);
            let config = merged(&old.config, new, listener_tls);
            config.validate_bind(local)?;
            let parts = Parts::build(&config, local)?;
            let cert = match (listener_tls, &config.tls_cert, &config.tls_key) {
                (true, Some(c), Some(k)) => Some(tls::load_certified_key(c, k)?),
                _ => None,
            };
            let next = old.next_generation(config, parts);
            Ok::<_, BridgeError>((next, cert, restart))
        })
        .await
        .map_err(std::io::Error::other)?;
        let (next, cert, restart) = built?;
        if let (Some(slot), Some(cert)) = (&self.cert, cert) {
            slot.replace(cert);
        }
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(next);
        if !restart.is_empty() {
            warn!(
                settings = %restart.join(", "),
                "configuration reloaded, but these changed settings need a restart: their running values stay"
            );
        }
        info!(
            own_addresses_refused = self.shared().policy.own_count(),
            "configuration reloaded: policy, tokens, upstream TLS and listener certificate; open sessions keep theirs"
        );
        Ok(())
    }
}

/// The running configuration with the reloadable settings of `new`.
fn merged(old: &Config, new: Config, listener_tls: bool) -> Config {
    let mut c = old.clone();
    c.allow_hosts = new.allow_hosts;
    c.allow_ports = new.allow_ports;
    c.servers_only = new.servers_only;
    c.open_relay = new.open_relay;
    c.allow_plaintext = new.allow_plaintext;
    c.relay_only = new.relay_only;
    c.extra_ca = new.extra_ca;
    c.servers = new.servers;
    c.token_secret = new.token_secret;
    c.token_mode = new.token_mode;
    c.token_in_query = new.token_in_query;
    // The certificate reloads; turning listener TLS on or off needs a restart.
    if listener_tls && new.tls_cert.is_some() && new.tls_key.is_some() {
        c.tls_cert = new.tls_cert;
        c.tls_key = new.tls_key;
    }
    c
}

/// The settings of `new` that differ from the running ones but cannot change while the
/// bridge runs (named as in the TOML file).
fn needs_restart(old: &Config, new: &Config, listener_tls: bool) -> Vec<&'static str> {
    let mut out = Vec::new();
    let mut check = |differs: bool, name: &'static str| {
        if differs {
            out.push(name);
        }
    };
    check(old.listen != new.listen, "listen");
    check(old.web_root != new.web_root, "web_root");
    check(old.pkg_root != new.pkg_root, "pkg_root");
    check(old.public_hosts != new.public_hosts, "public_hosts");
    check(old.origins != new.origins, "origins");
    check(old.behind_proxy != new.behind_proxy, "behind_proxy");
    check(
        old.trusted_proxies != new.trusted_proxies,
        "trusted_proxies",
    );
    check(
        old.frame_ancestors != new.frame_ancestors,
        "frame_ancestors",
    );
    check(old.metrics_listen != new.metrics_listen, "metrics_listen");
    check(old.metrics_token != new.metrics_token, "metrics_token");
    check(old.web_reload != new.web_reload, "web_reload");
    check(old.kiosk != new.kiosk, "kiosk");
    check(
        old.kiosk_idle_secs != new.kiosk_idle_secs,
        "kiosk_idle_secs",
    );
    check(old.dev_pages != new.dev_pages, "dev_pages");
    // `Limits` has no `PartialEq`; its `Debug` shows every value exactly.
    check(
        format!("{:?}", old.limits) != format!("{:?}", new.limits),
        "limits",
    );
    check(
        listener_tls != (new.tls_cert.is_some() && new.tls_key.is_some()),
        "tls_cert/tls_key (listener TLS on or off)",
    );
    out
}

/// Reloads the configuration of a running [`Bridge`](crate::Bridge): from
/// [`Bridge::reloader`](crate::Bridge::reloader), cloneable, usable from any task (the binary
/// calls it on SIGHUP with the configuration read again as at start-up, see
/// [`CliOpts::reload_config`](crate::CliOpts::reload_config)).
#[derive(Debug, Clone)]
pub struct Reloader {
    /// Set by `run`; weak, so that a handle kept somewhere never keeps a stopped bridge's
    /// state (and its shutdown) alive.
    pub(crate) slot: Arc<Mutex<Weak<Live>>>,
}

impl std::fmt::Debug for Live {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Live")
            .field("local", &self.local)
            .field("listener_tls", &self.cert.is_some())
            .finish_non_exhaustive()
    }
}

impl Reloader {
    /// A handle for a bridge that has not run yet.
    pub(crate) fn new() -> Self {
        Reloader {
            slot: Arc::new(Mutex::new(Weak::new())),
        }
    }

    /// Apply `config` to the running bridge: the policy (and the host's own addresses, listed
    /// again), the tokens, the upstream TLS settings and the listener certificate, for new
    /// sessions and TLS handshakes; open sessions keep what they started with. The new
    /// configuration is checked as at start-up, against the address the bridge listens on;
    /// when it is refused (or a file it names cannot be loaded) the error is logged and
    /// returned and the running configuration stays in force. Settings that need a restart
    /// are logged and otherwise ignored.
    ///
    /// [`BridgeError::NotRunning`] before [`Bridge::run`](crate::Bridge::run) has set the
    /// bridge up, and after it returned.
    pub async fn reload(&self, config: Config) -> Result<(), BridgeError> {
        let live = self
            .slot
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .upgrade();
        let r = match live {
            Some(live) => live.reload(config).await,
            None => Err(BridgeError::NotRunning),
        };
        if let Err(e) = &r {
            warn!(error = %e, "configuration reload refused: the running configuration stays");
        }
        r
    }

    /// Publish the running bridge's state (called by `run`).
    pub(crate) fn attach(&self, live: &Arc<Live>) {
        *self.slot.lock().unwrap_or_else(PoisonError::into_inner) = Arc::downgrade(live);
    }
}
