//! User lifecycle over SCIM: create, read, replace, patch, delete, ETags.

use e2e::{TestApp, assert_scim_error, on_both_backends};
use reqwest::{Method, StatusCode};
use serde_json::json;

on_both_backends!(
    create_then_get_round_trips,
    duplicate_user_name_is_a_uniqueness_conflict,
    etags_and_if_match,
    delete_leaves_a_tombstone_that_blocks_nothing,
    post_with_a_deleted_external_id_restores_the_account,
    attributes_and_excluded_attributes,
    discovery_documents,
    many_emails_are_stored_and_found,
);

/// Email rows are written several hundred to a statement: a user with more
/// than one statement's worth is stored whole, found by any of them, and
/// replaced whole.
async fn many_emails_are_stored_and_found(app: &TestApp) {
    let t = app.tenant("emails").await;
    let emails: Vec<_> = (0..1_234)
        .map(|i| json!({"value": format!("m{i}@many.example"), "type": "work"}))
        .collect();
    let id = t
        .create_user(json!({"userName": "many@many.example", "emails": emails}))
        .await;
    let r = t.get(&format!("/Users/{id}")).await;
    assert_eq!(r.body["emails"].as_array().unwrap().len(), 1_234);
    for n in [0, 499, 500, 1_233] {
        let q = format!("/Users?filter=emails.value%20eq%20%22M{n}@many.example%22");
        let r = t.get(&q).await;
        assert_eq!(r.body["totalResults"], 1, "m{n}: {}", r.body);
        assert_eq!(r.body["Resources"][0]["id"], id);
    }
    let r = t
        .put(
            &format!("/Users/{id}"),
            json!({"userName": "many@many.example", "emails": [{"value": "only@many.example"}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let q = "/Users?filter=emails.value%20eq%20%22m1233@many.example%22";
    assert_eq!(t.get(q).await.body["totalResults"], 0);
    let q = "/Users?filter=emails.value%20eq%20%22only@many.example%22";
    assert_eq!(t.get(q).await.body["totalResults"], 1);
}

fn alice() -> serde_json::Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": "alice@contoso.com",
        "externalId": "alice-ext",
        "name": {"givenName": "Alice", "familyName": "Example"},
        "displayName": "Alice Example",
        "emails": [{"value": "alice@contoso.com", "type": "work", "primary": true}],
        "active": true
    })
}

async fn create_then_get_round_trips(app: &TestApp) {
    let t = app.tenant("acme").await;
    let created = t.post("/Users", alice()).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let id = created.body["id"].as_str().unwrap();
    let location = created.header("location").unwrap();
    assert_eq!(location, format!("{}/Users/{id}", t.base));
    assert_eq!(created.body["meta"]["location"], location);
    assert_eq!(created.body["meta"]["resourceType"], "User");
    assert_eq!(
        created.header("content-type"),
        Some("application/scim+json")
    );
    assert_eq!(created.header("etag"), Some("W/\"1\""));

    let got = t.get(&format!("/Users/{id}")).await;
    assert_eq!(got.status, StatusCode::OK);
    assert_eq!(got.body["userName"], "alice@contoso.com");
    assert_eq!(got.body["name"]["givenName"], "Alice");
    assert_eq!(got.body["emails"][0]["value"], "alice@contoso.com");
    assert_eq!(got.body["active"], true);
    assert_eq!(got.body["meta"]["version"], "W/\"1\"");
    assert!(got.body["meta"]["created"].as_str().unwrap().ends_with('Z'));
}

async fn duplicate_user_name_is_a_uniqueness_conflict(app: &TestApp) {
    let t = app.tenant("acme").await;
    t.create_user(alice()).await;
    let mut upper = alice();
    upper["userName"] = json!("ALICE@contoso.COM");
    upper["externalId"] = json!("other");
    let r = t.post("/Users", upper).await;
    assert_scim_error(&r, 409, Some("uniqueness"));
}

async fn etags_and_if_match(app: &TestApp) {
    let t = app.tenant("acme").await;
    let id = t.create_user(alice()).await;
    let path = format!("/Users/{id}");
    let patch = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": "displayName", "value": "Alice E."}]
    });
    // A stale version is refused and changes nothing.
    let stale = t
        .send_with(
            Method::PATCH,
            &path,
            Some(patch.clone()),
            &[("if-match", "W/\"7\"")],
        )
        .await;
    assert_scim_error(&stale, 412, None);
    assert_eq!(t.get(&path).await.body["displayName"], "Alice Example");
    // The current version is accepted and bumps it.
    let ok = t
        .send_with(
            Method::PATCH,
            &path,
            Some(patch),
            &[("if-match", "W/\"1\"")],
        )
        .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    assert_eq!(ok.body["displayName"], "Alice E.");
    assert_eq!(ok.header("etag"), Some("W/\"2\""));
    // If-None-Match with the current tag: 304.
    let cached = t
        .send_with(Method::GET, &path, None, &[("if-none-match", "W/\"2\"")])
        .await;
    assert_eq!(cached.status, StatusCode::NOT_MODIFIED);
    // DELETE with a stale tag fails, with the right one succeeds.
    let del = t
        .send_with(Method::DELETE, &path, None, &[("if-match", "W/\"1\"")])
        .await;
    assert_scim_error(&del, 412, None);
    let del = t
        .send_with(Method::DELETE, &path, None, &[("if-match", "W/\"2\"")])
        .await;
    assert_eq!(del.status, StatusCode::NO_CONTENT);
}

