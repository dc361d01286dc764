#![allow(clippy::unwrap_used, clippy::expect_used)]
use serde_json::json;

use super::*;
use crate::filter::parse_filter;
use crate::resource::{WriteMode, normalize};
use crate::{GROUP, USER};

const URN: &str = "urn:contoso:scim:schemas:extension:asset:1.0:User";

fn spec_json() -> Value {
    json!({
        "id": URN,
        "name": "AssetUser",
        "attributes": [
            {"name": "badgeNumber", "type": "string", "caseExact": true, "required": true},
            {"name": "clearance", "type": "integer"},
            {"name": "onSite", "type": "boolean"},
            {"name": "skills", "type": "string", "multiValued": true, "canonicalValues": ["rust", "go"]},
            {"name": "desk", "type": "complex", "subAttributes": [
                {"name": "building"}, {"name": "floor", "type": "integer"}
            ]}
        ]
    })
}

fn spec() -> ExtensionSpec {
    ExtensionSpec::from_json(&spec_json()).unwrap()
}

#[test]
fn specs_read_the_rfc_7643_representation_with_defaults() {
    let s = spec();
    assert_eq!(s.name, "AssetUser");
    let desk = &s.attributes[4];
    assert_eq!(desk.ty, AttrType::Complex);
    assert_eq!(desk.sub_attributes[0].ty, AttrType::String);
    assert_eq!(desk.sub_attributes[0].mutability, Mutability::ReadWrite);
    assert!(s.attributes[0].case_exact && s.attributes[0].required);
    // What to_json prints reads back the same.
    assert_eq!(ExtensionSpec::from_json(&s.to_json()).unwrap(), s);
}

#[test]
fn bad_specs_are_refused() {
    let with = |f: &dyn Fn(&mut Value)| {
        let mut doc = spec_json();
        f(&mut doc);
        ExtensionSpec::from_json(&doc).unwrap_err().scim_type
    };
    let invalid = Some(crate::ScimType::InvalidValue);
    assert_eq!(with(&|d| d["id"] = json!("not-a-urn")), invalid);
    assert_eq!(
        with(&|d| d["id"] = json!("urn:ietf:params:scim:schemas:x")),
        invalid
    );
    assert_eq!(with(&|d| d["attributes"] = json!([])), invalid);
    assert_eq!(
        with(&|d| d["attributes"][1]["name"] = json!("BADGENUMBER")),
        invalid
    );
    assert_eq!(
        with(&|d| d["attributes"][0]["name"] = json!("9lives")),
        invalid
    );
    assert_eq!(
        with(&|d| d["attributes"][0]["type"] = json!("float")),
        invalid
    );
    assert_eq!(
        with(&|d| d["attributes"][0]["mutability"] = json!("readOnly")),
        invalid
    );
    assert_eq!(
        with(&|d| d["attributes"][0]["uniqueness"] = json!("server")),
        invalid
    );
    assert_eq!(
        with(&|d| d["attributes"][4]["subAttributes"] = json!([])),
        invalid
    );
    assert_eq!(
        with(&|d| d["attributes"][4]["subAttributes"][0] =
            json!({"name": "x", "type": "complex", "subAttributes": [{"name": "y"}]})),
        invalid
    );
    assert_eq!(
        with(&|d| d["attributes"][1]["subAttributes"] = json!([{"name": "y"}])),
        invalid
    );
}

#[test]
fn interning_builds_each_distinct_spec_once() {
    let interner = Interner::new();
    let a = interner.schema(&spec()).unwrap();
    let b = interner.schema(&spec()).unwrap();
    assert!(std::ptr::eq(a, b));
    let rt1 = interner.resource_type(&USER, &[spec()]).unwrap();
    let rt2 = interner.resource_type(&USER, &[spec()]).unwrap();
    assert!(std::ptr::eq(rt1, rt2));
    assert_eq!(
        rt1.extensions.len(),
        2,
        "enterprise first, then the tenant's"
    );
    // No extensions: the static type itself.
    assert!(std::ptr::eq(
        interner.resource_type(&GROUP, &[]).unwrap(),
        &GROUP
    ));
}

