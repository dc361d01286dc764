//! Account discovery: Entra ID lists every user by `startIndex`/`count`.
//! The walk must keep one order, report the true total, and not be
//! throttled at Entra's pace by the default tenant budget.

use std::collections::HashSet;
use std::time::Duration;

use e2e::{Options, TestApp, on_both_backends};
use reqwest::StatusCode;
use serde_json::json;

on_both_backends!(
    an_index_walk_is_stable_and_totals_are_true,
    the_default_rate_sustains_entras_pace
);

async fn an_index_walk_is_stable_and_totals_are_true(app: &TestApp) {
    let t = app.tenant("discovery").await;
    let mut ids = Vec::new();
    for i in 0..23 {
        ids.push(
            t.create_user(
                json!({"userName": format!("u{i:02}@x.com"), "externalId": format!("E{i}")}),
            )
            .await,
        );
    }
    // Pages of 5 (as Microsoft's validator asks), with a user deleted
    // between two pages: nobody skipped, nobody twice, the total follows.
    let mut seen = Vec::new();
    let mut start = 1;
    loop {
        let r = t.get(&format!("/Users?startIndex={start}&count=5")).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert_eq!(r.body["startIndex"], start);
        let page = r.body["Resources"].as_array().unwrap();
        assert_eq!(r.body["itemsPerPage"], page.len());
        let expected_total = if start >= 6 { 22 } else { 23 };
        assert_eq!(r.body["totalResults"], expected_total, "page at {start}");
        if page.is_empty() {
            break;
        }
        seen.extend(page.iter().map(|u| u["id"].as_str().unwrap().to_owned()));
        start += page.len();
        if start == 6 {
            assert_eq!(t.delete(&format!("/Users/{}", ids[2])).await.status, 204);
        }
    }
    let mut expected = ids.clone();
    expected.remove(2);
    // The deleted user was on the first page already: seen once, in order.
    let mut want = ids[..5].to_vec();
    want.extend(expected[4..].iter().cloned());
    assert_eq!(seen, want);
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), seen.len());
    // A second walk from the start gives the same order.
    let r = t.get("/Users?startIndex=1&count=100").await;
    let again: Vec<String> = r.body["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(again, expected);
    assert_eq!(r.body["totalResults"], 22);
}

/// Microsoft asks that a SCIM endpoint take at least 25 requests per second
/// per tenant. The default budget (50 per second) holds that pace once the
/// burst is spent: the burst is made small here so that the rate decides.
async fn the_default_rate_sustains_entras_pace(app: &TestApp) {
    let defaults = gateway::protect::ProtectionConfig::default();
    let mut options = Options::default();
    options.protection.default_rate = defaults.default_rate;
    options.protection.default_burst = 5;
    let gateway = app.spawn_gateway(&options).await;
    let tenant = app.tenant("discovery").await;
    // Created through the harness's gateway: the walk's budget is untouched.
    for i in 0..10 {
        tenant
            .create_user(json!({"userName": format!("p{i}@x.com")}))
            .await;
    }
    let t = tenant.via(&gateway);
    // 100 pages at 25 a second: four seconds, twenty times the burst.
    let mut pace = tokio::time::interval(Duration::from_millis(40));
    let mut throttled = 0;
    for i in 0..100 {
        pace.tick().await;
        let start = 1 + (i % 5) * 2;
        let r = t.get(&format!("/Users?startIndex={start}&count=2")).await;
        if r.status == StatusCode::TOO_MANY_REQUESTS {
            throttled += 1;
        } else {
            assert_eq!(r.status, StatusCode::OK, "{}", r.body);
            assert_eq!(r.body["totalResults"], 10);
        }
    }
    assert_eq!(throttled, 0, "Entra's pace throttled by the default rate");
}
