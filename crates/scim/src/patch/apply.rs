//! Applying PATCH operations: target resolution (paths, no-path values, schema URNs) and
//! mutability checks. The value-level semantics live in `ops`.

use serde_json::{Map, Value};

use super::ops;
use super::{PatchOpKind, PatchOperation};
use crate::error::{ScimError, clip};
use crate::filter::parse_attr_path;
use crate::json::{eq_ci, find_key, take_ci};
use crate::path::PatchPath;
use crate::resource::{WriteMode, client_writable, normalize, normalize_attr};
use crate::schema::{AttributeDef, Mutability, ResourceTypeDef, SchemaDef};

/// Apply operations in order to a canonical document produced by `normalize`; all or nothing: on error the input is untouched and the error returned; on success the result is re-normalised (WriteMode::Replace) so it is canonical. `resource_id` is the resource's id (a no-path value containing `"id"` equal to it is ignored, Okta sends that).
///
/// Semantics, RFC 7644 §3.5.2 plus the deviations Entra ID and Okta need:
/// * **Errors follow the member at fault**: an unknown attribute or sub-attribute in `path`
///   (or a filter on a single-valued attribute) → 400 `invalidPath`; an unknown key in a
///   no-path `value` object → 400 `invalidSyntax` (as in [`normalize`]); a bad value type →
///   400 `invalidValue`; targeting a readOnly attribute (`id`, `meta`, `groups`,
///   `manager.displayName`, ...) → 400 `mutability`, except a no-path `"id"` equal to
///   `resource_id` (Okta), which is ignored; changing an immutable sub-attribute of an existing
///   element (Group `members`) → 400 `mutability`.
/// * **No-path values**: each key is resolved as a path, so plain names, dotted names
///   (`"name.givenName"`), URN-prefixed names and a schema URN holding an object all work; a
///   key with a `null` value that names no attribute is ignored; `schemas` is ignored.
/// * **Unassigned values** (`null`, `""`, `[]`) in add/replace clear the target (Microsoft's
///   validator and the `manager` clear), except that adding nothing to a multi-valued
///   attribute leaves it unchanged.
/// * **Single-valued complex** targets are merged sub-attribute by sub-attribute (§3.5.2.1/3),
///   except that a new `value` for a reference (`manager`) replaces the whole object so no
///   stale `$ref` survives; `manager` also accepts a bare id and the legacy one-element array.
/// * **Multi-valued** targets: `add` appends (equal elements are not duplicated); `replace`
///   without filter replaces the whole array; `remove` without filter and without value
///   removes the attribute, but `remove` with a `value` list removes only the listed elements
///   (matched by `value`), never all (Entra ID removes group members this way).
/// * **Value filters**: `remove` removes the matching elements (or only `sub` from them);
///   `add`/`replace` update the matching elements, and when nothing matches they upsert an
///   element built from the filter's `eq` terms (see `ops::filtered`); a filter that does not
///   determine an element → 400 `noTarget`.
/// * Removing something absent succeeds silently.
pub fn apply_patch(
    rt: &ResourceTypeDef,
    resource: &Value,
    ops: &[PatchOperation],
    resource_id: &str,
) -> Result<Value, ScimError> {
    let Some(original) = resource.as_object() else {
        return Err(ScimError::invalid_syntax(
            "the resource must be a JSON object",
        ));
    };
    // Work on a copy: an error anywhere leaves the caller's document untouched.
    let mut doc = original.clone();
    for (i, op) in ops.iter().enumerate() {
        let engine = Engine { rt, resource_id };
        engine.apply_op(&mut doc, op).map_err(|e| ScimError {
            detail: format!("Operations[{i}]: {}", e.detail),
            ..e
        })?;
    }
    normalize(rt, &Value::Object(doc), WriteMode::Replace)
}

struct Engine<'a> {
    rt: &'a ResourceTypeDef,
    resource_id: &'a str,
}

