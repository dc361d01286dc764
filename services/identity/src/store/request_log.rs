//! The provisioning log: batched inserts, newest-first listing with filters,
//! and the aggregate behind tenant health (pruning is `retention.rs`). Every statement runs in
//! a transaction scoped to one tenant.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::scope::Scope;
use super::sql::SqlStore;
use super::{HealthCounts, RequestLogQuery, RequestLogRecord};
use crate::domain::{Micros, TenantId};
use crate::error::IdentityError;

const COLUMNS: &str = "id, tenant_id, at, request_id, method, path, status, scim_type, \
     latency_ms, resource_type, resource_id, resource_name, summary, client, token_id, \
     test_connection, idp_profile";

/// Columns an insert binds per row.
const INSERT_COLUMNS: usize = 17;

/// The answers Entra ID does not count towards quarantine: 404 on a GET of
/// one resource (a lookup of something gone) and 409 (a per-object conflict
/// it logs and retries). The path test keeps a 404 on a list, which Entra
/// does count, in.
const QUARANTINE_FAILURE: &str = "status >= 400 AND status <> 409 \
     AND NOT (status = 404 AND method = 'GET' AND path LIKE '/%/%')";

fn record_from_row(row: &AnyRow) -> Result<RequestLogRecord, sqlx::Error> {
    let status: i64 = row.try_get("status")?;
    let latency: i64 = row.try_get("latency_ms")?;
    let probe: i64 = row.try_get("test_connection")?;
    Ok(RequestLogRecord {
        id: row.try_get("id")?,
        tenant_id: row.try_get("tenant_id")?,
        at: row.try_get("at")?,
        request_id: row.try_get("request_id")?,
        method: row.try_get("method")?,
        path: row.try_get("path")?,
        status: u16::try_from(status).unwrap_or(0),
        scim_type: row.try_get("scim_type")?,
        latency_ms: u32::try_from(latency).unwrap_or(u32::MAX),
        resource_type: row.try_get("resource_type")?,
        resource_id: row.try_get("resource_id")?,
        resource_name: row.try_get("resource_name")?,
        summary: row.try_get("summary")?,
        client: row.try_get("client")?,
        token_id: row.try_get("token_id")?,
        test_connection: probe != 0,
        idp_profile: row.try_get("idp_profile")?,
    })
}

/// A value bound into a dynamically assembled statement.
enum Bind {
    Text(String),
    Int(i64),
}

/// `(expression, binds)` of the WHERE clause of a listing, placeholders
/// numbered from `$2` (`$1` is the tenant).
fn list_conditions(query: &RequestLogQuery) -> (String, Vec<Bind>) {
    let mut sql = String::from("tenant_id = $1");
    let mut binds = Vec::new();
    if let Some(resource) = &query.resource {
        let id = next(&mut binds, Bind::Text(resource.clone()));
        let name = next(&mut binds, Bind::Text(resource.to_lowercase()));
        sql.push_str(&format!(
            " AND (resource_id = {id} OR resource_name_ci = {name})"
        ));
    }
    if !query.statuses.is_empty() {
        let ranges: Vec<String> = query
            .statuses
            .iter()
            .map(|(lo, hi)| {
                let lo = next(&mut binds, Bind::Int(i64::from(*lo)));
                let hi = next(&mut binds, Bind::Int(i64::from(*hi)));
                format!("status BETWEEN {lo} AND {hi}")
            })
            .collect();
        sql.push_str(&format!(" AND ({})", ranges.join(" OR ")));
    }
    if let Some(since) = query.since {
        let p = next(&mut binds, Bind::Int(since));
        sql.push_str(&format!(" AND at >= {p}"));
    }
    if let Some(until) = query.until {
        let p = next(&mut binds, Bind::Int(until));
        sql.push_str(&format!(" AND at < {p}"));
    }
    if let Some(before) = query.before_id {
        let p = next(&mut binds, Bind::Int(before));
        sql.push_str(&format!(" AND id < {p}"));
    }
    (sql, binds)
}

/// Adds a bind and returns its placeholder (`$1` is the tenant).
fn next(binds: &mut Vec<Bind>, value: Bind) -> String {
    binds.push(value);
    format!("${}", binds.len() + 1)
}

fn count(row: &AnyRow, column: &str) -> Result<u64, sqlx::Error> {
    let n: i64 = row.try_get(column)?;
    Ok(u64::try_from(n).unwrap_or(0))
}

