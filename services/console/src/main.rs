//! The console binary: config from the environment, serve until SIGTERM.

use clap::Parser;
use console::Application;
use console::cli::Cli;

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
