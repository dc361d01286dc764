//! Group statements of the SQL store. Members are rows of `group_members`;
//! reading a group without members never touches that table.

use std::collections::HashMap;

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::changes::{self, Change};
use super::filter_sql::{Bind, Dialect, GROUPS, SqlBuf, compile};
use super::scope::Scope;
use super::sql::SqlStore;
use super::users::bind_all;
use super::{GroupChange, GroupRecord, ListQuery, MemberRecord, Page};
use crate::domain::{
    GroupColumns, MemberOp, NewMember, ResourceId, TenantId, fold_case, now_micros,
};
use crate::error::IdentityError;
use crate::quota::Counted;

const GROUP_COLUMNS: &str = "g.id, g.tenant_id, g.display_name, g.external_id, g.version, g.created, g.last_modified, g.resource";

/// Ids per statement when a list of ids is bound (well under both backends' limits).
const CHUNK: usize = 500;

/// Members a list page carries at most (summed over its groups): a page
/// whose groups hold more ends before the group that would pass it (the
/// first group is always served), so memory stays bounded whatever the
/// group sizes. Lists without members (`excludedAttributes=members`, what
/// Entra ID and Okta ask for) are not limited.
pub const LIST_MEMBER_CAP: u64 = 50_000;
/// Members one statement checks, inserts or removes: a list is one bound
/// parameter of any length, but inserting rows (and checking their keys)
/// takes time, and each statement must end well within the statement
/// timeout.
const MEMBERS_PER_STATEMENT: usize = 10_000;

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

/// A list of members as one bound parameter: a JSON array of
/// `{"id", "display"}` objects (`display` null when not sent). Membership
/// statements read it as rows, so a list of any length is one statement.
pub(super) fn members_json<'a>(
    members: impl Iterator<Item = (&'a str, Option<&'a str>)>,
) -> String {
    serde_json::Value::Array(
        members
            .map(|(id, display)| serde_json::json!({"id": id, "display": display}))
            .collect(),
    )
    .to_string()
}

/// The JSON list bound as `param` as a `FROM` item `i`, and the
/// expressions of an element's id and display.
///
/// On Postgres the list is a record set whose columns are plain text
/// values: the services run under row-level security, where a join
/// condition may reach into a protected table's index only when every
/// function in it is leakproof. Text equality is; extracting from a JSON
/// value (`->>`) is not, so a condition `u.id = (v ->> 'id')` was kept
/// above the table's policy and the table read in full (a hash anti
/// join over every user of the tenant for each membership change).
fn member_rows(dialect: Dialect, param: &str) -> (String, &'static str, &'static str) {
    match dialect {
        Dialect::Postgres => (
            format!("jsonb_to_recordset({param}::jsonb) AS i(id text, display text)"),
            "i.id",
            "i.display",
        ),
        Dialect::Sqlite => (
            format!("json_each({param}) AS i"),
            "json_extract(i.value, '$.id')",
            "json_extract(i.value, '$.display')",
        ),
    }
}

/// The first listed id (`$2`) that is not a live user of the tenant (`$1`).
pub(super) fn missing_user_sql(dialect: Dialect) -> String {
    let (list, id, _) = member_rows(dialect, "$2");
    format!(
        "SELECT {id} AS id FROM {list} WHERE NOT EXISTS (SELECT 1 FROM users u \
         WHERE u.tenant_id = $1 AND u.id = {id} AND u.deleted IS NULL) LIMIT 1"
    )
}

/// Inserts the listed members (`$3`) not yet in the group (`$1`, `$2`),
/// returning their ids.
pub(super) fn insert_members_sql(dialect: Dialect) -> String {
    let (list, id, display) = member_rows(dialect, "$3");
    // `WHERE TRUE` keeps SQLite from reading `ON CONFLICT` as a join's.
    format!(
        "INSERT INTO group_members (tenant_id, group_id, user_id, display) \
         SELECT $1, $2, {id}, {display} FROM {list} WHERE TRUE \
         ON CONFLICT DO NOTHING RETURNING user_id"
    )
}

