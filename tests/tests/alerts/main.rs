//! The alert rules against a real Prometheus: identity, policy and the
//! gateway each in a process of its own (mutual TLS, Postgres, Redis),
//! scraped every second by a `prometheus` server with the chart's rules
//! loaded, time compressed ([`rules::compress`]: every range and `for:`
//! divided by [`COMPRESSION`], the expressions otherwise as shipped).
//!
//! With SCIM writes going on, ScimChangeStreamStuck must stay silent while
//! policy keeps up; once policy's connection to identity is cut it must
//! fire in `/api/v1/alerts`, and resolve once the connection is back. Then every metric name the rules and the
//! dashboard use must be one the running services export, so a renamed
//! series cannot leave an alert silent or a panel blank.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod prometheus;
mod rules;
mod system;

use std::collections::BTreeSet;
use std::future::Future;
use std::time::{Duration, Instant};

use serde_json::json;

use prometheus::Prometheus;
use system::System;

/// How long any one thing may take to happen.
const DEADLINE: Duration = Duration::from_secs(60);

/// Minutes of the rules become 3 s: ScimChangeStreamStuck's 2-minute
/// window is 6 s, its `for: 3m` 9 s, with scrapes and evaluations every
/// second.
const COMPRESSION: u64 = 20;

const STUCK: &str = "ScimChangeStreamStuck";
/// Its range and `for:` in the rules file (checked below).
const STUCK_WINDOW: Duration = Duration::from_secs(120);
const STUCK_FOR: Duration = Duration::from_secs(180);

