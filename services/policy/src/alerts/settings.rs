//! A tenant's alert settings: the webhook, its signing secret and the
//! digest schedule.

use super::schedule::{Frequency, Schedule};
use crate::domain::Micros;
use crate::error::PolicyError;

/// The shortest signing secret accepted.
const MIN_SECRET: usize = 16;
const MAX_URL: usize = 2048;

/// Stored alert settings (the secret included: it signs every delivery).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertSettings {
    pub tenant_id: String,
    pub webhook_url: String,
    pub secret: String,
    pub schedule: Schedule,
    /// The next digest, `None` when the digest is off.
    pub next_digest: Option<Micros>,
    pub updated: Micros,
}

/// What the administrator asks for; the secret is resolved by the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingsChange {
    pub webhook_url: String,
    pub secret: SecretChange,
    pub schedule: Schedule,
}

/// What happens to the signing secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretChange {
    /// Keep the stored one; generate one when none is stored.
    Keep,
    /// Use this one.
    Set(String),
    /// Generate a new one (rotation).
    Generate,
}

impl SettingsChange {
    /// Validates the request's fields; INVALID_ARGUMENT otherwise.
    pub fn parse(
        webhook_url: &str,
        secret: &str,
        generate: bool,
        frequency: Frequency,
        hour: u32,
        time_zone: &str,
    ) -> Result<Self, PolicyError> {
        let secret = match (secret, generate) {
            ("", false) => SecretChange::Keep,
            ("", true) => SecretChange::Generate,
            (_, true) => {
                return Err(PolicyError::InvalidArgument(
                    "give a signing secret or ask to generate one, not both".into(),
                ));
            }
            (s, false) if s.chars().count() < MIN_SECRET || s.chars().any(char::is_control) => {
                return Err(PolicyError::InvalidArgument(format!(
                    "the signing secret must be at least {MIN_SECRET} printable characters"
                )));
            }
            (s, false) => SecretChange::Set(s.to_owned()),
        };
        Ok(Self {
            webhook_url: webhook_url_of(webhook_url)?,
            secret,
            schedule: Schedule::parse(frequency, hour, time_zone)?,
        })
    }
}

/// A webhook URL to deliver to: `http(s)://host[:port]/path`, no credentials.
fn webhook_url_of(url: &str) -> Result<String, PolicyError> {
    let parsed = reqwest::Url::parse(url)
        .ok()
        .filter(|u| url.len() <= MAX_URL && u.host_str().is_some() && u.username().is_empty());
    match parsed {
        Some(u) if u.scheme() == "http" || u.scheme() == "https" => Ok(u.to_string()),
        _ => Err(PolicyError::InvalidArgument(
            "webhook url must be an absolute http:// or https:// URL without credentials".into(),
        )),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn parse(url: &str, secret: &str, generate: bool) -> Result<SettingsChange, PolicyError> {
        SettingsChange::parse(url, secret, generate, Frequency::Off, 0, "")
    }

    #[test]
    fn urls_and_secrets_are_checked() {
        assert!(parse("http://127.0.0.1:9/hook", "", false).is_ok());
        assert!(parse("ftp://x/", "", false).is_err());
        assert!(parse("not a url", "", false).is_err());
        assert!(parse("http://u:p@x/", "", false).is_err());
        assert!(parse("https://x/hook", "", false).is_ok());
        assert!(parse("http://x/", "short", false).is_err());
        assert!(parse("http://x/", "0123456789abcdef", true).is_err());
        assert_eq!(
            parse("http://x/", "0123456789abcdef", false)
                .unwrap()
                .secret,
            SecretChange::Set("0123456789abcdef".into())
        );
        assert_eq!(
            parse("http://x/", "", true).unwrap().secret,
            SecretChange::Generate
        );
    }
}
