//! Keepalive probes (`GET /Users?filter=userName eq "<GUID>"`): answered
//! from their own allowance when the tenant's budget is spent, and folded
//! in the provisioning log.

use std::time::Duration;

use e2e::{Options, Tenant, TestApp, on_both_backends};
use proto::identity::v1 as pb;
use reqwest::StatusCode;

on_both_backends!(
    probes_are_answered_when_the_budget_is_spent,
    probes_are_folded_in_the_provisioning_log
);

fn probe_path() -> String {
    format!(
        "/Users?filter=userName%20eq%20%22{}%22",
        uuid::Uuid::new_v4()
    )
}

async fn probes_are_answered_when_the_budget_is_spent(app: &TestApp) {
    let mut options = Options::default();
    options.protection.default_rate = 1;
    options.protection.default_burst = 3;
    let gateway = app.spawn_gateway(&options).await;
    let t = app.tenant("keepalive").await.via(&gateway);
    // A provisioning cycle spends the tenant's budget.
    let mut limited = false;
    for _ in 0..20 {
        if t.get("/Users").await.status == StatusCode::TOO_MANY_REQUESTS {
            limited = true;
            break;
        }
    }
    assert!(limited, "the budget of 3 was never spent");
    // Entra's probes still answer, from their allowance (10 at once).
    for _ in 0..8 {
        let r = t.get(&probe_path()).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert_eq!(r.body["totalResults"], 0);
        assert!(r.headers.get("ratelimit").is_none(), "outside the budget");
    }
    // The allowance is not a way around the budget: past it, probes are
    // ordinary requests again.
    let mut refused = 0;
    for _ in 0..30 {
        if t.get(&probe_path()).await.status == StatusCode::TOO_MANY_REQUESTS {
            refused += 1;
        }
    }
    assert!(refused > 0, "30 probes past the allowance all answered");
    let metrics = telemetry::metrics::handle().render();
    for result in ["allowance", "over_allowance"] {
        assert!(
            metrics.contains(&format!(
                "gateway_keepalive_probes_total{{result=\"{result}\"}}"
            )),
            "no {result} probe counted"
        );
    }
    // A lookup of a real name is no probe.
    let r = t.get("/Users?filter=userName%20eq%20%22ann@x.com%22").await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
}

/// Waits for the tenant's log to hold `n` entries, oldest first.
async fn logged(app: &TestApp, t: &Tenant, n: usize) -> Vec<pb::RequestLogEntry> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let page = app
            .identity
            .clone()
            .list_request_log(pb::ListRequestLogRequest {
                tenant_id: t.id.clone(),
                limit: 1000,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        if page.entries.len() >= n {
            assert_eq!(page.entries.len(), n, "{:#?}", page.entries);
            let mut entries = page.entries;
            entries.reverse();
            return entries;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{} of {n} entries: {:#?}",
            page.entries.len(),
            page.entries
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn probes_are_folded_in_the_provisioning_log(app: &TestApp) {
    let mut options = Options::default();
    options.protection.keepalive_fold_seconds = 4;
    let gateway = app.spawn_gateway(&options).await;
    let t = app.tenant("keepalive").await.via(&gateway);
    for _ in 0..6 {
        assert_eq!(t.get(&probe_path()).await.status, StatusCode::OK);
    }
    // An ordinary request between them is a line of its own.
    assert_eq!(t.get("/Groups").await.status, StatusCode::OK);
    let entries = logged(app, &t, 3).await;
    let summaries: Vec<&str> = entries.iter().map(|e| e.summary.as_str()).collect();
    assert_eq!(
        summaries[0], "Test Connection: filter userName eq, 0 found",
        "{summaries:?}"
    );
    let count = summaries
        .iter()
        .find(|s| s.contains("keepalive"))
        .unwrap_or_else(|| panic!("no count line: {summaries:?}"));
    assert!(
        count.starts_with("Test Connection: 5 more keepalive probes since "),
        "{count}"
    );
    assert!(entries.iter().all(|e| e.status == 200));
    assert!(
        entries
            .iter()
            .filter(|e| e.summary.contains("keepalive"))
            .all(|e| e.test_connection && e.path == "/Users")
    );
}
