//! The gateway's protection settings: rate limits, Redis, per-tenant
//! concurrency and timeouts. Flattened into [`crate::Config`].

use std::path::PathBuf;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

const DEFAULT_RATE: u32 = 50;
const DEFAULT_BURST: u32 = 100;
const DEFAULT_REDIS_TIMEOUT_MS: u64 = 50;
const DEFAULT_PREFIX: &str = "scim:rl:";
const DEFAULT_TENANT_CONCURRENCY: usize = 32;
const DEFAULT_QUEUE_WAIT_MS: u64 = 500;
const DEFAULT_REQUEST_TIMEOUT: u64 = 30;
const DEFAULT_IDLE_TIMEOUT: u64 = 75;
const DEFAULT_KEEPALIVE_PER_MINUTE: u32 = 30;
const DEFAULT_KEEPALIVE_BURST: u32 = 10;
const DEFAULT_KEEPALIVE_FOLD: u64 = 3600;

fn secret(s: &str) -> Result<SecretString, std::convert::Infallible> {
    Ok(SecretString::from(s))
}

/// Rate limiting, Redis, per-tenant concurrency and timeouts.
#[derive(Debug, Clone, clap::Args)]
pub struct ProtectionConfig {
    /// Redis for the shared rate limiter (`redis://…`; with
    /// `--redis-cluster`, comma-separated seed nodes). Without it each
    /// replica limits in-process. Never logged.
    #[arg(long, env = "REDIS_URL", hide_env_values = true, value_parser = secret)]
    pub redis_url: Option<SecretString>,
    /// A file holding `REDIS_URL` (a mounted Kubernetes secret).
    #[arg(long, env = "REDIS_URL_FILE")]
    pub redis_url_file: Option<PathBuf>,
    /// `REDIS_URL` names the seed nodes of a Redis Cluster.
    #[arg(long, env = "REDIS_CLUSTER", default_value_t = false)]
    pub redis_cluster: bool,
    /// Longest wait for Redis per decision before the in-process fallback decides.
    #[arg(long, env = "REDIS_TIMEOUT_MS", default_value_t = DEFAULT_REDIS_TIMEOUT_MS)]
    pub redis_timeout_ms: u64,
    /// Prefix of the rate limiter's Redis keys.
    #[arg(long, env = "RATE_LIMIT_KEY_PREFIX", default_value = DEFAULT_PREFIX)]
    pub rate_limit_key_prefix: String,
    /// Rate limiting on or off (off: no 429 for rate, no `RateLimit` headers).
    #[arg(long, env = "RATE_LIMIT_ENABLED", default_value_t = true, action = clap::ArgAction::Set)]
    pub rate_limit_enabled: bool,
    /// Sustained requests per second per tenant (all its tokens), for tenants without their own.
    #[arg(long, env = "RATE_LIMIT_DEFAULT_RATE", default_value_t = DEFAULT_RATE)]
    pub default_rate: u32,
    /// Requests a tenant (all its tokens) may send at once, for tenants without their own.
    #[arg(long, env = "RATE_LIMIT_DEFAULT_BURST", default_value_t = DEFAULT_BURST)]
    pub default_burst: u32,
    /// Requests of one tenant in flight at once per replica (0: no limit).
    #[arg(long, env = "TENANT_MAX_CONCURRENCY", default_value_t = DEFAULT_TENANT_CONCURRENCY)]
    pub tenant_max_concurrency: usize,
    /// How long a request waits for one of its tenant's slots before 429.
    #[arg(long, env = "TENANT_QUEUE_WAIT_MS", default_value_t = DEFAULT_QUEUE_WAIT_MS)]
    pub tenant_queue_wait_ms: u64,
    /// Longest time a request may take, body included (408 after).
    #[arg(long, env = "REQUEST_TIMEOUT_SECONDS", default_value_t = DEFAULT_REQUEST_TIMEOUT)]
    pub request_timeout_seconds: u64,
    /// A connection with no bytes moving for this long is closed.
    #[arg(long, env = "IDLE_TIMEOUT_SECONDS", default_value_t = DEFAULT_IDLE_TIMEOUT)]
    pub idle_timeout_seconds: u64,
    /// Rejected bearer tokens a client address (an IPv4 address, an IPv6 /64) may present per
    /// minute, sustained; beyond its burst, tokens the replica has not seen authenticate within
    /// the hour get `429` without a call to identity (per replica, in process; counted in
    /// `gateway_auth_failure_throttled_total`)
    #[arg(long, env = "AUTH_FAILURES_PER_MINUTE", default_value_t = super::auth_failures::DEFAULT_PER_MINUTE)]
    pub auth_failures_per_minute: u32,
    /// Rejected bearer tokens a client address may present at once.
    #[arg(long, env = "AUTH_FAILURE_BURST", default_value_t = super::auth_failures::DEFAULT_BURST)]
    pub auth_failure_burst: u32,
    /// Proxies (comma-separated ranges, e.g. the ingress controller's pod range) whose
    /// `X-Forwarded-For` names the client: the client is the right-most address there that is
    /// not itself a trusted proxy. Empty: the TCP peer is the client. Set it behind an ingress,
    /// or every client shares the ingress's address and its failure budget.
    #[arg(long, env = "TRUSTED_PROXY_CIDRS", default_value = "")]
    pub trusted_proxy_cidrs: String,
    /// Continue the W3C trace context (`traceparent`, `tracestate`) that callers send; off,
    /// both headers are dropped at the door and every request starts its own trace (from the
    /// internet they would let anyone join our traces or force sampling). Turn on behind an
    /// ingress that traces. Client `X-Request-Id`s are kept only when 1 to 64 characters of
    /// letters, digits and `-_.:`; any other is replaced by a fresh UUID.
    #[arg(long, env = "TRACE_CONTEXT_FROM_CLIENTS", default_value_t = false, action = clap::ArgAction::Set)]
    pub trace_context_from_clients: bool,
    /// Keepalive probes (`GET /Users?filter=userName eq "<GUID>"`, Entra's
    /// Test Connection and its checks between cycles) a tenant may send per
    /// minute from their own allowance, outside its rate budget; past it a
    /// probe is an ordinary request (counted in
    /// `gateway_keepalive_probes_total{result}`).
    #[arg(long, env = "KEEPALIVE_PROBES_PER_MINUTE", default_value_t = DEFAULT_KEEPALIVE_PER_MINUTE)]
    pub keepalive_probes_per_minute: u32,
    /// Keepalive probes a tenant may send at once from their allowance.
    #[arg(long, env = "KEEPALIVE_PROBE_BURST", default_value_t = DEFAULT_KEEPALIVE_BURST)]
    pub keepalive_probe_burst: u32,
    /// The provisioning log shows a tenant's first keepalive probe in this
    /// many seconds as a line and the others as one count.
    #[arg(long, env = "KEEPALIVE_FOLD_SECONDS", default_value_t = DEFAULT_KEEPALIVE_FOLD)]
    pub keepalive_fold_seconds: u64,
}

