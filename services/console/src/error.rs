//! The console's one error type. Each error renders as a page that says what
//! happened and what to do; service and storage internals never reach it.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use tonic::Code;

use crate::layout;

#[derive(Debug, thiserror::Error)]
pub enum PageError {
    /// No valid session cookie: never signed in, expired or tampered with.
    #[error(
        "Your session has ended or this browser has none. Open a new console link from the product."
    )]
    NoSession,
    /// The console link was unknown, already used or expired.
    #[error(
        "This console link is invalid, has already been used or has expired. Ask the product for a new link."
    )]
    BadLink,
    /// A form without its CSRF token, or a request from another site.
    #[error("{0}")]
    Forbidden(&'static str),
    /// Input the console refuses before calling a service.
    #[error("{0}")]
    BadRequest(String),
    #[error("{0} was not found in this tenant.")]
    NotFound(&'static str),
    /// The request ran past `CONSOLE_REQUEST_TIMEOUT_SECONDS`.
    #[error("The request took too long and was stopped. Please try again.")]
    Timeout,
    /// A service's answer.
    #[error("{}", upstream_message(.0))]
    Upstream(tonic::Status),
}

/// True for a write refused by a tenant quota (identity's or policy's
/// `RESOURCE_EXHAUSTED` with reason `QUOTA_EXCEEDED`): not worth a retry.
fn is_quota(status: &tonic::Status) -> bool {
    use tonic_types::StatusExt;
    status.code() == Code::ResourceExhausted
        && status
            .get_details_error_info()
            .is_some_and(|info| info.reason == proto::REASON_QUOTA_EXCEEDED)
}

fn upstream_message(status: &tonic::Status) -> String {
    if is_quota(status) {
        return status.message().to_owned();
    }
    match status.code() {
        // Validation messages of identity and policy are written for clients.
        Code::InvalidArgument
        | Code::FailedPrecondition
        | Code::AlreadyExists
        | Code::OutOfRange => status.message().to_owned(),
        Code::NotFound => "That item does not exist in this tenant.".into(),
        Code::Unimplemented => "This feature is not available on this server yet.".into(),
        Code::Unavailable | Code::DeadlineExceeded | Code::ResourceExhausted => {
            "A service is unavailable at the moment; please try again shortly.".into()
        }
        Code::PermissionDenied | Code::Unauthenticated => "This action is not allowed.".into(),
        Code::Ok
        | Code::Cancelled
        | Code::Unknown
        | Code::Aborted
        | Code::Internal
        | Code::DataLoss => "Something went wrong on our side; please try again.".into(),
    }
}

impl From<tonic::Status> for PageError {
    fn from(status: tonic::Status) -> Self {
        Self::Upstream(status)
    }
}

impl PageError {
    pub fn status(&self) -> StatusCode {
        match self {
            Self::NoSession | Self::BadLink => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Timeout => StatusCode::SERVICE_UNAVAILABLE,
            Self::Upstream(s) if is_quota(s) => StatusCode::CONFLICT,
            Self::Upstream(s) => match s.code() {
                Code::InvalidArgument | Code::OutOfRange => StatusCode::BAD_REQUEST,
                Code::FailedPrecondition | Code::AlreadyExists | Code::Aborted => {
                    StatusCode::CONFLICT
                }
                Code::NotFound => StatusCode::NOT_FOUND,
                Code::Unimplemented => StatusCode::NOT_IMPLEMENTED,
                Code::Unavailable | Code::DeadlineExceeded | Code::ResourceExhausted => {
                    StatusCode::SERVICE_UNAVAILABLE
                }
                Code::PermissionDenied | Code::Unauthenticated => StatusCode::FORBIDDEN,
                Code::Ok | Code::Cancelled | Code::Unknown | Code::Internal | Code::DataLoss => {
                    StatusCode::BAD_GATEWAY
                }
            },
        }
    }

    /// True for errors that end the request outright (no page of the tenant
    /// is shown): missing session, CSRF, cross-site.
    pub fn is_access_error(&self) -> bool {
        matches!(self, Self::NoSession | Self::BadLink | Self::Forbidden(_))
    }

    fn log(&self) {
        if let Self::Upstream(s) = self {
            match s.code() {
                Code::Internal | Code::Unknown | Code::DataLoss => {
                    tracing::error!(code = ?s.code(), "service call failed");
                }
                _ => tracing::debug!(code = ?s.code(), "service refused"),
            }
        }
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        self.log();
        let status = self.status();
        (status, layout::error_page(status, &self.to_string())).into_response()
    }
}

#[cfg(test)]
mod tests {
    use tonic_types::StatusExt;

    use super::*;

    #[test]
    fn a_quota_refusal_shows_its_message_and_is_no_outage() {
        let quota = tonic::Status::with_error_details(
            Code::ResourceExhausted,
            "tenant quota exceeded: this tenant already has its quota of 1000 roles",
            tonic_types::ErrorDetails::with_error_info(
                proto::REASON_QUOTA_EXCEEDED,
                "policy.v1",
                std::collections::HashMap::<String, String>::new(),
            ),
        );
        let e = PageError::from(quota);
        assert_eq!(e.status(), StatusCode::CONFLICT);
        assert!(e.to_string().contains("quota of 1000 roles"));
        let other = PageError::from(tonic::Status::resource_exhausted("too large"));
        assert_eq!(other.status(), StatusCode::SERVICE_UNAVAILABLE);
    }
}
