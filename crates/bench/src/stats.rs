//! Latency recording: one HDR histogram per operation (microseconds, three
//! significant digits), error counts, and the wall-clock window the
//! operation ran in, so throughput is `count / window`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde::Serialize;

/// Highest latency a histogram tracks (60 s); slower samples are clamped.
const MAX_MICROS: u64 = 60_000_000;

/// Samples of one operation.
#[derive(Debug, Clone)]
pub struct OpStats {
    hist: Histogram<u64>,
    errors: u64,
    /// Failed requests by HTTP status (0: no answer).
    statuses: BTreeMap<u16, u64>,
    first: Option<Instant>,
    last: Option<Instant>,
}

impl Default for OpStats {
    fn default() -> Self {
        Self {
            // 1 µs .. 60 s at 3 significant digits: the bounds are constants
            // that hdrhistogram accepts, so this cannot fail.
            hist: Histogram::new_with_bounds(1, MAX_MICROS, 3).unwrap_or_else(|_| {
                Histogram::new(3).unwrap_or_else(|_| unreachable!("3 sigfigs is valid"))
            }),
            errors: 0,
            statuses: BTreeMap::new(),
            first: None,
            last: None,
        }
    }
}

impl OpStats {
    /// Records one request that started at `start` and took `took`;
    /// a status outside 2xx (or 0, no answer) is an error.
    pub fn record(&mut self, start: Instant, took: Duration, status: u16) {
        let ok = (200..300).contains(&status);
        let micros = u64::try_from(took.as_micros())
            .unwrap_or(MAX_MICROS)
            .clamp(1, MAX_MICROS);
        self.hist.saturating_record(micros);
        if !ok {
            self.errors += 1;
            *self.statuses.entry(status).or_default() += 1;
        }
        let end = start + took;
        self.first = Some(self.first.map_or(start, |f| f.min(start)));
        self.last = Some(self.last.map_or(end, |l| l.max(end)));
    }

    pub fn merge(&mut self, other: &Self) {
        // Same bounds on both sides: `add` cannot fail.
        let _ = self.hist.add(&other.hist);
        self.errors += other.errors;
        for (k, v) in &other.statuses {
            *self.statuses.entry(*k).or_default() += v;
        }
        self.first = match (self.first, other.first) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.last = match (self.last, other.last) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
    }

    pub fn count(&self) -> u64 {
        self.hist.len()
    }

    /// The summary, with throughput over `window` (or the operation's own
    /// first-to-last window when `None`).
    pub fn summary(&self, window: Option<Duration>) -> Summary {
        let own = match (self.first, self.last) {
            (Some(f), Some(l)) => l.duration_since(f),
            _ => Duration::ZERO,
        };
        let window = window.unwrap_or(own);
        let secs = window.as_secs_f64();
        let ms = |q: f64| self.hist.value_at_quantile(q) as f64 / 1000.0;
        Summary {
            count: self.count(),
            errors: self.errors,
            seconds: secs,
            throughput: if secs > 0.0 {
                self.count() as f64 / secs
            } else {
                0.0
            },
            p50_ms: ms(0.50),
            p95_ms: ms(0.95),
            p99_ms: ms(0.99),
            max_ms: self.hist.max() as f64 / 1000.0,
            mean_ms: self.hist.mean() / 1000.0,
            error_statuses: self.statuses.clone(),
        }
    }
}

/// What a table row shows for one operation.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Summary {
    pub count: u64,
    pub errors: u64,
    pub seconds: f64,
    /// Requests per second.
    pub throughput: f64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub mean_ms: f64,
    /// Failed requests by HTTP status (0: no answer).
    pub error_statuses: BTreeMap<u16, u64>,
}

/// Shared, cheap to clone: every worker records into the same map.
#[derive(Clone, Default)]
pub struct Recorder {
    ops: Arc<Mutex<BTreeMap<String, OpStats>>>,
}

impl Recorder {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn record(&self, op: &str, start: Instant, took: Duration, status: u16) {
        let mut ops = self.ops.lock().unwrap_or_else(PoisonError::into_inner);
        match ops.get_mut(op) {
            Some(s) => s.record(start, took, status),
            None => {
                let mut s = OpStats::default();
                s.record(start, took, status);
                ops.insert(op.to_owned(), s);
            }
        }
    }

    /// A copy of every operation's samples.
    pub fn snapshot(&self) -> BTreeMap<String, OpStats> {
        self.ops
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Every operation summarised over its own window, plus `all` (every
    /// sample, throughput over the whole window).
    pub fn summaries(&self) -> BTreeMap<String, Summary> {
        let ops = self.snapshot();
        let mut all = OpStats::default();
        let mut out = BTreeMap::new();
        for (name, s) in &ops {
            all.merge(s);
            out.insert(name.clone(), s.summary(None));
        }
        if ops.len() > 1 {
            out.insert("all".to_owned(), all.summary(None));
        }
        out
    }

    pub fn total(&self) -> u64 {
        self.snapshot().values().map(OpStats::count).sum()
    }
}

/// Percentile of a sorted slice by nearest rank; for small sample sets
/// (scale curves) where a histogram is overkill.
pub fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_of_a_known_distribution() {
        let rec = Recorder::new();
        let t0 = Instant::now();
        for i in 1..=1000u64 {
            let status = if i % 100 == 0 { 500 } else { 200 };
            rec.record("op", t0, Duration::from_micros(i * 1000), status);
        }
        let s = &rec.summaries()["op"];
        assert_eq!(s.count, 1000);
        assert_eq!(s.errors, 10);
        assert_eq!(s.error_statuses.get(&500), Some(&10));
        // 3 significant digits: within 0.1 %.
        assert!((s.p50_ms - 500.0).abs() < 1.0, "{s:?}");
        assert!((s.p99_ms - 990.0).abs() < 1.0, "{s:?}");
        assert!((s.max_ms - 1000.0).abs() < 1.0, "{s:?}");
        // The window is the slowest request: 1000 requests in 1 s.
        assert!((s.throughput - 1000.0).abs() < 1.0, "{s:?}");
    }

    #[test]
    fn all_merges_every_operation() {
        let rec = Recorder::new();
        let t0 = Instant::now();
        rec.record("a", t0, Duration::from_millis(1), 201);
        rec.record("b", t0, Duration::from_millis(3), 0);
        let all = &rec.summaries()["all"];
        assert_eq!(all.count, 2);
        assert_eq!(all.errors, 1);
        assert_eq!(rec.total(), 2);
    }

    #[test]
    fn nearest_rank_percentile() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 0.5), 50.0);
        assert_eq!(percentile(&v, 0.99), 99.0);
        assert_eq!(percentile(&v, 1.0), 100.0);
        assert_eq!(percentile(&[], 0.5), 0.0);
        assert_eq!(percentile(&[7.0], 0.01), 7.0);
    }
}
