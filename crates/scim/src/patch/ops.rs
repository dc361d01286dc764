//! Value-level PATCH semantics: what one operation does to the current value of one
//! attribute. Each function takes the current value (`None` = absent) and returns the new
//! one; the caller stores it, and the final `normalize` re-checks types and canonicalises.

use std::collections::HashSet;

use serde_json::{Map, Value};

use super::PatchOpKind;
use crate::error::ScimError;
use crate::filter::{CompValue, CompareOp, Filter, matches_element};
use crate::json::{get_ci, is_unassigned, set_ci, take_ci};
use crate::schema::{AttrType, AttributeDef, Mutability};

/// What an operation addresses inside one top-level attribute.
pub(super) struct Target<'a> {
    pub attr: &'static AttributeDef,
    /// The sub-attribute (`name.familyName`, or `.value` after a filter).
    pub sub: Option<&'static AttributeDef>,
    pub filter: Option<&'a Filter>,
}

type Outcome = Result<Option<Value>, ScimError>;

/// `null`, `""` and `[]`: an add/replace with such a value clears its target.
pub(super) fn clears(v: &Value) -> bool {
    matches!(v, Value::Null | Value::Array(_) | Value::String(_)) && is_unassigned(v)
}

/// Applies one operation to the current value of `target.attr`.
pub(super) fn apply(
    kind: PatchOpKind,
    target: &Target<'_>,
    current: Option<Value>,
    value: Option<&Value>,
) -> Outcome {
    let attr = target.attr;
    let value = value.unwrap_or(&Value::Null);
    match (target.filter, attr.multi_valued, target.sub) {
        (Some(filter), _, sub) => filtered(kind, attr, filter, sub, current, value),
        (None, true, None) => multi_whole(kind, attr, current, value),
        (None, true, Some(sub)) => multi_every_sub(kind, attr, sub, current, value),
        (None, false, Some(sub)) => {
            let mut obj = into_object(current);
            set_or_clear(kind, attr, sub, &mut obj, value)?;
            Ok(Some(Value::Object(obj)))
        }
        (None, false, None) if attr.ty == AttrType::Complex => {
            complex_whole(kind, attr, current, value)
        }
        (None, false, None) => Ok(match kind {
            PatchOpKind::Remove => None,
            _ if clears(value) => None,
            _ => Some(value.clone()),
        }),
    }
}

/// A single-valued complex attribute as a whole: merged sub-attribute by sub-attribute.
fn complex_whole(
    kind: PatchOpKind,
    attr: &'static AttributeDef,
    current: Option<Value>,
    value: &Value,
) -> Outcome {
    if kind == PatchOpKind::Remove || clears(value) {
        return Ok(None);
    }
    let incoming = coerce_object(attr, value)?;
    let mut obj = into_object(current);
    // A reference (`manager`) pointing somewhere else is a new object: its `$ref` and
    // `displayName` described the previous target and must not survive the merge.
    if let (Some(new), Some(old)) = (get_ci(&incoming, "value"), get_ci(&obj, "value"))
        && new != old
        && attr.sub_attribute("value").is_some()
    {
        obj = Map::new();
    }
    merge(attr, &mut obj, &incoming)?;
    Ok(Some(Value::Object(obj)))
}

/// A multi-valued attribute as a whole.
fn multi_whole(
    kind: PatchOpKind,
    attr: &'static AttributeDef,
    current: Option<Value>,
    value: &Value,
) -> Outcome {
    match kind {
        // Entra removes group members with `path: members` and a value list: remove exactly
        // those, never the whole attribute (RFC 7644 §3.5.2.2 defines no `value` for `remove`,
        // and a `remove` of a multi-valued attribute without a filter removes all values).
        PatchOpKind::Remove if !value.is_null() => {
            let listed = items(value.clone());
            let mut elems = items_of(current);
            elems.retain(|e| !listed.iter().any(|l| same_element(attr, e, l)));
            Ok(Some(Value::Array(elems)))
        }
        PatchOpKind::Remove => Ok(None),
        // Adding nothing leaves the attribute as it is.
        PatchOpKind::Add if clears(value) => Ok(current),
        PatchOpKind::Add => {
            let mut elems = items_of(current);
            let mut seen: HashSet<String> = elems.iter().map(Value::to_string).collect();
            for item in items(value.clone()) {
                if seen.insert(item.to_string()) {
                    elems.push(item);
                }
            }
            Ok(Some(Value::Array(elems)))
        }
        PatchOpKind::Replace if clears(value) => Ok(None),
        PatchOpKind::Replace => Ok(Some(Value::Array(items(value.clone())))),
    }
}

