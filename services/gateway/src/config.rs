//! Configuration: defaults, then environment variables, then flags.

use std::net::SocketAddr;
use std::time::Duration;

#[derive(Debug, Clone, clap::Args)]
pub struct Config {
    /// HTTP listen address of the SCIM API.
    #[arg(long, env = "GATEWAY_LISTEN", default_value = "0.0.0.0:8080")]
    pub listen: SocketAddr,
    /// gRPC address of the identity service.
    #[arg(long, env = "IDENTITY_URL", default_value = "http://127.0.0.1:50051")]
    pub identity_url: String,
    /// The public base URL clients use (for `Location` and `meta.location`);
    /// defaults to `http://<listen address>`.
    #[arg(long, env = "PUBLIC_BASE_URL")]
    pub public_base_url: Option<String>,
    /// How long an authentication answer is cached: a revoked token stops
    /// working on every replica within this time.
    #[arg(long, env = "AUTH_CACHE_TTL_SECONDS", default_value_t = 10)]
    pub auth_cache_ttl_seconds: u64,
    /// Largest accepted request body (413 above).
    #[arg(long, env = "MAX_BODY_BYTES", default_value_t = 1 << 20)]
    pub max_body_bytes: usize,
    /// Rate limits, Redis, per-tenant concurrency and timeouts.
    #[command(flatten)]
    pub protection: crate::protect::ProtectionConfig,
    /// Bulk limits and cursor pagination (advertised in
    /// `/ServiceProviderConfig`).
    #[command(flatten)]
    pub protocol: crate::protocol::ProtocolConfig,
    /// After SIGTERM, keep serving this long while `/readyz` answers 503
    /// (so that load balancers stop sending), then stop accepting and
    /// finish the requests in flight.
    #[arg(long, env = "SHUTDOWN_DELAY_SECONDS", default_value_t = 5)]
    pub shutdown_delay_seconds: u64,
    /// The client certificate towards identity and the internal CA
    /// (mutual TLS; plain gRPC without them).
    #[command(flatten)]
    pub tls: mtls::TlsSettings,
}

impl Default for Config {
    /// The documented defaults, without reading the environment.
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([0, 0, 0, 0], 8080)),
            identity_url: "http://127.0.0.1:50051".into(),
            public_base_url: None,
            auth_cache_ttl_seconds: 10,
            max_body_bytes: 1 << 20,
            protection: crate::protect::ProtectionConfig::default(),
            protocol: crate::protocol::ProtocolConfig::default(),
            shutdown_delay_seconds: 5,
            tls: mtls::TlsSettings::default(),
        }
    }
}

impl Config {
    pub fn auth_cache_ttl(&self) -> Duration {
        Duration::from_secs(self.auth_cache_ttl_seconds)
    }
}
