//! Storage edge cases on a temporary SQLite database (the e2e tests run the
//! same statements on Postgres).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use crate::domain::{ReplicaChange as C, SnapshotUser};
use crate::role::Rule;

struct Db {
    store: SqlStore,
    _dir: tempfile::TempDir,
}

async fn db() -> Db {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("policy.db").display());
    let store = SqlStore::connect(&StoreOptions {
        url,
        max_connections: 2,
        ..Default::default()
    })
    .await
    .unwrap();
    store.migrate().await.unwrap();
    Db { store, _dir: dir }
}

fn t() -> TenantId {
    TenantId::parse("acme").unwrap()
}

fn role(name: &str) -> RoleName {
    RoleName::parse(name).unwrap()
}

fn change(seq: i64, change: C) -> StreamChange {
    StreamChange {
        seq,
        tenant_id: "acme".into(),
        change,
    }
}

fn user(id: &str, active: bool) -> C {
    C::UserChanged {
        user_id: id.into(),
        active,
    }
}

fn members(group: &str, ids: &[&str], add: bool) -> C {
    let user_ids = ids.iter().map(|s| (*s).to_owned()).collect();
    if add {
        C::MembersAdded {
            group_id: group.into(),
            user_ids,
        }
    } else {
        C::MembersRemoved {
            group_id: group.into(),
            user_ids,
        }
    }
}

async fn cursor_of(s: &SqlStore, tenant: &str) -> i64 {
    s.cursors().await.unwrap().get(tenant).copied().unwrap_or(0)
}

async fn apply(s: &SqlStore, changes: Vec<StreamChange>) -> u32 {
    let from = cursor_of(s, "acme").await;
    match s.apply_changes(&t(), from, &changes, None).await.unwrap() {
        Applied::Applied { role_changes, .. } => role_changes,
        other => panic!("not applied: {other:?}"),
    }
}

async fn role_of(s: &SqlStore, id: &str) -> (String, Rule) {
    let e = s.effective_role(&t(), id).await.unwrap().unwrap();
    (e.role, e.reason.rule)
}

async fn setup(s: &SqlStore) {
    for r in ["Guest", "Admin"] {
        s.create_role(&t(), &role(r), "").await.unwrap();
    }
    s.set_default_role(&t(), Some(&role("Guest")))
        .await
        .unwrap();
}

#[tokio::test]
async fn unknown_members_are_recorded_as_active() {
    let db = db().await;
    setup(&db.store).await;
    apply(&db.store, vec![change(1, members("g", &["ghost"], true))]).await;
    assert_eq!(
        role_of(&db.store, "ghost").await,
        ("Guest".into(), Rule::DefaultRole)
    );
}

#[tokio::test]
async fn a_batch_is_applied_once_and_a_stale_cursor_is_refused() {
    let db = db().await;
    let s = &db.store;
    setup(s).await;
    let batch = vec![change(5, user("u", true)), change(7, user("u", false))];
    assert_eq!(
        s.apply_changes(&t(), 0, &batch, None).await.unwrap(),
        Applied::Applied {
            cursor: 7,
            role_changes: 1
        }
    );
    // The same batch from the old position: refused, nothing done.
    assert_eq!(
        s.apply_changes(&t(), 0, &batch, None).await.unwrap(),
        Applied::Moved { cursor: 7 }
    );
    assert_eq!(role_of(s, "u").await, ("Disabled".into(), Rule::Inactive));
    let history = s.history(&t(), "u", 10).await.unwrap();
    assert_eq!(
        history.len(),
        1,
        "one net change for the batch: {history:?}"
    );
    assert_eq!(
        (history[0].from_role.as_str(), history[0].to_role.as_str()),
        ("", "Disabled")
    );
}

#[tokio::test]
async fn only_real_role_changes_are_logged() {
    let db = db().await;
    let s = &db.store;
    setup(s).await;
    s.set_assignment(
        &t(),
        &Candidate {
            group_id: "a".into(),
            role: "Admin".into(),
            priority: 1,
        },
    )
    .await
    .unwrap();
    s.set_assignment(
        &t(),
        &Candidate {
            group_id: "b".into(),
            role: "Admin".into(),
            priority: 2,
        },
    )
    .await
    .unwrap();
    apply(
        s,
        vec![
            change(1, user("u", true)),
            change(2, members("a", &["u"], true)),
        ],
    )
    .await;
    // Another group with the same role: the reason changes, the role does not.
    assert_eq!(
        apply(s, vec![change(3, members("b", &["u"], true))]).await,
        0
    );
    let e = s.effective_role(&t(), "u").await.unwrap().unwrap();
    assert_eq!(
        (e.role.as_str(), e.reason.group_id.as_deref()),
        ("Admin", Some("b"))
    );
    assert_eq!(apply(s, vec![change(4, user("u", true))]).await, 0);
    assert_eq!(s.history(&t(), "u", 10).await.unwrap().len(), 1);
}

