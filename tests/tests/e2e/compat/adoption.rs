//! Accounts that exist before SCIM: imported over gRPC (invisible to SCIM),
//! taken over by the SCIM create the tenant's adoption policy matches (same
//! id, an audit entry naming the rule), never across tenants.

use std::time::Duration;

use ::scimctl::{Cli, Parser as _};
use e2e::{Tenant, TestApp, assert_scim_error, on_both_backends};
use proto::identity::v1 as pb;
use reqwest::StatusCode;
use serde_json::{Value, json};

on_both_backends!(imported_accounts_are_adopted_by_policy);

async fn import(app: &TestApp, tenant: &str, accounts: &[(&str, &str, bool, &str)]) -> Vec<String> {
    app.identity
        .clone()
        .import_accounts(pb::ImportAccountsRequest {
            tenant_id: tenant.to_owned(),
            accounts: accounts
                .iter()
                .map(
                    |(user_name, email, verified, external_id)| pb::ImportedAccount {
                        user_name: (*user_name).to_owned(),
                        email: (*email).to_owned(),
                        email_verified: *verified,
                        external_id: (*external_id).to_owned(),
                    },
                )
                .collect(),
        })
        .await
        .unwrap()
        .into_inner()
        .ids
}

async fn policy(app: &TestApp, tenant: &str, set: &str) {
    let argv = [
        "scimctl",
        "--identity-url",
        &app.identity_url,
        "--json",
        "tenant",
        "adoption",
        tenant,
        "--set",
        set,
    ];
    let cli = Cli::try_parse_from(argv).unwrap();
    let mut out = Vec::new();
    ::scimctl::run(cli, &mut out).await.unwrap();
    let shown: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(shown["adoption"], set);
}

async fn create(t: &Tenant, body: Value) -> String {
    let r = t.post("/Users", body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    r.body["id"].as_str().unwrap().to_owned()
}

async fn imported_accounts_are_adopted_by_policy(app: &TestApp) {
    let a = app.tenant("adopt").await;
    let b = app.tenant("adopt").await;
    let ids = import(
        app,
        &a.id,
        &[
            ("pre1@x.com", "pre1@x.com", true, "X1"),
            ("pre2@x.com", "p2@x.com", false, "X2"),
            ("pre3@x.com", "pre3@x.com", true, ""),
            ("pre4@x.com", "", false, ""),
        ],
    )
    .await;
    let theirs = import(app, &b.id, &[("b1@x.com", "", false, "X1")]).await;

    // Invisible to SCIM until adopted.
    assert_eq!(a.get("/Users").await.body["totalResults"], 0);
    let r = a
        .get("/Users?filter=userName%20eq%20%22pre1@x.com%22")
        .await;
    assert_eq!(r.body["totalResults"], 0, "{}", r.body);
    assert_scim_error(&a.get(&format!("/Users/{}", ids[0])).await, 404, None);

    // Policy off (the default): an imported userName is taken, 409 as today;
    // a matching externalId adopts nothing.
    assert_scim_error(
        &a.post("/Users", json!({"userName": "PRE1@x.com"})).await,
        409,
        Some("uniqueness"),
    );
    let fresh = create(&a, json!({"userName": "fresh@x.com", "externalId": "X2"})).await;
    assert!(!ids.contains(&fresh));

    // externalId: the create takes the account over, with its id.
    policy(app, &a.id, "externalId").await;
    let adopted = create(&a, json!({"userName": "alice@x.com", "externalId": "X1"})).await;
    assert_eq!(adopted, ids[0]);
    let r = a.get(&format!("/Users/{adopted}")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["userName"], "alice@x.com");
    // Adopted once: the same externalId again is a new user.
    let again = create(&a, json!({"userName": "alice2@x.com", "externalId": "X1"})).await;
    assert_ne!(again, ids[0]);
    // Never across tenants: b's own import, not a's.
    let other = create(&b, json!({"userName": "bob@x.com", "externalId": "X1"})).await;
    assert!(other != ids[0] && other != theirs[0], "b's policy is off");
    policy(app, &b.id, "externalId").await;
    // b's imported userName b1@x.com is still its own.
    let bs = create(&b, json!({"userName": "bea@x.com", "externalId": "X1"})).await;
    assert_eq!(bs, theirs[0]);

    // Verified email only.
    policy(app, &a.id, "email").await;
    let unverified = create(
        &a,
        json!({"userName": "carl@x.com", "emails": [{"value": "P2@X.com"}]}),
    )
    .await;
    assert_ne!(unverified, ids[1]);
    let verified = create(
        &a,
        json!({"userName": "dora@x.com", "emails": [{"value": "PRE3@x.com", "type": "work"}]}),
    )
    .await;
    assert_eq!(verified, ids[2]);

    // userName, in any case.
    policy(app, &a.id, "userName").await;
    assert_eq!(create(&a, json!({"userName": "Pre4@X.com"})).await, ids[3]);
    // pre2, whose email was never verified, by its userName now.
    assert_eq!(create(&a, json!({"userName": "pre2@x.com"})).await, ids[1]);

    // An import may not take a userName a SCIM user has.
    let e = app
        .identity
        .clone()
        .import_accounts(pb::ImportAccountsRequest {
            tenant_id: a.id.clone(),
            accounts: vec![pb::ImportedAccount {
                user_name: "ALICE@x.com".into(),
                ..Default::default()
            }],
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::AlreadyExists);

    // The provisioning log's audit entry names the rule.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let entries = app
            .identity
            .clone()
            .list_request_log(pb::ListRequestLogRequest {
                tenant_id: a.id.clone(),
                limit: 100,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .entries;
        let adopted: Vec<&str> = entries
            .iter()
            .filter(|e| e.summary.contains("adopted"))
            .map(|e| e.summary.as_str())
            .collect();
        if adopted.len() == 4 {
            for rule in ["externalId", "email", "userName"] {
                assert!(
                    adopted
                        .iter()
                        .any(|s| s.ends_with(&format!("(rule {rule})"))),
                    "{adopted:?}"
                );
            }
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{entries:#?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
