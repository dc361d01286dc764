#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{Value, json};

use super::*;
use crate::error::ScimType;
use crate::schema::{ENTERPRISE_USER_SCHEMA, GROUP, GROUP_SCHEMA, USER, USER_SCHEMA};

fn ok(body: Value) -> Value {
    normalize(&USER, &body, WriteMode::Create).unwrap_or_else(|e| panic!("{body}: {e:?}"))
}

fn err(body: Value) -> crate::ScimError {
    normalize(&USER, &body, WriteMode::Create).expect_err(&body.to_string())
}

#[test]
fn body_must_be_an_object() {
    for body in [json!([]), json!("x"), json!(null), json!(1)] {
        assert_eq!(
            normalize(&USER, &body, WriteMode::Replace)
                .unwrap_err()
                .scim_type,
            Some(ScimType::InvalidSyntax)
        );
    }
}

#[test]
fn keys_are_canonicalised_and_ordered_by_schema() {
    let doc = ok(json!({
        "ACTIVE": true,
        "Name": {"GivenName": "B", "familyname": "J"},
        "userNAME": "bjensen",
        "schemas": ["whatever"],
    }));
    assert_eq!(doc.to_string(), json!({"schemas": [USER_SCHEMA], "userName": "bjensen", "name": {"familyName": "J", "givenName": "B"}, "active": true}).to_string());
    let keys: Vec<&String> = doc.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["schemas", "userName", "name", "active"]);
}

#[test]
fn extensions_under_urn_and_urn_prefixed_keys() {
    let doc = ok(json!({
        "userName": "u",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:user": {"Department": "Sales"},
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber": "42",
        "urn:ietf:params:scim:schemas:core:2.0:User:displayName": "U",
    }));
    assert_eq!(doc["schemas"], json!([USER_SCHEMA, ENTERPRISE_USER_SCHEMA]));
    assert_eq!(doc["displayName"], "U");
    assert_eq!(
        doc[ENTERPRISE_USER_SCHEMA],
        json!({"employeeNumber": "42", "department": "Sales"})
    );
    // Announced but empty extension: not in `schemas`.
    let doc = ok(
        json!({"schemas": [USER_SCHEMA, ENTERPRISE_USER_SCHEMA], "userName": "u", ENTERPRISE_USER_SCHEMA: {}}),
    );
    assert_eq!(doc, json!({"schemas": [USER_SCHEMA], "userName": "u"}));
}

#[test]
fn read_only_and_write_only_attributes_are_dropped() {
    let doc = ok(json!({
        "id": "abc", "meta": {"resourceType": "User"}, "groups": [{"value": "g"}],
        "userName": "u", "password": "1mz050nq",
        ENTERPRISE_USER_SCHEMA: {"manager": {"value": "m", "displayName": "Boss"}},
    }));
    assert_eq!(
        doc,
        json!({"schemas": [USER_SCHEMA, ENTERPRISE_USER_SCHEMA], "userName": "u", ENTERPRISE_USER_SCHEMA: {"manager": {"value": "m"}}})
    );
    assert!(!doc.to_string().contains("1mz050nq"));
}

#[test]
fn unassigned_values_are_dropped() {
    let doc = ok(
        json!({"userName": "u", "title": null, "nickName": "", "roles": [], "emails": [null], "name": {"givenName": ""}, "addresses": null}),
    );
    assert_eq!(doc, json!({"schemas": [USER_SCHEMA], "userName": "u"}));
    // Unknown attributes with null (Microsoft's legacy sample) are dropped too.
    let doc = ok(json!({"userName": "u", "department": null, "manager": null}));
    assert_eq!(doc, json!({"schemas": [USER_SCHEMA], "userName": "u"}));
}

#[test]
fn unknown_attributes_are_invalid_syntax_naming_them() {
    let e = err(json!({"userName": "u", "shoeSize": 44}));
    assert_eq!(e.scim_type, Some(ScimType::InvalidSyntax));
    assert!(e.detail.contains("shoeSize"), "{}", e.detail);
    let e = err(json!({"userName": "u", "department": "Sales"}));
    assert!(e.detail.contains("department"));
    let e = err(json!({"userName": "u", "emails": [{"value": "a@b", "label": "x"}]}));
    assert!(e.detail.contains("emails.label"), "{}", e.detail);
    let e = err(json!({"userName": "u", ENTERPRISE_USER_SCHEMA: {"badge": "1"}}));
    assert!(e.detail.contains("badge"));
}

