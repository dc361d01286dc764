//! Prometheus figures of the console, by route template (never the raw
//! path, which holds ids): `console_http_requests_total{route, method,
//! status}` and `console_http_request_duration_seconds{…}` (`method` is
//! one of GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS, else `other`); and
//! `console_access_refusals_total{reason}` for requests the gate refused
//! (`no_session`, `forbidden`: CSRF or cross-site) and console links that
//! did not open (`bad_link`).

use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::Response;

pub async fn track(req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = telemetry::metrics::http_method_label(req.method());
    let login = route == "/login";
    let started = Instant::now();
    let response = next.run(req).await;
    let status = response.status();
    let code = status.as_str().to_owned();
    metrics::histogram!("console_http_request_duration_seconds",
        "route" => route.clone(), "method" => method, "status" => code.clone())
    .record(started.elapsed().as_secs_f64());
    metrics::counter!("console_http_requests_total",
        "route" => route, "method" => method, "status" => code)
    .increment(1);
    let refusal = match status {
        StatusCode::UNAUTHORIZED if login => Some("bad_link"),
        StatusCode::UNAUTHORIZED => Some("no_session"),
        StatusCode::FORBIDDEN => Some("forbidden"),
        _ => None,
    };
    if let Some(reason) = refusal {
        metrics::counter!("console_access_refusals_total", "reason" => reason).increment(1);
    }
    response
}
