//! Loading the role function's inputs and recomputing users: the one place
//! where effective roles and role changes are written. Every function takes
//! a connection, so the same code runs inside a write transaction and, for
//! reads (`Explain`, `DryRun`), on a read connection.

use std::collections::HashMap;

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::sql::{
    CHUNK, Dialect, EFFECTIVE_COLUMNS, dialect_of, effective_from_row, flag, ids_json, in_json_ids,
    placeholders, priority,
};
use crate::domain::{EffectiveRecord, Micros, TenantId};
use crate::role::{self, Candidate, Decision, Inputs, Reason, Rule};

/// A tenant's assignments and default role.
#[derive(Debug, Clone, Default)]
pub(super) struct PolicyView {
    pub assignments: HashMap<String, Candidate>,
    pub default_role: Option<String>,
}

impl PolicyView {
    /// The assignments of `groups`, highest priority first.
    pub fn candidates(&self, groups: &[String]) -> Vec<Candidate> {
        let mut found: Vec<Candidate> = groups
            .iter()
            .filter_map(|g| self.assignments.get(g).cloned())
            .collect();
        found.sort_by(role::precedence);
        found
    }
}

/// A user as the replica knows them.
#[derive(Debug, Clone)]
pub(super) struct UserState {
    pub user_id: String,
    pub active: bool,
    pub deleted: bool,
    pub groups: Vec<String>,
    /// The frozen role, when locked.
    pub lock: Option<String>,
}

impl UserState {
    /// The role function's inputs under `policy`, given the user's candidates.
    pub fn inputs<'a>(&'a self, policy: &'a PolicyView, candidates: &'a [Candidate]) -> Inputs<'a> {
        Inputs {
            locked_role: self.lock.as_deref(),
            deleted: self.deleted,
            active: self.active,
            candidates,
            default_role: policy.default_role.as_deref(),
        }
    }

    /// The user's role under `policy`.
    pub fn decide(&self, policy: &PolicyView) -> Decision {
        let candidates = policy.candidates(&self.groups);
        role::decide(&self.inputs(policy, &candidates))
    }
}

/// `head` (`SELECT … FROM table`) for the tenant's (`$1`) users listed in
/// `$2` (see [`ids_json`]).
pub(super) fn ids_sql(dialect: Dialect, head: &str) -> String {
    format!(
        "{head} WHERE tenant_id = $1 AND {}",
        in_json_ids(dialect, "user_id", "$2")
    )
}

/// Runs `SELECT … IN (…)` over `ids`, one statement whatever their number;
/// `$1` is the tenant.
async fn rows_for_ids(
    conn: &mut AnyConnection,
    head: &str,
    tenant: &TenantId,
    ids: &[String],
) -> Result<Vec<AnyRow>, sqlx::Error> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = ids_sql(dialect_of(conn), head);
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(tenant.as_str())
        .bind(ids_json(ids))
        .fetch_all(&mut *conn)
        .await
}

pub(super) async fn default_role(
    conn: &mut AnyConnection,
    tenant: &TenantId,
) -> Result<Option<String>, sqlx::Error> {
    let row = sqlx::query("SELECT role FROM default_roles WHERE tenant_id = $1")
        .bind(tenant.as_str())
        .fetch_optional(conn)
        .await?;
    row.map(|r| r.try_get("role")).transpose()
}

pub(super) async fn load_policy(
    conn: &mut AnyConnection,
    tenant: &TenantId,
) -> Result<PolicyView, sqlx::Error> {
    let rows = sqlx::query("SELECT group_id, role, priority FROM assignments WHERE tenant_id = $1")
        .bind(tenant.as_str())
        .fetch_all(&mut *conn)
        .await?;
    let mut assignments = HashMap::with_capacity(rows.len());
    for row in &rows {
        let c = Candidate {
            group_id: row.try_get("group_id")?,
            role: row.try_get("role")?,
            priority: priority(row, "priority")?,
        };
        assignments.insert(c.group_id.clone(), c);
    }
    Ok(PolicyView {
        assignments,
        default_role: default_role(conn, tenant).await?,
    })
}

/// The replica's users (the head of an [`ids_sql`] statement).
pub(super) const USERS_BY_IDS: &str = "SELECT user_id, active, deleted FROM replica_users";
/// The memberships of users (the head of an [`ids_sql`] statement).
pub(super) fn groups_by_users(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::Postgres => "SELECT user_id, group_id FROM replica_members",
        // Without statistics SQLite would walk the tenant's memberships by
        // group and test each against the list.
        Dialect::Sqlite => {
            "SELECT user_id, group_id FROM replica_members INDEXED BY replica_members_by_user"
        }
    }
}
/// The locks of users (the head of an [`ids_sql`] statement).
pub(super) const LOCKS_BY_USERS: &str = "SELECT user_id, role FROM locks";

