//! Property tests of tenant extension schemas: specs survive their own
//! printing, and normalising a resource against a tenant's type is
//! idempotent and never panics, whatever the values.

use proptest::prelude::*;
use scim::USER;
use scim::WriteMode;
use scim::resource::normalize;
use scim::schema::custom::AttributeSpec;
use scim::schema::custom::{ExtensionSpec, Interner};
use scim::schema::{AttrType, Mutability, Returned};
use serde_json::{Value, json};

use crate::props_patch::arb_json;

const URN: &str = "urn:example:ext:1.0:User";
const NAMES: &[&str] = &["a", "b", "code", "level", "tags", "desk"];
const SIMPLE: &[AttrType] = &[
    AttrType::String,
    AttrType::Boolean,
    AttrType::Integer,
    AttrType::Decimal,
    AttrType::DateTime,
    AttrType::Reference,
];

fn arb_simple(name: &'static str) -> impl Strategy<Value = AttributeSpec> {
    (prop::sample::select(SIMPLE), any::<[bool; 3]>()).prop_map(move |(ty, [multi, exact, req])| {
        AttributeSpec {
            name: name.to_owned(),
            ty,
            multi_valued: multi,
            description: String::new(),
            required: req,
            case_exact: exact,
            mutability: Mutability::ReadWrite,
            returned: Returned::Default,
            canonical_values: Vec::new(),
            reference_types: Vec::new(),
            sub_attributes: Vec::new(),
        }
    })
}

fn arb_spec() -> impl Strategy<Value = ExtensionSpec> {
    let simple = prop::sample::subsequence(&NAMES[..5], 1..5)
        .prop_flat_map(|names| names.into_iter().map(arb_simple).collect::<Vec<_>>());
    (
        simple,
        prop::option::of((arb_simple("x"), arb_simple("y"), any::<bool>())),
    )
        .prop_map(|(mut attributes, complex)| {
            if let Some((x, y, multi)) = complex {
                let mut desk = x.clone();
                desk.name = "desk".into();
                desk.ty = AttrType::Complex;
                desk.multi_valued = multi;
                let strip = |mut a: AttributeSpec| {
                    a.multi_valued = false;
                    a.required = false;
                    a
                };
                desk.sub_attributes = vec![strip(x), strip(y)];
                attributes.push(desk);
            }
            ExtensionSpec {
                urn: URN.into(),
                name: "Ext".into(),
                description: String::new(),
                attributes,
            }
        })
}

/// Values for the extension object: mostly well-shaped, sometimes not.
fn arb_ext() -> impl Strategy<Value = Value> {
    let scalar = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i32>().prop_map(Value::from),
        Just(json!(1.5)),
        Just(json!("2024-01-02T03:04:05Z")),
        "[a-zA-Z]{0,4}|True|false".prop_map(Value::from),
    ];
    let value = prop_oneof![
        scalar.clone(),
        prop::collection::vec(scalar.clone(), 0..3).prop_map(Value::Array),
        (scalar.clone(), scalar).prop_map(|(x, y)| json!({"x": x, "y": y})),
    ];
    prop_oneof![
        1 => arb_json(),
        4 => prop::collection::vec((prop::sample::select(NAMES), value), 0..6)
            .prop_map(|kv| Value::Object(kv.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn specs_print_and_read_back(spec in arb_spec()) {
        prop_assert_eq!(ExtensionSpec::from_json(&spec.to_json()), Ok(spec));
    }

    #[test]
    fn normalising_with_extensions_is_idempotent(spec in arb_spec(), ext in arb_ext()) {
        let interner = Interner::new();
        let rt = interner.resource_type(&USER, &[spec]).unwrap();
        let body = json!({"userName": "u", URN: ext});
        match normalize(rt, &body, WriteMode::Create) {
            Ok(once) => {
                let twice = normalize(rt, &once, WriteMode::Replace);
                prop_assert_eq!(twice.as_ref(), Ok(&once));
                let urns: Vec<&Value> = once["schemas"].as_array().unwrap().iter().collect();
                prop_assert_eq!(urns.len() == 2, once.get(URN).is_some());
            }
            Err(e) => prop_assert_eq!(e.status, 400),
        }
    }
}
