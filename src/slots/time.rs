//! Time extractors: durations (`30m`, `2 hours`, `for 24h`, `until 6pm`)
//! and time ranges (`last 10 days`, `since 2am`, `between 9 and 10am`,
//! `yesterday`), relative to a given `now`.

use std::ops::Range;
use std::sync::LazyLock;
use std::time::Duration;

use jiff::civil::{Time, Weekday};
use jiff::{Span, ZonedDateTime};
use regex::{Captures, Regex};

use super::scan::{Candidate, Scan, overlaps};
use super::values::TimeRange;
use super::{SlotError, SlotKind, SlotValue};

const DURATION_EXPECTED: &str =
    "an amount and a unit, such as `90s`, `30m`, `2 hours`, `1d` or `1h30m`, or `until 6pm`";
const TIME_RANGE_EXPECTED: &str = "a range such as `last 2 hours`, `past 10 days`, `since 2am`, \
`between 9 and 10am`, `yesterday` or `today`";

/// Maximum duration, because a silence or block longer than a year is a
/// typo or should be permanent, which is a different command.
const MAX_DURATION: Duration = Duration::from_secs(365 * 86_400);
const MAX_DURATION_TEXT: &str = "one year (365 days)";
/// Maximum look-back of a time range, for the same reason.
const MAX_LOOKBACK_TEXT: &str = "one year";
/// A bound on a look-back checked before calendar arithmetic, a little over
/// a year so that `last 12 months` reaches the exact check in [`range`].
const MAX_LOOKBACK_SECONDS: u64 = 400 * 86_400;

/// Words that make the amount after them a time range (`last 2 hours`), or
/// before them a point in time (`2 hours ago`), rather than a duration.
const RANGE_WORDS_BEFORE: [&str; 5] = ["last", "past", "previous", "prior", "since"];
const RANGE_WORDS_AFTER: [&str; 2] = ["ago", "back"];

/// "Last night" and "overnight" run from 18:00 the day before to 08:00.
const NIGHT_START_HOUR: i8 = 18;
const NIGHT_END_HOUR: i8 = 8;
/// "This morning" ends at noon.
const MORNING_END_HOUR: i8 = 12;

/// A unit of time, in words and in length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unit {
    Second,
    Minute,
    Hour,
    Day,
    Week,
    Fortnight,
    Month,
    Year,
}

/// A time of day as written: `2am`, `14:30`, `9` (hour only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Clock {
    hour: i8,
    minute: Option<i8>,
    /// `Some(true)` for pm, `Some(false)` for am.
    pm: Option<bool>,
}

// Longer spellings come first, because the regex engine takes the first
// alternative that matches. `m` is always minutes, never months.
const UNITS: &str = "seconds|second|secs|sec|s|minutes|minute|mins|min|m|hours|hour|hrs|hr|h|\
days|day|d|fortnights|fortnight|weeks|week|wks|wk|w|months|month|mos|mo|years|year|yrs|yr|y";
const UNIT_WORDS: &str = "second|minute|hour|day|fortnight|week|month|year";
const WEEKDAYS: &str = "monday|tuesday|wednesday|thursday|friday|saturday|sunday";
/// A time of day: hour, optional `:minutes`, optional am or pm.
const CLOCK: &str = r"(\d{1,2})(?::(\d{2}))?\s*(am|pm)?";

// NOTE: the patterns are built from constants; `patterns_compile` in the
// tests forces each one, so the `expect` calls cannot fail at run time.
static DURATION: LazyLock<Regex> = LazyLock::new(|| {
    let pattern = format!(r"(?i)(?:(\d+)\s*({UNITS})|\b(half\s+)?(?:an?|one)\s+({UNIT_WORDS}))\b");
    Regex::new(&pattern).expect("valid duration pattern")
});
static COMPOUND_DURATION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^(?:\d+[wdhms]){2,}$").expect("valid compound duration pattern")
});
static COMPOUND_PART: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)(\d+)([wdhms])").expect("valid compound part pattern"));
static UNTIL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(r"(?i)\buntil\s+{CLOCK}\b")).expect("valid until pattern")
});
static ROLLING_COUNT: LazyLock<Regex> = LazyLock::new(|| {
    let pattern = format!(r"(?i)\b(?:last|past|previous|prior)\s+(\d+)\s*({UNITS})\b");
    Regex::new(&pattern).expect("valid rolling count pattern")
});
static ROLLING_ONE: LazyLock<Regex> = LazyLock::new(|| {
    let pattern =
        format!(r"(?i)\b(?:last|past|previous|prior)\s+(?:(?:an?|one)\s+)?({UNIT_WORDS})\b");
    Regex::new(&pattern).expect("valid rolling unit pattern")
});
static SINCE: LazyLock<Regex> = LazyLock::new(|| {
    let pattern = format!(
        r"(?i)\bsince\s+(?:(midnight|noon|yesterday|today|this\s+morning|{WEEKDAYS})|{CLOCK})\b"
    );
    Regex::new(&pattern).expect("valid since pattern")
});
static BETWEEN: LazyLock<Regex> = LazyLock::new(|| {
    let pattern = format!(r"(?i)\bbetween\s+{CLOCK}\s+(?:and|to|-)\s+{CLOCK}\b");
    Regex::new(&pattern).expect("valid between pattern")
});
static NAMED_RANGE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)\b(yesterday|today|this\s+morning|this\s+week|this\s+month|last\s+night|overnight)\b",
    )
    .expect("valid named range pattern")
});

