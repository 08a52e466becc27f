//! The edge job example (examples/edge-job/) with the packed npm package: a scheduled Worker in
//! workerd, and the same job as a Node script, against the real Dovecot through the real
//! bridge and a local webhook receiver. Run after run, only mail not posted before is posted,
//! the UIDLs it remembers survive a restart of the runtime, and nothing is deleted on the
//! server unless the job is configured to delete after posting.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use e2e::dovecot::free_port;
use e2e::npm;
use e2e::{Dovecot, DovecotOptions, Mailbox};
use pop3_bridge::{Bridge, Config};
use serde_json::{Value as Json, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

const USER: &str = "job";
const PASSWORD: &str = "job-password";
const FIRST: usize = 4;

/// Every JSON body POSTed to it, answered with 204.
struct Webhook {
    url: String,
    posts: Arc<Mutex<Vec<Json>>>,
}

impl Webhook {
    async fn start() -> Webhook {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let posts = Arc::new(Mutex::new(Vec::new()));
        let p = posts.clone();
        tokio::spawn(async move {
            while let Ok((mut tcp, _)) = listener.accept().await {
                let p = p.clone();
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 8192];
                    loop {
                        let Ok(n) = tcp.read(&mut chunk).await else {
                            return;
                        };
                        if n == 0 {
                            return;
                        }
                        buf.extend_from_slice(&chunk[..n]);
                        let text = String::from_utf8_lossy(&buf).into_owned();
                        let Some((head, body)) = text.split_once("\r\n\r\n") else {
                            continue;
                        };
                        let len = head
                            .lines()
                            .find_map(|l| {
                                let (k, v) = l.split_once(':')?;
                                k.eq_ignore_ascii_case("content-length")
                                    .then(|| v.trim().parse::<usize>().ok())?
                            })
                            .unwrap_or(0);
                        if body.len() < len {
                            continue;
                        }
                        if let Ok(json) = serde_json::from_str(&body[..len]) {
                            p.lock().unwrap().push(json);
                        }
                        let _ = tcp
                            .write_all(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n")
                            .await;
                        return;
                    }
                });
            }
        });
        Webhook { url, posts }
    }

    fn take(&self) -> Vec<Json> {
        std::mem::take(&mut self.posts.lock().unwrap())
    }
}

struct Setup {
    dovecot: Dovecot,
    bridge: SocketAddr,
    webhook: Webhook,
    _stop: oneshot::Sender<()>,
}

async fn setup() -> Setup {
    let dovecot = Dovecot::start_async(DovecotOptions::new().user(
        USER,
        PASSWORD,
        Mailbox::new(FIRST).size(2000).seed(7),
    ))
    .await
    .expect("dovecot starts");
    let mut c = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        ..Config::default()
    };
    c.allow_hosts = vec!["localhost".into(), "127.0.0.1".into()];
    c.allow_ports = vec![dovecot.tls_port()];
    c.extra_ca = vec![dovecot.ca_pem_path().to_path_buf()];
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let bridge = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(Bridge::new(c).run(listener, async {
        let _ = stopped.await;
    }));
    Setup {
        dovecot,
        bridge,
        webhook: Webhook::start().await,
        _stop: stop,
    }
}

fn account(s: &Setup, delete_after_post: bool) -> Json {
    json!({
        "bridgeUrl": format!("ws://{}/pop3", s.bridge),
        "host": s.dovecot.host(),
        "port": s.dovecot.tls_port(),
        "user": USER,
        "deleteAfterPost": delete_after_post,
    })
}

/// Messages in the user's Maildir now (what the server still has).
fn on_server(s: &Setup) -> usize {
    ["cur", "new"]
        .iter()
        .map(|d| {
            std::fs::read_dir(s.dovecot.maildir(USER).join(d))
                .map(|rd| rd.count())
                .unwrap_or(0)
        })
        .sum()
}

