//! Retention and quotas: identity's change stream and policy's role history
//! and delivery log are pruned by age and per-tenant cap (rows made old by
//! rewriting their times in the database), a cursor below the retained
//! range is `OUT_OF_RANGE` instead of a silent gap, policy resynchronises a
//! tenant whose cursor was pruned, and creates past a tenant's quota are
//! refused with a SCIM error and write nothing.

use std::time::Duration;

use e2e::{
    Backend, Options, Tenant, TestApp, assert_scim_error, on_both_backends, spawn_app,
    spawn_app_with,
};
use proto::identity::v1 as pb;
use proto::policy::v1 as ppb;
use reqwest::StatusCode;
use serde_json::{Value, json};
use storekit::retention::Rule;
use tokio_stream::StreamExt;
use tonic_types::StatusExt;

on_both_backends!(
    changes_are_pruned_by_age_and_cap_and_a_pruned_cursor_is_out_of_range,
    policy_history_and_deliveries_are_pruned
);

fn user(name: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": name,
        "externalId": name,
    })
}

/// Runs `sql` with `binds` (text) on the database at `url`, as its owner.
async fn execute(url: &str, sql: &str, binds: &[&str]) {
    sqlx::any::install_default_drivers();
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(url)
        .await
        .unwrap();
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()));
    for b in binds {
        query = query.bind(b.to_string());
    }
    query.execute(&mut conn).await.unwrap();
}

/// Makes the tenant's change records up to `through` 40 days old.
async fn age_changes(app: &TestApp, tenant: &str, through: i64) {
    let sql = format!("UPDATE changes SET at = 0 WHERE tenant_id = $1 AND seq <= {through}");
    execute(app.identity_database_url(), &sql, &[tenant]).await;
}

async fn read_changes(
    app: &TestApp,
    tenant: &str,
    after_seq: i64,
) -> Result<Vec<i64>, tonic::Status> {
    let page = app
        .identity
        .clone()
        .read_changes(pb::ReadChangesRequest {
            tenant_id: tenant.into(),
            after_seq,
            limit: 0,
        })
        .await?;
    Ok(page.into_inner().changes.iter().map(|c| c.seq).collect())
}

fn assert_pruned(status: &tonic::Status, first: i64) {
    assert_eq!(status.code(), tonic::Code::OutOfRange, "{status:?}");
    let info = status.get_details_error_info().expect("ErrorInfo");
    assert_eq!(info.reason, proto::REASON_CHANGES_PRUNED);
    assert_eq!(info.metadata["first_retained_seq"], first.to_string());
    assert!(
        status
            .message()
            .contains(&format!("first retained position {first}")),
        "{}",
        status.message()
    );
}

async fn prune_identity(app: &TestApp, changes: Rule) -> u64 {
    let retention = identity::retention::Retention {
        changes,
        ..Default::default()
    };
    identity::retention::prune_all(&app.identity_store, &retention)
        .await
        .unwrap()
        .changes
}

const DAYS_30: Rule = Rule {
    max_age: Duration::from_secs(30 * 86_400),
    max_per_tenant: 1_000_000,
};

async fn changes_are_pruned_by_age_and_cap_and_a_pruned_cursor_is_out_of_range(app: &TestApp) {
    let a = app.tenant("prune-a").await;
    let b = app.tenant("prune-b").await;
    for i in 0..4 {
        a.create_user(user(&format!("u{i}@a.example"))).await;
    }
    b.create_user(user("only@b.example")).await;
    age_changes(app, &a.id, 2).await;
    // b's only record is old too, but a stream's head is always kept.
    age_changes(app, &b.id, 1).await;

    assert_eq!(prune_identity(app, DAYS_30).await, 2);
    assert_eq!(read_changes(app, &a.id, 2).await.unwrap(), [3, 4]);
    assert_eq!(read_changes(app, &b.id, 0).await.unwrap(), [1]);
    // A cursor below the retained range is refused, 0 included.
    for cursor in [0, 1] {
        assert_pruned(&read_changes(app, &a.id, cursor).await.unwrap_err(), 3);
    }
    // Pruning again deletes nothing (replicas may prune at once).
    assert_eq!(prune_identity(app, DAYS_30).await, 0);

    // The cap keeps the newest records, whatever their age.
    let capped = Rule {
        max_per_tenant: 1,
        ..DAYS_30
    };
    assert_eq!(prune_identity(app, capped).await, 1);
    assert_eq!(read_changes(app, &a.id, 3).await.unwrap(), [4]);

    // Watch answers the same: a current cursor streams, a pruned one ends
    // the stream with OUT_OF_RANGE.
    let watch = |after_seq| {
        let request = pb::WatchRequest {
            tenant_id: a.id.clone(),
            after_seq,
            ..Default::default()
        };
        let mut identity = app.identity.clone();
        async move { first(identity.watch(request).await).await }
    };
    assert_eq!(watch(3).await.unwrap().changes[0].seq, 4);
    assert_pruned(&watch(1).await.unwrap_err(), 4);
}

