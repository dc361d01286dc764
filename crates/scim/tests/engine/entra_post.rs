//! Entra ID creates and queries (user and group creates, the filters Entra ID sends), bodies
//! verbatim as Entra ID sends them.

use scim::filter::parse_filter;
use scim::schema::{ENTERPRISE_USER_SCHEMA as EXT, GROUP_SCHEMA, USER_SCHEMA};
use scim::{GROUP, USER};
use serde_json::json;

use crate::support::create;

#[test]
fn create_user_default_job() {
    let doc = create(
        &USER,
        r#"{
    "schemas": [
        "urn:ietf:params:scim:schemas:core:2.0:User",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
    "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
    "userName": "Test_User_00aa00aa-bb11-cc22-dd33-44ee44ee44ee",
    "active": true,
    "emails": [{
        "primary": true,
        "type": "work",
        "value": "Test_User_11bb11bb-cc22-dd33-ee44-55ff55ff55ff@testuser.com"
    }],
    "meta": {
        "resourceType": "User"
    },
    "name": {
        "formatted": "givenName familyName",
        "familyName": "familyName",
        "givenName": "givenName"
    },
    "roles": []
}"#,
    )
    .unwrap();
    assert_eq!(
        doc,
        json!({
            "schemas": [USER_SCHEMA],
            "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
            "userName": "Test_User_00aa00aa-bb11-cc22-dd33-44ee44ee44ee",
            "name": {"formatted": "givenName familyName", "familyName": "familyName", "givenName": "givenName"},
            "active": true,
            "emails": [{"value": "Test_User_11bb11bb-cc22-dd33-ee44-55ff55ff55ff@testuser.com", "type": "work", "primary": true}],
        })
    );
}

#[test]
fn create_user_legacy_sample_with_nulls_and_typo_urn() {
    let doc = create(
        &USER,
        r#"{
   "schemas":
   [
     "urn:ietf:params:scim:schemas:core:2.0:User",
     "urn:ietf:params:scim:schemas:extension:enterprise:2.0User"],
   "externalId":"jyoung",
   "userName":"jyoung@testuser.com",
   "active":true,
   "addresses":null,
   "displayName":"Joy Young",
   "emails": [
     {
       "type":"work",
       "value":"jyoung@Contoso.com",
       "primary":true}],
   "meta": {
     "resourceType":"User"},
    "name":{
     "familyName":"Young",
     "givenName":"Joy"},
   "phoneNumbers":null,
   "preferredLanguage":null,
   "title":null,
   "department":null,
   "manager":null}"#,
    )
    .unwrap();
    assert_eq!(doc["schemas"], json!([USER_SCHEMA]));
    assert_eq!(doc["displayName"], "Joy Young");
    for gone in [
        "addresses",
        "phoneNumbers",
        "preferredLanguage",
        "title",
        "department",
        "manager",
        "meta",
    ] {
        assert!(doc.get(gone).is_none(), "{gone}");
    }
}

#[test]
fn phone_numbers_sample_keeps_three_types() {
    let err = create(
        &USER,
        r#"{
  "schemas": [
    "urn:ietf:params:scim:schemas:core:2.0:User"
  ],
  "phoneNumbers": [
    {
      "value": "555-555-5555",
      "type": "work"
    },
    {
      "value": "555-555-5555",
      "type": "mobile"
    },
    {
      "value": "555-555-5555",
      "type": "fax"
    }
  ]
}"#,
    )
    .unwrap_err();
    assert!(
        err.detail.contains("userName"),
        "the fragment lacks only userName: {}",
        err.detail
    );
    let doc = scim::resource::normalize(
        &USER,
        &json!({"userName": "u", "phoneNumbers": [{"value": "555-555-5555", "type": "work"}, {"value": "555-555-5555", "type": "mobile"}, {"value": "555-555-5555", "type": "fax"}]}),
        scim::WriteMode::Create,
    )
    .unwrap();
    assert_eq!(
        doc["phoneNumbers"].as_array().unwrap().len(),
        3,
        "same value, different types"
    );
}

