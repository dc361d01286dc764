//! `POST /.search` across resource types (RFC 7644 §3.4.3) and `/Me`.

use e2e::{TestApp, assert_scim_error, on_both_backends};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

on_both_backends!(root_search_spans_users_and_groups, me_is_not_implemented);

fn ids(body: &Value) -> Vec<String> {
    body["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect()
}

async fn root_search_spans_users_and_groups(app: &TestApp) {
    let t = app.tenant("search").await;
    let mut users = Vec::new();
    for name in ["alice", "bob", "carol"] {
        users.push(
            t.create_user(
                json!({"userName": format!("{name}@x.com"), "displayName": format!("Eng {name}")}),
            )
            .await,
        );
    }
    let mut groups = Vec::new();
    for (name, members) in [("Eng", vec![users[0].clone()]), ("Sales", vec![])] {
        let members: Vec<Value> = members.iter().map(|m| json!({"value": m})).collect();
        let r = t
            .post("/Groups", json!({"displayName": name, "members": members}))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        groups.push(r.body["id"].as_str().unwrap().to_owned());
    }
    let everything: Vec<String> = users.iter().chain(&groups).cloned().collect();

    let all = t
        .post(
            "/.search",
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"]}),
        )
        .await;
    assert_eq!(all.status, StatusCode::OK, "{}", all.body);
    assert_eq!(all.body["totalResults"], 5);
    assert_eq!(ids(&all.body), everything);
    assert_eq!(all.body["Resources"][0]["meta"]["resourceType"], "User");
    assert_eq!(all.body["Resources"][4]["meta"]["resourceType"], "Group");

    // Stable pages across the type boundary.
    let mut paged = Vec::new();
    for start in [1, 3, 5, 7] {
        let page = t
            .post("/.search", json!({"startIndex": start, "count": 2}))
            .await;
        assert_eq!(page.body["totalResults"], 5);
        assert_eq!(page.body["startIndex"], start);
        paged.extend(ids(&page.body));
    }
    assert_eq!(paged, everything);

    // An attribute one type lacks matches nothing of that type, no 400.
    let by_user_name = t
        .post("/.search", json!({"filter": "userName sw \"a\""}))
        .await;
    assert_eq!(by_user_name.status, StatusCode::OK, "{}", by_user_name.body);
    assert_eq!(ids(&by_user_name.body), vec![users[0].clone()]);
    let with_members = t.post("/.search", json!({"filter": "members pr"})).await;
    assert_eq!(ids(&with_members.body), vec![groups[0].clone()]);
    let by_display = t
        .post(
            "/.search",
            json!({"filter": "displayName sw \"eng\"", "attributes": ["displayName"]}),
        )
        .await;
    assert_eq!(by_display.body["totalResults"], 4);
    assert!(by_display.body["Resources"][0].get("userName").is_none());
    assert_eq!(by_display.body["Resources"][3]["displayName"], "Eng");
    let not_members = t
        .post(
            "/.search",
            json!({"filter": "not (members pr)", "count": 0}),
        )
        .await;
    assert_eq!(not_members.body["totalResults"], 4);
    assert_eq!(not_members.body["Resources"], json!([]));

    let bad = t.post("/.search", json!({"filter": "userName eq"})).await;
    assert_scim_error(&bad, 400, Some("invalidFilter"));
    let get = t.get("/.search").await;
    assert_scim_error(&get, 405, None);
}

async fn me_is_not_implemented(app: &TestApp) {
    let t = app.tenant("me").await;
    for method in [Method::GET, Method::PUT, Method::PATCH, Method::DELETE] {
        let r = t.send(method, "/Me", None).await;
        assert_scim_error(&r, 501, None);
    }
    let r = t.post("/Me", json!({"userName": "me"})).await;
    assert_scim_error(&r, 501, None);
    let anonymous = reqwest::get(format!("{}/Me", t.base)).await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
}
