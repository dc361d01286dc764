//! Retention of identity's growing tables: the change stream (`changes`)
//! and the provisioning log (`request_log`). A background task prunes each
//! tenant's rows oldest first, by age and by a per-tenant cap, in bounded
//! batches (`storekit::retention` says how, and why a stream keeps a
//! contiguous range ending at its head).
//!
//! The change stream's contract: a consumer that falls further behind than
//! the retention (its cursor below a tenant's first retained record) gets
//! `OUT_OF_RANGE` from `ReadChanges` and `Watch` (reason
//! [`crate::error::REASON_CHANGES_PRUNED`]) instead of a silent gap, and
//! resynchronises that tenant from `Snapshot`, continuing from its
//! `as_of_seq`. identity does not know its consumers, so nothing waits for
//! them.

use std::sync::Arc;
use std::time::Duration;

use storekit::retention::Rule;

use crate::domain::{TenantId, now_micros};
use crate::error::IdentityError;
use crate::store::{Pruned, Store};

/// How long each pruned table keeps rows, and how often they are pruned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// The change stream: 30 days, 5,000,000 records per tenant.
    pub changes: Rule,
    /// The provisioning log: 30 days, 100,000 entries per tenant.
    pub request_log: Rule,
    /// How often the background task prunes (10 minutes).
    pub interval: Duration,
}

impl Default for Retention {
    fn default() -> Self {
        Self {
            changes: Rule::days(30, 5_000_000),
            request_log: Rule::days(30, 100_000),
            interval: Duration::from_secs(600),
        }
    }
}

/// Rows pruned by one pass, per table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PrunedRows {
    pub changes: u64,
    pub request_log: u64,
}

/// Prunes every tenant's tables once, counting the rows in
/// `identity_pruned_rows_total{table}`. Idempotent: replicas pruning at the
/// same time delete each row once between them.
pub async fn prune_all(
    store: &dyn Store,
    retention: &Retention,
) -> Result<PrunedRows, IdentityError> {
    let mut pruned = PrunedRows::default();
    for tenant in store.list_tenants().await? {
        let id = TenantId::parse(&tenant.id)?;
        let now = now_micros();
        let changes = store
            .prune(&id, Pruned::Changes, &retention.changes, now)
            .await?;
        let log = store
            .prune(&id, Pruned::RequestLog, &retention.request_log, now)
            .await?;
        metrics::counter!("identity_pruned_rows_total", "table" => "changes").increment(changes);
        metrics::counter!("identity_pruned_rows_total", "table" => "request_log").increment(log);
        pruned.changes += changes;
        pruned.request_log += log;
    }
    Ok(pruned)
}

/// Prunes every `retention.interval`, forever (the caller aborts it).
pub async fn prune_periodically(store: Arc<dyn Store>, retention: Retention) {
    let mut tick = tokio::time::interval(retention.interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match prune_all(store.as_ref(), &retention).await {
            Ok(PrunedRows {
                changes: 0,
                request_log: 0,
            }) => {}
            Ok(n) => tracing::info!(
                changes = n.changes,
                request_log = n.request_log,
                "retention: rows pruned"
            ),
            Err(e) => tracing::warn!(error = %e, "retention: pruning failed"),
        }
    }
}
