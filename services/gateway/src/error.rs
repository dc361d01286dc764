//! The gateway's one error type, rendered as a SCIM error body
//! (RFC 7644 §3.12), and the one table from gRPC status to HTTP status.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use scim::{ScimError, ScimType};
use tonic::Code;
use tonic_types::StatusExt;

use crate::response::SCIM_CONTENT_TYPE;

/// `Retry-After` of a 503.
pub const RETRY_UNAVAILABLE_SECONDS: &str = "1";

/// A SCIM error on its way to the client.
#[derive(Debug, Clone)]
pub struct ApiError(pub ScimError);

/// Marks a 5xx response whose detail the request-id layer completes.
#[derive(Debug, Clone, Copy)]
pub struct ServerFault;

impl ApiError {
    pub fn new(status: StatusCode, scim_type: Option<ScimType>, detail: impl Into<String>) -> Self {
        Self(ScimError::new(status.as_u16(), scim_type, detail.into()))
    }

    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            None,
            "missing, unknown or revoked bearer token",
        )
    }

    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, None, "resource not found")
    }

    pub fn internal() -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, None, "internal error")
    }

    pub fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.0.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

impl From<ScimError> for ApiError {
    fn from(e: ScimError) -> Self {
        Self(e)
    }
}

/// The resource a successful upstream answer must carry.
pub fn required<T>(resource: Option<T>) -> Result<T, ApiError> {
    resource.ok_or_else(|| {
        tracing::error!(
            kind = std::any::type_name::<T>(),
            "upstream answered without its resource"
        );
        ApiError::internal()
    })
}

/// The SCIM error document as the current request's tenant gets it: with
/// the rule that fired under the diagnostic extension, or (a profile
/// without it, or no tenant known yet) RFC 7644 §3.12's body with a
/// profile rule named at the end of `detail`.
pub fn error_body(error: &ScimError) -> serde_json::Value {
    let extension =
        crate::provlog::current_profile().is_some_and(|p| p.behaviours().diagnostic_extension);
    if extension {
        return error_body_with_diagnostic(error);
    }
    let mut body = plain_error_body(error);
    if let Some(d) = &error.diagnostic {
        let at = if d.attribute.is_empty() {
            String::new()
        } else {
            format!(" at {}", d.attribute)
        };
        body["detail"] = format!("{} (rule {}{at})", error.detail, d.rule).into();
    }
    body
}

/// The error document with the diagnostic extension.
pub fn error_body_with_diagnostic(error: &ScimError) -> serde_json::Value {
    let mut body = plain_error_body(error);
    // The rule that fired, and the attribute path it concerns.
    body[scim::error::DIAGNOSTIC_SCHEMA] = error.diagnostic().to_json();
    body
}

/// RFC 7644 §3.12's error document.
fn plain_error_body(error: &ScimError) -> serde_json::Value {
    let mut body = serde_json::json!({
        "schemas": [scim::schema::ERROR_SCHEMA],
        "status": error.status.to_string(),
    });
    if let Some(t) = error.scim_type {
        body["scimType"] = t.as_str().into();
    }
    body["detail"] = error.detail.clone().into();
    body
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let mut response = (status, error_body(&self.0).to_string()).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(SCIM_CONTENT_TYPE),
        );
        if status == StatusCode::UNAUTHORIZED {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"SCIM\""),
            );
        }
        // Every 503 is worth a retry soon: lock waits and outages are short.
        if status == StatusCode::SERVICE_UNAVAILABLE {
            headers.insert(
                header::RETRY_AFTER,
                HeaderValue::from_static(RETRY_UNAVAILABLE_SECONDS),
            );
        }
        if status.is_server_error() && status != StatusCode::NOT_IMPLEMENTED {
            response.extensions_mut().insert(ServerFault);
        }
        response.extensions_mut().insert(crate::provlog::ErrorNote {
            scim_type: self.0.scim_type.map(ScimType::as_str),
            rule: self.0.diagnostic.clone(),
            detail: self.0.detail,
        });
        response
    }
}

