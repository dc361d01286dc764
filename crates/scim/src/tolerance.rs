//! A tenant's [`Behaviours`] applied to what its IdP sends, before the
//! strict reading of [`crate::resource::normalize`] and the PATCH engine:
//! unknown attributes dropped (and reported) or refused, boolean strings
//! refused where a profile does not accept them (the strict reading
//! accepts them), bare member ids wrapped or refused. Every refusal names
//! its rule and attribute path in the error's diagnostic.

use serde_json::{Map, Value};

use crate::error::{ScimError, clip};
use crate::json::eq_ci;
use crate::patch::PatchOperation;
use crate::profile::{Behaviours, rules};
use crate::schema::{AttrType, AttributeDef, ResourceTypeDef, SchemaDef};

/// What applying a profile changed: the paths of unknown attributes it
/// dropped, and of bare member ids it wrapped.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Tolerated {
    pub ignored: Vec<String>,
    pub wrapped_members: bool,
}

/// Applies `b` to a POST or PUT body (or a no-path PATCH value).
pub fn resource(
    rt: &ResourceTypeDef,
    body: &mut Value,
    b: Behaviours,
) -> Result<Tolerated, ScimError> {
    let mut done = Tolerated::default();
    if let Value::Object(obj) = body {
        walk_top_level(rt, obj, b, &mut done, false)?;
    }
    Ok(done)
}

/// Applies `b` to parsed PATCH operations: an operation on an unknown
/// attribute is dropped or refused, its value checked like a resource's.
pub fn patch(
    rt: &ResourceTypeDef,
    ops: &mut Vec<PatchOperation>,
    b: Behaviours,
) -> Result<Tolerated, ScimError> {
    let mut done = Tolerated::default();
    let mut kept = Vec::with_capacity(ops.len());
    for mut op in std::mem::take(ops) {
        let Some(path) = &op.path else {
            if let Some(Value::Object(obj)) = &mut op.value {
                walk_top_level(rt, obj, b, &mut done, true)?;
            }
            kept.push(op);
            continue;
        };
        // The path of a whole extension: its value is that extension's object.
        let whole = path.to_string();
        if let Some(ext) = rt.extensions.iter().find(|e| eq_ci(e.schema.id, &whole)) {
            if let Some(Value::Object(members)) = &mut op.value {
                walk_schema(ext.schema, members, b, &mut done)?;
            }
            kept.push(op);
            continue;
        }
        // A bare name may be an extension's (`manager`), as the PATCH
        // engine resolves it: core first, then each extension.
        let named = |s: &&SchemaDef| s.attributes.iter().any(|a| eq_ci(a.name, &path.attr.name));
        let schema = match &path.attr.uri {
            Some(uri) => rt.schemas().find(|s| eq_ci(s.id, uri)),
            None => rt.schemas().find(named),
        };
        let attr =
            schema.and_then(|s| s.attributes.iter().find(|a| eq_ci(a.name, &path.attr.name)));
        let Some(attr) = attr else {
            let name = path.to_string();
            unknown(&name, b, &mut done)?;
            continue;
        };
        let sub_name = path.attr.sub.as_deref().or(path.sub.as_deref());
        let target = match sub_name {
            Some(sub) => match attr.sub_attributes.iter().find(|s| eq_ci(s.name, sub)) {
                Some(s) => Some((s, format!("{}.{}", attr.name, s.name))),
                None => {
                    unknown(&format!("{}.{}", attr.name, clip(sub)), b, &mut done)?;
                    continue;
                }
            },
            None => None,
        };
        if let Some(value) = &mut op.value {
            match target {
                Some((sub, name)) => check_scalar(sub, value, &name, b)?,
                // A filtered path's value is one element of the attribute.
                None if path.filter.is_some() => {
                    if let Value::Object(members) = value {
                        walk_sub_attributes(attr, members, attr.name, b, &mut done)?;
                    }
                }
                None => check_attribute(attr, value, attr.name, b, &mut done)?,
            }
        }
        kept.push(op);
    }
    *ops = kept;
    Ok(done)
}

