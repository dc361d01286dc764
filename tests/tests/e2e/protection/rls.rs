//! Row-level security on Postgres, the second wall: identity connected as a
//! plain role (neither superuser nor BYPASSRLS) serves the isolation matrix
//! and the cross-tenant operator paths; and straight SQL as that role sees
//! no row without a scope, only its tenant's rows with one, and cannot
//! write another tenant's.

use e2e::{Backend, Options, fresh_database, postgres_admin_url, role_url, spawn_app_with};
use proto::identity::v1 as pb;
use serde_json::json;
use sqlx::{AnyConnection, Connection};

/// A login role made for one test, dropped after it.
pub(crate) struct Role(pub(crate) String);

impl Role {
    pub(crate) async fn create() -> Self {
        Self::create_with("NOSUPERUSER NOBYPASSRLS").await
    }

    /// A login role with `attributes` (`BYPASSRLS`, …).
    pub(crate) async fn create_with(attributes: &str) -> Self {
        let name = format!(
            "scim_rls_{}",
            &uuid::Uuid::new_v4().simple().to_string()[..12]
        );
        admin(&format!("CREATE ROLE \"{name}\" LOGIN {attributes}")).await;
        Self(name)
    }
}

impl Drop for Role {
    fn drop(&mut self) {
        let sql = format!("DROP ROLE IF EXISTS \"{}\"", self.0);
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(admin(&sql));
        })
        .join();
    }
}

pub(crate) async fn admin(sql: &str) {
    sqlx::any::install_default_drivers();
    let mut conn = AnyConnection::connect(&postgres_admin_url()).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
        .execute(&mut conn)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identity_as_a_plain_role_keeps_every_path_working() {
    let role = Role::create().await;
    let app = spawn_app_with(
        Backend::Postgres,
        Options {
            identity_role: Some(role.0.clone()),
            ..Options::default()
        },
    )
    .await;
    super::isolation::tenant_a_cannot_reach_tenant_b(&app).await;
    // The named cross-tenant paths: ListTenants, Watch of every tenant
    // (policy follows it), the stream position, authentication by hash.
    let t = app.tenant("rls").await;
    t.create_user(json!({"userName": "r@rls.com"})).await;
    let tenants = app
        .identity
        .clone()
        .list_tenants(pb::ListTenantsRequest {})
        .await
        .unwrap()
        .into_inner()
        .tenants;
    assert!(tenants.len() >= 3, "{tenants:?}");
    // A console link: issued in the tenant's scope, inspected by hash
    // (CrossTenant::InspectConsoleLink) without using it, redeemed by hash
    // (CrossTenant::RedeemConsoleLink) with the tenant's session epoch, once.
    let code = app.console_code(&t.id, 0).await;
    let mut identity = app.identity.clone();
    let inspect = pb::InspectConsoleLinkRequest { code: code.clone() };
    let inspected = identity.inspect_console_link(inspect).await.unwrap();
    assert_eq!(inspected.into_inner().tenant_id, t.id);
    let ended = identity
        .end_console_sessions(pb::EndConsoleSessionsRequest {
            tenant_id: t.id.clone(),
        })
        .await
        .unwrap();
    assert_eq!(ended.into_inner().session_epoch, 1);
    let redeem = pb::RedeemConsoleLinkRequest { code };
    let redeemed = identity.redeem_console_link(redeem.clone()).await.unwrap();
    let redeemed = redeemed.into_inner();
    assert_eq!(
        (redeemed.tenant_id.as_str(), redeemed.session_epoch),
        (t.id.as_str(), 1)
    );
    let again = identity.redeem_console_link(redeem).await.unwrap_err();
    assert_eq!(again.code(), tonic::Code::Unauthenticated);
    // The stream heads (CrossTenant::WatchAllTenants) are readable.
    assert!(
        app.identity_heads()
            .await
            .get(&t.id)
            .is_some_and(|h| *h > 0)
    );
    app.policy_caught_up().await;
    drop(app);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policy_as_a_plain_role_keeps_every_path_working() {
    let role = Role::create().await;
    let app = spawn_app_with(
        Backend::Postgres,
        Options {
            identity_role: Some(role.0.clone()),
            policy_role: Some(role.0.clone()),
            ..Options::default()
        },
    )
    .await;
    // Tenant paths (roles, assignments, default role, locks, explain, dry
    // run, history, users by role, reconcile, equipment, report, alert
    // settings) and the named cross-tenant ones (following the stream, the
    // stream position, every tenant's role changes, alert delivery).
    crate::policy::admin::tenants_are_isolated(&app).await;
    crate::policy::table::role_table_row_by_row(&app).await;
    crate::policy::table::locks_freeze_the_role_until_unlocked(&app).await;
    crate::policy::insight::explain_dry_run_and_history(&app).await;
    crate::policy::insight::watch_role_changes_delivers_a_deactivation(&app).await;
    crate::policy::admin::users_by_role_pages_and_reconcile_agrees(&app).await;
    crate::equipment::disabled_holder_alerts_once_and_leaves_the_report_on_return(&app).await;
    crate::equipment::holdings_reports_and_alerts_are_isolated_per_tenant(&app).await;
    drop(app);
}

/// Runs `sqls` as the owner of the database at `url`, then connects as
/// `role` with a service's table privileges.
async fn as_role(url: &str, role: &Role, sqls: &[&str]) -> AnyConnection {
    let mut owner = AnyConnection::connect(url).await.unwrap();
    for sql in sqls {
        sqlx::query(sqlx::AssertSqlSafe((*sql).to_owned()))
            .execute(&mut owner)
            .await
            .unwrap();
    }
    owner.close().await.unwrap();
    AnyConnection::connect(&role_url(url, &role.0).await)
        .await
        .unwrap()
}

/// A transaction with `setting` (`app.tenant_id` or `app.all_tenants`) set.
async fn scoped<'c>(
    conn: &'c mut AnyConnection,
    setting: &str,
    value: &str,
) -> sqlx::Transaction<'c, sqlx::Any> {
    let mut tx = conn.begin().await.unwrap();
    sqlx::query("SELECT set_config($1, $2, true)")
        .bind(setting)
        .bind(value)
        .execute(&mut *tx)
        .await
        .unwrap();
    tx
}

