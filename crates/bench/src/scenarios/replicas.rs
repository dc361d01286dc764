//! Several processes of each service on the same two databases.
//!
//! `scale_out`: the provisioning workload and the saturating mixed load on
//! fresh tenants, first on the running topology (one gateway, one identity,
//! one policy), then with a second gateway, identity and policy replica
//! started beside them (the second gateway calls the second identity, the
//! second policy follows it), tenants split between the two gateways, then
//! once more on one of each (the extra processes stopped); the one-of-each
//! figure is the mean of the windows before and after. Afterwards every user's
//! stored role is compared with the role the bench computes from what it
//! sent (memberships, active state, the tenant's assignments).
//!
//! `failover`: a second policy replica shares the partitions, a paced
//! mixed load runs on many tenants, the second replica is killed with
//! SIGKILL, and the bench times the first role change the survivor produces
//! for a tenant the dead replica held (on `WatchRoleChanges` of every
//! tenant), then counts lost role changes (stored role ≠ recomputed role,
//! and the last role of each user on the stream ≠ recomputed role), and
//! gaps and reordering in each tenant's stream positions.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use proto::policy::v1 as polpb;
use sqlx::PgPool;

use super::{Scenario, ScenarioCtx};
use crate::Error;
use crate::client::Scim;
use crate::procs::{Service, Watched, free_port, loopback, wait_for_port};
use crate::report::{Goal, Section};
use crate::stats::Recorder;
use crate::systems::{connect_policy, default_role, metrics_listen, provision};
use crate::workload::{self, TenantState, Workload};

/// Tenant partitions shared by policy replicas (policy's `PARTITIONS`).
pub const PARTITIONS: u32 = 16;

/// The group assignments every tenant of these scenarios gets: its first
/// group maps to `Admin` (priority 20), its second to `Reader` (10); other
/// groups have none, and the default role is `Member`.
pub const ASSIGNED: [(&str, i32); 2] = [("Admin", 20), ("Reader", 10)];
const DEFAULT_ROLE: &str = "Member";
const DISABLED: &str = "Disabled";

/// The lease TTL the policy replicas run with (policy's default unless
/// `--env policy:POLICY_LEASE_TTL_MS=…`).
fn lease_ttl_ms(cx: &ScenarioCtx<'_>) -> u64 {
    cx.ctx
        .env
        .iter()
        .rev()
        .find(|(s, k, _)| s == "policy" && k == "POLICY_LEASE_TTL_MS")
        .and_then(|(_, _, v)| v.parse().ok())
        .unwrap_or(10_000)
}

fn now_micros() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
}

