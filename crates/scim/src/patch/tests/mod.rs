#![allow(clippy::unwrap_used, clippy::expect_used)]

mod errors;
mod multi;
mod single;

use serde_json::{Value, json};

use super::*;
use crate::error::ScimType;
use crate::resource::{WriteMode, normalize};
use crate::schema::{ENTERPRISE_USER_SCHEMA as EXT, GROUP, ResourceTypeDef, USER};

pub(super) fn user() -> Value {
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

pub(super) fn group() -> Value {
    normalize(&GROUP, &json!({"displayName": "G", "members": [{"value": "u1"}, {"value": "u2", "display": "Two"}]}), WriteMode::Create).unwrap()
}

pub(super) fn ops(operations: Value) -> Vec<PatchOperation> {
    parse_patch_request(
        &json!({"schemas": [crate::schema::PATCH_OP_SCHEMA], "Operations": operations}),
    )
    .unwrap()
}

pub(super) fn apply_on(
    rt: &ResourceTypeDef,
    doc: &Value,
    operations: Value,
) -> Result<Value, crate::ScimError> {
    apply_patch(rt, doc, &ops(operations), "the-id")
}

pub(super) fn ok(operations: Value) -> Value {
    apply_on(&USER, &user(), operations.clone()).unwrap_or_else(|e| panic!("{operations}: {e:?}"))
}

pub(super) fn fails(rt: &ResourceTypeDef, doc: &Value, operations: Value) -> ScimType {
    let e = apply_on(rt, doc, operations.clone()).expect_err(&operations.to_string());
    e.scim_type.unwrap()
}

// === parse_patch_request ===

#[test]
fn parse_accepts_idp_spellings() {
    let parsed = parse_patch_request(
        &json!({"operations": [{"OP": "Replace", "Path": "active", "VALUE": "False"}]}),
    )
    .unwrap();
    assert_eq!(
        parsed,
        vec![PatchOperation {
            op: PatchOpKind::Replace,
            path: Some(crate::path::parse_patch_path("active").unwrap()),
            value: Some(json!("False"))
        }]
    );
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
        (
            json!({"Operations": {"op": "add"}}),
            ScimType::InvalidSyntax,
        ),
        (
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"], "Operations": [{"op": "remove", "path": "title"}]}),
            ScimType::InvalidSyntax,
        ),
        (
            json!({"Operations": [{"op": "move", "path": "title"}]}),
            ScimType::InvalidSyntax,
        ),
        (json!({"Operations": [{"op": 1}]}), ScimType::InvalidSyntax),
        (
            json!({"Operations": [{"path": "title"}]}),
            ScimType::InvalidSyntax,
        ),
        (json!({"Operations": ["add"]}), ScimType::InvalidSyntax),
        (
            json!({"Operations": [{"op": "remove"}]}),
            ScimType::NoTarget,
        ),
        (
            json!({"Operations": [{"op": "add", "path": "title"}]}),
            ScimType::InvalidSyntax,
        ),
        (
            json!({"Operations": [{"op": "replace", "value": {}}, {"op": "add", "path": "emails[type eq]", "value": 1}]}),
            ScimType::InvalidPath,
        ),
        (
            json!({"Operations": [{"op": "add", "path": 5, "value": 1}]}),
            ScimType::InvalidPath,
        ),
    ];
    for (body, want) in cases {
        let err = e(body.clone());
        assert_eq!(err.scim_type, Some(want), "{body}: {}", err.detail);
        assert_eq!(err.status, 400);
    }
    assert!(
        e(json!({"Operations": [{"op": "add", "path": "title", "value": 1}, {"op": "remove"}]}))
            .detail
            .starts_with("Operations[1]")
    );
}
