//! RFC 7643 §4.1 User schema (attribute metadata of §8.7.1).

use super::common::{DISPLAY, EXTERNAL_ID, ID, META, PRIMARY, value_display_type_primary};
use super::{AttrType, AttributeDef, Mutability, Returned, SchemaDef, USER_SCHEMA, Uniqueness};

const NAME_SUBS: &[AttributeDef] = &[
    AttributeDef::string(
        "formatted",
        "The full name, including all middle names, titles, and suffixes as appropriate, \
         formatted for display.",
    ),
    AttributeDef::string("familyName", "The family name of the User, or last name."),
    AttributeDef::string("givenName", "The given name of the User, or first name."),
    AttributeDef::string("middleName", "The middle name(s) of the User."),
    AttributeDef::string(
        "honorificPrefix",
        "The honorific prefix(es) of the User, or title.",
    ),
    AttributeDef::string(
        "honorificSuffix",
        "The honorific suffix(es) of the User, or suffix.",
    ),
];

const EMAIL_SUBS: &[AttributeDef] =
    &value_display_type_primary("Email address for the User.", &["work", "home", "other"]);

const PHONE_SUBS: &[AttributeDef] = &value_display_type_primary(
    "Phone number of the User.",
    &["work", "home", "mobile", "fax", "pager", "other"],
);

const IM_SUBS: &[AttributeDef] = &value_display_type_primary(
    "Instant messaging address for the User.",
    &["aim", "gtalk", "icq", "xmpp", "msn", "skype", "qq", "yahoo"],
);

const PHOTO_SUBS: &[AttributeDef] = &[
    AttributeDef::reference("value", "URL of a photo of the User.", &["external"]),
    DISPLAY,
    AttributeDef::string("type", "A label indicating the attribute's function.")
        .canonical(&["photo", "thumbnail"]),
    PRIMARY,
];

const ADDRESS_SUBS: &[AttributeDef] = &[
    AttributeDef::string(
        "formatted",
        "The full mailing address, formatted for display.",
    ),
    AttributeDef::string("streetAddress", "The full street address component."),
    AttributeDef::string("locality", "The city or locality component."),
    AttributeDef::string("region", "The state or region component."),
    AttributeDef::string("postalCode", "The zip code or postal code component."),
    AttributeDef::string(
        "country",
        "The country name component (ISO 3166-1 alpha-2).",
    ),
    AttributeDef::string("type", "A label indicating the attribute's function.")
        .canonical(&["work", "home", "other"]),
    PRIMARY,
];

const GROUP_MEMBERSHIP_SUBS: &[AttributeDef] = &[
    AttributeDef::string("value", "The identifier of the User's group.").read_only(),
    AttributeDef::reference(
        "$ref",
        "The URI of the corresponding 'Group' resource to which the user belongs.",
        &["User", "Group"],
    )
    .read_only(),
    DISPLAY.read_only(),
    AttributeDef::string(
        "type",
        "A label indicating the attribute's function, e.g., 'direct' or 'indirect'.",
    )
    .canonical(&["direct", "indirect"])
    .read_only(),
];

const ENTITLEMENT_SUBS: &[AttributeDef] =
    &value_display_type_primary("The value of an entitlement.", &[]);

const ROLE_SUBS: &[AttributeDef] = &value_display_type_primary("The value of a role.", &[]);

const X509_SUBS: &[AttributeDef] = &[
    AttributeDef::new(
        "value",
        AttrType::Binary,
        "The value of an X.509 certificate.",
    ),
    DISPLAY,
    AttributeDef::string("type", "A label indicating the attribute's function."),
    PRIMARY,
];

const USER_ATTRIBUTES: &[AttributeDef] = &[
    ID,
    EXTERNAL_ID,
    META,
    AttributeDef::string(
        "userName",
        "Unique identifier for the User, typically used by the user to directly authenticate \
         to the service provider. REQUIRED.",
    )
    .required()
    .uniqueness(Uniqueness::Server),
    AttributeDef::complex("name", "The components of the user's real name.", NAME_SUBS),
    AttributeDef::string(
        "displayName",
        "The name of the User, suitable for display to end-users.",
    ),
    AttributeDef::string(
        "nickName",
        "The casual way to address the user in real life.",
    ),
    AttributeDef::reference(
        "profileUrl",
        "A fully qualified URL pointing to a page representing the User's online profile.",
        &["external"],
    ),
    AttributeDef::string("title", "The user's title, such as 'Vice President'."),
    AttributeDef::string(
        "userType",
        "Used to identify the relationship between the organization and the user.",
    ),
    AttributeDef::string(
        "preferredLanguage",
        "Indicates the User's preferred written or spoken language.",
    ),
    AttributeDef::string(
        "locale",
        "Used to indicate the User's default location for purposes of localizing items.",
    ),
    AttributeDef::string(
        "timezone",
        "The User's time zone in the 'Olson' time zone database format.",
    ),
    AttributeDef::new(
        "active",
        AttrType::Boolean,
        "A Boolean value indicating the User's administrative status.",
    ),
    AttributeDef::string("password", "The User's cleartext password.")
        .mutability(Mutability::WriteOnly)
        .returned(Returned::Never),
    AttributeDef::complex("emails", "Email addresses for the user.", EMAIL_SUBS).multi(),
    AttributeDef::complex("phoneNumbers", "Phone numbers for the User.", PHONE_SUBS).multi(),
    AttributeDef::complex("ims", "Instant messaging addresses for the User.", IM_SUBS).multi(),
    AttributeDef::complex("photos", "URLs of photos of the User.", PHOTO_SUBS).multi(),
    AttributeDef::complex(
        "addresses",
        "A physical mailing address for this User.",
        ADDRESS_SUBS,
    )
    .multi(),
    AttributeDef::complex(
        "groups",
        "A list of groups to which the user belongs, either through direct membership or \
         through nested groups.",
        GROUP_MEMBERSHIP_SUBS,
    )
    .multi()
    .read_only(),
    AttributeDef::complex(
        "entitlements",
        "A list of entitlements for the User that represent a thing the User has.",
        ENTITLEMENT_SUBS,
    )
    .multi(),
    AttributeDef::complex(
        "roles",
        "A list of roles for the User that collectively represent who the User is.",
        ROLE_SUBS,
    )
    .multi(),
    AttributeDef::complex(
        "x509Certificates",
        "A list of certificates issued to the User.",
        X509_SUBS,
    )
    .multi(),
];

/// RFC 7643 §4.1 `urn:ietf:params:scim:schemas:core:2.0:User`.
pub static USER_SCHEMA_DEF: SchemaDef = SchemaDef {
    id: USER_SCHEMA,
    name: "User",
    description: "User Account",
    attributes: USER_ATTRIBUTES,
};
