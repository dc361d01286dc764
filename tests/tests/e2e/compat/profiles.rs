//! IdP profiles per tenant (`entra` by default, `okta`, `generic`): set with
//! scimctl, in force on the next authentication, shown in the provisioning
//! log; each documented behaviour on or off by profile, and every refusal
//! names its rule in the error body's diagnostic.

use std::time::Duration;

use ::scimctl::{Cli, Parser as _};
use e2e::{Reply, Tenant, TestApp, on_both_backends};
use proto::identity::v1 as pb;
use reqwest::StatusCode;
use serde_json::{Value, json};

on_both_backends!(
    entra_tolerates_what_generic_refuses,
    the_profile_is_set_with_scimctl_and_logged
);

const DIAGNOSTIC: &str = "urn:ietf:params:scim:api:messages:2.0:Error:Diagnostic";

async fn scimctl(app: &TestApp, args: &[&str]) -> Value {
    let argv = ["scimctl", "--identity-url", &app.identity_url, "--json"];
    let cli = Cli::try_parse_from(argv.iter().chain(args)).unwrap();
    let mut out = Vec::new();
    ::scimctl::run(cli, &mut out).await.unwrap();
    serde_json::from_slice(&out).unwrap()
}

/// A tenant whose profile is set before its first request (so no cached
/// authentication holds the old one).
async fn tenant_with(app: &TestApp, profile: &str) -> Tenant {
    let t = app.tenant(profile).await;
    let shown = scimctl(app, &["tenant", "profile", &t.id, "--set", profile]).await;
    assert_eq!(shown["profile"], profile);
    t
}

/// A refusal as a tenant of `entra`/`okta` gets it: the rule under the
/// diagnostic extension.
fn refused(r: &Reply, status: u16, rule: &str, attribute: &str) {
    assert_eq!(r.status.as_u16(), status, "{}", r.body);
    assert_eq!(
        r.body["schemas"][0],
        "urn:ietf:params:scim:api:messages:2.0:Error"
    );
    assert_eq!(r.body[DIAGNOSTIC]["rule"], rule, "{}", r.body);
    assert_eq!(r.body[DIAGNOSTIC]["attribute"], attribute, "{}", r.body);
}

/// A refusal as a `generic` tenant gets it: RFC 7644 §3.12's body and
/// nothing else, the rule at the end of `detail`.
fn refused_strictly(r: &Reply, status: u16, rule: &str, attribute: &str) {
    assert_eq!(r.status.as_u16(), status, "{}", r.body);
    let keys: Vec<&String> = r.body.as_object().unwrap().keys().collect();
    assert!(
        keys.iter()
            .all(|k| ["schemas", "status", "scimType", "detail"].contains(&k.as_str())),
        "{}",
        r.body
    );
    let detail = r.body["detail"].as_str().unwrap();
    assert!(
        detail.ends_with(&format!("(rule {rule} at {attribute})")),
        "{detail}"
    );
}

fn user_with_extras() -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": "ann@x.com",
        "favouriteColour": "teal",
        "active": "True",
        "name": {"givenName": "Ann", "middleInitial": "Q"},
        "emails": [{"value": "ann@x.com", "type": "work", "primary": true},
                   {"value": "ann@home.org", "type": "home"}],
        "roles": [{"value": "Reader", "primary": "True"}]
    })
}

fn patch(ops: Value) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops})
}

