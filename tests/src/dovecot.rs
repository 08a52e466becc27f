//! A real Dovecot POP3 server for tests.
//!
//! [`Dovecot::start`] writes a self-contained configuration into a fresh temporary directory
//! (base_dir, state_dir, log file, passwd-file users, Maildirs, TLS certificate signed by a
//! [`TestCa`]) and runs `dovecot -F -c <config>` as a child process, listening on 127.0.0.1:
//!
//! * `plain_port`: POP3 with `STLS` offered,
//! * `tls_port`: POP3 over implicit TLS.
//!
//! Users live in a passwd-file with `{PLAIN}` passwords, so every mechanism Dovecot knows
//! works: USER/PASS, APOP, SASL PLAIN, LOGIN, CRAM-MD5, SCRAM-SHA-1, SCRAM-SHA-256, and, with
//! [`DovecotOptions::oauth2`] (on by default), OAUTHBEARER and XOAUTH2 against a tiny local
//! token-introspection HTTP server. Plaintext authentication is allowed on the unencrypted port
//! (`disable_plaintext_auth = no`) so clients' own refusal can be tested. Failed logins are not
//! delayed (`auth_failure_delay = 0`, no anvil penalty) unless asked for.
//!
//! Dropping the [`Dovecot`] stops the server and deletes its directory. Every instance has its
//! own directory and ports, so tests may run in parallel.
//!
//! Dovecot refuses to run mail processes as root: mail is owned by the system user
//! [`MAIL_USER`] (created on first use with `useradd --system` if missing), and login/auth
//! processes use the Debian package's `dovenull` and `dovecot` users.

use std::fs;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use crate::certs::{IssuedCert, TestCa};
use crate::maildir::{Mailbox, WrittenMailbox};

/// The system user that owns test mail (Dovecot will not access mail as root).
pub const MAIL_USER: &str = "pop3test";

/// Host every instance listens on.
pub const HOST: &str = "127.0.0.1";

/// One user to create.
#[derive(Debug, Clone)]
pub struct UserSpec {
    /// Login name (no `:` or whitespace).
    pub name: String,
    /// Password (no `:` or newline).
    pub password: String,
    /// The messages in the user's INBOX.
    pub mailbox: Mailbox,
    /// OAuth bearer token accepted for this user (when OAuth2 is enabled).
    pub oauth_token: String,
}

/// Options for [`Dovecot::start`].
#[derive(Debug, Clone)]
pub struct DovecotOptions {
    users: Vec<UserSpec>,
    plain_port: Option<u16>,
    tls_port: Option<u16>,
    ca: Option<Arc<TestCa>>,
    server_cert: Option<IssuedCert>,
    oauth2: bool,
    auth_failure_delay_secs: u32,
    auth_penalty: bool,
    debug_log: bool,
    extra_config: Vec<String>,
}

impl Default for DovecotOptions {
    /// No users (add them with [`DovecotOptions::user`]), random free ports, fresh CA, OAuth2 on.
    fn default() -> Self {
        DovecotOptions {
            users: Vec::new(),
            plain_port: None,
            tls_port: None,
            ca: None,
            server_cert: None,
            oauth2: true,
            auth_failure_delay_secs: 0,
            auth_penalty: false,
            debug_log: false,
            extra_config: Vec::new(),
        }
    }
}

impl DovecotOptions {
    /// Same as [`Default::default`].
    pub fn new() -> DovecotOptions {
        DovecotOptions::default()
    }

    /// Adds a user with a mailbox. The OAuth token is `oauth-token-for-<name>`.
    pub fn user(mut self, name: &str, password: &str, mailbox: Mailbox) -> DovecotOptions {
        assert!(
            !name.is_empty() && !name.contains([':', ' ', '\t', '\n', '/']),
            "bad user name {name:?}"
        );
        assert!(
            !password.contains([':', '\n', '\r']),
            "bad password {password:?}"
        );
        self.users.push(UserSpec {
            name: name.to_owned(),
            password: password.to_owned(),
            mailbox,
            oauth_token: format!("oauth-token-for-{name}"),
        });
        self
    }

