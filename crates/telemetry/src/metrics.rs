//! Prometheus metrics: one process-wide recorder (the `metrics` facade),
//! rendered on `/metrics` by a small HTTP server on its own port
//! (`METRICS_LISTEN`), a tower layer counting and timing gRPC server calls,
//! and database pool gauges.

use std::future::Future;
use std::pin::Pin;
use std::sync::OnceLock;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tokio::net::TcpListener;

/// Latency buckets (seconds) of every `*_seconds` histogram.
const BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the global recorder once and returns its handle; later calls
/// (tests, the one-process mode) get the same handle. If another recorder
/// was installed first, this one still renders, but records nothing.
pub fn handle() -> PrometheusHandle {
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), BUCKETS)
                .map(PrometheusBuilder::build_recorder)
                .unwrap_or_else(|_| PrometheusBuilder::new().build_recorder());
            let handle = recorder.handle();
            let _ = metrics::set_global_recorder(recorder);
            handle
        })
        .clone()
}

/// Serves `GET /metrics` on `listener` until `shutdown` resolves, with
/// `GET /livez` (200 while the process runs) and `GET /readyz` (200 while
/// every gRPC service of the process reaches its database, else 503; see
/// [`crate::health::ready`]).
pub async fn serve(
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let handle = handle();
    let upkeep = handle.clone();
    // Histograms are drained into their buckets on upkeep.
    let upkeep_task = tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_secs(5)).await;
            upkeep.run_upkeep();
        }
    });
    let app = axum::Router::new()
        .route(
            "/metrics",
            axum::routing::get(move || {
                let handle = handle.clone();
                async move {
                    (
                        [(http::header::CONTENT_TYPE, "text/plain; version=0.0.4")],
                        handle.render(),
                    )
                }
            }),
        )
        .route("/livez", axum::routing::get(|| async { "ok" }))
        .route(
            "/readyz",
            axum::routing::get(|| async {
                if crate::health::ready() {
                    (http::StatusCode::OK, "ready")
                } else {
                    (http::StatusCode::SERVICE_UNAVAILABLE, "not ready")
                }
            }),
        );
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, "serving Prometheus metrics on /metrics");
    }
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await;
    upkeep_task.abort();
    served
}

/// Binds `addr` and serves `/metrics` in a background task until `shutdown`.
pub async fn spawn(
    addr: std::net::SocketAddr,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<std::net::SocketAddr> {
    let listener = TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    tokio::spawn(async move {
        if let Err(e) = serve(listener, shutdown).await {
            tracing::warn!(error = %e, "metrics server failed");
        }
    });
    Ok(bound)
}

/// Sets `db_pool_connections{pool, state="open"|"idle"}` and
/// `db_pool_max_connections{pool}`.
pub fn record_pool(pool: &'static str, open: u32, idle: usize, max: u32) {
    metrics::gauge!("db_pool_connections", "pool" => pool, "state" => "open").set(f64::from(open));
    metrics::gauge!("db_pool_connections", "pool" => pool, "state" => "idle").set(idle as f64);
    metrics::gauge!("db_pool_max_connections", "pool" => pool).set(f64::from(max));
}

/// Counts and times gRPC server calls:
/// `grpc_server_requests_total{grpc_service, grpc_method, grpc_code}` and
/// `grpc_server_request_duration_seconds{grpc_service, grpc_method}`. The
/// code is read from the response headers (a failed unary call answers
/// "trailers-only"); a call without one counts as `OK`, so an error a
/// stream ends with later is not seen here. The duration is the time to the
/// response headers (the whole call for unary methods).
#[derive(Clone, Copy, Debug, Default)]
pub struct GrpcMetricsLayer;

impl<S> tower::Layer<S> for GrpcMetricsLayer {
    type Service = GrpcMetrics<S>;
    fn layer(&self, inner: S) -> Self::Service {
        GrpcMetrics { inner }
    }
}

#[derive(Clone, Debug)]
pub struct GrpcMetrics<S> {
    inner: S,
}

impl<S, B, R> tower::Service<http::Request<B>> for GrpcMetrics<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<R>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        // `/package.Service/Method`; the set of paths is fixed by the server.
        let (service, method) = split_path(req.uri().path());
        let started = Instant::now();
        let fut = self.inner.call(req);
        Box::pin(async move {
            let result = fut.await;
            let code = match &result {
                Ok(resp) => resp
                    .headers()
                    .get("grpc-status")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse::<i32>().ok())
                    .map_or("OK", code_name),
                Err(_) => "UNKNOWN",
            };
            metrics::counter!("grpc_server_requests_total",
                "grpc_service" => service.clone(), "grpc_method" => method.clone(), "grpc_code" => code)
            .increment(1);
            metrics::histogram!("grpc_server_request_duration_seconds",
                "grpc_service" => service, "grpc_method" => method)
            .record(started.elapsed().as_secs_f64());
            result
        })
    }
}

pub(crate) fn split_path(path: &str) -> (String, String) {
    let mut parts = path.trim_start_matches('/').splitn(2, '/');
    let service = parts.next().unwrap_or_default();
    let method = parts.next().unwrap_or_default();
    // Unknown paths must not grow the label set.
    if service.len() > 80 || method.len() > 80 || method.contains('/') {
        return ("unknown".into(), "unknown".into());
    }
    (service.to_owned(), method.to_owned())
}

/// The canonical name of a gRPC status code.
pub(crate) fn code_name(code: i32) -> &'static str {
    match code {
        0 => "OK",
        1 => "CANCELLED",
        2 => "UNKNOWN",
        3 => "INVALID_ARGUMENT",
        4 => "DEADLINE_EXCEEDED",
        5 => "NOT_FOUND",
        6 => "ALREADY_EXISTS",
        7 => "PERMISSION_DENIED",
        8 => "RESOURCE_EXHAUSTED",
        9 => "FAILED_PRECONDITION",
        10 => "ABORTED",
        11 => "OUT_OF_RANGE",
        12 => "UNIMPLEMENTED",
        13 => "INTERNAL",
        14 => "UNAVAILABLE",
        15 => "DATA_LOSS",
        16 => "UNAUTHENTICATED",
        _ => "UNKNOWN",
    }
}