/// Sets the `display` sent for listed members (`$3`) that are members of
/// the group (`$1`, `$2`) already, where it differs.
pub(super) fn set_display_sql(dialect: Dialect) -> String {
    let (list, id, display) = member_rows(dialect, "$3");
    match dialect {
        Dialect::Postgres => format!(
            "UPDATE group_members AS m SET display = {display} FROM {list} \
             WHERE m.tenant_id = $1 AND m.group_id = $2 AND m.user_id = {id} \
             AND {display} IS NOT NULL AND (m.display IS NULL OR m.display <> {display})"
        ),
        // Materialised, the list drives the join and each member is found
        // by its key; joined directly, SQLite would scan the whole list for
        // every member of the group.
        Dialect::Sqlite => format!(
            "WITH listed (id, display) AS MATERIALIZED \
             (SELECT {id}, {display} FROM {list} WHERE {display} IS NOT NULL) \
             UPDATE group_members AS m SET display = listed.display FROM listed \
             WHERE m.tenant_id = $1 AND m.group_id = $2 AND m.user_id = listed.id \
             AND (m.display IS NULL OR m.display <> listed.display)"
        ),
    }
}

/// Removes the listed members (`$3`) of the group (`$1`, `$2`), returning
/// the ids that were members.
pub(super) fn remove_listed_sql(dialect: Dialect) -> String {
    let (list, id, _) = member_rows(dialect, "$3");
    format!(
        "DELETE FROM group_members WHERE tenant_id = $1 AND group_id = $2 \
         AND user_id IN (SELECT {id} FROM {list}) RETURNING user_id"
    )
}

/// Removes the members of the group (`$1`, `$2`) that are not listed
/// (`$3`), returning their ids: the removals of a replace.
pub(super) fn remove_unlisted_sql(dialect: Dialect) -> String {
    let (list, id, _) = member_rows(dialect, "$3");
    match dialect {
        // An anti join (hashed, and spilled to disk when large), where
        // `NOT IN` would rescan the list for every member once it
        // outgrows `work_mem`.
        Dialect::Postgres => format!(
            "DELETE FROM group_members AS m WHERE m.tenant_id = $1 AND m.group_id = $2 \
             AND NOT EXISTS (SELECT 1 FROM {list} WHERE {id} = m.user_id) \
             RETURNING m.user_id"
        ),
        // SQLite builds the `NOT IN` list's index once.
        Dialect::Sqlite => format!(
            "DELETE FROM group_members WHERE tenant_id = $1 AND group_id = $2 \
             AND user_id NOT IN (SELECT {id} FROM {list}) RETURNING user_id"
        ),
    }
}

fn user_ids(rows: &[AnyRow]) -> Result<Vec<String>, sqlx::Error> {
    rows.iter().map(|r| r.try_get("user_id")).collect()
}

/// Fails with `invalidValue` unless every listed id (`list`, as
/// [`members_json`] gives it) is a live user of the tenant.
async fn check_users(
    conn: &mut AnyConnection,
    dialect: Dialect,
    tenant: &TenantId,
    list: &str,
) -> Result<(), IdentityError> {
    let missing = sqlx::query(sqlx::AssertSqlSafe(missing_user_sql(dialect)))
        .bind(tenant.as_str())
        .bind(list)
        .fetch_optional(&mut *conn)
        .await?;
    match missing {
        None => Ok(()),
        Some(row) => {
            let shown: String = row.try_get("id")?;
            Err(scim::ScimError::invalid_value(format!(
                "member '{shown}' is not a user of this tenant"
            ))
            .into())
        }
    }
}

/// Runs one membership statement (`$1` tenant, `$2` group, `$3` the list)
/// and collects the returned `user_id`s.
async fn members_statement(
    conn: &mut AnyConnection,
    sql: String,
    tenant: &TenantId,
    group_id: &str,
    list: &str,
) -> Result<Vec<String>, sqlx::Error> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(tenant.as_str())
        .bind(group_id)
        .bind(list)
        .fetch_all(&mut *conn)
        .await?;
    user_ids(&rows)
}

