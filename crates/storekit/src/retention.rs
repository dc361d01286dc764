//! Retention of the tables that grow with use: identity's change stream
//! and provisioning log, policy's role history and alert delivery log.
//!
//! Every such table is pruned **oldest first, per tenant, in bounded
//! batches**: a batch reads at most [`BATCH`] of a tenant's oldest rows by
//! their ordered key (a stream's `seq`, a log's `id`), finds how many of
//! them, from the oldest on, are older than the rule's age or beyond its
//! per-tenant cap, and deletes those with one `DELETE … WHERE key <= bound`
//! in a transaction of their own. So:
//!
//! - what is kept of a tenant is always a contiguous run of its newest
//!   rows; for a stream that is `[first retained, head]`, and a reader
//!   whose cursor is below it finds a gap after the cursor, which is how
//!   identity's `ReadChanges` and policy's `WatchRoleChanges` tell a pruned
//!   cursor from a current one;
//! - a stream's newest record (its head) is never pruned, so the retained
//!   range of a tenant with any record is never empty;
//! - no statement deletes more than [`BATCH`] rows, and none touches a
//!   heads row: writers append at the head while a batch deletes at the
//!   tail, and wait for nothing but, on SQLite, the single writer for one
//!   batch's time;
//! - deletes are idempotent: several replicas pruning at once delete each
//!   row once between them and are otherwise no-ops.

use std::future::Future;
use std::time::Duration;

use sqlx::{AnyConnection, Row};

/// The most rows one pruning statement reads and deletes.
pub const BATCH: i64 = 1000;

/// How long a table keeps rows, and how many per tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    /// Rows older than this are pruned.
    pub max_age: Duration,
    /// At most this many rows are kept per tenant (the newest).
    pub max_per_tenant: u64,
}

impl Rule {
    /// A rule of `days` days and `max_per_tenant` rows.
    pub fn days(days: u32, max_per_tenant: u64) -> Self {
        Self {
            max_age: Duration::from_secs(u64::from(days) * 86_400),
            max_per_tenant,
        }
    }

    /// The time (µs since the Unix epoch) before which rows are pruned,
    /// seen at `now` (µs).
    pub fn cutoff(&self, now: i64) -> i64 {
        let age = i64::try_from(self.max_age.as_micros()).unwrap_or(i64::MAX);
        now.saturating_sub(age)
    }
}

/// A pruned table: rows of `(tenant_id, key, at)`, `at` in µs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Table {
    /// The table (a constant of the service, never input).
    pub name: &'static str,
    /// Its per-tenant ordered key.
    pub key: &'static str,
    /// The heads table when it is a stream: its head row is never pruned,
    /// and the cap counts back from the head (positions are dense).
    pub heads: Option<&'static str>,
}

/// The newest key a batch deletes through, from the tenant's oldest rows
/// `(key, at)` in key order: the longest run from the oldest whose rows are
/// older than `cutoff` or at most `cap`, stopping before `protect` (a
/// stream's head). None when the oldest row is to be kept.
pub fn prefix_bound(
    rows: &[(i64, i64)],
    cutoff: i64,
    cap: Option<i64>,
    protect: Option<i64>,
) -> Option<i64> {
    let mut bound = None;
    for &(key, at) in rows {
        if protect.is_some_and(|p| key >= p) {
            break;
        }
        if at < cutoff || cap.is_some_and(|c| key <= c) {
            bound = Some(key);
        } else {
            break;
        }
    }
    bound
}