/// Finds durations: `30m`, `2 hours`, `half an hour`, `1h30m`, and
/// `until 6pm` (from now to the next 6pm). An amount after `last`, `past`
/// or `since`, or before `ago`, belongs to a time range or a point in time
/// and is skipped.
pub(super) fn durations(scan: &Scan<'_>) -> Vec<Candidate> {
    let mut candidates = Vec::new();

    for (_, token) in scan.free_tokens() {
        if COMPOUND_DURATION.is_match(token.text) {
            candidates.push(Candidate {
                span: token.span.clone(),
                value: compound_duration(token.text),
            });
        }
    }

    for captures in DURATION.captures_iter(scan.text) {
        let Some(whole) = captures.get(0) else {
            continue;
        };
        let span = whole.range();
        if is_usable(scan, &candidates, &span) && !is_part_of_range(scan, &span) {
            candidates.push(Candidate {
                span,
                value: duration_from(&captures, whole.as_str()),
            });
        }
    }

    for captures in UNTIL.captures_iter(scan.text) {
        let Some(whole) = captures.get(0) else {
            continue;
        };
        let span = whole.range();
        if let Some(value) = until(&captures, whole.as_str(), scan.now)
            && is_usable(scan, &candidates, &span)
        {
            candidates.push(Candidate { span, value });
        }
    }

    candidates.sort_by_key(|candidate| candidate.span.start);
    candidates
}

/// Reads a whole answer as a duration: `2h`, `for 2 hours`, `1h30m`,
/// `until 6pm`.
pub(super) fn parse_duration(text: &str, now: &ZonedDateTime) -> Result<SlotValue, SlotError> {
    let trimmed = text.trim();
    let body = trimmed
        .get(..4)
        .filter(|prefix| prefix.eq_ignore_ascii_case("for "))
        .map_or(trimmed, |_| trimmed[4..].trim_start());
    let malformed = || SlotError::malformed(SlotKind::Duration, text, DURATION_EXPECTED);

    if COMPOUND_DURATION.is_match(body) {
        return compound_duration(body);
    }
    if let Some(captures) = whole_match(&DURATION, body) {
        return duration_from(&captures, body);
    }
    if let Some(captures) = whole_match(&UNTIL, body) {
        return until(&captures, body, now).unwrap_or_else(|| Err(malformed()));
    }
    Err(malformed())
}

/// Finds time ranges, the most specific form first. When the intent takes
/// no duration, a bare amount such as `15m` in `logs web-04 15m` is read as
/// a range ending now, but only when no other range is found.
pub(super) fn time_ranges(scan: &Scan<'_>) -> Vec<Candidate> {
    let mut candidates: Vec<Candidate> = Vec::new();
    let now = scan.now;

    let forms: [(&Regex, RangeReader); 5] = [
        (&ROLLING_COUNT, |c, text, now| {
            Some(rolling_count(c, text, now))
        }),
        (&ROLLING_ONE, |c, text, now| Some(rolling_one(c, text, now))),
        (&BETWEEN, between),
        (&SINCE, since),
        (&NAMED_RANGE, |_, text, now| Some(named_range(text, now))),
    ];
    for (pattern, read) in forms {
        for captures in pattern.captures_iter(scan.text) {
            let Some(whole) = captures.get(0) else {
                continue;
            };
            let span = whole.range();
            if let Some(value) = read(&captures, whole.as_str(), now)
                && is_usable(scan, &candidates, &span)
            {
                candidates.push(Candidate { span, value });
            }
        }
    }

    if candidates.is_empty() && scan.bare_durations_are_ranges {
        for captures in DURATION.captures_iter(scan.text) {
            let Some(whole) = captures.get(0) else {
                continue;
            };
            let span = whole.range();
            if is_usable(scan, &candidates, &span) && !is_part_of_range(scan, &span) {
                candidates.push(Candidate {
                    span,
                    value: bare_range(&captures, whole.as_str(), now),
                });
            }
        }
    }

    candidates.sort_by_key(|candidate| candidate.span.start);
    candidates
}

