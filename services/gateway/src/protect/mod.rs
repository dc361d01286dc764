//! Tenant protection at the SCIM edge, as one middleware on every SCIM
//! route: authenticate (wrong tokens throttled per client address),
//! classify (requests that only deactivate or delete draw on a reserved
//! share), rate-limit per tenant (Redis GCRA, in-process fallback; every
//! token of a tenant draws on the one budget),
//! take one of the tenant's concurrency slots, then run the handler and
//! report the budget in `RateLimit` headers. A request whose class or cost
//! depends on its body (user PATCH/PUT, Bulk) is checked against the
//! limit and takes its slot before its body is read: a token over its
//! limit, or a tenant out of slots, never makes the gateway read or parse.

pub mod auth_failures;
pub mod classify;
pub mod concurrency;
pub mod config;
pub mod gcra;
pub mod headers;
pub mod hygiene;
pub mod idle;
pub mod inbound;
pub mod keepalive;
pub mod limiter;
pub mod redis;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

use crate::AppState;
use crate::auth::{self, Caller};
use crate::error::ApiError;
pub use config::ProtectionConfig;
use limiter::{Class, Limits, RateLimiter};

/// What the protection middleware shares across requests.
pub struct Protection {
    /// None when rate limiting is off.
    pub limiter: Option<RateLimiter>,
    /// Per-tenant concurrency slots.
    pub slots: concurrency::TenantSlots,
    /// Limits of tenants without their own.
    pub default_limits: Limits,
    /// Per-address budgets of rejected tokens.
    pub auth_failures: auth_failures::AuthFailures,
    /// What is believed of a client's headers (address, request id, trace).
    pub inbound: Arc<inbound::Inbound>,
    /// The allowance of keepalive probes per tenant (see [`keepalive`]).
    pub keepalive: gcra::Params,
}

