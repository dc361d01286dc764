//! Sessions without server state, but with an end: after a console link is
//! redeemed, the browser holds a cookie
//! `console_session=<tenant>.<epoch>.<expires>.<seen>.<csrf>.<mac>`, where
//! `mac` is HMAC-SHA256 over the other five under the session key.
//!
//! - `tenant` is the one tenant the session may see.
//! - `epoch` is the tenant's console session epoch when the session
//!   started (kept by identity, see [`crate::epochs`]); once the tenant's
//!   epoch moves on ("Sign out everywhere"), every cookie of an older one,
//!   copies included, is refused.
//! - `expires` (Unix seconds) is the absolute end, the link's redemption
//!   plus `CONSOLE_SESSION_TTL_SECONDS`, however busy the session.
//! - `seen` (Unix seconds) is the last use the cookie records: a session
//!   unused for `CONSOLE_SESSION_IDLE_SECONDS` ends. A request re-issues
//!   the cookie with a new `seen` once the old one is
//!   [`SessionKeys::refresh_interval`] old (at most once a minute), so an
//!   active session stays alive without a `Set-Cookie` on every page.
//! - `csrf` is a random secret that every form repeats in a hidden field
//!   (checked by [`crate::guard`]).
//!
//! The cookie is `Secure; HttpOnly; SameSite=Strict` with a `Max-Age` of
//! the time left until `expires`.

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

/// The longest time between two re-issues of an active session's cookie.
pub const MAX_REFRESH_INTERVAL_SECONDS: u64 = 60;

/// A session whose signature, expiry and idle time held (its epoch is
/// checked by [`AppState::session`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub tenant: String,
    /// The tenant's console session epoch the session started under.
    pub epoch: u64,
    /// The absolute end (Unix seconds).
    pub expires: u64,
    /// The last use the cookie records (Unix seconds).
    pub seen: u64,
    pub csrf: String,
}

/// Signs and verifies session cookies.
#[derive(Clone)]
pub struct SessionKeys {
    key: Arc<[u8]>,
    ttl_seconds: u64,
    idle_seconds: u64,
}

