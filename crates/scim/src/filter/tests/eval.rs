//! In-memory evaluation.

use serde_json::json;

use super::*;

fn user() -> serde_json::Value {
    json!({
        "schemas": [crate::schema::USER_SCHEMA, crate::schema::ENTERPRISE_USER_SCHEMA],
        "id": "2819c223",
        "externalId": "Ext-1",
        "userName": "BJensen@example.com",
        "name": {"familyName": "Jensen", "givenName": "Barbara"},
        "active": true,
        "emails": [
            {"value": "bjensen@example.com", "type": "work", "primary": true},
            {"value": "babs@jensen.org", "type": "home"}
        ],
        "meta": {"created": "2011-08-01T18:29:49.793Z", "lastModified": "2011-08-01T21:32:44+02:00"},
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
            "employeeNumber": "701984",
            "manager": {"value": "26118915", "displayName": "John Smith"}
        }
    })
}

fn m(s: &str) -> bool {
    p(s).matches(&USER, &user())
}

#[test]
fn evaluates_strings_per_case_exactness() {
    assert!(
        m(r#"userName eq "bjensen@EXAMPLE.com""#),
        "userName is caseExact=false"
    );
    assert!(m(r#"externalId eq "Ext-1""#));
    assert!(!m(r#"externalId eq "ext-1""#), "externalId is caseExact");
    assert!(!m(r#"id eq "2819C223""#), "id is caseExact");
    assert!(m(r#"name.familyName co "ENS""#));
    assert!(m(r#"name.familyName sw "j" and name.familyName ew "N""#));
    assert!(m(r#"userName gt "a" and userName lt "c""#));
    assert!(m(r#"username ne "other""#));
    assert!(
        !m(r#"nickName ne "other""#),
        "ne on an absent attribute is false"
    );
}

#[test]
fn evaluates_multi_valued_complex_and_extensions() {
    assert!(
        m(r#"emails co "jensen.org""#),
        "complex attributes compare through value"
    );
    assert!(m(r#"emails.type eq "home""#));
    assert!(m(r#"emails[type eq "work" and value ew "example.com"]"#));
    assert!(
        !m(r#"emails[type eq "home" and value ew "example.com"]"#),
        "both terms on the same element"
    );
    assert!(m(
        r#"emails[type eq "work"].value eq "BJENSEN@example.com""#
    ));
    assert!(m(
        r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "701984""#
    ));
    assert!(m(r#"employeeNumber eq "701984""#));
    assert!(
        m(r#"manager eq "26118915""#),
        "Entra's legacy manager check"
    );
    assert!(m(r#"id eq "2819c223" and manager eq "26118915""#));
    assert!(!m(r#"manager eq "other""#));
    assert!(m(r#"manager.displayName pr"#));
}

#[test]
fn evaluates_presence_literals_dates_and_logic() {
    assert!(m("name pr") && m("emails pr") && !m("nickName pr") && !m("unknownAttr pr"));
    assert!(m("active eq true") && !m("active eq false") && !m("active gt true"));
    assert!(m("title eq null") && !m("userName eq null") && m("userName ne null"));
    assert!(
        m(r#"meta.lastModified gt "2011-08-01T19:00:00Z""#),
        "chronological, not lexical"
    );
    assert!(!m(r#"meta.lastModified gt "2011-08-01T20:00:00Z""#));
    assert!(m(r#"meta.created ge "2011-08-01T18:29:49.793Z""#));
    assert!(m(r#"not (nickName pr) and (title pr or active eq true)"#));
    assert!(!m(r#"userName eq 5"#), "type mismatch never matches");
    let numbers = json!({"x": 10});
    let rt = &GROUP;
    assert!(
        !parse_filter("x gt 5").unwrap().matches(rt, &numbers),
        "unknown attributes have no value"
    );
}

#[test]
fn evaluates_group_members() {
    let group =
        json!({"displayName": "G", "members": [{"value": "u1", "display": "A"}, {"value": "u2"}]});
    assert!(p(r#"members[value eq "u2"]"#).matches(&GROUP, &group));
    assert!(p(r#"members eq "u1""#).matches(&GROUP, &group));
    assert!(!p(r#"members[value eq "u3"]"#).matches(&GROUP, &group));
    assert!(!p(r#"members[value eq "u1"]"#).matches(&GROUP, &json!("not an object")));
}
