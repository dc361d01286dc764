//! A tenant's very large group changes do not hold back another tenant's
//! deprovisioning. One tenant gets 150,000 users (seeded) in a group that
//! grants them a role; then that group is deleted and a small group is
//! replaced by the whole list (about 300,000 role recomputations queued in
//! policy), and right behind, another tenant deactivates users one every
//! 200 ms. Measured: each deactivation's time to `Disabled` on
//! `WatchRoleChanges`, how many of them landed while the large tenant's
//! changes were still being applied, and how long those took.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use proto::identity::v1 as idpb;
use proto::policy::v1 as polpb;
use reqwest::Method;
use serde_json::json;

use super::{Scenario, ScenarioCtx};
use crate::Error;
use crate::client::{Endpoint, Scim};
use crate::report::{Goal, Section};
use crate::stats::{Recorder, percentile};
use crate::systems::{connect_identity, connect_policy, default_role, provision};
use crate::workload::{active_body, user_body};

pub struct LargeGroups;

const BIG: &str = "lgbig";
const SMALL: &str = "lgsmall";
const MARKER: &str = "lgtemplate";
/// The goal: a deactivation behind the large changes reaches Disabled within this.
const GOAL_MS: f64 = 1000.0;

type Arrivals = Arc<Mutex<HashMap<String, Instant>>>;

#[async_trait]
impl Scenario for LargeGroups {
    fn id(&self) -> &'static str {
        "large_groups"
    }

    async fn run(&self, cx: &mut ScenarioCtx<'_>) -> Result<(), Error> {
        let mut s = Section::new(
            "prod.large_groups",
            "Deactivations in one tenant behind another tenant's 150,000-member group changes",
        );
        let (Some(policy_url), Some(identity_url), Some(gw), Some(idb), Some(pdb)) = (
            cx.sys.policy_url.clone(),
            cx.sys.identity_url.clone(),
            cx.sys.gateway_port,
            cx.sys.identity_db.clone().map(|d| d.1),
            cx.sys.policy_db.clone().map(|d| d.1),
        ) else {
            s.notes
                .push("needs the production topology: not measured".into());
            cx.report.push(s);
            return Ok(());
        };
        let members: u64 = if cx.quick { 20_000 } else { 150_000 };
        let samples = if cx.quick { 10 } else { 25 };
        let eps = provision(&identity_url, gw, &[BIG.to_owned(), SMALL.to_owned()]).await?;
        let (big, small) = (&eps[0], &eps[1]);
        for t in [BIG, SMALL] {
            default_role(&policy_url, t).await?;
        }
        let mut policy = connect_policy(&policy_url).await?;
        for role in ["Admin", "Owner"] {
            policy
                .create_role(polpb::CreateRoleRequest {
                    tenant_id: BIG.into(),
                    name: role.into(),
                    ..Default::default()
                })
                .await?;
        }

        // The large tenant: one user made by identity, copied in the database.
        let setup = Scim::new(Recorder::new())?;
        let template = format!("{MARKER}@bench.example.com");
        let r = setup
            .call(
                "setup",
                big,
                Method::POST,
                "/Users",
                Some(&user_body(&template, MARKER)),
                true,
            )
            .await;
        let template_id = r.id().ok_or("template user not created")?;
        let idb = crate::pg::pool(&idb).await?;
        let pdb = crate::pg::pool(&pdb).await?;
        let seeded =
            crate::pg::seed_users(&idb, BIG, BIG, &template_id, MARKER, members - 1).await?;
        s.fact("seed_s", seeded);
        let ids: Vec<String> = sqlx::query_scalar(
            "SELECT id FROM users WHERE tenant_id = $1 AND deleted IS NULL ORDER BY created",
        )
        .bind(BIG)
        .fetch_all(&idb)
        .await?;
        let mut identity = connect_identity(&identity_url)
            .await?
            .max_decoding_message_size(proto::MAX_MESSAGE_BYTES)
            .max_encoding_message_size(usize::MAX);
        let group = |name: &str, ids: &[String]| {
            let members: Vec<_> = ids.iter().map(|id| json!({"value": id})).collect();
            json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                   "displayName": name, "members": members})
            .to_string()
        };
        let started = Instant::now();
        let create = |name: &str, ids: &[String]| idpb::CreateGroupRequest {
            tenant_id: BIG.into(),
            resource_json: group(name, ids),
        };
        let everyone = identity.create_group(create("Everyone", &ids)).await?;
        let everyone = everyone.into_inner().group.ok_or("no group")?.id;
        let few = identity.create_group(create("Few", &ids[..10])).await?;
        let few = few.into_inner().group.ok_or("no group")?.id;
        for (g, role, priority) in [(&everyone, "Admin", 1), (&few, "Owner", 2)] {
            policy
                .set_assignment(polpb::SetAssignmentRequest {
                    tenant_id: BIG.into(),
                    assignment: Some(polpb::Assignment {
                        group_id: g.clone(),
                        role: role.into(),
                        priority,
                    }),
                })
                .await?;
        }
        caught_up(&idb, &pdb, BIG, Duration::from_secs(900)).await?;
        s.fact("initial_apply_s", started.elapsed().as_secs_f64());

        // The other tenant's users, holding the default role.
        let mut victims = Vec::new();
        for i in 0..samples {
            let name = format!("lg-{i}@bench.example.com");
            let r = setup
                .call(
                    "setup",
                    small,
                    Method::POST,
                    "/Users",
                    Some(&user_body(&name, &format!("lg-{i}"))),
                    true,
                )
                .await;
            victims.extend(r.id());
        }
        caught_up(&idb, &pdb, SMALL, Duration::from_secs(60)).await?;
        let arrivals: Arrivals = Arc::default();
        let watcher = tokio::spawn(watch(policy_url.clone(), arrivals.clone()));
        tokio::time::sleep(Duration::from_millis(500)).await;

        // The large changes, then the deactivations right behind them.
        let big_changes = Instant::now();
        identity
            .delete_group(idpb::DeleteGroupRequest {
                tenant_id: BIG.into(),
                group_id: everyone,
                if_version: None,
            })
            .await?;
        identity
            .replace_group(idpb::ReplaceGroupRequest {
                tenant_id: BIG.into(),
                group_id: few,
                resource_json: group("Few", &ids),
                if_version: None,
                include_members: false,
            })
            .await?;
        s.fact(
            "large_changes_written_s",
            big_changes.elapsed().as_secs_f64(),
        );
        let scim = Scim::new(Recorder::new())?;
        let (responded, during) = deactivate_all(&scim, small, &victims, &idb, &pdb).await?;
        caught_up(&idb, &pdb, BIG, Duration::from_secs(900)).await?;
        s.fact(
            "large_changes_applied_s",
            big_changes.elapsed().as_secs_f64(),
        );
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline
            && arrivals
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .len()
                < responded.len()
        {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        watcher.abort();
        let arrived = arrivals
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let mut lat: Vec<f64> = responded
            .iter()
            .filter_map(|(id, at)| {
                arrived
                    .get(id)
                    .map(|t| t.saturating_duration_since(*at).as_secs_f64() * 1000.0)
            })
            .collect();
        lat.sort_by(f64::total_cmp);
        let missing = responded.len() - lat.len();
        let max = lat.last().copied().unwrap_or(f64::NAN);
        s.fact("members", members as f64);
        s.fact("deactivations", responded.len() as f64);
        s.fact("deactivations_during_backlog", during as f64);
        s.fact("missing_after_5s", missing as f64);
        s.fact("p50_ms", percentile(&lat, 0.5));
        s.fact("max_ms", max);
        s.notes.push(
            "clock: from the 200 of the deactivating PATCH to the RoleChange to Disabled read from policy's stream; \
             'during backlog' counts deactivations sent while policy was still behind on the large tenant"
                .into(),
        );
        cx.report.goals.push(Goal {
            goal: format!(
                "another tenant's deactivation behind a {members}-member group deletion and list replacement → Disabled ≤ {GOAL_MS:.0} ms (every sample)"
            ),
            measured: format!(
                "max {max:.1} ms, p50 {:.1} ms over {} deactivations ({during} sent while the large changes were being applied, which took {:.1} s); {missing} missing",
                percentile(&lat, 0.5),
                lat.len(),
                s.num("large_changes_applied_s").unwrap_or(f64::NAN)
            ),
            met: (!lat.is_empty()).then_some(max <= GOAL_MS && missing == 0 && during > 0),
        });
        cx.report.push(s);
        Ok(())
    }
}

