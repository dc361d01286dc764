//! Every query runs in a transaction opened for a [`Scope`]: one tenant, or
//! one of the few operator paths that cross tenants by design
//! ([`CrossTenant`], each named).
//!
//! On Postgres the scope becomes a transaction-local setting
//! (`set_config(…, true)`) that the row-level security policies of
//! migration 0005 check: `app.tenant_id` for one tenant's rows, or
//! `app.all_tenants = 'on'` for a cross-tenant path. RLS is a second wall
//! behind the `WHERE tenant_id = …` that every tenant query also carries;
//! it binds only a role that is neither superuser nor `BYPASSRLS`, and that
//! does not own the tables unless they are `FORCE`d (they are; see
//! docs/sre.md, "Row-level security (Postgres)"). A query that forgets its scope sees no row under RLS.

use sqlx::migrate::{MigrateError, Migrator};
use sqlx::{Any, AnyPool, Executor, Transaction};

use super::filter_sql::Dialect;
use crate::domain::TenantId;

/// The paths that read across tenants on purpose, each named.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrossTenant {
    /// `ListTenants`, for operators.
    ListTenants,
    /// `AuthenticateToken`: a secret's hash is looked up before its tenant is known.
    AuthenticateByHash,
    /// The heads of the change stream (a position per tenant, no tenant
    /// data), read by `Watch` of several tenants and `ListStreamHeads`.
    WatchAllTenants,
    /// `RedeemConsoleLink`: a code's hash is looked up before its tenant is known.
    RedeemConsoleLink,
    /// `InspectConsoleLink`: the same lookup by hash, without using the code.
    InspectConsoleLink,
}

/// Whose rows a transaction may see and write.
#[derive(Debug, Clone, Copy)]
pub enum Scope<'a> {
    Tenant(&'a TenantId),
    AllTenants(CrossTenant),
}

/// A connection pool that hands out scoped transactions only: its pool is
/// private to this module, so store code cannot run a query on it without
/// naming a [`Scope`] (the compiler refuses `&self.read` as an executor).
#[derive(Clone)]
pub struct ScopedPool {
    pool: AnyPool,
    dialect: Dialect,
}

impl ScopedPool {
    pub(super) fn new(pool: AnyPool, dialect: Dialect) -> Self {
        Self { pool, dialect }
    }

    /// Open connections, idle ones and the maximum (for metrics only).
    pub(super) fn stats(&self) -> (u32, usize, u32) {
        (
            self.pool.size(),
            self.pool.num_idle(),
            self.pool.options().get_max_connections(),
        )
    }

    /// A transaction bound to `scope`.
    pub(super) async fn begin(
        &self,
        scope: Scope<'_>,
    ) -> Result<Transaction<'static, Any>, sqlx::Error> {
        begin(&self.pool, self.dialect, scope).await
    }

    /// Applies migrations (DDL, which row-level security does not govern)
    /// on a connection without the pool's timeouts, which an index build
    /// over a large table outlasts; the connection is closed afterwards.
    pub(super) async fn migrate(&self, migrator: &Migrator) -> Result<(), MigrateError> {
        if self.dialect != Dialect::Postgres {
            return migrator.run(&self.pool).await;
        }
        let mut conn = self.pool.acquire().await?;
        (&mut *conn)
            .execute(sqlx::AssertSqlSafe(storekit::timeouts::session_sql(0, 0)))
            .await?;
        let result = migrator.run(&mut *conn).await;
        conn.close().await?;
        result
    }

    /// True when the database answers.
    pub(super) async fn ping(&self) -> bool {
        self.pool.execute("SELECT 1").await.is_ok()
    }

    /// Refuses a role that row-level security does not bind, unless
    /// `allow` (Postgres only; see `storekit::roles`).
    pub(super) async fn check_role(&self, allow: bool) -> Result<(), storekit::roles::RoleProblem> {
        if self.dialect != Dialect::Postgres {
            return Ok(());
        }
        let mut conn = self
            .pool
            .acquire()
            .await
            .map_err(storekit::roles::RoleProblem::Unchecked)?;
        storekit::roles::enforce_unprivileged(&mut conn, "identity", allow).await
    }
}

/// A transaction on `pool` bound to `scope`.
async fn begin(
    pool: &AnyPool,
    dialect: Dialect,
    scope: Scope<'_>,
) -> Result<Transaction<'static, Any>, sqlx::Error> {
    if dialect == Dialect::Postgres {
        let (name, value) = match scope {
            Scope::Tenant(t) => ("app.tenant_id", t.as_str()),
            Scope::AllTenants(_) => ("app.all_tenants", "on"),
        };
        // One round trip instead of two (every request opens one of these):
        // the setting travels in the BEGIN batch. Inlining is safe for the
        // values a TenantId allows ([a-z0-9-]); anything else is bound.
        if value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            let begin = format!("BEGIN; SELECT set_config('{name}', '{value}', true)");
            return pool.begin_with(sqlx::AssertSqlSafe(begin)).await;
        }
        let mut tx = pool.begin().await?;
        sqlx::query("SELECT set_config($1, $2, true)")
            .bind(name)
            .bind(value)
            .execute(&mut *tx)
            .await?;
        return Ok(tx);
    }
    pool.begin().await
}
