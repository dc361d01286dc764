//! Alert settings, the outbox (claim, finish) and the delivery log.

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::hooks::enqueue;
use super::scope::{CrossTenant, Scope};
use super::sql::SqlStore;
use crate::alerts::events::Event;
use crate::alerts::schedule::{Frequency, Schedule};
use crate::alerts::settings::{AlertSettings, SecretChange, SettingsChange};
use crate::alerts::sign::generate_secret;
use crate::domain::{Micros, TenantId};
use crate::error::PolicyError;

/// An event claimed for one delivery attempt, with where to send it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claimed {
    pub id: i64,
    pub tenant_id: String,
    pub event_id: String,
    pub kind: String,
    pub body: String,
    /// Failed attempts so far.
    pub attempts: u32,
    pub created: Micros,
    /// `None` when the tenant's alerts were removed since.
    pub target: Option<(String, String)>,
}

/// How an attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Delivered,
    /// Try again at this time.
    Retry(Micros),
    /// Given up.
    Failed,
}

/// One delivery attempt, as logged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub event_id: String,
    pub kind: String,
    pub attempt: u32,
    pub at: Micros,
    pub outcome: Outcome,
    /// 0 when no HTTP response came.
    pub http_status: u16,
    pub detail: String,
}

/// The most events of one tenant claimed in one round.
const PER_TENANT: i64 = 4;

const SETTINGS_COLUMNS: &str = "tenant_id, webhook_url, secret, digest, digest_hour, \
     digest_weekday, time_zone, next_digest, updated";

fn settings_from_row(row: &AnyRow) -> Result<AlertSettings, sqlx::Error> {
    let code: String = row.try_get("digest")?;
    let weekday: i64 = row.try_get("digest_weekday")?;
    let frequency = match code.as_str() {
        "daily" => Frequency::Daily,
        "weekly" => Frequency::Weekly(u8::try_from(weekday).unwrap_or(1)),
        _ => Frequency::Off,
    };
    let hour: i64 = row.try_get("digest_hour")?;
    Ok(AlertSettings {
        tenant_id: row.try_get("tenant_id")?,
        webhook_url: row.try_get("webhook_url")?,
        secret: row.try_get("secret")?,
        schedule: Schedule {
            frequency,
            hour: u8::try_from(hour).unwrap_or(0),
            time_zone: row.try_get("time_zone")?,
        },
        next_digest: row.try_get("next_digest")?,
        updated: row.try_get("updated")?,
    })
}

