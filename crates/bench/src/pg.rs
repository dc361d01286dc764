//! Postgres for the bench: a fresh database per run, bulk seeding of large
//! tenants straight into identity's tables, the `pgbench` limit, and
//! `EXPLAIN` of the statements the scale curves exercise.

use std::path::Path;
use std::time::Instant;

use sqlx::postgres::{PgConnection, PgPoolOptions};
use sqlx::{Connection, Executor, PgPool, Row};

use crate::Error;

/// The server every run uses (loopback, user postgres, trust auth).
pub const ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

pub fn db_url(name: &str) -> String {
    format!("postgres://postgres@127.0.0.1:5432/{name}")
}

/// Creates an empty database `name` (dropping a leftover of that name).
pub async fn create_db(name: &str) -> Result<String, Error> {
    let mut conn = PgConnection::connect(ADMIN_URL).await?;
    conn.execute(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
    )))
    .await?;
    conn.execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
        .await?;
    Ok(db_url(name))
}

pub async fn drop_db(name: &str) {
    if let Ok(mut conn) = PgConnection::connect(ADMIN_URL).await {
        let _ = conn
            .execute(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
            )))
            .await;
    }
}

pub async fn pool(url: &str) -> Result<PgPool, Error> {
    Ok(PgPoolOptions::new().max_connections(4).connect(url).await?)
}

/// Seeds `count` users into `tenant` with one `INSERT … SELECT` per table:
/// every column as identity writes it, the `resource` document copied from
/// a template user that identity itself created (`template_id`, whose
/// userName/externalId/email contain `marker`), with the marker replaced
/// by `<tenant>-<n>`. No change records are written (see BENCHMARKS.md).
pub async fn seed_users(
    db: &PgPool,
    tenant: &str,
    template_tenant: &str,
    template_id: &str,
    marker: &str,
    count: u64,
) -> Result<f64, Error> {
    let started = Instant::now();
    let mut tx = db.begin().await?;
    sqlx::query(
        "INSERT INTO users (tenant_id, id, user_name, user_name_ci, external_id, display_name, \
         display_name_ci, active, version, created, last_modified, deleted, resource) \
         SELECT $1, gen_random_uuid()::text, \
                replace(t.user_name, $4, $1 || '-' || lpad(n::text, 7, '0')), \
                replace(t.user_name_ci, $4, $1 || '-' || lpad(n::text, 7, '0')), \
                replace(t.external_id, $4, $1 || '-' || lpad(n::text, 7, '0')), \
                t.display_name, t.display_name_ci, t.active, 1, \
                t.created + n, t.created + n, NULL, \
                replace(t.resource, $4, $1 || '-' || lpad(n::text, 7, '0')) \
         FROM users t, generate_series(1, $5) AS n \
         WHERE t.tenant_id = $2 AND t.id = $3",
    )
    .bind(tenant)
    .bind(template_tenant)
    .bind(template_id)
    .bind(marker)
    .bind(i64::try_from(count)?)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO user_emails (tenant_id, user_id, value, value_ci, type, is_primary) \
         SELECT u.tenant_id, u.id, u.user_name, u.user_name_ci, 'work', TRUE \
         FROM users u WHERE u.tenant_id = $1",
    )
    .bind(tenant)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    sqlx::query("ANALYZE users").execute(db).await?;
    sqlx::query("ANALYZE user_emails").execute(db).await?;
    Ok(started.elapsed().as_secs_f64())
}

/// Appends one `user.created` change record per seeded user of `tenant`,
/// as identity would have, so that policy follows them.
pub async fn seed_change_records(db: &PgPool, tenant: &str) -> Result<u64, Error> {
    let done = sqlx::query(
        "INSERT INTO changes (tenant_id, kind, resource_id, version, at, payload) \
         SELECT u.tenant_id, 'user.created', u.id, 1, u.created, '{\"active\":true}' \
         FROM users u WHERE u.tenant_id = $1 ORDER BY u.created",
    )
    .bind(tenant)
    .execute(db)
    .await?;
    Ok(done.rows_affected())
}