/// Polls `check` every 200 ms until it gives a value; fails the test
/// naming `what` after `within`.
pub async fn eventually<T, F, Fut>(what: &str, within: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let until = Instant::now() + within;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            Instant::now() < until,
            "timed out after {within:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stuck_change_stream_fires_its_alert_and_resolves() {
    // reqwest is built without a default TLS provider (plain http here).
    let _ = rustls::crypto::ring::default_provider().install_default();
    prometheus::require_binary();
    let stuck = &rules::RULES[rules::RULES.find(&format!("alert: {STUCK}")).unwrap()..];
    let stuck = &stuck[..stuck.find("labels:").unwrap()];
    assert!(
        stuck.contains("[2m]") && stuck.contains("for: 3m"),
        "the test's timing of {STUCK} is not the rule's: {stuck}"
    );
    let mut system = System::start().await;
    let scim = Scim::new(&system);
    let prometheus = Prometheus::start(
        &system.targets(),
        &rules::compress(rules::RULES, COMPRESSION),
    )
    .await;
    prometheus
        .wait_for_targets(&["identity", "policy", "gateway"])
        .await;

    // The stream flows: identity records, policy applies, nothing fires.
    let alice = scim.create_user("alice@contoso.com").await;
    scim.deactivate(&alice).await;
    let applied = "sum(policy_changes_applied_total)";
    eventually(
        "policy's applied changes in Prometheus",
        DEADLINE,
        || async { (value(&prometheus, applied).await? >= 2.0).then_some(()) },
    )
    .await;
    // Writes flow and policy keeps up: over longer than the rule's window
    // and `for:` together (compressed), the alert must not fire. The
    // window is the rule's own timing, observed, not a wait for something.
    let (stop_writing, stop) = tokio::sync::watch::channel(false);
    let writer = tokio::spawn(scim.clone().keep_writing(stop));
    let recorded = "sum(identity_changes_recorded_total)";
    let before = value(&prometheus, recorded).await.unwrap_or(0.0);
    let quiet =
        Instant::now() + (STUCK_WINDOW + STUCK_FOR) / COMPRESSION as u32 + Duration::from_secs(5);
    while Instant::now() < quiet {
        let alerts = prometheus.alerts().await;
        assert!(
            !alerts
                .iter()
                .any(|a| a.name == STUCK && a.state == "firing"),
            "{STUCK} fires while the stream flows: {alerts:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let during = value(&prometheus, recorded).await.unwrap_or(0.0);
    assert!(
        during > before,
        "no changes recorded while watching: {before} → {during}"
    );

    // The writes go on while policy cannot reach identity.
    system.relay.cut();
    let cut = Instant::now();
    let firing = eventually(&format!("{STUCK} firing"), DEADLINE, || async {
        let alerts = prometheus.alerts().await;
        alerts
            .into_iter()
            .find(|a| a.name == STUCK && a.state == "firing")
    })
    .await;
    assert_eq!(firing.labels["severity"], "page", "{:?}", firing.labels);
    eprintln!("{STUCK} fired {:?} after the cut", cut.elapsed());
    // The follower says why: its polls of identity fail.
    let errors = r#"sum(policy_stream_errors_total{stage="heads"})"#;
    assert!(value(&prometheus, errors).await.is_some_and(|v| v >= 1.0));

    // The connection is back: policy catches up and the alert resolves.
    system.relay.restore();
    let restored = Instant::now();
    eventually(&format!("{STUCK} resolved"), DEADLINE, || async {
        let alerts = prometheus.alerts().await;
        (!alerts.iter().any(|a| a.name == STUCK)).then_some(())
    })
    .await;
    eprintln!(
        "{STUCK} resolved {:?} after the restore",
        restored.elapsed()
    );
    stop_writing.send_replace(true);
    let written = writer.await.unwrap();
    assert!(written >= 3, "only {written} writes during the cut");

    // The series only events make: Redis gone (in-process limiting), a
    // rejected token, a failure Entra ID counts.
    system.redis.stop().await;
    scim.provoke_rare_series().await;
    check_every_used_name_is_exported(&prometheus).await;
}

/// The names the rules and the dashboard use, against those Prometheus
/// scraped from the services (recording rules: against the rules file).
async fn check_every_used_name_is_exported(prometheus: &Prometheus) {
    let dashboard: serde_json::Value = serde_json::from_str(rules::DASHBOARD).unwrap();
    let recorded = rules::recorded_names(rules::RULES);
    let mut used = BTreeSet::new();
    for expr in rules::rule_exprs(rules::RULES)
        .iter()
        .chain(&rules::dashboard_exprs(&dashboard))
    {
        used.extend(rules::metric_names(expr));
    }
    let (recordings, exported): (BTreeSet<String>, BTreeSet<String>) =
        used.into_iter().partition(|n| n.contains(':'));
    let undefined: Vec<&String> = recordings.difference(&recorded).collect();
    assert!(
        undefined.is_empty(),
        "used but never recorded: {undefined:?}"
    );
    // Scrapes run every second: the last provoked series arrive soon.
    let until = Instant::now() + Duration::from_secs(20);
    loop {
        let scraped: BTreeSet<String> = prometheus.names().await.into_iter().collect();
        let missing: Vec<&String> = exported.difference(&scraped).collect();
        if missing.is_empty() {
            break;
        }
        assert!(
            Instant::now() < until,
            "the rules or the dashboard use names no service exports: {missing:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(exported.len() >= 20, "suspiciously few names: {exported:?}");
}

/// The value of `expr`'s single series, if it has one.
async fn value(prometheus: &Prometheus, expr: &str) -> Option<f64> {
    prometheus.query(expr).await.first().map(|(_, v)| *v)
}

/// A SCIM client of the test's tenant.
#[derive(Clone)]
struct Scim {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Scim {
    fn new(system: &System) -> Self {
        Self {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap(),
            base: system.base.clone(),
            token: system.token.clone(),
        }
    }

    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> (u16, serde_json::Value) {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .header("Content-Type", "application/scim+json");
        if let Some(body) = body {
            request = request.body(body.to_string());
        }
        let answer = request.send().await.unwrap();
        let status = answer.status().as_u16();
        (status, answer.json().await.unwrap_or_default())
    }

    async fn create_user(&self, user_name: &str) -> String {
        let body = json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": user_name,
            "active": true
        });
        let (status, user) = self.send(reqwest::Method::POST, "/Users", Some(body)).await;
        assert_eq!(status, 201, "{user}");
        user["id"].as_str().unwrap().to_owned()
    }

    async fn deactivate(&self, id: &str) {
        let body = json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "Replace", "path": "active", "value": "False"}]
        });
        let (status, user) = self
            .send(reqwest::Method::PATCH, &format!("/Users/{id}"), Some(body))
            .await;
        assert_eq!(status, 200, "{user}");
    }

    /// Creates and deactivates a user every quarter of a second until
    /// `stop`; returns how many.
    async fn keep_writing(self, mut stop: tokio::sync::watch::Receiver<bool>) -> u32 {
        let mut n = 0;
        while !*stop.borrow() {
            let id = self.create_user(&format!("user{n}@contoso.com")).await;
            self.deactivate(&id).await;
            n += 1;
            let pause = tokio::time::sleep(Duration::from_millis(250));
            tokio::select! {
                () = pause => {}
                _ = stop.changed() => {}
            }
        }
        n
    }

    /// Requests that make the series only failures make.
    async fn provoke_rare_series(&self) {
        // More requests at once than the tenant's concurrency (4, no queue).
        eventually(
            "a request refused for the tenant's concurrency",
            DEADLINE,
            || async {
                let mut burst = tokio::task::JoinSet::new();
                for _ in 0..30 {
                    let scim = self.clone();
                    burst.spawn(async move {
                        scim.send(reqwest::Method::GET, "/Users?count=1", None)
                            .await
                            .0
                    });
                }
                let statuses = burst.join_all().await;
                statuses.contains(&429).then_some(())
            },
        )
        .await;
        // Rate-limit decisions without Redis, in-process.
        for _ in 0..3 {
            let (status, _) = self
                .send(reqwest::Method::GET, "/Users?count=1", None)
                .await;
            assert_eq!(status, 200);
        }
        // A filter that does not parse: a failure Entra ID counts.
        let (status, _) = self
            .send(
                reqwest::Method::GET,
                "/Users?filter=userName%20zz%20%22x%22",
                None,
            )
            .await;
        assert_eq!(status, 400);
        // A token the gateway does not know.
        let answer = self
            .http
            .get(format!("{}/Users", self.base))
            .bearer_auth("scim_not-a-token")
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status().as_u16(), 401);
    }
}