/// Protection could not be set up from its configuration.
#[derive(Debug, thiserror::Error)]
pub enum ProtectionError {
    #[error("cannot read REDIS_URL_FILE")]
    RedisUrlFile(#[source] std::io::Error),
    #[error("invalid REDIS_URL")]
    RedisUrl(#[source] ::redis::RedisError),
    #[error("invalid TRUSTED_PROXY_CIDRS: {0}")]
    TrustedProxies(String),
}

impl Protection {
    /// Builds the limiter and the slots; connects to Redis lazily.
    pub fn new(config: &ProtectionConfig) -> Result<Self, ProtectionError> {
        let urls = config.redis_urls().map_err(ProtectionError::RedisUrlFile)?;
        let limiter = if config.rate_limit_enabled {
            let redis = if urls.is_empty() {
                tracing::info!("no REDIS_URL: rate limiting in-process per replica");
                None
            } else {
                Some(
                    redis::RedisGcra::new(
                        &urls,
                        config.redis_cluster,
                        &config.rate_limit_key_prefix,
                        config.redis_timeout(),
                    )
                    .map_err(ProtectionError::RedisUrl)?,
                )
            };
            Some(RateLimiter::new(redis, config.redis_timeout()))
        } else {
            None
        };
        Ok(Self {
            limiter,
            slots: concurrency::TenantSlots::new(
                config.tenant_max_concurrency,
                config.queue_wait(),
            ),
            default_limits: Limits {
                rate_per_second: config.default_rate.max(1),
                burst: config.default_burst.max(1),
            },
            auth_failures: auth_failures::AuthFailures::new(
                config.auth_failures_per_minute,
                config.auth_failure_burst,
            ),
            inbound: Arc::new(inbound::Inbound {
                trusted_proxies: inbound::Inbound::parse_proxies(&config.trusted_proxy_cidrs)
                    .map_err(ProtectionError::TrustedProxies)?,
                trace_context_from_clients: config.trace_context_from_clients,
            }),
            keepalive: keepalive::params(
                config.keepalive_probes_per_minute,
                config.keepalive_probe_burst,
            ),
        })
    }

    /// The limits of a caller: its tenant's own, else the defaults.
    pub fn limits_for(&self, caller: &Caller) -> Limits {
        let or = |own: u32, default: u32| if own > 0 { own } else { default };
        Limits {
            rate_per_second: or(caller.rate_per_second, self.default_limits.rate_per_second),
            burst: or(caller.burst, self.default_limits.burst),
        }
    }
}

impl Protection {
    /// The most operations a Bulk request of `caller` may hold: the
    /// configured maximum, and with rate limiting on no more than the
    /// tenant's burst (a request costs one per operation, and a request
    /// costing more than the burst could only be admitted by not charging
    /// it in full). Advertised in the tenant's `/ServiceProviderConfig`.
    pub fn bulk_max_operations(&self, caller: &Caller, configured: u32) -> u32 {
        match self.limiter {
            Some(_) => configured.min(self.limits_for(caller).burst),
            None => configured,
        }
    }
}

/// True when reading a body failed because it exceeded the size limit.
fn over_limit(error: &axum::Error) -> bool {
    let mut source = std::error::Error::source(error);
    while let Some(e) = source {
        if e.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        source = e.source();
    }
    false
}

fn count_decision(allowed: bool, backend: limiter::Backend) {
    let result = if allowed { "allowed" } else { "limited" };
    let backend = match backend {
        limiter::Backend::Redis => "redis",
        limiter::Backend::Local => "local",
    };
    metrics::counter!("gateway_rate_limit_decisions_total", "result" => result, "backend" => backend)
        .increment(1);
}

/// The middleware on every SCIM route.
pub async fn protect(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let (mut parts, body) = request.into_parts();
    let caller = match auth::authenticate(&mut parts, &state).await {
        Ok(c) => c,
        Err(refusal) => return refusal,
    };
    // Every answer from here on goes to the caller's provisioning log.
    crate::provlog::attribute(&caller);
    let path = parts.uri.path().to_owned();
    let needs_body = classify::needs_body(&parts.method, &path);
    let protection = &state.protection;
    let limits = protection.limits_for(&caller);
    // Before any byte of the body: a request whose class depends on its
    // body may be a deactivation, so it is held to the reserved share's
    // limit at cost 1, the most any such request is allowed; refused there,
    // it would be refused whatever its body says.
    let provisional = if needs_body {
        Class::Reserved
    } else {
        classify::class(&parts.method, &path, None)
    };
    if needs_body && let Some(limiter) = &protection.limiter {
        let (outcome, backend) = limiter
            .peek(&caller.tenant_id, limits, provisional, 1)
            .await;
        if !outcome.allowed {
            count_decision(false, backend);
            tracing::info!(tenant = %caller.tenant_id, "rate limited before reading the body");
            return headers::too_many_requests(limits, outcome);
        }
    }
    let Some(slot) = protection
        .slots
        .acquire(&caller.tenant_id, provisional)
        .await
    else {
        metrics::counter!("gateway_tenant_concurrency_rejections_total").increment(1);
        return headers::too_many_in_flight();
    };
    let (body, class, cost) = if needs_body {
        let limit = if classify::is_bulk(&parts.method, &path) {
            state.protocol.bulk_max_payload_bytes
        } else {
            state.max_body_bytes
        };
        match axum::body::to_bytes(body, limit).await {
            Ok(bytes) => {
                let class = classify::class(&parts.method, &path, Some(&bytes));
                let mut cost = classify::cost(&parts.method, &path, Some(&bytes));
                // A Bulk request with more operations than the tenant may
                // send is refused by its handler (413, naming the maximum):
                // charged like any one request, so that the client hears
                // what to fix rather than a 429 it cannot wait out.
                let max =
                    protection.bulk_max_operations(&caller, state.protocol.bulk_max_operations);
                if cost > max {
                    cost = 1;
                }
                (Body::from(bytes), class, cost)
            }
            Err(e) if over_limit(&e) => {
                return ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    None,
                    "request body is too large",
                )
                .into_response();
            }
            Err(_) => {
                return ApiError::new(
                    StatusCode::BAD_REQUEST,
                    Some(scim::ScimType::InvalidSyntax),
                    "could not read the request body",
                )
                .into_response();
            }
        }
    } else {
        (body, provisional, 1)
    };
    let probe = keepalive::is_probe(&parts.method, &parts.uri);
    let from_allowance = match (&protection.limiter, probe) {
        (Some(limiter), true) => {
            let bucket = keepalive::bucket(&caller.tenant_id);
            let (outcome, _) = limiter.decide_params(&bucket, protection.keepalive).await;
            keepalive::count(outcome.allowed);
            outcome.allowed
        }
        _ => false,
    };
    let decision = match &protection.limiter {
        // Outside the tenant's budget: no `RateLimit` headers either.
        Some(_) if from_allowance => None,
        Some(limiter) => {
            let (outcome, backend) = limiter.decide(&caller.tenant_id, limits, class, cost).await;
            count_decision(outcome.allowed, backend);
            if !outcome.allowed {
                tracing::info!(tenant = %caller.tenant_id, reserved = class == Class::Reserved, "rate limited");
                return headers::too_many_requests(limits, outcome);
            }
            Some(outcome)
        }
        None => None,
    };
    // An ordinary request in a reserved slot takes an ordinary one instead.
    let Some(_slot) = protection
        .slots
        .settle(&caller.tenant_id, slot, class)
        .await
    else {
        metrics::counter!("gateway_tenant_concurrency_rejections_total").increment(1);
        return headers::too_many_in_flight();
    };
    parts.extensions.insert(caller);
    let mut response = next.run(Request::from_parts(parts, body)).await;
    if let Some(outcome) = decision {
        headers::annotate(response.headers_mut(), limits, outcome);
    }
    response
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn caller(rate_per_second: u32, burst: u32) -> Caller {
        Caller {
            tenant_id: "t".into(),
            token_id: "k".into(),
            rate_per_second,
            burst,
            profile: scim::IdpProfile::default(),
        }
    }

    #[test]
    fn a_tenant_limit_overrides_the_default_field_by_field() {
        let p = Protection::new(&ProtectionConfig::default()).unwrap();
        let d = p.default_limits;
        assert_eq!(p.limits_for(&caller(0, 0)), d);
        assert_eq!(
            p.limits_for(&caller(5, 0)),
            Limits {
                rate_per_second: 5,
                burst: d.burst
            }
        );
        assert_eq!(
            p.limits_for(&caller(0, 7)),
            Limits {
                rate_per_second: d.rate_per_second,
                burst: 7
            }
        );
    }

    #[test]
    fn a_bad_redis_url_is_a_startup_error() {
        let config = ProtectionConfig {
            redis_url: Some("not a url".into()),
            ..ProtectionConfig::default()
        };
        assert!(matches!(
            Protection::new(&config),
            Err(ProtectionError::RedisUrl(_))
        ));
    }
}
