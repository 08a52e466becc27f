//! `Debug` for the settings types that carry the token secret: every field as derived, except
//! the secret, which shows only whether it is set. The bridge never prints a secret, not even
//! in a debug log line or a test failure.
//!
//! Each impl destructures its type without `..`, so a new field does not compile until it is
//! listed here, either as shown or as redacted.

use std::fmt;

use crate::config::{CliOpts, Config, FileConfig};

/// Implements `Debug` for `$ty`, showing `$field`s as they are and each `$secret`
/// (an `Option<String>`) as `Some("<redacted>")` or `None`.
macro_rules! debug_redacted {
    ($ty:ident { $($field:ident),* $(,)? } secrets { $($secret:ident),* $(,)? }) => {
        impl fmt::Debug for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                let $ty { $($field,)* $($secret,)* } = self;
                f.debug_struct(stringify!($ty))
                    $(.field(stringify!($field), $field))*
                    $(.field(stringify!($secret), &$secret.as_ref().map(|_| "<redacted>")))*
                    .finish()
            }
        }
    };
}

debug_redacted!(Config {
    listen, web_root, pkg_root, public_hosts, origins, allow_hosts, allow_ports, servers_only,
    allow_plaintext, relay_only, extra_ca, servers, token_mode, token_in_query, tls_cert, tls_key,
    behind_proxy, trusted_proxies, frame_ancestors, metrics_listen, web_reload, kiosk,
    kiosk_idle_secs, open_relay, dev_pages, limits,
} secrets { token_secret, metrics_token });

debug_redacted!(FileConfig {
    listen, web_root, pkg_root, public_hosts, origins, allow_hosts, allow_ports, servers_only,
    allow_plaintext, relay_only, extra_ca, servers, token_secret_file, token_mode, token_in_query, tls_cert,
    tls_key, behind_proxy, trusted_proxies, frame_ancestors, metrics_listen, metrics_token_file,
    web_reload, kiosk, kiosk_idle_secs, open_relay, dev_pages, log, limits,
} secrets { token_secret, metrics_token });

debug_redacted!(CliOpts {
    config, listen, web_root, pkg_root, allow_hosts, allow_ports, servers_only, allow_plaintext,
    relay_only, extra_ca, origins, public_hosts, token_secret_file, token_mode, token_in_query, tls_cert,
    tls_key, behind_proxy, trusted_proxies, frame_ancestors, metrics_listen, metrics_token_file,
    web_reload, kiosk, kiosk_idle_secs, open_relay, dev_pages, max_sessions, max_sessions_per_ip,
    max_connections_per_ip, ipv6_prefix, idle_timeout, connect_timeout, max_connections,
    handshake_timeout, tls_timeout, stls_timeout, ping_interval, write_timeout,
    http_write_timeout, max_message_size, shutdown_grace, log,
} secrets { token_secret, token_secret_arg, metrics_token, metrics_token_arg });

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    const SECRET: &str = "do-not-print-this-secret";

    #[test]
    fn debug_never_shows_the_token_secret() {
        let mut cli = crate::config::Cli::try_parse_from(["pop3-bridge"]).unwrap();
        // As if from POP3_BRIDGE_TOKEN_SECRET and POP3_BRIDGE_METRICS_TOKEN (no flags for them).
        cli.opts.token_secret = Some(SECRET.into());
        cli.opts.metrics_token = Some(SECRET.into());
        let shown = format!("{cli:?}");
        assert!(!shown.contains(SECRET), "{shown}");
        assert!(
            shown.contains("token_secret: Some(\"<redacted>\")"),
            "{shown}"
        );
        let (config, _) = cli.opts.into_config().unwrap();
        let shown = format!("{config:?} {:?}", crate::Bridge::new(config.clone()));
        assert!(!shown.contains(SECRET), "{shown}");
        assert!(shown.contains("listen: 127.0.0.1:8080"), "{shown}");
        assert!(
            shown.contains("metrics_token: Some(\"<redacted>\")"),
            "{shown}"
        );
        let file: FileConfig = toml::from_str(&format!(
            "token_secret = \"{SECRET}\"\nmetrics_token = \"{SECRET}\""
        ))
        .unwrap();
        let shown = format!("{file:?}");
        assert!(!shown.contains(SECRET), "{shown}");
        assert!(
            shown.contains("token_secret: Some(\"<redacted>\")"),
            "{shown}"
        );
    }
}
