//! The command line: global flags and one subcommand per resource.

use clap::{Args, Parser, Subcommand};

pub use crate::equipment::args::{AlertsCommand, HoldingsCommand, ReportCommand};
pub use crate::policy::args::PolicyCommand;
pub use crate::provlog::{HealthArgs, LogArgs};

/// Operate the SCIM platform over gRPC: tenants, SCIM tokens and users
/// (identity service); roles, assignments, locks and role changes (policy
/// service).
#[derive(Debug, Parser)]
#[command(name = "scimctl", version)]
pub struct Cli {
    /// gRPC URL of the identity service.
    #[arg(
        long,
        global = true,
        env = "SCIMCTL_IDENTITY_URL",
        default_value = "http://127.0.0.1:50051"
    )]
    pub identity_url: String,

    /// gRPC URL of the policy service.
    #[arg(
        long,
        global = true,
        env = "SCIMCTL_POLICY_URL",
        default_value = "http://127.0.0.1:50052"
    )]
    pub policy_url: String,

    /// Machine-readable output: one JSON document per command.
    #[arg(long, global = true)]
    pub json: bool,

    /// PEM file of the internal CA that signs the services' certificates
    /// (gRPC over TLS; alone, no client certificate is presented).
    #[arg(long, global = true, env = "SCIMCTL_CA")]
    pub ca: Option<std::path::PathBuf>,

    /// PEM file of the operator's client certificate (with --ca and --key).
    #[arg(long, global = true, env = "SCIMCTL_CERT")]
    pub cert: Option<std::path::PathBuf>,

    /// PEM file of the operator's private key (with --ca and --cert).
    #[arg(long, global = true, env = "SCIMCTL_KEY")]
    pub key: Option<std::path::PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

/// The resource to act on.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create, list and show tenants.
    #[command(subcommand)]
    Tenant(TenantCommand),
    /// Issue, list and revoke SCIM bearer tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// List and show SCIM users.
    #[command(subcommand)]
    User(UserCommand),
    /// A tenant's own extension schemas (custom attributes under its URN).
    #[command(subcommand)]
    Schema(SchemaCommand),
    /// Role policy (policy service): roles, assignments, default role,
    /// locks, effective roles and their history.
    #[command(flatten)]
    Policy(PolicyCommand),
    /// Equipment holdings (policy service), as the asset service records them.
    #[command(subcommand)]
    Holdings(HoldingsCommand),
    /// Reports (policy service): disabled users with equipment.
    #[command(subcommand)]
    Report(ReportCommand),
    /// Webhook alerts (policy service): settings, test event, delivery log.
    #[command(subcommand)]
    Alerts(AlertsCommand),
    /// A tenant's provisioning log: every SCIM request the IdP sent, with
    /// its answer and what it changed, newest first.
    Log(LogArgs),
    /// A tenant's connection health: requests, errors, 429s, last success,
    /// last Test Connection and the risk of Entra ID quarantining the job.
    Health(HealthArgs),
    /// Print a single-use link that opens the tenant administrator's console
    /// for one tenant.
    ConsoleLink {
        /// Tenant id.
        tenant: String,
        /// Seconds until the link expires (at most 3600).
        #[arg(long, default_value_t = 300)]
        ttl_seconds: u64,
        /// The console's public base URL.
        #[arg(
            long,
            env = "SCIMCTL_CONSOLE_URL",
            default_value = "http://127.0.0.1:8081"
        )]
        console_url: String,
    },
    /// End every console session of a tenant, in every browser (copies of
    /// a session cookie included): the tenant's administrators sign in
    /// again with a new link.
    ConsoleLogout {
        /// Tenant id.
        tenant: String,
    },
}

