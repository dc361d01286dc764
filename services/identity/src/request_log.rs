//! The provisioning log's rules outside storage: what a recorded entry may
//! hold, the status filters readers pass, tenant health (quarantine risk and
//! its sentence). Its retention is in [`crate::retention`].

use crate::domain::TenantId;
use crate::error::IdentityError;
use crate::store::{HealthCounts, RequestLogRecord};

/// Most entries one `RecordRequests` call may carry.
pub const MAX_RECORD_BATCH: usize = 1000;
/// Page size of `ListRequestLog` when none is asked for, and the largest.
pub const DEFAULT_LIST_LIMIT: u32 = 100;
pub const MAX_LIST_LIMIT: u32 = 1000;
/// Health window when none is asked for, and the longest.
pub const DEFAULT_HEALTH_WINDOW: u64 = 86_400;
pub const MAX_HEALTH_WINDOW: u64 = 90 * 86_400;

/// Entra ID quarantines a provisioning job when more than 40% of its operations
/// fail; above this share of counted failures the tenant is at
/// `quarantine_risk`.
pub const QUARANTINE_RATE: f64 = 0.40;
/// Fewer counted failures than this are too few to call a risk: they make a
/// `warning` at most.
pub const QUARANTINE_MIN_FAILURES: u64 = 10;
/// Above this share of counted failures the tenant gets a `warning`.
pub const WARNING_RATE: f64 = 0.10;

// === Recording ===

/// Longest kept length (in bytes, cut at a character boundary) of each
/// free-text field; longer values are cut, so a client cannot grow the log.
fn cut(s: &mut String, max: usize) {
    if s.len() > max {
        let mut end = max;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
}

/// Checks one entry and bounds its fields; the tenant must be valid.
pub fn validate(
    mut entry: RequestLogRecord,
) -> Result<(TenantId, RequestLogRecord), IdentityError> {
    let tenant = TenantId::parse(&entry.tenant_id)?;
    if !(100..=599).contains(&entry.status) {
        return Err(IdentityError::InvalidArgument(format!(
            "status {} is not an HTTP status",
            entry.status
        )));
    }
    if entry.method.is_empty()
        || entry.method.len() > 16
        || !entry.method.bytes().all(|b| b.is_ascii_uppercase())
    {
        return Err(IdentityError::InvalidArgument(
            "method must be an HTTP method in capitals".into(),
        ));
    }
    for (field, max) in [
        (&mut entry.request_id, 128),
        (&mut entry.path, 512),
        (&mut entry.scim_type, 32),
        (&mut entry.resource_type, 32),
        (&mut entry.resource_id, 128),
        (&mut entry.resource_name, 256),
        (&mut entry.summary, 300),
        (&mut entry.client, 128),
        (&mut entry.token_id, 64),
    ] {
        cut(field, max);
    }
    Ok((tenant, entry))
}

// === Reading ===

/// A status filter: an exact code (`409`), a class (`4xx`, `5xx`) or
/// `error` (any status from 400 on), as an inclusive range.
pub fn status_range(filter: &str) -> Result<(u16, u16), IdentityError> {
    let f = filter.trim().to_ascii_lowercase();
    let bad = || {
        IdentityError::InvalidArgument(format!(
            "status filter {filter:?}: use a code (409), a class (4xx) or \"error\""
        ))
    };
    if f == "error" || f == "errors" {
        return Ok((400, 599));
    }
    if let Some(class) = f.strip_suffix("xx") {
        let digit: u16 = class.parse().map_err(|_| bad())?;
        return match digit {
            1..=5 => Ok((digit * 100, digit * 100 + 99)),
            _ => Err(bad()),
        };
    }
    match f.parse::<u16>() {
        Ok(code) if (100..=599).contains(&code) => Ok((code, code)),
        _ => Err(bad()),
    }
}

// === Health ===

/// `ok`, `warning` or `quarantine_risk` for `failures` counted failures out
/// of `requests`.
pub fn quarantine_risk(requests: u64, failures: u64) -> &'static str {
    if requests == 0 || failures == 0 {
        return "ok";
    }
    let rate = failures as f64 / requests as f64;
    if rate > QUARANTINE_RATE && failures >= QUARANTINE_MIN_FAILURES {
        "quarantine_risk"
    } else if rate > WARNING_RATE {
        "warning"
    } else {
        "ok"
    }
}

/// "24 hours", "1 hour", "30 minutes", "7 days", "45 seconds".
pub fn window_text(seconds: u64) -> String {
    let (n, unit) = if seconds.is_multiple_of(86_400) && seconds >= 2 * 86_400 {
        (seconds / 86_400, "day")
    } else if seconds.is_multiple_of(3_600) {
        (seconds / 3_600, "hour")
    } else if seconds.is_multiple_of(60) {
        (seconds / 60, "minute")
    } else {
        (seconds, "second")
    };
    if n == 1 {
        format!("1 {unit}")
    } else {
        format!("{n} {unit}s")
    }
}

