//! The provisioning log, gateway side: every SCIM request of an
//! authenticated tenant becomes one `identity.v1.RequestLogEntry` (method,
//! path without query, status, scimType, latency, request id, the resource
//! touched, token id, User-Agent and a one-line summary), sent to identity's
//! `RecordRequests` in batches.
//!
//! * Attribution: only requests whose token was accepted for the tenant in
//!   the URL are recorded (the protection layer names the [`Caller`] with
//!   [`attribute`]). A 401 is never written to a tenant's log: the tenant in its
//!   URL is whatever the client typed, and recording it would let anyone
//!   fill any tenant's log. 401s are counted in `scim_auth_failures_total`.
//! * Handlers describe what they did through [`note`], a slot the recording
//!   layer opens for each request (a task-local scope around the handler),
//!   so a Bulk operation or an error path needs no extra plumbing; without a
//!   note the summary falls back to the method, or to the error's scimType
//!   and redacted detail.
//! * Sending never delays or fails a SCIM response: entries go into a
//!   bounded channel (`try_send`); when it is full they are dropped and
//!   counted in `gateway_request_log_dropped_total{reason="queue_full"}`.
//!   A background task sends batches of up to [`MAX_BATCH`] entries or
//!   whatever arrived within [`FLUSH_INTERVAL`], and flushes what is
//!   buffered on graceful shutdown.
//! * Bulk: one entry per request, summarised (`bulk: 10 operations, 2 failed`).
//! * Keepalive probes are folded: the first of a tenant's in an hour is a
//!   line, the rest one count (see [`fold`]).
//! * A request that never produced a response here is recorded all the
//!   same once attributed: 500 when its handler panicked, 408 when it ran
//!   into the request timeout, 499 (the client closed the request) else.

pub mod fold;
pub mod summary;

use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::Response;
use futures::FutureExt as _;
use proto::identity::v1 as pb;
use proto::identity::v1::identity_service_client::IdentityServiceClient;
use tokio::sync::{mpsc, oneshot};
use tonic::transport::Channel;

use crate::AppState;
use crate::auth::Caller;

/// Entries waiting to be sent, at most.
pub const QUEUE_CAPACITY: usize = 10_000;
/// Entries per `RecordRequests` call, at most.
pub const MAX_BATCH: usize = 200;
/// A batch is sent at the latest this long after its first entry.
pub const FLUSH_INTERVAL: Duration = Duration::from_secs(1);
/// Longest wait for identity on one batch, and for the final flush.
const SEND_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest kept User-Agent.
const MAX_CLIENT: usize = 100;

// === Notes ===

/// What a handler knows about its request.
#[derive(Debug, Default, Clone)]
pub struct Note {
    pub resource_type: Option<&'static str>,
    pub resource_id: Option<String>,
    /// userName or displayName.
    pub resource_name: Option<String>,
    pub summary: Option<String>,
    pub test_connection: bool,
    /// Attributes the tenant's profile ignored (unknown attributes).
    pub ignored: Vec<String>,
}

/// What the recording layer shares with the request it wraps.
#[derive(Debug, Default)]
struct Shared {
    note: Note,
    caller: Option<Caller>,
}

type Slot = Arc<Mutex<Shared>>;

tokio::task_local! {
    static NOTE: Slot;
}

/// Lets the handler of the current request describe it; does nothing
/// outside a recorded request.
pub fn note(describe: impl FnOnce(&mut Note)) {
    let _ = NOTE.try_with(|slot| {
        if let Ok(mut shared) = slot.lock() {
            describe(&mut shared.note);
        }
    });
}

/// Attributes the current request to `caller`'s tenant: from now on it is
/// recorded in that tenant's log, whatever becomes of it.
pub fn attribute(caller: &Caller) {
    let _ = NOTE.try_with(|slot| {
        if let Ok(mut shared) = slot.lock() {
            shared.caller = Some(caller.clone());
        }
    });
}

/// The profile of the tenant the current request is attributed to, if any.
pub fn current_profile() -> Option<scim::IdpProfile> {
    NOTE.try_with(|slot| {
        slot.lock()
            .ok()
            .and_then(|shared| shared.caller.as_ref().map(|c| c.profile))
    })
    .ok()
    .flatten()
}

/// The scimType and detail of an error response, put there by `ApiError`.
#[derive(Debug, Clone)]
pub struct ErrorNote {
    pub scim_type: Option<&'static str>,
    /// The rule that refused the request (see [`scim::Diagnostic`]).
    pub rule: Option<scim::Diagnostic>,
    pub detail: String,
}

// === Recording layer ===

/// The sending half, shared by every request.
#[derive(Clone)]
pub struct Recorder {
    tx: mpsc::Sender<pb::RequestLogEntry>,
    folds: fold::Folds,
}

impl Recorder {
    /// A recorder and the receiver its sender task drains; keepalive
    /// probes are folded over `fold_window`.
    pub fn new(fold_window: Duration) -> (Self, mpsc::Receiver<pb::RequestLogEntry>) {
        Self::with_capacity(QUEUE_CAPACITY, fold_window)
    }

