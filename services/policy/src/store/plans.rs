//! The plans of policy's hot statements, on SQLite and on Postgres, over a
//! few thousand rows in two tenants (and two thousand small tenants): each
//! must search its table through the index of its equality columns, never
//! scan it. The statements are the store's own (`follow.rs`, `read.rs`,
//! `compute.rs`), not copies.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use sqlx::{AnyConnection, Connection};
use storekit::testing::{
    Arg, Case, Expect, PostgresDatabase, analyze, check_plans, connect_as_service, fill,
};

use super::compute::{
    LOCKS_BY_USERS, MEMBERS_OF, USERS_BY_IDS, effective_by_ids_head, groups_by_users, ids_sql,
};
use super::follow::{CURSORS, REMOVE_MEMBER};
use super::read::role_changes_after_sql;
use super::sql::ids_json;
use super::{Dialect, SqlStore, StoreOptions};

/// Users (and role changes, memberships) in each of the two large tenants.
const ROWS: usize = 3000;
/// Tenants in all (each with a cursor).
const TENANTS: usize = 2000;

fn tenant(i: usize) -> String {
    format!("tenant-{i:04}")
}

async fn populate(conn: &mut AnyConnection) {
    fill(
        conn,
        CURSORS,
        "tenant_id, seq",
        (0..TENANTS).map(|i| format!("('{}', {i})", tenant(i))),
    )
    .await;
    for t in [tenant(0), tenant(1)] {
        fill(
            conn,
            "effective_roles",
            "tenant_id, user_id, role, rule, group_id, priority, locked, upstream_disabled, since",
            (0..ROWS).map(|i| {
                format!(
                    "('{t}', 'u{i:05}', 'R{}', 'assignment', 'g{}', 1, false, false, {i})",
                    i % 5,
                    i % 30
                )
            }),
        )
        .await;
        fill(
            conn,
            "replica_users",
            "tenant_id, user_id, active, deleted",
            (0..ROWS).map(|i| format!("('{t}', 'u{i:05}', {}, false)", i % 10 != 0)),
        )
        .await;
        fill(
            conn,
            "locks",
            "tenant_id, user_id, role, note, locked_at",
            (0..ROWS)
                .filter(|i| i % 3 == 0)
                .map(|i| format!("('{t}', 'u{i:05}', 'R1', 'held', {i})")),
        )
        .await;
        fill(
            conn,
            "replica_members",
            "tenant_id, group_id, user_id",
            (0..ROWS).map(|i| format!("('{t}', 'g{}', 'u{i:05}')", i % 30)),
        )
        .await;
        fill(
            conn,
            "role_changes",
            "tenant_id, seq, user_id, from_role, to_role, rule, group_id, priority, at",
            (1..=ROWS)
                .map(|i| format!("('{t}', {i}, 'u{i:05}', '', 'R1', 'assignment', 'g1', 1, {i})")),
        )
        .await;
    }
}

fn text(s: &str) -> Arg {
    Arg::Text(s.to_owned())
}

fn cases(dialect: Dialect) -> Vec<Case> {
    let t = || text(&tenant(1));
    let ids = || text(&ids_json(&["u00017", "u00018", "u02999"]));
    vec![
        Case {
            name: "a tenant's cursor",
            sql: storekit::stream::head_sql(CURSORS),
            args: vec![t()],
            expect: Expect::Index(&[("stream_cursors", &["tenant_id"])]),
        },
        Case {
            name: "role-change stream page",
            sql: role_changes_after_sql(),
            args: vec![t(), Arg::Int(1500), Arg::Int(100)],
            expect: Expect::Index(&[("role_changes", &["tenant_id", "seq"])]),
        },
        Case {
            name: "effective role of a user",
            sql: ids_sql(dialect, &effective_by_ids_head()),
            args: vec![t(), text(&ids_json(&["u00017"]))],
            expect: Expect::Index(&[("effective_roles", &["tenant_id", "user_id"])]),
        },
        Case {
            name: "effective roles of users",
            sql: ids_sql(dialect, &effective_by_ids_head()),
            args: vec![t(), ids()],
            expect: Expect::Index(&[("effective_roles", &["tenant_id", "user_id"])]),
        },
        Case {
            name: "users of the replica",
            sql: ids_sql(dialect, USERS_BY_IDS),
            args: vec![t(), ids()],
            expect: Expect::Index(&[("replica_users", &["tenant_id", "user_id"])]),
        },
        Case {
            name: "groups of users",
            sql: ids_sql(dialect, groups_by_users(dialect)),
            args: vec![t(), ids()],
            expect: Expect::Index(&[("replica_members", &["tenant_id", "user_id"])]),
        },
        Case {
            name: "locks of users",
            sql: ids_sql(dialect, LOCKS_BY_USERS),
            args: vec![t(), ids()],
            expect: Expect::Index(&[("locks", &["tenant_id", "user_id"])]),
        },
        Case {
            name: "member removed",
            sql: REMOVE_MEMBER.to_owned(),
            args: vec![t(), text("g7"), text("u00007")],
            // Either key finds the one row: the member's own groups are few.
            expect: match dialect {
                Dialect::Postgres => {
                    Expect::Index(&[("replica_members", &["tenant_id", "user_id"])])
                }
                Dialect::Sqlite => {
                    Expect::Index(&[("replica_members", &["tenant_id", "group_id", "user_id"])])
                }
            },
        },
        Case {
            name: "members of a group",
            sql: MEMBERS_OF.to_owned(),
            args: vec![t(), text("g7")],
            expect: Expect::Index(&[("replica_members", &["tenant_id", "group_id"])]),
        },
    ]
}

async fn assert_plans(url: &str) {
    let store = SqlStore::connect(&StoreOptions {
        url: url.to_owned(),
        max_connections: 2,
        ..Default::default()
    })
    .await
    .unwrap();
    store.migrate().await.unwrap();
    let dialect = store.dialect();
    let mut conn = AnyConnection::connect(url).await.unwrap();
    populate(&mut conn).await;
    // Postgres analyses tables by itself (autovacuum); SQLite does not,
    // and a deployment's file has no statistics: plans without them are
    // the ones that run.
    if dialect == Dialect::Postgres {
        analyze(&mut conn).await;
        // Planned as policy runs them: its role, under row-level
        // security, in the scope of the tenant the cases read.
        conn = connect_as_service(url, &tenant(1)).await;
    }
    let failures = check_plans(&mut conn, dialect, &cases(dialect)).await;
    assert!(failures.is_empty(), "{dialect:?}:\n{}", failures.join("\n"));
}

#[tokio::test]
async fn hot_statements_use_their_indexes_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}?mode=rwc", dir.path().join("policy.db").display());
    assert_plans(&url).await;
}

#[tokio::test]
async fn hot_statements_use_their_indexes_on_postgres() {
    let db = PostgresDatabase::create("plan").await;
    assert_plans(&db.url).await;
}