/// Reads a whole answer as a time range; a bare amount such as `2 hours`
/// means the last 2 hours.
pub(super) fn parse_time_range(text: &str, now: &ZonedDateTime) -> Result<SlotValue, SlotError> {
    let text = text.trim();
    let malformed = || SlotError::malformed(SlotKind::TimeRange, text, TIME_RANGE_EXPECTED);

    if let Some(captures) = whole_match(&ROLLING_COUNT, text) {
        return rolling_count(&captures, text, now);
    }
    if let Some(captures) = whole_match(&ROLLING_ONE, text) {
        return rolling_one(&captures, text, now);
    }
    if let Some(captures) = whole_match(&BETWEEN, text) {
        return between(&captures, text, now).unwrap_or_else(|| Err(malformed()));
    }
    if let Some(captures) = whole_match(&SINCE, text) {
        return since(&captures, text, now).unwrap_or_else(|| Err(malformed()));
    }
    if whole_match(&NAMED_RANGE, text).is_some() {
        return named_range(text, now);
    }
    if let Some(captures) = whole_match(&DURATION, text) {
        return bare_range(&captures, text, now);
    }
    Err(malformed())
}

/// A reader of one time range form from its regex captures. It returns
/// `None` when the match is not a time after all, such as the bare hour of
/// `since 9`.
type RangeReader = fn(&Captures<'_>, &str, &ZonedDateTime) -> Option<Result<SlotValue, SlotError>>;

impl Unit {
    fn parse(word: &str) -> Option<Self> {
        let unit = match word.to_ascii_lowercase().as_str() {
            "s" | "sec" | "secs" | "second" | "seconds" => Self::Second,
            "m" | "min" | "mins" | "minute" | "minutes" => Self::Minute,
            "h" | "hr" | "hrs" | "hour" | "hours" => Self::Hour,
            "d" | "day" | "days" => Self::Day,
            "w" | "wk" | "wks" | "week" | "weeks" => Self::Week,
            "fortnight" | "fortnights" => Self::Fortnight,
            "mo" | "mos" | "month" | "months" => Self::Month,
            "y" | "yr" | "yrs" | "year" | "years" => Self::Year,
            _ => return None,
        };
        Some(unit)
    }

    /// Length in seconds; a month counts 30 days and a year 365.
    fn seconds(self) -> u64 {
        match self {
            Self::Second => 1,
            Self::Minute => 60,
            Self::Hour => 3_600,
            Self::Day => 86_400,
            Self::Week => 7 * 86_400,
            Self::Fortnight => 14 * 86_400,
            Self::Month => 30 * 86_400,
            Self::Year => 365 * 86_400,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Second => "second",
            Self::Minute => "minute",
            Self::Hour => "hour",
            Self::Day => "day",
            Self::Week => "week",
            Self::Fortnight => "fortnight",
            Self::Month => "month",
            Self::Year => "year",
        }
    }

    /// Builds a calendar span of `count` units: days, months and years
    /// follow the calendar of `now`'s time zone, so a day across a DST
    /// change is not 24 hours.
    fn span(self, count: i64) -> Result<Span, jiff::Error> {
        match self {
            Self::Second => Span::new().try_seconds(count),
            Self::Minute => Span::new().try_minutes(count),
            Self::Hour => Span::new().try_hours(count),
            Self::Day => Span::new().try_days(count),
            Self::Week => Span::new().try_weeks(count),
            Self::Fortnight => Span::new().try_weeks(count.saturating_mul(2)),
            Self::Month => Span::new().try_months(count),
            Self::Year => Span::new().try_years(count),
        }
    }
}

impl Clock {
    /// Reads a clock from three capture groups: hour, minutes, am/pm.
    fn from_captures(captures: &Captures<'_>, first_group: usize) -> Option<Self> {
        let hour = captures.get(first_group)?.as_str().parse().ok()?;
        let minute = match captures.get(first_group + 1) {
            Some(minute) => Some(minute.as_str().parse().ok()?),
            None => None,
        };
        let pm = captures
            .get(first_group + 2)
            .map(|meridiem| meridiem.as_str().eq_ignore_ascii_case("pm"));
        Some(Self { hour, minute, pm })
    }

    /// Checks whether the clock is unambiguous: it has minutes or am/pm. A bare
    /// `9` could be a count or either 9 o'clock.
    fn is_explicit(self) -> bool {
        self.minute.is_some() || self.pm.is_some()
    }

    /// Returns the 24-hour time, or `None` for an impossible one such as
    /// `13pm` or `10:75`.
    fn to_24h(self) -> Option<(i8, i8)> {
        let minute = self.minute.unwrap_or(0);
        let hour = match self.pm {
            Some(_) if !(1..=12).contains(&self.hour) => return None,
            Some(false) => self.hour % 12,
            Some(true) => self.hour % 12 + 12,
            None => self.hour,
        };
        (hour <= 23 && minute <= 59).then_some((hour, minute))
    }
}

fn whole_match<'t>(pattern: &Regex, text: &'t str) -> Option<Captures<'t>> {
    pattern.captures(text).filter(|captures| {
        captures
            .get(0)
            .is_some_and(|m| m.range() == (0..text.len()))
    })
}

