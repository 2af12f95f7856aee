//! Time as a value. Rules never read a clock: every decision takes `now` as an argument
//! (ARCHITECTURE invariant 5). Meta's webhooks carry epoch seconds, so seconds are the unit.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::ops::{Add, Sub};

/// A point in time, UTC, in whole seconds since the Unix epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Timestamp(i64);

impl Timestamp {
    pub const EPOCH: Timestamp = Timestamp(0);

    pub const fn from_unix(seconds: i64) -> Self {
        Timestamp(seconds)
    }

    pub const fn unix(self) -> i64 {
        self.0
    }

    /// Parses Meta's string timestamps (`"1732000000"`).
    pub fn parse_unix(text: &str) -> Result<Self, TimeError> {
        text.trim()
            .parse::<i64>()
            .map(Timestamp)
            .map_err(|_| TimeError::NotEpochSeconds(text.chars().take(32).collect()))
    }

    /// Whole days since the epoch: the calendar day (UTC) this instant falls on.
    pub const fn day_number(self) -> i64 {
        self.0.div_euclid(86_400)
    }

    /// The UTC calendar date, for ledger keys and date-keyed pricing.
    pub fn date(self) -> Date {
        Date::from_day_number(self.day_number())
    }

    pub fn saturating_sub(self, other: Timestamp) -> Duration {
        Duration(self.0.saturating_sub(other.0))
    }
}

impl Add<Duration> for Timestamp {
    type Output = Timestamp;
    fn add(self, rhs: Duration) -> Timestamp {
        Timestamp(self.0.saturating_add(rhs.0))
    }
}

impl Sub<Duration> for Timestamp {
    type Output = Timestamp;
    fn sub(self, rhs: Duration) -> Timestamp {
        Timestamp(self.0.saturating_sub(rhs.0))
    }
}

impl Sub<Timestamp> for Timestamp {
    type Output = Duration;
    fn sub(self, rhs: Timestamp) -> Duration {
        Duration(self.0.saturating_sub(rhs.0))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let date = self.date();
        let secs = self.0.rem_euclid(86_400);
        write!(
            f,
            "{date}T{:02}:{:02}:{:02}Z",
            secs / 3600,
            (secs % 3600) / 60,
            secs % 60
        )
    }
}

/// A length of time in whole seconds. Negative lengths are allowed in arithmetic but settings
/// reject them at the edge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Duration(i64);

impl Duration {
    pub const ZERO: Duration = Duration(0);

    pub const fn seconds(s: i64) -> Self {
        Duration(s)
    }
    pub const fn minutes(m: i64) -> Self {
        Duration(m * 60)
    }
    pub const fn hours(h: i64) -> Self {
        Duration(h * 3600)
    }
    pub const fn days(d: i64) -> Self {
        Duration(d * 86_400)
    }
    pub const fn as_seconds(self) -> i64 {
        self.0
    }
}

impl Add for Duration {
    type Output = Duration;
    fn add(self, rhs: Duration) -> Duration {
        Duration(self.0.saturating_add(rhs.0))
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.0;
        if s % 86_400 == 0 && s != 0 {
            write!(f, "{}d", s / 86_400)
        } else if s % 3600 == 0 && s != 0 {
            write!(f, "{}h", s / 3600)
        } else if s % 60 == 0 && s != 0 {
            write!(f, "{}m", s / 60)
        } else {
            write!(f, "{s}s")
        }
    }
}

/// A UTC calendar date (proleptic Gregorian), used for date-keyed pricing (BILL-4) and the
/// cost ledger's days (BILL-3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Date {
    pub year: i32,
    pub month: u8,
    pub day: u8,
}

impl Date {
    pub const fn new(year: i32, month: u8, day: u8) -> Self {
        Date { year, month, day }
    }

