//! Index paging on both backends: walks by `startIndex` continue where the
//! previous page ended, and totals come from the live counts that the
//! write transactions keep (`paging.rs`, migration 0013).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::json;
use storekit::testing::PostgresDatabase;

use super::{Keyset, ListQuery, SortKey, SqlStore, Store, StoreOptions};
use crate::domain::{GroupColumns, NewMember, ResourceId, TenantId, UserColumns};

async fn store(url: &str) -> SqlStore {
    let store = SqlStore::connect(&StoreOptions {
        url: url.to_owned(),
        max_connections: 4,
        ..Default::default()
    })
    .await
    .unwrap();
    store.migrate().await.unwrap();
    store
}

/// Runs `check` on a fresh SQLite file and a fresh Postgres database.
macro_rules! on_both_backends {
    ($check:ident, $sqlite:ident, $postgres:ident) => {
        #[tokio::test]
        async fn $sqlite() {
            let dir = tempfile::tempdir().unwrap();
            let url = format!("sqlite:{}?mode=rwc", dir.path().join("id.db").display());
            $check(&store(&url).await).await;
        }

        #[tokio::test]
        async fn $postgres() {
            let db = PostgresDatabase::create("paging").await;
            $check(&store(&db.url).await).await;
        }
    };
}

on_both_backends!(
    an_index_walk_continues_page_after_page,
    walk_on_sqlite,
    walk_on_postgres
);
on_both_backends!(
    totals_follow_creates_deletes_and_restores,
    totals_on_sqlite,
    totals_on_postgres
);
on_both_backends!(
    pages_with_members_stay_within_the_cap,
    member_cap_on_sqlite,
    member_cap_on_postgres
);
on_both_backends!(
    a_deletion_during_a_walk_skips_nothing,
    deletion_on_sqlite,
    deletion_on_postgres
);

fn user(name: &str, external_id: &str) -> UserColumns {
    UserColumns::from_canonical(&json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": name,
        "externalId": external_id,
        "active": true,
    }))
    .unwrap()
}

/// A tenant with `n` users `u000`…; their ids in creation order.
async fn tenant_with_users(store: &SqlStore, tenant: &TenantId, n: usize) -> Vec<String> {
    store.create_tenant(tenant, "T").await.unwrap();
    let mut ids = Vec::new();
    for i in 0..n {
        let (u, _) = store
            .create_user(tenant, &user(&format!("u{i:03}"), &format!("x{i}")))
            .await
            .unwrap();
        ids.push(u.id);
    }
    ids
}

fn page(offset: u64, limit: u64) -> ListQuery {
    ListQuery {
        offset,
        limit,
        ..ListQuery::default()
    }
}

/// Walks the tenant's users by `startIndex` in pages of `limit`; the ids
/// seen and the totals reported.
async fn walk(store: &SqlStore, tenant: &TenantId, query: &ListQuery) -> (Vec<String>, Vec<u64>) {
    let (mut ids, mut totals) = (Vec::new(), Vec::new());
    loop {
        let q = ListQuery {
            offset: ids.len() as u64,
            ..query.clone()
        };
        let p = store.list_users(tenant, &q).await.unwrap();
        totals.push(p.total);
        if p.items.is_empty() {
            break;
        }
        ids.extend(p.items.into_iter().map(|u| u.id));
    }
    (ids, totals)
}

async fn an_index_walk_continues_page_after_page(store: &SqlStore) {
    let a = TenantId::parse("walk-a").unwrap();
    let b = TenantId::parse("walk-b").unwrap();
    let users = tenant_with_users(store, &a, 95).await;
    tenant_with_users(store, &b, 7).await;

    // Unfiltered: every page after the first continues the previous one.
    let before = store.continuations.hits();
    let (ids, totals) = walk(store, &a, &page(0, 10)).await;
    assert_eq!(ids, users);
    assert!(totals.iter().all(|t| *t == 95), "{totals:?}");
    // Pages 2..=10 and the empty page after the last.
    assert_eq!(store.continuations.hits() - before, 10);

    // Filtered: the same, with the filter's own total.
    let filter = scim::filter::parse_filter("userName sw \"u0\"").unwrap();
    let query = ListQuery {
        filter: Some(filter),
        ..page(0, 7)
    };
    let before = store.continuations.hits();
    let (ids, totals) = walk(store, &a, &query).await;
    assert_eq!(ids, users);
    assert!(totals.iter().all(|t| *t == 95), "{totals:?}");
    assert_eq!(store.continuations.hits() - before, 14);

    // A page that continues no walk is read by offset, and is still right.
    let p = store.list_users(&a, &page(42, 5)).await.unwrap();
    let got: Vec<String> = p.items.into_iter().map(|u| u.id).collect();
    assert_eq!(got, users[42..47]);
    assert_eq!(p.total, 95);

    // Sorted lists page by offset and keep their order.
    let sorted = ListQuery {
        sort: Some(SortKey {
            path: scim::filter::parse_attr_path("userName").unwrap(),
            descending: true,
        }),
        ..page(0, 20)
    };
    let before = store.continuations.hits();
    let (ids, _) = walk(store, &a, &sorted).await;
    let mut reversed = users.clone();
    reversed.reverse();
    assert_eq!(ids, reversed);
    assert_eq!(store.continuations.hits(), before);

    // The other tenant's walk is its own.
    let (ids, totals) = walk(store, &b, &page(0, 3)).await;
    assert_eq!(ids.len(), 7);
    assert!(totals.iter().all(|t| *t == 7));
}

