//! How long a plan lasts and where a period ends. Days and weeks are exact durations;
//! months and years are calendar steps from the start (31 Jan + 1 month = 28/29 Feb),
//! the way Russian operators bill monthly plans. All instants are UTC.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use time::{Date, Duration, Month, OffsetDateTime};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "unit", content = "count", rename_all = "lowercase")]
pub enum Validity {
    Day,
    Week,
    Month,
    Year,
    /// N days (2..=366), as sold in travel packs.
    Days(u16),
}

impl Validity {
    /// The filter name of this validity: day, week, month, year or days.
    pub fn unit(self) -> &'static str {
        match self {
            Self::Day => "day",
            Self::Week => "week",
            Self::Month => "month",
            Self::Year => "year",
            Self::Days(_) => "days",
        }
    }
    /// Builds from the stored (unit, count) pair.
    pub fn from_parts(unit: &str, count: i64) -> Option<Self> {
        match (unit, count) {
            ("day", 1) => Some(Self::Day),
            ("week", 1) => Some(Self::Week),
            ("month", 1) => Some(Self::Month),
            ("year", 1) => Some(Self::Year),
            ("days", n) if (2..=366).contains(&n) => Some(Self::Days(n as u16)),
            _ => None,
        }
    }
    pub fn count(self) -> i64 {
        match self {
            Self::Days(n) => i64::from(n),
            _ => 1,
        }
    }
    /// Nominal length in days, for comparing plans (price per day): a month counts 30.
    pub fn nominal_days(self) -> u32 {
        match self {
            Self::Day => 1,
            Self::Week => 7,
            Self::Month => 30,
            Self::Year => 365,
            Self::Days(n) => u32::from(n),
        }
    }
    /// The end (exclusive) of a period of this validity that starts at `start`.
    pub fn end_from(self, start: OffsetDateTime) -> OffsetDateTime {
        match self {
            Self::Day => start + Duration::days(1),
            Self::Week => start + Duration::days(7),
            Self::Days(n) => start + Duration::days(i64::from(n)),
            Self::Month => add_months(start, 1),
            Self::Year => add_months(start, 12),
        }
    }
}

impl fmt::Display for Validity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Days(n) => write!(f, "{n} days"),
            other => f.write_str(other.unit()),
        }
    }
}

impl FromStr for Validity {
    type Err = String;
    /// Parses `day`, `week`, `month`, `year` or `Nd` / `N days`.
    fn from_str(s: &str) -> Result<Self, String> {
        let t = s.trim().to_ascii_lowercase();
        match t.as_str() {
            "day" => Ok(Self::Day),
            "week" => Ok(Self::Week),
            "month" => Ok(Self::Month),
            "year" => Ok(Self::Year),
            other => {
                let n = other.trim_end_matches("days").trim_end_matches('d').trim();
                n.parse::<i64>()
                    .ok()
                    .and_then(|n| Self::from_parts("days", n))
                    .ok_or_else(|| {
                        format!(
                            "unknown validity {s:?}: use day, week, month, year or N days (2..366)"
                        )
                    })
            }
        }
    }
}

/// Adds calendar months, clamping the day to the target month's length.
fn add_months(t: OffsetDateTime, months: i32) -> OffsetDateTime {
    let total = t.year() * 12 + (t.month() as i32 - 1) + months;
    let year = total.div_euclid(12);
    let month = Month::try_from((total.rem_euclid(12) + 1) as u8).expect("1..=12");
    let last = time::util::days_in_month(month, year);
    let day = t.day().min(last);
    let date = Date::from_calendar_date(year, month, day).expect("clamped day is valid");
    t.replace_date(date)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn calendar_months() {
        assert_eq!(
            Validity::Month.end_from(datetime!(2026-01-31 10:00 UTC)),
            datetime!(2026-02-28 10:00 UTC)
        );
        assert_eq!(
            Validity::Month.end_from(datetime!(2028-01-31 10:00 UTC)),
            datetime!(2028-02-29 10:00 UTC)
        );
        assert_eq!(
            Validity::Month.end_from(datetime!(2026-12-15 00:00 UTC)),
            datetime!(2027-01-15 00:00 UTC)
        );
        assert_eq!(
            Validity::Year.end_from(datetime!(2028-02-29 12:00 UTC)),
            datetime!(2029-02-28 12:00 UTC)
        );
        assert_eq!(
            Validity::Days(30).end_from(datetime!(2026-11-25 08:00 UTC)),
            datetime!(2026-12-25 08:00 UTC)
        );
    }

    #[test]
    fn parse_validity() {
        assert_eq!("7d".parse::<Validity>(), Ok(Validity::Days(7)));
        assert_eq!("30 days".parse::<Validity>(), Ok(Validity::Days(30)));
        assert_eq!("month".parse::<Validity>(), Ok(Validity::Month));
        assert!("1d".parse::<Validity>().is_err());
        assert!("fortnight".parse::<Validity>().is_err());
    }
}
