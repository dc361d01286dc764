//! Scale curves: tenants of 10k / 100k / 1M users (filter by userName, get
//! by id, list a page, PATCH) and groups of 100 / 10k / 100k members (add
//! one, remove one, read without members), each measured with one client
//! in sequence so the figures are latencies, not queueing. Large tenants
//! are seeded straight into identity's tables (see `pg::seed_users`).

use std::time::{Duration, Instant};

use async_trait::async_trait;
use reqwest::Method;

use super::{Scenario, ScenarioCtx};
use crate::Error;
use crate::client::{Endpoint, Scim};
use crate::pg;
use crate::report::{Curve, Goal, Section};
use crate::stats::Recorder;
use crate::svg::Series;
use crate::systems::provision;
use crate::workload::{
    filter_user_path, group_body, members_body, patch_body, remove_member_filtered, user_body,
};

pub struct ScaleCurves;

const MARKER: &str = "tplmarker0";

#[async_trait]
impl Scenario for ScaleCurves {
    fn id(&self) -> &'static str {
        "scale"
    }

    async fn run(&self, cx: &mut ScenarioCtx<'_>) -> Result<(), Error> {
        let (user_sizes, group_sizes, samples): (&[u64], &[u64], u64) = if cx.quick {
            (&[1_000, 10_000], &[100, 1_000], 60)
        } else {
            (&[10_000, 100_000, 1_000_000], &[100, 10_000, 100_000], 300)
        };
        let (_, db_url) = cx.sys.identity_db.clone().ok_or("no identity database")?;
        let db = pg::pool(&db_url).await?;
        let identity = cx.sys.identity_url.clone().ok_or("no identity")?;
        let gw = cx.sys.gateway_port.ok_or("no gateway")?;
        let mut names: Vec<String> = user_sizes.iter().map(|n| format!("scale-{n}")).collect();
        names.push("scale-tpl".into());
        let mut eps = provision(&identity, gw, &names).await?;
        let tpl_ep = eps.pop().ok_or("no template tenant")?;

        // The template: a user identity itself wrote.
        let setup = Scim::new(Recorder::new())?;
        let tpl = setup
            .call(
                "setup",
                &tpl_ep,
                Method::POST,
                "/Users",
                Some(&user_body(&format!("{MARKER}@bench.example.com"), MARKER)),
                true,
            )
            .await;
        let tpl_id = tpl.id().ok_or("template user not created")?;

        let mut seed = Section::new(
            "prod.scale.seed",
            "Seeding the scale tenants (SQL bulk insert)",
        );
        let rec = Recorder::new();
        let scim = Scim::new(rec.clone())?;
        for (size, ep) in user_sizes.iter().zip(&eps) {
            let secs = pg::seed_users(&db, &ep.tenant, "scale-tpl", &tpl_id, MARKER, *size).await?;
            seed.fact(&format!("seed_{size}_s"), secs);
            let sample = pg::sample_users(&db, &ep.tenant, samples, *size).await?;
            user_ops(&scim, ep, *size, &sample).await;
        }
        cx.report.push(seed);

        // Groups in the largest tenant.
        let big = eps.last().ok_or("no tenant")?.clone();
        let big_size = *user_sizes.last().unwrap_or(&0);
        for size in group_sizes {
            let name = format!("scale-group-{size}");
            let g = setup
                .call(
                    "setup",
                    &big,
                    Method::POST,
                    "/Groups",
                    Some(&group_body(&name)),
                    true,
                )
                .await;
            let gid = g.id().ok_or("group not created")?;
            pg::seed_members(&db, &big.tenant, &gid, (*size).min(big_size)).await?;
            let (members, outside) = pg::sample_members(&db, &big.tenant, &gid, samples).await?;
            group_ops(&scim, &big, &gid, *size, &members, &outside).await;
        }

        let mut s = Section::new(
            "prod.scale",
            "Scale curves (one client, sequential requests)",
        );
        s.ops = rec.summaries();
        s.ops.remove("all");
        let explain = explain_all(&db, &big.tenant, &eps, &tpl_id).await;
        let file = cx.ctx.out.join(format!("explain-{big_size}.txt"));
        if std::fs::write(&file, &explain).is_ok() {
            s.notes.push(format!(
                "EXPLAIN (ANALYZE, BUFFERS) at {big_size} users: bench/{}",
                file.file_name()
                    .map(|f| f.to_string_lossy().to_string())
                    .unwrap_or_default()
            ));
        }
        if let Some(pid) = cx.sys.pid("identity")
            && let Some((hwm, rss)) = crate::procs::memory_mib(pid)
        {
            s.fact("identity_peak_rss_mib", hwm);
            s.fact("identity_rss_mib", rss);
        }
        curves(cx, &s, user_sizes, group_sizes);
        goals(cx, &s, user_sizes, group_sizes);
        cx.report.push(s);

        policy_ingest(cx, &db, &big.tenant, big_size).await?;
        Ok(())
    }
}

