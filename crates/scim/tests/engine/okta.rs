//! Okta requests (create, PUT profile updates, deactivation, groups, filters), bodies verbatim
//! as Okta sends them.

use scim::filter::parse_filter;
use scim::schema::{GROUP_SCHEMA, USER_SCHEMA};
use scim::{GROUP, USER};
use serde_json::{Value, json};

use crate::support::{create, patch};

const CREATE: &str = r#"{
    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
    "userName": "test.user@okta.local",
    "name": {
        "givenName": "Test",
        "familyName": "User"
    },
    "emails": [{
        "primary": true,
        "value": "test.user@okta.local",
        "type": "work"
    }],
    "displayName": "Test User",
    "locale": "en-US",
    "externalId": "00ujl29u0le5T6Aj10h7",
    "groups": [],
    "password": "1mz050nq",
    "active": true
}"#;

fn created() -> Value {
    create(&USER, CREATE).unwrap()
}

#[test]
fn create_user_drops_password_and_groups() {
    let doc = created();
    assert_eq!(
        doc,
        json!({
            "schemas": [USER_SCHEMA],
            "externalId": "00ujl29u0le5T6Aj10h7",
            "userName": "test.user@okta.local",
            "name": {"familyName": "User", "givenName": "Test"},
            "displayName": "Test User",
            "locale": "en-US",
            "active": true,
            "emails": [{"value": "test.user@okta.local", "type": "work", "primary": true}],
        })
    );
    assert!(!doc.to_string().contains("1mz050nq"));
}

#[test]
fn put_with_read_only_members_replaces_the_profile() {
    let doc = create(
        &USER,
        r#"{
    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
    "id": "23a35c27-23d3-4c03-b4c5-6443c09e7173",
    "userName": "test.user@okta.local",
    "name": {
        "givenName": "Another",
        "middleName": "Excited",
        "familyName": "User"
    },
    "emails": [{
        "primary": true,
        "value": "test.user@okta.local",
        "type": "work",
        "display": "test.user@okta.local"
    }],
    "active": true,
    "groups": [],
    "meta": {
        "resourceType": "User"
    }
}"#,
    )
    .unwrap();
    assert_eq!(
        doc["name"],
        json!({"familyName": "User", "givenName": "Another", "middleName": "Excited"})
    );
    assert_eq!(doc["active"], true);
    assert!(doc.get("id").is_none() && doc.get("meta").is_none() && doc.get("groups").is_none());
}

#[test]
fn deactivate_and_reactivate_without_path() {
    let off = r#"{
    "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
    "Operations": [{
        "op": "replace",
        "value": {
            "active": false
        }
    }]
}"#;
    let doc = patch(&USER, &created(), off, "23a35c27").unwrap();
    assert_eq!(doc["active"], false);
    let mut expected = created();
    expected["active"] = json!(false);
    assert_eq!(doc, expected, "nothing else changes");
    let on = off.replace("false", "true");
    assert_eq!(patch(&USER, &doc, &on, "23a35c27").unwrap(), created());
}

#[test]
fn groups_create_rename_and_membership() {
    let g = create(&GROUP, r#"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Test SCIMv2","members":[]}"#).unwrap();
    assert_eq!(
        g,
        json!({"schemas": [GROUP_SCHEMA], "displayName": "Test SCIMv2"})
    );
    let renamed = patch(
        &GROUP,
        &g,
        r#"{
    "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
    "Operations": [{
        "op": "replace",
        "value": {
            "id": "abf4dd94-a4c0-4f67-89c9-76b03340cb9b",
            "displayName": "Test SCIMv2"
        }
    }]
}"#,
        "abf4dd94-a4c0-4f67-89c9-76b03340cb9b",
    )
    .unwrap();
    assert_eq!(renamed, g);
    let with_member = patch(&GROUP, &g, r#"{"Operations": [{"op": "add", "path": "members", "value": [{"value": "89bb1940-b905-4575-9e7f-6f887cfb368e"}]}]}"#, "g").unwrap();
    let swapped = patch(
        &GROUP,
        &with_member,
        r#"{
    "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
    "Operations": [{
          "op": "remove",
          "path": "members[value eq \"89bb1940-b905-4575-9e7f-6f887cfb368e\"]"
        },
        {
          "op": "add",
          "path": "members",
          "value": [{
              "value": "23a35c27-23d3-4c03-b4c5-6443c09e7173",
              "display": "test.user@okta.local"
        }]
    }]
}"#,
        "g",
    )
    .unwrap();
    assert_eq!(
        swapped["members"],
        json!([{"value": "23a35c27-23d3-4c03-b4c5-6443c09e7173", "display": "test.user@okta.local"}])
    );
    let replaced = patch(&GROUP, &swapped, r#"{"Operations": [{"op": "replace", "path": "members", "value": [{"value": "a"}, {"value": "b"}]}]}"#, "g").unwrap();
    assert_eq!(replaced["members"], json!([{"value": "a"}, {"value": "b"}]));
}

#[test]
fn user_name_filters_are_case_insensitive() {
    let mut rendered = created();
    rendered["id"] = json!("23a35c27");
    assert!(
        parse_filter(r#"userName eq "test.user@okta.local""#)
            .unwrap()
            .matches(&USER, &rendered)
    );
    assert!(
        parse_filter(r#"userName eq "TEST.USER@OKTA.LOCAL""#)
            .unwrap()
            .matches(&USER, &rendered)
    );
    assert!(
        !parse_filter(r#"userName eq "not-an-email""#)
            .unwrap()
            .matches(&USER, &rendered)
    );
}
