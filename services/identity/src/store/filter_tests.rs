//! The filter compiler (`filter_sql.rs`) against the rows it filters, on
//! SQLite (no Postgres needed) and on Postgres: every comparison operator,
//! presence, `and`/`or`/`not` with their precedence and grouping, value
//! paths into multi-valued attributes, sub-attributes, and case
//! sensitivity as the User schema declares it. Each case lists the
//! userNames the filter must find, in the list's order.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{Value, json};
use storekit::testing::PostgresDatabase;

use super::{ListQuery, SqlStore, Store, StoreOptions};
use crate::domain::{TenantId, UserColumns};

async fn store(url: &str) -> SqlStore {
    let store = SqlStore::connect(&StoreOptions {
        url: url.to_owned(),
        max_connections: 2,
        ..Default::default()
    })
    .await
    .unwrap();
    store.migrate().await.unwrap();
    store
}

#[tokio::test]
async fn every_operator_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}?mode=rwc", dir.path().join("id.db").display());
    every_operator(&store(&url).await).await;
}

#[tokio::test]
async fn every_operator_on_postgres() {
    let db = PostgresDatabase::create("filters").await;
    every_operator(&store(&db.url).await).await;
}

fn user(doc: Value) -> UserColumns {
    let mut doc = doc;
    doc["schemas"] = json!(["urn:ietf:params:scim:schemas:core:2.0:User"]);
    let doc =
        scim::resource::normalize(&scim::schema::USER, &doc, scim::WriteMode::Create).unwrap();
    UserColumns::from_canonical(&doc).unwrap()
}

/// The userNames `filter` finds in `tenant`, in list order.
async fn found(store: &SqlStore, tenant: &TenantId, filter: &str) -> Vec<String> {
    let parsed = scim::filter::parse_filter(filter).unwrap_or_else(|e| panic!("{filter}: {e:?}"));
    let query = ListQuery {
        filter: Some(parsed),
        limit: 100,
        ..ListQuery::default()
    };
    let page = store
        .list_users(tenant, &query)
        .await
        .unwrap_or_else(|e| panic!("{filter}: {e:?}"));
    let names: Vec<String> = page.items.iter().map(|u| u.user_name.clone()).collect();
    assert_eq!(page.total as usize, names.len(), "{filter}: total");
    names
}

async fn every_operator(store: &SqlStore) {
    let tenant = TenantId::parse("filters").unwrap();
    let other = TenantId::parse("filters-other").unwrap();
    store.create_tenant(&tenant, "F").await.unwrap();
    store.create_tenant(&other, "O").await.unwrap();
    let people = [
        json!({"userName": "alice", "displayName": "Alice Smith", "active": true,
               "externalId": "e1", "title": "Engineer", "name": {"familyName": "Smith"},
               "emails": [{"value": "alice@corp.example", "type": "work", "primary": true},
                          {"value": "alice@home.example", "type": "home"}]}),
        json!({"userName": "bob", "displayName": "Bob Jones", "active": false,
               "externalId": "e2", "title": "Manager",
               "emails": [{"value": "bob@corp.example", "type": "work"}]}),
        json!({"userName": "Carol", "displayName": "Carol Smith", "active": true}),
        json!({"userName": "dave", "displayName": "Dave", "active": true,
               "externalId": "E4", "title": "engineer",
               "emails": [{"value": "dave@home.example", "type": "home"}]}),
    ];
    let mut ids = Vec::new();
    for p in people {
        let (u, _) = store.create_user(&tenant, &user(p)).await.unwrap();
        ids.push(u.id);
    }
    // Another tenant's alice is never found.
    store
        .create_user(&other, &user(json!({"userName": "alice", "active": true})))
        .await
        .unwrap();

    let cases: &[(&str, &[&str])] = &[
        // Comparisons; userName is case-insensitive (caseExact false).
        ("userName eq \"alice\"", &["alice"]),
        ("userName eq \"ALICE\"", &["alice"]),
        ("userName ne \"alice\"", &["bob", "Carol", "dave"]),
        ("displayName co \"smith\"", &["alice", "Carol"]),
        ("userName sw \"C\"", &["Carol"]),
        ("displayName ew \"SMITH\"", &["alice", "Carol"]),
        ("userName gt \"bob\"", &["Carol", "dave"]),
        ("userName ge \"bob\"", &["bob", "Carol", "dave"]),
        ("userName lt \"bob\"", &["alice"]),
        ("userName le \"bob\"", &["alice", "bob"]),
        // externalId is case-exact.
        ("externalId eq \"e4\"", &[]),
        ("externalId eq \"E4\"", &["dave"]),
        // Booleans.
        ("active eq true", &["alice", "Carol", "dave"]),
        ("active eq false", &["bob"]),
        ("active ne true", &["bob"]),
        // Presence.
        ("title pr", &["alice", "bob", "dave"]),
        ("externalId pr", &["alice", "bob", "dave"]),
        ("emails pr", &["alice", "bob", "dave"]),
        ("name.familyName pr", &["alice"]),
        // Sub-attributes and multi-valued attributes.
        ("name.familyName eq \"smith\"", &["alice"]),
        ("emails.value ew \"home.example\"", &["alice", "dave"]),
        ("emails.type eq \"work\"", &["alice", "bob"]),
        ("emails[type eq \"work\"]", &["alice", "bob"]),
        (
            "emails[type eq \"work\" and value co \"alice\"]",
            &["alice"],
        ),
        (
            "emails[type eq \"home\" or primary eq true]",
            &["alice", "dave"],
        ),
        ("emails[not (type eq \"work\")]", &["alice", "dave"]),
        // Logic: and binds tighter than or; not and parentheses.
        (
            "userName eq \"alice\" or userName eq \"bob\" and active eq true",
            &["alice"],
        ),
        (
            "(userName eq \"alice\" or userName eq \"bob\") and active eq false",
            &["bob"],
        ),
        ("not (active eq true)", &["bob"]),
        (
            "not (userName eq \"alice\" or displayName co \"Smith\")",
            &["bob", "dave"],
        ),
        ("title eq \"engineer\" and not (emails pr)", &[]),
        ("title pr and not (externalId eq \"e1\")", &["bob", "dave"]),
        // Attribute names are case-insensitive.
        ("USERNAME eq \"dave\"", &["dave"]),
        ("Emails[Type eq \"home\"]", &["alice", "dave"]),
        // The id and meta attributes.
        ("meta.lastModified pr", &["alice", "bob", "Carol", "dave"]),
    ];
    let mut wrong = Vec::new();
    for (filter, want) in cases {
        let got = found(store, &tenant, filter).await;
        if got != *want {
            wrong.push(format!("{filter}: got {got:?}, want {want:?}"));
        }
    }
    let by_id = found(store, &tenant, &format!("id eq \"{}\"", ids[1])).await;
    if by_id != ["bob"] {
        wrong.push(format!("id eq: got {by_id:?}"));
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
