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