async fn count(conn: &mut AnyConnection, sql: &'static str) -> i64 {
    sqlx::query_scalar::<_, i64>(sql)
        .fetch_one(conn)
        .await
        .unwrap()
}

async fn execute(conn: &mut AnyConnection, sql: &'static str) -> Result<u64, sqlx::Error> {
    sqlx::query(sql)
        .execute(conn)
        .await
        .map(|r| r.rows_affected())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_policy_tables_bind_a_plain_role() {
    let role = Role::create().await;
    let (url, database) = fresh_database(Backend::Postgres, "").await;
    let store = policy::SqlStore::connect(&policy::StoreOptions {
        url: url.clone(),
        max_connections: 1,
        ..Default::default()
    })
    .await
    .unwrap();
    store.migrate().await.unwrap();
    let mut conn = as_role(
        &url,
        &role,
        &["INSERT INTO roles (tenant_id, name, description, created) \
               VALUES ('a', 'Viewer', '', 0), ('b', 'Admin', '', 0)"],
    )
    .await;

    // No scope: no row.
    assert_eq!(count(&mut conn, "SELECT count(*) FROM roles").await, 0);

    // Scoped to a: a's rows only, and no write into b.
    let mut tx = scoped(&mut conn, "app.tenant_id", "a").await;
    let seen: Vec<String> = sqlx::query_scalar("SELECT name FROM roles")
        .fetch_all(&mut *tx)
        .await
        .unwrap();
    assert_eq!(seen, ["Viewer"]);
    let sql = "UPDATE roles SET description = 'x' WHERE tenant_id = 'b'";
    assert_eq!(execute(&mut tx, sql).await.unwrap(), 0);
    // The same write into a passes (so the refusal below is the policy's).
    let sql = "INSERT INTO locks (tenant_id, user_id, role, note, locked_at) \
               VALUES ('a', 'u', 'Viewer', '', 0)";
    assert_eq!(execute(&mut tx, sql).await.unwrap(), 1);
    let sql = "INSERT INTO locks (tenant_id, user_id, role, note, locked_at) \
               VALUES ('b', 'u', 'Admin', '', 0)";
    assert!(
        execute(&mut tx, sql).await.is_err(),
        "a write into another tenant passed the policy"
    );
    drop(tx);

    // A named cross-tenant path sees every tenant.
    let mut tx = scoped(&mut conn, "app.all_tenants", "on").await;
    assert_eq!(count(&mut tx, "SELECT count(*) FROM roles").await, 2);
    drop(tx);

    conn.close().await.unwrap();
    store.close().await;
    drop(database);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_policies_bind_a_plain_role() {
    let role = Role::create().await;
    let (url, database) = fresh_database(Backend::Postgres, "").await;
    let store = identity::SqlStore::connect(&identity::StoreOptions {
        url: url.clone(),
        max_connections: 1,
        ..Default::default()
    })
    .await
    .unwrap();
    store.migrate().await.unwrap();
    let mut conn = as_role(
        &url,
        &role,
        &[
            "INSERT INTO tenants (id, display_name, created) VALUES ('a', 'A', 0), ('b', 'B', 0)",
            "INSERT INTO users (tenant_id, id, user_name, user_name_ci, active, version, created, \
                 last_modified, resource) VALUES ('a', 'ua', 'x', 'x', true, 1, 0, 0, '{}'), \
                 ('b', 'ub', 'y', 'y', true, 1, 0, 0, '{}')",
        ],
    )
    .await;

    // No scope: no row.
    assert_eq!(count(&mut conn, "SELECT count(*) FROM users").await, 0);
    assert_eq!(count(&mut conn, "SELECT count(*) FROM tenants").await, 0);

    // Scoped to a: a's rows only, and no write into b.
    let mut tx = scoped(&mut conn, "app.tenant_id", "a").await;
    assert_eq!(count(&mut tx, "SELECT count(*) FROM users").await, 1);
    let seen: String = sqlx::query_scalar("SELECT id FROM users")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    assert_eq!(seen, "ua");
    let sql = "UPDATE users SET user_name = 'z' WHERE id = 'ub'";
    assert_eq!(execute(&mut tx, sql).await.unwrap(), 0);
    let sql = "INSERT INTO users (tenant_id, id, user_name, user_name_ci, active, version, \
               created, last_modified, resource) VALUES ('b', 'evil', 'e', 'e', true, 1, 0, 0, '{}')";
    assert!(
        execute(&mut tx, sql).await.is_err(),
        "a write into another tenant passed the policy"
    );
    drop(tx);

    // A named cross-tenant path sees every tenant.
    let mut tx = scoped(&mut conn, "app.all_tenants", "on").await;
    assert_eq!(count(&mut tx, "SELECT count(*) FROM users").await, 2);
    drop(tx);

    conn.close().await.unwrap();
    drop(store);
    drop(database);
}
