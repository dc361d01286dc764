//! One `make bench` run: every system in turn on the same workload, the
//! limits measured in the same run, the production-only scenarios, then
//! the goals and the report.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::Error;
use crate::client::Scim;
use crate::pg;
use crate::procs::{self, Watched};
use crate::report::{Goal, Report, Section};
use crate::scenarios::{self, ScenarioCtx};
use crate::stats::Recorder;
use crate::systems::{self, Ctx, System};
use crate::workload::{self, TenantState, UserRef, Workload};

/// Everything `bench run` accepts.
#[derive(Debug, Clone, clap::Args)]
pub struct RunArgs {
    /// Small sizes and short windows, for development (about 3 minutes).
    #[arg(long)]
    pub quick: bool,
    /// Where results, charts and profiles are written.
    #[arg(long, default_value = "bench")]
    pub out: PathBuf,
    /// Where the release binaries are.
    #[arg(long, default_value = "target/release")]
    pub bins: PathBuf,
    /// Systems to run (default all): prod, hop, local, scim2-server, polis-mem, polis-pg.
    #[arg(long, value_delimiter = ',')]
    pub systems: Vec<String>,
    /// Production scenarios to run (default all): see `scenarios::registry`;
    /// `local_growth` runs on the local system.
    #[arg(long, value_delimiter = ',')]
    pub scenarios: Vec<String>,
    /// Record perf profiles of the services during the mixed load.
    #[arg(long)]
    pub profile: bool,
    /// Keep the run's databases (for EXPLAIN by hand).
    #[arg(long)]
    pub keep_dbs: bool,
    /// Extra service environment, `SERVICE:KEY=VALUE` (repeatable), e.g.
    /// `identity:DATABASE_MAX_CONNECTIONS=20`.
    #[arg(long = "env")]
    pub env: Vec<String>,
    /// Override the number of tenants of the provisioning workload.
    #[arg(long)]
    pub tenants: Option<usize>,
    /// Override users per tenant of the provisioning workload.
    #[arg(long)]
    pub users: Option<usize>,
}

impl RunArgs {
    fn wants(&self, system: &str) -> bool {
        self.systems.is_empty() || self.systems.iter().any(|s| s == system)
    }

    fn workload(&self) -> Workload {
        let (tenants, users, groups, members) = if self.quick {
            (6, 60, 3, 20)
        } else {
            (24, 250, 5, 60)
        };
        Workload {
            tenants: self.tenants.unwrap_or(tenants),
            users: self.users.unwrap_or(users),
            groups,
            members_per_group: members,
            batch: 10,
            page: 100,
            phase_cap: Duration::from_secs(if self.quick { 60 } else { 240 }),
        }
    }

    fn burst(&self) -> Duration {
        Duration::from_secs(if self.quick { 4 } else { 15 })
    }
}

/// CPU and memory of `watched` (and the bench itself) around `body`.
pub async fn measure<F, Fut, T>(
    watched: &Watched,
    ticks: f64,
    id: &str,
    title: &str,
    body: F,
) -> Result<(Section, T), Error>
where
    F: FnOnce(Scim) -> Fut,
    Fut: std::future::Future<Output = T>,
{
    let rec = Recorder::new();
    let scim = Scim::new(rec.clone())?;
    let mark = watched.mark(ticks);
    let me = procs::cpu_seconds(std::process::id(), ticks);
    let out = body(scim).await;
    let mut s = Section::new(id, title);
    s.ops = rec.summaries();
    let mut r = watched.since(&mark, ticks, rec.total());
    if let (Some(a), Some(b)) = (me, procs::cpu_seconds(std::process::id(), ticks)) {
        r.cpu_s.insert("bench (client)".into(), b - a);
        if rec.total() > 0 {
            r.cpu_s_per_1k.insert(
                "bench (client)".into(),
                (b - a) * 1000.0 / rec.total() as f64,
            );
        }
    }
    s.resources = Some(r);
    Ok((s, out))
}

