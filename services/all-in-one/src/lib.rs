//! `make run`'s command line: every flag and environment variable the
//! one-process binary `scim-local` reads (the environment-variable
//! reference in `docs/env.md` is generated from it).

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;

#[derive(Parser)]
#[command(version, about = "All services in one process, on SQLite")]
pub struct Cli {
    /// Directory of the SQLite database.
    #[arg(long, env = "DATA_DIR", default_value = "data")]
    pub data_dir: PathBuf,
    /// SCIM (HTTP) listen address.
    #[arg(long, env = "GATEWAY_LISTEN", default_value = "127.0.0.1:8080")]
    pub scim_listen: SocketAddr,
    /// identity gRPC listen address (for scimctl and grpcurl).
    #[arg(long, env = "IDENTITY_LISTEN", default_value = "127.0.0.1:50051")]
    pub identity_listen: SocketAddr,
    /// policy gRPC listen address (roles, assignments, locks).
    #[arg(long, env = "POLICY_LISTEN", default_value = "127.0.0.1:50052")]
    pub policy_listen: SocketAddr,
    /// Serve identity's and policy's plain gRPC on an address other than
    /// loopback (this binary has no TLS: anyone who reaches the ports may
    /// call every method).
    #[arg(long, env = "GRPC_ALLOW_PLAINTEXT", default_value_t = false)]
    pub grpc_allow_plaintext: bool,
    /// The gateway's rate limits, concurrency and timeouts (`RATE_LIMIT_*`,
    /// …); without `REDIS_URL` (the default) the limiter is in-process.
    #[command(flatten)]
    pub protection: gateway::protect::ProtectionConfig,
    /// Public base URL printed and used in `Location` headers.
    #[arg(long, env = "PUBLIC_BASE_URL")]
    pub public_base_url: Option<String>,
    /// Prometheus `/metrics` of all three services (one shared endpoint:
    /// the series of each service are distinct).
    #[arg(long, env = "METRICS_LISTEN", default_value = "127.0.0.1:9090")]
    pub metrics_listen: SocketAddr,
    /// The console (tenant administrator's pages) listen address.
    #[arg(long, env = "CONSOLE_LISTEN", default_value = "127.0.0.1:8081")]
    pub console_listen: SocketAddr,
    /// The console's session key; random on each start when unset (every
    /// session then ends with the process).
    #[arg(long, env = "CONSOLE_SESSION_KEY", hide_env_values = true)]
    pub console_session_key: Option<String>,
    /// Use this value as the demo tenant's token.
    #[arg(long, env = "SCIM_DEV_TOKEN", hide_env_values = true)]
    pub dev_token: Option<String>,
}
