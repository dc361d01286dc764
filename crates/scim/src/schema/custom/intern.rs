//! The [`Interner`]: each distinct extension spec, and each distinct set of
//! them on a resource type, built once into `&'static` definitions.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use super::{AttributeSpec, ExtensionSpec, MAX_EXTENSIONS, MAX_INTERNED, bad, leak_str};
use crate::error::{ScimError, clip};
use crate::schema::{AttributeDef, ExtensionDef, ResourceTypeDef, SchemaDef};

/// Definitions built from specs, each distinct one once per process.
#[derive(Debug, Default)]
pub struct Interner {
    schemas: Mutex<HashMap<ExtensionSpec, &'static SchemaDef>>,
    types: Mutex<HashMap<Vec<usize>, &'static ResourceTypeDef>>,
}

impl Interner {
    pub fn new() -> Self {
        Self::default()
    }

    /// The definition of `spec` (validated first).
    pub fn schema(&self, spec: &ExtensionSpec) -> Result<&'static SchemaDef, ScimError> {
        let mut schemas = self.schemas.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(def) = schemas.get(spec) {
            return Ok(def);
        }
        spec.validate()?;
        if schemas.len() >= MAX_INTERNED {
            return Err(ScimError::new(
                503,
                None,
                "too many distinct extension schemas in this process",
            ));
        }
        let attributes: Vec<AttributeDef> =
            spec.attributes.iter().map(AttributeSpec::leak).collect();
        let def: &'static SchemaDef = Box::leak(Box::new(SchemaDef {
            id: leak_str(&spec.urn),
            name: leak_str(&spec.name),
            description: leak_str(&spec.description),
            attributes: Box::leak(attributes.into_boxed_slice()),
        }));
        schemas.insert(spec.clone(), def);
        Ok(def)
    }

    /// `base` (a static resource type) with `extensions` added after its
    /// own, as a definition that lives for the process (the same one for the
    /// same extensions). Without extensions this is `base` itself. 400
    /// `invalidValue` when two URNs clash (equal, or one a prefix of another).
    pub fn resource_type(
        &self,
        base: &'static ResourceTypeDef,
        extensions: &[ExtensionSpec],
    ) -> Result<&'static ResourceTypeDef, ScimError> {
        if extensions.is_empty() {
            return Ok(base);
        }
        if extensions.len() > MAX_EXTENSIONS {
            return Err(bad(format!(
                "at most {MAX_EXTENSIONS} extension schemas per resource type"
            )));
        }
        let mut all: Vec<ExtensionDef> = base.extensions.to_vec();
        for spec in extensions {
            let clash = base
                .schemas()
                .map(|s| s.id)
                .chain(all.iter().map(|e| e.schema.id))
                .find(|u| urns_clash(u, &spec.urn));
            if let Some(u) = clash {
                return Err(bad(format!(
                    "schema URN '{}' clashes with '{u}'",
                    clip(&spec.urn)
                )));
            }
            all.push(ExtensionDef {
                schema: self.schema(spec)?,
                required: false,
            });
        }
        let key: Vec<usize> = std::iter::once(std::ptr::from_ref(base) as usize)
            .chain(all.iter().map(|e| std::ptr::from_ref(e.schema) as usize))
            .collect();
        let mut types = self.types.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(rt) = types.get(&key) {
            return Ok(rt);
        }
        if types.len() >= MAX_INTERNED {
            return Err(ScimError::new(
                503,
                None,
                "too many distinct extension sets in this process",
            ));
        }
        let rt: &'static ResourceTypeDef = Box::leak(Box::new(ResourceTypeDef {
            extensions: Box::leak(all.into_boxed_slice()),
            ..base.clone()
        }));
        types.insert(key, rt);
        Ok(rt)
    }
}

/// Equal URNs, or one a prefix of the other followed by `:` (a path
/// `urn:a:b:name` would then be ambiguous).
fn urns_clash(a: &str, b: &str) -> bool {
    let (a, b) = (a.to_ascii_lowercase(), b.to_ascii_lowercase());
    a == b || a.starts_with(&format!("{b}:")) || b.starts_with(&format!("{a}:"))
}
