//! Row-level security on Postgres, the second wall: identity connected as a
//! plain role (neither superuser nor BYPASSRLS) serves the isolation matrix
//! and the cross-tenant operator paths; and straight SQL as that role sees
//! no row without a scope, only its tenant's rows with one, and cannot
//! write another tenant's.

use e2e::{Backend, Options, postgres_admin_url, spawn_app_with};
use proto::identity::v1 as pb;
use serde_json::json;
use sqlx::{AnyConnection, Connection};

/// A login role made for one test, dropped after it.
pub(crate) struct Role(pub(crate) String);

impl Role {
    pub(crate) async fn create() -> Self {
        let name = format!(
            "scim_rls_{}",
            &uuid::Uuid::new_v4().simple().to_string()[..12]
        );
        admin(&format!(
            "CREATE ROLE \"{name}\" LOGIN NOSUPERUSER NOBYPASSRLS"
        ))
        .await;
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

async fn admin(sql: &str) {
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
    // A console link: issued in the tenant's scope, redeemed by hash
    // (CrossTenant::RedeemConsoleLink), once.
    let code = app.console_code(&t.id, 0).await;
    let mut identity = app.identity.clone();
    let redeem = pb::RedeemConsoleLinkRequest { code };
    let redeemed = identity.redeem_console_link(redeem.clone()).await.unwrap();
    assert_eq!(redeemed.into_inner().tenant_id, t.id);
    let again = identity.redeem_console_link(redeem).await.unwrap_err();
    assert_eq!(again.code(), tonic::Code::Unauthenticated);
    assert!(app.identity_seq().await > 0);
    app.policy_caught_up().await;
    drop(app);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_policies_bind_a_plain_role() {
    let role = Role::create().await;
    let db = format!("scim_rls_{}", uuid::Uuid::new_v4().simple());
    admin(&format!("CREATE DATABASE \"{db}\"")).await;
    let admin_url = postgres_admin_url();
    let base = admin_url.rsplit_once('/').unwrap().0.to_owned();
    let url = format!("{base}/{db}");
    let store = identity::SqlStore::connect(&identity::StoreOptions {
        url: url.clone(),
        max_connections: 1,
    })
    .await
    .unwrap();
    store.migrate().await.unwrap();
    let mut owner = AnyConnection::connect(&url).await.unwrap();
    for sql in [
        "INSERT INTO tenants (id, display_name, created) VALUES ('a', 'A', 0), ('b', 'B', 0)".to_owned(),
        "INSERT INTO users (tenant_id, id, user_name, user_name_ci, active, version, created, last_modified, resource) \
         VALUES ('a', 'ua', 'x', 'x', true, 1, 0, 0, '{}'), ('b', 'ub', 'y', 'y', true, 1, 0, 0, '{}')"
            .to_owned(),
        format!("GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO \"{}\"", role.0),
    ] {
        sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&mut owner).await.unwrap();
    }
    let (scheme, rest) = url.split_once("://").unwrap();
    let host = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
    let mut conn = AnyConnection::connect(&format!("{scheme}://{}@{host}", role.0))
        .await
        .unwrap();
    let count = |sql: &'static str| sqlx::query_scalar::<_, i64>(sql);

    // No scope: no row.
    assert_eq!(
        count("SELECT count(*) FROM users")
            .fetch_one(&mut conn)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        count("SELECT count(*) FROM tenants")
            .fetch_one(&mut conn)
            .await
            .unwrap(),
        0
    );

    // Scoped to a: a's rows only, and no write into b.
    let mut tx = conn.begin().await.unwrap();
    sqlx::query("SELECT set_config('app.tenant_id', 'a', true)")
        .execute(&mut *tx)
        .await
        .unwrap();
    assert_eq!(
        count("SELECT count(*) FROM users")
            .fetch_one(&mut *tx)
            .await
            .unwrap(),
        1
    );
    let seen: String = sqlx::query_scalar("SELECT id FROM users")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    assert_eq!(seen, "ua");
    let moved = sqlx::query("UPDATE users SET user_name = 'z' WHERE id = 'ub'")
        .execute(&mut *tx)
        .await
        .unwrap();
    assert_eq!(moved.rows_affected(), 0);
    let foreign = sqlx::query(
        "INSERT INTO users (tenant_id, id, user_name, user_name_ci, active, version, created, last_modified, resource) \
         VALUES ('b', 'evil', 'e', 'e', true, 1, 0, 0, '{}')",
    )
    .execute(&mut *tx)
    .await;
    assert!(
        foreign.is_err(),
        "a write into another tenant passed the policy"
    );
    drop(tx);

    // A named cross-tenant path sees every tenant.
    let mut tx = conn.begin().await.unwrap();
    sqlx::query("SELECT set_config('app.all_tenants', 'on', true)")
        .execute(&mut *tx)
        .await
        .unwrap();
    assert_eq!(
        count("SELECT count(*) FROM users")
            .fetch_one(&mut *tx)
            .await
            .unwrap(),
        2
    );
    drop(tx);

    conn.close().await.unwrap();
    owner.close().await.unwrap();
    drop(store);
    admin(&format!("DROP DATABASE \"{db}\" WITH (FORCE)")).await;
}
