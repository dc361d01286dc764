//! Keepalive probes folded: the first probe (`GET /Users?filter=userName
//! eq "<GUID>"`) of a tenant in a window (an hour by default) is one line
//! as it arrives; the others in that window are counted, and the count
//! becomes one line when the window closes (or the gateway stops). Each
//! gateway replica folds the probes it answered.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use proto::identity::v1 as pb;

/// One tenant's open window.
#[derive(Debug)]
struct Window {
    opened: Instant,
    opened_at: SystemTime,
    /// Probes after the first.
    folded: u64,
    /// The latest folded probe's entry (its time, token and client).
    last: Option<pb::RequestLogEntry>,
}

/// The open windows of every tenant.
#[derive(Debug, Clone)]
pub struct Folds {
    window: Duration,
    open: Arc<Mutex<HashMap<String, Window>>>,
}

impl Folds {
    pub fn new(window: Duration) -> Self {
        Self {
            window,
            open: Arc::default(),
        }
    }

    /// Takes one probe's entry: the entries to record now (the closed
    /// window's count and this probe, when it opens a window), or none
    /// when the probe is folded into its tenant's open window.
    pub fn probe(&self, entry: pb::RequestLogEntry) -> Vec<pb::RequestLogEntry> {
        let Ok(mut open) = self.open.lock() else {
            return vec![entry];
        };
        let now = Instant::now();
        if let Some(w) = open.get_mut(&entry.tenant_id)
            && now.duration_since(w.opened) < self.window
        {
            w.folded += 1;
            w.last = Some(entry);
            return Vec::new();
        }
        let closed = open.insert(
            entry.tenant_id.clone(),
            Window {
                opened: now,
                opened_at: SystemTime::now(),
                folded: 0,
                last: None,
            },
        );
        closed
            .and_then(count_line)
            .into_iter()
            .chain([entry])
            .collect()
    }

    /// The count lines of the windows that have closed by now (all of them
    /// with `all`, on shutdown).
    pub fn close(&self, all: bool) -> Vec<pb::RequestLogEntry> {
        let Ok(mut open) = self.open.lock() else {
            return Vec::new();
        };
        let now = Instant::now();
        let closed: Vec<String> = open
            .iter()
            .filter(|(_, w)| all || now.duration_since(w.opened) >= self.window)
            .map(|(t, _)| t.clone())
            .collect();
        closed
            .into_iter()
            .filter_map(|t| open.remove(&t))
            .filter_map(count_line)
            .collect()
    }
}

/// The line of a closed window, if it folded any probe.
fn count_line(w: Window) -> Option<pb::RequestLogEntry> {
    let last = w.last.filter(|_| w.folded > 0)?;
    let since = time::OffsetDateTime::from(w.opened_at)
        .replace_nanosecond(0)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default();
    let plural = if w.folded == 1 { "" } else { "s" };
    Some(pb::RequestLogEntry {
        request_id: String::new(),
        latency_ms: 0,
        summary: format!(
            "Test Connection: {} more keepalive probe{plural} since {since}, folded",
            w.folded
        ),
        ..last
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probe(tenant: &str) -> pb::RequestLogEntry {
        pb::RequestLogEntry {
            tenant_id: tenant.into(),
            summary: "Test Connection: filter userName eq, 0 found".into(),
            test_connection: true,
            ..Default::default()
        }
    }

    #[test]
    fn the_first_probe_is_a_line_and_the_rest_one_count() {
        let folds = Folds::new(Duration::from_secs(3600));
        assert_eq!(folds.probe(probe("a")).len(), 1);
        assert_eq!(folds.probe(probe("b")).len(), 1);
        for _ in 0..4 {
            assert!(folds.probe(probe("a")).is_empty());
        }
        assert!(folds.close(false).is_empty(), "the window is still open");
        let lines = folds.close(true);
        assert_eq!(lines.len(), 1, "b folded nothing");
        assert_eq!(lines[0].tenant_id, "a");
        assert!(
            lines[0]
                .summary
                .starts_with("Test Connection: 4 more keepalive probes since "),
            "{}",
            lines[0].summary
        );
    }

    #[test]
    fn a_closed_window_is_counted_when_the_next_opens() {
        let folds = Folds::new(Duration::ZERO);
        assert_eq!(folds.probe(probe("a")).len(), 1);
        // A zero window: each probe closes the last (nothing folded in it).
        assert_eq!(folds.probe(probe("a")).len(), 1);
    }
}
