//! Fairness: a tenant over its concurrency slots gets 429 with
//! `Retry-After`, while another tenant is served.

use e2e::{Backend, Options, assert_scim_error, spawn_app_with};
use reqwest::StatusCode;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_is_refused_by_its_own_slots_not_by_the_neighbours() {
    let mut options = Options::default();
    options.protection.tenant_max_concurrency = 1;
    options.protection.tenant_queue_wait_ms = 0;
    let app = spawn_app_with(Backend::Sqlite, options).await;
    let flood = app.tenant("flood").await;
    let quiet = app.tenant("quiet").await;
    // Rounds of 40 requests at once until one overlaps another (the first
    // round nearly always does).
    let mut refused = None;
    for _ in 0..10 {
        let requests = (0..40).map(|_| {
            let t = flood.clone();
            tokio::spawn(async move { t.get("/Users?count=0").await })
        });
        let mut replies = Vec::new();
        for r in requests.collect::<Vec<_>>() {
            replies.push(r.await.unwrap());
        }
        assert!(
            replies
                .iter()
                .all(|r| r.status == StatusCode::OK || r.status.as_u16() == 429)
        );
        if let Some(r) = replies.into_iter().find(|r| r.status.as_u16() == 429) {
            refused = Some(r);
            break;
        }
    }
    let refused = refused.expect("40 concurrent requests never overlapped");
    assert_scim_error(&refused, 429, None);
    assert_eq!(refused.header("retry-after"), Some("1"));
    assert_eq!(quiet.get("/Users?count=0").await.status, StatusCode::OK);
}
