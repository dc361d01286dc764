//! The plans of identity's hot statements, on SQLite and on Postgres, over
//! a few thousand rows in two tenants (and two thousand small tenants):
//! each must search its table through the index of its equality columns,
//! never scan it. The statements are the store's own (`users.rs`,
//! `groups.rs`, `snapshot.rs`, `sql.rs`), not copies.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use sqlx::{AnyConnection, Connection};
use storekit::testing::{
    Arg, Case, Expect, PostgresDatabase, analyze, check_plans, connect_as_service, fill,
};

use super::filter_sql::Bind;
use super::keyset::keyset_page_sql;
use super::paging::{LIVE_COUNT, offset_page_sql};
use super::snapshot::CHANGES_AFTER;
use super::sql::AUTHENTICATE;
use super::users::{INSERT_USER, USER_COLUMNS, get_user_sql, restore_probe_sql, users_condition};
use super::{Dialect, Keyset, ListQuery, RowKey, SqlStore, StoreOptions, changes, groups};
use crate::domain::TenantId;

/// Users (and change records) in each of the two large tenants.
const ROWS: usize = 3000;
/// Tenants in all (each with a token and a stream head).
const TENANTS: usize = 2000;

fn tenant(i: usize) -> String {
    format!("tenant-{i:04}")
}

/// Tenants, tokens, heads; users and changes in tenants 0 and 1, a tenth
/// of them inactive and a twentieth deleted.
async fn populate(conn: &mut AnyConnection) {
    fill(
        conn,
        "tenants",
        "id, display_name, created",
        (0..TENANTS).map(|i| format!("('{}', 'T{i}', {i})", tenant(i))),
    )
    .await;
    fill(
        conn,
        "tokens",
        "id, tenant_id, hash, hint, description, created",
        (0..TENANTS).map(|i| format!("('k{i}', '{}', 'hash-{i}', 'h', 'd', {i})", tenant(i))),
    )
    .await;
    fill(
        conn,
        "change_heads",
        "tenant_id, seq",
        (0..TENANTS).map(|i| format!("('{}', {ROWS})", tenant(i))),
    )
    .await;
    // Group counts of the small tenants (the large ones get theirs, and
    // their user counts, from the triggers as their rows go in).
    fill(
        conn,
        "resource_counts",
        "tenant_id, kind, live",
        (2..TENANTS).map(|i| format!("('{}', 'groups', {i})", tenant(i))),
    )
    .await;
    for t in [tenant(0), tenant(1)] {
        fill(
            conn,
            "users",
            "tenant_id, id, user_name, user_name_ci, external_id, display_name, \
             display_name_ci, active, version, created, last_modified, deleted, resource",
            (0..ROWS).map(|i| {
                let active = if i % 10 == 0 { "false" } else { "true" };
                let deleted = if i % 20 == 0 {
                    i.to_string()
                } else {
                    "NULL".into()
                };
                format!(
                    "('{t}', 'u{i:05}', 'User{i}', 'user{i}', 'ext-{i}', 'U {i}', 'u {i}', \
                     {active}, 1, {i}, {}, {deleted}, '{{}}')",
                    ROWS - i
                )
            }),
        )
        .await;
        fill(
            conn,
            "changes",
            "tenant_id, seq, kind, resource_id, version, at, payload",
            (1..=ROWS).map(|i| format!("('{t}', {i}, 'user.created', 'u{i:05}', 1, {i}, '{{}}')")),
        )
        .await;
    }
}

/// Groups in tenants 0 and 1, each with a tenth of the tenant's users
/// (overlapping: every user is in two groups).
async fn populate_groups(conn: &mut AnyConnection) {
    const GROUPS: usize = 20;
    for t in [tenant(0), tenant(1)] {
        fill(
            conn,
            "groups",
            "tenant_id, id, display_name, display_name_ci, version, created, last_modified, \
             resource",
            (0..GROUPS).map(|g| format!("('{t}', 'g{g}', 'G{g}', 'g{g}', 1, {g}, {g}, '{{}}')")),
        )
        .await;
        let per_group = 2 * ROWS / GROUPS;
        fill(
            conn,
            "group_members",
            "tenant_id, group_id, user_id",
            (0..GROUPS).flat_map(|g| {
                let t = t.clone();
                (0..per_group).map(move |i| {
                    let user = (g * per_group / 2 + i) % ROWS;
                    format!("('{t}', 'g{g}', 'u{user:05}')")
                })
            }),
        )
        .await;
    }
}

