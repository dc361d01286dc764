//! RFC 7643 §4.3 Enterprise User extension.

use super::{AttributeDef, ENTERPRISE_USER_SCHEMA, SchemaDef};

const MANAGER_SUBS: &[AttributeDef] = &[
    AttributeDef::string(
        "value",
        "The id of the SCIM resource representing the User's manager.",
    ),
    AttributeDef::reference(
        "$ref",
        "The URI of the SCIM resource representing the User's manager.",
        &["User"],
    ),
    AttributeDef::string("displayName", "The displayName of the User's manager.").read_only(),
];

const ENTERPRISE_ATTRIBUTES: &[AttributeDef] = &[
    AttributeDef::string(
        "employeeNumber",
        "Numeric or alphanumeric identifier assigned to a person by the organization.",
    ),
    AttributeDef::string("costCenter", "Identifies the name of a cost center."),
    AttributeDef::string("organization", "Identifies the name of an organization."),
    AttributeDef::string("division", "Identifies the name of a division."),
    AttributeDef::string("department", "Identifies the name of a department."),
    AttributeDef::complex(
        "manager",
        "The User's manager. A complex type that optionally allows service providers to \
         represent organizational hierarchy by referencing the 'id' attribute of another User.",
        MANAGER_SUBS,
    ),
];

/// RFC 7643 §4.3 `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User`.
pub static ENTERPRISE_USER_SCHEMA_DEF: SchemaDef = SchemaDef {
    id: ENTERPRISE_USER_SCHEMA,
    name: "EnterpriseUser",
    description: "Enterprise User",
    attributes: ENTERPRISE_ATTRIBUTES,
};
