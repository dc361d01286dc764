//! `scimctl`, the operators' CLI over gRPC to the identity service: tenants,
//! SCIM tokens and users. Everything lives in this library so tests run
//! commands in-process and read their output; `main.rs` only parses the
//! command line and turns the outcome into an exit code.

mod cli;
mod error;
mod output;
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
pub use cli::{Cli, Command, TenantCommand, TokenCommand, UserCommand, UserListArgs};
pub use error::CliError;

use output::Format;

/// The gRPC client every command uses.
type Client = IdentityServiceClient<Channel>;

/// Runs one parsed command against the identity service at
/// `cli.identity_url`, writing its result to `out` (JSON with `cli.json`).
/// Nothing is written to `out` when the call fails.
pub async fn run(cli: Cli, out: &mut impl Write) -> Result<(), CliError> {
    let Cli {
        identity_url,
        json,
        command,
    } = cli;
    let client = connect(&identity_url).await?;
    let format = if json { Format::Json } else { Format::Human };
    match command {
        Command::Tenant(command) => tenant::run(client, command, format, out).await,
        Command::Token(command) => token::run(client, command, format, out).await,
        Command::User(command) => user::run(client, command, format, out).await,
    }
}

async fn connect(url: &str) -> Result<Client, CliError> {
    let channel = Endpoint::from_shared(url.to_owned())
        .map_err(|source| CliError::Url {
            url: url.to_owned(),
            source,
        })?
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(30))
        .connect()
        .await
        .map_err(|source| CliError::Connect {
            url: url.to_owned(),
            source,
        })?;
    Ok(IdentityServiceClient::new(channel))
}
