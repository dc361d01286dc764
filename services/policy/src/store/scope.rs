//! Every query runs in a transaction opened for a [`Scope`]: one tenant, or
//! one of the few paths that cross tenants by design ([`CrossTenant`], each
//! named).
//!
//! On Postgres the scope becomes a transaction-local setting
//! (`set_config(…, true)`) that the row-level security policies of
//! migration 0003 check: `app.tenant_id` for one tenant's rows, or
//! `app.all_tenants = 'on'` for a cross-tenant path. RLS is a second wall
//! behind the `WHERE tenant_id = …` that every tenant query also carries;
//! it binds only a role that is neither superuser nor `BYPASSRLS` (the
//! tables are `FORCE`d, so their owner too). A query that forgets its scope
//! sees no row under RLS — and cannot be written: the pools are private to
//! this module, so store code has no executor but a scoped transaction.

use sqlx::migrate::{MigrateError, Migrator};
use sqlx::{Any, AnyPool, Transaction};
use storekit::scope::ScopedPool;

use super::sql::Dialect;
use crate::domain::TenantId;

/// The first key of the per-tenant advisory lock ("POLI"); the second is a
/// hash of the tenant id. Every Postgres writer of one tenant holds it until
/// commit: it serialises that tenant's recomputations (no lost update
/// between the follower and an administrator) and nothing else. Writers of
/// different tenants never wait for each other; a hash collision only makes
/// two tenants share a lock. Cross-tenant writers (lease rounds, alert
/// claims) take none: they write rows no recomputation reads.
pub(super) const TENANT_LOCK: i32 = 0x504f_4c49;

/// (open, idle, max) connections of a pool.
pub(super) type PoolStats = storekit::scope::PoolStats;

/// The paths that read or write across tenants on purpose, each named.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrossTenant {
    /// The follower's cursors in identity's stream (a position per tenant,
    /// no tenant data).
    StreamCursors,
    /// The heads of the role-change log (a position per tenant), read by
    /// `WatchRoleChanges` of every tenant.
    RoleChangeStream,
    /// The lease round: replicas and partition leases (no tenant data).
    Leases,
    /// The alert worker claiming due deliveries of every tenant.
    AlertDelivery,
    /// The digest scheduler finding the tenants whose digest is due.
    DigestSchedule,
    /// Retention finding the tenants with rows to prune (tenant ids only).
    Retention,
}

/// Whose rows a transaction may see and write.
pub type Scope<'a> = storekit::scope::Scope<'a, TenantId, CrossTenant>;

impl storekit::scope::TenantKey for TenantId {
    fn key(&self) -> &str {
        self.as_str()
    }
}

/// The connection pools, handing out scoped transactions only.
#[derive(Clone)]
pub struct Pools {
    /// Reads. On Postgres the same pool as `write`.
    read: ScopedPool,
    /// Writes. On SQLite a single connection (SQLite has one writer).
    write: ScopedPool,
    dialect: Dialect,
}

impl Pools {
    pub(super) fn new(read: AnyPool, write: AnyPool, dialect: Dialect) -> Self {
        Self {
            read: ScopedPool::new(read, dialect, "policy"),
            write: ScopedPool::new(write, dialect, "policy"),
            dialect,
        }
    }

    /// A read transaction bound to `scope`.
    pub(super) async fn read(
        &self,
        scope: Scope<'_>,
    ) -> Result<Transaction<'static, Any>, sqlx::Error> {
        self.read.begin(&scope, None).await
    }

    /// A write transaction bound to `scope`, serialised with the other
    /// writers of its tenant by [`TENANT_LOCK`] (on SQLite with every
    /// writer, by its single writer connection).
    pub(super) async fn write(
        &self,
        scope: Scope<'_>,
    ) -> Result<Transaction<'static, Any>, sqlx::Error> {
        self.write.begin(&scope, Some(TENANT_LOCK)).await
    }

    /// A write transaction bound to `scope` that does not take its tenant's
    /// write lock: for pruning, which deletes rows no recomputation reads
    /// and must not make the tenant's writers wait.
    pub(super) async fn write_unlocked(
        &self,
        scope: Scope<'_>,
    ) -> Result<Transaction<'static, Any>, sqlx::Error> {
        self.write.begin(&scope, None).await
    }

    /// Applies migrations without the pools' timeouts (see
    /// `storekit::scope::ScopedPool::migrate`).
    pub(super) async fn migrate(&self, migrator: &Migrator) -> Result<(), MigrateError> {
        self.write.migrate(migrator).await
    }

    /// True when the database answers (on SQLite, the writer too).
    pub(super) async fn ping(&self) -> bool {
        self.read.ping().await && (self.dialect == Dialect::Postgres || self.write.ping().await)
    }

    /// Refuses a role that row-level security does not bind, unless
    /// `allow` (Postgres only; see `storekit::roles`).
    pub(super) async fn check_role(&self, allow: bool) -> Result<(), storekit::roles::RoleProblem> {
        self.write.check_role(allow).await
    }

    /// Closes both pools (waits for connections in use to come back).
    pub(super) async fn close(&self) {
        self.write.close().await;
        self.read.close().await;
    }

    /// (open, idle, max) of the read pool and, on SQLite, of the writer.
    pub(super) fn stats(&self) -> (PoolStats, Option<PoolStats>) {
        let writer = (self.dialect == Dialect::Sqlite).then(|| self.write.stats());
        (self.read.stats(), writer)
    }
}