/// Makes the first `count` users of `tenant` members of `group_id`.
pub async fn seed_members(
    db: &PgPool,
    tenant: &str,
    group_id: &str,
    count: u64,
) -> Result<(), Error> {
    sqlx::query(
        "INSERT INTO group_members (tenant_id, group_id, user_id) \
         SELECT tenant_id, $2, id FROM users WHERE tenant_id = $1 AND deleted IS NULL \
         ORDER BY created LIMIT $3 ON CONFLICT DO NOTHING",
    )
    .bind(tenant)
    .bind(group_id)
    .bind(i64::try_from(count)?)
    .execute(db)
    .await?;
    sqlx::query("ANALYZE group_members").execute(db).await?;
    Ok(())
}

/// About `count` (id, userName) pairs spread evenly over a seeded tenant
/// of `size` users (every k-th by creation time).
pub async fn sample_users(
    db: &PgPool,
    tenant: &str,
    count: u64,
    size: u64,
) -> Result<Vec<(String, String)>, Error> {
    let every = (size / (count + 1)).max(1);
    let rows = sqlx::query(
        "SELECT id, user_name FROM users WHERE tenant_id = $1 AND deleted IS NULL \
         AND created % $3 = 0 ORDER BY created LIMIT $2",
    )
    .bind(tenant)
    .bind(i64::try_from(count)?)
    .bind(i64::try_from(every)?)
    .fetch_all(db)
    .await?;
    Ok(rows
        .iter()
        .map(|r| (r.get::<String, _>(0), r.get::<String, _>(1)))
        .collect())
}

/// `count` members of a group, and `count` users of the tenant outside it.
pub async fn sample_members(
    db: &PgPool,
    tenant: &str,
    group_id: &str,
    count: u64,
) -> Result<(Vec<String>, Vec<String>), Error> {
    let members = sqlx::query(
        "SELECT user_id FROM group_members WHERE tenant_id = $1 AND group_id = $2 \
         ORDER BY user_id DESC LIMIT $3",
    )
    .bind(tenant)
    .bind(group_id)
    .bind(i64::try_from(count)?)
    .fetch_all(db)
    .await?;
    let outside = sqlx::query(
        "SELECT u.id FROM users u WHERE u.tenant_id = $1 AND u.deleted IS NULL \
         AND NOT EXISTS (SELECT 1 FROM group_members m WHERE m.tenant_id = u.tenant_id \
         AND m.group_id = $2 AND m.user_id = u.id) ORDER BY u.created DESC LIMIT $3",
    )
    .bind(tenant)
    .bind(group_id)
    .bind(i64::try_from(count)?)
    .fetch_all(db)
    .await?;
    Ok((
        members.iter().map(|r| r.get::<String, _>(0)).collect(),
        outside.iter().map(|r| r.get::<String, _>(0)).collect(),
    ))
}

/// `EXPLAIN (ANALYZE, BUFFERS)` of `sql` with text parameters, as text.
pub async fn explain(db: &PgPool, sql: &str, params: &[&str]) -> Result<String, Error> {
    let mut q = sqlx::query(sqlx::AssertSqlSafe(format!(
        "EXPLAIN (ANALYZE, BUFFERS) {sql}"
    )));
    for p in params {
        q = q.bind(*p);
    }
    let rows = q.fetch_all(db).await?;
    Ok(rows
        .iter()
        .map(|r| r.get::<String, _>(0))
        .collect::<Vec<_>>()
        .join("\n"))
}

