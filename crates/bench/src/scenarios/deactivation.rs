//! Issue 3: the time from the SCIM response to a deactivation until the
//! role change to `Disabled` arrives on policy's `WatchRoleChanges`, under
//! the mixed load of every provisioned tenant. The same window gives the
//! mixed-load throughput and cost, and (with `--profile`) the perf profiles.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use std::time::{Duration, Instant};

use async_trait::async_trait;
use proto::policy::v1 as polpb;
use reqwest::Method;

use super::{Scenario, ScenarioCtx};
use crate::Error;
use crate::client::Scim;
use crate::profile;
use crate::report::Section;
use crate::stats::{Recorder, percentile};
use crate::systems::{connect_policy, default_role, provision};
use crate::workload::{active_body, user_body};

pub struct DeactivationToDisabled;

const TENANT: &str = "deact";

type Arrivals = Arc<Mutex<HashMap<String, Instant>>>;

#[async_trait]
impl Scenario for DeactivationToDisabled {
    fn id(&self) -> &'static str {
        "deactivation"
    }

    async fn run(&self, cx: &mut ScenarioCtx<'_>) -> Result<(), Error> {
        let Some(policy_url) = cx.sys.policy_url.clone() else {
            let mut s = Section::new(
                "prod.deactivation_to_disabled",
                "Deactivation → Disabled on WatchRoleChanges",
            );
            s.notes.push("policy is not running: not measured".into());
            cx.report.push(s);
            return Ok(());
        };
        let identity = cx.sys.identity_url.clone().ok_or("no identity")?;
        let gw = cx.sys.gateway_port.ok_or("no gateway")?;
        let ep = provision(&identity, gw, &[TENANT.to_owned()])
            .await?
            .pop()
            .ok_or("no endpoint")?;
        default_role(&policy_url, TENANT).await?;
        let samples = if cx.quick { 40 } else { 250 };

        // The users to deactivate, created (and given the role Member) first:
        // one set per round.
        let setup = Scim::new(Recorder::new())?;
        let mut ids = Vec::new();
        for i in 0..samples * 2 {
            let name = format!("deact-{i}@bench.example.com");
            let r = setup
                .call(
                    "setup",
                    &ep,
                    Method::POST,
                    "/Users",
                    Some(&user_body(&name, &format!("deact-{i}"))),
                    true,
                )
                .await;
            ids.extend(r.id());
        }
        tokio::time::sleep(Duration::from_secs(2)).await;

        let arrivals: Arrivals = Arc::default();
        let watcher = tokio::spawn(watch(policy_url, arrivals.clone()));
        tokio::time::sleep(Duration::from_millis(500)).await;
        let (first, second) = ids.split_at(ids.len() / 2);
        // Each tenant at 10 requests/s (an IdP job at a steady rate), then
        // every tenant back to back (the system saturated).
        round(
            cx,
            &ep,
            first,
            &arrivals,
            Some(Duration::from_millis(100)),
            "_paced",
            "10 req/s per tenant",
        )
        .await?;
        round(
            cx,
            &ep,
            second,
            &arrivals,
            None,
            "",
            "saturating: every tenant back to back",
        )
        .await?;
        watcher.abort();
        Ok(())
    }
}

