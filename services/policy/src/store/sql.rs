//! The SQL store: connection, migrations, the write transaction, row
//! decoding, and the [`Store`] implementation that delegates to the
//! statement modules (`admin.rs`, `follow.rs`, `read.rs`, `compute.rs`).

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{Any, AnyPool, Executor, Row, Transaction};

use super::scope::{Pools, Scope};
use super::{Applied, Explanation, Lease, Round, Store};
use crate::domain::{
    EffectiveRecord, Hypothesis, RoleChangeRecord, RoleDiff, RoleName, RoleRecord, SnapshotUser,
    StreamChange, TenantId,
};
use crate::error::PolicyError;
use crate::role::{Candidate, Reason, Rule};

static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");
static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// Ids bound per statement when a list of ids is bound.
pub(super) const CHUNK: usize = 500;

pub use storekit::Dialect;

/// How to reach the database.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// `postgres://…` or `sqlite:path/to/file.db` (created when missing).
    pub url: String,
    /// Connections in the pool (readers, for SQLite).
    pub max_connections: u32,
    /// Postgres `statement_timeout` of every connection, in ms (0: none).
    pub statement_timeout_ms: u64,
    /// Postgres `lock_timeout` of every connection, in ms (0: none): it
    /// also bounds the wait for a tenant's write lock (`scope.rs`). SQLite
    /// has its `busy_timeout` (5 s, [`sqlite_pool`]) instead.
    pub lock_timeout_ms: u64,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            url: "sqlite:data/policy.db".into(),
            max_connections: 10,
            statement_timeout_ms: storekit::timeouts::DEFAULT_STATEMENT_TIMEOUT_MS,
            lock_timeout_ms: storekit::timeouts::DEFAULT_LOCK_TIMEOUT_MS,
        }
    }
}

/// Postgres or SQLite behind the same statements.
#[derive(Clone)]
pub struct SqlStore {
    pub(super) dialect: Dialect,
    /// Scoped transactions: the only way to the database.
    pools: Pools,
    signal: Arc<tokio::sync::watch::Sender<u64>>,
}

impl SqlStore {
    /// Sets the `db_pool_*` gauges: `policy` (reads; on Postgres also
    /// writes) and, on SQLite, `policy_write`.
    pub fn record_pool_metrics(&self) {
        let ((open, idle, max), writer) = self.pools.stats();
        telemetry::metrics::record_pool("policy", open, idle, max);
        if let Some((open, idle, max)) = writer {
            telemetry::metrics::record_pool("policy_write", open, idle, max);
        }
    }

    /// Opens the pools (the SQLite file is created when missing).
    pub async fn connect(options: &StoreOptions) -> Result<Self, PolicyError> {
        sqlx::any::install_default_drivers();
        let dialect = Dialect::from_url(&options.url).ok_or_else(|| {
            PolicyError::InvalidArgument("DATABASE_URL must be postgres:// or sqlite:".into())
        })?;
        let (read, write) = match dialect {
            Dialect::Postgres => {
                storekit::timeouts::set_statement_timeout_ms(options.statement_timeout_ms);
                // See storekit::timeouts for why after_connect and not the URL.
                let settings = storekit::timeouts::session_sql(
                    options.statement_timeout_ms,
                    options.lock_timeout_ms,
                );
                let pool = AnyPoolOptions::new()
                    .max_connections(options.max_connections.max(1))
                    .after_connect(move |conn, _| {
                        let settings = settings.clone();
                        Box::pin(async move {
                            conn.execute(sqlx::AssertSqlSafe(settings)).await?;
                            Ok(())
                        })
                    })
                    .connect(&options.url)
                    .await?;
                (pool.clone(), pool)
            }
            Dialect::Sqlite => {
                let url = if options.url.contains('?') {
                    options.url.clone()
                } else {
                    format!("{}?mode=rwc", options.url)
                };
                // WAL is set by the writer first, readers then share it.
                let write = sqlite_pool(&url, 1).await?;
                let read = sqlite_pool(&url, options.max_connections.max(1)).await?;
                (read, write)
            }
        };
        let (signal, _) = tokio::sync::watch::channel(0);
        Ok(Self {
            dialect,
            pools: Pools::new(read, write, dialect),
            signal: Arc::new(signal),
        })
    }

