//! `scimctl report disabled-with-equipment`: as a table, CSV or JSON, one
//! row per user and asset, longest disabled first or by name.

use std::io::Write;

use proto::policy::v1 as pb;
use serde_json::{Value, json};

use super::Client;
use super::args::{ReportCommand, ReportFormat, ReportSort};
use crate::CliError;
use crate::output::{self, Format};
use crate::table::Table;

const SECONDS_PER_DAY: i64 = 86_400;
const COLUMNS: [&str; 10] = [
    "section",
    "user_id",
    "name",
    "email",
    "disabled_at",
    "days_since_disabled",
    "asset_id",
    "asset_name",
    "checked_out_at",
    "days_held_since_disabled",
];

fn name(u: &pb::ReportUser) -> &str {
    [&u.display_name, &u.user_name, &u.user_id]
        .into_iter()
        .find(|s| !s.is_empty())
        .map_or("", |s| s.as_str())
}

fn sort(users: &mut [pb::ReportUser], by: ReportSort) {
    match by {
        ReportSort::Days => users.sort_by(|a, b| {
            b.days_since_disabled
                .cmp(&a.days_since_disabled)
                .then_with(|| name(a).cmp(name(b)))
        }),
        ReportSort::Name => users.sort_by(|a, b| {
            name(a)
                .to_lowercase()
                .cmp(&name(b).to_lowercase())
                .then_with(|| a.user_id.cmp(&b.user_id))
        }),
    }
}

/// One row per asset (a user without assets: one row with empty asset cells).
fn rows(section: &str, users: &[pb::ReportUser]) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for u in users {
        let head = vec![
            section.to_owned(),
            u.user_id.clone(),
            name(u).to_owned(),
            u.email.clone(),
            output::short(u.disabled_at.as_ref()),
            u.days_since_disabled.to_string(),
        ];
        if u.assets.is_empty() {
            out.push([head.clone(), vec![String::new(); 4]].concat());
        }
        for a in &u.assets {
            let tail = vec![
                a.asset_id.clone(),
                a.asset_name.clone(),
                output::short(a.checked_out_at.as_ref()),
                (a.held_since_disabled_seconds / SECONDS_PER_DAY).to_string(),
            ];
            out.push([head.clone(), tail].concat());
        }
    }
    out
}

/// A CSV field (RFC 4180); a leading `=+-@` is prefixed with `'` so that
/// spreadsheets do not run IdP-supplied text as a formula.
fn csv_field(s: &str) -> String {
    let s = match s.chars().next() {
        Some('=' | '+' | '-' | '@') => format!("'{s}"),
        _ => s.to_owned(),
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

fn user_json(u: &pb::ReportUser) -> Value {
    let assets: Vec<Value> = u
        .assets
        .iter()
        .map(|a| {
            json!({
                "assetId": a.asset_id,
                "assetName": a.asset_name,
                "checkedOutAt": output::rfc3339(a.checked_out_at.as_ref()),
                "heldSinceDisabledSeconds": a.held_since_disabled_seconds,
            })
        })
        .collect();
    json!({
        "userId": u.user_id,
        "displayName": u.display_name,
        "userName": u.user_name,
        "email": u.email,
        "role": u.role,
        "locked": u.locked,
        "disabledAt": output::rfc3339(u.disabled_at.as_ref()),
        "daysSinceDisabled": u.days_since_disabled,
        "assets": assets,
    })
}

pub async fn run(
    mut client: Client,
    command: ReportCommand,
    format: Format,
    out: &mut impl Write,
) -> Result<(), CliError> {
    let ReportCommand::DisabledWithEquipment {
        tenant,
        format: report_format,
        sort: by,
    } = command;
    let request = pb::GetDisabledWithEquipmentReportRequest { tenant_id: tenant };
    let mut r = client
        .get_disabled_with_equipment_report(request)
        .await?
        .into_inner();
    sort(&mut r.disabled_users, by);
    sort(&mut r.locked_deactivated_users, by);
    let report_format = if format == Format::Json {
        ReportFormat::Json
    } else {
        report_format
    };
    match report_format {
        ReportFormat::Json => output::json(
            out,
            &json!({
                "tenantId": r.tenant_id,
                "generatedAt": output::rfc3339(r.generated_at.as_ref()),
                "disabledUsers": r.disabled_users.iter().map(user_json).collect::<Vec<_>>(),
                "lockedDeactivatedUsers": r.locked_deactivated_users.iter().map(user_json).collect::<Vec<_>>(),
            }),
        ),
        ReportFormat::Csv => {
            writeln!(out, "{}", COLUMNS.join(","))?;
            let all = [
                rows("disabled", &r.disabled_users),
                rows("locked_deactivated", &r.locked_deactivated_users),
            ]
            .concat();
            for row in all {
                let line: Vec<String> = row.iter().map(|c| csv_field(c)).collect();
                writeln!(out, "{}", line.join(","))?;
            }
            Ok(())
        }
        ReportFormat::Table => {
            let header: Vec<String> = COLUMNS[1..]
                .iter()
                .map(|c| c.replace('_', " ").to_uppercase())
                .collect();
            let header: Vec<&str> = header.iter().map(String::as_str).collect();
            for (title, users) in [
                ("Disabled users with equipment", &r.disabled_users),
                (
                    "Role-locked users deactivated upstream",
                    &r.locked_deactivated_users,
                ),
            ] {
                writeln!(out, "{title}: {}", users.len())?;
                if users.is_empty() {
                    continue;
                }
                let mut table = Table::new(&header);
                for row in rows("", users) {
                    table.row(row[1..].to_vec());
                }
                table.write(out)?;
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_and_defused() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=cmd()"), "'=cmd()");
    }
}