    /// Adds a fully specified user.
    pub fn user_spec(mut self, spec: UserSpec) -> DovecotOptions {
        self.users.push(spec);
        self
    }

    /// Fixed ports instead of free random ones (no retry on conflicts).
    pub fn ports(mut self, plain: u16, tls: u16) -> DovecotOptions {
        self.plain_port = Some(plain);
        self.tls_port = Some(tls);
        self
    }

    /// Use this CA (e.g. a persistent one) instead of a fresh one.
    pub fn ca(mut self, ca: Arc<TestCa>) -> DovecotOptions {
        self.ca = Some(ca);
        self
    }

    /// Serve this certificate instead of a valid `localhost`/`127.0.0.1` one issued by the CA
    /// (e.g. an expired or wrong-name certificate from [`TestCa::issue`]).
    pub fn server_cert(mut self, cert: IssuedCert) -> DovecotOptions {
        self.server_cert = Some(cert);
        self
    }

    /// Enable OAUTHBEARER/XOAUTH2 with a local introspection server (default on).
    pub fn oauth2(mut self, on: bool) -> DovecotOptions {
        self.oauth2 = on;
        self
    }

    /// Dovecot's delay before answering a failed authentication (default 0 here; Dovecot's
    /// own default is 2 seconds).
    pub fn auth_failure_delay_secs(mut self, secs: u32) -> DovecotOptions {
        self.auth_failure_delay_secs = secs;
        self
    }

    /// Enable Dovecot's per-IP anvil authentication penalty (default off here).
    pub fn auth_penalty(mut self, on: bool) -> DovecotOptions {
        self.auth_penalty = on;
        self
    }

    /// `auth_debug`, `auth_verbose`, `mail_debug` and a debug log.
    pub fn debug_log(mut self, on: bool) -> DovecotOptions {
        self.debug_log = on;
        self
    }

    /// Appends raw lines to the generated `dovecot.conf` (later settings override earlier).
    pub fn extra_config(mut self, text: &str) -> DovecotOptions {
        self.extra_config.push(text.to_owned());
        self
    }
}

/// A user of a running [`Dovecot`].
#[derive(Debug, Clone)]
pub struct User {
    /// Login name.
    pub name: String,
    /// Password.
    pub password: String,
    /// The user's Maildir (INBOX).
    pub maildir: PathBuf,
    /// What was written into the Maildir (with [`WrittenMailbox::expected_bytes`]).
    pub mailbox: WrittenMailbox,
    /// OAuth bearer token accepted for this user (if OAuth2 is enabled).
    pub oauth_token: String,
}

/// A running Dovecot; dropping it stops the server and removes its files.
pub struct Dovecot {
    child: Option<Child>,
    dir: Option<tempfile::TempDir>,
    plain_port: u16,
    tls_port: u16,
    users: Vec<User>,
    ca: Arc<TestCa>,
    ca_pem_path: PathBuf,
    log_path: PathBuf,
    oauth2: Option<IntrospectionServer>,
}

