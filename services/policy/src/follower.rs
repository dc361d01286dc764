//! The follower: how this replica applies identity's change stream.
//!
//! Tenants are hashed into [`PARTITIONS`] partitions, and the replicas
//! share them through leases held in the database (`store/leases.rs`): a
//! lease task renews this replica's leases every heartbeat and takes or
//! gives back partitions towards a fair share. For the partitions it holds,
//! the follower long-polls identity's `ListStreamHeads`; each tenant whose
//! head is past its cursor gets a task that reads its changes with
//! `ReadChanges`, a bounded page at a time, and applies each page in
//! transactions of that tenant ([`Store::apply_changes`]) of at most
//! [`USERS_PER_TRANSACTION`] named users each, provided its stored cursor
//! is still where the task expects and the lease is still held; the
//! tenant's write lock is never held for long, so its admin writes do not
//! wait behind a large membership change. Up to [`CONCURRENCY`] tenants are applied at once, one task per
//! tenant, so a tenant's changes are applied in order, exactly once, and a
//! tenant with a long backlog (a deleted 150,000-member group is 150
//! records) does not hold back another tenant's deactivation. A tenant
//! whose page fails is retried with capped exponential backoff; the others
//! go on. Cursors are re-read from the database every heartbeat, so a
//! `Reconcile` that rewound one tenant's cursor (on any replica) is
//! replayed here.
//!
//! Each page is applied under a `policy.apply_changes` span that continues
//! the trace of the request that wrote its first traced change (identity
//! stores that request's context with the change), so a SCIM request's
//! trace shows the role recomputation it caused. A page may mix changes of
//! several requests: the span then links to the other writers' contexts,
//! and each of those traces gets a `policy.change_applied` span of its own
//! that links back to the page.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use proto::identity::v1 as idpb;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::convert;
use crate::domain::{ReplicaChange, StreamChange, TenantId, now_micros};
use crate::error::PolicyError;
use crate::store::{Applied, Lease, Round, Store};

/// The number of tenant partitions (the most replicas that can share the
/// work). Fixed: every replica must hash tenants the same way.
pub const PARTITIONS: u32 = 16;
/// Tenants applied at once by one replica.
pub const CONCURRENCY: usize = 4;
/// Pages one tenant task applies before it makes way for other tenants.
const PAGES_PER_TURN: usize = 8;
/// The most user ids one transaction applies (a change naming more, which
/// identity never records, is a transaction by itself). A page is applied
/// in as many transactions as that takes, so a tenant's admin write waits
/// behind the follower for a thousand users' work at most (one membership
/// record of identity's: on SQLite, with one writer for all tenants, that
/// is also how long another tenant's deactivation can wait).
pub const USERS_PER_TRANSACTION: usize = 1000;
/// The longest `ListStreamHeads` wait.
const HEADS_WAIT: Duration = Duration::from_secs(5);
/// The first retry delay after a failure; it doubles on each failure up to
/// [`MAX_BACKOFF`].
const MIN_BACKOFF: Duration = Duration::from_millis(50);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// How this replica takes part in sharing the stream.
#[derive(Debug, Clone)]
pub struct FollowerOptions {
    /// This replica's name in the lease table; unique per process.
    pub replica: String,
    /// How long a lease lasts unrenewed: a dead replica's tenants are taken
    /// over after at most this plus a heartbeat.
    pub lease_ttl: Duration,
    /// How often leases are renewed and rebalanced.
    pub heartbeat: Duration,
}

impl FollowerOptions {
    /// Options for `replica` with a lease TTL; the heartbeat is a fifth of it.
    pub fn new(replica: String, lease_ttl: Duration) -> Self {
        let lease_ttl = lease_ttl.max(Duration::from_millis(500));
        Self {
            replica,
            lease_ttl,
            heartbeat: lease_ttl / 5,
        }
    }
}

impl Default for FollowerOptions {
    fn default() -> Self {
        Self::new(default_replica_id(), Duration::from_secs(10))
    }
}

/// The host name (the pod's name on Kubernetes) and a random suffix: a
/// restarted process is a new replica.
pub fn default_replica_id() -> String {
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "policy".into());
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    format!("{host}-{}", &suffix[..8])
}

