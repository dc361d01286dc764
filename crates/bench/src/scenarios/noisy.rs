//! Issue 4, what tenant protection buys: `noisy_neighbour`, 20 tenants at
//! half their limit and one at ten times its limit; the quiet tenants' p99
//! without and with the noisy one.

use std::time::{Duration, Instant};

use async_trait::async_trait;
use proto::identity::v1 as idpb;
use reqwest::Method;

use super::protection::{one_user, redis_env};
use super::{Scenario, ScenarioCtx};
use crate::Error;
use crate::client::{Endpoint, Scim};
use crate::report::Goal;
use crate::systems::{connect_identity, provision};

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
