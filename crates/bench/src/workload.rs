//! Entra- and Okta-shaped provisioning traffic (request shapes as those
//! clients send them): the Test Connection probe, an initial
//! sync (filter by userName, then create; groups; member batches),
//! incremental cycles (PATCH 5 % of users in Entra's dialect, deactivate
//! 1 %, membership changes), an Okta-style paging import, and a mixed
//! steady-state load. Tenants run in parallel, each tenant's requests in
//! sequence, as one provisioning job per tenant does.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};

use crate::client::{Endpoint, Scim, enc};

/// The size of one provisioning run.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Workload {
    pub tenants: usize,
    pub users: usize,
    pub groups: usize,
    pub members_per_group: usize,
    /// Members per `Add` PATCH in the initial sync.
    pub batch: usize,
    /// Okta import page size.
    pub page: usize,
    /// No phase runs longer than this (the run is bounded in time).
    #[serde(skip)]
    pub phase_cap: Duration,
}

/// A tenant's provisioned objects, as the IdP caches their ids.
#[derive(Debug, Clone)]
pub struct TenantState {
    pub ep: Endpoint,
    pub index: usize,
    /// A unique prefix so that tenants sharing one peer never collide.
    pub prefix: String,
    pub users: Vec<UserRef>,
    pub groups: Vec<GroupRef>,
    rng: Rng,
}

#[derive(Debug, Clone)]
pub struct UserRef {
    pub id: String,
    pub user_name: String,
    pub active: bool,
}

#[derive(Debug, Clone)]
pub struct GroupRef {
    pub id: String,
    /// Indexes into `users`.
    pub members: Vec<usize>,
}

impl TenantState {
    pub fn new(ep: Endpoint, index: usize, run: &str) -> Self {
        Self {
            ep,
            index,
            prefix: format!("{run}-t{index}"),
            users: Vec::new(),
            groups: Vec::new(),
            rng: Rng::new(index as u64 + 1),
        }
    }

    pub fn user_name(&self, i: usize) -> String {
        format!("{}-u{i}@bench.example.com", self.prefix)
    }
}

/// SplitMix64: small, seedable, good enough to pick users.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15))
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }
}

// === Request bodies (as Entra and Okta send them) ===

/// A create as Entra's default mappings produce it.
pub fn user_body(user_name: &str, external_id: &str) -> Value {
    json!({
        "schemas": [
            "urn:ietf:params:scim:schemas:core:2.0:User",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
        ],
        "externalId": external_id,
        "userName": user_name,
        "active": true,
        "displayName": "Bench User",
        "title": "Asset Manager",
        "preferredLanguage": "en-GB",
        "emails": [{ "primary": true, "type": "work", "value": user_name }],
        "meta": { "resourceType": "User" },
        "name": { "formatted": "Bench User", "familyName": "User", "givenName": "Bench" },
        "phoneNumbers": [{ "type": "work", "value": "+44 118 000 0000" }],
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
            "employeeNumber": external_id,
            "department": "Facilities"
        },
        "roles": []
    })
}

/// The default job's attribute update (a filtered email path, a
/// sub-attribute, an enterprise URN path).
pub fn patch_body(n: u64) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [
            { "op": "Replace", "path": "emails[type eq \"work\"].value", "value": format!("renamed{n}@bench.example.com") },
            { "op": "Replace", "path": "name.familyName", "value": format!("Family{n}") },
            { "op": "Add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", "value": "Retail" }
        ]
    })
}

/// Deactivation without the `aadOptscim062020` flag: the string "False".
pub fn active_body(active: bool) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{ "op": "Replace", "path": "active", "value": if active { "True" } else { "False" } }]
    })
}

/// Entra's group create, with Microsoft's extra schema URI.
pub fn group_body(display_name: &str) -> Value {
    json!({
        "schemas": [
            "urn:ietf:params:scim:schemas:core:2.0:Group",
            "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"
        ],
        "externalId": display_name,
        "displayName": display_name,
        "meta": { "resourceType": "Group" }
    })
}

/// Entra's default job: `Add` or `Remove` with a member list.
pub fn members_body(op: &str, ids: &[&str]) -> Value {
    let value: Vec<Value> = ids
        .iter()
        .map(|id| json!({ "$ref": null, "value": id }))
        .collect();
    json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{ "op": op, "path": "members", "value": value }]
    })
}