/// Why a tenant's turn failed.
#[derive(Debug, thiserror::Error)]
enum FollowError {
    #[error("identity stream failed")]
    Identity(#[from] tonic::Status),
    #[error("applying changes failed")]
    Store(#[from] PolicyError),
}

impl FollowError {
    /// Logs the error and counts it in `policy_stream_errors_total{stage}`:
    /// `read` (identity's `ReadChanges` or `Snapshot` failed) or `apply`
    /// (policy's database refused the page).
    fn log(&self, tenant: &str) {
        let stage = match self {
            Self::Identity(_) => "read",
            Self::Store(_) => "apply",
        };
        metrics::counter!("policy_stream_errors_total", "stage" => stage).increment(1);
        match self {
            Self::Identity(status) => tracing::warn!(
                tenant_id = tenant, code = ?status.code(), message = status.message(),
                "identity stream failed"
            ),
            Self::Store(e) => {
                tracing::warn!(tenant_id = tenant, error = ?e, "applying changes failed");
            }
        }
    }
}

/// Follows identity until `stop` turns true; then gives back the leases.
pub async fn run(
    store: Arc<dyn Store>,
    identity: crate::IdentityClient,
    options: FollowerOptions,
    mut stop: watch::Receiver<bool>,
) {
    let (held_tx, held) = watch::channel(Vec::new());
    let leases = tokio::spawn(lease_loop(
        store.clone(),
        options.clone(),
        held_tx,
        stop.clone(),
    ));
    let follower = Follower::new(store.clone(), identity, options.replica.clone(), held);
    tokio::select! {
        () = follower.run() => {}
        _ = stop.wait_for(|s| *s) => {}
    }
    let _ = leases.await;
}

/// Renews, takes and gives back leases every heartbeat, publishing the
/// partitions held; gives them all back when `stop` turns true.
async fn lease_loop(
    store: Arc<dyn Store>,
    options: FollowerOptions,
    held: watch::Sender<Vec<u32>>,
    mut stop: watch::Receiver<bool>,
) {
    let ttl = i64::try_from(options.lease_ttl.as_micros()).unwrap_or(i64::MAX);
    let mut last_ok = Instant::now();
    loop {
        let round = Round {
            partitions: PARTITIONS,
            ttl,
            now: now_micros(),
        };
        match store.lease_round(&options.replica, round).await {
            Ok(partitions) => {
                last_ok = Instant::now();
                metrics::gauge!("policy_stream_partitions_held").set(partitions.len() as f64);
                held.send_if_modified(|h| {
                    let changed = *h != partitions;
                    if changed {
                        tracing::info!(replica = %options.replica, ?partitions, "partition leases");
                        *h = partitions;
                    }
                    changed
                });
            }
            Err(e) => {
                tracing::warn!(error = ?e, "lease round failed");
                // Leases not renewed within the TTL may be another's now.
                if last_ok.elapsed() >= options.lease_ttl {
                    held.send_if_modified(|h| !std::mem::take(h).is_empty());
                    metrics::gauge!("policy_stream_partitions_held").set(0.0);
                }
            }
        }
        tokio::select! {
            () = tokio::time::sleep(options.heartbeat) => {}
            _ = stop.wait_for(|s| *s) => break,
        }
    }
    if let Err(e) = store.release_leases(&options.replica).await {
        tracing::warn!(error = ?e, "giving back the leases failed");
    }
}

/// A tenant task's outcome: the tenant, its cursor, and whether it ended
/// on an error (the cursor is where it got to either way).
type Turn = (String, i64, Option<FollowError>);

/// The follower's state: what it knows of each tenant it covers.
struct Follower {
    store: Arc<dyn Store>,
    identity: crate::IdentityClient,
    replica: String,
    held: watch::Receiver<Vec<u32>>,
    /// Applied positions (from the database, advanced by the tasks).
    cursors: HashMap<String, i64>,
    /// identity's heads of the tenants of the held partitions.
    heads: HashMap<String, i64>,
    /// Tenants with a task running, and the cursor it started from.
    busy: HashMap<String, i64>,
    /// Tenants that failed: when to retry, and the current delay.
    backoff: HashMap<String, (Instant, Duration)>,
}

impl Follower {
    fn new(
        store: Arc<dyn Store>,
        identity: crate::IdentityClient,
        replica: String,
        held: watch::Receiver<Vec<u32>>,
    ) -> Self {
        Self {
            store,
            identity,
            replica,
            held,
            cursors: HashMap::new(),
            heads: HashMap::new(),
            busy: HashMap::new(),
            backoff: HashMap::new(),
        }
    }

    async fn run(mut self) {
        let mut tasks: JoinSet<Turn> = JoinSet::new();
        let mut partitions: BTreeSet<u32> = BTreeSet::new();
        let mut heads_backoff = MIN_BACKOFF;
        let mut reload = tokio::time::interval(Duration::from_secs(2));
        reload.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut poll = self.poll_heads(&partitions, Duration::ZERO);
        loop {
            self.schedule(&mut tasks, &partitions);
            let retry_at = self.backoff.values().map(|(at, _)| *at).min();
            tokio::select! {
                Some(joined) = tasks.join_next(), if !tasks.is_empty() => {
                    match joined {
                        Ok(turn) => self.finish(turn),
                        Err(e) => tracing::error!(error = %e, "a tenant task failed"),
                    }
                }
                heads = &mut poll => {
                    let wait = match heads {
                        Ok(heads) => {
                            heads_backoff = MIN_BACKOFF;
                            self.heads = heads;
                            HEADS_WAIT
                        }
                        Err(status) => {
                            tracing::warn!(code = ?status.code(), message = status.message(), "identity stream failed");
                            metrics::counter!("policy_stream_errors_total", "stage" => "heads").increment(1);
                            tokio::time::sleep(heads_backoff).await;
                            heads_backoff = (heads_backoff * 2).min(MAX_BACKOFF);
                            Duration::ZERO
                        }
                    };
                    poll = self.poll_heads(&partitions, wait);
                }
                changed = self.held.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    partitions = self.held.borrow_and_update().iter().copied().collect();
                    self.heads.retain(|t, _| partitions.contains(&partition(t)));
                    self.reload_cursors().await;
                    poll = self.poll_heads(&partitions, Duration::ZERO);
                }
                _ = reload.tick() => self.reload_cursors().await,
                () = sleep_until(retry_at) => {}
            }
            let behind = self
                .heads
                .iter()
                .filter(|(t, h)| self.cursors.get(*t).copied().unwrap_or(0) < **h)
                .count();
            metrics::gauge!("policy_stream_tenants_behind").set(behind as f64);
        }
    }

    /// Starts a task for each tenant behind its head (not running, not
    /// waiting to retry), up to [`CONCURRENCY`].
    fn schedule(&mut self, tasks: &mut JoinSet<Turn>, partitions: &BTreeSet<u32>) {
        let now = Instant::now();
        let mut due: Vec<(&String, &i64)> = self
            .heads
            .iter()
            .filter(|(t, h)| self.cursors.get(*t).copied().unwrap_or(0) < **h)
            .filter(|(t, _)| !self.busy.contains_key(*t))
            .filter(|(t, _)| self.backoff.get(*t).is_none_or(|(at, _)| *at <= now))
            .collect();
        // The furthest behind last: a small backlog (one deactivation) is
        // not queued behind a large one.
        due.sort_by_key(|(t, h)| **h - self.cursors.get(*t).copied().unwrap_or(0));
        let mut start = Vec::new();
        for (tenant, head) in due {
            if tasks.len() + start.len() >= CONCURRENCY {
                break;
            }
            let p = partition(tenant);
            if !partitions.contains(&p) {
                continue;
            }
            start.push((tenant.clone(), *head, p));
        }
        for (tenant, head, p) in start {
            let Ok(id) = TenantId::parse(&tenant) else {
                continue;
            };
            let from = self.cursors.get(&tenant).copied().unwrap_or(0);
            let lease = Lease {
                replica: self.replica.clone(),
                partition: p,
            };
            self.busy.insert(tenant, from);
            tasks.spawn(turn(
                self.store.clone(),
                self.identity.clone(),
                id,
                lease,
                from,
                head,
            ));
        }
    }

    fn finish(&mut self, (tenant, cursor, error): Turn) {
        let from = self.busy.remove(&tenant);
        self.cursors.insert(tenant.clone(), cursor);
        // A turn that made no progress (its lease is gone, or identity had
        // nothing after the cursor yet) waits like a failed one.
        let stalled = from == Some(cursor);
        match error {
            None if !stalled => {
                self.backoff.remove(&tenant);
            }
            e => {
                if let Some(e) = e {
                    e.log(&tenant);
                }
                let delay = self
                    .backoff
                    .get(&tenant)
                    .map_or(MIN_BACKOFF, |(_, d)| (*d * 2).min(MAX_BACKOFF));
                self.backoff.insert(tenant, (Instant::now() + delay, delay));
            }
        }
    }

    /// Takes the stored cursors of the tenants without a running task.
    async fn reload_cursors(&mut self) {
        match self.store.cursors().await {
            Ok(stored) => {
                for (tenant, seq) in stored {
                    if !self.busy.contains_key(&tenant) {
                        self.cursors.insert(tenant, seq);
                    }
                }
            }
            Err(e) => tracing::warn!(error = ?e, "reading the stream cursors failed"),
        }
    }

    /// A `ListStreamHeads` call for `partitions` that waits up to `wait`
    /// while the heads are the known ones (never resolves without partitions).
    fn poll_heads(
        &self,
        partitions: &BTreeSet<u32>,
        wait: Duration,
    ) -> futures::future::BoxFuture<'static, Result<HashMap<String, i64>, tonic::Status>> {
        if partitions.is_empty() {
            return Box::pin(std::future::pending());
        }
        let mut identity = self.identity.clone();
        let request = idpb::ListStreamHeadsRequest {
            partition_count: PARTITIONS,
            partitions: partitions.iter().copied().collect(),
            known: self
                .heads
                .iter()
                .map(|(t, s)| idpb::StreamPosition {
                    tenant_id: t.clone(),
                    seq: *s,
                })
                .collect(),
            wait_ms: u32::try_from(wait.as_millis()).unwrap_or(u32::MAX),
        };
        Box::pin(async move {
            let heads = identity
                .list_stream_heads(request)
                .await?
                .into_inner()
                .heads;
            Ok(heads.into_iter().map(|p| (p.tenant_id, p.seq)).collect())
        })
    }
}

