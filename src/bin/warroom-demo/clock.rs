//! Demo time: the current time, the shift that moves data times next to
//! it, and the time range and duration argument formats.

use std::fmt;
use std::str::FromStr;

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::demo::DemoError;

/// The current time and how far data times move to be relative to it.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    now: Timestamp,
    shift: SignedDuration,
}

/// A timestamp stored as RFC 3339 text in data and state files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Time(pub Timestamp);

/// A closed interval of time with the words that describe it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeRange {
    pub start: Timestamp,
    pub end: Timestamp,
    pub label: String,
}

/// The data files describe the world as of 2025-06-12T12:00:00Z. Every data
/// time moves by the distance from this instant to now, so "the last hour"
/// finds the data's last hour whenever the demo runs.
///
/// NOTE: state files keep absolute times while data times slide with the
/// clock, so on a later day a change recorded earlier (such as a rollback)
/// can sort before the data events it followed.
const DATA_NOW_SECOND: i64 = 1_749_729_600;

/// Maximum duration accepted, because longer silences and blocks are more
/// likely a mistake than a plan.
pub const MAX_DURATION_SECONDS: i64 = 90 * 86_400;

/// Time ranges longer than this are rejected, so a typo cannot scan years.
const MAX_RANGE_DAYS: i64 = 366;

impl Clock {
    /// Uses `$WARROOM_DEMO_NOW` (RFC 3339) as the current time when set.
    pub fn from_env() -> Result<Self, DemoError> {
        let now = match std::env::var("WARROOM_DEMO_NOW") {
            Ok(text) => text.parse::<Timestamp>().map_err(|error| {
                DemoError::invalid(format!(
                    "invalid WARROOM_DEMO_NOW `{text}`: {error}; expected an RFC 3339 time such as 2025-06-12T12:00:00Z"
                ))
            })?,
            Err(_) => Timestamp::now(),
        };
        Ok(Self::at(now))
    }

    pub fn at(now: Timestamp) -> Self {
        let data_now = Timestamp::from_second(DATA_NOW_SECOND).unwrap_or(Timestamp::UNIX_EPOCH);
        Self {
            now,
            shift: now.duration_since(data_now),
        }
    }

    pub fn now(&self) -> Timestamp {
        self.now
    }

    /// Moves a data time next to the current time.
    pub fn shift(&self, data: Time) -> Timestamp {
        data.0.saturating_add(self.shift).unwrap_or(data.0)
    }

    /// Turns a real time into the data time that [`Clock::shift`] moves
    /// back to it, for records written with real times.
    pub fn unshift(&self, real: Timestamp) -> Time {
        Time(real.saturating_sub(self.shift).unwrap_or(real))
    }

    /// Parses a `--time-range` value, or returns the default of the last
    /// `default_hours` hours.
    pub fn range(&self, text: Option<&str>, default_hours: i64) -> Result<TimeRange, DemoError> {
        match text {
            Some(text) => parse_time_range(text, self.now).map_err(DemoError::invalid),
            None => Ok(TimeRange::last(
                self.now,
                default_hours * 3600,
                &hours_label(default_hours),
            )),
        }
    }
}

impl TimeRange {
    fn last(now: Timestamp, seconds: i64, label: &str) -> Self {
        Self {
            start: now
                .saturating_sub(SignedDuration::from_secs(seconds))
                .unwrap_or(now),
            end: now,
            label: format!("in the last {label}"),
        }
    }

    pub fn contains(&self, time: Timestamp) -> bool {
        self.start <= time && time <= self.end
    }

    /// Checks whether the interval from `start` to `end` (open when `None`)
    /// overlaps this range.
    pub fn overlaps(&self, start: Timestamp, end: Option<Timestamp>) -> bool {
        start <= self.end && end.is_none_or(|end| end >= self.start)
    }
}

