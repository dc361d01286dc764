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

/// Latency buckets (seconds) of every `*_seconds` histogram. 60 s is the
/// deprovisioning objective's bound (docs/slos.md): its SLI is the share of
/// `policy_deprovisioning_latency_seconds` at or under `le="60"`.
const BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
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
        // `/package.Service/Method`, bounded (see `split_path`).
        let (service, mut method) = split_path(req.uri().path());
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
            // A method the server does not have: its name is the caller's.
            if code == "UNIMPLEMENTED" {
                method = "unknown".into();
            }
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

/// The gRPC services of this platform's processes: only their paths become
/// `grpc_service` labels.
pub const KNOWN_GRPC_SERVICES: &[&str] = &[
    "identity.v1.IdentityService",
    "policy.v1.PolicyService",
    "grpc.health.v1.Health",
    "grpc.reflection.v1.ServerReflection",
    "grpc.reflection.v1alpha.ServerReflection",
];

/// `/package.Service/Method` as (service, method) labels, or
/// ("unknown", "unknown") unless the service is one of
/// [`KNOWN_GRPC_SERVICES`] and the method a well-formed name (an ASCII
/// capital, then up to 63 ASCII letters and digits). The server layer also
/// turns the method of an `UNIMPLEMENTED` answer into "unknown", so invented
/// method names of a known service make no series either.
pub(crate) fn split_path(path: &str) -> (String, String) {
    let unknown = || ("unknown".to_owned(), "unknown".to_owned());
    let Some((service, method)) = path.trim_start_matches('/').split_once('/') else {
        return unknown();
    };
    let well_formed = method.len() <= 64
        && method.starts_with(|c: char| c.is_ascii_uppercase())
        && method.chars().all(|c| c.is_ascii_alphanumeric());
    if !well_formed || !KNOWN_GRPC_SERVICES.contains(&service) {
        return unknown();
    }
    (service.to_owned(), method.to_owned())
}

/// The `method` label of an HTTP request: one of the methods the services
/// answer, else `other`, so invented methods make no new series.
pub fn http_method_label(method: &http::Method) -> &'static str {
    match method.as_str() {
        "GET" => "GET",
        "POST" => "POST",
        "PUT" => "PUT",
        "PATCH" => "PATCH",
        "DELETE" => "DELETE",
        "HEAD" => "HEAD",
        "OPTIONS" => "OPTIONS",
        _ => "other",
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_outside_the_known_set_are_other() {
        for m in ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"] {
            let method = http::Method::from_bytes(m.as_bytes()).unwrap_or_default();
            assert_eq!(http_method_label(&method), m);
        }
        for m in ["INVENTED", "get", "TRACE", "CONNECT", "PROPFIND"] {
            let method = http::Method::from_bytes(m.as_bytes()).unwrap_or_default();
            assert_eq!(http_method_label(&method), "other", "{m}");
        }
    }

    #[test]
    fn only_known_services_with_well_formed_methods_become_labels() {
        let labels = |p: &str| split_path(p);
        assert_eq!(
            labels("/identity.v1.IdentityService/Authenticate"),
            ("identity.v1.IdentityService".into(), "Authenticate".into())
        );
        assert_eq!(
            labels("/grpc.health.v1.Health/Check"),
            ("grpc.health.v1.Health".into(), "Check".into())
        );
        let unknown = ("unknown".to_owned(), "unknown".to_owned());
        for path in [
            "/invented.v1.Service/Call",
            "/x/y",
            "/identity.v1.IdentityService/not-a-method",
            "/identity.v1.IdentityService/",
            "/identity.v1.IdentityService/A/B",
            "/identity.v1.IdentityService/lowercase",
            "/",
        ] {
            assert_eq!(labels(path), unknown, "{path}");
        }
        let long = format!("/identity.v1.IdentityService/{}", "A".repeat(65));
        assert_eq!(labels(&long), unknown);
    }

    #[tokio::test]
    async fn invented_methods_of_a_known_service_make_no_new_series() {
        let metrics = handle();
        let mut layer = tower::Layer::layer(
            &GrpcMetricsLayer,
            tower::service_fn(|_req: http::Request<()>| async {
                // What tonic answers for a method the service does not have.
                let mut response = http::Response::new(());
                response
                    .headers_mut()
                    .insert("grpc-status", http::HeaderValue::from_static("12"));
                Ok::<_, std::convert::Infallible>(response)
            }),
        );
        for i in 0..100 {
            let path = format!("/identity.v1.IdentityService/Invented{i}");
            let request = http::Request::builder()
                .uri(path)
                .body(())
                .unwrap_or_else(|e| panic!("{e}"));
            let _ = tower::Service::call(&mut layer, request).await;
        }
        let rendered = metrics.render();
        assert!(!rendered.contains("Invented"), "{rendered}");
    }
}
