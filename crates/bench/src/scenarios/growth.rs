//! `make run`'s create rate as a tenant grows: 100,000 users (10,000 in
//! quick mode) created into one fresh tenant of `scim-local` (SQLite) with
//! Bulk requests of 500 creates, two in flight, and the create rate
//! recorded per 1,000 users. The question is whether a create gets slower
//! as the tenant fills: the time per user of the last 1,000 against the
//! first.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};

use crate::Error;
use crate::client::{Endpoint, Scim};
use crate::report::{Curve, Goal, Report};
use crate::svg::Series;
use crate::systems::{Ctx, System, provision};
use crate::workload::user_body;

/// Creates per Bulk request.
pub const BATCH: u64 = 500;
/// Bulk requests in flight.
pub const IN_FLIGHT: usize = 2;
/// Users per bucket of the curve.
pub const BUCKET: u64 = 1_000;
/// The goal: the last bucket's time per user ≤ this × the first buckets'.
const GOAL_RATIO: f64 = 2.0;

/// The id `--scenarios` selects it by.
pub const ID: &str = "local_growth";

/// Runs on a started `local` system and pushes its section, curve and goal.
pub async fn local_creates(
    sys: &System,
    ctx: &Ctx,
    quick: bool,
    report: &mut Report,
) -> Result<(), Error> {
    let total: u64 = if quick { 10_000 } else { 100_000 };
    let cap = Duration::from_secs(if quick { 180 } else { 900 });
    let identity = sys.identity_url.clone().ok_or("no identity")?;
    let gw = sys.gateway_port.ok_or("no gateway")?;
    let ep = provision(&identity, gw, &["growth".to_owned()])
        .await?
        .pop()
        .ok_or("tenant not provisioned")?;
    let done: Arc<Mutex<Vec<(Instant, u64, u64)>>> = Arc::default();
    let started = Instant::now();
    let (mut s, ()) = crate::run::measure(
        &sys.watched,
        ctx.ticks,
        "local.growth",
        &format!(
            "make run (scim-local, SQLite): creating {total} users into one tenant, Bulk of {BATCH}, {IN_FLIGHT} in flight"
        ),
        |scim| {
            let done = done.clone();
            async move {
                let next = Arc::new(AtomicU64::new(0));
                let mut tasks = Vec::new();
                for _ in 0..IN_FLIGHT {
                    let (scim, ep, next, done) =
                        (scim.clone(), ep.clone(), next.clone(), done.clone());
                    tasks.push(tokio::spawn(async move {
                        loop {
                            let b = next.fetch_add(1, Ordering::SeqCst);
                            if b * BATCH >= total || started.elapsed() > cap {
                                return;
                            }
                            let n = BATCH.min(total - b * BATCH);
                            let (ok, failed) = bulk(&scim, &ep, b * BATCH, n).await;
                            done.lock()
                                .unwrap_or_else(PoisonError::into_inner)
                                .push((Instant::now(), ok, failed));
                        }
                    }));
                }
                for t in tasks {
                    let _ = t.await;
                }
            }
        },
    )
    .await?;
    let mut done = done.lock().unwrap_or_else(PoisonError::into_inner).clone();
    done.sort_by_key(|d| d.0);
    let created: u64 = done.iter().map(|d| d.1).sum();
    let failed: u64 = done.iter().map(|d| d.2).sum();
    let buckets = buckets(started, &done);
    let secs = done.last().map_or(0.0, |d| (d.0 - started).as_secs_f64());
    s.fact("users_target", total as f64);
    s.fact("users_created", created as f64);
    s.fact("creates_failed", failed as f64);
    s.fact("seconds", secs);
    s.fact("creates_per_s", created as f64 / secs.max(0.001));
    if let Some(r) = &s.resources
        && let Some(cpu) = r.cpu_s.get("scim-local")
        && created > 0
    {
        s.fact("scim_local_cpu_ms_per_user", cpu * 1000.0 / created as f64);
    }
    let per_user: Vec<f64> = buckets.iter().map(|b| b.1).collect();
    let head = median(&per_user[..per_user.len().min(3)]);
    let last = per_user.last().copied();
    if let Some(first) = per_user.first() {
        s.fact("first_bucket_ms_per_user", *first);
    }
    if let Some(h) = head {
        s.fact("first_3_buckets_median_ms_per_user", h);
    }
    if let Some(l) = last {
        s.fact("last_bucket_ms_per_user", l);
    }
    if let Some(t) = median(&per_user[per_user.len().saturating_sub(3)..]) {
        s.fact("last_3_buckets_median_ms_per_user", t);
    }
    let table: Vec<String> = buckets
        .iter()
        .map(|(users, ms)| format!("{users}:{:.0}/s", 1000.0 / ms))
        .collect();
    s.notes.push(format!(
        "creates per second per {BUCKET}-user bucket (users in the tenant at the bucket's end): {}",
        table.join(" ")
    ));
    report.curves.push(Curve {
        id: "local-growth".into(),
        title: format!("make run: create rate while one tenant grows to {total} users"),
        x_label: "users in the tenant".into(),
        y_label: "creates/s".into(),
        series: vec![Series {
            name: format!("creates/s per {BUCKET} users"),
            points: buckets
                .iter()
                .map(|(users, ms)| (*users as f64, 1000.0 / ms))
                .collect(),
        }],
    });
    let reached = buckets.last().map_or(0, |b| b.0);
    report.goals.push(Goal {
        goal: format!(
            "make run: time per create at the {total}th user ≤ {GOAL_RATIO} × at the {BUCKET}th (last {BUCKET}-user bucket vs median of the first three)"
        ),
        measured: match (head, last) {
            (Some(h), Some(l)) => format!(
                "{l:.3} vs {h:.3} ms per user = {:.2}× ({:.0} vs {:.0} creates/s); {created} created, {failed} failed{}",
                l / h,
                1.0 / l * 1000.0,
                1.0 / h * 1000.0,
                if reached < total {
                    format!(", stopped at {reached}")
                } else {
                    String::new()
                }
            ),
            _ => "nothing created".into(),
        },
        met: match (head, last) {
            (Some(h), Some(l)) => Some(l <= GOAL_RATIO * h && reached >= total && failed == 0),
            _ => None,
        },
    });
    report.push(s);
    Ok(())
}

