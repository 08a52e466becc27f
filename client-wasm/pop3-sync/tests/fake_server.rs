//! Whole syncs: a real pop3-proto `Client` talks to a scripted in-test POP3 server, and a
//! small native driver (the same steps as web/sync.js) feeds the answers into a `SyncRun`,
//! commits to an in-memory store, and persists `known()` after every step. Faults are injected
//! at chosen commands. After every sync the invariant is checked: each message ever delivered
//! is on the server or byte-identical (sha256) in the store.

use pop3_proto::{AuthMethod, Client, Event, Handle, Instant, Login, MsgNum, Options, Transaction};
use pop3_sync::*;
use std::collections::{BTreeMap, BTreeSet};

const NOW: i64 = 1_800_000_000_000;

/// A POP3 server that knows just enough of RFC 1939 and CAPA, with switches for the failures
/// the tests need. The mailbox survives sessions; DELE marks do not (RFC 1939 §6: only QUIT
/// enters UPDATE).
struct Server {
    mailbox: Vec<(String, Vec<u8>)>,
    advertise_uidl: bool,
    uidl_works: bool,
    quit_fails: bool,
    /// QUIT is carried out (the server enters UPDATE and removes the marked messages), but the
    /// connection breaks before its `+OK` reaches the client (RFC 1939 §6 leaves the client
    /// unable to tell this from a QUIT that did nothing).
    lose_quit_reply: bool,
    /// Called with each command line; `true` cuts the connection instead of answering.
    cut: Box<dyn FnMut(&str) -> bool>,
    log: Vec<String>,
    marks: BTreeSet<usize>,
    inbuf: Vec<u8>,
}

#[derive(Debug)]
struct Cut;

/// A message on the server: its UIDL and bytes.
type OnServer = (String, Vec<u8>);

impl Server {
    fn new(mail: &[(&str, Vec<u8>)]) -> Server {
        Server {
            mailbox: mail
                .iter()
                .map(|(u, m)| ((*u).to_owned(), m.clone()))
                .collect(),
            advertise_uidl: true,
            uidl_works: true,
            quit_fails: false,
            lose_quit_reply: false,
            cut: Box::new(|_| false),
            log: Vec::new(),
            marks: BTreeSet::new(),
            inbuf: Vec::new(),
        }
    }

    fn count(&self, prefix: &str) -> usize {
        self.log.iter().filter(|l| l.starts_with(prefix)).count()
    }

    fn uids(&self) -> Vec<String> {
        self.mailbox.iter().map(|(u, _)| u.clone()).collect()
    }

    fn greeting(&mut self) -> Vec<u8> {
        self.marks.clear();
        self.inbuf.clear();
        b"+OK fake POP3 ready\r\n".to_vec()
    }

    fn multiline(lines: &[u8]) -> Vec<u8> {
        let mut out = b"+OK\r\n".to_vec();
        for line in lines.split_inclusive(|&b| b == b'\n') {
            if line.first() == Some(&b'.') {
                out.push(b'.');
            }
            out.extend_from_slice(line);
        }
        if !out.ends_with(b"\r\n") {
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b".\r\n");
        out
    }

    fn msg(&self, arg: Option<&str>) -> Option<usize> {
        let n: usize = arg?.parse().ok()?;
        (n >= 1 && n <= self.mailbox.len() && !self.marks.contains(&(n - 1))).then(|| n - 1)
    }

    fn answer(&mut self, line: &str) -> Vec<u8> {
        let mut words = line.split(' ');
        let cmd = words.next().unwrap_or("").to_ascii_uppercase();
        let arg = words.next();
        let listing = |f: &dyn Fn(usize, &OnServer) -> String| {
            let mut s = String::new();
            for (i, m) in self.mailbox.iter().enumerate() {
                if !self.marks.contains(&i) {
                    s.push_str(&f(i + 1, m));
                    s.push_str("\r\n");
                }
            }
            Server::multiline(s.as_bytes())
        };
        match cmd.as_str() {
            "CAPA" => {
                let uidl = if self.advertise_uidl { "UIDL\r\n" } else { "" };
                Server::multiline(format!("USER\r\nTOP\r\n{uidl}").as_bytes())
            }
            "USER" | "PASS" | "NOOP" => b"+OK\r\n".to_vec(),
            "LIST" => listing(&|n, (_, raw)| format!("{n} {}", raw.len())),
            "UIDL" if !self.uidl_works => b"-ERR [SYS/TEMP] unique ids unavailable\r\n".to_vec(),
            "UIDL" => listing(&|n, (uid, _)| format!("{n} {uid}")),
            // RFC 1939: the header, the empty line, then `lines` lines of the body.
            "TOP" => match (self.msg(arg), words.next().map(str::parse::<usize>)) {
                (Some(i), Some(Ok(lines))) => {
                    let raw = &self.mailbox[i].1;
                    let head = raw
                        .windows(4)
                        .position(|w| w == b"\r\n\r\n")
                        .map_or(raw.len(), |p| p + 4);
                    let body: usize = raw[head..]
                        .split_inclusive(|&b| b == b'\n')
                        .take(lines)
                        .map(<[u8]>::len)
                        .sum();
                    Server::multiline(&raw[..head + body])
                }
                _ => b"-ERR no such message\r\n".to_vec(),
            },
            "RETR" => match self.msg(arg) {
                Some(i) => Server::multiline(&self.mailbox[i].1.clone()),
                None => b"-ERR no such message\r\n".to_vec(),
            },
            "DELE" => match self.msg(arg) {
                Some(i) => {
                    self.marks.insert(i);
                    b"+OK marked\r\n".to_vec()
                }
                None => b"-ERR no such message\r\n".to_vec(),
            },
            "RSET" => {
                self.marks.clear();
                b"+OK\r\n".to_vec()
            }
            "QUIT" if self.quit_fails => b"-ERR some deleted messages not removed\r\n".to_vec(),
            "QUIT" => {
                let marks = std::mem::take(&mut self.marks);
                let mut i = 0;
                self.mailbox.retain(|_| {
                    i += 1;
                    !marks.contains(&(i - 1))
                });
                b"+OK bye\r\n".to_vec()
            }
            _ => b"-ERR unknown command\r\n".to_vec(),
        }
    }

    /// Bytes from the client; the answers, or a cut (marks are lost with the connection).
    fn receive(&mut self, bytes: &[u8]) -> Result<Vec<u8>, Cut> {
        self.inbuf.extend_from_slice(bytes);
        let mut out = Vec::new();
        while let Some(p) = self.inbuf.windows(2).position(|w| w == b"\r\n") {
            let line = String::from_utf8_lossy(&self.inbuf[..p]).into_owned();
            self.inbuf.drain(..p + 2);
            self.log.push(line.clone());
            if (self.cut)(&line) {
                self.marks.clear();
                return Err(Cut);
            }
            out.extend(self.answer(&line));
            if self.lose_quit_reply && line.eq_ignore_ascii_case("QUIT") {
                // Carried out; the answer is lost with the connection.
                return Err(Cut);
            }
        }
        Ok(out)
    }
}

