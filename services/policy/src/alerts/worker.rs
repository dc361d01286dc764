//! The delivery worker: a task that queues due digests and delivers due
//! events, signed, with retries. It wakes on every commit of this process
//! and at the poll interval (for other replicas' writes and retries), and
//! stops when the server stops. Several replicas are safe: events are
//! claimed with a lease, digests moved with a compare-and-set.

use std::sync::Arc;

use tokio::sync::watch;

use super::events::{self, Event, EventKind};
use super::sign::{IDEMPOTENCY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, signature};
use super::{AlertOptions, Clock, jitter, micros};
use crate::domain::TenantId;
use crate::error::PolicyError;
use crate::store::{Claimed, Delivery, EquipmentStore, Outcome};

/// Events claimed per round.
const BATCH: u32 = 32;
/// The longest response text kept in the log.
const MAX_DETAIL: usize = 200;

/// The worker's parts.
pub struct Worker {
    pub store: Arc<dyn EquipmentStore>,
    pub options: AlertOptions,
    pub clock: Arc<dyn Clock>,
    pub http: reqwest::Client,
}

/// The delivery client: https through rustls (ring crypto, the system's
/// root certificates), no redirects, a request timeout.
pub fn http_client(timeout: std::time::Duration) -> Result<reqwest::Client, reqwest::Error> {
    // One crypto provider per process; a second install is refused harmlessly.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .build()
}

impl Worker {
    /// A worker with its own HTTP client (no redirects, the request timeout).
    pub fn new(
        store: Arc<dyn EquipmentStore>,
        options: AlertOptions,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let http = http_client(options.request_timeout).unwrap_or_default();
        Self {
            store,
            options,
            clock,
            http,
        }
    }

    /// Runs rounds until `stop` turns true; `signal` ticks on commits.
    pub async fn run(self, mut signal: watch::Receiver<u64>, mut stop: watch::Receiver<bool>) {
        loop {
            signal.borrow_and_update();
            if let Err(e) = self.round().await {
                tracing::warn!(error = ?e, "alert round failed");
            }
            tokio::select! {
                _ = signal.changed() => {}
                () = tokio::time::sleep(self.options.poll_interval) => {}
                _ = stop.wait_for(|s| *s) => return,
            }
        }
    }

    /// Queues due digests, then delivers due events until none is left.
    pub async fn round(&self) -> Result<(), PolicyError> {
        self.queue_digests().await?;
        loop {
            let now = self.clock.now();
            let lease = now + micros(self.options.lease());
            let claimed = self.store.claim_due(now, lease, BATCH).await?;
            if claimed.is_empty() {
                return Ok(());
            }
            let attempts = claimed.iter().map(|c| self.deliver(c));
            for (c, d) in claimed
                .iter()
                .zip(futures::future::join_all(attempts).await)
            {
                self.store.finish_attempt(c, &d).await?;
            }
        }
    }

    /// Queues the digest of every tenant whose digest is due (only when the
    /// report is not empty) and schedules the next.
    pub async fn queue_digests(&self) -> Result<(), PolicyError> {
        let now = self.clock.now();
        for s in self.store.due_digests(now).await? {
            let Ok(tenant) = TenantId::parse(&s.tenant_id) else {
                continue;
            };
            let Some(due) = s.next_digest else { continue };
            let report = self.store.report(&tenant, now).await?;
            let event = (!report.is_empty()).then(|| {
                let id = format!("digest_{}_{}", s.tenant_id, due);
                Event::with_id(
                    id,
                    &s.tenant_id,
                    EventKind::Digest,
                    now,
                    events::report(&report),
                )
            });
            let next = s.schedule.next_after(now.max(due));
            self.store
                .commit_digest(&tenant, due, next, event.as_ref(), now)
                .await?;
        }
        Ok(())
    }

    /// One attempt; never fails (a failure is an outcome).
    async fn deliver(&self, c: &Claimed) -> Delivery {
        let attempt = c.attempts.saturating_add(1);
        let (status, detail) = match &c.target {
            None => (
                0,
                "alerts are no longer configured for the tenant".to_owned(),
            ),
            Some((url, secret)) => self.post(url, secret, c).await,
        };
        let now = self.clock.now();
        let outcome = if (200..300).contains(&status) {
            Outcome::Delivered
        } else if c.target.is_none() || now - c.created >= micros(self.options.give_up_after) {
            Outcome::Failed
        } else {
            Outcome::Retry(now + micros(self.options.retry_delay(attempt, jitter())))
        };
        tracing::debug!(event_id = %c.event_id, attempt, status, ?outcome, "alert attempt");
        Delivery {
            event_id: c.event_id.clone(),
            kind: c.kind.clone(),
            attempt,
            at: now,
            outcome,
            http_status: status,
            detail,
        }
    }

    /// POSTs the signed body; the HTTP status (0 for none) and a detail.
    async fn post(&self, url: &str, secret: &str, c: &Claimed) -> (u16, String) {
        let timestamp = self.clock.now() / 1_000_000;
        let sent = self
            .http
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(TIMESTAMP_HEADER, timestamp.to_string())
            .header(
                SIGNATURE_HEADER,
                signature(secret, timestamp, c.body.as_bytes()),
            )
            .header(IDEMPOTENCY_HEADER, &c.event_id)
            .body(c.body.clone())
            .send()
            .await;
        match sent {
            Ok(response) => {
                let status = response.status();
                let text = response.text().await.unwrap_or_default();
                (status.as_u16(), truncate(&text))
            }
            Err(e) if e.is_timeout() => (0, "timed out".into()),
            Err(e) if e.is_connect() => (0, "connection failed".into()),
            Err(_) => (0, "request failed".into()),
        }
    }
}

fn truncate(s: &str) -> String {
    s.chars()
        .take(MAX_DETAIL)
        .filter(|c| !c.is_control())
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_delivery_client_speaks_tls() {
        assert!(super::http_client(std::time::Duration::from_secs(1)).is_ok());
    }
}
