//! Test support for the services' stores (feature `testing`, dev builds
//! only): a fresh Postgres database per test, bulk test rows, and plan
//! checks that `EXPLAIN` a store's statements and hold them to the indexes
//! they are meant to use.
//!
//! A plan fails when it scans a table (`SCAN <table>` without an index on
//! SQLite, `Seq Scan` on Postgres; a table-valued function over a bound
//! parameter, such as `json_each`, and a materialised CTE are no tables), or when it does not reach a table
//! through an index whose leading columns are the statement's equality
//! columns (a walk of the whole tenant on `(tenant_id, last_modified)` is a
//! failure for a lookup by `(tenant_id, external_id)`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use sqlx::{AnyConnection, Connection, Row};

use crate::Dialect;

/// Where the Postgres server for tests is (`TEST_POSTGRES_URL` to override).
pub fn postgres_admin_url() -> String {
    std::env::var("TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// A Postgres database made for one test; dropped with it.
pub struct PostgresDatabase {
    pub url: String,
    name: String,
}

impl PostgresDatabase {
    /// Creates `<prefix>_<uuid>`.
    pub async fn create(prefix: &str) -> Self {
        sqlx::any::install_default_drivers();
        let name = format!("{prefix}_{}", uuid::Uuid::new_v4().simple());
        let admin = postgres_admin_url();
        let mut conn = AnyConnection::connect(&admin)
            .await
            .expect("Postgres on 127.0.0.1:5432 (see README)");
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
            .execute(&mut conn)
            .await
            .unwrap();
        let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
        Self {
            url: format!("{base}/{name}"),
            name,
        }
    }
}

impl Drop for PostgresDatabase {
    fn drop(&mut self) {
        let name = self.name.clone();
        // Drop runs outside async context: a thread with its own runtime.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                if let Ok(mut conn) = AnyConnection::connect(&postgres_admin_url()).await {
                    let sql = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
                    let _ = sqlx::query(sqlx::AssertSqlSafe(sql))
                        .execute(&mut conn)
                        .await;
                }
            });
        })
        .join();
    }
}

/// Inserts `rows` (each a parenthesised list of SQL literals) into
/// `table (columns)`, 500 rows a statement. Test data only.
pub async fn fill(
    conn: &mut AnyConnection,
    table: &str,
    columns: &str,
    rows: impl IntoIterator<Item = String>,
) {
    let rows: Vec<String> = rows.into_iter().collect();
    for chunk in rows.chunks(500) {
        let sql = format!(
            "INSERT INTO {table} ({columns}) VALUES {}",
            chunk.join(", ")
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&mut *conn)
            .await
            .unwrap_or_else(|e| panic!("filling {table}: {e}"));
    }
}

/// A bound value of a statement under test.
#[derive(Debug, Clone)]
pub enum Arg {
    Text(String),
    Int(i64),
    Bool(bool),
}

/// What a statement's plan must show.
#[derive(Debug, Clone, Copy)]
pub enum Expect {
    /// Each `(table, columns)`: the table is searched through an index whose
    /// leading columns are `columns` (the equality columns, then those of
    /// the order when the index serves it). No table is scanned.
    Index(&'static [(&'static str, &'static [&'static str])]),
    /// A write: no table is scanned, and each `(table, columns)` uniqueness
    /// check has a unique index on exactly `columns` to look in.
    Unique(&'static [(&'static str, &'static [&'static str])]),
    /// Reads every row of the table by design (one row a tenant, no tenant
    /// data): any plan will do.
    WholeTable(&'static str),
}

/// One statement of a store, as the store runs it.
#[derive(Debug, Clone)]
pub struct Case {
    pub name: &'static str,
    pub sql: String,
    pub args: Vec<Arg>,
    pub expect: Expect,
}

/// An index as the catalog describes it.
#[derive(Debug, Clone)]
struct IndexInfo {
    name: String,
    /// `None` for an expression.
    columns: Vec<Option<String>>,
    unique: bool,
    primary: bool,
}

impl IndexInfo {
    fn leads_with(&self, columns: &[&str]) -> bool {
        self.columns.len() >= columns.len()
            && columns
                .iter()
                .zip(&self.columns)
                .all(|(want, have)| have.as_deref() == Some(*want))
    }

    fn is_exactly(&self, columns: &[&str]) -> bool {
        self.columns.len() == columns.len() && self.leads_with(columns)
    }
}

