//! The statement and lock timeouts of the Postgres pool (`StoreOptions`),
//! on a fresh database: a statement or a lock wait past them fails with a
//! precise status, and no tenant's held row holds another tenant's write.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use serde_json::json;
use sqlx::{AnyConnection, Connection, Executor};
use storekit::testing::PostgresDatabase;
use tonic::{Code, Status};

use super::scope::Scope;
use super::{SqlStore, Store, StoreOptions, UserRecord};
use crate::domain::{ResourceId, TenantId, UserColumns};
use crate::error::IdentityError;

const LOCK_TIMEOUT_MS: u64 = 200;

async fn store(db: &PostgresDatabase, statement_timeout_ms: u64) -> SqlStore {
    let store = SqlStore::connect(&StoreOptions {
        url: db.url.clone(),
        max_connections: 4,
        statement_timeout_ms,
        lock_timeout_ms: LOCK_TIMEOUT_MS,
    })
    .await
    .unwrap();
    store.migrate().await.unwrap();
    store
}

fn columns(user_name: &str, display_name: &str) -> UserColumns {
    UserColumns::from_canonical(&json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": user_name,
        "displayName": display_name,
    }))
    .unwrap()
}

/// A tenant with one user; returns the user's id.
async fn tenant_with_user(store: &SqlStore, tenant: &TenantId) -> ResourceId {
    store.create_tenant(tenant, "T").await.unwrap();
    let (user, _) = store
        .create_user(tenant, &columns("alice", "Alice"))
        .await
        .unwrap();
    ResourceId::parse(&user.id).unwrap()
}

impl SqlStore {
    /// Runs `pg_sleep` in a tenant's read transaction, as any store query runs.
    async fn sleep_in(&self, tenant: &TenantId, seconds: f64) -> Result<(), IdentityError> {
        let mut tx = self.read_tx(Scope::Tenant(tenant)).await?;
        sqlx::query("SELECT 1 AS one FROM pg_sleep($1)")
            .bind(seconds)
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }
}

#[tokio::test]
async fn a_statement_past_the_timeout_is_deadline_exceeded() {
    let db = PostgresDatabase::create("timeouts").await;
    let store = store(&db, 50).await;
    let acme = TenantId::parse("acme").unwrap();
    let started = Instant::now();
    let error = store.sleep_in(&acme, 1.0).await.unwrap_err();
    assert!(started.elapsed() < Duration::from_millis(900));
    let status = Status::from(error);
    assert_eq!(status.code(), Code::DeadlineExceeded);
    // The number is the process's store setting (tests share the process).
    assert!(
        status
            .message()
            .starts_with("the database statement took longer than "),
        "{}",
        status.message()
    );
    assert!(!status.message().contains("pg_sleep"));
    // A statement within the timeout runs.
    store.sleep_in(&acme, 0.0).await.unwrap();
}

#[tokio::test]
async fn a_locked_user_is_unavailable_while_another_tenant_writes() {
    let db = PostgresDatabase::create("timeouts").await;
    let store = store(&db, 5000).await;
    let acme = TenantId::parse("acme").unwrap();
    let globex = TenantId::parse("globex").unwrap();
    let held = tenant_with_user(&store, &acme).await;
    let free = tenant_with_user(&store, &globex).await;

    // Another transaction holds acme's user row.
    let mut holder = AnyConnection::connect(&db.url).await.unwrap();
    holder.execute("BEGIN").await.unwrap();
    sqlx::query("SELECT id FROM users WHERE tenant_id = $1 AND id = $2 FOR UPDATE")
        .bind(acme.as_str())
        .bind(held.as_str())
        .fetch_one(&mut holder)
        .await
        .unwrap();

    let change = |_: &UserRecord| Ok(columns("alice", "Alice Renamed"));
    let started = Instant::now();
    let (blocked, other) = tokio::join!(
        async {
            let r = store.modify_user(&acme, &held, None, &change).await;
            (r, started.elapsed())
        },
        async {
            let r = store.modify_user(&globex, &free, None, &change).await;
            (r, started.elapsed())
        },
    );
    let (result, blocked_for) = blocked;
    let status = Status::from(result.unwrap_err());
    assert_eq!(status.code(), Code::Unavailable);
    assert_eq!(
        status.message(),
        "the tenant's data is locked by another write; retry"
    );
    assert!(blocked_for >= Duration::from_millis(LOCK_TIMEOUT_MS));
    assert!(blocked_for < Duration::from_secs(2), "{blocked_for:?}");
    let (result, other_took) = other;
    assert_eq!(result.unwrap().version, 2);
    assert!(
        other_took < blocked_for,
        "{other_took:?} vs {blocked_for:?}"
    );

    // Released, the same write goes through.
    holder.execute("ROLLBACK").await.unwrap();
    let user = store
        .modify_user(&acme, &held, None, &change)
        .await
        .unwrap();
    assert_eq!(user.version, 2);
}
