//! Guessing tokens is throttled per client address before identity is
//! asked. A token's checksum is public, so well-formed random tokens pass
//! every local check and would each cost identity a database read; an
//! address (an IPv6 /64, an IPv4 address) that has presented more than
//! its budget of rejected tokens gets 429 for tokens the gateway does not
//! already know, without a call to identity.
//!
//! Tokens that authenticated recently are still checked for such an
//! address: IdPs send from shared egress ranges (every Entra ID tenant's
//! provisioning comes from the same addresses), so one tenant's wrong
//! token must not lock out another tenant behind the same address. The
//! budget is per gateway replica (in process).

use std::net::IpAddr;
use std::time::Duration;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::gcra::{LocalGcra, Params};
use crate::error::ApiError;

/// Rejected tokens an address may present per minute, sustained.
pub const DEFAULT_PER_MINUTE: u32 = 30;
/// Rejected tokens an address may present at once.
pub const DEFAULT_BURST: u32 = 30;

/// Per-address budgets of rejected tokens.
pub struct AuthFailures {
    gcra: LocalGcra,
    params: Params,
}

impl AuthFailures {
    /// `per_minute` sustained failures (at least 1) with bursts of `burst`.
    pub fn new(per_minute: u32, burst: u32) -> Self {
        let interval = 60_000_000 / u64::from(per_minute.max(1));
        let window = interval * u64::from(burst.max(1));
        Self {
            gcra: LocalGcra::default(),
            params: Params {
                interval,
                increment: interval,
                tolerance: window,
                window,
            },
        }
    }

    /// The key of an address: IPv6 addresses by their /64, which one
    /// client typically holds whole.
    fn key(ip: IpAddr) -> String {
        match ip {
            IpAddr::V4(v4) => v4.to_string(),
            IpAddr::V6(v6) => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        }
    }

    /// None when `ip` may present another unknown token; else how long
    /// until it may.
    pub fn wait(&self, ip: IpAddr) -> Option<Duration> {
        let outcome = self.gcra.peek(&Self::key(ip), self.params);
        (!outcome.allowed).then(|| Duration::from_micros(outcome.retry_after))
    }

    /// Counts a rejected token from `ip`.
    pub fn failed(&self, ip: IpAddr) {
        // At the limit the failure is already refused; nothing more to count.
        let _ = self.gcra.decide(&Self::key(ip), self.params);
    }
}

/// 429 for an address over its budget of rejected tokens.
pub fn refused(wait: Duration) -> Response {
    metrics::counter!("gateway_auth_failure_throttled_total").increment(1);
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    let seconds = seconds.max(1);
    let mut response = ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        None,
        format!("too many rejected bearer tokens from this address; retry after {seconds} s"),
    )
    .into_response();
    if let Ok(v) = HeaderValue::from_str(&seconds.to_string()) {
        response.headers_mut().insert(header::RETRY_AFTER, v);
    }
    response
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn an_address_over_its_budget_waits_and_others_do_not() {
        let f = AuthFailures::new(60, 3);
        let a: IpAddr = "203.0.113.9".parse().unwrap();
        let b: IpAddr = "203.0.113.10".parse().unwrap();
        for _ in 0..3 {
            assert_eq!(f.wait(a), None);
            f.failed(a);
        }
        let wait = f.wait(a).unwrap();
        assert!(wait <= Duration::from_secs(1), "{wait:?}");
        assert_eq!(f.wait(b), None);
    }

    #[test]
    fn an_ipv6_client_is_one_slash_64() {
        let f = AuthFailures::new(60, 1);
        f.failed("2001:db8:1:2::1".parse().unwrap());
        assert!(f.wait("2001:db8:1:2:ffff::9".parse().unwrap()).is_some());
        assert!(f.wait("2001:db8:1:3::1".parse().unwrap()).is_none());
    }

    #[test]
    fn the_refusal_says_when_to_retry() {
        let r = refused(Duration::from_millis(1500));
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(r.headers()["retry-after"], "2");
    }
}
