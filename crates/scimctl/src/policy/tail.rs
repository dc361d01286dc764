//! `scimctl tail`: role changes as they are committed, from
//! `WatchRoleChanges`, one line (or one JSON object) per change, flushed at
//! once; until Ctrl-C, `--max` changes, or the server closes the stream.

use std::collections::BTreeMap;
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
        after,
        from_now,
        max,
    } = args;
    if max == Some(0) {
        return Ok(());
    }
    // Where each tenant is, for the hint to resume.
    let mut last: BTreeMap<String, i64> = after.iter().cloned().collect();
    if let Some(t) = &tenant {
        last.insert(t.clone(), after_seq);
    }
    let request = pb::WatchRoleChangesRequest {
        after_seq,
        tenant_id: tenant.clone().unwrap_or_default(),
        cursors: after
            .into_iter()
            .map(|(tenant_id, seq)| pb::StreamPosition { tenant_id, seq })
            .collect(),
        from_now,
    };
    let mut stream = client.watch_role_changes(request).await?.into_inner();
    let mut shown = 0u64;
    let interrupted = tokio::signal::ctrl_c();
    tokio::pin!(interrupted);
    loop {
        let message = tokio::select! {
            _ = &mut interrupted => return Ok(()),
            message = stream.message() => message?,
        };
        let Some(response) = message else {
            let resume = match &tenant {
                Some(t) => format!("--tenant {t} --after-seq {}", last.get(t).unwrap_or(&0)),
                None => last
                    .iter()
                    .map(|(t, seq)| format!("--after {t}:{seq}"))
                    .collect::<Vec<_>>()
                    .join(" "),
            };
            return Err(CliError::StreamEnded { resume });
        };
        for change in response.changes {
            last.insert(change.tenant_id.clone(), change.seq);
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
