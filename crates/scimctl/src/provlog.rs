//! `scimctl log` and `scimctl health`: a tenant's provisioning log (what
//! the IdP sent and what it got back, newest first) and its connection
//! health, from identity's `ListRequestLog` and `GetTenantHealth`.

use std::io::Write;
use std::time::{Duration, SystemTime};

use clap::Args;
use prost_types::Timestamp;
use proto::identity::v1 as pb;
use serde::Serialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::output::{self, Format};
use crate::table::Table;
use crate::{CliError, Client};

/// Arguments of `scimctl log`.
#[derive(Debug, Args)]
pub struct LogArgs {
    /// Tenant id.
    pub tenant: String,
    /// Only requests about this user or group: its id, or its userName or
    /// displayName (case-insensitive).
    #[arg(long)]
    pub user: Option<String>,
    /// Only these statuses: a code (409), a class (4xx, 5xx) or `error`
    /// (any failure); repeat or separate with commas.
    #[arg(long, value_delimiter = ',')]
    pub status: Vec<String>,
    /// Only requests from then on: an age (30m, 1h, 7d) or an RFC 3339 time.
    #[arg(long, value_parser = parse_time)]
    pub since: Option<TimeArg>,
    /// Only requests before then: an age or an RFC 3339 time.
    #[arg(long, value_parser = parse_time)]
    pub until: Option<TimeArg>,
    /// Entries shown, at most (newest first; up to 1000).
    #[arg(long, default_value_t = 50)]
    pub limit: u32,
    /// Continue an earlier listing: entries older than this id (its `next`).
    #[arg(long)]
    pub before_id: Option<i64>,
}

/// Arguments of `scimctl health`.
#[derive(Debug, Args)]
pub struct HealthArgs {
    /// Tenant id.
    pub tenant: String,
    /// The window ending now: 30m, 24h, 7d (up to 90d).
    #[arg(long, default_value = "24h", value_parser = parse_duration)]
    pub window: Duration,
}

/// A point in time given on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeArg {
    /// That long before now.
    Ago(Duration),
    /// That instant.
    At(SystemTime),
}

impl TimeArg {
    fn timestamp(self, now: SystemTime) -> Timestamp {
        let at = match self {
            TimeArg::Ago(d) => now.checked_sub(d).unwrap_or(SystemTime::UNIX_EPOCH),
            TimeArg::At(t) => t,
        };
        Timestamp::from(at)
    }
}

/// `90s`, `30m`, `1h`, `7d`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (digits, unit) = s.split_at(split);
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("{s:?} is not a duration such as 30m, 1h or 7d"))?;
    let seconds = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        _ => return Err(format!("{s:?}: the unit must be s, m, h or d")),
    };
    Ok(Duration::from_secs(n.saturating_mul(seconds)))
}

/// An age (`1h`) or an RFC 3339 time (`2026-01-31T09:00:00Z`).
pub fn parse_time(s: &str) -> Result<TimeArg, String> {
    if let Ok(t) = OffsetDateTime::parse(s.trim(), &Rfc3339) {
        let nanos =
            u64::try_from(t.unix_timestamp_nanos()).map_err(|_| format!("{s:?} is before 1970"))?;
        return Ok(TimeArg::At(
            SystemTime::UNIX_EPOCH + Duration::from_nanos(nanos),
        ));
    }
    parse_duration(s)
        .map(TimeArg::Ago)
        .map_err(|_| format!("{s:?} is neither an age (30m, 1h, 7d) nor an RFC 3339 time"))
}

/// One entry as printed with `--json`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct EntryView {
    id: i64,
    time: Option<String>,
    request_id: String,
    method: String,
    path: String,
    status: u32,
    scim_type: String,
    latency_ms: u32,
    resource_type: String,
    resource_id: String,
    resource_name: String,
    summary: String,
    client: String,
    token_id: String,
    test_connection: bool,
    idp_profile: String,
}

impl From<pb::RequestLogEntry> for EntryView {
    fn from(e: pb::RequestLogEntry) -> Self {
        let pb::RequestLogEntry {
            id,
            tenant_id: _,
            time,
            request_id,
            method,
            path,
            status,
            scim_type,
            latency_ms,
            resource_type,
            resource_id,
            resource_name,
            summary,
            client,
            token_id,
            test_connection,
            idp_profile,
        } = e;
        Self {
            id,
            time: output::rfc3339(time.as_ref()),
            request_id,
            method,
            path,
            status,
            scim_type,
            latency_ms,
            resource_type,
            resource_id,
            resource_name,
            summary,
            client,
            token_id,
            test_connection,
            idp_profile,
        }
    }
}

/// `log --json`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct LogView {
    entries: Vec<EntryView>,
    /// Pass as `--before-id` for older entries; absent when there are none.
    next_before_id: Option<i64>,
}

/// `health --json`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct HealthView {
    tenant_id: String,
    window_seconds: u64,
    requests: u64,
    errors: u64,
    server_errors: u64,
    throttled: u64,
    error_rate: f64,
    quarantine_failures: u64,
    quarantine_failure_rate: f64,
    quarantine_risk: String,
    last_request: Option<String>,
    last_success: Option<String>,
    last_error: Option<String>,
    last_test_connection: Option<String>,
    top_errors: Vec<ErrorCountView>,
    summary: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ErrorCountView {
    status: u32,
    scim_type: String,
    count: u64,
}

