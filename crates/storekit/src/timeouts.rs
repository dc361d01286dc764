//! Statement and lock timeouts of every Postgres connection, and how to
//! tell the errors they raise.
//!
//! Both are set per connection, by the pools' `after_connect`, with `SET`
//! statements (session level, so every transaction on the connection runs
//! under them). Not through the URL's `options=-c …`: the URL is the
//! operator's (`DATABASE_URL`, which may carry options and a password of
//! its own) and would have to be rewritten, while `after_connect` works
//! alike for sqlx's `Any` driver whatever the URL holds, and is where the
//! SQLite pools already set their pragmas. (Neither survives a pooler in
//! transaction mode; connect to Postgres or a session-mode pooler.)

/// `statement_timeout` by default, in milliseconds.
pub const DEFAULT_STATEMENT_TIMEOUT_MS: u64 = 5000;
/// `lock_timeout` by default, in milliseconds.
pub const DEFAULT_LOCK_TIMEOUT_MS: u64 = 2000;

/// The `SET` statements of a new connection (0 disables a timeout).
pub fn session_sql(statement_timeout_ms: u64, lock_timeout_ms: u64) -> String {
    format!("SET statement_timeout = {statement_timeout_ms}; SET lock_timeout = {lock_timeout_ms}")
}

/// Which timeout cancelled a statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timeout {
    /// SQLSTATE 57014 (`query_canceled`): the statement ran past
    /// `statement_timeout` (or was cancelled).
    Statement,
    /// SQLSTATE 55P03 (`lock_not_available`): a lock was not granted within
    /// `lock_timeout`.
    Lock,
    /// SQLite's `SQLITE_BUSY`: the database stayed locked by another
    /// connection's write for all of `busy_timeout`.
    Busy,
}

/// The statement timeout of this process's store, for the message of a
/// cancelled statement (set when the store connects).
static STATEMENT_TIMEOUT_MS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Records the statement timeout the store connected with.
pub fn set_statement_timeout_ms(ms: u64) {
    STATEMENT_TIMEOUT_MS.store(ms, std::sync::atomic::Ordering::Relaxed);
}

/// The gRPC status of a timed-out or busy database (logged here), or
/// `None` when `error` is something else. No storage text reaches it.
pub fn timeout_status(error: &sqlx::Error) -> Option<tonic::Status> {
    Some(match timeout_of(error)? {
        Timeout::Statement => {
            let ms = STATEMENT_TIMEOUT_MS.load(std::sync::atomic::Ordering::Relaxed);
            tracing::warn!(error = %error, timeout_ms = ms, "database statement timed out");
            tonic::Status::deadline_exceeded(format!(
                "the database statement took longer than {ms} ms"
            ))
        }
        Timeout::Lock => {
            tracing::warn!(error = %error, "database lock timed out");
            tonic::Status::unavailable("the tenant's data is locked by another write; retry")
        }
        Timeout::Busy => {
            tracing::warn!(error = %error, "database busy");
            tonic::Status::unavailable("the database is locked by another write; retry")
        }
    })
}

/// The timeout behind `error`, if one is.
pub fn timeout_of(error: &sqlx::Error) -> Option<Timeout> {
    let sqlx::Error::Database(db) = error else {
        return None;
    };
    let code = db.code()?;
    match code.as_ref() {
        "57014" => Some(Timeout::Statement),
        "55P03" => Some(Timeout::Lock),
        // SQLite's (extended) result codes, never five characters as a
        // SQLSTATE is, keep the primary code in the low byte.
        other if other.len() < 5 => match other.parse::<u32>() {
            Ok(n) if n & 0xff == 5 => Some(Timeout::Busy),
            _ => None,
        },
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_are_both_in_one_batch() {
        assert_eq!(
            session_sql(5000, 0),
            "SET statement_timeout = 5000; SET lock_timeout = 0"
        );
        assert_eq!(timeout_of(&sqlx::Error::PoolTimedOut), None);
    }
}
