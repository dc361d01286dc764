//! Prometheus figures of the SCIM API (see docs/sre.md, "Metrics"), and
//! the route and tenant of the request's span:
//!
//! - `scim_http_requests_total{route, method, status}` and
//!   `scim_http_request_duration_seconds{route, method, status}`, by route
//!   template (`/scim/v2/{tenant}/Users/{id}`), never the raw path, and
//!   `method` one of GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS, else
//!   `other` (so invented methods make no new series);
//! - `scim_tenant_requests_total{tenant, status_class}` for the "top
//!   tenants" panel: only authenticated requests (not 401), and only the
//!   first [`MAX_TENANTS`] tenants a process sees get their own label, the
//!   rest count as `other`, so the series stay bounded;
//! - `scim_auth_failures_total{reason}`: 401 answers, `missing_token` (no
//!   bearer header) or `rejected` (unknown, revoked or another tenant's).

use std::collections::HashSet;
use std::sync::{Mutex, OnceLock};
use std::time::Instant;

use axum::extract::{FromRequestParts, MatchedPath, RawPathParams, Request};
use axum::middleware::Next;
use axum::response::Response;

/// Most tenants with their own `tenant` label per process.
pub const MAX_TENANTS: usize = 500;

/// Route middleware (a `route_layer`, so the route template is known).
pub async fn track(req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    // The nested router sees the path without `/scim/v2/{tenant}`.
    let (mut parts, body) = req.into_parts();
    let tenant = RawPathParams::from_request_parts(&mut parts, &())
        .await
        .ok()
        .and_then(|params| {
            params
                .iter()
                .find(|(k, _)| *k == "tenant")
                .map(|(_, v)| v.to_owned())
        });
    let req = Request::from_parts(parts, body);
    let method = telemetry::metrics::http_method_label(req.method());
    // The request's span (see `crate::request_span`) learns its route here.
    let span = tracing::Span::current();
    span.record("http.route", route.as_str());
    telemetry::otel::rename(&span, format!("{method} {route}"));
    if let Some(tenant) = &tenant {
        span.record("tenant_id", tenant.as_str());
    }
    let has_token = req
        .headers()
        .contains_key(axum::http::header::AUTHORIZATION);
    let started = Instant::now();
    let response = next.run(req).await;
    let status = response.status();
    let code = status.as_str().to_owned();
    metrics::histogram!("scim_http_request_duration_seconds",
        "route" => route.clone(), "method" => method, "status" => code.clone())
    .record(started.elapsed().as_secs_f64());
    metrics::counter!("scim_http_requests_total",
        "route" => route, "method" => method, "status" => code)
    .increment(1);
    if status == axum::http::StatusCode::UNAUTHORIZED {
        let reason = if has_token {
            "rejected"
        } else {
            "missing_token"
        };
        metrics::counter!("scim_auth_failures_total", "reason" => reason).increment(1);
    } else if let Some(tenant) = tenant {
        let class = match status.as_u16() / 100 {
            2 => "2xx",
            3 => "3xx",
            4 => "4xx",
            _ => "5xx",
        };
        metrics::counter!("scim_tenant_requests_total",
            "tenant" => bounded_tenant(&tenant), "status_class" => class)
        .increment(1);
    }
    response
}

fn bounded_tenant(tenant: &str) -> String {
    static SEEN: OnceLock<Mutex<HashSet<String>>> = OnceLock::new();
    let seen = SEEN.get_or_init(Default::default);
    let Ok(mut seen) = seen.lock() else {
        return "other".into();
    };
    if seen.contains(tenant) {
        return tenant.to_owned();
    }
    if seen.len() < MAX_TENANTS {
        seen.insert(tenant.to_owned());
        return tenant.to_owned();
    }
    "other".into()
}
