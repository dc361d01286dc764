//! Hostile URLs and non-SCIM error answers: a percent-encoded path or query
//! that is not UTF-8 gets a 400 SCIM error before routing, and any 4xx/5xx
//! under `/scim/` that was not already a SCIM error body (an extractor's
//! rejection, the request timeout's 408) is rewritten into one.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use scim::ScimType;

use crate::error::ApiError;
use crate::response::SCIM_CONTENT_TYPE;

/// Decodes `%XX` escapes; a `%` not followed by two hex digits stays as it
/// is (as the query parser treats it).
fn percent_decode(s: &str) -> Vec<u8> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%')
            .then(|| bytes.get(i + 1..i + 3))
            .flatten()
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match escaped {
            Some(b) => {
                out.push(b);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    out
}

/// True when the text decodes to UTF-8 without NUL (`+` in queries is a
/// space, also fine). NUL is no part of any SCIM value, and Postgres text
/// cannot hold it.
fn decodes_to_utf8(s: &str) -> bool {
    String::from_utf8(percent_decode(s)).is_ok_and(|t| !t.contains('\0'))
}

/// 400 `invalidSyntax` for a URL whose path or query is not UTF-8 (or holds NUL).
pub async fn reject_bad_urls(request: Request, next: Next) -> Response {
    let uri = request.uri();
    if !decodes_to_utf8(uri.path()) || !uri.query().is_none_or(decodes_to_utf8) {
        return ApiError::new(
            StatusCode::BAD_REQUEST,
            Some(ScimType::InvalidSyntax),
            "the request URL is not valid percent-encoded UTF-8",
        )
        .into_response();
    }
    next.run(request).await
}

/// Every SCIM error answer carries a SCIM error body.
pub async fn scim_error_bodies(request: Request, next: Next) -> Response {
    let scim = request.uri().path().starts_with("/scim/");
    let response = next.run(request).await;
    let status = response.status();
    if !scim || !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let is_scim = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(SCIM_CONTENT_TYPE.as_bytes()));
    if is_scim {
        return response;
    }
    let (parts, _body): (_, Body) = response.into_parts();
    let (scim_type, detail) = match status {
        StatusCode::BAD_REQUEST => (Some(ScimType::InvalidSyntax), "the request is malformed"),
        StatusCode::REQUEST_TIMEOUT => (None, "the request took too long"),
        StatusCode::PAYLOAD_TOO_LARGE => (None, "request body is too large"),
        _ => (None, "the request could not be served"),
    };
    let mut rebuilt = ApiError::new(status, scim_type, detail).into_response();
    for (name, value) in &parts.headers {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            rebuilt.headers_mut().insert(name.clone(), value.clone());
        }
    }
    rebuilt
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_decoding_checks_utf8() {
        assert!(decodes_to_utf8("/scim/v2/t/Users/%C3%A9"));
        assert!(!decodes_to_utf8("/scim/v2/t/Users/%FF"));
        assert!(!decodes_to_utf8("filter=%C3"));
        assert!(decodes_to_utf8("odd=50%"));
        assert!(!decodes_to_utf8("filter=a%00b"));
    }
}