fn machine(report: &mut Report) {
    let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
    let cpuinfo = read("/proc/cpuinfo");
    let model = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split(':').nth(1))
        .unwrap_or("")
        .trim()
        .to_owned();
    let cores = cpuinfo
        .lines()
        .filter(|l| l.starts_with("processor"))
        .count();
    let mem = read("/proc/meminfo")
        .lines()
        .next()
        .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        .map_or(String::new(), |kib| {
            format!("{:.1} GiB", kib / 1024.0 / 1024.0)
        });
    let m = &mut report.machine;
    m.insert("cpu".into(), format!("{cores} × {model}"));
    m.insert("memory".into(), mem);
    m.insert(
        "kernel".into(),
        read("/proc/sys/kernel/osrelease").trim().to_owned(),
    );
    m.insert("load average at start".into(), procs::loadavg());
}

fn states(sys: &System, run: &str) -> Vec<TenantState> {
    sys.endpoints
        .iter()
        .enumerate()
        .map(|(i, ep)| TenantState::new(ep.clone(), i, run))
        .collect()
}

/// The provisioning workload and a create burst on one system.
async fn standard(
    sys: &mut System,
    ctx: &Ctx,
    args: &RunArgs,
    report: &mut Report,
) -> Result<Vec<TenantState>, Error> {
    let w = args.workload();
    let run = format!("{}-{}", ctx.run_id, sys.name);
    let st = states(sys, &run);
    let started = Instant::now();
    let (mut s, st) = measure(
        &sys.watched,
        ctx.ticks,
        &format!("{}.provisioning", sys.name),
        &format!("Provisioning cycle on {}", sys.name),
        |scim| {
            let w = w.clone();
            async move { workload::provisioning(&scim, st, &w).await }
        },
    )
    .await?;
    s.fact("tenants (concurrency)", w.tenants as f64);
    s.fact("users per tenant", w.users as f64);
    s.fact("groups per tenant", w.groups as f64);
    s.fact("members per group", w.members_per_group as f64);
    s.fact("wall seconds", started.elapsed().as_secs_f64());
    let provisioned: usize = st.iter().map(|t| t.users.len()).sum();
    s.fact("users provisioned", provisioned as f64);
    report.push(s);
    sys.check()?;

    let burst = args.burst();
    let (mut b, st) = measure(
        &sys.watched,
        ctx.ticks,
        &format!("{}.burst_create", sys.name),
        &format!("Create burst on {}", sys.name),
        |scim| {
            let until = Instant::now() + burst;
            async move {
                workload::each_tenant(st, move |mut t| {
                    let scim = scim.clone();
                    async move {
                        workload::create_burst(&scim, &mut t, until).await;
                        t
                    }
                })
                .await
            }
        },
    )
    .await?;
    b.fact("concurrency", w.tenants as f64);
    b.fact("seconds", burst.as_secs_f64());
    report.push(b);
    sys.check()?;
    Ok(st)
}

/// The bare hop: the gateway in front of the stub, creates and reads.
async fn hop(ctx: &Ctx, args: &RunArgs, report: &mut Report) -> Result<(), Error> {
    let w = args.workload();
    let mut sys = systems::hop(ctx, w.tenants).await?;
    let mut st = states(&sys, "hop");
    for t in &mut st {
        t.users.push(UserRef {
            id: crate::stub::user_id().to_owned(),
            user_name: "hop-user@bench.example.com".into(),
            active: true,
        });
    }
    let burst = args.burst();
    let (mut s, st) = measure(
        &sys.watched,
        ctx.ticks,
        "hop.burst_create",
        "Bare hop: create through the gateway to a stub identity",
        |scim| {
            let until = Instant::now() + burst;
            async move {
                workload::each_tenant(st, move |mut t| {
                    let scim = scim.clone();
                    async move {
                        workload::create_burst(&scim, &mut t, until).await;
                        t
                    }
                })
                .await
            }
        },
    )
    .await?;
    s.fact("concurrency", w.tenants as f64);
    report.push(s);
    let (mut s, _) = measure(
        &sys.watched,
        ctx.ticks,
        "hop.burst_get",
        "Bare hop: GET /Users/{id} through the gateway to a stub identity",
        |scim| {
            let until = Instant::now() + burst;
            async move {
                workload::each_tenant(st, move |mut t| {
                    let scim = scim.clone();
                    async move {
                        workload::read_burst(&scim, &mut t, until).await;
                        t
                    }
                })
                .await
            }
        },
    )
    .await?;
    s.fact("concurrency", w.tenants as f64);
    report.push(s);
    sys.check()?;
    sys.stop(true).await;
    Ok(())
}