/// The browser's store, reduced to what the invariant needs. Like web/store.js, a commit
/// replaces what was under its key: header bytes written over a full body lose that body.
#[derive(Default, Clone)]
struct Store {
    known: Vec<KnownRecord>,
    /// Full messages, by key.
    bytes: BTreeMap<String, Vec<u8>>,
    /// Header sections stored without their body, by key.
    headers: BTreeMap<String, Vec<u8>>,
    /// Every record written beside bytes, in order (what `CommitRecord` the run gave).
    writes: Vec<CommitRecord>,
}

impl Store {
    /// One commit: the bytes under the key the run's record names, with that record.
    fn commit(&mut self, record: &CommitRecord, raw: &[u8]) {
        if record.stored == Stored::Full {
            self.headers.remove(&record.key);
            self.bytes.insert(record.key.clone(), raw.to_vec());
        } else {
            self.bytes.remove(&record.key);
            self.headers.insert(record.key.clone(), raw.to_vec());
        }
        self.writes.push(record.clone());
    }

    /// The user deleted a message here: its bytes go, its record stays.
    fn delete_local(&mut self, key: &str) {
        self.bytes.remove(key);
        self.headers.remove(key);
    }
}

/// One connection: the client and the server it talks to.
struct Conn<'a> {
    client: Client,
    server: &'a mut Server,
    now: Instant,
    events: Vec<Event>,
}

