//! The gates requests pass. Every state-changing request (any method but
//! GET and HEAD) must come from this site (`Sec-Fetch-Site`, `Origin`):
//! [`guard`], on every route, the sign-in form included. Every page of a
//! tenant needs a session whose cookie is valid and whose epoch is still
//! the tenant's, and a state-changing request must also repeat the
//! session's CSRF secret in its form field `csrf`: [`session_gate`], on
//! those routes. Handlers behind them never see a request that failed any
//! of these. Also the security headers of every response.

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::AppState;
use crate::error::PageError;
use crate::session::{Session, now_seconds};

/// Largest form body accepted.
pub const MAX_FORM_BYTES: usize = 64 * 1024;

/// Only the console's own files; no inline script or style, no framing.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; \
     frame-ancestors 'none'; base-uri 'none'";

pub async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    for (name, value) in [
        ("content-security-policy", CONTENT_SECURITY_POLICY),
        ("x-frame-options", "DENY"),
        ("x-content-type-options", "nosniff"),
        // A console link's code never leaves the site through Referer.
        // (`no-referrer` would also make browsers send `Origin: null` on
        // the console's own form posts, which the gate refuses.)
        ("referrer-policy", "same-origin"),
        ("cross-origin-opener-policy", "same-origin"),
        ("cross-origin-resource-policy", "same-origin"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    headers
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    response
}

/// Refuses cross-site requests: `Sec-Fetch-Site` other than `same-origin`
/// (browsers send it), or an `Origin` whose host is not the request's host.
fn same_origin(headers: &HeaderMap) -> Result<(), PageError> {
    const REFUSED: &str = "Cross-site request refused: use the console's own pages.";
    if let Some(site) = headers.get("sec-fetch-site")
        && site.as_bytes() != b"same-origin"
    {
        return Err(PageError::Forbidden(REFUSED));
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let host = headers.get(header::HOST).map(HeaderValue::as_bytes);
        let origin_host = origin
            .to_str()
            .ok()
            .and_then(|o| o.split_once("://"))
            .map(|(_, h)| h.as_bytes());
        if origin_host.is_none() || origin_host != host {
            return Err(PageError::Forbidden(REFUSED));
        }
    }
    Ok(())
}

/// Refuses cross-site state-changing requests, on every route.
pub async fn guard(request: Request, next: Next) -> Response {
    if matches!(*request.method(), Method::GET | Method::HEAD) {
        return next.run(request).await;
    }
    match same_origin(request.headers()) {
        Ok(()) => next.run(request).await,
        Err(e) => e.into_response(),
    }
}

/// Admits requests with a live session (and, unless GET or HEAD, its CSRF
/// secret), hands the [`Session`] to the handler, and re-issues the cookie
/// with a new last use when it is due (unless the handler set a cookie of
/// its own, as signing out does).
pub async fn session_gate(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let (session, request) = match admit(&state, request).await {
        Ok(admitted) => admitted,
        Err(e) => return e.into_response(),
    };
    let mut response = next.run(request).await;
    let now = now_seconds();
    if state.sessions.refresh_due(&session, now)
        && !response.headers().contains_key(header::SET_COOKIE)
        && let Ok(cookie) =
            HeaderValue::from_str(&state.sessions.set_cookie(&session.seen_at(now), now))
    {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    response
}

async fn admit(state: &AppState, request: Request) -> Result<(Session, Request), PageError> {
    let (mut parts, body) = request.into_parts();
    let session = state
        .session(&parts.headers)
        .await?
        .ok_or(PageError::NoSession)?;
    let body = if matches!(parts.method, Method::GET | Method::HEAD) {
        body
    } else {
        Body::from(checked_form(&session, body).await?)
    };
    parts.extensions.insert(session.clone());
    Ok((session, Request::from_parts(parts, body)))
}

/// The form body, once its `csrf` field is the session's secret.
async fn checked_form(session: &Session, body: Body) -> Result<axum::body::Bytes, PageError> {
    let bytes = to_bytes(body, MAX_FORM_BYTES)
        .await
        .map_err(|_| PageError::BadRequest("The form is too large.".into()))?;
    let presented = form_urlencoded::parse(&bytes)
        .find(|(k, _)| k == "csrf")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    if !session.csrf_matches(&presented) {
        return Err(PageError::Forbidden(
            "The form's security token is missing or out of date. Reload the page and try again.",
        ));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn only_same_origin_requests_pass() {
        assert!(same_origin(&headers(&[("host", "c.example")])).is_ok());
        assert!(
            same_origin(&headers(&[
                ("host", "c.example"),
                ("origin", "https://c.example"),
                ("sec-fetch-site", "same-origin")
            ]))
            .is_ok()
        );
        assert!(same_origin(&headers(&[("sec-fetch-site", "cross-site")])).is_err());
        assert!(same_origin(&headers(&[("sec-fetch-site", "same-site")])).is_err());
        assert!(
            same_origin(&headers(&[
                ("host", "c.example"),
                ("origin", "https://evil.example")
            ]))
            .is_err()
        );
        assert!(same_origin(&headers(&[("host", "c.example"), ("origin", "null")])).is_err());
    }
}
