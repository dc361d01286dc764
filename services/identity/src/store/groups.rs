//! Group statements of the SQL store. Members are rows of `group_members`;
//! reading a group without members never touches that table.

use std::collections::HashMap;

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::changes::{self, Change};
use super::filter_sql::{Bind, GROUPS, SqlBuf, compile};
use super::scope::Scope;
use super::sql::SqlStore;
use super::users::bind_all;
use super::{GroupChange, GroupRecord, ListQuery, MemberRecord, Page};
use crate::domain::{
    GroupColumns, MemberOp, NewMember, ResourceId, TenantId, fold_case, now_micros,
};
use crate::error::IdentityError;

const GROUP_COLUMNS: &str = "g.id, g.tenant_id, g.display_name, g.external_id, g.version, g.created, g.last_modified, g.resource";

/// Ids per statement when a list of ids is bound (well under both backends' limits).
const CHUNK: usize = 500;

fn group_from_row(row: &AnyRow) -> Result<GroupRecord, sqlx::Error> {
    Ok(GroupRecord {
        id: row.try_get("id")?,
        tenant_id: row.try_get("tenant_id")?,
        display_name: row.try_get("display_name")?,
        external_id: row.try_get("external_id")?,
        version: row.try_get("version")?,
        created: row.try_get("created")?,
        last_modified: row.try_get("last_modified")?,
        resource: row.try_get("resource")?,
        members: None,
    })
}