/// Applies one membership change; returns the user ids added and removed.
/// Each takes a few statements per [`MEMBERS_PER_STATEMENT`] members.
async fn apply_member_op(
    conn: &mut AnyConnection,
    dialect: Dialect,
    tenant: &TenantId,
    group_id: &str,
    op: &MemberOp,
) -> Result<(Vec<String>, Vec<String>), IdentityError> {
    let listed = |members: &[NewMember]| {
        members_json(
            members
                .iter()
                .map(|m| (m.id.as_str(), m.display.as_deref())),
        )
    };
    match op {
        MemberOp::Add(members) => {
            let mut added = Vec::new();
            for chunk in members.chunks(MEMBERS_PER_STATEMENT) {
                check_users(conn, dialect, tenant, &listed(chunk)).await?;
            }
            for chunk in members.chunks(MEMBERS_PER_STATEMENT) {
                let list = listed(chunk);
                added.extend(insert_members(conn, dialect, tenant, group_id, chunk, &list).await?);
            }
            Ok((added, Vec::new()))
        }
        MemberOp::Remove(ids) => {
            let mut removed = Vec::new();
            for chunk in ids.chunks(MEMBERS_PER_STATEMENT) {
                let list = members_json(chunk.iter().map(|id| (id.as_str(), None)));
                let sql = remove_listed_sql(dialect);
                removed.extend(members_statement(conn, sql, tenant, group_id, &list).await?);
            }
            Ok((Vec::new(), removed))
        }
        MemberOp::RemoveAll => {
            let rows = sqlx::query(
                "DELETE FROM group_members WHERE tenant_id = $1 AND group_id = $2 RETURNING user_id",
            )
            .bind(tenant.as_str())
            .bind(group_id)
            .fetch_all(&mut *conn)
            .await?;
            Ok((Vec::new(), user_ids(&rows)?))
        }
        MemberOp::ReplaceAll(members) => {
            for chunk in members.chunks(MEMBERS_PER_STATEMENT) {
                check_users(conn, dialect, tenant, &listed(chunk)).await?;
            }
            // The removals need the whole list; deleting is cheap.
            let sql = remove_unlisted_sql(dialect);
            let removed = members_statement(conn, sql, tenant, group_id, &listed(members)).await?;
            let mut added = Vec::new();
            for chunk in members.chunks(MEMBERS_PER_STATEMENT) {
                let list = listed(chunk);
                added.extend(insert_members(conn, dialect, tenant, group_id, chunk, &list).await?);
            }
            Ok((added, removed))
        }
    }
}

/// Inserts members that are not members yet (returning their ids) and
/// records a changed `display` of existing ones; `list` is `members` as
/// [`members_json`] gives it.
async fn insert_members(
    conn: &mut AnyConnection,
    dialect: Dialect,
    tenant: &TenantId,
    group_id: &str,
    members: &[NewMember],
    list: &str,
) -> Result<Vec<String>, sqlx::Error> {
    if members.iter().any(|m| m.display.is_some()) {
        sqlx::query(sqlx::AssertSqlSafe(set_display_sql(dialect)))
            .bind(tenant.as_str())
            .bind(group_id)
            .bind(list)
            .execute(&mut *conn)
            .await?;
    }
    members_statement(conn, insert_members_sql(dialect), tenant, group_id, list).await
}

