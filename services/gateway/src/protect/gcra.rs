//! The generic cell rate algorithm (GCRA) in integer microseconds, and an
//! in-process limiter built on it. The Redis script (`redis.rs`) runs the
//! same arithmetic; the two must agree, and the tests here pin it down.
//!
//! State is one number per key: the theoretical arrival time (TAT) of the
//! next request. A request is allowed when the TAT after it lies within
//! `tolerance` of now; a refused request changes nothing.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

/// The arithmetic of one decision, in microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Params {
    /// Time between two requests at the sustained rate (1 / rate).
    pub interval: u64,
    /// What this decision adds to the TAT: `interval × cost` (a Bulk
    /// request costs one per operation).
    pub increment: u64,
    /// How far ahead of now the TAT may be after this request: `burst ×
    /// interval` for ordinary requests, more for the reserved share.
    pub tolerance: u64,
    /// `burst × interval`: what "remaining" is counted against.
    pub window: u64,
}

/// The outcome of one decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    pub allowed: bool,
    /// Ordinary requests still allowed right now.
    pub remaining: u64,
    /// Microseconds until a refused request would be allowed (0 when allowed).
    pub retry_after: u64,
    /// Microseconds until the bucket is full again.
    pub reset: u64,
}

/// One decision at `now` for a key whose TAT is `tat`; returns the outcome
/// and the new TAT to store (None when nothing changes).
pub fn decide(now: u64, tat: Option<u64>, p: Params) -> (Outcome, Option<u64>) {
    let tat = tat.unwrap_or(now).max(now);
    let new_tat = tat.saturating_add(p.increment);
    let allow_at = new_tat.saturating_sub(p.tolerance);
    if now < allow_at {
        let refused = Outcome {
            allowed: false,
            remaining: 0,
            retry_after: allow_at - now,
            reset: tat - now,
        };
        return (refused, None);
    }
    let ahead = new_tat - now;
    let allowed = Outcome {
        allowed: true,
        remaining: p.window.saturating_sub(ahead) / p.interval.max(1),
        retry_after: 0,
        reset: ahead,
    };
    (allowed, Some(new_tat))
}

/// Keys kept before stale ones are swept.
const SWEEP_ABOVE: usize = 50_000;

/// The same algorithm in this process: the fallback when Redis is
/// unreachable, and the limiter when no Redis is configured.
pub struct LocalGcra {
    start: Instant,
    tats: Mutex<HashMap<String, u64>>,
}

impl Default for LocalGcra {
    fn default() -> Self {
        Self {
            start: Instant::now(),
            tats: Mutex::new(HashMap::new()),
        }
    }
}

impl LocalGcra {
    /// Decides for `key` now.
    pub fn decide(&self, key: &str, p: Params) -> Outcome {
        self.run(key, p, true)
    }

    /// What [`Self::decide`] would answer now, changing nothing.
    pub fn peek(&self, key: &str, p: Params) -> Outcome {
        self.run(key, p, false)
    }

    fn run(&self, key: &str, p: Params, commit: bool) -> Outcome {
        let now = u64::try_from(self.start.elapsed().as_micros()).unwrap_or(u64::MAX);
        // A poisoned lock only means another request panicked mid-decision;
        // the map of numbers is still usable.
        let mut tats = self.tats.lock().unwrap_or_else(|e| e.into_inner());
        if tats.len() > SWEEP_ABOVE {
            tats.retain(|_, tat| *tat > now);
        }
        let (outcome, new_tat) = decide(now, tats.get(key).copied(), p);
        if let Some(t) = new_tat.filter(|_| commit) {
            tats.insert(key.to_owned(), t);
        }
        outcome
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(rate: u64, burst: u64, extra: u64) -> Params {
        let interval = 1_000_000 / rate;
        Params {
            interval,
            increment: interval,
            tolerance: (burst + extra) * interval,
            window: burst * interval,
        }
    }

    #[test]
    fn a_full_burst_then_one_per_interval() {
        let p = params(10, 3, 0);
        let mut tat = None;
        for left in [2, 1, 0] {
            let (o, t) = decide(0, tat, p);
            assert!(o.allowed);
            assert_eq!(o.remaining, left);
            tat = t;
        }
        let (o, t) = decide(0, tat, p);
        assert!(!o.allowed && t.is_none());
        assert_eq!(o.retry_after, 100_000);
        let (o, _) = decide(100_000, tat, p);
        assert!(o.allowed);
    }

    #[test]
    fn the_reserve_admits_what_the_burst_refuses() {
        let normal = params(10, 2, 0);
        let priority = params(10, 2, 2);
        let (_, tat) = decide(0, None, normal);
        let (_, tat) = decide(0, tat, normal);
        assert!(!decide(0, tat, normal).0.allowed);
        let (o, tat) = decide(0, tat, priority);
        assert!(o.allowed);
        assert!(decide(0, tat, priority).0.allowed);
    }

    #[test]
    fn a_costly_request_takes_several_slots() {
        let p = params(10, 5, 0);
        let three = Params {
            increment: 3 * p.interval,
            ..p
        };
        let (o, tat) = decide(0, None, three);
        assert!(o.allowed);
        assert_eq!(o.remaining, 2);
        let (o, _) = decide(0, tat, three);
        assert!(!o.allowed);
        assert_eq!(o.retry_after, 100_000);
    }

    #[test]
    fn local_keys_are_independent() {
        let l = LocalGcra::default();
        let p = params(1, 1, 0);
        assert!(l.decide("a", p).allowed);
        assert!(!l.decide("a", p).allowed);
        assert!(l.decide("b", p).allowed);
    }
}
