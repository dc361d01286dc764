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

/// The login role the services of the production topology connect as:
/// neither superuser nor `BYPASSRLS`, owning nothing, so that row-level
/// security binds it as in production (the services refuse any other).
pub const SERVICE_ROLE: &str = "bench_service";

/// Grants [`SERVICE_ROLE`] (created when missing; roles are per server)
/// a service's privileges on the migrated database `name`; returns the URL
/// that connects as it.
pub async fn service_role_url(name: &str) -> Result<String, Error> {
    let mut admin = PgConnection::connect(ADMIN_URL).await?;
    admin
        .execute(sqlx::AssertSqlSafe(format!(
            "DO $$ BEGIN CREATE ROLE {SERVICE_ROLE} LOGIN NOSUPERUSER NOBYPASSRLS; \
             EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$"
        )))
        .await?;
    let mut db = PgConnection::connect(&db_url(name)).await?;
    db.execute(sqlx::AssertSqlSafe(format!(
        "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {SERVICE_ROLE}; \
         GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {SERVICE_ROLE}"
    )))
    .await?;
    Ok(format!("postgres://{SERVICE_ROLE}@127.0.0.1:5432/{name}"))
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
/// as identity would have, so that policy follows them: positions after
/// the tenant's head, in creation order, and the head advanced past them,
/// in one transaction (the head row locked, as identity's writers do).
pub async fn seed_change_records(db: &PgPool, tenant: &str) -> Result<u64, Error> {
    let mut tx = db.begin().await?;
    sqlx::query(
        "INSERT INTO change_heads (tenant_id, seq) VALUES ($1, 0) ON CONFLICT (tenant_id) DO NOTHING",
    )
    .bind(tenant)
    .execute(&mut *tx)
    .await?;
    let head: i64 =
        sqlx::query_scalar("SELECT seq FROM change_heads WHERE tenant_id = $1 FOR UPDATE")
            .bind(tenant)
            .fetch_one(&mut *tx)
            .await?;
    let done = sqlx::query(
        "INSERT INTO changes (tenant_id, seq, kind, resource_id, version, at, payload) \
         SELECT u.tenant_id, $2 + row_number() OVER (ORDER BY u.created, u.id), 'user.created', \
                u.id, 1, u.created, '{\"active\":true}' \
         FROM users u WHERE u.tenant_id = $1 AND u.deleted IS NULL",
    )
    .bind(tenant)
    .bind(head)
    .execute(&mut *tx)
    .await?;
    let n = done.rows_affected();
    sqlx::query("UPDATE change_heads SET seq = seq + $2 WHERE tenant_id = $1")
        .bind(tenant)
        .bind(i64::try_from(n)?)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(n)
}

/// The head of `tenant`'s change stream in identity's database (0 before
/// its first record).
pub async fn change_head(db: &PgPool, tenant: &str) -> Result<i64, Error> {
    Ok(
        sqlx::query_scalar::<_, i64>("SELECT seq FROM change_heads WHERE tenant_id = $1")
            .bind(tenant)
            .fetch_optional(db)
            .await?
            .unwrap_or(0),
    )
}

/// How many of `tenants`' change records policy (its database `pdb`) has
/// not applied yet: the sum over those tenants (all when empty) of
/// identity's head minus policy's cursor.
pub async fn policy_behind(db: &PgPool, pdb: &PgPool, tenants: &[String]) -> Result<i64, Error> {
    let heads: Vec<(String, i64)> = sqlx::query_as(
        "SELECT tenant_id, seq FROM change_heads \
         WHERE cardinality($1::text[]) = 0 OR tenant_id = ANY($1)",
    )
    .bind(tenants)
    .fetch_all(db)
    .await?;
    let cursors: std::collections::HashMap<String, i64> =
        sqlx::query_as::<_, (String, i64)>("SELECT tenant_id, seq FROM stream_cursors")
            .fetch_all(pdb)
            .await?
            .into_iter()
            .collect();
    Ok(heads
        .iter()
        .map(|(t, h)| (h - cursors.get(t).copied().unwrap_or(0)).max(0))
        .sum())
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

/// The change record of one create with its tenant's head advanced, in
/// one statement, as identity writes it on Postgres (`store/changes.rs`:
/// the head row's upsert feeds the insert). `tenant` and `id` are SQL
/// expressions.
fn change_statement(tenant: &str, id: &str, payload: &str) -> String {
    format!(
        "WITH head AS (INSERT INTO change_heads (tenant_id, seq) VALUES ({tenant}, 1) \
         ON CONFLICT (tenant_id) DO UPDATE SET seq = change_heads.seq + excluded.seq RETURNING seq) \
         INSERT INTO changes (tenant_id, seq, kind, resource_id, version, at, payload, trace_context) \
         SELECT {tenant}, head.seq, 'user.created', {id}, 1, 1700000000000000, {payload}, NULL FROM head;"
    )
}

/// JSON literals as E'' strings with ':' escaped: pgbench would read
/// `:ietf` or `:true` inside them as variables.
fn lit(json: &str) -> String {
    format!("E'{}'", json.replace(':', "\\x3a"))
}

/// The `resource` document of a create (Entra's default mapping), as a SQL
/// expression of the user's `id` and `name` expressions.
fn user_document(id: &str, name: &str) -> String {
    format!(
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
    )
}

/// The statements of one user create as identity issues them on Postgres
/// (`create_user_tx`): the restore probe, the insert, the email rows (one
/// statement), the change record with its tenant's head advanced (one
/// statement), in one transaction, for a tenant drawn at random from
/// `<prefix>1` … `<prefix><tenants>`. Prepared, like sqlx's.
pub fn pgbench_script(prefix: &str, tenants: usize) -> String {
    // Variables stay outside string literals: in prepared mode pgbench
    // turns each `:var` into a parameter.
    let id = "('pgb-' || :client_id::text || '-' || :r::text)";
    let name = format!("({id} || '@bench.example.com')");
    let doc = user_document(id, &name);
    let t = format!("('{prefix}' || :t::text)");
    let change = change_statement(&t, id, &lit(r#"{"active":true}"#));
    format!(
        r#"\set t random(1, {tenants})
\set r random(1, 9000000000000000000)
BEGIN;
SELECT id, tenant_id, user_name, external_id, active, version, created, last_modified, resource FROM users u WHERE u.tenant_id = {t} AND u.external_id = {id} AND (u.deleted IS NOT NULL OR u.active = false) ORDER BY u.last_modified DESC LIMIT 1 FOR UPDATE;
INSERT INTO users (tenant_id, id, user_name, user_name_ci, external_id, display_name, display_name_ci, active, version, created, last_modified, resource) VALUES ({t}, {id}, {name}, {name}, {id}, 'Bench User', 'bench user', true, 1, 1700000000000000, 1700000000000000, {doc});
INSERT INTO user_emails (tenant_id, user_id, value, value_ci, type, is_primary) VALUES ({t}, {id}, {name}, {name}, 'work', true);
{change}
COMMIT;
"#
    )
}

/// The tenants of the create limit: `<prefix>1` … `<prefix><n>`.
pub fn limit_tenants(prefix: &str, n: usize) -> Vec<String> {
    (1..=n).map(|i| format!("{prefix}{i}")).collect()
}

/// The create limit: the least a user create must write, in one
/// transaction, for a tenant drawn at random from `tenants` tenants named
/// `<prefix>1` … `<prefix><tenants>`: the user row (its primary key and
/// `users_user_name` checked, every other index of the table maintained),
/// one email row, and one change record with its tenant's head advanced.
/// No restore probe (a read), and no lock shared by all tenants: a
/// transaction locks its own new rows and its tenant's head row only.
pub fn pgbench_limit_script(prefix: &str, tenants: usize) -> String {
    let t = format!("('{prefix}' || :t::text)");
    let id = "('lim-' || :client_id::text || '-' || :r::text)";
    let name = format!("({id} || '@bench.example.com')");
    let doc = user_document(id, &name);
    let change = change_statement(&t, id, &lit(r#"{"active":true}"#));
    format!(
        r#"\set t random(1, {tenants})
\set r random(1, 9000000000000000000)
BEGIN;
INSERT INTO users (tenant_id, id, user_name, user_name_ci, external_id, display_name, display_name_ci, active, version, created, last_modified, resource) VALUES ({t}, {id}, {name}, {name}, {id}, 'Bench User', 'bench user', true, 1, 1700000000000000, 1700000000000000, {doc});
INSERT INTO user_emails (tenant_id, user_id, value, value_ci, type, is_primary) VALUES ({t}, {id}, {name}, {name}, 'work', true);
{change}
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

/// Runs the create script with `clients` connections for `seconds`, on
/// as many tenants (`<prefix>1` …, provisioned by the caller).
pub async fn pgbench(
    url: &str,
    prefix: &str,
    clients: usize,
    seconds: u64,
    work: &Path,
) -> Result<PgbenchResult, Error> {
    let script = pgbench_script(prefix, clients);
    run_pgbench(url, "pgbench-create-user", &script, clients, seconds, work).await
}

/// Runs `script` (written to `<work>/<name>.sql`, output kept in
/// `<work>/<name>.out`) with `clients` connections on two threads for
/// `seconds`, prepared statements.
pub async fn run_pgbench(
    url: &str,
    name: &str,
    script: &str,
    clients: usize,
    seconds: u64,
    work: &Path,
) -> Result<PgbenchResult, Error> {
    let file = work.join(format!("{name}.sql"));
    std::fs::write(&file, script)?;
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
        .arg(&file)
        .arg(url)
        .output()
        .await
        .map_err(|e| format!("pgbench: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let errors = String::from_utf8_lossy(&out.stderr);
    let log = if name == "pgbench-create-user" {
        "pgbench.out".to_owned()
    } else {
        format!("{name}.out")
    };
    std::fs::write(work.join(log), format!("{text}\n{errors}"))?;
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
        let s = pgbench_script("pgbench-", 24);
        assert!(s.starts_with("\\set t random(1, 24)\n\\set r"));
        assert!(s.contains("('pgbench-' || :t::text)"));
        assert_eq!(s.matches("BEGIN;").count(), 1);
        assert_eq!(s.matches("COMMIT;").count(), 1);
        assert!(s.contains("FOR UPDATE"));
        assert!(s.contains("INSERT INTO changes (tenant_id, seq,"));
        assert!(s.contains(
            "ON CONFLICT (tenant_id) DO UPDATE SET seq = change_heads.seq + excluded.seq"
        ));
        // The global outbox lock is gone from identity.
        assert!(!s.contains("pg_advisory_xact_lock"));
    }

    #[test]
    fn limit_script_writes_the_least_for_a_random_tenant() {
        let s = pgbench_limit_script("lim-", 32);
        assert!(s.starts_with("\\set t random(1, 32)\n"));
        assert_eq!(s.matches("BEGIN;").count(), 1);
        assert_eq!(s.matches("COMMIT;").count(), 1);
        assert_eq!(s.matches("INSERT INTO users ").count(), 1);
        assert_eq!(s.matches("INSERT INTO user_emails ").count(), 1);
        assert_eq!(s.matches("INSERT INTO changes ").count(), 1);
        assert_eq!(s.matches("INSERT INTO change_heads ").count(), 1);
        // No read, and nothing shared by all tenants.
        assert!(!s.contains("SELECT id,"));
        assert!(!s.contains("FOR UPDATE"));
        assert!(!s.contains("advisory"));
        assert!(s.contains("('lim-' || :t::text)"));
        // No variable inside a literal (pgbench would substitute it).
        for line in s.lines().filter(|l| l.starts_with("INSERT")) {
            for lit in line.split("E'").skip(1) {
                let body = lit.split('\'').next().unwrap_or_default();
                assert!(!body.contains(':'), "{body}");
            }
        }
        assert_eq!(limit_tenants("lim-", 3), ["lim-1", "lim-2", "lim-3"]);
    }
}