/// The production topology: workload, Postgres limit, scenarios.
async fn production(ctx: &Ctx, args: &RunArgs, report: &mut Report) -> Result<(), Error> {
    let w = args.workload();
    let names: Vec<String> = (0..w.tenants).map(|i| format!("bench-{i}")).collect();
    let mut sys = systems::production(ctx, &names).await?;
    let result = production_steps(&mut sys, ctx, args, report).await;
    sys.stop(args.keep_dbs).await;
    result
}

async fn production_steps(
    sys: &mut System,
    ctx: &Ctx,
    args: &RunArgs,
    report: &mut Report,
) -> Result<(), Error> {
    let w = args.workload();
    let tenants = standard(sys, ctx, args, report).await?;

    // The Postgres limit: the same statements as a create, same concurrency.
    if let (Some((_, url)), Some(identity)) = (sys.identity_db.clone(), sys.identity_url.clone()) {
        let gw = sys.gateway_port.unwrap_or(0);
        // One tenant per client, as the create burst has.
        systems::provision(&identity, gw, &pg::limit_tenants("pgbench-", w.tenants)).await?;
        let mut s = Section::new(
            "limit.pgbench_create",
            "Postgres limit: a user create's statements in pgbench",
        );
        match pg::pgbench(
            &url,
            "pgbench-",
            w.tenants,
            args.burst().as_secs(),
            &ctx.work,
        )
        .await
        {
            Ok(r) => {
                s.fact("clients", r.clients as f64);
                s.fact("seconds", r.seconds as f64);
                s.fact("tps", r.tps);
                s.fact("latency_avg_ms", r.latency_avg_ms);
                s.fact("failed", r.failed as f64);
                s.notes.push(format!(
                    "script: {}",
                    ctx.work.join("pgbench-create-user.sql").display()
                ));
            }
            Err(e) => s.notes.push(format!("pgbench failed: {e}")),
        }
        report.push(s);
    }

    let wanted = |id: &str| args.scenarios.is_empty() || args.scenarios.iter().any(|s| s == id);
    let mut cx = ScenarioCtx {
        ctx,
        sys,
        tenants,
        quick: args.quick,
        profile: args.profile,
        report,
    };
    for sc in scenarios::registry() {
        if !wanted(sc.id()) {
            continue;
        }
        eprintln!("bench: scenario {}", sc.id());
        if let Err(e) = sc.run(&mut cx).await {
            cx.report
                .failures
                .push(format!("scenario {}: {e}", sc.id()));
        }
        if let Err(e) = cx.sys.check() {
            cx.report
                .failures
                .push(format!("after scenario {}: {e}", sc.id()));
            break;
        }
    }
    // Peak memory over the whole run, per process.
    let mut s = Section::new(
        "prod.memory",
        "Peak resident memory over the production run (VmHWM)",
    );
    for svc in &cx.sys.services {
        if let Some((hwm, rss)) = procs::memory_mib(svc.pid) {
            s.fact(&format!("{}_peak_rss_mib", svc.name), hwm);
            s.fact(&format!("{}_rss_mib_at_end", svc.name), rss);
        }
    }
    cx.report.push(s);
    Ok(())
}

