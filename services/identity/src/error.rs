//! The identity service's errors and their one mapping to gRPC statuses.
//!
//! A SCIM validation error travels as `INVALID_ARGUMENT` with a
//! `google.rpc.ErrorInfo` whose `reason` is the RFC 7644 `scimType`, so the
//! gateway can render the exact SCIM error without parsing messages.

use std::collections::HashMap;

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

/// `ErrorInfo.domain` of every error this service details.
pub const ERROR_DOMAIN: &str = "identity.v1";
/// `ErrorInfo.reason` of a stale `if_version`.
pub const REASON_VERSION_MISMATCH: &str = "VERSION_MISMATCH";
/// `ErrorInfo.reason` of a `userName` taken in the tenant.
pub const REASON_UNIQUENESS: &str = "uniqueness";
/// `ErrorInfo.reason` of a create refused by a tenant quota
/// (`RESOURCE_EXHAUSTED`); its metadata names the `quota` and `limit`.
pub const REASON_QUOTA_EXCEEDED: &str = proto::REASON_QUOTA_EXCEEDED;
/// `ErrorInfo.reason` of a change-stream cursor older than the retained
/// range (`OUT_OF_RANGE`); its metadata names the `tenant_id` and the
/// `first_retained_seq`.
pub const REASON_CHANGES_PRUNED: &str = proto::REASON_CHANGES_PRUNED;

#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error(transparent)]
    Scim(#[from] scim::ScimError),
    #[error("{0}")]
    InvalidArgument(String),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("userName is already in use in this tenant")]
    UserNameTaken,
    #[error("tenant already exists")]
    TenantExists,
    #[error("the resource has changed (version {current})")]
    VersionMismatch { current: i64 },
    #[error("unknown, revoked or expired token")]
    Unauthenticated,
    #[error("unknown, used or expired console link")]
    ConsoleLinkInvalid,
    #[error("issuing a chosen token secret is disabled on this server")]
    ChosenSecretRefused,
    #[error(
        "tenant quota exceeded: this tenant already has its quota of {limit} {kind}; \
         delete some or ask the platform operator to raise the quota"
    )]
    QuotaExceeded { kind: &'static str, limit: u64 },
    #[error(
        "tenant {tenant}: position {cursor} is older than the retained change stream \
         (first retained position {first}); resynchronise the tenant from Snapshot \
         and continue from its as_of_seq"
    )]
    ChangesPruned {
        tenant: String,
        cursor: i64,
        first: i64,
    },
    #[error("random number generator unavailable")]
    Random(#[from] getrandom::Error),
    #[error("storage failure")]
    Storage(#[source] sqlx::Error),
}

impl From<sqlx::Error> for IdentityError {
    fn from(e: sqlx::Error) -> Self {
        Self::Storage(e)
    }
}

fn detailed(code: Code, message: String, reason: &str) -> Status {
    Status::with_error_details(
        code,
        message,
        ErrorDetails::with_error_info(reason, ERROR_DOMAIN, HashMap::<String, String>::new()),
    )
}

impl From<IdentityError> for Status {
    fn from(e: IdentityError) -> Self {
        match e {
            IdentityError::Scim(s) => {
                let code = match s.status {
                    404 => Code::NotFound,
                    409 => Code::AlreadyExists,
                    412 => Code::FailedPrecondition,
                    413 => Code::OutOfRange,
                    _ => Code::InvalidArgument,
                };
                match s.scim_type {
                    Some(t) => detailed(code, s.detail, t.as_str()),
                    None => Status::new(code, s.detail),
                }
            }
            IdentityError::InvalidArgument(m) => Status::invalid_argument(m),
            e @ IdentityError::NotFound(_) => Status::not_found(e.to_string()),
            e @ IdentityError::UserNameTaken => {
                detailed(Code::AlreadyExists, e.to_string(), REASON_UNIQUENESS)
            }
            e @ IdentityError::TenantExists => Status::already_exists(e.to_string()),
            e @ IdentityError::VersionMismatch { .. } => detailed(
                Code::FailedPrecondition,
                e.to_string(),
                REASON_VERSION_MISMATCH,
            ),
            e @ IdentityError::Unauthenticated => Status::unauthenticated(e.to_string()),
            e @ IdentityError::ConsoleLinkInvalid => Status::unauthenticated(e.to_string()),
            e @ IdentityError::ChosenSecretRefused => Status::permission_denied(e.to_string()),
            IdentityError::QuotaExceeded { kind, limit } => {
                let message = e.to_string();
                let metadata = HashMap::from([
                    ("quota".to_owned(), format!("{kind}_per_tenant")),
                    ("limit".to_owned(), limit.to_string()),
                ]);
                Status::with_error_details(
                    Code::ResourceExhausted,
                    message,
                    ErrorDetails::with_error_info(REASON_QUOTA_EXCEEDED, ERROR_DOMAIN, metadata),
                )
            }
            IdentityError::ChangesPruned {
                ref tenant, first, ..
            } => {
                let metadata = HashMap::from([
                    ("tenant_id".to_owned(), tenant.clone()),
                    ("first_retained_seq".to_owned(), first.to_string()),
                ]);
                Status::with_error_details(
                    Code::OutOfRange,
                    e.to_string(),
                    ErrorDetails::with_error_info(REASON_CHANGES_PRUNED, ERROR_DOMAIN, metadata),
                )
            }
            e @ IdentityError::Random(_) => {
                tracing::error!(error = ?e, "random source failed");
                Status::unavailable(e.to_string())
            }
            IdentityError::Storage(source) => storekit::errors::storage_status(&source),
        }
    }
}