    /// Applies this backend's migrations.
    pub async fn migrate(&self) -> Result<(), sqlx::migrate::MigrateError> {
        match self.dialect {
            Dialect::Postgres => self.pools.migrate(&POSTGRES_MIGRATIONS).await,
            Dialect::Sqlite => self.pools.migrate(&SQLITE_MIGRATIONS).await,
        }
    }

    /// True when the database answers.
    pub async fn ping(&self) -> bool {
        self.pools.ping().await
    }

    /// On Postgres, refuses to serve as a superuser, a `BYPASSRLS` role or
    /// the tables' owner (row-level security binds none of them) unless
    /// `allow_privileged`; SQLite has no roles.
    pub async fn check_role(
        &self,
        allow_privileged: bool,
    ) -> Result<(), storekit::roles::RoleProblem> {
        self.pools.check_role(allow_privileged).await
    }

    /// The backend.
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// `db.system` of the storage spans.
    fn db_system(&self) -> &'static str {
        match self.dialect {
            Dialect::Postgres => "postgresql",
            Dialect::Sqlite => "sqlite",
        }
    }

    /// Closes both pools (waits for connections in use to come back).
    pub async fn close(&self) {
        self.pools.close().await;
    }

    /// A write transaction bound to `scope`, serialised with every other writer.
    pub(super) async fn begin_write(
        &self,
        scope: Scope<'_>,
    ) -> Result<Transaction<'static, Any>, sqlx::Error> {
        self.pools.write(scope).await
    }

    /// A write transaction bound to `scope` without the tenant's write
    /// lock (pruning only).
    pub(super) async fn begin_prune(
        &self,
        scope: Scope<'_>,
    ) -> Result<Transaction<'static, Any>, sqlx::Error> {
        self.pools.write_unlocked(scope).await
    }

    /// A read transaction bound to `scope` (dropped, it rolls back: reads
    /// need no commit).
    pub(super) async fn begin_read(
        &self,
        scope: Scope<'_>,
    ) -> Result<Transaction<'static, Any>, sqlx::Error> {
        self.pools.read(scope).await
    }

    /// Commits and wakes the watchers.
    pub(super) async fn commit(&self, tx: Transaction<'static, Any>) -> Result<(), sqlx::Error> {
        tx.commit().await?;
        self.signal.send_modify(|n| *n = n.wrapping_add(1));
        Ok(())
    }
}

/// A SQLite pool; `busy_timeout` is SQLite's lock timeout (a writer waits
/// up to 5 s for another process's write to finish, then `SQLITE_BUSY`).
async fn sqlite_pool(url: &str, max: u32) -> Result<AnyPool, sqlx::Error> {
    AnyPoolOptions::new()
        .max_connections(max)
        .after_connect(|conn, _| {
            Box::pin(async move {
                conn.execute(
                    // WAL with NORMAL: durable against a process crash, not
                    // against power loss (the last commits may be lost; the
                    // file stays consistent). docs/sre.md states it.
                    "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                     PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000;",
                )
                .await?;
                Ok(())
            })
        })
        .connect(url)
        .await
}

// === Row decoding ===

/// A boolean column: Postgres BOOLEAN, SQLite INTEGER 0/1 through `Any`.
pub(super) fn flag(row: &AnyRow, column: &str) -> Result<bool, sqlx::Error> {
    match row.try_get::<bool, _>(column) {
        Ok(b) => Ok(b),
        Err(_) => Ok(row.try_get::<i64, _>(column)? != 0),
    }
}

/// A priority, stored as BIGINT and written only from an `i32`.
pub(super) fn priority(row: &AnyRow, column: &str) -> Result<i32, sqlx::Error> {
    let wide: i64 = row.try_get(column)?;
    i32::try_from(wide).map_err(|e| sqlx::Error::Decode(Box::new(e)))
}

/// The backend of an open connection.
pub(super) fn dialect_of(conn: &sqlx::AnyConnection) -> Dialect {
    if conn.backend_name().eq_ignore_ascii_case("sqlite") {
        Dialect::Sqlite
    } else {
        Dialect::Postgres
    }
}

