//! Extension schemas a tenant defines for itself (Entra ID lets admins map
//! custom attributes under their own URN), next to the static RFC 7643 ones.
//!
//! An [`ExtensionSpec`] is read from the RFC 7643 §7 schema representation
//! and validated. The engines work on `&'static` definitions (the static
//! User and Group stay a zero-cost fast path), so an [`Interner`] turns each
//! distinct spec into a definition that lives for the rest of the process:
//! built once per distinct content (registering the same schema again, or
//! refreshing a cache, allocates nothing), bounded by [`MAX_INTERNED`] and
//! by the size limits below. A tenant's resource type is then the static one
//! plus its interned extensions ([`Interner::resource_type`]).

use serde_json::{Map, Value, json};

mod intern;

pub use intern::Interner;

use super::{AttrType, AttributeDef, Mutability, Returned, Uniqueness};
use crate::error::{ScimError, clip};
use crate::json::{eq_ci, get_ci};

/// Most attributes in one extension schema.
pub const MAX_ATTRIBUTES: usize = 100;
/// Most sub-attributes of one complex attribute.
pub const MAX_SUB_ATTRIBUTES: usize = 20;
/// Longest attribute name.
pub const MAX_NAME_LEN: usize = 64;
/// Longest schema URN.
pub const MAX_URN_LEN: usize = 200;
/// Longest description.
pub const MAX_DESCRIPTION_LEN: usize = 1024;
/// Most extension schemas of one resource type of one tenant.
pub const MAX_EXTENSIONS: usize = 20;
/// Most distinct definitions one process interns.
pub const MAX_INTERNED: usize = 10_000;

/// A tenant's extension schema: its URN, name, description and attributes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ExtensionSpec {
    pub urn: String,
    pub name: String,
    pub description: String,
    pub attributes: Vec<AttributeSpec>,
}

/// One attribute of an extension (RFC 7643 §7 characteristics).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AttributeSpec {
    pub name: String,
    pub ty: AttrType,
    pub multi_valued: bool,
    pub description: String,
    pub required: bool,
    pub case_exact: bool,
    pub mutability: Mutability,
    pub returned: Returned,
    pub canonical_values: Vec<String>,
    pub reference_types: Vec<String>,
    /// Only for `complex` attributes, which need at least one.
    pub sub_attributes: Vec<AttributeSpec>,
}

fn bad(detail: impl Into<String>) -> ScimError {
    ScimError::invalid_value(detail)
}

fn text(obj: &Map<String, Value>, name: &str) -> Result<Option<String>, ScimError> {
    match get_ci(obj, name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(bad(format!("'{name}' must be a string"))),
    }
}

fn flag(obj: &Map<String, Value>, name: &str) -> Result<bool, ScimError> {
    match get_ci(obj, name) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(bad(format!("'{name}' must be true or false"))),
    }
}

fn strings(obj: &Map<String, Value>, name: &str) -> Result<Vec<String>, ScimError> {
    match get_ci(obj, name) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| {
                i.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| bad(format!("'{name}' must hold strings")))
            })
            .collect(),
        Some(_) => Err(bad(format!("'{name}' must be an array"))),
    }
}

fn keyword<T>(
    obj: &Map<String, Value>,
    name: &str,
    parse: fn(&str) -> Option<T>,
    default: T,
) -> Result<T, ScimError> {
    match text(obj, name)? {
        None => Ok(default),
        Some(s) => parse(&s).ok_or_else(|| bad(format!("unknown {name} '{}'", clip(&s)))),
    }
}

/// RFC 7643 §2.1 ATTRNAME (`$ref` too, for sub-attributes).
fn valid_name(name: &str, sub: bool) -> bool {
    let mut chars = name.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic());
    (first_ok && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'))
        || (sub && name == "$ref")
}

fn valid_urn(urn: &str) -> bool {
    urn.len() <= MAX_URN_LEN
        && urn.get(..4).is_some_and(|p| eq_ci(p, "urn:"))
        && urn.split(':').all(|part| !part.is_empty())
        && urn
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, ':' | '.' | '-' | '_'))
}

