//! Small helpers over `serde_json` maps for case-insensitive attribute access.
//!
//! RFC 7643 §2.1: attribute names are case-insensitive, so every lookup of a client- or
//! store-supplied key goes through these helpers instead of `Map::get`.

use serde_json::{Map, Value};

/// ASCII case-insensitive equality (attribute names and URNs are ASCII).
pub(crate) fn eq_ci(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

/// The actual key of `map` matching `name` case-insensitively (the first one, in map order).
pub(crate) fn find_key<'a>(map: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    map.keys().find(|k| eq_ci(k, name)).map(String::as_str)
}

/// Case-insensitive `get`.
pub(crate) fn get_ci<'a>(map: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    map.iter().find(|(k, _)| eq_ci(k, name)).map(|(_, v)| v)
}

/// Removes every key matching `name` case-insensitively; returns the first removed value.
pub(crate) fn take_ci(map: &mut Map<String, Value>, name: &str) -> Option<Value> {
    let keys: Vec<String> = map.keys().filter(|k| eq_ci(k, name)).cloned().collect();
    let mut first = None;
    for k in keys {
        let v = map.shift_remove(&k);
        if first.is_none() {
            first = v;
        }
    }
    first
}

/// Replaces every case-variant of `name` with a single `name` entry holding `value`.
pub(crate) fn set_ci(map: &mut Map<String, Value>, name: &str, value: Value) {
    take_ci(map, name);
    map.insert(name.to_owned(), value);
}

/// True for the values SCIM treats as "unassigned" (RFC 7643 §2.5): `null`, `""`, `[]`, `{}`.
pub(crate) fn is_unassigned(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        Value::Bool(_) | Value::Number(_) => false,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn case_insensitive_access() {
        let mut m = json!({"UserName": "a", "username": "b", "x": 1})
            .as_object()
            .cloned()
            .unwrap();
        assert_eq!(find_key(&m, "USERNAME"), Some("UserName"));
        assert_eq!(get_ci(&m, "userName"), Some(&json!("a")));
        set_ci(&mut m, "userName", json!("c"));
        assert_eq!(m.len(), 2);
        assert_eq!(m["userName"], "c");
        assert_eq!(take_ci(&mut m, "X"), Some(json!(1)));
        assert!(get_ci(&m, "x").is_none());
    }

    #[test]
    fn unassigned_values() {
        for v in [json!(null), json!(""), json!([]), json!({})] {
            assert!(is_unassigned(&v), "{v}");
        }
        for v in [json!(false), json!(0), json!(" "), json!([null])] {
            assert!(!is_unassigned(&v), "{v}");
        }
    }
}
