//! A real Prometheus server (Debian's `prometheus` package) on loopback,
//! scraping the services every second with the rules loaded, and its HTTP
//! API.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tokio::process::{Child, Command};

use crate::DEADLINE;

/// A running Prometheus; killed when dropped.
pub struct Prometheus {
    _child: Child,
    pub url: String,
    http: reqwest::Client,
    _dir: tempfile::TempDir,
}

/// One alert as `/api/v1/alerts` lists it (pending or firing).
#[derive(Debug, Clone)]
pub struct Alert {
    pub name: String,
    pub state: String,
    pub labels: Value,
}

/// Fails the test, saying what to install, when `prometheus` is not on
/// PATH: the test never skips (CI installs the package).
pub fn require_binary() {
    match std::process::Command::new("prometheus")
        .arg("--version")
        .output()
    {
        Ok(out) if out.status.success() => {}
        Ok(out) => panic!("`prometheus --version` failed: {out:?}"),
        Err(e) => panic!(
            "the `prometheus` binary is not usable ({e}): this test needs a real Prometheus \
             (apt-get install --no-install-recommends prometheus; .ci/run installs it)"
        ),
    }
}

impl Prometheus {
    /// Starts `prometheus` scraping `targets` (job name, `host:port` of its
    /// `/metrics`) every second, evaluating `rules` every second. Fails the
    /// test when the binary is missing: CI installs it.
    pub async fn start(targets: &[(&str, String)], rules: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("rules.yml"), rules).unwrap();
        let mut config = String::from(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n\
             rule_files:\n  - rules.yml\nscrape_configs:\n",
        );
        for (job, target) in targets {
            config.push_str(&format!(
                "  - job_name: {job}\n    static_configs:\n      - targets: ['{target}']\n"
            ));
        }
        std::fs::write(dir.path().join("prometheus.yml"), config).unwrap();
        // Prometheus cannot bind port 0: take a free port, let it go and
        // hand it over; another process may take it meanwhile, so retry.
        for _ in 0..3 {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            if let Some((child, url, http)) = spawn(dir.path(), port).await {
                return Self {
                    _child: child,
                    url,
                    http,
                    _dir: dir,
                };
            }
        }
        panic!(
            "prometheus did not start three times; its log:\n{}",
            std::fs::read_to_string(dir.path().join("prometheus.log")).unwrap_or_default()
        );
    }

    async fn api(&self, path: &str, query: &[(&str, &str)]) -> Value {
        let query: Vec<String> = query
            .iter()
            .map(|(k, v)| format!("{k}={}", percent_encode(v)))
            .collect();
        let answer = self
            .http
            .get(format!("{}/api/v1/{path}?{}", self.url, query.join("&")))
            .send()
            .await
            .unwrap();
        let body: Value = answer.json().await.unwrap();
        assert_eq!(body["status"], "success", "{path}: {body}");
        body["data"].clone()
    }

    /// The value of each series an instant query returns, with its labels.
    pub async fn query(&self, expr: &str) -> Vec<(Value, f64)> {
        let data = self.api("query", &[("query", expr)]).await;
        data["result"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|r| {
                let value = r["value"][1]
                    .as_str()
                    .unwrap_or("NaN")
                    .parse()
                    .unwrap_or(f64::NAN);
                (r["metric"].clone(), value)
            })
            .collect()
    }

    /// The pending and firing alerts.
    pub async fn alerts(&self) -> Vec<Alert> {
        let data = self.api("alerts", &[]).await;
        data["alerts"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|a| Alert {
                name: a["labels"]["alertname"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                state: a["state"].as_str().unwrap_or_default().to_owned(),
                labels: a["labels"].clone(),
            })
            .collect()
    }

    /// The metric names Prometheus has ingested.
    pub async fn names(&self) -> Vec<String> {
        let data = self.api("label/__name__/values", &[]).await;
        data.as_array()
            .into_iter()
            .flatten()
            .filter_map(|n| n.as_str().map(str::to_owned))
            .collect()
    }

    /// Waits until every job's target is scraped and up; on a timeout,
    /// fails with what Prometheus says of its targets.
    pub async fn wait_for_targets(&self, jobs: &[&str]) {
        let until = std::time::Instant::now() + DEADLINE;
        loop {
            let up = self.query("up == 1").await;
            if jobs
                .iter()
                .all(|job| up.iter().any(|(m, _)| m["job"] == *job))
            {
                return;
            }
            if std::time::Instant::now() >= until {
                let targets = self.api("targets", &[]).await;
                panic!("not every target up after {DEADLINE:?}: {targets}");
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// Starts Prometheus on `port` in `dir`; None when it exits or does not
/// answer `/-/ready` (the port was taken).
async fn spawn(dir: &Path, port: u16) -> Option<(Child, String, reqwest::Client)> {
    let log = std::fs::File::create(dir.join("prometheus.log")).unwrap();
    let spawned = Command::new("prometheus")
        .arg(format!(
            "--config.file={}",
            dir.join("prometheus.yml").display()
        ))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(log)
        .kill_on_drop(true)
        .spawn();
    let mut child = match spawned {
        Ok(child) => child,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => panic!(
            "the `prometheus` binary is not on PATH: this test needs a real Prometheus \
             (apt-get install --no-install-recommends prometheus; .ci/run installs it)"
        ),
        Err(e) => panic!("starting prometheus: {e}"),
    };
    let url = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let ready = async {
        loop {
            if let Ok(Some(_)) = child.try_wait() {
                return false;
            }
            let answer = http.get(format!("{url}/-/ready")).send().await;
            if answer.is_ok_and(|r| r.status().is_success()) {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    match tokio::time::timeout(DEADLINE, ready).await {
        Ok(true) => Some((child, url, http)),
        _ => None,
    }
}

/// `value` as a URL query value: unreserved characters as they are, every
/// other byte as `%XX`.
fn percent_encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