impl ExtensionSpec {
    /// Reads an RFC 7643 §7 schema representation (`id`, `name`,
    /// `description`, `attributes`); omitted characteristics take the
    /// RFC 7643 §2.2 defaults. 400 `invalidValue` for anything malformed.
    pub fn from_json(doc: &Value) -> Result<Self, ScimError> {
        let obj = doc
            .as_object()
            .ok_or_else(|| bad("a schema must be a JSON object"))?;
        let urn = text(obj, "id")?.ok_or_else(|| bad("a schema needs its URN as 'id'"))?;
        let attributes = match get_ci(obj, "attributes") {
            Some(Value::Array(items)) => items
                .iter()
                .map(|a| AttributeSpec::from_json(a, false))
                .collect::<Result<_, _>>()?,
            _ => return Err(bad("a schema needs an 'attributes' array")),
        };
        let spec = Self {
            name: text(obj, "name")?
                .unwrap_or_else(|| urn.rsplit(':').next().unwrap_or_default().to_owned()),
            description: text(obj, "description")?.unwrap_or_default(),
            urn,
            attributes,
        };
        spec.validate()?;
        Ok(spec)
    }

    /// The checks [`ExtensionSpec::from_json`] applies.
    pub fn validate(&self) -> Result<(), ScimError> {
        if !valid_urn(&self.urn) {
            return Err(bad(format!(
                "'{}' is not a schema URN (urn:…, letters, digits, ':', '.', '-', '_')",
                clip(&self.urn)
            )));
        }
        if self
            .urn
            .to_ascii_lowercase()
            .starts_with("urn:ietf:params:scim:")
        {
            return Err(bad(
                "URNs under urn:ietf:params:scim: are reserved by RFC 7643",
            ));
        }
        if self.description.len() > MAX_DESCRIPTION_LEN || self.name.len() > MAX_DESCRIPTION_LEN {
            return Err(bad("the schema's name or description is too long"));
        }
        if self.attributes.is_empty() || self.attributes.len() > MAX_ATTRIBUTES {
            return Err(bad(format!(
                "a schema needs 1 to {MAX_ATTRIBUTES} attributes"
            )));
        }
        unique_names(&self.attributes)?;
        self.attributes.iter().try_for_each(|a| a.validate(false))
    }

    /// The RFC 7643 §7 representation (without `meta`).
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.urn,
            "name": self.name,
            "description": self.description,
            "attributes": self.attributes.iter().map(AttributeSpec::to_json).collect::<Vec<_>>(),
        })
    }
}

fn unique_names(attrs: &[AttributeSpec]) -> Result<(), ScimError> {
    for (i, a) in attrs.iter().enumerate() {
        if attrs[..i].iter().any(|b| eq_ci(&a.name, &b.name)) {
            return Err(bad(format!(
                "attribute '{}' is defined twice",
                clip(&a.name)
            )));
        }
    }
    Ok(())
}

