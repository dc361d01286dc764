//! `scimctl alerts set | show | delete | test | log`.

use std::io::Write;

use proto::policy::v1 as pb;
use serde_json::json;

use super::Client;
use super::args::{AlertsCommand, Digest};
use crate::CliError;
use crate::output::{self, Format};
use crate::table::Table;

fn digest_name(code: i32) -> &'static str {
    match pb::DigestFrequency::try_from(code) {
        Ok(pb::DigestFrequency::Daily) => "daily",
        Ok(pb::DigestFrequency::Weekly) => "weekly",
        _ => "off",
    }
}

fn show(s: &pb::AlertSettings, format: Format, out: &mut impl Write) -> Result<(), CliError> {
    let view = json!({
        "tenantId": s.tenant_id,
        "webhookUrl": s.webhook_url,
        "secretSet": s.secret_set,
        "digest": digest_name(s.digest),
        "digestHour": s.digest_hour,
        "digestWeekday": s.digest_weekday,
        "timeZone": s.time_zone,
        "nextDigestAt": output::rfc3339(s.next_digest_at.as_ref()),
        "updatedAt": output::rfc3339(s.updated_at.as_ref()),
    });
    if format == Format::Json {
        return output::json(out, &view);
    }
    writeln!(out, "webhook:     {}", s.webhook_url)?;
    writeln!(
        out,
        "secret:      {}",
        if s.secret_set {
            "set (never shown)"
        } else {
            "none"
        }
    )?;
    let when = match digest_name(s.digest) {
        "off" => "off".to_owned(),
        "daily" => format!("daily at {:02}:00 {}", s.digest_hour, s.time_zone),
        _ => format!(
            "weekly on day {} at {:02}:00 {}",
            s.digest_weekday, s.digest_hour, s.time_zone
        ),
    };
    writeln!(out, "digest:      {when}")?;
    writeln!(
        out,
        "next digest: {}",
        output::short(s.next_digest_at.as_ref())
    )?;
    Ok(())
}

pub async fn run(
    mut client: Client,
    command: AlertsCommand,
    format: Format,
    out: &mut impl Write,
) -> Result<(), CliError> {
    match command {
        AlertsCommand::Set {
            tenant,
            url,
            secret,
            generate_secret,
            digest,
            hour,
            weekday,
            time_zone,
        } => {
            let digest = match digest {
                Digest::Off => pb::DigestFrequency::Off,
                Digest::Daily => pb::DigestFrequency::Daily,
                Digest::Weekly => pb::DigestFrequency::Weekly,
            };
            let request = pb::SetAlertSettingsRequest {
                tenant_id: tenant,
                webhook_url: url,
                signing_secret: secret.unwrap_or_default(),
                generate_secret,
                digest: digest.into(),
                digest_hour: hour,
                digest_weekday: weekday,
                time_zone,
            };
            let done = client.set_alert_settings(request).await?.into_inner();
            let settings = done.settings.ok_or(CliError::Missing("settings"))?;
            if format == Format::Json {
                let secret = (!done.generated_secret.is_empty()).then_some(&done.generated_secret);
                return output::json(
                    out,
                    &json!({"tenantId": settings.tenant_id, "generatedSecret": secret}),
                );
            }
            show(&settings, format, out)?;
            if !done.generated_secret.is_empty() {
                writeln!(
                    out,
                    "Signing secret (shown once): {}",
                    done.generated_secret
                )?;
            }
            Ok(())
        }
        AlertsCommand::Show { tenant } => {
            let request = pb::GetAlertSettingsRequest { tenant_id: tenant };
            let found = client.get_alert_settings(request).await?.into_inner();
            show(
                &found.settings.ok_or(CliError::Missing("settings"))?,
                format,
                out,
            )
        }
        AlertsCommand::Delete { tenant } => {
            client
                .delete_alert_settings(pb::DeleteAlertSettingsRequest {
                    tenant_id: tenant.clone(),
                })
                .await?;
            match format {
                Format::Json => output::json(out, &json!({"tenantId": tenant, "deleted": true})),
                Format::Human => Ok(writeln!(out, "alerts of {tenant} removed")?),
            }
        }
        AlertsCommand::Test { tenant } => {
            let request = pb::SendTestAlertRequest {
                tenant_id: tenant.clone(),
            };
            let sent = client.send_test_alert(request).await?.into_inner();
            match format {
                Format::Json => output::json(out, &json!({"eventId": sent.event_id})),
                Format::Human => Ok(writeln!(
                    out,
                    "test event {} queued; see `scimctl alerts log {tenant}`",
                    sent.event_id
                )?),
            }
        }
        AlertsCommand::Log { tenant, limit } => {
            let request = pb::ListAlertDeliveriesRequest {
                tenant_id: tenant,
                limit,
            };
            let log = client.list_alert_deliveries(request).await?.into_inner();
            if format == Format::Json {
                let all: Vec<_> = log
                    .deliveries
                    .iter()
                    .map(|d| {
                        json!({
                            "eventId": d.event_id, "kind": d.kind, "attempt": d.attempt,
                            "at": output::rfc3339(d.at.as_ref()), "outcome": d.outcome,
                            "httpStatus": d.http_status, "detail": d.detail,
                        })
                    })
                    .collect();
                return output::json(
                    out,
                    &json!({"deliveries": all, "pendingEvents": log.pending_events}),
                );
            }
            let mut table = Table::new(&[
                "AT", "EVENT", "KIND", "ATTEMPT", "OUTCOME", "HTTP", "DETAIL",
            ]);
            for d in &log.deliveries {
                let status = if d.http_status == 0 {
                    String::new()
                } else {
                    d.http_status.to_string()
                };
                table.row(vec![
                    output::short(d.at.as_ref()),
                    d.event_id.clone(),
                    d.kind.clone(),
                    d.attempt.to_string(),
                    d.outcome.clone(),
                    status,
                    d.detail.clone(),
                ]);
            }
            table.write(out)?;
            writeln!(out, "pending events: {}", log.pending_events)?;
            Ok(())
        }
    }
}
