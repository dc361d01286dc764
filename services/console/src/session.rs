//! Sessions without server state: after a console link is redeemed, the
//! browser holds a cookie `console_session=<tenant>.<expiry>.<csrf>.<mac>`,
//! where `mac` is HMAC-SHA256 over the other three under the session key.
//! The cookie names the one tenant the session may see; `csrf` is a random
//! secret that every form repeats in a hidden field (checked by
//! [`crate::guard`]). The cookie is `Secure; HttpOnly; SameSite=Strict`
//! with a `Max-Age`, and the expiry inside it is checked on every request.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::FromRequestParts;
use axum::http::HeaderMap;
use axum::http::request::Parts;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::AppState;
use crate::error::PageError;

pub const COOKIE: &str = "console_session";

/// A verified session: one tenant, until `expires` (Unix seconds).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub tenant: String,
    pub expires: u64,
    pub csrf: String,
}

/// Signs and verifies session cookies.
#[derive(Clone)]
pub struct SessionKeys {
    key: Arc<[u8]>,
    ttl_seconds: u64,
}

pub fn now_seconds() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl SessionKeys {
    pub fn new(key: Vec<u8>, ttl_seconds: u64) -> Self {
        Self {
            key: key.into(),
            ttl_seconds,
        }
    }

    pub fn ttl_seconds(&self) -> u64 {
        self.ttl_seconds
    }

    fn mac(&self, payload: &str) -> Hmac<Sha256> {
        // HMAC accepts keys of any length: this cannot fail.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.key)
            .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
        mac.update(b"console-session-v1\n");
        mac.update(payload.as_bytes());
        mac
    }

    /// A new session for `tenant` with a fresh CSRF secret.
    pub fn start(&self, tenant: &str) -> Result<Session, getrandom::Error> {
        let mut csrf = [0u8; 32];
        getrandom::fill(&mut csrf)?;
        Ok(Session {
            tenant: tenant.to_owned(),
            expires: now_seconds() + self.ttl_seconds,
            csrf: URL_SAFE_NO_PAD.encode(csrf),
        })
    }

    /// The cookie value of `session`.
    pub fn encode(&self, session: &Session) -> String {
        let payload = format!("{}.{}.{}", session.tenant, session.expires, session.csrf);
        let tag = URL_SAFE_NO_PAD.encode(self.mac(&payload).finalize().into_bytes());
        format!("{payload}.{tag}")
    }

    /// The session in a cookie value, if its signature holds and it has not expired.
    pub fn decode(&self, value: &str, now: u64) -> Option<Session> {
        let (payload, tag) = value.rsplit_once('.')?;
        let tag = URL_SAFE_NO_PAD.decode(tag).ok()?;
        self.mac(payload).verify_slice(&tag).ok()?;
        let mut parts = payload.split('.');
        let (tenant, expires, csrf) = (parts.next()?, parts.next()?, parts.next()?);
        let expires: u64 = expires.parse().ok()?;
        if parts.next().is_some() || expires <= now {
            return None;
        }
        Some(Session {
            tenant: tenant.to_owned(),
            expires,
            csrf: csrf.to_owned(),
        })
    }

    /// The `Set-Cookie` value that starts `session`.
    pub fn set_cookie(&self, session: &Session) -> String {
        format!(
            "{COOKIE}={}; Path=/; Max-Age={}; Secure; HttpOnly; SameSite=Strict",
            self.encode(session),
            self.ttl_seconds
        )
    }

    /// The `Set-Cookie` value that ends a session in the browser.
    pub fn clear_cookie() -> String {
        format!("{COOKIE}=; Path=/; Max-Age=0; Secure; HttpOnly; SameSite=Strict")
    }

    /// The verified session of a request, if it carries one.
    pub fn from_headers(&self, headers: &HeaderMap) -> Option<Session> {
        let now = now_seconds();
        headers
            .get_all(axum::http::header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|c| c.trim().split_once('='))
            .filter(|(name, _)| *name == COOKIE)
            .find_map(|(_, value)| self.decode(value, now))
    }
}

impl Session {
    /// True when `presented` is this session's CSRF secret (constant time).
    pub fn csrf_matches(&self, presented: &str) -> bool {
        let (a, b) = (self.csrf.as_bytes(), presented.as_bytes());
        a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }
}

impl FromRequestParts<AppState> for Session {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, PageError> {
        state
            .sessions
            .from_headers(&parts.headers)
            .ok_or(PageError::NoSession)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> SessionKeys {
        SessionKeys::new(b"0123456789abcdef0123456789abcdef".to_vec(), 600)
    }

    #[test]
    fn a_signed_session_round_trips() {
        let k = keys();
        let s = k.start("acme").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(k.decode(&k.encode(&s), now_seconds()), Some(s));
    }

    #[test]
    fn tampering_expiry_or_another_key_is_refused() {
        let k = keys();
        let s = k.start("acme").unwrap_or_else(|e| panic!("{e}"));
        let v = k.encode(&s);
        assert_eq!(
            k.decode(&v.replacen("acme", "evil", 1), now_seconds()),
            None
        );
        assert_eq!(k.decode(&v, s.expires), None);
        let other = SessionKeys::new(b"another key of thirty-two bytes!!".to_vec(), 600);
        assert_eq!(other.decode(&v, now_seconds()), None);
        assert_eq!(k.decode("acme.1.x", now_seconds()), None);
    }

    #[test]
    fn csrf_compares_exactly() {
        let s = keys().start("acme").unwrap_or_else(|e| panic!("{e}"));
        assert!(s.csrf_matches(&s.csrf.clone()));
        assert!(!s.csrf_matches(""));
        assert!(!s.csrf_matches(&format!("{}x", s.csrf)));
    }
}
