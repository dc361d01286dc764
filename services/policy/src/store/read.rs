//! Reads: users by role, `Explain`, `DryRun`, the role-change log.

use super::Explanation;
use super::admin::role_exists;
use super::compute::{
    effective_one, load_effective, load_policy, load_users, members_of, users_on_default,
};
use super::scope::{CrossTenant, Scope};
use super::sql::{
    CHANGE_COLUMNS, EFFECTIVE_COLUMNS, SqlStore, change_from_row, effective_from_row,
};
use crate::domain::{EffectiveRecord, Hypothesis, RoleChangeRecord, RoleDiff, TenantId};
use crate::error::PolicyError;
use crate::role;

/// A page of a tenant's role changes: `$1` tenant, `$2` after, `$3` limit.
pub(super) fn role_changes_after_sql() -> String {
    format!(
        "SELECT {CHANGE_COLUMNS} FROM role_changes WHERE tenant_id = $1 AND seq > $2 \
         ORDER BY seq LIMIT $3"
    )
}

impl SqlStore {
    pub(super) async fn users_by_role_query(
        &self,
        tenant: &TenantId,
        role: &str,
        after: &str,
        limit: u32,
    ) -> Result<Vec<EffectiveRecord>, sqlx::Error> {
        let sql = format!(
            "SELECT {EFFECTIVE_COLUMNS} FROM effective_roles \
             WHERE tenant_id = $1 AND role = $2 AND user_id > $3 ORDER BY user_id LIMIT $4"
        );
        let mut tx = self.begin_read(Scope::Tenant(tenant)).await?;
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(tenant.as_str())
            .bind(role)
            .bind(after)
            .bind(i64::from(limit))
            .fetch_all(&mut *tx)
            .await?;
        rows.iter().map(effective_from_row).collect()
    }

    pub(super) async fn explain_query(
        &self,
        tenant: &TenantId,
        user_id: &str,
    ) -> Result<Option<Explanation>, sqlx::Error> {
        let mut conn = self.begin_read(Scope::Tenant(tenant)).await?;
        let Some(effective) = effective_one(&mut conn, tenant, user_id).await? else {
            return Ok(None);
        };
        let policy = load_policy(&mut conn, tenant).await?;
        let users = load_users(&mut conn, tenant, &[user_id.to_owned()]).await?;
        let Some(user) = users.first() else {
            return Ok(None);
        };
        let candidates = policy.candidates(&user.groups);
        let steps = role::explain(&user.inputs(&policy, &candidates));
        Ok(Some(Explanation {
            effective,
            steps,
            candidates,
        }))
    }

    pub(super) async fn dry_run_query(
        &self,
        tenant: &TenantId,
        change: &Hypothesis,
    ) -> Result<Vec<RoleDiff>, PolicyError> {
        let mut conn = self.begin_read(Scope::Tenant(tenant)).await?;
        let mut policy = load_policy(&mut conn, tenant).await?;
        let ids = match change {
            Hypothesis::SetAssignment(a) => {
                if !role_exists(&mut conn, tenant, &a.role).await? {
                    return Err(PolicyError::UnknownRole(a.role.clone()));
                }
                policy.assignments.insert(a.group_id.clone(), a.clone());
                members_of(&mut conn, tenant, &a.group_id).await?
            }
            Hypothesis::RemoveAssignment(group_id) => {
                if policy.assignments.remove(group_id).is_none() {
                    return Err(PolicyError::NotFound("assignment"));
                }
                members_of(&mut conn, tenant, group_id).await?
            }
            Hypothesis::SetDefaultRole(role) => {
                if let Some(r) = role
                    && !role_exists(&mut conn, tenant, r).await?
                {
                    return Err(PolicyError::UnknownRole(r.clone()));
                }
                policy.default_role.clone_from(role);
                users_on_default(&mut conn, tenant).await?
            }
        };
        let users = load_users(&mut conn, tenant, &ids).await?;
        let current = load_effective(&mut conn, tenant, &ids).await?;
        let mut diffs = Vec::new();
        for user in &users {
            let to_role = user.decide(&policy).role;
            let from_role = current
                .get(&user.user_id)
                .map(|e| e.role.clone())
                .unwrap_or_default();
            if from_role != to_role {
                diffs.push(RoleDiff {
                    user_id: user.user_id.clone(),
                    from_role,
                    to_role,
                });
            }
        }
        Ok(diffs)
    }

    pub(super) async fn history_query(
        &self,
        tenant: &TenantId,
        user_id: &str,
        limit: u32,
    ) -> Result<Vec<RoleChangeRecord>, sqlx::Error> {
        let sql = format!(
            "SELECT {CHANGE_COLUMNS} FROM role_changes WHERE tenant_id = $1 AND user_id = $2 \
             ORDER BY seq DESC LIMIT $3"
        );
        let mut tx = self.begin_read(Scope::Tenant(tenant)).await?;
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(tenant.as_str())
            .bind(user_id)
            .bind(i64::from(limit))
            .fetch_all(&mut *tx)
            .await?;
        rows.iter().map(change_from_row).collect()
    }

    pub(super) async fn role_changes_after_query(
        &self,
        tenant: &TenantId,
        after_seq: i64,
        limit: u32,
    ) -> Result<Vec<RoleChangeRecord>, sqlx::Error> {
        let mut tx = self.begin_read(Scope::Tenant(tenant)).await?;
        let rows = sqlx::query(sqlx::AssertSqlSafe(role_changes_after_sql()))
            .bind(tenant.as_str())
            .bind(after_seq)
            .bind(i64::from(limit))
            .fetch_all(&mut *tx)
            .await?;
        rows.iter().map(change_from_row).collect()
    }

    pub(super) async fn role_heads_query(&self) -> Result<Vec<(String, i64)>, sqlx::Error> {
        let mut tx = self
            .begin_read(Scope::AllTenants(CrossTenant::RoleChangeStream))
            .await?;
        storekit::stream::all_heads(&mut tx, super::compute::ROLE_HEADS).await
    }
}
