//! Administration: tenant isolation, precise errors, paging, Reconcile.

use e2e::{TestApp, on_both_backends};
use proto::policy::v1 as pb;
use proto::policy::v1::RoleRule;
use tonic::Code;

use super::{Both, code};

on_both_backends!(
    tenants_are_isolated,
    admin_errors_are_precise,
    users_by_role_pages_and_reconcile_agrees,
    text_with_nul_is_refused_naming_the_field,
);

/// Postgres refuses NUL in text: every text field is checked on arrival.
pub(crate) async fn text_with_nul_is_refused_naming_the_field(app: &TestApp) {
    let a = Both::new(app, "nul").await;
    let user = a.create_user("nina").await;
    let mut policy = app.policy.clone();
    let refused = |r: Result<_, tonic::Status>, field: &str| {
        let e = r.expect_err("refused");
        assert_eq!(e.code(), Code::InvalidArgument, "{field}: {e:?}");
        assert!(e.message().contains(field), "{field}: {}", e.message());
    };
    let role = policy
        .create_role(pb::CreateRoleRequest {
            tenant_id: a.id(),
            name: "Guest".into(),
            description: "a\0b".into(),
        })
        .await;
    refused(role.map(|_| ()), "description");
    let lock = policy
        .lock_user(pb::LockUserRequest {
            tenant_id: a.id(),
            user_id: user.clone(),
            note: "on leave\0".into(),
        })
        .await;
    refused(lock.map(|_| ()), "note");
    let checkout = policy
        .record_checkout(pb::RecordCheckoutRequest {
            tenant_id: a.id(),
            user_id: user.clone(),
            asset_id: "laptop\0".into(),
            asset_name: "Laptop".into(),
            ..Default::default()
        })
        .await;
    refused(checkout.map(|_| ()), "asset_id");
    let hook = policy
        .set_alert_settings(pb::SetAlertSettingsRequest {
            tenant_id: a.id(),
            webhook_url: "https://hooks.example.com/\0".into(),
            generate_secret: true,
            ..Default::default()
        })
        .await;
    refused(hook.map(|_| ()), "webhook_url");
    // Nothing was stored, and the tenant still works.
    a.create_role("Guest").await;
}

pub(crate) async fn tenants_are_isolated(app: &TestApp) {
    let a = Both::new(app, "tenant-a").await;
    let b = Both::new(app, "tenant-b").await;
    a.create_role("Guest").await;
    a.set_default("Guest").await;
    let user = a.create_user("grace").await;
    let group = a.create_group("Team", &[&user]).await;
    a.wait_role(&user, "Guest", RoleRule::DefaultRole).await;

    let mut policy = app.policy.clone();
    assert_eq!(code(b.effective(&user).await), Code::NotFound);
    let lock = policy
        .lock_user(pb::LockUserRequest {
            tenant_id: b.id(),
            user_id: user.clone(),
            note: String::new(),
        })
        .await;
    assert_eq!(code(lock), Code::NotFound);
    let explain = policy
        .explain(pb::ExplainRequest {
            tenant_id: b.id(),
            user_id: user.clone(),
        })
        .await;
    assert_eq!(code(explain), Code::NotFound);

    // tenant A's group id assigned in tenant B affects nobody in A.
    b.create_role("Admin").await;
    assert_eq!(b.assign(&group, "Admin", 100).await, 0);
    app.policy_caught_up().await;
    let e = a.effective(&user).await.unwrap();
    assert_eq!(
        (e.role.as_str(), e.tenant_id.as_str()),
        ("Guest", a.id().as_str())
    );
    let listed = policy
        .list_users_by_role(pb::ListUsersByRoleRequest {
            tenant_id: b.id(),
            role: "Guest".into(),
            after_user_id: String::new(),
            page_size: 10,
        })
        .await
        .unwrap()
        .into_inner();
    assert!(listed.users.is_empty());
    let roles = policy
        .list_roles(pb::ListRolesRequest { tenant_id: b.id() })
        .await
        .unwrap()
        .into_inner()
        .roles;
    let names: Vec<&str> = roles.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, vec!["Disabled", "Admin"]);
}