/// Parses a time range:
/// - `last N UNIT`, UNIT one of minute(s), min(s), m, hour(s), h, day(s),
///   d, week(s), w; `last hour`, `last day` and `last week` mean N = 1;
/// - `today` and `yesterday`, whole UTC days;
/// - `START..END` or the ISO 8601 interval `START/END`, with RFC 3339
///   times; an empty END means now.
pub fn parse_time_range(text: &str, now: Timestamp) -> Result<TimeRange, String> {
    let text = text.trim();
    let lower = text.to_ascii_lowercase();
    let expected = "expected `last N minutes|hours|days|weeks`, `today`, `yesterday`, or `START..END` or `START/END` with RFC 3339 times";

    if let Some(rest) = lower.strip_prefix("last ") {
        let words: Vec<&str> = rest.split_whitespace().collect();
        let (count, unit) = match words.as_slice() {
            [unit] => (1, *unit),
            [count, unit] => {
                let count: i64 = count.parse().map_err(|_| {
                    format!(
                        "invalid time range `{text}`: `{count}` is not a whole number; {expected}"
                    )
                })?;
                (count, *unit)
            }
            _ => return Err(format!("invalid time range `{text}`; {expected}")),
        };
        let unit_seconds = unit_seconds(unit).ok_or_else(|| {
            format!("invalid time range `{text}`: unknown unit `{unit}`; {expected}")
        })?;
        if count < 1 {
            return Err(format!(
                "invalid time range `{text}`: the count must be at least 1"
            ));
        }
        let seconds = count.saturating_mul(unit_seconds);
        if seconds > MAX_RANGE_DAYS * 86_400 {
            return Err(format!(
                "invalid time range `{text}`: longer than {MAX_RANGE_DAYS} days"
            ));
        }
        let unit_word = unit_name(unit_seconds, count);
        let label = if count == 1 {
            unit_word
        } else {
            format!("{count} {unit_word}")
        };
        return Ok(TimeRange::last(now, seconds, &label));
    }

    let day_start = now.as_second() - now.as_second().rem_euclid(86_400);
    let day = |offset_days: i64, label: &str| -> Result<TimeRange, String> {
        let start = day_start + offset_days * 86_400;
        Ok(TimeRange {
            start: timestamp(start)?,
            end: timestamp(start + 86_399)?.min(now),
            label: label.to_string(),
        })
    };
    match lower.as_str() {
        "today" => return day(0, "today (UTC)"),
        "yesterday" => return day(-1, "yesterday (UTC)"),
        _ => {}
    }

    if let Some((start, end)) = text.split_once("..").or_else(|| text.split_once('/')) {
        let start = parse_instant(start, text)?;
        let end = if end.trim().is_empty() {
            now
        } else {
            parse_instant(end, text)?
        };
        if end < start {
            return Err(format!(
                "invalid time range `{text}`: the end is before the start"
            ));
        }
        if end.duration_since(start).as_secs() > MAX_RANGE_DAYS * 86_400 {
            return Err(format!(
                "invalid time range `{text}`: longer than {MAX_RANGE_DAYS} days"
            ));
        }
        return Ok(TimeRange {
            start,
            end,
            label: format!("from {} to {}", format_time(start), format_time(end)),
        });
    }

    Err(format!("invalid time range `{text}`; {expected}"))
}

/// Parses a `--duration` value: whole seconds from 1 to [`MAX_DURATION_SECONDS`].
pub fn parse_duration(text: &str) -> Result<SignedDuration, DemoError> {
    let text = text.trim();
    let seconds: i64 = text.parse().map_err(|_| {
        DemoError::invalid(format!(
            "invalid duration `{text}`: expected whole seconds, such as 3600 for one hour"
        ))
    })?;
    if !(1..=MAX_DURATION_SECONDS).contains(&seconds) {
        return Err(DemoError::invalid(format!(
            "invalid duration `{text}`: expected 1 to {MAX_DURATION_SECONDS} seconds (90 days)"
        )));
    }
    Ok(SignedDuration::from_secs(seconds))
}

/// `2025-06-12 11:20 UTC`.
pub fn format_time(time: Timestamp) -> String {
    time.strftime("%Y-%m-%d %H:%M UTC").to_string()
}

/// `40 min ago` or `in 2 h 5 min`, from `now`.
pub fn format_relative(time: Timestamp, now: Timestamp) -> String {
    let distance = now.duration_since(time);
    if distance.is_negative() {
        format!("in {}", format_duration(distance.abs()))
    } else if distance.as_secs() < 60 {
        "just now".to_string()
    } else {
        format!("{} ago", format_duration(distance))
    }
}

/// `3 d 4 h`, `2 h 5 min` or `40 s`: the two largest units.
pub fn format_duration(duration: SignedDuration) -> String {
    let seconds = duration.as_secs().abs();
    let (days, hours, minutes) = (
        seconds / 86_400,
        seconds % 86_400 / 3600,
        seconds % 3600 / 60,
    );
    match (days, hours, minutes) {
        (0, 0, 0) => format!("{seconds} s"),
        (0, 0, minutes) => format!("{minutes} min"),
        (0, hours, 0) => format!("{hours} h"),
        (0, hours, minutes) => format!("{hours} h {minutes} min"),
        (days, 0, _) => format!("{days} d"),
        (days, hours, _) => format!("{days} d {hours} h"),
    }
}

fn hours_label(hours: i64) -> String {
    match hours {
        1 => "hour".to_string(),
        hours if hours % 24 == 0 && hours > 24 => format!("{} days", hours / 24),
        hours => format!("{hours} hours"),
    }
}

fn unit_seconds(unit: &str) -> Option<i64> {
    match unit {
        "minute" | "minutes" | "min" | "mins" | "m" => Some(60),
        "hour" | "hours" | "h" | "hr" | "hrs" => Some(3600),
        "day" | "days" | "d" => Some(86_400),
        "week" | "weeks" | "w" => Some(7 * 86_400),
        _ => None,
    }
}

