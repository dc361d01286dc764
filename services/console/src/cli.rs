//! The console binary's command line: every flag and environment variable it reads (the
//! environment-variable reference in `docs/env.md` is generated from it).

use clap::Parser;

use crate::Config;

#[derive(Parser)]
#[command(version, about = "The tenant administrator's SCIM console")]
pub struct Cli {
    #[command(flatten)]
    pub config: Config,
    /// Prometheus `/metrics` listen address.
    #[arg(long, env = "METRICS_LISTEN", default_value = "0.0.0.0:9090")]
    pub metrics_listen: std::net::SocketAddr,
}