impl Conn<'_> {
    fn pump(&mut self) -> Result<(), Cut> {
        loop {
            let mut progressed = false;
            while let Some(out) = self.client.poll_transmit(self.now) {
                progressed = true;
                let answer = self.server.receive(&out)?;
                if !answer.is_empty() {
                    self.client.feed(&answer, self.now).map_err(|_| Cut)?;
                }
            }
            while let Some(e) = self.client.poll_event() {
                progressed = true;
                self.events.push(e);
            }
            if !progressed {
                return Ok(());
            }
        }
    }

    fn open(server: &mut Server) -> Result<Conn<'_>, Cut> {
        let now = Instant::now();
        let mut c = Conn {
            client: Client::new(Options::implicit_tls(), now),
            server,
            now,
            events: Vec::new(),
        };
        let greeting = c.server.greeting();
        c.client.feed(&greeting, now).map_err(|_| Cut)?;
        c.pump()?;
        let mut login = Login::password("u", "p", vec![1; 32]);
        login.methods = Some(vec![AuthMethod::UserPass]);
        c.client
            .authorization()
            .expect("greeted")
            .login(login)
            .expect("login");
        c.pump()?;
        assert!(c.client.transaction().is_some(), "logged in");
        Ok(c)
    }

    /// Runs one command; its events (data pieces and the final one).
    fn exec(&mut self, f: impl FnOnce(&mut Transaction<'_>) -> Handle) -> Result<Vec<Event>, Cut> {
        let h = f(&mut self.client.transaction().expect("in transaction"));
        self.pump()?;
        Ok(self
            .events
            .drain(..)
            .filter(|e| handle_of(e) == Some(h))
            .collect())
    }

    fn body(
        &mut self,
        f: impl FnOnce(&mut Transaction<'_>) -> Handle,
    ) -> Result<Option<Vec<u8>>, Cut> {
        let ev = self.exec(f)?;
        if ev.iter().any(|e| matches!(e, Event::Failed { .. })) {
            return Ok(None);
        }
        Ok(Some(
            ev.into_iter()
                .filter_map(|e| match e {
                    Event::MessageData { data, .. } => Some(data),
                    _ => None,
                })
                .flatten()
                .collect(),
        ))
    }

    fn ok(&mut self, f: impl FnOnce(&mut Transaction<'_>) -> Handle) -> Result<bool, Cut> {
        Ok(self
            .exec(f)?
            .iter()
            .any(|e| matches!(e, Event::Done { .. })))
    }

    fn quit(&mut self) -> Result<bool, Cut> {
        let h = self.client.transaction().expect("in transaction").quit();
        self.pump()?;
        Ok(self
            .events
            .iter()
            .any(|e| matches!(e, Event::Closed { handle, committed: true } if *handle == h)))
    }
}

fn handle_of(e: &Event) -> Option<Handle> {
    match e {
        Event::List { handle, .. }
        | Event::Uidl { handle, .. }
        | Event::MessageData { handle, .. }
        | Event::MessageEnd { handle, .. }
        | Event::Done { handle, .. }
        | Event::Failed { handle, .. }
        | Event::Closed { handle, .. } => Some(*handle),
        _ => None,
    }
}

fn n(m: u32) -> MsgNum {
    MsgNum::new(m).expect("message numbers start at 1")
}

#[derive(Default)]
struct Outcome {
    plan: Option<Plan>,
    /// The bodies the run chose within the storage estimate.
    fetch: Option<BodiesToFetch>,
    headers: Vec<HeadersResult>,
    quit: Option<QuitResult>,
    pending: Vec<Deletion>,
    cut: bool,
}

struct Settings {
    policy: Policy,
    no_uidl_delete: bool,
    /// The n-th body commit of the session fails (disk full): the run is not told.
    fail_commit: Option<usize>,
    /// The user presses "undo" on the before-QUIT summary.
    undo: bool,
    /// What the browser says of its storage (`None`: it does not say).
    estimate: Option<StorageEstimate>,
    /// Message numbers the user deletes in this session (DELE sent by the UI, not the run).
    user_deletes: Vec<u32>,
}

fn policy(mode: Mode) -> Settings {
    Settings {
        policy: Policy {
            mode,
            keep_days: (mode == Mode::KeepDays).then_some(1),
            size_limit: None,
        },
        no_uidl_delete: false,
        fail_commit: None,
        undo: false,
        estimate: None,
        user_deletes: Vec::new(),
    }
}

/// One whole sync, as web/sync.js does it. On a cut the run is told (`quit(false)`) and its
/// records are persisted: the state a reloaded page would start from.
fn sync(server: &mut Server, store: &mut Store, settings: &Settings, now_ms: i64) -> Outcome {
    let mut run = SyncRun::new(SyncOptions {
        account: "a".into(),
        policy: settings.policy.clone(),
        known: store.known.clone(),
        now_ms,
        download_and_delete_without_uidl: settings.no_uidl_delete,
    })
    .expect("valid options");
    let mut out = Outcome::default();
    let result = steps(server, store, &mut run, &mut out, settings);
    if result.is_err() {
        out.cut = true;
        run.quit(false, &settings.user_deletes);
    }
    store.known = run.known();
    for k in run.dropped() {
        store.bytes.remove(&k);
        store.headers.remove(&k);
    }
    for k in out.quit.iter().flat_map(|q| &q.delete_local) {
        store.delete_local(k);
    }
    out
}

fn steps(
    server: &mut Server,
    store: &mut Store,
    run: &mut SyncRun,
    out: &mut Outcome,
    settings: &Settings,
) -> Result<(), Cut> {
    let mut c = Conn::open(server)?;
    let advertised = c.client.capabilities().is_some_and(|caps| caps.uidl);
    let list = c.exec(|t| t.list(None))?;
    let uidl = c.exec(|t| t.uidl(None))?;
    let list: Vec<ScanIn> = list
        .iter()
        .find_map(|e| match e {
            Event::List { entries, .. } => Some(
                entries
                    .iter()
                    .map(|s| ScanIn {
                        msg: s.msg.get(),
                        size: s.size,
                    })
                    .collect(),
            ),
            _ => None,
        })
        .expect("LIST answered");
    let uidl_entries = uidl.iter().find_map(|e| match e {
        Event::Uidl { entries, .. } => Some(
            entries
                .iter()
                .map(|u| UidIn {
                    msg: u.msg.get(),
                    uid: u.uid.as_str().to_owned(),
                })
                .collect::<Vec<_>>(),
        ),
        _ => None,
    });
    let failed = uidl_entries.is_none().then(|| "failed".to_owned());
    let plan = run
        .listing(ListingIn {
            uidl_advertised: advertised,
            uidl: uidl_entries,
            uidl_error: failed,
            list,
        })
        .expect("listing accepted");
    store.known = run.known();
    out.plan = Some(plan.clone());
    if plan.blocked.is_some() {
        let committed = c.quit()?;
        out.quit = Some(run.quit(committed, &[]));
        return Ok(());
    }
    for &m in &plan.headers {
        let h = c.body(|t| t.top(n(m), 0))?;
        let answer = run.headers(m, h.as_deref()).expect("headers accepted");
        // The run says whether these bytes are written, and the record beside them.
        if let (Some(record), Some(raw)) = (&answer.record, &h) {
            store.commit(record, raw);
            run.stored(m, Committed::HeadersOnly)
                .expect("stored accepted");
        }
        out.headers.push(answer);
    }
    store.known = run.known();
    let fetch = run.bodies_within(settings.estimate);
    out.fetch = Some(fetch.clone());
    for (i, m) in fetch.bodies.into_iter().enumerate() {
        let raw = c.body(|t| t.retr(n(m)))?.expect("RETR answered");
        // The record (and so the key) comes from the run: a reused UIDL's new key, the
        // checksum without UIDL.
        let sha256 = Sha256::of(&raw);
        let what = Committed::Full { sha256 };
        let record = run
            .record_for(m, &what)
            .expect("a record for a planned body");
        if settings.fail_commit == Some(i) {
            // The commit failed: the run is never told, and the sync goes on to deletions
            // (harsher than web/sync.js, which stops) to prove the run refuses them.
            continue;
        }
        // The durable commit, then (and only then) the run is told.
        store.commit(&record, &raw);
        run.stored(m, what).expect("stored accepted");
        store.known = run.known();
    }
    for d in run.deletions().expect("listed") {
        if c.ok(|t| t.dele(n(d.msg)))? {
            run.delete_acked(d.msg).expect("the run allowed it");
        }
    }
    store.known = run.known();
    // The before-QUIT summary; undo is RSET, then the run forgets.
    // The user's own deletions, sent by the UI.
    let mut user_deleted = Vec::new();
    for &m in &settings.user_deletes {
        if c.ok(|t| t.dele(n(m)))? {
            user_deleted.push(m);
        }
    }
    out.pending = run.pending_deletes();
    if settings.undo && c.ok(|t| t.rset())? {
        run.undo_deletions().expect("listed");
        store.known = run.known();
        user_deleted.clear();
    }
    let committed = c.quit()?;
    out.quit = Some(run.quit(committed, &user_deleted));
    Ok(())
}

/// Every message ever delivered is on the server or byte-identical in the store.
fn assert_nothing_lost(originals: &[Vec<u8>], server: &Server, store: &Store) {
    for raw in originals {
        let on_server = server.mailbox.iter().any(|(_, m)| m == raw);
        let sha = sha256_hex(raw);
        let in_store = store.bytes.values().any(|b| sha256_hex(b) == sha)
            && store
                .known
                .iter()
                .any(|r| r.stored == Stored::Full && r.sha256.as_deref() == Some(sha.as_str()));
        assert!(
            on_server || in_store,
            "lost: {}",
            String::from_utf8_lossy(raw)
        );
    }
}

fn mail(id: &str, body: &str) -> Vec<u8> {
    format!(
        "From: a@example.org\r\nSubject: {id}\r\nMessage-ID: <{id}@example.org>\r\nDate: Mon, 1 Jan 2024 00:00:00 +0000\r\n\r\n{body}\r\n"
    )
    .into_bytes()
}

fn mailbox(ids: &[&str]) -> Vec<(String, Vec<u8>)> {
    ids.iter()
        .map(|id| ((*id).to_owned(), mail(id, "hello")))
        .collect()
}

fn server_of(mb: &[(String, Vec<u8>)]) -> Server {
    let borrowed: Vec<(&str, Vec<u8>)> = mb.iter().map(|(u, m)| (u.as_str(), m.clone())).collect();
    Server::new(&borrowed)
}

fn originals(mb: &[(String, Vec<u8>)]) -> Vec<Vec<u8>> {
    mb.iter().map(|(_, m)| m.clone()).collect()
}

#[test]
fn delete_after_download_stores_everything_then_empties_the_server() {
    let mb = mailbox(&["a", "b", "c"]);
    let mut server = server_of(&mb);
    let mut store = Store::default();
    let out = sync(
        &mut server,
        &mut store,
        &policy(Mode::DeleteAfterDownload),
        NOW,
    );
    assert!(!out.cut);
    assert_eq!(out.quit.unwrap().deleted, ["a", "b", "c"]);
    assert!(server.mailbox.is_empty());
    assert_eq!(store.bytes.len(), 3);
    // Headers first, newest first (one TOP per new message), then the bodies newest first,
    // then a DELE for exactly each stored message.
    let after_listing: Vec<&str> = server
        .log
        .iter()
        .map(String::as_str)
        .skip_while(|l| *l != "UIDL")
        .collect();
    assert_eq!(
        after_listing,
        [
            "UIDL", "TOP 3 0", "TOP 2 0", "TOP 1 0", "RETR 3", "RETR 2", "RETR 1", "DELE 1",
            "DELE 2", "DELE 3", "QUIT"
        ]
    );
    assert_nothing_lost(&originals(&mb), &server, &store);
}

#[test]
fn uidl_failure_downloads_nothing() {
    let mb = mailbox(&["a", "b"]);
    let mut server = server_of(&mb);
    server.uidl_works = false;
    let mut store = Store::default();
    let out = sync(
        &mut server,
        &mut store,
        &policy(Mode::DeleteAfterDownload),
        NOW,
    );
    let plan = out.plan.unwrap();
    assert_eq!(plan.blocked.unwrap().code, "uidl_failed");
    assert_eq!(
        server.count("TOP") + server.count("RETR") + server.count("DELE"),
        0
    );
    assert_eq!(server.mailbox.len(), 2);
    assert!(store.bytes.is_empty() && store.known.is_empty());
}

#[test]
fn no_uidl_offers_only_explicit_download_and_delete() {
    let mb = mailbox(&["a", "b"]);
    let mut server = server_of(&mb);
    server.advertise_uidl = false;
    server.uidl_works = false;
    let mut store = Store::default();
    // The default: nothing planned, the user is told.
    let out = sync(
        &mut server,
        &mut store,
        &policy(Mode::DeleteAfterDownload),
        NOW,
    );
    assert_eq!(out.plan.unwrap().blocked.unwrap().code, "no_uidl");
    assert_eq!(server.count("RETR") + server.count("DELE"), 0);

    // Chosen explicitly, with a QUIT that fails: everything stored, nothing deleted...
    let mut explicit = policy(Mode::Leave);
    explicit.no_uidl_delete = true;
    server.quit_fails = true;
    let out = sync(&mut server, &mut store, &explicit, NOW);
    assert!(!out.quit.unwrap().committed);
    assert_eq!(store.bytes.len(), 2);
    assert_eq!(server.mailbox.len(), 2);
    // ...and the next time the same bytes are recognised by checksum, and deleted.
    server.quit_fails = false;
    let out = sync(&mut server, &mut store, &explicit, NOW);
    let keys: Vec<String> = mb
        .iter()
        .map(|(_, raw)| format!("sha256:{}", sha256_hex(raw)))
        .collect();
    assert_eq!(out.quit.unwrap().deleted, keys);
    assert!(server.mailbox.is_empty());
    assert_eq!(store.bytes.len(), 2);
    assert_eq!(store.known.len(), 2);
    assert_nothing_lost(&originals(&mb), &server, &store);
}

#[test]
fn mass_vanish_matches_by_fingerprint_and_deletes_nothing() {
    let ids: Vec<String> = (0..12).map(|i| format!("m{i}")).collect();
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    let mb = mailbox(&refs);
    let mut server = server_of(&mb);
    let mut store = Store::default();
    sync(&mut server, &mut store, &policy(Mode::Leave), NOW);
    assert_eq!(server.count("RETR"), 12);

    // The provider migrates: the same mail under new UIDLs, plus one new message.
    for (uid, _) in &mut server.mailbox {
        *uid = format!("migrated-{uid}");
    }
    server.mailbox.push(("fresh".into(), mail("fresh", "new")));
    server.log.clear();
    let out = sync(
        &mut server,
        &mut store,
        &policy(Mode::DeleteAfterDownload),
        NOW,
    );
    let plan = out.plan.unwrap();
    assert!(plan.mass_vanish);
    assert!(
        plan.warnings
            .iter()
            .any(|w| w.code == "uidl_mass_vanish" && w.count == 12)
    );
    assert_eq!(
        out.headers
            .iter()
            .filter(|h| h.matched_key.is_some())
            .count(),
        12
    );
    // Only the new message is downloaded; nothing is deleted, though the policy says so.
    assert_eq!(server.count("RETR"), 1);
    assert_eq!(server.count("DELE"), 0);
    assert_eq!(server.mailbox.len(), 13);
    assert_eq!(store.bytes.len(), 13);
    assert!(store.known.iter().all(|r| !r.server_gone));

    // The next sync is ordinary again: each stored message is checked (TOP) and deleted.
    server.log.clear();
    let out = sync(
        &mut server,
        &mut store,
        &policy(Mode::DeleteAfterDownload),
        NOW,
    );
    assert!(!out.plan.unwrap().mass_vanish);
    assert_eq!(server.count("RETR"), 0);
    let deles: Vec<String> = server
        .log
        .iter()
        .filter(|l| l.starts_with("DELE"))
        .cloned()
        .collect();
    assert_eq!(
        deles,
        (1..=13).map(|m| format!("DELE {m}")).collect::<Vec<_>>()
    );
    // Under the keys they were first stored with: the twelve old ones, then the new one.
    let mut keys = ids.clone();
    keys.push("fresh".into());
    assert_eq!(out.quit.unwrap().deleted, keys);
    assert!(server.mailbox.is_empty());
    let mut all = originals(&mb);
    all.push(mail("fresh", "new"));
    assert_nothing_lost(&all, &server, &store);
}

#[test]
fn reused_uidl_for_different_mail_is_downloaded_and_never_deleted_unseen() {
    let mb = vec![("x".to_owned(), mail("old", "one"))];
    let mut server = server_of(&mb);
    let mut store = Store::default();
    sync(&mut server, &mut store, &policy(Mode::Leave), NOW);
    // Someone else deletes x; the server hands "x" to different mail of the same size.
    let new = mail("new", "two");
    assert_eq!(new.len(), mb[0].1.len());
    server.mailbox = vec![("x".into(), new.clone())];
    server.log.clear();
    let out = sync(
        &mut server,
        &mut store,
        &policy(Mode::DeleteAfterDownload),
        NOW,
    );
    assert!(out.headers[0].reused_uid);
    // The new mail is downloaded under a new key, the old one is kept, and only after the new
    // one is stored is it deleted.
    assert_eq!(server.count("RETR"), 1);
    assert_eq!(store.bytes.get("x"), Some(&mb[0].1));
    assert_eq!(store.bytes.get("x#1"), Some(&new));
    let retr = server
        .log
        .iter()
        .position(|l| l.starts_with("RETR"))
        .unwrap();
    let dele = server
        .log
        .iter()
        .position(|l| l.starts_with("DELE"))
        .unwrap();
    assert!(retr < dele);
    assert_nothing_lost(&[mb[0].1.clone(), new], &server, &store);
}

#[test]
fn connection_cut_after_dele_before_quit_keeps_mail_and_retries_the_deletion() {
    let mb = mailbox(&["a", "b"]);
    let mut server = server_of(&mb);
    server.cut = Box::new(|l| l == "QUIT");
    let mut store = Store::default();
    let out = sync(
        &mut server,
        &mut store,
        &policy(Mode::DeleteAfterDownload),
        NOW,
    );
    assert!(out.cut);
    assert_eq!(
        server
            .log
            .iter()
            .filter(|l| l.starts_with("DELE"))
            .collect::<Vec<_>>(),
        ["DELE 1", "DELE 2"]
    );
    // RFC 1939: without QUIT nothing is deleted.
    assert_eq!(server.mailbox.len(), 2);
    assert!(
        store
            .known
            .iter()
            .all(|r| r.delete_pending && !r.server_gone)
    );
    // Next session, even with the policy changed to leave: the deletions are retried.
    server.cut = Box::new(|_| false);
    server.log.clear();
    let out = sync(&mut server, &mut store, &policy(Mode::Leave), NOW);
    assert_eq!(server.count("RETR"), 0);
    assert_eq!(out.quit.unwrap().deleted, ["a", "b"]);
    assert!(server.mailbox.is_empty());
    assert!(
        store
            .known
            .iter()
            .all(|r| r.server_gone && !r.delete_pending)
    );
    assert_nothing_lost(&originals(&mb), &server, &store);
}

#[test]
fn quit_err_leaves_deletions_pending() {
    let mb = mailbox(&["a"]);
    let mut server = server_of(&mb);
    server.quit_fails = true;
    let mut store = Store::default();
    let out = sync(
        &mut server,
        &mut store,
        &policy(Mode::DeleteAfterDownload),
        NOW,
    );
    let q = out.quit.unwrap();
    assert!(!q.committed);
    assert_eq!(q.pending, vec!["a".to_owned()]);
    assert_eq!(server.mailbox.len(), 1);
    assert!(store.known[0].delete_pending);
    server.quit_fails = false;
    let out = sync(
        &mut server,
        &mut store,
        &policy(Mode::DeleteAfterDownload),
        NOW,
    );
    assert_eq!(out.quit.unwrap().deleted, vec!["a".to_owned()]);
    assert!(server.mailbox.is_empty());
    assert_nothing_lost(&originals(&mb), &server, &store);
}

#[test]
fn quit_carried_out_but_its_reply_lost_is_not_committed_and_the_next_session_sees_the_mail_gone() {
    // RFC 1939 §6: the server enters UPDATE on QUIT and removes the marked messages; the
    // connection breaks before its +OK arrives. The client cannot know the deletions happened.
    let mb = mailbox(&["a", "b", "c"]);
    let mut server = server_of(&mb);
    server.lose_quit_reply = true;
    let mut store = Store::default();
    let out = sync(
        &mut server,
        &mut store,
        &policy(Mode::DeleteAfterDownload),
        NOW,
    );
    assert!(out.cut && out.quit.is_none());
    assert_eq!(
        server
            .log
            .iter()
            .filter(|l| l.starts_with("DELE") || *l == "QUIT")
            .collect::<Vec<_>>(),
        ["DELE 1", "DELE 2", "DELE 3", "QUIT"]
    );
    // The server did delete them; the client treats them as not committed: still pending.
    assert!(server.mailbox.is_empty());
    let state = |store: &Store| -> Vec<(String, bool, bool)> {
        store
            .known
            .iter()
            .map(|r| (r.key.clone(), r.delete_pending, r.server_gone))
            .collect()
    };
    assert_eq!(
        state(&store),
        [
            ("a".to_owned(), true, false),
            ("b".to_owned(), true, false),
            ("c".to_owned(), true, false)
        ]
    );
    assert_nothing_lost(&originals(&mb), &server, &store);

    // New mail arrives and takes message number 1, which was "a" last session. The next
    // session (leave on server: the only DELE would be a pending one) finds a, b and c gone.
    server.lose_quit_reply = false;
    server.log.clear();
    let d = mail("d", "new");
    server.mailbox.push(("d".into(), d.clone()));
    let out = sync(&mut server, &mut store, &policy(Mode::Leave), NOW);
    assert!(!out.cut);
    assert_eq!(out.plan.unwrap().vanished, ["a", "b", "c"]);
    let q = out.quit.unwrap();
    assert!(q.committed && q.deleted.is_empty() && q.pending.is_empty());
    // Nothing was deleted in its place, only the new mail was downloaded, and once.
    assert_eq!(server.count("DELE"), 0);
    assert_eq!(server.uids(), ["d"]);
    assert_eq!(
        server
            .log
            .iter()
            .filter(|l| l.starts_with("RETR"))
            .collect::<Vec<_>>(),
        ["RETR 1"]
    );
    assert_eq!(
        state(&store),
        [
            ("a".to_owned(), false, true),
            ("b".to_owned(), false, true),
            ("c".to_owned(), false, true),
            ("d".to_owned(), false, false)
        ]
    );
    // Each message once in the store, byte for byte.
    let mut want: BTreeMap<String, Vec<u8>> = mb.iter().cloned().collect();
    want.insert("d".into(), d.clone());
    assert_eq!(store.bytes, want);
    let mut all = originals(&mb);
    all.push(d);
    assert_nothing_lost(&all, &server, &store);
}

#[test]
fn top_with_lines_gives_the_header_and_that_many_body_lines_dot_unstuffed() {
    // Body lines that begin with dots, one of them a lone "." (the terminator, unstuffed).
    let raw =
        b"From: a@example.org\r\nSubject: dots\r\n\r\n.hidden\r\n..two\r\n.\r\nfour\r\nfive\r\n";
    let head = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    let mut server = Server::new(&[("d", raw.to_vec())]);
    let mut c = Conn::open(&mut server).expect("no cut");
    let lines: [&[u8]; 5] = [
        b".hidden\r\n",
        b"..two\r\n",
        b".\r\n",
        b"four\r\n",
        b"five\r\n",
    ];
    for k in [0u32, 1, 2, 3, 4, 5, 9] {
        let got = c
            .body(|t| t.top(n(1), k))
            .expect("no cut")
            .expect("TOP answered");
        let mut want = raw[..head].to_vec();
        for l in lines.iter().take(k as usize) {
            want.extend_from_slice(l);
        }
        assert_eq!(
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(&want),
            "TOP 1 {k}"
        );
    }
    assert!(c.quit().expect("no cut"));
    let tops: Vec<&str> = server
        .log
        .iter()
        .map(String::as_str)
        .filter(|l| l.starts_with("TOP"))
        .collect();
    assert_eq!(
        tops,
        [
            "TOP 1 0", "TOP 1 1", "TOP 1 2", "TOP 1 3", "TOP 1 4", "TOP 1 5", "TOP 1 9"
        ]
    );
}

#[test]
fn message_numbers_are_renumbered_between_sessions() {
    let mb = mailbox(&["a", "b", "c"]);
    let mut server = server_of(&mb);
    let mut store = Store::default();
    sync(&mut server, &mut store, &policy(Mode::Leave), NOW);
    // Another client deletes "a": b is now 1, c is 2; new mail d is 3. The user deleted c
    // locally.
    server.mailbox.remove(0);
    server.mailbox.push(("d".into(), mail("d", "new")));
    for r in &mut store.known {
        if r.key == "c" {
            r.local_deleted = true;
        }
    }
    server.log.clear();
    let out = sync(
        &mut server,
        &mut store,
        &policy(Mode::MirrorLocalDeletes),
        NOW,
    );
    assert_eq!(out.plan.unwrap().vanished, vec!["a".to_owned()]);
    assert_eq!(
        server
            .log
            .iter()
            .filter(|l| l.starts_with("RETR"))
            .collect::<Vec<_>>(),
        vec!["RETR 3"]
    );
    // c is message 2 in this session.
    assert_eq!(
        server
            .log
            .iter()
            .filter(|l| l.starts_with("DELE"))
            .collect::<Vec<_>>(),
        vec!["DELE 2"]
    );
    assert_eq!(server.uids(), vec!["b".to_owned(), "d".to_owned()]);
    let mut all = originals(&mb);
    all.push(mail("d", "new"));
    assert_nothing_lost(&all[1..], &server, &store);
}

#[test]
fn resume_after_a_cut_mid_download_fetches_only_the_rest() {
    let mb = mailbox(&["a", "b", "c", "d"]);
    let mut server = server_of(&mb);
    let mut retrs = 0;
    server.cut = Box::new(move |l| {
        if l.starts_with("RETR") {
            retrs += 1;
        }
        retrs == 3
    });
    let mut store = Store::default();
    let out = sync(
        &mut server,
        &mut store,
        &policy(Mode::DeleteAfterDownload),
        NOW,
    );
    assert!(out.cut);
    assert_eq!(store.bytes.len(), 2);
    assert_eq!(server.count("DELE"), 0);
    assert_eq!(server.mailbox.len(), 4);
    server.cut = Box::new(|_| false);
    server.log.clear();
    let out = sync(
        &mut server,
        &mut store,
        &policy(Mode::DeleteAfterDownload),
        NOW,
    );
    // Only the two missing bodies; the headers seen before are not fetched again, only the
    // two stored messages are checked (TOP) before their deletion.
    let plan = out.plan.unwrap();
    assert_eq!(plan.bodies, vec![2, 1]);
    assert_eq!(
        server
            .log
            .iter()
            .filter(|l| l.starts_with("RETR"))
            .collect::<Vec<_>>(),
        vec!["RETR 2", "RETR 1"]
    );
    assert_eq!(
        server
            .log
            .iter()
            .filter(|l| l.starts_with("TOP"))
            .collect::<Vec<_>>(),
        vec!["TOP 4 0", "TOP 3 0"]
    );
    assert_eq!(store.bytes.len(), 4);
    assert!(server.mailbox.is_empty());
    assert_nothing_lost(&originals(&mb), &server, &store);
}

#[test]
fn keep_days_deletes_only_after_the_days_since_first_seen() {
    let mb = mailbox(&["a"]);
    let mut server = server_of(&mb);
    let mut store = Store::default();
    sync(&mut server, &mut store, &policy(Mode::KeepDays), NOW);
    sync(
        &mut server,
        &mut store,
        &policy(Mode::KeepDays),
        NOW + 86_400_000 - 1,
    );
    assert_eq!(server.count("DELE"), 0);
    let out = sync(
        &mut server,
        &mut store,
        &policy(Mode::KeepDays),
        NOW + 86_400_000,
    );
    assert_eq!(out.quit.unwrap().deleted, vec!["a".to_owned()]);
    assert!(server.mailbox.is_empty());
    assert_nothing_lost(&originals(&mb), &server, &store);
}

/// One randomized session: its policy, where the connection is cut (the n-th command, if at
/// all), whether QUIT fails, and what happens on the server before it.
#[derive(Debug, Clone)]
struct Chaos {
    mode: Mode,
    cut_at: Option<usize>,
    quit_fails: bool,
    arrivals: usize,
    other_client_deletes: Option<usize>,
    fail_commit: Option<usize>,
    size_limit: Option<u64>,
    /// Room the browser reports beyond the margin (`None`: it does not say).
    room: Option<u64>,
}

fn chaos() -> impl proptest::strategy::Strategy<Value = Chaos> {
    use proptest::prelude::*;
    (
        prop_oneof![
            Just(Mode::Leave),
            Just(Mode::DeleteAfterDownload),
            Just(Mode::KeepDays),
            Just(Mode::MirrorLocalDeletes),
        ],
        proptest::option::of(0usize..30),
        proptest::bool::weighted(0.2),
        0usize..3,
        proptest::option::of(0usize..8),
        proptest::option::of(0usize..4),
        proptest::option::of(150u64..230),
        proptest::option::of(0u64..700),
    )
        .prop_map(
            |(
                mode,
                cut_at,
                quit_fails,
                arrivals,
                other_client_deletes,
                fail_commit,
                size_limit,
                room,
            )| {
                Chaos {
                    mode,
                    cut_at,
                    quit_fails,
                    arrivals,
                    other_client_deletes,
                    fail_commit,
                    size_limit,
                    room,
                }
            },
        )
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(200))]

    /// Random cuts, failing QUITs, new mail, mail deleted by another client and policy
    /// changes over several sessions: after every session nothing is lost, no stored message
    /// is downloaded again, and one clean delete-after-download session then converges.
    #[test]
    fn random_faults_never_lose_mail(sessions in proptest::collection::vec(chaos(), 1..6), initial in 0usize..6) {
        let mut next = 0;
        let mut fresh = |server: &mut Server, all: &mut Vec<Vec<u8>>| {
            let id = format!("r{next}");
            next += 1;
            // Sizes vary, so that some exceed a random size limit.
            let raw = mail(&id, &"x".repeat(next * 37 % 100));
            all.push(raw.clone());
            server.mailbox.push((id, raw));
        };
        let mut server = Server::new(&[]);
        let mut all: Vec<Vec<u8>> = Vec::new();
        for _ in 0..initial {
            fresh(&mut server, &mut all);
        }
        let mut store = Store::default();
        let mut now = NOW;
        for s in &sessions {
            for _ in 0..s.arrivals {
                fresh(&mut server, &mut all);
            }
            if let Some(i) = s.other_client_deletes
                && i < server.mailbox.len()
            {
                let (_, raw) = server.mailbox.remove(i);
                // Gone by someone else's hand: only what we stored must survive.
                let sha = sha256_hex(&raw);
                if !store.known.iter().any(|r| r.stored == Stored::Full && r.sha256.as_deref() == Some(sha.as_str())) {
                    all.retain(|m| *m != raw);
                }
            }
            server.quit_fails = s.quit_fails;
            let mut count = 0;
            let cut_at = s.cut_at;
            server.cut = Box::new(move |_| {
                count += 1;
                Some(count) == cut_at
            });
            server.log.clear();
            let on_server = server.uids();
            let known_before = store.known.clone();
            let mut settings = policy(s.mode);
            settings.fail_commit = s.fail_commit;
            settings.policy.size_limit = s.size_limit;
            settings.estimate = s.room.map(|room| StorageEstimate {
                quota: SPACE_MARGIN + room + 1000,
                usage: 1000,
            });
            sync(&mut server, &mut store, &settings, now);
            // No message that was stored in full before this session was downloaded again.
            for n in server.log.iter().filter_map(|l| l.strip_prefix("RETR ")) {
                let uid = &on_server[n.parse::<usize>().unwrap() - 1];
                proptest::prop_assert!(
                    !known_before.iter().any(|r| r.uid.as_ref() == Some(uid) && r.stored == Stored::Full),
                    "{} downloaded again", uid
                );
            }
            assert_nothing_lost(&all, &server, &store);
            now += 3_600_000;
        }
        server.quit_fails = false;
        server.cut = Box::new(|_| false);
        server.log.clear();
        sync(&mut server, &mut store, &policy(Mode::DeleteAfterDownload), now);
        proptest::prop_assert!(server.mailbox.is_empty(), "left on the server: {:?}", server.uids());
        assert_nothing_lost(&all, &server, &store);
        for raw in &all {
            let sha = sha256_hex(raw);
            proptest::prop_assert!(store.bytes.values().any(|b| sha256_hex(b) == sha));
        }
    }
}

