//! The delivery worker: a task that queues due digests and delivers due
//! events, signed, with retries. It wakes on every commit of this process
//! and at the poll interval (for other replicas' writes and retries), and
//! stops when the server stops. Several replicas are safe: events are
//! claimed with a lease, digests moved with a compare-and-set.

use std::sync::Arc;

use tokio::sync::watch;

use super::egress::{Egress, GuardedResolver, Refused};
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
/// The most of a response body read; the rest is not waited for.
pub const MAX_BODY: usize = 64 * 1024;

/// The worker's parts.
pub struct Worker {
    pub store: Arc<dyn EquipmentStore>,
    pub options: AlertOptions,
    pub clock: Arc<dyn Clock>,
    pub http: reqwest::Client,
    pub egress: Arc<Egress>,
}

/// The delivery client: https through rustls (ring crypto, the system's
/// root certificates), no redirects, no proxy, a request timeout, and a
/// resolver that connects only to addresses `egress` permits.
pub fn http_client(
    timeout: std::time::Duration,
    egress: Arc<Egress>,
) -> Result<reqwest::Client, reqwest::Error> {
    // One crypto provider per process; a second install is refused harmlessly.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .dns_resolver(GuardedResolver::new(egress))
        .build()
}

impl Worker {
    /// A worker with its own HTTP client (no redirects, the request
    /// timeout, the egress rules).
    pub fn new(
        store: Arc<dyn EquipmentStore>,
        options: AlertOptions,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, reqwest::Error> {
        let egress = Arc::new(options.egress.clone());
        let http = http_client(options.request_timeout, egress.clone())?;
        Ok(Self {
            egress,
            store,
            options,
            clock,
            http,
        })
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
        let (status, detail, refused) = match &c.target {
            None => (
                0,
                "alerts are no longer configured for the tenant".to_owned(),
                true,
            ),
            Some((url, secret)) => self.post(url, secret, c).await,
        };
        let now = self.clock.now();
        let outcome = if (200..300).contains(&status) {
            Outcome::Delivered
        } else if refused || now - c.created >= micros(self.options.give_up_after) {
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

    /// POSTs the signed body; the HTTP status (0 for none), a detail, and
    /// whether the URL was refused (an internal address: not retried).
    async fn post(&self, url: &str, secret: &str, c: &Claimed) -> (u16, String, bool) {
        let refused = |detail: &str| (0, detail.to_owned(), true);
        let Ok(parsed) = reqwest::Url::parse(url) else {
            return refused("refused: the webhook url is not valid");
        };
        // A literal address is connected to without resolution: check it here.
        if literal_ip(&parsed).is_some_and(|ip| !self.egress.permits(ip)) {
            return refused("refused: the webhook url points at an internal address");
        }
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
                let text = body_start(response).await;
                (status.as_u16(), truncate(&text), false)
            }
            Err(e) if is_refused(&e) => {
                refused("refused: the webhook host resolves only to internal addresses")
            }
            Err(e) if e.is_timeout() => (0, "timed out".into(), false),
            Err(e) if e.is_connect() => (0, "connection failed".into(), false),
            Err(_) => (0, "request failed".into(), false),
        }
    }
}

/// The address of a URL whose host is an IP address.
pub fn literal_ip(url: &reqwest::Url) -> Option<std::net::IpAddr> {
    let host = url.host_str()?;
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    host.parse().ok()
}

/// Whether the resolver refused the host (somewhere in the error's causes).
fn is_refused(e: &reqwest::Error) -> bool {
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        if s.downcast_ref::<Refused>().is_some() {
            return true;
        }
        source = s.source();
    }
    false
}

/// The start of a response body: at most [`MAX_BODY`] bytes are read, as
/// far as they arrive within the request timeout.
async fn body_start(mut response: reqwest::Response) -> String {
    let mut body = Vec::new();
    while body.len() < MAX_BODY {
        match response.chunk().await {
            Ok(Some(chunk)) => body.extend_from_slice(&chunk),
            Ok(None) | Err(_) => break,
        }
    }
    body.truncate(MAX_BODY);
    String::from_utf8_lossy(&body).into_owned()
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
        let egress = std::sync::Arc::new(super::Egress::default());
        assert!(super::http_client(std::time::Duration::from_secs(1), egress).is_ok());
    }
}
