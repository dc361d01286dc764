//! Convergence, as a property: random sequences of SCIM writes and policy
//! changes, with policy crashed and restarted at random points. Once policy
//! has caught up with identity's stream, every user's stored role equals the
//! role computed here, independently, from identity's state (read over gRPC)
//! and the tenant's policy; each user's role history is an unbroken chain
//! ending at that role; and a `Reconcile` then finds nothing to heal.

use std::collections::HashMap;

use e2e::{Backend, Tenant, TestApp, spawn_app};
use proptest::prelude::*;
use proto::identity::v1 as idpb;
use proto::policy::v1 as pb;
use serde_json::json;
use tonic::Code;

const USERS: usize = 3;
const GROUPS: usize = 3;
/// Roles an assignment may name; `Disabled` may map a group too.
const ROLES: [&str; 3] = ["R0", "R1", "Disabled"];
const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

#[derive(Debug, Clone)]
enum Op {
    /// POST with a stable externalId: creates, or restores a deleted or
    /// deactivated account.
    CreateUser(usize),
    SetActive(usize, bool),
    DeleteUser(usize),
    AddMember(usize, usize),
    RemoveMember(usize, usize),
    DeleteGroup(usize),
    Assign(usize, usize, i32),
    Unassign(usize),
    SetDefault(Option<usize>),
    Lock(usize),
    Unlock(usize),
    Reconcile,
    RestartPolicy,
    /// Catch up and compare every role (not only at the end).
    Check,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0..USERS).prop_map(Op::CreateUser),
        2 => (0..USERS, any::<bool>()).prop_map(|(u, a)| Op::SetActive(u, a)),
        1 => (0..USERS).prop_map(Op::DeleteUser),
        4 => (0..GROUPS, 0..USERS).prop_map(|(g, u)| Op::AddMember(g, u)),
        3 => (0..GROUPS, 0..USERS).prop_map(|(g, u)| Op::RemoveMember(g, u)),
        1 => (0..GROUPS).prop_map(Op::DeleteGroup),
        3 => (0..GROUPS, 0..ROLES.len(), 0..3i32).prop_map(|(g, r, p)| Op::Assign(g, r, p)),
        1 => (0..GROUPS).prop_map(Op::Unassign),
        1 => prop::option::of(0..2usize).prop_map(Op::SetDefault),
        1 => (0..USERS).prop_map(Op::Lock),
        1 => (0..USERS).prop_map(Op::Unlock),
        1 => Just(Op::Reconcile),
        2 => Just(Op::RestartPolicy),
        3 => Just(Op::Check),
    ]
}

/// What the test remembers: ids, and the roles frozen by locks.
#[derive(Default)]
struct Model {
    users: [Option<String>; USERS],
    groups: [Option<String>; GROUPS],
    created_groups: usize,
    locks: HashMap<String, String>,
}

struct Run {
    app: TestApp,
    t: Tenant,
    model: Model,
}

/// The tenant's policy as policy reports it.
struct Policy {
    assignments: Vec<pb::Assignment>,
    default_role: String,
}

async fn read_policy(app: &TestApp, tenant: &str) -> Policy {
    let mut policy = app.policy.clone();
    let assignments = policy
        .list_assignments(pb::ListAssignmentsRequest {
            tenant_id: tenant.into(),
        })
        .await
        .unwrap()
        .into_inner()
        .assignments;
    let default_role = policy
        .get_default_role(pb::GetDefaultRoleRequest {
            tenant_id: tenant.into(),
        })
        .await
        .unwrap()
        .into_inner()
        .role;
    Policy {
        assignments,
        default_role,
    }
}

/// The role table, written again for the test, over identity's state.
async fn expected_role(
    app: &TestApp,
    tenant: &str,
    user: &str,
    model: &Model,
    policy: &Policy,
) -> String {
    if let Some(frozen) = model.locks.get(user) {
        return frozen.clone();
    }
    let found = app
        .identity
        .clone()
        .get_user(idpb::GetUserRequest {
            tenant_id: tenant.into(),
            user_id: user.into(),
        })
        .await;
    let user = match found {
        Ok(r) => r.into_inner().user.unwrap(),
        Err(s) if s.code() == Code::NotFound => return "Disabled".into(),
        Err(s) => panic!("GetUser: {s}"),
    };
    if !user.active {
        return "Disabled".into();
    }
    let best = policy
        .assignments
        .iter()
        .filter(|a| user.groups.iter().any(|g| g.id == a.group_id))
        .max_by(|a, b| {
            a.priority
                .cmp(&b.priority)
                .then(b.group_id.cmp(&a.group_id))
        });
    match best {
        Some(a) => a.role.clone(),
        None => policy.default_role.clone(),
    }
}

