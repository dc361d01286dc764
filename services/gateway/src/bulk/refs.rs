//! `bulkId` references (RFC 7644 §3.7.2): `"bulkId:<id>"` in an operation's
//! path or data stands for the id of the resource another operation of the
//! same request creates. A reference is the text `bulkId:` followed by the
//! id up to a quote, slash, bracket, comma or space, so it is found as a
//! whole value (`"value": "bulkId:q"`), in a path (`/Groups/bulkId:q`) and
//! inside a PATCH filter (`members[value eq "bulkId:q"]`).

use std::collections::{HashMap, HashSet};

use serde_json::Value;

const PREFIX: &str = "bulkId:";

fn ends_reference(c: char) -> bool {
    matches!(c, '"' | '/' | ']' | '[' | ',' | '?' | ')') || c.is_whitespace()
}

/// The spans (start of `bulkId:`, end of the id) of every reference in `s`.
fn spans(s: &str) -> Vec<(usize, usize, &str)> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(found) = s[from..].find(PREFIX) {
        let start = from + found;
        let id_start = start + PREFIX.len();
        let id_len = s[id_start..]
            .find(ends_reference)
            .unwrap_or(s.len() - id_start);
        if id_len > 0 {
            out.push((start, id_start + id_len, &s[id_start..id_start + id_len]));
        }
        from = id_start + id_len;
    }
    out
}

/// Adds every bulkId `v` refers to (in string values, at any depth) to
/// `out`, repeats included (see [`dedup`]).
pub fn collect(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => collect_str(s, out),
        Value::Array(items) => items.iter().for_each(|i| collect(i, out)),
        Value::Object(m) => m.values().for_each(|i| collect(i, out)),
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

/// Adds every bulkId `s` refers to to `out`, repeats included.
pub fn collect_str(s: &str, out: &mut Vec<String>) {
    out.extend(spans(s).into_iter().map(|(_, _, id)| id.to_owned()));
}

/// Keeps the first of each repeated bulkId, in linear time (a request at
/// the payload limit may name hundreds of thousands).
pub fn dedup(refs: &mut Vec<String>) {
    let mut seen = HashSet::with_capacity(refs.len());
    refs.retain(|r| seen.insert(r.clone()));
}

/// `s` with every reference replaced by the id it stands for; references
/// missing from `ids` are left as they are.
pub fn substitute_str(s: &str, ids: &HashMap<String, String>) -> String {
    let mut out = String::with_capacity(s.len());
    let mut last = 0;
    for (start, end, id) in spans(s) {
        if let Some(resolved) = ids.get(id) {
            out.push_str(&s[last..start]);
            out.push_str(resolved);
            last = end;
        }
    }
    out.push_str(&s[last..]);
    out
}

/// `v` with every reference in its string values replaced.
pub fn substitute(v: &Value, ids: &HashMap<String, String>) -> Value {
    match v {
        Value::String(s) => Value::String(substitute_str(s, ids)),
        Value::Array(items) => Value::Array(items.iter().map(|i| substitute(i, ids)).collect()),
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| (k.clone(), substitute(v, ids)))
                .collect(),
        ),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn references_are_found_in_values_paths_and_filters() {
        let mut found = Vec::new();
        collect(
            &json!({"Operations": [{"path": "members[value eq \"bulkId:a\"]"}, {"value": [{"value": "bulkId:b"}, {"value": "bulkId:a"}]}]}),
            &mut found,
        );
        collect_str("/Groups/bulkId:c", &mut found);
        collect_str("no reference, bulkId: alone", &mut found);
        dedup(&mut found);
        assert_eq!(found, ["a", "b", "c"]);
    }

    #[test]
    fn a_payload_limit_full_of_distinct_references_is_collected() {
        // 4 MiB of distinct references in one value.
        let mut text = String::new();
        let mut n = 0;
        while text.len() < 4 << 20 {
            text.push_str(&format!("bulkId:{n},"));
            n += 1;
        }
        let mut found = Vec::new();
        collect_str(&text, &mut found);
        collect_str(&text, &mut found);
        dedup(&mut found);
        assert_eq!(found.len(), n);
        assert_eq!(found.first().map(String::as_str), Some("0"));
    }

    #[test]
    fn substitution_keeps_unknown_references() {
        let ids: HashMap<String, String> = [("a".to_owned(), "1234".to_owned())].into();
        assert_eq!(substitute_str("/Users/bulkId:a", &ids), "/Users/1234");
        assert_eq!(
            substitute(
                &json!({"m": ["bulkId:a", "bulkId:zz", "x bulkId:a]"]}),
                &ids
            ),
            json!({"m": ["1234", "bulkId:zz", "x 1234]"]})
        );
    }
}
