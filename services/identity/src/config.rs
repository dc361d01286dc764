//! Configuration: defaults, then environment variables, then flags.

use std::net::SocketAddr;

use crate::store::StoreOptions;

#[derive(Debug, Clone, clap::Args)]
pub struct Config {
    /// gRPC listen address.
    #[arg(long, env = "IDENTITY_LISTEN", default_value = "0.0.0.0:50051")]
    pub listen: SocketAddr,
    /// `postgres://user@host/db` or `sqlite:path/file.db`. Never logged.
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
    /// Apply migrations at start (the one-process mode does; production runs `identity migrate`).
    #[arg(long, env = "MIGRATE_ON_START", default_value_t = false)]
    pub migrate: bool,
    /// Allow `IssueToken` with a caller-chosen secret (local development only).
    #[arg(long, env = "ALLOW_CHOSEN_TOKEN_SECRETS", default_value_t = false)]
    pub allow_chosen_secrets: bool,
}

impl Config {
    pub fn store_options(&self) -> StoreOptions {
        StoreOptions {
            url: self.database_url.clone(),
            max_connections: self.max_connections,
        }
    }
}
