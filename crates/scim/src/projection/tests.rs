#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{Value, json};

use super::*;
use crate::filter::parse_attribute_list;
use crate::schema::{ENTERPRISE_USER_SCHEMA as EXT, GROUP, GROUP_SCHEMA, USER, USER_SCHEMA};

fn rendered() -> Value {
    json!({
        "schemas": [USER_SCHEMA, EXT],
        "id": "u1",
        "externalId": "e1",
        "meta": {"resourceType": "User", "created": "2020-01-01T00:00:00Z", "lastModified": "2020-01-02T00:00:00Z", "location": "https://h/Users/u1"},
        "userName": "bjensen",
        "name": {"givenName": "B", "familyName": "J"},
        "password": "must-never-show",
        "emails": [{"value": "a@x", "type": "work"}, {"type": "home", "display": "no value"}],
        EXT: {"employeeNumber": "42", "manager": {"value": "m", "displayName": "Boss"}},
    })
}

fn proj(attributes: &str, excluded: &str) -> Value {
    let a = parse_attribute_list(attributes).unwrap();
    let e = parse_attribute_list(excluded).unwrap();
    project(&USER, &rendered(), &a, &e)
}

#[test]
fn default_projection_drops_only_never_returned() {
    let mut expected = rendered();
    expected.as_object_mut().unwrap().remove("password");
    assert_eq!(proj("", ""), expected);
}

#[test]
fn attributes_keep_only_listed_plus_always() {
    assert_eq!(
        proj("userName", ""),
        json!({"schemas": [USER_SCHEMA], "id": "u1", "userName": "bjensen"})
    );
    assert_eq!(
        proj("USERNAME,password", ""),
        json!({"schemas": [USER_SCHEMA], "id": "u1", "userName": "bjensen"})
    );
    assert_eq!(
        proj("name.givenName,meta.lastModified", ""),
        json!({
            "schemas": [USER_SCHEMA], "id": "u1",
            "meta": {"lastModified": "2020-01-02T00:00:00Z"},
            "name": {"givenName": "B"},
        })
    );
    assert_eq!(
        proj("emails.value", "")["emails"],
        json!([{"value": "a@x"}])
    );
    assert_eq!(
        proj("id", ""),
        json!({"schemas": [USER_SCHEMA], "id": "u1"})
    );
    assert_eq!(
        proj("nope,alsoNope", ""),
        json!({"schemas": [USER_SCHEMA], "id": "u1"}),
        "unknown paths are ignored"
    );
}

#[test]
fn attributes_take_precedence_over_excluded() {
    assert_eq!(proj("userName", "userName"), proj("userName", ""));
}

#[test]
fn extension_attributes() {
    let p = proj(&format!("{EXT}:employeeNumber"), "");
    assert_eq!(
        p,
        json!({"schemas": [USER_SCHEMA, EXT], "id": "u1", EXT: {"employeeNumber": "42"}})
    );
    let p = proj("manager.value", "");
    assert_eq!(p[EXT], json!({"manager": {"value": "m"}}));
    let p = proj(EXT, "");
    assert_eq!(
        p[EXT],
        rendered()[EXT],
        "a whole-extension URN selects the extension"
    );
    let p = proj("", &format!("{EXT}:employeeNumber,manager"));
    assert!(p.get(EXT).is_none());
    assert_eq!(
        p["schemas"],
        json!([USER_SCHEMA]),
        "empty extension drops its URN"
    );
    let p = proj("", EXT);
    assert!(p.get(EXT).is_none());
    let p = proj("", "employeeNumber");
    assert_eq!(
        p[EXT],
        json!({"manager": {"value": "m", "displayName": "Boss"}})
    );
    assert_eq!(p["schemas"], json!([USER_SCHEMA, EXT]));
}

#[test]
fn excluded_attributes() {
    let p = proj("", "emails,meta.location,name.familyName,id");
    assert!(p.get("emails").is_none());
    assert_eq!(p["id"], "u1", "returned:always survives exclusion");
    assert!(p["meta"].get("location").is_none() && p["meta"].get("created").is_some());
    assert_eq!(p["name"], json!({"givenName": "B"}));
    let p = proj("", "emails.type,emails.display");
    assert_eq!(
        p["emails"],
        json!([{"value": "a@x"}]),
        "elements left empty are dropped"
    );
}

#[test]
fn group_members_can_be_excluded() {
    let group = json!({"schemas": [GROUP_SCHEMA], "id": "g", "displayName": "G", "members": [{"value": "u1"}], "meta": {"resourceType": "Group"}});
    let p = project(
        &GROUP,
        &group,
        &[],
        &parse_attribute_list("members").unwrap(),
    );
    assert_eq!(
        p,
        json!({"schemas": [GROUP_SCHEMA], "id": "g", "displayName": "G", "meta": {"resourceType": "Group"}})
    );
}

#[test]
fn unknown_keys_and_odd_inputs() {
    let doc = json!({"schemas": [USER_SCHEMA], "id": "u1", "userName": "u", "x-custom": 1});
    assert_eq!(project(&USER, &doc, &[], &[])["x-custom"], 1);
    assert!(
        project(&USER, &doc, &parse_attribute_list("userName").unwrap(), &[])
            .get("x-custom")
            .is_none()
    );
    assert_eq!(project(&USER, &json!("str"), &[], &[]), json!("str"));
}
