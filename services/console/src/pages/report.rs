//! Disabled users who still hold equipment: the report, its CSV, the alert
//! settings (webhook URL, signing secret, digest schedule), a test send and
//! the delivery log.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use proto::policy::v1 as pb;
use serde::Deserialize;

use super::{PageForm, text};
use crate::AppState;
use crate::error::PageError;
use crate::layout::{self, Nav, Notice, Page, plural, when};
use crate::session::Session;

pub async fn show(State(state): State<AppState>, session: Session) -> Result<Page, PageError> {
    render(&state, &session, &Notice::None, None).await
}

async fn report(
    state: &AppState,
    session: &Session,
) -> Result<pb::GetDisabledWithEquipmentReportResponse, PageError> {
    Ok(state
        .policy
        .clone()
        .get_disabled_with_equipment_report(pb::GetDisabledWithEquipmentReportRequest {
            tenant_id: session.tenant.clone(),
        })
        .await?
        .into_inner())
}

/// A CSV field: quoted when needed, and a leading `= + - @` defused so a
/// spreadsheet never runs a name as a formula.
fn field(value: &str) -> String {
    let value = if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{value}")
    } else {
        value.to_owned()
    };
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value
    }
}

pub async fn csv(State(state): State<AppState>, session: Session) -> Result<Response, PageError> {
    let r = report(&state, &session).await?;
    let mut out = String::from(
        "section,user_id,user_name,display_name,email,role,locked,disabled_at,days_since_disabled,asset_id,asset_name,checked_out_at\r\n",
    );
    let sections = [
        ("disabled", &r.disabled_users),
        ("locked_deactivated", &r.locked_deactivated_users),
    ];
    for (section, users) in sections {
        for u in users {
            let assets: Vec<Option<&pb::ReportAsset>> = if u.assets.is_empty() {
                vec![None]
            } else {
                u.assets.iter().map(Some).collect()
            };
            for a in assets {
                let row = [
                    section.to_owned(),
                    u.user_id.clone(),
                    u.user_name.clone(),
                    u.display_name.clone(),
                    u.email.clone(),
                    u.role.clone(),
                    u.locked.to_string(),
                    when(u.disabled_at.as_ref()),
                    u.days_since_disabled.to_string(),
                    a.map(|a| a.asset_id.clone()).unwrap_or_default(),
                    a.map(|a| a.asset_name.clone()).unwrap_or_default(),
                    when(a.and_then(|a| a.checked_out_at.as_ref())),
                ];
                let line: Vec<String> = row.iter().map(|v| field(v)).collect();
                out.push_str(&line.join(","));
                out.push_str("\r\n");
            }
        }
    }
    let name = format!(
        "attachment; filename=\"disabled-with-equipment-{}.csv\"",
        session.tenant
    );
    Ok((
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (header::CONTENT_DISPOSITION, name),
        ],
        out,
    )
        .into_response())
}

#[derive(Debug, Deserialize, Default)]
pub struct AlertForm {
    #[serde(default)]
    webhook_url: String,
    #[serde(default)]
    signing_secret: String,
    #[serde(default)]
    generate_secret: Option<String>,
    #[serde(default)]
    digest: String,
    #[serde(default)]
    digest_hour: String,
    #[serde(default)]
    digest_weekday: String,
    #[serde(default)]
    time_zone: String,
}

fn number(value: &str, what: &str, range: std::ops::RangeInclusive<u32>) -> Result<u32, PageError> {
    let v = value.trim();
    if v.is_empty() {
        return Ok(*range.start());
    }
    v.parse::<u32>()
        .ok()
        .filter(|n| range.contains(n))
        .ok_or_else(|| {
            PageError::BadRequest(format!(
                "{what} must be a number from {} to {}.",
                range.start(),
                range.end()
            ))
        })
}

