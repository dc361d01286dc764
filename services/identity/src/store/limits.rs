//! Tenants' rate limits: two nullable columns of `tenants` (NULL is "the
//! gateway's default"), and the tenant's IdP profile, read with every
//! authentication.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::TenantLimits;
use super::scope::Scope;
use super::sql::SqlStore;
use crate::domain::TenantId;
use crate::error::IdentityError;

/// A stored limit: positive and within `u32`, else "default".
fn limit(value: Option<i64>) -> Option<u32> {
    value.and_then(|v| u32::try_from(v).ok()).filter(|v| *v > 0)
}

/// The limits in a row with `rate_per_second` and `burst` columns.
pub(super) fn limits_from_row(row: &AnyRow) -> Result<TenantLimits, sqlx::Error> {
    Ok(TenantLimits {
        rate_per_second: limit(row.try_get("rate_per_second")?),
        burst: limit(row.try_get("burst")?),
    })
}

/// The profile in a row with an `idp_profile` column (an unknown name,
/// which no write produces, reads as the default).
pub(super) fn profile_from_row(row: &AnyRow) -> Result<scim::IdpProfile, sqlx::Error> {
    let name: String = row.try_get("idp_profile")?;
    Ok(scim::IdpProfile::parse(&name).unwrap_or_default())
}

/// A text setting kept on the tenant's row (each its own column).
#[derive(Debug, Clone, Copy)]
pub(super) enum TenantSetting {
    IdpProfile,
    AdoptionPolicy,
}

impl TenantSetting {
    fn update_sql(self) -> &'static str {
        match self {
            Self::IdpProfile => "UPDATE tenants SET idp_profile = $2 WHERE id = $1",
            Self::AdoptionPolicy => "UPDATE tenants SET adoption_policy = $2 WHERE id = $1",
        }
    }

    fn select_sql(self) -> &'static str {
        match self {
            Self::IdpProfile => "SELECT idp_profile FROM tenants WHERE id = $1",
            Self::AdoptionPolicy => "SELECT adoption_policy FROM tenants WHERE id = $1",
        }
    }
}

impl SqlStore {
    pub(super) async fn set_profile_query(
        &self,
        id: &TenantId,
        profile: scim::IdpProfile,
    ) -> Result<(), IdentityError> {
        self.set_tenant_setting(id, TenantSetting::IdpProfile, profile.as_str())
            .await
    }

    pub(super) async fn get_profile_query(
        &self,
        id: &TenantId,
    ) -> Result<Option<scim::IdpProfile>, IdentityError> {
        let name = self.tenant_setting(id, TenantSetting::IdpProfile).await?;
        Ok(name.map(|n| scim::IdpProfile::parse(&n).unwrap_or_default()))
    }

    /// Sets a setting kept on the tenant's row; `NotFound` without the tenant.
    pub(super) async fn set_tenant_setting(
        &self,
        id: &TenantId,
        setting: TenantSetting,
        value: &str,
    ) -> Result<(), IdentityError> {
        let mut tx = self.write_tx(Scope::Tenant(id)).await?;
        let done = sqlx::query(setting.update_sql())
            .bind(id.as_str())
            .bind(value)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        if done.rows_affected() == 0 {
            return Err(IdentityError::NotFound("tenant"));
        }
        Ok(())
    }

    /// A setting kept on the tenant's row; `None` without the tenant.
    pub(super) async fn tenant_setting(
        &self,
        id: &TenantId,
        setting: TenantSetting,
    ) -> Result<Option<String>, IdentityError> {
        let mut tx = self.read_tx(Scope::Tenant(id)).await?;
        let row = sqlx::query(setting.select_sql())
            .bind(id.as_str())
            .fetch_optional(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(row.map(|r| r.try_get::<String, _>(0)).transpose()?)
    }

    pub(super) async fn set_limits_query(
        &self,
        id: &TenantId,
        limits: TenantLimits,
    ) -> Result<TenantLimits, IdentityError> {
        let mut tx = self.write_tx(Scope::Tenant(id)).await?;
        let done = sqlx::query("UPDATE tenants SET rate_per_second = $2, burst = $3 WHERE id = $1")
            .bind(id.as_str())
            .bind(limits.rate_per_second.filter(|v| *v > 0).map(i64::from))
            .bind(limits.burst.filter(|v| *v > 0).map(i64::from))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        if done.rows_affected() == 0 {
            return Err(IdentityError::NotFound("tenant"));
        }
        self.get_limits_query(id)
            .await?
            .ok_or(IdentityError::NotFound("tenant"))
    }

    pub(super) async fn get_limits_query(
        &self,
        id: &TenantId,
    ) -> Result<Option<TenantLimits>, IdentityError> {
        let mut tx = self.write_tx(Scope::Tenant(id)).await?;
        let row = sqlx::query("SELECT rate_per_second, burst FROM tenants WHERE id = $1")
            .bind(id.as_str())
            .fetch_optional(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(row.as_ref().map(limits_from_row).transpose()?)
    }
}