/// Applies membership changes in order and returns the change records of
/// what really changed. The caller records them after its last row write:
/// the outbox lock is taken last, so its holder never waits for a row lock
/// (see `changes.rs`).
async fn apply_member_ops(
    conn: &mut AnyConnection,
    dialect: Dialect,
    tenant: &TenantId,
    group_id: &str,
    ops: &[MemberOp],
) -> Result<Vec<Change>, IdentityError> {
    let mut out = Vec::new();
    for op in ops {
        let (added, removed) = apply_member_op(conn, dialect, tenant, group_id, op).await?;
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
        self.check_quota(&mut tx, tenant, Counted::Groups).await?;
        let change = Change::GroupChanged {
            kind: "group.created",
            group_id: group.id.clone(),
            display_name: group.display_name.clone(),
            version: 1,
        };
        let mut log = vec![change];
        if !members.is_empty() {
            let ops = [MemberOp::Add(members.to_vec())];
            log.extend(apply_member_ops(&mut tx, self.dialect, tenant, &group.id, &ops).await?);
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
        let mut log =
            apply_member_ops(&mut tx, self.dialect, tenant, &current.id, &member_ops).await?;
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
        let rows = sqlx::query(
            "DELETE FROM group_members WHERE tenant_id = $1 AND group_id = $2 RETURNING user_id",
        )
        .bind(tenant.as_str())
        .bind(id.as_str())
        .fetch_all(&mut *tx)
        .await?;
        let members = user_ids(&rows)?;
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
            if include_members && self.cap_members(tenant, &mut page.items).await? {
                // The page ends earlier: its last key is the last group kept.
                if query.sort.is_some() || keyset.backwards {
                    return Err(scim::ScimError::invalid_value(format!(
                        "these groups hold more than {} members for one page; ask for a smaller \
                         count or excludedAttributes=members",
                        self.list_member_cap
                    ))
                    .into());
                }
                if let (Some(first), Some(last)) = (page.items.first(), page.items.last()) {
                    let key = |g: &GroupRecord| super::RowKey {
                        sort: None,
                        created: g.created,
                        id: g.id.clone(),
                    };
                    page.edges = Some((key(first), key(last)));
                    page.more = true;
                }
            }
            self.attach_members(tenant, &mut page.items, include_members)
                .await?;
            return Ok(page);
        }
        let mut page = self
            .index_page(tenant, &table, GROUP_COLUMNS, buf, query, group_from_row)
            .await?;
        if include_members {
            self.cap_members(tenant, &mut page.items).await?;
        }
        self.attach_members(tenant, &mut page.items, include_members)
            .await?;
        Ok(page)
    }

    /// Shortens `items` to the groups whose members, summed in order, stay
    /// within the cap (at least one group); true when it shortened them.
    async fn cap_members(
        &self,
        tenant: &TenantId,
        items: &mut Vec<GroupRecord>,
    ) -> Result<bool, IdentityError> {
        if items.len() < 2 {
            return Ok(false);
        }
        let mut buf = SqlBuf::new(self.dialect);
        let t = buf.bind(Bind::Text(tenant.as_str().to_owned()));
        let list = id_list(
            &mut buf,
            items
                .iter()
                .map(|g| g.id.as_str())
                .collect::<Vec<_>>()
                .as_slice(),
        );
        let sql = format!(
            "SELECT group_id, count(*) AS n FROM group_members \
             WHERE tenant_id = {t} AND group_id IN ({list}) GROUP BY group_id"
        );
        let mut tx = self.read_tx(Scope::Tenant(tenant)).await?;
        let rows = bind_all(sqlx::query(sqlx::AssertSqlSafe(sql)), &buf.binds)
            .fetch_all(&mut *tx)
            .await?;
        tx.commit().await?;
        let mut counts = HashMap::new();
        for row in rows {
            let id: String = row.try_get("group_id")?;
            let n: i64 = row.try_get("n")?;
            counts.insert(id, u64::try_from(n).unwrap_or(0));
        }
        let mut sum = 0u64;
        let mut keep = items.len();
        for (i, g) in items.iter().enumerate() {
            sum += counts.get(&g.id).copied().unwrap_or(0);
            if sum > self.list_member_cap && i > 0 {
                keep = i;
                break;
            }
        }
        let cut = keep < items.len();
        items.truncate(keep);
        Ok(cut)
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