impl AttributeSpec {
    fn from_json(doc: &Value, sub: bool) -> Result<Self, ScimError> {
        let obj = doc
            .as_object()
            .ok_or_else(|| bad("an attribute must be a JSON object"))?;
        let subs = match get_ci(obj, "subAttributes") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) if !sub => items
                .iter()
                .map(|a| AttributeSpec::from_json(a, true))
                .collect::<Result<_, _>>()?,
            Some(_) => return Err(bad("'subAttributes' must be an array, one level deep")),
        };
        Ok(Self {
            name: text(obj, "name")?.ok_or_else(|| bad("an attribute needs a 'name'"))?,
            ty: keyword(obj, "type", AttrType::parse, AttrType::String)?,
            multi_valued: flag(obj, "multiValued")?,
            description: text(obj, "description")?.unwrap_or_default(),
            required: flag(obj, "required")?,
            case_exact: flag(obj, "caseExact")?,
            mutability: keyword(obj, "mutability", Mutability::parse, Mutability::ReadWrite)?,
            returned: keyword(obj, "returned", Returned::parse, Returned::Default)?,
            canonical_values: strings(obj, "canonicalValues")?,
            reference_types: strings(obj, "referenceTypes")?,
            sub_attributes: subs,
        })
        .and_then(|a| {
            match keyword(obj, "uniqueness", Uniqueness::parse, Uniqueness::None)? {
                Uniqueness::None => Ok(a),
                _ => Err(bad(format!(
                    "'{}': only uniqueness \"none\" is supported for tenant attributes",
                    clip(&a.name)
                ))),
            }
        })
    }

    fn validate(&self, sub: bool) -> Result<(), ScimError> {
        let name = clip(&self.name);
        if self.name.len() > MAX_NAME_LEN || !valid_name(&self.name, sub) {
            return Err(bad(format!("'{name}' is not a valid attribute name")));
        }
        if self.description.len() > MAX_DESCRIPTION_LEN {
            return Err(bad(format!("'{name}': description too long")));
        }
        if matches!(
            self.mutability,
            Mutability::ReadOnly | Mutability::WriteOnly
        ) {
            return Err(bad(format!(
                "'{name}': tenant attributes are readWrite or immutable (nothing else writes them)"
            )));
        }
        match (self.ty, self.sub_attributes.len()) {
            (AttrType::Complex, 0) => Err(bad(format!("'{name}': complex needs subAttributes"))),
            (AttrType::Complex, n) if sub || n > MAX_SUB_ATTRIBUTES => Err(bad(format!(
                "'{name}': complex attributes hold 1 to {MAX_SUB_ATTRIBUTES} simple sub-attributes"
            ))),
            (AttrType::Complex, _) => {
                unique_names(&self.sub_attributes)?;
                self.sub_attributes
                    .iter()
                    .try_for_each(|s| s.validate(true))
            }
            (_, 0) => Ok(()),
            (_, _) => Err(bad(format!(
                "'{name}': only complex attributes have subAttributes"
            ))),
        }
    }

    fn to_json(&self) -> Value {
        let mut doc = json!({
            "name": self.name,
            "type": self.ty.as_str(),
            "multiValued": self.multi_valued,
            "description": self.description,
            "required": self.required,
            "caseExact": self.case_exact,
            "mutability": self.mutability.as_str(),
            "returned": self.returned.as_str(),
            "uniqueness": "none",
        });
        if !self.canonical_values.is_empty() {
            doc["canonicalValues"] = json!(self.canonical_values);
        }
        if !self.reference_types.is_empty() {
            doc["referenceTypes"] = json!(self.reference_types);
        }
        if !self.sub_attributes.is_empty() {
            doc["subAttributes"] = self.sub_attributes.iter().map(Self::to_json).collect();
        }
        doc
    }

    /// The definition, with every string and slice given the process's lifetime.
    fn leak(&self) -> AttributeDef {
        let reference_types: Vec<&'static str> =
            if self.ty == AttrType::Reference && self.reference_types.is_empty() {
                vec!["external"]
            } else {
                self.reference_types.iter().map(|s| leak_str(s)).collect()
            };
        let canonical: Vec<&'static str> =
            self.canonical_values.iter().map(|s| leak_str(s)).collect();
        let subs: Vec<AttributeDef> = self.sub_attributes.iter().map(Self::leak).collect();
        AttributeDef {
            name: leak_str(&self.name),
            ty: self.ty,
            multi_valued: self.multi_valued,
            description: leak_str(&self.description),
            required: self.required,
            case_exact: self.case_exact,
            mutability: self.mutability,
            returned: self.returned,
            uniqueness: Uniqueness::None,
            canonical_values: Box::leak(canonical.into_boxed_slice()),
            reference_types: Box::leak(reference_types.into_boxed_slice()),
            sub_attributes: Box::leak(subs.into_boxed_slice()),
        }
    }
}

fn leak_str(s: &str) -> &'static str {
    Box::leak(s.to_owned().into_boxed_str())
}

#[cfg(test)]
mod tests;
