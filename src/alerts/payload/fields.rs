//! Checks of single values shared by both payload formats, each returning a
//! [`FieldProblem`] that names the value's path.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::{FieldProblem, IncomingAlert, MAX_ALERTS, PayloadError, json_type};
use crate::alerts::{Source, excerpt, is_bidi_control};

/// Maximum characters of a rule name.
pub(super) const MAX_NAME_CHARS: usize = 200;
/// Maximum characters of a summary, which is meant to be one line.
pub(super) const MAX_SUMMARY_CHARS: usize = 1_000;
/// Maximum characters of a description, label value or annotation value.
/// Slack shows at most 3,000 characters of a section anyway.
pub(super) const MAX_TEXT_CHARS: usize = 10_000;
/// Maximum characters of a service name, fingerprint or label name.
pub(super) const MAX_KEY_CHARS: usize = 200;
/// Maximum characters of a runbook URL. The Slack message shows it in a
/// field of at most 2,000 characters, and longer URLs are rare.
const MAX_URL_CHARS: usize = 2_000;

/// Start of year 2 (0002-01-01T00:00:00Z). Times before it count as unset,
/// because Alertmanager sends Go's zero time, 0001-01-01T00:00:00Z, as the
/// `endsAt` of a firing alert.
pub(super) const UNSET_TIME_LIMIT: Timestamp = Timestamp::constant(-62_104_060_800, 0);

/// Collects the problems of one request body.
#[derive(Default)]
pub(super) struct Problems(pub(super) Vec<FieldProblem>);

impl Problems {
    /// Returns the value, or records the problem and returns `None`.
    pub(super) fn take<T>(&mut self, result: Result<T, FieldProblem>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(problem) => {
                self.0.push(problem);
                None
            }
        }
    }

    pub(super) fn push(&mut self, path: &str, message: String) {
        self.0.push(problem(path, message));
    }
}

pub(super) fn problem(path: &str, message: String) -> FieldProblem {
    FieldProblem {
        path: path.to_string(),
        message,
    }
}

/// Joins a parent path and a key: `alerts[0]` and `labels` give
/// `alerts[0].labels`, an empty parent gives `labels`.
pub(super) fn child_path(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    }
}

/// Reads an optional string member. `null` and blank strings count as missing.
pub(super) fn optional_string<'a>(
    object: &'a Map<String, Value>,
    key: &str,
    path: &str,
) -> Result<Option<&'a str>, FieldProblem> {
    match object.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) if text.trim().is_empty() => Ok(None),
        Some(Value::String(text)) => Ok(Some(text)),
        Some(other) => Err(wrong_type(path, other, "a string")),
    }
}

pub(super) fn wrong_type(path: &str, value: &Value, expected: &str) -> FieldProblem {
    problem(
        path,
        format!("is a {}, expected {expected}", json_type(value)),
    )
}

/// Checks one line of text: trimmed, at most `max_chars` characters, and
/// free of control and bidirectional formatting characters.
pub(super) fn check_line(path: &str, text: &str, max_chars: usize) -> Result<String, FieldProblem> {
    let text = text.trim();
    if let Some((index, character)) = text
        .chars()
        .enumerate()
        .find(|(_, c)| c.is_control() || is_bidi_control(*c))
    {
        let hint = if matches!(character, '\n' | '\r') {
            "remove it, because this field is one line (multi-line text belongs in the description)"
        } else {
            "remove it"
        };
        return Err(problem(
            path,
            forbidden_char_message(character, index, hint),
        ));
    }
    check_length(path, text, max_chars)?;
    Ok(text.to_string())
}

/// Checks text that may span lines: like [`check_line`], but line breaks and
/// tabs are allowed, and CRLF line ends become LF.
pub(super) fn check_text(path: &str, text: &str, max_chars: usize) -> Result<String, FieldProblem> {
    let text = text.trim().replace("\r\n", "\n");
    if let Some((index, character)) = text
        .chars()
        .enumerate()
        .find(|(_, c)| (c.is_control() && !matches!(c, '\n' | '\t')) || is_bidi_control(*c))
    {
        return Err(problem(
            path,
            forbidden_char_message(character, index, "remove it"),
        ));
    }
    check_length(path, &text, max_chars)?;
    Ok(text)
}

fn forbidden_char_message(character: char, index: usize, hint: &str) -> String {
    let kind = if is_bidi_control(character) {
        "bidirectional formatting character"
    } else {
        "control character"
    };
    format!(
        "contains {kind} U+{:04X} at character {}: {hint}",
        character as u32,
        index + 1
    )
}

fn check_length(path: &str, text: &str, max_chars: usize) -> Result<(), FieldProblem> {
    let length = text.chars().count();
    if length > max_chars {
        return Err(problem(
            path,
            format!("is {length} characters, over the maximum of {max_chars}: shorten it"),
        ));
    }
    Ok(())
}

/// Parses an RFC 3339 time with offset. Times before year 2 return `None`,
/// see [`UNSET_TIME_LIMIT`].
pub(super) fn parse_time(path: &str, text: &str) -> Result<Option<Timestamp>, FieldProblem> {
    let text = text.trim();
    let timestamp: Timestamp = text.parse().map_err(|_| {
        problem(
            path,
            format!(
                "is `{}`, not an RFC 3339 time: expected a time with a UTC offset, such as 2025-06-12T11:20:00Z",
                excerpt(text)
            ),
        )
    })?;
    if timestamp < UNSET_TIME_LIMIT {
        return Ok(None);
    }
    Ok(Some(timestamp))
}

