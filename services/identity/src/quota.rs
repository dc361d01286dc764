//! Per-tenant quotas: how many live users and groups one tenant may have,
//! so that no tenant fills the shared database. A create (or a restore of
//! a deleted user) past a quota is refused in its own transaction, which
//! rolls back whole: nothing of it is written, no change is recorded.
//!
//! Members per group need no quota of their own: a member must be a live
//! user of the tenant and a deleted user leaves its groups, so a group has
//! at most as many members as the tenant has users.

use crate::error::IdentityError;

/// Live users per tenant by default: room for the largest directories
/// the platform serves (its scale tests run groups of 150,000 members).
pub const DEFAULT_MAX_USERS: u64 = 2_000_000;
/// Groups per tenant by default.
pub const DEFAULT_MAX_GROUPS: u64 = 200_000;

/// The quotas of every tenant; 0 means no limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quotas {
    pub max_users: u64,
    pub max_groups: u64,
}

impl Default for Quotas {
    fn default() -> Self {
        Self {
            max_users: DEFAULT_MAX_USERS,
            max_groups: DEFAULT_MAX_GROUPS,
        }
    }
}

/// What a quota counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counted {
    Users,
    Groups,
}

impl Counted {
    /// The kind's row in `resource_counts`.
    pub fn kind(self) -> &'static str {
        match self {
            Self::Users => "users",
            Self::Groups => "groups",
        }
    }
}

impl Quotas {
    /// The limit on `what` (0: none).
    pub fn limit(&self, what: Counted) -> u64 {
        match what {
            Counted::Users => self.max_users,
            Counted::Groups => self.max_groups,
        }
    }

    /// Refuses a tenant that has `live` of `what`, counting the one being
    /// written, when that is past its quota.
    pub fn check(&self, what: Counted, live: i64) -> Result<(), IdentityError> {
        let limit = self.limit(what);
        let live = u64::try_from(live).unwrap_or(0);
        if limit > 0 && live > limit {
            return Err(IdentityError::QuotaExceeded {
                kind: what.kind(),
                limit,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_write_past_the_quota_is_refused_and_zero_is_no_limit() {
        let q = Quotas {
            max_users: 2,
            max_groups: 0,
        };
        assert!(q.check(Counted::Users, 2).is_ok());
        let refused = q.check(Counted::Users, 3);
        assert!(
            matches!(
                refused,
                Err(IdentityError::QuotaExceeded {
                    kind: "users",
                    limit: 2
                })
            ),
            "{refused:?}"
        );
        assert!(q.check(Counted::Groups, i64::MAX).is_ok());
    }
}
