//! RFC 2449 CAPA responses, parsed into a typed set.

use crate::codec::status::sanitize_text;
use crate::sasl::Mechanism;

/// A server policy that is either a number of days/minutes or "never" (RFC 2449 §6.7, §6.8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expire {
    /// Messages are kept on the server for at most this many days after they were downloaded.
    Days(u32),
    /// The server never deletes messages on its own.
    Never,
}

/// What a server said it can do (RFC 2449 CAPA, RFC 2595 STLS, RFC 5034 SASL, RFC 6856
/// UTF8/LANG). Servers often hide capabilities before login, so the core asks again after STLS and
/// after authentication; each answer replaces the previous set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Capabilities {
    /// TOP is supported.
    pub top: bool,
    /// USER/PASS is supported.
    pub user: bool,
    /// UIDL is supported.
    pub uidl: bool,
    /// Commands may be pipelined (RFC 2449 §6.6).
    pub pipelining: bool,
    /// `-ERR` texts may start with bracketed response codes.
    pub resp_codes: bool,
    /// RFC 3206 `[AUTH]`/`[SYS/…]` codes are used.
    pub auth_resp_code: bool,
    /// STLS is offered (only meaningful before TLS).
    pub stls: bool,
    /// SASL mechanisms the core knows, in the server's order.
    pub sasl: Vec<Mechanism>,
    /// SASL mechanism names the core does not implement (shown to the user, never used).
    pub sasl_unknown: Vec<String>,
    /// Minimum seconds between logins; `per_user` when the value may change after login.
    pub login_delay: Option<(u32, bool)>,
    /// Server-side retention policy; `per_user` when the value may change after login.
    pub expire: Option<(Expire, bool)>,
    /// Free text naming the server software (sanitized).
    pub implementation: Option<String>,
    /// RFC 6856 UTF8 is offered (`true` in the tuple when `UTF8 USER` allows UTF-8 user names).
    pub utf8: Option<bool>,
    /// RFC 6856 LANG is offered.
    pub lang: bool,
    /// Capability lines the core does not interpret, kept (sanitized) for diagnostics.
    pub other: Vec<String>,
}

impl Capabilities {
    /// Parses the lines of a CAPA response (dot-unstuffed, without line endings). Unknown or
    /// malformed lines are kept in `other` rather than failing: a capability list is advice, and
    /// one odd line must not make the whole server unusable.
    pub fn parse<'a>(lines: impl IntoIterator<Item = &'a [u8]>) -> Capabilities {
        let mut caps = Capabilities::default();
        for line in lines {
            let text = String::from_utf8_lossy(line);
            let mut words = text.split_ascii_whitespace();
            let Some(name) = words.next() else { continue };
            let args: Vec<&str> = words.collect();
            let per_user = args.get(1).is_some_and(|a| a.eq_ignore_ascii_case("USER"));
            match name.to_ascii_uppercase().as_str() {
                "TOP" => caps.top = true,
                "USER" => caps.user = true,
                "UIDL" => caps.uidl = true,
                "PIPELINING" => caps.pipelining = true,
                "RESP-CODES" => caps.resp_codes = true,
                "AUTH-RESP-CODE" => caps.auth_resp_code = true,
                "STLS" => caps.stls = true,
                "LANG" => caps.lang = true,
                "UTF8" => {
                    let user = args.iter().any(|a| a.eq_ignore_ascii_case("USER"));
                    caps.utf8 = Some(user);
                }
                "SASL" => {
                    for mech in &args {
                        match Mechanism::from_name(mech) {
                            Some(m) if !caps.sasl.contains(&m) => caps.sasl.push(m),
                            Some(_) => {}
                            None => caps.sasl_unknown.push(sanitize_text(mech.as_bytes())),
                        }
                    }
                }
                "LOGIN-DELAY" => {
                    if let Some(n) = args.first().and_then(|a| a.parse().ok()) {
                        caps.login_delay = Some((n, per_user));
                    } else {
                        caps.other.push(sanitize_text(line));
                    }
                }
                "EXPIRE" => {
                    let value = match args.first() {
                        Some(a) if a.eq_ignore_ascii_case("NEVER") => Some(Expire::Never),
                        Some(a) => a.parse().ok().map(Expire::Days),
                        None => None,
                    };
                    match value {
                        Some(v) => caps.expire = Some((v, per_user)),
                        None => caps.other.push(sanitize_text(line)),
                    }
                }
                "IMPLEMENTATION" => {
                    let rest = text[name.len()..].trim();
                    caps.implementation = Some(sanitize_text(rest.as_bytes()));
                }
                _ => caps.other.push(sanitize_text(line)),
            }
        }
        caps
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Capabilities {
        Capabilities::parse(text.lines().map(str::as_bytes))
    }

    #[test]
    fn rfc2449_example_capabilities_are_all_understood() {
        // RFC 2449 §5 example, plus the codes a Dovecot server sends.
        let caps = parse(
            "TOP\nUSER\nSASL CRAM-MD5 KERBEROS_V4\nRESP-CODES\nLOGIN-DELAY 900\n\
             PIPELINING\nEXPIRE 60\nUIDL\nIMPLEMENTATION Shlemazle-Plotz-v302",
        );
        assert!(caps.top && caps.user && caps.uidl && caps.pipelining && caps.resp_codes);
        assert_eq!(caps.sasl, vec![Mechanism::CramMd5]);
        assert_eq!(caps.sasl_unknown, vec!["KERBEROS_V4".to_string()]);
        assert_eq!(caps.login_delay, Some((900, false)));
        assert_eq!(caps.expire, Some((Expire::Days(60), false)));
        assert_eq!(caps.implementation.as_deref(), Some("Shlemazle-Plotz-v302"));
        assert!(!caps.stls);
    }

    #[test]
    fn per_user_policies_and_never_are_recognised() {
        let caps = parse("EXPIRE NEVER USER\nLOGIN-DELAY 300 USER\nUTF8 USER\nLANG\nSTLS");
        assert_eq!(caps.expire, Some((Expire::Never, true)));
        assert_eq!(caps.login_delay, Some((300, true)));
        assert_eq!(caps.utf8, Some(true));
        assert!(caps.lang && caps.stls);
    }

    #[test]
    fn malformed_lines_are_kept_not_fatal() {
        let caps = parse("EXPIRE soon\nX-WEIRD\x01 thing\n\n   \nLOGIN-DELAY");
        assert_eq!(caps.expire, None);
        assert_eq!(caps.login_delay, None);
        assert_eq!(caps.other.len(), 3);
        assert!(caps.other.iter().all(|l| !l.contains('\x01')));
    }

    #[test]
    fn sasl_mechanisms_are_case_insensitive_and_deduplicated() {
        let caps = parse("SASL plain SCRAM-SHA-256 PLAIN xoauth2 OAUTHBEARER");
        assert_eq!(
            caps.sasl,
            vec![
                Mechanism::Plain,
                Mechanism::ScramSha256,
                Mechanism::XOAuth2,
                Mechanism::OAuthBearer
            ]
        );
    }
}
