//! The one error type of the CLI. Its `Display` is what the operator reads
//! after `error: `; a gRPC status shows as `<CODE>: <message>`.

use tonic::Code;

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// `--identity-url` or `--policy-url` is not a URL.
    #[error("invalid --{flag} {url:?}")]
    Url {
        flag: &'static str,
        url: String,
        #[source]
        source: tonic::transport::Error,
    },
    /// The identity or policy service could not be reached.
    #[error("UNAVAILABLE: cannot reach the {service} service at {url}")]
    Connect {
        service: &'static str,
        url: String,
        #[source]
        source: tonic::transport::Error,
    },
    /// `--ca`, `--cert` or `--key` could not be used.
    #[error("TLS: {0}")]
    Tls(String),
    /// The service answered with an error status.
    #[error("{}: {}", code_name(.0.code()), .0.message())]
    Status(tonic::Status),
    /// A response lacked a field the contract promises.
    #[error("INTERNAL: the service sent a response without {0}")]
    Missing(&'static str),
    /// The policy service closed the role-change stream (it is stopping).
    #[error("UNAVAILABLE: the policy service closed the role-change stream; resume with {resume}")]
    StreamEnded { resume: String },
    /// A stored SCIM document did not parse as a JSON object.
    #[error("INTERNAL: user {id} has a malformed SCIM document")]
    Document {
        id: String,
        #[source]
        source: serde_json::Error,
    },
    /// An input file could not be read.
    #[error("cannot read {path}")]
    Input {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// Output could not be written.
    #[error("cannot write output")]
    Io(#[from] std::io::Error),
}

// Not `#[from]`: that would make the status a `source`, repeated after the message.
impl From<tonic::Status> for CliError {
    fn from(status: tonic::Status) -> Self {
        Self::Status(status)
    }
}

/// The canonical gRPC name of a status code (as in the gRPC status code docs).
pub fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_status_reads_code_then_message() {
        let e = CliError::from(tonic::Status::not_found("tenant not found"));
        assert_eq!(e.to_string(), "NOT_FOUND: tenant not found");
        assert!(std::error::Error::source(&e).is_none());
    }
}