#[test]
fn undo_before_quit_sends_rset_and_deletes_nothing() {
    let mb = mailbox(&["a", "b"]);
    let mut server = server_of(&mb);
    let mut store = Store::default();
    let mut settings = policy(Mode::DeleteAfterDownload);
    settings.undo = true;
    let out = sync(&mut server, &mut store, &settings, NOW);
    // The summary listed both; after RSET and QUIT both are still there, nothing is pending.
    assert_eq!(
        out.pending.iter().map(|d| d.msg).collect::<Vec<_>>(),
        vec![1, 2]
    );
    assert!(out.quit.unwrap().deleted.is_empty());
    assert_eq!(server.count("RSET"), 1);
    assert_eq!(server.mailbox.len(), 2);
    assert!(
        store
            .known
            .iter()
            .all(|r| !r.delete_pending && !r.server_gone)
    );
    // The policy still holds next time.
    let out = sync(
        &mut server,
        &mut store,
        &policy(Mode::DeleteAfterDownload),
        NOW,
    );
    assert_eq!(out.quit.unwrap().deleted, ["a", "b"]);
    assert_nothing_lost(&originals(&mb), &server, &store);
}

/// This session's UIDL and LIST answers, as the inbox reads them before any sync.
fn session_listing(server: &mut Server) -> (Vec<UidIn>, Vec<ScanIn>) {
    let mut c = Conn::open(server).expect("no cut");
    let list = c.exec(|t| t.list(None)).expect("no cut");
    let uidl = c.exec(|t| t.uidl(None)).expect("no cut");
    c.quit().expect("no cut");
    let list = list
        .iter()
        .find_map(|e| match e {
            Event::List { entries, .. } => Some(
                entries
                    .iter()
                    .map(|s| ScanIn {
                        msg: s.msg.get(),
                        size: s.size,
                    })
                    .collect(),
            ),
            _ => None,
        })
        .expect("LIST answered");
    let uidl = uidl
        .iter()
        .find_map(|e| match e {
            Event::Uidl { entries, .. } => Some(
                entries
                    .iter()
                    .map(|u| UidIn {
                        msg: u.msg.get(),
                        uid: u.uid.as_str().to_owned(),
                    })
                    .collect(),
            ),
            _ => None,
        })
        .expect("UIDL answered");
    (uidl, list)
}

