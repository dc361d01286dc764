//! Validation of request fields into domain values; every failure is
//! INVALID_ARGUMENT (through [`PolicyError`]).

use proto::policy::v1 as pb;

use crate::domain::{EffectiveRecord, RoleName, TenantId, resource_id};
use crate::error::PolicyError;
use crate::role::Candidate;

/// The largest page `ListUsersByRole` and `ListRoleHistory` return.
pub const MAX_PAGE_SIZE: u32 = 1000;
const DEFAULT_PAGE_SIZE: u32 = 100;

/// A page size: 0 asks for the default, larger than the maximum is capped.
pub fn page(requested: u32) -> u32 {
    match requested {
        0 => DEFAULT_PAGE_SIZE,
        n => n.min(MAX_PAGE_SIZE),
    }
}

pub fn tenant(id: &str) -> Result<TenantId, PolicyError> {
    TenantId::parse(id)
}

pub fn user(id: &str) -> Result<String, PolicyError> {
    resource_id(id, "user id")
}

pub fn group(id: &str) -> Result<String, PolicyError> {
    resource_id(id, "group id")
}

pub fn assignment(a: Option<pb::Assignment>) -> Result<Candidate, PolicyError> {
    let pb::Assignment {
        group_id,
        role,
        priority,
    } = a.ok_or_else(|| PolicyError::InvalidArgument("assignment is required".into()))?;
    Ok(Candidate {
        group_id: group(&group_id)?,
        role: RoleName::parse(&role)?.as_str().to_owned(),
        priority,
    })
}

/// A default role: empty clears it; `Disabled` cannot be one.
pub fn default_role(name: &str) -> Result<Option<RoleName>, PolicyError> {
    match name {
        "" => Ok(None),
        n => match RoleName::parse(n)? {
            r if r.is_disabled() => Err(PolicyError::InvalidArgument(
                "Disabled cannot be the default role".into(),
            )),
            r => Ok(Some(r)),
        },
    }
}

/// NOT_FOUND for a user policy has never seen.
pub fn found(record: Option<EffectiveRecord>) -> Result<EffectiveRecord, PolicyError> {
    record.ok_or(PolicyError::NotFound("user"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_are_defaulted_and_capped() {
        assert_eq!(page(0), DEFAULT_PAGE_SIZE);
        assert_eq!(page(7), 7);
        assert_eq!(page(u32::MAX), MAX_PAGE_SIZE);
    }

    #[test]
    fn disabled_is_no_default_role() {
        assert!(default_role("").is_ok_and(|r| r.is_none()));
        assert!(default_role("Guest").is_ok_and(|r| r.is_some()));
        assert!(matches!(
            default_role("disabled"),
            Err(PolicyError::InvalidArgument(_))
        ));
    }

    #[test]
    fn an_assignment_is_required_and_checked() {
        assert!(assignment(None).is_err());
        let bad = pb::Assignment {
            group_id: String::new(),
            role: "R".into(),
            priority: 0,
        };
        assert!(assignment(Some(bad)).is_err());
    }
}
