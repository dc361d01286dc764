//! Which budget a request draws on, and how much of it: requests that only
//! deactivate or delete take the reserved share. A deactivation is a
//! `PATCH` of a user whose every operation sets `active` to false, in any
//! shape Entra ID or Okta send (`path: "active"`, a no-path value object
//! holding only `active`, boolean or the strings `"False"`/`"false"`), or
//! an Okta `PUT` of a user with `active` false (the user ends inactive
//! whatever else the document says, so the reserve buys no other write). A Bulk request is reserved when every
//! one of its operations is a deactivation or a deletion (Entra ID and Okta
//! do not mix them with other writes in one request; a mixed request draws on
//! the ordinary budget, so the reserve cannot be used to smuggle writes).

use axum::http::Method;
use serde_json::Value;

use super::limiter::Class;

/// Whether a request's class or cost depends on its body (so the body is
/// read first).
pub fn needs_body(method: &Method, path: &str) -> bool {
    ((method == Method::PATCH || method == Method::PUT) && is_user(path)) || is_bulk(method, path)
}

/// `POST …/Bulk`.
pub fn is_bulk(method: &Method, path: &str) -> bool {
    method == Method::POST && path.trim_end_matches('/').ends_with("/Bulk")
}

/// The top level of a Bulk request, its operations left unparsed.
#[derive(serde::Deserialize)]
struct BulkEnvelope {
    #[serde(rename = "Operations", alias = "operations", default)]
    operations: Vec<serde::de::IgnoredAny>,
}

/// How many requests a request counts for: a Bulk request one per
/// operation (else a tenant could pack a thousand writes into one
/// request), everything else one.
pub fn cost(method: &Method, path: &str, body: Option<&[u8]>) -> u32 {
    let operations = body
        .filter(|_| is_bulk(method, path))
        .and_then(|b| serde_json::from_slice::<BulkEnvelope>(b).ok())
        .map_or(1, |e| e.operations.len());
    u32::try_from(operations).unwrap_or(u32::MAX).max(1)
}

/// The class of a request; `body` is its bytes when [`needs_body`].
pub fn class(method: &Method, path: &str, body: Option<&[u8]>) -> Class {
    if method == Method::DELETE {
        return Class::Reserved;
    }
    let Some(body) = body.filter(|_| needs_body(method, path)) else {
        return Class::Ordinary;
    };
    if is_bulk(method, path) {
        return bulk_class(body);
    }
    // Cheap first: most bodies never mention `active`.
    if !contains_ci(body, b"active") {
        return Class::Ordinary;
    }
    let Ok(doc) = serde_json::from_slice::<Value>(body) else {
        return Class::Ordinary;
    };
    let deactivates = if method == Method::PATCH {
        patch_deactivates(&doc)
    } else {
        get_ci(&doc, "active").is_some_and(is_false)
    };
    if deactivates {
        Class::Reserved
    } else {
        Class::Ordinary
    }
}

/// Reserved when every operation of the Bulk request deactivates or deletes.
fn bulk_class(body: &[u8]) -> Class {
    let Ok(doc) = serde_json::from_slice::<Value>(body) else {
        return Class::Ordinary;
    };
    let ops = get_ci(&doc, "Operations").and_then(Value::as_array);
    match ops {
        Some(ops) if !ops.is_empty() && ops.iter().all(bulk_op_deactivates) => Class::Reserved,
        _ => Class::Ordinary,
    }
}

fn bulk_op_deactivates(op: &Value) -> bool {
    let text = |name| get_ci(op, name).and_then(Value::as_str).unwrap_or("");
    let (method, path) = (text("method"), text("path"));
    let data = get_ci(op, "data");
    if method.eq_ignore_ascii_case("DELETE") {
        true
    } else if method.eq_ignore_ascii_case("PATCH") {
        is_user(path) && data.is_some_and(patch_deactivates)
    } else if method.eq_ignore_ascii_case("PUT") {
        is_user(path) && data.and_then(|d| get_ci(d, "active")).is_some_and(is_false)
    } else {
        false
    }
}

/// `…/Users/{id}`.
fn is_user(path: &str) -> bool {
    let mut segments = path.trim_end_matches('/').rsplit('/');
    let _id = segments.next();
    segments.next() == Some("Users")
}

/// A PATCH that only deactivates: every operation sets `active` to false
/// and nothing else (a PATCH that also changes other attributes, or sets
/// `active` back to true later, is an ordinary write).
fn patch_deactivates(doc: &Value) -> bool {
    let Some(ops) = get_ci(doc, "Operations").and_then(Value::as_array) else {
        return false;
    };
    !ops.is_empty()
        && ops.iter().all(|op| {
            let value = get_ci(op, "value");
            let sets = get_ci(op, "op").and_then(Value::as_str).is_some_and(|o| {
                o.eq_ignore_ascii_case("replace") || o.eq_ignore_ascii_case("add")
            });
            sets && match get_ci(op, "path").and_then(Value::as_str) {
                Some(path) => path.eq_ignore_ascii_case("active") && value.is_some_and(is_false),
                None => value.and_then(Value::as_object).is_some_and(|o| {
                    !o.is_empty()
                        && o.iter()
                            .all(|(k, v)| k.eq_ignore_ascii_case("active") && is_false(v))
                }),
            }
        })
}

fn is_false(v: &Value) -> bool {
    match v {
        Value::Bool(b) => !b,
        Value::String(s) => s.eq_ignore_ascii_case("false"),
        _ => false,
    }
}