/// New mail arrives: `n` messages delivered into the Maildir, with subjects naming them.
fn deliver(s: &Setup, tag: &str, n: usize) -> Vec<String> {
    (1..=n)
        .map(|i| {
            let subject = format!("{tag} {i}");
            let raw = format!(
                "From: Sender <sender@example.org>\nTo: {USER}@example.org\nSubject: {subject}\nMessage-ID: <{tag}-{i}@example.org>\nDate: Sun, 06 Dec 2026 12:00:0{i} +0000\n\nThis is {subject}.\n"
            );
            let name = format!("{}.{tag}{i}.edge-test", 1_800_000_000 + i);
            std::fs::write(s.dovecot.maildir(USER).join("new").join(name), raw).unwrap();
            subject
        })
        .collect()
}

fn subjects(posts: &[Json]) -> Vec<String> {
    let mut v: Vec<String> = posts
        .iter()
        .map(|p| p["subject"].as_str().unwrap_or_default().to_owned())
        .collect();
    v.sort();
    v
}

/// The first run's posts: one per message, distinct UIDLs, each with its text and size.
fn check_first_run(s: &Setup, posts: &[Json], runtime: &str) {
    assert_eq!(
        posts.len(),
        FIRST,
        "{runtime}: one post per message: {posts:?}"
    );
    let mut uids: Vec<&str> = posts.iter().filter_map(|p| p["uid"].as_str()).collect();
    uids.sort();
    uids.dedup();
    assert_eq!(uids.len(), FIRST, "{runtime}: distinct UIDLs");
    let mut sizes: Vec<u64> = posts.iter().filter_map(|p| p["size"].as_u64()).collect();
    sizes.sort();
    let mut expected: Vec<u64> = (0..FIRST)
        .map(|i| s.dovecot.expected_bytes(USER, i).len() as u64)
        .collect();
    expected.sort();
    assert_eq!(sizes, expected, "{runtime}: every message whole");
    assert!(
        posts
            .iter()
            .all(|p| p["text"].as_str().is_some_and(|t| !t.is_empty())),
        "{runtime}: each post carries the text: {posts:?}"
    );
}

fn capnp_str(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// The job Worker (scheduled handler, `Seen` Durable Object on disk under `store`) and a
/// trigger Worker that fires its Cron Trigger on request.
fn workerd_config(s: &Setup, project: &Path, store: &Path, port: u16, delete: bool) -> String {
    let mut modules = vec![
        r#"(name = "worker.js", esModule = embed "worker.js")"#.to_owned(),
        r#"(name = "check-mailbox.js", esModule = embed "check-mailbox.js")"#.to_owned(),
    ];
    modules.extend(npm::package_modules(project));
    format!(
        r#"using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [
    (name = "job", worker = .job),
    (name = "trigger", worker = .trigger),
    (name = "store", disk = (path = {store}, writable = true)),
    (name = "internet", network = (allow = ["public", "local"])),
  ],
  sockets = [ (name = "http", address = "127.0.0.1:{port}", http = (), service = "trigger") ],
);
const job :Workerd.Worker = (
  modules = [
    {modules}
  ],
  compatibilityDate = "2026-11-01",
  durableObjectNamespaces = [ (className = "Seen", uniqueKey = "pop3-edge-job-seen") ],
  durableObjectStorage = (localDisk = "store"),
  bindings = [
    (name = "SEEN", durableObjectNamespace = "Seen"),
    (name = "ACCOUNT", text = {account}),
    (name = "PASSWORD", text = {password}),
    (name = "WEBHOOK", text = {webhook}),
  ],
);
const trigger :Workerd.Worker = (
  modules = [ (name = "trigger.js", esModule = embed "trigger.js") ],
  compatibilityDate = "2026-11-01",
  compatibilityFlags = ["service_binding_extra_handlers"],
  bindings = [ (name = "JOB", service = "job") ],
);
"#,
        store = capnp_str(&store.display().to_string()),
        modules = modules.join(",\n    "),
        account = capnp_str(&account(s, delete).to_string()),
        password = capnp_str(PASSWORD),
        webhook = capnp_str(&s.webhook.url),
    )
}

fn example(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples/edge-job")
        .join(file)
}