/// `emails.value` without filter: the sub-attribute of every element (one is created when the
/// attribute is empty and a value is set).
fn multi_every_sub(
    kind: PatchOpKind,
    attr: &'static AttributeDef,
    sub: &'static AttributeDef,
    current: Option<Value>,
    value: &Value,
) -> Outcome {
    let mut elems = items_of(current);
    if elems.is_empty() && kind != PatchOpKind::Remove && !clears(value) {
        elems.push(Value::Object(Map::new()));
    }
    for elem in &mut elems {
        if let Value::Object(obj) = elem {
            set_or_clear(kind, attr, sub, obj, value)?;
        }
    }
    Ok(Some(Value::Array(elems)))
}

/// A value-filtered target (`emails[type eq "work"]`, optionally `.sub`).
///
/// When nothing matches, add and replace **upsert**: Entra sends `Replace`/`Add` on
/// `emails[type eq "work"].value` (and `addresses[...]`, `phoneNumbers[...]`) for users that
/// have no such element and expects it to be created, where RFC 7644
/// §3.5.2.3 says 400 `noTarget`. We upsert for every attribute and both ops whenever the
/// filter's `eq` terms determine the new element; any other filter matching nothing is 400
/// `noTarget`, as the RFC says.
fn filtered(
    kind: PatchOpKind,
    attr: &'static AttributeDef,
    filter: &Filter,
    sub: Option<&'static AttributeDef>,
    current: Option<Value>,
    value: &Value,
) -> Outcome {
    let mut elems = items_of(current);
    let drop_matched = sub.is_none() && (kind == PatchOpKind::Remove || clears(value));
    if drop_matched {
        elems.retain(|e| !matches_element(filter, attr, e));
        return Ok(Some(Value::Array(elems)));
    }
    let matched: Vec<usize> = elems
        .iter()
        .enumerate()
        .filter(|(_, e)| matches_element(filter, attr, e))
        .map(|(i, _)| i)
        .collect();
    if matched.is_empty() {
        if kind == PatchOpKind::Remove || clears(value) {
            return Ok(Some(Value::Array(elems)));
        }
        let Some(mut seed) = seed(attr, filter) else {
            return Err(ScimError::no_target(format!(
                "no value of '{}' matches the filter",
                attr.name
            )));
        };
        match sub {
            Some(sub) => set_or_clear(kind, attr, sub, &mut seed, value)?,
            None => merge(attr, &mut seed, &coerce_object(attr, value)?)?,
        }
        elems.push(Value::Object(seed));
        return Ok(Some(Value::Array(elems)));
    }
    for i in matched {
        let Some(Value::Object(obj)) = elems.get_mut(i) else {
            continue;
        };
        match sub {
            Some(sub) => set_or_clear(kind, attr, sub, obj, value)?,
            None => merge(attr, obj, &coerce_object(attr, value)?)?,
        }
    }
    Ok(Some(Value::Array(elems)))
}

/// The element a filter made only of `eq` terms joined by `and` describes, if any.
fn seed(attr: &AttributeDef, filter: &Filter) -> Option<Map<String, Value>> {
    match filter {
        Filter::Compare {
            path,
            op: CompareOp::Eq,
            value,
        } if path.uri.is_none() && path.sub.is_none() => {
            let sub = attr.sub_attribute(&path.name)?;
            let v = match value {
                CompValue::String(s) => Value::String(s.clone()),
                CompValue::Bool(b) => Value::Bool(*b),
                CompValue::Number(n) => Value::Number(n.clone()),
                CompValue::Null => return None,
            };
            Some(Map::from_iter([(sub.name.to_owned(), v)]))
        }
        Filter::And(a, b) => {
            let mut left = seed(attr, a)?;
            left.extend(seed(attr, b)?);
            Some(left)
        }
        _ => None,
    }
}

/// Sets (or, for remove and unassigned values, clears) `sub` in one complex value.
fn set_or_clear(
    kind: PatchOpKind,
    attr: &AttributeDef,
    sub: &AttributeDef,
    obj: &mut Map<String, Value>,
    value: &Value,
) -> Result<(), ScimError> {
    let new = (kind != PatchOpKind::Remove && !clears(value)).then_some(value);
    guard_immutable(attr, sub, obj, new)?;
    match new {
        Some(v) => set_ci(obj, sub.name, v.clone()),
        None => {
            take_ci(obj, sub.name);
        }
    }
    Ok(())
}

