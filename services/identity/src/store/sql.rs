//! The SQL store: connection, migrations, tenants and tokens. Users live in
//! `users.rs`, groups in `groups.rs`, the outbox in `changes.rs` and
//! `snapshot.rs`, filter compilation in `filter_sql.rs`.

use async_trait::async_trait;
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Executor, Row};

use super::filter_sql::Dialect;
use super::paging::Continuations;
use super::scope::{CrossTenant, Scope};
use std::collections::HashMap;
use std::sync::Arc;
use storekit::scope::ScopedPool;

use super::{
    ChangeRecord, GroupChange, GroupRecord, HealthCounts, ListQuery, NewToken, Page,
    RequestLogQuery, RequestLogRecord, SnapshotUser, Store, TenantLimits, TenantRecord,
    TenantSchemaRecord, TokenOwner, TokenRecord, UserChange, UserRecord,
};
use crate::domain::{
    GroupColumns, Micros, NewMember, ResourceId, TenantId, UserColumns, now_micros,
};
use crate::error::IdentityError;

static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");
static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// Last-used times are written at most this often per token, so that
/// authentication under load does not turn every request into a write.
const LAST_USED_RESOLUTION: Micros = 60_000_000;

/// How to reach the database.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// `postgres://…` or `sqlite:path/to/file.db` (created when missing).
    pub url: String,
    /// Connections in the pool (readers, for SQLite).
    pub max_connections: u32,
    /// Postgres `statement_timeout` of every connection, in ms (0: none):
    /// no statement of one tenant holds a connection, or the locks it
    /// took, longer than this.
    pub statement_timeout_ms: u64,
    /// Postgres `lock_timeout` of every connection, in ms (0: none): a
    /// write waiting for a row another transaction holds gives up after
    /// this. SQLite has its `busy_timeout` (5 s, [`sqlite_pool`]) instead.
    pub lock_timeout_ms: u64,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            url: "sqlite:data/identity.db".into(),
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
    /// Reads. On Postgres the same pool as `write`. Queries run in
    /// [`SqlStore::read_tx`], with a tenant or a named cross-tenant path.
    read: ScopedPool,
    /// Writes, in [`SqlStore::write_tx`]. On SQLite a single connection:
    /// SQLite has one writer, and queueing here is cheaper than
    /// `SQLITE_BUSY` retries.
    write: ScopedPool,
    /// Bumped after each committed write, to wake `Watch` streams.
    signal: Arc<tokio::sync::watch::Sender<u64>>,
    /// Where index walks continue (`paging.rs`).
    pub(super) continuations: Continuations,
    /// Members a list page with members carries at most (`groups.rs`).
    pub(super) list_member_cap: u64,
    /// The per-tenant quotas creates are checked against.
    pub(super) quotas: crate::quota::Quotas,
}

impl SqlStore {
    /// Sets the `db_pool_*` gauges: `identity` (reads; on Postgres also
    /// writes) and, on SQLite, `identity_write`.
    pub fn record_pool_metrics(&self) {
        let (open, idle, max) = self.read.stats();
        telemetry::metrics::record_pool("identity", open, idle, max);
        if self.dialect == Dialect::Sqlite {
            let (open, idle, max) = self.write.stats();
            telemetry::metrics::record_pool("identity_write", open, idle, max);
        }
    }

    pub async fn connect(options: &StoreOptions) -> Result<Self, IdentityError> {
        sqlx::any::install_default_drivers();
        let dialect = Dialect::from_url(&options.url).ok_or_else(|| {
            IdentityError::InvalidArgument("DATABASE_URL must be postgres:// or sqlite:".into())
        })?;
        match dialect {
            Dialect::Postgres => {
                storekit::timeouts::set_statement_timeout_ms(options.statement_timeout_ms);
                // See storekit::timeouts for why after_connect and not the URL.
                let settings = storekit::timeouts::session_sql(
                    options.statement_timeout_ms,
                    options.lock_timeout_ms,
                );
                let pool = AnyPoolOptions::new()
                    .max_connections(options.max_connections)
                    .after_connect(move |conn, _| {
                        let settings = settings.clone();
                        Box::pin(async move {
                            conn.execute(sqlx::AssertSqlSafe(settings)).await?;
                            Ok(())
                        })
                    })
                    .connect(&options.url)
                    .await?;
                Ok(Self::new(dialect, pool.clone(), pool))
            }
            Dialect::Sqlite => {
                let url = sqlite_url(&options.url);
                let write = sqlite_pool(&url, 1).await?;
                // WAL is set by the writer first, readers then share it.
                let read = sqlite_pool(&url, options.max_connections.max(1)).await?;
                Ok(Self::new(dialect, read, write))
            }
        }
    }