    /// Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    pub fn from_day_number(days: i64) -> Self {
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let y = yoe + era * 400;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let d = (doy - (153 * mp + 2) / 5 + 1) as u8;
        let m = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
        let year = (if m <= 2 { y + 1 } else { y }) as i32;
        Date {
            year,
            month: m,
            day: d,
        }
    }

    /// Days since 1970-01-01.
    pub fn day_number(self) -> i64 {
        let y = i64::from(self.year) - i64::from(self.month <= 2);
        let m = i64::from(self.month);
        let era = y.div_euclid(400);
        let yoe = y.rem_euclid(400);
        let mp = if m > 2 { m - 3 } else { m + 9 };
        let doy = (153 * mp + 2) / 5 + i64::from(self.day) - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        era * 146_097 + doe - 719_468
    }

    /// Midnight UTC at the start of this date.
    pub fn start(self) -> Timestamp {
        Timestamp::from_unix(self.day_number() * 86_400)
    }

    /// Parses `YYYY-MM-DD` as a real calendar date (2025-02-30 is refused), from 1970.
    pub fn parse(text: &str) -> Option<Date> {
        let mut parts = text.trim().splitn(3, '-');
        let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
        if y.len() != 4 || m.len() != 2 || d.len() != 2 {
            return None;
        }
        let date = Date::new(y.parse().ok()?, m.parse().ok()?, d.parse().ok()?);
        // Round trip through the day number: 2025-02-30 does not survive it.
        (date.year >= 1970 && Date::from_day_number(date.day_number()) == date).then_some(date)
    }

    /// `YYYY-MM`: the billing month (free-tier counters of BILL-4).
    pub fn month_key(self) -> (i32, u8) {
        (self.year, self.month)
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

/// HOOK-6: how far after its arrival an event's own timestamp may be (clocks drift a little);
/// anything later is not believed.
pub const MAX_STAMP_AHEAD: Duration = Duration::minutes(5);

/// HOOK-6: when an event from Meta is taken to have happened. Meta's `timestamp` decides the
/// windows (WIN-1), and an older message never moves them back, so one impossible stamp would
/// keep a contact wrong for good: a stamp that is negative, or more than [`MAX_STAMP_AHEAD`]
/// after the event's `arrival`, is replaced by the arrival time, and the replacement is kept
/// (`replaced`) so that it can be shown. Old stamps are believed (Meta redelivers for days).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventTime {
    pub at: Timestamp,
    /// Meta's stamp, when it was replaced.
    pub replaced: Option<i64>,
}

impl EventTime {
    pub fn of(stamped: i64, arrival: Timestamp) -> EventTime {
        if stamped < 0 || stamped > (arrival + MAX_STAMP_AHEAD).unix() {
            EventTime {
                at: arrival,
                replaced: Some(stamped),
            }
        } else {
            EventTime {
                at: Timestamp::from_unix(stamped),
                replaced: None,
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimeError {
    #[error("timestamp {0:?} is not a whole number of epoch seconds")]
    NotEpochSeconds(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hook_6_impossible_stamps_are_replaced_by_the_arrival_time() {
        let arrival = Timestamp::from_unix(1_796_400_000);
        let believed = |s: i64| EventTime::of(s, arrival);
        // Past, present and a little ahead (clock drift) are Meta's.
        for s in [0, 1_700_000_000, 1_796_400_000, 1_796_400_000 + 300] {
            assert_eq!(
                believed(s),
                EventTime {
                    at: Timestamp::from_unix(s),
                    replaced: None
                }
            );
        }
        // Negative, more than five minutes ahead, or absurd: the arrival, with the stamp kept.
        for s in [
            -5,
            i64::MIN,
            1_796_400_000 + 301,
            1_796_400_000 + 400 * 86_400,
            i64::MAX,
        ] {
            assert_eq!(
                believed(s),
                EventTime {
                    at: arrival,
                    replaced: Some(s)
                }
            );
        }
    }

    #[test]
    fn dates_round_trip_and_display() {
        let d = Date::new(2025, 7, 1);
        assert_eq!(Date::from_day_number(d.day_number()), d);
        assert_eq!(d.start().to_string(), "2025-07-01T00:00:00Z");
        assert_eq!(Timestamp::from_unix(0).date(), Date::new(1970, 1, 1));
        assert_eq!(
            Timestamp::from_unix(1_732_000_000).to_string(),
            "2024-11-19T07:06:40Z"
        );
        for n in [-800_000i64, -1, 0, 59, 60, 365, 10_957, 20_000, 2_000_000] {
            assert_eq!(Date::from_day_number(n).day_number(), n);
        }
    }

    #[test]
    fn parses_meta_string_timestamps() {
        assert_eq!(
            Timestamp::parse_unix("1732000000"),
            Ok(Timestamp::from_unix(1_732_000_000))
        );
        assert!(Timestamp::parse_unix("12:00").is_err());
    }
}
