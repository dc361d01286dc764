//! Scale curves: tenants of 10k / 100k / 1M users (filter by userName, get
//! by id, list a page, PATCH) and groups of 100 / 10k / 100k members (add
//! one, remove one, read without members), each measured with one client
//! in sequence so the figures are latencies, not queueing. Large tenants
//! are seeded straight into identity's tables (see `pg::seed_users`).
//! The largest tenant is also walked page by page by `startIndex` (as an
//! Okta import does), every page timed and its `totalResults` checked,
//! against the first page of the smallest tenant.

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

        // The sequential walk of the largest tenant, against the first
        // page of the smallest.
        let (small, small_size) = (eps.first().ok_or("no tenant")?, user_sizes[0]);
        first_pages(&scim, small, small_size, 60).await;
        let big_size = *user_sizes.last().unwrap_or(&0);
        let cap = Duration::from_secs(if cx.quick { 120 } else { 600 });
        let walked = walk(
            &scim,
            eps.last().ok_or("no tenant")?,
            big_size,
            cap,
            &cx.ctx.work,
        )
        .await;

        // Groups in the largest tenant.
        let big = eps.last().ok_or("no tenant")?.clone();
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
        walk_report(cx, &mut s, &walked, small_size, big_size);
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
    let only = [tenant.to_owned()];
    let started = Instant::now();
    let cap = Duration::from_secs(if cx.quick { 60 } else { 300 });
    let mut behind = i64::try_from(n)?;
    while started.elapsed() < cap {
        behind = pg::policy_behind(db, &pdb, &only).await.unwrap_or(behind);
        if behind == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let secs = started.elapsed().as_secs_f64();
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

/// First pages of a tenant, `samples` times: the reference of the walk.
async fn first_pages(scim: &Scim, ep: &Endpoint, size: u64, samples: usize) {
    for _ in 0..samples {
        scim.call(
            &op("users.first_page", size),
            ep,
            Method::GET,
            "/Users?startIndex=1&count=100",
            None,
            false,
        )
        .await;
    }
}

/// A sequential walk's pages.
#[derive(Debug, Default)]
struct Walk {
    /// Latency of every page in order, ms.
    ms: Vec<f64>,
    /// Pages whose `totalResults` was not the tenant's size, whose number
    /// of resources was not what the page should hold, or that failed.
    mismatches: u64,
    http_errors: u64,
    /// Users seen twice over the walk (by a 64-bit hash of the id).
    duplicates: u64,
    capped: bool,
    seconds: f64,
    file: Option<std::path::PathBuf>,
}

/// Walks a `size`-user tenant from `startIndex=1` by `count=100` to its
/// end, or until `cap`, checking each page (see [`Walk`]). Every page's
/// latency is written to `<work>/walk-<size>.tsv`.
async fn walk(
    scim: &Scim,
    ep: &Endpoint,
    size: u64,
    cap: Duration,
    work: &std::path::Path,
) -> Walk {
    use std::hash::{Hash, Hasher};
    const PAGE: u64 = 100;
    let mut w = Walk::default();
    let mut seen = std::collections::HashSet::with_capacity(size as usize);
    let started = Instant::now();
    let mut start = 1u64;
    while start <= size {
        if started.elapsed() > cap {
            w.capped = true;
            break;
        }
        let r = scim
            .call(
                &op("users.walk_page", size),
                ep,
                Method::GET,
                &format!("/Users?startIndex={start}&count={PAGE}"),
                None,
                true,
            )
            .await;
        w.ms.push(r.took.as_secs_f64() * 1000.0);
        if !r.ok() {
            w.http_errors += 1;
        }
        let body = r.body.unwrap_or_default();
        let total = body["totalResults"].as_u64();
        let resources = body["Resources"].as_array().cloned().unwrap_or_default();
        let expect = PAGE.min(size - start + 1);
        if total != Some(size) || resources.len() as u64 != expect {
            w.mismatches += 1;
        }
        for u in &resources {
            let mut h = std::collections::hash_map::DefaultHasher::new();
            u["id"].as_str().unwrap_or_default().hash(&mut h);
            if !seen.insert(h.finish()) {
                w.duplicates += 1;
            }
        }
        start += PAGE;
    }
    w.seconds = started.elapsed().as_secs_f64();
    let file = work.join(format!("walk-{size}.tsv"));
    let tsv: String =
        w.ms.iter()
            .enumerate()
            .map(|(k, ms)| format!("{}\t{ms:.3}\n", k as u64 * PAGE + 1))
            .collect();
    if std::fs::write(&file, format!("start_index\tms\n{tsv}")).is_ok() {
        w.file = Some(file);
    }
    w
}

/// The walk's figures, chart and goal.
fn walk_report(cx: &mut ScenarioCtx<'_>, s: &mut Section, w: &Walk, small: u64, big: u64) {
    let mut sorted = w.ms.clone();
    sorted.sort_by(f64::total_cmp);
    let q = |v: &[f64], p: f64| crate::stats::percentile(v, p);
    // The last 1,000 pages, or the last tenth of a shorter walk.
    let tail_n = if w.ms.len() >= 10_000 {
        1_000
    } else {
        (w.ms.len() / 10).max(1)
    };
    let mut tail: Vec<f64> = w.ms[w.ms.len().saturating_sub(tail_n)..].to_vec();
    tail.sort_by(f64::total_cmp);
    let reference = s.ops.get(&op("users.first_page", small)).map(|x| x.p50_ms);
    let errors = w.mismatches + w.http_errors + w.duplicates;
    s.fact("walk_tenant_users", big as f64);
    s.fact("walk_pages", w.ms.len() as f64);
    s.fact("walk_pages_expected", big.div_ceil(100) as f64);
    s.fact("walk_seconds", w.seconds);
    s.fact("walk_capped", w.capped);
    s.fact("walk_p50_ms", q(&sorted, 0.5));
    s.fact("walk_p99_ms", q(&sorted, 0.99));
    s.fact("walk_max_ms", sorted.last().copied().unwrap_or(0.0));
    s.fact("walk_tail_pages", tail_n as f64);
    s.fact("walk_tail_p50_ms", q(&tail, 0.5));
    s.fact("walk_total_mismatches", w.mismatches as f64);
    s.fact("walk_duplicates", w.duplicates as f64);
    s.fact("walk_errors", errors as f64);
    if let Some(r) = reference {
        s.fact(&format!("first_page_p50_ms_at_{small}"), r);
    }
    if let Some(f) = &w.file {
        s.notes.push(format!(
            "every page of the walk of the {big}-user tenant: {}",
            f.display()
        ));
    }
    // Chart: p50 and max per 100 pages, and the goal's bound.
    let mut p50 = Vec::new();
    let mut max = Vec::new();
    for (k, chunk) in w.ms.chunks(100).enumerate() {
        let mut c = chunk.to_vec();
        c.sort_by(f64::total_cmp);
        let x = (k * 100 * 100 + 1) as f64;
        p50.push((x, q(&c, 0.5)));
        max.push((x, c.last().copied().unwrap_or(0.0)));
    }
    let mut series = vec![
        Series {
            name: "page p50 (per 100 pages)".into(),
            points: p50,
        },
        Series {
            name: "page max (per 100 pages)".into(),
            points: max,
        },
    ];
    if let Some(r) = reference {
        series.push(Series {
            name: format!("3 × first page at {small}"),
            points: vec![(1.0, 3.0 * r), (big.max(2) as f64, 3.0 * r)],
        });
    }
    cx.report.curves.push(Curve {
        id: "scale-walk".into(),
        title: format!("Walking {big} users by startIndex, count=100"),
        x_label: "startIndex".into(),
        y_label: "ms".into(),
        series,
    });
    let (walk_p50, tail_p50) = (q(&sorted, 0.5), q(&tail, 0.5));
    cx.report.goals.push(Goal {
        goal: format!(
            "walking {big} users by startIndex: page p50 (whole walk and last {tail_n} pages) ≤ 3 × the first page at {small} users, totalResults right on every page"
        ),
        measured: match reference {
            Some(r) => format!(
                "{} of {} pages{}; p50 {walk_p50:.2} ms, last {tail_n} p50 {tail_p50:.2} ms, p99 {:.2}, max {:.1} vs first page {r:.2} ms = {:.2}× / {:.2}×; {errors} errors",
                w.ms.len(),
                big.div_ceil(100),
                if w.capped { " (stopped at the time cap)" } else { "" },
                q(&sorted, 0.99),
                sorted.last().copied().unwrap_or(0.0),
                walk_p50 / r,
                tail_p50 / r,
            ),
            None => "reference not measured".into(),
        },
        met: reference.map(|r| {
            !w.capped && errors == 0 && walk_p50 <= 3.0 * r && tail_p50 <= 3.0 * r
        }),
    });
}
