//! Administrators' writes: roles, assignments, the default role and locks.
//! Each runs in one write transaction with the recomputation it causes.

use sqlx::{AnyConnection, Row};

use super::compute::{effective_one, members_of, recompute, users_on_default};
use super::scope::Scope;
use super::sql::{SqlStore, priority};
use crate::domain::{DISABLED, EffectiveRecord, RoleName, RoleRecord, TenantId, now_micros};
use crate::error::PolicyError;
use crate::role::{self, Candidate};

/// True when `name` is `Disabled` or a role the tenant created.
pub(super) async fn role_exists(
    conn: &mut AnyConnection,
    tenant: &TenantId,
    name: &str,
) -> Result<bool, sqlx::Error> {
    if name == DISABLED {
        return Ok(true);
    }
    let row = sqlx::query("SELECT 1 AS found FROM roles WHERE tenant_id = $1 AND name = $2")
        .bind(tenant.as_str())
        .bind(name)
        .fetch_optional(conn)
        .await?;
    Ok(row.is_some())
}

/// What still refers to a role, if anything.
async fn role_user(
    conn: &mut AnyConnection,
    tenant: &TenantId,
    name: &str,
) -> Result<Option<&'static str>, sqlx::Error> {
    let uses = [
        ("assignments", "an assignment"),
        ("default_roles", "the default role"),
        ("locks", "a locked user"),
    ];
    for (table, what) in uses {
        let sql =
            format!("SELECT 1 AS found FROM {table} WHERE tenant_id = $1 AND role = $2 LIMIT 1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(tenant.as_str())
            .bind(name)
            .fetch_optional(&mut *conn)
            .await?;
        if row.is_some() {
            return Ok(Some(what));
        }
    }
    Ok(None)
}

/// The most roles a tenant may create (the built-in `Disabled` aside).
pub const MAX_ROLES: u64 = 1_000;
/// The most group-to-role assignments a tenant may have.
pub const MAX_ASSIGNMENTS: u64 = 10_000;

/// Refuses the write in `conn`'s transaction when the tenant now has more
/// than `limit` rows in `table` (`roles` or `assignments`, constants). The
/// tenant's writes are serialised (its write lock; SQLite's one writer), so
/// the count includes every committed row and this one, and no two writes
/// can both take the last place. A few thousand rows at most: one index
/// count.
async fn check_cap(
    conn: &mut AnyConnection,
    tenant: &TenantId,
    table: &'static str,
    limit: u64,
) -> Result<(), PolicyError> {
    let sql = format!("SELECT COUNT(*) FROM {table} WHERE tenant_id = $1");
    let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .bind(tenant.as_str())
        .fetch_one(conn)
        .await?;
    if u64::try_from(n).unwrap_or(0) > limit {
        return Err(PolicyError::QuotaExceeded { kind: table, limit });
    }
    Ok(())
}

impl SqlStore {
    pub(super) async fn create_role_tx(
        &self,
        tenant: &TenantId,
        name: &RoleName,
        description: &str,
    ) -> Result<RoleRecord, PolicyError> {
        if name.is_disabled() {
            return Err(PolicyError::RoleExists);
        }
        let mut tx = self.begin_write(Scope::Tenant(tenant)).await?;
        let inserted = sqlx::query(
            "INSERT INTO roles (tenant_id, name, description, created) VALUES ($1, $2, $3, $4) \
             ON CONFLICT DO NOTHING",
        )
        .bind(tenant.as_str())
        .bind(name.as_str())
        .bind(description)
        .bind(now_micros())
        .execute(&mut *tx)
        .await?;
        if inserted.rows_affected() == 0 {
            return Err(PolicyError::RoleExists);
        }
        check_cap(&mut tx, tenant, "roles", MAX_ROLES).await?;
        self.commit(tx).await?;
        Ok(RoleRecord {
            name: name.as_str().to_owned(),
            description: description.to_owned(),
            built_in: false,
        })
    }

    pub(super) async fn list_roles_query(
        &self,
        tenant: &TenantId,
    ) -> Result<Vec<RoleRecord>, sqlx::Error> {
        let mut tx = self.begin_read(Scope::Tenant(tenant)).await?;
        let rows =
            sqlx::query("SELECT name, description FROM roles WHERE tenant_id = $1 ORDER BY name")
                .bind(tenant.as_str())
                .fetch_all(&mut *tx)
                .await?;
        let mut roles = vec![RoleRecord {
            name: DISABLED.to_owned(),
            description: "Built in: inactive and deleted users".to_owned(),
            built_in: true,
        }];
        for row in &rows {
            roles.push(RoleRecord {
                name: row.try_get("name")?,
                description: row.try_get("description")?,
                built_in: false,
            });
        }
        Ok(roles)
    }

    pub(super) async fn delete_role_tx(
        &self,
        tenant: &TenantId,
        name: &RoleName,
    ) -> Result<(), PolicyError> {
        if name.as_str() == DISABLED {
            return Err(PolicyError::BuiltInRole);
        }
        let mut tx = self.begin_write(Scope::Tenant(tenant)).await?;
        if !role_exists(&mut tx, tenant, name.as_str()).await? {
            return Err(PolicyError::NotFound("role"));
        }
        if let Some(what) = role_user(&mut tx, tenant, name.as_str()).await? {
            return Err(PolicyError::RoleInUse(what));
        }
        sqlx::query("DELETE FROM roles WHERE tenant_id = $1 AND name = $2")
            .bind(tenant.as_str())
            .bind(name.as_str())
            .execute(&mut *tx)
            .await?;
        self.commit(tx).await?;
        Ok(())
    }

