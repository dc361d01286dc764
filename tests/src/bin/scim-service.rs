//! `scim-service <gateway|identity|policy>`: one service in a process of its
//! own, started the way its binary starts it (telemetry, `/metrics` on
//! `METRICS_LISTEN` when set, configuration from the environment, serve
//! until SIGTERM). The tracing test runs each service like this:
//! OpenTelemetry's pipeline is per process, and each service's spans must
//! carry its own `service.name`. The alerts test too: Prometheus scrapes
//! each process's own metrics, as in a deployment.

use clap::Parser;
use tokio::net::TcpListener;

#[derive(Parser)]
struct Gateway {
    #[command(flatten)]
    config: gateway::Config,
}

#[derive(Parser)]
struct Identity {
    #[command(flatten)]
    config: identity::Config,
}

#[derive(Parser)]
struct Policy {
    #[command(flatten)]
    config: policy::Config,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let name = std::env::args().nth(1).unwrap_or_default();
    // Every other setting comes from the environment, as in production.
    let args = [name.as_str()];
    let shutdown = telemetry::shutdown_signal();
    let metrics = std::env::var("METRICS_LISTEN").ok();
    match name.as_str() {
        "gateway" => {
            let traces = telemetry::init("gateway");
            serve_metrics(metrics.as_deref()).await?;
            let config = Gateway::parse_from(args).config;
            let listener = TcpListener::bind(config.listen).await?;
            let app = gateway::Application::build(&config, listener)?;
            app.run_until_stopped(shutdown).await?;
            traces.shutdown().await;
        }
        "identity" => {
            let traces = telemetry::init("identity");
            serve_metrics(metrics.as_deref()).await?;
            let config = Identity::parse_from(args).config;
            let listener = TcpListener::bind(config.listen).await?;
            let app = identity::Application::build(&config, listener).await?;
            app.run_until_stopped(shutdown).await?;
            traces.shutdown().await;
        }
        "policy" => {
            let traces = telemetry::init("policy");
            serve_metrics(metrics.as_deref()).await?;
            let config = Policy::parse_from(args).config;
            let listener = TcpListener::bind(config.listen).await?;
            let app = policy::Application::build(&config, listener).await?;
            app.run_until_stopped(shutdown).await?;
            traces.shutdown().await;
        }
        other => return Err(format!("unknown service {other:?}").into()),
    }
    Ok(())
}

/// Serves `/metrics` on `addr` (logging the bound address), as each
/// service's `main` does.
async fn serve_metrics(addr: Option<&str>) -> Result<(), Box<dyn std::error::Error>> {
    if let Some(addr) = addr {
        telemetry::metrics::spawn(addr.parse()?, std::future::pending()).await?;
    }
    Ok(())
}