#[test]
fn types_are_checked_without_echoing_values() {
    for (body, name) in [
        (json!({"userName": "u", "active": 5}), "active"),
        (json!({"userName": "u", "active": "yes"}), "active"),
        (json!({"userName": 7}), "userName"),
        (json!({"userName": "u", "name": "Barbara"}), "name"),
        (
            json!({"userName": "u", "name": {"givenName": ["x"]}}),
            "name.givenName",
        ),
        (json!({"userName": "u", "emails": ["a@b.c"]}), "emails"),
        (
            json!({"userName": "u", "emails": [{"primary": "maybe", "value": "x"}]}),
            "emails.primary",
        ),
        (
            json!({"userName": "u", "x509Certificates": [{"value": "not base64!"}]}),
            "x509Certificates.value",
        ),
        (
            json!({"userName": "u", "password": 5, "active": {}}),
            "active",
        ),
        (
            json!({"userName": "u", ENTERPRISE_USER_SCHEMA: "Sales"}),
            ENTERPRISE_USER_SCHEMA,
        ),
    ] {
        let e = err(body.clone());
        assert_eq!(e.scim_type, Some(ScimType::InvalidValue), "{body}");
        assert!(e.detail.contains(name), "{body}: {}", e.detail);
        assert!(!e.detail.contains("yes") && !e.detail.contains("Barbara"));
    }
}

#[test]
fn booleans_accept_entra_strings() {
    for (sent, stored) in [
        ("True", true),
        ("false", false),
        ("FALSE", false),
        ("true", true),
    ] {
        assert_eq!(
            ok(json!({"userName": "u", "active": sent}))["active"],
            stored
        );
    }
    assert_eq!(
        ok(json!({"userName": "u", "emails": [{"value": "a", "primary": "True"}]}))["emails"][0]["primary"],
        true
    );
}

#[test]
fn multi_valued_rules() {
    let doc = ok(json!({
        "userName": "u",
        "emails": {"value": "single@x", "type": "work"},
    }));
    assert_eq!(
        doc["emails"],
        json!([{"value": "single@x", "type": "work"}]),
        "single object wrapped"
    );
    let doc = ok(json!({
        "userName": "u",
        "emails": [
            null,
            {"value": "a@x", "type": "work", "primary": true},
            {"value": "A@X", "type": "WORK", "display": "dup"},
            {"value": "b@x", "type": "home", "primary": true},
            {"type": "other"},
            {"value": "a@x", "type": "home"},
        ],
    }));
    assert_eq!(
        doc["emails"],
        json!([
            {"value": "a@x", "type": "work", "primary": true},
            {"value": "b@x", "type": "home"},
            {"value": "a@x", "type": "home"},
        ])
    );
    let doc = ok(
        json!({"userName": "u", "addresses": [{"type": "work", "locality": "A"}, {"type": "work", "locality": "A", "primary": true}, {"type": "work", "locality": "B"}]}),
    );
    assert_eq!(doc["addresses"].as_array().unwrap().len(), 2, "{doc}");
}

#[test]
fn manager_shapes() {
    let m = |v: Value| {
        ok(json!({"userName": "u", ENTERPRISE_USER_SCHEMA: {"manager": v}}))[ENTERPRISE_USER_SCHEMA]
            ["manager"]
            .clone()
    };
    assert_eq!(m(json!("271")), json!({"value": "271"}));
    assert_eq!(
        m(json!({"value": "271", "$ref": "../Users/271"})),
        json!({"value": "271", "$ref": "../Users/271"})
    );
    assert_eq!(
        m(json!([{"$ref": "http://x/Users/9", "value": "9"}])),
        json!({"value": "9", "$ref": "http://x/Users/9"})
    );
    let cleared = ok(json!({"userName": "u", ENTERPRISE_USER_SCHEMA: {"manager": ""}}));
    assert_eq!(cleared, json!({"schemas": [USER_SCHEMA], "userName": "u"}));
    let e = err(json!({"userName": "u", ENTERPRISE_USER_SCHEMA: {"manager": 5}}));
    assert_eq!(e.scim_type, Some(ScimType::InvalidValue));
}

