//! Entra ID group PATCH requests (rename, member add and remove), bodies verbatim as Entra ID
//! sends them.

use scim::GROUP;
use serde_json::{Value, json};

use crate::support::{create, patch};

fn group() -> Value {
    create(&GROUP, r#"{"displayName": "G", "members": [{"value": "f648f8d5ea4e4cd38e9c"}, {"value": "7f4bc1a3-285e-48ae-8202-5accb43efb0e"}, {"value": "u1091"}]}"#).unwrap()
}

fn member_ids(doc: &Value) -> Vec<&str> {
    doc["members"]
        .as_array()
        .map(|m| m.iter().filter_map(|e| e["value"].as_str()).collect())
        .unwrap_or_default()
}

#[test]
fn rename_group() {
    let doc = patch(
        &GROUP,
        &group(),
        r#"{
    "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
    "Operations": [{
        "op": "Replace",
        "path": "displayName",
        "value": "1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName"
    }]
}"#,
        "g1",
    )
    .unwrap();
    assert_eq!(
        doc["displayName"],
        "1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName"
    );
    assert_eq!(member_ids(&doc).len(), 3);
}

#[test]
fn add_members_is_idempotent() {
    let add = r#"{
    "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
    "Operations": [{
        "op": "Add",
        "path": "members",
        "value": [{
            "$ref": null,
            "value": "f648f8d5ea4e4cd38e9c"
        }]
    }]
}"#;
    let empty = create(&GROUP, r#"{"displayName": "G"}"#).unwrap();
    let once = patch(&GROUP, &empty, add, "g1").unwrap();
    assert_eq!(once["members"], json!([{"value": "f648f8d5ea4e4cd38e9c"}]));
    assert_eq!(patch(&GROUP, &once, add, "g1").unwrap(), once);
}

#[test]
fn remove_members_removes_only_the_listed_ones() {
    let default_job = r#"{
    "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
    "Operations": [{
        "op": "Remove",
        "path": "members",
        "value": [{
            "$ref": null,
            "value": "f648f8d5ea4e4cd38e9c"
        }]
    }]
}"#;
    let doc = patch(&GROUP, &group(), default_job, "g1").unwrap();
    assert_eq!(
        member_ids(&doc),
        ["7f4bc1a3-285e-48ae-8202-5accb43efb0e", "u1091"]
    );
    let without_ref =
        r#"{"Operations": [{"op": "Remove","path": "members","value": [{"value": "u1091"}]}]}"#;
    let doc = patch(&GROUP, &doc, without_ref, "g1").unwrap();
    assert_eq!(member_ids(&doc), ["7f4bc1a3-285e-48ae-8202-5accb43efb0e"]);
    let with_flag = r#"{
    "schemas": [
        "urn:ietf:params:scim:api:messages:2.0:PatchOp"
    ],
    "Operations": [
        {
            "op": "remove",
            "path": "members[value eq \"7f4bc1a3-285e-48ae-8202-5accb43efb0e\"]"
        }
    ]
  }"#;
    let doc = patch(&GROUP, &doc, with_flag, "g1").unwrap();
    assert!(doc.get("members").is_none());
    // Removing a non-member again succeeds and changes nothing.
    assert_eq!(patch(&GROUP, &doc, with_flag, "g1").unwrap(), doc);
    assert_eq!(patch(&GROUP, &doc, default_job, "g1").unwrap(), doc);
}
