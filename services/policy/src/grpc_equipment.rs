//! The equipment and alert RPCs of `policy.v1` (the trait methods in
//! [`crate::grpc`] delegate here): validation, one store call, conversion.

use std::collections::HashMap;

use futures::StreamExt;
use proto::policy::v1 as pb;
use tonic::Status;

use crate::alerts::events::{Event, EventKind};
use crate::alerts::schedule::Frequency;
use crate::alerts::settings::{AlertSettings, SettingsChange};
use crate::convert::timestamp;
use crate::domain::{Micros, resource_id};
use crate::equipment::{Checkout, Holding, Profile, ReportUser};
use crate::error::PolicyError;
use crate::grpc::PolicyApi;
use crate::request::{page, tenant, user};
use crate::store::Outcome;
use crate::{equipment, profile};

/// Identity look-ups in flight while a report is built.
const LOOKUPS: usize = 8;

fn micros_of(ts: Option<prost_types::Timestamp>, default: Micros) -> Micros {
    ts.map_or(default, |t| {
        t.seconds.saturating_mul(1_000_000) + i64::from(t.nanos / 1000)
    })
}

fn holding(h: Holding) -> pb::Holding {
    let Holding {
        tenant_id,
        user_id,
        asset_id,
        asset_name,
        checked_out,
    } = h;
    pb::Holding {
        tenant_id,
        user_id,
        asset_id,
        asset_name,
        checked_out_at: Some(timestamp(checked_out)),
    }
}

fn report_user(u: ReportUser, now: Micros) -> pb::ReportUser {
    let days_since_disabled = u.days_since_disabled(now);
    let assets = u
        .assets
        .iter()
        .map(|a| pb::ReportAsset {
            asset_id: a.asset_id.clone(),
            asset_name: a.asset_name.clone(),
            checked_out_at: Some(timestamp(a.checked_out)),
            held_since_disabled_seconds: u.held_since_disabled(a, now) / 1_000_000,
        })
        .collect();
    let ReportUser {
        user_id,
        profile,
        disabled_at,
        role,
        locked,
        assets: _,
    } = u;
    pb::ReportUser {
        user_id,
        display_name: profile.display_name,
        email: profile.email,
        user_name: profile.user_name,
        disabled_at: Some(timestamp(disabled_at)),
        days_since_disabled,
        role,
        locked,
        assets,
    }
}

fn frequency(code: i32, weekday: u32) -> Frequency {
    match pb::DigestFrequency::try_from(code) {
        Ok(pb::DigestFrequency::Daily) => Frequency::Daily,
        Ok(pb::DigestFrequency::Weekly) => Frequency::Weekly(u8::try_from(weekday).unwrap_or(0)),
        _ => Frequency::Off,
    }
}

fn settings(s: AlertSettings) -> pb::AlertSettings {
    let AlertSettings {
        tenant_id,
        webhook_url,
        secret,
        schedule,
        next_digest,
        updated,
    } = s;
    let (digest, digest_weekday) = match schedule.frequency {
        Frequency::Off => (pb::DigestFrequency::Off, 0),
        Frequency::Daily => (pb::DigestFrequency::Daily, 0),
        Frequency::Weekly(d) => (pb::DigestFrequency::Weekly, u32::from(d)),
    };
    pb::AlertSettings {
        tenant_id,
        webhook_url,
        secret_set: !secret.is_empty(),
        digest: digest.into(),
        digest_hour: u32::from(schedule.hour),
        digest_weekday,
        time_zone: schedule.time_zone,
        next_digest_at: next_digest.map(timestamp),
        updated_at: Some(timestamp(updated)),
    }
}

