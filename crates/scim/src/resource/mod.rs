//! Validation and normalisation of client-sent resources (POST and PUT bodies).

mod value;

pub(crate) use value::normalize_attr;

use serde_json::{Map, Value};

use crate::error::{ScimError, clip};
use crate::json::eq_ci;
use crate::schema::{AttributeDef, Mutability, ResourceTypeDef, SchemaDef};

/// Why a resource is being normalised.
///
/// Both modes apply the same rules today (RFC 7644 §3.5.1: a PUT replaces the whole resource,
/// so it is validated like a create, and readOnly values sent with it are ignored). The mode is
/// part of the contract so that create-only rules can be added without touching callers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteMode {
    /// POST: a new resource.
    Create,
    /// PUT, or the result of a PATCH: a replacement of an existing resource.
    Replace,
}

/// Validate and normalise a client-sent resource (POST/PUT body) into the canonical stored document.
///
/// Contract:
/// * `body` must be a JSON object, else 400 `invalidSyntax`.
/// * Keys match case-insensitively and come out with their canonical names. Extension
///   attributes live under their URN key (matched case-insensitively); URN-prefixed top-level
///   keys (`"urn:...:enterprise:2.0:User:employeeNumber"`) are moved under their schema.
///   The client's `schemas` is ignored (unknown or misspelt URIs are no error); the output's
///   `schemas` is the core URN plus the URNs of the extensions actually present.
/// * readOnly attributes (`id`, `meta`, `groups`, `manager.displayName`, ...) are dropped
///   silently, as IdPs send them; writeOnly `password` is accepted and dropped (this product
///   never stores passwords).
/// * `null`, `""` and `[]` mean unassigned and are dropped; a complex value left empty is dropped.
/// * Types are checked per schema (wrong type → 400 `invalidValue` naming the attribute).
///   Booleans also accept the strings `"true"`/`"false"` in any case (Entra sends `"False"`);
///   `dateTime` must be RFC 3339; `binary` must be base64 text.
/// * Multi-valued attributes: a single value is wrapped into an array; null elements are
///   dropped; elements of a complex attribute with a `value` sub-attribute but no value are
///   dropped; duplicates by (`type`, `value`) are dropped, the first winning (for attributes
///   without `value`, such as `addresses`, by the whole element); only the first `primary: true`
///   is kept. Elements of complex attributes must be objects (`roles` sent as a string is
///   `invalidValue`), and a JSON document inside a string `roles`/`entitlements` value (Entra's
///   AppRoleAssignmentsComplex) is `invalidValue`.
/// * A single-valued complex attribute with a `value` sub-attribute (the enterprise `manager`)
///   also accepts a bare string (→ `{"value": s}`) and an array (its first element).
/// * An unknown attribute with a non-null value → 400 `invalidSyntax` naming it; an unknown
///   attribute with `null` is dropped (Microsoft's legacy sample sends `"department": null` at
///   the top level). Attributes of an extension must be under its URN: a bare `department` is
///   unknown here.
/// * A missing required attribute (`userName`, Group `displayName`) → 400 `invalidValue`.
/// * Output: `schemas` first, then the core attributes in schema order, then each present
///   extension object (attributes in schema order). Never `id`, `meta` or `password`.
pub fn normalize(rt: &ResourceTypeDef, body: &Value, mode: WriteMode) -> Result<Value, ScimError> {
    let _ = mode;
    let Some(obj) = body.as_object() else {
        return Err(ScimError::invalid_syntax(
            "the resource must be a JSON object",
        ));
    };
    let mut slots = Slots::new(rt);
    for (key, value) in obj {
        slots.place_top_level(rt, key, value)?;
    }
    slots.render(rt)
}

/// The raw values collected per schema and attribute, before normalisation.
struct Slots<'b> {
    per_schema: Vec<(&'static SchemaDef, Vec<Option<&'b Value>>)>,
}

impl<'b> Slots<'b> {
    fn new(rt: &ResourceTypeDef) -> Self {
        let per_schema = rt
            .schemas()
            .map(|s| (s, vec![None; s.attributes.len()]))
            .collect();
        Self { per_schema }
    }