async fn admin_errors_are_precise(app: &TestApp) {
    let t = Both::new(app, "errors").await;
    let mut policy = app.policy.clone();
    t.create_role("Guest").await;
    let create = |name: &str| pb::CreateRoleRequest {
        tenant_id: t.id(),
        name: name.into(),
        description: String::new(),
    };
    assert_eq!(
        code(policy.create_role(create("Guest")).await),
        Code::AlreadyExists
    );
    assert_eq!(
        code(policy.create_role(create("Disabled")).await),
        Code::AlreadyExists
    );
    assert_eq!(
        code(policy.create_role(create(" padded")).await),
        Code::InvalidArgument
    );
    let bad_tenant = policy
        .list_roles(pb::ListRolesRequest {
            tenant_id: "Not A Slug".into(),
        })
        .await;
    assert_eq!(code(bad_tenant), Code::InvalidArgument);

    let delete = |name: &str| pb::DeleteRoleRequest {
        tenant_id: t.id(),
        name: name.into(),
    };
    assert_eq!(
        code(policy.delete_role(delete("Nope")).await),
        Code::NotFound
    );
    assert_eq!(
        code(policy.delete_role(delete("Disabled")).await),
        Code::FailedPrecondition
    );
    t.set_default("Guest").await;
    assert_eq!(
        code(policy.delete_role(delete("Guest")).await),
        Code::FailedPrecondition
    );
    t.set_default("").await;
    t.assign("some-group", "Guest", 1).await;
    assert_eq!(
        code(policy.delete_role(delete("Guest")).await),
        Code::FailedPrecondition
    );
    policy
        .remove_assignment(pb::RemoveAssignmentRequest {
            tenant_id: t.id(),
            group_id: "some-group".into(),
        })
        .await
        .unwrap();
    policy.delete_role(delete("Guest")).await.unwrap();

    let assign = policy
        .set_assignment(pb::SetAssignmentRequest {
            tenant_id: t.id(),
            assignment: Some(pb::Assignment {
                group_id: "g".into(),
                role: "Unknown".into(),
                priority: 1,
            }),
        })
        .await;
    assert_eq!(code(assign), Code::FailedPrecondition);
    let default = policy
        .set_default_role(pb::SetDefaultRoleRequest {
            tenant_id: t.id(),
            role: "Disabled".into(),
        })
        .await;
    assert_eq!(code(default), Code::InvalidArgument);
    let removed = policy
        .remove_assignment(pb::RemoveAssignmentRequest {
            tenant_id: t.id(),
            group_id: "never-assigned".into(),
        })
        .await;
    assert_eq!(code(removed), Code::NotFound);
    let unknown_user = policy
        .unlock_user(pb::UnlockUserRequest {
            tenant_id: t.id(),
            user_id: "nobody".into(),
        })
        .await;
    assert_eq!(code(unknown_user), Code::NotFound);
    // Disabled may map a group (a "blocked" group).
    assert_eq!(t.assign("blocked", "Disabled", 1000).await, 0);
}

pub(crate) async fn users_by_role_pages_and_reconcile_agrees(app: &TestApp) {
    let t = Both::new(app, "paging").await;
    t.create_role("Guest").await;
    t.set_default("Guest").await;
    let mut users = Vec::new();
    for i in 0..5 {
        users.push(t.create_user(&format!("user{i}")).await);
    }
    for u in &users {
        t.wait_role(u, "Guest", RoleRule::DefaultRole).await;
    }
    let mut policy = app.policy.clone();
    let mut seen = Vec::new();
    let mut after = String::new();
    loop {
        let page = policy
            .list_users_by_role(pb::ListUsersByRoleRequest {
                tenant_id: t.id(),
                role: "Guest".into(),
                after_user_id: after.clone(),
                page_size: 2,
            })
            .await
            .unwrap()
            .into_inner();
        assert!(page.users.len() <= 2);
        seen.extend(page.users.into_iter().map(|u| u.user_id));
        if page.next_after_user_id.is_empty() {
            break;
        }
        after = page.next_after_user_id;
    }
    users.sort();
    assert_eq!(seen, users);

    app.policy_caught_up().await;
    let reconciled = policy
        .reconcile(pb::ReconcileRequest { tenant_id: t.id() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!((reconciled.users_checked, reconciled.users_changed), (5, 0));
    // The follower keeps following after a reconcile.
    t.set_active(&users[0], false).await;
    t.wait_role(&users[0], "Disabled", RoleRule::Inactive).await;
}