/// What the inbox shows from the store for this session: (msg, key).
fn prefill(server: &mut Server, store: &Store, headers: &[(u32, &[u8])]) -> Vec<(u32, String)> {
    let (uidl, list) = session_listing(server);
    identify(IdentifyIn {
        uidl,
        list,
        known: store.known.clone(),
        headers: headers.to_vec(),
    })
    .expect("a well-formed listing")
    .into_iter()
    .map(|i| (i.msg, i.key))
    .collect()
}

#[test]
fn message_without_uidl_is_keyed_by_its_checksum() {
    let mb = mailbox(&["a", "b"]);
    let mut server = server_of(&mb);
    server.advertise_uidl = false;
    server.uidl_works = false;
    let mut store = Store::default();
    let mut explicit = policy(Mode::Leave);
    explicit.no_uidl_delete = true;
    let out = sync(&mut server, &mut store, &explicit, NOW);
    let deleted: Vec<String> = mb
        .iter()
        .map(|(_, raw)| format!("sha256:{}", sha256_hex(raw)))
        .collect();
    assert_eq!(out.quit.unwrap().deleted, deleted);
    // Every byte written went under `sha256:<hex of those bytes>`, with the record the run
    // gave: no UIDL, the LIST size, the checksum.
    let mut keys: Vec<String> = mb
        .iter()
        .map(|(_, raw)| format!("sha256:{}", sha256_hex(raw)))
        .collect();
    keys.sort();
    assert_eq!(store.bytes.keys().cloned().collect::<Vec<_>>(), keys);
    for (key, raw) in &store.bytes {
        assert_eq!(*key, format!("sha256:{}", sha256_hex(raw)));
    }
    assert_eq!(store.writes.len(), 2);
    for w in &store.writes {
        let raw = &store.bytes[&w.key];
        assert_eq!(w.uid, None);
        assert_eq!(w.size, raw.len() as u64);
        assert_eq!(w.stored, Stored::Full);
        assert_eq!(
            w.sha256.as_ref().map(Sha256::as_str),
            Some(sha256_hex(raw).as_str())
        );
        assert_eq!(w.first_seen_ms, NOW);
    }
    assert_nothing_lost(&originals(&mb), &server, &store);
}

