//! Identifiers and values of the identity domain, each with a validating
//! constructor, and the conversion of a canonical SCIM user into the columns
//! that storage indexes.

use std::fmt;

use serde_json::Value;

use crate::error::IdentityError;

/// A tenant's URL slug: 1-63 lowercase ASCII letters, digits and '-', not
/// starting or ending with '-'.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TenantId(String);

impl TenantId {
    pub fn parse(s: &str) -> Result<Self, IdentityError> {
        let ok = !s.is_empty()
            && s.len() <= 63
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !s.starts_with('-')
            && !s.ends_with('-');
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(IdentityError::InvalidArgument(
                "tenant id must be 1-63 lowercase letters, digits or '-'".into(),
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A resource id: a UUID in its hyphenated lowercase form. Anything else can
/// never name a stored resource, so it is reported as not found by callers.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ResourceId(String);

impl ResourceId {
    pub fn new() -> Self {
        Self(uuid::Uuid::new_v4().hyphenated().to_string())
    }

    pub fn parse(s: &str) -> Option<Self> {
        uuid::Uuid::try_parse(s)
            .ok()
            .map(|u| Self(u.hyphenated().to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for ResourceId {
    fn default() -> Self {
        Self::new()
    }
}

/// Microseconds since the Unix epoch; how every timestamp is stored, so that
/// filters such as `meta.lastModified gt "..."` compare integers in SQL.
pub type Micros = i64;

pub fn now_micros() -> Micros {
    let now = time::OffsetDateTime::now_utc();
    (now.unix_timestamp_nanos() / 1_000) as Micros
}

/// Parses an RFC 3339 timestamp (as used in SCIM filters) into micros.
pub fn parse_rfc3339_micros(s: &str) -> Option<Micros> {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .ok()
        .map(|t| (t.unix_timestamp_nanos() / 1_000) as Micros)
}

/// The columns of a user that storage keeps outside the JSON document, so
/// that filters on them use indexes. Derived from the canonical document only.
#[derive(Debug, Clone, PartialEq)]
pub struct UserColumns {
    pub user_name: String,
    pub external_id: Option<String>,
    pub display_name: Option<String>,
    pub active: bool,
    pub emails: Vec<EmailRow>,
    /// The canonical SCIM document as JSON text.
    pub resource: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct EmailRow {
    pub value: String,
    pub kind: Option<String>,
    pub primary: bool,
}

impl UserColumns {
    /// `doc` must come from `scim::resource::normalize` or `scim::patch::apply_patch`.
    pub fn from_canonical(doc: &Value) -> Result<Self, IdentityError> {
        let user_name = doc
            .get("userName")
            .and_then(Value::as_str)
            .ok_or_else(|| scim::ScimError::invalid_value("userName is required"))?
            .to_owned();
        let text = |k: &str| doc.get(k).and_then(Value::as_str).map(str::to_owned);
        // RFC 7643 §4.1.1: a user without `active` is treated as active.
        let active = doc.get("active").and_then(Value::as_bool).unwrap_or(true);
        let emails = doc
            .get("emails")
            .and_then(Value::as_array)
            .map(|list| {
                list.iter()
                    .filter_map(|e| {
                        Some(EmailRow {
                            value: e.get("value")?.as_str()?.to_owned(),
                            kind: e.get("type").and_then(Value::as_str).map(str::to_owned),
                            primary: e.get("primary").and_then(Value::as_bool).unwrap_or(false),
                        })
                    })
                    .collect()
            })
            .unwrap_or_default();
        Ok(Self {
            user_name,
            external_id: text("externalId"),
            display_name: text("displayName"),
            active,
            emails,
            resource: doc.to_string(),
        })
    }
}

/// The columns of a group kept outside its JSON document.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupColumns {
    pub display_name: String,
    pub external_id: Option<String>,
    /// The canonical SCIM document without `members` (they are rows).
    pub resource: String,
}

impl GroupColumns {
    /// Splits a canonical group document into its columns and its member ids.
    pub fn from_canonical(doc: &Value) -> Result<(Self, Vec<NewMember>), IdentityError> {
        let mut doc = doc.clone();
        let members = match doc.as_object_mut().and_then(|o| o.remove("members")) {
            Some(list) => members(&list)?,
            None => Vec::new(),
        };
        let display_name = doc
            .get("displayName")
            .and_then(Value::as_str)
            .ok_or_else(|| scim::ScimError::invalid_value("displayName is required"))?
            .to_owned();
        let external_id = doc
            .get("externalId")
            .and_then(Value::as_str)
            .map(str::to_owned);
        Ok((
            Self {
                display_name,
                external_id,
                resource: doc.to_string(),
            },
            members,
        ))
    }
}

/// A member as a client sends it.
#[derive(Debug, Clone, PartialEq)]
pub struct NewMember {
    pub id: ResourceId,
    /// `display` as sent (Okta sends the userName); None shows the userName.
    pub display: Option<String>,
}

/// The members of a `members` value: an array of `{"value": id}` (or one
/// such object). Anything that cannot name a user is `invalidValue`.
pub fn members(list: &Value) -> Result<Vec<NewMember>, IdentityError> {
    let items: Vec<&Value> = match list {
        Value::Array(items) => items.iter().collect(),
        Value::Object(_) => vec![list],
        Value::Null => Vec::new(),
        _ => {
            return Err(scim::ScimError::invalid_value(
                "members must be a list of {\"value\": id}",
            )
            .into());
        }
    };
    let mut out: Vec<NewMember> = Vec::with_capacity(items.len());
    let mut seen: std::collections::HashSet<ResourceId> =
        std::collections::HashSet::with_capacity(items.len());
    for item in items {
        let value = item
            .get("value")
            .and_then(Value::as_str)
            .ok_or_else(|| scim::ScimError::invalid_value("every member needs a value"))?;
        let id = ResourceId::parse(value).ok_or_else(|| {
            scim::ScimError::invalid_value(format!("member '{value}' is not a user of this tenant"))
        })?;
        if seen.insert(id.clone()) {
            let display = item
                .get("display")
                .and_then(Value::as_str)
                .map(str::to_owned);
            out.push(NewMember { id, display });
        }
    }
    Ok(out)
}

/// A change to a group's membership rows.
#[derive(Debug, Clone, PartialEq)]
pub enum MemberOp {
    Add(Vec<NewMember>),
    Remove(Vec<ResourceId>),
    RemoveAll,
    ReplaceAll(Vec<NewMember>),
}

/// Lowercases for the case-insensitive columns (`caseExact: false`).
pub fn fold_case(s: &str) -> String {
    s.to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_ids_are_validated() {
        assert!(TenantId::parse("demo").is_ok());
        assert!(TenantId::parse("acme-2").is_ok());
        for bad in ["", "Demo", "-a", "a-", "a b", "a/b", &"x".repeat(64)] {
            assert!(TenantId::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn resource_ids_must_be_uuids() {
        assert!(ResourceId::parse("not-a-uuid").is_none());
        let id = ResourceId::new();
        assert_eq!(ResourceId::parse(id.as_str()), Some(id));
    }

    #[test]
    fn columns_come_from_the_document() {
        let doc = serde_json::json!({
            "userName": "Alice@Example.com",
            "active": false,
            "emails": [{"value": "a@x.com", "type": "work", "primary": true}]
        });
        let cols = UserColumns::from_canonical(&doc).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(cols.user_name, "Alice@Example.com");
        assert!(!cols.active);
        assert_eq!(cols.emails.len(), 1);
        assert_eq!(cols.emails[0].kind.as_deref(), Some("work"));
    }
}
