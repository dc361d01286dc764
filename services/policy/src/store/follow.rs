//! Following identity: the replica of users and memberships, the stream
//! cursor, and `Reconcile`. Each batch of changes, and each reconcile, is one
//! transaction with the recomputation of the users it touches.

use std::collections::{BTreeMap, BTreeSet};

use sqlx::{AnyConnection, Row};

use super::Applied;
use super::compute::{members_of, recompute};
use super::scope::{CrossTenant, Scope};
use super::sql::{CHUNK, SqlStore, placeholders};
use crate::domain::{ReplicaChange, SnapshotUser, StreamChange, TenantId, now_micros};

/// Users touched per tenant by a batch.
type Touched = BTreeMap<TenantId, BTreeSet<String>>;

async fn read_cursor(conn: &mut AnyConnection) -> Result<i64, sqlx::Error> {
    sqlx::query("SELECT seq FROM stream_cursor WHERE id = 1")
        .fetch_one(conn)
        .await?
        .try_get("seq")
}

async fn write_cursor(conn: &mut AnyConnection, seq: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE stream_cursor SET seq = $1 WHERE id = 1")
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
            for chunk in user_ids.chunks(CHUNK) {
                let sql = format!(
                    "DELETE FROM replica_members WHERE tenant_id = $1 AND group_id = $2 \
                     AND user_id IN ({})",
                    placeholders(3, chunk.len())
                );
                let mut query = sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(tenant.as_str())
                    .bind(group_id);
                for id in chunk {
                    query = query.bind(id.as_str());
                }
                query.execute(&mut *conn).await?;
            }
            touched.extend(user_ids.iter().cloned());
        }
        ReplicaChange::Other => {}
    }
    Ok(())
}

impl SqlStore {
    pub(super) async fn cursor_query(&self) -> Result<i64, sqlx::Error> {
        let mut tx = self
            .begin_read(Scope::AllTenants(CrossTenant::StreamPosition))
            .await?;
        read_cursor(&mut tx).await
    }

    pub(super) async fn apply_changes_tx(
        &self,
        from: i64,
        changes: &[StreamChange],
    ) -> Result<Applied, sqlx::Error> {
        let mut tx = self
            .begin_write(Scope::AllTenants(CrossTenant::FollowStream))
            .await?;
        let stored = read_cursor(&mut tx).await?;
        if stored != from {
            return Ok(Applied::Moved { cursor: stored });
        }
        let mut touched = Touched::new();
        let mut cursor = stored;
        // Runs of user changes (an initial sync is mostly creates) are
        // written set-wise; any other change first writes the run before it,
        // so the replica sees every change in stream order.
        let mut run: BTreeMap<TenantId, Vec<(String, bool, bool)>> = BTreeMap::new();
        for c in changes.iter().filter(|c| c.seq > stored) {
            cursor = cursor.max(c.seq);
            let Ok(tenant) = TenantId::parse(&c.tenant_id) else {
                tracing::warn!(seq = c.seq, "change of an invalid tenant id skipped");
                continue;
            };
            let users = touched.entry(tenant.clone()).or_default();
            if let ReplicaChange::UserChanged { user_id, active } = &c.change {
                users.insert(user_id.clone());
                run.entry(tenant)
                    .or_default()
                    .push((user_id.clone(), *active, false));
                continue;
            }
            for (t, users) in std::mem::take(&mut run) {
                upsert_users(&mut tx, &t, &users).await?;
            }
            apply_one(&mut tx, &tenant, &c.change, users).await?;
        }
        for (t, users) in std::mem::take(&mut run) {
            upsert_users(&mut tx, &t, &users).await?;
        }
        let now = now_micros();
        let mut role_changes = 0;
        for (tenant, users) in &touched {
            let ids: Vec<String> = users.iter().cloned().collect();
            role_changes += recompute(&mut tx, tenant, &ids, now).await?;
        }
        write_cursor(&mut tx, cursor).await?;
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
        // Users absent from the snapshot were created while it was read, so
        // after `as_of_seq`: the rewind below replays them.
        sqlx::query("DELETE FROM replica_members WHERE tenant_id = $1")
            .bind(tenant.as_str())
            .execute(&mut *tx)
            .await?;
        for user in users {
            upsert_user(&mut tx, tenant, &user.user_id, user.active, user.deleted).await?;
            for group in &user.group_ids {
                add_member(&mut tx, tenant, group, &user.user_id).await?;
            }
        }
        let rows = sqlx::query("SELECT user_id FROM replica_users WHERE tenant_id = $1")
            .bind(tenant.as_str())
            .fetch_all(&mut *tx)
            .await?;
        let ids: Vec<String> = rows
            .iter()
            .map(|r| r.try_get("user_id"))
            .collect::<Result<_, _>>()?;
        let changed = recompute(&mut tx, tenant, &ids, now_micros()).await?;
        // The snapshot may predate changes already applied: apply them again
        // (replica changes are idempotent; roles change only on a difference).
        if read_cursor(&mut tx).await? > as_of_seq {
            write_cursor(&mut tx, as_of_seq).await?;
        }
        self.commit(tx).await?;
        let checked = u32::try_from(ids.len()).unwrap_or(u32::MAX);
        Ok((checked, changed))
    }
}