impl std::fmt::Debug for Dovecot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dovecot")
            .field("dir", &self.dir())
            .field("plain_port", &self.plain_port)
            .field("tls_port", &self.tls_port)
            .field(
                "users",
                &self.users.iter().map(|u| &u.name).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

impl Dovecot {
    /// Starts Dovecot and waits until both ports accept connections and greet.
    pub fn start(opts: DovecotOptions) -> io::Result<Dovecot> {
        ensure_mail_user()?;
        static SWEEP: OnceLock<()> = OnceLock::new();
        SWEEP.get_or_init(sweep_stale_dirs);
        let fixed = opts.plain_port.is_some() || opts.tls_port.is_some();
        let mut last_err = None;
        for _ in 0..if fixed { 1 } else { 5 } {
            match Dovecot::try_start(&opts) {
                Ok(d) => return Ok(d),
                Err(StartError::PortInUse(e)) if !fixed => last_err = Some(e),
                Err(StartError::PortInUse(e)) | Err(StartError::Other(e)) => return Err(e),
            }
        }
        Err(last_err.unwrap_or_else(|| io::Error::other("dovecot did not start")))
    }

    /// [`Dovecot::start`] on a blocking thread, for async tests.
    pub async fn start_async(opts: DovecotOptions) -> io::Result<Dovecot> {
        tokio::task::spawn_blocking(move || Dovecot::start(opts))
            .await
            .map_err(io::Error::other)?
    }

    fn try_start(opts: &DovecotOptions) -> Result<Dovecot, StartError> {
        let dir = tempfile::Builder::new().prefix("dovecot-e2e-").tempdir()?;
        let root = dir.path().to_owned();
        fs::set_permissions(&root, fs::Permissions::from_mode(0o755))?;

        let ca = match &opts.ca {
            Some(ca) => ca.clone(),
            None => Arc::new(TestCa::new()?),
        };
        let ca_pem_path = root.join("ca.pem");
        ca.write_cert(&ca_pem_path)?;
        fs::set_permissions(&ca_pem_path, fs::Permissions::from_mode(0o644))?;
        let cert = match &opts.server_cert {
            Some(c) => c.clone(),
            None => ca.issue_localhost()?,
        };
        let cert_path = root.join("server-cert.pem");
        let key_path = root.join("server-key.pem");
        fs::write(&cert_path, &cert.cert_pem)?;
        fs::write(&key_path, &cert.key_pem)?;
        fs::set_permissions(&key_path, fs::Permissions::from_mode(0o600))?;

        // Users and mail.
        let (uid, gid) = mail_user_ids()?;
        let mail_root = root.join("mail");
        fs::create_dir_all(&mail_root)?;
        fs::set_permissions(&mail_root, fs::Permissions::from_mode(0o755))?;
        let mut passwd = String::new();
        let mut users = Vec::new();
        for spec in &opts.users {
            let home = mail_root.join(&spec.name);
            let maildir = home.join("Maildir");
            let written = spec.mailbox.write_to(&maildir)?;
            chown_recursive(&home, uid, gid)?;
            passwd.push_str(&format!("{}:{{PLAIN}}{}::::::\n", spec.name, spec.password));
            users.push(User {
                name: spec.name.clone(),
                password: spec.password.clone(),
                maildir,
                mailbox: written,
                oauth_token: spec.oauth_token.clone(),
            });
        }
        let passwd_path = root.join("passwd");
        fs::write(&passwd_path, passwd)?;
        fs::set_permissions(&passwd_path, fs::Permissions::from_mode(0o644))?;

        let oauth2 = if opts.oauth2 {
            let tokens = opts
                .users
                .iter()
                .map(|u| (u.oauth_token.clone(), u.name.clone()))
                .collect();
            let server = IntrospectionServer::start(tokens)?;
            let conf = format!(
                "introspection_mode = post\n\
                 introspection_url = http://127.0.0.1:{}/introspect\n\
                 force_introspection = yes\n\
                 username_attribute = username\n\
                 active_attribute = active\n\
                 active_value = true\n\
                 timeout_msecs = 5000\n",
                server.port
            );
            let p = root.join("oauth2.conf");
            fs::write(&p, conf)?;
            fs::set_permissions(&p, fs::Permissions::from_mode(0o644))?;
            Some(server)
        } else {
            None
        };

        let plain_port = match opts.plain_port {
            Some(p) => p,
            None => free_port()?,
        };
        let tls_port = match opts.tls_port {
            Some(p) => p,
            None => loop {
                let p = free_port()?;
                if p != plain_port {
                    break p;
                }
            },
        };

        let conf_path = root.join("dovecot.conf");
        let log_path = root.join("dovecot.log");
        fs::write(
            &conf_path,
            render_config(
                opts,
                &root,
                plain_port,
                tls_port,
                &cert_path,
                &key_path,
                &passwd_path,
            ),
        )?;

        let out = fs::File::create(root.join("stdout.log"))?;
        let err = out.try_clone()?;
        let child = Command::new(dovecot_binary())
            .arg("-F")
            .arg("-c")
            .arg(&conf_path)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(|e| io::Error::new(e.kind(), format!("spawning dovecot: {e}")))?;

        let mut d = Dovecot {
            child: Some(child),
            dir: Some(dir),
            plain_port,
            tls_port,
            users,
            ca,
            ca_pem_path,
            log_path,
            oauth2,
        };
        d.wait_ready(Duration::from_secs(20))?;
        Ok(d)
    }

    fn wait_ready(&mut self, timeout: Duration) -> Result<(), StartError> {
        let deadline = Instant::now() + timeout;
        let mut plain_ok = false;
        let mut tls_ok = false;
        loop {
            if let Some(child) = self.child.as_mut()
                && let Some(status) = child.try_wait()?
            {
                let log = self.log();
                let msg = format!("dovecot exited with {status} during startup:\n{log}");
                return Err(if log.contains("Address already in use") {
                    StartError::PortInUse(io::Error::new(io::ErrorKind::AddrInUse, msg))
                } else {
                    StartError::Other(io::Error::other(msg))
                });
            }
            if !plain_ok {
                plain_ok = greets(self.plain_addr());
            }
            if !tls_ok {
                tls_ok =
                    TcpStream::connect_timeout(&self.tls_addr(), Duration::from_secs(1)).is_ok();
            }
            if plain_ok && tls_ok {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(StartError::Other(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("dovecot did not become ready:\n{}", self.log()),
                )));
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// `"127.0.0.1"`.
    pub fn host(&self) -> &str {
        HOST
    }

    /// Port of the plain listener (STLS offered).
    pub fn plain_port(&self) -> u16 {
        self.plain_port
    }

    /// Port of the implicit-TLS listener.
    pub fn tls_port(&self) -> u16 {
        self.tls_port
    }

    /// `127.0.0.1:plain_port`.
    pub fn plain_addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.plain_port))
    }

    /// `127.0.0.1:tls_port`.
    pub fn tls_addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.tls_port))
    }

    /// All users, in the order they were added.
    pub fn users(&self) -> &[User] {
        &self.users
    }

    /// The user called `name`. Panics if there is none.
    pub fn user(&self, name: &str) -> &User {
        self.users
            .iter()
            .find(|u| u.name == name)
            .unwrap_or_else(|| panic!("no user {name:?}"))
    }

    /// The Maildir of user `name`.
    pub fn maildir(&self, name: &str) -> &Path {
        &self.user(name).maildir
    }

    /// Number of messages written for user `name`.
    pub fn message_count(&self, name: &str) -> usize {
        self.user(name).mailbox.len()
    }

    /// What a client must receive for message `index` (0-based; POP3 number `index + 1`).
    pub fn expected_bytes(&self, name: &str, index: usize) -> Vec<u8> {
        self.user(name).mailbox.expected_bytes(index)
    }

    /// The CA that signed the server certificate.
    pub fn ca(&self) -> &TestCa {
        &self.ca
    }

    /// The CA certificate shared handle (to start another server with the same CA).
    pub fn ca_arc(&self) -> Arc<TestCa> {
        self.ca.clone()
    }

    /// Path of the CA certificate (PEM) that clients should trust.
    pub fn ca_pem_path(&self) -> &Path {
        &self.ca_pem_path
    }

    /// The CA certificate PEM.
    pub fn ca_pem(&self) -> &str {
        self.ca.cert_pem()
    }

    /// A rustls client config trusting only the test CA.
    pub fn rustls_client_config(&self) -> Arc<rustls::ClientConfig> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let cfg = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("protocol versions")
            .with_root_certificates(self.ca.root_store())
            .with_no_client_auth();
        Arc::new(cfg)
    }

    /// Whether OAUTHBEARER/XOAUTH2 are configured.
    pub fn oauth2_enabled(&self) -> bool {
        self.oauth2.is_some()
    }

    /// The server's temporary directory.
    pub fn dir(&self) -> &Path {
        self.dir.as_ref().expect("dir present until drop").path()
    }

    /// The contents of Dovecot's log so far (useful in assertion messages).
    pub fn log(&self) -> String {
        let mut s = fs::read_to_string(&self.log_path).unwrap_or_default();
        if let Ok(out) = fs::read_to_string(self.dir().join("stdout.log"))
            && !out.is_empty()
        {
            s.push_str("--- stdout/stderr ---\n");
            s.push_str(&out);
        }
        s
    }

    /// What Dovecot logged each time a POP3 session of user `name` ended, oldest first: the
    /// text from `Disconnected` on, e.g. `Disconnected: Logged out top=0/0, retr=6/24576,
    /// del=0/6, size=24576` after QUIT (`del=` counts the messages QUIT deleted, of those
    /// there were), `Disconnected: Connection closed …` without QUIT.
    pub fn pop3_disconnects(&self, name: &str) -> Vec<String> {
        let tag = format!("pop3({name})");
        fs::read_to_string(&self.log_path)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains(&tag))
            .filter_map(|l| l.find("Disconnected").map(|i| l[i..].to_owned()))
            .collect()
    }

    /// Waits (up to 10 s) for Dovecot to log the end of a POP3 session of user `name` after the
    /// first `before` ones ([`Dovecot::pop3_disconnects`]), and returns that line. Once it is
    /// logged, whatever the session's end did to the Maildir (QUIT's deletions) is done: what
    /// a test checks after it is not a race with the server.
    pub async fn session_end(&self, name: &str, before: usize) -> Result<String, String> {
        let start = Instant::now();
        loop {
            let lines = self.pop3_disconnects(name);
            if let Some(l) = lines.get(before) {
                return Ok(l.clone());
            }
            if start.elapsed() > Duration::from_secs(10) {
                return Err(format!(
                    "Dovecot logged no end of session {} of {name} (it logged {lines:?})",
                    before + 1
                ));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The messages currently in the user's Maildir (`new/` + `cur/`), e.g. to check DELE.
    pub fn stored_message_count(&self, name: &str) -> io::Result<usize> {
        let md = self.maildir(name);
        let mut n = 0;
        for sub in ["new", "cur"] {
            n += fs::read_dir(md.join(sub))?.count();
        }
        Ok(n)
    }

    /// Replaces user `name`'s whole Maildir with `mailbox` while the server runs, so one server
    /// serves many independent runs (the sync fault tests). Dovecot notices the new files at
    /// the next login and gives them new UIDs (so new UIDLs).
    pub fn refill(&mut self, name: &str, mailbox: &Mailbox) -> io::Result<&WrittenMailbox> {
        let pos = self
            .users
            .iter()
            .position(|u| u.name == name)
            .ok_or_else(|| io::Error::other(format!("no user {name}")))?;
        let maildir = self.users[pos].maildir.clone();
        for sub in ["new", "cur", "tmp"] {
            let dir = maildir.join(sub);
            if let Ok(entries) = fs::read_dir(&dir) {
                for e in entries.flatten() {
                    fs::remove_file(e.path())?;
                }
            }
        }
        let written = mailbox.write_to(&maildir)?;
        let (uid, gid) = mail_user_ids()?;
        chown_recursive(&maildir, uid, gid)?;
        self.users[pos].mailbox = written;
        Ok(&self.users[pos].mailbox)
    }

    /// The bytes a client would RETR for every message now in user `name`'s Maildir.
    pub fn server_messages(&self, name: &str) -> io::Result<Vec<Vec<u8>>> {
        let md = self.maildir(name);
        let mut out = Vec::new();
        for sub in ["new", "cur"] {
            for e in fs::read_dir(md.join(sub))? {
                out.push(crate::maildir::to_crlf(&fs::read(e?.path())?));
            }
        }
        Ok(out)
    }

    /// Which of `name`'s original messages (POP3 numbers at the start, 1-based, sorted) are in
    /// the Maildir now, recognised by their bytes: which ones, not only how many. A stored
    /// message that is none of the originals is an error.
    pub fn remaining_messages(&self, name: &str) -> io::Result<Vec<usize>> {
        let originals: Vec<_> = (0..self.message_count(name))
            .map(|i| self.expected_bytes(name, i))
            .collect();
        let mut present = Vec::new();
        for m in self.server_messages(name)? {
            let i = originals.iter().position(|o| *o == m).ok_or_else(|| {
                io::Error::other(format!(
                    "a stored message of {name} is none of the originals ({} bytes)",
                    m.len()
                ))
            })?;
            present.push(i + 1);
        }
        present.sort_unstable();
        Ok(present)
    }

    /// Whether the Dovecot master process is still running.
    pub fn is_running(&mut self) -> bool {
        match self.child.as_mut() {
            Some(c) => matches!(c.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// Stops the server now (also done on drop).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            terminate(&mut child, Duration::from_secs(5));
        }
        if let Some(o) = self.oauth2.take() {
            o.stop();
        }
    }

    /// Keeps the temporary directory on drop (for debugging); returns its path.
    pub fn keep_dir(&mut self) -> PathBuf {
        self.dir.take().expect("dir present").keep()
    }
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        self.stop();
    }
}

enum StartError {
    PortInUse(io::Error),
    Other(io::Error),
}

impl From<io::Error> for StartError {
    fn from(e: io::Error) -> Self {
        StartError::Other(e)
    }
}

fn dovecot_binary() -> PathBuf {
    let p = PathBuf::from("/usr/sbin/dovecot");
    if p.exists() {
        p
    } else {
        PathBuf::from("dovecot")
    }
}

fn render_config(
    opts: &DovecotOptions,
    root: &Path,
    plain_port: u16,
    tls_port: u16,
    cert: &Path,
    key: &Path,
    passwd: &Path,
) -> String {
    let r = root.display();
    let mut mechs = "plain login cram-md5 scram-sha-1 scram-sha-256 apop".to_owned();
    if opts.oauth2 {
        mechs.push_str(" oauthbearer xoauth2");
    }
    let mut c = format!(
        "# Generated by the e2e harness; self-contained (no !include).\n\
base_dir = {r}/run\n\
state_dir = {r}/state\n\
log_path = {r}/dovecot.log\n\
info_log_path = {r}/dovecot.log\n\
debug_log_path = {r}/dovecot.log\n\
protocols = pop3\n\
listen = {HOST}\n\
shutdown_clients = yes\n\
ssl = yes\n\
ssl_cert = <{cert}\n\
ssl_key = <{key}\n\
disable_plaintext_auth = no\n\
auth_mechanisms = {mechs}\n\
auth_failure_delay = {delay} secs\n\
auth_cache_size = 0\n\
default_login_user = dovenull\n\
default_internal_user = dovecot\n\
first_valid_uid = 1\n\
first_valid_gid = 1\n\
mail_location = maildir:{r}/mail/%u/Maildir\n\
mail_fsync = never\n\
pop3_uidl_format = %08Xu%08Xv\n\
login_greeting = Dovecot ready.\n\
passdb {{\n\
  driver = passwd-file\n\
  args = scheme=PLAIN username_format=%u {passwd}\n\
}}\n\
userdb {{\n\
  driver = passwd-file\n\
  args = username_format=%u {passwd}\n\
  default_fields = uid={MAIL_USER} gid={MAIL_USER} home={r}/mail/%u\n\
}}\n\
service pop3-login {{\n\
  inet_listener pop3 {{\n\
    address = {HOST}\n\
    port = {plain_port}\n\
  }}\n\
  inet_listener pop3s {{\n\
    address = {HOST}\n\
    port = {tls_port}\n\
    ssl = yes\n\
  }}\n\
}}\n",
        cert = cert.display(),
        key = key.display(),
        passwd = passwd.display(),
        delay = opts.auth_failure_delay_secs,
    );
    if opts.oauth2 {
        c.push_str(&format!(
            "passdb {{\n  driver = oauth2\n  mechanisms = xoauth2 oauthbearer\n  args = {r}/oauth2.conf\n}}\n"
        ));
    }
    if !opts.auth_penalty {
        c.push_str("service anvil {\n  unix_listener anvil-auth-penalty {\n    mode = 0\n  }\n}\n");
    }
    if opts.debug_log {
        c.push_str("auth_verbose = yes\nauth_debug = yes\nmail_debug = yes\nverbose_ssl = yes\n");
    }
    for extra in &opts.extra_config {
        c.push_str(extra);
        c.push('\n');
    }
    c
}

/// Connects and checks for a `+OK` greeting line.
fn greets(addr: SocketAddr) -> bool {
    let Ok(s) = TcpStream::connect_timeout(&addr, Duration::from_secs(1)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    let mut line = String::new();
    let ok = BufReader::new(&s).read_line(&mut line).is_ok() && line.starts_with("+OK");
    let _ = (&s).write_all(b"QUIT\r\n");
    ok
}

/// A currently free TCP port on 127.0.0.1 (racy by nature; [`Dovecot::start`] retries).
pub fn free_port() -> io::Result<u16> {
    Ok(TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?
        .local_addr()?
        .port())
}

fn terminate(child: &mut Child, grace: Duration) {
    if let Ok(Some(_)) = child.try_wait() {
        return;
    }
    if let Ok(pid) = libc::pid_t::try_from(child.id()) {
        // SIGTERM lets the Dovecot master stop its login/auth/pop3 children.
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(pid.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        thread::sleep(Duration::from_millis(10));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// Removes directories of earlier instances whose test process was killed before it could clean
/// up: older than an hour and without a live Dovecot master.
fn sweep_stale_dirs() {
    let Ok(entries) = fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for e in entries.flatten() {
        let path = e.path();
        let is_ours = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("dovecot-e2e-"));
        let old = e
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > Duration::from_secs(3600));
        if !is_ours || !old {
            continue;
        }
        let master_alive = fs::read_to_string(path.join("run/master.pid"))
            .ok()
            .map(|pid| Path::new("/proc").join(pid.trim()).exists())
            .unwrap_or(false);
        if !master_alive {
            let _ = fs::remove_dir_all(&path);
        }
    }
}

/// Creates the [`MAIL_USER`] system user if it does not exist (idempotent, race-tolerant).
pub fn ensure_mail_user() -> io::Result<()> {
    static LOCK: Mutex<()> = Mutex::new(());
    let _g = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    if mail_user_ids().is_ok() {
        return Ok(());
    }
    let status = Command::new("useradd")
        .args([
            "--system",
            "--user-group",
            "--no-create-home",
            "--home-dir",
            "/nonexistent",
            "--shell",
            "/usr/sbin/nologin",
            MAIL_USER,
        ])
        .status()
        .map_err(|e| io::Error::new(e.kind(), format!("running useradd: {e}")))?;
    // 9 = user already exists (another process won the race).
    if !status.success() && status.code() != Some(9) {
        return Err(io::Error::other(format!(
            "useradd {MAIL_USER} failed with {status} (run `cargo xtask setup` as root)"
        )));
    }
    mail_user_ids().map(|_| ())
}

/// uid and gid of [`MAIL_USER`], from /etc/passwd.
pub fn mail_user_ids() -> io::Result<(u32, u32)> {
    static IDS: OnceLock<(u32, u32)> = OnceLock::new();
    if let Some(ids) = IDS.get() {
        return Ok(*ids);
    }
    let passwd = fs::read_to_string("/etc/passwd")?;
    for line in passwd.lines() {
        let f: Vec<&str> = line.split(':').collect();
        if f.len() >= 4 && f[0] == MAIL_USER {
            let uid = f[2].parse().map_err(io::Error::other)?;
            let gid = f[3].parse().map_err(io::Error::other)?;
            return Ok(*IDS.get_or_init(|| (uid, gid)));
        }
    }
    Err(io::Error::new(
        io::ErrorKind::NotFound,
        format!("system user {MAIL_USER} does not exist"),
    ))
}

fn chown_recursive(path: &Path, uid: u32, gid: u32) -> io::Result<()> {
    std::os::unix::fs::chown(path, Some(uid), Some(gid))?;
    if fs::symlink_metadata(path)?.is_dir() {
        for entry in fs::read_dir(path)? {
            chown_recursive(&entry?.path(), uid, gid)?;
        }
    }
    Ok(())
}

/// A minimal RFC 7662 token-introspection endpoint for Dovecot's oauth2 passdb.
struct IntrospectionServer {
    port: u16,
    stop: Arc<AtomicBool>,
    thread: Option<thread::JoinHandle<()>>,
}

impl IntrospectionServer {
    fn start(tokens: Vec<(String, String)>) -> io::Result<IntrospectionServer> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
        listener.set_nonblocking(true)?;
        let port = listener.local_addr()?.port();
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = stop.clone();
        let tokens = Arc::new(tokens);
        let thread = thread::Builder::new()
            .name("oauth2-introspect".into())
            .spawn(move || {
                while !stop2.load(Ordering::Relaxed) {
                    match listener.accept() {
                        Ok((s, _)) => {
                            let tokens = tokens.clone();
                            thread::spawn(move || {
                                let _ = serve_introspection(s, &tokens);
                            });
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                            thread::sleep(Duration::from_millis(10));
                        }
                        Err(_) => thread::sleep(Duration::from_millis(10)),
                    }
                }
            })?;
        Ok(IntrospectionServer {
            port,
            stop,
            thread: Some(thread),
        })
    }

    fn stop(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve_introspection(s: TcpStream, tokens: &[(String, String)]) -> io::Result<()> {
    s.set_nonblocking(false)?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut rd = BufReader::new(s.try_clone()?);
    let mut w = s;
    loop {
        let mut request_line = String::new();
        if rd.read_line(&mut request_line)? == 0 {
            return Ok(());
        }
        let mut content_length = 0usize;
        let mut bearer = None;
        loop {
            let mut h = String::new();
            if rd.read_line(&mut h)? == 0 {
                return Ok(());
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                let v = v.trim();
                if k.eq_ignore_ascii_case("content-length") {
                    content_length = v.parse().unwrap_or(0);
                } else if k.eq_ignore_ascii_case("authorization") {
                    bearer = v.strip_prefix("Bearer ").map(str::to_owned);
                }
            }
        }
        let mut body = vec![0u8; content_length];
        rd.read_exact(&mut body)?;
        let body = String::from_utf8_lossy(&body).into_owned();
        // Token from the form body (post mode), the query (get mode) or the header (auth mode).
        let query = request_line
            .split_whitespace()
            .nth(1)
            .and_then(|t| t.split_once('?'))
            .map(|(_, q)| q.to_owned())
            .unwrap_or_default();
        let token = form_value(&body, "token")
            .or_else(|| form_value(&query, "token"))
            .or_else(|| form_value(&query, "access_token"))
            .or(bearer);
        let user = token
            .as_deref()
            .and_then(|t| tokens.iter().find(|(tok, _)| tok == t))
            .map(|(_, u)| u.clone());
        let json = match user {
            Some(u) => format!("{{\"active\": true, \"username\": \"{u}\"}}"),
            None => "{\"active\": false}".to_owned(),
        };
        write!(
            w,
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{}",
            json.len(),
            json
        )?;
        w.flush()?;
    }
}

fn form_value(form: &str, key: &str) -> Option<String> {
    form.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k == key).then(|| percent_decode(v))
    })
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                let hex = std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(v) => {
                        out.push(v);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
