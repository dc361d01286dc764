//! `POST /Bulk` (RFC 7644 §3.7): many operations in one request, each run
//! through the same handler and identity call as its single-resource
//! request (the gateway still owns no data, and a Bulk operation is
//! validated exactly like the request it stands for).
//!
//! * `bulkId` references ([`refs`]) are resolved by running operations in
//!   dependency order: an operation waits for the POSTs whose `bulkId` it
//!   names; one that names an unknown or failed `bulkId`, or that is part of
//!   a cycle, fails with 400 `invalidValue`. Responses come in request order.
//!   The order is found in time linear in the references (a request at the
//!   payload limit may hold hundreds of thousands).
//! * `failOnErrors: n` stops after the n-th error; operations not run are
//!   left out of the response.
//! * Limits (advertised in `/ServiceProviderConfig`): more operations than
//!   `maxOperations`, or a body over `maxPayloadSize`, is 413.
//! * Operations are not one transaction: each is atomic on its own, as the
//!   RFC describes.

mod dispatch;
mod refs;

use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap, HashMap};

use axum::extract::{Request, State};
use axum::http::{Method, StatusCode};
use scim::{ScimError, ScimType};
use serde_json::{Map, Value, json};
use tracing::instrument;

use crate::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, error_body};
use crate::response::{ScimResponse, scim_body_bytes};
use dispatch::Target;

/// One operation as the client sent it.
struct Operation {
    method: Method,
    path: String,
    bulk_id: Option<String>,
    version: Option<String>,
    data: Option<Value>,
    /// bulkIds named in the path or data.
    refs: Vec<String>,
}

fn too_large(detail: String) -> ApiError {
    ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, None, detail)
}

#[instrument(skip_all, fields(tenant_id = %caller.tenant_id))]
pub async fn bulk(
    State(state): State<AppState>,
    caller: Caller,
    request: Request,
) -> Result<ScimResponse, ApiError> {
    let limits = &state.protocol;
    let bytes = scim_body_bytes(request, &state).await?;
    if bytes.len() > limits.bulk_max_payload_bytes {
        return Err(too_large(format!(
            "a Bulk request may hold at most {} bytes",
            limits.bulk_max_payload_bytes
        )));
    }
    let body = scim::strict::parse_json(&bytes)?;
    let (fail_on_errors, raw_ops) = envelope(&body)?;
    let max_operations = state
        .protection
        .bulk_max_operations(&caller, limits.bulk_max_operations);
    if raw_ops.len() > max_operations as usize {
        let why = if max_operations < limits.bulk_max_operations {
            " (this tenant's rate-limit burst; see maxOperations in /ServiceProviderConfig)"
        } else {
            ""
        };
        return Err(too_large(format!(
            "a Bulk request may hold at most {max_operations} operations{why}"
        )));
    }
    let ops: Vec<Result<Operation, ScimError>> = raw_ops.iter().map(operation).collect();
    let results = run_all(&state, &caller, &ops, fail_on_errors).await;
    let failed = results
        .iter()
        .flatten()
        .filter(|r| {
            r.get("status")
                .and_then(Value::as_str)
                .and_then(|s| s.parse::<u16>().ok())
                .is_some_and(|s| s >= 400)
        })
        .count();
    let what = crate::provlog::summary::bulk(ops.len(), failed);
    // One entry for the whole request: the operations' own notes are replaced.
    crate::provlog::note(|n| {
        *n = crate::provlog::Note {
            summary: Some(what),
            ..Default::default()
        }
    });
    Ok(ScimResponse::ok(json!({
        "schemas": [scim::schema::BULK_RESPONSE_SCHEMA],
        "Operations": results.into_iter().flatten().collect::<Vec<Value>>(),
    })))
}

fn get_ci<'a>(obj: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    obj.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
}

