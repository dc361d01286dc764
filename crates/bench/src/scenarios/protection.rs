//! Issue 4, what tenant protection costs: `limiter_cost`, the added latency
//! of the rate limiter per request — the same GETs through three gateways
//! on the same identity, one with limiting off, one deciding in Redis, one
//! in-process — interleaved so that drift hits all three alike. What it
//! buys is in `noisy.rs`.

use async_trait::async_trait;
use reqwest::Method;

use super::{Scenario, ScenarioCtx};
use crate::Error;
use crate::client::{Endpoint, Scim};
use crate::stats::Recorder;
use crate::systems::provision;
use crate::workload::user_body;

/// A tenant's endpoint on another gateway.
pub(super) fn via(ep: &Endpoint, port: u16) -> Endpoint {
    Endpoint {
        base: format!("http://127.0.0.1:{port}/scim/v2/{}", ep.tenant),
        ..ep.clone()
    }
}

/// Creates one user in the tenant and returns its id.
pub(super) async fn one_user(ep: &Endpoint, name: &str) -> Result<String, Error> {
    let scim = Scim::new(Recorder::new())?;
    let body = user_body(&format!("{name}@bench.example.com"), name);
    scim.call("setup", ep, Method::POST, "/Users", Some(&body), true)
        .await
        .id()
        .ok_or_else(|| format!("could not create a user in {}", ep.tenant).into())
}

/// Redis for an extra gateway, under this run's and scenario's key prefix.
pub(super) fn redis_env(cx: &ScenarioCtx<'_>, scenario: &str) -> Vec<(&'static str, String)> {
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
