//! Configuration: defaults, then environment variables, then flags, then
//! [`Config::validate`].

use std::net::SocketAddr;
use std::path::PathBuf;

use secrecy::{ExposeSecret, SecretString};

fn secret(s: &str) -> Result<SecretString, std::convert::Infallible> {
    Ok(SecretString::from(s))
}

/// The shortest session key accepted (bytes).
pub const MIN_KEY_BYTES: usize = 32;
/// `CONSOLE_SESSION_IDLE_SECONDS` by default: 15 minutes.
pub const DEFAULT_IDLE_SECONDS: u64 = 900;
/// `CONSOLE_SESSION_CHECK_SECONDS` by default.
pub const DEFAULT_CHECK_SECONDS: u64 = 5;
/// `CONSOLE_REQUEST_TIMEOUT_SECONDS` by default.
pub const DEFAULT_REQUEST_TIMEOUT_SECONDS: u64 = 30;
/// `CONSOLE_HEADER_READ_TIMEOUT_SECONDS` by default.
pub const DEFAULT_HEADER_READ_TIMEOUT_SECONDS: u64 = 10;

#[derive(Debug, Clone, clap::Args)]
pub struct Config {
    /// HTTP listen address of the console.
    #[arg(long, env = "CONSOLE_LISTEN", default_value = "0.0.0.0:8090")]
    pub listen: SocketAddr,
    /// gRPC address of the identity service.
    #[arg(long, env = "IDENTITY_URL", default_value = "http://127.0.0.1:50051")]
    pub identity_url: String,
    /// gRPC address of the policy service.
    #[arg(long, env = "POLICY_URL", default_value = "http://127.0.0.1:50052")]
    pub policy_url: String,
    /// The public base URL of the SCIM gateway; the Tenant URL shown is
    /// `<this>/scim/v2/<tenant>`.
    #[arg(long, env = "SCIM_PUBLIC_URL", default_value = "http://127.0.0.1:8080")]
    pub scim_public_url: String,
    /// The HMAC key that signs session cookies (at least 32 bytes). Every
    /// replica needs the same one; changing it ends every session.
    #[arg(long, env = "CONSOLE_SESSION_KEY", hide_env_values = true, value_parser = secret)]
    pub session_key: Option<SecretString>,
    /// A file holding `CONSOLE_SESSION_KEY` (a mounted Kubernetes secret).
    #[arg(long, env = "CONSOLE_SESSION_KEY_FILE")]
    pub session_key_file: Option<PathBuf>,
    /// How long a session lasts after the link was opened, however busy
    /// (its absolute lifetime).
    #[arg(long, env = "CONSOLE_SESSION_TTL_SECONDS", default_value_t = 3600)]
    pub session_ttl_seconds: u64,
    /// A session unused this long ends (1 to `CONSOLE_SESSION_TTL_SECONDS`); an active
    /// session's cookie is re-issued with a new last use at most once a minute.
    #[arg(long, env = "CONSOLE_SESSION_IDLE_SECONDS", default_value_t = DEFAULT_IDLE_SECONDS)]
    pub session_idle_seconds: u64,
    /// How long a replica trusts a tenant's session epoch it read from
    /// identity before asking again (0: on every request). "Sign out
    /// everywhere" reaches other replicas within this time.
    #[arg(long, env = "CONSOLE_SESSION_CHECK_SECONDS", default_value_t = DEFAULT_CHECK_SECONDS)]
    pub session_check_seconds: u64,
    /// The longest a request may take, its body included, before it is
    /// answered with an error page.
    #[arg(long, env = "CONSOLE_REQUEST_TIMEOUT_SECONDS", default_value_t = DEFAULT_REQUEST_TIMEOUT_SECONDS)]
    pub request_timeout_seconds: u64,
    /// The longest a client may take to send a request's headers before
    /// the connection is closed (slow clients holding connections open).
    #[arg(long, env = "CONSOLE_HEADER_READ_TIMEOUT_SECONDS", default_value_t = DEFAULT_HEADER_READ_TIMEOUT_SECONDS)]
    pub header_read_timeout_seconds: u64,
    /// The client certificate towards identity and policy and the internal
    /// CA (mutual TLS; plain gRPC without them).
    #[command(flatten)]
    pub tls: mtls::TlsSettings,
}

/// Why a configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("set CONSOLE_SESSION_KEY or CONSOLE_SESSION_KEY_FILE")]
    MissingKey,
    #[error("cannot read CONSOLE_SESSION_KEY_FILE")]
    KeyFile(#[source] std::io::Error),
    #[error("the session key needs at least {MIN_KEY_BYTES} bytes")]
    ShortKey,
    #[error("CONSOLE_SESSION_TTL_SECONDS must be between 60 and 86400")]
    Ttl,
    #[error("CONSOLE_SESSION_IDLE_SECONDS must be between 1 and CONSOLE_SESSION_TTL_SECONDS")]
    Idle,
    #[error("CONSOLE_SESSION_CHECK_SECONDS may be at most 60")]
    Check,
    #[error(
        "CONSOLE_REQUEST_TIMEOUT_SECONDS and CONSOLE_HEADER_READ_TIMEOUT_SECONDS must be between 1 and 3600"
    )]
    Timeout,
}

impl Config {
    /// The documented defaults with the given key, without reading the environment.
    pub fn with_key(key: SecretString) -> Self {
        Self {
            listen: SocketAddr::from(([0, 0, 0, 0], 8090)),
            identity_url: "http://127.0.0.1:50051".into(),
            policy_url: "http://127.0.0.1:50052".into(),
            scim_public_url: "http://127.0.0.1:8080".into(),
            session_key: Some(key),
            session_key_file: None,
            session_ttl_seconds: 3600,
            session_idle_seconds: DEFAULT_IDLE_SECONDS,
            session_check_seconds: DEFAULT_CHECK_SECONDS,
            request_timeout_seconds: DEFAULT_REQUEST_TIMEOUT_SECONDS,
            header_read_timeout_seconds: DEFAULT_HEADER_READ_TIMEOUT_SECONDS,
            tls: mtls::TlsSettings::default(),
        }
    }

    /// The session key, read from the file when one is named.
    pub fn key(&self) -> Result<Vec<u8>, ConfigError> {
        let key = match (&self.session_key_file, &self.session_key) {
            (Some(path), _) => std::fs::read_to_string(path)
                .map_err(ConfigError::KeyFile)?
                .trim_end()
                .as_bytes()
                .to_vec(),
            (None, Some(key)) => key.expose_secret().as_bytes().to_vec(),
            (None, None) => return Err(ConfigError::MissingKey),
        };
        if key.len() < MIN_KEY_BYTES {
            return Err(ConfigError::ShortKey);
        }
        Ok(key)
    }

    /// Refuses a missing or short key and settings out of their ranges.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.key()?;
        if !(60..=86_400).contains(&self.session_ttl_seconds) {
            return Err(ConfigError::Ttl);
        }
        if !(1..=self.session_ttl_seconds).contains(&self.session_idle_seconds) {
            return Err(ConfigError::Idle);
        }
        if self.session_check_seconds > 60 {
            return Err(ConfigError::Check);
        }
        for timeout in [
            self.request_timeout_seconds,
            self.header_read_timeout_seconds,
        ] {
            if !(1..=3600).contains(&timeout) {
                return Err(ConfigError::Timeout);
            }
        }
        Ok(())
    }
}
