//! What a client is told about its budget: the `RateLimit-Policy` and
//! `RateLimit` fields of the IETF draft (draft-ietf-httpapi-ratelimit-headers,
//! structured fields, one policy named "tenant": every token of a tenant draws on it), `Retry-After` on 429, and
//! the SCIM error bodies of refused requests.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::gcra::Outcome;
use super::limiter::Limits;
use crate::error::ApiError;

/// Whole seconds, rounded up, never 0 for a positive duration.
fn seconds_up(micros: u64) -> u64 {
    micros.div_ceil(1_000_000)
}

fn insert(headers: &mut HeaderMap, name: &'static str, value: String) {
    if let Ok(v) = HeaderValue::from_str(&value) {
        headers.insert(name, v);
    }
}

/// Adds `RateLimit-Policy` and `RateLimit` to a response.
pub fn annotate(headers: &mut HeaderMap, limits: Limits, outcome: Outcome) {
    let window = u64::from(limits.burst.max(1)).div_ceil(u64::from(limits.rate_per_second.max(1)));
    insert(
        headers,
        "ratelimit-policy",
        format!("\"tenant\";q={};w={}", limits.burst.max(1), window.max(1)),
    );
    insert(
        headers,
        "ratelimit",
        format!(
            "\"tenant\";r={};t={}",
            outcome.remaining,
            seconds_up(outcome.reset)
        ),
    );
}

/// 429 for a token over its rate: `Retry-After` is when the next request
/// of the same kind will be allowed.
pub fn too_many_requests(limits: Limits, outcome: Outcome) -> Response {
    let wait = seconds_up(outcome.retry_after).max(1);
    let mut response = ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        None,
        format!(
            "this tenant is over its rate limit ({} requests per second, bursts of {}); retry after {wait} s",
            limits.rate_per_second, limits.burst
        ),
    )
    .into_response();
    let headers = response.headers_mut();
    insert(headers, header::RETRY_AFTER.as_str(), wait.to_string());
    annotate(headers, limits, outcome);
    response
}

/// 429 for a tenant with too many requests in flight at once.
pub fn too_many_in_flight() -> Response {
    let mut response = ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        None,
        "too many concurrent requests for this tenant; retry after 1 s",
    )
    .into_response();
    insert(
        response.headers_mut(),
        header::RETRY_AFTER.as_str(),
        "1".into(),
    );
    response
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn retry_after_rounds_up_and_headers_follow_the_draft() {
        let limits = Limits {
            rate_per_second: 2,
            burst: 4,
        };
        let outcome = Outcome {
            allowed: false,
            remaining: 0,
            retry_after: 400_000,
            reset: 2_100_000,
        };
        let r = too_many_requests(limits, outcome);
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(r.headers()["retry-after"], "1");
        assert_eq!(r.headers()["ratelimit-policy"], "\"tenant\";q=4;w=2");
        assert_eq!(r.headers()["ratelimit"], "\"tenant\";r=0;t=3");
    }
}