/// Checks that an alert did not end before it started.
pub(super) fn check_order(
    end_path: &str,
    start_key: &str,
    start: Timestamp,
    end: Timestamp,
) -> Result<(), FieldProblem> {
    if end < start {
        return Err(problem(
            end_path,
            format!("is {end}, before `{start_key}` {start}: an alert cannot end before it starts"),
        ));
    }
    Ok(())
}

/// Checks a runbook URL: one line, `http://` or `https://`, and none of the
/// characters that end a Slack link (`<`, `>`, `|`) or a URL (whitespace).
pub(super) fn check_url(path: &str, text: &str) -> Result<String, FieldProblem> {
    let url = check_line(path, text, MAX_URL_CHARS)?;

    let lower = url.to_ascii_lowercase();
    let after_scheme = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"));
    let has_host = after_scheme.is_some_and(|rest| !rest.is_empty() && !rest.starts_with('/'));
    if !has_host {
        return Err(problem(
            path,
            format!(
                "is `{}`, expected an http:// or https:// URL such as https://runbooks.example.com/disk-full",
                excerpt(&url)
            ),
        ));
    }

    let forbidden = url
        .chars()
        .find(|c| c.is_whitespace() || matches!(c, '<' | '>' | '|' | '"'));
    if let Some(character) = forbidden {
        let encoded = format!("%{:02X}", character as u32);
        return Err(problem(
            path,
            format!(
                "contains `{}`, which would break the link: percent-encode it as {encoded}",
                character.escape_default()
            ),
        ));
    }

    Ok(url)
}

/// Reads an object of string values, such as labels or annotations. Names
/// must be one line; values may span lines.
pub(super) fn string_map(
    value: &Value,
    path: &str,
    problems: &mut Problems,
) -> BTreeMap<String, String> {
    let mut map = BTreeMap::new();
    let Value::Object(object) = value else {
        problems
            .0
            .push(wrong_type(path, value, "an object of string values"));
        return map;
    };

    for (name, value) in object {
        let value_path = child_path(path, name);
        let Some(name) = problems.take(check_line(&value_path, name, MAX_KEY_CHARS)) else {
            continue;
        };
        if name.is_empty() {
            problems.push(
                &value_path,
                "has an empty name: give every entry a name".to_string(),
            );
            continue;
        }
        let text = match value {
            Value::String(text) => text,
            other => {
                problems.0.push(wrong_type(&value_path, other, "a string"));
                continue;
            }
        };
        if let Some(text) = problems.take(check_text(&value_path, text, MAX_TEXT_CHARS)) {
            map.insert(name, text);
        }
    }
    map
}

/// Derives a group key from the parts that identify an alert: the SHA-256 of
/// the parts, each followed by a NUL byte, as 32 hex digits.
pub(super) fn derive_fingerprint<'a>(parts: impl IntoIterator<Item = &'a str>) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part.as_bytes());
        hasher.update([0]);
    }
    let digest = hasher.finalize();
    digest[..16]
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// Parses each alert object of `items` with `parse_alert`, naming the `i`-th
/// one `{prefix}[i]` in problems. Rejects an empty or oversized list, and
/// the whole list when any alert has a problem.
pub(super) fn parse_items(
    items: &[Value],
    format: Source,
    prefix: &str,
    parse_alert: fn(&Map<String, Value>, &str, &mut Problems) -> Option<IncomingAlert>,
) -> Result<Vec<IncomingAlert>, PayloadError> {
    if items.is_empty() {
        return Err(PayloadError::NoAlerts { format });
    }
    if items.len() > MAX_ALERTS {
        return Err(PayloadError::TooManyAlerts { count: items.len() });
    }

    let mut problems = Problems::default();
    let mut alerts = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        let path = format!("{prefix}[{index}]");
        let Value::Object(object) = item else {
            problems.0.push(wrong_type(&path, item, "an alert object"));
            continue;
        };
        if let Some(alert) = parse_alert(object, &path, &mut problems) {
            alerts.push(alert);
        }
    }

    if problems.0.is_empty() {
        Ok(alerts)
    } else {
        Err(PayloadError::Invalid {
            problems: problems.0,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unset_time_limit_is_year_2() {
        let year_2: Timestamp = "0002-01-01T00:00:00Z".parse().unwrap();
        assert_eq!(UNSET_TIME_LIMIT, year_2);
    }

    #[test]
    fn parse_time_treats_go_zero_as_unset() {
        assert_eq!(parse_time("endsAt", "0001-01-01T00:00:00Z"), Ok(None));
        let parsed = parse_time("endsAt", "0002-01-01T00:00:00Z").unwrap();
        assert_eq!(parsed, Some(UNSET_TIME_LIMIT));
    }

    #[test]
    fn child_path_joins_keys() {
        assert_eq!(child_path("", "labels"), "labels");
        assert_eq!(child_path("alerts[0]", "labels"), "alerts[0].labels");
    }

    #[test]
    fn check_text_normalizes_line_ends() {
        assert_eq!(
            check_text("description", " a\r\nb\tc \n", 100),
            Ok("a\nb\tc".to_string())
        );
        assert!(check_text("description", "a\rb", 100).is_err());
    }

    #[test]
    fn derive_fingerprint_separates_parts() {
        assert_ne!(
            derive_fingerprint(["ab", "c"]),
            derive_fingerprint(["a", "bc"])
        );
        assert_eq!(derive_fingerprint(["a"]).len(), 32);
    }
}
