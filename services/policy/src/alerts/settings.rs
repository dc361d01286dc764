//! A tenant's alert settings: the webhook, its signing secret and the
//! digest schedule.

use super::egress::Egress;
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
        egress: &Egress,
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
            webhook_url: webhook_url_of(webhook_url, egress)?,
            secret,
            schedule: Schedule::parse(frequency, hour, time_zone)?,
        })
    }
}

/// A webhook URL to deliver to: `http(s)://host[:port]/path`, no
/// credentials, not a literal internal address (names are checked when
/// they are resolved, at every delivery).
fn webhook_url_of(url: &str, egress: &Egress) -> Result<String, PolicyError> {
    let parsed = reqwest::Url::parse(url)
        .ok()
        .filter(|u| url.len() <= MAX_URL && u.host_str().is_some() && u.username().is_empty());
    if let Some(ip) = parsed.as_ref().and_then(super::worker::literal_ip)
        && !egress.permits(ip)
    {
        return Err(PolicyError::InvalidArgument(format!(
            "webhook url points at {ip}, an internal address (loopback, private, \
             link-local, shared, unique-local, multicast or reserved); alerts are \
             delivered to public addresses only"
        )));
    }
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
        let local: Egress = "127.0.0.0/8".parse().unwrap();
        SettingsChange::parse(url, secret, generate, Frequency::Off, 0, "", &local)
    }

    fn public_only(url: &str) -> Result<SettingsChange, PolicyError> {
        SettingsChange::parse(url, "", false, Frequency::Off, 0, "", &Egress::default())
    }

    #[test]
    fn literal_internal_addresses_are_refused_unless_allowed() {
        for url in [
            "http://127.0.0.1:9/hook",
            "http://169.254.169.254/latest/meta-data/",
            "http://10.0.0.5/",
            "http://100.64.1.1/",
            "http://[::1]:8080/",
            "http://[::ffff:127.0.0.1]/",
            "http://[fd00::1]/",
            "http://[fe80::1]/",
            "http://0.0.0.0/",
            "http://2130706433/",
            "http://0x7f.1/",
        ] {
            let Err(PolicyError::InvalidArgument(why)) = public_only(url) else {
                panic!("{url} must be refused");
            };
            assert!(why.contains("internal address"), "{why}");
        }
        assert!(public_only("https://8.8.8.8/hook").is_ok());
        assert!(public_only("https://hooks.example.com/hook").is_ok());
        assert!(parse("http://127.0.0.1:9/hook", "", false).is_ok());
        assert!(parse("http://169.254.169.254/", "", false).is_err());
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