impl Run {
    fn tenant(&self) -> String {
        self.t.id.clone()
    }

    async fn group(&mut self, g: usize) -> String {
        if let Some(id) = &self.model.groups[g] {
            return id.clone();
        }
        self.model.created_groups += 1;
        let name = format!("group-{g}-{}", self.model.created_groups);
        let r = self.t.post("/Groups", json!({"displayName": name})).await;
        assert_eq!(r.status.as_u16(), 201, "{}", r.body);
        let id = r.body["id"].as_str().unwrap().to_owned();
        self.model.groups[g] = Some(id.clone());
        id
    }

    async fn patch_members(&mut self, op: &str, g: usize, u: usize) {
        let Some(user) = self.model.users[u].clone() else {
            return;
        };
        let group = self.group(g).await;
        let body = json!({"schemas": [PATCH_OP], "Operations": [
            {"op": op, "path": "members", "value": [{"value": user}]}
        ]});
        let r = self.t.patch(&format!("/Groups/{group}"), body).await;
        // A deleted user cannot be added: a clean 400.
        assert!(r.status.as_u16() < 500, "{}", r.body);
    }

    async fn apply(&mut self, op: &Op) {
        let mut policy = self.app.policy.clone();
        let tenant = self.tenant();
        match *op {
            Op::CreateUser(u) => {
                let body = json!({"userName": format!("user{u}@x.com"), "externalId": format!("ext-{u}"), "active": true});
                let r = self.t.post("/Users", body).await;
                assert!(r.status.as_u16() < 500, "{}", r.body);
                if let Some(id) = r.body["id"].as_str() {
                    self.model.users[u] = Some(id.to_owned());
                }
            }
            Op::SetActive(u, active) => {
                if let Some(id) = &self.model.users[u] {
                    let value = if active { "True" } else { "False" };
                    let body = json!({"schemas": [PATCH_OP], "Operations": [{"op": "Replace", "path": "active", "value": value}]});
                    let r = self.t.patch(&format!("/Users/{id}"), body).await;
                    assert!(r.status.as_u16() < 500, "{}", r.body);
                }
            }
            Op::DeleteUser(u) => {
                if let Some(id) = &self.model.users[u] {
                    let r = self.t.delete(&format!("/Users/{id}")).await;
                    assert!(r.status.as_u16() < 500, "{}", r.body);
                }
            }
            Op::AddMember(g, u) => self.patch_members("Add", g, u).await,
            Op::RemoveMember(g, u) => self.patch_members("Remove", g, u).await,
            Op::DeleteGroup(g) => {
                if let Some(id) = self.model.groups[g].take() {
                    let r = self.t.delete(&format!("/Groups/{id}")).await;
                    assert_eq!(r.status.as_u16(), 204, "{}", r.body);
                }
            }
            Op::Assign(g, r, priority) => {
                let group_id = self.group(g).await;
                policy
                    .set_assignment(pb::SetAssignmentRequest {
                        tenant_id: tenant,
                        assignment: Some(pb::Assignment {
                            group_id,
                            role: ROLES[r].into(),
                            priority,
                        }),
                    })
                    .await
                    .unwrap();
            }
            Op::Unassign(g) => {
                if let Some(group_id) = self.model.groups[g].clone() {
                    let r = policy
                        .remove_assignment(pb::RemoveAssignmentRequest {
                            tenant_id: tenant,
                            group_id,
                        })
                        .await;
                    assert!(r.is_ok() || r.is_err_and(|s| s.code() == Code::NotFound));
                }
            }
            Op::SetDefault(r) => {
                let role = r.map(|r| ROLES[r].to_owned()).unwrap_or_default();
                policy
                    .set_default_role(pb::SetDefaultRoleRequest {
                        tenant_id: tenant,
                        role,
                    })
                    .await
                    .unwrap();
            }
            Op::Lock(u) => self.lock(u).await,
            Op::Unlock(u) => {
                if let Some(id) = self.model.users[u].clone() {
                    self.app.policy_caught_up().await;
                    policy
                        .unlock_user(pb::UnlockUserRequest {
                            tenant_id: tenant,
                            user_id: id.clone(),
                        })
                        .await
                        .unwrap();
                    self.model.locks.remove(&id);
                }
            }
            Op::Reconcile => {
                // Nothing to heal: a reconcile after catching up changes no role.
                self.check().await;
                let reconciled = policy
                    .reconcile(pb::ReconcileRequest { tenant_id: tenant })
                    .await
                    .unwrap()
                    .into_inner();
                assert_eq!(reconciled.users_changed, 0, "reconcile found drift");
            }
            Op::RestartPolicy => self.app.restart_policy().await,
            Op::Check => self.check().await,
        }
    }