/// `failOnErrors` and the operations of a BulkRequest.
fn envelope(body: &Value) -> Result<(Option<usize>, &Vec<Value>), ScimError> {
    let obj = body
        .as_object()
        .ok_or_else(|| ScimError::invalid_syntax("a BulkRequest must be a JSON object"))?;
    if let Some(schemas) = get_ci(obj, "schemas") {
        let ok = schemas.as_array().is_some_and(|s| {
            s.iter().any(|u| {
                u.as_str()
                    .is_some_and(|u| u.eq_ignore_ascii_case(scim::schema::BULK_REQUEST_SCHEMA))
            })
        });
        if !ok {
            return Err(ScimError::invalid_syntax(format!(
                "'schemas' must contain {}",
                scim::schema::BULK_REQUEST_SCHEMA
            )));
        }
    }
    let fail_on_errors = match get_ci(obj, "failOnErrors") {
        None | Some(Value::Null) => None,
        Some(v) => match v.as_u64() {
            Some(n) if n >= 1 => Some(usize::try_from(n).unwrap_or(usize::MAX)),
            _ => {
                return Err(ScimError::invalid_value(
                    "failOnErrors must be a positive integer",
                ));
            }
        },
    };
    let ops = match get_ci(obj, "Operations") {
        Some(Value::Array(ops)) => ops,
        _ => return Err(ScimError::invalid_syntax("'Operations' must be an array")),
    };
    Ok((fail_on_errors, ops))
}

fn operation(raw: &Value) -> Result<Operation, ScimError> {
    let obj = raw
        .as_object()
        .ok_or_else(|| ScimError::invalid_syntax("an operation must be an object"))?;
    let text = |name: &str| get_ci(obj, name).and_then(Value::as_str).map(str::to_owned);
    let method = match text("method").map(|m| m.to_ascii_uppercase()).as_deref() {
        Some("POST") => Method::POST,
        Some("PUT") => Method::PUT,
        Some("PATCH") => Method::PATCH,
        Some("DELETE") => Method::DELETE,
        _ => {
            return Err(ScimError::invalid_syntax(
                "'method' must be POST, PUT, PATCH or DELETE",
            ));
        }
    };
    let path = text("path").ok_or_else(|| ScimError::invalid_syntax("'path' is missing"))?;
    let data = get_ci(obj, "data").cloned();
    if method != Method::DELETE && data.is_none() {
        return Err(ScimError::invalid_syntax(format!("{method} needs 'data'")));
    }
    if let Some(d) = &data {
        scim::strict::check_counts(d)?;
    }
    let mut refs = Vec::new();
    refs::collect_str(&path, &mut refs);
    if let Some(d) = &data {
        refs::collect(d, &mut refs);
    }
    refs::dedup(&mut refs);
    Ok(Operation {
        method,
        path,
        bulk_id: text("bulkId"),
        version: text("version"),
        data,
        refs,
    })
}

/// The order operations run in: always the first (in request order) that
/// waits for no POST not yet run whose `bulkId` it names; when every one
/// left waits, the first left, marked `true` (part of a cycle).
fn schedule(ops: &[Result<Operation, ScimError>]) -> Vec<(usize, bool)> {
    // bulkId → the operation that creates it (the first POST naming it).
    let mut creators: HashMap<&str, usize> = HashMap::new();
    for (i, op) in ops.iter().enumerate() {
        if let Ok(Operation {
            method: Method::POST,
            bulk_id: Some(b),
            ..
        }) = op
        {
            creators.entry(b.as_str()).or_insert(i);
        }
    }
    // Each operation's count of creators not yet run, and who waits on it:
    // one pass over the references, then each operation and each edge is
    // visited once (O(n log n + references)).
    let mut waiting_on = vec![0usize; ops.len()];
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); ops.len()];
    for (i, op) in ops.iter().enumerate() {
        let Ok(op) = op else { continue };
        // `refs` holds each bulkId once, and a creator has one bulkId.
        for r in &op.refs {
            if let Some(&c) = creators.get(r.as_str())
                && c != i
            {
                waiting_on[i] += 1;
                dependents[c].push(i);
            }
        }
    }
    let mut ready: BinaryHeap<Reverse<usize>> = (0..ops.len())
        .filter(|&i| waiting_on[i] == 0)
        .map(Reverse)
        .collect();
    let mut pending: BTreeSet<usize> = (0..ops.len()).collect();
    let mut order = Vec::with_capacity(ops.len());
    while let Some(&first) = pending.first() {
        let (i, cyclic) = match ready.pop() {
            Some(Reverse(i)) => (i, false),
            None => (first, true),
        };
        pending.remove(&i);
        order.push((i, cyclic));
        for &d in &dependents[i] {
            waiting_on[d] -= 1;
            if waiting_on[d] == 0 && pending.contains(&d) {
                ready.push(Reverse(d));
            }
        }
    }
    order
}

