//! Holdings (checkouts and returns, idempotent by asset id), the cached
//! profiles of holders, and the report on disabled users with equipment.

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::compute::effective_one;
use super::hooks::{enqueue, holds_nothing};
use super::scope::Scope;
use super::sql::{SqlStore, flag};
use crate::alerts::events::{self, Event, EventKind};
use crate::domain::{DISABLED, Micros, TenantId};
use crate::equipment::{Checkout, CheckoutOutcome, Holding, Profile, Report, ReportUser};
use crate::error::PolicyError;

const HOLDING_COLUMNS: &str = "tenant_id, user_id, asset_id, asset_name, checked_out";

pub(super) fn holding_from_row(row: &AnyRow) -> Result<Holding, sqlx::Error> {
    Ok(Holding {
        tenant_id: row.try_get("tenant_id")?,
        user_id: row.try_get("user_id")?,
        asset_id: row.try_get("asset_id")?,
        asset_name: row.try_get("asset_name")?,
        checked_out: row.try_get("checked_out")?,
    })
}

/// The cached name and email of a user, when identity ever reported them.
pub(super) async fn load_profile(
    conn: &mut AnyConnection,
    tenant: &TenantId,
    user_id: &str,
) -> Result<Option<Profile>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT user_name, display_name, email FROM user_profiles WHERE tenant_id = $1 AND user_id = $2",
    )
    .bind(tenant.as_str())
    .bind(user_id)
    .fetch_optional(conn)
    .await?;
    row.map(|r| {
        Ok(Profile {
            user_name: r.try_get("user_name")?,
            display_name: r.try_get("display_name")?,
            email: r.try_get("email")?,
        })
    })
    .transpose()
}

pub(super) async fn store_profile(
    conn: &mut AnyConnection,
    tenant: &TenantId,
    user_id: &str,
    p: &Profile,
    now: Micros,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO user_profiles (tenant_id, user_id, user_name, display_name, email, fetched) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (tenant_id, user_id) DO UPDATE SET \
         user_name = excluded.user_name, display_name = excluded.display_name, \
         email = excluded.email, fetched = excluded.fetched",
    )
    .bind(tenant.as_str())
    .bind(user_id)
    .bind(&p.user_name)
    .bind(&p.display_name)
    .bind(&p.email)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

async fn holding(
    conn: &mut AnyConnection,
    tenant: &TenantId,
    asset_id: &str,
) -> Result<Option<Holding>, sqlx::Error> {
    let sql =
        format!("SELECT {HOLDING_COLUMNS} FROM holdings WHERE tenant_id = $1 AND asset_id = $2");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(tenant.as_str())
        .bind(asset_id)
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(holding_from_row).transpose()
}

