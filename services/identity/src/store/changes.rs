//! The transactional outbox: each write appends its change records in the
//! same transaction, and `Watch` reads them back in commit order.
//!
//! On Postgres a sequence value is taken at insert time but becomes visible
//! at commit, so two writers could commit out of sequence order and a reader
//! could pass over the later-committing one. Every writer therefore takes one
//! transaction-scoped advisory lock before its first change record: commits
//! that carry change records are serialised, and sequence order is commit
//! order. The lock is taken after a transaction's last row write, so its
//! holder never waits for a row lock and no deadlock can form with writers
//! that hold row locks. SQLite has a single writer and needs no lock.

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::filter_sql::Dialect;
use crate::domain::{Micros, TenantId};

/// The advisory lock key of the outbox ("SCIM" in ASCII).
const OUTBOX_LOCK: i64 = 0x5343_494d;

/// A change as it is recorded.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    UserChanged {
        kind: &'static str,
        user_id: String,
        active: bool,
        version: i64,
    },
    UserDeleted {
        user_id: String,
        version: i64,
    },
    GroupChanged {
        kind: &'static str,
        group_id: String,
        display_name: String,
        version: i64,
    },
    GroupDeleted {
        group_id: String,
        user_ids: Vec<String>,
    },
    MembersAdded {
        group_id: String,
        user_ids: Vec<String>,
    },
    MembersRemoved {
        group_id: String,
        user_ids: Vec<String>,
    },
}

/// A change as it is read back.
#[derive(Debug, Clone, PartialEq)]
pub struct ChangeRecord {
    pub seq: i64,
    pub tenant_id: String,
    pub kind: String,
    pub resource_id: String,
    pub version: i64,
    pub at: Micros,
    /// JSON: `{"active": bool}` for users, `{"displayName": …}` for groups,
    /// `{"userIds": […]}` for memberships and group deletions.
    pub payload: String,
    /// The W3C `traceparent` of the writing request, when it was traced.
    pub trace_context: Option<String>,
}

impl Change {
    fn parts(&self) -> (&'static str, &str, i64, serde_json::Value) {
        use serde_json::json;
        match self {
            Self::UserChanged {
                kind,
                user_id,
                active,
                version,
            } => (kind, user_id, *version, json!({ "active": active })),
            Self::UserDeleted { user_id, version } => {
                ("user.deleted", user_id, *version, json!({}))
            }
            Self::GroupChanged {
                kind,
                group_id,
                display_name,
                version,
            } => (
                kind,
                group_id,
                *version,
                json!({ "displayName": display_name }),
            ),
            Self::GroupDeleted { group_id, user_ids } => {
                ("group.deleted", group_id, 0, json!({ "userIds": user_ids }))
            }
            Self::MembersAdded { group_id, user_ids } => {
                ("members.added", group_id, 0, json!({ "userIds": user_ids }))
            }
            Self::MembersRemoved { group_id, user_ids } => (
                "members.removed",
                group_id,
                0,
                json!({ "userIds": user_ids }),
            ),
        }
    }
}

/// Appends `change` inside the caller's transaction, with the trace context
/// of the current span (the writing request's).
pub(super) async fn record(
    conn: &mut AnyConnection,
    dialect: Dialect,
    tenant: &TenantId,
    change: &Change,
    at: Micros,
) -> Result<(), sqlx::Error> {
    let (kind, resource_id, version, payload) = change.parts();
    // On Postgres the outbox lock is taken by the same statement, before the
    // row (and its sequence number) is made: one round trip, not two.
    let sql = match dialect {
        Dialect::Postgres => {
            "INSERT INTO changes (tenant_id, kind, resource_id, version, at, payload, trace_context) \
             SELECT $1, $2, $3, $4, $5, $6, $7 FROM (SELECT pg_advisory_xact_lock($8)) AS outbox_lock"
        }
        Dialect::Sqlite => {
            "INSERT INTO changes (tenant_id, kind, resource_id, version, at, payload, trace_context) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)"
        }
    };
    let query = sqlx::query(sql)
        .bind(tenant.as_str())
        .bind(kind)
        .bind(resource_id)
        .bind(version)
        .bind(at)
        .bind(payload.to_string())
        .bind(telemetry::otel::current_traceparent());
    let query = match dialect {
        Dialect::Postgres => query.bind(OUTBOX_LOCK),
        Dialect::Sqlite => query,
    };
    query.execute(conn).await?;
    Ok(())
}

pub(super) fn from_row(row: &AnyRow) -> Result<ChangeRecord, sqlx::Error> {
    Ok(ChangeRecord {
        seq: row.try_get("seq")?,
        tenant_id: row.try_get("tenant_id")?,
        kind: row.try_get("kind")?,
        resource_id: row.try_get("resource_id")?,
        version: row.try_get("version")?,
        at: row.try_get("at")?,
        payload: row.try_get("payload")?,
        trace_context: row.try_get("trace_context")?,
    })
}
