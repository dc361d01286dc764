//! The SCIM gateway binary: config from the environment, serve until SIGTERM.

use clap::Parser;
use gateway::Application;
use gateway::cli::Cli;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let traces = telemetry::init("gateway");
    let cli = Cli::parse();
    telemetry::metrics::spawn(cli.metrics_listen, std::future::pending()).await?;
    let listener = tokio::net::TcpListener::bind(cli.config.listen).await?;
    let app = Application::build(&cli.config, listener)?;
    app.run_until_stopped(telemetry::shutdown_signal()).await?;
    traces.shutdown().await;
    Ok(())
}
