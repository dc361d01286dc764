//! RFC 9865 cursors: opaque strings a client cannot forge, read or carry to
//! another tenant or another query.
//!
//! A cursor is `base64url(payload) "." base64url(HMAC-SHA256(key, payload))`.
//! The payload holds the position (the keyset of a row: its sortBy value,
//! creation time and id, as identity reports it), the direction, an expiry,
//! and a hash binding the tenant, the resource type, the filter and the
//! sort; a cursor presented under any other binding is `invalidCursor`, one
//! past its expiry `expiredCursor`. Positions are keysets, not offsets, so
//! pages stay stable while other requests write.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use proto::identity::v1 as pb;
use scim::{ScimError, ScimType};
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::StartupError;
use crate::protocol::ProtocolConfig;

const VERSION: u64 = 1;

/// What a cursor is bound to: the caller's tenant and the query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding<'a> {
    pub tenant: &'a str,
    /// `Users` or `Groups`.
    pub resource: &'a str,
    /// Canonical filter, sortBy and sortOrder (as sent to identity).
    pub filter: &'a str,
    pub sort_by: &'a str,
    pub sort_order: i32,
}

impl Binding<'_> {
    fn digest(&self) -> String {
        let mut h = Sha256::new();
        for part in [self.tenant, self.resource, self.filter, self.sort_by] {
            h.update(part.as_bytes());
            h.update([0]);
        }
        h.update(self.sort_order.to_be_bytes());
        B64.encode(&h.finalize()[..16])
    }
}

/// The shortest `CURSOR_SECRET` accepted, in bytes.
pub const MIN_KEY_BYTES: usize = 32;

/// The signing key and the lifetime of cursors.
pub struct Cursors {
    key: Vec<u8>,
    timeout: Duration,
}

impl Cursors {
    /// The key from `CURSOR_SECRET`, `CURSOR_SECRET_FILE`, or random.
    pub fn from_config(config: &ProtocolConfig) -> Result<Self, StartupError> {
        let key = match (&config.cursor_secret, &config.cursor_secret_file) {
            (Some(secret), _) => secret.expose_secret().as_bytes().to_vec(),
            (None, Some(file)) => std::fs::read_to_string(file)
                .map_err(StartupError::CursorSecret)?
                .trim()
                .as_bytes()
                .to_vec(),
            (None, None) => {
                tracing::warn!(
                    "CURSOR_SECRET not set: pagination cursors are signed with a random key of this process"
                );
                let mut key = vec![0; 32];
                getrandom::fill(&mut key).map_err(|e| {
                    StartupError::CursorSecret(std::io::Error::other(e.to_string()))
                })?;
                key
            }
        };
        // An HMAC-SHA256 key shorter than its output is guessable offline
        // from one cursor; an empty one signs nothing.
        if key.len() < MIN_KEY_BYTES {
            return Err(StartupError::CursorSecretTooShort(MIN_KEY_BYTES));
        }
        Ok(Self::new(
            key,
            Duration::from_secs(config.cursor_timeout_seconds),
        ))
    }

    pub fn new(key: Vec<u8>, timeout: Duration) -> Self {
        Self { key, timeout }
    }

    /// The advertised `pagination.cursorTimeout`, in seconds.
    pub fn timeout_seconds(&self) -> u64 {
        self.timeout.as_secs()
    }

    /// A cursor for the rows after `key` (before it when `backwards`).
    pub fn seal(&self, binding: &Binding<'_>, key: &pb::ListKey, backwards: bool) -> String {
        let expires = now_secs().saturating_add(self.timeout.as_secs());
        let mut k = json!({"c": key.created_micros, "i": key.id});
        match &key.sort {
            Some(pb::list_key::Sort::SortText(t)) => k["t"] = t.clone().into(),
            Some(pb::list_key::Sort::SortInt(n)) => k["n"] = (*n).into(),
            None => {}
        }
        let payload =
            json!({"v": VERSION, "q": binding.digest(), "x": expires, "b": backwards, "k": k});
        let body = B64.encode(payload.to_string());
        let tag = B64.encode(hmac_sha256(&self.key, body.as_bytes()));
        format!("{body}.{tag}")
    }

    /// The keyset a cursor stands for; `invalidCursor` unless this server
    /// issued it for this binding, `expiredCursor` once it has expired.
    pub fn open(&self, binding: &Binding<'_>, cursor: &str) -> Result<pb::Keyset, ScimError> {
        self.open_at(binding, cursor, now_secs())
    }

    fn open_at(
        &self,
        binding: &Binding<'_>,
        cursor: &str,
        now: u64,
    ) -> Result<pb::Keyset, ScimError> {
        let invalid =
            || ScimError::of_type(ScimType::InvalidCursor, "the cursor is not valid here");
        let (body, tag) = cursor.trim().split_once('.').ok_or_else(invalid)?;
        let tag = B64.decode(tag).map_err(|_| invalid())?;
        if !constant_time_eq(&tag, &hmac_sha256(&self.key, body.as_bytes())) {
            return Err(invalid());
        }
        let payload: Value = B64
            .decode(body)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or_else(invalid)?;
        if payload["v"].as_u64() != Some(VERSION) || payload["q"] != binding.digest().as_str() {
            return Err(invalid());
        }
        if payload["x"].as_u64().is_none_or(|x| x < now) {
            return Err(ScimError::of_type(
                ScimType::ExpiredCursor,
                "the cursor has expired; start again without one",
            ));
        }
        let k = &payload["k"];
        let sort = match (k["t"].as_str(), k["n"].as_i64()) {
            (Some(t), _) => Some(pb::list_key::Sort::SortText(t.to_owned())),
            (None, Some(n)) => Some(pb::list_key::Sort::SortInt(n)),
            (None, None) => None,
        };
        Ok(pb::Keyset {
            after: Some(pb::ListKey {
                sort,
                created_micros: k["c"].as_i64().ok_or_else(invalid)?,
                id: k["i"].as_str().ok_or_else(invalid)?.to_owned(),
            }),
            backwards: payload["b"].as_bool().unwrap_or(false),
        })
    }
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// HMAC-SHA256 (RFC 2104).
fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    const BLOCK: usize = 64;
    let mut block = [0u8; BLOCK];
    if key.len() > BLOCK {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| block.map(|b| b ^ byte);
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(message)
        .finalize();
    Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize()
        .into()
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod key_tests {
    use super::*;
    use secrecy::SecretString;

    fn config(secret: &str) -> ProtocolConfig {
        ProtocolConfig {
            cursor_secret: Some(SecretString::from(secret)),
            ..ProtocolConfig::default()
        }
    }

    #[test]
    fn short_or_empty_secrets_are_refused() {
        for short in [String::new(), "short".into(), "k".repeat(31)] {
            assert!(matches!(
                Cursors::from_config(&config(&short)),
                Err(StartupError::CursorSecretTooShort(32))
            ));
        }
        assert!(Cursors::from_config(&config(&"k".repeat(32))).is_ok());
    }
}
