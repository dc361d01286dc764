//! Entra ID user PATCH requests (attribute updates, `manager`, roles, disable), bodies verbatim
//! as Entra ID sends them.

use scim::schema::ENTERPRISE_USER_SCHEMA as EXT;
use scim::{ScimType, USER};
use serde_json::{Value, json};

use crate::support::{create, patch};

fn user() -> Value {
    create(&USER, r#"{"userName": "alice@contoso.com", "name": {"givenName": "Alice", "familyName": "Example"}, "active": true, "emails": [{"type": "home", "value": "alice@home.example"}]}"#).unwrap()
}

#[test]
fn multi_valued_sub_attribute_and_dotted_path_upserts_work_email() {
    let doc = patch(
        &USER,
        &user(),
        r#"{
    "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
    "Operations": [
            {
            "op": "Replace",
            "path": "emails[type eq \"work\"].value",
            "value": "updatedEmail@microsoft.com"
            },
            {
            "op": "Replace",
            "path": "name.familyName",
            "value": "updatedFamilyName"
            }
    ]
}"#,
        "u1",
    )
    .unwrap();
    assert_eq!(
        doc["emails"],
        json!([{"value": "alice@home.example", "type": "home"}, {"value": "updatedEmail@microsoft.com", "type": "work"}])
    );
    assert_eq!(
        doc["name"],
        json!({"familyName": "updatedFamilyName", "givenName": "Alice"})
    );
}

#[test]
fn rename_user() {
    let doc = patch(
        &USER,
        &user(),
        r#"{
    "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
    "Operations": [{
        "op": "Replace",
        "path": "userName",
        "value": "5b50642d-79fc-4410-9e90-4c077cdd1a59@testuser.com"
    }]
}"#,
        "u1",
    )
    .unwrap();
    assert_eq!(
        doc["userName"],
        "5b50642d-79fc-4410-9e90-4c077cdd1a59@testuser.com"
    );
}

#[test]
fn captured_add_and_replace_mix() {
    let doc = patch(&USER, &user(), r#"{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Replace","path":"emails[type eq \"work\"].value","value":"AdeleV2@REDACTED.onmicrosoft.com"},{"op":"Replace","path":"addresses[type eq \"work\"].formatted","value":"18/2111"},{"op":"Add","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department","value":"Retail"}]}"#, "u1").unwrap();
    assert_eq!(
        doc["emails"][1],
        json!({"value": "AdeleV2@REDACTED.onmicrosoft.com", "type": "work"})
    );
    assert_eq!(
        doc["addresses"],
        json!([{"formatted": "18/2111", "type": "work"}])
    );
    assert_eq!(doc[EXT]["department"], "Retail");
    let doc = patch(&USER, &user(), r#"{"Operations": [{"op":"Add","path":"name.givenName","value":"Bar"},{"op":"Replace","path":"name.familyName","value":"Foo2"}]}"#, "u1").unwrap();
    assert_eq!(
        doc["name"],
        json!({"familyName": "Foo2", "givenName": "Bar"})
    );
}

#[test]
fn disable_user_every_variant() {
    let without_flag = r#"{
    "schemas": [
        "urn:ietf:params:scim:api:messages:2.0:PatchOp"
    ],
    "Operations": [
        {
            "op": "Replace",
            "path": "active",
            "value": "False"
        }
    ]
  }"#;
    let with_flag = r#"{
    "schemas": [
        "urn:ietf:params:scim:api:messages:2.0:PatchOp"
    ],
    "Operations": [
        {
            "op": "replace",
            "path": "active",
            "value": false
        }
    ]
  }"#;
    let tutorial = r#"{
    "Operations": [
        {
            "op": "Replace",
            "path": "active",
            "value": false
        }
    ],
    "schemas": [
        "urn:ietf:params:scim:api:messages:2.0:PatchOp"
    ]
}"#;
    for text in [without_flag, with_flag, tutorial] {
        assert_eq!(patch(&USER, &user(), text, "u1").unwrap()["active"], false);
    }
    let enable = r#"{"Operations": [{"op": "Replace", "path": "active", "value": "True"}]}"#;
    assert_eq!(patch(&USER, &user(), enable, "u1").unwrap()["active"], true);
    let bad = r#"{"Operations": [{"op": "Replace", "path": "active", "value": "Nope"}]}"#;
    assert_eq!(
        patch(&USER, &user(), bad, "u1").unwrap_err().scim_type,
        Some(ScimType::InvalidValue)
    );
}

#[test]
fn add_single_value_string_both_casings() {
    for op in ["Add", "add"] {
        let text = format!(
            r#"{{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{{"op": "{op}","path": "nickName","value": "Babs"}}]}}"#
        );
        assert_eq!(
            patch(&USER, &user(), &text, "u1").unwrap()["nickName"],
            "Babs"
        );
    }
}