impl PolicyApi {
    pub(crate) async fn do_record_checkout(
        &self,
        r: pb::RecordCheckoutRequest,
    ) -> Result<pb::RecordCheckoutResponse, Status> {
        let pb::RecordCheckoutRequest {
            tenant_id,
            user_id,
            asset_id,
            asset_name,
            checked_out_at,
        } = r;
        let tenant = tenant(&tenant_id)?;
        let now = self.clock.now();
        let checkout = Checkout::parse(
            &user_id,
            &asset_id,
            &asset_name,
            micros_of(checked_out_at, now),
        )?;
        let found = profile::fetch(self.identity.clone(), &tenant, &checkout.user_id).await;
        let done = self
            .equipment
            .record_checkout(&tenant, &checkout, found.as_ref(), now)
            .await?;
        Ok(pb::RecordCheckoutResponse {
            holding: Some(holding(done.holding)),
            changed: done.changed,
            moved_from_user_id: done.moved_from.unwrap_or_default(),
            user_disabled: done.user_disabled,
        })
    }

    pub(crate) async fn do_record_return(
        &self,
        r: pb::RecordReturnRequest,
    ) -> Result<pb::RecordReturnResponse, Status> {
        let pb::RecordReturnRequest {
            tenant_id,
            asset_id,
            user_id,
            returned_at: _,
        } = r;
        let tenant = tenant(&tenant_id)?;
        let asset_id = resource_id(&asset_id, "asset id")?;
        let only = match user_id.as_str() {
            "" => None,
            u => Some(user(u)?),
        };
        let from = self
            .equipment
            .record_return(&tenant, &asset_id, only.as_deref(), self.clock.now())
            .await?;
        Ok(pb::RecordReturnResponse {
            returned: from.is_some(),
            user_id: from.unwrap_or_default(),
        })
    }

    pub(crate) async fn do_list_holdings(
        &self,
        r: pb::ListHoldingsRequest,
    ) -> Result<pb::ListHoldingsResponse, Status> {
        let pb::ListHoldingsRequest { tenant_id, user_id } = r;
        let tenant = tenant(&tenant_id)?;
        let only = match user_id.as_str() {
            "" => None,
            u => Some(user(u)?),
        };
        let found = self.equipment.holdings(&tenant, only.as_deref()).await?;
        Ok(pb::ListHoldingsResponse {
            holdings: found.into_iter().map(holding).collect(),
        })
    }

    /// The report with names and emails fresh from identity where it still
    /// shows the user (the cache is refreshed), cached ones otherwise.
    pub(crate) async fn do_report(
        &self,
        r: pb::GetDisabledWithEquipmentReportRequest,
    ) -> Result<pb::GetDisabledWithEquipmentReportResponse, Status> {
        let pb::GetDisabledWithEquipmentReportRequest { tenant_id } = r;
        let tenant = tenant(&tenant_id)?;
        let now = self.clock.now();
        let mut report = self.equipment.report(&tenant, now).await?;
        let ids: Vec<String> = report
            .disabled
            .iter()
            .chain(&report.locked_deactivated)
            .map(|u| u.user_id.clone())
            .collect();
        let fresh: Vec<(String, Option<Profile>)> = futures::stream::iter(ids)
            .map(|id| {
                let identity = self.identity.clone();
                let tenant = tenant.clone();
                async move {
                    let p = profile::fetch(identity, &tenant, &id).await;
                    (id, p)
                }
            })
            .buffer_unordered(LOOKUPS)
            .collect()
            .await;
        let fresh: HashMap<String, Profile> = fresh
            .into_iter()
            .filter_map(|(id, p)| Some((id, p?)))
            .collect();
        for (id, p) in &fresh {
            self.equipment.save_profile(&tenant, id, p, now).await?;
        }
        for u in report
            .disabled
            .iter_mut()
            .chain(report.locked_deactivated.iter_mut())
        {
            if let Some(p) = fresh.get(&u.user_id) {
                u.profile = p.clone();
            }
        }
        let equipment::Report {
            tenant_id,
            generated_at,
            disabled,
            locked_deactivated,
        } = report;
        Ok(pb::GetDisabledWithEquipmentReportResponse {
            tenant_id,
            generated_at: Some(timestamp(generated_at)),
            disabled_users: disabled.into_iter().map(|u| report_user(u, now)).collect(),
            locked_deactivated_users: locked_deactivated
                .into_iter()
                .map(|u| report_user(u, now))
                .collect(),
        })
    }

