//! The digest schedule: daily or weekly at a whole hour in the tenant's IANA
//! time zone. A pure function of the schedule and an instant, so tests pass
//! the clock in. Local hours that a DST change skips run at the first
//! instant after the gap; hours that repeat run once (the earlier).

use jiff::civil::{Date, Weekday};
use jiff::tz::TimeZone;
use jiff::{Timestamp, ZonedDateTime};

use crate::domain::Micros;
use crate::error::PolicyError;

/// How often the digest goes out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frequency {
    Off,
    Daily,
    /// On this ISO weekday (1 = Monday … 7 = Sunday).
    Weekly(u8),
}

impl Frequency {
    /// The stored code: `off`, `daily`, `weekly`.
    pub fn code(self) -> &'static str {
        match self {
            Self::Off => "off",
            Self::Daily => "daily",
            Self::Weekly(_) => "weekly",
        }
    }
}

/// When a tenant's digest goes out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    pub frequency: Frequency,
    /// 0-23, local time.
    pub hour: u8,
    /// An IANA name such as `Europe/Berlin`.
    pub time_zone: String,
}

impl Schedule {
    /// Validates hour, weekday and time zone; INVALID_ARGUMENT otherwise.
    pub fn parse(frequency: Frequency, hour: u32, time_zone: &str) -> Result<Self, PolicyError> {
        let hour = u8::try_from(hour)
            .ok()
            .filter(|h| *h < 24)
            .ok_or_else(|| PolicyError::InvalidArgument("digest hour must be 0-23".into()))?;
        if let Frequency::Weekly(d) = frequency
            && !(1..=7).contains(&d)
        {
            return Err(PolicyError::InvalidArgument(
                "digest weekday must be 1 (Monday) to 7 (Sunday)".into(),
            ));
        }
        let time_zone = if time_zone.is_empty() {
            "UTC"
        } else {
            time_zone
        };
        zone(time_zone)?;
        Ok(Self {
            frequency,
            hour,
            time_zone: time_zone.to_owned(),
        })
    }

    /// The first digest time strictly after `after`; `None` when off.
    pub fn next_after(&self, after: Micros) -> Option<Micros> {
        let tz = zone(&self.time_zone).ok()?;
        let now = Timestamp::from_microsecond(after)
            .ok()?
            .to_zoned_datetime(tz.clone());
        let mut date = now.date();
        // Eight days always reach the weekday, even past today's hour.
        for _ in 0..8 {
            if self.runs_on(date) {
                let at = self.at(date, &tz)?;
                if at.timestamp() > now.timestamp() {
                    return Some(at.timestamp().as_microsecond());
                }
            }
            date = date.tomorrow().ok()?;
        }
        None
    }

    fn runs_on(&self, date: Date) -> bool {
        match self.frequency {
            Frequency::Off => false,
            Frequency::Daily => true,
            Frequency::Weekly(d) => weekday(date.weekday()) == d,
        }
    }

    fn at(&self, date: Date, tz: &TimeZone) -> Option<ZonedDateTime> {
        date.at(i8::try_from(self.hour).ok()?, 0, 0, 0)
            .to_zoned_datetime(tz.clone())
            .ok()
    }
}

/// The IANA zone named `name`; INVALID_ARGUMENT when unknown.
pub fn zone(name: &str) -> Result<TimeZone, PolicyError> {
    TimeZone::get(name).map_err(|_| {
        PolicyError::InvalidArgument(format!(
            "unknown time zone '{name}' (use an IANA name such as Europe/Berlin)"
        ))
    })
}

fn weekday(w: Weekday) -> u8 {
    u8::try_from(w.to_monday_one_offset()).unwrap_or(0)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    /// The instant of a civil time in a zone, in micros.
    fn at(civil: &str, tz: &str) -> Micros {
        let dt: jiff::civil::DateTime = civil.parse().unwrap();
        dt.to_zoned_datetime(TimeZone::get(tz).unwrap())
            .unwrap()
            .timestamp()
            .as_microsecond()
    }

    fn daily(hour: u32, tz: &str) -> Schedule {
        Schedule::parse(Frequency::Daily, hour, tz).unwrap()
    }

    #[test]
    fn daily_runs_at_the_local_hour() {
        let s = daily(9, "Europe/Berlin");
        // 08:59 Berlin → 09:00 the same day; 09:00 exactly → the next day.
        assert_eq!(
            s.next_after(at("2025-01-15T08:59", "Europe/Berlin")),
            Some(at("2025-01-15T09:00", "Europe/Berlin"))
        );
        assert_eq!(
            s.next_after(at("2025-01-15T09:00", "Europe/Berlin")),
            Some(at("2025-01-16T09:00", "Europe/Berlin"))
        );
        // 09:00 Berlin in winter is 08:00 UTC, in summer 07:00 UTC.
        assert_eq!(
            s.next_after(at("2025-01-15T00:00", "UTC")),
            Some(at("2025-01-15T08:00", "UTC"))
        );
        assert_eq!(
            s.next_after(at("2025-07-15T00:00", "UTC")),
            Some(at("2025-07-15T07:00", "UTC"))
        );
    }

    #[test]
    fn dst_gaps_and_repeats_run_once() {
        // 2025-03-30 02:00-03:00 does not exist in Berlin: the run is at 03:00.
        let s = daily(2, "Europe/Berlin");
        assert_eq!(
            s.next_after(at("2025-03-30T00:00", "Europe/Berlin")),
            Some(at("2025-03-30T03:00", "Europe/Berlin"))
        );
        // 2025-10-26 02:00-03:00 happens twice: one run, then the next day.
        let first = s
            .next_after(at("2025-10-26T00:00", "Europe/Berlin"))
            .unwrap();
        let second = s.next_after(first).unwrap();
        assert_eq!(second, at("2025-10-27T02:00", "Europe/Berlin"));
    }

    #[test]
    fn weekly_runs_on_its_weekday() {
        // 2025-01-15 is a Wednesday; Monday 07:00 in New York.
        let s = Schedule::parse(Frequency::Weekly(1), 7, "America/New_York").unwrap();
        assert_eq!(
            s.next_after(at("2025-01-15T12:00", "UTC")),
            Some(at("2025-01-20T07:00", "America/New_York"))
        );
        // On Monday after 07:00: a week later.
        assert_eq!(
            s.next_after(at("2025-01-20T08:00", "America/New_York")),
            Some(at("2025-01-27T07:00", "America/New_York"))
        );
    }

    #[test]
    fn off_never_runs_and_bad_input_is_refused() {
        assert_eq!(
            Schedule::parse(Frequency::Off, 0, "")
                .unwrap()
                .next_after(0),
            None
        );
        assert_eq!(
            Schedule::parse(Frequency::Off, 0, "").unwrap().time_zone,
            "UTC"
        );
        assert!(Schedule::parse(Frequency::Daily, 24, "UTC").is_err());
        assert!(Schedule::parse(Frequency::Weekly(8), 1, "UTC").is_err());
        assert!(Schedule::parse(Frequency::Daily, 1, "Mars/Olympus").is_err());
    }
}