/// The first message (or error) of a server stream.
async fn first<T>(
    stream: Result<tonic::Response<tonic::Streaming<T>>, tonic::Status>,
) -> Result<T, tonic::Status> {
    stream.unwrap().into_inner().next().await.unwrap()
}

async fn effective(app: &TestApp, tenant: &str, user_id: &str) -> String {
    app.policy
        .clone()
        .get_effective_role(ppb::GetEffectiveRoleRequest {
            tenant_id: tenant.into(),
            user_id: user_id.into(),
        })
        .await
        .unwrap()
        .into_inner()
        .role
        .unwrap()
        .role
}

/// A tenant with the role `Viewer` as its default.
async fn viewer_tenant(app: &TestApp, prefix: &str) -> Tenant {
    let t = app.tenant(prefix).await;
    let mut policy = app.policy.clone();
    policy
        .create_role(ppb::CreateRoleRequest {
            tenant_id: t.id.clone(),
            name: "Viewer".into(),
            description: String::new(),
        })
        .await
        .unwrap();
    policy
        .set_default_role(ppb::SetDefaultRoleRequest {
            tenant_id: t.id.clone(),
            role: "Viewer".into(),
        })
        .await
        .unwrap();
    t
}

fn deactivate() -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": "active", "value": false}],
    })
}

