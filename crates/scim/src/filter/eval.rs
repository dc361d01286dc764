//! In-memory evaluation of a filter against one JSON document.
//!
//! Semantics (RFC 7644 §3.4.2.2, with the choices the RFC leaves open):
//! * a comparison on a multi-valued attribute matches when **any** value matches, so `ne` on an
//!   absent attribute is false (as a SQL `<>` on NULL would be);
//! * a complex attribute compared without a sub-attribute (`emails co "x"`, `manager eq "id"`)
//!   is compared through its `value` sub-attribute;
//! * strings compare case-insensitively unless the attribute is `caseExact`; `dateTime` values
//!   compare chronologically; `boolean` supports only `eq`/`ne`; `eq null` matches an absent
//!   attribute and `ne null` a present one;
//! * unknown attributes have no value; type mismatches never match.

use std::borrow::Cow;
use std::cmp::Ordering;

use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::{AttrPath, CompValue, CompareOp, Filter};
use crate::json::{get_ci, is_unassigned};
use crate::schema::{AttrType, AttributeDef, ResourceTypeDef};

/// What the paths of a filter are relative to.
#[derive(Clone, Copy)]
enum Scope<'a> {
    Resource(&'a ResourceTypeDef),
    /// One element of the multi-valued complex attribute `parent` (inside `[...]`).
    Element(&'static AttributeDef),
}

impl Filter {
    /// In-memory evaluation against ONE resource document (used for PATCH value-path filters, never for listing). Case-insensitive comparison for caseExact=false attributes, per the resource type's schema.
    pub fn matches(&self, rt: &ResourceTypeDef, value: &Value) -> bool {
        eval(self, Scope::Resource(rt), value)
    }
}

/// Evaluates a value filter (paths relative to the element) against one element of `parent`.
pub(crate) fn matches_element(
    filter: &Filter,
    parent: &'static AttributeDef,
    element: &Value,
) -> bool {
    eval(filter, Scope::Element(parent), element)
}

fn eval(filter: &Filter, scope: Scope<'_>, doc: &Value) -> bool {
    match filter {
        Filter::Compare { path, op, value } => {
            let (values, def) = lookup(scope, doc, path, true);
            compare_all(&values, def, *op, value)
        }
        Filter::Present(path) => lookup(scope, doc, path, false)
            .0
            .iter()
            .any(|v| !is_unassigned(v)),
        Filter::And(a, b) => eval(a, scope, doc) && eval(b, scope, doc),
        Filter::Or(a, b) => eval(a, scope, doc) || eval(b, scope, doc),
        Filter::Not(a) => !eval(a, scope, doc),
        Filter::ValuePath { path, filter } => {
            let Scope::Resource(rt) = scope else {
                return false;
            };
            let Some(resolved) = rt.resolve(path).filter(|r| r.sub.is_none()) else {
                return false;
            };
            let Some(value) = attr_value(rt, doc, resolved.schema, resolved.attr) else {
                return false;
            };
            elements(value).any(|e| eval(filter, Scope::Element(resolved.attr), e))
        }
    }
}

/// The values `path` designates in `doc`, flattened, with the definition they follow.
/// With `via_value`, a complex attribute without sub-attribute yields its elements' `value`.
fn lookup<'v>(
    scope: Scope<'_>,
    doc: &'v Value,
    path: &AttrPath,
    via_value: bool,
) -> (Vec<&'v Value>, Option<&'static AttributeDef>) {
    let (container_values, def): (Vec<&Value>, &'static AttributeDef) = match scope {
        Scope::Element(parent) => {
            if path.uri.is_some() || path.sub.is_some() {
                return (vec![], None);
            }
            let Some(sub) = parent.sub_attribute(&path.name) else {
                return (vec![], None);
            };
            let found = doc.as_object().and_then(|o| get_ci(o, sub.name));
            return (
                found.map(|v| elements(v).collect()).unwrap_or_default(),
                Some(sub),
            );
        }
        Scope::Resource(rt) => {
            let Some(r) = rt.resolve(path) else {
                return (vec![], None);
            };
            let Some(v) = attr_value(rt, doc, r.schema, r.attr) else {
                return (vec![], None);
            };
            match r.sub {
                Some(sub) => (children(v, sub.name), sub),
                None => (elements(v).collect(), r.attr),
            }
        }
    };
    if via_value
        && def.ty == AttrType::Complex
        && let Some(value_def) = def.sub_attribute("value")
    {
        return (
            children_of(&container_values, value_def.name),
            Some(value_def),
        );
    }
    (container_values, Some(def))
}

