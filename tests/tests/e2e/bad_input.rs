//! Hostile and malformed input: a clear 4xx with a SCIM error body, never a
//! 5xx, and nothing written.

use e2e::{Backend, Options, TestApp, assert_scim_error, on_both_backends, spawn_app_with};
use reqwest::{Method, StatusCode};
use serde_json::json;

on_both_backends!(malformed_bodies, bad_patches, unknown_routes_and_ids);

async fn malformed_bodies(app: &TestApp) {
    let t = app.tenant("bad").await;
    let raw = |body: &'static str| {
        let t = t.clone();
        async move {
            let r = app
                .http
                .post(format!("{}/Users", t.base))
                .bearer_auth(&t.token)
                .header("content-type", "application/scim+json")
                .body(body)
                .send()
                .await
                .unwrap();
            e2e::reply(r).await
        }
    };
    assert_scim_error(&raw("{\"userName\": ").await, 400, Some("invalidSyntax"));
    assert_scim_error(&raw("[1, 2]").await, 400, None);
    assert_scim_error(&raw("\"just a string\"").await, 400, None);
    assert_scim_error(
        &t.post("/Users", json!({"displayName": "no userName"}))
            .await,
        400,
        Some("invalidValue"),
    );
    assert_scim_error(
        &t.post("/Users", json!({"userName": 42})).await,
        400,
        Some("invalidValue"),
    );
    assert_scim_error(
        &t.post("/Users", json!({"userName": "a@b.c", "active": "maybe"}))
            .await,
        400,
        Some("invalidValue"),
    );
    assert_scim_error(
        &t.post("/Users", json!({"userName": "a@b.c", "emails": "a@b.c"}))
            .await,
        400,
        None,
    );
    // An unknown attribute: ignored by the default profile (entra),
    // refused by the strict one.
    let r = t
        .post(
            "/Users",
            json!({"userName": "fc@b.c", "favouriteColour": "blue"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert!(r.body.get("favouriteColour").is_none());
    let strict = app.tenant("strict").await;
    app.set_profile(&strict.id, "generic").await;
    assert_scim_error(
        &strict
            .post(
                "/Users",
                json!({"userName": "a@b.c", "favouriteColour": "blue"}),
            )
            .await,
        400,
        Some("invalidSyntax"),
    );
    // Read-only attributes from clients are ignored, as IdPs send them.
    let r = t
        .post("/Users", json!({"userName": "ro@b.c", "id": "mine", "meta": {"created": "1999-01-01T00:00:00Z"}, "groups": []}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_ne!(r.body["id"], "mine");
    let wrong_type = t
        .send_with(
            Method::POST,
            "/Users",
            None,
            &[("content-type", "text/plain")],
        )
        .await;
    assert!(wrong_type.status.is_client_error());
    assert_eq!(
        t.get("/Users").await.body["totalResults"],
        2,
        "only the valid users were written"
    );
}

async fn bad_patches(app: &TestApp) {
    let t = app.tenant("bad").await;
    let id = t
        .create_user(json!({"userName": "p@b.c", "displayName": "P"}))
        .await;
    let path = format!("/Users/{id}");
    let schemas = json!(["urn:ietf:params:scim:api:messages:2.0:PatchOp"]);
    let cases = [
        (
            json!({"schemas": schemas, "Operations": []}),
            Some("invalidSyntax"),
        ),
        (
            json!({"schemas": schemas, "Operations": [{"op": "explode", "path": "displayName", "value": "x"}]}),
            Some("invalidSyntax"),
        ),
        (
            json!({"schemas": schemas, "Operations": [{"op": "replace", "path": "emails[type eq", "value": "x"}]}),
            Some("invalidPath"),
        ),
        (
            json!({"schemas": schemas, "Operations": [{"op": "remove"}]}),
            Some("noTarget"),
        ),
        (
            json!({"schemas": schemas, "Operations": [{"op": "replace", "path": "id", "value": "x"}]}),
            Some("mutability"),
        ),
        (
            json!({"schemas": schemas, "Operations": [{"op": "replace", "path": "active", "value": "perhaps"}]}),
            Some("invalidValue"),
        ),
        (json!({"schemas": schemas, "Operations": "replace"}), None),
    ];
    for (body, scim_type) in cases {
        let r = t.patch(&path, body.clone()).await;
        assert_scim_error(&r, 400, scim_type);
    }
    // All or nothing: a valid first op is not kept when the second fails.
    let r = t
        .patch(
            &path,
            json!({"schemas": schemas, "Operations": [
                {"op": "replace", "path": "displayName", "value": "Changed"},
                {"op": "replace", "path": "active", "value": 17}
            ]}),
        )
        .await;
    assert_scim_error(&r, 400, None);
    let now = t.get(&path).await;
    assert_eq!(now.body["displayName"], "P");
    assert_eq!(now.body["meta"]["version"], "W/\"1\"");
    // Renaming onto another user's userName is a 409.
    t.create_user(json!({"userName": "taken@b.c"})).await;
    let r = t
        .patch(&path, json!({"schemas": schemas, "Operations": [{"op": "replace", "path": "userName", "value": "TAKEN@b.c"}]}))
        .await;
    assert_scim_error(&r, 409, Some("uniqueness"));
}

async fn unknown_routes_and_ids(app: &TestApp) {
    let t = app.tenant("bad").await;
    assert_scim_error(&t.get("/Users/not-a-uuid").await, 404, None);
    assert_scim_error(&t.get("/Nothing").await, 404, None);
    assert_scim_error(
        &t.send(Method::PUT, "/Users", Some(json!({}))).await,
        405,
        None,
    );
    assert_scim_error(&t.get("/Users?count=abc").await, 400, Some("invalidValue"));
    assert_scim_error(&t.get("/Users?attributes=emails[").await, 400, None);
}

#[tokio::test]
async fn oversized_bodies_get_413() {
    let app = spawn_app_with(
        Backend::Sqlite,
        Options {
            max_body_bytes: 1024,
            ..Options::default()
        },
    )
    .await;
    let t = app.tenant("big").await;
    let r = t
        .post(
            "/Users",
            json!({"userName": "big@b.c", "displayName": "x".repeat(4096)}),
        )
        .await;
    assert_scim_error(&r, 413, None);
    assert_eq!(t.get("/Users").await.body["totalResults"], 0);
}
