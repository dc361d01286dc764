//! The statement and lock timeouts of the Postgres pool (`StoreOptions`),
//! on a fresh database: a statement or a lock wait past them fails with a
//! precise status, and no tenant's held write lock holds another tenant.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use sqlx::{AnyConnection, Connection};
use storekit::testing::PostgresDatabase;
use tonic::{Code, Status};

use super::scope::{Scope, TENANT_LOCK};
use super::{SqlStore, Store, StoreOptions};
use crate::domain::{RoleName, TenantId};
use crate::error::PolicyError;

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

impl SqlStore {
    /// Runs `pg_sleep` in a tenant's read transaction, as any store query runs.
    async fn sleep_in(&self, tenant: &TenantId, seconds: f64) -> Result<(), PolicyError> {
        let mut tx = self.begin_read(Scope::Tenant(tenant)).await?;
        sqlx::query("SELECT 1 AS one FROM pg_sleep($1)")
            .bind(seconds)
            .fetch_one(&mut *tx)
            .await?;
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
    store.sleep_in(&acme, 0.0).await.unwrap();
}

#[tokio::test]
async fn a_tenant_whose_write_lock_is_held_is_unavailable_while_another_tenant_writes() {
    let db = PostgresDatabase::create("timeouts").await;
    let store = store(&db, 5000).await;
    let acme = TenantId::parse("acme").unwrap();
    let globex = TenantId::parse("globex").unwrap();
    let admin = RoleName::parse("Admin").unwrap();

    // Another session holds acme's write lock (what a long write holds).
    let mut holder = AnyConnection::connect(&db.url).await.unwrap();
    sqlx::query("SELECT 1 AS one FROM (SELECT pg_advisory_lock($1, hashtext($2))) l")
        .bind(TENANT_LOCK)
        .bind(acme.as_str())
        .fetch_one(&mut holder)
        .await
        .unwrap();

    let started = Instant::now();
    let (blocked, other) = tokio::join!(
        async {
            let r = store.create_role(&acme, &admin, "admins").await;
            (r, started.elapsed())
        },
        async {
            let r = store.create_role(&globex, &admin, "admins").await;
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
    result.unwrap();
    assert!(
        other_took < blocked_for,
        "{other_took:?} vs {blocked_for:?}"
    );

    // Released, the same write goes through.
    holder.close().await.unwrap();
    store.create_role(&acme, &admin, "admins").await.unwrap();
}
