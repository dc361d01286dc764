//! The console binary: config from the environment, serve until SIGTERM.

use clap::Parser;
use console::{Application, Config};

#[derive(Parser)]
#[command(version, about = "The tenant administrator's SCIM console")]
struct Cli {
    #[command(flatten)]
    config: Config,
    /// Prometheus `/metrics` listen address.
    #[arg(long, env = "METRICS_LISTEN", default_value = "0.0.0.0:9090")]
    metrics_listen: std::net::SocketAddr,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let traces = telemetry::init("console");
    let cli = Cli::parse();
    cli.config.validate()?;
    telemetry::metrics::spawn(cli.metrics_listen, std::future::pending()).await?;
    let listener = tokio::net::TcpListener::bind(cli.config.listen).await?;
    let app = Application::build(&cli.config, listener)?;
    app.run_until_stopped(telemetry::shutdown_signal()).await?;
    traces.shutdown().await;
    Ok(())
}
