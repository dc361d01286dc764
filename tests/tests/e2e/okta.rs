//! Okta's provisioning sequence: filter with paging, create with a
//! password that is never echoed, GET then PUT, deactivate by no-path PATCH.

use e2e::{TestApp, on_both_backends};
use reqwest::StatusCode;
use serde_json::json;

on_both_backends!(okta_lifecycle, okta_import_pages_are_stable);

async fn okta_lifecycle(app: &TestApp) {
    let t = app.tenant("okta").await;
    let probe = t.get("/Users?startIndex=1&count=2").await;
    assert_eq!(probe.status, StatusCode::OK);
    let q = "/Users?filter=userName%20eq%20%22test.user%40okta.local%22&startIndex=1&count=100";
    assert_eq!(t.get(q).await.body["totalResults"], 0);
    let created = t
        .post(
            "/Users",
            json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": "test.user@okta.local",
                "name": {"givenName": "Test", "familyName": "User"},
                "emails": [{"primary": true, "value": "test.user@okta.local", "type": "work"}],
                "displayName": "Test User",
                "locale": "en-US",
                "externalId": "00ujl29u0le5T6Aj10h7",
                "groups": [],
                "password": "1mz050nq",
                "active": true
            }),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert!(created.body.get("password").is_none());
    assert!(!created.body.to_string().contains("1mz050nq"));
    let id = created.body["id"].as_str().unwrap().to_owned();
    let path = format!("/Users/{id}");
    let got = t.get(&path).await;
    assert!(!got.body.to_string().contains("1mz050nq"));
    let listed = t.get(q).await;
    assert_eq!(listed.body["totalResults"], 1);
    assert!(
        listed.body["totalResults"].is_u64(),
        "integers, not strings"
    );

    // PUT with read-only id, meta, groups and without `active`: replaces the
    // profile, keeps the user active.
    let put = t
        .put(&path, json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "id": id,
            "userName": "test.user@okta.local",
            "name": {"givenName": "Another", "middleName": "Excited", "familyName": "User"},
            "emails": [{"primary": true, "value": "test.user@okta.local", "type": "work", "display": "test.user@okta.local"}],
            "groups": [],
            "meta": {"resourceType": "User"}
        }))
        .await;
    assert_eq!(put.status, StatusCode::OK, "{}", put.body);
    assert_eq!(put.body["name"]["givenName"], "Another");
    assert_eq!(put.body["name"]["middleName"], "Excited");
    assert_eq!(put.body["active"], true);
    assert!(
        put.body.get("displayName").is_none(),
        "PUT replaces: displayName was not sent"
    );

    // Deactivate, then reactivate, by no-path PATCH.
    for active in [false, true] {
        let r = t
            .patch(
                &path,
                json!({
                    "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                    "Operations": [{"op": "replace", "value": {"active": active}}]
                }),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert_eq!(r.body["active"], active);
    }
    // A second create of the same userName is a 409 that stops the job.
    let dup = t
        .post("/Users", json!({"userName": "TEST.USER@okta.local"}))
        .await;
    assert_eq!(dup.status, StatusCode::CONFLICT);
}

async fn okta_import_pages_are_stable(app: &TestApp) {
    let t = app.tenant("okta").await;
    for i in 0..7 {
        t.create_user(json!({"userName": format!("user{i}@okta.local")}))
            .await;
    }
    let mut seen = Vec::new();
    let mut start = 1;
    loop {
        let page = t.get(&format!("/Users?startIndex={start}&count=3")).await;
        assert_eq!(page.body["totalResults"], 7);
        assert_eq!(page.body["startIndex"], start);
        let items = page.body["Resources"].as_array().unwrap().clone();
        assert_eq!(page.body["itemsPerPage"], items.len());
        if items.is_empty() {
            break;
        }
        seen.extend(
            items
                .iter()
                .map(|u| u["userName"].as_str().unwrap().to_owned()),
        );
        start += 3;
    }
    let expected: Vec<String> = (0..7).map(|i| format!("user{i}@okta.local")).collect();
    assert_eq!(seen, expected, "every user once, in creation order");
    let totals_only = t.get("/Users?count=0").await;
    assert_eq!(totals_only.body["totalResults"], 7);
    assert_eq!(totals_only.body["Resources"], json!([]));
}