/// Checks whether a match can become a candidate: whole words, unclaimed, and
/// clear of the candidates already found.
fn is_usable(scan: &Scan<'_>, candidates: &[Candidate], span: &Range<usize>) -> bool {
    let taken = candidates
        .iter()
        .any(|candidate| overlaps(&candidate.span, span));
    !taken && scan.is_free(span) && scan.is_whole_words(span)
}

fn is_part_of_range(scan: &Scan<'_>, span: &Range<usize>) -> bool {
    let before = scan.text[..span.start].split_whitespace().next_back();
    let after = scan.text[span.end..].split_whitespace().next();
    before.is_some_and(|word| RANGE_WORDS_BEFORE.contains(&word.to_ascii_lowercase().as_str()))
        || after.is_some_and(|word| {
            let word = word.trim_end_matches(|c: char| !c.is_alphanumeric());
            RANGE_WORDS_AFTER.contains(&word.to_ascii_lowercase().as_str())
        })
}

/// Returns the seconds of a `DURATION` match: `30m`, `an hour`, `half a day`.
fn duration_seconds(captures: &Captures<'_>, text: &str, kind: SlotKind) -> Result<u64, SlotError> {
    let malformed = || SlotError::malformed(kind, text, DURATION_EXPECTED);
    match (captures.get(1), captures.get(2), captures.get(4)) {
        (Some(count), Some(unit), _) => {
            let unit = Unit::parse(unit.as_str()).ok_or_else(malformed)?;
            let count = parse_count(count.as_str(), text, kind)?;
            total_seconds(&[(count, unit)], text, kind)
        }
        (_, _, Some(unit)) => {
            let unit = Unit::parse(unit.as_str()).ok_or_else(malformed)?;
            let halved = captures.get(3).is_some();
            Ok(if halved {
                unit.seconds() / 2
            } else {
                unit.seconds()
            })
        }
        _ => Err(malformed()),
    }
}

fn duration_from(captures: &Captures<'_>, text: &str) -> Result<SlotValue, SlotError> {
    let seconds = duration_seconds(captures, text, SlotKind::Duration)?;
    checked_duration(seconds, text)
}

fn compound_duration(text: &str) -> Result<SlotValue, SlotError> {
    let mut parts = Vec::new();
    for captures in COMPOUND_PART.captures_iter(text) {
        let (Some(count), Some(unit)) = (captures.get(1), captures.get(2)) else {
            continue;
        };
        let Some(unit) = Unit::parse(unit.as_str()) else {
            continue;
        };
        parts.push((parse_count(count.as_str(), text, SlotKind::Duration)?, unit));
    }
    let seconds = total_seconds(&parts, text, SlotKind::Duration)?;
    checked_duration(seconds, text)
}

/// `until 6pm`: from now to the next 6pm. `None` for a bare hour.
fn until(
    captures: &Captures<'_>,
    text: &str,
    now: &ZonedDateTime,
) -> Option<Result<SlotValue, SlotError>> {
    let clock = Clock::from_captures(captures, 1)?;
    if !clock.is_explicit() {
        return None;
    }
    let malformed = || SlotError::malformed(SlotKind::Duration, text, DURATION_EXPECTED);
    let Some((hour, minute)) = clock.to_24h() else {
        return Some(Err(malformed()));
    };
    let end = match next_at(now, hour, minute) {
        Ok(end) => end,
        Err(_) => return Some(Err(malformed())),
    };
    let seconds = end.timestamp().as_second() - now.timestamp().as_second();
    Some(checked_duration(u64::try_from(seconds).unwrap_or(0), text))
}

fn parse_count(count: &str, text: &str, kind: SlotKind) -> Result<u64, SlotError> {
    count.parse().map_err(|_| too_long(kind, text))
}