    pub(crate) async fn do_set_alert_settings(
        &self,
        r: pb::SetAlertSettingsRequest,
    ) -> Result<pb::SetAlertSettingsResponse, Status> {
        let pb::SetAlertSettingsRequest {
            tenant_id,
            webhook_url,
            signing_secret,
            generate_secret,
            digest,
            digest_hour,
            digest_weekday,
            time_zone,
        } = r;
        let tenant = tenant(&tenant_id)?;
        let change = SettingsChange::parse(
            &webhook_url,
            &signing_secret,
            generate_secret,
            frequency(digest, digest_weekday),
            digest_hour,
            &time_zone,
            &self.egress,
        )?;
        let (stored, generated) = self
            .equipment
            .set_alert_settings(&tenant, &change, self.clock.now())
            .await?;
        Ok(pb::SetAlertSettingsResponse {
            settings: Some(settings(stored)),
            generated_secret: generated.unwrap_or_default(),
        })
    }

    pub(crate) async fn do_get_alert_settings(
        &self,
        r: pb::GetAlertSettingsRequest,
    ) -> Result<pb::GetAlertSettingsResponse, Status> {
        let pb::GetAlertSettingsRequest { tenant_id } = r;
        let found = self.equipment.alert_settings(&tenant(&tenant_id)?).await?;
        let found = found.ok_or(PolicyError::NotFound("alert settings"))?;
        Ok(pb::GetAlertSettingsResponse {
            settings: Some(settings(found)),
        })
    }

    pub(crate) async fn do_delete_alert_settings(
        &self,
        r: pb::DeleteAlertSettingsRequest,
    ) -> Result<pb::DeleteAlertSettingsResponse, Status> {
        let pb::DeleteAlertSettingsRequest { tenant_id } = r;
        if !self
            .equipment
            .delete_alert_settings(&tenant(&tenant_id)?)
            .await?
        {
            return Err(PolicyError::NotFound("alert settings").into());
        }
        Ok(pb::DeleteAlertSettingsResponse {})
    }

    pub(crate) async fn do_send_test_alert(
        &self,
        r: pb::SendTestAlertRequest,
    ) -> Result<pb::SendTestAlertResponse, Status> {
        let pb::SendTestAlertRequest { tenant_id } = r;
        let tenant = tenant(&tenant_id)?;
        let now = self.clock.now();
        let data = serde_json::json!({"message": "a test event: alerts reach this receiver"});
        let event = Event::new(tenant.as_str(), EventKind::Test, now, data);
        if !self.equipment.enqueue(&tenant, &event, now).await? {
            return Err(PolicyError::NotFound("alert settings").into());
        }
        Ok(pb::SendTestAlertResponse {
            event_id: event.event_id,
        })
    }

    pub(crate) async fn do_list_alert_deliveries(
        &self,
        r: pb::ListAlertDeliveriesRequest,
    ) -> Result<pb::ListAlertDeliveriesResponse, Status> {
        let pb::ListAlertDeliveriesRequest { tenant_id, limit } = r;
        let (found, pending_events) = self
            .equipment
            .deliveries(&tenant(&tenant_id)?, page(limit))
            .await?;
        let deliveries = found
            .into_iter()
            .map(|d| pb::AlertDelivery {
                event_id: d.event_id,
                kind: d.kind,
                attempt: d.attempt,
                at: Some(timestamp(d.at)),
                outcome: match d.outcome {
                    Outcome::Delivered => "delivered",
                    Outcome::Retry(_) => "retry",
                    Outcome::Failed => "failed",
                }
                .into(),
                http_status: u32::from(d.http_status),
                detail: d.detail,
            })
            .collect();
        Ok(pb::ListAlertDeliveriesResponse {
            deliveries,
            pending_events,
        })
    }
}