pub async fn save_alerts(
    State(state): State<AppState>,
    session: Session,
    PageForm(form): PageForm<AlertForm>,
) -> Result<Page, PageError> {
    let result = async {
        let digest = match form.digest.as_str() {
            "" | "off" => pb::DigestFrequency::Off,
            "daily" => pb::DigestFrequency::Daily,
            "weekly" => pb::DigestFrequency::Weekly,
            _ => return Err(PageError::BadRequest("Unknown digest schedule.".into())),
        };
        let url = text(&form.webhook_url, "The webhook URL", 2000)?;
        let signing_secret = text(&form.signing_secret, "The signing secret", 500)?;
        let time_zone = text(&form.time_zone, "The time zone", 100)?;
        if url.is_empty() {
            return Err(PageError::BadRequest("Enter the webhook URL.".into()));
        }
        let r = state
            .policy
            .clone()
            .set_alert_settings(pb::SetAlertSettingsRequest {
                tenant_id: session.tenant.clone(),
                webhook_url: url,
                signing_secret,
                generate_secret: form.generate_secret.is_some(),
                digest: digest as i32,
                digest_hour: number(&form.digest_hour, "The digest hour", 0..=23)?,
                digest_weekday: number(&form.digest_weekday, "The digest weekday", 1..=7)?,
                time_zone,
            })
            .await?
            .into_inner();
        Ok(r.generated_secret)
    }
    .await;
    match result {
        Ok(secret) => {
            let notice = Notice::Done("Alert settings saved.".into());
            let secret = (!secret.is_empty()).then_some(secret);
            render(&state, &session, &notice, secret).await
        }
        Err(e) => render(&state, &session, &Notice::from_result(Err(e))?, None).await,
    }
}

pub async fn test_alert(
    State(state): State<AppState>,
    session: Session,
) -> Result<Page, PageError> {
    let result = async {
        let r = state
            .policy
            .clone()
            .send_test_alert(pb::SendTestAlertRequest {
                tenant_id: session.tenant.clone(),
            })
            .await?
            .into_inner();
        Ok(format!(
            "Test event {} queued; its delivery appears in the log below.",
            r.event_id
        ))
    }
    .await;
    render(&state, &session, &Notice::from_result(result)?, None).await
}

