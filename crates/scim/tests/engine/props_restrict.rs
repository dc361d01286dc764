//! Property test of `filter::restrict`: restricting a filter to a resource
//! type never changes which documents of that type it matches.

use proptest::prelude::*;
use scim::filter::{CompValue, CompareOp, Filter, Restricted, restrict};
use scim::{AttrPath, GROUP, USER};
use serde_json::{Value, json};

/// Attributes of Users only, Groups only, and both.
const NAMES: &[&str] = &[
    "userName",
    "title",
    "emails",
    "members",
    "displayName",
    "externalId",
    "active",
];

fn arb_leaf() -> impl Strategy<Value = Filter> {
    let path = prop::sample::select(NAMES).prop_map(AttrPath::new);
    let value = prop_oneof![
        Just(CompValue::Null),
        any::<bool>().prop_map(CompValue::Bool),
        prop::sample::select(vec!["a", "b", ""]).prop_map(|s| CompValue::String(s.into())),
    ];
    prop_oneof![
        (
            path.clone(),
            prop::sample::select(vec![CompareOp::Eq, CompareOp::Ne, CompareOp::Sw]),
            value
        )
            .prop_map(|(path, op, value)| Filter::Compare { path, op, value }),
        path.prop_map(Filter::Present),
    ]
}

fn arb_filter() -> impl Strategy<Value = Filter> {
    arb_leaf().prop_recursive(4, 16, 2, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| Filter::And(Box::new(a), Box::new(b))),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| Filter::Or(Box::new(a), Box::new(b))),
            inner.prop_map(|a| Filter::Not(Box::new(a))),
        ]
    })
}

fn arb_text() -> impl Strategy<Value = Option<&'static str>> {
    prop::option::of(prop::sample::select(vec!["a", "b", "ab"]))
}

fn arb_doc() -> impl Strategy<Value = Value> {
    (
        arb_text(),
        arb_text(),
        arb_text(),
        arb_text(),
        prop::option::of(any::<bool>()),
    )
        .prop_map(|(a, b, c, d, active)| {
            let mut doc = json!({});
            let put = |doc: &mut Value, k: &str, v: Option<Value>| {
                if let Some(v) = v {
                    doc[k] = v;
                }
            };
            put(&mut doc, "userName", a.map(Value::from));
            put(&mut doc, "displayName", b.map(Value::from));
            put(&mut doc, "externalId", c.map(Value::from));
            put(&mut doc, "title", d.map(Value::from));
            put(&mut doc, "emails", d.map(|v| json!([{"value": v}])));
            put(&mut doc, "members", c.map(|v| json!([{"value": v}])));
            put(&mut doc, "active", active.map(Value::from));
            doc
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn restriction_preserves_matches(f in arb_filter(), doc in arb_doc()) {
        for rt in [&USER, &GROUP] {
            let expected = f.matches(rt, &doc);
            let got = match restrict(&f, rt) {
                Restricted::Always => true,
                Restricted::Never => false,
                Restricted::Filter(g) => g.matches(rt, &doc),
            };
            prop_assert_eq!(got, expected, "{} on {} for {}", f, doc, rt.id);
        }
    }
}
