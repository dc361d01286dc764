//! Storage errors as gRPC statuses, one mapping for both services. Storage
//! text never reaches a client (it may hold SQL or data): it is logged here,
//! and the status says only what the caller can act on.

/// The status of a failed database call: `DEADLINE_EXCEEDED` past the
/// statement timeout, `UNAVAILABLE` for a lock timeout, a busy SQLite file
/// or a database that cannot be reached, `INTERNAL` for anything else.
pub fn storage_status(source: &sqlx::Error) -> tonic::Status {
    if let Some(status) = crate::timeouts::timeout_status(source) {
        return status;
    }
    match source {
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
            tracing::warn!(error = %source, "database unavailable");
            tonic::Status::unavailable("database unavailable")
        }
        _ => {
            tracing::error!(error = %source, "database error");
            tonic::Status::internal("internal storage error")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storage_text_stays_out_of_the_status() {
        let status = storage_status(&sqlx::Error::Protocol("SELECT secret FROM t".into()));
        assert_eq!(status.code(), tonic::Code::Internal);
        assert!(!status.message().contains("secret"), "{}", status.message());
        let status = storage_status(&sqlx::Error::PoolTimedOut);
        assert_eq!(status.code(), tonic::Code::Unavailable);
    }
}