async fn indexes(conn: &mut AnyConnection, dialect: Dialect, table: &str) -> Vec<IndexInfo> {
    let sql = match dialect {
        Dialect::Sqlite => {
            "SELECT il.name AS name, il.\"unique\" AS uniq, il.origin = 'pk' AS pk, ii.name AS col \
             FROM pragma_index_list($1) il, pragma_index_info(il.name) ii \
             ORDER BY il.name, ii.seqno"
        }
        Dialect::Postgres => {
            "SELECT i.relname::text AS name, x.indisunique AS uniq, x.indisprimary AS pk, \
             a.attname::text AS col \
             FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid \
             JOIN pg_class t ON t.oid = x.indrelid \
             JOIN pg_namespace n ON n.oid = t.relnamespace AND n.nspname = 'public' \
             CROSS JOIN LATERAL unnest(x.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord) \
             LEFT JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum \
             WHERE t.relname = $1 ORDER BY 1, k.ord"
        }
    };
    let rows = sqlx::query(sql)
        .bind(table)
        .fetch_all(&mut *conn)
        .await
        .unwrap_or_else(|e| panic!("indexes of {table}: {e}"));
    let flag = |row: &sqlx::any::AnyRow, col: &str| -> bool {
        row.try_get::<bool, _>(col)
            .unwrap_or_else(|_| row.try_get::<i64, _>(col).unwrap() != 0)
    };
    let mut out: Vec<IndexInfo> = Vec::new();
    for row in &rows {
        let name: String = row.try_get("name").unwrap();
        let col: Option<String> = row.try_get("col").unwrap();
        match out.last_mut() {
            Some(last) if last.name == name => last.columns.push(col),
            _ => out.push(IndexInfo {
                name,
                columns: vec![col],
                unique: flag(row, "uniq"),
                primary: flag(row, "pk"),
            }),
        }
    }
    out
}

/// The plan of `sql` with `args`, a line a node.
pub async fn explain(
    conn: &mut AnyConnection,
    dialect: Dialect,
    sql: &str,
    args: &[Arg],
) -> Vec<String> {
    let text = match dialect {
        Dialect::Sqlite => format!("EXPLAIN QUERY PLAN {sql}"),
        Dialect::Postgres => format!("EXPLAIN {sql}"),
    };
    let mut query = sqlx::query(sqlx::AssertSqlSafe(text));
    for arg in args {
        query = match arg {
            Arg::Text(s) => query.bind(s.clone()),
            Arg::Int(i) => query.bind(*i),
            Arg::Bool(b) => query.bind(*b),
        };
    }
    let rows = query
        .fetch_all(&mut *conn)
        .await
        .unwrap_or_else(|e| panic!("explaining {sql}: {e}"));
    rows.iter()
        .map(|row| match dialect {
            Dialect::Sqlite => row.try_get::<String, _>("detail").unwrap(),
            Dialect::Postgres => row.try_get::<String, _>(0).unwrap(),
        })
        .collect()
}

/// A full scan of a table in `line`, if there is one.
fn scan(dialect: Dialect, line: &str) -> Option<String> {
    let line = line.trim();
    match dialect {
        Dialect::Sqlite => {
            let rest = line.strip_prefix("SCAN ")?;
            // A virtual table (`json_each` of a bound list) is no stored table.
            let stored = !rest.contains(" USING ")
                && !rest.contains(" VIRTUAL TABLE ")
                && rest != "CONSTANT ROW";
            stored.then(|| rest.to_owned())
        }
        Dialect::Postgres => {
            let at = line.find("Seq Scan on ")?;
            let table = line[at + "Seq Scan on ".len()..]
                .split_whitespace()
                .next()?;
            Some(table.to_owned())
        }
    }
}

/// True when `line` searches through `index` (narrowed by a condition on
/// SQLite, where a `SCAN … USING INDEX` walks all of it).
fn searches(dialect: Dialect, line: &str, index: &IndexInfo) -> bool {
    let line = line.trim();
    match dialect {
        Dialect::Sqlite => {
            line.starts_with("SEARCH ")
                && (line.contains(&format!("INDEX {} (", index.name))
                    || (index.primary && line.contains("PRIMARY KEY (")))
        }
        Dialect::Postgres => {
            line.contains(&format!("using {} on ", index.name))
                || line.contains(&format!("Bitmap Index Scan on {} ", index.name))
                || line.ends_with(&format!("Bitmap Index Scan on {}", index.name))
        }
    }
}