/// A members list as the store binds it.
fn member_list(ids: &[&str]) -> Arg {
    Arg::Text(groups::members_json(
        ids.iter().map(|id| (*id, Some("Shown"))),
    ))
}

fn args(binds: &[Bind]) -> Vec<Arg> {
    binds
        .iter()
        .map(|b| match b {
            Bind::Text(s) => Arg::Text(s.clone()),
            Bind::Int(i) => Arg::Int(*i),
            Bind::Bool(v) => Arg::Bool(*v),
            Bind::Float(f) => panic!("no float in these statements: {f}"),
        })
        .collect()
}

fn text(s: &str) -> Arg {
    Arg::Text(s.to_owned())
}

/// A list page as `list_users_query` runs it.
fn list_page(dialect: Dialect, filter: Option<&str>) -> (String, Vec<Arg>) {
    let query = ListQuery {
        filter: filter.map(|f| scim::filter::parse_filter(f).unwrap()),
        limit: 100,
        ..ListQuery::default()
    };
    let t = TenantId::parse(&tenant(1)).unwrap();
    let (table, condition) = users_condition(dialect, &t, &query).unwrap();
    let page = offset_page_sql(&table, USER_COLUMNS, condition, &query).unwrap();
    (page.sql, args(&page.binds))
}

/// A page that continues a walk after user `u01500` (`paging.rs`).
fn continued_page(dialect: Dialect) -> (String, Vec<Arg>) {
    let query = ListQuery {
        offset: 1500,
        limit: 100,
        ..ListQuery::default()
    };
    let t = TenantId::parse(&tenant(1)).unwrap();
    let (table, condition) = users_condition(dialect, &t, &query).unwrap();
    let after = Keyset {
        after: Some(RowKey {
            sort: None,
            created: 1500,
            id: "u01500".into(),
        }),
        backwards: false,
    };
    let page = keyset_page_sql(&table, USER_COLUMNS, condition, &query, &after).unwrap();
    (page.sql, args(&page.binds))
}

