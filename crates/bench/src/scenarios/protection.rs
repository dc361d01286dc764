//! Issue 4: what tenant protection costs and what it buys.
//!
//! - `limiter_cost`: the added latency of the rate limiter per request —
//!   the same GETs through three gateways on the same identity, one with
//!   limiting off, one deciding in Redis, one in-process — interleaved so
//!   that drift hits all three alike.
//! - `noisy_neighbour`: 20 tenants at half their limit and one at ten
//!   times its limit; the quiet tenants' p99 without and with the noisy one.

use std::time::{Duration, Instant};

use async_trait::async_trait;
use proto::identity::v1 as idpb;
use reqwest::Method;

use super::{Scenario, ScenarioCtx};
use crate::Error;
use crate::client::{Endpoint, Scim};
use crate::report::Goal;
use crate::stats::Recorder;
use crate::systems::{connect_identity, provision};
use crate::workload::user_body;

/// A tenant's endpoint on another gateway.
fn via(ep: &Endpoint, port: u16) -> Endpoint {
    Endpoint {
        base: format!("http://127.0.0.1:{port}/scim/v2/{}", ep.tenant),
        ..ep.clone()
    }
}

/// Creates one user in the tenant and returns its id.
async fn one_user(ep: &Endpoint, name: &str) -> Result<String, Error> {
    let scim = Scim::new(Recorder::new())?;
    let body = user_body(&format!("{name}@bench.example.com"), name);
    scim.call("setup", ep, Method::POST, "/Users", Some(&body), true)
        .await
        .id()
        .ok_or_else(|| format!("could not create a user in {}", ep.tenant).into())
}

fn redis_env(cx: &ScenarioCtx<'_>, scenario: &str) -> Vec<(&'static str, String)> {
    match &cx.ctx.redis_url {
        Some(url) => vec![
            ("REDIS_URL", url.clone()),
            (
                "RATE_LIMIT_KEY_PREFIX",
                format!("bench:{}:{scenario}:", cx.ctx.run_id),
            ),
        ],
        None => Vec::new(),
    }
}

pub struct LimiterCost;