#[test]
fn the_record_written_with_each_message_is_the_runs_record() {
    let mb = mailbox(&["a", "b"]);
    let mut server = server_of(&mb);
    let mut store = Store::default();
    sync(&mut server, &mut store, &policy(Mode::Leave), NOW);
    // Headers first (a header record each), then each body under the same key, carrying what
    // the headers taught the run (the fingerprint) and what the store needs (the checksum).
    assert_eq!(store.writes.len(), 4);
    for (uid, raw) in &mb {
        let size = raw.len() as u64;
        let fp = fingerprint(&parse_summary(raw), size);
        assert!(fp.is_some());
        let writes: Vec<&CommitRecord> = store.writes.iter().filter(|w| w.key == *uid).collect();
        assert_eq!(writes.len(), 2, "{uid}");
        let (head, body) = (writes[0], writes[1]);
        for w in [head, body] {
            assert_eq!(w.uid.as_deref(), Some(uid.as_str()));
            assert_eq!(w.size, size);
            assert_eq!(w.fingerprint, fp);
            assert_eq!(w.first_seen_ms, NOW);
        }
        assert_eq!((head.stored, head.sha256.as_ref()), (Stored::Headers, None));
        assert_eq!(body.stored, Stored::Full);
        assert_eq!(
            body.sha256.as_ref().map(Sha256::as_str),
            Some(sha256_hex(raw).as_str())
        );
    }
    // A later session's write keeps the first-seen time of the first.
    let mut later = policy(Mode::Leave);
    later.policy.size_limit = Some(1);
    server.mailbox.push(("c".into(), mail("c", "big")));
    sync(&mut server, &mut store, &later, NOW + 5);
    let c = store.writes.iter().find(|w| w.key == "c").unwrap();
    assert_eq!((c.first_seen_ms, c.stored), (NOW + 5, Stored::Headers));
}