async fn other(ctx: &Ctx, args: &RunArgs, report: &mut Report, name: &str) -> Result<(), Error> {
    let w = args.workload();
    let names: Vec<String> = (0..w.tenants).map(|i| format!("bench-{i}")).collect();
    let mut sys = match name {
        "local" => systems::local(ctx, &names).await?,
        "scim2-server" => systems::scim2_server(ctx, w.tenants).await?,
        "polis-mem" => systems::polis(ctx, w.tenants, false).await?,
        "polis-pg" => systems::polis(ctx, w.tenants, true).await?,
        _ => return Err(format!("unknown system {name}").into()),
    };
    let mut result = standard(&mut sys, ctx, args, report).await.map(|_| ());
    // make run's create rate as one tenant grows (scenarios::growth).
    let growth =
        args.scenarios.is_empty() || args.scenarios.iter().any(|s| s == scenarios::growth::ID);
    if name == "local" && growth && result.is_ok() {
        result = scenarios::growth::local_creates(&sys, ctx, args.quick, report).await;
    }
    let mut s = Section::new(
        &format!("{name}.memory"),
        &format!("Peak resident memory of {name}"),
    );
    for svc in &sys.services {
        if let Some((hwm, _)) = procs::memory_mib(svc.pid) {
            s.fact(&format!("{}_peak_rss_mib", svc.name), hwm);
        }
    }
    report.push(s);
    sys.stop(args.keep_dbs).await;
    result
}

/// The whole run.
pub async fn run(args: RunArgs, command: String) -> Result<Report, Error> {
    let started = Instant::now();
    let run_id = format!("{}", time::OffsetDateTime::now_utc().unix_timestamp());
    let work = PathBuf::from("/var/tmp/scim-bench").join(format!("run-{run_id}"));
    std::fs::create_dir_all(&work)?;
    std::fs::create_dir_all(&args.out)?;
    let env = args
        .env
        .iter()
        .filter_map(|e| {
            let (svc, kv) = e.split_once(':')?;
            let (k, v) = kv.split_once('=')?;
            Some((svc.to_owned(), k.to_owned(), v.to_owned()))
        })
        .collect();
    let redis = tokio::net::TcpStream::connect("127.0.0.1:6379")
        .await
        .is_ok();
    let ctx = Ctx {
        bins: args.bins.clone(),
        work: work.clone(),
        out: args.out.clone(),
        peers: PathBuf::from("/var/tmp/scim-bench"),
        run_id,
        ticks: procs::clock_ticks(),
        env,
        redis_url: redis.then(|| "redis://127.0.0.1:6379".to_owned()),
    };
    let mut report = Report {
        command,
        started: time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default(),
        ..Report::default()
    };
    machine(&mut report);
    report
        .machine
        .insert("scratch".into(), work.display().to_string());

    let order = [
        "prod",
        "hop",
        "local",
        "scim2-server",
        "polis-mem",
        "polis-pg",
    ];
    for name in order {
        if !args.wants(name) {
            continue;
        }
        eprintln!(
            "bench: {name} ({:.0} s so far)",
            started.elapsed().as_secs_f64()
        );
        let r = match name {
            "prod" => production(&ctx, &args, &mut report).await,
            "hop" => hop(&ctx, &args, &mut report).await,
            other_name => other(&ctx, &args, &mut report, other_name).await,
        };
        if let Err(e) = r {
            eprintln!("bench: {name} failed: {e}");
            report.failures.push(format!("{name}: {e}"));
        }
    }
    goals(&mut report);
    report
        .machine
        .insert("load average at end".into(), procs::loadavg());
    report.seconds = started.elapsed().as_secs_f64();
    report.write(&args.out)?;
    Ok(report)
}

fn all(r: &Report, id: &str) -> Option<(f64, f64)> {
    let s = r.section(id)?;
    let a = s.ops.get("all")?;
    Some((a.throughput, a.p99_ms))
}