async fn policy_resyncs_a_tenant_whose_cursor_was_pruned(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let t = viewer_tenant(&app, "resync").await;
    let u1 = t.create_user(user("u1@r.example")).await;
    let u2 = t.create_user(user("u2@r.example")).await;
    let u3 = t.create_user(user("u3@r.example")).await;
    app.policy_caught_up().await;
    assert_eq!(effective(&app, &t.id, &u1).await, "Viewer");

    // While policy is down, identity changes the tenant and prunes every
    // record but the newest: policy's cursor is now below the range.
    app.kill_policy().await;
    assert_eq!(
        t.patch(&format!("/Users/{u1}"), deactivate()).await.status,
        StatusCode::OK
    );
    assert_eq!(
        t.delete(&format!("/Users/{u2}")).await.status,
        StatusCode::NO_CONTENT
    );
    let u4 = t.create_user(user("u4@r.example")).await;
    let head = app.identity_heads().await[&t.id];
    age_changes(&app, &t.id, head).await;
    assert_eq!(
        prune_identity(&app, DAYS_30).await,
        u64::try_from(head - 1).unwrap()
    );

    // policy finds the gap, resynchronises the tenant from a snapshot and
    // continues from the head: nothing of what was pruned is lost.
    app.restart_policy().await;
    app.policy_caught_up().await;
    assert_eq!(app.policy_cursors().await[&t.id], head);
    assert_eq!(effective(&app, &t.id, &u1).await, "Disabled");
    assert_eq!(effective(&app, &t.id, &u2).await, "Disabled");
    assert_eq!(effective(&app, &t.id, &u3).await, "Viewer");
    assert_eq!(effective(&app, &t.id, &u4).await, "Viewer");
    // And later changes are applied as usual.
    assert_eq!(
        t.patch(&format!("/Users/{u3}"), deactivate()).await.status,
        StatusCode::OK
    );
    app.policy_caught_up().await;
    assert_eq!(effective(&app, &t.id, &u3).await, "Disabled");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policy_resyncs_a_pruned_tenant_on_postgres() {
    policy_resyncs_a_tenant_whose_cursor_was_pruned(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policy_resyncs_a_pruned_tenant_on_sqlite() {
    policy_resyncs_a_tenant_whose_cursor_was_pruned(Backend::Sqlite).await;
}

async fn policy_history_and_deliveries_are_pruned(app: &TestApp) {
    let t = viewer_tenant(app, "history").await;
    for i in 0..3 {
        t.create_user(user(&format!("h{i}@h.example"))).await;
    }
    app.policy_caught_up().await;
    // Three role changes (each user's first role); the first two made old.
    execute(
        app.policy_database_url(),
        "UPDATE role_changes SET at = 0 WHERE tenant_id = $1 AND seq <= 2",
        &[&t.id],
    )
    .await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_micros()
        .to_string();
    for (i, at) in ["0", "0", "0", &now, &now].iter().enumerate() {
        let sql = format!(
            "INSERT INTO alert_deliveries (tenant_id, event_id, kind, attempt, at, outcome, \
             http_status, detail) VALUES ($1, 'e{i}', 'test', 1, {at}, 'delivered', 200, '')"
        );
        execute(app.policy_database_url(), &sql, &[&t.id]).await;
    }

    let retention = policy::retention::Retention::default();
    let pruned = policy::retention::prune_all(app.policy_store(), &retention)
        .await
        .unwrap();
    assert_eq!(pruned, (2, 3));
    assert_eq!(
        policy::retention::prune_all(app.policy_store(), &retention)
            .await
            .unwrap(),
        (0, 0)
    );

    let deliveries = app
        .policy
        .clone()
        .list_alert_deliveries(ppb::ListAlertDeliveriesRequest {
            tenant_id: t.id.clone(),
            limit: 0,
        })
        .await
        .unwrap()
        .into_inner()
        .deliveries;
    assert_eq!(deliveries.len(), 2);

    let watch = |after_seq| {
        let request = ppb::WatchRoleChangesRequest {
            tenant_id: t.id.clone(),
            after_seq,
            ..Default::default()
        };
        let mut policy = app.policy.clone();
        async move { first(policy.watch_role_changes(request).await).await }
    };
    assert_eq!(watch(2).await.unwrap().changes[0].seq, 3);
    let pruned = watch(0).await.unwrap_err();
    assert_eq!(pruned.code(), tonic::Code::OutOfRange, "{pruned:?}");
    assert_eq!(
        pruned.get_details_error_info().unwrap().reason,
        proto::REASON_CHANGES_PRUNED
    );
}

// === Quotas ===

async fn quota_app(backend: Backend) -> TestApp {
    let options = Options {
        identity_quotas: identity::quota::Quotas {
            max_users: 2,
            max_groups: 1,
        },
        ..Options::default()
    };
    spawn_app_with(backend, options).await
}

async fn total(t: &Tenant, resource: &str) -> u64 {
    let r = t.get(&format!("/{resource}?count=0")).await;
    r.body["totalResults"].as_u64().unwrap()
}

async fn creates_past_a_quota_are_refused_and_write_nothing(backend: Backend) {
    let app = quota_app(backend).await;
    let t = app.tenant("quota").await;
    let u1 = t.create_user(user("q1@q.example")).await;
    t.create_user(user("q2@q.example")).await;
    let head = app.identity_heads().await[&t.id];

    let refused = t.post("/Users", user("q3@q.example")).await;
    assert_scim_error(&refused, 403, None);
    let detail = refused.body["detail"].as_str().unwrap();
    assert!(detail.contains("quota of 2 users"), "{detail}");
    // Nothing written: no user, no change record.
    assert_eq!(total(&t, "Users").await, 2);
    assert_eq!(app.identity_heads().await[&t.id], head);
    let probe = t
        .get("/Users?filter=userName%20eq%20%22q3@q.example%22")
        .await;
    assert_eq!(probe.body["totalResults"], 0);

    // A deleted user frees its place; restoring it takes one again.
    assert_eq!(
        t.delete(&format!("/Users/{u1}")).await.status,
        StatusCode::NO_CONTENT
    );
    t.create_user(user("q3@q.example")).await;
    let restore = t.post("/Users", user("q1@q.example")).await;
    assert_scim_error(&restore, 403, None);
    assert_eq!(total(&t, "Users").await, 2);

    let group = |name: &str| json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": name});
    assert_eq!(
        t.post("/Groups", group("g1")).await.status,
        StatusCode::CREATED
    );
    let refused = t.post("/Groups", group("g2")).await;
    assert_scim_error(&refused, 403, None);
    assert!(
        refused.body["detail"]
            .as_str()
            .unwrap()
            .contains("quota of 1 groups")
    );
    assert_eq!(total(&t, "Groups").await, 1);

    // Another tenant has quotas of its own.
    let other = app.tenant("quota-other").await;
    other.create_user(user("q1@q.example")).await;

    // Bulk: each operation past the quota fails alone.
    let ids: Vec<String> = {
        let r = t.get("/Users").await;
        r.body["Resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["id"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        t.delete(&format!("/Users/{}", ids[0])).await.status,
        StatusCode::NO_CONTENT
    );
    let bulk = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
        "Operations": [
            {"method": "POST", "path": "/Users", "bulkId": "a", "data": user("b1@q.example")},
            {"method": "POST", "path": "/Users", "bulkId": "b", "data": user("b2@q.example")},
        ]
    });
    let r = t.post("/Bulk", bulk).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let ops = r.body["Operations"].as_array().unwrap();
    let statuses: Vec<&str> = ops.iter().map(|o| o["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["201", "403"], "{}", r.body);
    assert!(
        ops[1]["response"]["detail"]
            .as_str()
            .unwrap()
            .contains("quota of 2 users"),
        "{}",
        r.body
    );
    assert_eq!(total(&t, "Users").await, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quotas_on_postgres() {
    creates_past_a_quota_are_refused_and_write_nothing(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quotas_on_sqlite() {
    creates_past_a_quota_are_refused_and_write_nothing(Backend::Sqlite).await;
}