#[async_trait]
impl Scenario for LimiterCost {
    fn id(&self) -> &'static str {
        "limiter_cost"
    }

    async fn run(&self, cx: &mut ScenarioCtx<'_>) -> Result<(), Error> {
        let identity = cx.sys.identity_url.clone().ok_or("no identity")?;
        let gw = cx.sys.gateway_port.ok_or("no gateway")?;
        let tenant = format!("limcost-{}", cx.ctx.run_id);
        let ep = provision(&identity, gw, &[tenant])
            .await?
            .pop()
            .ok_or("no endpoint")?;
        let id = one_user(&ep, "limcost").await?;
        // Limits far above the load: every request is decided, none refused.
        let high = vec![
            ("RATE_LIMIT_DEFAULT_RATE", "1000000".to_owned()),
            ("RATE_LIMIT_DEFAULT_BURST", "1000000".to_owned()),
        ];
        let (_off, off) = cx
            .spawn_gateway(
                "gateway-nolimit",
                vec![("RATE_LIMIT_ENABLED", "false".into())],
            )
            .await?;
        let (_local, local) = cx.spawn_gateway("gateway-local", high.clone()).await?;
        let mut variants = vec![("off", via(&ep, off)), ("local", via(&ep, local))];
        let _redis = if cx.ctx.redis_url.is_some() {
            let mut env = redis_env(cx, "cost");
            env.extend(high);
            let (svc, port) = cx.spawn_gateway("gateway-redis", env).await?;
            variants.push(("redis", via(&ep, port)));
            Some(svc)
        } else {
            None
        };
        // Sequential requests: latency, not throughput, is what is compared.
        let per_worker = if cx.quick { 500 } else { 3000 };
        let workers = 1;
        let path = format!("/Users/{id}");
        let (mut s, ()) = cx
            .measure(
                "prod.limiter_cost",
                "Rate limiter cost per request (GET /Users/{id}, sequential)",
                |scim| {
                    let (variants, path) = (&variants, &path);
                    async move {
                        // Warm every connection pool and auth cache first.
                        for (name, ep) in variants {
                            for _ in 0..20 {
                                scim.call(
                                    &format!("warmup.{name}"),
                                    ep,
                                    Method::GET,
                                    path,
                                    None,
                                    false,
                                )
                                .await;
                            }
                        }
                        let runs = (0..workers).map(|w| {
                            let scim = scim.clone();
                            let variants = variants.clone();
                            let path = path.clone();
                            tokio::spawn(async move {
                                for i in 0..per_worker {
                                    // Rotate the order so that no variant always goes first.
                                    for k in 0..variants.len() {
                                        let (name, ep) = &variants[(i + w + k) % variants.len()];
                                        scim.call(
                                            &format!("limiter.{name}"),
                                            ep,
                                            Method::GET,
                                            &path,
                                            None,
                                            false,
                                        )
                                        .await;
                                    }
                                }
                            })
                        });
                        for r in runs.collect::<Vec<_>>() {
                            let _ = r.await;
                        }
                    }
                },
            )
            .await?;
        s.ops.retain(|k, _| !k.starts_with("warmup."));
        let ops = s.ops.clone();
        let p = |k: &str, q: fn(&crate::stats::Summary) -> f64| ops.get(k).map(q);
        for (name, _) in &variants {
            if name == &"off" {
                continue;
            }
            if let (Some(a50), Some(b50), Some(a99), Some(b99)) = (
                p(&format!("limiter.{name}"), |x| x.p50_ms),
                p("limiter.off", |x| x.p50_ms),
                p(&format!("limiter.{name}"), |x| x.p99_ms),
                p("limiter.off", |x| x.p99_ms),
            ) {
                s.fact(&format!("{name}_added_p50_ms"), a50 - b50);
                s.fact(&format!("{name}_added_p99_ms"), a99 - b99);
            }
        }
        if cx.ctx.redis_url.is_none() {
            s.notes
                .push("no Redis on 127.0.0.1:6379: the Redis variant was not measured".into());
        }
        s.notes.push("one user fetched by id through three gateways on the same identity; limits far above the load".into());
        cx.report.push(s);
        Ok(())
    }
}

pub struct NoisyNeighbour;

const QUIET: usize = 20;
/// Each tenant's limit (requests per second per token, and burst).
const LIMIT: u32 = 20;
/// Quiet tenants send at half their limit; the noisy one at ten times it.
const QUIET_EVERY: Duration = Duration::from_millis(100);
const NOISY_EVERY: Duration = Duration::from_millis(5);

