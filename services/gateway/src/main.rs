//! The SCIM gateway binary: config from the environment, serve until SIGTERM.

use clap::Parser;
use gateway::{Application, Config};

#[derive(Parser)]
#[command(version, about = "The SCIM 2.0 gateway")]
struct Cli {
    #[command(flatten)]
    config: Config,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    telemetry::init();
    let cli = Cli::parse();
    let listener = tokio::net::TcpListener::bind(cli.config.listen).await?;
    let app = Application::build(&cli.config, listener)?;
    app.run_until_stopped(telemetry::shutdown_signal()).await?;
    Ok(())
}
