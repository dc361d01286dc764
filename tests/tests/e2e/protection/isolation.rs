//! The isolation matrix: tenant A's token against every endpoint and method
//! of tenant B's URL, and against B's ids, filters and member references
//! on its own URL. No data crosses, nothing changes.

use e2e::{Reply, Tenant, TestApp, assert_scim_error, on_both_backends};
use reqwest::Method;
use serde_json::{Value, json};

on_both_backends!(tenant_a_cannot_reach_tenant_b);

const PATCH: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// Every SCIM endpoint and method, with a body where one is needed.
fn matrix(user: &str, group: &str) -> Vec<(Method, String, Option<Value>)> {
    let patch = json!({"schemas": [PATCH],
        "Operations": [{"op": "replace", "path": "active", "value": false}]});
    let user_body = json!({"userName": "intruder@x.com"});
    let group_body = json!({"displayName": "intruders"});
    let search = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"]});
    vec![
        (Method::GET, "/Users".into(), None),
        (Method::POST, "/Users".into(), Some(user_body.clone())),
        (Method::POST, "/Users/.search".into(), Some(search.clone())),
        (Method::GET, format!("/Users/{user}"), None),
        (Method::PUT, format!("/Users/{user}"), Some(user_body)),
        (Method::PATCH, format!("/Users/{user}"), Some(patch.clone())),
        (Method::DELETE, format!("/Users/{user}"), None),
        (Method::GET, "/Groups".into(), None),
        (Method::POST, "/Groups".into(), Some(group_body.clone())),
        (Method::POST, "/Groups/.search".into(), Some(search)),
        (Method::GET, format!("/Groups/{group}"), None),
        (Method::PUT, format!("/Groups/{group}"), Some(group_body)),
        (Method::PATCH, format!("/Groups/{group}"), Some(patch)),
        (Method::DELETE, format!("/Groups/{group}"), None),
        (
            Method::POST,
            "/.search".into(),
            Some(json!({"filter": "userName pr"})),
        ),
        (Method::POST, "/Bulk".into(), Some(bulk(user))),
        (Method::GET, "/ServiceProviderConfig".into(), None),
        (Method::GET, "/ResourceTypes".into(), None),
        (Method::GET, "/ResourceTypes/User".into(), None),
        (Method::GET, "/Schemas".into(), None),
        (
            Method::GET,
            "/Schemas/urn:ietf:params:scim:schemas:core:2.0:User".into(),
            None,
        ),
    ]
}

/// A Bulk request deactivating `user`.
fn bulk(user: &str) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
        "Operations": [{"method": "PATCH", "path": format!("/Users/{user}"), "bulkId": "1",
            "data": {"schemas": [PATCH],
                "Operations": [{"op": "replace", "path": "active", "value": false}]}}]})
}

/// What B holds, as B sees it.
async fn snapshot(b: &Tenant, user: &str, group: &str) -> Vec<Value> {
    let mut out = Vec::new();
    for path in [
        format!("/Users/{user}"),
        format!("/Groups/{group}"),
        "/Users".to_owned(),
        "/Groups".to_owned(),
    ] {
        let r = b.get(&path).await;
        assert_eq!(r.status.as_u16(), 200, "{path}: {}", r.body);
        out.push(r.body);
    }
    out
}

fn assert_no_leak(r: &Reply, secrets: &[&str]) {
    let text = r.body.to_string();
    for s in secrets {
        assert!(!text.contains(s), "response leaks {s}: {text}");
    }
}

pub(super) async fn tenant_a_cannot_reach_tenant_b(app: &TestApp) {
    let a = app.tenant("a").await;
    let b = app.tenant("b").await;
    let b_user = b
        .create_user(json!({"userName": "bob@b.com", "externalId": "b-ext"}))
        .await;
    let r = b
        .post(
            "/Groups",
            json!({"displayName": "b-admins", "members": [{"value": b_user}]}),
        )
        .await;
    let b_group = r.body["id"].as_str().unwrap().to_owned();
    let before = snapshot(&b, &b_user, &b_group).await;
    let secrets = [b_user.as_str(), b_group.as_str(), "bob@b.com", "b-admins"];

    // A's token on B's URL: 401 for every endpoint and method.
    let mut a_on_b = b.clone();
    a_on_b.token = a.token.clone();
    for (method, path, body) in matrix(&b_user, &b_group) {
        let r = a_on_b.send(method.clone(), &path, body).await;
        assert_scim_error(&r, 401, None);
        assert_no_leak(&r, &secrets);
    }

    // A's token on A's URL with B's ids: the 404 of an id that never existed.
    let unknown = "00000000-0000-4000-8000-000000000000";
    let missing = a.get(&format!("/Users/{unknown}")).await;
    for (method, path, body) in matrix(&b_user, &b_group) {
        if !(path.contains(&b_user) || path.contains(&b_group)) {
            continue;
        }
        let r = a.send(method.clone(), &path, body).await;
        assert_scim_error(&r, 404, None);
        assert_eq!(r.body["detail"], missing.body["detail"], "{method} {path}");
    }

    // A Bulk operation on B's user fails as an unknown id would.
    let r = a.post("/Bulk", bulk(&b_user)).await;
    assert_eq!(r.status.as_u16(), 200, "{}", r.body);
    assert_eq!(r.body["Operations"][0]["status"], "404", "{}", r.body);
    assert_no_leak(&r, &secrets);

    // A's filters naming B's values find nothing.
    for filter in [
        "userName eq \"bob@b.com\"".to_owned(),
        format!("id eq \"{b_user}\""),
        "externalId eq \"b-ext\"".to_owned(),
        "displayName eq \"b-admins\"".to_owned(),
        format!("members.value eq \"{b_user}\""),
    ] {
        for resource in ["/Users", "/Groups"] {
            let q = a
                .send(
                    Method::POST,
                    &format!("{resource}/.search"),
                    Some(json!({"filter": filter})),
                )
                .await;
            if q.status.as_u16() == 200 {
                assert_eq!(q.body["totalResults"], 0, "{resource} {filter}");
            } else {
                assert_scim_error(&q, 400, Some("invalidFilter"));
            }
            assert_no_leak(&q, &secrets);
        }
    }

    // A's groups cannot reference B's user, in a create or in a PATCH.
    let r = a
        .post(
            "/Groups",
            json!({"displayName": "a-grp", "members": [{"value": b_user}]}),
        )
        .await;
    assert_scim_error(&r, 400, Some("invalidValue"));
    let a_group = a
        .post("/Groups", json!({"displayName": "a-grp"}))
        .await
        .body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let add = json!({"schemas": [PATCH], "Operations": [
        {"op": "add", "path": "members", "value": [{"value": b_user}]}]});
    let r = a.patch(&format!("/Groups/{a_group}"), add).await;
    assert_scim_error(&r, 400, Some("invalidValue"));
    let r = a.get(&format!("/Groups/{a_group}")).await;
    assert!(
        r.body["members"].as_array().is_none_or(Vec::is_empty),
        "{}",
        r.body
    );

    // Nothing of B changed.
    assert_eq!(snapshot(&b, &b_user, &b_group).await, before);
}
