//! No-path values, read-only and unknown targets, atomicity.

use serde_json::json;

use super::*;
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
    assert_eq!(
        (
            doc["displayName"].as_str(),
            doc["name"]["givenName"].as_str(),
            doc["active"].as_bool()
        ),
        (Some("Bjfe"), Some("Kkom"), Some(false))
    );
    assert_eq!(doc["name"]["familyName"], "Jensen");
    assert_eq!(doc[EXT]["employeeNumber"], "Aklq");
    let doc = ok(
        json!([{"op": "add", "value": {EXT: {"costCenter": "4130", "manager": "m9"}, "emails": [{"value": "x@y", "type": "other"}]}}]),
    );
    assert_eq!(
        doc[EXT],
        json!({"costCenter": "4130", "department": "Tour", "manager": {"value": "m9"}})
    );
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
    assert!(
        ok(json!([{"op": "remove", "path": EXT}]))
            .get(EXT)
            .is_none()
    );
    assert_eq!(
        fails(
            &USER,
            &user(),
            json!([{"op": "add", "path": EXT, "value": 5}])
        ),
        ScimType::InvalidSyntax
    );
}

#[test]
fn ids_and_read_only_targets() {
    let g = group();
    let renamed = apply_on(
        &GROUP,
        &g,
        json!([{"op": "replace", "value": {"id": "the-id", "displayName": "New"}}]),
    )
    .unwrap();
    assert_eq!(renamed["displayName"], "New");
    assert_eq!(
        fails(
            &GROUP,
            &g,
            json!([{"op": "replace", "value": {"id": "other-id"}}])
        ),
        ScimType::Mutability
    );
    for path in [
        "id",
        "meta",
        "meta.lastModified",
        "groups",
        "manager.displayName",
        format!("{EXT}:manager.displayName").as_str(),
    ] {
        assert_eq!(
            fails(
                &USER,
                &user(),
                json!([{"op": "replace", "path": path, "value": "x"}])
            ),
            ScimType::Mutability,
            "{path}"
        );
    }
    assert_eq!(
        fails(
            &USER,
            &user(),
            json!([{"op": "add", "value": {"groups": [{"value": "g"}]}}])
        ),
        ScimType::Mutability
    );
    // writeOnly password: accepted, never stored.
    let doc = ok(json!([{"op": "replace", "path": "password", "value": "s3cret"}]));
    assert!(!doc.to_string().contains("s3cret"));
}

#[test]
fn unknown_targets_and_bad_values() {
    let u = user();
    assert_eq!(
        fails(
            &USER,
            &u,
            json!([{"op": "replace", "path": "shoeSize", "value": 1}])
        ),
        ScimType::InvalidPath
    );
    assert_eq!(
        fails(
            &USER,
            &u,
            json!([{"op": "replace", "path": "name.nope", "value": 1}])
        ),
        ScimType::InvalidPath
    );
    assert_eq!(
        fails(
            &USER,
            &u,
            json!([{"op": "replace", "path": "emails[type eq \"work\"].nope", "value": 1}])
        ),
        ScimType::InvalidPath
    );
    assert_eq!(
        fails(
            &USER,
            &u,
            json!([{"op": "replace", "path": "name[givenName eq \"x\"]", "value": {}}])
        ),
        ScimType::InvalidPath
    );
    assert_eq!(
        fails(
            &USER,
            &u,
            json!([{"op": "replace", "value": {"shoeSize": 44}}])
        ),
        ScimType::InvalidSyntax
    );
    assert_eq!(
        fails(
            &USER,
            &u,
            json!([{"op": "replace", "value": {"bad key!": 1}}])
        ),
        ScimType::InvalidSyntax
    );
    assert_eq!(
        fails(&USER, &u, json!([{"op": "replace", "value": "x"}])),
        ScimType::InvalidSyntax
    );
    assert_eq!(
        fails(
            &USER,
            &u,
            json!([{"op": "replace", "path": "active", "value": 5}])
        ),
        ScimType::InvalidValue
    );
    assert_eq!(
        fails(
            &USER,
            &u,
            json!([{"op": "replace", "path": "name", "value": 5}])
        ),
        ScimType::InvalidValue
    );
    assert_eq!(
        fails(
            &USER,
            &u,
            json!([{"op": "replace", "path": "emails[type eq \"work\"]", "value": "x"}])
        ),
        ScimType::InvalidValue
    );
    assert_eq!(
        fails(&USER, &u, json!([{"op": "remove", "path": "userName"}])),
        ScimType::InvalidValue
    );
    assert_eq!(
        fails(
            &USER,
            &u,
            json!([{"op": "replace", "path": "emails", "value": [{"value": "a", "bogus": 1}]}])
        ),
        ScimType::InvalidSyntax
    );
}

#[test]
fn operations_apply_in_order_and_atomically() {
    let doc = ok(
        json!([{"op": "add", "path": "title", "value": "A"}, {"op": "replace", "path": "title", "value": "B"}]),
    );
    assert_eq!(doc["title"], "B");
    let before = user();
    let result = apply_on(
        &USER,
        &before,
        json!([{"op": "replace", "path": "title", "value": "A"}, {"op": "replace", "path": "id", "value": "x"}]),
    );
    let err = result.unwrap_err();
    assert!(err.detail.starts_with("Operations[1]"), "{}", err.detail);
    assert_eq!(before, user(), "input untouched");
    let direct = apply_patch(
        &USER,
        &before,
        &[PatchOperation {
            op: PatchOpKind::Remove,
            path: None,
            value: None,
        }],
        "x",
    );
    assert_eq!(direct.unwrap_err().scim_type, Some(ScimType::NoTarget));
    assert!(apply_patch(&USER, &json!([1]), &[], "x").is_err());
}

#[test]
fn path_errors_name_attributes_without_echoing_filter_values() {
    let e = apply_on(
        &USER,
        &user(),
        json!([{"op": "replace", "path": "emails[value eq \"private@x\"].nope", "value": "v"}]),
    )
    .unwrap_err();
    assert_eq!(e.scim_type, Some(ScimType::InvalidPath));
    assert!(e.detail.contains("emails.nope"), "{}", e.detail);
    assert!(!e.detail.contains("private@x"), "{}", e.detail);
    let e = apply_on(
        &USER,
        &user(),
        json!([{"op": "replace", "path": "password", "value": 42}]),
    );
    assert!(
        e.is_ok(),
        "writeOnly values are dropped unchecked, like on POST"
    );
}