fn partition(tenant: &str) -> u32 {
    storekit::partition_of(tenant, PARTITIONS)
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// One tenant's turn: pages after `from` up to `head` (at most
/// [`PAGES_PER_TURN`]), each applied in its own transaction.
async fn turn(
    store: Arc<dyn Store>,
    mut identity: crate::IdentityClient,
    tenant: TenantId,
    lease: Lease,
    from: i64,
    head: i64,
) -> Turn {
    let mut cursor = from;
    for _ in 0..PAGES_PER_TURN {
        if cursor >= head {
            break;
        }
        match page(store.as_ref(), &mut identity, &tenant, &lease, &mut cursor).await {
            Ok(true) => {}
            Ok(false) => break,
            Err(FollowError::Identity(status)) if pruned(&status) => {
                match resync(store.as_ref(), &identity, &tenant, &lease, &mut cursor).await {
                    Ok(true) => {}
                    Ok(false) => break,
                    Err(e) => return (tenant.as_str().to_owned(), cursor, Some(e)),
                }
            }
            Err(e) => return (tenant.as_str().to_owned(), cursor, Some(e)),
        }
    }
    (tenant.as_str().to_owned(), cursor, None)
}

/// True for identity's answer to a cursor below the tenant's retained
/// changes (`OUT_OF_RANGE`, reason `CHANGES_PRUNED`).
fn pruned(status: &tonic::Status) -> bool {
    use tonic_types::StatusExt;
    status.code() == tonic::Code::OutOfRange
        && status
            .get_details_error_info()
            .is_some_and(|info| info.reason == proto::REASON_CHANGES_PRUNED)
}

/// The way past a pruned stream: the changes after `cursor` are gone, so
/// the tenant's replica is replaced from identity's `Snapshot` and the
/// cursor set to the snapshot's position (`Store::resync`, checked like a
/// page: the stored cursor must still be `cursor`, the lease still held).
/// Changes from there on are then applied as usual. False when the lease
/// is gone.
async fn resync(
    store: &dyn Store,
    identity: &crate::IdentityClient,
    tenant: &TenantId,
    lease: &Lease,
    cursor: &mut i64,
) -> Result<bool, FollowError> {
    tracing::warn!(
        tenant_id = %tenant, cursor = *cursor,
        "identity pruned the change stream past this tenant's cursor: resynchronising from a snapshot"
    );
    let (as_of_seq, users) = crate::reconcile::snapshot(identity.clone(), tenant).await?;
    Ok(
        match store
            .resync(tenant, &users, as_of_seq, *cursor, lease)
            .await?
        {
            Applied::Applied {
                cursor: next,
                role_changes,
            } => {
                metrics::counter!("policy_stream_resyncs_total").increment(1);
                tracing::info!(tenant_id = %tenant, cursor = next, role_changes, "tenant resynchronised");
                *cursor = next;
                true
            }
            Applied::Moved { cursor: stored } => {
                *cursor = stored;
                true
            }
            Applied::LeaseLost => false,
        },
    )
}

/// The user ids a change names: its share of a transaction's work.
fn users_named(change: &StreamChange) -> usize {
    match &change.change {
        ReplicaChange::UserChanged { .. } | ReplicaChange::UserDeleted { .. } => 1,
        ReplicaChange::GroupDeleted { user_ids, .. }
        | ReplicaChange::MembersAdded { user_ids, .. }
        | ReplicaChange::MembersRemoved { user_ids, .. } => user_ids.len().max(1),
        ReplicaChange::Other => 0,
    }
}

/// `changes` cut, in order, into runs of at most [`USERS_PER_TRANSACTION`]
/// named users (a change that names more is a run by itself).
fn transactions(changes: &[StreamChange]) -> Vec<&[StreamChange]> {
    let mut out = Vec::new();
    let (mut start, mut users) = (0, 0);
    for (i, c) in changes.iter().enumerate() {
        let n = users_named(c);
        if i > start && users + n > USERS_PER_TRANSACTION {
            out.push(&changes[start..i]);
            (start, users) = (i, 0);
        }
        users += n;
    }
    if start < changes.len() {
        out.push(&changes[start..]);
    }
    out
}

/// Reads one page after `cursor` and applies it, one transaction per run
/// of [`transactions`], advancing `cursor` past each applied run. False
/// when there is nothing more to do now (no change, or the lease is gone).
async fn page(
    store: &dyn Store,
    identity: &mut crate::IdentityClient,
    tenant: &TenantId,
    lease: &Lease,
    cursor: &mut i64,
) -> Result<bool, FollowError> {
    let batch = identity
        .read_changes(idpb::ReadChangesRequest {
            tenant_id: tenant.as_str().to_owned(),
            after_seq: *cursor,
            limit: 0,
        })
        .await?
        .into_inner();
    if batch.changes.is_empty() {
        return Ok(false);
    }
    let timings = BatchTimings::of(&batch.changes);
    let trace = BatchTrace::of(&batch.changes);
    let changes: Vec<_> = batch
        .changes
        .into_iter()
        .map(convert::stream_change)
        .collect();
    let applied = apply_runs(store, tenant, lease, cursor, &changes)
        .instrument(trace.span.clone())
        .await;
    trace.finish(&applied);
    Ok(match applied? {
        Applied::Applied {
            cursor: next,
            role_changes,
        } => {
            tracing::debug!(tenant_id = %tenant, cursor = next, role_changes, "changes applied");
            timings.record(changes.len());
            true
        }
        Applied::Moved { cursor: stored } => {
            tracing::info!(tenant_id = %tenant, stored, "cursor moved, resuming from it");
            true
        }
        Applied::LeaseLost => {
            tracing::info!(tenant_id = %tenant, partition = lease.partition, "lease lost");
            false
        }
    })
}

/// Applies the runs of a page in order, each in its own transaction, until
/// one is not applied; `cursor` follows the stored cursor. The outcome is
/// the page's: applied (with all its role changes), or how it stopped.
async fn apply_runs(
    store: &dyn Store,
    tenant: &TenantId,
    lease: &Lease,
    cursor: &mut i64,
    changes: &[StreamChange],
) -> Result<Applied, PolicyError> {
    let mut role_changes: u32 = 0;
    for run in transactions(changes) {
        match store
            .apply_changes(tenant, *cursor, run, Some(lease))
            .await?
        {
            Applied::Applied {
                cursor: next,
                role_changes: n,
            } => {
                *cursor = next;
                role_changes = role_changes.saturating_add(n);
            }
            Applied::Moved { cursor: stored } => {
                *cursor = stored;
                return Ok(Applied::Moved { cursor: stored });
            }
            Applied::LeaseLost => return Ok(Applied::LeaseLost),
        }
    }
    Ok(Applied::Applied {
        cursor: *cursor,
        role_changes,
    })
}

/// The spans of one batch (see the module documentation).
struct BatchTrace {
    span: tracing::Span,
    /// The writers' contexts other than the batch span's parent.
    others: Vec<opentelemetry::Context>,
}

impl BatchTrace {
    fn of(changes: &[idpb::Change]) -> Self {
        let mut contexts: Vec<(String, opentelemetry::Context)> = Vec::new();
        for c in changes {
            if contexts.iter().any(|(tp, _)| *tp == c.traceparent) {
                continue;
            }
            if let Some(cx) = telemetry::otel::context_from_traceparent(&c.traceparent) {
                contexts.push((c.traceparent.clone(), cx));
            }
        }
        let first_tenant = changes.first().map(|c| c.tenant_id.as_str());
        let tenant = first_tenant.filter(|t| changes.iter().all(|c| c.tenant_id == *t));
        let span = tracing::info_span!(
            "policy.apply_changes",
            changes = changes.len(),
            first_seq = changes.first().map_or(0, |c| c.seq),
            last_seq = changes.last().map_or(0, |c| c.seq),
            tenant_id = tenant,
            role_changes = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
        );
        let mut contexts = contexts.into_iter().map(|(_, cx)| cx);
        if let Some(parent) = contexts.next() {
            let _ = span.set_parent(parent);
        }
        let others: Vec<_> = contexts.collect();
        for cx in &others {
            use opentelemetry::trace::TraceContextExt;
            span.add_link(cx.span().span_context().clone());
        }
        Self { span, others }
    }

    /// Records the outcome, and marks it in every other writer's trace.
    fn finish(self, applied: &Result<Applied, PolicyError>) {
        use opentelemetry::trace::TraceContextExt;
        match applied {
            Ok(Applied::Applied { role_changes, .. }) => {
                self.span.record("role_changes", role_changes);
            }
            Ok(Applied::Moved { .. } | Applied::LeaseLost) => {}
            Err(_) => {
                self.span.record("otel.status_code", "ERROR");
            }
        }
        let batch = self.span.context().span().span_context().clone();
        for cx in self.others {
            let marker = tracing::info_span!("policy.change_applied");
            let _ = marker.set_parent(cx);
            marker.add_link(batch.clone());
        }
    }
}

/// Commit times of a page, for the change-stream metrics:
/// `policy_change_stream_lag_seconds` (age of the last applied change when
/// it was applied), `policy_changes_applied_total` and
/// `policy_deprovisioning_latency_seconds` (identity's commit of a
/// deactivation or a deletion → policy's commit of its role change, i.e.
/// `Disabled` published; every `active: false` user change counts, also an
/// update of a user already inactive).
struct BatchTimings {
    last: Option<std::time::SystemTime>,
    deactivations: Vec<std::time::SystemTime>,
}

impl BatchTimings {
    fn of(changes: &[idpb::Change]) -> Self {
        let time = |c: &idpb::Change| c.at.and_then(|t| std::time::SystemTime::try_from(t).ok());
        let deactivations = changes
            .iter()
            .filter(|c| match &c.kind {
                Some(idpb::change::Kind::UserChanged(u)) => !u.active,
                Some(idpb::change::Kind::UserDeleted(_)) => true,
                _ => false,
            })
            .filter_map(time)
            .collect();
        Self {
            last: changes.last().and_then(time),
            deactivations,
        }
    }

    fn record(&self, applied: usize) {
        let age = |t: &std::time::SystemTime| t.elapsed().map_or(0.0, |d| d.as_secs_f64());
        metrics::counter!("policy_changes_applied_total").increment(applied as u64);
        if let Some(last) = &self.last {
            metrics::gauge!("policy_change_stream_lag_seconds").set(age(last));
        }
        for t in &self.deactivations {
            metrics::histogram!("policy_deprovisioning_latency_seconds").record(age(t));
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::sync::{Arc, Mutex};

    use opentelemetry::trace::{SpanId, TraceContextExt, TraceId, TracerProvider as _};
    use opentelemetry_sdk::error::OTelSdkResult;
    use opentelemetry_sdk::trace::{SdkTracerProvider, SpanData, SpanExporter};
    use tracing_subscriber::layer::SubscriberExt;

    use super::*;

    #[derive(Clone, Debug, Default)]
    struct Collect(Arc<Mutex<Vec<SpanData>>>);

    impl SpanExporter for Collect {
        async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
            self.0.lock().unwrap().extend(batch);
            Ok(())
        }
    }

    fn change(seq: i64, tenant: &str, traceparent: &str) -> idpb::Change {
        idpb::Change {
            seq,
            tenant_id: tenant.into(),
            at: None,
            kind: None,
            traceparent: traceparent.into(),
        }
    }

    const A: &str = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    const B: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    /// The spans a batch of `changes` gives when it is applied.
    fn spans_of(changes: &[idpb::Change]) -> Vec<SpanData> {
        spans_with(
            changes,
            Ok(Applied::Applied {
                cursor: 3,
                role_changes: 1,
            }),
        )
    }

    /// The spans a batch of `changes` gives with `outcome`.
    fn spans_with(
        changes: &[idpb::Change],
        outcome: Result<Applied, PolicyError>,
    ) -> Vec<SpanData> {
        let collect = Collect::default();
        let provider = SdkTracerProvider::builder()
            .with_simple_exporter(collect.clone())
            .build();
        let subscriber = tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
        tracing::subscriber::with_default(subscriber, || {
            BatchTrace::of(changes).finish(&outcome);
        });
        provider.force_flush().unwrap();
        collect.0.lock().unwrap().clone()
    }

    fn ids(traceparent: &str) -> (TraceId, SpanId) {
        let cx = telemetry::otel::context_from_traceparent(traceparent).unwrap();
        let sc = cx.span().span_context().clone();
        (sc.trace_id(), sc.span_id())
    }

    #[test]
    fn a_batch_continues_its_writer_trace() {
        let spans = spans_of(&[change(1, "acme", A), change(2, "acme", A)]);
        assert_eq!(spans.len(), 1, "{spans:#?}");
        let (trace, parent) = ids(A);
        assert_eq!(spans[0].name, "policy.apply_changes");
        assert_eq!(spans[0].span_context.trace_id(), trace);
        assert_eq!(spans[0].parent_span_id, parent);
        assert!(spans[0].links.links.is_empty());
        let tenant = spans[0]
            .attributes
            .iter()
            .find(|kv| kv.key.as_str() == "tenant_id");
        assert_eq!(
            tenant.map(|kv| kv.value.to_string()).as_deref(),
            Some("acme")
        );
    }

    #[test]
    fn a_batch_of_several_writers_appears_in_each_trace() {
        let spans = spans_of(&[
            change(1, "acme", A),
            change(2, "globex", ""),
            change(3, "acme", B),
        ]);
        let batch = spans
            .iter()
            .find(|s| s.name == "policy.apply_changes")
            .unwrap();
        let (trace_a, parent_a) = ids(A);
        let (trace_b, parent_b) = ids(B);
        assert_eq!(batch.span_context.trace_id(), trace_a);
        assert_eq!(batch.parent_span_id, parent_a);
        // Two tenants: no single tenant attribute.
        assert!(
            !batch
                .attributes
                .iter()
                .any(|kv| kv.key.as_str() == "tenant_id")
        );
        let linked: Vec<_> = batch
            .links
            .links
            .iter()
            .map(|l| l.span_context.span_id())
            .collect();
        assert_eq!(linked, [parent_b]);
        let marker = spans
            .iter()
            .find(|s| s.name == "policy.change_applied")
            .unwrap();
        assert_eq!(marker.span_context.trace_id(), trace_b);
        assert_eq!(marker.parent_span_id, parent_b);
        let back: Vec<_> = marker
            .links
            .links
            .iter()
            .map(|l| l.span_context.span_id())
            .collect();
        assert_eq!(back, [batch.span_context.span_id()]);
        assert_eq!(spans.len(), 2, "{spans:#?}");
    }

    #[test]
    fn a_failed_batch_is_an_error_span() {
        let failed = Err(PolicyError::InvalidArgument("broken".into()));
        let spans = spans_with(&[change(1, "acme", A)], failed);
        assert_eq!(spans.len(), 1);
        assert!(
            matches!(spans[0].status, opentelemetry::trace::Status::Error { .. }),
            "{:?}",
            spans[0].status
        );
        let ok = spans_of(&[change(1, "acme", A)]);
        assert!(!matches!(
            ok[0].status,
            opentelemetry::trace::Status::Error { .. }
        ));
    }

    fn members(seq: i64, n: usize) -> StreamChange {
        StreamChange {
            seq,
            tenant_id: "acme".into(),
            change: ReplicaChange::MembersAdded {
                group_id: "g".into(),
                user_ids: (0..n).map(|i| format!("u{i}")).collect(),
            },
        }
    }

    fn user(seq: i64) -> StreamChange {
        StreamChange {
            seq,
            tenant_id: "acme".into(),
            change: ReplicaChange::UserChanged {
                user_id: format!("u{seq}"),
                active: false,
            },
        }
    }

    #[test]
    fn a_page_is_cut_into_transactions_by_users_named() {
        let seqs = |runs: Vec<&[StreamChange]>| -> Vec<Vec<i64>> {
            runs.iter()
                .map(|r| r.iter().map(|c| c.seq).collect())
                .collect()
        };
        let page = [
            members(1, 1000),
            members(2, 500),
            members(3, 499),
            user(4),
            user(5),
            members(6, 5000),
            user(7),
        ];
        assert_eq!(
            seqs(transactions(&page)),
            [vec![1], vec![2, 3, 4], vec![5], vec![6], vec![7]]
        );
        let small = [user(1), user(2), user(3)];
        assert_eq!(seqs(transactions(&small)), [vec![1, 2, 3]]);
        assert!(transactions(&[]).is_empty());
    }

    #[test]
    fn untraced_changes_give_a_root_span() {
        let spans = spans_of(&[change(1, "acme", ""), change(2, "acme", "garbage")]);
        assert_eq!(spans.len(), 1);
        assert_eq!(spans[0].parent_span_id, SpanId::INVALID);
    }

    #[test]
    fn deactivations_and_deletions_are_timed_as_deprovisioning() {
        use idpb::change::Kind;
        let at = Some(prost_types::Timestamp {
            seconds: 1_700_000_000,
            nanos: 0,
        });
        let with = |seq, kind| idpb::Change {
            at,
            kind: Some(kind),
            ..change(seq, "acme", "")
        };
        let user = |active| {
            Kind::UserChanged(idpb::UserChanged {
                user_id: "u".into(),
                active,
                version: 1,
            })
        };
        let deleted = Kind::UserDeleted(idpb::UserDeleted {
            user_id: "u".into(),
        });
        let group = Kind::GroupChanged(idpb::GroupChanged {
            group_id: "g".into(),
            display_name: "G".into(),
        });
        let page = [
            with(1, user(true)),
            with(2, user(false)),
            with(3, deleted),
            with(4, group),
        ];
        let timings = BatchTimings::of(&page);
        assert_eq!(timings.deactivations.len(), 2);
        assert!(timings.last.is_some());
    }
}
