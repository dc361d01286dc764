//! The events a webhook receives. Every body is one JSON object:
//! `{"idempotency_key", "type", "tenant_id", "occurred_at", "data"}`; the
//! key is also the `Idempotency-Key` header and is the same on every attempt.

use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::domain::Micros;
use crate::equipment::{Holding, Profile, Report, ReportUser};

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// A user holding equipment became Disabled.
    UserDisabledWithEquipment,
    /// Equipment was checked out to a Disabled user.
    CheckedOutToDisabled,
    /// A Disabled user returned their last asset.
    AllReturned,
    /// The scheduled digest of the report.
    Digest,
    /// `SendTestAlert`.
    Test,
}

impl EventKind {
    /// The `type` field and the stored code.
    pub fn code(self) -> &'static str {
        match self {
            Self::UserDisabledWithEquipment => "user.disabled_with_equipment",
            Self::CheckedOutToDisabled => "equipment.checked_out_to_disabled",
            Self::AllReturned => "equipment.all_returned",
            Self::Digest => "report.digest",
            Self::Test => "test",
        }
    }
}

/// A queued event: its key, kind and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub event_id: String,
    pub kind: EventKind,
    pub body: String,
}

impl Event {
    /// An event with a fresh random key.
    pub fn new(tenant: &str, kind: EventKind, at: Micros, data: Value) -> Self {
        let id = format!("evt_{}", uuid::Uuid::new_v4().simple());
        Self::with_id(id, tenant, kind, at, data)
    }

    /// An event with a chosen key (digests: one key per scheduled run).
    pub fn with_id(
        event_id: String,
        tenant: &str,
        kind: EventKind,
        at: Micros,
        data: Value,
    ) -> Self {
        let body = json!({
            "idempotency_key": event_id,
            "type": kind.code(),
            "tenant_id": tenant,
            "occurred_at": rfc3339(at),
            "data": data,
        })
        .to_string();
        Self {
            event_id,
            kind,
            body,
        }
    }
}

/// RFC 3339 in UTC, to the microsecond.
pub fn rfc3339(at: Micros) -> String {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(at) * 1000)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_default()
}

/// The user part of a body.
pub fn user(user_id: &str, profile: Option<&Profile>) -> Value {
    let p = profile.cloned().unwrap_or_default();
    json!({
        "id": user_id,
        "user_name": p.user_name,
        "display_name": p.display_name,
        "email": p.email,
    })
}

/// The asset part of a body.
pub fn asset(h: &Holding) -> Value {
    json!({
        "asset_id": h.asset_id,
        "asset_name": h.asset_name,
        "checked_out_at": rfc3339(h.checked_out),
    })
}

fn report_user(u: &ReportUser, now: Micros) -> Value {
    let assets: Vec<Value> = u
        .assets
        .iter()
        .map(|a| {
            let mut v = asset(a);
            v["held_since_disabled_seconds"] = json!(u.held_since_disabled(a, now) / 1_000_000);
            v
        })
        .collect();
    json!({
        "user": user(&u.user_id, Some(&u.profile)),
        "role": u.role,
        "locked": u.locked,
        "disabled_at": rfc3339(u.disabled_at),
        "days_since_disabled": u.days_since_disabled(now),
        "assets": assets,
    })
}

/// The report as JSON (the digest's `data`).
pub fn report(r: &Report) -> Value {
    let section = |users: &[ReportUser]| -> Vec<Value> {
        users
            .iter()
            .map(|u| report_user(u, r.generated_at))
            .collect()
    };
    json!({
        "generated_at": rfc3339(r.generated_at),
        "disabled_users": section(&r.disabled),
        "locked_deactivated_users": section(&r.locked_deactivated),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn bodies_carry_their_key_and_type() {
        let e = Event::new("acme", EventKind::Test, 0, json!({"message": "hi"}));
        let v: Value = serde_json::from_str(&e.body).unwrap();
        assert_eq!(v["idempotency_key"], e.event_id.as_str());
        assert_eq!(v["type"], "test");
        assert_eq!(v["tenant_id"], "acme");
        assert_eq!(v["occurred_at"], "1970-01-01T00:00:00Z");
        assert_ne!(
            e.event_id,
            Event::new("acme", EventKind::Test, 0, json!({})).event_id
        );
    }
}