async fn entra_tolerates_what_generic_refuses(app: &TestApp) {
    let entra = app.tenant("entra").await;
    let generic = tenant_with(app, "generic").await;

    // Unknown attributes (top level and sub-attribute), boolean strings.
    let r = entra.post("/Users", user_with_extras()).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert!(r.body.get("favouriteColour").is_none());
    assert_eq!(r.body["name"], json!({"givenName": "Ann"}));
    assert_eq!(r.body["active"], true);
    assert_eq!(r.body["roles"][0]["primary"], true);
    let id = r.body["id"].as_str().unwrap().to_owned();
    refused_strictly(
        &generic.post("/Users", user_with_extras()).await,
        400,
        "unknownAttribute",
        "favouriteColour",
    );
    // One deviation at a time.
    let base = json!({"userName": "ann@x.com", "name": {"givenName": "Ann"},
                      "roles": [{"value": "Reader", "primary": true}], "active": true});
    let with = |pointer: &str, value: Value| {
        let mut body = base.clone();
        *body.pointer_mut(pointer).unwrap() = value;
        body
    };
    refused_strictly(
        &generic.post("/Users", with("/active", json!("True"))).await,
        400,
        "booleanString",
        "active",
    );
    refused_strictly(
        &generic
            .post(
                "/Users",
                with("/name", json!({"givenName": "Ann", "middleInitial": "Q"})),
            )
            .await,
        400,
        "unknownAttribute",
        "name.middleInitial",
    );
    refused_strictly(
        &generic
            .post("/Users", with("/roles/0/primary", json!("True")))
            .await,
        400,
        "booleanString",
        "roles.primary",
    );
    let body = base.clone();
    let r = generic.post("/Users", body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let gid = r.body["id"].as_str().unwrap().to_owned();

    // PATCH: an operation on an unknown attribute is dropped (entra), or
    // refused (generic); "False" likewise.
    let ops = patch(
        json!([{"op": "Replace", "path": "favouriteColour", "value": "red"},
                           {"op": "Replace", "path": "active", "value": "False"}]),
    );
    let r = entra.patch(&format!("/Users/{id}"), ops.clone()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["active"], false);
    let only_unknown = patch(json!([{"op": "Add", "path": "favouriteColour", "value": "red"}]));
    let r = entra
        .patch(&format!("/Users/{id}"), only_unknown.clone())
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["id"], id.as_str());
    refused_strictly(
        &generic.patch(&format!("/Users/{gid}"), ops).await,
        400,
        "unknownAttribute",
        "favouriteColour",
    );
    let ops = patch(json!([{"op": "Replace", "path": "active", "value": "False"}]));
    refused_strictly(
        &generic.patch(&format!("/Users/{gid}"), ops).await,
        400,
        "booleanString",
        "active",
    );

    // attributes= with a filtered path: honoured as the attribute, or 400.
    let q = "attributes=emails%5Btype%20eq%20%22work%22%5D";
    let r = entra.get(&format!("/Users/{id}?{q}")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["emails"].as_array().unwrap().len(), 2, "{}", r.body);
    assert!(r.body.get("name").is_none(), "{}", r.body);
    let r = entra
        .get(&format!(
            "/Users?{q}&filter=userName%20eq%20%22ann@x.com%22"
        ))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body["Resources"][0].get("name").is_none());
    refused_strictly(
        &generic.get(&format!("/Users/{gid}?{q}")).await,
        400,
        "filteredProjection",
        "emails[type eq \"work\"]",
    );

    // Members as bare id strings.
    let r = entra
        .post("/Groups", json!({"displayName": "G", "members": [id]}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["members"][0]["value"], id.as_str());
    let group = r.body["id"].as_str().unwrap().to_owned();
    let r = entra
        .patch(
            &format!("/Groups/{group}"),
            patch(json!([{"op": "remove", "path": "members", "value": [id]}])),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    let r = entra.get(&format!("/Groups/{group}")).await;
    assert!(
        r.body.get("members").is_none_or(|m| m == &json!([])),
        "{}",
        r.body
    );
    refused_strictly(
        &generic
            .post("/Groups", json!({"displayName": "G", "members": [gid]}))
            .await,
        400,
        "bareMemberId",
        "members",
    );

    // Every error body names its rule, the RFC's scimType or the status's.
    refused(
        &entra
            .get("/Users/00000000-0000-4000-8000-000000000000")
            .await,
        404,
        "notFound",
        "",
    );
    refused(
        &entra.get("/Users?filter=userName%20zz%20%22x%22").await,
        400,
        "invalidFilter",
        "",
    );
}

async fn the_profile_is_set_with_scimctl_and_logged(app: &TestApp) {
    let t = app.tenant("profiles").await;
    let shown = scimctl(app, &["tenant", "profile", &t.id]).await;
    assert_eq!(shown["profile"], "entra", "the default");
    let r = t.post("/Users", user_with_extras()).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let shown = scimctl(app, &["tenant", "profile", &t.id, "--set", "okta"]).await;
    assert_eq!(shown["profile"], "okta");
    let o = tenant_with(app, "generic").await;
    let r = o.post("/Users", user_with_extras()).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    // An unknown profile is refused by the CLI's parser.
    let argv = [
        "scimctl",
        "--identity-url",
        &app.identity_url,
        "tenant",
        "profile",
        &t.id,
        "--set",
        "azure",
    ];
    assert!(Cli::try_parse_from(argv).is_err());
    // UNSPECIFIED over gRPC is refused too.
    let e = app
        .identity
        .clone()
        .set_tenant_profile(pb::SetTenantProfileRequest {
            tenant_id: t.id.clone(),
            profile: 0,
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::InvalidArgument);

    // The log shows each request's profile, what was ignored, the rule.
    let entries = wait_for(app, &t.id, 1).await;
    assert_eq!(entries[0].idp_profile, "entra");
    assert!(
        entries[0]
            .summary
            .starts_with("created (ignored: favouriteColour, name.middleInitial)"),
        "{}",
        entries[0].summary
    );
    let entries = wait_for(app, &o.id, 1).await;
    assert_eq!(entries[0].idp_profile, "generic");
    assert!(
        entries[0]
            .summary
            .ends_with("[rule unknownAttribute at favouriteColour]"),
        "{}",
        entries[0].summary
    );
}

async fn wait_for(app: &TestApp, tenant: &str, n: usize) -> Vec<pb::RequestLogEntry> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let entries = app
            .identity
            .clone()
            .list_request_log(pb::ListRequestLogRequest {
                tenant_id: tenant.to_owned(),
                limit: 100,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .entries;
        if entries.len() >= n {
            return entries;
        }
        assert!(tokio::time::Instant::now() < deadline, "{entries:#?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