/// The replica's users among `ids` (unknown ids are left out), by id.
pub(super) async fn load_users(
    conn: &mut AnyConnection,
    tenant: &TenantId,
    ids: &[String],
) -> Result<Vec<UserState>, sqlx::Error> {
    let mut users: Vec<UserState> = Vec::with_capacity(ids.len());
    for row in rows_for_ids(conn, USERS_BY_IDS, tenant, ids).await? {
        users.push(UserState {
            user_id: row.try_get("user_id")?,
            active: flag(&row, "active")?,
            deleted: flag(&row, "deleted")?,
            groups: Vec::new(),
            lock: None,
        });
    }
    users.sort_by(|a, b| a.user_id.cmp(&b.user_id));
    let index: HashMap<String, usize> = users
        .iter()
        .enumerate()
        .map(|(i, u)| (u.user_id.clone(), i))
        .collect();
    let head = groups_by_users(dialect_of(conn));
    for row in rows_for_ids(conn, head, tenant, ids).await? {
        let user: String = row.try_get("user_id")?;
        if let Some(&i) = index.get(&user) {
            users[i].groups.push(row.try_get("group_id")?);
        }
    }
    for row in rows_for_ids(conn, LOCKS_BY_USERS, tenant, ids).await? {
        let user: String = row.try_get("user_id")?;
        if let Some(&i) = index.get(&user) {
            users[i].lock = Some(row.try_get("role")?);
        }
    }
    Ok(users)
}

/// The effective roles of users (the head of an [`ids_sql`] statement).
pub(super) fn effective_by_ids_head() -> String {
    format!("SELECT {EFFECTIVE_COLUMNS} FROM effective_roles")
}

pub(super) async fn load_effective(
    conn: &mut AnyConnection,
    tenant: &TenantId,
    ids: &[String],
) -> Result<HashMap<String, EffectiveRecord>, sqlx::Error> {
    rows_for_ids(conn, &effective_by_ids_head(), tenant, ids)
        .await?
        .iter()
        .map(|row| effective_from_row(row).map(|e| (e.user_id.clone(), e)))
        .collect()
}

pub(super) async fn effective_one(
    conn: &mut AnyConnection,
    tenant: &TenantId,
    user_id: &str,
) -> Result<Option<EffectiveRecord>, sqlx::Error> {
    Ok(load_effective(conn, tenant, &[user_id.to_owned()])
        .await?
        .remove(user_id))
}

/// A group's members in the replica: `$1` tenant, `$2` group.
pub(super) const MEMBERS_OF: &str =
    "SELECT user_id FROM replica_members WHERE tenant_id = $1 AND group_id = $2 ORDER BY user_id";

/// The members of a group in the replica.
pub(super) async fn members_of(
    conn: &mut AnyConnection,
    tenant: &TenantId,
    group_id: &str,
) -> Result<Vec<String>, sqlx::Error> {
    let rows = sqlx::query(MEMBERS_OF)
        .bind(tenant.as_str())
        .bind(group_id)
        .fetch_all(conn)
        .await?;
    rows.iter().map(|r| r.try_get("user_id")).collect()
}

/// The users whose role comes from the default-role rows of the table.
pub(super) async fn users_on_default(
    conn: &mut AnyConnection,
    tenant: &TenantId,
) -> Result<Vec<String>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT user_id FROM effective_roles WHERE tenant_id = $1 AND rule IN ($2, $3) ORDER BY user_id",
    )
    .bind(tenant.as_str())
    .bind(Rule::DefaultRole.code())
    .bind(Rule::NoDefaultRole.code())
    .fetch_all(conn)
    .await?;
    rows.iter().map(|r| r.try_get("user_id")).collect()
}

/// The heads table of the role-change log (one position per tenant).
pub(super) const ROLE_HEADS: &str = "role_heads";

