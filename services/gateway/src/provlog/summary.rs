//! The one-line summaries of the provisioning log. They name attributes
//! and operators, count members and results, and never carry a value other
//! than a userName or displayName (which are shown in their own field).

use scim::{Filter, PatchOpKind, PatchOperation};
use serde_json::Value;

/// Longest error detail kept in a summary.
const MAX_DETAIL: usize = 120;

/// `name.givenName`, `emails.value`, `employeeNumber` (schema URNs left out).
fn attr_name(path: &scim::AttrPath, sub: Option<&str>) -> String {
    match sub.or(path.sub.as_deref()) {
        Some(sub) => format!("{}.{sub}", path.name),
        None => path.name.clone(),
    }
}

/// The shape of a filter: attributes and operators, no values
/// (`userName eq`, `externalId eq and active eq`).
pub fn filter_shape(filter: &Filter) -> String {
    match filter {
        Filter::Compare { path, op, .. } => format!("{} {}", attr_name(path, None), op),
        Filter::Present(path) => format!("{} pr", attr_name(path, None)),
        Filter::And(a, b) => format!("{} and {}", filter_shape(a), filter_shape(b)),
        Filter::Or(a, b) => format!("{} or {}", filter_shape(a), filter_shape(b)),
        Filter::Not(inner) => format!("not ({})", filter_shape(inner)),
        Filter::ValuePath { path, filter } => {
            format!("{}[{}]", attr_name(path, None), filter_shape(filter))
        }
    }
}

/// The value a filter asks userName or displayName to equal, if that is
/// all it asks (`userName eq "bjensen"`): the resource a lookup is about.
pub fn looked_up_name(filter: &Filter) -> Option<&str> {
    match filter {
        Filter::Compare {
            path,
            op: scim::filter::CompareOp::Eq,
            value: scim::filter::CompValue::String(v),
        } if path.sub.is_none()
            && (path.name.eq_ignore_ascii_case("userName")
                || path.name.eq_ignore_ascii_case("displayName")) =>
        {
            Some(v)
        }
        _ => None,
    }
}

/// Entra ID's Test Connection: a lookup of a random GUID as `userName`, which must
/// answer 200 with an empty list.
pub fn is_probe(filter: &Filter) -> bool {
    looked_up_name(filter).is_some_and(|v| uuid::Uuid::parse_str(v).is_ok())
}

/// A list or search: `list 100 of 2300`, `filter userName eq, 1 found`.
pub fn list(filter: Option<&Filter>, shown: usize, total: u64, probe: bool) -> String {
    let text = match filter {
        Some(f) => format!("filter {}, {total} found", filter_shape(f)),
        None => format!("list {shown} of {total}"),
    };
    if probe {
        format!("Test Connection: {text}")
    } else {
        text
    }
}

/// `true`/`false` as Entra and Okta send `active` (booleans or strings).
fn as_bool(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Some(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

fn key_is(key: &str, name: &str) -> bool {
    // A no-path value may use URN-prefixed or dotted keys.
    let last = key.rsplit(':').next().unwrap_or(key);
    last.eq_ignore_ascii_case(name)
}

/// What a PATCH does, as `deactivated`, `reactivated`, `members +3 −1`,
/// `patched: name.givenName, title`, joined with `; `.
pub fn patch(ops: &[PatchOperation]) -> String {
    let mut active: Option<bool> = None;
    let mut added = 0usize;
    let mut removed = 0usize;
    let mut members_cleared = false;
    let mut members_replaced: Option<usize> = None;
    let mut attrs: Vec<String> = Vec::new();
    let attr = |name: String, attrs: &mut Vec<String>| {
        if !attrs.iter().any(|a| a.eq_ignore_ascii_case(&name)) {
            attrs.push(name);
        }
    };
    let count = |v: Option<&Value>| match v {
        Some(Value::Array(items)) => items.len(),
        Some(Value::Object(_)) => 1,
        _ => 0,
    };
    for op in ops {
        match &op.path {
            Some(path) if path.attr.uri.is_none() && key_is(&path.attr.name, "active") => {
                if let Some(b) = op.value.as_ref().and_then(as_bool) {
                    active = Some(b);
                }
            }
            Some(path) if key_is(&path.attr.name, "members") => match op.op {
                PatchOpKind::Add => added += count(op.value.as_ref()),
                PatchOpKind::Remove if path.filter.is_some() => removed += 1,
                PatchOpKind::Remove => match op.value.as_ref() {
                    Some(v) => removed += count(Some(v)),
                    None => members_cleared = true,
                },
                PatchOpKind::Replace => members_replaced = Some(count(op.value.as_ref())),
            },
            Some(path) => attr(attr_name(&path.attr, path.sub.as_deref()), &mut attrs),
            None => {
                let Some(Value::Object(fields)) = &op.value else {
                    continue;
                };
                for (key, value) in fields {
                    if key_is(key, "active") {
                        active = as_bool(value).or(active);
                    } else if key_is(key, "members") {
                        match op.op {
                            PatchOpKind::Replace => members_replaced = Some(count(Some(value))),
                            _ => added += count(Some(value)),
                        }
                    } else {
                        let name = key.rsplit(':').next().unwrap_or(key).to_owned();
                        attr(name, &mut attrs);
                    }
                }
            }
        }
    }
    let mut parts = Vec::new();
    match active {
        Some(false) => parts.push("deactivated".to_owned()),
        Some(true) => parts.push("reactivated".to_owned()),
        None => {}
    }
    if members_cleared {
        parts.push("members cleared".to_owned());
    }
    if let Some(n) = members_replaced {
        parts.push(format!("members replaced ({n})"));
    }
    if added > 0 || removed > 0 {
        parts.push(format!("members +{added} \u{2212}{removed}"));
    }
    if !attrs.is_empty() {
        parts.push(format!("patched: {}", attrs.join(", ")));
    }
    if parts.is_empty() {
        "patched".to_owned()
    } else {
        parts.join("; ")
    }
}

/// An error detail without the values it may quote: quoted strings become
/// `…`, and it is cut at [`MAX_DETAIL`] characters.
pub fn redact(detail: &str) -> String {
    let mut out = String::with_capacity(detail.len().min(MAX_DETAIL));
    let mut quote: Option<char> = None;
    for c in detail.chars() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '"' || c == '\'' || c == '`' => {
                quote = Some(c);
                out.push('\u{2026}');
            }
            None => out.push(c),
        }
    }
    if out.chars().count() > MAX_DETAIL {
        out = out.chars().take(MAX_DETAIL - 1).collect();
        out.push('\u{2026}');
    }
    out
}