    /// The same with a queue of `capacity` entries.
    pub fn with_capacity(
        capacity: usize,
        fold_window: Duration,
    ) -> (Self, mpsc::Receiver<pb::RequestLogEntry>) {
        let (tx, rx) = mpsc::channel(capacity);
        let folds = fold::Folds::new(fold_window);
        (Self { tx, folds }, rx)
    }

    /// Records the entry of a keepalive probe: folded, or a line.
    fn push_probe(&self, entry: pb::RequestLogEntry) {
        for entry in self.folds.probe(entry) {
            self.push(entry);
        }
    }

    /// Records the counts of the fold windows closed by now (all with `all`).
    pub fn close_folds(&self, all: bool) {
        for entry in self.folds.close(all) {
            self.push(entry);
        }
    }

    fn push(&self, entry: pb::RequestLogEntry) {
        let reason = match self.tx.try_send(entry) {
            Ok(()) => return,
            Err(mpsc::error::TrySendError::Full(_)) => "queue_full",
            // The sender task has stopped (the gateway is shutting down).
            Err(mpsc::error::TrySendError::Closed(_)) => "stopped",
        };
        metrics::counter!("gateway_request_log_dropped_total", "reason" => reason).increment(1);
    }
}

/// "User" or "Group" and the id, from a path below the tenant's base.
fn resource_of(path: &str) -> (Option<&'static str>, Option<String>) {
    let mut segments = path.trim_start_matches('/').split('/');
    let kind = match segments.next() {
        Some("Users") => Some("User"),
        Some("Groups") => Some("Group"),
        _ => None,
    };
    let id = segments
        .next()
        .filter(|s| kind.is_some() && !s.is_empty() && !s.starts_with('.'))
        .map(str::to_owned);
    (kind, id)
}

fn cut(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut end = max;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
    s
}

fn header_text(req: &Request, name: &str) -> String {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

/// A request on its way: what the entry needs from the request, and the
/// slot its handler fills. Dropped without [`Pending::finish`] (timeout,
/// panic, client gone) it records what is known.
struct Pending {
    recorder: Recorder,
    request_timeout: Duration,
    started: Instant,
    time: SystemTime,
    method: String,
    path: String,
    request_id: String,
    client: String,
    slot: Slot,
    finished: bool,
}

impl Pending {
    /// The entry for an answer with `status`, if the request was attributed.
    fn entry(&self, status: u16, error: Option<&ErrorNote>) -> Option<pb::RequestLogEntry> {
        let shared = self.slot.lock().ok()?;
        let caller = shared.caller.as_ref()?;
        let note = &shared.note;
        let (kind, id) = resource_of(&self.path);
        let summary = match (&note.summary, error) {
            (_, Some(e)) if status >= 400 => {
                let text = summary::error(status, e.scim_type, &e.detail);
                match &e.rule {
                    Some(d) if d.attribute.is_empty() => format!("{text} [rule {}]", d.rule),
                    Some(d) => format!("{text} [rule {} at {}]", d.rule, d.attribute),
                    None => text,
                }
            }
            (Some(s), _) if note.ignored.is_empty() => s.clone(),
            (Some(s), _) => format!("{s} (ignored: {})", note.ignored.join(", ")),
            (None, _) if status >= 400 => status.to_string(),
            (None, _) => match self.method.as_str() {
                "POST" => "created",
                "PUT" => "replaced",
                "PATCH" => "patched",
                "DELETE" => "deleted",
                _ => "read",
            }
            .to_owned(),
        };
        Some(pb::RequestLogEntry {
            id: 0,
            tenant_id: caller.tenant_id.clone(),
            time: Some(prost_types::Timestamp::from(self.time)),
            request_id: self.request_id.clone(),
            method: self.method.clone(),
            path: self.path.clone(),
            status: u32::from(status),
            scim_type: error
                .and_then(|e| e.scim_type)
                .unwrap_or_default()
                .to_owned(),
            latency_ms: u32::try_from(self.started.elapsed().as_millis()).unwrap_or(u32::MAX),
            resource_type: note.resource_type.or(kind).unwrap_or_default().to_owned(),
            resource_id: note.resource_id.clone().or(id).unwrap_or_default(),
            resource_name: note.resource_name.clone().unwrap_or_default(),
            summary,
            client: self.client.clone(),
            token_id: caller.token_id.clone(),
            test_connection: note.test_connection,
            idp_profile: caller.profile.as_str().to_owned(),
        })
    }

    fn finish(mut self, response: &Response) {
        let error = response.extensions().get::<ErrorNote>();
        self.finish_with(response.status().as_u16(), error);
    }

    fn finish_with(&mut self, status: u16, error: Option<&ErrorNote>) {
        self.finished = true;
        if let Some(entry) = self.entry(status, error) {
            // `GET /Users` of a GUID that answered (see `fold`).
            let probe = entry.test_connection
                && status == 200
                && self.method == "GET"
                && self.path == "/Users";
            if probe {
                self.recorder.push_probe(entry);
            } else {
                self.recorder.push(entry);
            }
        }
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        let (status, detail) = if self.started.elapsed() >= self.request_timeout {
            (408, "request timed out")
        } else {
            (499, "the client closed the request")
        };
        let error = ErrorNote {
            scim_type: None,
            rule: None,
            detail: detail.to_owned(),
        };
        if let Some(entry) = self.entry(status, Some(&error)) {
            self.recorder.push(entry);
        }
    }
}

/// Route middleware on every SCIM route (outermost, so its latency covers
/// authentication and rate limiting).
pub async fn record(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let slot: Slot = Arc::default();
    let pending = Pending {
        recorder: state.recorder.clone(),
        request_timeout: state.request_timeout,
        started: Instant::now(),
        time: SystemTime::now(),
        method: req.method().as_str().to_owned(),
        // The nested router sees the path below `/scim/v2/{tenant}`, no query.
        path: req.uri().path().to_owned(),
        request_id: header_text(&req, "x-request-id"),
        client: cut(header_text(&req, header::USER_AGENT.as_str()), MAX_CLIENT),
        slot: slot.clone(),
        finished: false,
    };
    let handled = AssertUnwindSafe(NOTE.scope(slot, next.run(req)))
        .catch_unwind()
        .await;
    match handled {
        Ok(response) => {
            pending.finish(&response);
            response
        }
        // Recorded as the 500 the panic layer answers, then passed on to it.
        Err(panic) => {
            let mut pending = pending;
            let error = ErrorNote {
                scim_type: None,
                rule: None,
                detail: "internal error".to_owned(),
            };
            pending.finish_with(500, Some(&error));
            std::panic::resume_unwind(panic)
        }
    }
}

// === Sender task ===

/// Sends batches to identity until `stop` fires or every sender is gone,
/// then flushes what is left.
pub async fn run(
    mut rx: mpsc::Receiver<pb::RequestLogEntry>,
    identity: IdentityServiceClient<Channel>,
    recorder: Recorder,
    mut stop: oneshot::Receiver<()>,
) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    let mut folds = tokio::time::interval(FLUSH_INTERVAL);
    loop {
        let first = tokio::select! {
            entry = rx.recv() => entry,
            _ = folds.tick() => {
                recorder.close_folds(false);
                continue;
            }
            _ = &mut stop => None,
        };
        let Some(first) = first else { break };
        batch.push(first);
        let deadline = tokio::time::Instant::now() + FLUSH_INTERVAL;
        while batch.len() < MAX_BATCH {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(entry)) => batch.push(entry),
                Ok(None) | Err(_) => break,
            }
        }
        send(&identity, std::mem::take(&mut batch)).await;
    }
    recorder.close_folds(true);
    drop(recorder);
    rx.close();
    while let Ok(entry) = rx.try_recv() {
        batch.push(entry);
        if batch.len() == MAX_BATCH {
            send(&identity, std::mem::take(&mut batch)).await;
        }
    }
    if !batch.is_empty() {
        send(&identity, batch).await;
    }
}