fn op(name: &str, size: u64) -> String {
    format!("{name}@{size}")
}

async fn user_ops(scim: &Scim, ep: &Endpoint, size: u64, sample: &[(String, String)]) {
    for (k, (id, user_name)) in sample.iter().enumerate() {
        scim.call(
            &op("users.filter_userName", size),
            ep,
            Method::GET,
            &filter_user_path(user_name),
            None,
            false,
        )
        .await;
        scim.call(
            &op("users.get_by_id", size),
            ep,
            Method::GET,
            &format!("/Users/{id}"),
            None,
            false,
        )
        .await;
        // A page in the middle of the tenant, as an import walks it (fewer
        // samples: a deep page costs a scan up to its offset).
        let start = (k as u64 * 7919) % size.max(1) + 1;
        if k < 60 {
            scim.call(
                &op("users.list_page", size),
                ep,
                Method::GET,
                &format!("/Users?startIndex={start}&count=100"),
                None,
                false,
            )
            .await;
        }
        scim.call(
            &op("users.patch", size),
            ep,
            Method::PATCH,
            &format!("/Users/{id}"),
            Some(&patch_body(k as u64)),
            false,
        )
        .await;
    }
}

async fn group_ops(
    scim: &Scim,
    ep: &Endpoint,
    gid: &str,
    size: u64,
    members: &[String],
    outside: &[String],
) {
    let path = format!("/Groups/{gid}");
    for (k, user) in outside.iter().enumerate() {
        scim.call(
            &op("groups.add_member", size),
            ep,
            Method::PATCH,
            &path,
            Some(&members_body("Add", &[user])),
            false,
        )
        .await;
        if let Some(m) = members.get(k) {
            scim.call(
                &op("groups.remove_member", size),
                ep,
                Method::PATCH,
                &path,
                Some(&remove_member_filtered(m)),
                false,
            )
            .await;
        }
        scim.call(
            &op("groups.get_without_members", size),
            ep,
            Method::GET,
            &format!("{path}?excludedAttributes=members"),
            None,
            false,
        )
        .await;
    }
}

/// The statements behind the curves, as identity issues them, at the
/// largest size.
async fn explain_all(db: &sqlx::PgPool, tenant: &str, _eps: &[Endpoint], _tpl: &str) -> String {
    let cols = "u.id, u.tenant_id, u.user_name, u.external_id, u.active, u.version, u.created, u.last_modified, u.resource";
    let sample = pg::sample_users(db, tenant, 1, 1_000)
        .await
        .unwrap_or_default();
    let (id, name) = sample.first().cloned().unwrap_or_default();
    let statements = [
        (
            "filter userName eq (ListUsers)",
            format!(
                "SELECT {cols}, count(*) OVER () AS total FROM users u WHERE u.tenant_id = $1 AND u.deleted IS NULL AND (u.user_name_ci = $2 AND u.user_name_ci IS NOT NULL) ORDER BY u.created ASC, u.id ASC LIMIT 100 OFFSET 0"
            ),
            vec![tenant.to_owned(), name.to_lowercase()],
        ),
        (
            "get by id (GetUser)",
            format!(
                "SELECT {cols} FROM users u WHERE u.tenant_id = $1 AND u.id = $2 AND u.deleted IS NULL"
            ),
            vec![tenant.to_owned(), id.clone()],
        ),
        (
            "list a page in the middle (ListUsers, startIndex=500000)",
            format!(
                "SELECT {cols}, count(*) OVER () AS total FROM users u WHERE u.tenant_id = $1 AND u.deleted IS NULL ORDER BY u.created ASC, u.id ASC LIMIT 100 OFFSET 499999"
            ),
            vec![tenant.to_owned()],
        ),
        (
            "list the first page (ListUsers)",
            format!(
                "SELECT {cols}, count(*) OVER () AS total FROM users u WHERE u.tenant_id = $1 AND u.deleted IS NULL ORDER BY u.created ASC, u.id ASC LIMIT 100 OFFSET 0"
            ),
            vec![tenant.to_owned()],
        ),
    ];
    let mut out = String::new();
    for (title, sql, params) in statements {
        let p: Vec<&str> = params.iter().map(String::as_str).collect();
        out.push_str(&format!("=== {title}\n{sql}\n\n"));
        match pg::explain(db, &sql, &p).await {
            Ok(plan) => out.push_str(&plan),
            Err(e) => out.push_str(&format!("failed: {e}")),
        }
        out.push_str("\n\n");
    }
    out
}

fn series(s: &Section, name: &str, sizes: &[u64], label: &str) -> Vec<Series> {
    let pick = |f: fn(&crate::stats::Summary) -> f64, suffix: &str| Series {
        name: format!("{label} {suffix}"),
        points: sizes
            .iter()
            .filter_map(|n| s.ops.get(&op(name, *n)).map(|x| (*n as f64, f(x))))
            .collect(),
    };
    vec![pick(|x| x.p50_ms, "p50"), pick(|x| x.p99_ms, "p99")]
}

