//! What keeps index paging (`startIndex`/`count`) O(page) in a large
//! tenant, where OFFSET and `count(*)` would walk the tenant on every page.
//!
//! - **Totals.** The `totalResults` of an unfiltered list is the tenant's
//!   live count from `resource_counts`, which triggers keep in the
//!   transaction that creates, deletes or restores a row (migration 0013).
//!   A filtered list still counts its matches.
//! - **Continuations.** When a page of an unsorted list starts where a
//!   previous page of the same list (same tenant, table and filter) ended,
//!   it is read as the rows after that page's last row, a keyset step like
//!   a cursor's, instead of skipping `startIndex - 1` rows. The store
//!   remembers the last row of every page it serves under the list and the
//!   next page's start; an IdP walking a tenant by `startIndex` (account
//!   discovery, imports) continues from there page after page. A request
//!   that continues nothing this store served (the first page, another
//!   replica's walk, an entry evicted after [`IDLE`]) reads by OFFSET and
//!   starts a continuation of its own.
//!
//! A continued page holds the rows that follow the previous page's last row
//! in list order (creation order). Where rows before that point were
//! deleted during the walk, OFFSET would have shifted and skipped as many
//! rows; a continuation skips none. Rows created during the walk come last.
//! Sorted lists do not continue: the offset order of a sortBy (missing
//! values as the backend orders NULLs) and its keyset order (missing values
//! as '') differ, and a walk must keep one order.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use moka::future::Cache;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::filter_sql::{Bind, SqlBuf, Table, sort_expression};
use super::keyset::row_key;
use super::scope::Scope;
use super::sql::SqlStore;
use super::{Keyset, ListQuery, Page, RowKey};
use crate::domain::TenantId;
use crate::error::IdentityError;

/// The live rows of a tenant's table: `$1` tenant, `$2` table.
pub(super) const LIVE_COUNT: &str =
    "SELECT live FROM resource_counts WHERE tenant_id = $1 AND kind = $2";

/// Lists remembered at once (one entry per walk in progress, ~200 bytes).
const CAPACITY: u64 = 20_000;
/// A walk idle this long starts again by OFFSET.
pub(super) const IDLE: Duration = Duration::from_secs(600);

/// The continuation points of index walks, shared by a store's clones.
#[derive(Clone)]
pub(super) struct Continuations {
    points: Cache<String, RowKey>,
    hits: Arc<AtomicU64>,
}

impl Default for Continuations {
    fn default() -> Self {
        Self {
            points: Cache::builder()
                .max_capacity(CAPACITY)
                .time_to_idle(IDLE)
                .build(),
            hits: Arc::new(AtomicU64::new(0)),
        }
    }
}

/// The key of a list's page starting at `offset`: the list's statement and
/// binds (which hold the tenant and the filter), or `None` when the list is
/// sorted and does not continue.
pub(super) fn point(condition: &SqlBuf, query: &ListQuery, offset: u64) -> Option<String> {
    if query.sort.is_some() {
        return None;
    }
    Some(format!(
        "{}\u{0}{:?}\u{0}{offset}",
        condition.sql, condition.binds
    ))
}

impl Continuations {
    /// Where the page at `point` continues from, if a previous page ended there.
    pub(super) async fn find(&self, point: &str) -> Option<RowKey> {
        let found = self.points.get(point).await;
        let outcome = if found.is_some() {
            self.hits.fetch_add(1, Ordering::Relaxed);
            "continued"
        } else {
            "offset"
        };
        metrics::counter!("identity_index_pages_total", "read" => outcome).increment(1);
        found
    }

    /// Remembers that the page at `point` continues after `last`.
    pub(super) async fn remember(&self, point: String, last: RowKey) {
        self.points.insert(point, last).await;
    }

    /// Pages read as continuations since the store was made (tests).
    #[cfg(test)]
    pub(super) fn hits(&self) -> u64 {
        self.hits.load(Ordering::Relaxed)
    }
}