#[test]
fn replace_multiple_attributes_without_flag() {
    let doc = patch(
        &USER,
        &user(),
        r#"{
    "schemas": [
        "urn:ietf:params:scim:api:messages:2.0:PatchOp"
    ],
    "Operations": [
        {
            "op": "Replace",
            "path": "displayName",
            "value": "Pvlo"
        },
        {
            "op": "Replace",
            "path": "emails[type eq \"work\"].value",
            "value": "TestBcwqnm@test.microsoft.com"
        },
        {
            "op": "Replace",
            "path": "name.givenName",
            "value": "Gtfd"
        },
        {
            "op": "Replace",
            "path": "name.familyName",
            "value": "Pkqf"
        },
        {
            "op": "Replace",
            "path": "externalId",
            "value": "Eqpj"
        },
        {
            "op": "Replace",
            "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber",
            "value": "Eqpj"
        }
    ]
  }"#,
        "u1",
    )
    .unwrap();
    assert_eq!(
        (doc["displayName"].as_str(), doc["externalId"].as_str()),
        (Some("Pvlo"), Some("Eqpj"))
    );
    assert_eq!(
        doc["name"],
        json!({"familyName": "Pkqf", "givenName": "Gtfd"})
    );
    assert_eq!(doc[EXT], json!({"employeeNumber": "Eqpj"}));
    assert_eq!(doc["emails"].as_array().unwrap().len(), 2);
}

#[test]
fn replace_multiple_attributes_with_flag_no_path_dotted_and_urn_keys() {
    let doc = patch(
        &USER,
        &user(),
        r#"{
    "schemas": [
        "urn:ietf:params:scim:api:messages:2.0:PatchOp"
    ],
    "Operations": [
        {
            "op": "replace",
            "path": "emails[type eq \"work\"].value",
            "value": "TestMhvaes@test.microsoft.com"
        },
        {
            "op": "replace",
            "value": {
                "displayName": "Bjfe",
                "name.givenName": "Kkom",
                "name.familyName": "Unua",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber": "Aklq"
            }
        }
    ]
  }"#,
        "u1",
    )
    .unwrap();
    assert_eq!(doc["displayName"], "Bjfe");
    assert_eq!(
        doc["name"],
        json!({"familyName": "Unua", "givenName": "Kkom"})
    );
    assert_eq!(doc[EXT]["employeeNumber"], "Aklq");
    assert_eq!(doc["emails"][1]["value"], "TestMhvaes@test.microsoft.com");
}

#[test]
fn manager_legacy_array_validator_and_bare_string() {
    let doc = patch(
        &USER,
        &user(),
        r#"{
    "schemas": 
    [
      "urn:ietf:params:scim:api:messages:2.0:PatchOp"],
    "Operations":
    [
      {
        "op":"Add",
        "path":"manager",
        "value":
          [
            {
              "$ref":"http://.../scim/Users/00aa00aa-bb11-cc22-dd33-44ee44ee44ee",
              "value":"00aa00aa-bb11-cc22-dd33-44ee44ee44ee"}]}]}"#,
        "u1",
    )
    .unwrap();
    assert_eq!(
        doc[EXT]["manager"]["value"],
        "00aa00aa-bb11-cc22-dd33-44ee44ee44ee"
    );
    let set = r#"{"Operations": [{"op": "Add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", "value": "271"}]}"#;
    let doc = patch(&USER, &doc, set, "u1").unwrap();
    assert_eq!(doc[EXT]["manager"], json!({"value": "271"}));
    let change = r#"{"Operations": [{"op": "replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", "value": "272"}]}"#;
    let doc = patch(&USER, &doc, change, "u1").unwrap();
    assert_eq!(doc[EXT]["manager"], json!({"value": "272"}));
    let clear = r#"{"Operations": [{"op": "replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", "value": ""}]}"#;
    let doc = patch(&USER, &doc, clear, "u1").unwrap();
    assert!(doc.get(EXT).is_none(), "{doc}");
    assert_eq!(doc, user());
}

#[test]
fn roles_json_in_string_is_rejected_cleanly() {
    let err = patch(&USER, &user(), r#"{
  "schemas": [
    "urn:ietf:params:scim:api:messages:2.0:PatchOp"
  ],
  "Operations": [
    {
      "op": "Add",
      "path": "roles",
      "value": [
        {
          "value": "{\"id\":\"06b07648-ecfe-589f-9d2f-6325724a46ee\",\"value\":\"Admin\",\"displayName\":\"Admin\"}"
        },
        {
          "value": "{\"id\":\"06b07648-ecfe-599f-9d2f-6325724a46ee\",\"value\":\"User\",\"displayName\":\"User\"}"
        }
      ]
    }
  ]
}"#, "u1").unwrap_err();
    assert_eq!(
        (err.status, err.scim_type),
        (400, Some(ScimType::InvalidValue))
    );
}

#[test]
fn validator_clears_with_empty_string_then_null() {
    let with_title = patch(
        &USER,
        &user(),
        r#"{"Operations": [{"op": "Add", "path": "title", "value": "Boss"}]}"#,
        "u1",
    )
    .unwrap();
    for clear in [r#""""#, "null"] {
        let text = format!(
            r#"{{"Operations": [{{"op": "Replace", "path": "title", "value": {clear}}}]}}"#
        );
        assert!(
            patch(&USER, &with_title, &text, "u1")
                .unwrap()
                .get("title")
                .is_none()
        );
    }
}

#[test]
fn zero_operations_is_invalid_syntax() {
    let err = patch(
        &USER,
        &user(),
        r#"{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": []}"#,
        "u1",
    )
    .unwrap_err();
    assert_eq!(err.scim_type, Some(ScimType::InvalidSyntax));
    let err = patch(
        &USER,
        &user(),
        r#"{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"]}"#,
        "u1",
    )
    .unwrap_err();
    assert_eq!(err.scim_type, Some(ScimType::InvalidSyntax));
}
