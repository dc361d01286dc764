//! What a role change or a holding change writes besides itself, in the
//! same transaction: when identity first reported a user deactivated, and
//! the alert events (the outbox) of a tenant whose alerts are configured.

use sqlx::{AnyConnection, Row};

use super::equipment::{holding_from_row, load_profile};
use crate::alerts::events::{self, Event, EventKind};
use crate::domain::{DISABLED, EffectiveRecord, Micros, TenantId};

/// Queues `event` when the tenant has alerts configured (a retried write of
/// the same key is a no-op).
pub(super) async fn enqueue(
    conn: &mut AnyConnection,
    tenant: &TenantId,
    event: &Event,
    now: Micros,
) -> Result<bool, sqlx::Error> {
    let configured = sqlx::query("SELECT 1 AS one FROM alert_settings WHERE tenant_id = $1")
        .bind(tenant.as_str())
        .fetch_optional(&mut *conn)
        .await?
        .is_some();
    if !configured {
        return Ok(false);
    }
    sqlx::query(
        "INSERT INTO alert_outbox (tenant_id, event_id, kind, body, created, attempts, \
         next_attempt, state) VALUES ($1, $2, $3, $4, $5, 0, $6, 'pending') \
         ON CONFLICT (event_id) DO NOTHING",
    )
    .bind(tenant.as_str())
    .bind(&event.event_id)
    .bind(event.kind.code())
    .bind(&event.body)
    .bind(now)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(true)
}

/// Called by `recompute` for every user whose stored role row changed.
pub(super) async fn after_recompute(
    conn: &mut AnyConnection,
    tenant: &TenantId,
    record: &EffectiveRecord,
    old: Option<&EffectiveRecord>,
    now: Micros,
) -> Result<(), sqlx::Error> {
    let was_upstream_disabled = old.is_some_and(|o| o.upstream_disabled);
    if record.upstream_disabled && !was_upstream_disabled {
        sqlx::query(
            "INSERT INTO upstream_disabled (tenant_id, user_id, since) VALUES ($1, $2, $3) \
             ON CONFLICT (tenant_id, user_id) DO NOTHING",
        )
        .bind(tenant.as_str())
        .bind(&record.user_id)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    } else if !record.upstream_disabled && was_upstream_disabled {
        sqlx::query("DELETE FROM upstream_disabled WHERE tenant_id = $1 AND user_id = $2")
            .bind(tenant.as_str())
            .bind(&record.user_id)
            .execute(&mut *conn)
            .await?;
    }
    let was_disabled = old.is_some_and(|o| o.role == DISABLED);
    if record.role == DISABLED && !was_disabled {
        let held = holdings_of(conn, tenant, &record.user_id).await?;
        if !held.is_empty() {
            let profile = load_profile(conn, tenant, &record.user_id).await?;
            let data = serde_json::json!({
                "user": events::user(&record.user_id, profile.as_ref()),
                "disabled_at": events::rfc3339(record.since),
                "assets": held.iter().map(events::asset).collect::<Vec<_>>(),
            });
            let event = Event::new(
                tenant.as_str(),
                EventKind::UserDisabledWithEquipment,
                now,
                data,
            );
            enqueue(conn, tenant, &event, now).await?;
        }
    }
    Ok(())
}

/// The user's holdings, by asset id.
pub(super) async fn holdings_of(
    conn: &mut AnyConnection,
    tenant: &TenantId,
    user_id: &str,
) -> Result<Vec<crate::equipment::Holding>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT tenant_id, user_id, asset_id, asset_name, checked_out FROM holdings \
         WHERE tenant_id = $1 AND user_id = $2 ORDER BY asset_id",
    )
    .bind(tenant.as_str())
    .bind(user_id)
    .fetch_all(conn)
    .await?;
    rows.iter().map(holding_from_row).collect()
}

/// Whether the user has no holdings left.
pub(super) async fn holds_nothing(
    conn: &mut AnyConnection,
    tenant: &TenantId,
    user_id: &str,
) -> Result<bool, sqlx::Error> {
    let row =
        sqlx::query("SELECT COUNT(*) AS n FROM holdings WHERE tenant_id = $1 AND user_id = $2")
            .bind(tenant.as_str())
            .bind(user_id)
            .fetch_one(conn)
            .await?;
    Ok(row.try_get::<i64, _>("n")? == 0)
}