fn curves(cx: &mut ScenarioCtx<'_>, s: &Section, users: &[u64], groups: &[u64]) {
    let mut u = Vec::new();
    for (name, label) in [
        ("users.filter_userName", "filter"),
        ("users.get_by_id", "get"),
        ("users.list_page", "page"),
        ("users.patch", "PATCH"),
    ] {
        u.extend(series(s, name, users, label));
    }
    cx.report.curves.push(Curve {
        id: "scale-users".into(),
        title: "Users: latency by tenant size".into(),
        x_label: "users in the tenant".into(),
        y_label: "ms".into(),
        series: u,
    });
    let mut g = Vec::new();
    for (name, label) in [
        ("groups.add_member", "add one"),
        ("groups.remove_member", "remove one"),
        ("groups.get_without_members", "read w/o members"),
    ] {
        g.extend(series(s, name, groups, label));
    }
    cx.report.curves.push(Curve {
        id: "scale-groups".into(),
        title: "Groups: latency by group size".into(),
        x_label: "members in the group".into(),
        y_label: "ms".into(),
        series: g,
    });
}

fn goals(cx: &mut ScenarioCtx<'_>, s: &Section, users: &[u64], groups: &[u64]) {
    let ratio = |name: &str,
                 sizes: &[u64],
                 q: fn(&crate::stats::Summary) -> f64|
     -> Option<(f64, f64, f64)> {
        let a = q(s.ops.get(&op(name, *sizes.first()?))?);
        let b = q(s.ops.get(&op(name, *sizes.last()?))?);
        Some((a, b, b / a))
    };
    let (lo, hi) = (
        users.first().copied().unwrap_or(0),
        users.last().copied().unwrap_or(0),
    );
    if let Some((a, b, r)) = ratio("users.filter_userName", users, |x| x.p99_ms) {
        cx.report.goals.push(Goal {
            goal: format!("filter by userName p99 at {hi} users ≤ 1.5 × at {lo}"),
            measured: format!("{b:.2} ms vs {a:.2} ms = {r:.2}×"),
            met: Some(r <= 1.5),
        });
    }
    let (lo, hi) = (
        groups.first().copied().unwrap_or(0),
        groups.last().copied().unwrap_or(0),
    );
    for (q, qn) in [(0.5, "p50"), (0.99, "p99")] {
        let f: fn(&crate::stats::Summary) -> f64 =
            if q < 0.9 { |x| x.p50_ms } else { |x| x.p99_ms };
        if let Some((a, b, r)) = ratio("groups.add_member", groups, f) {
            cx.report.goals.push(Goal {
                goal: format!("add one member, {hi}-member group ≤ 1.5 × {lo}-member group ({qn})"),
                measured: format!("{b:.2} ms vs {a:.2} ms = {r:.2}×"),
                met: Some(r <= 1.5),
            });
        }
    }
}

/// Lets policy follow the largest tenant's users (change records appended
/// for them) and reports how fast it catches up and its memory after.
async fn policy_ingest(
    cx: &mut ScenarioCtx<'_>,
    db: &sqlx::PgPool,
    tenant: &str,
    size: u64,
) -> Result<(), Error> {
    let Some((_, policy_db)) = cx.sys.policy_db.clone() else {
        return Ok(());
    };
    let pdb = pg::pool(&policy_db).await?;
    let mut s = Section::new(
        "prod.scale.policy_ingest",
        &format!("policy following a {size}-user tenant's change records"),
    );
    let n = pg::seed_change_records(db, tenant).await?;
    let target: i64 = sqlx::query_scalar("SELECT max(seq) FROM changes")
        .fetch_one(db)
        .await?;
    let started = Instant::now();
    let cap = Duration::from_secs(if cx.quick { 60 } else { 300 });
    let mut cursor = 0i64;
    while started.elapsed() < cap {
        cursor = sqlx::query_scalar("SELECT seq FROM stream_cursor WHERE id = 1")
            .fetch_one(&pdb)
            .await
            .unwrap_or(0);
        if cursor >= target {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let secs = started.elapsed().as_secs_f64();
    let behind = (target - cursor).max(0);
    let done = n as i64 - behind.min(n as i64);
    s.fact("change_records", n as f64);
    s.fact("applied", done as f64);
    s.fact("seconds", secs);
    s.fact("changes_per_s", done as f64 / secs.max(0.001));
    s.fact("caught_up", behind == 0);
    if let Some(pid) = cx.sys.pid("policy")
        && let Some((hwm, rss)) = crate::procs::memory_mib(pid)
    {
        s.fact("policy_peak_rss_mib", hwm);
        s.fact("policy_rss_mib", rss);
    }
    if let Some(pid) = cx.sys.pid("identity")
        && let Some((hwm, _)) = crate::procs::memory_mib(pid)
    {
        s.fact("identity_peak_rss_mib", hwm);
    }
    cx.report.push(s);
    Ok(())
}