impl SqlStore {
    /// One INSERT for the whole batch of one tenant.
    pub(super) async fn record_requests_query(
        &self,
        tenant: &TenantId,
        entries: &[RequestLogRecord],
    ) -> Result<u64, IdentityError> {
        if entries.is_empty() {
            return Ok(0);
        }
        let mut sql = String::from(
            "INSERT INTO request_log (tenant_id, at, request_id, method, path, status, \
             scim_type, latency_ms, resource_type, resource_id, resource_name, \
             resource_name_ci, summary, client, token_id, test_connection, idp_profile) VALUES ",
        );
        for i in 0..entries.len() {
            if i > 0 {
                sql.push_str(", ");
            }
            let base = i * INSERT_COLUMNS;
            let row: Vec<String> = (1..=INSERT_COLUMNS)
                .map(|c| format!("${}", base + c))
                .collect();
            sql.push_str(&format!("({})", row.join(", ")));
        }
        let mut insert = sqlx::query(sqlx::AssertSqlSafe(sql));
        for e in entries {
            insert = insert
                .bind(tenant.as_str())
                .bind(e.at)
                .bind(&e.request_id)
                .bind(&e.method)
                .bind(&e.path)
                .bind(i64::from(e.status))
                .bind(&e.scim_type)
                .bind(i64::from(e.latency_ms))
                .bind(&e.resource_type)
                .bind(&e.resource_id)
                .bind(&e.resource_name)
                .bind(e.resource_name.to_lowercase())
                .bind(&e.summary)
                .bind(&e.client)
                .bind(&e.token_id)
                .bind(i64::from(e.test_connection))
                .bind(&e.idp_profile);
        }
        let mut tx = self.write_tx(Scope::Tenant(tenant)).await?;
        let done = insert.execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(done.rows_affected())
    }

    pub(super) async fn list_request_log_query(
        &self,
        tenant: &TenantId,
        query: &RequestLogQuery,
    ) -> Result<Vec<RequestLogRecord>, IdentityError> {
        let (conditions, binds) = list_conditions(query);
        let sql = format!(
            "SELECT {COLUMNS} FROM request_log WHERE {conditions} ORDER BY id DESC LIMIT {}",
            query.limit
        );
        let mut select = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(tenant.as_str());
        for b in binds {
            select = match b {
                Bind::Text(s) => select.bind(s),
                Bind::Int(n) => select.bind(n),
            };
        }
        let mut tx = self.read_tx(Scope::Tenant(tenant)).await?;
        let rows = select.fetch_all(&mut *tx).await?;
        tx.commit().await?;
        Ok(rows.iter().map(record_from_row).collect::<Result<_, _>>()?)
    }

    pub(super) async fn request_health_query(
        &self,
        tenant: &TenantId,
        since: Micros,
    ) -> Result<HealthCounts, IdentityError> {
        // COUNT, not SUM: SUM of BIGINT is NUMERIC on Postgres.
        let sql = format!(
            "SELECT COUNT(*) AS requests, \
               COUNT(CASE WHEN status >= 400 THEN 1 END) AS errors, \
               COUNT(CASE WHEN status >= 500 THEN 1 END) AS server_errors, \
               COUNT(CASE WHEN status = 429 THEN 1 END) AS throttled, \
               COUNT(CASE WHEN {QUARANTINE_FAILURE} THEN 1 END) AS quarantine_failures, \
               MAX(at) AS last_request, \
               MAX(CASE WHEN status < 400 THEN at END) AS last_success, \
               MAX(CASE WHEN status >= 400 THEN at END) AS last_error, \
               MAX(CASE WHEN test_connection <> 0 THEN at END) AS last_test_connection \
             FROM request_log WHERE tenant_id = $1 AND at >= $2"
        );
        let mut tx = self.read_tx(Scope::Tenant(tenant)).await?;
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(tenant.as_str())
            .bind(since)
            .fetch_one(&mut *tx)
            .await?;
        let top = sqlx::query(
            "SELECT status, scim_type, COUNT(*) AS n FROM request_log \
             WHERE tenant_id = $1 AND at >= $2 AND status >= 400 \
             GROUP BY status, scim_type ORDER BY n DESC, status LIMIT 3",
        )
        .bind(tenant.as_str())
        .bind(since)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        let top_errors = top
            .iter()
            .map(|r| {
                let status: i64 = r.try_get("status")?;
                Ok((
                    u16::try_from(status).unwrap_or(0),
                    r.try_get::<String, _>("scim_type")?,
                    count(r, "n")?,
                ))
            })
            .collect::<Result<_, sqlx::Error>>()?;
        Ok(HealthCounts {
            requests: count(&row, "requests")?,
            errors: count(&row, "errors")?,
            server_errors: count(&row, "server_errors")?,
            throttled: count(&row, "throttled")?,
            quarantine_failures: count(&row, "quarantine_failures")?,
            last_request: row.try_get("last_request")?,
            last_success: row.try_get("last_success")?,
            last_error: row.try_get("last_error")?,
            last_test_connection: row.try_get("last_test_connection")?,
            top_errors,
        })
    }
}
