//! The grammar: operators, precedence, values, paths, errors, limits, printing.

use super::*;

#[test]
fn every_operator_case_insensitively() {
    for op in CompareOp::ALL {
        for spelling in [op.as_str().to_owned(), op.as_str().to_uppercase()] {
            let f = p(&format!("userName {spelling} \"x\""));
            assert_eq!(f, cmp("userName", op, s("x")));
        }
    }
    assert_eq!(p("title PR"), Filter::Present(AttrPath::new("title")));
    assert_eq!(
        p("UserName Eq \"a\""),
        cmp("UserName", CompareOp::Eq, s("a"))
    );
}

#[test]
fn and_binds_tighter_than_or_and_both_associate_left() {
    let (a, b, c) = (
        cmp("a", CompareOp::Eq, s("1")),
        cmp("b", CompareOp::Eq, s("2")),
        cmp("c", CompareOp::Eq, s("3")),
    );
    assert_eq!(
        p(r#"a eq "1" or b eq "2" and c eq "3""#),
        or(a.clone(), and(b.clone(), c.clone()))
    );
    assert_eq!(
        p(r#"a eq "1" and b eq "2" or c eq "3""#),
        or(and(a.clone(), b.clone()), c.clone())
    );
    assert_eq!(
        p(r#"a eq "1" AND b eq "2" AND c eq "3""#),
        and(and(a.clone(), b.clone()), c.clone())
    );
    assert_eq!(
        p(r#"a eq "1" or (b eq "2" or c eq "3")"#),
        or(a.clone(), or(b.clone(), c.clone()))
    );
    assert_eq!(
        p(r#"(a eq "1" or b eq "2") and c eq "3""#),
        and(or(a, b), c)
    );
}

#[test]
fn not_and_grouping() {
    let inner = or(
        cmp("emails", CompareOp::Co, s("example.com")),
        cmp("emails.value", CompareOp::Co, s("example.org")),
    );
    let f = p(
        r#"userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")"#,
    );
    assert_eq!(
        f,
        and(
            cmp("userType", CompareOp::Ne, s("Employee")),
            Filter::Not(Box::new(inner))
        )
    );
    assert_eq!(
        p("NOT(title pr)"),
        Filter::Not(Box::new(Filter::Present(AttrPath::new("title"))))
    );
    assert_eq!(
        p("((((title pr))))"),
        Filter::Present(AttrPath::new("title"))
    );
    // `not` not followed by `(` is an attribute name.
    assert_eq!(p("not pr"), Filter::Present(AttrPath::new("not")));
}

#[test]
fn value_paths() {
    let f = p(r#"emails[type eq "work" and value co "@example.com"]"#);
    let expected = Filter::ValuePath {
        path: AttrPath::new("emails"),
        filter: Box::new(and(
            cmp("type", CompareOp::Eq, s("work")),
            cmp("value", CompareOp::Co, s("@example.com")),
        )),
    };
    assert_eq!(f, expected);
    let f = p(
        r#"userType eq "Employee" and emails[type eq "work" or value pr] or ims[type eq "xmpp"]"#,
    );
    assert!(matches!(f, Filter::Or(..)));
    // Entra's `emails[type eq "work"].value eq "x"` reads as one value filter.
    assert_eq!(
        p(r#"emails[type eq "work"].value eq "x""#),
        Filter::ValuePath {
            path: AttrPath::new("emails"),
            filter: Box::new(and(
                cmp("type", CompareOp::Eq, s("work")),
                cmp("value", CompareOp::Eq, s("x"))
            )),
        }
    );
}

#[test]
fn urn_qualified_paths() {
    let f = p(
        r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "701984""#,
    );
    let Filter::Compare { path, .. } = &f else {
        panic!("{f:?}")
    };
    assert_eq!(
        path.uri.as_deref(),
        Some("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User")
    );
    assert_eq!(path.name, "employeeNumber");
    let f = p(r#"urn:ietf:params:scim:schemas:core:2.0:User:name.familyName sw "J""#);
    let Filter::Compare { path, .. } = &f else {
        panic!("{f:?}")
    };
    assert_eq!(
        (path.uri.as_deref(), path.name.as_str(), path.sub.as_deref()),
        (
            Some("urn:ietf:params:scim:schemas:core:2.0:User"),
            "name",
            Some("familyName")
        )
    );
    assert_eq!(
        p("members.$ref pr"),
        Filter::Present(AttrPath::with_sub("members", "$ref"))
    );
}

#[test]
fn values_escapes_numbers_literals_and_bare_words() {
    assert_eq!(
        p(r#"displayName eq "say \"hi\" \\ \u00e9""#),
        cmp("displayName", CompareOp::Eq, s("say \"hi\" \\ é"))
    );
    assert_eq!(
        p("x eq 42"),
        cmp("x", CompareOp::Eq, CompValue::Number(42.into()))
    );
    assert_eq!(
        p("x gt -1.5"),
        cmp(
            "x",
            CompareOp::Gt,
            CompValue::Number(serde_json::Number::from_f64(-1.5).unwrap())
        )
    );
    assert_eq!(
        p("active eq true"),
        cmp("active", CompareOp::Eq, CompValue::Bool(true))
    );
    assert_eq!(
        p("active eq False"),
        cmp("active", CompareOp::Eq, CompValue::Bool(false))
    );
    assert_eq!(
        p("title eq null"),
        cmp("title", CompareOp::Eq, CompValue::Null)
    );
    // Legacy Microsoft sample: unquoted value.
    assert_eq!(
        p("externalId eq jyoung"),
        cmp("externalId", CompareOp::Eq, s("jyoung"))
    );
    assert_eq!(
        p("externalId eq 00ujl29u0le5T6Aj10h7"),
        cmp("externalId", CompareOp::Eq, s("00ujl29u0le5T6Aj10h7"))
    );
    assert_eq!(
        p("(userName eq a@b.c)"),
        cmp("userName", CompareOp::Eq, s("a@b.c"))
    );
}

#[test]
fn idp_filters() {
    p(r#"userName eq "Test_User_00aa00aa-bb11-cc22-dd33-44ee44ee44ee""#);
    p(r#"displayName eq "displayName""#);
    p(
        "id eq 54D382A4-2050-4C03-94D1-E769F1D15682 and manager eq 2819c223-7f76-453a-919d-413861904646",
    );
    p(r#"userName eq "test.user@okta.local""#);
}

fn invalid(s: &str) -> String {
    let err = parse_filter(s).expect_err(s);
    assert_eq!(
        (err.status, err.scim_type),
        (400, Some(ScimType::InvalidFilter)),
        "{s:?}"
    );
    err.detail
}

#[test]
fn every_class_of_invalid_filter() {
    for bad in [
        "",
        "   ",
        "userName",
        "userName eq",
        "userName zz \"x\"",
        "userName eq \"x",
        r#"userName eq "\q""#,
        "userName eq \"x\" and",
        "userName eq \"x\" or",
        "userName eq \"x\" xor title pr",
        "(userName eq \"x\"",
        "userName eq \"x\")",
        "not userName eq \"x\"",
        "not (",
        "()",
        "emails[type eq \"work\"",
        "emails[]",
        "emails[type eq \"work\"]]",
        "emails[type[value pr]]",
        "name.givenName[type eq \"x\"]",
        "emails[type eq \"work\"].",
        "emails[type eq \"work\"].value",
        "1abc eq \"x\"",
        "a.b.c eq \"x\"",
        ":name eq \"x\"",
        "\"x\" eq userName",
        "userName eq \"x\" !",
        "user%20Name eq \"x\"",
        "title pr pr",
    ] {
        invalid(bad);
    }
}

#[test]
fn errors_point_at_the_offset_and_do_not_echo_values() {
    let d = invalid(r#"userName eq "secret" and"#);
    assert!(d.contains("offset 24"), "{d}");
    assert!(!d.contains("secret"), "{d}");
    let d = invalid(r#"userName foo "x""#);
    assert!(d.contains("'foo'") && d.contains("offset 9"), "{d}");
}

#[test]
fn hostile_inputs_are_bounded() {
    let deep = format!("{}title pr{}", "(".repeat(65), ")".repeat(65));
    assert!(invalid(&deep).contains("nested"));
    let ok = format!("{}title pr{}", "(".repeat(64), ")".repeat(64));
    p(&ok);
    let nots = format!("{}title pr{}", "not (".repeat(100), ")".repeat(100));
    invalid(&nots);
    let long = format!("userName eq \"{}\"", "a".repeat(MAX_FILTER_LEN));
    assert!(invalid(&long).contains("longer"));
    let many = vec!["a pr"; MAX_FILTER_TERMS + 1].join(" or ");
    assert!(invalid(&many).contains("comparisons"));
    let max = vec!["a pr"; MAX_FILTER_TERMS].join(" and ");
    let f = p(&max);
    assert_eq!(parse_filter(&f.to_string()), Ok(f));
}

#[test]
fn display_is_canonical() {
    let f = p(r#"(A EQ "1" OR b eq 2) and NOT (c pr) and emails[TYPE eq "w\"k"]"#);
    assert_eq!(
        f.to_string(),
        r#"(A eq "1" or b eq 2) and not (c pr) and emails[TYPE eq "w\"k"]"#
    );
    let right_nested = or(
        Filter::Present(AttrPath::new("a")),
        or(
            Filter::Present(AttrPath::new("b")),
            Filter::Present(AttrPath::new("c")),
        ),
    );
    assert_eq!(right_nested.to_string(), "a pr or (b pr or c pr)");
    assert_eq!(parse_filter(&right_nested.to_string()), Ok(right_nested));
}

#[test]
fn attribute_lists() {
    let list = parse_attribute_list(" userName, name.givenName ,,urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager ").unwrap();
    let shown: Vec<String> = list.iter().map(ToString::to_string).collect();
    assert_eq!(
        shown,
        [
            "userName",
            "name.givenName",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager"
        ]
    );
    assert_eq!(parse_attribute_list("").unwrap(), vec![]);
    let err = parse_attribute_list("userName,na me").unwrap_err();
    assert_eq!(err.scim_type, Some(ScimType::InvalidPath));
}