fn unknown(path: &str, b: Behaviours, done: &mut Tolerated) -> Result<(), ScimError> {
    if b.ignore_unknown_attributes {
        done.ignored.push(clip(path));
        Ok(())
    } else {
        Err(
            ScimError::invalid_syntax(format!("unknown attribute '{}'", clip(path)))
                .with_rule(rules::UNKNOWN_ATTRIBUTE, clip(path)),
        )
    }
}

/// `any_schema`: a bare name may be an extension's (a no-path PATCH value,
/// as the PATCH engine reads it); in a resource it is the core schema's.
fn walk_top_level(
    rt: &ResourceTypeDef,
    obj: &mut Map<String, Value>,
    b: Behaviours,
    done: &mut Tolerated,
    any_schema: bool,
) -> Result<(), ScimError> {
    let keys: Vec<String> = obj.keys().cloned().collect();
    for key in keys {
        if eq_ci(&key, "schemas") {
            continue;
        }
        if let Some(ext) = rt.extensions.iter().find(|e| eq_ci(e.schema.id, &key)) {
            if let Some(Value::Object(members)) = obj.get_mut(&key) {
                walk_schema(ext.schema, members, b, done)?;
            }
            continue;
        }
        let (schema, name) = match rt
            .schemas()
            .find_map(|s| strip_urn(&key, s.id).map(|rest| (s, rest.to_owned())))
        {
            Some(found) => found,
            None if key.to_ascii_lowercase().starts_with("urn:") => {
                // An extension this tenant does not have: its values are unknown.
                if obj.get(&key).is_some_and(|v| !v.is_null()) {
                    unknown(&key, b, done)?;
                    obj.remove(&key);
                }
                continue;
            }
            None => {
                let head = key.split('.').next().unwrap_or(&key);
                let owner = rt
                    .schemas()
                    .find(|s| s.attributes.iter().any(|a| eq_ci(a.name, head)));
                match owner {
                    Some(s) if any_schema => (s, key.clone()),
                    _ => (rt.schema, key.clone()),
                }
            }
        };
        if !known_in(schema, &name, obj, &key, b, done)? {
            obj.remove(&key);
        }
    }
    Ok(())
}

fn walk_schema(
    schema: &SchemaDef,
    obj: &mut Map<String, Value>,
    b: Behaviours,
    done: &mut Tolerated,
) -> Result<(), ScimError> {
    let keys: Vec<String> = obj.keys().cloned().collect();
    for key in keys {
        // Clients repeat `schemas` inside an extension's object.
        if eq_ci(&key, "schemas") {
            continue;
        }
        if !known_in(schema, &key.clone(), obj, &key, b, done)? {
            obj.remove(&key);
        }
    }
    Ok(())
}

/// Checks `obj[key]` as the attribute `name` of `schema`; false when it
/// is unknown and to be dropped.
fn known_in(
    schema: &SchemaDef,
    name: &str,
    obj: &mut Map<String, Value>,
    key: &str,
    b: Behaviours,
    done: &mut Tolerated,
) -> Result<bool, ScimError> {
    // A dotted no-path key (`name.givenName`) names its first segment.
    let head = name.split('.').next().unwrap_or(name);
    let Some(attr) = schema.attributes.iter().find(|a| eq_ci(a.name, head)) else {
        if obj.get(key).is_none_or(Value::is_null) {
            return Ok(true);
        }
        unknown(name, b, done)?;
        return Ok(false);
    };
    if head.len() == name.len()
        && let Some(value) = obj.get_mut(key)
    {
        check_attribute(attr, value, attr.name, b, done)?;
    }
    Ok(true)
}

fn check_attribute(
    attr: &AttributeDef,
    value: &mut Value,
    path: &str,
    b: Behaviours,
    done: &mut Tolerated,
) -> Result<(), ScimError> {
    if attr.ty != AttrType::Complex {
        return match value {
            Value::Array(items) if attr.multi_valued => items
                .iter_mut()
                .try_for_each(|v| check_scalar(attr, v, path, b)),
            v => check_scalar(attr, v, path, b),
        };
    }
    match value {
        Value::Array(items) => {
            for item in items.iter_mut() {
                check_element(attr, item, path, b, done)?;
            }
            Ok(())
        }
        Value::String(_) if attr.multi_valued => check_element(attr, value, path, b, done),
        Value::Object(members) => walk_sub_attributes(attr, members, path, b, done),
        _ => Ok(()),
    }
}