#[test]
fn clashing_urns_are_refused() {
    let interner = Interner::new();
    let mut enterprise = spec();
    enterprise.urn = crate::schema::ENTERPRISE_USER_SCHEMA.to_owned();
    assert!(interner.resource_type(&USER, &[enterprise]).is_err());
    let mut prefix = spec();
    prefix.urn = "urn:contoso:scim:schemas:extension:asset".to_owned();
    assert!(interner.resource_type(&USER, &[spec(), prefix]).is_err());
    assert!(interner.resource_type(&USER, &[spec(), spec()]).is_err());
}

#[test]
fn tenant_attributes_work_like_core_ones() {
    let interner = Interner::new();
    let rt = interner.resource_type(&USER, &[spec()]).unwrap();
    let path = crate::filter::parse_attr_path(&format!("{URN}:desk.floor")).unwrap();
    let resolved = rt.resolve(&path).unwrap();
    assert_eq!(resolved.target().ty, AttrType::Integer);
    assert_eq!(resolved.canonical.uri.as_deref(), Some(URN));

    let doc = normalize(
        rt,
        &json!({
            "userName": "a",
            URN: {"badgeNumber": "B-7", "clearance": 3, "skills": "rust", "desk": {"floor": 2}},
        }),
        WriteMode::Create,
    )
    .unwrap();
    assert_eq!(doc["schemas"][1], URN);
    assert_eq!(doc[URN]["skills"], json!(["rust"]));
    // Types are checked; a required attribute is required once the extension is used.
    let wrong = json!({"userName": "a", URN: {"badgeNumber": "B", "clearance": "high"}});
    assert!(normalize(rt, &wrong, WriteMode::Create).is_err());
    let missing = json!({"userName": "a", URN: {"clearance": 1}});
    assert!(normalize(rt, &missing, WriteMode::Create).is_err());
    assert!(normalize(rt, &json!({"userName": "a"}), WriteMode::Create).is_ok());
    // The static type does not know the extension.
    let foreign = json!({"userName": "a", URN: {"badgeNumber": "B"}});
    assert!(normalize(&USER, &foreign, WriteMode::Create).is_err());

    let filter = parse_filter(&format!(
        "{URN}:badgeNumber eq \"B-7\" and {URN}:desk.floor pr"
    ))
    .unwrap();
    assert!(filter.matches(rt, &doc));
    let case_exact = parse_filter(&format!("{URN}:badgeNumber eq \"b-7\"")).unwrap();
    assert!(!case_exact.matches(rt, &doc));

    let ops = crate::patch::parse_patch_request(&json!({
        "Operations": [
            {"op": "replace", "path": format!("{URN}:clearance"), "value": 4},
            {"op": "add", "value": {format!("{URN}:skills"): ["go"]}}
        ]
    }))
    .unwrap();
    let patched = crate::patch::apply_patch(rt, &doc, &ops, "id").unwrap();
    assert_eq!(patched[URN]["clearance"], 4);
    assert_eq!(patched[URN]["skills"], json!(["rust", "go"]));
}

#[test]
fn values_of_extensions_a_type_no_longer_has_are_dropped() {
    let interner = Interner::new();
    let rt = interner.resource_type(&USER, &[spec()]).unwrap();
    let mut doc = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", URN, "urn:gone:1.0:User"],
        "userName": "a",
        URN: {"badgeNumber": "B"},
        "urn:gone:1.0:User": {"x": 1},
    });
    crate::resource::drop_unknown_extensions(rt, &mut doc);
    assert_eq!(
        doc["schemas"],
        json!(["urn:ietf:params:scim:schemas:core:2.0:User", URN])
    );
    assert!(doc.get("urn:gone:1.0:User").is_none());
    crate::resource::drop_unknown_extensions(&USER, &mut doc);
    assert!(doc.get(URN).is_none());
    assert_eq!(doc["userName"], "a");
}