#[tokio::test]
async fn deleting_a_group_or_user_recomputes_its_members() {
    let db = db().await;
    let s = &db.store;
    setup(s).await;
    s.set_assignment(
        &t(),
        &Candidate {
            group_id: "g".into(),
            role: "Admin".into(),
            priority: 0,
        },
    )
    .await
    .unwrap();
    apply(
        s,
        vec![
            change(1, user("u", true)),
            change(2, user("v", true)),
            change(3, members("g", &["u", "v"], true)),
        ],
    )
    .await;
    assert_eq!(role_of(s, "u").await.0, "Admin");
    // The list in the change may be partial: the replica's members count too.
    apply(
        s,
        vec![change(
            4,
            C::GroupDeleted {
                group_id: "g".into(),
                user_ids: vec![],
            },
        )],
    )
    .await;
    assert_eq!(role_of(s, "u").await, ("Guest".into(), Rule::DefaultRole));
    assert_eq!(role_of(s, "v").await.0, "Guest");
    apply(
        s,
        vec![change(
            5,
            C::UserDeleted {
                user_id: "v".into(),
            },
        )],
    )
    .await;
    let e = s.effective_role(&t(), "v").await.unwrap().unwrap();
    assert_eq!(
        (e.role.as_str(), e.reason.rule, e.upstream_disabled),
        ("Disabled", Rule::Deleted, true)
    );
}

#[tokio::test]
async fn locks_freeze_and_hold_their_role() {
    let db = db().await;
    let s = &db.store;
    setup(s).await;
    assert!(matches!(
        s.lock_user(&t(), "nobody", "").await,
        Err(PolicyError::NotFound("user"))
    ));
    apply(s, vec![change(1, user("u", true))]).await;
    let locked = s.lock_user(&t(), "u", "hold").await.unwrap();
    assert_eq!((locked.role.as_str(), locked.locked), ("Guest", true));
    // A second lock keeps the first frozen role.
    s.set_default_role(&t(), Some(&role("Admin")))
        .await
        .unwrap();
    assert_eq!(s.lock_user(&t(), "u", "again").await.unwrap().role, "Guest");
    assert!(matches!(
        s.delete_role(&t(), &role("Guest")).await,
        Err(PolicyError::RoleInUse("a locked user"))
    ));
    apply(s, vec![change(2, user("u", false))]).await;
    let e = s.effective_role(&t(), "u").await.unwrap().unwrap();
    assert_eq!((e.role.as_str(), e.upstream_disabled), ("Guest", true));
    assert_eq!(s.unlock_user(&t(), "u").await.unwrap().role, "Disabled");
    let rules: Vec<Rule> = s
        .history(&t(), "u", 10)
        .await
        .unwrap()
        .iter()
        .map(|c| c.reason.rule)
        .collect();
    assert_eq!(rules, vec![Rule::Inactive, Rule::Locked, Rule::DefaultRole]);
}

#[tokio::test]
async fn roles_in_use_and_built_in_cannot_be_deleted() {
    let db = db().await;
    let s = &db.store;
    setup(s).await;
    assert!(matches!(
        s.create_role(&t(), &role("Guest"), "").await,
        Err(PolicyError::RoleExists)
    ));
    assert!(matches!(
        s.create_role(&t(), &role("DISABLED"), "").await,
        Err(PolicyError::RoleExists)
    ));
    assert!(matches!(
        s.delete_role(&t(), &role("Disabled")).await,
        Err(PolicyError::BuiltInRole)
    ));
    assert!(matches!(
        s.delete_role(&t(), &role("Nope")).await,
        Err(PolicyError::NotFound("role"))
    ));
    assert!(matches!(
        s.delete_role(&t(), &role("Guest")).await,
        Err(PolicyError::RoleInUse("the default role"))
    ));
    let a = Candidate {
        group_id: "g".into(),
        role: "Missing".into(),
        priority: 0,
    };
    assert!(matches!(
        s.set_assignment(&t(), &a).await,
        Err(PolicyError::UnknownRole(_))
    ));
    // Another tenant's role of the same name is another role.
    let other = TenantId::parse("other").unwrap();
    assert!(matches!(
        s.set_default_role(&other, Some(&role("Guest"))).await,
        Err(PolicyError::UnknownRole(_))
    ));
    let names: Vec<String> = s
        .list_roles(&t())
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.name)
        .collect();
    assert_eq!(names, vec!["Disabled", "Admin", "Guest"]);
}