async fn send(identity: &IdentityServiceClient<Channel>, entries: Vec<pb::RequestLogEntry>) {
    let n = entries.len() as u64;
    let mut client = identity.clone();
    let call = client.record_requests(pb::RecordRequestsRequest { entries });
    match tokio::time::timeout(SEND_TIMEOUT, call).await {
        Ok(Ok(answer)) => {
            // Identity refuses a bad entry alone and records the others.
            let refused = u64::from(answer.get_ref().refused).min(n);
            metrics::counter!("gateway_request_log_recorded_total").increment(n - refused);
            if refused > 0 {
                tracing::warn!(entries = n, refused, "provisioning log entries refused");
                metrics::counter!("gateway_request_log_dropped_total", "reason" => "refused")
                    .increment(refused);
            }
        }
        Ok(Err(status)) => {
            tracing::warn!(code = ?status.code(), entries = n, "provisioning log batch refused");
            metrics::counter!("gateway_request_log_dropped_total", "reason" => "send_failed")
                .increment(n);
        }
        Err(_) => {
            tracing::warn!(entries = n, "provisioning log batch timed out");
            metrics::counter!("gateway_request_log_dropped_total", "reason" => "send_failed")
                .increment(n);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resources_from_paths() {
        assert_eq!(
            resource_of("/Users/abc"),
            (Some("User"), Some("abc".into()))
        );
        assert_eq!(resource_of("/Groups"), (Some("Group"), None));
        assert_eq!(resource_of("/Users/.search"), (Some("User"), None));
        assert_eq!(resource_of("/ServiceProviderConfig"), (None, None));
        assert_eq!(resource_of("/Bulk"), (None, None));
    }

    #[test]
    fn a_full_queue_drops_instead_of_waiting() {
        let (recorder, mut rx) = Recorder::with_capacity(2, Duration::from_secs(3600));
        for i in 0..5 {
            recorder.push(pb::RequestLogEntry {
                id: i,
                ..Default::default()
            });
        }
        let mut kept = Vec::new();
        while let Ok(e) = rx.try_recv() {
            kept.push(e.id);
        }
        assert_eq!(kept, [0, 1]);
    }

    #[test]
    fn notes_outside_a_request_are_ignored() {
        note(|n| n.summary = Some("x".into()));
    }
}