impl Default for ProtectionConfig {
    fn default() -> Self {
        Self {
            redis_url: None,
            redis_url_file: None,
            redis_cluster: false,
            redis_timeout_ms: DEFAULT_REDIS_TIMEOUT_MS,
            rate_limit_key_prefix: DEFAULT_PREFIX.into(),
            rate_limit_enabled: true,
            default_rate: DEFAULT_RATE,
            default_burst: DEFAULT_BURST,
            tenant_max_concurrency: DEFAULT_TENANT_CONCURRENCY,
            tenant_queue_wait_ms: DEFAULT_QUEUE_WAIT_MS,
            request_timeout_seconds: DEFAULT_REQUEST_TIMEOUT,
            idle_timeout_seconds: DEFAULT_IDLE_TIMEOUT,
            auth_failures_per_minute: super::auth_failures::DEFAULT_PER_MINUTE,
            auth_failure_burst: super::auth_failures::DEFAULT_BURST,
            trusted_proxy_cidrs: String::new(),
            trace_context_from_clients: false,
            keepalive_probes_per_minute: DEFAULT_KEEPALIVE_PER_MINUTE,
            keepalive_probe_burst: DEFAULT_KEEPALIVE_BURST,
            keepalive_fold_seconds: DEFAULT_KEEPALIVE_FOLD,
        }
    }
}

impl ProtectionConfig {
    /// The window over which keepalive probes are folded in the log.
    pub fn keepalive_fold_window(&self) -> Duration {
        Duration::from_secs(self.keepalive_fold_seconds)
    }

    /// The Redis URLs, from `REDIS_URL` or else `REDIS_URL_FILE`; empty
    /// without Redis.
    pub fn redis_urls(&self) -> std::io::Result<Vec<String>> {
        let text = match (&self.redis_url, &self.redis_url_file) {
            (Some(url), _) => url.expose_secret().to_owned(),
            (None, Some(file)) => std::fs::read_to_string(file)?,
            (None, None) => String::new(),
        };
        Ok(text
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect())
    }

    /// `REDIS_TIMEOUT_MS` as a duration (at least 1 ms).
    pub fn redis_timeout(&self) -> Duration {
        Duration::from_millis(self.redis_timeout_ms.max(1))
    }

    /// `TENANT_QUEUE_WAIT_MS` as a duration.
    pub fn queue_wait(&self) -> Duration {
        Duration::from_millis(self.tenant_queue_wait_ms)
    }

    /// `REQUEST_TIMEOUT_SECONDS` as a duration (at least 1 s).
    pub fn request_timeout(&self) -> Duration {
        Duration::from_secs(self.request_timeout_seconds.max(1))
    }

    /// `IDLE_TIMEOUT_SECONDS` as a duration (at least 1 s).
    pub fn idle_timeout(&self) -> Duration {
        Duration::from_secs(self.idle_timeout_seconds.max(1))
    }
}