async fn settings_of(
    conn: &mut AnyConnection,
    tenant: &str,
) -> Result<Option<AlertSettings>, sqlx::Error> {
    let sql = format!("SELECT {SETTINGS_COLUMNS} FROM alert_settings WHERE tenant_id = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(tenant)
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(settings_from_row).transpose()
}

impl SqlStore {
    pub(super) async fn set_alert_settings_tx(
        &self,
        tenant: &TenantId,
        change: &SettingsChange,
        now: Micros,
    ) -> Result<(AlertSettings, Option<String>), PolicyError> {
        let mut tx = self.begin_write(Scope::Tenant(tenant)).await?;
        let old = settings_of(&mut tx, tenant.as_str()).await?;
        let fresh = || {
            generate_secret().map_err(|_| {
                PolicyError::InvalidArgument(
                    "no randomness available to generate a secret; give one".into(),
                )
            })
        };
        let (secret, generated) = match (&change.secret, old) {
            (SecretChange::Set(s), _) => (s.clone(), None),
            (SecretChange::Keep, Some(old)) => (old.secret, None),
            (SecretChange::Keep | SecretChange::Generate, _) => {
                let s = fresh()?;
                (s.clone(), Some(s))
            }
        };
        let settings = AlertSettings {
            tenant_id: tenant.as_str().to_owned(),
            webhook_url: change.webhook_url.clone(),
            secret,
            next_digest: change.schedule.next_after(now),
            schedule: change.schedule.clone(),
            updated: now,
        };
        let weekday = match settings.schedule.frequency {
            Frequency::Weekly(d) => i64::from(d),
            _ => 0,
        };
        sqlx::query(
            "INSERT INTO alert_settings (tenant_id, webhook_url, secret, digest, digest_hour, \
             digest_weekday, time_zone, next_digest, updated) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
             ON CONFLICT (tenant_id) DO UPDATE SET webhook_url = excluded.webhook_url, \
             secret = excluded.secret, digest = excluded.digest, digest_hour = excluded.digest_hour, \
             digest_weekday = excluded.digest_weekday, time_zone = excluded.time_zone, \
             next_digest = excluded.next_digest, updated = excluded.updated",
        )
        .bind(tenant.as_str())
        .bind(&settings.webhook_url)
        .bind(&settings.secret)
        .bind(settings.schedule.frequency.code())
        .bind(i64::from(settings.schedule.hour))
        .bind(weekday)
        .bind(&settings.schedule.time_zone)
        .bind(settings.next_digest)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        self.commit(tx).await?;
        Ok((settings, generated))
    }

    pub(super) async fn alert_settings_query(
        &self,
        tenant: &TenantId,
    ) -> Result<Option<AlertSettings>, sqlx::Error> {
        let mut conn = self.begin_read(Scope::Tenant(tenant)).await?;
        settings_of(&mut conn, tenant.as_str()).await
    }

    /// Removes the settings; queued events of the tenant are dropped.
    pub(super) async fn delete_alert_settings_tx(
        &self,
        tenant: &TenantId,
    ) -> Result<bool, sqlx::Error> {
        let mut tx = self.begin_write(Scope::Tenant(tenant)).await?;
        let gone = sqlx::query("DELETE FROM alert_settings WHERE tenant_id = $1")
            .bind(tenant.as_str())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        sqlx::query(
            "UPDATE alert_outbox SET state = 'failed' WHERE tenant_id = $1 AND state = 'pending'",
        )
        .bind(tenant.as_str())
        .execute(&mut *tx)
        .await?;
        self.commit(tx).await?;
        Ok(gone > 0)
    }

    /// Queues `event` for the tenant; false when alerts are not configured.
    pub(super) async fn enqueue_tx(
        &self,
        tenant: &TenantId,
        event: &Event,
        now: Micros,
    ) -> Result<bool, sqlx::Error> {
        let mut tx = self.begin_write(Scope::Tenant(tenant)).await?;
        let queued = enqueue(&mut tx, tenant, event, now).await?;
        self.commit(tx).await?;
        Ok(queued)
    }

    pub(super) async fn deliveries_query(
        &self,
        tenant: &TenantId,
        limit: u32,
    ) -> Result<(Vec<Delivery>, u32), sqlx::Error> {
        let mut conn = self.begin_read(Scope::Tenant(tenant)).await?;
        let rows = sqlx::query(
            "SELECT event_id, kind, attempt, at, outcome, http_status, detail FROM alert_deliveries \
             WHERE tenant_id = $1 ORDER BY id DESC LIMIT $2",
        )
        .bind(tenant.as_str())
        .bind(i64::from(limit))
        .fetch_all(&mut *conn)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let outcome: String = r.try_get("outcome")?;
            let attempt: i64 = r.try_get("attempt")?;
            let status: i64 = r.try_get("http_status")?;
            out.push(Delivery {
                event_id: r.try_get("event_id")?,
                kind: r.try_get("kind")?,
                attempt: u32::try_from(attempt).unwrap_or(u32::MAX),
                at: r.try_get("at")?,
                outcome: match outcome.as_str() {
                    "delivered" => Outcome::Delivered,
                    "failed" => Outcome::Failed,
                    _ => Outcome::Retry(0),
                },
                http_status: u16::try_from(status).unwrap_or(0),
                detail: r.try_get("detail")?,
            });
        }
        let pending: i64 = sqlx::query(
            "SELECT COUNT(*) AS n FROM alert_outbox WHERE tenant_id = $1 AND state = 'pending'",
        )
        .bind(tenant.as_str())
        .fetch_one(&mut *conn)
        .await?
        .try_get("n")?;
        Ok((out, u32::try_from(pending).unwrap_or(u32::MAX)))
    }

    /// Claims up to `limit` due events: each becomes invisible to other
    /// workers until `lease_until` (a crash mid-delivery only delays it).
    pub(super) async fn claim_due_tx(
        &self,
        now: Micros,
        lease_until: Micros,
        limit: u32,
    ) -> Result<Vec<Claimed>, sqlx::Error> {
        let scope = Scope::AllTenants(CrossTenant::AlertDelivery);
        // Most rounds find nothing: look before taking the write lock.
        let due = sqlx::query(
            "SELECT id FROM alert_outbox WHERE state = 'pending' AND next_attempt <= $1 LIMIT 1",
        )
        .bind(now)
        .fetch_optional(&mut *self.begin_read(scope).await?)
        .await?;
        if due.is_none() {
            return Ok(Vec::new());
        }
        let mut tx = self.begin_write(scope).await?;
        // Round-robin across tenants, at most PER_TENANT each: one tenant's
        // backlog (a test-send flood, a slow receiver's retries) never fills
        // a round, so another tenant's event goes out in the next one.
        let rows = sqlx::query(
            "SELECT id, tenant_id, event_id, kind, body, attempts, created FROM ( \
               SELECT id, tenant_id, event_id, kind, body, attempts, created, next_attempt, \
                 ROW_NUMBER() OVER (PARTITION BY tenant_id ORDER BY next_attempt, id) AS turn \
               FROM alert_outbox WHERE state = 'pending' AND next_attempt <= $1 \
             ) due WHERE turn <= $3 ORDER BY turn, next_attempt, id LIMIT $2",
        )
        .bind(now)
        .bind(i64::from(limit))
        .bind(PER_TENANT)
        .fetch_all(&mut *tx)
        .await?;
        let mut claimed = Vec::with_capacity(rows.len());
        for r in &rows {
            let id: i64 = r.try_get("id")?;
            sqlx::query("UPDATE alert_outbox SET next_attempt = $1 WHERE id = $2")
                .bind(lease_until)
                .bind(id)
                .execute(&mut *tx)
                .await?;
            let tenant_id: String = r.try_get("tenant_id")?;
            let target = settings_of(&mut tx, &tenant_id)
                .await?
                .map(|s| (s.webhook_url, s.secret));
            let attempts: i64 = r.try_get("attempts")?;
            claimed.push(Claimed {
                id,
                tenant_id,
                event_id: r.try_get("event_id")?,
                kind: r.try_get("kind")?,
                body: r.try_get("body")?,
                attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
                created: r.try_get("created")?,
                target,
            });
        }
        // No change signal: a claim changes nothing anyone watches.
        tx.commit().await?;
        Ok(claimed)
    }

    /// Records an attempt in the log and moves the event on.
    pub(super) async fn finish_attempt_tx(
        &self,
        c: &Claimed,
        d: &Delivery,
    ) -> Result<(), sqlx::Error> {
        let tenant = TenantId::parse(&c.tenant_id).map_err(|e| {
            sqlx::Error::Protocol(format!("claimed alert of tenant '{}': {e}", c.tenant_id))
        })?;
        let mut tx = self.begin_write(Scope::Tenant(&tenant)).await?;
        let (state, next) = match d.outcome {
            Outcome::Delivered => ("delivered", d.at),
            Outcome::Retry(at) => ("pending", at),
            Outcome::Failed => ("failed", d.at),
        };
        sqlx::query(
            "UPDATE alert_outbox SET state = $1, next_attempt = $2, attempts = $3 WHERE id = $4",
        )
        .bind(state)
        .bind(next)
        .bind(i64::from(d.attempt))
        .bind(c.id)
        .execute(&mut *tx)
        .await?;
        let outcome = match d.outcome {
            Outcome::Delivered => "delivered",
            Outcome::Retry(_) => "retry",
            Outcome::Failed => "failed",
        };
        sqlx::query(
            "INSERT INTO alert_deliveries (tenant_id, event_id, kind, attempt, at, outcome, \
             http_status, detail) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&c.tenant_id)
        .bind(&c.event_id)
        .bind(&c.kind)
        .bind(i64::from(d.attempt))
        .bind(d.at)
        .bind(outcome)
        .bind(i64::from(d.http_status))
        .bind(&d.detail)
        .execute(&mut *tx)
        .await?;
        tx.commit().await
    }

    /// Tenants whose digest is due at `now`.
    pub(super) async fn due_digests_query(
        &self,
        now: Micros,
    ) -> Result<Vec<AlertSettings>, sqlx::Error> {
        let sql = format!(
            "SELECT {SETTINGS_COLUMNS} FROM alert_settings WHERE next_digest IS NOT NULL AND next_digest <= $1"
        );
        let mut tx = self
            .begin_read(Scope::AllTenants(CrossTenant::DigestSchedule))
            .await?;
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(now)
            .fetch_all(&mut *tx)
            .await?;
        rows.iter().map(settings_from_row).collect()
    }

    /// Moves the tenant's digest from `due` to `next` and queues `event`,
    /// unless another worker did first (false then).
    pub(super) async fn commit_digest_tx(
        &self,
        tenant: &TenantId,
        due: Micros,
        next: Option<Micros>,
        event: Option<&Event>,
        now: Micros,
    ) -> Result<bool, sqlx::Error> {
        let mut tx = self.begin_write(Scope::Tenant(tenant)).await?;
        let moved = sqlx::query(
            "UPDATE alert_settings SET next_digest = $1 WHERE tenant_id = $2 AND next_digest = $3",
        )
        .bind(next)
        .bind(tenant.as_str())
        .bind(due)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if moved == 0 {
            return Ok(false);
        }
        if let Some(e) = event {
            enqueue(&mut tx, tenant, e, now).await?;
        }
        self.commit(tx).await?;
        Ok(true)
    }
}
