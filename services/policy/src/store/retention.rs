//! Pruning policy's growing tables, the role history (`role_changes`) and
//! the alert delivery log (`alert_deliveries`), one tenant at a time in
//! batches of their own transactions (`storekit::retention`). A batch takes
//! no tenant write lock (it deletes rows no recomputation reads) and never
//! the newest role change of a tenant, so `WatchRoleChanges` can tell a
//! pruned cursor by the gap after it.

use std::collections::BTreeSet;

use storekit::retention::{Rule, Table, cap_bound, distinct_tenants_sql, drain, prune_batch};

use super::compute::ROLE_HEADS;
use super::scope::{CrossTenant, Scope};
use super::sql::SqlStore;
use crate::domain::TenantId;

/// The tables retention prunes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pruned {
    /// The role history, also the log `WatchRoleChanges` serves.
    RoleChanges,
    /// The alert delivery log (webhook and email attempts).
    AlertDeliveries,
}

impl Pruned {
    fn table(self) -> Table {
        match self {
            Self::RoleChanges => Table {
                name: "role_changes",
                key: "seq",
                heads: Some(ROLE_HEADS),
            },
            Self::AlertDeliveries => Table {
                name: "alert_deliveries",
                key: "id",
                heads: None,
            },
        }
    }
}

impl SqlStore {
    /// Tenants with role changes or deliveries: the heads of the role log,
    /// and the delivery log's tenants by a loose index scan.
    pub(super) async fn pruned_tenants_query(&self) -> Result<Vec<String>, sqlx::Error> {
        let mut tx = self
            .begin_read(Scope::AllTenants(CrossTenant::Retention))
            .await?;
        let mut tenants: BTreeSet<String> = storekit::stream::all_heads(&mut tx, ROLE_HEADS)
            .await?
            .into_iter()
            .map(|(t, _)| t)
            .collect();
        let sql = distinct_tenants_sql("alert_deliveries");
        let delivered: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .fetch_all(&mut *tx)
            .await?;
        tenants.extend(delivered);
        Ok(tenants.into_iter().collect())
    }

    pub(super) async fn prune_query(
        &self,
        tenant: &TenantId,
        what: Pruned,
        rule: &Rule,
        now: i64,
    ) -> Result<u64, sqlx::Error> {
        let table = &what.table();
        let cutoff = rule.cutoff(now);
        let mut tx = self.begin_read(Scope::Tenant(tenant)).await?;
        let cap = cap_bound(&mut tx, table, tenant.as_str(), rule.max_per_tenant).await?;
        drop(tx);
        drain(|| async move {
            let mut tx = self.begin_prune(Scope::Tenant(tenant)).await?;
            let n = prune_batch(&mut tx, table, tenant.as_str(), cutoff, cap).await?;
            tx.commit().await?;
            Ok::<_, sqlx::Error>(n)
        })
        .await
    }
}
