//! Logging and tracing setup shared by every service, and the shutdown
//! signal they share.
//!
//! `LOG_FORMAT=json` gives one JSON object per line (production), with the
//! `trace_id` and `span_id` of the current span when traces are exported;
//! anything else gives readable lines. `RUST_LOG` sets the filter (default
//! `info`) of logs and exported spans alike. Spans are exported over OTLP
//! only when `OTEL_EXPORTER_OTLP_ENDPOINT` (or `..._TRACES_ENDPOINT`) is set
//! (see [`otel`]).

pub mod grpc;
pub mod health;
pub mod json;
pub mod metrics;
pub mod otel;

use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::layer::Layered;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, Registry};

/// The registry behind the `RUST_LOG` filter, which the log and span layers
/// sit on.
type Filtered = Layered<EnvFilter, Registry>;

/// Libraries whose spans are never exported, whatever `RUST_LOG` lets
/// through: the HTTP/2 and gRPC transport, the exporter's own included (at
/// `trace` every export would otherwise make spans to export).
const TRANSPORT_TARGETS: &[&str] = &["h2", "hyper", "tonic", "tower", "opentelemetry"];

/// What [`init`] set up; [`Telemetry::shutdown`] flushes the spans not yet
/// exported.
#[must_use = "call `shutdown` on exit, or buffered spans are lost"]
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Telemetry {
    /// True when spans are exported over OTLP.
    pub fn exporting(&self) -> bool {
        self.provider.is_some()
    }

    /// Exports the spans still buffered and stops the exporter.
    pub async fn shutdown(self) {
        let Some(provider) = self.provider else {
            return;
        };
        // The SDK blocks until its export thread is done, and that thread
        // needs this runtime's tasks to make progress.
        let done = tokio::task::spawn_blocking(move || provider.shutdown()).await;
        if let Ok(Err(e)) = done {
            eprintln!("tracing shutdown: {e}");
        }
    }
}

/// Installs the global subscriber once, with an OTLP span exporter when the
/// environment configures one; `service` is the `service.name` unless
/// `OTEL_SERVICE_NAME` (or `service.name` in `OTEL_RESOURCE_ATTRIBUTES`)
/// says otherwise. Later calls install nothing (tests and the one-process
/// mode may call it freely) and export nothing. Call it inside the Tokio
/// runtime.
pub fn init(service: &'static str) -> Telemetry {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let json = std::env::var("LOG_FORMAT").is_ok_and(|v| v.eq_ignore_ascii_case("json"));
    let format =
        json::WithTraceIds::new(tracing_subscriber::fmt::format().json().flatten_event(true));
    let slot = format.slot();
    let fmt: Box<dyn Layer<Filtered> + Send + Sync> = if json {
        tracing_subscriber::fmt::layer()
            .fmt_fields(tracing_subscriber::fmt::format::JsonFields::new())
            .event_format(format)
            .boxed()
    } else {
        tracing_subscriber::fmt::layer().boxed()
    };
    let mut layers = vec![fmt];
    let mut provider = None;
    if otel::export_configured() {
        match otel::pipeline(service) {
            Ok((p, tracer)) => {
                let spans = tracing_opentelemetry::layer()
                    .with_tracer(tracer)
                    .with_filter(tracing_subscriber::filter::filter_fn(|meta| {
                        !TRANSPORT_TARGETS
                            .iter()
                            .any(|t| meta.target().starts_with(t))
                    }));
                layers.push(spans.boxed());
                provider = Some(p);
            }
            Err(e) => eprintln!("tracing export off: {e}"),
        }
    }
    // `try_init` fails only when a subscriber is already set: keep that one.
    // The filter wraps both layers: a filter beside them in the list would
    // only filter its own (nothing), and the span exporter would see all.
    let dispatch = tracing::Dispatch::new(tracing_subscriber::registry().with(filter).with(layers));
    let _ = slot.set(dispatch.downgrade());
    let installed = dispatch.try_init().is_ok();
    if !installed && let Some(p) = provider.take() {
        let _ = p.shutdown();
    }
    if provider.is_some() {
        tracing::info!(service, "exporting traces over OTLP");
    }
    Telemetry { provider }
}

/// Resolves on SIGTERM or Ctrl-C: the moment to stop accepting and drain.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutdown signal received, draining");
}