/// One Bulk request of `n` creates, users `first + 1 …`: (created, failed).
async fn bulk(scim: &Scim, ep: &Endpoint, first: u64, n: u64) -> (u64, u64) {
    let ops: Vec<Value> = (first..first + n)
        .map(|i| {
            let name = format!("growth-{i:07}@bench.example.com");
            json!({
                "method": "POST",
                "path": "/Users",
                "bulkId": format!("u{i}"),
                "data": user_body(&name, &format!("growth-{i:07}")),
            })
        })
        .collect();
    let body = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
        "Operations": ops,
    });
    let r = scim
        .call(
            "growth.bulk_create",
            ep,
            Method::POST,
            "/Bulk",
            Some(&body),
            true,
        )
        .await;
    let ok = r
        .body
        .as_ref()
        .and_then(|b| b["Operations"].as_array())
        .map_or(0, |ops| {
            ops.iter()
                .filter(|o| status(&o["status"]).is_some_and(|s| (200..300).contains(&s)))
                .count() as u64
        });
    (ok, n - ok.min(n))
}

/// A Bulk operation's status: RFC 7644 writes it as a string.
fn status(v: &Value) -> Option<u64> {
    v.as_u64()
        .or_else(|| v.as_str()?.split_whitespace().next()?.parse().ok())
}

/// Per bucket of [`BUCKET`] users (by completion, in order): the number of
/// users in the tenant at its end and its time per user in ms. A bucket
/// runs from the completion that filled the previous one (the start for
/// the first).
fn buckets(started: Instant, done: &[(Instant, u64, u64)]) -> Vec<(u64, f64)> {
    let mut out = Vec::new();
    let mut users = 0u64;
    let mut from = started;
    let mut from_users = 0u64;
    for (at, ok, failed) in done {
        users += ok + failed;
        if users >= from_users + BUCKET {
            let n = users - from_users;
            let ms = (*at - from).as_secs_f64() * 1000.0 / n as f64;
            out.push((users, ms));
            from = *at;
            from_users = users;
        }
    }
    out
}

fn median(v: &[f64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    Some(crate::stats::percentile(&s, 0.5))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_follow_completions() {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        // Two batches of 500 a bucket; the second bucket is twice as slow.
        let done = [
            (at(500), 500, 0),
            (at(1000), 500, 0),
            (at(2000), 499, 1),
            (at(3000), 500, 0),
        ];
        let b = buckets(t0, &done);
        assert_eq!(b.len(), 2);
        assert_eq!(b[0].0, 1000);
        assert!((b[0].1 - 1.0).abs() < 1e-9);
        assert_eq!(b[1].0, 2000);
        assert!((b[1].1 - 2.0).abs() < 1e-9);
        assert_eq!(status(&json!("201")), Some(201));
        assert_eq!(status(&json!(409)), Some(409));
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
    }
}
