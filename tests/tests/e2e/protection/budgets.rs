//! Budgets that belong to the tenant and to the client's address: wrong
//! tokens throttled per address before identity is asked, one rate budget
//! for all of a tenant's tokens, Bulk requests no larger than the burst,
//! and the reserve only for requests that do nothing but deactivate.

use e2e::{Backend, Options, Tenant, assert_scim_error, spawn_app_with};
use proto::identity::v1 as pb;
use reqwest::StatusCode;
use serde_json::json;

use super::support::{SHARED_REDIS, prefix, redis_options, second_token, set_limits};

/// `t` with a made-up token.
fn guessing(t: &Tenant) -> Tenant {
    let mut g = t.clone();
    g.token = format!("scim_{}", uuid::Uuid::new_v4().simple());
    g
}

fn throttling(burst: u32) -> Options {
    let mut options = Options::default();
    options.protection.auth_failures_per_minute = 1;
    options.protection.auth_failure_burst = burst;
    options
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guessed_tokens_are_throttled_per_address_before_identity_is_asked() {
    let app = spawn_app_with(Backend::Sqlite, throttling(3)).await;
    let t = app.tenant("guess").await;
    // Known before the guessing starts.
    assert_eq!(t.get("/Users?count=0").await.status, StatusCode::OK);
    let unknown_yet = second_token(&app, &t).await;
    for _ in 0..3 {
        let r = guessing(&t).get("/Users?count=0").await;
        assert_scim_error(&r, 401, None);
    }
    // Over the budget: 429 without a word from identity, however the
    // client dresses the request up.
    let r = guessing(&t).get("/Users?count=0").await;
    assert_scim_error(&r, 429, None);
    assert!(
        r.body["detail"]
            .as_str()
            .unwrap()
            .contains("rejected bearer tokens"),
        "{}",
        r.body
    );
    let wait: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    let spoofed = guessing(&t)
        .send_with(
            reqwest::Method::GET,
            "/Users?count=0",
            None,
            &[("x-forwarded-for", "203.0.113.77")],
        )
        .await;
    assert_scim_error(&spoofed, 429, None);
    // A token that authenticated before still works from that address; a
    // token nobody has seen yet waits like the guesses.
    assert_eq!(t.get("/Users?count=0").await.status, StatusCode::OK);
    assert_scim_error(&unknown_yet.get("/Users?count=0").await, 429, None);
    let metrics = reqwest::get(e2e::spawn_metrics().await)
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("gateway_auth_failure_throttled_total") && !l.ends_with(" 0")),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_a_trusted_proxy_the_forwarded_address_is_the_client() {
    let mut options = throttling(1);
    options.protection.trusted_proxy_cidrs = "127.0.0.0/8".into();
    let app = spawn_app_with(Backend::Sqlite, options).await;
    let t = app.tenant("proxy").await;
    let from = |ip: &'static str| {
        let g = guessing(&t);
        async move {
            g.send_with(
                reqwest::Method::GET,
                "/Users?count=0",
                None,
                &[("x-forwarded-for", ip)],
            )
            .await
        }
    };
    assert_scim_error(&from("203.0.113.1").await, 401, None);
    assert_scim_error(&from("203.0.113.1").await, 429, None);
    // Another client behind the same proxy has its own budget.
    assert_scim_error(&from("203.0.113.2").await, 401, None);
    // What the client wrote left of the proxy's entry is not believed.
    assert_scim_error(&from("198.51.100.9, 203.0.113.1").await, 429, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_token_of_a_tenant_draws_on_one_budget() {
    let app = spawn_app_with(Backend::Sqlite, redis_options(SHARED_REDIS, &prefix())).await;
    let t = app.tenant("tokens").await;
    set_limits(&app, &t.id, 1, 3).await;
    let other = second_token(&app, &t).await;
    for _ in 0..3 {
        assert_eq!(t.get("/Users?count=0").await.status, StatusCode::OK);
    }
    // A fresh token does not bring a fresh budget.
    assert_scim_error(&other.get("/Users?count=0").await, 429, None);
    // Another tenant's budget is untouched.
    let neighbour = app.tenant("neighbour").await;
    assert_eq!(neighbour.get("/Users?count=0").await.status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bulk_request_holds_no_more_operations_than_the_burst() {
    let app = spawn_app_with(Backend::Sqlite, redis_options(SHARED_REDIS, &prefix())).await;
    let t = app.tenant("bulkcap").await;
    set_limits(&app, &t.id, 100, 6).await;
    let spc = t.get("/ServiceProviderConfig").await;
    assert_eq!(spc.body["bulk"]["maxOperations"], 6, "{}", spc.body);
    let ops: Vec<_> = (0..7)
        .map(|i| {
            json!({"method": "POST", "path": "/Users", "bulkId": format!("u{i}"),
                "data": {"userName": format!("cap{i}@x.com")}})
        })
        .collect();
    let bulk = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "Operations": ops});
    let r = t.post("/Bulk", bulk).await;
    assert_scim_error(&r, 413, None);
    assert!(
        r.body["detail"].as_str().unwrap().contains("at most 6"),
        "{}",
        r.body
    );
    assert_eq!(t.get("/Users?count=0").await.body["totalResults"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_patch_that_does_more_than_deactivate_gets_no_reserve() {
    let app = spawn_app_with(Backend::Sqlite, redis_options(SHARED_REDIS, &prefix())).await;
    let t = app.tenant("smuggle").await;
    set_limits(&app, &t.id, 1, 3).await;
    let a = t.create_user(json!({"userName": "a@s.com"})).await;
    while t.get("/Users?count=0").await.status != StatusCode::TOO_MANY_REQUESTS {}
    let patch = |ops: serde_json::Value| json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops});
    let off = json!({"op": "Replace", "path": "active", "value": "False"});
    let rename = json!({"op": "replace", "path": "displayName", "value": "Smuggled"});
    let on = json!({"op": "replace", "path": "active", "value": true});
    for ops in [json!([off.clone(), rename]), json!([off.clone(), on])] {
        let r = t.patch(&format!("/Users/{a}"), patch(ops)).await;
        assert_scim_error(&r, 429, None);
    }
    let user = app
        .identity
        .clone()
        .get_user(pb::GetUserRequest {
            tenant_id: t.id.clone(),
            user_id: a.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    let stored: serde_json::Value =
        serde_json::from_str(&user.user.unwrap().resource_json).unwrap();
    assert!(stored.get("displayName").is_none(), "{stored}");
    // The deactivation alone still passes.
    let r = t.patch(&format!("/Users/{a}"), patch(json!([off]))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
}