/// Adds up `(count, unit)` parts in seconds, failing on overflow.
fn total_seconds(parts: &[(u64, Unit)], text: &str, kind: SlotKind) -> Result<u64, SlotError> {
    parts.iter().try_fold(0_u64, |total, (count, unit)| {
        count
            .checked_mul(unit.seconds())
            .and_then(|part| total.checked_add(part))
            .ok_or_else(|| too_long(kind, text))
    })
}

/// Rejects a zero duration and one over a year.
fn checked_duration(seconds: u64, text: &str) -> Result<SlotValue, SlotError> {
    let duration = Duration::from_secs(seconds);
    if duration.is_zero() {
        return Err(SlotError::Zero {
            kind: SlotKind::Duration,
            value: text.to_string(),
        });
    }
    if duration > MAX_DURATION {
        return Err(too_long(SlotKind::Duration, text));
    }
    Ok(SlotValue::Duration(duration))
}

fn too_long(kind: SlotKind, text: &str) -> SlotError {
    let max = match kind {
        SlotKind::Duration => MAX_DURATION_TEXT,
        _ => MAX_LOOKBACK_TEXT,
    };
    SlotError::TooLong {
        kind,
        value: text.to_string(),
        max,
    }
}

/// `last 10 days`: from that long before `now` to `now`.
fn rolling_count(
    captures: &Captures<'_>,
    text: &str,
    now: &ZonedDateTime,
) -> Result<SlotValue, SlotError> {
    let malformed = || SlotError::malformed(SlotKind::TimeRange, text, TIME_RANGE_EXPECTED);
    let unit = captures
        .get(2)
        .and_then(|unit| Unit::parse(unit.as_str()))
        .ok_or_else(malformed)?;
    let count = captures.get(1).ok_or_else(malformed)?.as_str();
    let count = parse_count(count, text, SlotKind::TimeRange)?;

    if count == 0 {
        return Err(SlotError::Zero {
            kind: SlotKind::TimeRange,
            value: text.to_string(),
        });
    }
    // A cheap bound first, so the calendar arithmetic below never receives
    // a count that overflows it.
    let seconds = total_seconds(&[(count, unit)], text, SlotKind::TimeRange)?;
    if seconds > MAX_LOOKBACK_SECONDS {
        return Err(too_long(SlotKind::TimeRange, text));
    }

    let count = i64::try_from(count).map_err(|_| too_long(SlotKind::TimeRange, text))?;
    let plural = if count == 1 { "" } else { "s" };
    let phrase = format!("last {count} {}{plural}", unit.name());
    rolling(now, unit.span(count), phrase, text)
}

/// `last week`, `past hour`: one unit before `now` to `now`.
fn rolling_one(
    captures: &Captures<'_>,
    text: &str,
    now: &ZonedDateTime,
) -> Result<SlotValue, SlotError> {
    let unit = captures
        .get(1)
        .and_then(|unit| Unit::parse(unit.as_str()))
        .ok_or_else(|| SlotError::malformed(SlotKind::TimeRange, text, TIME_RANGE_EXPECTED))?;
    rolling(now, unit.span(1), format!("last {}", unit.name()), text)
}

/// `15m` or `2 hours` where a time range is expected: that long before
/// `now` to `now`.
fn bare_range(
    captures: &Captures<'_>,
    text: &str,
    now: &ZonedDateTime,
) -> Result<SlotValue, SlotError> {
    let seconds = duration_seconds(captures, text, SlotKind::TimeRange)?;
    if seconds == 0 {
        return Err(SlotError::Zero {
            kind: SlotKind::TimeRange,
            value: text.to_string(),
        });
    }
    if seconds > MAX_LOOKBACK_SECONDS {
        return Err(too_long(SlotKind::TimeRange, text));
    }
    let span = i64::try_from(seconds)
        .map_err(|_| too_long(SlotKind::TimeRange, text))
        .and_then(|seconds| {
            Span::new()
                .try_seconds(seconds)
                .map_err(|_| too_long(SlotKind::TimeRange, text))
        })?;
    rolling(
        now,
        Ok(span),
        format!("last {}", normalise_phrase(text)),
        text,
    )
}

fn rolling(
    now: &ZonedDateTime,
    span: Result<Span, jiff::Error>,
    phrase: String,
    text: &str,
) -> Result<SlotValue, SlotError> {
    let malformed = || SlotError::malformed(SlotKind::TimeRange, text, TIME_RANGE_EXPECTED);
    let span = span.map_err(|_| malformed())?;
    let start = now.checked_sub(span).map_err(|_| malformed())?;
    range(start, now.clone(), phrase, text, now)
}

