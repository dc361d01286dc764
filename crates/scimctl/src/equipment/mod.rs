//! The equipment commands served by the policy service: holdings, the
//! report on disabled users with equipment, and alerts.

mod alerts;
pub mod args;
mod holdings;
mod report;

use std::io::Write;

use proto::policy::v1::policy_service_client::PolicyServiceClient;
use tonic::transport::Channel;

use crate::CliError;
use crate::output::Format;
use args::{AlertsCommand, HoldingsCommand, ReportCommand};

/// The gRPC client of the equipment commands.
type Client = PolicyServiceClient<Channel>;

/// One of the equipment commands.
#[derive(Debug)]
pub enum EquipmentCommand {
    Holdings(HoldingsCommand),
    Report(ReportCommand),
    Alerts(AlertsCommand),
}

/// Connects to the policy service at `url` and runs one command.
pub async fn run(
    url: &crate::Target,
    command: EquipmentCommand,
    format: Format,
    out: &mut impl Write,
) -> Result<(), CliError> {
    let client = PolicyServiceClient::new(crate::channel("policy", url, true).await?)
        .max_decoding_message_size(proto::MAX_MESSAGE_BYTES)
        .max_encoding_message_size(proto::MAX_MESSAGE_BYTES);
    match command {
        EquipmentCommand::Holdings(c) => holdings::run(client, c, format, out).await,
        EquipmentCommand::Report(c) => report::run(client, c, format, out).await,
        EquipmentCommand::Alerts(c) => alerts::run(client, c, format, out).await,
    }
}
