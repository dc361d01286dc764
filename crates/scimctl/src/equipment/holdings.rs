//! `scimctl holdings list | checkout | return`.

use std::io::Write;

use proto::policy::v1 as pb;
use serde_json::json;

use super::Client;
use super::args::HoldingsCommand;
use crate::CliError;
use crate::output::{self, Format};
use crate::table::Table;

fn holding_json(h: &pb::Holding) -> serde_json::Value {
    json!({
        "userId": h.user_id,
        "assetId": h.asset_id,
        "assetName": h.asset_name,
        "checkedOutAt": output::rfc3339(h.checked_out_at.as_ref()),
    })
}

pub async fn run(
    mut client: Client,
    command: HoldingsCommand,
    format: Format,
    out: &mut impl Write,
) -> Result<(), CliError> {
    match command {
        HoldingsCommand::List { tenant, user } => {
            let request = pb::ListHoldingsRequest {
                tenant_id: tenant,
                user_id: user.unwrap_or_default(),
            };
            let found = client.list_holdings(request).await?.into_inner().holdings;
            if format == Format::Json {
                let all: Vec<_> = found.iter().map(holding_json).collect();
                return output::json(out, &json!({ "holdings": all }));
            }
            let mut table = Table::new(&["USER", "ASSET", "NAME", "CHECKED OUT"]);
            for h in &found {
                table.row(vec![
                    h.user_id.clone(),
                    h.asset_id.clone(),
                    h.asset_name.clone(),
                    output::short(h.checked_out_at.as_ref()),
                ]);
            }
            Ok(table.write(out)?)
        }
        HoldingsCommand::Checkout {
            tenant,
            user_id,
            asset_id,
            name,
        } => {
            let request = pb::RecordCheckoutRequest {
                tenant_id: tenant,
                user_id,
                asset_id,
                asset_name: name,
                checked_out_at: None,
            };
            let done = client.record_checkout(request).await?.into_inner();
            let holding = done.holding.ok_or(CliError::Missing("holding"))?;
            if format == Format::Json {
                let mut v = holding_json(&holding);
                v["changed"] = json!(done.changed);
                v["userDisabled"] = json!(done.user_disabled);
                return output::json(out, &v);
            }
            let what = if done.changed {
                "checked out"
            } else {
                "already held (no change)"
            };
            writeln!(out, "{} → {}: {what}", holding.asset_id, holding.user_id)?;
            if done.user_disabled {
                writeln!(out, "warning: the user is Disabled; an alert was queued")?;
            }
            Ok(())
        }
        HoldingsCommand::Return { tenant, asset_id } => {
            let request = pb::RecordReturnRequest {
                tenant_id: tenant,
                asset_id: asset_id.clone(),
                ..Default::default()
            };
            let done = client.record_return(request).await?.into_inner();
            if format == Format::Json {
                return output::json(
                    out,
                    &json!({"returned": done.returned, "userId": done.user_id}),
                );
            }
            match done.returned {
                true => writeln!(out, "{asset_id} returned by {}", done.user_id)?,
                false => writeln!(out, "{asset_id} was not checked out (no change)")?,
            }
            Ok(())
        }
    }
}
