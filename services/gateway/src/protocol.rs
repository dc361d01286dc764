//! Protocol settings: Bulk limits and cursor pagination. Flattened into
//! [`crate::Config`].

use std::path::PathBuf;

use secrecy::SecretString;

/// Default `bulk.maxOperations`.
pub const DEFAULT_BULK_MAX_OPERATIONS: u32 = 1000;
/// Default `bulk.maxPayloadSize`, in bytes.
pub const DEFAULT_BULK_MAX_PAYLOAD_BYTES: usize = 4 << 20;
/// Default `pagination.cursorTimeout`, in seconds.
pub const DEFAULT_CURSOR_TIMEOUT_SECONDS: u64 = 3600;

fn secret(s: &str) -> Result<SecretString, std::convert::Infallible> {
    Ok(SecretString::from(s))
}

#[derive(Debug, Clone, clap::Args)]
pub struct ProtocolConfig {
    /// Most operations in one Bulk request (413 above).
    #[arg(long, env = "BULK_MAX_OPERATIONS", default_value_t = DEFAULT_BULK_MAX_OPERATIONS)]
    pub bulk_max_operations: u32,
    /// Largest Bulk request body in bytes (413 above).
    #[arg(long, env = "BULK_MAX_PAYLOAD_BYTES", default_value_t = DEFAULT_BULK_MAX_PAYLOAD_BYTES)]
    pub bulk_max_payload_bytes: usize,
    /// Key that signs pagination cursors; give every replica the same one, or cursors fail
    /// (`invalidCursor`) on another replica and after a restart. At least 32 bytes (the gateway
    /// refuses to start with a shorter or empty one; `openssl rand -base64 32`). Never logged.
    #[arg(long, env = "CURSOR_SECRET", hide_env_values = true, value_parser = secret)]
    pub cursor_secret: Option<SecretString>,
    /// A file holding `CURSOR_SECRET` (a mounted Kubernetes secret).
    #[arg(long, env = "CURSOR_SECRET_FILE")]
    pub cursor_secret_file: Option<PathBuf>,
    /// How long a cursor stays valid (`expiredCursor` after).
    #[arg(long, env = "CURSOR_TIMEOUT_SECONDS", default_value_t = DEFAULT_CURSOR_TIMEOUT_SECONDS)]
    pub cursor_timeout_seconds: u64,
}

impl Default for ProtocolConfig {
    fn default() -> Self {
        Self {
            bulk_max_operations: DEFAULT_BULK_MAX_OPERATIONS,
            bulk_max_payload_bytes: DEFAULT_BULK_MAX_PAYLOAD_BYTES,
            cursor_secret: None,
            cursor_secret_file: None,
            cursor_timeout_seconds: DEFAULT_CURSOR_TIMEOUT_SECONDS,
        }
    }
}