#[test]
fn roles_must_be_objects_with_plain_values() {
    let doc = ok(
        json!({"userName": "u", "roles": [{"primary": true, "type": "WindowsAzureActiveDirectoryRole", "value": "Admin"}]}),
    );
    assert_eq!(doc["roles"][0]["value"], "Admin");
    let e = err(json!({"userName": "u", "roles": "[{\"value\":\"Admin\"}]"}));
    assert_eq!(e.scim_type, Some(ScimType::InvalidValue));
    let e = err(
        json!({"userName": "u", "roles": [{"value": "{\"id\":\"06b0\",\"value\":\"Admin\",\"displayName\":\"Admin\"}"}]}),
    );
    assert_eq!(e.scim_type, Some(ScimType::InvalidValue));
    assert!(e.detail.contains("roles.value"));
    let e = err(json!({"userName": "u", "entitlements": [{"value": "[1,2]"}]}));
    assert_eq!(e.scim_type, Some(ScimType::InvalidValue));
    // A brace in an ordinary value is fine.
    ok(json!({"userName": "u", "roles": [{"value": "{not json"}]}));
}

#[test]
fn required_attributes() {
    let e = err(json!({"displayName": "x"}));
    assert_eq!(e.scim_type, Some(ScimType::InvalidValue));
    assert!(e.detail.contains("userName"));
    let e = err(json!({"userName": ""}));
    assert!(e.detail.contains("userName"));
    let e = normalize(&GROUP, &json!({"members": []}), WriteMode::Replace).unwrap_err();
    assert!(e.detail.contains("displayName"));
}

#[test]
fn dates_and_numbers() {
    use crate::schema::{AttrType, AttributeDef};
    // No dateTime or number is client-writable in these schemas; exercise the checker directly.
    const WHEN: AttributeDef = AttributeDef::new("when", AttrType::DateTime, "");
    const INT: AttributeDef = AttributeDef::new("n", AttrType::Integer, "");
    const DEC: AttributeDef = AttributeDef::new("d", AttrType::Decimal, "");
    assert_eq!(
        normalize_attr(&WHEN, &json!("2011-08-01T18:29:49.793Z")).unwrap(),
        Some(json!("2011-08-01T18:29:49.793Z"))
    );
    assert!(normalize_attr(&WHEN, &json!("2011-08-01 18:29")).is_err());
    assert!(normalize_attr(&WHEN, &json!(20110801)).is_err());
    assert_eq!(normalize_attr(&INT, &json!(3)).unwrap(), Some(json!(3)));
    assert!(normalize_attr(&INT, &json!(3.5)).is_err());
    assert_eq!(normalize_attr(&DEC, &json!(3.5)).unwrap(), Some(json!(3.5)));
    assert!(normalize_attr(&DEC, &json!("3.5")).is_err());
}

#[test]
fn groups_keep_members_and_accept_null_refs() {
    let doc = normalize(
        &GROUP,
        &json!({
            "schemas": [GROUP_SCHEMA, "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],
            "displayName": "G",
            "members": [{"$ref": null, "value": "u1"}, {"value": "u1", "display": "dup"}, {"value": "u2", "type": "User"}],
        }),
        WriteMode::Create,
    )
    .unwrap();
    assert_eq!(
        doc,
        json!({"schemas": [GROUP_SCHEMA], "displayName": "G", "members": [{"value": "u1"}, {"value": "u2", "type": "User"}]})
    );
}

#[test]
fn both_modes_are_idempotent() {
    let body = json!({"userName": "u", "active": "False", "emails": {"value": "a"}, ENTERPRISE_USER_SCHEMA: {"manager": "m"}});
    let once = normalize(&USER, &body, WriteMode::Create).unwrap();
    assert_eq!(normalize(&USER, &once, WriteMode::Replace).unwrap(), once);
}

#[test]
fn keys_differing_only_in_case_last_one_wins() {
    let doc = ok(json!({"userName": "first", "USERNAME": "second"}));
    assert_eq!(doc["userName"], "second");
}