/// Deactivates `ids` one every 200 ms; returns when each PATCH answered
/// and how many were sent while policy was behind on the large tenant.
async fn deactivate_all(
    scim: &Scim,
    ep: &Endpoint,
    ids: &[String],
    idb: &sqlx::PgPool,
    pdb: &sqlx::PgPool,
) -> Result<(Vec<(String, Instant)>, usize), Error> {
    let mut responded = Vec::new();
    let mut during = 0;
    let mut tick = tokio::time::interval(Duration::from_millis(200));
    for id in ids {
        tick.tick().await;
        if crate::pg::policy_behind(idb, pdb, &[BIG.to_owned()]).await? > 0 {
            during += 1;
        }
        let path = format!("/Users/{id}");
        let r = scim
            .call(
                "lg.deactivate",
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
    Ok((responded, during))
}

/// Waits until policy has applied every change of `tenant`.
async fn caught_up(
    idb: &sqlx::PgPool,
    pdb: &sqlx::PgPool,
    tenant: &str,
    within: Duration,
) -> Result<(), Error> {
    let deadline = Instant::now() + within;
    while crate::pg::policy_behind(idb, pdb, &[tenant.to_owned()]).await? > 0 {
        if Instant::now() > deadline {
            return Err(format!("policy behind on {tenant} after {within:?}").into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}

/// Records when each of the small tenant's users arrives at Disabled.
async fn watch(policy_url: String, arrivals: Arrivals) -> Result<(), Error> {
    let mut client = connect_policy(&policy_url).await?;
    let mut stream = client
        .watch_role_changes(polpb::WatchRoleChangesRequest {
            tenant_id: SMALL.to_owned(),
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
