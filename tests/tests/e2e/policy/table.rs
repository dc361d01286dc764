//! The role table row by row, and locks, on both backends.

use e2e::{TestApp, on_both_backends};
use proto::policy::v1 as pb;
use proto::policy::v1::RoleRule;
use reqwest::StatusCode;

use super::Both;

on_both_backends!(role_table_row_by_row, locks_freeze_the_role_until_unlocked,);

pub(crate) async fn role_table_row_by_row(app: &TestApp) {
    let t = Both::new(app, "roles").await;
    for role in ["Guest", "Engineer", "Admin"] {
        t.create_role(role).await;
    }
    t.set_default("Guest").await;
    let alice = t.create_user("alice").await;
    let bob = t.create_user("bob").await;
    t.wait_role(&alice, "Guest", RoleRule::DefaultRole).await;

    let eng = t.create_group("Engineering", &[&alice]).await;
    let admins = t.create_group("Admins", &[&alice, &bob]).await;
    t.assign(&eng, "Engineer", 10).await;
    t.assign(&admins, "Admin", 20).await;
    // Two mapped groups: the higher priority decides.
    let e = t
        .wait_role(&alice, "Admin", RoleRule::GroupAssignment)
        .await;
    let reason = e.reason.unwrap();
    assert_eq!(
        (reason.group_id.as_str(), reason.priority),
        (admins.as_str(), 20)
    );

    t.members("Remove", &admins, &[&alice]).await;
    t.wait_role(&alice, "Engineer", RoleRule::GroupAssignment)
        .await;
    // Leaving the last mapped group: the default role at once.
    t.members("Remove", &eng, &[&alice]).await;
    t.wait_role(&alice, "Guest", RoleRule::DefaultRole).await;

    t.set_active(&alice, false).await;
    let e = t.wait_role(&alice, "Disabled", RoleRule::Inactive).await;
    assert!(e.upstream_disabled && !e.locked);
    // Reactivation recomputes from the table.
    t.members("Add", &eng, &[&alice]).await;
    t.set_active(&alice, true).await;
    let e = t
        .wait_role(&alice, "Engineer", RoleRule::GroupAssignment)
        .await;
    assert!(!e.upstream_disabled);

    // A deleted group's members are recomputed.
    t.wait_role(&bob, "Admin", RoleRule::GroupAssignment).await;
    assert_eq!(
        t.scim.delete(&format!("/Groups/{admins}")).await.status,
        StatusCode::NO_CONTENT
    );
    t.wait_role(&bob, "Guest", RoleRule::DefaultRole).await;

    // DELETE keeps a Disabled tombstone.
    assert_eq!(
        t.scim.delete(&format!("/Users/{alice}")).await.status,
        StatusCode::NO_CONTENT
    );
    let e = t.wait_role(&alice, "Disabled", RoleRule::Deleted).await;
    assert!(e.upstream_disabled);

    // No default role: users in no mapped group have none.
    t.set_default("").await;
    t.wait_role(&bob, "", RoleRule::NoDefaultRole).await;
}

pub(crate) async fn locks_freeze_the_role_until_unlocked(app: &TestApp) {
    let t = Both::new(app, "locks").await;
    t.create_role("Guest").await;
    t.create_role("Engineer").await;
    t.set_default("Guest").await;
    let carol = t.create_user("carol").await;
    let eng = t.create_group("Engineering", &[&carol]).await;
    t.assign(&eng, "Engineer", 1).await;
    t.wait_role(&carol, "Engineer", RoleRule::GroupAssignment)
        .await;

    let mut policy = app.policy.clone();
    let locked = policy
        .lock_user(pb::LockUserRequest {
            tenant_id: t.id(),
            user_id: carol.clone(),
            note: "audit".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .role
        .unwrap();
    assert_eq!(locked.role, "Engineer");
    assert!(locked.locked);
    assert_eq!(locked.reason.unwrap().rule, RoleRule::Locked as i32);

    // Neither membership changes nor deactivation move a locked role.
    t.members("Remove", &eng, &[&carol]).await;
    t.set_active(&carol, false).await;
    app.policy_caught_up().await;
    let e = t.effective(&carol).await.unwrap();
    assert_eq!((e.role.as_str(), e.locked), ("Engineer", true));
    assert!(
        e.upstream_disabled,
        "a locked user deactivated upstream is flagged"
    );

    // Unlocking recomputes: inactive now.
    let unlocked = policy
        .unlock_user(pb::UnlockUserRequest {
            tenant_id: t.id(),
            user_id: carol.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .role
        .unwrap();
    assert_eq!(unlocked.role, "Disabled");
    assert!(!unlocked.locked);
    t.set_active(&carol, true).await;
    t.wait_role(&carol, "Guest", RoleRule::DefaultRole).await;
}
