#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use crate::filter::parse_attr_path;

fn resolve(rt: &ResourceTypeDef, s: &str) -> Option<ResolvedAttr> {
    rt.resolve(&parse_attr_path(s).unwrap())
}

#[test]
fn core_names_resolve_case_insensitively_to_canonical_spelling() {
    let r = resolve(&USER, "USERNAME").unwrap();
    assert_eq!(r.attr.name, "userName");
    assert_eq!(r.canonical.to_string(), "userName");
    assert!(std::ptr::eq(r.schema, &USER_SCHEMA_DEF));
    let r = resolve(&USER, "name.GIVENNAME").unwrap();
    assert_eq!(r.canonical.to_string(), "name.givenName");
    assert_eq!(r.target().name, "givenName");
}

#[test]
fn urn_prefixes_select_the_schema() {
    let r = resolve(&USER, "urn:ietf:params:scim:schemas:core:2.0:User:userName").unwrap();
    assert_eq!(
        r.canonical.uri, None,
        "core attributes are canonical without URN"
    );
    let r = resolve(
        &USER,
        "URN:IETF:params:scim:schemas:extension:enterprise:2.0:user:employeeNumber",
    )
    .unwrap();
    assert_eq!(r.canonical.uri.as_deref(), Some(ENTERPRISE_USER_SCHEMA));
    assert_eq!(r.canonical.name, "employeeNumber");
    // A core URN does not reach extension attributes, and vice versa.
    assert!(
        resolve(
            &USER,
            "urn:ietf:params:scim:schemas:core:2.0:User:employeeNumber"
        )
        .is_none()
    );
    assert!(
        resolve(
            &USER,
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:userName"
        )
        .is_none()
    );
    assert!(resolve(&USER, "urn:example:unknown:userName").is_none());
}

#[test]
fn bare_names_fall_back_to_extensions() {
    let r = resolve(&USER, "manager.value").unwrap();
    assert_eq!(
        r.canonical.to_string(),
        format!("{ENTERPRISE_USER_SCHEMA}:manager.value")
    );
    assert!(resolve(&GROUP, "manager").is_none());
}

#[test]
fn unknown_names_and_sub_attributes_do_not_resolve() {
    assert!(resolve(&USER, "nope").is_none());
    assert!(resolve(&USER, "name.nope").is_none());
    assert!(resolve(&USER, "userName.x").is_none());
    assert!(resolve(&GROUP, "userName").is_none());
    assert_eq!(
        resolve(&GROUP, "members.$REF").unwrap().target().name,
        "$ref"
    );
}

#[test]
fn metadata_follows_rfc_7643() {
    let get = |s: &str| resolve(&USER, s).unwrap().target();
    assert_eq!(get("id").returned, Returned::Always);
    assert!(get("id").case_exact);
    assert!(get("externalId").case_exact);
    assert_eq!(get("meta").mutability, Mutability::ReadOnly);
    assert_eq!(get("meta.lastModified").ty, AttrType::DateTime);
    assert!(get("userName").required);
    assert_eq!(get("userName").uniqueness, Uniqueness::Server);
    assert!(!get("userName").case_exact);
    assert_eq!(get("password").mutability, Mutability::WriteOnly);
    assert_eq!(get("password").returned, Returned::Never);
    assert_eq!(get("active").ty, AttrType::Boolean);
    assert_eq!(get("groups").mutability, Mutability::ReadOnly);
    assert_eq!(get("groups.value").mutability, Mutability::ReadOnly);
    assert!(get("emails").multi_valued);
    assert_eq!(get("x509Certificates.value").ty, AttrType::Binary);
    assert_eq!(get("photos.value").reference_types, &["external"]);
    assert_eq!(get("manager.displayName").mutability, Mutability::ReadOnly);
    assert_eq!(get("manager.$ref").reference_types, &["User"]);
    let members = resolve(&GROUP, "members.value").unwrap().target();
    assert_eq!(members.mutability, Mutability::Immutable);
    assert!(resolve(&GROUP, "displayName").unwrap().attr.required);
}

#[test]
fn schema_lookup_by_urn() {
    assert!(std::ptr::eq(
        USER.schema_by_urn(&USER_SCHEMA.to_uppercase()).unwrap(),
        &USER_SCHEMA_DEF
    ));
    assert!(USER.schema_by_urn(ENTERPRISE_USER_SCHEMA).is_some());
    assert!(GROUP.schema_by_urn(ENTERPRISE_USER_SCHEMA).is_none());
    assert!(USER.is_extension(&ENTERPRISE_USER_SCHEMA_DEF));
    assert!(!USER.is_extension(&USER_SCHEMA_DEF));
    assert_eq!(USER.schemas().count(), 2);
}