/// Maps a status from identity (the only service the gateway calls). 4xx
/// messages from identity are written for clients; any other message stays
/// in the logs.
impl From<tonic::Status> for ApiError {
    fn from(s: tonic::Status) -> Self {
        let reason = s.get_details_error_info().map(|info| info.reason);
        let message = s.message().to_owned();
        match s.code() {
            Code::InvalidArgument => {
                let t = reason
                    .as_deref()
                    .and_then(ScimType::parse)
                    .unwrap_or(ScimType::InvalidValue);
                Self::new(StatusCode::BAD_REQUEST, Some(t), message)
            }
            Code::NotFound => Self::not_found(),
            Code::AlreadyExists => {
                Self::new(StatusCode::CONFLICT, Some(ScimType::Uniqueness), message)
            }
            Code::FailedPrecondition => Self::new(
                StatusCode::PRECONDITION_FAILED,
                None,
                "the resource has changed since the version in If-Match",
            ),
            Code::OutOfRange => Self::new(StatusCode::PAYLOAD_TOO_LARGE, None, message),
            Code::Unauthenticated => Self::unauthorized(),
            Code::PermissionDenied => Self::new(StatusCode::FORBIDDEN, None, message),
            // A tenant at a quota: 403, a 4xx the IdP does not retry on its
            // own (429 and 5xx it does, forever), with the quota named.
            // Any other RESOURCE_EXHAUSTED (a message past a size limit)
            // stays a 429.
            Code::ResourceExhausted if reason.as_deref() == Some(proto::REASON_QUOTA_EXCEEDED) => {
                Self::new(StatusCode::FORBIDDEN, None, message)
            }
            Code::ResourceExhausted => {
                Self::new(StatusCode::TOO_MANY_REQUESTS, None, "too many requests")
            }
            // identity's database is locked by another write (lock
            // timeout) or unreachable: worth a retry, which Retry-After says.
            Code::Unavailable => {
                tracing::warn!(code = ?s.code(), %message, "upstream unavailable");
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    None,
                    "service temporarily unavailable",
                )
            }
            // A statement ran past its timeout, or the call past its deadline.
            Code::DeadlineExceeded => {
                tracing::warn!(code = ?s.code(), %message, "upstream deadline exceeded");
                Self::new(
                    StatusCode::GATEWAY_TIMEOUT,
                    None,
                    "the request took longer than the service allows",
                )
            }
            Code::Ok
            | Code::Cancelled
            | Code::Unknown
            | Code::Aborted
            | Code::Unimplemented
            | Code::Internal
            | Code::DataLoss => {
                tracing::error!(code = ?s.code(), %message, "upstream failure");
                Self::internal()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn body_has_string_status_and_scim_type() {
        let e = ApiError::new(StatusCode::CONFLICT, Some(ScimType::Uniqueness), "taken");
        let body = error_body(&e.0);
        assert_eq!(body["status"], "409");
        assert_eq!(body["scimType"], "uniqueness");
        assert_eq!(
            body["schemas"][0],
            "urn:ietf:params:scim:api:messages:2.0:Error"
        );
    }

    #[test]
    fn internal_status_text_is_not_shown() {
        let e = ApiError::from(tonic::Status::internal("relation users does not exist"));
        assert_eq!(e.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!e.0.detail.contains("relation"));
    }

    #[test]
    fn database_timeouts_are_504_and_503_with_retry_after() {
        let e = ApiError::from(tonic::Status::deadline_exceeded(
            "the database statement took longer than 5000 ms",
        ));
        assert_eq!(e.status(), StatusCode::GATEWAY_TIMEOUT);
        let e = ApiError::from(tonic::Status::unavailable(
            "the tenant's data is locked by another write; retry",
        ));
        assert_eq!(e.status(), StatusCode::SERVICE_UNAVAILABLE);
        let response = e.into_response();
        assert_eq!(response.headers()["retry-after"], "1");
    }

    #[test]
    fn a_quota_is_403_with_its_message_and_other_exhaustion_429() {
        let quota = tonic::Status::with_error_details(
            Code::ResourceExhausted,
            "tenant quota exceeded: this tenant already has its quota of 5 users",
            tonic_types::ErrorDetails::with_error_info(
                proto::REASON_QUOTA_EXCEEDED,
                "identity.v1",
                std::collections::HashMap::<String, String>::new(),
            ),
        );
        let e = ApiError::from(quota);
        assert_eq!(e.status(), StatusCode::FORBIDDEN);
        assert!(e.0.detail.contains("quota of 5 users"), "{}", e.0.detail);
        let other = ApiError::from(tonic::Status::resource_exhausted("message too large"));
        assert_eq!(other.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(other.0.detail, "too many requests");
    }

    #[test]
    fn invalid_argument_keeps_the_scim_type_from_error_info() {
        let status = tonic::Status::with_error_details(
            Code::InvalidArgument,
            "bad filter",
            tonic_types::ErrorDetails::with_error_info(
                "invalidFilter",
                "identity.v1",
                std::collections::HashMap::<String, String>::new(),
            ),
        );
        let e = ApiError::from(status);
        assert_eq!(e.0.scim_type, Some(ScimType::InvalidFilter));
        assert_eq!(e.status(), StatusCode::BAD_REQUEST);
    }
}
