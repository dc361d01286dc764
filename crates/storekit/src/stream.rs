//! Per-tenant ordered streams: identity's outbox of changes and policy's
//! log of role changes are both appended to through [`reserve`].
//!
//! Why a sequence per tenant. A stream must deliver each tenant's records
//! in that tenant's commit order and lose none, and nothing on the write
//! path may be shared by all tenants. A global sequence cannot do both: a
//! value is taken at insert but becomes visible at commit, so writers that
//! commit out of sequence order make a reader pass over a record that is
//! still in flight, unless every commit is serialised behind one lock (what
//! this replaces: it capped every tenant's writes together). Here each
//! tenant has a head row (`tenant_id`, `seq`) in a heads table. A writer
//! advances its tenant's head by the number of records it appends, in the
//! same transaction, after its last other row write; the head's row lock
//! is held to commit. So, per tenant:
//!
//! - positions are dense (a rolled-back writer rolls its increment back),
//! - commit order is position order (the next writer waits for the row),
//! - a visible head `h` means every record up to `h` is committed.
//!
//! A reader keeps a cursor per tenant, reads the heads to find tenants with
//! new records, and reads those tenants' records after their cursors. The
//! lock is taken after a transaction's last row write, so its holder never
//! waits for another row lock and no deadlock can form with writers that
//! hold row locks. Logical decoding would also give commit order, but it
//! needs a replication slot (one per consumer, which pins WAL while a
//! consumer is away) and has no SQLite counterpart.

use sqlx::{AnyConnection, Row};

/// The statement that advances `tenant`'s head (`$1`) by `$2` and returns
/// the new head, creating the row at the first record.
pub fn advance_sql(heads: &'static str) -> String {
    format!(
        "INSERT INTO {heads} (tenant_id, seq) VALUES ($1, $2) \
         ON CONFLICT (tenant_id) DO UPDATE SET seq = {heads}.seq + excluded.seq RETURNING seq"
    )
}

/// Reserves `n` (≥ 1) positions of `tenant`'s stream inside the caller's
/// transaction and returns the first; the head stays locked until commit.
pub async fn reserve(
    conn: &mut AnyConnection,
    heads: &'static str,
    tenant: &str,
    n: i64,
) -> Result<i64, sqlx::Error> {
    let head: i64 = sqlx::query(sqlx::AssertSqlSafe(advance_sql(heads)))
        .bind(tenant)
        .bind(n)
        .fetch_one(conn)
        .await?
        .try_get("seq")?;
    Ok(head - n + 1)
}

/// The statement of [`head`]: `$1` the tenant.
pub fn head_sql(heads: &'static str) -> String {
    format!("SELECT seq FROM {heads} WHERE tenant_id = $1")
}

/// The statement of [`all_heads`]: every row of the table, by design (one
/// a tenant, no tenant data).
pub fn all_heads_sql(heads: &'static str) -> String {
    format!("SELECT tenant_id, seq FROM {heads} ORDER BY tenant_id")
}

/// The head of `tenant` (0 before its first record).
pub async fn head(
    conn: &mut AnyConnection,
    heads: &'static str,
    tenant: &str,
) -> Result<i64, sqlx::Error> {
    let row = sqlx::query(sqlx::AssertSqlSafe(head_sql(heads)))
        .bind(tenant)
        .fetch_optional(conn)
        .await?;
    Ok(match row {
        Some(row) => row.try_get("seq")?,
        None => 0,
    })
}

/// Every tenant's head, by tenant id.
pub async fn all_heads(
    conn: &mut AnyConnection,
    heads: &'static str,
) -> Result<Vec<(String, i64)>, sqlx::Error> {
    sqlx::query(sqlx::AssertSqlSafe(all_heads_sql(heads)))
        .fetch_all(conn)
        .await?
        .iter()
        .map(|r| Ok((r.try_get("tenant_id")?, r.try_get("seq")?)))
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use sqlx::{Acquire, Executor};

    use super::*;

    #[tokio::test]
    async fn positions_are_dense_per_tenant_and_survive_rollback() {
        sqlx::any::install_default_drivers();
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite:{}?mode=rwc", dir.path().join("s.db").display());
        let mut conn = <AnyConnection as sqlx::Connection>::connect(&url)
            .await
            .unwrap();
        conn.execute("CREATE TABLE heads (tenant_id TEXT PRIMARY KEY, seq BIGINT NOT NULL)")
            .await
            .unwrap();
        assert_eq!(head(&mut conn, "heads", "a").await.unwrap(), 0);
        assert_eq!(reserve(&mut conn, "heads", "a", 1).await.unwrap(), 1);
        assert_eq!(reserve(&mut conn, "heads", "a", 3).await.unwrap(), 2);
        assert_eq!(reserve(&mut conn, "heads", "b", 2).await.unwrap(), 1);
        {
            let mut tx = conn.begin().await.unwrap();
            assert_eq!(reserve(&mut tx, "heads", "a", 5).await.unwrap(), 5);
            tx.rollback().await.unwrap();
        }
        assert_eq!(reserve(&mut conn, "heads", "a", 1).await.unwrap(), 5);
        assert_eq!(
            all_heads(&mut conn, "heads").await.unwrap(),
            [("a".to_owned(), 5), ("b".to_owned(), 2)]
        );
    }
}
