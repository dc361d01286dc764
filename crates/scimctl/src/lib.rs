//! `scimctl`, the operators' CLI over gRPC to the identity service (tenants,
//! SCIM tokens, users) and the policy service (roles, assignments, locks,
//! effective roles, role changes). Everything lives in this library so tests run
//! commands in-process and read their output; `main.rs` only parses the
//! command line and turns the outcome into an exit code.

mod cli;
mod console_link;
mod equipment;
mod error;
mod limits;
mod output;
mod policy;
mod profile;
mod provlog;
mod schema;
mod table;
mod tenant;
mod token;
mod user;

use std::io::Write;
use std::time::Duration;

use proto::identity::v1::identity_service_client::IdentityServiceClient;
use tonic::transport::{Channel, Endpoint};

/// Re-exported so callers can `Cli::try_parse_from(…)` without depending on clap.
pub use clap::Parser;
pub use cli::{
    Cli, Command, HealthArgs, LogArgs, PolicyCommand, SchemaCommand, TenantCommand, TokenCommand,
    UserCommand, UserListArgs,
};
pub use equipment::args::{Digest, ReportFormat, ReportSort};
pub use error::CliError;
pub use policy::args::{
    AssignmentCommand, DefaultRoleCommand, DryRunArgs, RoleCommand, TailArgs, UserArgs,
};

use equipment::EquipmentCommand;
use output::Format;

/// The gRPC client every command uses.
type Client = IdentityServiceClient<Channel>;

/// Runs one parsed command against the identity service at
/// `cli.identity_url` or, for the role-policy commands, the policy service
/// at `cli.policy_url`, writing its result to `out` (JSON with `cli.json`).
/// Nothing is written to `out` when the call fails (`tail` writes each
/// change as it comes, before a later failure).
pub async fn run(cli: Cli, out: &mut impl Write) -> Result<(), CliError> {
    let Cli {
        identity_url,
        policy_url,
        json,
        ca,
        cert,
        key,
        command,
    } = cli;
    let tls = tls(ca, cert, key)?;
    let identity_url = Target {
        url: identity_url,
        tls: tls.clone(),
    };
    let policy_url = Target {
        url: policy_url,
        tls,
    };
    let format = if json { Format::Json } else { Format::Human };
    let identity = || async {
        let channel = channel("identity", &identity_url, true).await?;
        Ok::<_, CliError>(
            IdentityServiceClient::new(channel)
                .max_decoding_message_size(proto::MAX_MESSAGE_BYTES)
                .max_encoding_message_size(proto::MAX_MESSAGE_BYTES),
        )
    };
    match command {
        Command::Tenant(command) => tenant::run(identity().await?, command, format, out).await,
        Command::Token(command) => token::run(identity().await?, command, format, out).await,
        Command::User(command) => user::run(identity().await?, command, format, out).await,
        Command::Schema(command) => schema::run(identity().await?, command, format, out).await,
        Command::Policy(command) => policy::run(&policy_url, command, format, out).await,
        Command::Holdings(c) => {
            equipment::run(&policy_url, EquipmentCommand::Holdings(c), format, out).await
        }
        Command::Report(c) => {
            equipment::run(&policy_url, EquipmentCommand::Report(c), format, out).await
        }
        Command::Alerts(c) => {
            equipment::run(&policy_url, EquipmentCommand::Alerts(c), format, out).await
        }
        Command::Log(args) => provlog::log(identity().await?, args, format, out).await,
        Command::Health(args) => provlog::health(identity().await?, args, format, out).await,
        Command::ConsoleLink {
            tenant,
            ttl_seconds,
            console_url,
        } => {
            let client = identity().await?;
            console_link::run(client, tenant, ttl_seconds, &console_url, format, out).await
        }
        Command::ConsoleLogout { tenant } => {
            console_link::logout(identity().await?, tenant, format, out).await
        }
    }
}

/// A service's URL and how to reach it.
pub(crate) struct Target {
    url: String,
    tls: Option<mtls::ClientTls>,
}

/// The client certificate of `--ca`/`--cert`/`--key` (all three, or none
/// for plain gRPC; `--ca` alone connects over TLS without a certificate).
fn tls(
    ca: Option<std::path::PathBuf>,
    cert: Option<std::path::PathBuf>,
    key: Option<std::path::PathBuf>,
) -> Result<Option<mtls::ClientTls>, CliError> {
    let loaded = match (ca, cert, key) {
        (Some(ca), None, None) => mtls::ClientTls::anonymous(&ca).map(Some),
        (ca, cert, key) => mtls::TlsFiles::from_parts(ca, cert, key)
            .and_then(|files| files.as_ref().map(mtls::ClientTls::load_once).transpose()),
    };
    loaded.map_err(|e| CliError::Tls(e.to_string()))
}

/// Connects to `service` at `target`; with `deadline`, every call times out
/// after 30 seconds.
async fn channel(
    service: &'static str,
    target: &Target,
    deadline: bool,
) -> Result<Channel, CliError> {
    let url = target.url.as_str();
    let flag = match service {
        "policy" => "policy-url",
        _ => "identity-url",
    };
    let mut endpoint = Endpoint::from_shared(url.to_owned())
        .map_err(|source| CliError::Url {
            flag,
            url: url.to_owned(),
            source,
        })?
        .connect_timeout(Duration::from_secs(5));
    if deadline {
        endpoint = endpoint.timeout(Duration::from_secs(30));
    }
    let connected = match &target.tls {
        Some(tls) => tls.connect(endpoint).await,
        None => endpoint.connect().await,
    };
    connected.map_err(|source| CliError::Connect {
        service,
        url: url.to_owned(),
        source,
    })
}
