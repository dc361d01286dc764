//! Following identity: the replica of users and memberships, the stream
//! cursors (one per tenant), and `Reconcile`. Each run of a tenant's
//! changes the follower applies (a page, or a part of one: see
//! `follower.rs`), and each reconcile, is one transaction of that tenant
//! with the recomputation of the users it touches.
//!
//! A page is applied only if the tenant's stored cursor is where the
//! follower expected it (`from`) and, when a lease is given, the replica
//! still holds the lease of the tenant's partition. The check and the
//! write run under the tenant's write lock, so two replicas that both
//! believe they own a tenant (a lease just handed over) cannot apply a
//! change twice or out of order: the second finds the cursor moved.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use sqlx::{AnyConnection, Row};

use super::Applied;
use super::compute::{members_of, recompute};
use super::leases::{Lease, holds};
use super::scope::{CrossTenant, Scope};
use super::sql::{CHUNK, SqlStore, placeholders};
use crate::domain::{ReplicaChange, SnapshotUser, StreamChange, TenantId, now_micros};

/// The follower's cursors in identity's stream, a row a tenant.
pub(super) const CURSORS: &str = "stream_cursors";

async fn read_cursor(conn: &mut AnyConnection, tenant: &TenantId) -> Result<i64, sqlx::Error> {
    storekit::stream::head(conn, CURSORS, tenant.as_str()).await
}

async fn write_cursor(
    conn: &mut AnyConnection,
    tenant: &TenantId,
    seq: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO stream_cursors (tenant_id, seq) VALUES ($1, $2) \
         ON CONFLICT (tenant_id) DO UPDATE SET seq = excluded.seq",
    )
    .bind(tenant.as_str())
    .bind(seq)
    .execute(conn)
    .await?;
    Ok(())
}

async fn upsert_user(
    conn: &mut AnyConnection,
    tenant: &TenantId,
    user_id: &str,
    active: bool,
    deleted: bool,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO replica_users (tenant_id, user_id, active, deleted) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (tenant_id, user_id) DO UPDATE SET active = excluded.active, deleted = excluded.deleted",
    )
    .bind(tenant.as_str())
    .bind(user_id)
    .bind(active)
    .bind(deleted)
    .execute(conn)
    .await?;
    Ok(())
}

/// `(user_id, active, deleted)` of one tenant, written with one statement
/// per [`CHUNK`] rows; a user listed twice keeps its last state.
async fn upsert_users(
    conn: &mut AnyConnection,
    tenant: &TenantId,
    users: &[(String, bool, bool)],
) -> Result<(), sqlx::Error> {
    let mut last: BTreeMap<&str, (bool, bool)> = BTreeMap::new();
    for (id, active, deleted) in users {
        last.insert(id, (*active, *deleted));
    }
    let rows: Vec<_> = last.into_iter().collect();
    for chunk in rows.chunks(CHUNK) {
        let values = (0..chunk.len())
            .map(|i| format!("({})", placeholders(1 + i * 4, 4)))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "INSERT INTO replica_users (tenant_id, user_id, active, deleted) VALUES {values} \
             ON CONFLICT (tenant_id, user_id) DO UPDATE SET active = excluded.active, \
             deleted = excluded.deleted"
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for (id, (active, deleted)) in chunk {
            query = query
                .bind(tenant.as_str())
                .bind(*id)
                .bind(*active)
                .bind(*deleted);
        }
        query.execute(&mut *conn).await?;
    }
    Ok(())
}

async fn add_member(
    conn: &mut AnyConnection,
    tenant: &TenantId,
    group_id: &str,
    user_id: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO replica_members (tenant_id, group_id, user_id) VALUES ($1, $2, $3) \
         ON CONFLICT DO NOTHING",
    )
    .bind(tenant.as_str())
    .bind(group_id)
    .bind(user_id)
    .execute(conn)
    .await?;
    Ok(())
}

/// Removes one member (`$3`) from a group (`$1`, `$2`): a primary-key
/// delete, run once per listed member. A set-based delete joined to the
/// list is at the planner's mercy: while the statistics still describe the
/// table before a large group's load, Postgres plans it as a pass over the
/// whole group for every listed id (seen at 20,000 members: 14 s per
/// record of 1,000 ids, past the statement timeout, so the tenant's stream
/// stopped on that record). One index lookup per id has no other plan.
pub(super) const REMOVE_MEMBER: &str =
    "DELETE FROM replica_members WHERE tenant_id = $1 AND group_id = $2 AND user_id = $3";