/// The statements of one user create (identity's `create_user_tx` on
/// Postgres): the restore probe, the insert, the email rows (one
/// statement), the outbox record with its lock (one statement), in one
/// transaction. Prepared, like sqlx's.
pub fn pgbench_script(tenant: &str) -> String {
    // Variables stay outside string literals: in prepared mode pgbench
    // turns each `:var` into a parameter.
    let id = "('pgb-' || :client_id::text || '-' || :r::text)";
    let name = format!("({id} || '@bench.example.com')");
    // JSON literals as E'' strings with ':' escaped: pgbench would read
    // `:ietf` or `:true` inside them as variables.
    let lit = |json: &str| format!("E'{}'", json.replace(':', "\\x3a"));
    let doc = format!(
        "({} || {name} || {} || {id} || {} || {name} || {} || {id} || {})",
        lit(
            r#"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],"userName":""#
        ),
        lit(r#"","externalId":""#),
        lit(
            r#"","active":true,"displayName":"Bench User","title":"Asset Manager","preferredLanguage":"en-GB","emails":[{"primary":true,"type":"work","value":""#
        ),
        lit(
            r#""}],"name":{"formatted":"Bench User","familyName":"User","givenName":"Bench"},"phoneNumbers":[{"type":"work","value":"+44 118 000 0000"}],"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"employeeNumber":""#
        ),
        lit(r#"","department":"Facilities"}}"#),
    );
    let change = lit(r#"{"active":true}"#);
    format!(
        r#"\set r random(1, 9000000000000000000)
BEGIN;
SELECT id, tenant_id, user_name, external_id, active, version, created, last_modified, resource FROM users u WHERE u.tenant_id = '{tenant}' AND u.external_id = {id} AND (u.deleted IS NOT NULL OR u.active = false) ORDER BY u.last_modified DESC LIMIT 1 FOR UPDATE;
INSERT INTO users (tenant_id, id, user_name, user_name_ci, external_id, display_name, display_name_ci, active, version, created, last_modified, resource) VALUES ('{tenant}', {id}, {name}, {name}, {id}, 'Bench User', 'bench user', true, 1, 1700000000000000, 1700000000000000, {doc});
INSERT INTO user_emails (tenant_id, user_id, value, value_ci, type, is_primary) VALUES ('{tenant}', {id}, {name}, {name}, 'work', true);
INSERT INTO changes (tenant_id, kind, resource_id, version, at, payload) SELECT '{tenant}', 'user.created', {id}, 1, 1700000000000000, {change} FROM (SELECT pg_advisory_xact_lock(1396918605)) AS outbox_lock;
COMMIT;
"#
    )
}

/// What `pgbench` measured.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PgbenchResult {
    pub clients: usize,
    pub seconds: u64,
    pub tps: f64,
    pub latency_avg_ms: f64,
    pub failed: u64,
}

/// Runs the create script with `clients` connections for `seconds`.
pub async fn pgbench(
    url: &str,
    tenant: &str,
    clients: usize,
    seconds: u64,
    work: &Path,
) -> Result<PgbenchResult, Error> {
    let script = work.join("pgbench-create-user.sql");
    std::fs::write(&script, pgbench_script(tenant))?;
    let out = tokio::process::Command::new("pgbench")
        .args([
            "-n",
            "-M",
            "prepared",
            "-c",
            &clients.to_string(),
            "-j",
            "2",
            "-T",
            &seconds.to_string(),
            "-f",
        ])
        .arg(&script)
        .arg(url)
        .output()
        .await
        .map_err(|e| format!("pgbench: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let errors = String::from_utf8_lossy(&out.stderr);
    std::fs::write(work.join("pgbench.out"), format!("{text}\n{errors}"))?;
    let field = |key: &str| -> Option<f64> {
        let line = text.lines().find(|l| l.starts_with(key))?;
        line[key.len()..]
            .trim_start_matches([' ', '='])
            .split_whitespace()
            .next()?
            .parse()
            .ok()
    };
    let tps = field("tps").ok_or_else(|| format!("pgbench printed no tps: {text}{errors}"))?;
    Ok(PgbenchResult {
        clients,
        seconds,
        tps,
        latency_avg_ms: field("latency average").unwrap_or(0.0),
        failed: field("number of failed transactions:").unwrap_or(0.0) as u64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_is_one_transaction_of_a_user_create() {
        let s = pgbench_script("t");
        assert!(s.starts_with("\\set r"));
        assert_eq!(s.matches("BEGIN;").count(), 1);
        assert_eq!(s.matches("COMMIT;").count(), 1);
        assert!(s.contains("INSERT INTO changes"));
        // 0x5343494d, identity's outbox lock key.
        assert!(s.contains("pg_advisory_xact_lock(1396918605)"));
    }
}
