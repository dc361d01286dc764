//! Scoped transactions: every query of a service runs in a transaction
//! opened for a [`Scope`], one tenant or one of the service's named paths
//! that cross tenants by design (its own `CrossTenant` enum).
//!
//! On Postgres the scope becomes a transaction-local setting
//! (`set_config(…, true)`) that the services' row-level security policies
//! check: `app.tenant_id` for one tenant's rows, or `app.all_tenants = 'on'`
//! for a cross-tenant path. RLS is a second wall behind the
//! `WHERE tenant_id = …` that every tenant query also carries; it binds
//! only a role that is neither superuser nor `BYPASSRLS` (the tables are
//! `FORCE`d, so their owner too; see [`crate::roles`]). A query that
//! forgets its scope sees no row under RLS, and cannot be written: a
//! [`ScopedPool`]'s pool is private, so store code has no executor but a
//! scoped transaction.

use std::fmt::Debug;

use sqlx::migrate::{MigrateError, Migrator};
use sqlx::{Any, AnyPool, Executor, Transaction};

use crate::Dialect;

/// Whose rows a transaction may see and write: one tenant (`T`, the
/// service's tenant id), or a named cross-tenant path (`P`).
#[derive(Debug)]
pub enum Scope<'a, T, P> {
    Tenant(&'a T),
    AllTenants(P),
}

// By hand: a derive would ask `T: Copy`, where only the reference is copied.
impl<T, P: Copy> Clone for Scope<'_, T, P> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T, P: Copy> Copy for Scope<'_, T, P> {}

/// A tenant id as the scope's setting carries it.
pub trait TenantKey {
    fn key(&self) -> &str;
}

/// (open, idle, max) connections of a pool.
pub type PoolStats = (u32, usize, u32);

/// A connection pool that hands out scoped transactions only.
#[derive(Clone)]
pub struct ScopedPool {
    pool: AnyPool,
    dialect: Dialect,
    /// The service's name, in the privileged-role refusal.
    service: &'static str,
}

impl ScopedPool {
    pub fn new(pool: AnyPool, dialect: Dialect, service: &'static str) -> Self {
        Self {
            pool,
            dialect,
            service,
        }
    }

    /// A transaction bound to `scope`. With `tenant_lock`, a tenant
    /// scope's transaction on Postgres also takes the advisory lock
    /// `(tenant_lock, hashtext(tenant))` until it ends: the tenant's other
    /// writers that take it wait, writers of other tenants never do (a hash
    /// collision only makes two tenants share a lock).
    pub async fn begin<T: TenantKey, P: Debug>(
        &self,
        scope: &Scope<'_, T, P>,
        tenant_lock: Option<i32>,
    ) -> Result<Transaction<'static, Any>, sqlx::Error> {
        if let Scope::AllTenants(path) = scope {
            tracing::trace!(?path, "cross-tenant transaction");
        }
        if self.dialect != Dialect::Postgres {
            return self.pool.begin().await;
        }
        let (name, value) = match scope {
            Scope::Tenant(t) => ("app.tenant_id", t.key()),
            Scope::AllTenants(_) => ("app.all_tenants", "on"),
        };
        let lock = match (scope, tenant_lock) {
            (Scope::Tenant(_), Some(key)) => Some(key),
            _ => None,
        };
        // One round trip (every request opens one of these): the setting,
        // and a writer's lock, travel in the BEGIN batch. Inlining is safe
        // for the values a tenant id allows ([a-z0-9-]); anything else is
        // bound.
        if value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            let lock = lock.map_or_else(String::new, |key| {
                format!("; SELECT pg_advisory_xact_lock({key}, hashtext('{value}'))")
            });
            let begin = format!("BEGIN; SELECT set_config('{name}', '{value}', true){lock}");
            return self.pool.begin_with(sqlx::AssertSqlSafe(begin)).await;
        }
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT set_config($1, $2, true)")
            .bind(name)
            .bind(value)
            .execute(&mut *tx)
            .await?;
        if let Some(key) = lock {
            sqlx::query("SELECT pg_advisory_xact_lock($1, hashtext($2))")
                .bind(key)
                .bind(value)
                .execute(&mut *tx)
                .await?;
        }
        Ok(tx)
    }

    /// Applies migrations (DDL, which row-level security does not govern)
    /// on a connection without the pool's timeouts, which an index build
    /// over a large table outlasts; the connection is closed afterwards.
    pub async fn migrate(&self, migrator: &Migrator) -> Result<(), MigrateError> {
        if self.dialect != Dialect::Postgres {
            return migrator.run(&self.pool).await;
        }
        let mut conn = self.pool.acquire().await?;
        (&mut *conn)
            .execute(sqlx::AssertSqlSafe(crate::timeouts::session_sql(0, 0)))
            .await?;
        let result = migrator.run(&mut *conn).await;
        conn.close().await?;
        result
    }

    /// True when the database answers.
    pub async fn ping(&self) -> bool {
        self.pool.execute("SELECT 1").await.is_ok()
    }

    /// Refuses a role that row-level security does not bind, unless
    /// `allow` (Postgres only; see [`crate::roles`]).
    pub async fn check_role(&self, allow: bool) -> Result<(), crate::roles::RoleProblem> {
        if self.dialect != Dialect::Postgres {
            return Ok(());
        }
        let mut conn = self
            .pool
            .acquire()
            .await
            .map_err(crate::roles::RoleProblem::Unchecked)?;
        crate::roles::enforce_unprivileged(&mut conn, self.service, allow).await
    }

    /// Open connections, idle ones and the maximum (for metrics).
    pub fn stats(&self) -> PoolStats {
        (
            self.pool.size(),
            self.pool.num_idle(),
            self.pool.options().get_max_connections(),
        )
    }

    /// Closes the pool (waits for connections in use to come back).
    pub async fn close(&self) {
        self.pool.close().await;
    }
}