/// Applies one change to the replica, noting the users whose role may change.
async fn apply_one(
    conn: &mut AnyConnection,
    tenant: &TenantId,
    change: &ReplicaChange,
    touched: &mut BTreeSet<String>,
) -> Result<(), sqlx::Error> {
    match change {
        ReplicaChange::UserChanged { user_id, active } => {
            upsert_user(conn, tenant, user_id, *active, false).await?;
            touched.insert(user_id.clone());
        }
        ReplicaChange::UserDeleted { user_id } => {
            upsert_user(conn, tenant, user_id, false, true).await?;
            sqlx::query("DELETE FROM replica_members WHERE tenant_id = $1 AND user_id = $2")
                .bind(tenant.as_str())
                .bind(user_id)
                .execute(&mut *conn)
                .await?;
            touched.insert(user_id.clone());
        }
        ReplicaChange::GroupDeleted { group_id, user_ids } => {
            // The replica's members count too, should the list be partial.
            touched.extend(members_of(conn, tenant, group_id).await?);
            touched.extend(user_ids.iter().cloned());
            sqlx::query("DELETE FROM replica_members WHERE tenant_id = $1 AND group_id = $2")
                .bind(tenant.as_str())
                .bind(group_id)
                .execute(&mut *conn)
                .await?;
        }
        ReplicaChange::MembersAdded { group_id, user_ids } => {
            let ids: BTreeSet<&str> = user_ids.iter().map(String::as_str).collect();
            let ids: Vec<&str> = ids.into_iter().collect();
            for chunk in ids.chunks(CHUNK) {
                // identity's foreign keys make an unknown member impossible;
                // should one come, it is recorded as an active user.
                let values = (0..chunk.len())
                    .map(|i| format!("($1, ${}, TRUE, FALSE)", i + 2))
                    .collect::<Vec<_>>()
                    .join(", ");
                let sql = format!(
                    "INSERT INTO replica_users (tenant_id, user_id, active, deleted) \
                     VALUES {values} ON CONFLICT DO NOTHING"
                );
                let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(tenant.as_str());
                for id in chunk {
                    query = query.bind(*id);
                }
                query.execute(&mut *conn).await?;
                let values = (0..chunk.len())
                    .map(|i| format!("($1, $2, ${})", i + 3))
                    .collect::<Vec<_>>()
                    .join(", ");
                let sql = format!(
                    "INSERT INTO replica_members (tenant_id, group_id, user_id) \
                     VALUES {values} ON CONFLICT DO NOTHING"
                );
                let mut query = sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(tenant.as_str())
                    .bind(group_id);
                for id in chunk {
                    query = query.bind(*id);
                }
                query.execute(&mut *conn).await?;
            }
            touched.extend(ids.iter().map(|id| (*id).to_owned()));
        }
        ReplicaChange::MembersRemoved { group_id, user_ids } => {
            let ids: BTreeSet<&str> = user_ids.iter().map(String::as_str).collect();
            for id in ids {
                sqlx::query(REMOVE_MEMBER)
                    .bind(tenant.as_str())
                    .bind(group_id)
                    .bind(id)
                    .execute(&mut *conn)
                    .await?;
            }
            touched.extend(user_ids.iter().cloned());
        }
        ReplicaChange::Other => {}
    }
    Ok(())
}

impl SqlStore {
    pub(super) async fn cursors_query(&self) -> Result<HashMap<String, i64>, sqlx::Error> {
        let mut tx = self
            .begin_read(Scope::AllTenants(CrossTenant::StreamCursors))
            .await?;
        Ok(storekit::stream::all_heads(&mut tx, CURSORS)
            .await?
            .into_iter()
            .collect())
    }