/// Open loop: one request every `every` until `until`, each on its own task.
async fn drive(
    scim: Scim,
    op: &'static str,
    ep: Endpoint,
    paths: Vec<String>,
    every: Duration,
    until: Instant,
) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut tasks = Vec::new();
    let mut i = 0usize;
    while Instant::now() < until {
        tick.tick().await;
        let (scim, ep, path) = (scim.clone(), ep.clone(), paths[i % paths.len()].clone());
        i += 1;
        tasks.push(tokio::spawn(async move {
            scim.call(op, &ep, Method::GET, &path, None, false)
                .await
                .status
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
}

#[async_trait]
impl Scenario for NoisyNeighbour {
    fn id(&self) -> &'static str {
        "noisy_neighbour"
    }

    async fn run(&self, cx: &mut ScenarioCtx<'_>) -> Result<(), Error> {
        let identity = cx.sys.identity_url.clone().ok_or("no identity")?;
        let (_gw, port) = cx
            .spawn_gateway("gateway-noisy", redis_env(cx, "noisy"))
            .await?;
        let names: Vec<String> = (0..=QUIET)
            .map(|i| format!("nn{i}-{}", cx.ctx.run_id))
            .collect();
        let mut client = connect_identity(&identity).await?;
        let eps = provision(&identity, port, &names).await?;
        // Limits before the tokens' first use: they travel with the
        // authentication answer (cached for AUTH_CACHE_TTL_SECONDS).
        for ep in &eps {
            client
                .set_tenant_limits(idpb::SetTenantLimitsRequest {
                    tenant_id: ep.tenant.clone(),
                    limits: Some(idpb::TenantLimits {
                        rate_per_second: LIMIT,
                        burst: LIMIT,
                    }),
                })
                .await?;
        }
        let mut paths = Vec::new();
        for ep in &eps {
            let id = one_user(ep, &format!("nn-{}", ep.tenant)).await?;
            paths.push(vec![
                format!("/Users/{id}"),
                format!(
                    "/Users?filter=userName%20eq%20%22nn-{}%40bench.example.com%22",
                    ep.tenant
                ),
            ]);
        }
        let window = Duration::from_secs(if cx.quick { 8 } else { 20 });
        let mut p99 = Vec::new();
        for noisy in [false, true] {
            let id = if noisy {
                "prod.noisy_neighbour.with"
            } else {
                "prod.noisy_neighbour.without"
            };
            let title = if noisy {
                "Noisy neighbour: 20 quiet tenants at 10 req/s + 1 tenant at 200 req/s (10× its limit)"
            } else {
                "Noisy neighbour: 20 quiet tenants at 10 req/s alone"
            };
            let (eps, paths) = (&eps, &paths);
            let (mut s, ()) = cx
                .measure(id, title, |scim| async move {
                    let until = Instant::now() + window;
                    let mut runs = Vec::new();
                    for (ep, p) in eps.iter().zip(paths).take(QUIET) {
                        runs.push(tokio::spawn(drive(
                            scim.clone(),
                            "quiet",
                            ep.clone(),
                            p.clone(),
                            QUIET_EVERY,
                            until,
                        )));
                    }
                    if noisy {
                        let (ep, p) = (eps[QUIET].clone(), paths[QUIET].clone());
                        runs.push(tokio::spawn(drive(
                            scim.clone(),
                            "noisy",
                            ep,
                            p,
                            NOISY_EVERY,
                            until,
                        )));
                    }
                    for r in runs {
                        let _ = r.await;
                    }
                })
                .await?;
            if let Some(q) = s.ops.get("quiet").cloned() {
                p99.push(q.p99_ms);
                s.fact("quiet_p50_ms", q.p50_ms);
                s.fact("quiet_p99_ms", q.p99_ms);
                s.fact("quiet_errors", q.errors as f64);
            }
            if let Some(n) = s.ops.get("noisy").cloned() {
                s.fact(
                    "noisy_refused_share",
                    n.errors as f64 / n.count.max(1) as f64,
                );
                s.fact(
                    "noisy_admitted_per_s",
                    (n.count - n.errors) as f64 / window.as_secs_f64(),
                );
            }
            s.notes.push(format!(
                "every tenant limited to {LIMIT} req/s, burst {LIMIT}; open loop (a request every {} ms per quiet tenant, every {} ms for the noisy one); {}",
                QUIET_EVERY.as_millis(),
                NOISY_EVERY.as_millis(),
                if cx.ctx.redis_url.is_some() { "limits in Redis" } else { "in-process limiter (no Redis)" }
            ));
            cx.report.push(s);
        }
        if let [without, with] = p99[..] {
            cx.report.goals.push(Goal {
                goal: "noisy neighbour: quiet tenants' p99 within 20 % of their p99 alone".into(),
                measured: format!(
                    "{with:.1} ms vs {without:.1} ms alone = {:+.0} %",
                    (with / without - 1.0) * 100.0
                ),
                met: Some(with <= without * 1.2),
            });
        }
        Ok(())
    }
}
