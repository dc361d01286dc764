//! Multi-valued attributes, value filters and Group members.

use serde_json::json;

use super::*;
// === multi-valued ===

#[test]
fn add_appends_without_duplicates() {
    let doc = ok(
        json!([{"op": "add", "path": "emails", "value": [{"value": "b@other", "type": "other"}, {"value": "B@WORK", "type": "work"}]}]),
    );
    let values: Vec<&str> = doc["emails"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["value"].as_str().unwrap())
        .collect();
    assert_eq!(values, ["b@work", "b@home", "b@other"]);
    let doc =
        ok(json!([{"op": "add", "path": "emails", "value": {"value": "single", "type": "other"}}]));
    assert_eq!(doc["emails"].as_array().unwrap().len(), 3);
    assert_eq!(
        ok(json!([{"op": "add", "path": "emails", "value": []}])),
        user()
    );
}

#[test]
fn replace_without_filter_replaces_the_array() {
    let doc = ok(
        json!([{"op": "replace", "path": "emails", "value": [{"value": "n@x", "type": "work"}]}]),
    );
    assert_eq!(doc["emails"], json!([{"value": "n@x", "type": "work"}]));
    assert!(
        ok(json!([{"op": "replace", "path": "emails", "value": []}]))
            .get("emails")
            .is_none()
    );
    assert!(
        ok(json!([{"op": "remove", "path": "emails"}]))
            .get("emails")
            .is_none()
    );
}

#[test]
fn filtered_paths_update_matches() {
    let doc = ok(
        json!([{"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "new@work"}]),
    );
    assert_eq!(
        doc["emails"][0],
        json!({"value": "new@work", "type": "work", "primary": true})
    );
    assert_eq!(
        doc["emails"][1]["value"], "b@home",
        "other elements are kept"
    );
    let doc = ok(
        json!([{"op": "replace", "path": "emails[type eq \"HOME\"]", "value": {"display": "Home"}}]),
    );
    assert_eq!(
        doc["emails"][1],
        json!({"value": "b@home", "display": "Home", "type": "home"})
    );
    let doc = ok(json!([{"op": "remove", "path": "emails[type eq \"work\"]"}]));
    assert_eq!(doc["emails"], json!([{"value": "b@home", "type": "home"}]));
    let doc = ok(json!([{"op": "remove", "path": "emails[type eq \"work\"].primary"}]));
    assert_eq!(doc["emails"][0], json!({"value": "b@work", "type": "work"}));
    let doc = ok(json!([{"op": "remove", "path": "emails[type eq \"nope\"]"}]));
    assert_eq!(doc, user(), "removing nothing is silent");
    let doc = ok(json!([{"op": "replace", "path": "emails[type eq \"work\"].value", "value": ""}]));
    assert_eq!(
        doc["emails"],
        json!([{"value": "b@home", "type": "home"}]),
        "a cleared value drops the element"
    );
}

#[test]
fn filtered_paths_upsert_when_nothing_matches() {
    for op in ["Add", "Replace"] {
        let doc = ok(
            json!([{"op": op, "path": "phoneNumbers[type eq \"mobile\"].value", "value": "+44 7700"}]),
        );
        assert_eq!(
            doc["phoneNumbers"],
            json!([{"value": "+44 7700", "type": "mobile"}])
        );
        let doc =
            ok(json!([{"op": op, "path": "emails[type eq \"other\"].Value", "value": "o@x"}]));
        assert_eq!(doc["emails"].as_array().unwrap().len(), 3, "{doc}");
        assert_eq!(doc["emails"][2], json!({"value": "o@x", "type": "other"}));
    }
    let doc = ok(
        json!([{"op": "replace", "path": "addresses[type eq \"work\" and country eq \"GB\"]", "value": {"locality": "Reading"}}]),
    );
    assert_eq!(
        doc["addresses"],
        json!([{"locality": "Reading", "country": "GB", "type": "work"}])
    );
    // Nothing to clear: no element is created.
    let doc =
        ok(json!([{"op": "replace", "path": "phoneNumbers[type eq \"fax\"].value", "value": ""}]));
    assert!(doc.get("phoneNumbers").is_none());
    // A filter that does not determine an element cannot be upserted.
    for path in [
        "emails[type co \"x\"].value",
        "emails[type eq \"x\" or type eq \"y\"].value",
        "emails[type eq \"x\" and not (value pr)].value",
    ] {
        assert_eq!(
            fails(
                &USER,
                &user(),
                json!([{"op": "replace", "path": path, "value": "v"}])
            ),
            ScimType::NoTarget,
            "{path}"
        );
    }
}

#[test]
fn every_element_sub_attribute_without_filter() {
    let doc = ok(json!([{"op": "replace", "path": "emails.display", "value": "D"}]));
    assert!(
        doc["emails"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["display"] == "D")
    );
    let doc = ok(json!([{"op": "remove", "path": "emails.primary"}]));
    assert!(
        doc["emails"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e.get("primary").is_none())
    );
    let doc = ok(json!([{"op": "add", "path": "ims.value", "value": "im"}]));
    assert_eq!(doc["ims"], json!([{"value": "im"}]));
}

// === group members ===

#[test]
fn group_members() {
    let g = group();
    let added = apply_on(&GROUP, &g, json!([{"op": "Add", "path": "members", "value": [{"$ref": null, "value": "u3"}, {"value": "u1"}]}])).unwrap();
    assert_eq!(
        added["members"],
        json!([{"value": "u1"}, {"value": "u2", "display": "Two"}, {"value": "u3"}])
    );
    let removed = apply_on(&GROUP, &g, json!([{"op": "Remove", "path": "members", "value": [{"$ref": null, "value": "u1"}, {"value": "absent"}]}])).unwrap();
    assert_eq!(
        removed["members"],
        json!([{"value": "u2", "display": "Two"}]),
        "only the listed members"
    );
    let removed = apply_on(
        &GROUP,
        &g,
        json!([{"op": "remove", "path": "members[value eq \"u2\"]"}]),
    )
    .unwrap();
    assert_eq!(removed["members"], json!([{"value": "u1"}]));
    let none_listed = apply_on(
        &GROUP,
        &g,
        json!([{"op": "remove", "path": "members", "value": []}]),
    )
    .unwrap();
    assert_eq!(none_listed, g, "an empty list removes nothing");
    let all = apply_on(&GROUP, &g, json!([{"op": "remove", "path": "members"}])).unwrap();
    assert!(all.get("members").is_none());
    let replaced = apply_on(
        &GROUP,
        &g,
        json!([{"op": "replace", "path": "members", "value": [{"value": "u9"}]}]),
    )
    .unwrap();
    assert_eq!(replaced["members"], json!([{"value": "u9"}]));
    assert_eq!(
        fails(
            &GROUP,
            &g,
            json!([{"op": "replace", "path": "members[value eq \"u1\"].value", "value": "u7"}])
        ),
        ScimType::Mutability
    );
    assert_eq!(
        fails(
            &GROUP,
            &g,
            json!([{"op": "remove", "path": "members[value eq \"u2\"].display"}])
        ),
        ScimType::Mutability
    );
}
