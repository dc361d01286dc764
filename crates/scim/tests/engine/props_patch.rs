//! Property tests of normalisation and of the PATCH engine.

use proptest::prelude::*;
use scim::filter::parse_filter;
use scim::patch::{PatchOpKind, PatchOperation, apply_patch, parse_patch_request};
use scim::path::parse_patch_path;
use scim::projection::project;
use scim::resource::normalize;
use scim::schema::ENTERPRISE_USER_SCHEMA as EXT;
use scim::{GROUP, USER, WriteMode};
use serde_json::{Map, Value, json};

const KEYS: &[&str] = &[
    "userName",
    "name",
    "givenName",
    "familyName",
    "emails",
    "value",
    "type",
    "primary",
    "display",
    "active",
    "id",
    "meta",
    "members",
    "$ref",
    "schemas",
    "title",
    "password",
    "groups",
    "manager",
    "name.givenName",
    EXT,
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
    "Operations",
    "op",
    "path",
    "displayName",
    "roles",
    "phoneNumbers",
];

/// Arbitrary JSON, biased towards SCIM member names.
pub fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        "[a-zA-Z@. ]{0,6}|True|false|work|home|".prop_map(Value::String),
    ];
    let key = prop_oneof![
        prop::sample::select(KEYS).prop_map(str::to_owned),
        "[a-zA-Z.:$]{1,8}"
    ];
    leaf.prop_recursive(4, 32, 5, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec((key.clone(), inner), 0..5)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

const PATHS: &[&str] = &[
    "title",
    "nickName",
    "userName",
    "active",
    "name",
    "name.givenName",
    "name.familyName",
    "emails",
    "emails.value",
    "emails.display",
    r#"emails[type eq "work"]"#,
    r#"emails[type eq "work"].value"#,
    r#"emails[type eq "other"].value"#,
    r#"emails[value co "@"].primary"#,
    r#"emails[type eq "work" or type eq "home"]"#,
    r#"phoneNumbers[type eq "mobile"].value"#,
    r#"addresses[type eq "work"].locality"#,
    "addresses",
    "manager",
    "manager.value",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
    EXT,
    "roles",
    "password",
    "id",
    "meta",
    "groups",
    "meta.created",
    "unknownAttr",
    "name.unknown",
    r#"name[givenName eq "x"]"#,
    "members",
    r#"members[value eq "u1"]"#,
    r#"members[value eq "u1"].display"#,
    "displayName",
];

fn arb_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        3 => prop::sample::select(vec![
            json!("x"), json!(""), json!(null), json!(true), json!("False"), json!([]), json!("m7"),
            json!({"value": "v@x", "type": "work"}), json!([{"value": "v@x", "type": "home"}, {"value": "w@x"}]),
            json!({"givenName": "G", "familyName": ""}), json!([{"value": "u1"}, {"value": "u2"}]),
            json!({"department": "D"}), json!([{"$ref": "r", "value": "m8"}]), json!(5),
        ]),
        1 => arb_json(),
    ]
}

fn arb_op() -> impl Strategy<Value = PatchOperation> {
    let kind = prop::sample::select(vec![
        PatchOpKind::Add,
        PatchOpKind::Replace,
        PatchOpKind::Remove,
    ]);
    let path = prop::option::weighted(0.85, prop::sample::select(PATHS));
    (kind, path, prop::option::weighted(0.9, arb_value())).prop_map(|(op, path, value)| {
        PatchOperation {
            op,
            path: path.map(|p| parse_patch_path(p).expect("pool paths parse")),
            value,
        }
    })
}

/// A realistic canonical user.
fn arb_user() -> impl Strategy<Value = Value> {
    let email = (
        prop::sample::select(vec!["a@x", "B@x", "c@y"]),
        prop::sample::select(vec!["work", "home", "other"]),
        any::<bool>(),
    )
        .prop_map(|(v, t, p)| json!({"value": v, "type": t, "primary": p}));
    (
        prop::option::of("[a-z]{1,6}"),
        prop::option::of(any::<bool>()),
        prop::collection::vec(email, 0..4),
        prop::option::of(prop::sample::select(vec!["Sales", "Ops"])),
        prop::option::of("[a-z0-9]{1,4}"),
        prop::option::of(("[A-Z][a-z]{0,5}", "[A-Z][a-z]{0,5}")),
    )
        .prop_map(|(title, active, emails, department, manager, name)| {
            let mut body =
                json!({"userName": "bjensen", "title": title, "active": active, "emails": emails});
            if let Some((given, family)) = name {
                body["name"] = json!({"givenName": given, "familyName": family});
            }
            body[EXT] = json!({"department": department, "manager": manager});
            normalize(&USER, &body, WriteMode::Create).expect("generated users are valid")
        })
}