/// The statement of an offset page of `table` over `condition` (` FROM …
/// WHERE …`), in the list's order, with all its binds.
pub(super) fn offset_page_sql(
    table: &Table,
    columns: &str,
    condition: SqlBuf,
    query: &ListQuery,
) -> Result<SqlBuf, IdentityError> {
    let mut buf = condition;
    let a = table.alias;
    let order = match &query.sort {
        Some(key) => {
            let expr = sort_expression(table, &key.path, &mut buf)?;
            let dir = if key.descending { "DESC" } else { "ASC" };
            format!("{expr} {dir}, {a}.created {dir}, {a}.id {dir}")
        }
        None => format!("{a}.created ASC, {a}.id ASC"),
    };
    let limit = buf.bind(Bind::Int(i64::try_from(query.limit).unwrap_or(i64::MAX)));
    let offset = buf.bind(Bind::Int(i64::try_from(query.offset).unwrap_or(i64::MAX)));
    buf.sql = format!(
        "SELECT {columns}{} ORDER BY {order} LIMIT {limit} OFFSET {offset}",
        buf.sql
    );
    Ok(buf)
}

impl SqlStore {
    /// The list's total: the tenant's live count without a filter, else a
    /// count of the matches of `condition` (` FROM … WHERE …`).
    pub(super) async fn total(
        &self,
        tenant: &TenantId,
        table: &Table,
        query: &ListQuery,
        condition: SqlBuf,
    ) -> Result<u64, IdentityError> {
        let mut tx = self.read_tx(Scope::Tenant(tenant)).await?;
        let total = total_in(&mut tx, tenant, table, query, condition).await?;
        tx.commit().await?;
        Ok(total)
    }
}

/// [`SqlStore::total`] in an open transaction.
pub(super) async fn total_in(
    conn: &mut sqlx::AnyConnection,
    tenant: &TenantId,
    table: &Table,
    query: &ListQuery,
    condition: SqlBuf,
) -> Result<u64, IdentityError> {
    let total: i64 = if query.filter.is_none() {
        sqlx::query(LIVE_COUNT)
            .bind(tenant.as_str())
            .bind(table.name)
            .fetch_optional(&mut *conn)
            .await?
            .map(|row| row.try_get::<i64, _>("live"))
            .transpose()?
            .unwrap_or(0)
    } else {
        let sql = format!("SELECT count(*) AS total{}", condition.sql);
        let row = super::users::bind_all(sqlx::query(sqlx::AssertSqlSafe(sql)), &condition.binds)
            .fetch_one(&mut *conn)
            .await?;
        row.try_get("total")?
    };
    Ok(u64::try_from(total).unwrap_or(0))
}

impl SqlStore {
    /// One index page of `table` (`startIndex`/`count`): `condition` holds
    /// ` FROM … WHERE <tenant and filter>`, `columns` the selected columns
    /// (with `created` and `id`).
    pub(super) async fn index_page<T>(
        &self,
        tenant: &TenantId,
        table: &Table,
        columns: &str,
        condition: SqlBuf,
        query: &ListQuery,
        from_row: fn(&AnyRow) -> Result<T, sqlx::Error>,
    ) -> Result<Page<T>, IdentityError> {
        if query.limit == 0 {
            let total = self.total(tenant, table, query, condition).await?;
            return Ok(Page::indexed(total, Vec::new()));
        }
        let here = point(&condition, query, query.offset);
        let after = match &here {
            Some(here) if query.offset > 0 => self.continuations.find(here).await,
            _ => None,
        };
        let (total, rows) = match after {
            Some(after) => {
                let keyset = Keyset {
                    after: Some(after),
                    backwards: false,
                };
                let (total, rows, _) = self
                    .keyset_rows(tenant, table, columns, condition.clone(), query, &keyset)
                    .await?;
                (total, rows)
            }
            None => {
                let page = offset_page_sql(table, columns, condition.clone(), query)?;
                let (rows, total) = self
                    .offset_page(
                        tenant,
                        page.sql,
                        &page.binds,
                        table,
                        condition.clone(),
                        query,
                    )
                    .await?;
                (total, rows)
            }
        };
        if here.is_some()
            && let Some(last) = rows.last()
        {
            let next = query.offset + u64::try_from(rows.len()).unwrap_or(u64::MAX);
            if let Some(next) = point(&condition, query, next) {
                self.continuations
                    .remember(next, row_key(last, None)?)
                    .await;
            }
        }
        let items = rows.iter().map(from_row).collect::<Result<_, _>>()?;
        Ok(Page::indexed(total, items))
    }
}