/// `since 2am`, `since 14:30`, `since midnight`, `since monday`: from that
/// moment, the latest one not after `now`, to `now`. A bare hour such as
/// `since 9` is ambiguous and is not read as a time.
fn since(
    captures: &Captures<'_>,
    text: &str,
    now: &ZonedDateTime,
) -> Option<Result<SlotValue, SlotError>> {
    let malformed = || SlotError::malformed(SlotKind::TimeRange, text, TIME_RANGE_EXPECTED);
    let phrase = normalise_phrase(text);

    let start = if let Some(word) = captures.get(1) {
        let word = normalise_phrase(word.as_str());
        match word.as_str() {
            "midnight" | "today" | "this morning" => now.start_of_day(),
            "noon" => latest_at(now, 12, 0),
            "yesterday" => now.yesterday().and_then(|day| day.start_of_day()),
            weekday => match parse_weekday(weekday) {
                Some(weekday) => latest_weekday_start(now, weekday),
                None => return Some(Err(malformed())),
            },
        }
    } else {
        let clock = Clock::from_captures(captures, 2)?;
        if !clock.is_explicit() {
            return None;
        }
        let Some((hour, minute)) = clock.to_24h() else {
            return Some(Err(malformed()));
        };
        latest_at(now, hour, minute)
    };

    Some(match start {
        Ok(start) => range(start, now.clone(), phrase, text, now),
        Err(_) => Err(malformed()),
    })
}

/// `between 9 and 10am`, `between 13:00 and 14:30`: the latest such
/// window that has ended by `now`. A first clock without am or pm takes
/// the second's, unless that would put it after the second (`between 11
/// and 1pm` is 11am to 1pm). One clock needs minutes or am/pm, so
/// `between 1 and 3` is not read as a time.
fn between(
    captures: &Captures<'_>,
    text: &str,
    now: &ZonedDateTime,
) -> Option<Result<SlotValue, SlotError>> {
    let mut first = Clock::from_captures(captures, 1)?;
    let second = Clock::from_captures(captures, 4)?;
    if !first.is_explicit() && !second.is_explicit() {
        return None;
    }
    let malformed = || SlotError::malformed(SlotKind::TimeRange, text, TIME_RANGE_EXPECTED);

    if first.pm.is_none() && first.minute.is_none() && second.pm.is_some() {
        first.pm = second.pm;
        let inherited = first.to_24h();
        let second_24h = second.to_24h();
        if let (Some(start), Some(end)) = (inherited, second_24h)
            && start >= end
        {
            first.pm = Some(!second.pm.unwrap_or(false));
        }
    }
    let (Some((start_hour, start_minute)), Some((end_hour, end_minute))) =
        (first.to_24h(), second.to_24h())
    else {
        return Some(Err(malformed()));
    };

    let end = match latest_at(now, end_hour, end_minute) {
        Ok(end) => end,
        Err(_) => return Some(Err(malformed())),
    };
    let start = match at(&end, start_hour, start_minute) {
        Ok(start) => start,
        Err(_) => return Some(Err(malformed())),
    };
    Some(range(start, end, normalise_phrase(text), text, now))
}

/// `yesterday`, `today`, `this morning`, `this week`, `this month`,
/// `last night`, `overnight`.
fn named_range(text: &str, now: &ZonedDateTime) -> Result<SlotValue, SlotError> {
    let malformed = || SlotError::malformed(SlotKind::TimeRange, text, TIME_RANGE_EXPECTED);
    let phrase = normalise_phrase(text);
    let today = now.start_of_day().map_err(|_| malformed())?;

    let (start, end) = match phrase.as_str() {
        "yesterday" => {
            let start = now
                .yesterday()
                .and_then(|day| day.start_of_day())
                .map_err(|_| malformed())?;
            (start, today)
        }
        "today" => (today, now.clone()),
        "this morning" => {
            let noon = at(now, MORNING_END_HOUR, 0).map_err(|_| malformed())?;
            (today, noon.min(now.clone()))
        }
        "this week" => {
            let start = latest_weekday_start(now, Weekday::Monday).map_err(|_| malformed())?;
            (start, now.clone())
        }
        "this month" => {
            let start = now
                .first_of_month()
                .and_then(|day| day.start_of_day())
                .map_err(|_| malformed())?;
            (start, now.clone())
        }
        "last night" | "overnight" => {
            let start = now
                .yesterday()
                .and_then(|day| at(&day, NIGHT_START_HOUR, 0))
                .map_err(|_| malformed())?;
            let end = at(now, NIGHT_END_HOUR, 0).map_err(|_| malformed())?;
            (start, end.min(now.clone()))
        }
        _ => return Err(malformed()),
    };
    range(start, end, phrase, text, now)
}

