//! The commands served by the policy service (`policy.v1`): roles,
//! assignments, default role, locks, effective roles, explain, dry run,
//! history, the live tail of role changes and reconcile.

pub mod args;
mod insight;
mod roles;
mod tail;
mod users;
mod view;

use std::io::Write;

use proto::policy::v1::policy_service_client::PolicyServiceClient;
use tonic::transport::Channel;

use crate::CliError;
use crate::output::Format;
use args::{PolicyCommand, UserArgs};

/// The gRPC client of the policy commands.
type Client = PolicyServiceClient<Channel>;

/// Connects to the policy service at `url` and runs one command.
pub async fn run(
    url: &crate::Target,
    command: PolicyCommand,
    format: Format,
    out: &mut impl Write,
) -> Result<(), CliError> {
    // A tail streams for as long as it runs: no deadline on its call.
    let deadline = !matches!(command, PolicyCommand::Tail(_));
    let channel = crate::channel("policy", url, deadline).await?;
    let client = PolicyServiceClient::new(channel)
        .max_decoding_message_size(proto::MAX_MESSAGE_BYTES)
        .max_encoding_message_size(proto::MAX_MESSAGE_BYTES);
    match command {
        PolicyCommand::Effective(UserArgs { tenant, user_id }) => {
            users::effective(client, tenant, user_id, format, out).await
        }
        PolicyCommand::Role(command) => roles::role(client, command, format, out).await,
        PolicyCommand::Assignment(command) => roles::assignment(client, command, format, out).await,
        PolicyCommand::DefaultRole(command) => {
            roles::default_role(client, command, format, out).await
        }
        PolicyCommand::Reconcile { tenant } => roles::reconcile(client, tenant, format, out).await,
        PolicyCommand::Lock {
            tenant,
            user_id,
            note,
        } => users::lock(client, tenant, user_id, Some(note), format, out).await,
        PolicyCommand::Unlock { tenant, user_id } => {
            users::lock(client, tenant, user_id, None, format, out).await
        }
        PolicyCommand::UsersByRole { tenant, role } => {
            users::by_role(client, tenant, role, format, out).await
        }
        PolicyCommand::History {
            tenant,
            user_id,
            limit,
        } => users::history(client, tenant, user_id, limit, format, out).await,
        PolicyCommand::Explain(UserArgs { tenant, user_id }) => {
            insight::explain(client, tenant, user_id, format, out).await
        }
        PolicyCommand::DryRun(args) => insight::dry_run(client, args, format, out).await,
        PolicyCommand::Tail(args) => tail::run(client, args, format, out).await,
    }
}