/// Entra's member removal with the flag: `members[value eq "id"]`.
pub fn remove_member_filtered(id: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{ "op": "remove", "path": format!("members[value eq \"{id}\"]") }]
    })
}

pub fn filter_user_path(user_name: &str) -> String {
    format!(
        "/Users?filter={}",
        enc(&format!("userName eq \"{user_name}\""))
    )
}

fn filter_group_path(display_name: &str) -> String {
    format!(
        "/Groups?excludedAttributes=members&filter={}",
        enc(&format!("displayName eq \"{display_name}\""))
    )
}

// === Phases ===

/// Test Connection: a user and a group that do not exist.
pub async fn probe(scim: &Scim, st: &mut TenantState) {
    let guid = uuid::Uuid::new_v4().to_string();
    scim.call(
        "probe.users",
        &st.ep,
        Method::GET,
        &filter_user_path(&guid),
        None,
        false,
    )
    .await;
    scim.call(
        "probe.groups",
        &st.ep,
        Method::GET,
        &filter_group_path(&guid),
        None,
        false,
    )
    .await;
}

/// Initial sync of users: filter by userName, then create.
pub async fn sync_users(scim: &Scim, st: &mut TenantState, w: &Workload, deadline: Instant) {
    for i in st.users.len()..w.users {
        if Instant::now() > deadline {
            return;
        }
        let name = st.user_name(i);
        scim.call(
            "sync.filter_user",
            &st.ep,
            Method::GET,
            &filter_user_path(&name),
            None,
            false,
        )
        .await;
        let body = user_body(&name, &format!("{}-e{i}", st.prefix));
        let reply = scim
            .call(
                "sync.create_user",
                &st.ep,
                Method::POST,
                "/Users",
                Some(&body),
                true,
            )
            .await;
        if let Some(id) = reply.id() {
            st.users.push(UserRef {
                id,
                user_name: name,
                active: true,
            });
        }
    }
}

/// Groups: filter by displayName, create, then add members in batches.
pub async fn sync_groups(scim: &Scim, st: &mut TenantState, w: &Workload, deadline: Instant) {
    if st.users.is_empty() {
        return;
    }
    for g in 0..w.groups {
        if Instant::now() > deadline {
            return;
        }
        let name = format!("{}-g{g}", st.prefix);
        scim.call(
            "sync.filter_group",
            &st.ep,
            Method::GET,
            &filter_group_path(&name),
            None,
            false,
        )
        .await;
        let mut reply = scim
            .call(
                "sync.create_group",
                &st.ep,
                Method::POST,
                "/Groups",
                Some(&group_body(&name)),
                true,
            )
            .await;
        if reply.status == 400 {
            // A strict peer refuses Microsoft's extra schema URI: send the
            // RFC shape so that the rest of the workload stays the same.
            let mut body = group_body(&name);
            body["schemas"] = json!(["urn:ietf:params:scim:schemas:core:2.0:Group"]);
            reply = scim
                .call(
                    "sync.create_group_rfc_retry",
                    &st.ep,
                    Method::POST,
                    "/Groups",
                    Some(&body),
                    true,
                )
                .await;
        }
        let Some(id) = reply.id() else { continue };
        let n = w.members_per_group.min(st.users.len());
        let start = g * n % st.users.len();
        let members: Vec<usize> = (0..n).map(|k| (start + k) % st.users.len()).collect();
        for chunk in members.chunks(w.batch.max(1)) {
            let ids: Vec<&str> = chunk.iter().map(|&k| st.users[k].id.as_str()).collect();
            scim.call(
                "sync.add_members",
                &st.ep,
                Method::PATCH,
                &format!("/Groups/{id}"),
                Some(&members_body("Add", &ids)),
                false,
            )
            .await;
        }
        st.groups.push(GroupRef { id, members });
    }
}