/// One element of a multi-valued complex attribute.
fn check_element(
    attr: &AttributeDef,
    item: &mut Value,
    path: &str,
    b: Behaviours,
    done: &mut Tolerated,
) -> Result<(), ScimError> {
    match item {
        Value::String(id) if eq_ci(attr.name, "members") => {
            if !b.bare_member_ids {
                return Err(ScimError::invalid_value(
                    "a member must be an object with a 'value' (not a bare id)",
                )
                .with_rule(rules::BARE_MEMBER_ID, path));
            }
            let mut member = Map::new();
            member.insert("value".into(), Value::String(std::mem::take(id)));
            *item = Value::Object(member);
            done.wrapped_members = true;
            Ok(())
        }
        Value::Object(members) => walk_sub_attributes(attr, members, path, b, done),
        _ => Ok(()),
    }
}

fn walk_sub_attributes(
    attr: &AttributeDef,
    members: &mut Map<String, Value>,
    path: &str,
    b: Behaviours,
    done: &mut Tolerated,
) -> Result<(), ScimError> {
    let keys: Vec<String> = members.keys().cloned().collect();
    for key in keys {
        let sub_path = format!("{path}.{}", clip(&key));
        match attr.sub_attributes.iter().find(|s| eq_ci(s.name, &key)) {
            Some(sub) => {
                if let Some(v) = members.get_mut(&key) {
                    check_scalar(sub, v, &format!("{path}.{}", sub.name), b)?;
                }
            }
            // `$ref` is a sub-attribute of references even where a schema omits it.
            None if key == "$ref" => {}
            None if members.get(&key).is_none_or(Value::is_null) => {}
            None => {
                unknown(&sub_path, b, done)?;
                members.remove(&key);
            }
        }
    }
    Ok(())
}

/// A boolean sent as a string where the profile does not accept one.
fn check_scalar(
    attr: &AttributeDef,
    value: &Value,
    path: &str,
    b: Behaviours,
) -> Result<(), ScimError> {
    let is_bool_text = |s: &str| s.eq_ignore_ascii_case("true") || s.eq_ignore_ascii_case("false");
    match value {
        Value::String(s)
            if attr.ty == AttrType::Boolean && !b.boolean_strings && is_bool_text(s) =>
        {
            Err(
                ScimError::invalid_value(format!("'{path}' must be a JSON boolean, not a string"))
                    .with_rule(rules::BOOLEAN_STRING, path),
            )
        }
        _ => Ok(()),
    }
}

