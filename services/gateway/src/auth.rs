//! Bearer-token authentication: the answer of identity's `AuthenticateToken`
//! cached briefly per token (negative answers too, so that repeating a
//! wrong token costs no database work), and new guesses throttled per
//! client address ([`crate::protect::auth_failures`]). The tenant in the
//! URL must be the token's tenant.

use std::collections::HashMap;
use std::time::Duration;

use axum::extract::{FromRequestParts, Path};
use axum::http::header;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use moka::future::Cache;
use proto::identity::v1::{AuthenticateTokenRequest, AuthenticateTokenResponse};
use sha2::{Digest, Sha256};
use tonic::Code;

use crate::AppState;
use crate::error::ApiError;
use crate::protect::auth_failures;
use crate::protect::inbound::ClientAddr;

/// The caller of a SCIM request, once authenticated.
#[derive(Debug, Clone)]
pub struct Caller {
    pub tenant_id: String,
    pub token_id: String,
    /// The tenant's own rate (requests per second, all its tokens); 0 = default.
    pub rate_per_second: u32,
    /// The tenant's own burst; 0 = default.
    pub burst: u32,
    /// The tenant's IdP profile: which documented deviations its requests get.
    pub profile: scim::IdpProfile,
}

impl Caller {
    /// The behaviours of the caller's profile.
    pub fn behaviours(&self) -> scim::Behaviours {
        self.profile.behaviours()
    }
}

/// How long a token that authenticated stays known (see
/// [`auth_failures`]: known tokens are checked even for a throttled address).
const KNOWN_FOR: Duration = Duration::from_secs(3600);

/// Remembered answers, keyed by the SHA-256 of the token (never the token).
#[derive(Clone)]
pub struct AuthCache {
    cache: Cache<[u8; 32], Option<Caller>>,
    /// Tokens that authenticated within [`KNOWN_FOR`].
    known: Cache<[u8; 32], ()>,
}

impl AuthCache {
    pub fn new(ttl: Duration) -> Self {
        Self {
            cache: Cache::builder()
                .max_capacity(100_000)
                .time_to_live(ttl)
                .build(),
            known: Cache::builder()
                .max_capacity(100_000)
                .time_to_live(KNOWN_FOR)
                .build(),
        }
    }
}

#[cfg(test)]
impl AuthCache {
    /// Answers `token` with `caller` without asking identity.
    pub(crate) async fn remember(&self, token: &str, caller: Caller) {
        let key: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        self.cache.insert(key, Some(caller)).await;
    }
}

fn bearer(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = Response;

    /// The caller the protection layer authenticated, else authenticates now.
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        if let Some(caller) = parts.extensions.get::<Caller>() {
            return Ok(caller.clone());
        }
        authenticate(parts, state).await
    }
}

/// Authenticates the bearer token of a request to `/scim/v2/{tenant}/…`:
/// the caller, or the response refusing it (401, or 429 for an address
/// over its budget of rejected tokens).
pub async fn authenticate(parts: &mut Parts, state: &AppState) -> Result<Caller, Response> {
    let refuse = |e: ApiError| e.into_response();
    let Path(params) = Path::<HashMap<String, String>>::from_request_parts(parts, state)
        .await
        .map_err(|_| refuse(ApiError::not_found()))?;
    let tenant = params
        .get("tenant")
        .ok_or_else(|| refuse(ApiError::not_found()))?;
    let token = bearer(parts).ok_or_else(|| refuse(ApiError::unauthorized()))?;
    let client = parts.extensions.get::<ClientAddr>().map(|c| c.0);
    let failures = &state.protection.auth_failures;
    let key: [u8; 32] = Sha256::digest(token.as_bytes()).into();
    let cached = state.auth.cache.get(&key).await;
    let caller = match cached {
        Some(answer) => answer,
        None => {
            // A token nobody here has seen, from an address that keeps
            // presenting wrong ones: not worth a database read.
            if let Some(ip) = client
                && let Some(wait) = failures.wait(ip)
                && !state.auth.known.contains_key(&key)
            {
                tracing::info!(client = %ip, "rejected-token budget spent; identity not asked");
                return Err(auth_failures::refused(wait));
            }
            let mut client = state.identity.clone();
            let answer = match client
                .authenticate_token(AuthenticateTokenRequest {
                    secret: token.to_owned(),
                })
                .await
            {
                Ok(r) => {
                    let AuthenticateTokenResponse {
                        tenant_id,
                        token_id,
                        limits,
                        profile,
                    } = r.into_inner();
                    let limits = limits.unwrap_or_default();
                    Some(Caller {
                        tenant_id,
                        token_id,
                        rate_per_second: limits.rate_per_second,
                        burst: limits.burst,
                        profile: profile_from(profile),
                    })
                }
                Err(s) if s.code() == Code::Unauthenticated => None,
                Err(s) => return Err(refuse(s.into())),
            };
            state.auth.cache.insert(key, answer.clone()).await;
            if answer.is_some() {
                state.auth.known.insert(key, ()).await;
            }
            answer
        }
    };
    let rejected = match caller {
        Some(c) if &c.tenant_id == tenant => return Ok(c),
        Some(_) => {
            tracing::warn!(tenant = %tenant, "token used on another tenant's URL");
            ApiError::unauthorized()
        }
        None => ApiError::unauthorized(),
    };
    if let Some(ip) = client {
        failures.failed(ip);
    }
    Err(refuse(rejected))
}

/// The profile identity sent (UNSPECIFIED, from an identity without
/// profiles, is the default).
fn profile_from(p: i32) -> scim::IdpProfile {
    use proto::identity::v1::IdpProfile as P;
    match P::try_from(p) {
        Ok(P::Okta) => scim::IdpProfile::Okta,
        Ok(P::Generic) => scim::IdpProfile::Generic,
        Ok(P::Entra | P::Unspecified) | Err(_) => scim::IdpProfile::Entra,
    }
}