/// `column` is one of the strings of the JSON array bound as `param` (see
/// [`ids_json`]): a list of any length is one statement with one
/// parameter. On Postgres the list becomes an array searched through the
/// column's index (`= ANY`), as a bound array would be.
pub(super) fn in_json_ids(dialect: Dialect, column: &str, param: &str) -> String {
    match dialect {
        Dialect::Postgres => {
            format!("{column} = ANY (ARRAY(SELECT jsonb_array_elements_text({param}::jsonb)))")
        }
        Dialect::Sqlite => format!("{column} IN (SELECT value FROM json_each({param}))"),
    }
}

/// `ids` as the JSON array [`in_json_ids`] reads.
pub(super) fn ids_json<S: AsRef<str>>(ids: &[S]) -> String {
    serde_json::Value::Array(
        ids.iter()
            .map(|id| serde_json::Value::String(id.as_ref().to_owned()))
            .collect(),
    )
    .to_string()
}

/// `$first, $first+1, …` for `n` parameters.
pub(super) fn placeholders(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The reason columns `rule`, `group_id`, `priority`.
pub(super) fn reason_from_row(row: &AnyRow) -> Result<Reason, sqlx::Error> {
    let code: String = row.try_get("rule")?;
    let rule = Rule::from_code(&code)
        .ok_or_else(|| sqlx::Error::Decode(format!("unknown rule '{code}'").into()))?;
    Ok(Reason {
        rule,
        group_id: row.try_get("group_id")?,
        priority: priority(row, "priority")?,
    })
}

/// Columns of `effective_roles` that [`effective_from_row`] reads.
pub(super) const EFFECTIVE_COLUMNS: &str =
    "tenant_id, user_id, role, rule, group_id, priority, locked, upstream_disabled, since";

pub(super) fn effective_from_row(row: &AnyRow) -> Result<EffectiveRecord, sqlx::Error> {
    Ok(EffectiveRecord {
        tenant_id: row.try_get("tenant_id")?,
        user_id: row.try_get("user_id")?,
        role: row.try_get("role")?,
        reason: reason_from_row(row)?,
        locked: flag(row, "locked")?,
        upstream_disabled: flag(row, "upstream_disabled")?,
        since: row.try_get("since")?,
    })
}

/// Columns of `role_changes` that [`change_from_row`] reads.
pub(super) const CHANGE_COLUMNS: &str =
    "seq, tenant_id, user_id, from_role, to_role, rule, group_id, priority, at";

pub(super) fn change_from_row(row: &AnyRow) -> Result<RoleChangeRecord, sqlx::Error> {
    Ok(RoleChangeRecord {
        seq: row.try_get("seq")?,
        tenant_id: row.try_get("tenant_id")?,
        user_id: row.try_get("user_id")?,
        from_role: row.try_get("from_role")?,
        to_role: row.try_get("to_role")?,
        reason: reason_from_row(row)?,
        at: row.try_get("at")?,
    })
}

// === impl Store ===

// Each method is a `db.*` span (no SQL parameter values in it). Not the
// polled ones (`cursors`, the lease round, `role_changes_after` by
// every `WatchRoleChanges` stream): each poll would start a trace.
#[async_trait]
impl Store for SqlStore {
    async fn cursors(&self) -> Result<HashMap<String, i64>, PolicyError> {
        Ok(self.cursors_query().await?)
    }

    #[tracing::instrument(name = "db.apply_changes", skip_all, fields(
        otel.kind = "client", db.system = self.db_system(),
        db.operation = "apply_changes",
    ))]
    async fn apply_changes(
        &self,
        tenant: &TenantId,
        from: i64,
        changes: &[StreamChange],
        lease: Option<&Lease>,
    ) -> Result<Applied, PolicyError> {
        Ok(self.apply_changes_tx(tenant, from, changes, lease).await?)
    }

    async fn lease_round(&self, replica: &str, round: Round) -> Result<Vec<u32>, PolicyError> {
        Ok(self.lease_round_tx(replica, round).await?)
    }

    async fn release_leases(&self, replica: &str) -> Result<(), PolicyError> {
        Ok(self.release_leases_tx(replica).await?)
    }

    async fn leases(&self) -> Result<Vec<(u32, String, i64)>, PolicyError> {
        Ok(self.leases_query().await?)
    }

    #[tracing::instrument(name = "db.reconcile", skip_all, fields(
        otel.kind = "client", db.system = self.db_system(),
        db.operation = "reconcile", tenant_id = %tenant,
    ))]
    async fn reconcile(
        &self,
        tenant: &TenantId,
        users: &[SnapshotUser],
        as_of_seq: i64,
    ) -> Result<(u32, u32), PolicyError> {
        Ok(self.reconcile_tx(tenant, users, as_of_seq).await?)
    }

    #[tracing::instrument(name = "db.resync", skip_all, fields(
        otel.kind = "client", db.system = self.db_system(),
        db.operation = "resync", tenant_id = %tenant,
    ))]
    async fn resync(
        &self,
        tenant: &TenantId,
        users: &[SnapshotUser],
        as_of_seq: i64,
        from: i64,
        lease: &Lease,
    ) -> Result<Applied, PolicyError> {
        Ok(self
            .resync_tx(tenant, users, as_of_seq, from, lease)
            .await?)
    }

    async fn pruned_tenants(&self) -> Result<Vec<String>, PolicyError> {
        Ok(self.pruned_tenants_query().await?)
    }

    #[tracing::instrument(name = "db.prune", skip_all, fields(
        otel.kind = "client", db.system = self.db_system(),
        db.operation = "prune", tenant_id = %tenant, table = ?table,
    ))]
    async fn prune(
        &self,
        tenant: &TenantId,
        table: super::Pruned,
        rule: &storekit::retention::Rule,
        now: i64,
    ) -> Result<u64, PolicyError> {
        Ok(self.prune_query(tenant, table, rule, now).await?)
    }

    #[tracing::instrument(name = "db.create_role", skip_all, fields(
        otel.kind = "client", db.system = self.db_system(),
        db.operation = "create_role", tenant_id = %tenant,
    ))]
    async fn create_role(
        &self,
        tenant: &TenantId,
        name: &RoleName,
        description: &str,
    ) -> Result<RoleRecord, PolicyError> {
        self.create_role_tx(tenant, name, description).await
    }

    #[tracing::instrument(name = "db.list_roles", skip_all, fields(
        otel.kind = "client", db.system = self.db_system(),
        db.operation = "list_roles", tenant_id = %tenant,
    ))]
    async fn list_roles(&self, tenant: &TenantId) -> Result<Vec<RoleRecord>, PolicyError> {
        Ok(self.list_roles_query(tenant).await?)
    }

    #[tracing::instrument(name = "db.delete_role", skip_all, fields(
        otel.kind = "client", db.system = self.db_system(),
        db.operation = "delete_role", tenant_id = %tenant,
    ))]
    async fn delete_role(&self, tenant: &TenantId, name: &RoleName) -> Result<(), PolicyError> {
        self.delete_role_tx(tenant, name).await
    }

    #[tracing::instrument(name = "db.set_assignment", skip_all, fields(
        otel.kind = "client", db.system = self.db_system(),
        db.operation = "set_assignment", tenant_id = %tenant,
    ))]
    async fn set_assignment(
        &self,
        tenant: &TenantId,
        assignment: &Candidate,
    ) -> Result<u32, PolicyError> {
        self.set_assignment_tx(tenant, assignment).await
    }

    #[tracing::instrument(name = "db.remove_assignment", skip_all, fields(
        otel.kind = "client", db.system = self.db_system(),
        db.operation = "remove_assignment", tenant_id = %tenant,
    ))]
    async fn remove_assignment(
        &self,
        tenant: &TenantId,
        group_id: &str,
    ) -> Result<u32, PolicyError> {
        self.remove_assignment_tx(tenant, group_id).await
    }

    #[tracing::instrument(name = "db.list_assignments", skip_all, fields(
        otel.kind = "client", db.system = self.db_system(),
        db.operation = "list_assignments", tenant_id = %tenant,
    ))]
    async fn list_assignments(&self, tenant: &TenantId) -> Result<Vec<Candidate>, PolicyError> {
        Ok(self.list_assignments_query(tenant).await?)
    }

    #[tracing::instrument(name = "db.set_default_role", skip_all, fields(
        otel.kind = "client", db.system = self.db_system(),
        db.operation = "set_default_role", tenant_id = %tenant,
    ))]
    async fn set_default_role(
        &self,
        tenant: &TenantId,
        role: Option<&RoleName>,
    ) -> Result<u32, PolicyError> {
        self.set_default_role_tx(tenant, role).await
    }

    #[tracing::instrument(name = "db.default_role", skip_all, fields(
        otel.kind = "client", db.system = self.db_system(),
        db.operation = "default_role", tenant_id = %tenant,
    ))]
    async fn default_role(&self, tenant: &TenantId) -> Result<Option<String>, PolicyError> {
        let mut tx = self.begin_read(Scope::Tenant(tenant)).await?;
        Ok(super::compute::default_role(&mut tx, tenant).await?)
    }

    #[tracing::instrument(name = "db.lock_user", skip_all, fields(
        otel.kind = "client", db.system = self.db_system(),
        db.operation = "lock_user", tenant_id = %tenant,
    ))]
    async fn lock_user(
        &self,
        tenant: &TenantId,
        user_id: &str,
        note: &str,
    ) -> Result<EffectiveRecord, PolicyError> {
        self.lock_user_tx(tenant, user_id, note).await
    }

    #[tracing::instrument(name = "db.unlock_user", skip_all, fields(
        otel.kind = "client", db.system = self.db_system(),
        db.operation = "unlock_user", tenant_id = %tenant,
    ))]
    async fn unlock_user(
        &self,
        tenant: &TenantId,
        user_id: &str,
    ) -> Result<EffectiveRecord, PolicyError> {
        self.unlock_user_tx(tenant, user_id).await
    }

    #[tracing::instrument(name = "db.effective_role", skip_all, fields(
        otel.kind = "client", db.system = self.db_system(),
        db.operation = "effective_role", tenant_id = %tenant,
    ))]
    async fn effective_role(
        &self,
        tenant: &TenantId,
        user_id: &str,
    ) -> Result<Option<EffectiveRecord>, PolicyError> {
        let mut tx = self.begin_read(Scope::Tenant(tenant)).await?;
        Ok(super::compute::effective_one(&mut tx, tenant, user_id).await?)
    }

    #[tracing::instrument(name = "db.users_by_role", skip_all, fields(
        otel.kind = "client", db.system = self.db_system(),
        db.operation = "users_by_role", tenant_id = %tenant,
    ))]
    async fn users_by_role(
        &self,
        tenant: &TenantId,
        role: &str,
        after: &str,
        limit: u32,
    ) -> Result<Vec<EffectiveRecord>, PolicyError> {
        Ok(self.users_by_role_query(tenant, role, after, limit).await?)
    }

    #[tracing::instrument(name = "db.explain", skip_all, fields(
        otel.kind = "client", db.system = self.db_system(),
        db.operation = "explain", tenant_id = %tenant,
    ))]
    async fn explain(
        &self,
        tenant: &TenantId,
        user_id: &str,
    ) -> Result<Option<Explanation>, PolicyError> {
        Ok(self.explain_query(tenant, user_id).await?)
    }

    #[tracing::instrument(name = "db.dry_run", skip_all, fields(
        otel.kind = "client", db.system = self.db_system(),
        db.operation = "dry_run", tenant_id = %tenant,
    ))]
    async fn dry_run(
        &self,
        tenant: &TenantId,
        change: &Hypothesis,
    ) -> Result<Vec<RoleDiff>, PolicyError> {
        Ok(self.dry_run_query(tenant, change).await?)
    }

    #[tracing::instrument(name = "db.history", skip_all, fields(
        otel.kind = "client", db.system = self.db_system(),
        db.operation = "history", tenant_id = %tenant,
    ))]
    async fn history(
        &self,
        tenant: &TenantId,
        user_id: &str,
        limit: u32,
    ) -> Result<Vec<RoleChangeRecord>, PolicyError> {
        Ok(self.history_query(tenant, user_id, limit).await?)
    }

    async fn role_changes_after(
        &self,
        tenant: &TenantId,
        after_seq: i64,
        limit: u32,
    ) -> Result<Vec<RoleChangeRecord>, PolicyError> {
        Ok(self
            .role_changes_after_query(tenant, after_seq, limit)
            .await?)
    }

    async fn role_heads(&self) -> Result<Vec<(String, i64)>, PolicyError> {
        Ok(self.role_heads_query().await?)
    }

    fn change_signal(&self) -> tokio::sync::watch::Receiver<u64> {
        self.signal.subscribe()
    }
}