fn strip_urn<'k>(key: &'k str, urn: &str) -> Option<&'k str> {
    let head = key.get(..urn.len())?;
    let rest = key.get(urn.len()..)?.strip_prefix(':')?;
    (eq_ci(head, urn) && !rest.is_empty()).then_some(rest)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use serde_json::json;

    use super::*;
    use crate::profile::IdpProfile;

    const E: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

    #[test]
    fn unknown_attributes_are_dropped_or_refused_by_profile() {
        let body = json!({"userName": "a", "nickname": "n", "favouriteColour": "blue",
                          "name": {"givenName": "A", "middleInitial": "Q"},
                          E: {"department": "D", "costCentre": "1"}});
        let mut entra = body.clone();
        let done = resource(&crate::USER, &mut entra, IdpProfile::Entra.behaviours()).unwrap();
        assert_eq!(
            done.ignored,
            ["favouriteColour", "name.middleInitial", "costCentre"]
        );
        assert!(entra.get("favouriteColour").is_none());
        assert_eq!(entra["name"], json!({"givenName": "A"}));
        let mut generic = body;
        let e = resource(&crate::USER, &mut generic, IdpProfile::Generic.behaviours()).unwrap_err();
        assert_eq!(e.status, 400);
        let d = e.diagnostic.unwrap();
        assert_eq!(
            (d.rule.as_str(), d.attribute.as_str()),
            ("unknownAttribute", "favouriteColour")
        );
    }

    #[test]
    fn boolean_strings_and_bare_members_by_profile() {
        let body = json!({"userName": "a", "active": "True", "roles": [{"value": "r", "primary": "True"}]});
        let mut entra = body.clone();
        assert!(resource(&crate::USER, &mut entra, IdpProfile::Entra.behaviours()).is_ok());
        let mut generic = body;
        let e = resource(&crate::USER, &mut generic, IdpProfile::Generic.behaviours()).unwrap_err();
        assert_eq!(e.diagnostic.unwrap().rule, "booleanString");
        let roles = json!({"userName": "a", "roles": [{"value": "r", "primary": "True"}]});
        let e = resource(
            &crate::USER,
            &mut roles.clone(),
            IdpProfile::Generic.behaviours(),
        )
        .unwrap_err();
        assert_eq!(e.diagnostic.unwrap().attribute, "roles.primary");

        let group = json!({"displayName": "g", "members": ["id-1", {"value": "id-2"}]});
        let mut okta = group.clone();
        let done = resource(&crate::GROUP, &mut okta, IdpProfile::Okta.behaviours()).unwrap();
        assert!(done.wrapped_members);
        assert_eq!(
            okta["members"],
            json!([{"value": "id-1"}, {"value": "id-2"}])
        );
        let e = resource(
            &crate::GROUP,
            &mut group.clone(),
            IdpProfile::Generic.behaviours(),
        )
        .unwrap_err();
        assert_eq!(e.diagnostic.unwrap().rule, "bareMemberId");
    }

    #[test]
    fn a_whole_extension_as_a_patch_path_is_known() {
        let body = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [
            {"op": "add", "path": E, "value": {"schemas": [E], "employeeNumber": "1", "manager": {"value": "m"}}}]});
        let mut ops = crate::patch::parse_patch_request(&body).unwrap();
        let done = patch(&crate::USER, &mut ops, IdpProfile::Generic.behaviours()).unwrap();
        assert!(done.ignored.is_empty());
        assert_eq!(ops.len(), 1);
    }

    #[test]
    fn a_bare_extension_name_in_a_patch_is_known() {
        let body = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [
            {"op": "Add", "path": "manager", "value": [{"value": "m"}]},
            {"op": "Replace", "value": {"department": "D", "name.givenName": "G"}}]});
        let mut ops = crate::patch::parse_patch_request(&body).unwrap();
        let done = patch(&crate::USER, &mut ops, IdpProfile::Generic.behaviours()).unwrap();
        assert!(done.ignored.is_empty());
        assert_eq!(ops.len(), 2);
    }

    #[test]
    fn patch_operations_on_unknown_attributes() {
        let body = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [
            {"op": "Replace", "path": "favouriteColour", "value": "x"},
            {"op": "Replace", "path": "active", "value": "False"},
            {"op": "Add", "path": "members", "value": ["id-1"]}]});
        let mut ops = crate::patch::parse_patch_request(&body).unwrap();
        let done = patch(&crate::USER, &mut ops, IdpProfile::Entra.behaviours()).unwrap();
        // A user has no members: that operation is unknown here too.
        assert_eq!(done.ignored, ["favouriteColour", "members"]);
        assert_eq!(ops.len(), 1);
        let mut ops = crate::patch::parse_patch_request(&body).unwrap();
        let e = patch(&crate::USER, &mut ops, IdpProfile::Generic.behaviours()).unwrap_err();
        assert_eq!(e.diagnostic.unwrap().rule, "unknownAttribute");
        let ops = crate::patch::parse_patch_request(&body).unwrap();
        let e = patch(
            &crate::GROUP,
            &mut ops[2..].to_vec(),
            IdpProfile::Generic.behaviours(),
        )
        .unwrap_err();
        assert_eq!(e.diagnostic.unwrap().rule, "bareMemberId");
    }
}
