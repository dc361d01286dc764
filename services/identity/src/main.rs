//! `identity serve` (default) runs the gRPC server; `identity migrate`
//! applies the database migrations and exits (a Helm hook Job runs it).

use clap::Parser;
use identity::cli::{Cli, Command};
use identity::{Application, SqlStore, StartupError};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let traces = telemetry::init("identity");
    let cli = Cli::parse();
    match cli.command.unwrap_or(Command::Serve) {
        Command::Migrate => {
            let store = SqlStore::connect(&cli.config.store_options())
                .await
                .map_err(StartupError::Database)?;
            store.migrate().await?;
            tracing::info!("migrations applied");
        }
        Command::Serve => {
            telemetry::metrics::spawn(cli.metrics_listen, std::future::pending()).await?;
            let listener = tokio::net::TcpListener::bind(cli.config.listen).await?;
            let app = match Application::build(&cli.config, listener).await {
                Ok(app) => app,
                Err(e) => {
                    tracing::error!("{e}");
                    return Err(e.into());
                }
            };
            app.run_until_stopped(telemetry::shutdown_signal()).await?;
            traces.shutdown().await;
        }
    }
    Ok(())
}