/// The attribute's value in a resource document (extension attributes live under their URN).
fn attr_value<'v>(
    rt: &ResourceTypeDef,
    doc: &'v Value,
    schema: &crate::schema::SchemaDef,
    attr: &AttributeDef,
) -> Option<&'v Value> {
    let obj = doc.as_object()?;
    if rt.is_extension(schema) {
        get_ci(get_ci(obj, schema.id)?.as_object()?, attr.name)
    } else {
        get_ci(obj, attr.name)
    }
}

/// The elements of a multi-valued value, or the value itself.
fn elements(v: &Value) -> impl Iterator<Item = &Value> {
    match v {
        Value::Array(items) => items.iter().collect::<Vec<_>>().into_iter(),
        other => vec![other].into_iter(),
    }
}

fn children<'v>(v: &'v Value, name: &str) -> Vec<&'v Value> {
    children_of(&elements(v).collect::<Vec<_>>(), name)
}

fn children_of<'v>(parents: &[&'v Value], name: &str) -> Vec<&'v Value> {
    parents
        .iter()
        .filter_map(|p| p.as_object().and_then(|o| get_ci(o, name)))
        .flat_map(elements)
        .collect()
}

fn compare_all(
    values: &[&Value],
    def: Option<&AttributeDef>,
    op: CompareOp,
    comp: &CompValue,
) -> bool {
    if *comp == CompValue::Null {
        let has_value = values.iter().any(|v| !v.is_null());
        return match op {
            CompareOp::Eq => !has_value,
            CompareOp::Ne => has_value,
            _ => false,
        };
    }
    values.iter().any(|v| compare_one(v, def, op, comp))
}

fn compare_one(v: &Value, def: Option<&AttributeDef>, op: CompareOp, comp: &CompValue) -> bool {
    let case_exact = def.is_some_and(|d| d.case_exact);
    let is_date = def.is_some_and(|d| d.ty == AttrType::DateTime);
    match (v, comp) {
        (Value::String(s), CompValue::String(c)) => {
            if is_date && !matches!(op, CompareOp::Co | CompareOp::Sw | CompareOp::Ew) {
                let parse = |t: &str| OffsetDateTime::parse(t, &Rfc3339);
                if let (Ok(a), Ok(b)) = (parse(s), parse(c)) {
                    return ordering_matches(op, a.cmp(&b));
                }
            }
            string_matches(op, s, c, case_exact)
        }
        (Value::Bool(b), CompValue::Bool(c)) => bool_matches(op, *b, *c),
        (Value::Bool(b), CompValue::String(c)) => match c.to_ascii_lowercase().as_str() {
            "true" => bool_matches(op, *b, true),
            "false" => bool_matches(op, *b, false),
            _ => false,
        },
        (Value::Number(a), CompValue::Number(b)) => {
            compare_numbers(a, b).is_some_and(|o| ordering_matches(op, o))
        }
        _ => false,
    }
}

fn string_matches(op: CompareOp, s: &str, c: &str, case_exact: bool) -> bool {
    let (a, b): (Cow<'_, str>, Cow<'_, str>) = if case_exact {
        (Cow::Borrowed(s), Cow::Borrowed(c))
    } else {
        (Cow::Owned(s.to_lowercase()), Cow::Owned(c.to_lowercase()))
    };
    match op {
        CompareOp::Co => a.contains(b.as_ref()),
        CompareOp::Sw => a.starts_with(b.as_ref()),
        CompareOp::Ew => a.ends_with(b.as_ref()),
        _ => ordering_matches(op, a.cmp(&b)),
    }
}

fn bool_matches(op: CompareOp, a: bool, b: bool) -> bool {
    match op {
        CompareOp::Eq => a == b,
        CompareOp::Ne => a != b,
        _ => false,
    }
}

fn compare_numbers(a: &serde_json::Number, b: &serde_json::Number) -> Option<Ordering> {
    if let (Some(x), Some(y)) = (a.as_i64(), b.as_i64()) {
        return Some(x.cmp(&y));
    }
    if let (Some(x), Some(y)) = (a.as_u64(), b.as_u64()) {
        return Some(x.cmp(&y));
    }
    a.as_f64()?.partial_cmp(&b.as_f64()?)
}

fn ordering_matches(op: CompareOp, o: Ordering) -> bool {
    match op {
        CompareOp::Eq => o == Ordering::Equal,
        CompareOp::Ne => o != Ordering::Equal,
        CompareOp::Gt => o == Ordering::Greater,
        CompareOp::Ge => o != Ordering::Less,
        CompareOp::Lt => o == Ordering::Less,
        CompareOp::Le => o != Ordering::Greater,
        CompareOp::Co | CompareOp::Sw | CompareOp::Ew => false,
    }
}
