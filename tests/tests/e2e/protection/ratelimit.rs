//! Per-tenant rate limits in the shared Redis: burst, limit, recovery, an
//! accurate `Retry-After`, one budget across two gateways, and the reserved
//! share of deactivations.

use std::time::Duration;

use e2e::{Backend, assert_scim_error, spawn_app_with};
use reqwest::StatusCode;
use serde_json::json;

use super::support::{SHARED_REDIS, keys, prefix, redis_options, set_limits};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn burst_then_limit_then_recovery_with_an_accurate_retry_after() {
    let prefix = prefix();
    let app = spawn_app_with(Backend::Sqlite, redis_options(SHARED_REDIS, &prefix)).await;
    let t = app.tenant("rl").await;
    set_limits(&app, &t.id, 1, 3).await;

    // The burst: three at once, each told how many are left.
    for left in ["2", "1", "0"] {
        let r = t.get("/Users?count=0").await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert_eq!(r.header("ratelimit-policy"), Some("\"tenant\";q=3;w=3"));
        let rl = r.header("ratelimit").unwrap();
        assert!(rl.starts_with(&format!("\"tenant\";r={left};t=")), "{rl}");
    }
    // Over the limit: 429, a SCIM error body, Retry-After and RateLimit.
    let r = t.get("/Users?count=0").await;
    assert_scim_error(&r, 429, None);
    let wait: u64 = r.header("retry-after").unwrap().parse().unwrap();
    // 1 per second: the next slot is 1 s away (less the time the burst took).
    assert_eq!(wait, 1);
    assert!(
        r.header("ratelimit")
            .unwrap()
            .starts_with("\"tenant\";r=0;")
    );
    // Retry-After is honest: after that long the request goes through.
    tokio::time::sleep(Duration::from_secs(wait)).await;
    assert_eq!(t.get("/Users?count=0").await.status, StatusCode::OK);

    // The decisions live in Redis, under this test's prefix, by tenant id.
    assert_eq!(
        keys(SHARED_REDIS, &prefix).await,
        vec![format!("{prefix}{{{}}}", t.id)]
    );

    // Recovery: a full bucket again once burst/rate has passed.
    tokio::time::sleep(Duration::from_millis(3100)).await;
    for _ in 0..3 {
        assert_eq!(t.get("/Users?count=0").await.status, StatusCode::OK);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_gateways_share_one_budget() {
    let options = redis_options(SHARED_REDIS, &prefix());
    let app = spawn_app_with(Backend::Sqlite, options.clone()).await;
    let second = app.spawn_gateway(&options).await;
    let t = app.tenant("shared").await;
    const BURST: u64 = 10;
    set_limits(&app, &t.id, 1, BURST as u32).await;
    let other = t.via(&second);
    // 15 requests through each replica, alternating. One shared budget
    // admits the burst plus one per second that passes; a budget per
    // replica would admit twice the burst.
    let started = std::time::Instant::now();
    let mut admitted = 0;
    for _ in 0..15 {
        for client in [&t, &other] {
            let status = client.get("/Users?count=0").await.status;
            assert!(
                status == StatusCode::OK || status.as_u16() == 429,
                "{status}"
            );
            admitted += u64::from(status == StatusCode::OK);
        }
    }
    let elapsed = started.elapsed().as_secs() + 1;
    assert!(admitted >= BURST, "{admitted}");
    assert!(
        admitted <= BURST + elapsed,
        "{admitted} admitted in {elapsed} s"
    );
    assert!(admitted < 2 * BURST, "{admitted}: one budget per replica");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deactivations_have_a_reserved_share_that_reads_cannot_use() {
    let app = spawn_app_with(Backend::Sqlite, redis_options(SHARED_REDIS, &prefix())).await;
    let t = app.tenant("reserve").await;
    // Limits travel with the authentication answer: set before first use.
    set_limits(&app, &t.id, 1, 4).await;
    let a = t.create_user(json!({"userName": "a@r.com"})).await;
    let b = t.create_user(json!({"userName": "b@r.com"})).await;
    let c = t.create_user(json!({"userName": "c@r.com"})).await;
    let d = t.create_user(json!({"userName": "d@r.com"})).await;
    // A read flood uses the whole burst and is refused beyond it...
    let mut refused = 0;
    for _ in 0..10 {
        if t.get("/Users?count=0").await.status.as_u16() == 429 {
            refused += 1;
        }
    }
    assert!(refused >= 5, "{refused}");
    // ...yet deactivations in Entra's and Okta's shapes and a DELETE pass at once.
    let entra = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "Replace", "path": "active", "value": "False"}]});
    let r = t.patch(&format!("/Users/{a}"), entra).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["active"], false);
    let okta = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "value": {"active": false}}]});
    assert_eq!(
        t.patch(&format!("/Users/{b}"), okta).await.status,
        StatusCode::OK
    );
    assert_eq!(
        t.delete(&format!("/Users/{c}")).await.status,
        StatusCode::NO_CONTENT
    );
    // A Bulk request of deactivations only passes too; one that also
    // creates a user draws on the spent ordinary budget.
    let deactivate = json!({"method": "PATCH", "path": format!("/Users/{d}"), "data": {
        "Operations": [{"op": "replace", "path": "active", "value": false}]}});
    let bulk = |ops: serde_json::Value| json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "Operations": ops});
    let create = json!({"method": "POST", "path": "/Users", "bulkId": "e",
        "data": {"userName": "e@r.com"}});
    let r = t
        .post("/Bulk", bulk(json!([deactivate.clone(), create])))
        .await;
    assert_scim_error(&r, 429, None);
    let r = t.post("/Bulk", bulk(json!([deactivate]))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["Operations"][0]["status"], "200", "{}", r.body);
    // Reads are still refused: the reserve is not theirs.
    assert_eq!(t.get("/Users?count=0").await.status.as_u16(), 429);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bulk_request_costs_one_per_operation() {
    let app = spawn_app_with(Backend::Sqlite, redis_options(SHARED_REDIS, &prefix())).await;
    let t = app.tenant("bulk").await;
    set_limits(&app, &t.id, 1, 6).await;
    let ops: Vec<_> = (0..5)
        .map(|i| {
            json!({"method": "POST", "path": "/Users", "bulkId": format!("u{i}"),
                "data": {"userName": format!("bulk{i}@x.com")}})
        })
        .collect();
    let bulk = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "Operations": ops});
    let r = t.post("/Bulk", bulk.clone()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    // Five of six spent at once: one request left, not five.
    let left = r.header("ratelimit").unwrap().to_owned();
    assert!(left.starts_with("\"tenant\";r=1;"), "{left}");
    // Another five do not fit: 429, with the wait for four more slots.
    let r = t.post("/Bulk", bulk).await;
    assert_scim_error(&r, 429, None);
    let wait: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((3..=5).contains(&wait), "{wait}");
}