#[test]
fn headers_are_never_written_over_a_stored_full_body() {
    let mb = mailbox(&["a", "b"]);
    let mut server = server_of(&mb);
    let mut store = Store::default();
    sync(&mut server, &mut store, &policy(Mode::Leave), NOW);
    assert_eq!(store.bytes.len(), 2);
    // Deleting on the strength of the earlier session: each is checked by its headers
    // (TOP) first, and those header bytes must not replace the stored bodies.
    server.log.clear();
    let out = sync(
        &mut server,
        &mut store,
        &policy(Mode::DeleteAfterDownload),
        NOW,
    );
    assert_eq!(server.count("TOP"), 2);
    assert!(out.headers.iter().all(|h| h.record.is_none()));
    assert!(server.mailbox.is_empty());
    assert_eq!(store.bytes.len(), 2);
    assert!(store.headers.is_empty());
    assert_nothing_lost(&originals(&mb), &server, &store);
}

#[test]
fn bodies_beyond_the_storage_estimate_are_left_on_the_server_with_a_warning() {
    let mb = mailbox(&["a", "b", "c"]);
    let size = mb[0].1.len() as u64;
    assert!(mb.iter().all(|(_, m)| m.len() as u64 == size));
    let mut server = server_of(&mb);
    let mut store = Store::default();
    // Room for two messages (a tenth more each) beyond the margin, not for three.
    let mut settings = policy(Mode::DeleteAfterDownload);
    settings.estimate = Some(StorageEstimate {
        quota: 1_000_000_000,
        usage: 1_000_000_000 - SPACE_MARGIN - 2 * (size + size.div_ceil(10)),
    });
    let out = sync(&mut server, &mut store, &settings, NOW);
    let fetch = out.fetch.unwrap();
    // The newest two; the oldest stays on the server, undeleted, and the user is told.
    assert_eq!(fetch.bodies, vec![3, 2]);
    assert_eq!(fetch.total_bytes, 2 * size);
    let w = fetch.warning.expect("a warning");
    assert_eq!((w.code, w.count), ("storage_low", 1));
    assert_eq!(server.count("RETR"), 2);
    assert_eq!(server.uids(), vec!["a".to_owned()]);
    assert_nothing_lost(&originals(&mb), &server, &store);
    // With room again, the rest comes.
    let out = sync(
        &mut server,
        &mut store,
        &policy(Mode::DeleteAfterDownload),
        NOW,
    );
    assert!(out.fetch.unwrap().warning.is_none());
    assert!(server.mailbox.is_empty());
    assert_eq!(store.bytes.len(), 3);
    assert_nothing_lost(&originals(&mb), &server, &store);
}

