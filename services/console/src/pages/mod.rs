//! The console's pages, one module per section. Every handler takes the
//! [`Session`] and calls services with the session's tenant only: ids that
//! come from the browser (tokens, groups, users) are always looked up within
//! that tenant, so another tenant's ids are "not found".

mod log;
mod report;
mod roles;
mod setup;
mod users;

use axum::Router;
use axum::extract::{FromRequest, Request};
use axum::routing::{get, post};
use serde::de::DeserializeOwned;

use crate::AppState;
use crate::error::PageError;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/setup", get(setup::show))
        .route("/setup/tokens", post(setup::issue))
        .route("/setup/profile", post(setup::set_profile))
        .route("/setup/tokens/{id}/revoke", post(setup::revoke))
        .route("/setup/tokens/{id}/rotate", post(setup::rotate))
        .route("/roles", get(roles::show))
        .route("/roles/preview", post(roles::preview))
        .route("/roles/apply", post(roles::apply))
        .route("/users", get(users::list))
        .route("/users/{id}", get(users::detail))
        .route("/users/{id}/lock", post(users::lock))
        .route("/users/{id}/unlock", post(users::unlock))
        .route("/log", get(log::show))
        .route("/report", get(report::show))
        .route("/report.csv", get(report::csv))
        .route("/report/alerts", post(report::save_alerts))
        .route("/report/alerts/test", post(report::test_alert))
}

/// A urlencoded form; a malformed one is a page error, not a bare 4xx.
pub struct PageForm<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequest<S> for PageForm<T> {
    type Rejection = PageError;

    async fn from_request(req: Request, state: &S) -> Result<Self, PageError> {
        axum::Form::<T>::from_request(req, state)
            .await
            .map(|axum::Form(v)| Self(v))
            .map_err(|e| PageError::BadRequest(format!("The form could not be read: {e}")))
    }
}

/// A query string; a malformed one is a page error.
pub struct PageQuery<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> axum::extract::FromRequestParts<S>
    for PageQuery<T>
{
    type Rejection = PageError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, PageError> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(v)| Self(v))
            .map_err(|_| PageError::BadRequest("The address has a malformed query.".into()))
    }
}

/// An id from a URL or form: identity's and policy's ids are short and plain.
pub fn plain_id(id: &str, what: &'static str) -> Result<String, PageError> {
    let ok = !id.is_empty()
        && id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(id.to_owned())
    } else {
        Err(PageError::NotFound(what))
    }
}

/// A line of text typed into a form: trimmed, at most `max` characters,
/// no control characters (a NUL, for one, cannot be stored).
pub fn text(value: &str, what: &str, max: usize) -> Result<String, PageError> {
    let value = value.trim();
    if value.chars().count() > max {
        return Err(PageError::BadRequest(format!(
            "{what} may have at most {max} characters."
        )));
    }
    if value.chars().any(char::is_control) {
        return Err(PageError::BadRequest(format!(
            "{what} may not contain control characters."
        )));
    }
    Ok(value.to_owned())
}

/// A SCIM filter string literal (RFC 7644 §3.4.2.2: JSON string rules).
pub fn scim_string(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_text_is_trimmed_bounded_and_printable() {
        assert_eq!(text("  Entra  ", "x", 10).ok().as_deref(), Some("Entra"));
        assert!(text("a\u{0}b", "x", 10).is_err());
        assert!(text("line\nbreak", "x", 20).is_err());
        assert!(text(&"é".repeat(11), "x", 10).is_err());
        assert_eq!(scim_string("a\"b\\"), "\"a\\\"b\\\\\"");
    }
}
