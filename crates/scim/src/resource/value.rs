//! Type checks and coercions of attribute values, per attribute definition.

use std::collections::HashSet;

use serde_json::{Map, Value};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::client_writable;
use crate::error::{ScimError, clip};
use crate::json::eq_ci;
use crate::schema::{AttrType, AttributeDef};

/// Multi-valued attributes whose `value` must be a plain string. Entra ID's
/// AppRoleAssignmentsComplex mapping sends a JSON document inside the string (`roles` whose
/// `value` is `"{\"id\":…}"`); we reject it cleanly rather than store it.
const PLAIN_VALUE_ATTRIBUTES: &[&str] = &["roles", "entitlements"];

/// Normalises the value of the top-level attribute `attr`; `None` means unassigned.
pub(crate) fn normalize_attr(
    attr: &'static AttributeDef,
    v: &Value,
) -> Result<Option<Value>, ScimError> {
    if attr.multi_valued {
        normalize_multi(attr, v)
    } else {
        normalize_single(attr, v)
    }
}

fn normalize_multi(attr: &'static AttributeDef, v: &Value) -> Result<Option<Value>, ScimError> {
    let items: Vec<&Value> = match v {
        Value::Null => return Ok(None),
        Value::Array(items) => items.iter().collect(),
        single => vec![single],
    };
    let mut out = Vec::with_capacity(items.len());
    for item in items.into_iter().filter(|i| !i.is_null()) {
        let normalized = if attr.ty == AttrType::Complex {
            let Value::Object(members) = item else {
                return Err(ScimError::invalid_value(format!(
                    "elements of '{}' must be objects",
                    attr.name
                )));
            };
            normalize_object(attr, members)?
        } else {
            normalize_scalar(attr, item, attr.name)?
        };
        out.extend(normalized);
    }
    let out = if attr.ty == AttrType::Complex {
        finish_complex(attr, out)
    } else {
        dedupe_simple(out)
    };
    Ok((!out.is_empty()).then_some(Value::Array(out)))
}

fn normalize_single(attr: &'static AttributeDef, v: &Value) -> Result<Option<Value>, ScimError> {
    if attr.ty != AttrType::Complex {
        return normalize_scalar(attr, v, attr.name);
    }
    let has_value = attr.sub_attribute("value").is_some();
    match v {
        Value::Null => Ok(None),
        Value::Object(members) => normalize_object(attr, members),
        // Entra sends the enterprise `manager` as a bare id and, in a legacy sample, as a
        // one-element array of `{"$ref", "value"}`; accept both for any such reference attribute.
        Value::String(s) if has_value => {
            if s.is_empty() {
                return Ok(None);
            }
            let mut members = Map::new();
            members.insert("value".to_owned(), v.clone());
            normalize_object(attr, &members)
        }
        Value::Array(items) if has_value => match items.iter().find(|i| !i.is_null()) {
            None => Ok(None),
            Some(Value::Array(_)) => Err(ScimError::invalid_value(format!(
                "attribute '{}' must be an object",
                attr.name
            ))),
            Some(first) => normalize_single(attr, first),
        },
        _ => Err(ScimError::invalid_value(format!(
            "attribute '{}' must be an object",
            attr.name
        ))),
    }
}

/// Normalises the sub-attributes of one complex value, in schema order; `None` if left empty.
fn normalize_object(
    attr: &'static AttributeDef,
    members: &Map<String, Value>,
) -> Result<Option<Value>, ScimError> {
    let mut slots: Vec<Option<Value>> = vec![None; attr.sub_attributes.len()];
    for (key, v) in members {
        let Some(index) = attr.sub_attributes.iter().position(|s| eq_ci(s.name, key)) else {
            if v.is_null() {
                continue;
            }
            return Err(ScimError::invalid_syntax(format!(
                "unknown attribute '{}.{}'",
                attr.name,
                clip(key)
            )));
        };
        let (Some(sub), Some(slot)) = (attr.sub_attributes.get(index), slots.get_mut(index)) else {
            continue;
        };
        if !client_writable(sub) {
            continue;
        }
        let label = format!("{}.{}", attr.name, sub.name);
        let normalized = normalize_scalar(sub, v, &label)?;
        if let (Some(Value::String(s)), true) = (&normalized, is_plain_value(attr, sub)) {
            reject_embedded_json(s, &label)?;
        }
        *slot = normalized;
    }
    let out: Map<String, Value> = attr
        .sub_attributes
        .iter()
        .zip(slots)
        .filter_map(|(sub, v)| v.map(|v| (sub.name.to_owned(), v)))
        .collect();
    Ok((!out.is_empty()).then_some(Value::Object(out)))
}

