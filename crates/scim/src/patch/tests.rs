#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{Value, json};

use super::*;
use crate::error::ScimType;
use crate::resource::{WriteMode, normalize};
use crate::schema::{ENTERPRISE_USER_SCHEMA as EXT, GROUP, ResourceTypeDef, USER};

fn user() -> Value {
    normalize(
        &USER,
        &json!({
            "userName": "bjensen",
            "name": {"givenName": "Barbara", "familyName": "Jensen"},
            "emails": [{"value": "b@work", "type": "work", "primary": true}, {"value": "b@home", "type": "home"}],
            "active": true,
            EXT: {"department": "Tour", "manager": {"value": "m1", "$ref": "../Users/m1"}},
        }),
        WriteMode::Create,
    )
    .unwrap()
}

fn group() -> Value {
    normalize(&GROUP, &json!({"displayName": "G", "members": [{"value": "u1"}, {"value": "u2", "display": "Two"}]}), WriteMode::Create).unwrap()
}

fn ops(operations: Value) -> Vec<PatchOperation> {
    parse_patch_request(&json!({"schemas": [crate::schema::PATCH_OP_SCHEMA], "Operations": operations})).unwrap()
}

fn apply_on(rt: &ResourceTypeDef, doc: &Value, operations: Value) -> Result<Value, crate::ScimError> {
    apply_patch(rt, doc, &ops(operations), "the-id")
}

fn ok(operations: Value) -> Value {
    apply_on(&USER, &user(), operations.clone()).unwrap_or_else(|e| panic!("{operations}: {e:?}"))
}

fn fails(rt: &ResourceTypeDef, doc: &Value, operations: Value) -> ScimType {
    let e = apply_on(rt, doc, operations.clone()).expect_err(&operations.to_string());
    e.scim_type.unwrap()
}

// === parse_patch_request ===

#[test]
fn parse_accepts_idp_spellings() {
    let parsed = parse_patch_request(&json!({"operations": [{"OP": "Replace", "Path": "active", "VALUE": "False"}]})).unwrap();
    assert_eq!(parsed, vec![PatchOperation { op: PatchOpKind::Replace, path: Some(crate::path::parse_patch_path("active").unwrap()), value: Some(json!("False")) }]);
    let parsed = parse_patch_request(&json!({"Operations": [{"op": "add", "path": "", "value": {"a": 1}}, {"op": "replace", "path": null, "value": null}]})).unwrap();
    assert!(parsed.iter().all(|o| o.path.is_none()));
    assert_eq!(parsed[1].value, Some(Value::Null), "explicit null is kept");
}