/// Issue 7's goals (and issue 3's deactivation goal) from the sections.
fn goals(r: &mut Report) {
    let mut goals = Vec::new();
    let create = r
        .section("prod.burst_create")
        .and_then(|s| s.ops.get("burst.create_user"))
        .map(|x| x.throughput);
    let pg_tps = r.section("limit.pgbench_create").and_then(|s| s.num("tps"));
    if let (Some(c), Some(p)) = (create, pg_tps) {
        goals.push(Goal {
            goal: "creates through the production path ≥ 40 % of the Postgres limit".into(),
            measured: format!("{c:.0}/s vs pgbench {p:.0} tps = {:.0} %", c / p * 100.0),
            met: Some(c / p >= 0.4),
        });
    }
    let ours = all(r, "prod.provisioning");
    for (peer, factor) in [("scim2-server", 5.0), ("polis-mem", 2.0), ("polis-pg", 2.0)] {
        let id = format!("{peer}.provisioning");
        match (ours, all(r, &id)) {
            (Some((t, p99)), Some((pt, pp99))) => goals.push(Goal {
                goal: format!("≥ {factor}× the throughput of {peer} with a lower p99 (same workload and concurrency)"),
                measured: format!("{t:.0} vs {pt:.0} req/s = {:.1}×; p99 {p99:.1} vs {pp99:.1} ms", t / pt),
                met: Some(t / pt >= factor && p99 < pp99),
            }),
            _ => goals.push(Goal {
                goal: format!("≥ {factor}× the throughput of {peer}"),
                measured: "peer not measured".into(),
                met: None,
            }),
        }
    }
    for (suffix, load) in [
        ("_paced", "mixed load at 10 req/s per tenant"),
        ("", "saturating mixed load"),
    ] {
        if let Some(s) = r.section(&format!("prod.deactivation_to_disabled{suffix}"))
            && let (Some(p50), Some(p99)) = (s.num("p50_ms"), s.num("p99_ms"))
        {
            let missing = s.num("missing_after_5s").unwrap_or(0.0);
            goals.push(Goal {
                goal: format!("deactivation → Disabled on WatchRoleChanges p99 < 1 s ({load})"),
                measured: format!("p50 {p50:.1} ms, p99 {p99:.1} ms, {missing:.0} missing"),
                met: Some(p99 < 1000.0 && missing == 0.0),
            });
        }
    }
    if let Some(s) = r.section("prod.memory") {
        if let Some(gw) = s.num("gateway_peak_rss_mib") {
            goals.push(Goal {
                goal: "gateway resident memory < 50 MB under load".into(),
                measured: format!("peak {gw:.1} MiB"),
                met: Some(gw * 1.048_576 < 50.0),
            });
        }
        let big = r.section("prod.scale").and_then(|s| {
            s.ops
                .keys()
                .filter_map(|k| k.split('@').nth(1)?.parse::<u64>().ok())
                .max()
        });
        for svc in ["identity", "policy"] {
            if let Some(m) = s.num(&format!("{svc}_peak_rss_mib")) {
                goals.push(Goal {
                    goal: format!(
                        "{svc} resident memory < 150 MB with a {}-user tenant",
                        big.unwrap_or(0)
                    ),
                    measured: format!("peak {m:.1} MiB"),
                    met: Some(m * 1.048_576 < 150.0),
                });
            }
        }
    }
    r.goals.extend(goals);
    let mut bars = Vec::new();
    for id in ["prod", "local", "scim2-server", "polis-mem", "polis-pg"] {
        if let Some((t, _)) = all(r, &format!("{id}.provisioning")) {
            bars.push((id.to_owned(), t));
        }
    }
    if !bars.is_empty() {
        r.bars.push((
            "provisioning-throughput".into(),
            "Provisioning workload: requests per second".into(),
            bars,
        ));
    }
    let mut bars = Vec::new();
    for id in [
        "prod",
        "hop",
        "local",
        "scim2-server",
        "polis-mem",
        "polis-pg",
    ] {
        if let Some(x) = r
            .section(&format!("{id}.burst_create"))
            .and_then(|s| s.ops.get("burst.create_user"))
        {
            bars.push((id.to_owned(), x.throughput));
        }
    }
    if let Some(p) = r.section("limit.pgbench_create").and_then(|s| s.num("tps")) {
        bars.push(("postgres (pgbench)".into(), p));
    }
    if !bars.is_empty() {
        r.bars.push((
            "create-throughput".into(),
            "User creates per second (same concurrency)".into(),
            bars,
        ));
    }
}
