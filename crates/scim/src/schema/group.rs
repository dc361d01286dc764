//! RFC 7643 §4.2 Group schema.

use super::common::{EXTERNAL_ID, ID, META};
use super::{AttributeDef, GROUP_SCHEMA, Mutability, SchemaDef};

// RFC 7643 §4.2: "While values MAY be added or removed, sub-attributes of members are
// 'immutable'", hence every sub-attribute below is immutable.
const MEMBER_SUBS: &[AttributeDef] = &[
    AttributeDef::string("value", "Identifier of the member of this Group.")
        .mutability(Mutability::Immutable),
    AttributeDef::reference(
        "$ref",
        "The URI corresponding to a SCIM resource that is a member of this Group.",
        &["User", "Group"],
    )
    .mutability(Mutability::Immutable),
    AttributeDef::string(
        "display",
        "A human-readable name, primarily used for display purposes.",
    )
    .mutability(Mutability::Immutable),
    AttributeDef::string(
        "type",
        "A label indicating the type of resource, e.g., 'User' or 'Group'.",
    )
    .canonical(&["User", "Group"])
    .mutability(Mutability::Immutable),
];

const GROUP_ATTRIBUTES: &[AttributeDef] = &[
    ID,
    EXTERNAL_ID,
    META,
    // RFC 7643's §8.7.1 listing says `required: false`, but §4.2 says "REQUIRED" and Entra matches
    // groups on displayName; we follow §4.2.
    AttributeDef::string(
        "displayName",
        "A human-readable name for the Group. REQUIRED.",
    )
    .required(),
    AttributeDef::complex("members", "A list of members of the Group.", MEMBER_SUBS).multi(),
];

/// RFC 7643 §4.2 `urn:ietf:params:scim:schemas:core:2.0:Group`.
pub static GROUP_SCHEMA_DEF: SchemaDef = SchemaDef {
    id: GROUP_SCHEMA,
    name: "Group",
    description: "Group",
    attributes: GROUP_ATTRIBUTES,
};