    pub(super) async fn apply_changes_tx(
        &self,
        tenant: &TenantId,
        from: i64,
        changes: &[StreamChange],
        lease: Option<&Lease>,
    ) -> Result<Applied, sqlx::Error> {
        let mut tx = self.begin_write(Scope::Tenant(tenant)).await?;
        let stored = read_cursor(&mut tx, tenant).await?;
        if stored != from {
            return Ok(Applied::Moved { cursor: stored });
        }
        if let Some(lease) = lease
            && !holds(&mut tx, lease, now_micros()).await?
        {
            return Ok(Applied::LeaseLost);
        }
        let mut touched = BTreeSet::new();
        let mut cursor = stored;
        // Runs of user changes (an initial sync is mostly creates) are
        // written set-wise; any other change first writes the run before it,
        // so the replica sees every change in stream order.
        let mut run: Vec<(String, bool, bool)> = Vec::new();
        for c in changes.iter().filter(|c| c.seq > stored) {
            cursor = cursor.max(c.seq);
            if c.tenant_id != tenant.as_str() {
                tracing::warn!(seq = c.seq, "change of another tenant skipped");
                continue;
            }
            if let ReplicaChange::UserChanged { user_id, active } = &c.change {
                touched.insert(user_id.clone());
                run.push((user_id.clone(), *active, false));
                continue;
            }
            upsert_users(&mut tx, tenant, &std::mem::take(&mut run)).await?;
            apply_one(&mut tx, tenant, &c.change, &mut touched).await?;
        }
        upsert_users(&mut tx, tenant, &run).await?;
        let ids: Vec<String> = touched.into_iter().collect();
        let role_changes = recompute(&mut tx, tenant, &ids, now_micros()).await?;
        write_cursor(&mut tx, tenant, cursor).await?;
        self.commit(tx).await?;
        Ok(Applied::Applied {
            cursor,
            role_changes,
        })
    }

    pub(super) async fn reconcile_tx(
        &self,
        tenant: &TenantId,
        users: &[SnapshotUser],
        as_of_seq: i64,
    ) -> Result<(u32, u32), sqlx::Error> {
        let mut tx = self.begin_write(Scope::Tenant(tenant)).await?;
        let (checked, changed) = replace_replica(&mut tx, tenant, users).await?;
        // The snapshot may predate changes already applied: apply them again
        // (replica changes are idempotent; roles change only on a difference).
        // Only this tenant's cursor moves.
        if read_cursor(&mut tx, tenant).await? > as_of_seq {
            write_cursor(&mut tx, tenant, as_of_seq).await?;
        }
        self.commit(tx).await?;
        Ok((checked, changed))
    }

    /// The follower's way past a pruned stream: like [`Self::reconcile_tx`],
    /// but only while the stored cursor is still `from` and `lease` is
    /// held (as for a page), and the cursor is set to `as_of_seq` whichever
    /// side it is on, so the follower continues from the snapshot.
    pub(super) async fn resync_tx(
        &self,
        tenant: &TenantId,
        users: &[SnapshotUser],
        as_of_seq: i64,
        from: i64,
        lease: &Lease,
    ) -> Result<Applied, sqlx::Error> {
        let mut tx = self.begin_write(Scope::Tenant(tenant)).await?;
        let stored = read_cursor(&mut tx, tenant).await?;
        if stored != from {
            return Ok(Applied::Moved { cursor: stored });
        }
        if !holds(&mut tx, lease, now_micros()).await? {
            return Ok(Applied::LeaseLost);
        }
        let (_, role_changes) = replace_replica(&mut tx, tenant, users).await?;
        write_cursor(&mut tx, tenant, as_of_seq).await?;
        self.commit(tx).await?;
        Ok(Applied::Applied {
            cursor: as_of_seq,
            role_changes,
        })
    }
}

/// Replaces the tenant's replica with `users` and recomputes every user;
/// returns (users checked, users changed).
async fn replace_replica(
    conn: &mut AnyConnection,
    tenant: &TenantId,
    users: &[SnapshotUser],
) -> Result<(u32, u32), sqlx::Error> {
    // Users absent from the snapshot were created while it was read, so
    // after `as_of_seq`: the changes from there on bring them.
    sqlx::query("DELETE FROM replica_members WHERE tenant_id = $1")
        .bind(tenant.as_str())
        .execute(&mut *conn)
        .await?;
    for user in users {
        upsert_user(conn, tenant, &user.user_id, user.active, user.deleted).await?;
        for group in &user.group_ids {
            add_member(conn, tenant, group, &user.user_id).await?;
        }
    }
    let rows = sqlx::query("SELECT user_id FROM replica_users WHERE tenant_id = $1")
        .bind(tenant.as_str())
        .fetch_all(&mut *conn)
        .await?;
    let ids: Vec<String> = rows
        .iter()
        .map(|r| r.try_get("user_id"))
        .collect::<Result<_, _>>()?;
    let changed = recompute(conn, tenant, &ids, now_micros()).await?;
    let checked = u32::try_from(ids.len()).unwrap_or(u32::MAX);
    Ok((checked, changed))
}