/// `scimctl schema …`
#[derive(Debug, Subcommand)]
pub enum SchemaCommand {
    /// Register an extension schema, or replace the one with the same URN.
    Put {
        /// Tenant id.
        tenant: String,
        /// An RFC 7643 §7 schema document (`id` = the URN, `attributes`
        /// with `name`, `type`, `multiValued`, `caseExact`, `required`,
        /// `mutability`, `subAttributes`…); `-` reads standard input.
        #[arg(long)]
        file: std::path::PathBuf,
        /// The resource type it extends.
        #[arg(long, default_value = "User", value_parser = ["User", "Group"])]
        resource_type: String,
    },
    /// List a tenant's extension schemas.
    List {
        /// Tenant id.
        tenant: String,
    },
    /// Print one extension schema (its RFC 7643 §7 document).
    Get {
        /// Tenant id.
        tenant: String,
        /// The schema's URN.
        urn: String,
    },
    /// Remove an extension schema; values stored under it are no longer
    /// shown, filtered or accepted.
    Delete {
        /// Tenant id.
        tenant: String,
        /// The schema's URN.
        urn: String,
    },
}

/// `scimctl tenant …`
#[derive(Debug, Subcommand)]
pub enum TenantCommand {
    /// Create a tenant.
    Create {
        /// URL slug: lowercase letters, digits and '-', 1-63 characters.
        id: String,
        /// Display name (defaults to the id).
        #[arg(long)]
        name: Option<String>,
    },
    /// List every tenant.
    List,
    /// Show one tenant.
    Get {
        /// Tenant id.
        id: String,
    },
    /// Show a tenant's rate limits (shared by all its tokens), or set them with --rate/--burst
    /// (0 resets a limit to the gateway's default).
    Limits {
        /// Tenant id.
        tenant: String,
        /// Sustained requests per second for the tenant (all its tokens).
        #[arg(long)]
        rate: Option<u32>,
        /// Requests the tenant may send at once above the sustained rate.
        #[arg(long)]
        burst: Option<u32>,
    },
    /// Show which account from before SCIM a SCIM create takes over (off, externalId, email,
    /// userName), or set it with --set.
    Adoption {
        /// Tenant id.
        tenant: String,
        /// The policy to set.
        #[arg(long, value_parser = ["off", "externalId", "email", "userName"])]
        set: Option<String>,
    },
    /// Show the IdP profile of a tenant (entra, okta, generic), or set it with --set:
    /// which documented deviations from RFC 7643/7644 its SCIM requests get.
    Profile {
        /// Tenant id.
        tenant: String,
        /// The profile to set.
        #[arg(long, value_parser = ["entra", "okta", "generic"])]
        set: Option<String>,
    },
}

/// `scimctl token …`
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Issue a token; its secret is printed once and never again.
    Issue {
        /// Tenant id.
        tenant: String,
        /// What the token is for (for example the IdP that holds it).
        #[arg(long, default_value = "")]
        description: String,
        /// Seconds until expiry; 0 (the default) never expires.
        #[arg(long, default_value_t = 0)]
        ttl_seconds: u64,
    },
    /// List a tenant's tokens (never their secrets).
    List {
        /// Tenant id.
        tenant: String,
    },
    /// Revoke a token; SCIM calls with it fail from now on.
    Revoke {
        /// Tenant id.
        tenant: String,
        /// Token id, as shown by `token list`.
        token_id: String,
    },
}

/// `scimctl user …`
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// List users, a page at a time.
    List(UserListArgs),
    /// Show one user's SCIM document.
    Get {
        /// Tenant id.
        tenant: String,
        /// User id.
        user_id: String,
    },
}

/// Arguments of `scimctl user list`.
#[derive(Debug, Args)]
pub struct UserListArgs {
    /// Tenant id.
    pub tenant: String,
    /// SCIM filter (RFC 7644 §3.4.2.2), for example 'userName sw "a"'.
    #[arg(long)]
    pub filter: Option<String>,
    /// 1-based index of the first user shown.
    #[arg(long, default_value_t = 1)]
    pub start_index: u32,
    /// Page size; 0 shows only the total.
    #[arg(long, default_value_t = 100)]
    pub count: u32,
    /// Attribute path to sort by (default: creation order).
    #[arg(long)]
    pub sort_by: Option<String>,
    /// Sort in descending order.
    #[arg(long, requires = "sort_by")]
    pub descending: bool,
}