async fn render(
    state: &AppState,
    session: &Session,
    notice: &Notice,
    generated_secret: Option<String>,
) -> Result<Page, PageError> {
    let mut policy = state.policy.clone();
    let mut policy2 = state.policy.clone();
    let tenant_id = session.tenant.clone();
    let (r, settings, deliveries) = tokio::join!(
        report(state, session),
        policy.get_alert_settings(pb::GetAlertSettingsRequest {
            tenant_id: tenant_id.clone()
        }),
        policy2.list_alert_deliveries(pb::ListAlertDeliveriesRequest {
            tenant_id,
            limit: 20
        }),
    );
    let r = r?;
    // No settings yet is NOT_FOUND: an empty form.
    let settings = match settings {
        Ok(s) => s.into_inner().settings,
        Err(s) if s.code() == tonic::Code::NotFound => None,
        Err(s) => return Err(s.into()),
    };
    let deliveries = deliveries?.into_inner();
    let body = html! {
        section aria-labelledby="report-h" {
            h2 #report-h { "Report" }
            p { "Generated " (when(r.generated_at.as_ref())) ". "
                a.button href="/report.csv" download { "Download CSV" } }
            (users_table("disabled-table", "Disabled users who still hold equipment, longest disabled first", &r.disabled_users))
            h3 { "Role-locked users deactivated upstream" }
            (users_table("locked-table", "Role-locked users whose account is inactive or deleted upstream", &r.locked_deactivated_users))
        }
        (alerts_section(session, settings.as_ref(), generated_secret.as_deref()))
        section aria-labelledby="deliveries-h" {
            h2 #deliveries-h { "Delivery log" }
            p.muted { (plural(deliveries.pending_events as usize, "event", "events")) " waiting for delivery." }
            @if deliveries.deliveries.is_empty() { p { "No delivery attempt yet." } } @else {
                div.table-wrap {
                    table #deliveries {
                        caption.sr-only { "Webhook delivery attempts, newest first" }
                        thead { tr { th scope="col" { "When" } th scope="col" { "Event" } th scope="col" { "Attempt" } th scope="col" { "Outcome" } th scope="col" { "HTTP" } th scope="col" { "Detail" } } }
                        tbody {
                            @for d in &deliveries.deliveries {
                                tr {
                                    td { (when(d.at.as_ref())) }
                                    td { (d.kind) }
                                    td { (d.attempt) }
                                    td { span class={ "badge " (if d.outcome == "delivered" { "on" } else if d.outcome == "retry" { "warn" } else { "off" }) } { (d.outcome) } }
                                    td { @if d.http_status > 0 { (d.http_status) } @else { "—" } }
                                    td { (d.detail) }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(layout::page(
        session,
        Nav::Report,
        "Disabled users with equipment",
        notice,
        body,
    ))
}

fn users_table(id: &str, caption: &str, users: &[pb::ReportUser]) -> Markup {
    html! {
        @if users.is_empty() { p { "None." } } @else {
            div.table-wrap {
                table id=(id) {
                    caption.sr-only { (caption) }
                    thead { tr { th scope="col" { "User" } th scope="col" { "Email" } th scope="col" { "Disabled since" } th scope="col" { "Days" } th scope="col" { "Role" } th scope="col" { "Equipment" } } }
                    tbody {
                        @for u in users {
                            tr {
                                td { a href={ "/users/" (u.user_id) } { @if u.user_name.is_empty() { (u.user_id) } @else { (u.user_name) } } @if !u.display_name.is_empty() { br; span.muted { (u.display_name) } } }
                                td { (u.email) }
                                td { (when(u.disabled_at.as_ref())) }
                                td { (u.days_since_disabled) }
                                td { (u.role) @if u.locked { " (locked)" } }
                                td { ul.plain { @for a in &u.assets { li { (a.asset_name) " " span.muted { "(" (a.asset_id) ")" } } } } }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn alerts_section(
    session: &Session,
    s: Option<&pb::AlertSettings>,
    secret: Option<&str>,
) -> Markup {
    let digest = s.map_or(pb::DigestFrequency::Off as i32, |s| s.digest);
    let is = |d: pb::DigestFrequency| digest == d as i32;
    html! {
        section aria-labelledby="alerts-h" {
            h2 #alerts-h { "Alerts" }
            p { "A signed webhook is sent when a disabled user still holds equipment, and in a digest on a schedule." }
            @if let Some(secret) = secret {
                div.secret role="region" aria-labelledby="alert-secret-label" {
                    span.label #alert-secret-label { "Signing secret" }
                    div.copyable { code #alert-secret { (secret) } button.copy type="button" data-copy="alert-secret" { "Copy secret" } }
                    p.hint { "Shown only now: store it where your webhook receiver verifies signatures." }
                }
            }
            form.stack method="post" action="/report/alerts" {
                (layout::csrf(session))
                label for="webhook-url" { "Webhook URL" }
                input #webhook-url name="webhook_url" type="url" required placeholder="https://hooks.example.com/scim" value=(s.map_or("", |s| s.webhook_url.as_str()));
                label for="signing-secret" { "Signing secret (at least 16 characters; leave empty to keep the current one" @if s.is_none_or(|s| !s.secret_set) { " or to generate one" } ")" }
                input #signing-secret name="signing_secret" type="password" autocomplete="new-password" minlength="16";
                div.check { input #generate-secret name="generate_secret" type="checkbox" value="on"; label for="generate-secret" { "Generate a new secret (shown once)" } }
                fieldset {
                    legend { "Digest" }
                    label for="digest" { "Schedule" }
                    select #digest name="digest" {
                        option value="off" selected[is(pb::DigestFrequency::Off) || is(pb::DigestFrequency::Unspecified)] { "Off" }
                        option value="daily" selected[is(pb::DigestFrequency::Daily)] { "Daily" }
                        option value="weekly" selected[is(pb::DigestFrequency::Weekly)] { "Weekly" }
                    }
                    label for="digest-hour" { "Hour (0–23, local time)" }
                    input #digest-hour name="digest_hour" type="number" min="0" max="23" value=(s.map_or(8, |s| s.digest_hour));
                    label for="digest-weekday" { "Weekday for weekly digests (1 = Monday … 7 = Sunday)" }
                    input #digest-weekday name="digest_weekday" type="number" min="1" max="7" value=(s.map_or(1, |s| s.digest_weekday.max(1)));
                    label for="time-zone" { "Time zone (IANA, e.g. Europe/Berlin)" }
                    input #time-zone name="time_zone" type="text" value=(s.map_or("UTC", |s| s.time_zone.as_str()));
                }
                @if let Some(s) = s { p.muted { "Secret " @if s.secret_set { "set" } @else { "not set" } ". Next digest: " (when(s.next_digest_at.as_ref())) "." } }
                button.primary type="submit" { "Save alert settings" }
            }
            @if s.is_some() {
                form method="post" action="/report/alerts/test" {
                    (layout::csrf(session))
                    button type="submit" { "Send a test alert" }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::field;

    #[test]
    fn csv_fields_are_quoted_and_formulas_defused() {
        assert_eq!(field("plain"), "plain");
        assert_eq!(field("a,b"), "\"a,b\"");
        assert_eq!(field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(field("=HYPERLINK(1)"), "'=HYPERLINK(1)");
        assert_eq!(field("-1,2"), "\"'-1,2\"");
    }
}
