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
use sqlx::{Any, AnyPool, Executor, Transaction};

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
pub(super) type PoolStats = (u32, usize, u32);

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
#[derive(Debug, Clone, Copy)]
pub enum Scope<'a> {
    Tenant(&'a TenantId),
    AllTenants(CrossTenant),
}

/// The connection pools, handing out scoped transactions only.
#[derive(Clone)]
pub struct Pools {
    /// Reads. On Postgres the same pool as `write`.
    read: AnyPool,
    /// Writes. On SQLite a single connection (SQLite has one writer).
    write: AnyPool,
    dialect: Dialect,
}

impl Pools {
    pub(super) fn new(read: AnyPool, write: AnyPool, dialect: Dialect) -> Self {
        Self {
            read,
            write,
            dialect,
        }
    }

    /// A read transaction bound to `scope`.
    pub(super) async fn read(
        &self,
        scope: Scope<'_>,
    ) -> Result<Transaction<'static, Any>, sqlx::Error> {
        begin(&self.read, self.dialect, scope, false).await
    }

    /// A write transaction bound to `scope`, serialised with the other
    /// writers of its tenant (on SQLite with every writer, by its single
    /// writer connection).
    pub(super) async fn write(
        &self,
        scope: Scope<'_>,
    ) -> Result<Transaction<'static, Any>, sqlx::Error> {
        begin(&self.write, self.dialect, scope, true).await
    }

    /// A write transaction bound to `scope` that does not take its tenant's
    /// write lock: for pruning, which deletes rows no recomputation reads
    /// and must not make the tenant's writers wait.
    pub(super) async fn write_unlocked(
        &self,
        scope: Scope<'_>,
    ) -> Result<Transaction<'static, Any>, sqlx::Error> {
        begin(&self.write, self.dialect, scope, false).await
    }

    /// Applies migrations (DDL, which row-level security does not govern)
    /// on a connection without the pool's timeouts, which an index build
    /// over a large table outlasts; the connection is closed afterwards.
    pub(super) async fn migrate(&self, migrator: &Migrator) -> Result<(), MigrateError> {
        if self.dialect != Dialect::Postgres {
            return migrator.run(&self.write).await;
        }
        let mut conn = self.write.acquire().await?;
        (&mut *conn)
            .execute(sqlx::AssertSqlSafe(storekit::timeouts::session_sql(0, 0)))
            .await?;
        let result = migrator.run(&mut *conn).await;
        conn.close().await?;
        result
    }

    /// True when the database answers (on SQLite, the writer too).
    pub(super) async fn ping(&self) -> bool {
        self.read.execute("SELECT 1").await.is_ok()
            && (self.dialect == Dialect::Postgres || self.write.execute("SELECT 1").await.is_ok())
    }

    /// Refuses a role that row-level security does not bind, unless
    /// `allow` (Postgres only; see `storekit::roles`).
    pub(super) async fn check_role(&self, allow: bool) -> Result<(), storekit::roles::RoleProblem> {
        if self.dialect != Dialect::Postgres {
            return Ok(());
        }
        let mut conn = self
            .write
            .acquire()
            .await
            .map_err(storekit::roles::RoleProblem::Unchecked)?;
        storekit::roles::enforce_unprivileged(&mut conn, "policy", allow).await
    }

    /// Closes both pools (waits for connections in use to come back).
    pub(super) async fn close(&self) {
        self.write.close().await;
        self.read.close().await;
    }

    /// (open, idle, max) of the read pool and, on SQLite, of the writer.
    pub(super) fn stats(&self) -> (PoolStats, Option<PoolStats>) {
        let stats = |p: &AnyPool| (p.size(), p.num_idle(), p.options().get_max_connections());
        let writer = (self.dialect == Dialect::Sqlite).then(|| stats(&self.write));
        (stats(&self.read), writer)
    }
}

async fn begin(
    pool: &AnyPool,
    dialect: Dialect,
    scope: Scope<'_>,
    write: bool,
) -> Result<Transaction<'static, Any>, sqlx::Error> {
    if let Scope::AllTenants(path) = scope {
        tracing::trace!(?path, "cross-tenant transaction");
    }
    if dialect != Dialect::Postgres {
        return pool.begin().await;
    }
    let (name, value) = match scope {
        Scope::Tenant(t) => ("app.tenant_id", t.as_str()),
        Scope::AllTenants(_) => ("app.all_tenants", "on"),
    };
    let tenant_lock = write && matches!(scope, Scope::Tenant(_));
    let lock = if tenant_lock {
        format!("; SELECT pg_advisory_xact_lock({TENANT_LOCK}, hashtext('{value}'))")
    } else {
        String::new()
    };
    // One round trip: the setting (and a writer's lock) travel in the BEGIN
    // batch. Inlining is safe for the values a TenantId allows
    // ([a-z0-9-]); anything else is bound.
    if value
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    {
        let begin = format!("BEGIN; SELECT set_config('{name}', '{value}', true){lock}");
        return pool.begin_with(sqlx::AssertSqlSafe(begin)).await;
    }
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT set_config($1, $2, true)")
        .bind(name)
        .bind(value)
        .execute(&mut *tx)
        .await?;
    if tenant_lock {
        sqlx::query("SELECT pg_advisory_xact_lock($1, hashtext($2))")
            .bind(TENANT_LOCK)
            .bind(value)
            .execute(&mut *tx)
            .await?;
    }
    Ok(tx)
}
