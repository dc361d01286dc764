//! Identifiers and values of the policy domain, each with a validating
//! constructor, and the records that storage returns.

use std::fmt;

use crate::error::PolicyError;
use crate::role::{Candidate, Reason};

/// The built-in role of inactive and deleted users. Every tenant has it; it
/// cannot be created, deleted or made the default role. It may be assigned to
/// a group (a "blocked" group), where it takes part in priorities like any role.
pub const DISABLED: &str = "Disabled";

/// The longest role name, user id or group id accepted.
const MAX_NAME: usize = 128;
/// The longest role description or lock note accepted.
pub const MAX_TEXT: usize = 1024;

/// Microseconds since the Unix epoch; how every timestamp is stored.
pub type Micros = i64;

/// Now, in [`Micros`].
pub fn now_micros() -> Micros {
    let now = time::OffsetDateTime::now_utc();
    i64::try_from(now.unix_timestamp_nanos() / 1_000).unwrap_or(i64::MAX)
}

/// A tenant's URL slug: 1-63 lowercase ASCII letters, digits and '-', not
/// starting or ending with '-' (the same rule as identity's).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TenantId(String);

impl TenantId {
    /// Validates `s`; INVALID_ARGUMENT otherwise.
    pub fn parse(s: &str) -> Result<Self, PolicyError> {
        let ok = !s.is_empty()
            && s.len() <= 63
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !s.starts_with('-')
            && !s.ends_with('-');
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(PolicyError::InvalidArgument(
                "tenant id must be 1-63 lowercase letters, digits or '-'".into(),
            ))
        }
    }

    /// The slug.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A role name: 1-128 characters, no surrounding whitespace, no control
/// characters. Compared exactly.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RoleName(String);

impl RoleName {
    /// Validates `s`; INVALID_ARGUMENT otherwise.
    pub fn parse(s: &str) -> Result<Self, PolicyError> {
        let ok = !s.is_empty()
            && s.chars().count() <= MAX_NAME
            && s.trim() == s
            && !s.chars().any(char::is_control);
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(PolicyError::InvalidArgument(
                "role name must be 1-128 characters without surrounding spaces".into(),
            ))
        }
    }

    /// True for the built-in `Disabled` in any letter case, so that no
    /// look-alike role can be created.
    pub fn is_disabled(&self) -> bool {
        self.0.eq_ignore_ascii_case(DISABLED)
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Validates a user or group id as identity issues them (opaque, non-empty).
pub fn resource_id(s: &str, what: &str) -> Result<String, PolicyError> {
    if s.is_empty() || s.len() > MAX_NAME || s.chars().any(char::is_control) {
        return Err(PolicyError::InvalidArgument(format!(
            "{what} must be 1-128 characters"
        )));
    }
    Ok(s.to_owned())
}

/// Validates free text (description, note) by length.
pub fn free_text(s: &str, what: &str) -> Result<String, PolicyError> {
    if s.chars().count() > MAX_TEXT {
        return Err(PolicyError::InvalidArgument(format!(
            "{what} must be at most {MAX_TEXT} characters"
        )));
    }
    Ok(s.to_owned())
}

/// A role of a tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleRecord {
    pub name: String,
    pub description: String,
    pub built_in: bool,
}

/// A user's stored effective role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EffectiveRecord {
    pub tenant_id: String,
    pub user_id: String,
    /// Empty when the user has no role.
    pub role: String,
    pub reason: Reason,
    pub locked: bool,
    /// Identity says the user is inactive or deleted.
    pub upstream_disabled: bool,
    /// When the role (or lock state) last changed.
    pub since: Micros,
}

/// One row of the role-change log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleChangeRecord {
    pub seq: i64,
    pub tenant_id: String,
    pub user_id: String,
    pub from_role: String,
    pub to_role: String,
    pub reason: Reason,
    pub at: Micros,
}

/// A change of identity's state that policy replicates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplicaChange {
    /// Created, updated or restored.
    UserChanged { user_id: String, active: bool },
    /// A tombstone; its memberships are gone with it.
    UserDeleted { user_id: String },
    /// The group and its memberships are gone.
    GroupDeleted {
        group_id: String,
        user_ids: Vec<String>,
    },
    MembersAdded {
        group_id: String,
        user_ids: Vec<String>,
    },
    MembersRemoved {
        group_id: String,
        user_ids: Vec<String>,
    },
    /// A change that touches no role (a group rename, or a kind this
    /// version does not know): only the cursor moves past it.
    Other,
}

/// One record of identity's change stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamChange {
    pub seq: i64,
    pub tenant_id: String,
    pub change: ReplicaChange,
}

/// A user as identity's snapshot reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotUser {
    pub user_id: String,
    pub active: bool,
    pub deleted: bool,
    pub group_ids: Vec<String>,
}

/// A policy change to try without making it (`DryRun`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hypothesis {
    SetAssignment(Candidate),
    RemoveAssignment(String),
    /// `None` clears the default role.
    SetDefaultRole(Option<String>),
}

/// A user whose role a hypothetical change would change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleDiff {
    pub user_id: String,
    pub from_role: String,
    pub to_role: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_ids_are_slugs() {
        assert!(TenantId::parse("acme-2").is_ok());
        for bad in ["", "Acme", "-a", "a-", "a b", &"x".repeat(64)] {
            assert!(TenantId::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn role_names_are_trimmed_and_bounded() {
        assert!(RoleName::parse("Field Engineer").is_ok());
        for bad in ["", " Admin", "Admin ", "a\nb", &"r".repeat(129)] {
            assert!(RoleName::parse(bad).is_err(), "{bad:?} accepted");
        }
        assert!(RoleName::parse("disabled").is_ok_and(|r| r.is_disabled()));
    }

    #[test]
    fn ids_and_text_are_bounded() {
        assert!(resource_id("", "user id").is_err());
        assert!(resource_id("u-1", "user id").is_ok());
        assert!(free_text(&"n".repeat(1025), "note").is_err());
        assert!(free_text("", "note").is_ok());
    }
}
