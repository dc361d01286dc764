//! Tenant isolation and token handling.

use e2e::{TestApp, assert_scim_error, on_both_backends};
use proto::identity::v1 as pb;
use reqwest::StatusCode;
use serde_json::json;

on_both_backends!(
    tokens_only_open_their_own_tenant,
    revoked_tokens_stop_working,
    bad_credentials_get_401
);

async fn tokens_only_open_their_own_tenant(app: &TestApp) {
    let a = app.tenant("a").await;
    let b = app.tenant("b").await;
    let id = a.create_user(json!({"userName": "secret@a.com"})).await;

    // A's token on B's URL: 401, and nothing is created there.
    let mut wrong = b.clone();
    wrong.token = a.token.clone();
    assert_scim_error(&wrong.get("/Users").await, 401, None);
    assert_scim_error(
        &wrong.post("/Users", json!({"userName": "x@b.com"})).await,
        401,
        None,
    );
    assert_eq!(b.get("/Users").await.body["totalResults"], 0);

    // B's token with A's user id: the same 404 as an unknown id.
    let r = b.get(&format!("/Users/{id}")).await;
    assert_scim_error(&r, 404, None);
    assert_eq!(
        r.body["detail"],
        b.get("/Users/00000000-0000-4000-8000-000000000000")
            .await
            .body["detail"]
    );
    assert_scim_error(
        &b.patch(
            &format!("/Users/{id}"),
            json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "replace", "path": "active", "value": false}]
            }),
        )
        .await,
        404,
        None,
    );
    assert_scim_error(&b.delete(&format!("/Users/{id}")).await, 404, None);
    assert_eq!(a.get(&format!("/Users/{id}")).await.body["active"], true);
    // B's filters never see A's users.
    assert_eq!(
        b.get("/Users?filter=userName%20eq%20%22secret@a.com%22")
            .await
            .body["totalResults"],
        0
    );
}

async fn revoked_tokens_stop_working(app: &TestApp) {
    let mut identity = app.identity.clone();
    let t = app.tenant("r").await;
    assert_eq!(t.get("/Users").await.status, StatusCode::OK);
    // A second token for rotation works at the same time.
    let second = identity
        .issue_token(pb::IssueTokenRequest {
            tenant_id: t.id.clone(),
            description: "rotation".into(),
            ttl_seconds: 0,
            secret: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    let mut rotated = t.clone();
    rotated.token = second.secret.clone();
    assert_eq!(rotated.get("/Users").await.status, StatusCode::OK);
    let listed = identity
        .list_tokens(pb::ListTokensRequest {
            tenant_id: t.id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.tokens.len(), 2);
    assert!(
        listed.tokens.iter().all(|k| k.last_used.is_some()),
        "last-used is recorded"
    );
    let listed_text = format!("{listed:?}");
    assert!(!listed_text.contains(&t.token) && !listed_text.contains(&second.secret));

    identity
        .revoke_token(pb::RevokeTokenRequest {
            tenant_id: t.id.clone(),
            token_id: t.token_id.clone(),
        })
        .await
        .unwrap();
    // identity refuses it at once; the gateway within its cache TTL.
    let status = identity
        .authenticate_token(pb::AuthenticateTokenRequest {
            secret: t.token.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unauthenticated);
    assert_eq!(rotated.get("/Users").await.status, StatusCode::OK);
}

async fn bad_credentials_get_401(app: &TestApp) {
    let t = app.tenant("c").await;
    for token in [
        "",
        "scim_0000",
        "Basic abc",
        "not-a-token-at-all-but-long-enough",
    ] {
        let mut bad = t.clone();
        bad.token = token.to_owned();
        let r = bad.get("/Users").await;
        assert_scim_error(&r, 401, None);
        assert!(r.header("www-authenticate").unwrap().starts_with("Bearer"));
        assert!(!r.body.to_string().contains(token) || token.is_empty());
    }
    let anonymous = app
        .http
        .get(format!("{}/Users", t.base))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
}
