//! Helpers shared by the integration tests.

use scim::patch::{apply_patch, parse_patch_request};
use scim::resource::normalize;
use scim::{ResourceTypeDef, ScimError, WriteMode};
use serde_json::Value;

/// Parses a JSON text: a request body as the IdP sends it.
pub fn body(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("fixture is not JSON: {e}"))
}

/// POST: normalise a create body.
pub fn create(rt: &ResourceTypeDef, text: &str) -> Result<Value, ScimError> {
    normalize(rt, &body(text), WriteMode::Create)
}

/// PATCH: parse the request text and apply it to `doc`.
pub fn patch(rt: &ResourceTypeDef, doc: &Value, text: &str, id: &str) -> Result<Value, ScimError> {
    let ops = parse_patch_request(&body(text))?;
    apply_patch(rt, doc, &ops, id)
}