/// Starts one more process of `service` (`identity`, `policy`, `gateway`)
/// with `env`, the bench's usual logging and metrics settings and any
/// `--env` overrides of that service; returns it with its port.
async fn spawn_service(
    cx: &ScenarioCtx<'_>,
    name: &str,
    service: &str,
    listen_env: &'static str,
    env: Vec<(&'static str, String)>,
) -> Result<(Service, u16), Error> {
    let port = free_port()?;
    let mut all: Vec<(String, String)> = vec![
        (listen_env.to_owned(), loopback(port).to_string()),
        ("RUST_LOG".to_owned(), "info".to_owned()),
        ("LOG_FORMAT".to_owned(), "json".to_owned()),
        ("METRICS_LISTEN".to_owned(), metrics_listen()),
    ];
    all.extend(env.into_iter().map(|(k, v)| (k.to_owned(), v)));
    for (svc, k, v) in &cx.ctx.env {
        if svc == service {
            all.retain(|(key, _)| key != k);
            all.push((k.clone(), v.clone()));
        }
    }
    let env: Vec<(&str, String)> = all.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
    let bin = cx.ctx.bins.join(service);
    let mut svc = Service::spawn(name, &bin, &[], &env, &cx.ctx.work, None)?;
    wait_for_port(&mut svc, loopback(port), Duration::from_secs(30)).await?;
    Ok((svc, port))
}

/// The URL a service process connects with: the plain service role, as the
/// production topology's first processes (the owner's URL would be refused).
async fn db_url(db: Option<&(String, String)>, what: &str) -> Result<String, Error> {
    let (name, _owner_url) = db.ok_or_else(|| format!("no {what} database"))?;
    crate::pg::service_role_url(name).await
}

/// The owner's URL, for the bench's own reads of the databases.
fn owner_url(db: Option<&(String, String)>, what: &str) -> Result<String, Error> {
    db.map(|d| d.1.clone())
        .ok_or_else(|| format!("no {what} database").into())
}

async fn spawn_identity(cx: &ScenarioCtx<'_>, name: &str) -> Result<(Service, String), Error> {
    let url = db_url(cx.sys.identity_db.as_ref(), "identity").await?;
    let (svc, port) = spawn_service(
        cx,
        name,
        "identity",
        "IDENTITY_LISTEN",
        vec![("DATABASE_URL", url)],
    )
    .await?;
    Ok((svc, format!("http://{}", loopback(port))))
}

async fn spawn_policy(
    cx: &ScenarioCtx<'_>,
    name: &str,
    identity_url: &str,
    replica: &str,
) -> Result<(Service, String), Error> {
    let url = db_url(cx.sys.policy_db.as_ref(), "policy").await?;
    let (svc, port) = spawn_service(
        cx,
        name,
        "policy",
        "POLICY_LISTEN",
        vec![
            ("DATABASE_URL", url),
            ("IDENTITY_URL", identity_url.to_owned()),
            ("POLICY_REPLICA_ID", replica.to_owned()),
        ],
    )
    .await?;
    Ok((svc, format!("http://{}", loopback(port))))
}

/// A gateway as the production topology starts it (the limiter on Redis
/// with the main gateway's key prefix, limits far above the load).
async fn spawn_gateway(
    cx: &ScenarioCtx<'_>,
    name: &str,
    identity_url: &str,
) -> Result<(Service, u16), Error> {
    let mut env = vec![
        ("IDENTITY_URL", identity_url.to_owned()),
        ("RATE_LIMIT_DEFAULT_RATE", "1000000".to_owned()),
        ("RATE_LIMIT_DEFAULT_BURST", "1000000".to_owned()),
    ];
    if let Some(r) = &cx.ctx.redis_url {
        env.push(("REDIS_URL", r.clone()));
        env.push((
            "RATE_LIMIT_KEY_PREFIX",
            format!("bench:{}:main:", cx.ctx.run_id),
        ));
    }
    spawn_service(cx, name, "gateway", "GATEWAY_LISTEN", env).await
}

/// The live holder of each partition's lease (empty when unheld or expired).
async fn leases(policy_db: &PgPool) -> Result<BTreeMap<u32, String>, Error> {
    let rows: Vec<(i32, String, i64)> =
        sqlx::query_as("SELECT partition, holder, expires FROM stream_leases")
            .fetch_all(policy_db)
            .await?;
    let now = now_micros();
    Ok(rows
        .into_iter()
        .map(|(p, h, e)| {
            (
                u32::try_from(p).unwrap_or(u32::MAX),
                if e > now { h } else { String::new() },
            )
        })
        .collect())
}

/// Waits until every partition is held by one of exactly two live replicas,
/// one of them `replica`; returns how many partitions `replica` holds.
async fn wait_shared(policy_db: &PgPool, replica: &str, within: Duration) -> Result<usize, Error> {
    let deadline = Instant::now() + within;
    loop {
        let l = leases(policy_db).await?;
        let holders: HashSet<&str> = l.values().map(String::as_str).collect();
        let mine = l.values().filter(|h| *h == replica).count();
        if l.len() == PARTITIONS as usize && !holders.contains("") && holders.len() == 2 && mine > 0
        {
            return Ok(mine);
        }
        if Instant::now() > deadline {
            return Err(
                format!("partitions not shared with {replica} after {within:?}: {l:?}").into(),
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn positions(db: &PgPool, table: &str) -> Result<HashMap<String, i64>, Error> {
    let sql = format!("SELECT tenant_id, seq FROM {table}");
    let rows: Vec<(String, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .fetch_all(db)
        .await?;
    Ok(rows.into_iter().collect())
}

/// Waits until policy's cursor of each tenant has reached identity's head;
/// returns the wait and the tenants still behind after `within`.
async fn wait_caught_up(
    identity_db: &PgPool,
    policy_db: &PgPool,
    tenants: &[String],
    within: Duration,
) -> Result<(Duration, usize), Error> {
    let started = Instant::now();
    loop {
        let heads = positions(identity_db, "change_heads").await?;
        let cursors = positions(policy_db, "stream_cursors").await?;
        let behind = tenants
            .iter()
            .filter(|t| cursors.get(*t).copied().unwrap_or(0) < heads.get(*t).copied().unwrap_or(0))
            .count();
        if behind == 0 || started.elapsed() > within {
            return Ok((started.elapsed(), behind));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Fresh tenants `<prefix>-<i>` with the default role `Member`, their
/// endpoints spread round-robin over `gateways`.
async fn fresh_tenants(
    cx: &ScenarioCtx<'_>,
    prefix: &str,
    n: usize,
    gateways: &[u16],
) -> Result<Vec<TenantState>, Error> {
    let identity = cx.sys.identity_url.clone().ok_or("no identity")?;
    let policy = cx.sys.policy_url.clone().ok_or("no policy")?;
    let first = *gateways.first().ok_or("no gateway")?;
    let names: Vec<String> = (0..n).map(|i| format!("{prefix}-{i}")).collect();
    let eps = provision(&identity, first, &names).await?;
    let run = format!("{}-{prefix}", cx.ctx.run_id);
    let mut out = Vec::new();
    for (i, mut ep) in eps.into_iter().enumerate() {
        default_role(&policy, &ep.tenant).await?;
        let port = gateways[i % gateways.len()];
        ep.base = format!("http://127.0.0.1:{port}/scim/v2/{}", ep.tenant);
        out.push(TenantState::new(ep, i, &run));
    }
    Ok(out)
}

/// The roles of [`ASSIGNED`] and their group assignments, once the
/// tenant's groups exist.
async fn assign_roles(policy_url: &str, tenants: &[TenantState]) -> Result<(), Error> {
    let mut p = connect_policy(policy_url).await?;
    for st in tenants {
        for ((role, priority), g) in ASSIGNED.iter().zip(&st.groups) {
            p.create_role(polpb::CreateRoleRequest {
                tenant_id: st.ep.tenant.clone(),
                name: (*role).to_owned(),
                description: "bench assignment".into(),
            })
            .await?;
            p.set_assignment(polpb::SetAssignmentRequest {
                tenant_id: st.ep.tenant.clone(),
                assignment: Some(polpb::Assignment {
                    group_id: g.id.clone(),
                    role: (*role).to_owned(),
                    priority: *priority,
                }),
            })
            .await?;
        }
    }
    Ok(())
}

/// The role the bench expects for user `i` of `st`: Disabled when inactive,
/// else the role of the highest-priority assigned group the user is in,
/// else the default role.
pub fn expected_role(st: &TenantState, i: usize) -> &'static str {
    if !st.users[i].active {
        return DISABLED;
    }
    let mut best: Option<(&'static str, i32)> = None;
    for (&(role, priority), g) in ASSIGNED.iter().zip(&st.groups) {
        if g.members.contains(&i) && best.is_none_or(|(_, p)| priority > p) {
            best = Some((role, priority));
        }
    }
    best.map_or(DEFAULT_ROLE, |(r, _)| r)
}

/// Every user's stored role in `tenant`, from `ListUsersByRole`.
async fn stored_roles(policy_url: &str, tenant: &str) -> Result<HashMap<String, String>, Error> {
    let mut p = connect_policy(policy_url).await?;
    let mut out = HashMap::new();
    let mut roles: Vec<String> = p
        .list_roles(polpb::ListRolesRequest {
            tenant_id: tenant.to_owned(),
        })
        .await?
        .into_inner()
        .roles
        .into_iter()
        .map(|r| r.name)
        .collect();
    if !roles.iter().any(|r| r == DISABLED) {
        roles.push(DISABLED.to_owned());
    }
    for role in roles.iter().map(String::as_str) {
        let mut after = String::new();
        loop {
            let page = p
                .list_users_by_role(polpb::ListUsersByRoleRequest {
                    tenant_id: tenant.to_owned(),
                    role: role.to_owned(),
                    after_user_id: after.clone(),
                    page_size: 500,
                })
                .await?
                .into_inner();
            for u in &page.users {
                out.insert(u.user_id.clone(), role.to_owned());
            }
            if page.users.is_empty() || page.next_after_user_id.is_empty() {
                break;
            }
            after = page.next_after_user_id;
        }
    }
    Ok(out)
}

/// Stored roles compared with the bench's recomputation.
#[derive(Debug, Default)]
struct RoleCheck {
    users: usize,
    mismatches: usize,
    examples: Vec<String>,
}

async fn check_roles(policy_url: &str, tenants: &[TenantState]) -> Result<RoleCheck, Error> {
    let mut c = RoleCheck::default();
    for st in tenants {
        let stored = stored_roles(policy_url, &st.ep.tenant).await?;
        for (i, u) in st.users.iter().enumerate() {
            c.users += 1;
            let want = expected_role(st, i);
            let got = stored.get(&u.id).map_or("(none)", String::as_str);
            if got != want {
                c.mismatches += 1;
                if c.examples.len() < 5 {
                    c.examples
                        .push(format!("{} {}: {got}, expected {want}", st.ep.tenant, u.id));
                }
            }
        }
    }
    Ok(c)
}

fn sizes(quick: bool, tenants: usize) -> Workload {
    let (users, groups, members) = if quick { (60, 3, 20) } else { (250, 5, 60) };
    Workload {
        tenants,
        users,
        groups,
        members_per_group: members,
        batch: 10,
        page: 100,
        phase_cap: Duration::from_secs(if quick { 60 } else { 240 }),
    }
}

fn throughput(s: &Section) -> f64 {
    s.ops.get("all").map_or(0.0, |a| a.throughput)
}

fn errors(s: &Section) -> u64 {
    s.ops
        .iter()
        .filter(|(k, _)| *k != "all")
        .map(|(_, a)| a.errors)
        .sum()
}

/// The provisioning workload, then the assignments, then `window` of the
/// saturating mixed load, each measured over `watched`.
async fn provision_and_mix(
    cx: &ScenarioCtx<'_>,
    watched: &Watched,
    tag: &str,
    label: &str,
    states: Vec<TenantState>,
    window: Duration,
) -> Result<(Section, Section, Vec<TenantState>), Error> {
    let w = sizes(cx.quick, states.len());
    let policy = cx.sys.policy_url.clone().ok_or("no policy")?;
    let wl = w.clone();
    let (mut prov, states) = crate::run::measure(
        watched,
        cx.ctx.ticks,
        &format!("prod.scale_out_{tag}.provisioning"),
        &format!("Provisioning cycle, {label}"),
        |scim| async move { workload::provisioning(&scim, states, &wl).await },
    )
    .await?;
    prov.fact("tenants (concurrency)", w.tenants as f64);
    prov.fact("users per tenant", w.users as f64);
    assign_roles(&policy, &states).await?;
    let (mut mixed, states) = crate::run::measure(
        watched,
        cx.ctx.ticks,
        &format!("prod.scale_out_{tag}.mixed"),
        &format!("Mixed load (saturating), {label}"),
        |scim| async move {
            let until = Instant::now() + window;
            workload::each_tenant(states, move |mut st| {
                let scim = scim.clone();
                async move {
                    workload::mixed(&scim, &mut st, until, None).await;
                    st
                }
            })
            .await
        },
    )
    .await?;
    mixed.fact("tenants (concurrency)", w.tenants as f64);
    mixed.fact("window_s", window.as_secs_f64());
    Ok((prov, mixed, states))
}

pub struct ScaleOut;

#[async_trait]
impl Scenario for ScaleOut {
    fn id(&self) -> &'static str {
        "scale_out"
    }

    async fn run(&self, cx: &mut ScenarioCtx<'_>) -> Result<(), Error> {
        let policy = cx.sys.policy_url.clone().ok_or("no policy")?;
        let gw = cx.sys.gateway_port.ok_or("no gateway")?;
        let idb = crate::pg::pool(&owner_url(cx.sys.identity_db.as_ref(), "identity")?).await?;
        let pdb = crate::pg::pool(&owner_url(cx.sys.policy_db.as_ref(), "policy")?).await?;
        let n = if cx.tenants.is_empty() {
            if cx.quick { 6 } else { 24 }
        } else {
            cx.tenants.len()
        };
        let window = Duration::from_secs(if cx.quick { 8 } else { 20 });

        // One of each: the running topology.
        let one = fresh_tenants(cx, "so1", n, &[gw]).await?;
        let watched = cx.sys.watched.clone();
        let (p1, m1, one) = provision_and_mix(
            cx,
            &watched,
            "1x",
            "1 gateway + 1 identity + 1 policy",
            one,
            window,
        )
        .await?;

        // Two of each, on the same databases.
        let replica = format!("bench-{}-scale-out", cx.ctx.run_id);
        let (id2, id2_url) = spawn_identity(cx, "identity-2").await?;
        let (pol2, _) = spawn_policy(cx, "policy-2", &id2_url, &replica).await?;
        let (gw2, gw2_port) = spawn_gateway(cx, "gateway-2", &id2_url).await?;
        let mut extra = vec![id2, pol2, gw2];
        let result = async {
            let held = wait_shared(&pdb, &replica, Duration::from_secs(40)).await?;
            let mut watched2 = watched.clone();
            for s in &extra {
                watched2.groups.push((s.name.clone(), vec![s.pid]));
            }
            let two = fresh_tenants(cx, "so2", n, &[gw, gw2_port]).await?;
            let (p2, m2, two) = provision_and_mix(
                cx,
                &watched2,
                "2x",
                "2 gateways + 2 identities + 2 policies",
                two,
                window,
            )
            .await?;
            for s in &mut extra {
                s.check_alive()?;
            }
            Ok::<_, Error>((held, p2, m2, two))
        }
        .await;
        let (held, p2, m2, two) = match result {
            Ok(r) => r,
            Err(e) => {
                for s in extra {
                    s.stop().await;
                }
                return Err(e);
            }
        };

        for s in extra {
            s.stop().await;
        }

        // One of each again, on fresh tenants: the 1 + 1 + 1 figure is the
        // mean of the windows before and after, so that a drift of the
        // machine during the scenario does not favour either topology.
        let three = fresh_tenants(cx, "so3", n, &[gw]).await?;
        let (p3, m3, three) = provision_and_mix(
            cx,
            &watched,
            "1x_again",
            "1 gateway + 1 identity + 1 policy again",
            three,
            window,
        )
        .await?;

        // Every role, once policy has applied every change (the stopped
        // replica's tenants after its leases expire).
        let names: Vec<String> = one
            .iter()
            .chain(&two)
            .chain(&three)
            .map(|t| t.ep.tenant.clone())
            .collect();
        let (waited, behind) = wait_caught_up(&idb, &pdb, &names, Duration::from_secs(90)).await?;
        let mut check_one = check_roles(&policy, &one).await?;
        let check_two = check_roles(&policy, &two).await?;
        let check_three = check_roles(&policy, &three).await?;
        check_one.users += check_three.users;
        check_one.mismatches += check_three.mismatches;
        check_one.examples.extend(check_three.examples);

        let mut s = Section::new(
            "prod.scale_out",
            "Scale-out: 2 gateways + 2 identities + 2 policies vs 1 + 1 + 1 (same databases, same run)",
        );
        let (pt1, pt2, mt1, mt2) = (
            f64::midpoint(throughput(&p1), throughput(&p3)),
            throughput(&p2),
            f64::midpoint(throughput(&m1), throughput(&m3)),
            throughput(&m2),
        );
        s.fact("tenants per phase (concurrency)", n as f64);
        s.fact("provisioning_1x_before_req_s", throughput(&p1));
        s.fact("provisioning_1x_after_req_s", throughput(&p3));
        s.fact("mixed_1x_before_req_s", throughput(&m1));
        s.fact("mixed_1x_after_req_s", throughput(&m3));
        s.fact("provisioning_1x_req_s", pt1);
        s.fact("provisioning_2x_req_s", pt2);
        s.fact("provisioning_ratio", pt2 / pt1.max(f64::MIN_POSITIVE));
        s.fact("mixed_1x_req_s", mt1);
        s.fact("mixed_2x_req_s", mt2);
        s.fact("mixed_ratio", mt2 / mt1.max(f64::MIN_POSITIVE));
        s.fact(
            "scim_errors",
            [&p1, &m1, &p2, &m2, &p3, &m3]
                .into_iter()
                .map(errors)
                .sum::<u64>() as f64,
        );
        s.fact("policy_2_partitions", held as f64);
        s.fact("caught_up_after_s", waited.as_secs_f64());
        s.fact("tenants_behind", behind as f64);
        s.fact("users_checked", (check_one.users + check_two.users) as f64);
        s.fact("role_mismatches_1x", check_one.mismatches as f64);
        s.fact("role_mismatches_2x", check_two.mismatches as f64);
        for e in check_one.examples.iter().chain(&check_two.examples) {
            s.notes.push(format!("mismatch: {e}"));
        }
        s.notes.push(
            "tenants alternate between the two gateways; gateway-2 calls identity-2, policy-2 follows identity-2; \
             fresh tenants per phase, the same sizes and concurrency; 1 + 1 + 1 is the mean of the phases before and \
             after 2 + 2 + 2"
                .into(),
        );
        let mismatches = check_one.mismatches + check_two.mismatches;
        let users = check_one.users + check_two.users;
        for (what, a, b) in [("provisioning", pt1, pt2), ("mixed load", mt1, mt2)] {
            cx.report.goals.push(Goal {
                goal: format!(
                    "2 gateways + 2 identities + 2 policies: {what} throughput ≥ 1 + 1 + 1 (same run)"
                ),
                measured: format!(
                    "{b:.0} vs {a:.0} req/s = {:.2}×",
                    b / a.max(f64::MIN_POSITIVE)
                ),
                met: Some(b >= a),
            });
        }
        cx.report.goals.push(Goal {
            goal: "every user's role correct after the scale-out load (stored = recomputed)".into(),
            measured: format!("{mismatches} mismatches of {users} users"),
            met: Some(mismatches == 0 && behind == 0),
        });
        for sec in [p1, m1, p2, m2, p3, m3, s] {
            cx.report.push(sec);
        }
        Ok(())
    }
}

/// One role change as a watcher read it.
#[derive(Debug, Clone)]
struct Seen {
    seq: i64,
    user: String,
    from: String,
    to: String,
    /// When the writing replica applied it (its wall clock, µs).
    at_us: i64,
    arrived: Instant,
}

type Log = Arc<Mutex<HashMap<String, Vec<Seen>>>>;

/// Reads `tenant`'s role changes from the start, reconnecting after the
/// last position read when the stream breaks.
async fn watch_tenant(url: String, tenant: String, log: Log, reconnects: Arc<AtomicU64>) {
    let mut after = 0i64;
    loop {
        if let Ok(mut client) = connect_policy(&url).await
            && let Ok(stream) = client
                .watch_role_changes(polpb::WatchRoleChangesRequest {
                    after_seq: after,
                    tenant_id: tenant.clone(),
                    ..Default::default()
                })
                .await
        {
            let mut stream = stream.into_inner();
            while let Ok(Some(batch)) = stream.message().await {
                let now = Instant::now();
                let mut l = log.lock().unwrap_or_else(PoisonError::into_inner);
                let v = l.entry(tenant.clone()).or_default();
                for c in batch.changes {
                    after = after.max(c.seq);
                    let at_us =
                        c.at.map_or(0, |t| t.seconds * 1_000_000 + i64::from(t.nanos) / 1000);
                    v.push(Seen {
                        seq: c.seq,
                        user: c.user_id,
                        from: c.from_role,
                        to: c.to_role,
                        at_us,
                        arrived: now,
                    });
                }
            }
        }
        reconnects.fetch_add(1, Ordering::Relaxed);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// What the streams of one tenant show.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct StreamCheck {
    /// Positions skipped (a position greater than the previous + 1, or a
    /// first position other than 1), counted once per jump.
    pub gaps: usize,
    /// Positions not greater than the previous one (out of order or repeated).
    pub reordered: usize,
    /// A change whose `from_role` is not the user's previous `to_role`.
    pub chain_breaks: usize,
}

/// Checks one tenant's changes in arrival order.
pub fn check_stream(changes: &[(i64, &str, &str, &str)]) -> StreamCheck {
    let mut c = StreamCheck::default();
    let mut prev = 0i64;
    let mut last: HashMap<&str, &str> = HashMap::new();
    for &(seq, user, from, to) in changes {
        if seq <= prev {
            c.reordered += 1;
            continue;
        }
        if seq != prev + 1 {
            c.gaps += 1;
        }
        prev = seq;
        let before = last.insert(user, to).unwrap_or("");
        if before != from {
            c.chain_breaks += 1;
        }
    }
    c
}

pub struct Failover;

#[async_trait]
impl Scenario for Failover {
    fn id(&self) -> &'static str {
        "failover"
    }

    async fn run(&self, cx: &mut ScenarioCtx<'_>) -> Result<(), Error> {
        let policy = cx.sys.policy_url.clone().ok_or("no policy")?;
        let identity = cx.sys.identity_url.clone().ok_or("no identity")?;
        let gw = cx.sys.gateway_port.ok_or("no gateway")?;
        let idb = crate::pg::pool(&owner_url(cx.sys.identity_db.as_ref(), "identity")?).await?;
        let pdb = crate::pg::pool(&owner_url(cx.sys.policy_db.as_ref(), "policy")?).await?;
        let ttl = Duration::from_millis(lease_ttl_ms(cx));
        let n = if cx.quick { 12 } else { 32 };
        let (before_kill, after_kill) = if cx.quick {
            (Duration::from_secs(4), ttl + Duration::from_secs(6))
        } else {
            (Duration::from_secs(10), ttl + Duration::from_secs(15))
        };
        let pace = Duration::from_millis(100);

        let victim_id = format!("bench-{}-failover", cx.ctx.run_id);
        let (mut victim, _) = spawn_policy(cx, "policy-victim", &identity, &victim_id).await?;
        let shared = wait_shared(&pdb, &victim_id, ttl * 4).await;
        let setup = async {
            let held = shared?;
            let mut states = fresh_tenants(cx, "fo", n, &[gw]).await?;
            let mut w = sizes(cx.quick, n);
            (w.users, w.groups, w.members_per_group) =
                if cx.quick { (30, 3, 10) } else { (80, 3, 25) };
            states = workload::provisioning(&Scim::new(Recorder::new())?, states, &w).await;
            assign_roles(&policy, &states).await?;
            Ok::<_, Error>((held, states))
        }
        .await;
        let (held_before, states) = match setup {
            Ok(x) => x,
            Err(e) => {
                victim.stop().await;
                return Err(e);
            }
        };
        victim.check_alive()?;
        let names: Vec<String> = states.iter().map(|t| t.ep.tenant.clone()).collect();

        // Every tenant's stream, read from the survivor.
        let log: Log = Arc::default();
        let reconnects = Arc::new(AtomicU64::new(0));
        let watchers: Vec<_> = names
            .iter()
            .map(|t| {
                tokio::spawn(watch_tenant(
                    policy.clone(),
                    t.clone(),
                    log.clone(),
                    reconnects.clone(),
                ))
            })
            .collect();

        let watched = cx.sys.watched.clone();
        let load = crate::run::measure(
            &watched,
            cx.ctx.ticks,
            "prod.failover.load",
            "Mixed load (10 req/s per tenant) across the kill of a policy replica",
            |scim| {
                let until = Instant::now() + before_kill + after_kill;
                let scim = scim.clone();
                let pdb = pdb.clone();
                let victim_id = victim_id.clone();
                async move {
                    let bg = tokio::spawn(workload::each_tenant(states, move |mut st| {
                        let scim = scim.clone();
                        async move {
                            workload::mixed(&scim, &mut st, until, Some(pace)).await;
                            st
                        }
                    }));
                    tokio::time::sleep(before_kill).await;
                    let held = leases(&pdb).await.unwrap_or_default();
                    let parts: HashSet<u32> = held
                        .iter()
                        .filter(|(_, h)| **h == victim_id)
                        .map(|(p, _)| *p)
                        .collect();
                    // SIGKILL (tokio's kill), then reaped: nothing the
                    // victim writes can be dated after `dead_us`.
                    let killed = Instant::now();
                    victim.stop().await;
                    let dead_us = now_micros();
                    // When the survivor holds every partition.
                    let mut taken_over = None;
                    while Instant::now() < until {
                        let l = leases(&pdb).await.unwrap_or_default();
                        if taken_over.is_none()
                            && l.len() == PARTITIONS as usize
                            && l.values().all(|h| !h.is_empty() && *h != victim_id)
                        {
                            taken_over = Some(killed.elapsed());
                        }
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                    let states = bg.await.unwrap_or_default();
                    (parts, killed, dead_us, taken_over, states)
                }
            },
        )
        .await;
        let (mut load, (parts, killed, dead_us, taken_over, states)) = match load {
            Ok(x) => x,
            Err(e) => {
                for w in watchers {
                    w.abort();
                }
                return Err(e);
            }
        };
        load.fact("tenants (concurrency)", n as f64);

        // policy catches up, the watchers read up to every tenant's head.
        let (waited, behind) = wait_caught_up(&idb, &pdb, &names, Duration::from_secs(60)).await?;
        let heads = positions(&pdb, "role_heads").await?;
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let done = {
                let l = log.lock().unwrap_or_else(PoisonError::into_inner);
                names.iter().all(|t| {
                    let last = l.get(t).and_then(|v| v.last()).map_or(0, |c| c.seq);
                    last >= heads.get(t).copied().unwrap_or(0)
                })
            };
            if done || Instant::now() > deadline {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        for w in watchers {
            w.abort();
        }
        let log = log.lock().unwrap_or_else(PoisonError::into_inner).clone();

        let victim_tenants: HashSet<&str> = names
            .iter()
            .filter(|t| parts.contains(&storekit::partition_of(t, PARTITIONS)))
            .map(String::as_str)
            .collect();
        let first = log
            .iter()
            .filter(|(t, _)| victim_tenants.contains(t.as_str()))
            .flat_map(|(_, v)| v.iter())
            .filter(|c| c.at_us > dead_us)
            .min_by_key(|c| c.arrived);
        let first_arrival = first.map(|c| c.arrived.saturating_duration_since(killed));
        let first_at_ms = first.map(|c| (c.at_us - dead_us) as f64 / 1000.0);
        let survivor_changes = log
            .iter()
            .filter(|(t, _)| victim_tenants.contains(t.as_str()))
            .flat_map(|(_, v)| v.iter())
            .filter(|c| c.at_us > dead_us)
            .count();

        // Lost: stored role and the stream's last role per user against
        // the recomputation; order: positions and per-user chains.
        let stored = check_roles(&policy, &states).await?;
        let mut stream_lost = 0usize;
        let mut total = StreamCheck::default();
        let mut undelivered = 0i64;
        let mut seen = 0usize;
        for st in &states {
            let v = log.get(&st.ep.tenant).cloned().unwrap_or_default();
            seen += v.len();
            let rows: Vec<(i64, &str, &str, &str)> = v
                .iter()
                .map(|c| (c.seq, c.user.as_str(), c.from.as_str(), c.to.as_str()))
                .collect();
            let c = check_stream(&rows);
            total.gaps += c.gaps;
            total.reordered += c.reordered;
            total.chain_breaks += c.chain_breaks;
            let last_seq = v.iter().map(|c| c.seq).max().unwrap_or(0);
            undelivered += (heads.get(&st.ep.tenant).copied().unwrap_or(0) - last_seq).max(0);
            let mut last: HashMap<&str, &str> = HashMap::new();
            for c in &v {
                last.insert(&c.user, &c.to);
            }
            for (i, u) in st.users.iter().enumerate() {
                if last.get(u.id.as_str()).copied().unwrap_or("") != expected_role(st, i) {
                    stream_lost += 1;
                }
            }
        }

        let mut s = Section::new(
            "prod.failover",
            "Policy failover: SIGKILL of one of two replicas under load",
        );
        s.fact("tenants", n as f64);
        s.fact("lease_ttl_ms", ttl.as_millis() as f64);
        s.fact("victim_partitions_after_join", held_before as f64);
        s.fact("victim_partitions_at_kill", parts.len() as f64);
        s.fact("victim_tenants", victim_tenants.len() as f64);
        if let Some(d) = first_arrival {
            s.fact("kill_to_first_survivor_change_s", d.as_secs_f64());
        }
        if let Some(ms) = first_at_ms {
            s.fact("kill_to_first_survivor_commit_s", ms / 1000.0);
        }
        if let Some(d) = taken_over {
            s.fact("kill_to_all_partitions_taken_over_s", d.as_secs_f64());
        }
        s.fact(
            "survivor_changes_in_victim_tenants",
            survivor_changes as f64,
        );
        s.fact("role_changes_read", seen as f64);
        s.fact("scim_errors", errors(&load) as f64);
        s.fact("caught_up_after_load_s", waited.as_secs_f64());
        s.fact("tenants_behind", behind as f64);
        s.fact("users_checked", stored.users as f64);
        s.fact("lost_stored_role_mismatches", stored.mismatches as f64);
        s.fact("lost_stream_last_role_mismatches", stream_lost as f64);
        s.fact("stream_gaps", total.gaps as f64);
        s.fact("stream_reordered", total.reordered as f64);
        s.fact("stream_chain_breaks", total.chain_breaks as f64);
        s.fact("stream_undelivered", undelivered as f64);
        s.fact(
            "watch_reconnects",
            reconnects.load(Ordering::Relaxed) as f64,
        );
        for e in &stored.examples {
            s.notes.push(format!("mismatch: {e}"));
        }
        s.notes.push(
            "first survivor change: the first RoleChange of a tenant whose partition the victim held at the kill, \
             applied (its `at`) after the victim was reaped, timed from the SIGKILL to its arrival on the survivor's \
             WatchRoleChanges (one stream per tenant, from position 0)"
                .into(),
        );
        let goal_s = 15.0;
        let measured = first_arrival.map(|d| d.as_secs_f64());
        cx.report.goals.push(Goal {
            goal: format!(
                "policy failover: SIGKILL of a replica → first role change from the survivor for its tenants ≤ {goal_s:.0} s (lease TTL {} s)",
                ttl.as_secs_f64()
            ),
            measured: match (measured, taken_over) {
                (Some(m), Some(t)) => {
                    format!("{m:.2} s (all partitions taken over after {:.2} s)", t.as_secs_f64())
                }
                (Some(m), None) => format!("{m:.2} s"),
                _ => "no survivor change seen for the victim's tenants".into(),
            },
            met: measured.map(|m| m <= goal_s),
        });
        let lost = stored.mismatches + stream_lost;
        let disorder = total.gaps + total.reordered + total.chain_breaks;
        cx.report.goals.push(Goal {
            goal: "policy failover: 0 lost and 0 reordered role changes".into(),
            measured: format!(
                "lost {} stored + {stream_lost} on the stream of {} users; gaps {}, reordered {}, chain breaks {}, undelivered {undelivered}",
                stored.mismatches, stored.users, total.gaps, total.reordered, total.chain_breaks
            ),
            met: Some(lost == 0 && disorder == 0 && undelivered == 0 && behind == 0),
        });
        cx.report.push(load);
        cx.report.push(s);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::Endpoint;
    use crate::workload::{GroupRef, UserRef};

    fn tenant(active: &[bool], groups: &[&[usize]]) -> TenantState {
        let ep = Endpoint {
            base: String::new(),
            token: String::new(),
            tenant: "t".into(),
        };
        let mut st = TenantState::new(ep, 0, "r");
        st.users = active
            .iter()
            .enumerate()
            .map(|(i, a)| UserRef {
                id: format!("u{i}"),
                user_name: String::new(),
                active: *a,
            })
            .collect();
        st.groups = groups
            .iter()
            .enumerate()
            .map(|(g, m)| GroupRef {
                id: format!("g{g}"),
                members: m.to_vec(),
            })
            .collect();
        st
    }

    #[test]
    fn expected_roles_follow_the_role_table() {
        let st = tenant(
            &[true, true, true, false, true],
            &[&[0, 1, 3], &[1, 2], &[4]],
        );
        assert_eq!(expected_role(&st, 0), "Admin");
        // In both assigned groups: the higher priority wins.
        assert_eq!(expected_role(&st, 1), "Admin");
        assert_eq!(expected_role(&st, 2), "Reader");
        assert_eq!(expected_role(&st, 3), "Disabled");
        // Only in an unassigned group: the default role.
        assert_eq!(expected_role(&st, 4), "Member");
    }

    #[test]
    fn stream_check_counts_gaps_reordering_and_broken_chains() {
        let ok = [
            (1, "a", "", "Member"),
            (2, "b", "", "Member"),
            (3, "a", "Member", "Disabled"),
        ];
        assert_eq!(check_stream(&ok), StreamCheck::default());
        let bad = [
            (1, "a", "", "Member"),
            (3, "a", "Member", "Admin"),
            (2, "b", "", "Member"),
            (4, "a", "Member", "Disabled"),
        ];
        assert_eq!(
            check_stream(&bad),
            StreamCheck {
                gaps: 1,
                reordered: 1,
                chain_breaks: 1,
            }
        );
    }
}