/// Builds a range, rejecting an empty one and one reaching back more than a year.
fn range(
    start: ZonedDateTime,
    end: ZonedDateTime,
    phrase: String,
    text: &str,
    now: &ZonedDateTime,
) -> Result<SlotValue, SlotError> {
    let earliest = now
        .checked_sub(Span::new().years(1))
        .map_err(|_| SlotError::malformed(SlotKind::TimeRange, text, TIME_RANGE_EXPECTED))?;
    if start < earliest {
        return Err(too_long(SlotKind::TimeRange, text));
    }
    if start >= end {
        return Err(SlotError::Zero {
            kind: SlotKind::TimeRange,
            value: text.to_string(),
        });
    }
    Ok(SlotValue::TimeRange(TimeRange {
        start: start.timestamp(),
        end: end.timestamp(),
        phrase,
    }))
}

/// Returns the same day as `day` at `hour:minute`.
fn at(day: &ZonedDateTime, hour: i8, minute: i8) -> Result<ZonedDateTime, jiff::Error> {
    day.with().time(Time::new(hour, minute, 0, 0)?).build()
}

/// Returns the latest `hour:minute` not after `now`: today's, or
/// yesterday's when today's is still ahead.
fn latest_at(now: &ZonedDateTime, hour: i8, minute: i8) -> Result<ZonedDateTime, jiff::Error> {
    let today = at(now, hour, minute)?;
    if &today <= now {
        Ok(today)
    } else {
        at(&now.yesterday()?, hour, minute)
    }
}

/// Returns the next `hour:minute` after `now`: today's, or tomorrow's when
/// today's has passed.
fn next_at(now: &ZonedDateTime, hour: i8, minute: i8) -> Result<ZonedDateTime, jiff::Error> {
    let today = at(now, hour, minute)?;
    if &today > now {
        Ok(today)
    } else {
        at(&now.tomorrow()?, hour, minute)
    }
}

/// Returns the start of the latest `weekday` not after `now`, today included.
fn latest_weekday_start(
    now: &ZonedDateTime,
    weekday: Weekday,
) -> Result<ZonedDateTime, jiff::Error> {
    let days_back = weekday.until(now.weekday());
    now.checked_sub(Span::new().days(days_back))?.start_of_day()
}

fn parse_weekday(word: &str) -> Option<Weekday> {
    let weekday = match word {
        "monday" => Weekday::Monday,
        "tuesday" => Weekday::Tuesday,
        "wednesday" => Weekday::Wednesday,
        "thursday" => Weekday::Thursday,
        "friday" => Weekday::Friday,
        "saturday" => Weekday::Saturday,
        "sunday" => Weekday::Sunday,
        _ => return None,
    };
    Some(weekday)
}