async fn totals_follow_creates_deletes_and_restores(store: &SqlStore) {
    let t = TenantId::parse("totals").unwrap();
    let users = tenant_with_users(store, &t, 12).await;
    let total = |q: ListQuery| {
        let t = t.clone();
        async move { store.list_users(&t, &q).await.unwrap().total }
    };
    assert_eq!(total(page(0, 0)).await, 12);

    for id in &users[..3] {
        let id = ResourceId::parse(id).unwrap();
        store.delete_user(&t, &id, None).await.unwrap();
    }
    assert_eq!(total(page(0, 0)).await, 9);
    assert_eq!(total(page(0, 5)).await, 9);

    // Provisioned again with the same externalId: restored, counted again.
    let (restored, was_restored) = store.create_user(&t, &user("u000", "x0")).await.unwrap();
    assert!(was_restored);
    assert_eq!(restored.id, users[0]);
    assert_eq!(total(page(0, 0)).await, 10);

    // A failed create (userName taken) counts nothing.
    assert!(store.create_user(&t, &user("u005", "other")).await.is_err());
    assert_eq!(total(page(0, 0)).await, 10);

    // Groups have their own count.
    let (cols, _) = GroupColumns::from_canonical(&json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "displayName": "Staff",
    }))
    .unwrap();
    let g = store.create_group(&t, &cols, &[]).await.unwrap();
    let groups = |q: ListQuery| {
        let t = t.clone();
        async move { store.list_groups(&t, &q, false).await.unwrap().total }
    };
    assert_eq!(groups(page(0, 0)).await, 1);
    store
        .delete_group(&t, &ResourceId::parse(&g.id).unwrap(), None)
        .await
        .unwrap();
    assert_eq!(groups(page(0, 0)).await, 0);
    assert_eq!(total(page(0, 0)).await, 10);
}

async fn a_deletion_during_a_walk_skips_nothing(store: &SqlStore) {
    let t = TenantId::parse("shifting").unwrap();
    let users = tenant_with_users(store, &t, 30).await;
    let first = store.list_users(&t, &page(0, 10)).await.unwrap();
    assert_eq!(first.items.len(), 10);
    // Two users of the first page leave before the second page is read.
    for id in &users[2..4] {
        store
            .delete_user(&t, &ResourceId::parse(id).unwrap(), None)
            .await
            .unwrap();
    }
    // OFFSET 10 would now start at users[12]; the walk goes on at users[10].
    let second = store.list_users(&t, &page(10, 10)).await.unwrap();
    let got: Vec<String> = second.items.into_iter().map(|u| u.id).collect();
    assert_eq!(got, users[10..20]);
    assert_eq!(second.total, 28);
    // Users created during the walk come at its end.
    let (late, _) = store.create_user(&t, &user("late", "late")).await.unwrap();
    let third = store.list_users(&t, &page(20, 10)).await.unwrap();
    let got: Vec<String> = third.items.into_iter().map(|u| u.id).collect();
    assert_eq!(got, users[20..30]);
    let fourth = store.list_users(&t, &page(30, 10)).await.unwrap();
    let got: Vec<String> = fourth.items.into_iter().map(|u| u.id).collect();
    assert_eq!(got, [late.id]);
    assert_eq!(fourth.total, 29);
}

async fn pages_with_members_stay_within_the_cap(store: &SqlStore) {
    let mut store = store.clone();
    store.list_member_cap = 50;
    let t = TenantId::parse("big-groups").unwrap();
    let users = tenant_with_users(&store, &t, 30).await;
    let members: Vec<NewMember> = users
        .iter()
        .map(|id| NewMember {
            id: ResourceId::parse(id).unwrap(),
            display: None,
        })
        .collect();
    let mut groups = Vec::new();
    for name in ["A", "B", "C"] {
        let (cols, _) = GroupColumns::from_canonical(&json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "displayName": name,
        }))
        .unwrap();
        groups.push(store.create_group(&t, &cols, &members).await.unwrap().id);
    }
    // 30 + 30 passes the cap of 50: each page holds one group, whole.
    let mut seen = Vec::new();
    while seen.len() < 3 {
        let p = store
            .list_groups(&t, &page(seen.len() as u64, 10), true)
            .await
            .unwrap();
        assert_eq!(p.total, 3);
        assert_eq!(p.items.len(), 1, "a page of {} groups", p.items.len());
        assert_eq!(p.items[0].members.as_ref().unwrap().len(), 30);
        seen.push(p.items[0].id.clone());
    }
    assert_eq!(seen, groups);
    // Without members, no limit.
    let p = store.list_groups(&t, &page(0, 10), false).await.unwrap();
    assert_eq!(p.items.len(), 3);
    // Cursor pages end early too, and say that more follow.
    let q = ListQuery {
        keyset: Some(Keyset::default()),
        ..page(0, 10)
    };
    let p = store.list_groups(&t, &q, true).await.unwrap();
    assert_eq!(p.items.len(), 1);
    assert!(p.more);
    assert_eq!(p.edges.as_ref().unwrap().1.id, groups[0]);
}