fn percent(part: u64, whole: u64) -> String {
    let p = part as f64 * 100.0 / whole as f64;
    if p >= 10.0 || p == 0.0 {
        format!("{p:.0}%")
    } else {
        format!("{p:.1}%")
    }
}

/// One sentence for people about a tenant's window.
pub fn summary(counts: &HealthCounts, window_seconds: u64) -> String {
    let window = window_text(window_seconds);
    if counts.requests == 0 {
        return format!("No SCIM requests in the last {window}.");
    }
    let plural = if counts.requests == 1 { "" } else { "s" };
    let mut s = format!("{} request{plural} in the last {window}", counts.requests);
    if counts.errors == 0 {
        s.push_str(", none failed");
    } else {
        s.push_str(&format!(
            ", {} failed ({})",
            counts.errors,
            percent(counts.errors, counts.requests)
        ));
        if let Some((status, scim_type, _)) = counts.top_errors.first() {
            s.push_str(&format!(", mostly {status}"));
            if !scim_type.is_empty() {
                s.push_str(&format!(" {scim_type}"));
            }
        }
        if counts.throttled > 0 {
            s.push_str(&format!(", {} throttled (429)", counts.throttled));
        }
        if counts.server_errors > 0 {
            s.push_str(&format!(", {} server errors (5xx)", counts.server_errors));
        }
    }
    match quarantine_risk(counts.requests, counts.quarantine_failures) {
        "quarantine_risk" => s.push_str(&format!(
            "; {} of requests fail in ways Entra ID counts towards quarantine",
            percent(counts.quarantine_failures, counts.requests)
        )),
        "warning" => s.push_str(&format!(
            "; {} of requests fail in ways Entra ID counts towards quarantine (warning above {:.0}%, risk above {:.0}%)",
            percent(counts.quarantine_failures, counts.requests),
            WARNING_RATE * 100.0,
            QUARANTINE_RATE * 100.0
        )),
        _ => {}
    }
    s.push('.');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_filters() {
        assert_eq!(status_range("409").ok(), Some((409, 409)));
        assert_eq!(status_range("4xx").ok(), Some((400, 499)));
        assert_eq!(status_range("5XX").ok(), Some((500, 599)));
        assert_eq!(status_range("error").ok(), Some((400, 599)));
        for bad in ["", "40", "700", "6xx", "xx", "fail", "4x"] {
            assert!(status_range(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn risk_thresholds() {
        assert_eq!(quarantine_risk(0, 0), "ok");
        assert_eq!(quarantine_risk(100, 10), "ok");
        assert_eq!(quarantine_risk(100, 11), "warning");
        assert_eq!(quarantine_risk(100, 41), "quarantine_risk");
        // Too few failures to call it a risk, whatever the share.
        assert_eq!(quarantine_risk(5, 5), "warning");
        assert_eq!(quarantine_risk(20, 9), "warning");
        assert_eq!(quarantine_risk(20, 10), "quarantine_risk");
    }

    #[test]
    fn sentences() {
        assert_eq!(
            summary(&HealthCounts::default(), 86_400),
            "No SCIM requests in the last 24 hours."
        );
        let counts = HealthCounts {
            requests: 8,
            errors: 2,
            quarantine_failures: 1,
            top_errors: vec![
                (409, "uniqueness".into(), 1),
                (400, "invalidFilter".into(), 1),
            ],
            ..HealthCounts::default()
        };
        assert_eq!(
            summary(&counts, 3_600),
            "8 requests in the last 1 hour, 2 failed (25%), mostly 409 uniqueness; \
             12% of requests fail in ways Entra ID counts towards quarantine \
             (warning above 10%, risk above 40%)."
        );
        let throttled = HealthCounts {
            requests: 100,
            errors: 50,
            throttled: 30,
            server_errors: 20,
            quarantine_failures: 50,
            top_errors: vec![(429, String::new(), 30)],
            ..HealthCounts::default()
        };
        assert_eq!(
            summary(&throttled, 86_400),
            "100 requests in the last 24 hours, 50 failed (50%), mostly 429, \
             30 throttled (429), 20 server errors (5xx); 50% of requests fail in ways \
             Entra ID counts towards quarantine."
        );
        let fine = HealthCounts {
            requests: 1,
            ..HealthCounts::default()
        };
        assert_eq!(
            summary(&fine, 7 * 86_400),
            "1 request in the last 7 days, none failed."
        );
    }

    #[test]
    fn fields_are_bounded_and_checked() {
        let entry = RequestLogRecord {
            tenant_id: "acme".into(),
            method: "GET".into(),
            status: 200,
            summary: "é".repeat(400),
            ..RequestLogRecord::default()
        };
        let (_, e) = validate(entry.clone()).unwrap_or_else(|e| panic!("{e}"));
        assert!(e.summary.len() <= 300);
        for bad in [
            RequestLogRecord {
                status: 42,
                ..entry.clone()
            },
            RequestLogRecord {
                method: "get".into(),
                ..entry.clone()
            },
            RequestLogRecord {
                tenant_id: "Not A Tenant".into(),
                ..entry
            },
        ] {
            assert!(validate(bad).is_err());
        }
    }
}
