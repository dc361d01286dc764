//! The create limit and the production path against it at 64 clients
//! across 32 tenants.
//!
//! The limit: `pgbench -c 64 -j 2` running the least a user create must
//! write (`pg::pgbench_limit_script`: the user row, one email row, one
//! change record with its tenant's head advanced, one transaction, the
//! tenant drawn at random from 32, no lock shared by all tenants) in
//! identity's database. Then, in the same run, the production topology
//! with 64 clients (two per tenant) for one window each of creates,
//! attribute PATCHes, GETs by id and `userName eq` filters, each window
//! measured with the CPU of every process (Postgres included) so that the
//! server's CPU per request can be set against its goal.

use std::time::{Duration, Instant};

use async_trait::async_trait;
use reqwest::Method;

use super::{Scenario, ScenarioCtx};
use crate::Error;
use crate::client::{Endpoint, Scim};
use crate::pg;
use crate::report::{Goal, Section};
use crate::systems::{default_role, provision};
use crate::workload::{Rng, filter_user_path, patch_body, user_body};

pub struct CreateLimit;

/// Tenants of the limit and of the HTTP windows.
pub const TENANTS: usize = 32;
/// Clients of the limit and of the HTTP windows (two per tenant).
pub const CLIENTS: usize = 64;

/// CPU goals, milliseconds of server CPU (every process) per request.
const CREATE_CPU_MS: f64 = 0.8;
const READ_CPU_MS: f64 = 0.4;
/// Creates through the production path against the limit.
const CREATE_SHARE: f64 = 0.35;

