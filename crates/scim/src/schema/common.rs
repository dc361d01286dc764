//! Attribute-definition builders and the attributes shared by every resource type
//! (RFC 7643 §3.1 common attributes) or by several multi-valued attributes.

use super::{AttrType, AttributeDef, Mutability, Returned, Uniqueness};

// === impl AttributeDef (const builders) ===

impl AttributeDef {
    /// A single-valued, optional, case-insensitive, readWrite, returned-by-default attribute
    /// without uniqueness: the RFC 7643 §2.2 defaults.
    pub const fn new(name: &'static str, ty: AttrType, description: &'static str) -> Self {
        Self {
            name,
            ty,
            multi_valued: false,
            description,
            required: false,
            case_exact: false,
            mutability: Mutability::ReadWrite,
            returned: Returned::Default,
            uniqueness: Uniqueness::None,
            canonical_values: &[],
            reference_types: &[],
            sub_attributes: &[],
        }
    }

    /// A `string` attribute with the defaults of [`AttributeDef::new`].
    pub const fn string(name: &'static str, description: &'static str) -> Self {
        Self::new(name, AttrType::String, description)
    }

    /// A `complex` attribute with the given sub-attributes.
    pub const fn complex(
        name: &'static str,
        description: &'static str,
        subs: &'static [AttributeDef],
    ) -> Self {
        let mut a = Self::new(name, AttrType::Complex, description);
        a.sub_attributes = subs;
        a
    }

    /// A `reference` attribute pointing at the given reference types.
    pub const fn reference(
        name: &'static str,
        description: &'static str,
        types: &'static [&'static str],
    ) -> Self {
        let mut a = Self::new(name, AttrType::Reference, description);
        a.reference_types = types;
        a
    }

    /// Marks the attribute multi-valued.
    pub const fn multi(mut self) -> Self {
        self.multi_valued = true;
        self
    }

    /// Marks the attribute required.
    pub const fn required(mut self) -> Self {
        self.required = true;
        self
    }

    /// Marks the attribute case-exact.
    pub const fn case_exact(mut self) -> Self {
        self.case_exact = true;
        self
    }

    /// Sets the mutability.
    pub const fn mutability(mut self, m: Mutability) -> Self {
        self.mutability = m;
        self
    }

    /// Sets the `returned` characteristic.
    pub const fn returned(mut self, r: Returned) -> Self {
        self.returned = r;
        self
    }

    /// Sets the uniqueness.
    pub const fn uniqueness(mut self, u: Uniqueness) -> Self {
        self.uniqueness = u;
        self
    }

    /// Sets the canonical values.
    pub const fn canonical(mut self, values: &'static [&'static str]) -> Self {
        self.canonical_values = values;
        self
    }

    /// Shorthand for `mutability(Mutability::ReadOnly)`.
    pub const fn read_only(self) -> Self {
        self.mutability(Mutability::ReadOnly)
    }
}

// === common attributes (RFC 7643 §3.1) ===

/// `id`: assigned by the service provider; readOnly, returned always, caseExact.
pub(super) const ID: AttributeDef = AttributeDef::string(
    "id",
    "Unique identifier for the SCIM resource as defined by the service provider.",
)
.case_exact()
.read_only()
.returned(Returned::Always)
.uniqueness(Uniqueness::Server);

/// `externalId`: the provisioning client's identifier; caseExact, readWrite.
pub(super) const EXTERNAL_ID: AttributeDef = AttributeDef::string(
    "externalId",
    "A string that is an identifier for the resource as defined by the provisioning client.",
)
.case_exact();

const META_SUBS: &[AttributeDef] = &[
    AttributeDef::string(
        "resourceType",
        "The name of the resource type of the resource.",
    )
    .case_exact()
    .read_only(),
    AttributeDef::new(
        "created",
        AttrType::DateTime,
        "The date and time the resource was added to the service provider.",
    )
    .read_only(),
    AttributeDef::new(
        "lastModified",
        AttrType::DateTime,
        "The most recent date and time that the details of this resource were updated.",
    )
    .read_only(),
    AttributeDef::reference(
        "location",
        "The URI of the resource being returned.",
        &["uri"],
    )
    .case_exact()
    .read_only(),
    AttributeDef::string(
        "version",
        "The version (entity tag) of the resource being returned.",
    )
    .case_exact()
    .read_only(),
];

/// `meta`: resource metadata maintained by the service provider; readOnly.
pub(super) const META: AttributeDef = AttributeDef::complex(
    "meta",
    "A complex attribute containing resource metadata.",
    META_SUBS,
)
.read_only();

// === shared sub-attributes of multi-valued attributes (RFC 7643 §2.4) ===

pub(super) const DISPLAY: AttributeDef = AttributeDef::string(
    "display",
    "A human-readable name, primarily used for display purposes.",
);

pub(super) const PRIMARY: AttributeDef = AttributeDef::new(
    "primary",
    AttrType::Boolean,
    "A Boolean value indicating the 'primary' or preferred attribute value for this attribute. \
     The primary attribute value 'true' MUST appear no more than once.",
);

/// `value`, `display`, `type` and `primary` with the given value description and canonical types.
pub(super) const fn value_display_type_primary(
    value_description: &'static str,
    types: &'static [&'static str],
) -> [AttributeDef; 4] {
    [
        AttributeDef::string("value", value_description),
        DISPLAY,
        AttributeDef::string("type", "A label indicating the attribute's function.")
            .canonical(types),
        PRIMARY,
    ]
}
