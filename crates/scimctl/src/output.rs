//! What every command shares for output: the format switch, JSON emission
//! and timestamps (RFC 3339, UTC; to the second in tables, exact in JSON).

use std::io::Write;

use prost_types::Timestamp;
use serde::Serialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::CliError;

/// How a command prints its result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Aligned tables with a header row; documents pretty-printed.
    Human,
    /// One JSON document on one line.
    Json,
}

/// Writes `value` as one line of JSON.
pub fn json(out: &mut impl Write, value: &impl Serialize) -> Result<(), CliError> {
    serde_json::to_writer(&mut *out, value).map_err(std::io::Error::from)?;
    writeln!(out)?;
    Ok(())
}

/// The exact instant in RFC 3339, or `None` when absent or out of range.
pub fn rfc3339(ts: Option<&Timestamp>) -> Option<String> {
    datetime(ts?)?.format(&Rfc3339).ok()
}

/// The instant to the second, for tables; empty when absent (shown as `-`).
pub fn short(ts: Option<&Timestamp>) -> String {
    ts.and_then(|t| OffsetDateTime::from_unix_timestamp(t.seconds).ok())
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_default()
}

fn datetime(ts: &Timestamp) -> Option<OffsetDateTime> {
    let nanos = i128::from(ts.seconds) * 1_000_000_000 + i128::from(ts.nanos);
    OffsetDateTime::from_unix_timestamp_nanos(nanos).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_rfc3339_utc() {
        let ts = Timestamp {
            seconds: 1_700_000_000,
            nanos: 123_456_000,
        };
        assert_eq!(
            rfc3339(Some(&ts)).as_deref(),
            Some("2023-11-14T22:13:20.123456Z")
        );
        assert_eq!(short(Some(&ts)), "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339(None), None);
        assert_eq!(short(None), "");
    }
}