/// `$a, $b, …` for `ids`, bound into `buf`.
fn id_list<S: AsRef<str>>(buf: &mut SqlBuf, ids: &[S]) -> String {
    ids.iter()
        .map(|id| buf.bind(Bind::Text(id.as_ref().to_owned())))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Fails with `invalidValue` unless every id is a live user of the tenant.
async fn check_users(
    conn: &mut AnyConnection,
    tenant: &TenantId,
    ids: &[ResourceId],
) -> Result<(), IdentityError> {
    for chunk in ids.chunks(CHUNK) {
        let mut buf = SqlBuf::new(super::Dialect::Postgres);
        let t = buf.bind(Bind::Text(tenant.as_str().to_owned()));
        let list = id_list(
            &mut buf,
            &chunk.iter().map(ResourceId::as_str).collect::<Vec<_>>(),
        );
        let sql = format!(
            "SELECT id FROM users WHERE tenant_id = {t} AND deleted IS NULL AND id IN ({list})"
        );
        let rows = bind_all(sqlx::query(sqlx::AssertSqlSafe(sql)), &buf.binds)
            .fetch_all(&mut *conn)
            .await?;
        if rows.len() != chunk.len() {
            let found: Vec<String> = rows
                .iter()
                .map(|r| r.try_get("id"))
                .collect::<Result<_, _>>()?;
            let missing = chunk
                .iter()
                .find(|id| !found.iter().any(|f| f == id.as_str()));
            let shown = missing.map_or("?", ResourceId::as_str);
            return Err(scim::ScimError::invalid_value(format!(
                "member '{shown}' is not a user of this tenant"
            ))
            .into());
        }
    }
    Ok(())
}

/// Runs a statement over `ids` in chunks and collects the returned `user_id`s.
/// `statement` gets the buffer and the chunk's ids to bind.
async fn each_chunk(
    conn: &mut AnyConnection,
    ids: &[ResourceId],
    statement: impl Fn(&mut SqlBuf, &[&str]) -> String,
) -> Result<Vec<String>, sqlx::Error> {
    let mut out = Vec::new();
    for chunk in ids.chunks(CHUNK) {
        let mut buf = SqlBuf::new(super::Dialect::Postgres);
        let values: Vec<&str> = chunk.iter().map(ResourceId::as_str).collect();
        let sql = statement(&mut buf, &values);
        let rows = bind_all(sqlx::query(sqlx::AssertSqlSafe(sql)), &buf.binds)
            .fetch_all(&mut *conn)
            .await?;
        for row in rows {
            out.push(row.try_get("user_id")?);
        }
    }
    Ok(out)
}

/// Applies one membership change; returns the user ids added and removed.
async fn apply_member_op(
    conn: &mut AnyConnection,
    tenant: &TenantId,
    group_id: &str,
    op: &MemberOp,
) -> Result<(Vec<String>, Vec<String>), IdentityError> {
    let scope = |buf: &mut SqlBuf| {
        let t = buf.bind(Bind::Text(tenant.as_str().to_owned()));
        let g = buf.bind(Bind::Text(group_id.to_owned()));
        (t, g)
    };
    let remove = |buf: &mut SqlBuf, ids: &[&str]| -> String {
        let (t, g) = scope(buf);
        let list = id_list(buf, ids);
        format!(
            "DELETE FROM group_members WHERE tenant_id = {t} AND group_id = {g} \
             AND user_id IN ({list}) RETURNING user_id"
        )
    };
    match op {
        MemberOp::Add(members) => {
            let ids: Vec<ResourceId> = members.iter().map(|m| m.id.clone()).collect();
            check_users(conn, tenant, &ids).await?;
            Ok((
                insert_members(conn, tenant, group_id, members).await?,
                Vec::new(),
            ))
        }
        MemberOp::Remove(ids) => Ok((Vec::new(), each_chunk(conn, ids, remove).await?)),
        MemberOp::RemoveAll => {
            let rows = sqlx::query(
                "DELETE FROM group_members WHERE tenant_id = $1 AND group_id = $2 RETURNING user_id",
            )
            .bind(tenant.as_str())
            .bind(group_id)
            .fetch_all(&mut *conn)
            .await?;
            let removed = rows
                .iter()
                .map(|r| r.try_get("user_id"))
                .collect::<Result<_, _>>()?;
            Ok((Vec::new(), removed))
        }
        MemberOp::ReplaceAll(members) => {
            let ids: Vec<ResourceId> = members.iter().map(|m| m.id.clone()).collect();
            check_users(conn, tenant, &ids).await?;
            let current = member_ids(conn, tenant, group_id).await?;
            let stale: Vec<ResourceId> = current
                .iter()
                .filter(|c| !ids.iter().any(|i| i.as_str() == c.as_str()))
                .filter_map(|c| ResourceId::parse(c))
                .collect();
            let removed = each_chunk(conn, &stale, remove).await?;
            let added = insert_members(conn, tenant, group_id, members).await?;
            Ok((added, removed))
        }
    }
}

/// Inserts members that are not members yet (returning their ids) and
/// records a changed `display` of existing ones.
async fn insert_members(
    conn: &mut AnyConnection,
    tenant: &TenantId,
    group_id: &str,
    members: &[NewMember],
) -> Result<Vec<String>, sqlx::Error> {
    for m in members {
        if let Some(display) = &m.display {
            sqlx::query(
                "UPDATE group_members SET display = $4 WHERE tenant_id = $1 AND group_id = $2 \
                 AND user_id = $3 AND (display IS NULL OR display <> $4)",
            )
            .bind(tenant.as_str())
            .bind(group_id)
            .bind(m.id.as_str())
            .bind(display)
            .execute(&mut *conn)
            .await?;
        }
    }
    let mut added = Vec::new();
    for chunk in members.chunks(CHUNK) {
        let mut buf = SqlBuf::new(super::Dialect::Postgres);
        let t = buf.bind(Bind::Text(tenant.as_str().to_owned()));
        let g = buf.bind(Bind::Text(group_id.to_owned()));
        let mut rows = Vec::with_capacity(chunk.len());
        for m in chunk {
            let u = buf.bind(Bind::Text(m.id.as_str().to_owned()));
            let d = match &m.display {
                Some(d) => buf.bind(Bind::Text(d.clone())),
                None => "NULL".to_owned(),
            };
            rows.push(format!("({t}, {g}, {u}, {d})"));
        }
        let sql = format!(
            "INSERT INTO group_members (tenant_id, group_id, user_id, display) VALUES {} \
             ON CONFLICT DO NOTHING RETURNING user_id",
            rows.join(", ")
        );
        for row in bind_all(sqlx::query(sqlx::AssertSqlSafe(sql)), &buf.binds)
            .fetch_all(&mut *conn)
            .await?
        {
            added.push(row.try_get("user_id")?);
        }
    }
    Ok(added)
}

async fn member_ids(
    conn: &mut AnyConnection,
    tenant: &TenantId,
    group_id: &str,
) -> Result<Vec<String>, sqlx::Error> {
    let rows =
        sqlx::query("SELECT user_id FROM group_members WHERE tenant_id = $1 AND group_id = $2")
            .bind(tenant.as_str())
            .bind(group_id)
            .fetch_all(conn)
            .await?;
    rows.iter().map(|r| r.try_get("user_id")).collect()
}

/// Applies membership changes in order and returns the change records of
/// what really changed. The caller records them after its last row write:
/// the outbox lock is taken last, so its holder never waits for a row lock
/// (see `changes.rs`).
async fn apply_member_ops(
    conn: &mut AnyConnection,
    tenant: &TenantId,
    group_id: &str,
    ops: &[MemberOp],
) -> Result<Vec<Change>, IdentityError> {
    let mut out = Vec::new();
    for op in ops {
        let (added, removed) = apply_member_op(conn, tenant, group_id, op).await?;
        if !removed.is_empty() {
            let change = Change::MembersRemoved {
                group_id: group_id.to_owned(),
                user_ids: removed,
            };
            out.push(change);
        }
        if !added.is_empty() {
            let change = Change::MembersAdded {
                group_id: group_id.to_owned(),
                user_ids: added,
            };
            out.push(change);
        }
    }
    Ok(out)
}

impl SqlStore {
    pub(super) async fn create_group_tx(
        &self,
        tenant: &TenantId,
        cols: &GroupColumns,
        members: &[NewMember],
    ) -> Result<GroupRecord, IdentityError> {
        let mut tx = self.write_tx(Scope::Tenant(tenant)).await?;
        let now = now_micros();
        let group = GroupRecord {
            id: ResourceId::new().as_str().to_owned(),
            tenant_id: tenant.as_str().to_owned(),
            display_name: cols.display_name.clone(),
            external_id: cols.external_id.clone(),
            version: 1,
            created: now,
            last_modified: now,
            resource: cols.resource.clone(),
            members: None,
        };
        sqlx::query(
            "INSERT INTO groups (tenant_id, id, display_name, display_name_ci, external_id, \
             version, created, last_modified, resource) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(tenant.as_str())
        .bind(&group.id)
        .bind(&group.display_name)
        .bind(fold_case(&group.display_name))
        .bind(&group.external_id)
        .bind(group.version)
        .bind(group.created)
        .bind(group.last_modified)
        .bind(&group.resource)
        .execute(&mut *tx)
        .await?;
        let change = Change::GroupChanged {
            kind: "group.created",
            group_id: group.id.clone(),
            display_name: group.display_name.clone(),
            version: 1,
        };
        let mut log = vec![change];
        if !members.is_empty() {
            let ops = [MemberOp::Add(members.to_vec())];
            log.extend(apply_member_ops(&mut tx, tenant, &group.id, &ops).await?);
        }
        changes::record_all(&mut tx, self.dialect, tenant, &log, now).await?;
        tx.commit().await?;
        Ok(group)
    }

    pub(super) async fn get_group_row(
        &self,
        tenant: &TenantId,
        id: &ResourceId,
        include_members: bool,
    ) -> Result<Option<GroupRecord>, IdentityError> {
        let sql =
            format!("SELECT {GROUP_COLUMNS} FROM groups g WHERE g.tenant_id = $1 AND g.id = $2");
        let mut tx = self.read_tx(Scope::Tenant(tenant)).await?;
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(tenant.as_str())
            .bind(id.as_str())
            .fetch_optional(&mut *tx)
            .await?;
        tx.commit().await?;
        let Some(row) = row else { return Ok(None) };
        let mut group = group_from_row(&row)?;
        if include_members {
            let mut members = self.members_of(tenant, &[group.id.clone()]).await?;
            group.members = Some(members.remove(&group.id).unwrap_or_default());
        }
        Ok(Some(group))
    }

    /// Members (id and userName) of each group, in user-id order.
    async fn members_of(
        &self,
        tenant: &TenantId,
        group_ids: &[String],
    ) -> Result<HashMap<String, Vec<MemberRecord>>, IdentityError> {
        let mut out: HashMap<String, Vec<MemberRecord>> = HashMap::new();
        for chunk in group_ids.chunks(CHUNK) {
            let mut buf = SqlBuf::new(self.dialect);
            let t = buf.bind(Bind::Text(tenant.as_str().to_owned()));
            let list = id_list(&mut buf, chunk);
            let sql = format!(
                "SELECT m.group_id, m.user_id, COALESCE(m.display, u.user_name) AS display \
                 FROM group_members m \
                 JOIN users u ON u.tenant_id = m.tenant_id AND u.id = m.user_id \
                 WHERE m.tenant_id = {t} AND m.group_id IN ({list}) ORDER BY m.group_id, m.user_id"
            );
            let mut tx = self.read_tx(Scope::Tenant(tenant)).await?;
            let rows = bind_all(sqlx::query(sqlx::AssertSqlSafe(sql)), &buf.binds)
                .fetch_all(&mut *tx)
                .await?;
            tx.commit().await?;
            for row in rows {
                out.entry(row.try_get("group_id")?)
                    .or_default()
                    .push(MemberRecord {
                        user_id: row.try_get("user_id")?,
                        display: row.try_get("display")?,
                    });
            }
        }
        Ok(out)
    }

    pub(super) async fn modify_group_tx(
        &self,
        tenant: &TenantId,
        id: &ResourceId,
        if_version: Option<i64>,
        change: GroupChange<'_>,
    ) -> Result<GroupRecord, IdentityError> {
        let mut tx = self.write_tx(Scope::Tenant(tenant)).await?;
        let sql = format!(
            "SELECT {GROUP_COLUMNS} FROM groups g WHERE g.tenant_id = $1 AND g.id = $2{}",
            self.dialect.for_update()
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(tenant.as_str())
            .bind(id.as_str())
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(IdentityError::NotFound("group"))?;
        let current = group_from_row(&row)?;
        if if_version.is_some_and(|v| v != current.version) {
            return Err(IdentityError::VersionMismatch {
                current: current.version,
            });
        }
        let (cols, member_ops) = change(&current)?;
        let now = now_micros();
        let mut log = apply_member_ops(&mut tx, tenant, &current.id, &member_ops).await?;
        let doc_changed = cols.resource != current.resource;
        if !doc_changed && log.is_empty() {
            // Commit all the same: a member's display may have changed.
            tx.commit().await?;
            return Ok(current);
        }
        let group = GroupRecord {
            display_name: cols.display_name.clone(),
            external_id: cols.external_id.clone(),
            version: current.version + 1,
            last_modified: now,
            resource: cols.resource.clone(),
            ..current
        };
        sqlx::query(
            "UPDATE groups SET display_name = $3, display_name_ci = $4, external_id = $5, \
             version = $6, last_modified = $7, resource = $8 WHERE tenant_id = $1 AND id = $2",
        )
        .bind(tenant.as_str())
        .bind(&group.id)
        .bind(&group.display_name)
        .bind(fold_case(&group.display_name))
        .bind(&group.external_id)
        .bind(group.version)
        .bind(group.last_modified)
        .bind(&group.resource)
        .execute(&mut *tx)
        .await?;
        if doc_changed {
            log.insert(
                0,
                Change::GroupChanged {
                    kind: "group.updated",
                    group_id: group.id.clone(),
                    display_name: group.display_name.clone(),
                    version: group.version,
                },
            );
        }
        changes::record_all(&mut tx, self.dialect, tenant, &log, now).await?;
        tx.commit().await?;
        Ok(group)
    }

    pub(super) async fn delete_group_tx(
        &self,
        tenant: &TenantId,
        id: &ResourceId,
        if_version: Option<i64>,
    ) -> Result<(), IdentityError> {
        let mut tx = self.write_tx(Scope::Tenant(tenant)).await?;
        let sql = format!(
            "SELECT version FROM groups WHERE tenant_id = $1 AND id = $2{}",
            self.dialect.for_update()
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(tenant.as_str())
            .bind(id.as_str())
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(IdentityError::NotFound("group"))?;
        let version: i64 = row.try_get("version")?;
        if if_version.is_some_and(|v| v != version) {
            return Err(IdentityError::VersionMismatch { current: version });
        }
        let members = member_ids(&mut tx, tenant, id.as_str()).await?;
        sqlx::query("DELETE FROM group_members WHERE tenant_id = $1 AND group_id = $2")
            .bind(tenant.as_str())
            .bind(id.as_str())
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM groups WHERE tenant_id = $1 AND id = $2")
            .bind(tenant.as_str())
            .bind(id.as_str())
            .execute(&mut *tx)
            .await?;
        let change = Change::GroupDeleted {
            group_id: id.as_str().to_owned(),
            user_ids: members,
        };
        changes::record(&mut tx, self.dialect, tenant, &change, now_micros()).await?;
        tx.commit().await?;
        Ok(())
    }

    pub(super) async fn list_groups_query(
        &self,
        tenant: &TenantId,
        query: &ListQuery,
        include_members: bool,
    ) -> Result<Page<GroupRecord>, IdentityError> {
        let mut buf = SqlBuf::new(self.dialect);
        let t = buf.bind(Bind::Text(tenant.as_str().to_owned()));
        buf.push(&format!(" FROM groups g WHERE g.tenant_id = {t}"));
        let table = GROUPS.with_type(query.rt);
        if let Some(filter) = &query.filter {
            buf.push(" AND ");
            compile(&table, filter, &mut buf)?;
        }
        if let Some(keyset) = &query.keyset {
            let mut page = self
                .keyset_page(
                    tenant,
                    &table,
                    GROUP_COLUMNS,
                    buf,
                    query,
                    keyset,
                    group_from_row,
                )
                .await?;
            self.attach_members(tenant, &mut page.items, include_members)
                .await?;
            return Ok(page);
        }
        let mut page = self
            .index_page(tenant, &table, GROUP_COLUMNS, buf, query, group_from_row)
            .await?;
        self.attach_members(tenant, &mut page.items, include_members)
            .await?;
        Ok(page)
    }

    /// Loads the members of `items` when asked to (one query for all).
    async fn attach_members(
        &self,
        tenant: &TenantId,
        items: &mut [GroupRecord],
        include_members: bool,
    ) -> Result<(), IdentityError> {
        if include_members && !items.is_empty() {
            let ids: Vec<String> = items.iter().map(|g| g.id.clone()).collect();
            let mut members = self.members_of(tenant, &ids).await?;
            for g in items.iter_mut() {
                g.members = Some(members.remove(&g.id).unwrap_or_default());
            }
        }
        Ok(())
    }

    /// The groups (id, displayName) of each user, for the read-only `groups` attribute.
    pub(super) async fn groups_of_users_query(
        &self,
        tenant: &TenantId,
        user_ids: &[String],
    ) -> Result<HashMap<String, Vec<(String, String)>>, IdentityError> {
        let mut out: HashMap<String, Vec<(String, String)>> = HashMap::new();
        for chunk in user_ids.chunks(CHUNK) {
            let mut buf = SqlBuf::new(self.dialect);
            let t = buf.bind(Bind::Text(tenant.as_str().to_owned()));
            let list = id_list(&mut buf, chunk);
            let sql = format!(
                "SELECT m.user_id, g.id, g.display_name FROM group_members m \
                 JOIN groups g ON g.tenant_id = m.tenant_id AND g.id = m.group_id \
                 WHERE m.tenant_id = {t} AND m.user_id IN ({list}) ORDER BY g.display_name_ci, g.id"
            );
            let mut tx = self.read_tx(Scope::Tenant(tenant)).await?;
            let rows = bind_all(sqlx::query(sqlx::AssertSqlSafe(sql)), &buf.binds)
                .fetch_all(&mut *tx)
                .await?;
            tx.commit().await?;
            for row in rows {
                out.entry(row.try_get("user_id")?)
                    .or_default()
                    .push((row.try_get("id")?, row.try_get("display_name")?));
            }
        }
        Ok(out)
    }
}
