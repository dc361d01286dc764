//! The command line of the equipment commands: holdings, the report on
//! disabled users with equipment, and alerts (all served by policy).

use clap::{ArgGroup, Subcommand, ValueEnum};

/// `scimctl holdings …`
#[derive(Debug, Subcommand)]
pub enum HoldingsCommand {
    /// A tenant's holdings, or one user's.
    List {
        /// Tenant id.
        tenant: String,
        /// Only this user's holdings.
        #[arg(long)]
        user: Option<String>,
    },
    /// Record a checkout (as the asset service does); idempotent by asset id.
    Checkout {
        /// Tenant id.
        tenant: String,
        /// User id.
        user_id: String,
        /// Asset id.
        asset_id: String,
        /// The asset's name or tag.
        #[arg(long, default_value = "")]
        name: String,
    },
    /// Record a return; idempotent by asset id.
    Return {
        /// Tenant id.
        tenant: String,
        /// Asset id.
        asset_id: String,
    },
}

/// `scimctl report …`
#[derive(Debug, Subcommand)]
pub enum ReportCommand {
    /// Disabled users who still hold equipment, and role-locked users
    /// deactivated upstream.
    DisabledWithEquipment {
        /// Tenant id.
        tenant: String,
        /// Output format (`--json` also gives json).
        #[arg(long, value_enum, default_value_t = ReportFormat::Table)]
        format: ReportFormat,
        /// Order: longest disabled first (`days`) or by name.
        #[arg(long, value_enum, default_value_t = ReportSort::Days)]
        sort: ReportSort,
    },
}

/// How the report is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    Table,
    Csv,
    Json,
}

/// How the report is ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportSort {
    Days,
    Name,
}

/// How often the digest goes out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Digest {
    Off,
    Daily,
    Weekly,
}

/// `scimctl alerts …`
#[derive(Debug, Subcommand)]
pub enum AlertsCommand {
    /// Configure the tenant's webhook; a generated secret is printed once.
    #[command(group(ArgGroup::new("secret_source").args(["secret", "generate_secret"])))]
    Set {
        /// Tenant id.
        tenant: String,
        /// The webhook URL (http://…).
        #[arg(long)]
        url: String,
        /// The signing secret (at least 16 characters). Without it the
        /// stored one is kept, or one is generated when none is stored.
        #[arg(long, env = "SCIMCTL_ALERT_SECRET", hide_env_values = true)]
        secret: Option<String>,
        /// Generate a new signing secret (rotation); printed once.
        #[arg(long)]
        generate_secret: bool,
        /// The scheduled digest of the report.
        #[arg(long, value_enum, default_value_t = Digest::Off)]
        digest: Digest,
        /// The digest's local hour, 0-23.
        #[arg(long, default_value_t = 8)]
        hour: u32,
        /// For a weekly digest: 1 = Monday … 7 = Sunday.
        #[arg(long, default_value_t = 1)]
        weekday: u32,
        /// IANA time zone of the hour, for example Europe/Berlin.
        #[arg(long, default_value = "UTC")]
        time_zone: String,
    },
    /// Show the settings (never the secret).
    Show {
        /// Tenant id.
        tenant: String,
    },
    /// Remove the settings; queued events are dropped.
    Delete {
        /// Tenant id.
        tenant: String,
    },
    /// Queue a test event to the webhook.
    Test {
        /// Tenant id.
        tenant: String,
    },
    /// The delivery log, newest first.
    Log {
        /// Tenant id.
        tenant: String,
        /// How many attempts to show.
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
}