/// The newest key beyond `keep` rows of the tenant (`$1`), inside the
/// caller's transaction; None when the tenant has no more than `keep`.
pub async fn cap_bound(
    conn: &mut AnyConnection,
    table: &Table,
    tenant: &str,
    keep: u64,
) -> Result<Option<i64>, sqlx::Error> {
    let keep = i64::try_from(keep).unwrap_or(i64::MAX);
    if let Some(heads) = table.heads {
        let head = crate::stream::head(conn, heads, tenant).await?;
        return Ok((head > keep).then(|| head - keep));
    }
    let sql = format!(
        "SELECT {key} AS k FROM {name} WHERE tenant_id = $1 ORDER BY {key} DESC LIMIT 1 OFFSET $2",
        key = table.key,
        name = table.name
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(tenant)
        .bind(keep)
        .fetch_optional(conn)
        .await?;
    row.map(|r| r.try_get("k")).transpose()
}

/// Deletes one batch of the tenant's oldest rows that are older than
/// `cutoff` or at most `cap` (see [`prefix_bound`]), inside the caller's
/// transaction; returns how many went.
pub async fn prune_batch(
    conn: &mut AnyConnection,
    table: &Table,
    tenant: &str,
    cutoff: i64,
    cap: Option<i64>,
) -> Result<u64, sqlx::Error> {
    let protect = match table.heads {
        Some(heads) => Some(crate::stream::head(conn, heads, tenant).await?),
        None => None,
    };
    let sql = format!(
        "SELECT {key} AS k, at FROM {name} WHERE tenant_id = $1 ORDER BY {key} LIMIT {BATCH}",
        key = table.key,
        name = table.name
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(tenant)
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|r| Ok((r.try_get("k")?, r.try_get("at")?)))
        .collect::<Result<Vec<(i64, i64)>, sqlx::Error>>()?;
    let Some(bound) = prefix_bound(&rows, cutoff, cap, protect) else {
        return Ok(0);
    };
    let sql = format!(
        "DELETE FROM {name} WHERE tenant_id = $1 AND {key} <= $2",
        key = table.key,
        name = table.name
    );
    let done = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(tenant)
        .bind(bound)
        .execute(conn)
        .await?;
    Ok(done.rows_affected())
}

/// Runs `batch` until one deletes less than [`BATCH`] rows; returns the
/// rows deleted in all. Each call is the caller's own transaction.
pub async fn drain<F, Fut, E>(mut batch: F) -> Result<u64, E>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<u64, E>>,
{
    let mut total = 0;
    loop {
        let n = batch().await?;
        total += n;
        if n < BATCH.unsigned_abs() {
            return Ok(total);
        }
    }
}

/// The distinct tenants of `table` (`tenant_id` first in one of its
/// indexes), one index probe per tenant: a loose index scan that both
/// backends run without reading every row.
pub fn distinct_tenants_sql(table: &'static str) -> String {
    format!(
        "WITH RECURSIVE t (tenant_id) AS ( \
           SELECT (SELECT MIN(tenant_id) FROM {table}) \
           UNION ALL \
           SELECT (SELECT MIN(tenant_id) FROM {table} WHERE tenant_id > t.tenant_id) FROM t \
           WHERE t.tenant_id IS NOT NULL) \
         SELECT tenant_id FROM t WHERE tenant_id IS NOT NULL"
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use sqlx::Executor;

    use super::*;

    #[test]
    fn the_bound_is_the_oldest_run_that_is_old_or_over_the_cap() {
        let rows = [(1, 10), (2, 20), (3, 5), (4, 40), (5, 50)];
        // By age: stops at the first young row, even if an older one follows.
        assert_eq!(prefix_bound(&rows, 25, None, None), Some(3));
        assert_eq!(prefix_bound(&rows, 15, None, None), Some(1));
        assert_eq!(prefix_bound(&rows, 5, None, None), None);
        // By cap: everything up to it, whatever the age.
        assert_eq!(prefix_bound(&rows, 0, Some(4), None), Some(4));
        assert_eq!(prefix_bound(&rows, 25, Some(1), None), Some(3));
        // A stream's head is never pruned.
        assert_eq!(prefix_bound(&rows, 100, None, Some(5)), Some(4));
        assert_eq!(prefix_bound(&rows[4..], 100, Some(9), Some(5)), None);
        assert_eq!(prefix_bound(&[], 100, None, None), None);
    }

    #[test]
    fn cutoff_saturates() {
        let rule = Rule::days(30, 10);
        assert_eq!(rule.cutoff(30 * 86_400_000_000 + 7), 7);
        let forever = Rule {
            max_age: Duration::MAX,
            max_per_tenant: 1,
        };
        assert_eq!(forever.cutoff(5), 5 - i64::MAX);
    }

    #[tokio::test]
    async fn batches_prune_a_stream_oldest_first_and_keep_its_head() {
        sqlx::any::install_default_drivers();
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite:{}?mode=rwc", dir.path().join("r.db").display());
        let mut conn = <AnyConnection as sqlx::Connection>::connect(&url)
            .await
            .unwrap();
        conn.execute(
            "CREATE TABLE heads (tenant_id TEXT PRIMARY KEY, seq BIGINT NOT NULL); \
             CREATE TABLE s (tenant_id TEXT, seq BIGINT, at BIGINT, PRIMARY KEY (tenant_id, seq));",
        )
        .await
        .unwrap();
        let n = BATCH * 2 + 5;
        for tenant in ["a", "b"] {
            sqlx::query(
                "INSERT INTO s (tenant_id, seq, at) WITH RECURSIVE n (x) AS \
                 (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < $2) SELECT $1, x, x FROM n",
            )
            .bind(tenant)
            .bind(n)
            .execute(&mut conn)
            .await
            .unwrap();
            sqlx::query("INSERT INTO heads VALUES ($1, $2)")
                .bind(tenant)
                .bind(n)
                .execute(&mut conn)
                .await
                .unwrap();
        }
        let table = Table {
            name: "s",
            key: "seq",
            heads: Some("heads"),
        };
        // Everything is old: all but the head goes, in three batches.
        let mut batches = 0;
        let conn = std::sync::Arc::new(tokio::sync::Mutex::new(conn));
        let deleted = drain(|| {
            batches += 1;
            let conn = conn.clone();
            async move {
                let mut conn = conn.lock().await;
                prune_batch(&mut conn, &table, "a", i64::MAX, None).await
            }
        })
        .await
        .unwrap();
        assert_eq!(deleted, u64::try_from(n - 1).unwrap());
        assert_eq!(batches, 3);
        let mut conn = conn.lock().await;
        let left: Vec<i64> = sqlx::query_scalar("SELECT seq FROM s WHERE tenant_id = 'a'")
            .fetch_all(&mut *conn)
            .await
            .unwrap();
        assert_eq!(left, [n]);
        // Tenant b: the cap keeps the newest 10, age keeps what is young.
        let cap = cap_bound(&mut conn, &table, "b", 10).await.unwrap();
        assert_eq!(cap, Some(n - 10));
        let first = prune_batch(&mut conn, &table, "b", 0, cap).await.unwrap();
        assert_eq!(first, u64::try_from(BATCH).unwrap());
        let log = Table {
            name: "s",
            key: "seq",
            heads: None,
        };
        assert_eq!(
            cap_bound(&mut conn, &log, "b", 10).await.unwrap(),
            Some(n - 10)
        );
        assert_eq!(
            cap_bound(&mut conn, &log, "b", 100_000).await.unwrap(),
            None
        );
        let tenants: Vec<String> =
            sqlx::query_scalar(sqlx::AssertSqlSafe(distinct_tenants_sql("s")))
                .fetch_all(&mut *conn)
                .await
                .unwrap();
        assert_eq!(tenants, ["a", "b"]);
    }
}
