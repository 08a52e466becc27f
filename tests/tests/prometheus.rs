//! The metrics page (docs/metrics.md) run for real: a Prometheus (Debian package, not the
//! system service) started from docs/prometheus.yml with only the targets, the rule file's path
//! and the intervals replaced (1 s, loopback), scraping the separate metrics listeners of two
//! bridges started from the reverse-proxy recipe's TOML; the test asks Prometheus's HTTP API
//! for a bridge metric. The alerting rules are checked and unit-tested with promtool, and
//! Prometheus loads them.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use e2e::proxies::{self, assert_page_shows_file, http_get, prometheus_api, url_encode};

const PAGE: &str = "metrics.md";

#[test]
fn the_page_shows_the_tested_files() {
    assert_page_shows_file(PAGE, "prometheus.yml");
    assert_page_shows_file(PAGE, "pop3-bridge-alerts.yml");
}

#[test]
fn the_alerting_rules_pass_promtool_and_their_unit_tests() {
    let docs = proxies::docs_dir();
    let rules = docs.join("pop3-bridge-alerts.yml");
    let out = proxies::check_run(
        "/usr/bin/promtool",
        &["check", "rules", rules.to_str().unwrap()],
    );
    assert!(out.contains("SUCCESS: 8 rules found"), "{out}");
    let tests = docs.join("pop3-bridge-alerts.test.yml");
    let out = proxies::check_run(
        "/usr/bin/promtool",
        &["test", "rules", tests.to_str().unwrap()],
    );
    assert!(out.contains("SUCCESS"), "{out}");
}

/// One instant query; the result vector as (labels, value).
async fn query(prom: SocketAddr, q: &str) -> Vec<(serde_json::Value, f64)> {
    let v = prometheus_api(prom, &format!("/api/v1/query?query={}", url_encode(q))).await;
    assert_eq!(v["status"], "success", "{v}");
    v["data"]["result"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .map(|r| {
            let value = r["value"][1].as_str().and_then(|s| s.parse().ok());
            (r["metric"].clone(), value.unwrap_or(f64::NAN))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_scrapes_both_bridges_metrics_listeners() {
    let dir = tempfile::tempdir().unwrap();
    let config = proxies::write_bridge_config(
        dir.path(),
        "reverse-proxy-haproxy.md",
        "prometheus-test-secret-0123456789",
    );
    let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let b1 = proxies::start_bridge(&config, any, any, |_| {}).await;
    let b2 = proxies::start_bridge(&config, any, any, |_| {}).await;
    // Something to count on the first instance only: two requests for /pop3 that are not
    // WebSocket upgrades (refused before the upgrade, reason bad_upgrade).
    for _ in 0..2 {
        let a = http_get(b1.addr, "/pop3").await;
        assert_eq!(a.status, 400, "{}", a.text());
    }
    let prom: SocketAddr = format!("127.0.0.1:{}", proxies::free_port())
        .parse()
        .unwrap();
    let rules = proxies::docs_dir().join("pop3-bridge-alerts.yml");
    let cfg = proxies::render(
        &proxies::read_doc("prometheus.yml"),
        &[
            ("scrape_interval: 15s", "scrape_interval: 1s".into()),
            ("evaluation_interval: 15s", "evaluation_interval: 1s".into()),
            (
                "/etc/prometheus/pop3-bridge-alerts.yml",
                rules.display().to_string(),
            ),
            ("127.0.0.1:9101", b1.metrics.to_string()),
            ("127.0.0.1:9102", b2.metrics.to_string()),
        ],
    );
    check_config(dir.path(), &cfg);
    let mut p = proxies::start_prometheus(dir.path(), &cfg, prom).await;
    let q = "pop3_bridge_http_refused_total{job=\"pop3-bridge\",reason=\"bad_upgrade\"}";
    let mut seen = Vec::new();
    for _ in 0..300 {
        seen = query(prom, q).await;
        if seen.len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    p.assert_running();
    let value_of = |addr: SocketAddr| {
        seen.iter()
            .find(|(m, _)| m["instance"] == addr.to_string())
            .map(|(_, v)| *v)
            .unwrap_or_else(|| panic!("no series for {addr} in {seen:?}\n{}", p.log()))
    };
    assert_eq!(value_of(b1.metrics), 2.0, "{seen:?}");
    assert_eq!(value_of(b2.metrics), 0.0, "{seen:?}");
    // Both targets are up, and a gauge comes through too.
    let up = query(prom, "up{job=\"pop3-bridge\"}").await;
    assert_eq!(up.len(), 2, "{up:?}");
    assert!(up.iter().all(|(_, v)| *v == 1.0), "{up:?}");
    let active = query(prom, "sum(pop3_bridge_sessions_active)").await;
    assert_eq!(active.first().map(|(_, v)| *v), Some(0.0), "{active:?}");
    // Prometheus loaded the documented alerting rules.
    let rules = prometheus_api(prom, "/api/v1/rules").await;
    let groups = rules["data"]["groups"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let names: Vec<String> = groups
        .iter()
        .flat_map(|g| g["rules"].as_array().cloned().unwrap_or_default())
        .filter_map(|r| r["name"].as_str().map(str::to_string))
        .collect();
    assert!(
        names.iter().any(|n| n == "Pop3BridgeDown") && names.len() == 8,
        "{rules}"
    );
    drop((b1, b2));
}

/// `promtool check config` on the rendered configuration (promtool comes with Debian's
/// prometheus package).
fn check_config(dir: &Path, cfg: &str) {
    let path = dir.join("prometheus-check.yml");
    std::fs::write(&path, cfg).unwrap();
    let out = proxies::check_run(
        "/usr/bin/promtool",
        &["check", "config", path.to_str().unwrap()],
    );
    assert!(out.contains("SUCCESS"), "{out}");
}