#[test]
fn prefill_does_not_take_a_reused_uidl_for_the_stored_message() {
    let old = mail("old", "one");
    let mut server = Server::new(&[("x", old.clone())]);
    let mut store = Store::default();
    sync(&mut server, &mut store, &policy(Mode::Leave), NOW);
    assert_eq!(prefill(&mut server, &store, &[]), vec![(1, "x".to_owned())]);
    // Someone else deletes x; the server hands "x" to other mail of the same size.
    let new = mail("new", "two");
    assert_eq!(new.len(), old.len());
    server.mailbox = vec![("x".into(), new.clone())];
    // Before any sync noticed, the headers at hand show it is other mail.
    let top = new[..new.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4].to_vec();
    assert!(prefill(&mut server, &store, &[(1, &top)]).is_empty());
    // A sync notices (it checks before deleting) and keeps the new mail under a new key; its
    // QUIT fails, so the new mail stays on the server.
    server.quit_fails = true;
    sync(
        &mut server,
        &mut store,
        &policy(Mode::DeleteAfterDownload),
        NOW,
    );
    assert_eq!(store.bytes.get("x#1"), Some(&new));
    // From now on UIDL "x" with that size is the new mail, never the old message.
    assert_eq!(
        prefill(&mut server, &store, &[]),
        vec![(1, "x#1".to_owned())]
    );
    assert_nothing_lost(&[old, new], &server, &store);
}

#[test]
fn prefill_needs_the_size_and_a_uidl_listed_once() {
    let mb = mailbox(&["a", "b", "c"]);
    let mut server = server_of(&mb);
    let mut store = Store::default();
    sync(&mut server, &mut store, &policy(Mode::Leave), NOW);
    assert_eq!(
        prefill(&mut server, &store, &[])
            .into_iter()
            .map(|(m, _)| m)
            .collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
    // "a" changed size (no headers at hand to say it is the same mail); "b" is listed twice.
    server.mailbox[0].1 = mail("a", "longer body");
    server.mailbox[2].0 = "b".into();
    assert!(prefill(&mut server, &store, &[]).is_empty());
}

#[test]
fn prefill_finds_mail_whose_uidl_changed_under_its_stored_key() {
    let ids: Vec<String> = (0..12).map(|i| format!("m{i}")).collect();
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    let mb = mailbox(&refs);
    let mut server = server_of(&mb);
    let mut store = Store::default();
    sync(&mut server, &mut store, &policy(Mode::Leave), NOW);
    for (uid, _) in &mut server.mailbox {
        *uid = format!("migrated-{uid}");
    }
    // Before the sync that matches them, nothing is known under the new UIDLs...
    assert!(prefill(&mut server, &store, &[]).is_empty());
    sync(&mut server, &mut store, &policy(Mode::Leave), NOW);
    // ...after it, each new UIDL is its stored message, under the message's first key.
    let found = prefill(&mut server, &store, &[]);
    assert_eq!(found.len(), 12);
    for (msg, key) in found {
        assert_eq!(key, format!("m{}", msg - 1));
    }
}

#[test]
fn user_deleted_messages_lose_their_local_copy_only_when_quit_commits() {
    let mb = mailbox(&["a", "b"]);
    let mut server = server_of(&mb);
    let mut store = Store::default();
    sync(&mut server, &mut store, &policy(Mode::Leave), NOW);
    // The user deletes "a" (message 1); QUIT fails: the server keeps it, so does the store.
    let mut user = policy(Mode::Leave);
    user.user_deletes = vec![1];
    server.quit_fails = true;
    let out = sync(&mut server, &mut store, &user, NOW);
    assert!(out.quit.unwrap().delete_local.is_empty());
    assert_eq!(server.mailbox.len(), 2);
    assert!(store.bytes.contains_key("a"));
    // Again, and QUIT succeeds: gone from the server, so its copy here goes too.
    server.quit_fails = false;
    let out = sync(&mut server, &mut store, &user, NOW);
    assert_eq!(out.quit.unwrap().delete_local, vec!["a".to_owned()]);
    assert_eq!(server.uids(), vec!["b".to_owned()]);
    assert!(!store.bytes.contains_key("a") && store.bytes.contains_key("b"));
    let a = store.known.iter().find(|r| r.key == "a").unwrap();
    assert!(a.local_deleted && a.server_gone);
}

#[test]
fn a_user_deletion_of_mail_under_a_reused_uidl_keeps_the_old_messages_copy() {
    let old = mail("old", "one");
    let mut server = Server::new(&[("x", old.clone())]);
    let mut store = Store::default();
    sync(&mut server, &mut store, &policy(Mode::Leave), NOW);
    // "x" now names other mail (of another size); the user reads it and deletes it.
    let new = mail("new", "a longer body");
    server.mailbox = vec![("x".into(), new)];
    let mut user = policy(Mode::Leave);
    user.user_deletes = vec![1];
    let out = sync(&mut server, &mut store, &user, NOW);
    assert_eq!(out.quit.unwrap().delete_local, vec!["x#1".to_owned()]);
    assert!(server.mailbox.is_empty());
    // The old message, stored under "x", is only here now: it stays.
    assert_eq!(store.bytes.get("x"), Some(&old));
    assert_nothing_lost(&[old], &server, &store);
}