fn canonical(doc: &Value) -> bool {
    normalize(&USER, doc, WriteMode::Replace).as_ref() == Ok(doc)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_op_sequences_never_panic_and_yield_canonical_documents(doc in arb_user(), ops in prop::collection::vec(arb_op(), 1..6)) {
        match apply_patch(&USER, &doc, &ops, "the-id") {
            Ok(out) => {
                prop_assert!(canonical(&out), "{}", out);
                prop_assert!(out.get("password").is_none());
            }
            Err(e) => {
                prop_assert_eq!(e.status, 400);
                prop_assert!(e.scim_type.is_some());
            }
        }
    }

    #[test]
    fn garbage_never_panics(doc in arb_json(), body in arb_json(), ops in prop::collection::vec(arb_op(), 0..4)) {
        let _ = apply_patch(&USER, &doc, &ops, "id");
        let _ = apply_patch(&GROUP, &doc, &ops, "id");
        let _ = parse_patch_request(&body);
        let _ = parse_patch_request(&json!({"Operations": [body.clone()]}));
        let _ = normalize(&USER, &body, WriteMode::Create);
        let _ = normalize(&GROUP, &body, WriteMode::Replace);
        let _ = project(&USER, &body, &[], &[]);
    }

    #[test]
    fn a_failing_operation_fails_the_whole_patch(
        doc in arb_user(),
        mut ops in prop::collection::vec(arb_op(), 0..5),
        at in any::<prop::sample::Index>(),
        bad in prop::sample::select(vec![("id", json!("other")), ("meta", json!({})), ("groups", json!([])), ("unknownAttr", json!(1)), ("active", json!(5))]),
    ) {
        let before = doc.clone();
        let failing = PatchOperation { op: PatchOpKind::Replace, path: Some(parse_patch_path(bad.0).expect("valid")), value: Some(bad.1) };
        ops.insert(at.index(ops.len() + 1), failing);
        prop_assert!(apply_patch(&USER, &doc, &ops, "the-id").is_err());
        prop_assert_eq!(doc, before);
    }

    #[test]
    fn add_then_remove_restores_absence(
        doc in arb_user(),
        case in prop::sample::select(vec![
            ("nickName", json!("Babs"), "nickName pr"),
            ("title", json!("T"), "title pr"),
            ("name.middleName", json!("J"), "name.middleName pr"),
            ("phoneNumbers", json!([{"value": "1", "type": "fax"}]), "phoneNumbers pr"),
            ("emails", json!([{"value": "n@x", "type": "other"}]), "emails pr"),
            (r#"emails[type eq "other"].value"#, json!("o@x"), r#"emails[type eq "other"]"#),
            (r#"addresses[type eq "work"].locality"#, json!("X"), r#"addresses[type eq "work" and locality pr]"#),
            ("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", json!("D"), "department pr"),
            ("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", json!("m9"), "manager pr"),
            (EXT, json!({"division": "V"}), "division pr"),
        ]),
    ) {
        let (path, value, present) = case;
        let path = parse_patch_path(path).expect("valid");
        let ops = [
            PatchOperation { op: PatchOpKind::Add, path: Some(path.clone()), value: Some(value) },
            PatchOperation { op: PatchOpKind::Remove, path: Some(path), value: None },
        ];
        let out = apply_patch(&USER, &doc, &ops, "the-id").expect("add then remove succeeds");
        prop_assert!(!parse_filter(present).expect("valid").matches(&USER, &out), "{}", out);
    }

    #[test]
    fn replace_is_idempotent(doc in arb_user(), op in arb_op().prop_map(|o| PatchOperation { op: PatchOpKind::Replace, ..o })) {
        let ops = [op];
        if let Ok(once) = apply_patch(&USER, &doc, &ops, "the-id") {
            let twice = apply_patch(&USER, &once, &ops, "the-id");
            prop_assert_eq!(twice.as_ref(), Ok(&once), "{:?}", ops);
        }
    }

    #[test]
    fn normalisation_is_idempotent(body in arb_json()) {
        let body = match body { Value::Object(m) => { let mut m: Map<String, Value> = m; m.insert("userName".into(), json!("u")); Value::Object(m) }, other => other };
        if let Ok(once) = normalize(&USER, &body, WriteMode::Create) {
            prop_assert_eq!(normalize(&USER, &once, WriteMode::Replace), Ok(once.clone()));
        }
    }
}
