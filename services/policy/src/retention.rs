//! Retention of policy's growing tables: the role history (served by
//! `ListRoleHistory` and `WatchRoleChanges`) and the alert delivery log.
//! A background task on every replica prunes each tenant's rows oldest
//! first, by age and by a per-tenant cap, in bounded batches that take no
//! tenant lock; deletes are idempotent, so replicas pruning at once are
//! harmless. A `WatchRoleChanges` consumer whose cursor falls below a
//! tenant's first retained role change gets `OUT_OF_RANGE`, never a gap.

use std::sync::Arc;
use std::time::Duration;

use storekit::retention::Rule;

use crate::domain::{TenantId, now_micros};
use crate::error::PolicyError;
use crate::store::{Pruned, Store};

/// How long each pruned table keeps rows, and how often they are pruned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// Role history: 365 days, 5,000,000 changes per tenant.
    pub role_history: Rule,
    /// Alert deliveries: 90 days, 100,000 attempts per tenant.
    pub alert_deliveries: Rule,
    /// How often each replica prunes (10 minutes).
    pub interval: Duration,
}

impl Default for Retention {
    fn default() -> Self {
        Self {
            role_history: Rule::days(365, 5_000_000),
            alert_deliveries: Rule::days(90, 100_000),
            interval: Duration::from_secs(600),
        }
    }
}

/// Prunes every tenant once; returns (role changes, deliveries) deleted,
/// also counted in `policy_pruned_rows_total{table}`.
pub async fn prune_all(
    store: &dyn Store,
    retention: &Retention,
) -> Result<(u64, u64), PolicyError> {
    let (mut roles, mut deliveries) = (0, 0);
    for tenant in store.pruned_tenants().await? {
        let Ok(id) = TenantId::parse(&tenant) else {
            continue;
        };
        let now = now_micros();
        let r = store
            .prune(&id, Pruned::RoleChanges, &retention.role_history, now)
            .await?;
        let d = store
            .prune(
                &id,
                Pruned::AlertDeliveries,
                &retention.alert_deliveries,
                now,
            )
            .await?;
        metrics::counter!("policy_pruned_rows_total", "table" => "role_changes").increment(r);
        metrics::counter!("policy_pruned_rows_total", "table" => "alert_deliveries").increment(d);
        roles += r;
        deliveries += d;
    }
    Ok((roles, deliveries))
}

/// Prunes every `retention.interval` until the task is dropped.
pub async fn run(store: Arc<dyn Store>, retention: Retention) {
    let mut tick = tokio::time::interval(retention.interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match prune_all(store.as_ref(), &retention).await {
            Ok((0, 0)) => {}
            Ok((role_changes, deliveries)) => {
                tracing::info!(role_changes, deliveries, "retention: rows pruned");
            }
            Err(e) => tracing::warn!(error = ?e, "retention: pruning failed"),
        }
    }
}
