//! Static, data-driven schema definitions: RFC 7643 §4.1 User, §4.2 Group and §4.3 Enterprise
//! User, with the full attribute metadata of RFC 7643 §7/§8.7.1, so that `/Schemas` can be
//! rendered from them and the engines can look up types, mutability and case-exactness.

mod common;
pub mod custom;
mod enterprise;
mod group;
mod user;

pub use enterprise::ENTERPRISE_USER_SCHEMA_DEF;
pub use group::GROUP_SCHEMA_DEF;
pub use user::USER_SCHEMA_DEF;

use crate::filter::AttrPath;
use crate::json::eq_ci;

/// Core User schema URN (RFC 7643 §4.1).
pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
/// Enterprise User extension URN (RFC 7643 §4.3).
pub const ENTERPRISE_USER_SCHEMA: &str =
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
/// Core Group schema URN (RFC 7643 §4.2).
pub const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
/// ListResponse message URN (RFC 7644 §3.4.2).
pub const LIST_RESPONSE_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
/// PatchOp message URN (RFC 7644 §3.5.2).
pub const PATCH_OP_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
/// Error message URN (RFC 7644 §3.12).
pub const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
/// SearchRequest message URN (RFC 7644 §3.4.3).
pub const SEARCH_REQUEST_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";
/// BulkRequest message URN (RFC 7644 §3.7).
pub const BULK_REQUEST_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";
/// BulkResponse message URN (RFC 7644 §3.7).
pub const BULK_RESPONSE_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:BulkResponse";
/// ServiceProviderConfig schema URN (RFC 7643 §5).
pub const SERVICE_PROVIDER_CONFIG_SCHEMA: &str =
    "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";
/// ResourceType schema URN (RFC 7643 §6).
pub const RESOURCE_TYPE_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";
/// Schema schema URN (RFC 7643 §7).
pub const SCHEMA_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Schema";

/// The `type` of an attribute (RFC 7643 §2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AttrType {
    String,
    Boolean,
    Decimal,
    Integer,
    DateTime,
    Binary,
    Reference,
    Complex,
}

/// The `mutability` characteristic (RFC 7643 §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mutability {
    ReadOnly,
    ReadWrite,
    Immutable,
    WriteOnly,
}

/// The `returned` characteristic (RFC 7643 §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Returned {
    Always,
    Never,
    Default,
    Request,
}

/// The `uniqueness` characteristic (RFC 7643 §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Uniqueness {
    None,
    Server,
    Global,
}

impl AttrType {
    /// Every value.
    pub const ALL: [AttrType; 8] = [
        AttrType::String,
        AttrType::Boolean,
        AttrType::Decimal,
        AttrType::Integer,
        AttrType::DateTime,
        AttrType::Binary,
        AttrType::Reference,
        AttrType::Complex,
    ];

    /// Inverse of `as_str`, case-insensitive; `None` for anything else.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|v| v.as_str().eq_ignore_ascii_case(s))
    }

    /// The RFC 7643 §7 spelling (`"dateTime"`, `"complex"`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            AttrType::String => "string",
            AttrType::Boolean => "boolean",
            AttrType::Decimal => "decimal",
            AttrType::Integer => "integer",
            AttrType::DateTime => "dateTime",
            AttrType::Binary => "binary",
            AttrType::Reference => "reference",
            AttrType::Complex => "complex",
        }
    }
}

impl Mutability {
    /// Every value.
    pub const ALL: [Mutability; 4] = [
        Mutability::ReadOnly,
        Mutability::ReadWrite,
        Mutability::Immutable,
        Mutability::WriteOnly,
    ];

    /// Inverse of `as_str`, case-insensitive; `None` for anything else.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|v| v.as_str().eq_ignore_ascii_case(s))
    }

    /// The RFC 7643 §7 spelling (`"readOnly"`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Mutability::ReadOnly => "readOnly",
            Mutability::ReadWrite => "readWrite",
            Mutability::Immutable => "immutable",
            Mutability::WriteOnly => "writeOnly",
        }
    }
}

impl Returned {
    /// Every value.
    pub const ALL: [Returned; 4] = [
        Returned::Always,
        Returned::Never,
        Returned::Default,
        Returned::Request,
    ];

    /// Inverse of `as_str`, case-insensitive; `None` for anything else.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|v| v.as_str().eq_ignore_ascii_case(s))
    }

    /// The RFC 7643 §7 spelling (`"always"`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Returned::Always => "always",
            Returned::Never => "never",
            Returned::Default => "default",
            Returned::Request => "request",
        }
    }
}

impl Uniqueness {
    /// Every value.
    pub const ALL: [Uniqueness; 3] = [Uniqueness::None, Uniqueness::Server, Uniqueness::Global];

    /// Inverse of `as_str`, case-insensitive; `None` for anything else.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|v| v.as_str().eq_ignore_ascii_case(s))
    }

    /// The RFC 7643 §7 spelling (`"none"`, `"server"`, `"global"`).
    pub fn as_str(self) -> &'static str {
        match self {
            Uniqueness::None => "none",
            Uniqueness::Server => "server",
            Uniqueness::Global => "global",
        }
    }
}

