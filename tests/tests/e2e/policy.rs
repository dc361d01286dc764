//! The policy service end to end: users and groups provisioned over SCIM,
//! policy set over gRPC, the role table checked row by row once policy's
//! follower has caught up with identity. No sleeps as assertions: every wait
//! polls with a deadline and names what it waited for.

pub(crate) mod admin;
mod convergence;
pub(crate) mod insight;
mod resilience;
pub(crate) mod table;

use std::time::Duration;

use e2e::{Tenant, TestApp};
use proto::policy::v1 as pb;
use proto::policy::v1::RoleRule;
use reqwest::StatusCode;
use serde_json::json;

const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const DEADLINE: Duration = Duration::from_secs(10);

/// A tenant seen from both sides: SCIM for identity, gRPC for policy.
pub struct Both<'a> {
    pub app: &'a TestApp,
    pub scim: Tenant,
}

impl<'a> Both<'a> {
    pub async fn new(app: &'a TestApp, prefix: &str) -> Self {
        Self {
            scim: app.tenant(prefix).await,
            app,
        }
    }

    pub fn id(&self) -> String {
        self.scim.id.clone()
    }

    pub async fn create_role(&self, name: &str) {
        self.app
            .policy
            .clone()
            .create_role(pb::CreateRoleRequest {
                tenant_id: self.id(),
                name: name.into(),
                description: format!("{name} role"),
            })
            .await
            .unwrap();
    }

    /// Assigns `role` to `group`; returns the users changed.
    pub async fn assign(&self, group: &str, role: &str, priority: i32) -> u32 {
        self.app
            .policy
            .clone()
            .set_assignment(pb::SetAssignmentRequest {
                tenant_id: self.id(),
                assignment: Some(pb::Assignment {
                    group_id: group.into(),
                    role: role.into(),
                    priority,
                }),
            })
            .await
            .unwrap()
            .into_inner()
            .users_changed
    }

    pub async fn set_default(&self, role: &str) -> u32 {
        self.app
            .policy
            .clone()
            .set_default_role(pb::SetDefaultRoleRequest {
                tenant_id: self.id(),
                role: role.into(),
            })
            .await
            .unwrap()
            .into_inner()
            .users_changed
    }

    pub async fn effective(&self, user: &str) -> Result<pb::EffectiveRole, tonic::Status> {
        self.app
            .policy
            .clone()
            .get_effective_role(pb::GetEffectiveRoleRequest {
                tenant_id: self.id(),
                user_id: user.into(),
            })
            .await
            .map(|r| r.into_inner().role.unwrap())
    }

    /// Polls until the user's role is `role` by `rule`; fails after 10 s.
    pub async fn wait_role(&self, user: &str, role: &str, rule: RoleRule) -> pb::EffectiveRole {
        let deadline = tokio::time::Instant::now() + DEADLINE;
        loop {
            let seen = self.effective(user).await;
            if let Ok(e) = &seen
                && e.role == role
                && e.reason.as_ref().map(|r| r.rule) == Some(rule as i32)
            {
                return e.clone();
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "user {user} did not get role {role:?} by {rule:?} within {DEADLINE:?}; last seen: {seen:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub async fn create_user(&self, name: &str) -> String {
        self.scim
            .create_user(json!({"userName": format!("{name}@contoso.com")}))
            .await
    }

    pub async fn create_group(&self, name: &str, members: &[&str]) -> String {
        let members: Vec<_> = members.iter().map(|m| json!({"value": m})).collect();
        let r = self
            .scim
            .post("/Groups", json!({"displayName": name, "members": members}))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        r.body["id"].as_str().unwrap().to_owned()
    }

    /// Entra's membership PATCH (`Add` or `Remove`), answered 204.
    pub async fn members(&self, op: &str, group: &str, users: &[&str]) {
        let value: Vec<_> = users.iter().map(|u| json!({"value": u})).collect();
        let r = self
            .scim
            .patch(
                &format!("/Groups/{group}"),
                json!({"schemas": [PATCH_OP], "Operations": [{"op": op, "path": "members", "value": value}]}),
            )
            .await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    }

    /// Entra's (de)activation, with the string booleans it sends.
    pub async fn set_active(&self, user: &str, active: bool) {
        let value = if active { "True" } else { "False" };
        let r = self
            .scim
            .patch(
                &format!("/Users/{user}"),
                json!({"schemas": [PATCH_OP], "Operations": [{"op": "Replace", "path": "active", "value": value}]}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    }
}

fn code<T: std::fmt::Debug>(r: Result<T, tonic::Status>) -> tonic::Code {
    r.expect_err("an error status").code()
}
