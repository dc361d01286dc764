//! The policy service's errors and their one mapping to gRPC statuses.
//! Storage and upstream texts are logged, never sent to clients.

use std::collections::HashMap;

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

/// `ErrorInfo.domain` of the errors this service details.
pub const ERROR_DOMAIN: &str = "policy.v1";

fn detailed(
    code: Code,
    message: String,
    reason: &str,
    metadata: HashMap<String, String>,
) -> Status {
    Status::with_error_details(
        code,
        message,
        ErrorDetails::with_error_info(reason, ERROR_DOMAIN, metadata),
    )
}

#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("{0}")]
    InvalidArgument(String),
    /// A user, role or assignment the request names does not exist.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// A checkout names a user policy has never seen in identity's stream.
    #[error(
        "user '{0}' is not known: not provisioned through SCIM in this tenant, or not replicated to policy yet"
    )]
    UnknownHolder(String),
    #[error("a role with this name already exists in the tenant")]
    RoleExists,
    /// The role named by an assignment or the default role does not exist.
    #[error("role '{0}' does not exist in the tenant; create it first")]
    UnknownRole(String),
    /// The role cannot be deleted while something refers to it.
    #[error("the role is used by {0}")]
    RoleInUse(&'static str),
    #[error("the built-in role Disabled cannot be deleted or changed")]
    BuiltInRole,
    /// A tenant is at one of its fixed caps ([`crate::store::MAX_ROLES`],
    /// [`crate::store::MAX_ASSIGNMENTS`]).
    #[error("tenant quota exceeded: this tenant already has its quota of {limit} {kind}")]
    QuotaExceeded { kind: &'static str, limit: u64 },
    /// A `WatchRoleChanges` cursor below the tenant's retained role changes.
    #[error(
        "tenant {tenant}: position {cursor} is older than the retained role changes \
         (first retained position {first}); read the current roles (ListUsersByRole, \
         GetEffectiveRole) and watch again from_now"
    )]
    HistoryPruned {
        tenant: String,
        cursor: i64,
        first: i64,
    },
    /// identity could not be reached or refused a call (Reconcile).
    #[error("identity is unavailable")]
    Identity(#[source] Box<Status>),
    #[error("storage failure")]
    Storage(#[source] sqlx::Error),
}

impl From<sqlx::Error> for PolicyError {
    fn from(e: sqlx::Error) -> Self {
        Self::Storage(e)
    }
}

impl From<PolicyError> for Status {
    fn from(e: PolicyError) -> Self {
        match e {
            PolicyError::InvalidArgument(m) => Status::invalid_argument(m),
            e @ (PolicyError::NotFound(_) | PolicyError::UnknownHolder(_)) => {
                Status::not_found(e.to_string())
            }
            e @ PolicyError::RoleExists => Status::already_exists(e.to_string()),
            e @ (PolicyError::UnknownRole(_)
            | PolicyError::RoleInUse(_)
            | PolicyError::BuiltInRole) => Status::failed_precondition(e.to_string()),
            PolicyError::QuotaExceeded { kind, limit } => {
                let metadata = HashMap::from([
                    ("quota".to_owned(), format!("{kind}_per_tenant")),
                    ("limit".to_owned(), limit.to_string()),
                ]);
                detailed(
                    Code::ResourceExhausted,
                    e.to_string(),
                    proto::REASON_QUOTA_EXCEEDED,
                    metadata,
                )
            }
            PolicyError::HistoryPruned {
                ref tenant, first, ..
            } => {
                let metadata = HashMap::from([
                    ("tenant_id".to_owned(), tenant.clone()),
                    ("first_retained_seq".to_owned(), first.to_string()),
                ]);
                detailed(
                    Code::OutOfRange,
                    e.to_string(),
                    proto::REASON_CHANGES_PRUNED,
                    metadata,
                )
            }
            PolicyError::Identity(status) => {
                tracing::warn!(code = ?status.code(), message = status.message(), "identity call failed");
                Status::unavailable("identity is unavailable")
            }
            PolicyError::Storage(source) => storekit::errors::storage_status(&source),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_error_has_a_precise_code_and_no_storage_text() {
        let cases = [
            (
                PolicyError::InvalidArgument("x".into()),
                Code::InvalidArgument,
            ),
            (PolicyError::NotFound("user"), Code::NotFound),
            (PolicyError::UnknownHolder("u".into()), Code::NotFound),
            (PolicyError::RoleExists, Code::AlreadyExists),
            (
                PolicyError::UnknownRole("R".into()),
                Code::FailedPrecondition,
            ),
            (
                PolicyError::RoleInUse("an assignment"),
                Code::FailedPrecondition,
            ),
            (PolicyError::BuiltInRole, Code::FailedPrecondition),
            (
                PolicyError::QuotaExceeded {
                    kind: "roles",
                    limit: 1,
                },
                Code::ResourceExhausted,
            ),
            (
                PolicyError::HistoryPruned {
                    tenant: "acme".into(),
                    cursor: 1,
                    first: 9,
                },
                Code::OutOfRange,
            ),
            (
                PolicyError::Identity(Box::new(Status::internal("secret detail"))),
                Code::Unavailable,
            ),
            (
                PolicyError::Storage(sqlx::Error::Protocol("SELECT secret".into())),
                Code::Internal,
            ),
        ];
        for (error, code) in cases {
            let status = Status::from(error);
            assert_eq!(status.code(), code);
            assert!(!status.message().contains("secret"), "{}", status.message());
        }
    }
}
