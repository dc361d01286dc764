//! Single-valued attributes: simple, complex, manager.

use serde_json::json;

use super::*;
// === single-valued ===

#[test]
fn simple_attributes() {
    assert_eq!(
        ok(json!([{"op": "add", "path": "nickName", "value": "Babs"}]))["nickName"],
        "Babs"
    );
    assert_eq!(
        ok(json!([{"op": "Replace", "path": "USERNAME", "value": "new"}]))["userName"],
        "new"
    );
    assert!(
        ok(json!([{"op": "remove", "path": "active"}]))
            .get("active")
            .is_none()
    );
    assert!(
        ok(json!([{"op": "remove", "path": "title"}]))
            .get("title")
            .is_none(),
        "absent remove is silent"
    );
    for clear in [json!(""), json!(null)] {
        let doc = apply_on(
            &USER,
            &ok(json!([{"op": "add", "path": "title", "value": "T"}])),
            json!([{"op": "replace", "path": "title", "value": clear}]),
        )
        .unwrap();
        assert!(doc.get("title").is_none());
    }
    assert_eq!(
        ok(json!([{"op": "replace", "path": "active", "value": "False"}]))["active"],
        false
    );
}

#[test]
fn complex_attributes_merge() {
    let doc = ok(json!([{"op": "replace", "path": "name", "value": {"familyName": "J2"}}]));
    assert_eq!(
        doc["name"],
        json!({"familyName": "J2", "givenName": "Barbara"})
    );
    let doc = ok(
        json!([{"op": "add", "path": "name.middleName", "value": "Jane"}, {"op": "remove", "path": "name.givenName"}]),
    );
    assert_eq!(
        doc["name"],
        json!({"familyName": "Jensen", "middleName": "Jane"})
    );
    let doc = ok(
        json!([{"op": "replace", "path": "name", "value": {"familyName": "", "givenName": null}}]),
    );
    assert!(doc.get("name").is_none(), "{doc}");
    let doc = ok(
        json!([{"op": "replace", "path": "name.familyName", "value": ""}, {"op": "replace", "path": "name.givenName", "value": null}]),
    );
    assert!(doc.get("name").is_none());
}

#[test]
fn manager_three_shapes_and_clear() {
    let urn_path = format!("{EXT}:manager");
    let doc = ok(json!([{"op": "Add", "path": urn_path, "value": "271"}]));
    assert_eq!(
        doc[EXT]["manager"],
        json!({"value": "271"}),
        "new id drops the stale $ref"
    );
    let doc = ok(
        json!([{"op": "replace", "path": urn_path, "value": {"value": "m2", "displayName": "ignored"}}]),
    );
    assert_eq!(doc[EXT]["manager"], json!({"value": "m2"}));
    let doc = ok(
        json!([{"op": "Add", "path": "manager", "value": [{"$ref": "http://x/Users/9", "value": "9"}]}]),
    );
    assert_eq!(
        doc[EXT]["manager"],
        json!({"value": "9", "$ref": "http://x/Users/9"})
    );
    let doc = ok(json!([{"op": "replace", "path": urn_path, "value": ""}]));
    assert_eq!(doc[EXT], json!({"department": "Tour"}));
    let doc = ok(json!([{"op": "replace", "path": urn_path, "value": "m1"}]));
    assert_eq!(
        doc[EXT]["manager"],
        json!({"value": "m1", "$ref": "../Users/m1"}),
        "same id keeps $ref"
    );
    let doc = ok(
        json!([{"op": "remove", "path": urn_path}, {"op": "remove", "path": format!("{EXT}:department")}]),
    );
    assert!(doc.get(EXT).is_none());
    assert_eq!(doc["schemas"], json!([crate::schema::USER_SCHEMA]));
}