/// Merges the members of `incoming` into `obj` (unassigned members clear). Unknown members are
/// copied as sent so that the final normalisation reports them.
fn merge(
    attr: &AttributeDef,
    obj: &mut Map<String, Value>,
    incoming: &Map<String, Value>,
) -> Result<(), ScimError> {
    for (key, v) in incoming {
        match attr.sub_attribute(key) {
            Some(sub) if sub.mutability == Mutability::ReadOnly => {}
            Some(sub) => set_or_clear(PatchOpKind::Replace, attr, sub, obj, v)?,
            None if v.is_null() => {}
            None => set_ci(obj, key, v.clone()),
        }
    }
    Ok(())
}

/// RFC 7643 §4.2: sub-attributes of Group `members` are immutable once set.
fn guard_immutable(
    attr: &AttributeDef,
    sub: &AttributeDef,
    obj: &Map<String, Value>,
    new: Option<&Value>,
) -> Result<(), ScimError> {
    if sub.mutability != Mutability::Immutable {
        return Ok(());
    }
    match get_ci(obj, sub.name) {
        Some(old) if !old.is_null() && new != Some(old) => Err(ScimError::mutability(format!(
            "attribute '{}.{}' is immutable",
            attr.name, sub.name
        ))),
        _ => Ok(()),
    }
}

/// The object form of a complex value; a bare string or a one-element array is accepted for
/// attributes with a `value` sub-attribute (Entra ID sends `manager` both ways).
fn coerce_object(attr: &AttributeDef, value: &Value) -> Result<Map<String, Value>, ScimError> {
    let has_value = attr.sub_attribute("value").is_some();
    match value {
        Value::Object(obj) => Ok(obj.clone()),
        Value::Array(items) if has_value && !attr.multi_valued => {
            match items.iter().find(|i| !i.is_null()) {
                Some(Value::Object(obj)) => Ok(obj.clone()),
                Some(scalar @ (Value::String(_) | Value::Number(_))) => {
                    Ok(Map::from_iter([("value".to_owned(), scalar.clone())]))
                }
                _ => Err(ScimError::invalid_value(format!(
                    "attribute '{}' must be an object",
                    attr.name
                ))),
            }
        }
        Value::String(_) | Value::Number(_) | Value::Bool(_) if has_value && !attr.multi_valued => {
            Ok(Map::from_iter([("value".to_owned(), value.clone())]))
        }
        _ => Err(ScimError::invalid_value(format!(
            "attribute '{}' must be an object",
            attr.name
        ))),
    }
}

/// True when the listed `given` element designates `elem`: by `value` when it has one, else
/// by all its non-null members. A given element with no member designates nothing.
fn same_element(attr: &AttributeDef, elem: &Value, given: &Value) -> bool {
    let case_exact = |name: &str| attr.sub_attribute(name).is_some_and(|s| s.case_exact);
    let equal = |name: &str, a: &Value, b: &Value| match (a, b) {
        (Value::String(x), Value::String(y)) if !case_exact(name) => {
            x.to_lowercase() == y.to_lowercase()
        }
        _ => a == b,
    };
    let Some(e) = elem.as_object() else {
        return elem == given;
    };
    match given {
        Value::Object(g) => match get_ci(g, "value").filter(|v| !v.is_null()) {
            Some(gv) => get_ci(e, "value").is_some_and(|ev| equal("value", ev, gv)),
            None => {
                let members: Vec<_> = g.iter().filter(|(_, v)| !v.is_null()).collect();
                !members.is_empty()
                    && members
                        .iter()
                        .all(|(k, gv)| get_ci(e, k).is_some_and(|ev| equal(k, ev, gv)))
            }
        },
        scalar => get_ci(e, "value").is_some_and(|ev| equal("value", ev, scalar)),
    }
}

fn into_object(current: Option<Value>) -> Map<String, Value> {
    match current {
        Some(Value::Object(obj)) => obj,
        _ => Map::new(),
    }
}

/// The elements of a multi-valued value (a lone value counts as one element).
fn items(value: Value) -> Vec<Value> {
    match value {
        Value::Array(items) => items.into_iter().filter(|i| !i.is_null()).collect(),
        Value::Null => vec![],
        single => vec![single],
    }
}

fn items_of(current: Option<Value>) -> Vec<Value> {
    current.map(items).unwrap_or_default()
}