async fn delete_leaves_a_tombstone_that_blocks_nothing(app: &TestApp) {
    let t = app.tenant("acme").await;
    let mut body = alice();
    body.as_object_mut().unwrap().remove("externalId");
    let id = t.create_user(body.clone()).await;
    assert_eq!(
        t.delete(&format!("/Users/{id}")).await.status,
        StatusCode::NO_CONTENT
    );
    assert_scim_error(&t.get(&format!("/Users/{id}")).await, 404, None);
    assert_scim_error(&t.delete(&format!("/Users/{id}")).await, 404, None);
    let list = t
        .get("/Users?filter=userName%20eq%20%22alice@contoso.com%22")
        .await;
    assert_eq!(list.body["totalResults"], 0);
    // The same userName can be provisioned again: a new account.
    let again = t.create_user(body).await;
    assert_ne!(again, id);
}

async fn post_with_a_deleted_external_id_restores_the_account(app: &TestApp) {
    let t = app.tenant("acme").await;
    let id = t.create_user(alice()).await;
    assert_eq!(
        t.delete(&format!("/Users/{id}")).await.status,
        StatusCode::NO_CONTENT
    );
    let again = t.post("/Users", alice()).await;
    assert_eq!(again.status, StatusCode::CREATED);
    assert_eq!(
        again.body["id"],
        id.as_str(),
        "the tombstone is restored, not duplicated"
    );
    assert_eq!(again.body["active"], true);
    assert_eq!(t.get(&format!("/Users/{id}")).await.status, StatusCode::OK);
}

async fn attributes_and_excluded_attributes(app: &TestApp) {
    let t = app.tenant("acme").await;
    let id = t.create_user(alice()).await;
    let only = t
        .get(&format!("/Users/{id}?attributes=userName,name.givenName"))
        .await;
    assert_eq!(only.body["userName"], "alice@contoso.com");
    assert_eq!(only.body["id"], id.as_str());
    assert_eq!(only.body["name"]["givenName"], "Alice");
    assert!(only.body["name"].get("familyName").is_none());
    assert!(only.body.get("emails").is_none());
    let without = t
        .get(&format!("/Users/{id}?excludedAttributes=emails"))
        .await;
    assert!(without.body.get("emails").is_none());
    assert_eq!(without.body["displayName"], "Alice Example");
}

async fn discovery_documents(app: &TestApp) {
    let t = app.tenant("acme").await;
    let spc = t.get("/ServiceProviderConfig").await;
    assert_eq!(spc.status, StatusCode::OK, "{}", spc.body);
    assert_eq!(spc.body["patch"]["supported"], true);
    assert_eq!(spc.body["bulk"]["supported"], true);
    assert!(spc.body["bulk"]["maxOperations"].as_u64().unwrap() > 0);
    assert_eq!(spc.body["filter"]["maxResults"], 1000);
    let types = t.get("/ResourceTypes").await;
    assert!(
        types.body["Resources"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["id"] == "User")
    );
    let schemas = t.get("/Schemas").await;
    let ids: Vec<&str> = schemas.body["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&"urn:ietf:params:scim:schemas:core:2.0:User"));
    assert!(ids.contains(&"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"));
    let one = t
        .get("/Schemas/urn:ietf:params:scim:schemas:core:2.0:User")
        .await;
    assert_eq!(one.status, StatusCode::OK);
    let not_allowed = t.send(Method::DELETE, "/ServiceProviderConfig", None).await;
    assert_scim_error(&not_allowed, 405, None);
}
