//! Why a user has a role (Explain), what a change would do (DryRun), what
//! happened (history) and what is happening (WatchRoleChanges).

use e2e::{TestApp, on_both_backends};
use proto::policy::v1 as pb;
use proto::policy::v1::RoleRule;
use tokio_stream::StreamExt;

use super::{Both, DEADLINE};

on_both_backends!(
    explain_dry_run_and_history,
    watch_role_changes_delivers_a_deactivation,
);

pub(crate) async fn explain_dry_run_and_history(app: &TestApp) {
    let t = Both::new(app, "explain").await;
    for role in ["Guest", "Engineer", "Admin"] {
        t.create_role(role).await;
    }
    t.set_default("Guest").await;
    let dave = t.create_user("dave").await;
    let erin = t.create_user("erin").await;
    let eng = t.create_group("Engineering", &[&dave, &erin]).await;
    let ops = t.create_group("Ops", &[&dave]).await;
    // Everyone starts on the default role, so that the history is known.
    app.policy_caught_up().await;
    t.assign(&eng, "Engineer", 5).await;
    t.assign(&ops, "Admin", 5).await;
    let tie_winner = if ops < eng { "Admin" } else { "Engineer" };
    t.wait_role(&dave, tie_winner, RoleRule::GroupAssignment)
        .await;
    app.policy_caught_up().await;

    let mut policy = app.policy.clone();
    let explained = policy
        .explain(pb::ExplainRequest {
            tenant_id: t.id(),
            user_id: dave.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    let rules: Vec<i32> = explained.steps.iter().map(|s| s.rule).collect();
    let order = [
        RoleRule::Locked,
        RoleRule::Deleted,
        RoleRule::Inactive,
        RoleRule::GroupAssignment,
        RoleRule::DefaultRole,
        RoleRule::NoDefaultRole,
    ];
    assert_eq!(rules, order.map(|r| r as i32).to_vec());
    let applying: Vec<i32> = explained
        .steps
        .iter()
        .filter(|s| s.applies)
        .map(|s| s.rule)
        .collect();
    assert_eq!(applying, vec![RoleRule::GroupAssignment as i32]);
    let mut groups = [eng.clone(), ops.clone()];
    groups.sort();
    let candidates: Vec<&str> = explained
        .candidate_assignments
        .iter()
        .map(|a| a.group_id.as_str())
        .collect();
    assert_eq!(
        candidates,
        groups.iter().map(String::as_str).collect::<Vec<_>>(),
        "ties sorted by group id"
    );

    // Dry run: who would change, and nothing changes.
    let dry = policy
        .dry_run(pb::DryRunRequest {
            tenant_id: t.id(),
            change: Some(pb::dry_run_request::Change::SetAssignment(pb::Assignment {
                group_id: eng.clone(),
                role: "Admin".into(),
                priority: 50,
            })),
        })
        .await
        .unwrap()
        .into_inner();
    let mut diffs: Vec<(String, String, String)> = dry
        .changes
        .into_iter()
        .map(|d| (d.user_id, d.from_role, d.to_role))
        .collect();
    diffs.sort();
    let mut expected = vec![(erin.clone(), "Engineer".to_owned(), "Admin".to_owned())];
    if tie_winner == "Engineer" {
        expected.push((dave.clone(), "Engineer".into(), "Admin".into()));
    }
    expected.sort();
    assert_eq!(diffs, expected);
    assert_eq!(
        t.effective(&erin).await.unwrap().role,
        "Engineer",
        "a dry run changes nothing"
    );
    let dry = policy
        .dry_run(pb::DryRunRequest {
            tenant_id: t.id(),
            change: Some(pb::dry_run_request::Change::RemoveAssignmentGroupId(
                eng.clone(),
            )),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(
        dry.changes
            .iter()
            .any(|d| d.user_id == erin && d.to_role == "Guest")
    );

    // History, newest first, with reasons.
    t.assign(&eng, "Admin", 50).await;
    t.set_active(&erin, false).await;
    t.wait_role(&erin, "Disabled", RoleRule::Inactive).await;
    let history = policy
        .list_role_history(pb::ListRoleHistoryRequest {
            tenant_id: t.id(),
            user_id: erin.clone(),
            limit: 10,
        })
        .await
        .unwrap()
        .into_inner()
        .changes;
    let steps: Vec<(&str, &str, i32)> = history
        .iter()
        .map(|c| {
            (
                c.from_role.as_str(),
                c.to_role.as_str(),
                c.reason.as_ref().unwrap().rule,
            )
        })
        .collect();
    assert_eq!(
        steps,
        vec![
            ("Admin", "Disabled", RoleRule::Inactive as i32),
            ("Engineer", "Admin", RoleRule::GroupAssignment as i32),
            ("Guest", "Engineer", RoleRule::GroupAssignment as i32),
            ("", "Guest", RoleRule::DefaultRole as i32),
        ]
    );
    assert!(history.windows(2).all(|w| w[0].seq > w[1].seq));
    assert!(history[1].reason.as_ref().unwrap().summary.contains(&eng));
}

pub(crate) async fn watch_role_changes_delivers_a_deactivation(app: &TestApp) {
    let t = Both::new(app, "watch").await;
    t.create_role("Guest").await;
    t.set_default("Guest").await;
    let frank = t.create_user("frank").await;
    t.wait_role(&frank, "Guest", RoleRule::DefaultRole).await;
    let mut stream = app
        .policy
        .clone()
        .watch_role_changes(pb::WatchRoleChangesRequest {
            after_seq: 0,
            tenant_id: t.id(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    t.set_active(&frank, false).await;
    let deadline = tokio::time::Instant::now() + DEADLINE;
    let mut seen = Vec::new();
    loop {
        let batch = tokio::time::timeout_at(deadline, stream.next())
            .await
            .unwrap_or_else(|_| panic!("no deactivation within {DEADLINE:?}; seen {seen:?}"))
            .expect("stream open")
            .expect("no error");
        seen.extend(batch.changes);
        if let Some(c) = seen.iter().find(|c| c.to_role == "Disabled") {
            assert_eq!(c.user_id, frank);
            assert_eq!(c.from_role, "Guest");
            assert_eq!(c.reason.as_ref().unwrap().rule, RoleRule::Inactive as i32);
            break;
        }
    }
    assert!(seen.windows(2).all(|w| w[1].seq == w[0].seq + 1));
    assert!(seen.iter().all(|c| c.tenant_id == t.id()));
}
