//! [`EquipmentStore`]: holdings, the report and alert delivery, beside the
//! role [`super::Store`], implemented by the same [`SqlStore`].

use async_trait::async_trait;

use super::alerts::{Claimed, Delivery};
use super::sql::SqlStore;
use crate::alerts::events::Event;
use crate::alerts::settings::{AlertSettings, SettingsChange};
use crate::domain::{Micros, TenantId};
use crate::equipment::{Checkout, CheckoutOutcome, Holding, Profile, Report};
use crate::error::PolicyError;

#[async_trait]
pub trait EquipmentStore: Send + Sync + 'static {
    /// Records a checkout (idempotent by asset id; moves an asset held by
    /// someone else). `UnknownHolder` for a user policy has never seen.
    /// `profile`, when given, refreshes the user's cached name and email.
    async fn record_checkout(
        &self,
        tenant: &TenantId,
        checkout: &Checkout,
        profile: Option<&Profile>,
        now: Micros,
    ) -> Result<CheckoutOutcome, PolicyError>;
    /// Records a return; the holder it came back from, `None` when the asset
    /// was not held (by `user`, when given).
    async fn record_return(
        &self,
        tenant: &TenantId,
        asset_id: &str,
        user: Option<&str>,
        now: Micros,
    ) -> Result<Option<String>, PolicyError>;
    /// A user's holdings, or the tenant's (`user` `None`), by user and asset.
    async fn holdings(
        &self,
        tenant: &TenantId,
        user: Option<&str>,
    ) -> Result<Vec<Holding>, PolicyError>;
    /// The report with the cached names and emails, sorted.
    async fn report(&self, tenant: &TenantId, now: Micros) -> Result<Report, PolicyError>;
    /// Refreshes a user's cached name and email.
    async fn save_profile(
        &self,
        tenant: &TenantId,
        user_id: &str,
        profile: &Profile,
        now: Micros,
    ) -> Result<(), PolicyError>;

    /// Creates or replaces the settings; the generated secret, when one was.
    async fn set_alert_settings(
        &self,
        tenant: &TenantId,
        change: &SettingsChange,
        now: Micros,
    ) -> Result<(AlertSettings, Option<String>), PolicyError>;
    async fn alert_settings(&self, tenant: &TenantId)
    -> Result<Option<AlertSettings>, PolicyError>;
    /// False when there were none.
    async fn delete_alert_settings(&self, tenant: &TenantId) -> Result<bool, PolicyError>;
    /// Queues an event; false when the tenant's alerts are not configured.
    async fn enqueue(
        &self,
        tenant: &TenantId,
        event: &Event,
        now: Micros,
    ) -> Result<bool, PolicyError>;
    /// The newest `limit` attempts and the number of events still pending.
    async fn deliveries(
        &self,
        tenant: &TenantId,
        limit: u32,
    ) -> Result<(Vec<Delivery>, u32), PolicyError>;

    /// Claims due events until `lease_until`.
    async fn claim_due(
        &self,
        now: Micros,
        lease_until: Micros,
        limit: u32,
    ) -> Result<Vec<Claimed>, PolicyError>;
    /// Logs an attempt and moves its event on.
    async fn finish_attempt(
        &self,
        claimed: &Claimed,
        delivery: &Delivery,
    ) -> Result<(), PolicyError>;
    /// Settings whose digest is due at `now`.
    async fn due_digests(&self, now: Micros) -> Result<Vec<AlertSettings>, PolicyError>;
    /// Advances a due digest to `next` and queues `event`; false when
    /// another worker took it.
    async fn commit_digest(
        &self,
        tenant: &TenantId,
        due: Micros,
        next: Option<Micros>,
        event: Option<&Event>,
        now: Micros,
    ) -> Result<bool, PolicyError>;
}

#[async_trait]
impl EquipmentStore for SqlStore {
    async fn record_checkout(
        &self,
        tenant: &TenantId,
        checkout: &Checkout,
        profile: Option<&Profile>,
        now: Micros,
    ) -> Result<CheckoutOutcome, PolicyError> {
        self.record_checkout_tx(tenant, checkout, profile, now)
            .await
    }

    async fn record_return(
        &self,
        tenant: &TenantId,
        asset_id: &str,
        user: Option<&str>,
        now: Micros,
    ) -> Result<Option<String>, PolicyError> {
        Ok(self.record_return_tx(tenant, asset_id, user, now).await?)
    }

    async fn holdings(
        &self,
        tenant: &TenantId,
        user: Option<&str>,
    ) -> Result<Vec<Holding>, PolicyError> {
        Ok(self.holdings_query(tenant, user).await?)
    }

    async fn report(&self, tenant: &TenantId, now: Micros) -> Result<Report, PolicyError> {
        Ok(self.report_query(tenant, now).await?)
    }

    async fn save_profile(
        &self,
        tenant: &TenantId,
        user_id: &str,
        profile: &Profile,
        now: Micros,
    ) -> Result<(), PolicyError> {
        Ok(self.save_profile_tx(tenant, user_id, profile, now).await?)
    }

    async fn set_alert_settings(
        &self,
        tenant: &TenantId,
        change: &SettingsChange,
        now: Micros,
    ) -> Result<(AlertSettings, Option<String>), PolicyError> {
        self.set_alert_settings_tx(tenant, change, now).await
    }

    async fn alert_settings(
        &self,
        tenant: &TenantId,
    ) -> Result<Option<AlertSettings>, PolicyError> {
        Ok(self.alert_settings_query(tenant).await?)
    }

    async fn delete_alert_settings(&self, tenant: &TenantId) -> Result<bool, PolicyError> {
        Ok(self.delete_alert_settings_tx(tenant).await?)
    }

    async fn enqueue(
        &self,
        tenant: &TenantId,
        event: &Event,
        now: Micros,
    ) -> Result<bool, PolicyError> {
        Ok(self.enqueue_tx(tenant, event, now).await?)
    }

    async fn deliveries(
        &self,
        tenant: &TenantId,
        limit: u32,
    ) -> Result<(Vec<Delivery>, u32), PolicyError> {
        Ok(self.deliveries_query(tenant, limit).await?)
    }

    async fn claim_due(
        &self,
        now: Micros,
        lease_until: Micros,
        limit: u32,
    ) -> Result<Vec<Claimed>, PolicyError> {
        Ok(self.claim_due_tx(now, lease_until, limit).await?)
    }

    async fn finish_attempt(
        &self,
        claimed: &Claimed,
        delivery: &Delivery,
    ) -> Result<(), PolicyError> {
        Ok(self.finish_attempt_tx(claimed, delivery).await?)
    }

    async fn due_digests(&self, now: Micros) -> Result<Vec<AlertSettings>, PolicyError> {
        Ok(self.due_digests_query(now).await?)
    }

    async fn commit_digest(
        &self,
        tenant: &TenantId,
        due: Micros,
        next: Option<Micros>,
        event: Option<&Event>,
        now: Micros,
    ) -> Result<bool, PolicyError> {
        Ok(self.commit_digest_tx(tenant, due, next, event, now).await?)
    }
}