/// Fires the Cron Trigger once and waits for the scheduled handler's outcome.
async fn trigger(port: u16) -> Json {
    let (status, body) = npm::post(port, r#"{"cron":"*/5 * * * *"}"#).await;
    assert_eq!(status, 200, "the trigger: {body}");
    serde_json::from_str(&body).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scheduled_worker_posts_only_new_mail_and_deletes_only_when_asked() {
    let Some((tgz, runtimes)) = npm::inputs("edge_job") else {
        return;
    };
    let s = setup().await;
    let trigger_js = Path::new(env!("CARGO_MANIFEST_DIR")).join("npm/trigger.js");
    let files = [
        example("worker.js"),
        example("check-mailbox.js"),
        trigger_js,
    ];
    let refs: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
    let dir = npm::scratch_project(&tgz, &runtimes, &refs);
    let store = dir.path().join("store");
    std::fs::create_dir_all(&store).unwrap();
    let config = dir.path().join("config.capnp");
    let port = free_port().unwrap();

    // Run 1: every message is new.
    std::fs::write(&config, workerd_config(&s, dir.path(), &store, port, false)).unwrap();
    let workerd = npm::Workerd::serve(&runtimes, dir.path(), &config, port);
    let outcome = trigger(port).await;
    assert_eq!(outcome["outcome"], "ok", "run 1: {outcome}");
    check_first_run(&s, &s.webhook.take(), "workerd");
    assert_eq!(on_server(&s), FIRST, "run 1 deleted nothing");

    // Run 2: two new messages; only they are posted.
    let new = deliver(&s, "Arrived later", 2);
    let outcome = trigger(port).await;
    assert_eq!(outcome["outcome"], "ok", "run 2: {outcome}");
    assert_eq!(
        subjects(&s.webhook.take()),
        new,
        "run 2 posts only the new mail"
    );
    assert_eq!(on_server(&s), FIRST + 2, "run 2 deleted nothing");
    drop(workerd);

    // Run 3, after a restart, now told to delete after posting: nothing is new (the UIDLs
    // it posted survived the restart in the Durable Object's storage), and what it posted
    // before is deleted.
    std::fs::write(&config, workerd_config(&s, dir.path(), &store, port, true)).unwrap();
    let workerd = npm::Workerd::serve(&runtimes, dir.path(), &config, port);
    let outcome = trigger(port).await;
    assert_eq!(outcome["outcome"], "ok", "run 3: {outcome}");
    assert_eq!(
        s.webhook.take(),
        Vec::<Json>::new(),
        "run 3 posts nothing again"
    );
    assert_eq!(on_server(&s), 0, "run 3 deleted what was posted, as asked");
    drop(workerd);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_node_script_posts_only_new_mail_and_never_deletes_unasked() {
    let Some((tgz, runtimes)) = npm::inputs("edge_job") else {
        return;
    };
    let s = setup().await;
    let files = [example("run.mjs"), example("check-mailbox.js")];
    let refs: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
    let dir = npm::scratch_project(&tgz, &runtimes, &refs);
    let mut account = account(&s, false);
    account["password"] = json!(PASSWORD);
    let job = json!({
        "account": account,
        "webhook": s.webhook.url,
        "seenFile": dir.path().join("seen.json"),
    });
    std::fs::write(dir.path().join("job.json"), job.to_string()).unwrap();
    let run = || {
        let d = dir.path().to_path_buf();
        tokio::task::spawn_blocking(move || {
            let out = std::process::Command::new("node")
                .args(["run.mjs", "job.json"])
                .current_dir(d)
                .output()
                .expect("node runs");
            assert!(
                out.status.success(),
                "run.mjs failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        })
    };
    run().await.unwrap();
    check_first_run(&s, &s.webhook.take(), "node");
    run().await.unwrap();
    assert_eq!(
        s.webhook.take(),
        Vec::<Json>::new(),
        "a second run posts nothing"
    );
    let new = deliver(&s, "Later", 1);
    run().await.unwrap();
    assert_eq!(subjects(&s.webhook.take()), new, "only the new message");
    assert_eq!(on_server(&s), FIRST + 1, "nothing deleted unasked");
}