/// `uniqueness: userName is already in use`, `404: resource not found`.
pub fn error(status: u16, scim_type: Option<&str>, detail: &str) -> String {
    let head = scim_type.map_or_else(|| status.to_string(), str::to_owned);
    format!("{head}: {}", redact(detail))
}

/// A Bulk request as one entry: `bulk: 10 operations, 2 failed`.
pub fn bulk(operations: usize, failed: usize) -> String {
    format!("bulk: {operations} operations, {failed} failed")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    fn ops(body: Value) -> Vec<PatchOperation> {
        scim::patch::parse_patch_request(&body).unwrap()
    }

    fn patch_of(operations: Value) -> String {
        patch(&ops(json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": operations,
        })))
    }

    #[test]
    fn entra_deactivation_and_reactivation() {
        assert_eq!(
            patch_of(json!([{"op": "Replace", "path": "active", "value": "False"}])),
            "deactivated"
        );
        assert_eq!(
            patch_of(json!([{"op": "replace", "value": {"active": true}}])),
            "reactivated"
        );
    }

    #[test]
    fn attributes_by_name_never_by_value() {
        let s = patch_of(json!([
            {"op": "Replace", "path": "name.givenName", "value": "Barbara"},
            {"op": "Add", "path": "title", "value": "Secret Agent"},
            {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "b@x.org"},
            {"op": "Replace", "value": {
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber": "42"
            }},
        ]));
        assert_eq!(
            s,
            "patched: name.givenName, title, emails.value, employeeNumber"
        );
        for value in ["Barbara", "Secret", "b@x.org", "42", "work"] {
            assert!(!s.contains(value), "{s}");
        }
    }

    #[test]
    fn members_counted() {
        assert_eq!(
            patch_of(json!([
                {"op": "Add", "path": "members", "value": [{"value": "a"}, {"value": "b"}, {"value": "c"}]},
                {"op": "Remove", "path": "members[value eq \"d\"]"},
            ])),
            "members +3 \u{2212}1"
        );
        assert_eq!(
            patch_of(
                json!([{"op": "Remove", "path": "members", "value": [{"value": "a"}, {"value": "b"}]}])
            ),
            "members +0 \u{2212}2"
        );
        assert_eq!(
            patch_of(json!([{"op": "Remove", "path": "members"}])),
            "members cleared"
        );
        assert_eq!(
            patch_of(json!([
                {"op": "Replace", "path": "displayName", "value": "Ops"},
                {"op": "Replace", "path": "members", "value": [{"value": "a"}]},
            ])),
            "members replaced (1); patched: displayName"
        );
    }

    #[test]
    fn lists_and_probes() {
        let probe =
            scim::filter::parse_filter("userName eq \"5d48a0a8-e9f0-4aa3-8008-5d48a0a8e9f0\"")
                .unwrap();
        assert!(is_probe(&probe));
        assert_eq!(
            list(Some(&probe), 0, 0, true),
            "Test Connection: filter userName eq, 0 found"
        );
        let lookup = scim::filter::parse_filter("userName eq \"bjensen@example.com\"").unwrap();
        assert!(!is_probe(&lookup));
        assert_eq!(looked_up_name(&lookup), Some("bjensen@example.com"));
        let shape = scim::filter::parse_filter(
            "externalId eq \"x\" and (emails[type eq \"work\"] or not (title pr))",
        )
        .unwrap();
        assert_eq!(
            filter_shape(&shape),
            "externalId eq and emails[type eq] or not (title pr)"
        );
        assert_eq!(list(None, 100, 2300, false), "list 100 of 2300");
    }

    #[test]
    fn errors_are_redacted() {
        assert_eq!(
            error(
                409,
                Some("uniqueness"),
                "userName is already in use in this tenant"
            ),
            "uniqueness: userName is already in use in this tenant"
        );
        let s = error(
            400,
            Some("invalidValue"),
            "value \"hunter2\" of 'password' is not allowed",
        );
        assert_eq!(s, "invalidValue: value \u{2026} of \u{2026} is not allowed");
        assert!(error(500, None, &"x".repeat(500)).chars().count() <= 125);
        assert_eq!(bulk(3, 1), "bulk: 3 operations, 1 failed");
    }
}
