//! Request bodies read strictly: UTF-8 (serde_json checks it), at most
//! [`MAX_JSON_DEPTH`] levels of nesting, and no object with the same member
//! name twice (compared case-insensitively, as SCIM attribute names are,
//! RFC 7643 §2.1). `serde_json` would keep the last of two equal keys and
//! silently drop the first; a SCIM body where that matters is ambiguous, so
//! it is refused. Strings may not hold NUL. Also the per-request counts the
//! gateway enforces.

use std::collections::HashSet;
use std::fmt;

use serde::Deserializer;
use serde::de::{DeserializeSeed, Error as _, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use crate::error::ScimError;

/// Deepest nesting of arrays and objects in a request body.
pub const MAX_JSON_DEPTH: usize = 32;
/// Most operations in one PATCH request.
pub const MAX_PATCH_OPERATIONS: usize = 1_000;
/// Most group members named in one request (POST, PUT or PATCH).
pub const MAX_MEMBERS_PER_REQUEST: usize = 10_000;

/// Parses a request body; 400 `invalidSyntax` for anything but strict JSON.
pub fn parse_body(bytes: &[u8]) -> Result<Value, ScimError> {
    let value = parse_json(bytes)?;
    check_counts(&value)?;
    Ok(value)
}

/// Parses strict JSON without the per-request counts, for bodies with limits
/// of their own (a Bulk request checks its operations against
/// `bulk.maxOperations`, then each operation's data with [`check_counts`]).
pub fn parse_json(bytes: &[u8]) -> Result<Value, ScimError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    Strict { depth: 0 }
        .deserialize(&mut de)
        .and_then(|v| de.end().map(|()| v))
        .map_err(|e| ScimError::invalid_syntax(format!("request body is not valid JSON: {e}")))
}

/// 400 `invalidValue` when a body names too many operations or members.
pub fn check_counts(body: &Value) -> Result<(), ScimError> {
    let ops = get_ci(body, "Operations").and_then(Value::as_array);
    if ops.is_some_and(|o| o.len() > MAX_PATCH_OPERATIONS) {
        return Err(ScimError::invalid_value(format!(
            "a PATCH request may hold at most {MAX_PATCH_OPERATIONS} operations"
        )));
    }
    let mut members = get_ci(body, "members").map_or(0, count);
    for op in ops.into_iter().flatten() {
        let value = get_ci(op, "value");
        let on_members = get_ci(op, "path")
            .and_then(Value::as_str)
            .is_some_and(|p| p.trim_start().to_ascii_lowercase().starts_with("members"));
        members += match value {
            Some(v) if on_members => count(v),
            Some(v) => get_ci(v, "members").map_or(0, count),
            None => 0,
        };
    }
    if members > MAX_MEMBERS_PER_REQUEST {
        return Err(ScimError::invalid_value(format!(
            "a request may name at most {MAX_MEMBERS_PER_REQUEST} group members"
        )));
    }
    Ok(())
}

fn count(v: &Value) -> usize {
    v.as_array().map_or(1, Vec::len)
}

fn get_ci<'a>(v: &'a Value, name: &str) -> Option<&'a Value> {
    v.as_object()?
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
}

/// A `Value` deserializer that counts depth and refuses duplicate keys.
struct Strict {
    depth: usize,
}

impl Strict {
    fn deeper<E: serde::de::Error>(&self) -> Result<Strict, E> {
        if self.depth >= MAX_JSON_DEPTH {
            return Err(E::custom(format_args!(
                "nested deeper than {MAX_JSON_DEPTH} levels"
            )));
        }
        Ok(Strict {
            depth: self.depth + 1,
        })
    }
}

impl<'de> DeserializeSeed<'de> for Strict {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Strict {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Value, E> {
        self.visit_string(v.to_owned())
    }

    // NUL is valid JSON but no SCIM value holds it, and Postgres text cannot.
    fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Value, E> {
        if v.contains('\0') {
            return Err(E::custom("a string holds a NUL character"));
        }
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let inner = self.deeper()?;
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(Strict { depth: inner.depth })? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let inner = self.deeper()?;
        let mut seen = HashSet::new();
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if key.contains('\0') {
                return Err(A::Error::custom("a member name holds a NUL character"));
            }
            if !seen.insert(key.to_ascii_lowercase()) {
                return Err(A::Error::custom("an object has the same member name twice"));
            }
            let value = map.next_value_seed(Strict { depth: inner.depth })?;
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::ScimType;

    fn syntax_error(body: &[u8]) -> bool {
        parse_body(body).is_err_and(|e| e.scim_type == Some(ScimType::InvalidSyntax))
    }

    #[test]
    fn duplicates_depth_and_utf8_are_refused() {
        assert!(syntax_error(br#"{"userName": "a", "userName": "b"}"#));
        assert!(syntax_error(br#"{"userName": "a", "USERNAME": "b"}"#));
        assert!(syntax_error(
            br#"{"name": {"givenName": "a", "givenName": "b"}}"#
        ));
        assert!(syntax_error(&[b'"', 0xff, b'"']));
        assert!(syntax_error(b"[] x"));
        assert!(syntax_error(br#"{"userName": "a\u0000b"}"#));
        let deep = format!(
            "{}{}",
            "[".repeat(MAX_JSON_DEPTH + 1),
            "]".repeat(MAX_JSON_DEPTH + 1)
        );
        assert!(syntax_error(deep.as_bytes()));
        let ok = format!(
            "{}{}",
            "[".repeat(MAX_JSON_DEPTH),
            "]".repeat(MAX_JSON_DEPTH)
        );
        assert!(parse_body(ok.as_bytes()).is_ok());
    }

    #[test]
    fn ordinary_bodies_parse_as_serde_json_would() {
        let text = br#"{"a": [1, -2, 3.5, true, null, "x"], "b": {"c": {}}}"#;
        assert_eq!(
            parse_body(text).unwrap(),
            serde_json::from_slice::<Value>(text).unwrap()
        );
    }

    #[test]
    fn too_many_operations_or_members() {
        let ops: Vec<Value> = (0..=MAX_PATCH_OPERATIONS)
            .map(|_| serde_json::json!({"op": "add", "path": "nickName", "value": "x"}))
            .collect();
        let e = check_counts(&serde_json::json!({"Operations": ops})).unwrap_err();
        assert_eq!(e.scim_type, Some(ScimType::InvalidValue));
        let members: Vec<Value> = (0..=MAX_MEMBERS_PER_REQUEST)
            .map(|i| serde_json::json!({"value": i.to_string()}))
            .collect();
        let body =
            serde_json::json!({"Operations": [{"op": "add", "path": "members", "value": members}]});
        assert!(check_counts(&body).is_err());
        assert!(
            check_counts(&serde_json::json!({"displayName": "g", "members": members})).is_err()
        );
    }
}
