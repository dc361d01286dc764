//! Console links: hashed one-time codes with an expiry. Issuing is scoped to
//! the tenant; redeeming looks the hash up before the tenant is known
//! ([`CrossTenant::RedeemConsoleLink`]) and marks it used in the same
//! statement, so two concurrent redeems cannot both succeed. Inspecting
//! reads a code the same way without using it.
//!
//! Also the tenant's console session epoch (`tenants.console_epoch`): the
//! console signs it into every session cookie and refuses a cookie of an
//! older one, so advancing it ends every session of the tenant.

use sqlx::Row;

use super::scope::{CrossTenant, Scope};
use super::sql::{SqlStore, missing_tenant};
use crate::domain::{Micros, TenantId, now_micros};
use crate::error::IdentityError;

/// Links expired this long ago are deleted when the tenant issues a new one.
const KEEP_EXPIRED_MICROS: Micros = 24 * 3600 * 1_000_000;

impl SqlStore {
    pub(super) async fn insert_console_link_query(
        &self,
        tenant: &TenantId,
        hash: &str,
        expires: Micros,
    ) -> Result<(), IdentityError> {
        let now = now_micros();
        let mut tx = self.write_tx(Scope::Tenant(tenant)).await?;
        sqlx::query("DELETE FROM console_links WHERE tenant_id = $1 AND expires < $2")
            .bind(tenant.as_str())
            .bind(now - KEEP_EXPIRED_MICROS)
            .execute(&mut *tx)
            .await?;
        let inserted = sqlx::query(
            "INSERT INTO console_links (hash, tenant_id, created, expires) VALUES ($1, $2, $3, $4)",
        )
        .bind(hash)
        .bind(tenant.as_str())
        .bind(now)
        .bind(expires)
        .execute(&mut *tx)
        .await;
        inserted.map_err(|e| missing_tenant(e.into()))?;
        tx.commit().await?;
        Ok(())
    }

    pub(super) async fn redeem_console_link_query(
        &self,
        hash: &str,
    ) -> Result<Option<(String, i64)>, IdentityError> {
        let now = now_micros();
        let mut tx = self
            .write_tx(Scope::AllTenants(CrossTenant::RedeemConsoleLink))
            .await?;
        let row = sqlx::query(
            "UPDATE console_links SET used = $2 \
             WHERE hash = $1 AND used IS NULL AND expires > $2 RETURNING tenant_id",
        )
        .bind(hash)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            tx.commit().await?;
            return Ok(None);
        };
        let tenant: String = row.try_get("tenant_id")?;
        // The epoch in the same transaction: a session started from this
        // code carries the epoch current when the code was used.
        let epoch = sqlx::query("SELECT console_epoch FROM tenants WHERE id = $1")
            .bind(&tenant)
            .fetch_one(&mut *tx)
            .await?
            .try_get("console_epoch")?;
        tx.commit().await?;
        Ok(Some((tenant, epoch)))
    }

    pub(super) async fn inspect_console_link_query(
        &self,
        hash: &str,
    ) -> Result<Option<String>, IdentityError> {
        let mut tx = self
            .read_tx(Scope::AllTenants(CrossTenant::InspectConsoleLink))
            .await?;
        let row = sqlx::query(
            "SELECT tenant_id FROM console_links \
             WHERE hash = $1 AND used IS NULL AND expires > $2",
        )
        .bind(hash)
        .bind(now_micros())
        .fetch_optional(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(row.map(|r| r.try_get("tenant_id")).transpose()?)
    }

    pub(super) async fn console_epoch_query(
        &self,
        tenant: &TenantId,
    ) -> Result<Option<i64>, IdentityError> {
        let mut tx = self.read_tx(Scope::Tenant(tenant)).await?;
        let row = sqlx::query("SELECT console_epoch FROM tenants WHERE id = $1")
            .bind(tenant.as_str())
            .fetch_optional(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(row.map(|r| r.try_get("console_epoch")).transpose()?)
    }

    pub(super) async fn end_console_sessions_query(
        &self,
        tenant: &TenantId,
    ) -> Result<Option<i64>, IdentityError> {
        let mut tx = self.write_tx(Scope::Tenant(tenant)).await?;
        let row = sqlx::query(
            "UPDATE tenants SET console_epoch = console_epoch + 1 \
             WHERE id = $1 RETURNING console_epoch",
        )
        .bind(tenant.as_str())
        .fetch_optional(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(row.map(|r| r.try_get("console_epoch")).transpose()?)
    }
}