impl From<pb::TenantHealth> for HealthView {
    fn from(h: pb::TenantHealth) -> Self {
        let pb::TenantHealth {
            tenant_id,
            window_seconds,
            requests,
            errors,
            server_errors,
            throttled,
            error_rate,
            last_request,
            last_success,
            last_test_connection,
            last_error,
            quarantine_risk,
            summary,
            quarantine_failures,
            quarantine_failure_rate,
            top_errors,
        } = h;
        Self {
            tenant_id,
            window_seconds,
            requests,
            errors,
            server_errors,
            throttled,
            error_rate,
            quarantine_failures,
            quarantine_failure_rate,
            quarantine_risk,
            last_request: output::rfc3339(last_request.as_ref()),
            last_success: output::rfc3339(last_success.as_ref()),
            last_error: output::rfc3339(last_error.as_ref()),
            last_test_connection: output::rfc3339(last_test_connection.as_ref()),
            top_errors: top_errors
                .into_iter()
                .map(|e| ErrorCountView {
                    status: e.status,
                    scim_type: e.scim_type,
                    count: e.count,
                })
                .collect(),
            summary,
        }
    }
}

/// Runs `scimctl log`.
pub async fn log(
    mut client: Client,
    args: LogArgs,
    format: Format,
    out: &mut impl Write,
) -> Result<(), CliError> {
    let now = SystemTime::now();
    let LogArgs {
        tenant,
        user,
        status,
        since,
        until,
        limit,
        before_id,
    } = args;
    let request = pb::ListRequestLogRequest {
        tenant_id: tenant,
        resource: user.unwrap_or_default(),
        status,
        since: since.map(|t| t.timestamp(now)),
        until: until.map(|t| t.timestamp(now)),
        limit,
        before_id: before_id.unwrap_or(0),
    };
    let response = client.list_request_log(request).await?.into_inner();
    let next = (response.next_before_id > 0).then_some(response.next_before_id);
    match format {
        Format::Json => output::json(
            out,
            &LogView {
                entries: response.entries.into_iter().map(EntryView::from).collect(),
                next_before_id: next,
            },
        ),
        Format::Human => {
            let mut table = Table::new(&[
                "TIME", "METHOD", "PATH", "STATUS", "MS", "PROFILE", "RESOURCE", "SUMMARY",
            ]);
            for e in &response.entries {
                let resource = if e.resource_name.is_empty() {
                    e.resource_id.clone()
                } else {
                    e.resource_name.clone()
                };
                table.row(vec![
                    output::short(e.time.as_ref()),
                    e.method.clone(),
                    e.path.clone(),
                    e.status.to_string(),
                    e.latency_ms.to_string(),
                    if e.idp_profile.is_empty() {
                        "-".to_owned()
                    } else {
                        e.idp_profile.clone()
                    },
                    resource,
                    e.summary.clone(),
                ]);
            }
            table.write(out)?;
            if let Some(next) = next {
                writeln!(out)?;
                writeln!(out, "older entries: --before-id {next}")?;
            }
            Ok(())
        }
    }
}

/// Runs `scimctl health`.
pub async fn health(
    mut client: Client,
    args: HealthArgs,
    format: Format,
    out: &mut impl Write,
) -> Result<(), CliError> {
    let request = pb::GetTenantHealthRequest {
        tenant_id: args.tenant,
        window_seconds: args.window.as_secs(),
    };
    let health = client
        .get_tenant_health(request)
        .await?
        .into_inner()
        .health
        .ok_or(CliError::Missing("health"))?;
    let view = HealthView::from(health);
    if format == Format::Json {
        return output::json(out, &view);
    }
    let dash = |t: &Option<String>| t.clone().unwrap_or_else(|| "-".into());
    writeln!(out, "{}", view.summary)?;
    writeln!(out)?;
    let mut table = Table::new(&["FIGURE", "VALUE"]);
    let rows = [
        ("tenant", view.tenant_id.clone()),
        ("window", format!("{} s", view.window_seconds)),
        ("requests", view.requests.to_string()),
        (
            "errors",
            format!("{} ({:.1}%)", view.errors, view.error_rate * 100.0),
        ),
        ("5xx", view.server_errors.to_string()),
        ("429", view.throttled.to_string()),
        (
            "quarantine failures",
            format!(
                "{} ({:.1}%)",
                view.quarantine_failures,
                view.quarantine_failure_rate * 100.0
            ),
        ),
        ("quarantine risk", view.quarantine_risk.clone()),
        ("last request", dash(&view.last_request)),
        ("last success", dash(&view.last_success)),
        ("last error", dash(&view.last_error)),
        ("last test connection", dash(&view.last_test_connection)),
    ];
    for (name, value) in rows {
        table.row(vec![name.to_owned(), value]);
    }
    for e in &view.top_errors {
        let kind = format!("{} {}", e.status, e.scim_type);
        table.row(vec![
            "top error".into(),
            format!("{} x{}", kind.trim(), e.count),
        ]);
    }
    Ok(table.write(out)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_times() {
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3_600)));
        assert_eq!(parse_duration("7d"), Ok(Duration::from_secs(604_800)));
        assert!(parse_duration("1w").is_err());
        assert!(parse_duration("h").is_err());
        assert_eq!(
            parse_time("1970-01-01T00:01:00Z"),
            Ok(TimeArg::At(
                SystemTime::UNIX_EPOCH + Duration::from_secs(60)
            ))
        );
        assert_eq!(
            parse_time("30m"),
            Ok(TimeArg::Ago(Duration::from_secs(1_800)))
        );
        assert!(parse_time("yesterday").is_err());
    }
}