impl Engine<'_> {
    fn apply_op(&self, doc: &mut Map<String, Value>, op: &PatchOperation) -> Result<(), ScimError> {
        match (&op.path, op.op) {
            (None, PatchOpKind::Remove) => {
                Err(ScimError::no_target("a remove operation needs a path"))
            }
            (None, kind) => match &op.value {
                Some(Value::Object(members)) => self.apply_members(doc, kind, members, None),
                _ => Err(ScimError::invalid_syntax(
                    "an operation without path needs an object value",
                )),
            },
            (Some(path), kind) => self.apply_path(doc, kind, path, op.value.as_ref()),
        }
    }

    /// Applies each key of a no-path value (or of a schema-URN object, `schema` set) as a path.
    fn apply_members(
        &self,
        doc: &mut Map<String, Value>,
        kind: PatchOpKind,
        members: &Map<String, Value>,
        schema: Option<&'static SchemaDef>,
    ) -> Result<(), ScimError> {
        for (key, v) in members {
            if eq_ci(key, "schemas") {
                continue;
            }
            if eq_ci(key, "id") && v.as_str() == Some(self.resource_id) {
                // Okta's group rename sends the resource's own id along in the value.
                continue;
            }
            if let Some(inner) = self.rt.schema_by_urn(key).filter(|_| schema.is_none()) {
                self.apply_schema_value(doc, kind, inner, v)?;
                continue;
            }
            let unknown =
                || ScimError::invalid_syntax(format!("unknown attribute '{}'", clip(key)));
            let mut attr = parse_attr_path(key).map_err(|_| unknown())?;
            if attr.uri.is_none() {
                attr.uri = schema.map(|s| s.id.to_owned());
            }
            if self.rt.resolve(&attr).is_none() {
                if v.is_null() {
                    continue;
                }
                return Err(unknown());
            }
            self.apply_path(doc, kind, &PatchPath::attr(attr), Some(v))?;
        }
        Ok(())
    }

    /// A value addressed to a whole schema: `{"urn:...:enterprise:2.0:User": {...}}` or a
    /// path equal to the extension URN.
    fn apply_schema_value(
        &self,
        doc: &mut Map<String, Value>,
        kind: PatchOpKind,
        schema: &'static SchemaDef,
        v: &Value,
    ) -> Result<(), ScimError> {
        match v {
            Value::Object(members) => self.apply_members(doc, kind, members, Some(schema)),
            v if ops::clears(v) && self.rt.is_extension(schema) => {
                take_ci(doc, schema.id);
                Ok(())
            }
            _ => Err(ScimError::invalid_syntax(format!(
                "'{}' must be an object",
                schema.id
            ))),
        }
    }

    fn apply_path(
        &self,
        doc: &mut Map<String, Value>,
        kind: PatchOpKind,
        path: &PatchPath,
        value: Option<&Value>,
    ) -> Result<(), ScimError> {
        if let Some(schema) = self.whole_extension(path) {
            return match (kind, value) {
                (PatchOpKind::Remove, _) => {
                    take_ci(doc, schema.id);
                    Ok(())
                }
                (_, Some(v)) => self.apply_schema_value(doc, kind, schema, v),
                (_, None) => Err(ScimError::invalid_syntax("'value' is required")),
            };
        }
        // Error details name attributes only, never the filter (it carries values).
        let resolved = self.rt.resolve(&path.attr).ok_or_else(|| {
            ScimError::invalid_path(format!(
                "unknown attribute '{}'",
                clip(&path.attr.to_string())
            ))
        })?;
        let attr = resolved.attr;
        let sub = match (&path.filter, &path.sub) {
            (Some(_), Some(name)) => Some(attr.sub_attribute(name).ok_or_else(|| {
                ScimError::invalid_path(format!(
                    "unknown sub-attribute '{}.{}'",
                    attr.name,
                    clip(name)
                ))
            })?),
            (Some(_), None) => None,
            (None, _) => resolved.sub,
        };
        if path.filter.is_some() && !attr.multi_valued {
            return Err(ScimError::invalid_path(format!(
                "'{}' is single-valued and cannot take a value filter",
                attr.name
            )));
        }
        check_writable(attr, sub)?;
        if kind != PatchOpKind::Remove && value.is_none() {
            return Err(ScimError::invalid_syntax("'value' is required"));
        }
        let Some(container) =
            container_mut(doc, self.rt, resolved.schema, kind != PatchOpKind::Remove)
        else {
            return Ok(()); // removing from an absent extension: nothing to do
        };
        let current = take_ci(container, attr.name);
        let target = ops::Target {
            attr,
            sub,
            filter: path.filter.as_ref(),
        };
        let new = ops::apply(kind, &target, current, value)?;
        // Each operation leaves its attribute canonical: a bad value is reported by the
        // operation that sent it (even if a later one removes it), and later operations see
        // normalised values. writeOnly values (`password`) are dropped unchecked, as on POST.
        if !client_writable(attr) {
            return Ok(());
        }
        if let Some(v) = new.map(|v| normalize_attr(attr, &v)).transpose()?.flatten() {
            container.insert(attr.name.to_owned(), v);
        }
        Ok(())
    }

    /// The extension whose URN the path spells out entirely (`urn:...:enterprise:2.0:User`).
    fn whole_extension(&self, path: &PatchPath) -> Option<&'static SchemaDef> {
        let uri = path.attr.uri.as_deref()?;
        if path.filter.is_some() || path.sub.is_some() || path.attr.sub.is_some() {
            return None;
        }
        let urn = format!("{uri}:{}", path.attr.name);
        self.rt
            .extensions
            .iter()
            .map(|e| e.schema)
            .find(|s| eq_ci(s.id, &urn))
    }
}

/// readOnly attributes and sub-attributes cannot be targeted (RFC 7644 §3.5.2: `mutability`).
fn check_writable(attr: &AttributeDef, sub: Option<&AttributeDef>) -> Result<(), ScimError> {
    if attr.mutability == Mutability::ReadOnly {
        return Err(ScimError::mutability(format!(
            "attribute '{}' is read-only",
            attr.name
        )));
    }
    match sub {
        Some(s) if s.mutability == Mutability::ReadOnly => Err(ScimError::mutability(format!(
            "attribute '{}.{}' is read-only",
            attr.name, s.name
        ))),
        _ => Ok(()),
    }
}

/// The object holding `schema`'s attributes: the document itself for the core schema, the
/// object under the URN for an extension (created when `create`).
fn container_mut<'d>(
    doc: &'d mut Map<String, Value>,
    rt: &ResourceTypeDef,
    schema: &SchemaDef,
    create: bool,
) -> Option<&'d mut Map<String, Value>> {
    if !rt.is_extension(schema) {
        return Some(doc);
    }
    let key = find_key(doc, schema.id).unwrap_or(schema.id).to_owned();
    if !doc.contains_key(&key) && !create {
        return None;
    }
    let slot = doc.entry(key).or_insert_with(|| Value::Object(Map::new()));
    if !slot.is_object() {
        if !create {
            return None;
        }
        *slot = Value::Object(Map::new());
    }
    slot.as_object_mut()
}
