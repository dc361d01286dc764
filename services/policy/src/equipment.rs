//! Equipment holdings and the "disabled users with equipment" report: the
//! domain values that storage returns and the gRPC layer converts.

use crate::domain::{Micros, resource_id};
use crate::error::PolicyError;

/// The longest asset name or tag accepted.
const MAX_ASSET_NAME: usize = 256;
/// Microseconds in a day.
pub const DAY_MICROS: Micros = 86_400_000_000;

/// A checkout as the asset service reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkout {
    pub user_id: String,
    pub asset_id: String,
    pub asset_name: String,
    pub at: Micros,
}

impl Checkout {
    /// Validates the ids and the name; INVALID_ARGUMENT otherwise.
    pub fn parse(
        user_id: &str,
        asset_id: &str,
        asset_name: &str,
        at: Micros,
    ) -> Result<Self, PolicyError> {
        if asset_name.chars().count() > MAX_ASSET_NAME || asset_name.chars().any(char::is_control) {
            return Err(PolicyError::InvalidArgument(format!(
                "asset name must be at most {MAX_ASSET_NAME} characters without control characters"
            )));
        }
        Ok(Self {
            user_id: resource_id(user_id, "user id")?,
            asset_id: resource_id(asset_id, "asset id")?,
            asset_name: asset_name.to_owned(),
            at,
        })
    }
}

/// An asset currently checked out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holding {
    pub tenant_id: String,
    pub user_id: String,
    pub asset_id: String,
    pub asset_name: String,
    pub checked_out: Micros,
}

/// What [`crate::store::EquipmentStore::record_checkout`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckoutOutcome {
    pub holding: Holding,
    /// False for a retry (the user already held the asset).
    pub changed: bool,
    /// The previous holder, when the asset moved.
    pub moved_from: Option<String>,
    /// The user's effective role is Disabled.
    pub user_disabled: bool,
}

/// A user's name and email as identity reports them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Profile {
    pub user_name: String,
    pub display_name: String,
    pub email: String,
}

/// One user of the report, with the assets they hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportUser {
    pub user_id: String,
    pub profile: Profile,
    /// When the role became Disabled (locked users: when deactivated upstream).
    pub disabled_at: Micros,
    pub role: String,
    pub locked: bool,
    pub assets: Vec<Holding>,
}

impl ReportUser {
    /// Whole days since the user was disabled, at `now`.
    pub fn days_since_disabled(&self, now: Micros) -> u32 {
        u32::try_from((now - self.disabled_at).max(0) / DAY_MICROS).unwrap_or(u32::MAX)
    }

    /// How long `asset` has been held since the user was disabled, at `now`.
    pub fn held_since_disabled(&self, asset: &Holding, now: Micros) -> Micros {
        (now - self.disabled_at.max(asset.checked_out)).max(0)
    }
}

/// The report on disabled users with equipment, of one tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub tenant_id: String,
    pub generated_at: Micros,
    /// Effective role Disabled with at least one asset, longest disabled first.
    pub disabled: Vec<ReportUser>,
    /// Role-locked users inactive or deleted upstream.
    pub locked_deactivated: Vec<ReportUser>,
}

impl Report {
    /// Nothing to report.
    pub fn is_empty(&self) -> bool {
        self.disabled.is_empty() && self.locked_deactivated.is_empty()
    }

    /// Longest disabled first, then by user id, in both sections.
    pub fn sort(&mut self) {
        for users in [&mut self.disabled, &mut self.locked_deactivated] {
            users.sort_by(|a, b| {
                a.disabled_at
                    .cmp(&b.disabled_at)
                    .then_with(|| a.user_id.cmp(&b.user_id))
            });
            for u in users.iter_mut() {
                u.assets.sort_by(|a, b| a.asset_id.cmp(&b.asset_id));
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn checkouts_are_validated() {
        assert!(Checkout::parse("u", "a", "Laptop", 0).is_ok());
        assert!(Checkout::parse("", "a", "Laptop", 0).is_err());
        assert!(Checkout::parse("u", "", "Laptop", 0).is_err());
        assert!(Checkout::parse("u", "a", "bad\nname", 0).is_err());
    }

    #[test]
    fn time_held_counts_from_the_later_of_disable_and_checkout() {
        let user = ReportUser {
            user_id: "u".into(),
            profile: Profile::default(),
            disabled_at: 10 * DAY_MICROS,
            role: "Disabled".into(),
            locked: false,
            assets: Vec::new(),
        };
        let early = Holding {
            tenant_id: "t".into(),
            user_id: "u".into(),
            asset_id: "a".into(),
            asset_name: String::new(),
            checked_out: 0,
        };
        let late = Holding {
            checked_out: 12 * DAY_MICROS,
            ..early.clone()
        };
        let now = 13 * DAY_MICROS;
        assert_eq!(user.days_since_disabled(now), 3);
        assert_eq!(user.held_since_disabled(&early, now), 3 * DAY_MICROS);
        assert_eq!(user.held_since_disabled(&late, now), DAY_MICROS);
    }
}