/// One attribute definition (RFC 7643 §7 "attributes" entry).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttributeDef {
    pub name: &'static str,
    pub ty: AttrType,
    pub multi_valued: bool,
    pub description: &'static str,
    pub required: bool,
    pub case_exact: bool,
    pub mutability: Mutability,
    pub returned: Returned,
    pub uniqueness: Uniqueness,
    pub canonical_values: &'static [&'static str],
    pub reference_types: &'static [&'static str],
    pub sub_attributes: &'static [AttributeDef],
}

/// A schema (RFC 7643 §7): its URN, name, description and top-level attributes.
#[derive(Debug, PartialEq, Eq)]
pub struct SchemaDef {
    pub id: &'static str,
    pub name: &'static str,
    pub description: &'static str,
    pub attributes: &'static [AttributeDef],
}

/// A schema extension of a resource type (RFC 7643 §6 `schemaExtensions`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtensionDef {
    pub schema: &'static SchemaDef,
    pub required: bool,
}

/// A resource type (RFC 7643 §6): endpoint, core schema and extensions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceTypeDef {
    pub id: &'static str,
    pub name: &'static str,
    pub endpoint: &'static str,
    pub description: &'static str,
    pub schema: &'static SchemaDef,
    pub extensions: &'static [ExtensionDef],
}

/// The `User` resource type, with the Enterprise User extension (not required).
pub static USER: ResourceTypeDef = ResourceTypeDef {
    id: "User",
    name: "User",
    endpoint: "/Users",
    description: "User Account",
    schema: &USER_SCHEMA_DEF,
    extensions: &[ExtensionDef {
        schema: &ENTERPRISE_USER_SCHEMA_DEF,
        required: false,
    }],
};

/// The `Group` resource type, without extensions.
pub static GROUP: ResourceTypeDef = ResourceTypeDef {
    id: "Group",
    name: "Group",
    endpoint: "/Groups",
    description: "Group",
    schema: &GROUP_SCHEMA_DEF,
    extensions: &[],
};

/// An attribute path resolved against a resource type's schemas.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedAttr {
    /// The schema defining the attribute (core or extension).
    pub schema: &'static SchemaDef,
    /// The top-level attribute.
    pub attr: &'static AttributeDef,
    /// The sub-attribute, when the path names one.
    pub sub: Option<&'static AttributeDef>,
    /// canonical spelling; `uri` is Some only for extension attributes
    pub canonical: AttrPath,
}

impl ResolvedAttr {
    /// The definition the path ends at: the sub-attribute if any, else the attribute.
    pub fn target(&self) -> &'static AttributeDef {
        self.sub.unwrap_or(self.attr)
    }
}

impl AttributeDef {
    /// The sub-attribute called `name` (case-insensitive).
    pub fn sub_attribute(&self, name: &str) -> Option<&'static AttributeDef> {
        self.sub_attributes.iter().find(|a| eq_ci(a.name, name))
    }
}

impl SchemaDef {
    /// The top-level attribute called `name` (case-insensitive).
    pub fn attribute(&self, name: &str) -> Option<&'static AttributeDef> {
        self.attributes.iter().find(|a| eq_ci(a.name, name))
    }
}

impl ResourceTypeDef {
    /// The core schema followed by every extension schema.
    pub fn schemas(&self) -> impl Iterator<Item = &'static SchemaDef> + use<> {
        let core = self.schema;
        let exts = self.extensions;
        std::iter::once(core).chain(exts.iter().map(|e| e.schema))
    }

    /// True when `schema` is one of this resource type's extensions (not its core schema).
    pub fn is_extension(&self, schema: &SchemaDef) -> bool {
        self.extensions
            .iter()
            .any(|e| std::ptr::eq(e.schema, schema))
    }

    /// The core or extension schema whose URN equals `urn` case-insensitively.
    pub fn schema_by_urn(&self, urn: &str) -> Option<&'static SchemaDef> {
        self.schemas().find(|s| eq_ci(s.id, urn))
    }

    /// Resolve an attribute path (case-insensitive names; optional schema URN prefix, matched
    /// case-insensitively; a path without URN is looked up in the core schema first, then in
    /// extensions) to its definition. None if unknown.
    pub fn resolve(&self, path: &AttrPath) -> Option<ResolvedAttr> {
        let (schema, attr) = match &path.uri {
            Some(uri) => {
                let schema = self.schema_by_urn(uri)?;
                (schema, schema.attribute(&path.name)?)
            }
            None => self
                .schemas()
                .find_map(|s| s.attribute(&path.name).map(|a| (s, a)))?,
        };
        let sub = match &path.sub {
            Some(name) => Some(attr.sub_attribute(name)?),
            None => None,
        };
        let canonical = AttrPath {
            uri: self.is_extension(schema).then(|| schema.id.to_owned()),
            name: attr.name.to_owned(),
            sub: sub.map(|s| s.name.to_owned()),
        };
        Some(ResolvedAttr {
            schema,
            attr,
            sub,
            canonical,
        })
    }
}

#[cfg(test)]
mod tests;