    /// Locks once policy has seen everything, so the frozen role is known.
    async fn lock(&mut self, u: usize) {
        let Some(id) = self.model.users[u].clone() else {
            return;
        };
        self.app.policy_caught_up().await;
        let policy = read_policy(&self.app, &self.t.id).await;
        let expected = expected_role(&self.app, &self.t.id, &id, &self.model, &policy).await;
        let locked = self
            .app
            .policy
            .clone()
            .lock_user(pb::LockUserRequest {
                tenant_id: self.tenant(),
                user_id: id.clone(),
                note: "property".into(),
            })
            .await
            .unwrap()
            .into_inner()
            .role
            .unwrap();
        assert_eq!(locked.role, expected, "the lock freezes the current role");
        self.model.locks.insert(id, expected);
    }

    async fn check(&self) {
        self.app.policy_caught_up().await;
        let mut policy = self.app.policy.clone();
        let tenant = self.tenant();
        let current = read_policy(&self.app, &tenant).await;
        for id in self.model.users.iter().flatten() {
            let expected = expected_role(&self.app, &tenant, id, &self.model, &current).await;
            let stored = policy
                .get_effective_role(pb::GetEffectiveRoleRequest {
                    tenant_id: tenant.clone(),
                    user_id: id.clone(),
                })
                .await
                .unwrap()
                .into_inner()
                .role
                .unwrap();
            assert_eq!(stored.role, expected, "user {id}");
            assert_eq!(
                stored.locked,
                self.model.locks.contains_key(id),
                "user {id}"
            );
            let history = policy
                .list_role_history(pb::ListRoleHistoryRequest {
                    tenant_id: tenant.clone(),
                    user_id: id.clone(),
                    limit: 1000,
                })
                .await
                .unwrap()
                .into_inner()
                .changes;
            let newest = history.first().map_or("", |c| c.to_role.as_str());
            assert_eq!(newest, stored.role, "history of {id} ends at the role");
            for pair in history.windows(2) {
                assert_eq!(
                    pair[0].from_role, pair[1].to_role,
                    "history of {id} is a chain"
                );
            }
            assert_eq!(history.last().map_or("", |c| c.from_role.as_str()), "");
        }
    }
}

/// Policy at the start: an assignment per group (every user exists and
/// every group is mapped, so that each operation matters), then the
/// operations.
fn case() -> impl Strategy<Value = (Vec<(usize, i32)>, Vec<Op>)> {
    (
        prop::collection::vec((0..ROLES.len(), 0..3i32), GROUPS),
        prop::collection::vec(op(), 20..40),
    )
}

async fn run_case(initial: Vec<(usize, i32)>, ops: Vec<Op>) {
    let app = spawn_app(Backend::Sqlite).await;
    let t = app.tenant("prop").await;
    for role in ["R0", "R1"] {
        app.policy
            .clone()
            .create_role(pb::CreateRoleRequest {
                tenant_id: t.id.clone(),
                name: role.into(),
                description: String::new(),
            })
            .await
            .unwrap();
    }
    let mut run = Run {
        app,
        t,
        model: Model::default(),
    };
    for u in 0..USERS {
        run.apply(&Op::CreateUser(u)).await;
    }
    for (g, (role, priority)) in initial.into_iter().enumerate() {
        run.apply(&Op::Assign(g, role, priority)).await;
    }
    for op in &ops {
        run.apply(op).await;
    }
    run.check().await;
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 16,
        max_shrink_iters: 24,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn roles_converge_after_crashes((initial, ops) in case()) {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(run_case(initial, ops));
    }
}
