//! Matching a response against a corpus expectation: objects by subset,
//! arrays in order (or `{"$unordered": [...]}`), and a few markers for
//! values the server chooses (`"$any"`, `"$absent"`, `"$string"`,
//! `"$integer"`, `"$boolean"`).

use serde_json::Value;

/// Every difference between `expected` and `actual`, each with its JSON pointer.
pub fn differences(expected: &Value, actual: Option<&Value>) -> Vec<String> {
    let mut out = Vec::new();
    compare(expected, actual, "", &mut out);
    out
}

fn compare(expected: &Value, actual: Option<&Value>, at: &str, out: &mut Vec<String>) {
    let here = if at.is_empty() { "/" } else { at };
    match (expected, actual) {
        (Value::String(m), actual) if m.starts_with('$') && is_marker(m) => {
            marker(m, actual, here, out);
        }
        (_, None) => out.push(format!("{here}: missing, expected {expected}")),
        (Value::Object(e), Some(a)) if e.len() == 1 && e.contains_key("$unordered") => {
            unordered(&e["$unordered"], a, here, out);
        }
        (Value::Object(e), Some(Value::Object(a))) => {
            for (key, value) in e {
                compare(value, a.get(key), &format!("{at}/{key}"), out);
            }
        }
        (Value::Array(e), Some(Value::Array(a))) => {
            if e.len() != a.len() {
                out.push(format!(
                    "{here}: {} elements, expected {}: {}",
                    a.len(),
                    e.len(),
                    Value::Array(a.clone())
                ));
                return;
            }
            for (i, (ev, av)) in e.iter().zip(a).enumerate() {
                compare(ev, Some(av), &format!("{at}/{i}"), out);
            }
        }
        (e, Some(a)) if e == a => {}
        (e, Some(a)) => out.push(format!("{here}: {a}, expected {e}")),
    }
}

fn is_marker(m: &str) -> bool {
    matches!(m, "$any" | "$absent" | "$string" | "$integer" | "$boolean")
}

fn marker(m: &str, actual: Option<&Value>, at: &str, out: &mut Vec<String>) {
    let ok = match (m, actual) {
        ("$absent", None | Some(Value::Null)) => true,
        ("$absent", Some(_)) => false,
        (_, None | Some(Value::Null)) => false,
        ("$any", Some(_)) => true,
        ("$string", Some(v)) => v.is_string(),
        ("$integer", Some(v)) => v.is_u64() || v.is_i64(),
        ("$boolean", Some(v)) => v.is_boolean(),
        _ => false,
    };
    if !ok {
        let shown = actual.map_or("nothing".to_owned(), ToString::to_string);
        out.push(format!("{at}: {shown}, expected {m}"));
    }
}

/// Same length, and every expected element matched by a distinct actual one.
fn unordered(expected: &Value, actual: &Value, at: &str, out: &mut Vec<String>) {
    let (Value::Array(e), Value::Array(a)) = (expected, actual) else {
        out.push(format!("{at}: {actual}, expected an array"));
        return;
    };
    if e.len() != a.len() {
        out.push(format!(
            "{at}: {} elements, expected {}: {actual}",
            a.len(),
            e.len()
        ));
        return;
    }
    let mut used = vec![false; a.len()];
    for ev in e {
        let found = a.iter().enumerate().find(|(i, av)| {
            !used[*i] && {
                let mut scratch = Vec::new();
                compare(ev, Some(av), at, &mut scratch);
                scratch.is_empty()
            }
        });
        match found {
            Some((i, _)) => used[i] = true,
            None => out.push(format!("{at}: no element matches {ev} in {actual}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn subset_markers_and_unordered_arrays() {
        let actual =
            json!({"id": "x", "active": true, "members": [{"value": "b"}, {"value": "a"}]});
        assert!(
            differences(&json!({"id": "$string", "nope": "$absent"}), Some(&actual)).is_empty()
        );
        assert!(
            differences(
                &json!({"members": {"$unordered": [{"value": "a"}, {"value": "b"}]}}),
                Some(&actual)
            )
            .is_empty()
        );
        assert_eq!(
            differences(&json!({"active": false}), Some(&actual)).len(),
            1
        );
        assert_eq!(
            differences(
                &json!({"members": [{"value": "a"}, {"value": "b"}]}),
                Some(&actual)
            )
            .len(),
            2
        );
        assert_eq!(
            differences(&json!({"id": "$absent"}), Some(&actual)).len(),
            1
        );
    }
}