pub fn now_seconds() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl SessionKeys {
    /// Keys for sessions of `ttl_seconds` at most that end after
    /// `idle_seconds` unused.
    pub fn new(key: Vec<u8>, ttl_seconds: u64, idle_seconds: u64) -> Self {
        Self {
            key: key.into(),
            ttl_seconds,
            idle_seconds,
        }
    }

    pub fn ttl_seconds(&self) -> u64 {
        self.ttl_seconds
    }

    /// How old `seen` may grow before a request re-issues the cookie: a
    /// quarter of the idle timeout, between 1 s and a minute.
    pub fn refresh_interval(&self) -> u64 {
        (self.idle_seconds / 4).clamp(1, MAX_REFRESH_INTERVAL_SECONDS)
    }

    fn mac(&self, payload: &str) -> Hmac<Sha256> {
        // HMAC accepts keys of any length: this cannot fail.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.key)
            .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
        // v2: the format with epoch and last use (v1 cookies are refused).
        mac.update(b"console-session-v2\n");
        mac.update(payload.as_bytes());
        mac
    }

    /// A new session for `tenant` under `epoch`, with a fresh CSRF secret.
    pub fn start(&self, tenant: &str, epoch: u64, now: u64) -> Result<Session, getrandom::Error> {
        let mut csrf = [0u8; 32];
        getrandom::fill(&mut csrf)?;
        Ok(Session {
            tenant: tenant.to_owned(),
            epoch,
            expires: now + self.ttl_seconds,
            seen: now,
            csrf: URL_SAFE_NO_PAD.encode(csrf),
        })
    }

    /// The cookie value of `session`.
    pub fn encode(&self, session: &Session) -> String {
        let Session {
            tenant,
            epoch,
            expires,
            seen,
            csrf,
        } = session;
        let payload = format!("{tenant}.{epoch}.{expires}.{seen}.{csrf}");
        let tag = URL_SAFE_NO_PAD.encode(self.mac(&payload).finalize().into_bytes());
        format!("{payload}.{tag}")
    }

    /// The session in a cookie value, if its signature holds, it has not
    /// expired and it was used within the idle timeout.
    pub fn decode(&self, value: &str, now: u64) -> Option<Session> {
        let (payload, tag) = value.rsplit_once('.')?;
        let tag = URL_SAFE_NO_PAD.decode(tag).ok()?;
        self.mac(payload).verify_slice(&tag).ok()?;
        let mut parts = payload.split('.');
        let tenant = parts.next()?;
        let epoch: u64 = parts.next()?.parse().ok()?;
        let expires: u64 = parts.next()?.parse().ok()?;
        let seen: u64 = parts.next()?.parse().ok()?;
        let csrf = parts.next()?;
        if parts.next().is_some() || expires <= now || seen.saturating_add(self.idle_seconds) <= now
        {
            return None;
        }
        Some(Session {
            tenant: tenant.to_owned(),
            epoch,
            expires,
            seen,
            csrf: csrf.to_owned(),
        })
    }

    /// True when a request at `now` should re-issue the cookie with a new
    /// last use.
    pub fn refresh_due(&self, session: &Session, now: u64) -> bool {
        now >= session.seen.saturating_add(self.refresh_interval()) && now < session.expires
    }

    /// The `Set-Cookie` value that stores `session` until its absolute end.
    pub fn set_cookie(&self, session: &Session, now: u64) -> String {
        format!(
            "{COOKIE}={}; Path=/; Max-Age={}; Secure; HttpOnly; SameSite=Strict",
            self.encode(session),
            session.expires.saturating_sub(now)
        )
    }

    /// The `Set-Cookie` value that ends a session in the browser.
    pub fn clear_cookie() -> String {
        format!("{COOKIE}=; Path=/; Max-Age=0; Secure; HttpOnly; SameSite=Strict")
    }

    /// The session a request's cookie holds, if one is valid at `now`
    /// (its epoch unchecked).
    pub fn from_headers(&self, headers: &HeaderMap, now: u64) -> Option<Session> {
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

    /// The same session, last used at `now`.
    pub fn seen_at(&self, now: u64) -> Self {
        Self {
            seen: now,
            ..self.clone()
        }
    }
}

impl AppState {
    /// The request's session if its cookie is valid and its epoch is still
    /// the tenant's; `Ok(None)` when there is none. An error only when
    /// identity cannot tell the epoch (the request fails closed).
    pub async fn session(&self, headers: &HeaderMap) -> Result<Option<Session>, PageError> {
        let Some(session) = self.sessions.from_headers(headers, now_seconds()) else {
            return Ok(None);
        };
        let current = self
            .epochs
            .current(&mut self.identity.clone(), &session.tenant)
            .await?;
        Ok((current == Some(session.epoch)).then_some(session))
    }
}

/// The session [`crate::guard::session_gate`] admitted; handlers behind it
/// take it as an argument.
impl FromRequestParts<AppState> for Session {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self, PageError> {
        parts
            .extensions
            .get::<Session>()
            .cloned()
            .ok_or(PageError::NoSession)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_800_000_000;

    fn keys() -> SessionKeys {
        SessionKeys::new(b"0123456789abcdef0123456789abcdef".to_vec(), 600, 120)
    }

    fn session(k: &SessionKeys) -> Session {
        k.start("acme", 7, NOW).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn a_signed_session_round_trips_with_its_epoch() {
        let k = keys();
        let s = session(&k);
        let v = k.encode(&s);
        assert!(
            v.starts_with(&format!("acme.7.{}.{NOW}.", NOW + 600)),
            "{v}"
        );
        assert_eq!(k.decode(&v, NOW), Some(s.clone()));
        assert_eq!(s.epoch, 7);
    }

    #[test]
    fn tampering_expiry_or_another_key_is_refused() {
        let k = keys();
        let s = session(&k);
        let v = k.encode(&s);
        assert_eq!(k.decode(&v.replacen("acme", "evil", 1), NOW), None);
        // Another epoch, expiry or last use fails the signature.
        assert_eq!(k.decode(&v.replacen("acme.7.", "acme.8.", 1), NOW), None);
        let later = format!(".{}.", NOW + 600);
        assert_eq!(
            k.decode(&v.replacen(&later, &format!(".{}.", NOW + 9000), 1), NOW),
            None
        );
        let seen = format!(".{NOW}.");
        assert_eq!(
            k.decode(&v.replacen(&seen, &format!(".{}.", NOW + 100), 1), NOW),
            None
        );
        assert_eq!(k.decode(&v, s.expires), None);
        let other = SessionKeys::new(b"another key of thirty-two bytes!!".to_vec(), 600, 120);
        assert_eq!(other.decode(&v, NOW), None);
        assert_eq!(k.decode("acme.1.x", NOW), None);
    }

    #[test]
    fn the_old_format_is_refused() {
        let k = keys();
        // `<tenant>.<expiry>.<csrf>.<mac>` signed like the first version.
        let payload = format!("acme.{}.c", NOW + 600);
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(b"0123456789abcdef0123456789abcdef")
            .unwrap_or_else(|e| panic!("{e}"));
        mac.update(b"console-session-v1\n");
        mac.update(payload.as_bytes());
        let tag = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
        assert_eq!(k.decode(&format!("{payload}.{tag}"), NOW), None);
    }

    #[test]
    fn an_unused_session_ends_after_the_idle_time() {
        let k = keys();
        let s = session(&k);
        let v = k.encode(&s);
        assert!(k.decode(&v, NOW + 119).is_some());
        assert_eq!(k.decode(&v, NOW + 120), None);
        // Refreshed, it lives on, but never past its absolute end.
        let refreshed = k.encode(&s.seen_at(NOW + 100));
        assert!(k.decode(&refreshed, NOW + 200).is_some());
        let late = k.encode(&s.seen_at(NOW + 590));
        assert_eq!(k.decode(&late, NOW + 600), None);
    }

    #[test]
    fn the_cookie_is_reissued_at_most_once_a_refresh_interval() {
        let k = keys();
        assert_eq!(k.refresh_interval(), 30);
        let s = session(&k);
        assert!(!k.refresh_due(&s, NOW + 29));
        assert!(k.refresh_due(&s, NOW + 30));
        assert!(!k.refresh_due(&s.seen_at(NOW + 30), NOW + 59));
        assert!(
            !k.refresh_due(&s, s.expires),
            "an ended session is not renewed"
        );
        let long = SessionKeys::new(vec![0; 32], 86_400, 3600);
        assert_eq!(long.refresh_interval(), MAX_REFRESH_INTERVAL_SECONDS);
        let short = SessionKeys::new(vec![0; 32], 600, 2);
        assert_eq!(short.refresh_interval(), 1);
        let cookie = k.set_cookie(&s, NOW + 100);
        assert!(cookie.contains("Max-Age=500;"), "{cookie}");
    }

    #[test]
    fn csrf_compares_exactly() {
        let s = session(&keys());
        assert!(s.csrf_matches(&s.csrf.clone()));
        assert!(!s.csrf_matches(""));
        assert!(!s.csrf_matches(&format!("{}x", s.csrf)));
    }
}