#[test]
fn parse_rejects_malformed_requests() {
    let e = |body: Value| parse_patch_request(&body).unwrap_err();
    let cases = [
        (json!([]), ScimType::InvalidSyntax),
        (json!({}), ScimType::InvalidSyntax),
        (json!({"Operations": []}), ScimType::InvalidSyntax),
        (json!({"Operations": {"op": "add"}}), ScimType::InvalidSyntax),
        (json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"], "Operations": [{"op": "remove", "path": "title"}]}), ScimType::InvalidSyntax),
        (json!({"Operations": [{"op": "move", "path": "title"}]}), ScimType::InvalidSyntax),
        (json!({"Operations": [{"op": 1}]}), ScimType::InvalidSyntax),
        (json!({"Operations": [{"path": "title"}]}), ScimType::InvalidSyntax),
        (json!({"Operations": ["add"]}), ScimType::InvalidSyntax),
        (json!({"Operations": [{"op": "remove"}]}), ScimType::NoTarget),
        (json!({"Operations": [{"op": "add", "path": "title"}]}), ScimType::InvalidSyntax),
        (json!({"Operations": [{"op": "replace", "value": {}}, {"op": "add", "path": "emails[type eq]", "value": 1}]}), ScimType::InvalidPath),
        (json!({"Operations": [{"op": "add", "path": 5, "value": 1}]}), ScimType::InvalidPath),
    ];
    for (body, want) in cases {
        let err = e(body.clone());
        assert_eq!(err.scim_type, Some(want), "{body}: {}", err.detail);
        assert_eq!(err.status, 400);
    }
    assert!(e(json!({"Operations": [{"op": "add", "path": "title", "value": 1}, {"op": "remove"}]})).detail.starts_with("Operations[1]"));
}

// === single-valued ===

#[test]
fn simple_attributes() {
    assert_eq!(ok(json!([{"op": "add", "path": "nickName", "value": "Babs"}]))["nickName"], "Babs");
    assert_eq!(ok(json!([{"op": "Replace", "path": "USERNAME", "value": "new"}]))["userName"], "new");
    assert!(ok(json!([{"op": "remove", "path": "active"}])).get("active").is_none());
    assert!(ok(json!([{"op": "remove", "path": "title"}])).get("title").is_none(), "absent remove is silent");
    for clear in [json!(""), json!(null)] {
        let doc = apply_on(&USER, &ok(json!([{"op": "add", "path": "title", "value": "T"}])), json!([{"op": "replace", "path": "title", "value": clear}])).unwrap();
        assert!(doc.get("title").is_none());
    }
    assert_eq!(ok(json!([{"op": "replace", "path": "active", "value": "False"}]))["active"], false);
}

#[test]
fn complex_attributes_merge() {
    let doc = ok(json!([{"op": "replace", "path": "name", "value": {"familyName": "J2"}}]));
    assert_eq!(doc["name"], json!({"familyName": "J2", "givenName": "Barbara"}));
    let doc = ok(json!([{"op": "add", "path": "name.middleName", "value": "Jane"}, {"op": "remove", "path": "name.givenName"}]));
    assert_eq!(doc["name"], json!({"familyName": "Jensen", "middleName": "Jane"}));
    let doc = ok(json!([{"op": "replace", "path": "name", "value": {"familyName": "", "givenName": null}}]));
    assert!(doc.get("name").is_none(), "{doc}");
    let doc = ok(json!([{"op": "replace", "path": "name.familyName", "value": ""}, {"op": "replace", "path": "name.givenName", "value": null}]));
    assert!(doc.get("name").is_none());
}

#[test]
fn manager_three_shapes_and_clear() {
    let urn_path = format!("{EXT}:manager");
    let doc = ok(json!([{"op": "Add", "path": urn_path, "value": "271"}]));
    assert_eq!(doc[EXT]["manager"], json!({"value": "271"}), "new id drops the stale $ref");
    let doc = ok(json!([{"op": "replace", "path": urn_path, "value": {"value": "m2", "displayName": "ignored"}}]));
    assert_eq!(doc[EXT]["manager"], json!({"value": "m2"}));
    let doc = ok(json!([{"op": "Add", "path": "manager", "value": [{"$ref": "http://x/Users/9", "value": "9"}]}]));
    assert_eq!(doc[EXT]["manager"], json!({"value": "9", "$ref": "http://x/Users/9"}));
    let doc = ok(json!([{"op": "replace", "path": urn_path, "value": ""}]));
    assert_eq!(doc[EXT], json!({"department": "Tour"}));
    let doc = ok(json!([{"op": "replace", "path": urn_path, "value": "m1"}]));
    assert_eq!(doc[EXT]["manager"], json!({"value": "m1", "$ref": "../Users/m1"}), "same id keeps $ref");
    let doc = ok(json!([{"op": "remove", "path": urn_path}, {"op": "remove", "path": format!("{EXT}:department")}]));
    assert!(doc.get(EXT).is_none());
    assert_eq!(doc["schemas"], json!([crate::schema::USER_SCHEMA]));
}

// === multi-valued ===

#[test]
fn add_appends_without_duplicates() {
    let doc = ok(json!([{"op": "add", "path": "emails", "value": [{"value": "b@other", "type": "other"}, {"value": "B@WORK", "type": "work"}]}]));
    let values: Vec<&str> = doc["emails"].as_array().unwrap().iter().map(|e| e["value"].as_str().unwrap()).collect();
    assert_eq!(values, ["b@work", "b@home", "b@other"]);
    let doc = ok(json!([{"op": "add", "path": "emails", "value": {"value": "single", "type": "other"}}]));
    assert_eq!(doc["emails"].as_array().unwrap().len(), 3);
    assert_eq!(ok(json!([{"op": "add", "path": "emails", "value": []}])), user());
}

#[test]
fn replace_without_filter_replaces_the_array() {
    let doc = ok(json!([{"op": "replace", "path": "emails", "value": [{"value": "n@x", "type": "work"}]}]));
    assert_eq!(doc["emails"], json!([{"value": "n@x", "type": "work"}]));
    assert!(ok(json!([{"op": "replace", "path": "emails", "value": []}])).get("emails").is_none());
    assert!(ok(json!([{"op": "remove", "path": "emails"}])).get("emails").is_none());
}

#[test]
fn filtered_paths_update_matches() {
    let doc = ok(json!([{"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "new@work"}]));
    assert_eq!(doc["emails"][0], json!({"value": "new@work", "type": "work", "primary": true}));
    assert_eq!(doc["emails"][1]["value"], "b@home", "other elements are kept");
    let doc = ok(json!([{"op": "replace", "path": "emails[type eq \"HOME\"]", "value": {"display": "Home"}}]));
    assert_eq!(doc["emails"][1], json!({"value": "b@home", "display": "Home", "type": "home"}));
    let doc = ok(json!([{"op": "remove", "path": "emails[type eq \"work\"]"}]));
    assert_eq!(doc["emails"], json!([{"value": "b@home", "type": "home"}]));
    let doc = ok(json!([{"op": "remove", "path": "emails[type eq \"work\"].primary"}]));
    assert_eq!(doc["emails"][0], json!({"value": "b@work", "type": "work"}));
    let doc = ok(json!([{"op": "remove", "path": "emails[type eq \"nope\"]"}]));
    assert_eq!(doc, user(), "removing nothing is silent");
    let doc = ok(json!([{"op": "replace", "path": "emails[type eq \"work\"].value", "value": ""}]));
    assert_eq!(doc["emails"], json!([{"value": "b@home", "type": "home"}]), "a cleared value drops the element");
}

#[test]
fn filtered_paths_upsert_when_nothing_matches() {
    for op in ["Add", "Replace"] {
        let doc = ok(json!([{"op": op, "path": "phoneNumbers[type eq \"mobile\"].value", "value": "+44 7700"}]));
        assert_eq!(doc["phoneNumbers"], json!([{"value": "+44 7700", "type": "mobile"}]));
        let doc = ok(json!([{"op": op, "path": "emails[type eq \"other\"].Value", "value": "o@x"}]));
        assert_eq!(doc["emails"].as_array().unwrap().len(), 3, "{doc}");
        assert_eq!(doc["emails"][2], json!({"value": "o@x", "type": "other"}));
    }
    let doc = ok(json!([{"op": "replace", "path": "addresses[type eq \"work\" and country eq \"GB\"]", "value": {"locality": "Reading"}}]));
    assert_eq!(doc["addresses"], json!([{"locality": "Reading", "country": "GB", "type": "work"}]));
    // Nothing to clear: no element is created.
    let doc = ok(json!([{"op": "replace", "path": "phoneNumbers[type eq \"fax\"].value", "value": ""}]));
    assert!(doc.get("phoneNumbers").is_none());
    // A filter that does not determine an element cannot be upserted.
    for path in ["emails[type co \"x\"].value", "emails[type eq \"x\" or type eq \"y\"].value", "emails[type eq \"x\" and not (value pr)].value"] {
        assert_eq!(fails(&USER, &user(), json!([{"op": "replace", "path": path, "value": "v"}])), ScimType::NoTarget, "{path}");
    }
}

#[test]
fn every_element_sub_attribute_without_filter() {
    let doc = ok(json!([{"op": "replace", "path": "emails.display", "value": "D"}]));
    assert!(doc["emails"].as_array().unwrap().iter().all(|e| e["display"] == "D"));
    let doc = ok(json!([{"op": "remove", "path": "emails.primary"}]));
    assert!(doc["emails"].as_array().unwrap().iter().all(|e| e.get("primary").is_none()));
    let doc = ok(json!([{"op": "add", "path": "ims.value", "value": "im"}]));
    assert_eq!(doc["ims"], json!([{"value": "im"}]));
}

// === no path ===

#[test]
fn no_path_values_resolve_each_key() {
    let doc = ok(json!([{"op": "replace", "value": {
        "displayName": "Bjfe",
        "name.givenName": "Kkom",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber": "Aklq",
        "active": "false",
        "schemas": ["ignored"],
    }}]));
    assert_eq!((doc["displayName"].as_str(), doc["name"]["givenName"].as_str(), doc["active"].as_bool()), (Some("Bjfe"), Some("Kkom"), Some(false)));
    assert_eq!(doc["name"]["familyName"], "Jensen");
    assert_eq!(doc[EXT]["employeeNumber"], "Aklq");
    let doc = ok(json!([{"op": "add", "value": {EXT: {"costCenter": "4130", "manager": "m9"}, "emails": [{"value": "x@y", "type": "other"}]}}]));
    assert_eq!(doc[EXT], json!({"costCenter": "4130", "department": "Tour", "manager": {"value": "m9"}}));
    assert_eq!(doc["emails"].as_array().unwrap().len(), 3);
    let doc = ok(json!([{"op": "replace", "value": {EXT: null}}]));
    assert!(doc.get(EXT).is_none());
    let doc = ok(json!([{"op": "replace", "value": {"nonexistent": null, "title": "T"}}]));
    assert_eq!(doc["title"], "T");
}

#[test]
fn whole_extension_path() {
    let doc = ok(json!([{"op": "add", "path": EXT, "value": {"division": "D"}}]));
    assert_eq!(doc[EXT]["division"], "D");
    assert!(ok(json!([{"op": "remove", "path": EXT}])).get(EXT).is_none());
    assert_eq!(fails(&USER, &user(), json!([{"op": "add", "path": EXT, "value": 5}])), ScimType::InvalidSyntax);
}

#[test]
fn ids_and_read_only_targets() {
    let g = group();
    let renamed = apply_on(&GROUP, &g, json!([{"op": "replace", "value": {"id": "the-id", "displayName": "New"}}])).unwrap();
    assert_eq!(renamed["displayName"], "New");
    assert_eq!(fails(&GROUP, &g, json!([{"op": "replace", "value": {"id": "other-id"}}])), ScimType::Mutability);
    for path in ["id", "meta", "meta.lastModified", "groups", "manager.displayName", format!("{EXT}:manager.displayName").as_str()] {
        assert_eq!(fails(&USER, &user(), json!([{"op": "replace", "path": path, "value": "x"}])), ScimType::Mutability, "{path}");
    }
    assert_eq!(fails(&USER, &user(), json!([{"op": "add", "value": {"groups": [{"value": "g"}]}}])), ScimType::Mutability);
    // writeOnly password: accepted, never stored.
    let doc = ok(json!([{"op": "replace", "path": "password", "value": "s3cret"}]));
    assert!(!doc.to_string().contains("s3cret"));
}

#[test]
fn unknown_targets_and_bad_values() {
    let u = user();
    assert_eq!(fails(&USER, &u, json!([{"op": "replace", "path": "shoeSize", "value": 1}])), ScimType::InvalidPath);
    assert_eq!(fails(&USER, &u, json!([{"op": "replace", "path": "name.nope", "value": 1}])), ScimType::InvalidPath);
    assert_eq!(fails(&USER, &u, json!([{"op": "replace", "path": "emails[type eq \"work\"].nope", "value": 1}])), ScimType::InvalidPath);
    assert_eq!(fails(&USER, &u, json!([{"op": "replace", "path": "name[givenName eq \"x\"]", "value": {}}])), ScimType::InvalidPath);
    assert_eq!(fails(&USER, &u, json!([{"op": "replace", "value": {"shoeSize": 44}}])), ScimType::InvalidSyntax);
    assert_eq!(fails(&USER, &u, json!([{"op": "replace", "value": {"bad key!": 1}}])), ScimType::InvalidSyntax);
    assert_eq!(fails(&USER, &u, json!([{"op": "replace", "value": "x"}])), ScimType::InvalidSyntax);
    assert_eq!(fails(&USER, &u, json!([{"op": "replace", "path": "active", "value": 5}])), ScimType::InvalidValue);
    assert_eq!(fails(&USER, &u, json!([{"op": "replace", "path": "name", "value": 5}])), ScimType::InvalidValue);
    assert_eq!(fails(&USER, &u, json!([{"op": "replace", "path": "emails[type eq \"work\"]", "value": "x"}])), ScimType::InvalidValue);
    assert_eq!(fails(&USER, &u, json!([{"op": "remove", "path": "userName"}])), ScimType::InvalidValue);
    assert_eq!(fails(&USER, &u, json!([{"op": "replace", "path": "emails", "value": [{"value": "a", "bogus": 1}]}])), ScimType::InvalidSyntax);
}

#[test]
fn operations_apply_in_order_and_atomically() {
    let doc = ok(json!([{"op": "add", "path": "title", "value": "A"}, {"op": "replace", "path": "title", "value": "B"}]));
    assert_eq!(doc["title"], "B");
    let before = user();
    let result = apply_on(&USER, &before, json!([{"op": "replace", "path": "title", "value": "A"}, {"op": "replace", "path": "id", "value": "x"}]));
    let err = result.unwrap_err();
    assert!(err.detail.starts_with("Operations[1]"), "{}", err.detail);
    assert_eq!(before, user(), "input untouched");
    let direct = apply_patch(&USER, &before, &[PatchOperation { op: PatchOpKind::Remove, path: None, value: None }], "x");
    assert_eq!(direct.unwrap_err().scim_type, Some(ScimType::NoTarget));
    assert!(apply_patch(&USER, &json!([1]), &[], "x").is_err());
}

// === group members ===

#[test]
fn group_members() {
    let g = group();
    let added = apply_on(&GROUP, &g, json!([{"op": "Add", "path": "members", "value": [{"$ref": null, "value": "u3"}, {"value": "u1"}]}])).unwrap();
    assert_eq!(added["members"], json!([{"value": "u1"}, {"value": "u2", "display": "Two"}, {"value": "u3"}]));
    let removed = apply_on(&GROUP, &g, json!([{"op": "Remove", "path": "members", "value": [{"$ref": null, "value": "u1"}, {"value": "absent"}]}])).unwrap();
    assert_eq!(removed["members"], json!([{"value": "u2", "display": "Two"}]), "only the listed members");
    let removed = apply_on(&GROUP, &g, json!([{"op": "remove", "path": "members[value eq \"u2\"]"}])).unwrap();
    assert_eq!(removed["members"], json!([{"value": "u1"}]));
    let none_listed = apply_on(&GROUP, &g, json!([{"op": "remove", "path": "members", "value": []}])).unwrap();
    assert_eq!(none_listed, g, "an empty list removes nothing");
    let all = apply_on(&GROUP, &g, json!([{"op": "remove", "path": "members"}])).unwrap();
    assert!(all.get("members").is_none());
    let replaced = apply_on(&GROUP, &g, json!([{"op": "replace", "path": "members", "value": [{"value": "u9"}]}])).unwrap();
    assert_eq!(replaced["members"], json!([{"value": "u9"}]));
    assert_eq!(fails(&GROUP, &g, json!([{"op": "replace", "path": "members[value eq \"u1\"].value", "value": "u7"}])), ScimType::Mutability);
    assert_eq!(fails(&GROUP, &g, json!([{"op": "remove", "path": "members[value eq \"u2\"].display"}])), ScimType::Mutability);
}
