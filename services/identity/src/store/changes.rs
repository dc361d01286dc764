//! The transactional outbox: each write appends its change records in the
//! same transaction, and `Watch` reads them back in each tenant's commit
//! order.
//!
//! Positions are per tenant (`changes` is keyed by `(tenant_id, seq)`):
//! a writer advances its tenant's row in `change_heads` by the number of
//! records it appends, after its last other row write, and holds that row
//! to commit (`storekit::stream` explains why this gives commit order
//! without a lock shared by all tenants). On Postgres the head and the
//! records are written by one statement.
//!
//! No record grows with the size of a group: membership lists are split
//! into records of at most [`MEMBER_CHUNK`] ids, and a group's deletion is
//! its members' removal in such records followed by a `group.deleted`
//! record without ids.

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::filter_sql::Dialect;
use crate::domain::{Micros, TenantId};

/// The heads table of the change stream.
pub(super) const HEADS: &str = "change_heads";

/// The most user ids one change record carries.
pub const MEMBER_CHUNK: usize = 1000;

/// Records appended per statement (each statement advances the head).
const RECORDS_PER_STATEMENT: usize = 64;

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

impl Change {
    /// This change as records of at most [`MEMBER_CHUNK`] ids each.
    fn split(&self) -> Vec<Change> {
        let chunks = |ids: &[String]| -> Vec<Vec<String>> {
            ids.chunks(MEMBER_CHUNK).map(<[String]>::to_vec).collect()
        };
        match self {
            Self::GroupDeleted { group_id, user_ids } => {
                let mut out: Vec<Change> = chunks(user_ids)
                    .into_iter()
                    .map(|user_ids| Self::MembersRemoved {
                        group_id: group_id.clone(),
                        user_ids,
                    })
                    .collect();
                out.push(Self::GroupDeleted {
                    group_id: group_id.clone(),
                    user_ids: Vec::new(),
                });
                out
            }
            Self::MembersAdded { group_id, user_ids } => chunks(user_ids)
                .into_iter()
                .map(|user_ids| Self::MembersAdded {
                    group_id: group_id.clone(),
                    user_ids,
                })
                .collect(),
            Self::MembersRemoved { group_id, user_ids } => chunks(user_ids)
                .into_iter()
                .map(|user_ids| Self::MembersRemoved {
                    group_id: group_id.clone(),
                    user_ids,
                })
                .collect(),
            other => vec![other.clone()],
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
    record_all(conn, dialect, tenant, std::slice::from_ref(change), at).await
}

/// Appends `changes` in order inside the caller's transaction; must follow
/// the transaction's last other row write (see the module documentation).
/// Counts the records in `identity_changes_recorded_total` once written:
/// the outbox's growth, which policy's progress is compared with (a commit
/// failing after this point, which is rare, is counted too).
pub(super) async fn record_all(
    conn: &mut AnyConnection,
    dialect: Dialect,
    tenant: &TenantId,
    changes: &[Change],
    at: Micros,
) -> Result<(), sqlx::Error> {
    let records: Vec<Change> = changes.iter().flat_map(Change::split).collect();
    let traceparent = telemetry::otel::current_traceparent();
    for batch in records.chunks(RECORDS_PER_STATEMENT) {
        append(conn, dialect, tenant, batch, at, traceparent.as_deref()).await?;
    }
    metrics::counter!("identity_changes_recorded_total").increment(records.len() as u64);
    Ok(())
}

/// One statement's worth of records (two statements on SQLite).
async fn append(
    conn: &mut AnyConnection,
    dialect: Dialect,
    tenant: &TenantId,
    batch: &[Change],
    at: Micros,
    traceparent: Option<&str>,
) -> Result<(), sqlx::Error> {
    let n = i64::try_from(batch.len()).unwrap_or(i64::MAX);
    const COLUMNS: &str = "INSERT INTO changes (tenant_id, seq, kind, resource_id, version, at, \
                           payload, trace_context) ";
    // Parameters: $1 tenant, $2 the count (Postgres) or the first position
    // (SQLite), then six per record.
    let row = |i: usize| {
        let p = 3 + i * 6;
        let params = (p..p + 6)
            .map(|k| format!("${k}"))
            .collect::<Vec<_>>()
            .join(", ");
        (i, params)
    };
    let sql = match dialect {
        Dialect::Postgres => {
            let selects = (0..batch.len())
                .map(row)
                .map(|(i, params)| {
                    format!("SELECT $1, head.seq - $2 + {}, {params} FROM head", i + 1)
                })
                .collect::<Vec<_>>()
                .join(" UNION ALL ");
            format!(
                "WITH head AS ({}) {COLUMNS}{selects}",
                storekit::stream::advance_sql(HEADS)
            )
        }
        Dialect::Sqlite => {
            let values = (0..batch.len())
                .map(row)
                .map(|(i, params)| format!("($1, $2 + {i}, {params})"))
                .collect::<Vec<_>>()
                .join(", ");
            format!("{COLUMNS}VALUES {values}")
        }
    };
    let second = match dialect {
        Dialect::Postgres => n,
        Dialect::Sqlite => storekit::stream::reserve(conn, HEADS, tenant.as_str(), n).await?,
    };
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(tenant.as_str())
        .bind(second);
    for change in batch {
        let (kind, resource_id, version, payload) = change.parts();
        query = query
            .bind(kind)
            .bind(resource_id)
            .bind(version)
            .bind(at)
            .bind(payload.to_string())
            .bind(traceparent);
    }
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