fn cases(dialect: Dialect) -> Vec<Case> {
    let t = || text(&tenant(1));
    let (next_sql, next_args) = continued_page(dialect);
    let (eq_sql, eq_args) = list_page(dialect, Some("userName eq \"User17\""));
    let (page_sql, page_args) = list_page(dialect, None);
    let list = || member_list(&["u00017", "u00018", "u02999"]);
    let group = || vec![t(), text("g1"), list()];
    vec![
        Case {
            name: "members that are no live users",
            sql: groups::missing_user_sql(dialect),
            args: vec![t(), list()],
            expect: Expect::Index(&[("users", &["tenant_id", "id"])]),
        },
        Case {
            name: "members inserted",
            sql: groups::insert_members_sql(dialect),
            args: group(),
            expect: Expect::Unique(&[("group_members", &["tenant_id", "group_id", "user_id"])]),
        },
        Case {
            name: "members' display set",
            sql: groups::set_display_sql(dialect),
            args: group(),
            expect: Expect::Index(&[("group_members", &["tenant_id", "group_id", "user_id"])]),
        },
        Case {
            name: "listed members removed",
            sql: groups::remove_listed_sql(dialect),
            args: group(),
            expect: Expect::Index(&[("group_members", &["tenant_id", "group_id"])]),
        },
        Case {
            name: "unlisted members removed (a replace)",
            sql: groups::remove_unlisted_sql(dialect),
            args: group(),
            expect: Expect::Index(&[("group_members", &["tenant_id", "group_id"])]),
        },
        Case {
            name: "restore probe of a create",
            sql: restore_probe_sql(dialect),
            args: vec![t(), text("ext-17"), Arg::Bool(false)],
            expect: Expect::Index(&[("users", &["tenant_id", "external_id"])]),
        },
        Case {
            name: "user insert and its uniqueness checks",
            sql: INSERT_USER.to_owned(),
            args: vec![
                t(),
                text("new"),
                text("New"),
                text("new"),
                text("ext-new"),
                text("N"),
                text("n"),
                Arg::Bool(true),
                Arg::Int(1),
                Arg::Int(1),
                Arg::Int(1),
                text("{}"),
            ],
            expect: Expect::Unique(&[
                ("users", &["tenant_id", "id"]),
                ("users", &["tenant_id", "user_name_ci"]),
            ]),
        },
        Case {
            name: "user by id",
            sql: get_user_sql(),
            args: vec![t(), text("u00017")],
            expect: Expect::Index(&[("users", &["tenant_id", "id"])]),
        },
        Case {
            name: "userName eq filter",
            sql: eq_sql,
            args: eq_args,
            expect: Expect::Index(&[("users", &["tenant_id", "user_name_ci"])]),
        },
        Case {
            name: "first list page, in order",
            sql: page_sql,
            args: page_args,
            expect: Expect::Index(&[("users", &["tenant_id", "created"])]),
        },
        Case {
            name: "a walk's next page, after the previous page's last row",
            sql: next_sql,
            args: next_args,
            expect: Expect::Index(&[("users", &["tenant_id", "created"])]),
        },
        Case {
            name: "total of an unfiltered list",
            sql: LIVE_COUNT.to_owned(),
            args: vec![t(), text("users")],
            expect: Expect::Index(&[("resource_counts", &["tenant_id", "kind"])]),
        },
        Case {
            name: "change stream page",
            sql: CHANGES_AFTER.to_owned(),
            args: vec![t(), Arg::Int(1500), Arg::Int(100)],
            expect: Expect::Index(&[("changes", &["tenant_id", "seq"])]),
        },
        Case {
            name: "stream heads",
            sql: storekit::stream::all_heads_sql(changes::HEADS),
            args: vec![],
            expect: Expect::WholeTable(changes::HEADS),
        },
        Case {
            name: "token by hash",
            sql: AUTHENTICATE.to_owned(),
            args: vec![text("hash-17"), Arg::Int(0)],
            expect: Expect::Index(&[("tokens", &["hash"]), ("tenants", &["id"])]),
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
    populate_groups(&mut conn).await;
    // Postgres analyses tables by itself (autovacuum); SQLite does not,
    // and a deployment's file has no statistics: plans without them are
    // the ones that run.
    if dialect == Dialect::Postgres {
        analyze(&mut conn).await;
        // Planned as identity runs them: its role, under row-level
        // security, in the scope of the tenant the cases read.
        conn = connect_as_service(url, &tenant(1)).await;
    }
    let failures = check_plans(&mut conn, dialect, &cases(dialect)).await;
    assert!(failures.is_empty(), "{dialect:?}:\n{}", failures.join("\n"));
    // A walk's next page starts its index search at the previous page's
    // last row: the key bounds the search, it does not filter a scan of
    // the tenant's rows from the first.
    let (sql, args) = continued_page(dialect);
    let plan = storekit::testing::explain(&mut conn, dialect, &sql, &args).await;
    let bounded = plan.iter().any(|line| match dialect {
        Dialect::Postgres => line.contains("Index Cond") && line.contains("created"),
        Dialect::Sqlite => line.contains("users_created") && line.contains("created"),
    });
    assert!(
        bounded,
        "{dialect:?}: the key does not bound the search:\n{}",
        plan.join("\n")
    );
}

#[tokio::test]
async fn hot_statements_use_their_indexes_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite:{}?mode=rwc",
        dir.path().join("identity.db").display()
    );
    assert_plans(&url).await;
}

#[tokio::test]
async fn hot_statements_use_their_indexes_on_postgres() {
    let db = PostgresDatabase::create("plan").await;
    assert_plans(&db.url).await;
}
