//! Property tests of the filter and path grammars: print/parse round trips and robustness.

use proptest::prelude::*;
use scim::filter::{CompValue, CompareOp, Filter, parse_attr_path, parse_filter};
use scim::path::{PatchPath, parse_patch_path};
use scim::{AttrPath, GROUP, USER};
use serde_json::Number;

use crate::props_patch::arb_json;

const URIS: &[&str] = &[
    "urn:ietf:params:scim:schemas:core:2.0:User",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
    "urn:example:custom:1.0:Thing",
];

fn arb_name() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z][a-zA-Z0-9_-]{0,8}",
        Just("$ref".to_owned()),
        prop::sample::select(vec![
            "not", "and", "or", "pr", "eq", "true", "null", "emails", "userName"
        ])
        .prop_map(str::to_owned),
    ]
}

fn arb_attr_path() -> impl Strategy<Value = AttrPath> {
    (
        prop::option::of(prop::sample::select(URIS)),
        arb_name(),
        prop::option::of(arb_name()),
    )
        .prop_map(|(uri, name, sub)| AttrPath {
            uri: uri.map(str::to_owned),
            name,
            sub,
        })
}

fn arb_value() -> impl Strategy<Value = CompValue> {
    prop_oneof![
        Just(CompValue::Null),
        any::<bool>().prop_map(CompValue::Bool),
        any::<i64>().prop_map(|n| CompValue::Number(n.into())),
        any::<u64>().prop_map(|n| CompValue::Number(n.into())),
        any::<f64>()
            .prop_filter_map("finite", Number::from_f64)
            .prop_map(CompValue::Number),
        any::<String>().prop_map(CompValue::String),
        "[\"\\\\ a-z\\u{0}-\\u{1f}\\u{e9}\\u{1F600}]{0,12}".prop_map(CompValue::String),
    ]
}

fn arb_leaf() -> impl Strategy<Value = Filter> {
    prop_oneof![
        (
            arb_attr_path(),
            prop::sample::select(CompareOp::ALL.to_vec()),
            arb_value()
        )
            .prop_map(|(path, op, value)| Filter::Compare { path, op, value }),
        arb_attr_path().prop_map(Filter::Present),
    ]
}

fn logic(inner: impl Strategy<Value = Filter> + Clone) -> impl Strategy<Value = Filter> {
    prop_oneof![
        (inner.clone(), inner.clone()).prop_map(|(a, b)| Filter::And(Box::new(a), Box::new(b))),
        (inner.clone(), inner.clone()).prop_map(|(a, b)| Filter::Or(Box::new(a), Box::new(b))),
        inner.prop_map(|a| Filter::Not(Box::new(a))),
    ]
}

/// Filters allowed inside `[...]`: no nested value path.
pub fn arb_value_filter() -> impl Strategy<Value = Filter> {
    arb_leaf().prop_recursive(5, 24, 2, logic)
}

pub fn arb_filter() -> impl Strategy<Value = Filter> {
    let value_path = (arb_attr_path(), arb_value_filter()).prop_map(|(mut path, filter)| {
        path.sub = None;
        Filter::ValuePath {
            path,
            filter: Box::new(filter),
        }
    });
    prop_oneof![3 => arb_leaf(), 1 => value_path].prop_recursive(5, 32, 2, logic)
}

fn arb_patch_path() -> impl Strategy<Value = PatchPath> {
    prop_oneof![
        arb_attr_path().prop_map(PatchPath::attr),
        (
            arb_attr_path(),
            arb_value_filter(),
            prop::option::of(arb_name())
        )
            .prop_map(|(mut attr, f, sub)| {
                attr.sub = None;
                PatchPath {
                    attr,
                    filter: Some(f),
                    sub,
                }
            }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn filter_print_parse_round_trip(f in arb_filter()) {
        let text = f.to_string();
        prop_assert_eq!(parse_filter(&text), Ok(f), "{}", text);
    }

    #[test]
    fn patch_path_print_parse_round_trip(p in arb_patch_path()) {
        let text = p.to_string();
        prop_assert_eq!(parse_patch_path(&text), Ok(p), "{}", text);
    }

    #[test]
    fn attr_path_print_parse_round_trip(p in arb_attr_path()) {
        prop_assert_eq!(parse_attr_path(&p.to_string()), Ok(p));
    }

    #[test]
    fn parsers_never_panic_on_arbitrary_text(s in any::<String>()) {
        for result in [parse_filter(&s).err(), parse_patch_path(&s).err(), parse_attr_path(&s).err()].into_iter().flatten() {
            prop_assert_eq!(result.status, 400);
            prop_assert!(result.scim_type.is_some());
        }
    }

    #[test]
    fn parsers_never_panic_on_filter_like_text(s in "[a-zA-Z \\[\\]().:\"\\\\$0-9-]{0,60}") {
        let _ = parse_filter(&s);
        let _ = parse_patch_path(&s);
    }

    #[test]
    fn evaluation_never_panics(f in arb_filter(), doc in arb_json()) {
        let _ = f.matches(&USER, &doc);
        let _ = f.matches(&GROUP, &doc);
    }
}
