//! Reading identity's state for consumers of the change stream: change
//! records after a cursor, and a paged snapshot of users and memberships.

use sqlx::Row;

use super::changes::{self, ChangeRecord};
use super::scope::{CrossTenant, Scope};
use super::sql::SqlStore;
use crate::domain::TenantId;
use crate::error::IdentityError;

/// A user as a snapshot reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct SnapshotUser {
    pub user_id: String,
    pub active: bool,
    pub deleted: bool,
    pub group_ids: Vec<String>,
}

/// A page of a tenant's change records: `$1` tenant, `$2` after, `$3` limit.
pub(super) const CHANGES_AFTER: &str = "SELECT seq, tenant_id, kind, resource_id, version, at, payload, trace_context \
     FROM changes WHERE tenant_id = $1 AND seq > $2 ORDER BY seq LIMIT $3";

impl SqlStore {
    /// The tenant's change records after `after_seq`, in order: at most
    /// `limit`, and no more than about `max_bytes` of payload (at least one).
    pub(super) async fn changes_after_query(
        &self,
        tenant: &TenantId,
        after_seq: i64,
        limit: u32,
        max_bytes: usize,
    ) -> Result<Vec<ChangeRecord>, IdentityError> {
        let mut tx = self.read_tx(Scope::Tenant(tenant)).await?;
        let rows = sqlx::query(CHANGES_AFTER)
            .bind(tenant.as_str())
            .bind(after_seq)
            .bind(i64::from(limit))
            .fetch_all(&mut *tx)
            .await?;
        tx.commit().await?;
        let mut out = Vec::with_capacity(rows.len());
        let mut bytes = 0;
        for row in &rows {
            let record = changes::from_row(row)?;
            bytes += record.payload.len();
            if bytes > max_bytes && !out.is_empty() {
                break;
            }
            out.push(record);
        }
        Ok(out)
    }

    /// Every tenant's newest position.
    pub(super) async fn stream_heads_query(&self) -> Result<Vec<(String, i64)>, IdentityError> {
        let mut tx = self
            .read_tx(Scope::AllTenants(CrossTenant::WatchAllTenants))
            .await?;
        let heads = storekit::stream::all_heads(&mut tx, changes::HEADS).await?;
        tx.commit().await?;
        Ok(heads)
    }

    pub(super) async fn snapshot_query(
        &self,
        tenant: &TenantId,
        after_user_id: &str,
        limit: u32,
    ) -> Result<(i64, Vec<SnapshotUser>), IdentityError> {
        // The tenant's position first, in its own transaction: the page
        // read next is at least this new.
        let mut tx = self.read_tx(Scope::Tenant(tenant)).await?;
        let as_of = storekit::stream::head(&mut tx, changes::HEADS, tenant.as_str()).await?;
        tx.commit().await?;
        let mut tx = self.read_tx(Scope::Tenant(tenant)).await?;
        let rows = sqlx::query(
            "SELECT id, active, CASE WHEN deleted IS NULL THEN 0 ELSE 1 END AS gone FROM users \
             WHERE tenant_id = $1 AND id > $2 ORDER BY id LIMIT $3",
        )
        .bind(tenant.as_str())
        .bind(after_user_id)
        .bind(i64::from(limit))
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        let mut users = Vec::with_capacity(rows.len());
        for row in &rows {
            users.push(SnapshotUser {
                user_id: row.try_get("id")?,
                active: super::users::flag(row, "active")?,
                deleted: row
                    .try_get::<i32, _>("gone")
                    .map(|g| g != 0)
                    .or_else(|_| row.try_get::<i64, _>("gone").map(|g| g != 0))?,
                group_ids: Vec::new(),
            });
        }
        let ids: Vec<String> = users.iter().map(|u| u.user_id.clone()).collect();
        let mut groups = self.groups_of_users_query(tenant, &ids).await?;
        for user in &mut users {
            user.group_ids = groups
                .remove(&user.user_id)
                .unwrap_or_default()
                .into_iter()
                .map(|(id, _)| id)
                .collect();
        }
        Ok((as_of, users))
    }
}