#[test]
fn constructed_full_create_with_enterprise_extension() {
    let doc = create(
        &USER,
        r#"{
  "schemas": [
    "urn:ietf:params:scim:schemas:core:2.0:User",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
  ],
  "externalId": "alice",
  "userName": "alice@contoso.com",
  "active": true,
  "displayName": "Alice Example",
  "title": "Asset Manager",
  "preferredLanguage": "en-GB",
  "emails": [{ "primary": true, "type": "work", "value": "alice@contoso.com" }],
  "meta": { "resourceType": "User" },
  "name": { "formatted": "Alice Example", "familyName": "Example", "givenName": "Alice" },
  "addresses": [{
    "type": "work",
    "formatted": "Building 4",
    "streetAddress": "1 Main St",
    "locality": "Reading",
    "region": "Berkshire",
    "postalCode": "RG1 1AA",
    "country": "GB"
  }],
  "phoneNumbers": [
    { "type": "work", "value": "+44 118 000 0000" },
    { "type": "mobile", "value": "+44 7700 900000" },
    { "type": "fax", "value": "+44 118 000 0001" }
  ],
  "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
    "employeeNumber": "E-1001",
    "department": "Facilities"
  },
  "roles": []
}"#,
    )
    .unwrap();
    assert_eq!(doc["schemas"], json!([USER_SCHEMA, EXT]));
    assert_eq!(
        doc[EXT],
        json!({"employeeNumber": "E-1001", "department": "Facilities"})
    );
    assert_eq!(doc["addresses"][0]["postalCode"], "RG1 1AA");
    assert_eq!(doc["phoneNumbers"].as_array().unwrap().len(), 3);
    let keys: Vec<&String> = doc.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "schemas",
            "externalId",
            "userName",
            "name",
            "displayName",
            "title",
            "preferredLanguage",
            "active",
            "emails",
            "phoneNumbers",
            "addresses",
            EXT
        ]
    );
}

#[test]
fn enterprise_representation_drops_manager_display_name() {
    let fragment = r#"{
  "userName": "u",
  "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
    "employeeNumber": "701984",
    "costCenter": "4130",
    "organization": "Universal Studios",
    "division": "Theme Park",
    "department": "Tour Operations",
    "manager": {
      "value": "26118915-6090-4610-87e4-49d8ca9f808d",
      "$ref": "../Users/26118915-6090-4610-87e4-49d8ca9f808d",
      "displayName": "John Smith"
    }
  }
}"#;
    let doc = create(&USER, fragment).unwrap();
    assert_eq!(
        doc[EXT]["manager"],
        json!({"value": "26118915-6090-4610-87e4-49d8ca9f808d", "$ref": "../Users/26118915-6090-4610-87e4-49d8ca9f808d"})
    );
    assert_eq!(doc[EXT]["division"], "Theme Park");
}

#[test]
fn create_group_with_microsoft_schema_uri() {
    let doc = create(
        &GROUP,
        r#"{
    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group", "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],
    "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
    "displayName": "displayName",
    "meta": {
        "resourceType": "Group"
    }
}"#,
    )
    .unwrap();
    assert_eq!(
        doc,
        json!({"schemas": [GROUP_SCHEMA], "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159", "displayName": "displayName"})
    );
}

#[test]
fn entra_queries_parse_and_match() {
    let user = create(&USER, r#"{"id": "54D382A4-2050-4C03-94D1-E769F1D15682", "userName": "user@contoso.com", "externalId": "jyoung", "emails": [{"type": "work", "value": "user@contoso.com"}], "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"manager": "2819c223-7f76-453a-919d-413861904646"}}"#).unwrap();
    let mut rendered = user.clone();
    rendered["id"] = json!("54D382A4-2050-4C03-94D1-E769F1D15682");
    for (filter, expected) in [
        (
            r#"userName eq "Test_User_00aa00aa-bb11-cc22-dd33-44ee44ee44ee""#,
            false,
        ),
        (r#"userName eq "USER@contoso.com""#, true),
        ("externalId eq jyoung", true),
        (
            r#"emails[type eq "work"].value eq "user@contoso.com""#,
            true,
        ),
        (
            "id eq 54D382A4-2050-4C03-94D1-E769F1D15682 and manager eq 2819c223-7f76-453a-919d-413861904646",
            true,
        ),
        (
            "id eq 54D382A4-2050-4C03-94D1-E769F1D15682 and manager eq 00000000-0000-0000-0000-000000000000",
            false,
        ),
    ] {
        assert_eq!(
            parse_filter(filter).unwrap().matches(&USER, &rendered),
            expected,
            "{filter}"
        );
    }
    parse_filter(r#"displayName eq "displayName""#).unwrap();
}
