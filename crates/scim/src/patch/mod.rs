//! PATCH (RFC 7644 §3.5.2): request parsing and the patch engine, with the Entra ID and Okta
//! deviations listed on [`apply_patch`].

mod apply;
mod ops;

#[cfg(test)]
mod tests;

pub use apply::apply_patch;

use serde_json::Value;

use crate::error::{ScimError, clip};
use crate::json::{eq_ci, get_ci};
use crate::path::{PatchPath, parse_patch_path};
use crate::schema::PATCH_OP_SCHEMA;

/// The `op` of a PATCH operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchOpKind {
    Add,
    Replace,
    Remove,
}

impl PatchOpKind {
    /// Lower-case keyword.
    pub fn as_str(self) -> &'static str {
        match self {
            PatchOpKind::Add => "add",
            PatchOpKind::Replace => "replace",
            PatchOpKind::Remove => "remove",
        }
    }

    /// Case-insensitive keyword lookup (Entra sends `Add`, `Replace`, `Remove`).
    pub fn parse(s: &str) -> Option<Self> {
        [PatchOpKind::Add, PatchOpKind::Replace, PatchOpKind::Remove]
            .into_iter()
            .find(|k| k.as_str().eq_ignore_ascii_case(s.trim()))
    }
}

/// One PATCH operation.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchOperation {
    pub op: PatchOpKind,
    /// `None` when the request had no `path` (or `null`, or a blank string).
    pub path: Option<PatchPath>,
    /// `None` when the request had no `value` member; an explicit `null` is `Some(Value::Null)`.
    pub value: Option<Value>,
}

/// Parse a PatchOp body. `Operations` key matched case-insensitively; `op` case-insensitive (Entra sends "Replace"); zero operations → 400 invalidSyntax; unknown op → 400 invalidSyntax; bad path → invalidPath; `remove` without path → 400 noTarget; add/replace without value → invalidSyntax.
///
/// `schemas` may be absent; when present it must contain the PatchOp URN (else 400
/// `invalidSyntax`). Member names of the body and of each operation (`op`, `path`, `value`)
/// match case-insensitively. A blank `path` counts as absent. Error details start with
/// `Operations[i]` (0-based) to point at the operation at fault.
pub fn parse_patch_request(body: &Value) -> Result<Vec<PatchOperation>, ScimError> {
    let Some(obj) = body.as_object() else {
        return Err(ScimError::invalid_syntax(
            "a PatchOp request must be a JSON object",
        ));
    };
    if let Some(schemas) = get_ci(obj, "schemas") {
        let is_patch_op = |s: &Value| s.as_str().is_some_and(|s| eq_ci(s, PATCH_OP_SCHEMA));
        let ok = match schemas {
            Value::Array(items) => items.iter().any(is_patch_op),
            single => is_patch_op(single),
        };
        if !ok {
            return Err(ScimError::invalid_syntax(format!(
                "'schemas' must contain {PATCH_OP_SCHEMA}"
            )));
        }
    }
    let operations = match get_ci(obj, "Operations") {
        Some(Value::Array(items)) => items,
        Some(_) => return Err(ScimError::invalid_syntax("'Operations' must be an array")),
        None => return Err(ScimError::invalid_syntax("'Operations' is missing")),
    };
    if operations.is_empty() {
        return Err(ScimError::invalid_syntax(
            "'Operations' must contain at least one operation",
        ));
    }
    operations
        .iter()
        .enumerate()
        .map(|(i, op)| parse_operation(i, op))
        .collect()
}

fn parse_operation(i: usize, v: &Value) -> Result<PatchOperation, ScimError> {
    let at = |e: ScimError| ScimError {
        detail: format!("Operations[{i}]: {}", e.detail),
        ..e
    };
    let Some(obj) = v.as_object() else {
        return Err(at(ScimError::invalid_syntax(
            "an operation must be an object",
        )));
    };
    let op = match get_ci(obj, "op") {
        Some(Value::String(s)) => PatchOpKind::parse(s).ok_or_else(|| {
            at(ScimError::invalid_syntax(format!(
                "unknown op '{}'",
                clip(s)
            )))
        })?,
        Some(_) => return Err(at(ScimError::invalid_syntax("'op' must be a string"))),
        None => return Err(at(ScimError::invalid_syntax("'op' is missing"))),
    };
    let path = match get_ci(obj, "path") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.trim().is_empty() => None,
        Some(Value::String(s)) => Some(parse_patch_path(s).map_err(at)?),
        Some(_) => return Err(at(ScimError::invalid_path("'path' must be a string"))),
    };
    let value = get_ci(obj, "value").cloned();
    match op {
        PatchOpKind::Remove if path.is_none() => {
            Err(at(ScimError::no_target("a remove operation needs a path")))
        }
        PatchOpKind::Add | PatchOpKind::Replace if value.is_none() => Err(at(
            ScimError::invalid_syntax(format!("'value' is required for {}", op.as_str())),
        )),
        _ => Ok(PatchOperation { op, path, value }),
    }
}