/// Explains every case and returns what is wrong with each plan (empty
/// when all are right), each with the plan.
pub async fn check_plans(
    conn: &mut AnyConnection,
    dialect: Dialect,
    cases: &[Case],
) -> Vec<String> {
    let mut failures = Vec::new();
    for case in cases {
        let plan = explain(conn, dialect, &case.sql, &case.args).await;
        let mut wrong = Vec::new();
        let whole = match case.expect {
            Expect::WholeTable(table) => Some(table),
            _ => None,
        };
        // SQLite's materialised subqueries and CTEs hold the statement's
        // own rows (a bound list, say): scanning them scans no table.
        let materialised: Vec<&str> = plan
            .iter()
            .filter_map(|line| line.trim().strip_prefix("MATERIALIZE "))
            .collect();
        for line in &plan {
            if let Some(table) = scan(dialect, line)
                && whole.is_none_or(|w| !table.starts_with(w))
                && !materialised.contains(&table.as_str())
            {
                wrong.push(format!("scans {table}"));
            }
        }
        match case.expect {
            Expect::Index(wanted) => {
                for (table, columns) in wanted {
                    let candidates: Vec<IndexInfo> = indexes(conn, dialect, table)
                        .await
                        .into_iter()
                        .filter(|i| i.leads_with(columns))
                        .collect();
                    if !plan
                        .iter()
                        .any(|line| candidates.iter().any(|i| searches(dialect, line, i)))
                    {
                        let names: Vec<&str> = candidates.iter().map(|i| i.name.as_str()).collect();
                        wrong.push(format!(
                            "does not search {table} by ({}); indexes that lead with them: {names:?}",
                            columns.join(", ")
                        ));
                    }
                }
            }
            Expect::Unique(checks) => {
                for (table, columns) in checks {
                    let found = indexes(conn, dialect, table)
                        .await
                        .iter()
                        .any(|i| i.unique && i.is_exactly(columns));
                    if !found {
                        wrong.push(format!(
                            "no unique index on {table} ({}) for its uniqueness check",
                            columns.join(", ")
                        ));
                    }
                }
            }
            Expect::WholeTable(_) => {}
        }
        if std::env::var_os("PLANS_SHOW").is_some() {
            eprintln!("{}:\n    {}", case.name, plan.join("\n    "));
        }
        if !wrong.is_empty() {
            failures.push(format!(
                "{}: {}\n  {}\n  plan:\n    {}",
                case.name,
                wrong.join("; "),
                case.sql,
                plan.join("\n    ")
            ));
        }
    }
    failures
}

/// Runs `ANALYZE` so that plans see the rows the test inserted.
pub async fn analyze(conn: &mut AnyConnection) {
    sqlx::query("ANALYZE").execute(&mut *conn).await.unwrap();
}

/// The role plan checks connect as on Postgres: what a service connects as
/// in production (no superuser, no `BYPASSRLS`, owns nothing).
pub const PLAN_ROLE: &str = "storekit_plan_service";

/// Connects to the Postgres database at `url` (made and migrated by its
/// owner) as [`PLAN_ROLE`], with a service's table rights and with
/// `app.tenant_id` set to `tenant` for the session: statements are then
/// planned as the services run them, under row-level security, where a
/// join condition reaches a protected table's index only when every
/// function in it is leakproof. (The owner and superusers bypass the
/// policies, so their plans can hide a read of a whole table.)
pub async fn connect_as_service(url: &str, tenant: &str) -> AnyConnection {
    let mut conn = AnyConnection::connect(&service_role_url(url, PLAN_ROLE).await)
        .await
        .unwrap();
    sqlx::query("SELECT set_config('app.tenant_id', $1, false)")
        .bind(tenant)
        .execute(&mut conn)
        .await
        .unwrap();
    conn
}

/// Makes `role` when it does not exist (a plain login role: no superuser,
/// no `BYPASSRLS`), grants it a service's table rights on the migrated
/// database at `url` (connected as its owner), and returns the URL that
/// connects as `role`.
pub async fn service_role_url(url: &str, role: &str) -> String {
    sqlx::any::install_default_drivers();
    let mut admin = AnyConnection::connect(&postgres_admin_url()).await.unwrap();
    // Roles are the cluster's: tests racing to make one tolerate each other.
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DO $$ BEGIN CREATE ROLE \"{role}\" LOGIN NOSUPERUSER NOBYPASSRLS; \
         EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$"
    )))
    .execute(&mut admin)
    .await
    .unwrap();
    let mut owner = AnyConnection::connect(url).await.unwrap();
    for grant in [
        format!(
            "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO \"{role}\""
        ),
        format!("GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO \"{role}\""),
    ] {
        sqlx::query(sqlx::AssertSqlSafe(grant))
            .execute(&mut owner)
            .await
            .unwrap();
    }
    let (scheme, rest) = url.split_once("://").expect("a postgres:// URL");
    let host = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
    format!("{scheme}://{role}@{host}")
}
