//! The provisioning log: a known Entra-style sequence recorded exactly
//! (statuses, scimTypes, resources, summaries), redacted, filtered by user,
//! status and time, summed up as tenant health, pruned by retention, and
//! kept apart per tenant.

mod edges;
mod isolation;
mod retention;
mod sequence;

use std::time::Duration;

use e2e::TestApp;
use proto::identity::v1 as pb;

/// How long the gateway may take to deliver its batch (it sends within 1 s).
const DELIVERY: Duration = Duration::from_secs(15);

/// The tenant's log as `ListRequestLog` answers `request` (tenant filled in).
async fn list(
    app: &TestApp,
    tenant: &str,
    request: pb::ListRequestLogRequest,
) -> pb::ListRequestLogResponse {
    app.identity
        .clone()
        .list_request_log(pb::ListRequestLogRequest {
            tenant_id: tenant.to_owned(),
            ..request
        })
        .await
        .unwrap()
        .into_inner()
}

/// Waits until the tenant's log holds `n` entries; returns them oldest first.
async fn logged(app: &TestApp, tenant: &str, n: usize) -> Vec<pb::RequestLogEntry> {
    let page = e2e::wait_until("the log's entries delivered", DELIVERY, || async {
        let page = list(
            app,
            tenant,
            pb::ListRequestLogRequest {
                limit: 1000,
                ..Default::default()
            },
        )
        .await;
        if page.entries.len() >= n {
            Ok(page)
        } else {
            Err(format!("{} of {n} entries", page.entries.len()))
        }
    })
    .await;
    assert_eq!(page.entries.len(), n, "{:#?}", page.entries);
    let mut entries = page.entries;
    entries.reverse();
    entries
}

fn micros(t: &prost_types::Timestamp) -> i64 {
    t.seconds * 1_000_000 + i64::from(t.nanos) / 1_000
}

/// The code of a call that must fail.
fn code<T: std::fmt::Debug>(r: Result<T, tonic::Status>) -> tonic::Code {
    r.unwrap_err().code()
}

fn entry(tenant: &str, age: Duration, summary: &str) -> pb::RequestLogEntry {
    let at = std::time::SystemTime::now() - age;
    pb::RequestLogEntry {
        tenant_id: tenant.to_owned(),
        time: Some(prost_types::Timestamp::from(at)),
        method: "GET".into(),
        path: "/Users".into(),
        status: 200,
        summary: summary.to_owned(),
        ..Default::default()
    }
}
