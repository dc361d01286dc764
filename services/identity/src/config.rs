//! Configuration: defaults, then environment variables, then flags.

use std::net::SocketAddr;

use crate::store::StoreOptions;

#[derive(Debug, Clone, clap::Args)]
pub struct Config {
    /// gRPC listen address.
    #[arg(long, env = "IDENTITY_LISTEN", default_value = "0.0.0.0:50051")]
    pub listen: SocketAddr,
    /// `postgres://…` in production: for `serve` the service role, for `identity migrate` the
    /// tables' owner (sre.md, "Row-level security (Postgres)"). On SQLite (`make run`, a single
    /// machine) the file is in WAL mode with `synchronous=NORMAL`: a crash of the process loses
    /// nothing committed and the file stays consistent, but a power loss or an OS crash can
    /// lose the last transactions committed before it (those not yet checkpointed to disk); use
    /// Postgres where that matters.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "sqlite:data/identity.db",
        hide_env_values = true
    )]
    pub database_url: String,
    /// Database connections per process.
    #[arg(long, env = "DATABASE_MAX_CONNECTIONS", default_value_t = 10)]
    pub max_connections: u32,
    /// Postgres `statement_timeout` of every connection (`0` disables): a statement past it is
    /// cancelled, and the call answers `DEADLINE_EXCEEDED` (SCIM `504`); see sre.md, "Database
    /// timeouts".
    #[arg(long, env = "DATABASE_STATEMENT_TIMEOUT_MS", default_value_t = storekit::timeouts::DEFAULT_STATEMENT_TIMEOUT_MS)]
    pub statement_timeout_ms: u64,
    /// Postgres `lock_timeout` of every connection (`0` disables): a write that waits longer
    /// for a row another write holds answers `UNAVAILABLE` (SCIM `503` with `Retry-After: 1`).
    /// SQLite waits for its writer lock up to its `busy_timeout` (5 s) instead. Migrations run
    /// without either timeout.
    #[arg(long, env = "DATABASE_LOCK_TIMEOUT_MS", default_value_t = storekit::timeouts::DEFAULT_LOCK_TIMEOUT_MS)]
    pub lock_timeout_ms: u64,
    /// Start on Postgres even as a superuser, a `BYPASSRLS` role or the
    /// tables' owner, which row-level security does not bind (local use
    /// only, such as `make run`; production connects as a plain role).
    #[arg(long, env = "DATABASE_ALLOW_PRIVILEGED_ROLE", default_value_t = false)]
    pub allow_privileged_role: bool,
    /// Apply migrations at start (the one-process mode does; production runs `identity migrate`).
    #[arg(long, env = "MIGRATE_ON_START", default_value_t = false)]
    pub migrate: bool,
    /// Let `IssueToken` take a caller-chosen secret (local development only; `make run` grants
    /// the same permission when `SCIM_DEV_TOKEN` is set)
    #[arg(long, env = "ALLOW_CHOSEN_TOKEN_SECRETS", default_value_t = false)]
    pub allow_chosen_secrets: bool,
    /// Change records older than this many days are pruned (a follower
    /// further behind resynchronises the tenant from `Snapshot`).
    #[arg(long, env = "CHANGES_RETENTION_DAYS", default_value_t = 30)]
    pub changes_retention_days: u32,
    /// At most this many change records are kept per tenant (the newest).
    #[arg(long, env = "CHANGES_MAX_PER_TENANT", default_value_t = 5_000_000)]
    pub changes_max_per_tenant: u64,
    /// Provisioning-log entries older than this many days are pruned.
    #[arg(long, env = "REQUEST_LOG_RETENTION_DAYS", default_value_t = 30)]
    pub request_log_retention_days: u32,
    /// At most this many provisioning-log entries are kept per tenant (the newest).
    #[arg(long, env = "REQUEST_LOG_MAX_PER_TENANT", default_value_t = 100_000)]
    pub request_log_max_per_tenant: u64,
    /// How often the change stream and the provisioning log are pruned, in seconds.
    #[arg(long, env = "RETENTION_INTERVAL_SECONDS", default_value_t = 600)]
    pub retention_interval_seconds: u64,
    /// Most live users a tenant may have (0: no limit); a create past it
    /// is refused.
    #[arg(long, env = "MAX_USERS_PER_TENANT", default_value_t = crate::quota::DEFAULT_MAX_USERS)]
    pub max_users_per_tenant: u64,
    /// Most groups a tenant may have (0: no limit); a create past it is
    /// refused.
    #[arg(long, env = "MAX_GROUPS_PER_TENANT", default_value_t = crate::quota::DEFAULT_MAX_GROUPS)]
    pub max_groups_per_tenant: u64,
    /// This server's certificate and the internal CA (mutual TLS).
    #[command(flatten)]
    pub tls: mtls::TlsSettings,
    /// Who may call which method.
    #[command(flatten)]
    pub access: mtls::AccessSettings,
}

impl Config {
    /// What retention keeps of the change stream and the provisioning log.
    pub fn retention(&self) -> crate::retention::Retention {
        use storekit::retention::Rule;
        crate::retention::Retention {
            changes: Rule::days(self.changes_retention_days, self.changes_max_per_tenant),
            request_log: Rule::days(
                self.request_log_retention_days,
                self.request_log_max_per_tenant,
            ),
            interval: std::time::Duration::from_secs(self.retention_interval_seconds.max(1)),
        }
    }

    /// The per-tenant quotas.
    pub fn quotas(&self) -> crate::quota::Quotas {
        crate::quota::Quotas {
            max_users: self.max_users_per_tenant,
            max_groups: self.max_groups_per_tenant,
        }
    }

    pub fn store_options(&self) -> StoreOptions {
        StoreOptions {
            url: self.database_url.clone(),
            max_connections: self.max_connections,
            statement_timeout_ms: self.statement_timeout_ms,
            lock_timeout_ms: self.lock_timeout_ms,
        }
    }
}