/// One incremental cycle: GET and PATCH 5 % of users, deactivate 1 %, and
/// in each group remove one member and add another.
pub async fn incremental(scim: &Scim, st: &mut TenantState, deadline: Instant) {
    let n = st.users.len();
    if n == 0 {
        return;
    }
    let patched = (n * 5).div_ceil(100);
    let deactivated = n.div_ceil(100);
    let offset = st.rng.below(n);
    for k in 0..patched {
        if Instant::now() > deadline {
            return;
        }
        let u = st.users[(offset + k) % n].id.clone();
        let path = format!("/Users/{u}");
        scim.call("inc.get_user", &st.ep, Method::GET, &path, None, false)
            .await;
        let body = patch_body(st.rng.next_u64() % 1_000_000);
        scim.call(
            "inc.patch_user",
            &st.ep,
            Method::PATCH,
            &path,
            Some(&body),
            false,
        )
        .await;
    }
    for k in 0..deactivated {
        if Instant::now() > deadline {
            return;
        }
        let i = (offset + patched + k) % n;
        let path = format!("/Users/{}", st.users[i].id);
        scim.call(
            "inc.deactivate",
            &st.ep,
            Method::PATCH,
            &path,
            Some(&active_body(false)),
            false,
        )
        .await;
        st.users[i].active = false;
    }
    for g in 0..st.groups.len() {
        if Instant::now() > deadline {
            return;
        }
        membership_change(scim, st, g).await;
    }
}

/// Removes one member of group `g` (Entra's default shape) and adds a
/// user that is not in it.
async fn membership_change(scim: &Scim, st: &mut TenantState, g: usize) {
    let n = st.users.len();
    let path = format!("/Groups/{}", st.groups[g].id);
    if !st.groups[g].members.is_empty() {
        let k = st.rng.below(st.groups[g].members.len());
        let gone = st.groups[g].members.swap_remove(k);
        let body = members_body("Remove", &[st.users[gone].id.as_str()]);
        scim.call(
            "inc.member_remove",
            &st.ep,
            Method::PATCH,
            &path,
            Some(&body),
            false,
        )
        .await;
    }
    for _ in 0..8 {
        let candidate = st.rng.below(n);
        if !st.groups[g].members.contains(&candidate) {
            let body = members_body("Add", &[st.users[candidate].id.as_str()]);
            scim.call(
                "inc.member_add",
                &st.ep,
                Method::PATCH,
                &path,
                Some(&body),
                false,
            )
            .await;
            st.groups[g].members.push(candidate);
            break;
        }
    }
}

/// Okta's import: `startIndex`/`count` pages through users, then
/// groups. The number of pages follows this tenant's own size, so a peer
/// that holds every tenant in one store does the same number of requests.
pub async fn okta_import(scim: &Scim, st: &mut TenantState, w: &Workload, deadline: Instant) {
    let pages = st.users.len().div_ceil(w.page).max(1);
    for p in 0..pages {
        if Instant::now() > deadline {
            return;
        }
        let path = format!("/Users?startIndex={}&count={}", p * w.page + 1, w.page);
        scim.call("okta.page_users", &st.ep, Method::GET, &path, None, false)
            .await;
    }
    let path = format!(
        "/Groups?startIndex=1&count={}&excludedAttributes=members",
        w.page
    );
    scim.call("okta.page_groups", &st.ep, Method::GET, &path, None, false)
        .await;
}

/// Steady state between sync cycles, until `until`: filters, reads,
/// attribute PATCHes, deactivations and reactivations, membership changes
/// and page reads, in IdP proportions.
///
/// With `pace`, each tenant sends one request per `pace` (open loop, as an
/// IdP job at a steady rate); without, back to back (the system saturated).
pub async fn mixed(scim: &Scim, st: &mut TenantState, until: Instant, pace: Option<Duration>) {
    let n = st.users.len();
    if n == 0 {
        return;
    }
    let mut tick = pace.map(|p| {
        let mut t = tokio::time::interval(p);
        t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        t
    });
    while Instant::now() < until {
        if let Some(t) = tick.as_mut() {
            t.tick().await;
        }
        let roll = st.rng.below(100);
        let i = st.rng.below(n);
        let path = format!("/Users/{}", st.users[i].id);
        match roll {
            0..30 => {
                let p = filter_user_path(&st.users[i].user_name);
                scim.call("mixed.filter_user", &st.ep, Method::GET, &p, None, false)
                    .await;
            }
            30..55 => {
                scim.call("mixed.get_user", &st.ep, Method::GET, &path, None, false)
                    .await;
            }
            55..75 => {
                let body = patch_body(st.rng.next_u64() % 1_000_000);
                scim.call(
                    "mixed.patch_user",
                    &st.ep,
                    Method::PATCH,
                    &path,
                    Some(&body),
                    false,
                )
                .await;
            }
            75..80 => {
                let to = !st.users[i].active;
                let op = if to {
                    "mixed.reactivate"
                } else {
                    "mixed.deactivate"
                };
                scim.call(
                    op,
                    &st.ep,
                    Method::PATCH,
                    &path,
                    Some(&active_body(to)),
                    false,
                )
                .await;
                st.users[i].active = to;
            }
            80..90 if !st.groups.is_empty() => {
                let g = st.rng.below(st.groups.len());
                membership_change(scim, st, g).await;
            }
            _ => {
                let start = st.rng.below(n.max(100) - 99) + 1;
                let p = format!("/Users?startIndex={start}&count=100");
                scim.call("mixed.page_users", &st.ep, Method::GET, &p, None, false)
                    .await;
            }
        }
    }
}