#[tokio::test]
async fn dry_run_writes_nothing_and_matches_the_real_change() {
    let db = db().await;
    let s = &db.store;
    setup(s).await;
    apply(
        s,
        vec![
            change(1, user("u", true)),
            change(2, user("v", false)),
            change(3, members("g", &["u", "v"], true)),
        ],
    )
    .await;
    let a = Candidate {
        group_id: "g".into(),
        role: "Admin".into(),
        priority: 1,
    };
    let diffs = s
        .dry_run(&t(), &Hypothesis::SetAssignment(a.clone()))
        .await
        .unwrap();
    assert_eq!(
        diffs,
        vec![RoleDiff {
            user_id: "u".into(),
            from_role: "Guest".into(),
            to_role: "Admin".into()
        }]
    );
    assert_eq!(role_of(s, "u").await.0, "Guest");
    assert!(s.list_assignments(&t()).await.unwrap().is_empty());
    assert_eq!(s.set_assignment(&t(), &a).await.unwrap(), 1);
    let cleared = s
        .dry_run(&t(), &Hypothesis::SetDefaultRole(None))
        .await
        .unwrap();
    assert!(
        cleared.is_empty(),
        "nobody is on the default rule: {cleared:?}"
    );
}

#[tokio::test]
async fn reconcile_heals_the_replica_and_rewinds_the_cursor() {
    let db = db().await;
    let s = &db.store;
    setup(s).await;
    s.set_assignment(
        &t(),
        &Candidate {
            group_id: "g".into(),
            role: "Admin".into(),
            priority: 0,
        },
    )
    .await
    .unwrap();
    apply(
        s,
        vec![
            change(10, user("u", true)),
            change(11, members("g", &["u"], true)),
        ],
    )
    .await;
    // identity says: u left g, w exists and is inactive.
    let snapshot = [
        SnapshotUser {
            user_id: "u".into(),
            active: true,
            deleted: false,
            group_ids: vec![],
        },
        SnapshotUser {
            user_id: "w".into(),
            active: false,
            deleted: false,
            group_ids: vec!["g".into()],
        },
    ];
    assert_eq!(s.reconcile(&t(), &snapshot, 8).await.unwrap(), (2, 2));
    assert_eq!(role_of(s, "u").await.0, "Guest");
    assert_eq!(role_of(s, "w").await, ("Disabled".into(), Rule::Inactive));
    assert_eq!(
        cursor_of(s, "acme").await,
        8,
        "changes after the snapshot are applied again"
    );
    assert_eq!(s.reconcile(&t(), &snapshot, 20).await.unwrap(), (2, 0));
    assert_eq!(cursor_of(s, "acme").await, 8);
}

#[tokio::test]
async fn users_by_role_pages_by_id_within_the_tenant() {
    let db = db().await;
    let s = &db.store;
    setup(s).await;
    let mut batch: Vec<StreamChange> = (1..=5)
        .map(|i| change(i, user(&format!("u{i}"), true)))
        .collect();
    batch.push(StreamChange {
        seq: 6,
        tenant_id: "other".into(),
        change: user("x", true),
    });
    apply(s, batch).await;
    let first = s.users_by_role(&t(), "Guest", "", 2).await.unwrap();
    let ids: Vec<&str> = first.iter().map(|e| e.user_id.as_str()).collect();
    assert_eq!(ids, vec!["u1", "u2"]);
    let rest = s.users_by_role(&t(), "Guest", "u2", 10).await.unwrap();
    assert_eq!(rest.len(), 3);
    let nobody = s.users_by_role(&t(), "", "", 10).await.unwrap();
    assert!(nobody.is_empty(), "x belongs to another tenant");
}

#[tokio::test]
async fn cursors_and_reconcile_are_per_tenant() {
    let db = db().await;
    let s = &db.store;
    setup(s).await;
    apply(
        s,
        vec![change(1, user("u", true)), change(2, user("v", true))],
    )
    .await;
    let globex = TenantId::parse("globex").unwrap();
    let other = |seq, id: &str| StreamChange {
        seq,
        tenant_id: "globex".into(),
        change: user(id, true),
    };
    s.apply_changes(
        &globex,
        0,
        &[other(1, "x"), other(2, "y"), other(3, "z")],
        None,
    )
    .await
    .unwrap();
    assert_eq!(cursor_of(s, "acme").await, 2);
    assert_eq!(cursor_of(s, "globex").await, 3);
    // A change of another tenant in a page is not applied to this one.
    let stray = vec![change(3, user("w", true)), other(4, "q")];
    s.apply_changes(&t(), 2, &stray, None).await.unwrap();
    assert!(s.effective_role(&t(), "q").await.unwrap().is_none());
    assert!(s.effective_role(&globex, "q").await.unwrap().is_none());
    // Reconciling acme rewinds acme only.
    s.reconcile(&t(), &[], 1).await.unwrap();
    assert_eq!(cursor_of(s, "acme").await, 1);
    assert_eq!(cursor_of(s, "globex").await, 3);
}