    fn new(dialect: Dialect, read: AnyPool, write: AnyPool) -> Self {
        let (signal, _) = tokio::sync::watch::channel(0);
        Self {
            dialect,
            read: ScopedPool::new(read, dialect, "identity"),
            write: ScopedPool::new(write, dialect, "identity"),
            signal: Arc::new(signal),
            continuations: Continuations::default(),
            list_member_cap: super::groups::LIST_MEMBER_CAP,
            quotas: crate::quota::Quotas::default(),
        }
    }

    /// Checks creates against `quotas` (the default: [`crate::quota::Quotas::default`]).
    pub fn with_quotas(mut self, quotas: crate::quota::Quotas) -> Self {
        self.quotas = quotas;
        self
    }

    /// Refuses the write in `conn`'s transaction when it took the tenant's
    /// live count of `what` past its quota. The count row was written by
    /// this transaction's own insert (migration 0013's triggers), so its
    /// lock is held already and the figure includes the new row: two
    /// creates racing for the last place cannot both pass.
    pub(super) async fn check_quota(
        &self,
        conn: &mut sqlx::AnyConnection,
        tenant: &TenantId,
        what: crate::quota::Counted,
    ) -> Result<(), IdentityError> {
        if self.quotas.limit(what) == 0 {
            return Ok(());
        }
        let live: Option<i64> = sqlx::query_scalar(super::paging::LIVE_COUNT)
            .bind(tenant.as_str())
            .bind(what.kind())
            .fetch_optional(conn)
            .await?;
        self.quotas.check(what, live.unwrap_or(0))
    }

    /// Passes `result` through, waking watchers when it is a committed write.
    fn wrote<T>(&self, result: Result<T, IdentityError>) -> Result<T, IdentityError> {
        if result.is_ok() {
            self.signal.send_modify(|n| *n = n.wrapping_add(1));
        }
        result
    }

    /// Applies this backend's migrations.
    pub async fn migrate(&self) -> Result<(), sqlx::migrate::MigrateError> {
        match self.dialect {
            Dialect::Postgres => self.write.migrate(&POSTGRES_MIGRATIONS).await,
            Dialect::Sqlite => self.write.migrate(&SQLITE_MIGRATIONS).await,
        }
    }

    /// True when the database answers.
    pub async fn ping(&self) -> bool {
        self.read.ping().await
    }

    /// On Postgres, refuses to serve as a superuser, a `BYPASSRLS` role or
    /// the tables' owner (row-level security binds none of them) unless
    /// `allow_privileged`; SQLite has no roles.
    pub async fn check_role(
        &self,
        allow_privileged: bool,
    ) -> Result<(), storekit::roles::RoleProblem> {
        self.write.check_role(allow_privileged).await
    }

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

    /// A read transaction bound to `scope` (see [`scope`]).
    pub(super) async fn read_tx(
        &self,
        scope: Scope<'_>,
    ) -> Result<sqlx::Transaction<'static, sqlx::Any>, sqlx::Error> {
        self.read.begin(&scope, None).await
    }

    /// A write transaction bound to `scope` (see [`scope`]).
    pub(super) async fn write_tx(
        &self,
        scope: Scope<'_>,
    ) -> Result<sqlx::Transaction<'static, sqlx::Any>, sqlx::Error> {
        self.write.begin(&scope, None).await
    }
}