fn get_ci<'a>(v: &'a Value, name: &str) -> Option<&'a Value> {
    v.as_object()?
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
}

fn contains_ci(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn patch(body: Value) -> Class {
        class(
            &Method::PATCH,
            "/scim/v2/t/Users/1",
            Some(body.to_string().as_bytes()),
        )
    }

    #[test]
    fn entra_and_okta_deactivations_are_reserved() {
        for value in [json!(false), json!("False"), json!("false")] {
            let op = json!({"Operations": [{"op": "Replace", "path": "active", "value": value}]});
            assert_eq!(patch(op), Class::Reserved);
        }
        let okta = json!({"Operations": [{"op": "replace", "value": {"active": false}}]});
        assert_eq!(patch(okta), Class::Reserved);
        let put = json!({"userName": "a", "active": false});
        let body = put.to_string();
        assert_eq!(
            class(&Method::PUT, "/scim/v2/t/Users/1", Some(body.as_bytes())),
            Class::Reserved
        );
        assert_eq!(
            class(&Method::DELETE, "/scim/v2/t/Groups/1", None),
            Class::Reserved
        );
    }

    #[test]
    fn bulk_requests_of_deactivations_only_are_reserved() {
        let bulk = |ops: Value| {
            let body = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
                              "Operations": ops})
            .to_string();
            class(&Method::POST, "/scim/v2/t/Bulk", Some(body.as_bytes()))
        };
        let deactivate = json!({"method": "PATCH", "path": "/Users/1", "data":
            {"Operations": [{"op": "Replace", "path": "active", "value": "False"}]}});
        let delete = json!({"method": "delete", "path": "/Groups/2"});
        let put = json!({"method": "PUT", "path": "/Users/3", "data": {"userName": "a", "active": false}});
        assert_eq!(
            bulk(json!([deactivate.clone(), delete.clone(), put])),
            Class::Reserved
        );
        let create =
            json!({"method": "POST", "path": "/Users", "bulkId": "q", "data": {"userName": "b"}});
        assert_eq!(bulk(json!([deactivate.clone(), create])), Class::Ordinary);
        let activate = json!({"method": "PATCH", "path": "/Users/1", "data":
            {"Operations": [{"op": "replace", "path": "active", "value": true}]}});
        assert_eq!(bulk(json!([delete, activate])), Class::Ordinary);
        let group = json!({"method": "PATCH", "path": "/Groups/1", "data":
            {"Operations": [{"op": "replace", "path": "active", "value": false}]}});
        assert_eq!(bulk(json!([group])), Class::Ordinary);
        assert_eq!(bulk(json!([])), Class::Ordinary);
        assert_eq!(
            class(&Method::POST, "/scim/v2/t/Bulk", Some(b"{not json")),
            Class::Ordinary
        );
    }

    #[test]
    fn a_bulk_request_costs_one_per_operation() {
        let body =
            json!({"Operations": [{"method": "DELETE"}, {"method": "POST"}, {}]}).to_string();
        let bulk = "/scim/v2/t/Bulk";
        assert_eq!(cost(&Method::POST, bulk, Some(body.as_bytes())), 3);
        assert_eq!(cost(&Method::POST, bulk, Some(b"not json")), 1);
        assert_eq!(
            cost(&Method::POST, "/scim/v2/t/Users", Some(body.as_bytes())),
            1
        );
        assert_eq!(cost(&Method::GET, "/scim/v2/t/Users", None), 1);
    }

    #[test]
    fn a_patch_that_does_more_than_deactivate_is_ordinary() {
        let off = json!({"op": "Replace", "path": "active", "value": "False"});
        let rename = json!({"op": "replace", "path": "displayName", "value": "x"});
        let on = json!({"op": "replace", "path": "active", "value": true});
        assert_eq!(
            patch(json!({"Operations": [off.clone(), rename]})),
            Class::Ordinary
        );
        assert_eq!(
            patch(json!({"Operations": [off.clone(), on]})),
            Class::Ordinary
        );
        let okta_and_more = json!({"Operations": [
            {"op": "replace", "value": {"active": false, "displayName": "x"}}]});
        assert_eq!(patch(okta_and_more), Class::Ordinary);
        let removal = json!({"Operations": [{"op": "remove", "path": "active", "value": false}]});
        assert_eq!(patch(removal), Class::Ordinary);
        assert_eq!(
            patch(json!({"Operations": [off.clone(), off]})),
            Class::Reserved
        );
        assert_eq!(patch(json!({"Operations": []})), Class::Ordinary);
    }

    #[test]
    fn everything_else_is_ordinary() {
        let activate = json!({"Operations": [{"op": "replace", "path": "active", "value": true}]});
        assert_eq!(patch(activate), Class::Ordinary);
        assert_eq!(
            patch(json!({"Operations": [{"op": "add", "path": "nickName", "value": "x"}]})),
            Class::Ordinary
        );
        assert_eq!(
            class(&Method::GET, "/scim/v2/t/Users", None),
            Class::Ordinary
        );
        let group = json!({"Operations": [{"op": "replace", "path": "active", "value": false}]})
            .to_string();
        assert_eq!(
            class(
                &Method::PATCH,
                "/scim/v2/t/Groups/1",
                Some(group.as_bytes())
            ),
            Class::Ordinary
        );
    }
}