async fn delete_holding(conn: &mut AnyConnection, h: &Holding) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM holdings WHERE tenant_id = $1 AND asset_id = $2")
        .bind(&h.tenant_id)
        .bind(&h.asset_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// After `h` left its holder: the closing event when the holder is Disabled
/// and holds nothing more.
async fn after_release(
    conn: &mut AnyConnection,
    tenant: &TenantId,
    h: &Holding,
    now: Micros,
) -> Result<(), sqlx::Error> {
    let disabled = effective_one(conn, tenant, &h.user_id)
        .await?
        .is_some_and(|e| e.role == DISABLED);
    if disabled && holds_nothing(conn, tenant, &h.user_id).await? {
        let profile = load_profile(conn, tenant, &h.user_id).await?;
        let data = serde_json::json!({
            "user": events::user(&h.user_id, profile.as_ref()),
            "last_asset": events::asset(h),
        });
        enqueue(
            conn,
            tenant,
            &Event::new(tenant.as_str(), EventKind::AllReturned, now, data),
            now,
        )
        .await?;
    }
    Ok(())
}

impl SqlStore {
    pub(super) async fn record_checkout_tx(
        &self,
        tenant: &TenantId,
        c: &Checkout,
        profile: Option<&Profile>,
        now: Micros,
    ) -> Result<CheckoutOutcome, PolicyError> {
        let mut tx = self.begin_write(Scope::Tenant(tenant)).await?;
        let Some(effective) = effective_one(&mut tx, tenant, &c.user_id).await? else {
            return Err(PolicyError::UnknownHolder(c.user_id.clone()));
        };
        let user_disabled = effective.role == DISABLED;
        if let Some(p) = profile {
            store_profile(&mut tx, tenant, &c.user_id, p, now).await?;
        }
        let mut moved_from = None;
        if let Some(held) = holding(&mut tx, tenant, &c.asset_id).await? {
            if held.user_id == c.user_id {
                // A retry: nothing changes (the profile refresh aside).
                self.commit(tx).await?;
                return Ok(CheckoutOutcome {
                    holding: held,
                    changed: false,
                    moved_from,
                    user_disabled,
                });
            }
            delete_holding(&mut tx, &held).await?;
            after_release(&mut tx, tenant, &held, now).await?;
            moved_from = Some(held.user_id);
        }
        let h = Holding {
            tenant_id: tenant.as_str().to_owned(),
            user_id: c.user_id.clone(),
            asset_id: c.asset_id.clone(),
            asset_name: c.asset_name.clone(),
            checked_out: c.at,
        };
        sqlx::query(
            "INSERT INTO holdings (tenant_id, user_id, asset_id, asset_name, checked_out) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&h.tenant_id)
        .bind(&h.user_id)
        .bind(&h.asset_id)
        .bind(&h.asset_name)
        .bind(h.checked_out)
        .execute(&mut *tx)
        .await?;
        if user_disabled {
            let profile = load_profile(&mut tx, tenant, &h.user_id).await?;
            let data = serde_json::json!({
                "user": events::user(&h.user_id, profile.as_ref()),
                "disabled_at": events::rfc3339(effective.since),
                "asset": events::asset(&h),
            });
            let event = Event::new(tenant.as_str(), EventKind::CheckedOutToDisabled, now, data);
            enqueue(&mut tx, tenant, &event, now).await?;
        }
        self.commit(tx).await?;
        Ok(CheckoutOutcome {
            holding: h,
            changed: true,
            moved_from,
            user_disabled,
        })
    }

    /// Returns the holder the asset came back from (`None`: not held, or
    /// held by someone other than `user`).
    pub(super) async fn record_return_tx(
        &self,
        tenant: &TenantId,
        asset_id: &str,
        user: Option<&str>,
        now: Micros,
    ) -> Result<Option<String>, sqlx::Error> {
        let mut tx = self.begin_write(Scope::Tenant(tenant)).await?;
        let held = holding(&mut tx, tenant, asset_id).await?;
        let Some(h) = held.filter(|h| user.is_none_or(|u| u == h.user_id)) else {
            return Ok(None);
        };
        delete_holding(&mut tx, &h).await?;
        after_release(&mut tx, tenant, &h, now).await?;
        self.commit(tx).await?;
        Ok(Some(h.user_id))
    }

    pub(super) async fn holdings_query(
        &self,
        tenant: &TenantId,
        user: Option<&str>,
    ) -> Result<Vec<Holding>, sqlx::Error> {
        let mut conn = self.begin_read(Scope::Tenant(tenant)).await?;
        if let Some(u) = user {
            return super::hooks::holdings_of(&mut conn, tenant, u).await;
        }
        let sql = format!(
            "SELECT {HOLDING_COLUMNS} FROM holdings WHERE tenant_id = $1 ORDER BY user_id, asset_id"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(tenant.as_str())
            .fetch_all(&mut *conn)
            .await?;
        rows.iter().map(holding_from_row).collect()
    }

    pub(super) async fn save_profile_tx(
        &self,
        tenant: &TenantId,
        user_id: &str,
        p: &Profile,
        now: Micros,
    ) -> Result<(), sqlx::Error> {
        let mut tx = self.begin_write(Scope::Tenant(tenant)).await?;
        store_profile(&mut tx, tenant, user_id, p, now).await?;
        tx.commit().await
    }

    pub(super) async fn report_query(
        &self,
        tenant: &TenantId,
        now: Micros,
    ) -> Result<Report, sqlx::Error> {
        let mut conn = self.begin_read(Scope::Tenant(tenant)).await?;
        let disabled = sqlx::query(
            "SELECT e.user_id, e.role, e.locked, e.since AS disabled_at FROM effective_roles e \
             WHERE e.tenant_id = $1 AND e.role = $2 AND EXISTS (SELECT 1 FROM holdings h \
             WHERE h.tenant_id = e.tenant_id AND h.user_id = e.user_id)",
        )
        .bind(tenant.as_str())
        .bind(DISABLED)
        .fetch_all(&mut *conn)
        .await?;
        let locked = sqlx::query(
            "SELECT e.user_id, e.role, e.locked, COALESCE(u.since, e.since) AS disabled_at \
             FROM effective_roles e LEFT JOIN upstream_disabled u \
             ON u.tenant_id = e.tenant_id AND u.user_id = e.user_id \
             WHERE e.tenant_id = $1 AND e.locked = $2 AND e.upstream_disabled = $2 AND e.role <> $3",
        )
        .bind(tenant.as_str())
        .bind(true)
        .bind(DISABLED)
        .fetch_all(&mut *conn)
        .await?;
        let mut report = Report {
            tenant_id: tenant.as_str().to_owned(),
            generated_at: now,
            disabled: report_users(&mut conn, tenant, &disabled).await?,
            locked_deactivated: report_users(&mut conn, tenant, &locked).await?,
        };
        report.sort();
        Ok(report)
    }
}

async fn report_users(
    conn: &mut AnyConnection,
    tenant: &TenantId,
    rows: &[AnyRow],
) -> Result<Vec<ReportUser>, sqlx::Error> {
    let mut users = Vec::with_capacity(rows.len());
    for row in rows {
        let user_id: String = row.try_get("user_id")?;
        users.push(ReportUser {
            profile: load_profile(conn, tenant, &user_id)
                .await?
                .unwrap_or_default(),
            assets: super::hooks::holdings_of(conn, tenant, &user_id).await?,
            disabled_at: row.try_get("disabled_at")?,
            role: row.try_get("role")?,
            locked: flag(row, "locked")?,
            user_id,
        });
    }
    Ok(users)
}
