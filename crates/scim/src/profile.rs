//! IdP profiles: a tenant says which IdP provisions it, and with that
//! which documented deviations from RFC 7643/7644 are tolerated. Each
//! behaviour is one switch in [`Behaviours`], set for every profile in
//! [`IdpProfile::behaviours`] and nowhere else.

use std::fmt;

/// The IdP a tenant is provisioned by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum IdpProfile {
    /// Microsoft Entra ID (the default).
    #[default]
    Entra,
    /// Okta.
    Okta,
    /// Any other client: RFC 7643/7644 read strictly.
    Generic,
}

/// The documented behaviours a profile switches on (each one rule name,
/// the name its refusal carries in the error body's diagnostic).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Behaviours {
    /// Rule `unknownAttribute`: an attribute no schema of the resource
    /// type defines, in a POST, PUT or PATCH, is ignored (and named in the
    /// provisioning log) instead of refused with 400 `invalidSyntax`.
    pub ignore_unknown_attributes: bool,
    /// Rule `booleanString`: `"True"`/`"False"` (any case) accepted where a
    /// boolean is expected, sub-attributes such as `roles[].primary`
    /// included, instead of 400 `invalidValue`.
    pub boolean_strings: bool,
    /// Rule `filteredProjection`: `attributes=`/`excludedAttributes=` with a
    /// filtered path (`emails[type eq "work"]`) honoured as the attribute
    /// (`emails`) instead of 400 `invalidValue`.
    pub filtered_projection_paths: bool,
    /// Rule `bareMemberId`: a group member sent as a bare id string
    /// (`"members": ["<id>"]`) read as `{"value": "<id>"}` instead of 400
    /// `invalidValue`.
    pub bare_member_ids: bool,
    /// Error bodies carry the rule that fired under the extension key
    /// [`crate::error::DIAGNOSTIC_SCHEMA`]; off, the body is exactly
    /// RFC 7644 §3.12's (strict clients refuse unknown keys) and a profile
    /// rule is named at the end of `detail` instead.
    pub diagnostic_extension: bool,
}

impl IdpProfile {
    /// Every profile, in the order documentation lists them.
    pub const ALL: [IdpProfile; 3] = [IdpProfile::Entra, IdpProfile::Okta, IdpProfile::Generic];

    /// The profile's name as stored and typed (`entra`, `okta`, `generic`).
    pub fn as_str(self) -> &'static str {
        match self {
            IdpProfile::Entra => "entra",
            IdpProfile::Okta => "okta",
            IdpProfile::Generic => "generic",
        }
    }

    /// Inverse of [`IdpProfile::as_str`], in any case.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|p| p.as_str().eq_ignore_ascii_case(s.trim()))
    }

    /// The one place where each profile's behaviours are set.
    pub fn behaviours(self) -> Behaviours {
        match self {
            IdpProfile::Entra | IdpProfile::Okta => Behaviours {
                ignore_unknown_attributes: true,
                boolean_strings: true,
                filtered_projection_paths: true,
                bare_member_ids: true,
                diagnostic_extension: true,
            },
            IdpProfile::Generic => Behaviours {
                ignore_unknown_attributes: false,
                boolean_strings: false,
                filtered_projection_paths: false,
                bare_member_ids: false,
                diagnostic_extension: false,
            },
        }
    }
}

impl fmt::Display for IdpProfile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Rule names, as error diagnostics and the provisioning log show them.
pub mod rules {
    pub const UNKNOWN_ATTRIBUTE: &str = "unknownAttribute";
    pub const BOOLEAN_STRING: &str = "booleanString";
    pub const FILTERED_PROJECTION: &str = "filteredProjection";
    pub const BARE_MEMBER_ID: &str = "bareMemberId";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_entra_is_the_default() {
        for p in IdpProfile::ALL {
            assert_eq!(IdpProfile::parse(p.as_str()), Some(p));
        }
        assert_eq!(IdpProfile::parse("OKTA"), Some(IdpProfile::Okta));
        assert_eq!(IdpProfile::parse("azure"), None);
        assert_eq!(IdpProfile::default(), IdpProfile::Entra);
        assert!(IdpProfile::Entra.behaviours().boolean_strings);
        assert!(!IdpProfile::Generic.behaviours().ignore_unknown_attributes);
    }
}