/// Recomputes `ids` (users unknown to the replica are skipped), writes the
/// effective roles that differ, and appends a role change for each user
/// whose role or lock state changed. Returns how many changed.
pub(super) async fn recompute(
    conn: &mut AnyConnection,
    tenant: &TenantId,
    ids: &[String],
    now: Micros,
) -> Result<u32, sqlx::Error> {
    let policy = load_policy(conn, tenant).await?;
    let users = load_users(conn, tenant, ids).await?;
    let current = load_effective(conn, tenant, ids).await?;
    let mut changed = 0;
    let mut written: Vec<(EffectiveRecord, Option<&EffectiveRecord>)> = Vec::new();
    // (index into `written`, the role before) of each role change.
    let mut role_changes: Vec<(usize, &str)> = Vec::new();
    for user in &users {
        let decision = user.decide(&policy);
        let old = current.get(&user.user_id);
        let locked = user.lock.is_some();
        let upstream_disabled = user.deleted || !user.active;
        let (old_role, old_locked) = old.map_or(("", false), |o| (o.role.as_str(), o.locked));
        let role_changed = old_role != decision.role || old_locked != locked;
        let same = old.is_some_and(|o| {
            !role_changed && o.reason == decision.reason && o.upstream_disabled == upstream_disabled
        });
        if same {
            continue;
        }
        let since = match old {
            Some(o) if !role_changed => o.since,
            _ => now,
        };
        let record = EffectiveRecord {
            tenant_id: tenant.as_str().to_owned(),
            user_id: user.user_id.clone(),
            role: decision.role,
            reason: decision.reason,
            locked,
            upstream_disabled,
            since,
        };
        if role_changed {
            changed += 1;
            role_changes.push((written.len(), old_role));
        }
        written.push((record, old));
    }
    let records: Vec<&EffectiveRecord> = written.iter().map(|(r, _)| r).collect();
    write_effective(conn, &records).await?;
    for (record, old) in &written {
        super::hooks::after_recompute(conn, tenant, record, *old, now).await?;
    }
    let changes: Vec<(&EffectiveRecord, &str)> = role_changes
        .iter()
        .map(|&(i, from)| (&written[i].0, from))
        .collect();
    append_changes(conn, tenant, &changes, now).await?;
    Ok(changed)
}

/// Upserts `records` (distinct users), one statement per [`CHUNK`] rows.
async fn write_effective(
    conn: &mut AnyConnection,
    records: &[&EffectiveRecord],
) -> Result<(), sqlx::Error> {
    for chunk in records.chunks(CHUNK) {
        let values = (0..chunk.len())
            .map(|i| format!("({})", placeholders(1 + i * 9, 9)))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "INSERT INTO effective_roles (tenant_id, user_id, role, rule, group_id, priority, \
             locked, upstream_disabled, since) VALUES {values} \
             ON CONFLICT (tenant_id, user_id) DO UPDATE SET role = excluded.role, \
             rule = excluded.rule, group_id = excluded.group_id, priority = excluded.priority, \
             locked = excluded.locked, upstream_disabled = excluded.upstream_disabled, \
             since = excluded.since"
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for record in chunk {
            query = query
                .bind(&record.tenant_id)
                .bind(&record.user_id)
                .bind(&record.role)
                .bind(record.reason.rule.code())
                .bind(record.reason.group_id.clone())
                .bind(i64::from(record.reason.priority))
                .bind(record.locked)
                .bind(record.upstream_disabled)
                .bind(record.since);
        }
        query.execute(&mut *conn).await?;
    }
    Ok(())
}

/// Appends a role change per `(record, from_role)` (all of `tenant`), in
/// order, at the next positions of the tenant's role-change log; one
/// statement per [`CHUNK`] rows. Called after the transaction's other row
/// writes (the log's head row stays locked until commit).
async fn append_changes(
    conn: &mut AnyConnection,
    tenant: &TenantId,
    changes: &[(&EffectiveRecord, &str)],
    now: Micros,
) -> Result<(), sqlx::Error> {
    if changes.is_empty() {
        return Ok(());
    }
    let n = i64::try_from(changes.len()).unwrap_or(i64::MAX);
    let mut seq = storekit::stream::reserve(conn, ROLE_HEADS, tenant.as_str(), n).await?;
    for chunk in changes.chunks(CHUNK) {
        let values = (0..chunk.len())
            .map(|i| format!("({})", placeholders(1 + i * 9, 9)))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "INSERT INTO role_changes (tenant_id, seq, user_id, from_role, to_role, rule, \
             group_id, priority, at) VALUES {values}"
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for (record, from_role) in chunk {
            let Reason {
                rule,
                group_id,
                priority,
            } = &record.reason;
            query = query
                .bind(&record.tenant_id)
                .bind(seq)
                .bind(&record.user_id)
                .bind(*from_role)
                .bind(&record.role)
                .bind(rule.code())
                .bind(group_id.clone())
                .bind(i64::from(*priority))
                .bind(now);
            seq += 1;
        }
        query.execute(&mut *conn).await?;
    }
    Ok(())
}