#[tokio::test]
async fn role_changes_are_numbered_per_tenant() {
    let db = db().await;
    let s = &db.store;
    setup(s).await;
    let globex = TenantId::parse("globex").unwrap();
    apply(s, vec![change(1, user("u", true))]).await;
    let g = StreamChange {
        seq: 1,
        tenant_id: "globex".into(),
        change: user("x", false),
    };
    s.apply_changes(&globex, 0, &[g], None).await.unwrap();
    apply(s, vec![change(2, user("u", false))]).await;
    let acme = s.role_changes_after(&t(), 0, 10).await.unwrap();
    let seqs: Vec<i64> = acme.iter().map(|c| c.seq).collect();
    assert_eq!(seqs, [1, 2]);
    assert_eq!(acme[1].to_role, "Disabled");
    let theirs = s.role_changes_after(&globex, 0, 10).await.unwrap();
    assert_eq!(theirs.iter().map(|c| c.seq).collect::<Vec<_>>(), [1]);
    assert_eq!(s.role_changes_after(&t(), 1, 10).await.unwrap().len(), 1);
    let mut heads = s.role_heads().await.unwrap();
    heads.sort();
    assert_eq!(heads, [("acme".into(), 2), ("globex".into(), 1)]);
}

#[tokio::test]
async fn replicas_share_the_partitions_and_take_over_expired_leases() {
    let db = db().await;
    let s = &db.store;
    let ttl = 10_000_000;
    // Rounds at made-up times from now on (a page checks its lease against
    // the real clock).
    let base = crate::domain::now_micros();
    let at = |now| Round {
        partitions: 8,
        ttl,
        now,
    };
    // Alone, a replica takes every partition.
    let a = s.lease_round("a", at(base + 1_000_000)).await.unwrap();
    assert_eq!(a, (0..8).collect::<Vec<_>>());
    // A second replica finds none free; at its next round the first gives
    // back half, which the second then takes.
    assert!(
        s.lease_round("b", at(base + 1_100_000))
            .await
            .unwrap()
            .is_empty()
    );
    let a = s.lease_round("a", at(base + 1_200_000)).await.unwrap();
    assert_eq!(a, [0, 1, 2, 3]);
    let b = s.lease_round("b", at(base + 1_300_000)).await.unwrap();
    assert_eq!(b, [4, 5, 6, 7]);
    // Applying under a lease: held is applied, another's is refused.
    setup(s).await;
    let p = storekit::partition_of("acme", 8);
    let (mine, theirs) = if a.contains(&p) {
        ("a", "b")
    } else {
        ("b", "a")
    };
    let lease = |replica: &str| Lease {
        replica: replica.into(),
        partition: p,
    };
    let batch = [change(1, user("u", true))];
    assert_eq!(
        s.apply_changes(&t(), 0, &batch, Some(&lease(theirs)))
            .await
            .unwrap(),
        Applied::LeaseLost
    );
    assert!(matches!(
        s.apply_changes(&t(), 0, &batch, Some(&lease(mine)))
            .await
            .unwrap(),
        Applied::Applied { cursor: 1, .. }
    ));
    // "b" stops renewing: after the TTL its leases are "a"'s, and "b" (back
    // late) holds nothing and gets no share until "a"'s share shrinks.
    let later = base + 1_300_000 + ttl + 1;
    let a = s.lease_round("a", at(later)).await.unwrap();
    assert_eq!(a, (0..8).collect::<Vec<_>>());
    assert!(s.lease_round("b", at(later + 1)).await.unwrap().is_empty());
    // A clean shutdown gives everything back at once.
    s.release_leases("a").await.unwrap();
    let b = s.lease_round("b", at(later + 2)).await.unwrap();
    assert_eq!(b, (0..8).collect::<Vec<_>>());
}

#[tokio::test]
async fn roles_and_assignments_are_capped_per_tenant() {
    let db = db().await;
    let s = &db.store;
    for i in 0..MAX_ROLES {
        s.create_role(&t(), &role(&format!("R{i}")), "")
            .await
            .unwrap();
    }
    let over = s.create_role(&t(), &role("OneTooMany"), "").await;
    assert!(
        matches!(over, Err(PolicyError::QuotaExceeded { kind: "roles", .. })),
        "{over:?}"
    );
    // Nothing of the refused role was written.
    assert_eq!(
        s.list_roles(&t()).await.unwrap().len() as u64,
        MAX_ROLES + 1
    );
    // Another tenant has its own quota.
    let other = TenantId::parse("globex").unwrap();
    s.create_role(&other, &role("R0"), "").await.unwrap();
}