fn is_plain_value(attr: &AttributeDef, sub: &AttributeDef) -> bool {
    sub.name == "value" && PLAIN_VALUE_ATTRIBUTES.contains(&attr.name)
}

fn reject_embedded_json(s: &str, label: &str) -> Result<(), ScimError> {
    let t = s.trim_start();
    if (t.starts_with('{') || t.starts_with('['))
        && serde_json::from_str::<Value>(s).is_ok_and(|v| v.is_object() || v.is_array())
    {
        return Err(ScimError::invalid_value(format!(
            "attribute '{label}' must be a plain string, not a JSON document"
        )));
    }
    Ok(())
}

/// Type-checks one simple value; `null` and `""` are unassigned.
fn normalize_scalar(
    def: &AttributeDef,
    v: &Value,
    label: &str,
) -> Result<Option<Value>, ScimError> {
    let wrong =
        |what: &str| ScimError::invalid_value(format!("attribute '{label}' must be {what}"));
    match v {
        Value::Null => return Ok(None),
        Value::String(s) if s.is_empty() => return Ok(None),
        _ => {}
    }
    let ok = match (def.ty, v) {
        (AttrType::String | AttrType::Reference, Value::String(_)) => v.clone(),
        (AttrType::String | AttrType::Reference, _) => return Err(wrong("a string")),
        (AttrType::Boolean, Value::Bool(_)) => v.clone(),
        // Entra ID's default `active` mapping sends the strings "True"/"False".
        (AttrType::Boolean, Value::String(s)) if s.eq_ignore_ascii_case("true") => {
            Value::Bool(true)
        }
        (AttrType::Boolean, Value::String(s)) if s.eq_ignore_ascii_case("false") => {
            Value::Bool(false)
        }
        (AttrType::Boolean, _) => return Err(wrong("a boolean")),
        (AttrType::Integer, Value::Number(n)) if n.is_i64() || n.is_u64() => v.clone(),
        (AttrType::Integer, _) => return Err(wrong("an integer")),
        (AttrType::Decimal, Value::Number(_)) => v.clone(),
        (AttrType::Decimal, _) => return Err(wrong("a number")),
        (AttrType::DateTime, Value::String(s)) if OffsetDateTime::parse(s, &Rfc3339).is_ok() => {
            v.clone()
        }
        (AttrType::DateTime, _) => return Err(wrong("an RFC 3339 date-time")),
        (AttrType::Binary, Value::String(s)) if is_base64(s) => v.clone(),
        (AttrType::Binary, _) => return Err(wrong("base64 text")),
        (AttrType::Complex, _) => return Err(wrong("a simple value")),
    };
    Ok(Some(ok))
}

fn is_base64(s: &str) -> bool {
    s.chars().all(|c| {
        c.is_ascii_alphanumeric()
            || matches!(c, '+' | '/' | '=' | '-' | '_')
            || c.is_ascii_whitespace()
    })
}

/// Drops value-less elements, duplicates by (`type`, `value`) and extra `primary: true` flags.
fn finish_complex(attr: &AttributeDef, items: Vec<Value>) -> Vec<Value> {
    let value_def = attr.sub_attribute("value");
    let type_def = attr.sub_attribute("type");
    let mut seen = HashSet::new();
    let mut primary_seen = false;
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let Value::Object(mut members) = item else {
            continue;
        };
        let key = match value_def {
            Some(vd) => {
                let Some(value) = members.get(vd.name) else {
                    continue;
                };
                let ty =
                    type_def.and_then(|td| members.get(td.name).map(|t| fold(t, td.case_exact)));
                (ty, fold(value, vd.case_exact))
            }
            None => {
                let mut rest = members.clone();
                rest.shift_remove("primary");
                (None, Value::Object(rest).to_string())
            }
        };
        if !seen.insert(key) {
            continue;
        }
        if members.get("primary") == Some(&Value::Bool(true)) {
            if primary_seen {
                members.shift_remove("primary");
            }
            primary_seen = true;
        }
        out.push(Value::Object(members));
    }
    out
}

fn fold(v: &Value, case_exact: bool) -> String {
    match v {
        Value::String(s) if case_exact => s.clone(),
        Value::String(s) => s.to_lowercase(),
        other => other.to_string(),
    }
}

fn dedupe_simple(items: Vec<Value>) -> Vec<Value> {
    let mut seen = HashSet::new();
    items
        .into_iter()
        .filter(|v| seen.insert(v.to_string()))
        .collect()
}