/// Runs the operations in dependency order; one response per operation run,
/// in request order.
async fn run_all(
    state: &AppState,
    caller: &Caller,
    ops: &[Result<Operation, ScimError>],
    fail_on_errors: Option<usize>,
) -> Vec<Option<Value>> {
    let mut ids: HashMap<String, String> = HashMap::new();
    let mut results: Vec<Option<Value>> = vec![None; ops.len()];
    let mut errors = 0;
    for (i, cyclic) in schedule(ops) {
        let outcome = match &ops[i] {
            Err(e) => Err(ApiError(e.clone())),
            Ok(_) if cyclic => Err(ApiError(ScimError::invalid_value(
                "circular bulkId references",
            ))),
            Ok(op) => run_one(state, caller, op, &ids).await,
        };
        let (method, bulk_id) = match &ops[i] {
            Ok(op) => (op.method.as_str(), op.bulk_id.clone()),
            Err(_) => ("", None),
        };
        let mut entry = json!({ "method": method });
        if let Some(b) = &bulk_id {
            entry["bulkId"] = b.clone().into();
        }
        match outcome {
            Ok(done) => {
                if let (Some(b), true) = (&bulk_id, method == "POST") {
                    ids.entry(b.clone()).or_insert(done.id);
                }
                entry["location"] = done.location.into();
                if let Some(v) = done.version {
                    entry["version"] = v.into();
                }
                entry["status"] = done.status.as_u16().to_string().into();
            }
            Err(e) => {
                errors += 1;
                entry["status"] = e.0.status.to_string().into();
                entry["response"] = error_body(&e.0);
            }
        }
        results[i] = Some(entry);
        if fail_on_errors.is_some_and(|limit| errors >= limit) {
            break;
        }
    }
    results
}

/// At most 64 characters of a client's text, for error details.
fn clip(s: &str) -> String {
    s.chars().take(64).collect()
}

async fn run_one(
    state: &AppState,
    caller: &Caller,
    op: &Operation,
    ids: &HashMap<String, String>,
) -> Result<dispatch::Done, ApiError> {
    if let Some(missing) = op.refs.iter().find(|r| !ids.contains_key(*r)) {
        return Err(ApiError(ScimError::invalid_value(format!(
            "bulkId '{}' names no operation that succeeded",
            clip(missing)
        ))));
    }
    let path = refs::substitute_str(&op.path, ids);
    let target = Target::parse(&path).ok_or_else(|| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            Some(ScimType::InvalidPath),
            "'path' must be /Users, /Groups or one of their resources",
        )
    })?;
    let data = op.data.as_ref().map(|d| refs::substitute(d, ids));
    dispatch::run(
        state,
        caller,
        &op.method,
        &target,
        op.version.as_deref(),
        data,
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn post(bulk_id: &str, refs: Vec<String>) -> Result<Operation, ScimError> {
        Ok(Operation {
            method: Method::POST,
            path: "/Groups".into(),
            bulk_id: Some(bulk_id.into()),
            version: None,
            data: None,
            refs,
        })
    }

    #[test]
    fn dependencies_run_first_and_cycles_are_marked() {
        let ops = vec![
            post("a", vec!["b".into()]),
            post("b", vec![]),
            post("c", vec!["d".into()]),
            post("d", vec!["c".into()]),
            post("e", vec!["a".into(), "nowhere".into(), "e".into()]),
        ];
        assert_eq!(
            schedule(&ops),
            [(1, false), (0, false), (4, false), (2, true), (3, false)]
        );
    }

    #[test]
    fn a_limit_size_request_full_of_references_is_scheduled() {
        // 1000 operations (the default maxOperations), about 3 MiB of
        // references: 600 in a chain (each waits for the next), each also
        // naming the 400 that follow them, which wait for nothing.
        let (chain, hubs) = (600, 400);
        let hub_ids: Vec<String> = (0..hubs).map(|h| format!("h{h}")).collect();
        let mut ops: Vec<_> = (0..chain)
            .map(|i| {
                let mut refs = hub_ids.clone();
                if i + 1 < chain {
                    refs.push(format!("c{}", i + 1));
                }
                post(&format!("c{i}"), refs)
            })
            .collect();
        ops.extend(hub_ids.iter().map(|h| post(h, vec![])));
        let order = schedule(&ops);
        let expected: Vec<_> = (chain..chain + hubs)
            .chain((0..chain).rev())
            .map(|i| (i, false))
            .collect();
        assert_eq!(order, expected);
    }
}
