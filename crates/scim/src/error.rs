//! SCIM error values (RFC 7644 §3.12).
//!
//! Every fallible function of this crate returns a [`ScimError`]: an HTTP status, an optional
//! `scimType` and a short human `detail`. The detail names the offending attribute, operator or
//! position; it never echoes a request body or an attribute value (a password must never leak
//! into an error body or a log line).

use serde_json::{Value, json};

use crate::schema::ERROR_SCHEMA;

/// The `scimType` error keywords of RFC 7644 §3.12, Table 9.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ScimType {
    /// The filter syntax is invalid or the filter uses an unsupported operator or attribute.
    InvalidFilter,
    /// The filter yields more results than the server is willing to return.
    TooMany,
    /// One or more attribute values are already in use or reserved.
    Uniqueness,
    /// The attempted modification is not compatible with the target attribute's mutability.
    Mutability,
    /// The request body structure was invalid or did not conform to the schema.
    InvalidSyntax,
    /// The `path` attribute was invalid or malformed.
    InvalidPath,
    /// The path did not yield an attribute or value that could be operated on.
    NoTarget,
    /// A required value was missing, or the value is not compatible with the attribute type.
    InvalidValue,
    /// The specified SCIM protocol version is not supported.
    InvalidVers,
    /// The request cannot be completed because it carries sensitive information in the URI.
    Sensitive,
    /// The `cursor` is not valid here: malformed, forged, or issued for another query
    /// (RFC 9865).
    InvalidCursor,
    /// The `cursor` has expired (RFC 9865).
    ExpiredCursor,
}

impl ScimType {
    /// Every variant, in RFC table order (RFC 9865's two last).
    pub const ALL: [ScimType; 12] = [
        ScimType::InvalidFilter,
        ScimType::TooMany,
        ScimType::Uniqueness,
        ScimType::Mutability,
        ScimType::InvalidSyntax,
        ScimType::InvalidPath,
        ScimType::NoTarget,
        ScimType::InvalidValue,
        ScimType::InvalidVers,
        ScimType::Sensitive,
        ScimType::InvalidCursor,
        ScimType::ExpiredCursor,
    ];

    /// The keyword exactly as spelled in RFC 7644 §3.12 (e.g. `"invalidFilter"`).
    pub fn as_str(self) -> &'static str {
        match self {
            ScimType::InvalidFilter => "invalidFilter",
            ScimType::TooMany => "tooMany",
            ScimType::Uniqueness => "uniqueness",
            ScimType::Mutability => "mutability",
            ScimType::InvalidSyntax => "invalidSyntax",
            ScimType::InvalidPath => "invalidPath",
            ScimType::NoTarget => "noTarget",
            ScimType::InvalidValue => "invalidValue",
            ScimType::InvalidVers => "invalidVers",
            ScimType::Sensitive => "sensitive",
            ScimType::InvalidCursor => "invalidCursor",
            ScimType::ExpiredCursor => "expiredCursor",
        }
    }

    /// Inverse of [`ScimType::as_str`]; exact spelling only (these are protocol keywords, not
    /// attribute names). `None` for anything else.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// The HTTP status RFC 7644 §3.12 pairs with this keyword: 409 for `uniqueness`,
    /// 403 for `sensitive`, 400 for every other.
    pub fn status(self) -> u16 {
        match self {
            ScimType::Uniqueness => 409,
            ScimType::Sensitive => 403,
            _ => 400,
        }
    }
}

impl std::fmt::Display for ScimType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A SCIM protocol error: what the gateway renders as an `urn:...:Error` body.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{detail}")]
pub struct ScimError {
    /// HTTP status code (4xx for everything this crate produces).
    pub status: u16,
    /// The RFC 7644 `scimType`, where the RFC defines one for the situation.
    pub scim_type: Option<ScimType>,
    /// Short human sentence; never contains request values.
    pub detail: String,
    /// The rule that refused the request and the attribute it refused, when
    /// more precise than the `scimType` (see [`Diagnostic`]).
    pub diagnostic: Option<Diagnostic>,
}

/// The extension of an error body naming the rule that fired.
pub const DIAGNOSTIC_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error:Diagnostic";

/// Which documented rule refused a request, and on which attribute path
/// (empty when the rule concerns no attribute). Rendered under
/// [`DIAGNOSTIC_SCHEMA`] in every error body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub rule: String,
    pub attribute: String,
}

impl Diagnostic {
    pub fn new(rule: impl Into<String>, attribute: impl Into<String>) -> Self {
        Self {
            rule: rule.into(),
            attribute: attribute.into(),
        }
    }

    /// The rule of an error that names none: its `scimType`, else its
    /// status (`notFound`, `tooManyRequests`, …).
    pub fn default_for(status: u16, scim_type: Option<ScimType>) -> Self {
        let rule = match (scim_type, status) {
            (Some(t), _) => t.as_str(),
            (None, 401) => "unauthorized",
            (None, 403) => "forbidden",
            (None, 404) => "notFound",
            (None, 405) => "methodNotAllowed",
            (None, 406) => "notAcceptable",
            (None, 408) => "requestTimeout",
            (None, 409) => "conflict",
            (None, 412) => "preconditionFailed",
            (None, 413) => "payloadTooLarge",
            (None, 415) => "unsupportedMediaType",
            (None, 429) => "tooManyRequests",
            (None, 501) => "notImplemented",
            (None, 503) => "unavailable",
            (None, 504) => "timeout",
            (None, s) if s >= 500 => "internal",
            (None, _) => "badRequest",
        };
        Self::new(rule, "")
    }