/// Lowercases a phrase and collapses its whitespace.
fn normalise_phrase(text: &str) -> String {
    text.split_whitespace()
        .map(str::to_ascii_lowercase)
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sunday 10 March 2024, 14:30 UTC.
    fn now() -> ZonedDateTime {
        "2024-03-10T14:30:00+00:00[UTC]".parse().unwrap()
    }

    fn seconds(text: &str) -> u64 {
        match parse_duration(text, &now()) {
            Ok(SlotValue::Duration(duration)) => duration.as_secs(),
            other => panic!("expected a duration for `{text}`, got {other:?}"),
        }
    }

    fn range_of(text: &str) -> (String, String) {
        match parse_time_range(text, &now()) {
            Ok(SlotValue::TimeRange(range)) => (range.start.to_string(), range.end.to_string()),
            other => panic!("expected a time range for `{text}`, got {other:?}"),
        }
    }

    #[test]
    fn patterns_compile() {
        for pattern in [
            &DURATION,
            &COMPOUND_DURATION,
            &COMPOUND_PART,
            &UNTIL,
            &ROLLING_COUNT,
            &ROLLING_ONE,
            &SINCE,
            &BETWEEN,
            &NAMED_RANGE,
        ] {
            LazyLock::force(pattern);
        }
    }

    #[test]
    fn durations_convert_to_seconds() {
        assert_eq!(seconds("90s"), 90);
        assert_eq!(seconds("30m"), 1_800);
        assert_eq!(seconds("2 hours"), 7_200);
        assert_eq!(seconds("1d"), 86_400);
        assert_eq!(seconds("for 24h"), 86_400);
        assert_eq!(seconds("a week"), 604_800);
        assert_eq!(seconds("half an hour"), 1_800);
        assert_eq!(seconds("1h30m"), 5_400);
        assert_eq!(seconds("2 mins"), 120);
    }

    #[test]
    fn until_runs_to_the_next_such_time() {
        assert_eq!(seconds("until 6pm"), 3 * 3_600 + 30 * 60);
        assert_eq!(seconds("until 14:00"), 23 * 3_600 + 30 * 60);
        assert!(parse_duration("until 6", &now()).is_err());
        assert!(parse_duration("until 25:00", &now()).is_err());
    }

    #[test]
    fn m_is_minutes_not_months() {
        assert_eq!(seconds("30m"), 1_800);
        assert_eq!(seconds("2mo"), 60 * 86_400);
    }

    #[test]
    fn zero_and_absurd_durations_are_rejected() {
        let now = now();
        assert!(matches!(
            parse_duration("0m", &now),
            Err(SlotError::Zero { .. })
        ));
        assert!(matches!(
            parse_duration("400d", &now),
            Err(SlotError::TooLong { .. })
        ));
        assert!(matches!(
            parse_duration("2y", &now),
            Err(SlotError::TooLong { .. })
        ));
        assert!(matches!(
            parse_duration("99999999999999999999999h", &now),
            Err(SlotError::TooLong { .. })
        ));
        assert!(matches!(
            parse_duration("1h99999999999999999999m", &now),
            Err(SlotError::TooLong { .. })
        ));
        assert!(parse_duration("365d", &now).is_ok());
        assert!(parse_duration("soon", &now).is_err());
    }

    #[test]
    fn rolling_ranges_end_now() {
        assert_eq!(
            range_of("last 10 days"),
            ("2024-02-29T14:30:00Z".into(), "2024-03-10T14:30:00Z".into())
        );
        assert_eq!(range_of("past 2 hours").0, "2024-03-10T12:30:00Z");
        assert_eq!(range_of("last week").0, "2024-03-03T14:30:00Z");
        assert_eq!(range_of("last 24h").0, "2024-03-09T14:30:00Z");
        assert_eq!(range_of("15m").0, "2024-03-10T14:15:00Z");
    }

    #[test]
    fn since_picks_the_latest_past_moment() {
        assert_eq!(range_of("since 2am").0, "2024-03-10T02:00:00Z");
        assert_eq!(range_of("since 4pm").0, "2024-03-09T16:00:00Z");
        assert_eq!(range_of("since 14:00").0, "2024-03-10T14:00:00Z");
        assert_eq!(range_of("since midnight").0, "2024-03-10T00:00:00Z");
        assert_eq!(range_of("since friday").0, "2024-03-08T00:00:00Z");
        assert_eq!(range_of("since sunday").0, "2024-03-10T00:00:00Z");
        assert!(parse_time_range("since 9", &now()).is_err());
        assert!(parse_time_range("since 13pm", &now()).is_err());
    }

    #[test]
    fn between_picks_the_latest_ended_window() {
        assert_eq!(
            range_of("between 9 and 10am"),
            ("2024-03-10T09:00:00Z".into(), "2024-03-10T10:00:00Z".into())
        );
        assert_eq!(
            range_of("between 1 and 3am"),
            ("2024-03-10T01:00:00Z".into(), "2024-03-10T03:00:00Z".into())
        );
        assert_eq!(
            range_of("between 11 and 1pm"),
            ("2024-03-10T11:00:00Z".into(), "2024-03-10T13:00:00Z".into())
        );
        assert_eq!(
            range_of("between 4pm and 5pm"),
            ("2024-03-09T16:00:00Z".into(), "2024-03-09T17:00:00Z".into())
        );
        assert!(parse_time_range("between 1 and 3", &now()).is_err());
        assert!(parse_time_range("between 5pm and 4pm", &now()).is_err());
    }

    #[test]
    fn named_ranges_follow_the_calendar() {
        assert_eq!(
            range_of("yesterday"),
            ("2024-03-09T00:00:00Z".into(), "2024-03-10T00:00:00Z".into())
        );
        assert_eq!(
            range_of("today"),
            ("2024-03-10T00:00:00Z".into(), "2024-03-10T14:30:00Z".into())
        );
        assert_eq!(range_of("this week").0, "2024-03-04T00:00:00Z");
        assert_eq!(range_of("this morning").1, "2024-03-10T12:00:00Z");
        assert_eq!(
            range_of("last night"),
            ("2024-03-09T18:00:00Z".into(), "2024-03-10T08:00:00Z".into())
        );
    }

    #[test]
    fn empty_and_too_long_ranges_are_rejected() {
        let now = now();
        assert!(matches!(
            parse_time_range("last 0 days", &now),
            Err(SlotError::Zero { .. })
        ));
        assert!(matches!(
            parse_time_range("past 3 years", &now),
            Err(SlotError::TooLong { .. })
        ));
        assert!(matches!(
            parse_time_range("last 99999999999999999999 days", &now),
            Err(SlotError::TooLong { .. })
        ));
        assert!(parse_time_range("last 12 months", &now).is_ok());
    }
}
