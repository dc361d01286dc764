//! `scimctl tail`: role changes as they are committed, from
//! `WatchRoleChanges`, one line (or one JSON object) per change, flushed at
//! once; until Ctrl-C, `--max` changes, or the server closes the stream.

use std::io::Write;

use proto::policy::v1 as pb;

use super::Client;
use super::args::TailArgs;
use super::view::ChangeView;
use crate::CliError;
use crate::output::{self, Format};

pub async fn run(
    mut client: Client,
    args: TailArgs,
    format: Format,
    out: &mut impl Write,
) -> Result<(), CliError> {
    let TailArgs {
        tenant,
        after_seq,
        max,
    } = args;
    if max == Some(0) {
        return Ok(());
    }
    let request = pb::WatchRoleChangesRequest {
        after_seq,
        tenant_id: tenant.unwrap_or_default(),
    };
    let mut stream = client.watch_role_changes(request).await?.into_inner();
    let mut last = after_seq;
    let mut shown = 0u64;
    let interrupted = tokio::signal::ctrl_c();
    tokio::pin!(interrupted);
    loop {
        let message = tokio::select! {
            _ = &mut interrupted => return Ok(()),
            message = stream.message() => message?,
        };
        let Some(response) = message else {
            return Err(CliError::StreamEnded { after_seq: last });
        };
        for change in response.changes {
            last = change.seq;
            let change = ChangeView::from(change);
            match format {
                Format::Json => output::json(out, &change)?,
                Format::Human => writeln!(out, "{}", change.line())?,
            }
            out.flush()?;
            shown += 1;
            if max.is_some_and(|max| shown >= max) {
                return Ok(());
            }
        }
    }
}