fn sqlite_url(url: &str) -> String {
    if url.contains('?') {
        url.to_owned()
    } else {
        format!("{url}?mode=rwc")
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

/// Maps a unique-constraint violation (SQLSTATE 23505, SQLite 2067/1555) to `taken`.
pub(super) fn unique_violation(e: sqlx::Error, taken: IdentityError) -> IdentityError {
    match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => taken,
        _ => IdentityError::Storage(e),
    }
}

/// Maps a foreign-key violation (the tenant does not exist) to NotFound.
pub(super) fn missing_tenant(e: IdentityError) -> IdentityError {
    match &e {
        IdentityError::Storage(sqlx::Error::Database(db)) if db.is_foreign_key_violation() => {
            IdentityError::NotFound("tenant")
        }
        _ => e,
    }
}

fn tenant_from_row(row: &AnyRow) -> Result<TenantRecord, sqlx::Error> {
    Ok(TenantRecord {
        id: row.try_get("id")?,
        display_name: row.try_get("display_name")?,
        created: row.try_get("created")?,
    })
}

fn token_from_row(row: &AnyRow) -> Result<TokenRecord, sqlx::Error> {
    Ok(TokenRecord {
        id: row.try_get("id")?,
        tenant_id: row.try_get("tenant_id")?,
        description: row.try_get("description")?,
        hint: row.try_get("hint")?,
        created: row.try_get("created")?,
        last_used: row.try_get("last_used")?,
        revoked: row.try_get("revoked")?,
        expires: row.try_get("expires")?,
    })
}

/// A live token and its tenant's limits by the secret's hash (`$1`; `$2`
/// now), before the tenant is known.
pub(super) const AUTHENTICATE: &str = "SELECT k.id, k.tenant_id, k.last_used, t.rate_per_second, t.burst, t.idp_profile \
     FROM tokens k JOIN tenants t ON t.id = k.tenant_id \
     WHERE k.hash = $1 AND k.revoked IS NULL AND (k.expires IS NULL OR k.expires > $2)";

const TOKEN_COLUMNS: &str =
    "id, tenant_id, description, hint, created, last_used, revoked, expires";

// Each method is a `db.*` span (no SQL parameter values in it). Not
// `changes_after` and `stream_heads`: every `Watch` stream polls them, and those polls would each
// start a trace of their own.
#[async_trait]
impl Store for SqlStore {
    #[tracing::instrument(name = "db.create_tenant", skip_all, fields(
        otel.kind = "client", db.system = self.db_system(),
        db.operation = "create_tenant", tenant_id = %id,
    ))]
    async fn create_tenant(
        &self,
        id: &TenantId,
        display_name: &str,
    ) -> Result<TenantRecord, IdentityError> {
        let record = TenantRecord {
            id: id.as_str().to_owned(),
            display_name: display_name.to_owned(),
            created: now_micros(),
        };
        let mut tx = self.write_tx(Scope::Tenant(id)).await?;
        sqlx::query("INSERT INTO tenants (id, display_name, created) VALUES ($1, $2, $3)")
            .bind(&record.id)
            .bind(&record.display_name)
            .bind(record.created)
            .execute(&mut *tx)
            .await
            .map_err(|e| unique_violation(e, IdentityError::TenantExists))?;
        tx.commit().await?;
        Ok(record)
    }

    #[tracing::instrument(name = "db.get_tenant", skip_all, fields(
        otel.kind = "client", db.system = self.db_system(),
        db.operation = "get_tenant", tenant_id = %id,
    ))]
    async fn get_tenant(&self, id: &TenantId) -> Result<Option<TenantRecord>, IdentityError> {
        let mut tx = self.read_tx(Scope::Tenant(id)).await?;
        let row = sqlx::query("SELECT id, display_name, created FROM tenants WHERE id = $1")
            .bind(id.as_str())
            .fetch_optional(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(row.as_ref().map(tenant_from_row).transpose()?)
    }

    #[tracing::instrument(name = "db.list_tenants", skip_all, fields(
        otel.kind = "client", db.system = self.db_system(),
        db.operation = "list_tenants",
    ))]
    async fn list_tenants(&self) -> Result<Vec<TenantRecord>, IdentityError> {
        let mut tx = self
            .read_tx(Scope::AllTenants(CrossTenant::ListTenants))
            .await?;
        let rows = sqlx::query("SELECT id, display_name, created FROM tenants ORDER BY id")
            .fetch_all(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(rows.iter().map(tenant_from_row).collect::<Result<_, _>>()?)
    }

    #[tracing::instrument(name = "db.set_tenant_limits", skip_all, fields(
        otel.kind = "client", db.system = self.db_system(),
        db.operation = "set_tenant_limits", tenant_id = %id,
    ))]
    async fn set_tenant_limits(
        &self,
        id: &TenantId,
        limits: TenantLimits,
    ) -> Result<TenantLimits, IdentityError> {
        self.set_limits_query(id, limits).await
    }

    #[tracing::instrument(name = "db.get_tenant_limits", skip_all, fields(
        otel.kind = "client", db.system = self.db_system(),
        db.operation = "get_tenant_limits", tenant_id = %id,
    ))]
    async fn get_tenant_limits(
        &self,
        id: &TenantId,
    ) -> Result<Option<TenantLimits>, IdentityError> {
        self.get_limits_query(id).await
    }

    #[tracing::instrument(name = "db.set_tenant_profile", skip_all, fields(
        otel.kind = "client", db.system = self.db_system(),
        db.operation = "set_tenant_profile", tenant_id = %id,
    ))]
    async fn set_tenant_profile(
        &self,
        id: &TenantId,
        profile: scim::IdpProfile,
    ) -> Result<(), IdentityError> {
        self.set_profile_query(id, profile).await
    }

    #[tracing::instrument(name = "db.get_tenant_profile", skip_all, fields(
        otel.kind = "client", db.system = self.db_system(),
        db.operation = "get_tenant_profile", tenant_id = %id,
    ))]
    async fn get_tenant_profile(
        &self,
        id: &TenantId,
    ) -> Result<Option<scim::IdpProfile>, IdentityError> {
        self.get_profile_query(id).await
    }

    #[tracing::instrument(name = "db.put_tenant_schema", skip_all, fields(
        otel.kind = "client", db.system = self.db_system(),
        db.operation = "put_tenant_schema", tenant_id = %tenant,
    ))]
    async fn put_tenant_schema(
        &self,
        tenant: &TenantId,
        schema: &TenantSchemaRecord,
    ) -> Result<bool, IdentityError> {
        self.put_schema_query(tenant, schema).await
    }

    #[tracing::instrument(name = "db.list_tenant_schemas", skip_all, fields(
        otel.kind = "client", db.system = self.db_system(),
        db.operation = "list_tenant_schemas", tenant_id = %tenant,
    ))]
    async fn list_tenant_schemas(
        &self,
        tenant: &TenantId,
    ) -> Result<Vec<TenantSchemaRecord>, IdentityError> {
        self.list_schemas_query(tenant).await
    }

    #[tracing::instrument(name = "db.delete_tenant_schema", skip_all, fields(
        otel.kind = "client", db.system = self.db_system(),
        db.operation = "delete_tenant_schema", tenant_id = %tenant,
    ))]
    async fn delete_tenant_schema(
        &self,
        tenant: &TenantId,
        urn: &str,
    ) -> Result<(), IdentityError> {
        self.delete_schema_query(tenant, urn).await
    }

    #[tracing::instrument(name = "db.insert_token", skip_all, fields(
        otel.kind = "client", db.system = self.db_system(),
        db.operation = "insert_token", tenant_id = %tenant,
    ))]
    async fn insert_token(
        &self,
        tenant: &TenantId,
        token: &NewToken,
    ) -> Result<TokenRecord, IdentityError> {
        let record = TokenRecord {
            id: ResourceId::new().as_str().to_owned(),
            tenant_id: tenant.as_str().to_owned(),
            description: token.description.clone(),
            hint: token.hint.clone(),
            created: now_micros(),
            last_used: None,
            revoked: None,
            expires: token.expires,
        };
        let mut tx = self.write_tx(Scope::Tenant(tenant)).await?;
        sqlx::query(
            "INSERT INTO tokens (id, tenant_id, hash, hint, description, created, expires) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&record.id)
        .bind(&record.tenant_id)
        .bind(&token.hash)
        .bind(&record.hint)
        .bind(&record.description)
        .bind(record.created)
        .bind(record.expires)
        .execute(&mut *tx)
        .await
        .map_err(|e| {
            missing_tenant(unique_violation(
                e,
                IdentityError::InvalidArgument("this token secret is already in use".into()),
            ))
        })?;
        tx.commit().await?;
        Ok(record)
    }

    #[tracing::instrument(name = "db.list_tokens", skip_all, fields(
        otel.kind = "client", db.system = self.db_system(),
        db.operation = "list_tokens", tenant_id = %tenant,
    ))]
    async fn list_tokens(&self, tenant: &TenantId) -> Result<Vec<TokenRecord>, IdentityError> {
        let sql =
            format!("SELECT {TOKEN_COLUMNS} FROM tokens WHERE tenant_id = $1 ORDER BY created, id");
        let mut tx = self.read_tx(Scope::Tenant(tenant)).await?;
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(tenant.as_str())
            .fetch_all(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(rows.iter().map(token_from_row).collect::<Result<_, _>>()?)
    }

    #[tracing::instrument(name = "db.revoke_token", skip_all, fields(
        otel.kind = "client", db.system = self.db_system(),
        db.operation = "revoke_token", tenant_id = %tenant,
    ))]
    async fn revoke_token(
        &self,
        tenant: &TenantId,
        token_id: &str,
    ) -> Result<TokenRecord, IdentityError> {
        let mut tx = self.write_tx(Scope::Tenant(tenant)).await?;
        sqlx::query(
            "UPDATE tokens SET revoked = $3 WHERE tenant_id = $1 AND id = $2 AND revoked IS NULL",
        )
        .bind(tenant.as_str())
        .bind(token_id)
        .bind(now_micros())
        .execute(&mut *tx)
        .await?;
        let sql = format!("SELECT {TOKEN_COLUMNS} FROM tokens WHERE tenant_id = $1 AND id = $2");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(tenant.as_str())
            .bind(token_id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(IdentityError::NotFound("token"))?;
        tx.commit().await?;
        Ok(token_from_row(&row)?)
    }

    #[tracing::instrument(name = "db.authenticate", skip_all, fields(
        otel.kind = "client", db.system = self.db_system(),
        db.operation = "authenticate",
    ))]
    async fn authenticate(&self, hash: &str) -> Result<Option<TokenOwner>, IdentityError> {
        let now = now_micros();
        let mut tx = self
            .read_tx(Scope::AllTenants(CrossTenant::AuthenticateByHash))
            .await?;
        let row = sqlx::query(AUTHENTICATE)
            .bind(hash)
            .bind(now)
            .fetch_optional(&mut *tx)
            .await?;
        tx.commit().await?;
        let Some(row) = row else { return Ok(None) };
        let owner = TokenOwner {
            tenant_id: row.try_get("tenant_id")?,
            token_id: row.try_get("id")?,
            limits: super::limits::limits_from_row(&row)?,
            profile: super::limits::profile_from_row(&row)?,
        };
        let last_used: Option<Micros> = row.try_get("last_used")?;
        if last_used.is_none_or(|t| now - t >= LAST_USED_RESOLUTION) {
            let tenant = TenantId::parse(&owner.tenant_id)?;
            let mut tx = self.write_tx(Scope::Tenant(&tenant)).await?;
            sqlx::query("UPDATE tokens SET last_used = $3 WHERE tenant_id = $1 AND id = $2")
                .bind(tenant.as_str())
                .bind(&owner.token_id)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
        }
        Ok(Some(owner))
    }

    async fn insert_console_link(
        &self,
        tenant: &TenantId,
        hash: &str,
        expires: Micros,
    ) -> Result<(), IdentityError> {
        self.insert_console_link_query(tenant, hash, expires).await
    }

    async fn redeem_console_link(
        &self,
        hash: &str,
    ) -> Result<Option<(String, i64)>, IdentityError> {
        self.redeem_console_link_query(hash).await
    }

    async fn inspect_console_link(&self, hash: &str) -> Result<Option<String>, IdentityError> {
        self.inspect_console_link_query(hash).await
    }

    async fn console_session_epoch(&self, tenant: &TenantId) -> Result<Option<i64>, IdentityError> {
        self.console_epoch_query(tenant).await
    }

    async fn end_console_sessions(&self, tenant: &TenantId) -> Result<Option<i64>, IdentityError> {
        self.end_console_sessions_query(tenant).await
    }

    #[tracing::instrument(name = "db.create_user", skip_all, fields(
        otel.kind = "client", db.system = self.db_system(),
        db.operation = "create_user", tenant_id = %tenant,
    ))]
    async fn create_user_adopting(
        &self,
        tenant: &TenantId,
        user: &UserColumns,
    ) -> Result<(UserRecord, super::Created), IdentityError> {
        // Wakes `Watch` streams like every other write: without it a new
        // user reached policy only at the next poll (up to 200 ms later).
        self.wrote(
            self.create_user_tx(tenant, user)
                .await
                .map_err(missing_tenant),
        )
    }

    #[tracing::instrument(name = "db.import_accounts", skip_all, fields(
        otel.kind = "client", db.system = self.db_system(),
        db.operation = "import_accounts", tenant_id = %tenant,
    ))]
    async fn import_accounts(
        &self,
        tenant: &TenantId,
        accounts: &[super::ImportedAccount],
    ) -> Result<Vec<String>, IdentityError> {
        self.import_accounts_tx(tenant, accounts).await
    }

    #[tracing::instrument(name = "db.set_adoption_policy", skip_all, fields(
        otel.kind = "client", db.system = self.db_system(),
        db.operation = "set_adoption_policy", tenant_id = %tenant,
    ))]
    async fn set_adoption_policy(
        &self,
        tenant: &TenantId,
        policy: super::AdoptionPolicy,
    ) -> Result<(), IdentityError> {
        self.set_adoption_policy_tx(tenant, policy).await
    }

    #[tracing::instrument(name = "db.get_adoption_policy", skip_all, fields(
        otel.kind = "client", db.system = self.db_system(),
        db.operation = "get_adoption_policy", tenant_id = %tenant,
    ))]
    async fn get_adoption_policy(
        &self,
        tenant: &TenantId,
    ) -> Result<Option<super::AdoptionPolicy>, IdentityError> {
        self.get_adoption_policy_tx(tenant).await
    }

    #[tracing::instrument(name = "db.get_user", skip_all, fields(
        otel.kind = "client", db.system = self.db_system(),
        db.operation = "get_user", tenant_id = %tenant,
    ))]
    async fn get_user(
        &self,
        tenant: &TenantId,
        id: &ResourceId,
    ) -> Result<Option<UserRecord>, IdentityError> {
        self.get_user_row(tenant, id).await
    }

    #[tracing::instrument(name = "db.modify_user", skip_all, fields(
        otel.kind = "client", db.system = self.db_system(),
        db.operation = "modify_user", tenant_id = %tenant,
    ))]
    async fn modify_user(
        &self,
        tenant: &TenantId,
        id: &ResourceId,
        if_version: Option<i64>,
        change: UserChange<'_>,
    ) -> Result<UserRecord, IdentityError> {
        self.wrote(self.modify_user_tx(tenant, id, if_version, change).await)
    }

    #[tracing::instrument(name = "db.delete_user", skip_all, fields(
        otel.kind = "client", db.system = self.db_system(),
        db.operation = "delete_user", tenant_id = %tenant,
    ))]
    async fn delete_user(
        &self,
        tenant: &TenantId,
        id: &ResourceId,
        if_version: Option<i64>,
    ) -> Result<(), IdentityError> {
        self.wrote(self.delete_user_tx(tenant, id, if_version).await)
    }

    #[tracing::instrument(name = "db.list_users", skip_all, fields(
        otel.kind = "client", db.system = self.db_system(),
        db.operation = "list_users", tenant_id = %tenant,
    ))]
    async fn list_users(
        &self,
        tenant: &TenantId,
        query: &ListQuery,
    ) -> Result<Page<UserRecord>, IdentityError> {
        self.list_users_query(tenant, query).await
    }

    #[tracing::instrument(name = "db.create_group", skip_all, fields(
        otel.kind = "client", db.system = self.db_system(),
        db.operation = "create_group", tenant_id = %tenant,
    ))]
    async fn create_group(
        &self,
        tenant: &TenantId,
        group: &GroupColumns,
        members: &[NewMember],
    ) -> Result<GroupRecord, IdentityError> {
        self.wrote(
            self.create_group_tx(tenant, group, members)
                .await
                .map_err(missing_tenant),
        )
    }

    #[tracing::instrument(name = "db.get_group", skip_all, fields(
        otel.kind = "client", db.system = self.db_system(),
        db.operation = "get_group", tenant_id = %tenant,
    ))]
    async fn get_group(
        &self,
        tenant: &TenantId,
        id: &ResourceId,
        include_members: bool,
    ) -> Result<Option<GroupRecord>, IdentityError> {
        self.get_group_row(tenant, id, include_members).await
    }

    #[tracing::instrument(name = "db.modify_group", skip_all, fields(
        otel.kind = "client", db.system = self.db_system(),
        db.operation = "modify_group", tenant_id = %tenant,
    ))]
    async fn modify_group(
        &self,
        tenant: &TenantId,
        id: &ResourceId,
        if_version: Option<i64>,
        change: GroupChange<'_>,
    ) -> Result<GroupRecord, IdentityError> {
        self.wrote(self.modify_group_tx(tenant, id, if_version, change).await)
    }

    #[tracing::instrument(name = "db.delete_group", skip_all, fields(
        otel.kind = "client", db.system = self.db_system(),
        db.operation = "delete_group", tenant_id = %tenant,
    ))]
    async fn delete_group(
        &self,
        tenant: &TenantId,
        id: &ResourceId,
        if_version: Option<i64>,
    ) -> Result<(), IdentityError> {
        self.wrote(self.delete_group_tx(tenant, id, if_version).await)
    }

    #[tracing::instrument(name = "db.list_groups", skip_all, fields(
        otel.kind = "client", db.system = self.db_system(),
        db.operation = "list_groups", tenant_id = %tenant,
    ))]
    async fn list_groups(
        &self,
        tenant: &TenantId,
        query: &ListQuery,
        include_members: bool,
    ) -> Result<Page<GroupRecord>, IdentityError> {
        self.list_groups_query(tenant, query, include_members).await
    }

    #[tracing::instrument(name = "db.groups_of_users", skip_all, fields(
        otel.kind = "client", db.system = self.db_system(),
        db.operation = "groups_of_users", tenant_id = %tenant,
    ))]
    async fn groups_of_users(
        &self,
        tenant: &TenantId,
        user_ids: &[String],
    ) -> Result<HashMap<String, Vec<(String, String)>>, IdentityError> {
        self.groups_of_users_query(tenant, user_ids).await
    }

    async fn changes_after(
        &self,
        tenant: &TenantId,
        after_seq: i64,
        limit: u32,
        max_bytes: usize,
    ) -> Result<Vec<ChangeRecord>, IdentityError> {
        self.changes_after_query(tenant, after_seq, limit, max_bytes)
            .await
    }

    async fn stream_heads(&self) -> Result<Vec<(String, i64)>, IdentityError> {
        self.stream_heads_query().await
    }

    #[tracing::instrument(name = "db.snapshot", skip_all, fields(
        otel.kind = "client", db.system = self.db_system(),
        db.operation = "snapshot", tenant_id = %tenant,
    ))]
    async fn snapshot(
        &self,
        tenant: &TenantId,
        after_user_id: &str,
        limit: u32,
    ) -> Result<(i64, Vec<SnapshotUser>), IdentityError> {
        self.snapshot_query(tenant, after_user_id, limit).await
    }

    async fn record_requests(
        &self,
        tenant: &TenantId,
        entries: &[RequestLogRecord],
    ) -> Result<u64, IdentityError> {
        self.record_requests_query(tenant, entries)
            .await
            .map_err(missing_tenant)
    }

    async fn list_request_log(
        &self,
        tenant: &TenantId,
        query: &RequestLogQuery,
    ) -> Result<Vec<RequestLogRecord>, IdentityError> {
        self.list_request_log_query(tenant, query).await
    }

    async fn request_health(
        &self,
        tenant: &TenantId,
        since: Micros,
    ) -> Result<HealthCounts, IdentityError> {
        self.request_health_query(tenant, since).await
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
        now: Micros,
    ) -> Result<u64, IdentityError> {
        self.prune_query(tenant, table, rule, now).await
    }

    fn change_signal(&self) -> tokio::sync::watch::Receiver<u64> {
        self.signal.subscribe()
    }
}