    pub(super) async fn set_assignment_tx(
        &self,
        tenant: &TenantId,
        a: &Candidate,
    ) -> Result<u32, PolicyError> {
        let mut tx = self.begin_write(Scope::Tenant(tenant)).await?;
        if !role_exists(&mut tx, tenant, &a.role).await? {
            return Err(PolicyError::UnknownRole(a.role.clone()));
        }
        sqlx::query(
            "INSERT INTO assignments (tenant_id, group_id, role, priority, updated) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (tenant_id, group_id) DO UPDATE \
             SET role = excluded.role, priority = excluded.priority, updated = excluded.updated",
        )
        .bind(tenant.as_str())
        .bind(&a.group_id)
        .bind(&a.role)
        .bind(i64::from(a.priority))
        .bind(now_micros())
        .execute(&mut *tx)
        .await?;
        check_cap(&mut tx, tenant, "assignments", MAX_ASSIGNMENTS).await?;
        let members = members_of(&mut tx, tenant, &a.group_id).await?;
        let changed = recompute(&mut tx, tenant, &members, now_micros()).await?;
        self.commit(tx).await?;
        Ok(changed)
    }

    pub(super) async fn remove_assignment_tx(
        &self,
        tenant: &TenantId,
        group_id: &str,
    ) -> Result<u32, PolicyError> {
        let mut tx = self.begin_write(Scope::Tenant(tenant)).await?;
        let removed = sqlx::query("DELETE FROM assignments WHERE tenant_id = $1 AND group_id = $2")
            .bind(tenant.as_str())
            .bind(group_id)
            .execute(&mut *tx)
            .await?;
        if removed.rows_affected() == 0 {
            return Err(PolicyError::NotFound("assignment"));
        }
        let members = members_of(&mut tx, tenant, group_id).await?;
        let changed = recompute(&mut tx, tenant, &members, now_micros()).await?;
        self.commit(tx).await?;
        Ok(changed)
    }

    pub(super) async fn list_assignments_query(
        &self,
        tenant: &TenantId,
    ) -> Result<Vec<Candidate>, sqlx::Error> {
        let mut tx = self.begin_read(Scope::Tenant(tenant)).await?;
        let rows =
            sqlx::query("SELECT group_id, role, priority FROM assignments WHERE tenant_id = $1")
                .bind(tenant.as_str())
                .fetch_all(&mut *tx)
                .await?;
        let mut out = rows
            .iter()
            .map(|row| {
                Ok(Candidate {
                    group_id: row.try_get("group_id")?,
                    role: row.try_get("role")?,
                    priority: priority(row, "priority")?,
                })
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()?;
        out.sort_by(role::precedence);
        Ok(out)
    }

    pub(super) async fn set_default_role_tx(
        &self,
        tenant: &TenantId,
        role: Option<&RoleName>,
    ) -> Result<u32, PolicyError> {
        let mut tx = self.begin_write(Scope::Tenant(tenant)).await?;
        match role {
            Some(r) if r.is_disabled() => {
                return Err(PolicyError::InvalidArgument(
                    "Disabled cannot be the default role".into(),
                ));
            }
            Some(r) => {
                if !role_exists(&mut tx, tenant, r.as_str()).await? {
                    return Err(PolicyError::UnknownRole(r.as_str().to_owned()));
                }
                sqlx::query(
                    "INSERT INTO default_roles (tenant_id, role) VALUES ($1, $2) \
                     ON CONFLICT (tenant_id) DO UPDATE SET role = excluded.role",
                )
                .bind(tenant.as_str())
                .bind(r.as_str())
                .execute(&mut *tx)
                .await?;
            }
            None => {
                sqlx::query("DELETE FROM default_roles WHERE tenant_id = $1")
                    .bind(tenant.as_str())
                    .execute(&mut *tx)
                    .await?;
            }
        }
        let users = users_on_default(&mut tx, tenant).await?;
        let changed = recompute(&mut tx, tenant, &users, now_micros()).await?;
        self.commit(tx).await?;
        Ok(changed)
    }

    pub(super) async fn lock_user_tx(
        &self,
        tenant: &TenantId,
        user_id: &str,
        note: &str,
    ) -> Result<EffectiveRecord, PolicyError> {
        let mut tx = self.begin_write(Scope::Tenant(tenant)).await?;
        let current = effective_one(&mut tx, tenant, user_id)
            .await?
            .ok_or(PolicyError::NotFound("user"))?;
        if current.locked {
            return Ok(current);
        }
        sqlx::query(
            "INSERT INTO locks (tenant_id, user_id, role, note, locked_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(tenant.as_str())
        .bind(user_id)
        .bind(&current.role)
        .bind(note)
        .bind(now_micros())
        .execute(&mut *tx)
        .await?;
        self.recompute_one(tx, tenant, user_id).await
    }

    pub(super) async fn unlock_user_tx(
        &self,
        tenant: &TenantId,
        user_id: &str,
    ) -> Result<EffectiveRecord, PolicyError> {
        let mut tx = self.begin_write(Scope::Tenant(tenant)).await?;
        if effective_one(&mut tx, tenant, user_id).await?.is_none() {
            return Err(PolicyError::NotFound("user"));
        }
        sqlx::query("DELETE FROM locks WHERE tenant_id = $1 AND user_id = $2")
            .bind(tenant.as_str())
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        self.recompute_one(tx, tenant, user_id).await
    }

    async fn recompute_one(
        &self,
        mut tx: sqlx::Transaction<'static, sqlx::Any>,
        tenant: &TenantId,
        user_id: &str,
    ) -> Result<EffectiveRecord, PolicyError> {
        let ids = [user_id.to_owned()];
        recompute(&mut tx, tenant, &ids, now_micros()).await?;
        let after = effective_one(&mut tx, tenant, user_id)
            .await?
            .ok_or(PolicyError::NotFound("user"))?;
        self.commit(tx).await?;
        Ok(after)
    }
}
