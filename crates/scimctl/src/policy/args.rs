//! The policy commands' command line (flattened into `scimctl`'s top level).

use clap::{ArgGroup, Args, Subcommand};

/// The commands served by the policy service.
#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Create, list and delete roles; show a user's effective role.
    #[command(subcommand)]
    Role(RoleCommand),
    /// Group-to-role assignments with priorities.
    #[command(subcommand)]
    Assignment(AssignmentCommand),
    /// The role of SCIM users in no mapped group.
    #[command(subcommand)]
    DefaultRole(DefaultRoleCommand),
    /// Freeze a user's current role against every sync until unlocked.
    Lock {
        /// Tenant id.
        tenant: String,
        /// User id.
        user_id: String,
        /// Why (kept with the lock).
        #[arg(long, default_value = "")]
        note: String,
    },
    /// Lift a user's role lock; the role is recomputed at once.
    Unlock {
        /// Tenant id.
        tenant: String,
        /// User id.
        user_id: String,
    },
    /// A user's effective role and its reason (same as `role get`).
    Effective(UserArgs),
    /// The users holding a role.
    UsersByRole {
        /// Tenant id.
        tenant: String,
        /// Role name.
        role: String,
    },
    /// Why a user has their role: every rule of the role table in order,
    /// which one applies, and the user's groups that have an assignment.
    Explain(UserArgs),
    /// Which users would change role if a change were made; nothing changes.
    DryRun(DryRunArgs),
    /// A user's role changes, newest first, each with its reason.
    History {
        /// Tenant id.
        tenant: String,
        /// User id.
        user_id: String,
        /// Most changes shown (the server caps it at 1000).
        #[arg(long, default_value_t = 100)]
        limit: u32,
    },
    /// Follow role changes live, one line (or JSON object) per change, until
    /// Ctrl-C.
    Tail(TailArgs),
    /// Re-read a tenant's users and groups from identity and recompute every
    /// role, healing any drift.
    Reconcile {
        /// Tenant id.
        tenant: String,
    },
}

/// A tenant and one of its users.
#[derive(Debug, Args)]
pub struct UserArgs {
    /// Tenant id.
    pub tenant: String,
    /// User id.
    pub user_id: String,
}

/// `scimctl role …`
#[derive(Debug, Subcommand)]
pub enum RoleCommand {
    /// Create a role.
    Create {
        /// Tenant id.
        tenant: String,
        /// Role name (`Disabled` is built in).
        name: String,
        /// What the role grants.
        #[arg(long, default_value = "")]
        description: String,
    },
    /// List a tenant's roles, `Disabled` included.
    List {
        /// Tenant id.
        tenant: String,
    },
    /// Delete a role no assignment, default role or lock uses.
    Delete {
        /// Tenant id.
        tenant: String,
        /// Role name.
        name: String,
    },
    /// A user's effective role and its reason.
    Get(UserArgs),
}

/// `scimctl assignment …`
#[derive(Debug, Subcommand)]
pub enum AssignmentCommand {
    /// Assign a role to a group, or change its role or priority.
    Set {
        /// Tenant id.
        tenant: String,
        /// Group id (the SCIM id).
        group_id: String,
        /// Role name.
        role: String,
        /// Higher wins among a user's groups; ties go to the group id that
        /// sorts first.
        #[arg(long, allow_hyphen_values = true)]
        priority: i32,
    },
    /// Remove a group's assignment.
    Remove {
        /// Tenant id.
        tenant: String,
        /// Group id.
        group_id: String,
    },
    /// List a tenant's assignments.
    List {
        /// Tenant id.
        tenant: String,
    },
}

/// `scimctl default-role …`
#[derive(Debug, Subcommand)]
pub enum DefaultRoleCommand {
    /// Set the default role.
    Set {
        /// Tenant id.
        tenant: String,
        /// Role name (not `Disabled`).
        role: String,
    },
    /// Show the default role.
    Get {
        /// Tenant id.
        tenant: String,
    },
    /// Clear it: users in no mapped group then have no role.
    Clear {
        /// Tenant id.
        tenant: String,
    },
}

/// Arguments of `scimctl dry-run`: a tenant and exactly one change.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("change").required(true).multiple(false)))]
pub struct DryRunArgs {
    /// Tenant id.
    pub tenant: String,
    /// Assign ROLE to GROUP with PRIORITY.
    #[arg(long, group = "change", value_name = "GROUP:ROLE:PRIORITY", value_parser = parse_assignment)]
    pub set_assignment: Option<(String, String, i32)>,
    /// Remove GROUP's assignment.
    #[arg(long, group = "change", value_name = "GROUP")]
    pub remove_assignment: Option<String>,
    /// Make ROLE the default role (`""` clears it).
    #[arg(long, group = "change", value_name = "ROLE")]
    pub set_default_role: Option<String>,
}

/// Arguments of `scimctl tail`.
#[derive(Debug, Args)]
pub struct TailArgs {
    /// Only this tenant's changes.
    #[arg(long)]
    pub tenant: Option<String>,
    /// With `--tenant`: start after this position of the tenant's
    /// role-change stream (positions are per tenant); 0 (the default) shows
    /// every stored change first, then follows.
    #[arg(long, default_value_t = 0, requires = "tenant")]
    pub after_seq: i64,
    /// Without `--tenant`: start the tenant after this position
    /// (`TENANT:SEQ`, repeatable); tenants not listed start at their first
    /// change, or with `--from-now` at their newest.
    #[arg(long, value_name = "TENANT:SEQ", value_parser = parse_position, conflicts_with = "tenant")]
    pub after: Vec<(String, i64)>,
    /// Show only changes committed from now on (for tenants without a
    /// position).
    #[arg(long, conflicts_with = "after_seq")]
    pub from_now: bool,
    /// Stop after this many changes.
    #[arg(long)]
    pub max: Option<u64>,
}

/// `TENANT:SEQ`.
fn parse_position(text: &str) -> Result<(String, i64), String> {
    let (tenant, seq) = text
        .rsplit_once(':')
        .ok_or_else(|| format!("'{text}' is not TENANT:SEQ"))?;
    let seq: i64 = seq
        .parse()
        .map_err(|_| format!("'{seq}' is not a position (a whole number)"))?;
    if tenant.is_empty() || seq < 0 {
        return Err(format!("'{text}' is not TENANT:SEQ"));
    }
    Ok((tenant.to_owned(), seq))
}

/// `GROUP:ROLE:PRIORITY`; the priority and the role are split off the end,
/// so a group id may itself hold `:`.
fn parse_assignment(text: &str) -> Result<(String, String, i32), String> {
    let mut parts = text.rsplitn(3, ':');
    let (Some(priority), Some(role), Some(group)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err("expected GROUP:ROLE:PRIORITY".into());
    };
    let priority = priority
        .parse()
        .map_err(|_| format!("priority {priority:?} is not an integer"))?;
    Ok((group.to_owned(), role.to_owned(), priority))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assignments_split_from_the_end() {
        assert_eq!(
            parse_assignment("g:1:Admin:-5"),
            Ok(("g:1".into(), "Admin".into(), -5))
        );
        assert!(parse_assignment("g:Admin").is_err());
        assert!(parse_assignment("g:Admin:high").is_err());
    }
}
