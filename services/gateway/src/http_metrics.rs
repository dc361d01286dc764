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
//! - `scim_tenant_quarantine_failures_total{tenant}`: the answers of those
//!   requests that Entra ID counts towards quarantining the tenant's job,
//!   by the provisioning log's health rule (identity's `GetTenantHealth`),
//!   with the same bounded tenant label;
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
    let req_method_is_get = req.method() == axum::http::Method::GET;
    let started = Instant::now();
    let response = next.run(req).await;
    let status = response.status();
    let code = status.as_str().to_owned();
    let quarantine_failure = counts_towards_quarantine(req_method_is_get, &route, status.as_u16());
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
        let tenant = bounded_tenant(&tenant);
        if quarantine_failure {
            metrics::counter!("scim_tenant_quarantine_failures_total", "tenant" => tenant.clone())
                .increment(1);
        }
        metrics::counter!("scim_tenant_requests_total",
            "tenant" => tenant, "status_class" => class)
        .increment(1);
    }
    response
}

/// True for an answer Entra ID counts against the provisioning job (it
/// quarantines the job when more than 40% fail): every status from 400 on
/// except a 409 (a per-object conflict it logs and retries) and a 404 on a
/// GET of one resource (a lookup of something gone). The same rule as the
/// provisioning log's tenant health in identity.
fn counts_towards_quarantine(get: bool, route: &str, status: u16) -> bool {
    let below_tenant = route.strip_prefix("/scim/v2/{tenant}").unwrap_or(route);
    let one_resource = below_tenant.matches('/').count() >= 2;
    status >= 400 && status != 409 && !(status == 404 && get && one_resource)
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

#[cfg(test)]
mod tests {
    use super::counts_towards_quarantine as counts;

    #[test]
    fn quarantine_failures_follow_the_provisioning_log_health_rule() {
        let user = "/scim/v2/{tenant}/Users/{id}";
        let users = "/scim/v2/{tenant}/Users";
        assert!(!counts(true, user, 200));
        assert!(!counts(false, users, 201));
        // A lookup of something gone, and a conflict, do not count.
        assert!(!counts(true, user, 404));
        assert!(!counts(false, users, 409));
        // A 404 on a list or on a write, a 400, a 429 and a 5xx do.
        assert!(counts(true, users, 404));
        assert!(counts(false, user, 404));
        assert!(counts(true, users, 400));
        assert!(counts(false, users, 429));
        assert!(counts(true, user, 503));
    }
}