    fn place_top_level(
        &mut self,
        rt: &ResourceTypeDef,
        key: &str,
        value: &'b Value,
    ) -> Result<(), ScimError> {
        if eq_ci(key, "schemas") {
            return Ok(());
        }
        if let Some(ext) = rt.extensions.iter().find(|e| eq_ci(e.schema.id, key)) {
            return match value {
                Value::Object(members) => members
                    .iter()
                    .try_for_each(|(k, v)| self.place(ext.schema, k, v)),
                v if crate::json::is_unassigned(v) => Ok(()),
                _ => Err(ScimError::invalid_value(format!(
                    "'{}' must be an object",
                    ext.schema.id
                ))),
            };
        }
        for schema in rt.schemas() {
            if let Some(rest) = strip_urn(key, schema.id) {
                return self.place(schema, rest, value);
            }
        }
        self.place(rt.schema, key, value)
    }

    fn place(
        &mut self,
        schema: &'static SchemaDef,
        name: &str,
        value: &'b Value,
    ) -> Result<(), ScimError> {
        let Some((_, slots)) = self
            .per_schema
            .iter_mut()
            .find(|(s, _)| std::ptr::eq(*s, schema))
        else {
            return Ok(());
        };
        let Some(index) = schema.attributes.iter().position(|a| eq_ci(a.name, name)) else {
            if value.is_null() {
                return Ok(());
            }
            return Err(ScimError::invalid_syntax(format!(
                "unknown attribute '{}'",
                clip(name)
            )));
        };
        // Duplicate keys differing only in case: the last one wins, like JSON itself.
        if let (Some(attr), Some(slot)) = (schema.attributes.get(index), slots.get_mut(index))
            && client_writable(attr)
        {
            *slot = Some(value);
        }
        Ok(())
    }

    fn render(self, rt: &ResourceTypeDef) -> Result<Value, ScimError> {
        let mut schemas = vec![Value::String(rt.schema.id.to_owned())];
        let mut core = Map::new();
        let mut extensions = Map::new();
        for (schema, slots) in self.per_schema {
            // An extension's required attributes bind only a resource that
            // uses the extension (its schemaExtensions entry is optional).
            let in_use = std::ptr::eq(schema, rt.schema) || slots.iter().any(Option::is_some);
            let mut out = Map::new();
            for (attr, raw) in schema.attributes.iter().zip(slots) {
                let normalized = match raw {
                    Some(v) => normalize_attr(attr, v)?,
                    None => None,
                };
                match normalized {
                    Some(v) => {
                        out.insert(attr.name.to_owned(), v);
                    }
                    None if in_use && attr.required && client_writable(attr) => {
                        return Err(ScimError::invalid_value(format!(
                            "attribute '{}' is required",
                            attr.name
                        )));
                    }
                    None => {}
                }
            }
            if std::ptr::eq(schema, rt.schema) {
                core = out;
            } else if !out.is_empty() {
                schemas.push(Value::String(schema.id.to_owned()));
                extensions.insert(schema.id.to_owned(), Value::Object(out));
            }
        }
        let mut doc = Map::new();
        doc.insert("schemas".to_owned(), Value::Array(schemas));
        doc.extend(core);
        doc.extend(extensions);
        Ok(Value::Object(doc))
    }
}

/// Removes from a stored document the extension objects (top-level URN
/// keys) and `schemas` entries of extensions `rt` no longer has: a tenant
/// that removed an extension schema no longer sees, returns or re-validates
/// values stored under it.
pub fn drop_unknown_extensions(rt: &ResourceTypeDef, doc: &mut Value) {
    let Some(obj) = doc.as_object_mut() else {
        return;
    };
    let known = |urn: &str| rt.schemas().any(|s| eq_ci(s.id, urn));
    obj.retain(|k, _| !k.to_ascii_lowercase().starts_with("urn:") || known(k));
    if let Some(Value::Array(schemas)) = obj.get_mut("schemas") {
        schemas.retain(|s| s.as_str().is_none_or(known));
    }
}

/// readOnly attributes are server-owned and writeOnly ones are never stored: both are dropped.
pub(crate) fn client_writable(attr: &AttributeDef) -> bool {
    matches!(
        attr.mutability,
        Mutability::ReadWrite | Mutability::Immutable
    )
}

/// `key` minus a case-insensitive `urn` + `:` prefix.
pub(crate) fn strip_urn<'k>(key: &'k str, urn: &str) -> Option<&'k str> {
    let head = key.get(..urn.len())?;
    let rest = key.get(urn.len()..)?.strip_prefix(':')?;
    (eq_ci(head, urn) && !rest.is_empty()).then_some(rest)
}

#[cfg(test)]
mod tests;