/// One measurement: deactivate `ids` one every 100 ms under the mixed load
/// of every provisioned tenant, and time each until its role change arrives.
async fn round(
    cx: &mut ScenarioCtx<'_>,
    ep: &crate::client::Endpoint,
    ids: &[String],
    arrivals: &Arrivals,
    pace: Option<Duration>,
    suffix: &str,
    load: &str,
) -> Result<(), Error> {
    let interval = Duration::from_millis(100);
    let window = interval * u32::try_from(ids.len()).unwrap_or(u32::MAX) + Duration::from_secs(3);
    let profiling = (cx.profile && pace.is_none()).then(|| {
        let pids: Vec<(String, u32)> = cx
            .sys
            .services
            .iter()
            .map(|s| (s.name.clone(), s.pid))
            .collect();
        profile::start(&pids, window.as_secs().min(30), &cx.ctx.work)
    });
    let lag = tokio::spawn(sample_lag(
        cx.sys.identity_db.clone().map(|d| d.1),
        cx.sys.policy_db.clone().map(|d| d.1),
        Instant::now() + window,
    ));
    let tenants = std::mem::take(&mut cx.tenants);
    let id = format!("prod.mixed{suffix}");
    let title = format!("Mixed load on every tenant ({load})");
    let (mut mixed, (responded, states)) = cx
        .measure(&id, &title, |scim| {
            let until = Instant::now() + window;
            let bg_scim = scim.clone();
            async move {
                let bg = tokio::spawn(crate::workload::each_tenant(tenants, move |mut st| {
                    let scim = bg_scim.clone();
                    async move {
                        crate::workload::mixed(&scim, &mut st, until, pace).await;
                        st
                    }
                }));
                let mut responded: Vec<(String, Instant)> = Vec::new();
                let mut tick = tokio::time::interval(interval);
                for id in ids {
                    tick.tick().await;
                    let path = format!("/Users/{id}");
                    let r = scim
                        .call(
                            "deact.deactivate",
                            ep,
                            Method::PATCH,
                            &path,
                            Some(&active_body(false)),
                            false,
                        )
                        .await;
                    if r.ok() {
                        responded.push((id.clone(), Instant::now()));
                    }
                }
                (responded, bg.await.unwrap_or_default())
            }
        })
        .await?;
    cx.tenants = states;
    if let Some(p) = profiling {
        match profile::finish(p, &cx.ctx.work, &cx.ctx.out).await {
            Ok(files) => mixed
                .notes
                .push(format!("perf profiles: {}", files.join(", "))),
            Err(e) => mixed.notes.push(format!("profiling failed: {e}")),
        }
    }
    if let Ok(Ok(samples)) = lag.await
        && !samples.is_empty()
    {
        let max = samples.iter().copied().max().unwrap_or(0);
        let mean = samples.iter().sum::<i64>() as f64 / samples.len() as f64;
        mixed.fact("policy_lag_max_changes", max as f64);
        mixed.fact("policy_lag_mean_changes", mean);
    }
    mixed.fact("tenants", cx.tenants.len() as f64);
    mixed.fact("window_s", window.as_secs_f64());
    cx.report.push(mixed);

    // Late arrivals: wait up to 5 s for the last ones.
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        let all_in = {
            let a = arrivals.lock().unwrap_or_else(PoisonError::into_inner);
            responded.iter().all(|(id, _)| a.contains_key(id))
        };
        if all_in {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let arrived = arrivals
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    let mut lat: Vec<f64> = Vec::new();
    let mut missing = 0u64;
    for (id, at) in &responded {
        match arrived.get(id) {
            Some(t) => lat.push(t.saturating_duration_since(*at).as_secs_f64() * 1000.0),
            None => missing += 1,
        }
    }
    lat.sort_by(f64::total_cmp);
    let mut s = Section::new(
        &format!("prod.deactivation_to_disabled{suffix}"),
        &format!("Deactivation → role Disabled on WatchRoleChanges ({load})"),
    );
    s.fact("samples", lat.len() as f64);
    s.fact("missing_after_5s", missing as f64);
    s.fact("p50_ms", percentile(&lat, 0.50));
    s.fact("p95_ms", percentile(&lat, 0.95));
    s.fact("p99_ms", percentile(&lat, 0.99));
    s.fact("max_ms", lat.last().copied().unwrap_or(0.0));
    s.fact("interval_ms", interval.as_millis() as f64);
    s.notes.push(
        "clock: from the moment the bench has read the 200 of the PATCH to the moment the RoleChange (to_role Disabled) \
         for that user is read from the stream, on one monotonic clock; 0 when the change arrived first"
            .into(),
    );
    cx.report.push(s);
    Ok(())
}

/// How far policy's cursor is behind identity's outbox, every 250 ms.
async fn sample_lag(
    identity_db: Option<String>,
    policy_db: Option<String>,
    until: Instant,
) -> Result<Vec<i64>, Error> {
    let (Some(i), Some(p)) = (identity_db, policy_db) else {
        return Ok(Vec::new());
    };
    let (i, p) = (crate::pg::pool(&i).await?, crate::pg::pool(&p).await?);
    let mut out = Vec::new();
    while Instant::now() < until {
        // Positions are per tenant: the changes behind are the sum over
        // tenants of identity's head minus policy's cursor.
        let head: i64 =
            sqlx::query_scalar("SELECT COALESCE(sum(seq), 0)::BIGINT FROM change_heads")
                .fetch_one(&i)
                .await?;
        let cursor: i64 =
            sqlx::query_scalar("SELECT COALESCE(sum(seq), 0)::BIGINT FROM stream_cursors")
                .fetch_one(&p)
                .await?;
        out.push((head - cursor).max(0));
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    Ok(out)
}

/// Records when each user's change to Disabled arrives.
async fn watch(policy_url: String, arrivals: Arrivals) -> Result<(), Error> {
    let mut client = connect_policy(&policy_url).await?;
    let mut stream = client
        .watch_role_changes(polpb::WatchRoleChangesRequest {
            after_seq: 0,
            tenant_id: TENANT.to_owned(),
            ..Default::default()
        })
        .await?
        .into_inner();
    while let Some(batch) = stream.message().await? {
        let now = Instant::now();
        let mut a = arrivals.lock().unwrap_or_else(PoisonError::into_inner);
        for c in batch.changes {
            if c.to_role == "Disabled" {
                a.entry(c.user_id).or_insert(now);
            }
        }
    }
    Ok(())
}