/// Creates only, as fast as one client per tenant can, until `until`:
/// the figure compared with Postgres' own limit.
pub async fn create_burst(scim: &Scim, st: &mut TenantState, until: Instant) {
    let mut i = 0usize;
    while Instant::now() < until {
        let name = format!("{}-burst{i}@bench.example.com", st.prefix);
        let body = user_body(&name, &format!("{}-b{i}", st.prefix));
        scim.call(
            "burst.create_user",
            &st.ep,
            Method::POST,
            "/Users",
            Some(&body),
            false,
        )
        .await;
        i += 1;
    }
}

/// Reads only (GET by id of a created user), until `until`.
pub async fn read_burst(scim: &Scim, st: &mut TenantState, until: Instant) {
    if st.users.is_empty() {
        return;
    }
    while Instant::now() < until {
        let i = st.rng.below(st.users.len());
        let path = format!("/Users/{}", st.users[i].id);
        scim.call("burst.get_user", &st.ep, Method::GET, &path, None, false)
            .await;
    }
}

/// Runs `phase` for every tenant in parallel (one task per tenant) and
/// returns the states.
pub async fn each_tenant<F, Fut>(states: Vec<TenantState>, phase: F) -> Vec<TenantState>
where
    F: Fn(TenantState) -> Fut,
    Fut: std::future::Future<Output = TenantState> + Send + 'static,
{
    let handles: Vec<_> = states.into_iter().map(|s| tokio::spawn(phase(s))).collect();
    let mut out = Vec::with_capacity(handles.len());
    for h in handles {
        if let Ok(s) = h.await {
            out.push(s);
        }
    }
    out.sort_by_key(|s| s.index);
    out
}

/// The whole provisioning run: probe, initial sync, groups, one
/// incremental cycle, Okta import. Returns the provisioned states.
pub async fn provisioning(scim: &Scim, states: Vec<TenantState>, w: &Workload) -> Vec<TenantState> {
    let cap = w.phase_cap;
    let s = scim.clone();
    let states = each_tenant(states, move |mut st| {
        let s = s.clone();
        async move {
            probe(&s, &mut st).await;
            st
        }
    })
    .await;
    let (s, w1) = (scim.clone(), w.clone());
    let deadline = Instant::now() + cap;
    let states = each_tenant(states, move |mut st| {
        let (s, w1) = (s.clone(), w1.clone());
        async move {
            sync_users(&s, &mut st, &w1, deadline).await;
            st
        }
    })
    .await;
    let (s, w1) = (scim.clone(), w.clone());
    let deadline = Instant::now() + cap;
    let states = each_tenant(states, move |mut st| {
        let (s, w1) = (s.clone(), w1.clone());
        async move {
            sync_groups(&s, &mut st, &w1, deadline).await;
            st
        }
    })
    .await;
    let s = scim.clone();
    let deadline = Instant::now() + cap;
    let states = each_tenant(states, move |mut st| {
        let s = s.clone();
        async move {
            incremental(&s, &mut st, deadline).await;
            st
        }
    })
    .await;
    let (s, w1) = (scim.clone(), w.clone());
    let deadline = Instant::now() + cap;
    each_tenant(states, move |mut st| {
        let (s, w1) = (s.clone(), w1.clone());
        async move {
            okta_import(&s, &mut st, &w1, deadline).await;
            st
        }
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rng_is_deterministic_and_bounded() {
        let mut a = Rng::new(7);
        let mut b = Rng::new(7);
        for _ in 0..100 {
            let x = a.below(10);
            assert_eq!(x, b.below(10));
            assert!(x < 10);
        }
    }

    #[test]
    fn bodies_have_entra_shapes() {
        assert_eq!(active_body(false)["Operations"][0]["value"], "False");
        let m = members_body("Remove", &["a", "b"]);
        assert_eq!(m["Operations"][0]["value"][1]["value"], "b");
        assert!(m["Operations"][0]["value"][0]["$ref"].is_null());
    }
}