#[async_trait]
impl Scenario for CreateLimit {
    fn id(&self) -> &'static str {
        "create_limit"
    }

    async fn run(&self, cx: &mut ScenarioCtx<'_>) -> Result<(), Error> {
        let secs: u64 = if cx.quick { 4 } else { 15 };
        let (_, db_url) = cx.sys.identity_db.clone().ok_or("no identity database")?;
        let identity = cx.sys.identity_url.clone().ok_or("no identity")?;
        let gw = cx.sys.gateway_port.ok_or("no gateway")?;
        let db = pg::pool(&db_url).await?;
        let pdb = match cx.sys.policy_db.clone() {
            Some((_, url)) => Some(pg::pool(&url).await?),
            None => None,
        };

        // The limit, on tenants of its own.
        let lim_tenants = pg::limit_tenants("lim-", TENANTS);
        provision(&identity, gw, &lim_tenants).await?;
        let mut s = Section::new(
            "limit.create_c64",
            &format!(
                "The create limit: the least a create must write, pgbench -c {CLIENTS} across {TENANTS} tenants"
            ),
        );
        let script = pg::pgbench_limit_script("lim-", TENANTS);
        match pg::run_pgbench(
            &db_url,
            "pgbench-create-limit",
            &script,
            CLIENTS,
            secs,
            &cx.ctx.work,
        )
        .await
        {
            Ok(r) => {
                s.fact("clients", r.clients as f64);
                s.fact("tenants", TENANTS as f64);
                s.fact("seconds", r.seconds as f64);
                s.fact("tps", r.tps);
                s.fact("latency_avg_ms", r.latency_avg_ms);
                s.fact("failed", r.failed as f64);
            }
            Err(e) => s.notes.push(format!("pgbench failed: {e}")),
        }
        s.notes.push(format!(
            "script: {} (user row, one email row, one change record with its tenant's head advanced; \
             tenant random of {TENANTS}; -M prepared -j 2)",
            cx.ctx.work.join("pgbench-create-limit.sql").display()
        ));
        let limit = s.num("tps");
        cx.report.push(s);
        // policy follows the limit's change records too: let it finish
        // before the windows, so that its work is not counted in theirs.
        if let Some(pdb) = &pdb {
            settle(
                &db,
                pdb,
                &[],
                Duration::from_secs(if cx.quick { 60 } else { 120 }),
            )
            .await;
        }

        // The HTTP windows, on 32 fresh tenants with a default role.
        let names: Vec<String> = (0..TENANTS).map(|i| format!("c64-{i}")).collect();
        let eps = provision(&identity, gw, &names).await?;
        if let Some(p) = &cx.sys.policy_url {
            for t in &names {
                let _ = default_role(p, t).await;
            }
        }
        let window = Duration::from_secs(secs);
        let (db, pdb, names) = (&db, &pdb, &names);
        let settle_on = || async move {
            if let Some(pdb) = pdb {
                settle(db, pdb, names, Duration::from_secs(15)).await;
            }
        };

        let (mut create, users) = cx
            .measure(
                "prod.c64.create",
                &format!("{CLIENTS} clients across {TENANTS} tenants: POST /Users"),
                |scim| {
                    let eps = eps.clone();
                    async move {
                        let users = clients(&scim, &eps, window, Kind::Create, &[]).await;
                        settle_on().await;
                        users
                    }
                },
            )
            .await?;
        let mut by_tenant: Vec<Vec<(String, String)>> = vec![Vec::new(); TENANTS];
        for (k, created) in users.into_iter().enumerate() {
            by_tenant[k % TENANTS].extend(created);
        }
        cpu_fact(&mut create);
        create.fact("clients", CLIENTS as f64);
        create.fact("tenants", TENANTS as f64);
        let created_per_s = create.ops.get("c64.create_user").map(|x| x.throughput);
        let create_cpu = create.num("server_cpu_ms_per_request");
        cx.report.push(create);

        let mut cpu = Vec::new();
        for (kind, id, title) in [
            (
                Kind::Patch,
                "prod.c64.patch",
                "PATCH /Users/{id} (Entra's attribute update)",
            ),
            (Kind::Get, "prod.c64.get", "GET /Users/{id}"),
            (
                Kind::Filter,
                "prod.c64.filter",
                "GET /Users?filter=userName eq …",
            ),
        ] {
            if by_tenant.iter().any(Vec::is_empty) {
                break;
            }
            let (mut sec, _) = cx
                .measure(
                    id,
                    &format!("{CLIENTS} clients across {TENANTS} tenants: {title}"),
                    |scim| {
                        let (eps, by_tenant) = (eps.clone(), by_tenant.clone());
                        async move {
                            clients(&scim, &eps, window, kind, &by_tenant).await;
                            settle_on().await;
                        }
                    },
                )
                .await?;
            cpu_fact(&mut sec);
            sec.fact("clients", CLIENTS as f64);
            cpu.push((kind, sec.num("server_cpu_ms_per_request")));
            cx.report.push(sec);
        }

        if let (Some(c), Some(l)) = (created_per_s, limit) {
            cx.report.goals.push(Goal {
                goal: format!(
                    "creates at c={CLIENTS} across {TENANTS} tenants ≥ {:.0} % of the create limit (pgbench, same concurrency)",
                    CREATE_SHARE * 100.0
                ),
                measured: format!("{c:.0}/s vs the limit {l:.0} tps = {:.0} %", c / l * 100.0),
                met: Some(c / l >= CREATE_SHARE),
            });
        }
        let mut cpu_goal = |what: &str, ms: Option<f64>, goal: f64| {
            cx.report.goals.push(Goal {
                goal: format!("server CPU per {what} ≤ {goal} ms (every process, Postgres included; c={CLIENTS})"),
                measured: ms.map_or("not measured".into(), |m| format!("{m:.3} ms")),
                met: ms.map(|m| m <= goal),
            });
        };
        cpu_goal("create", create_cpu, CREATE_CPU_MS);
        for (kind, ms) in cpu {
            match kind {
                Kind::Get => cpu_goal("GET by id", ms, READ_CPU_MS),
                Kind::Filter => cpu_goal("userName eq filter", ms, READ_CPU_MS),
                _ => {}
            }
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Create,
    Patch,
    Get,
    Filter,
}

/// Runs `CLIENTS` clients for `window`, client `k` on tenant `k % TENANTS`,
/// each sending requests of `kind` back to back (reads and PATCHes pick a
/// random user of their tenant from `users`). Returns, per client, the
/// users it created.
async fn clients(
    scim: &Scim,
    eps: &[Endpoint],
    window: Duration,
    kind: Kind,
    users: &[Vec<(String, String)>],
) -> Vec<Vec<(String, String)>> {
    let until = Instant::now() + window;
    let mut handles = Vec::new();
    for k in 0..CLIENTS {
        let ep = eps[k % eps.len()].clone();
        let mine = users.get(k % TENANTS).cloned().unwrap_or_default();
        let scim = scim.clone();
        handles.push(tokio::spawn(async move {
            let mut rng = Rng::new(k as u64 + 101);
            let mut created = Vec::new();
            let mut i = 0u64;
            while Instant::now() < until {
                i += 1;
                let mut pick = || mine.get(rng.below(mine.len())).cloned();
                match kind {
                    Kind::Create => {
                        let name = format!("{}-c{k}-{i}@bench.example.com", ep.tenant);
                        let body = user_body(&name, &format!("{}-c{k}-{i}", ep.tenant));
                        let r = scim
                            .call(
                                "c64.create_user",
                                &ep,
                                Method::POST,
                                "/Users",
                                Some(&body),
                                true,
                            )
                            .await;
                        if let Some(id) = r.id() {
                            created.push((id, name));
                        }
                    }
                    Kind::Patch => {
                        let Some((id, _)) = pick() else { break };
                        let body = patch_body(i);
                        scim.call(
                            "c64.patch_user",
                            &ep,
                            Method::PATCH,
                            &format!("/Users/{id}"),
                            Some(&body),
                            false,
                        )
                        .await;
                    }
                    Kind::Get => {
                        let Some((id, _)) = pick() else { break };
                        scim.call(
                            "c64.get_user",
                            &ep,
                            Method::GET,
                            &format!("/Users/{id}"),
                            None,
                            false,
                        )
                        .await;
                    }
                    Kind::Filter => {
                        let Some((_, name)) = pick() else { break };
                        scim.call(
                            "c64.filter_userName",
                            &ep,
                            Method::GET,
                            &filter_user_path(&name),
                            None,
                            false,
                        )
                        .await;
                    }
                }
            }
            created
        }));
    }
    let mut out = Vec::with_capacity(CLIENTS);
    for h in handles {
        out.push(h.await.unwrap_or_default());
    }
    out
}

/// The server's CPU per request of a window: every measured process but
/// the load generator, in milliseconds (CPU seconds per 1,000 requests).
fn cpu_fact(s: &mut Section) {
    let Some(r) = &s.resources else { return };
    let server: f64 = r
        .cpu_s_per_1k
        .iter()
        .filter(|(name, _)| name.as_str() != "bench (client)")
        .map(|(_, v)| v)
        .sum();
    if !r.cpu_s_per_1k.is_empty() {
        s.fact("server_cpu_ms_per_request", server);
    }
}

/// Waits until policy has applied every change record of `tenants` (all
/// tenants when empty), at most `cap`, and at least 1.2 s (the gateway's
/// provisioning log is flushed once a second): the window's CPU then
/// includes the work its requests caused after their responses.
async fn settle(db: &sqlx::PgPool, pdb: &sqlx::PgPool, tenants: &[String], cap: Duration) {
    let started = Instant::now();
    tokio::time::sleep(Duration::from_millis(1200)).await;
    while started.elapsed() < cap {
        match pg::policy_behind(db, pdb, tenants).await {
            Ok(0) | Err(_) => return,
            Ok(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}
