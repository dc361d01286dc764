//! The identity binary's command line: every flag and environment variable it reads (the
//! environment-variable reference in `docs/env.md` is generated from it).

use clap::{Parser, Subcommand};

use crate::Config;

#[derive(Parser)]
#[command(version, about = "The identity service (identity.v1 over gRPC)")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub config: Config,
    /// Prometheus `/metrics` listen address (`serve` only).
    #[arg(long, env = "METRICS_LISTEN", default_value = "0.0.0.0:9091")]
    pub metrics_listen: std::net::SocketAddr,
}

#[derive(Subcommand)]
pub enum Command {
    /// Serve gRPC until SIGTERM (the default).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
}