    /// The JSON object under [`DIAGNOSTIC_SCHEMA`].
    pub fn to_json(&self) -> Value {
        json!({"rule": self.rule, "attribute": self.attribute})
    }
}

impl ScimError {
    /// A fully specified error.
    pub fn new(status: u16, scim_type: Option<ScimType>, detail: impl Into<String>) -> Self {
        Self {
            status,
            scim_type,
            detail: detail.into(),
            diagnostic: None,
        }
    }

    /// The same error, naming the rule that fired and the attribute path.
    pub fn with_rule(mut self, rule: impl Into<String>, attribute: impl Into<String>) -> Self {
        self.diagnostic = Some(Diagnostic::new(rule, attribute));
        self
    }

    /// The diagnostic of this error: its own, else the default for its
    /// status and `scimType`.
    pub fn diagnostic(&self) -> Diagnostic {
        self.diagnostic
            .clone()
            .unwrap_or_else(|| Diagnostic::default_for(self.status, self.scim_type))
    }

    /// An error with `scim_type` and the status the RFC pairs with it.
    pub fn of_type(scim_type: ScimType, detail: impl Into<String>) -> Self {
        Self::new(scim_type.status(), Some(scim_type), detail)
    }

    /// 400 `invalidFilter`.
    pub fn invalid_filter(detail: impl Into<String>) -> Self {
        Self::of_type(ScimType::InvalidFilter, detail)
    }

    /// 400 `invalidPath`.
    pub fn invalid_path(detail: impl Into<String>) -> Self {
        Self::of_type(ScimType::InvalidPath, detail)
    }

    /// 400 `invalidValue`.
    pub fn invalid_value(detail: impl Into<String>) -> Self {
        Self::of_type(ScimType::InvalidValue, detail)
    }

    /// 400 `invalidSyntax`.
    pub fn invalid_syntax(detail: impl Into<String>) -> Self {
        Self::of_type(ScimType::InvalidSyntax, detail)
    }

    /// 400 `mutability`.
    pub fn mutability(detail: impl Into<String>) -> Self {
        Self::of_type(ScimType::Mutability, detail)
    }

    /// 400 `noTarget`.
    pub fn no_target(detail: impl Into<String>) -> Self {
        Self::of_type(ScimType::NoTarget, detail)
    }

    /// 409 `uniqueness`.
    pub fn uniqueness(detail: impl Into<String>) -> Self {
        Self::of_type(ScimType::Uniqueness, detail)
    }

    /// 400 `tooMany`.
    pub fn too_many(detail: impl Into<String>) -> Self {
        Self::of_type(ScimType::TooMany, detail)
    }

    /// The RFC 7644 §3.12 JSON body: `schemas`, `status` as a JSON *string* (as the RFC and
    /// Microsoft's samples show), `scimType` when set, and `detail`.
    pub fn to_body(&self) -> Value {
        let mut body = json!({
            "schemas": [ERROR_SCHEMA],
            "status": self.status.to_string(),
        });
        if let (Some(t), Some(map)) = (self.scim_type, body.as_object_mut()) {
            map.insert("scimType".into(), Value::String(t.as_str().into()));
        }
        if let Some(map) = body.as_object_mut() {
            map.insert("detail".into(), Value::String(self.detail.clone()));
            map.insert(DIAGNOSTIC_SCHEMA.into(), self.diagnostic().to_json());
        }
        body
    }
}

/// Shortens a client-supplied name (attribute key, operator word) for use in an error detail,
/// so that a hostile multi-kilobyte key does not end up verbatim in logs and bodies.
pub(crate) fn clip(name: &str) -> String {
    const MAX: usize = 64;
    match name.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}…", &name[..cut]),
        None => name.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_round_trip_and_statuses_follow_the_rfc() {
        for t in ScimType::ALL {
            assert_eq!(ScimType::parse(t.as_str()), Some(t));
        }
        assert_eq!(ScimType::parse("invalidfilter"), None);
        assert_eq!(ScimType::Uniqueness.status(), 409);
        assert_eq!(ScimType::Sensitive.status(), 403);
        assert_eq!(ScimError::no_target("x").status, 400);
    }

    #[test]
    fn body_has_string_status_and_scim_type() {
        let body = ScimError::uniqueness("userName is already taken").to_body();
        assert_eq!(body["status"], "409");
        assert_eq!(body["scimType"], "uniqueness");
        assert_eq!(body["schemas"][0], ERROR_SCHEMA);
        let plain = ScimError::new(404, None, "not found").to_body();
        assert!(plain.get("scimType").is_none());
    }

    #[test]
    fn clip_bounds_long_names() {
        assert_eq!(clip("short"), "short");
        let long = "é".repeat(200);
        assert_eq!(clip(&long).chars().count(), 65);
    }
}
