//! Benchmarks that run against the production topology once it is up and
//! provisioned. Each is a [`Scenario`]; [`registry`] lists them in run
//! order. To add one (for example a rate limiter cost or a noisy
//! neighbour), write a module with a type that implements `Scenario` and
//! add one line to `registry()`. A scenario gets a [`ScenarioCtx`]: the
//! running system (gateway, identity, policy, their databases), the
//! provisioned tenants to drive background load with, helpers to measure a
//! window (latencies + CPU + memory) and to start an extra gateway with
//! its own environment, and the report to push sections into.

pub mod create_limit;
pub mod deactivation;
pub mod growth;
pub mod large_groups;
pub mod noisy;
pub mod protection;
pub mod replicas;
pub mod scale;

use std::time::{Duration, Instant};

use async_trait::async_trait;

use crate::Error;
use crate::client::Scim;
use crate::procs::{Service, free_port, loopback, wait_for_port};
use crate::report::{Report, Section};
use crate::systems::{Ctx, System};
use crate::workload::{self, TenantState};

/// One benchmark on the production topology.
#[async_trait]
pub trait Scenario: Send + Sync {
    /// Stable name; `--only` and `--skip` select by it.
    fn id(&self) -> &'static str;
    /// Measures and pushes its sections (and curves, goals) into `cx.report`.
    async fn run(&self, cx: &mut ScenarioCtx<'_>) -> Result<(), Error>;
}

/// Every scenario, in run order.
pub fn registry() -> Vec<Box<dyn Scenario>> {
    vec![
        Box::new(deactivation::DeactivationToDisabled),
        Box::new(protection::LimiterCost),
        Box::new(noisy::NoisyNeighbour),
        Box::new(create_limit::CreateLimit),
        Box::new(replicas::ScaleOut),
        Box::new(replicas::Failover),
        Box::new(large_groups::LargeGroups),
        Box::new(scale::ScaleCurves),
    ]
}

/// What a scenario works with.
pub struct ScenarioCtx<'a> {
    pub ctx: &'a Ctx,
    pub sys: &'a mut System,
    /// Tenants provisioned by the main workload (users, groups, ids).
    pub tenants: Vec<TenantState>,
    pub quick: bool,
    /// Record `perf` profiles of the services during the mixed load.
    pub profile: bool,
    pub report: &'a mut Report,
}

impl ScenarioCtx<'_> {
    /// Runs `body` with a fresh recorder and returns a section with its
    /// per-operation figures and the CPU and memory of the system's
    /// processes over that window.
    pub async fn measure<F, Fut, T>(
        &self,
        id: &str,
        title: &str,
        body: F,
    ) -> Result<(Section, T), Error>
    where
        F: FnOnce(Scim) -> Fut,
        Fut: std::future::Future<Output = T>,
    {
        crate::run::measure(&self.sys.watched, self.ctx.ticks, id, title, body).await
    }

    /// Runs the mixed load on the provisioned tenants in the background
    /// until `until`; join the handle for the tenants back.
    pub fn background_mixed(
        &mut self,
        scim: &Scim,
        until: Instant,
        pace: Option<Duration>,
    ) -> tokio::task::JoinHandle<Vec<TenantState>> {
        let states = std::mem::take(&mut self.tenants);
        let scim = scim.clone();
        tokio::spawn(async move {
            workload::each_tenant(states, move |mut st| {
                let scim = scim.clone();
                async move {
                    workload::mixed(&scim, &mut st, until, pace).await;
                    st
                }
            })
            .await
        })
    }

    /// Starts one more gateway against the same identity with `env`
    /// (for example a different rate-limit configuration) and returns it
    /// with its port. It is stopped when the returned service is dropped.
    pub async fn spawn_gateway(
        &self,
        name: &str,
        env: Vec<(&'static str, String)>,
    ) -> Result<(Service, u16), Error> {
        let port = free_port()?;
        let identity = self.sys.identity_url.clone().ok_or("no identity")?;
        let mut all = vec![
            ("GATEWAY_LISTEN", loopback(port).to_string()),
            ("IDENTITY_URL", identity),
            ("RUST_LOG", "info".to_owned()),
            ("LOG_FORMAT", "json".to_owned()),
            ("METRICS_LISTEN", crate::systems::metrics_listen()),
        ];
        all.extend(env);
        let mut svc = Service::spawn(
            name,
            &self.ctx.bins.join("gateway"),
            &[],
            &all,
            &self.ctx.work,
            None,
        )?;
        wait_for_port(&mut svc, loopback(port), Duration::from_secs(30)).await?;
        Ok((svc, port))
    }
}