fn unit_name(seconds: i64, count: i64) -> String {
    let name = match seconds {
        60 => "minute",
        3600 => "hour",
        86_400 => "day",
        _ => "week",
    };
    if count == 1 {
        name.to_string()
    } else {
        format!("{name}s")
    }
}

fn parse_instant(text: &str, range: &str) -> Result<Timestamp, String> {
    text.trim().parse::<Timestamp>().map_err(|error| {
        format!(
            "invalid time `{}` in range `{range}`: {error}; expected RFC 3339, such as 2025-06-12T08:00:00Z",
            text.trim()
        )
    })
}

fn timestamp(second: i64) -> Result<Timestamp, String> {
    Timestamp::from_second(second).map_err(|error| format!("time out of range: {error}"))
}

impl fmt::Display for Time {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl FromStr for Time {
    type Err = jiff::Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.parse().map(Self)
    }
}

impl Serialize for Time {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Time {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(|error| {
            serde::de::Error::custom(format!("invalid time `{text}`: {error}; expected RFC 3339"))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    #[test]
    fn data_now_constant_matches_its_date() {
        assert_eq!(
            Timestamp::from_second(DATA_NOW_SECOND).unwrap(),
            at("2025-06-12T12:00:00Z")
        );
    }

    #[test]
    fn shift_moves_data_next_to_now() {
        let clock = Clock::at(at("2026-01-01T12:00:00Z"));
        let data = Time(at("2025-06-12T11:00:00Z"));
        assert_eq!(clock.shift(data), at("2026-01-01T11:00:00Z"));
    }

    #[test]
    fn last_n_units_parse() {
        let now = at("2025-06-12T12:00:00Z");
        let range = parse_time_range("last 2 hours", now).unwrap();
        assert_eq!(range.start, at("2025-06-12T10:00:00Z"));
        assert_eq!(range.end, now);
        assert_eq!(range.label, "in the last 2 hours");

        assert_eq!(
            parse_time_range("Last hour", now).unwrap().start,
            at("2025-06-12T11:00:00Z")
        );
        assert_eq!(
            parse_time_range("last 30 min", now).unwrap().start,
            at("2025-06-12T11:30:00Z")
        );
        assert_eq!(
            parse_time_range("last 1 week", now).unwrap().start,
            at("2025-06-05T12:00:00Z")
        );
    }

    #[test]
    fn explicit_range_parses() {
        let now = at("2025-06-12T12:00:00Z");
        let range = parse_time_range("2025-06-12T08:00:00Z..2025-06-12T10:00:00Z", now).unwrap();
        assert_eq!(range.start, at("2025-06-12T08:00:00Z"));
        assert_eq!(range.end, at("2025-06-12T10:00:00Z"));
        let open = parse_time_range("2025-06-12T08:00:00Z..", now).unwrap();
        assert_eq!(open.end, now);
        let interval = parse_time_range("2025-06-12T08:00:00Z/2025-06-12T10:00:00Z", now).unwrap();
        assert_eq!(
            interval,
            TimeRange {
                label: interval.label.clone(),
                ..range
            }
        );
    }

    #[test]
    fn today_and_yesterday_are_utc_days() {
        let now = at("2025-06-12T12:00:00Z");
        let today = parse_time_range("today", now).unwrap();
        assert_eq!(today.start, at("2025-06-12T00:00:00Z"));
        assert_eq!(today.end, now);
        let yesterday = parse_time_range("yesterday", now).unwrap();
        assert_eq!(yesterday.start, at("2025-06-11T00:00:00Z"));
        assert_eq!(yesterday.end, at("2025-06-11T23:59:59Z"));
    }

    #[test]
    fn bad_ranges_are_rejected() {
        let now = at("2025-06-12T12:00:00Z");
        for text in [
            "last 0 hours",
            "last two hours",
            "last 2 fortnights",
            "last 400 days",
            "2025-06-12T10:00:00Z..2025-06-12T08:00:00Z",
            "2025-06-12..2025-06-13",
            "soon",
            "",
        ] {
            assert!(parse_time_range(text, now).is_err(), "{text}");
        }
    }

    #[test]
    fn durations_are_whole_seconds_in_bounds() {
        assert_eq!(
            parse_duration("3600").unwrap(),
            SignedDuration::from_hours(1)
        );
        for text in ["0", "-5", "1h", "7776001", ""] {
            assert!(parse_duration(text).is_err(), "{text}");
        }
    }

    #[test]
    fn durations_format_with_two_units() {
        assert_eq!(format_duration(SignedDuration::from_secs(40)), "40 s");
        assert_eq!(format_duration(SignedDuration::from_mins(125)), "2 h 5 min");
        assert_eq!(format_duration(SignedDuration::from_hours(50)), "2 d 2 h");
    }
}
