//! Configuration: defaults, then environment variables, then flags.

use std::net::SocketAddr;
use std::time::Duration;

use crate::alerts::AlertOptions;
use crate::alerts::egress::Egress;
use crate::follower::FollowerOptions;

use crate::store::StoreOptions;

/// How the policy service runs.
#[derive(Debug, Clone, clap::Args)]
pub struct Config {
    /// gRPC listen address.
    #[arg(long, env = "POLICY_LISTEN", default_value = "0.0.0.0:50052")]
    pub listen: SocketAddr,
    /// Policy's own database (`postgres://…` in production), never identity's: for `serve` the
    /// service role, for `policy migrate` the owner. Never logged.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "sqlite:data/policy.db",
        hide_env_values = true
    )]
    pub database_url: String,
    /// The identity service whose change stream policy follows.
    #[arg(long, env = "IDENTITY_URL", default_value = "http://127.0.0.1:50051")]
    pub identity_url: String,
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
    /// without either timeout. In policy it also bounds the wait for a tenant's write lock.
    #[arg(long, env = "DATABASE_LOCK_TIMEOUT_MS", default_value_t = storekit::timeouts::DEFAULT_LOCK_TIMEOUT_MS)]
    pub lock_timeout_ms: u64,
    /// Start on Postgres even as a superuser, a `BYPASSRLS` role or the
    /// tables' owner, which row-level security does not bind (local use
    /// only, such as `make run`; production connects as a plain role).
    #[arg(long, env = "DATABASE_ALLOW_PRIVILEGED_ROLE", default_value_t = false)]
    pub allow_privileged_role: bool,
    /// Apply migrations at start (the one-process mode does; production runs `policy migrate`).
    #[arg(long, env = "MIGRATE_ON_START", default_value_t = false)]
    pub migrate: bool,
    /// First retry delay of an alert webhook delivery; it doubles per failure (with jitter) up
    /// to an hour, for 26 hours. Deliveries go out in rounds of up to 32 attempts at once, each
    /// bounded by a 10 s timeout (connection, answer and body); a round takes at most 4 due
    /// events per tenant, round-robin across tenants, so one tenant's backlog (a flood of test
    /// alerts, a slow receiver's retries) delays another tenant's alert by at most one round (≤
    /// 10 s)
    #[arg(long, env = "ALERT_RETRY_BASE_MS", default_value_t = 10_000)]
    pub alert_retry_base_ms: u64,
    /// Internal address ranges alert webhooks may reach, comma-separated
    /// (`10.20.0.0/16,fd00:1::/64`, a bare address for one). By default webhooks reach public
    /// addresses only: loopback, private, link-local (cloud metadata), shared (100.64/10),
    /// unique-local, unspecified, multicast, broadcast and reserved addresses, IPv4-mapped,
    /// IPv4-compatible and NAT64 forms included, are refused when a tenant sets its URL
    /// (literal addresses) and after DNS resolution at every delivery (the client connects only
    /// to the addresses checked; no proxy is used). A refused delivery is logged as failed and
    /// a `webhook to internal addresses refused` warning names the host and addresses. A bad
    /// range stops the process at start.
    #[arg(long, env = "ALERT_WEBHOOK_ALLOW_CIDRS", default_value = "")]
    pub alert_webhook_allow_cidrs: Egress,
    /// This replica's name in the stream's lease table (unique per
    /// process); by default the host name and a random suffix.
    #[arg(long, env = "POLICY_REPLICA_ID")]
    pub replica_id: Option<String>,
    /// How long a lease on a partition of tenants lasts unrenewed: a dead replica's tenants are
    /// taken over after about this long; renewed every fifth of it (values under 500 are taken
    /// as 500); see sre.md, "The change stream and policy replicas".
    #[arg(long, env = "POLICY_LEASE_TTL_MS", default_value_t = 10_000)]
    pub lease_ttl_ms: u64,
    /// Role changes older than this many days are pruned.
    #[arg(long, env = "ROLE_HISTORY_RETENTION_DAYS", default_value_t = 365)]
    pub role_history_retention_days: u32,
    /// At most this many role changes are kept per tenant (the newest).
    #[arg(long, env = "ROLE_HISTORY_MAX_PER_TENANT", default_value_t = 5_000_000)]
    pub role_history_max_per_tenant: u64,
    /// Alert delivery attempts older than this many days are pruned.
    #[arg(long, env = "ALERT_DELIVERIES_RETENTION_DAYS", default_value_t = 90)]
    pub alert_deliveries_retention_days: u32,
    /// At most this many alert delivery attempts are kept per tenant.
    #[arg(
        long,
        env = "ALERT_DELIVERIES_MAX_PER_TENANT",
        default_value_t = 100_000
    )]
    pub alert_deliveries_max_per_tenant: u64,
    /// How often the role history and the delivery log are pruned, in seconds.
    #[arg(long, env = "RETENTION_INTERVAL_SECONDS", default_value_t = 600)]
    pub retention_interval_seconds: u64,
    /// This server's certificate (also its client certificate towards
    /// identity) and the internal CA (mutual TLS).
    #[command(flatten)]
    pub tls: mtls::TlsSettings,
    /// Who may call which method.
    #[command(flatten)]
    pub access: mtls::AccessSettings,
}

impl Config {
    /// The alert worker's part of the configuration.
    pub fn alert_options(&self) -> AlertOptions {
        AlertOptions {
            retry_base: Duration::from_millis(self.alert_retry_base_ms.max(1)),
            egress: self.alert_webhook_allow_cidrs.clone(),
            ..AlertOptions::default()
        }
    }

    /// The follower's part of the configuration.
    pub fn follower_options(&self) -> FollowerOptions {
        FollowerOptions::new(
            self.replica_id
                .clone()
                .unwrap_or_else(crate::follower::default_replica_id),
            Duration::from_millis(self.lease_ttl_ms),
        )
    }

    /// What retention keeps of the role history and the delivery log.
    pub fn retention(&self) -> crate::retention::Retention {
        use storekit::retention::Rule;
        crate::retention::Retention {
            role_history: Rule::days(
                self.role_history_retention_days,
                self.role_history_max_per_tenant,
            ),
            alert_deliveries: Rule::days(
                self.alert_deliveries_retention_days,
                self.alert_deliveries_max_per_tenant,
            ),
            interval: Duration::from_secs(self.retention_interval_seconds.max(1)),
        }
    }

    /// The store's part of the configuration.
    pub fn store_options(&self) -> StoreOptions {
        StoreOptions {
            url: self.database_url.clone(),
            max_connections: self.max_connections,
            statement_timeout_ms: self.statement_timeout_ms,
            lock_timeout_ms: self.lock_timeout_ms,
        }
    }
}
