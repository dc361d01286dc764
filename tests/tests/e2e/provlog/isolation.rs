//! One tenant's log never shows another's requests, also with identity
//! under Postgres row-level security.

use e2e::{TestApp, on_both_backends};
use proto::identity::v1 as pb;
use reqwest::StatusCode;
use serde_json::json;

use super::{list, logged};

on_both_backends!(one_tenant_never_sees_another_tenants_requests);

/// On Postgres with identity as a plain role, row-level security binds
/// every provisioning-log path: recording, listing, health and pruning
/// (which walks the tenants on the named cross-tenant path).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_works_under_row_level_security() {
    let role = crate::protection::rls::Role::create().await;
    let app = e2e::spawn_app_with(
        e2e::Backend::Postgres,
        e2e::Options {
            identity_role: Some(role.0.clone()),
            ..e2e::Options::default()
        },
    )
    .await;
    one_tenant_never_sees_another_tenants_requests(&app).await;
    super::retention::retention_prunes_old_and_excess_entries(&app).await;
    drop(app);
}

async fn one_tenant_never_sees_another_tenants_requests(app: &TestApp) {
    let a = app.tenant("provlog-a").await;
    let b = app.tenant("provlog-b").await;
    let a_user = a.create_user(json!({"userName": "shared@x.example"})).await;
    let b_user = b.create_user(json!({"userName": "shared@x.example"})).await;
    assert_eq!(
        b.get(&format!("/Users/{b_user}")).await.status,
        StatusCode::OK
    );
    // A's token on B's URL: refused, and written to no tenant's log.
    let stray = app
        .http
        .get(format!("{}/Users", b.base))
        .bearer_auth(&a.token)
        .send()
        .await
        .unwrap();
    assert_eq!(stray.status(), StatusCode::UNAUTHORIZED);
    // A last request on A, so both logs are complete once it shows.
    assert_eq!(a.get("/Users").await.status, StatusCode::OK);

    // A's last request is sent after everything else: once it is in, so
    // is every earlier entry.
    let a_entries = logged(app, &a.id, 2).await;
    let b_entries = logged(app, &b.id, 2).await;
    assert!(
        a_entries
            .iter()
            .all(|e| e.tenant_id == a.id && e.token_id == a.token_id)
    );
    assert!(
        b_entries
            .iter()
            .all(|e| e.tenant_id == b.id && e.token_id == b.token_id)
    );
    assert_eq!(a_entries[0].resource_id, a_user);
    assert_eq!(b_entries[1].resource_id, b_user);
    // A's user id in B's log finds nothing; the shared userName finds B's own.
    let page = list(
        app,
        &b.id,
        pb::ListRequestLogRequest {
            resource: a_user.clone(),
            ..Default::default()
        },
    )
    .await;
    assert!(page.entries.is_empty());
    let page = list(
        app,
        &b.id,
        pb::ListRequestLogRequest {
            resource: "shared@x.example".into(),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(page.entries.len(), 2);
    assert!(page.entries.iter().all(|e| e.resource_id == b_user));
    let health = app
        .identity
        .clone()
        .get_tenant_health(pb::GetTenantHealthRequest {
            tenant_id: b.id.clone(),
            window_seconds: 3_600,
        })
        .await
        .unwrap()
        .into_inner()
        .health
        .unwrap();
    assert_eq!((health.requests, health.errors), (2, 0));
    assert_eq!(health.quarantine_risk, "ok");
}
