//! Conditional requests (RFC 7232 as used by RFC 7644 §3.14): ETags are
//! `W/"<version>"`; `If-Match` is honoured on writes, never required.

use axum::http::HeaderMap;
use axum::http::header;

/// The version named by `If-Match`, if any. `*` and absence impose nothing;
/// a header naming no version of ours can never match (412).
pub fn if_match(headers: &HeaderMap) -> Option<i64> {
    let value = headers
        .get(header::IF_MATCH)?
        .to_str()
        .unwrap_or("\"?\"")
        .trim();
    if value == "*" {
        return None;
    }
    let first = value.split(',').next().unwrap_or_default().trim();
    let tag = first.strip_prefix("W/").unwrap_or(first).trim_matches('"');
    Some(tag.parse().unwrap_or(-1))
}

/// True when `If-None-Match` names the current ETag (GET answers 304).
pub fn if_none_match(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn with_if_match(v: &'static str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::IF_MATCH, HeaderValue::from_static(v));
        h
    }

    #[test]
    fn if_match_forms() {
        assert_eq!(if_match(&HeaderMap::new()), None);
        assert_eq!(if_match(&with_if_match("*")), None);
        assert_eq!(if_match(&with_if_match("W/\"3\"")), Some(3));
        assert_eq!(if_match(&with_if_match("\"7\"")), Some(7));
        assert_eq!(if_match(&with_if_match("\"abc\"")), Some(-1));
    }
}
