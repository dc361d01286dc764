//! Alerts: a signed webhook per tenant. Events are written to an outbox in
//! the transaction of the change that causes them ([`events`]), delivered
//! at least once by the [`worker`] with exponential backoff and jitter, each
//! attempt signed ([`sign`]); a digest of the report is scheduled in the
//! tenant's time zone ([`schedule`]).

pub mod egress;
pub mod events;
pub mod schedule;
pub mod settings;
pub mod sign;
pub mod worker;

use std::time::Duration;

use crate::domain::{Micros, now_micros};

/// How deliveries are retried and how often the worker looks for work.
#[derive(Debug, Clone)]
pub struct AlertOptions {
    /// The first retry delay; it doubles per failed attempt up to `retry_max`.
    pub retry_base: Duration,
    /// The longest delay between two attempts.
    pub retry_max: Duration,
    /// An event still failing this long after it was queued is given up.
    pub give_up_after: Duration,
    /// How often the worker looks for due events and digests (it also wakes
    /// on every commit of this process).
    pub poll_interval: Duration,
    /// The timeout of one delivery request (connection, response and body).
    pub request_timeout: Duration,
    /// Which addresses webhooks may reach: public ones, and the internal
    /// ranges the operator allows.
    pub egress: egress::Egress,
}

impl Default for AlertOptions {
    fn default() -> Self {
        Self {
            retry_base: Duration::from_secs(10),
            retry_max: Duration::from_secs(3600),
            give_up_after: Duration::from_secs(26 * 3600),
            poll_interval: Duration::from_secs(5),
            request_timeout: Duration::from_secs(10),
            egress: egress::Egress::default(),
        }
    }
}

impl AlertOptions {
    /// How long a claimed event stays invisible to other workers: longer
    /// than a request may take, so a crash mid-delivery only delays it.
    pub fn lease(&self) -> Duration {
        self.request_timeout + Duration::from_secs(1)
    }

    /// The delay before attempt `failed + 1` after `failed` failures, with
    /// "equal jitter": half fixed, half random (`jitter` in [0, 1)).
    pub fn retry_delay(&self, failed: u32, jitter: f64) -> Duration {
        let exp = failed.saturating_sub(1).min(30);
        let full = self
            .retry_base
            .saturating_mul(1u32 << exp)
            .min(self.retry_max);
        full / 2 + full.mul_f64(jitter.clamp(0.0, 1.0) / 2.0)
    }
}

/// The time source of the worker and the digest scheduler; injected so that
/// tests control it.
pub trait Clock: Send + Sync + 'static {
    /// Now, in microseconds since the Unix epoch.
    fn now(&self) -> Micros;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Micros {
        now_micros()
    }
}

/// A uniform random number in [0, 1) from the OS (0.5 should it fail).
pub fn jitter() -> f64 {
    let mut bytes = [0u8; 8];
    match getrandom::fill(&mut bytes) {
        Ok(()) => (u64::from_le_bytes(bytes) >> 11) as f64 / (1u64 << 53) as f64,
        Err(_) => 0.5,
    }
}

/// Microseconds in `d`, saturating.
pub fn micros(d: Duration) -> Micros {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_exponentially_with_jitter_up_to_the_cap() {
        let o = AlertOptions::default();
        assert_eq!(o.retry_delay(1, 0.0), Duration::from_secs(5));
        assert!(o.retry_delay(1, 0.999_999) < Duration::from_secs(10));
        assert_eq!(o.retry_delay(3, 0.0), Duration::from_secs(20));
        assert_eq!(o.retry_delay(40, 0.0), Duration::from_secs(1800));
        assert!(o.retry_delay(40, 0.99) <= o.retry_max);
        let j = jitter();
        assert!((0.0..1.0).contains(&j));
    }

    #[test]
    fn retries_span_more_than_a_day() {
        let o = AlertOptions::default();
        let mut total = Duration::ZERO;
        let mut attempts = 0;
        while total < o.give_up_after {
            attempts += 1;
            total += o.retry_delay(attempts, 0.0);
        }
        assert!(o.give_up_after >= Duration::from_secs(24 * 3600));
        assert!(attempts > 20, "{attempts} attempts");
    }
}
