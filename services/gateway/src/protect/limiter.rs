//! The rate limiter the gateway asks: Redis when it is configured and
//! answers within its timeout, else the in-process GCRA at the same limits
//! (per replica). A Redis outage is logged once when it starts and once
//! when it ends, counted in metrics, and Redis is tried again every
//! [`RETRY_EVERY`] until it answers.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::gcra::{LocalGcra, Outcome, Params};
use super::redis::RedisGcra;

/// How often a replica on its fallback probes Redis again.
pub const RETRY_EVERY: Duration = Duration::from_secs(1);

/// Per-token limits in force for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Sustained requests per second (at least 1).
    pub rate_per_second: u32,
    /// Requests allowed at once (at least 1).
    pub burst: u32,
}

/// Which budget a request draws on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// Reads and ordinary writes: the burst.
    Ordinary,
    /// Deactivations and deletions: the burst plus a reserve of the same
    /// size that ordinary requests never reach, so a tenant's own read
    /// flood cannot delay them.
    Reserved,
}

impl Limits {
    /// The GCRA parameters of a request of `class` costing `cost` requests
    /// (at least 1, at most the burst, which a request could never exceed).
    pub fn params(self, class: Class, cost: u32) -> Params {
        let interval = (1_000_000 / u64::from(self.rate_per_second.max(1))).max(1);
        let window = u64::from(self.burst.max(1)) * interval;
        let tolerance = match class {
            Class::Ordinary => window,
            Class::Reserved => window * 2,
        };
        Params {
            interval,
            increment: interval * u64::from(cost.clamp(1, self.burst.max(1))),
            tolerance,
            window,
        }
    }
}

/// Where a decision was made (a metric label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Redis,
    Local,
}

/// The limiter: Redis with an in-process fallback.
pub struct RateLimiter {
    redis: Option<RedisGcra>,
    timeout: Duration,
    local: LocalGcra,
    redis_up: AtomicBool,
    /// Milliseconds since `start` before which Redis is not tried again.
    retry_at: AtomicU64,
    start: Instant,
}

impl RateLimiter {
    /// `redis`: None for the in-process limiter only. `timeout` bounds each
    /// Redis decision.
    pub fn new(redis: Option<RedisGcra>, timeout: Duration) -> Self {
        metrics::gauge!("gateway_rate_limit_redis_up").set(if redis.is_some() { 1.0 } else { 0.0 });
        Self {
            redis,
            timeout,
            local: LocalGcra::default(),
            redis_up: AtomicBool::new(true),
            retry_at: AtomicU64::new(0),
            start: Instant::now(),
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// True when this request should ask Redis: it is healthy, or it is
    /// time for a probe and this request won the right to make it.
    fn should_try_redis(&self) -> bool {
        if self.redis_up.load(Ordering::Acquire) {
            return true;
        }
        let now = self.now_ms();
        let due = self.retry_at.load(Ordering::Acquire);
        now >= due
            && self
                .retry_at
                .compare_exchange(
                    due,
                    now + millis(RETRY_EVERY),
                    Ordering::AcqRel,
                    Ordering::Acquire,
                )
                .is_ok()
    }

    /// Decides one request of `cost` against `bucket` (a token id).
    pub async fn decide(
        &self,
        bucket: &str,
        limits: Limits,
        class: Class,
        cost: u32,
    ) -> (Outcome, Backend) {
        self.run(bucket, limits, class, cost, true).await
    }

    /// What [`Self::decide`] would answer now, changing nothing: a request
    /// refused here is refused by `decide` too, so the gateway can refuse
    /// it before reading its body.
    pub async fn peek(
        &self,
        bucket: &str,
        limits: Limits,
        class: Class,
        cost: u32,
    ) -> (Outcome, Backend) {
        self.run(bucket, limits, class, cost, false).await
    }

    /// Decides one request against `bucket` with GCRA parameters of its
    /// own (the keepalive probes' allowance, see [`Self::decide`]).
    pub async fn decide_params(&self, bucket: &str, params: Params) -> (Outcome, Backend) {
        self.run_params(bucket, params, true).await
    }

    async fn run(
        &self,
        bucket: &str,
        limits: Limits,
        class: Class,
        cost: u32,
        commit: bool,
    ) -> (Outcome, Backend) {
        self.run_params(bucket, limits.params(class, cost), commit)
            .await
    }

    async fn run_params(&self, bucket: &str, params: Params, commit: bool) -> (Outcome, Backend) {
        if let Some(redis) = &self.redis
            && self.should_try_redis()
        {
            match tokio::time::timeout(self.timeout, redis.decide(bucket, params, commit)).await {
                Ok(Ok(outcome)) => {
                    if !self.redis_up.swap(true, Ordering::AcqRel) {
                        tracing::info!(
                            "Redis answers again: rate limits are shared across replicas"
                        );
                        metrics::gauge!("gateway_rate_limit_redis_up").set(1.0);
                    }
                    return (outcome, Backend::Redis);
                }
                Ok(Err(error)) => self.redis_failed(&error.to_string()),
                Err(_) => self.redis_failed("no answer within the timeout"),
            }
        }
        if self.redis.is_some() {
            metrics::counter!("gateway_rate_limit_fallback_decisions_total").increment(1);
        }
        let outcome = if commit {
            self.local.decide(bucket, params)
        } else {
            self.local.peek(bucket, params)
        };
        (outcome, Backend::Local)
    }

    fn redis_failed(&self, error: &str) {
        self.retry_at
            .store(self.now_ms() + millis(RETRY_EVERY), Ordering::Release);
        if self.redis_up.swap(false, Ordering::AcqRel) {
            tracing::warn!(
                %error,
                "Redis unavailable: rate limiting in-process per replica until it answers again"
            );
            metrics::gauge!("gateway_rate_limit_redis_up").set(0.0);
            metrics::counter!("gateway_rate_limit_redis_outages_total").increment(1);
        }
    }

    /// For readiness: None without Redis, else whether it answers a PING
    /// within the decision timeout right now.
    pub async fn redis_answers(&self) -> Option<bool> {
        let redis = self.redis.as_ref()?;
        Some(matches!(
            tokio::time::timeout(self.timeout, redis.ping()).await,
            Ok(Ok(()))
        ))
    }

    /// True while decisions are made in Redis (false without Redis).
    pub fn redis_up(&self) -> bool {
        self.redis.is_some() && self.redis_up.load(Ordering::Acquire)
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
