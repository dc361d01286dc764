//! Pruning identity's growing tables, one tenant at a time, in batches of
//! their own transactions (`storekit::retention`): the cap is read once,
//! then each batch deletes at most `storekit::retention::BATCH` of the
//! tenant's oldest rows. No batch touches a heads row, so the tenant's
//! writers never wait for pruning on Postgres; on SQLite a batch holds the
//! single writer for its few milliseconds.

use storekit::retention::{Rule, Table, cap_bound, drain, prune_batch};

use super::changes::HEADS;
use super::scope::Scope;
use super::sql::SqlStore;
use crate::domain::{Micros, TenantId};
use crate::error::IdentityError;

/// The tables retention prunes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pruned {
    /// The change stream: a contiguous range ending at the tenant's head
    /// is kept, and the head itself always.
    Changes,
    /// The provisioning log.
    RequestLog,
}

impl Pruned {
    fn table(self) -> Table {
        match self {
            Self::Changes => Table {
                name: "changes",
                key: "seq",
                heads: Some(HEADS),
            },
            Self::RequestLog => Table {
                name: "request_log",
                key: "id",
                heads: None,
            },
        }
    }
}

impl SqlStore {
    pub(super) async fn prune_query(
        &self,
        tenant: &TenantId,
        what: Pruned,
        rule: &Rule,
        now: Micros,
    ) -> Result<u64, IdentityError> {
        let table = &what.table();
        let cutoff = rule.cutoff(now);
        let mut tx = self.read_tx(Scope::Tenant(tenant)).await?;
        let cap = cap_bound(&mut tx, table, tenant.as_str(), rule.max_per_tenant).await?;
        tx.commit().await?;
        drain(|| async move {
            let mut tx = self.write_tx(Scope::Tenant(tenant)).await?;
            let n = prune_batch(&mut tx, table, tenant.as_str(), cutoff, cap).await?;
            tx.commit().await?;
            Ok::<_, IdentityError>(n)
        })
        .await
    }
}
