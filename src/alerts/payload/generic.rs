//! The generic JSON format: one alert object, or an array of them. The
//! fields are documented on the parent module.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::fields::{
    MAX_KEY_CHARS, MAX_NAME_CHARS, MAX_SUMMARY_CHARS, MAX_TEXT_CHARS, Problems, check_line,
    check_order, check_text, check_url, child_path, derive_fingerprint, optional_string,
    parse_items, parse_time, problem, string_map,
};
use super::{IncomingAlert, PayloadError};
use crate::alerts::{Host, Severity, Source, Status, excerpt};

/// Every member of the generic format, in the order of its documentation.
const FIELDS: [&str; 13] = [
    "name",
    "summary",
    "severity",
    "status",
    "host",
    "service",
    "description",
    "runbook",
    "fingerprint",
    "id",
    "started_at",
    "resolved_at",
    "labels",
];

/// Parses a body that is one alert object.
pub(super) fn parse_one(object: &Map<String, Value>) -> Result<IncomingAlert, PayloadError> {
    let mut problems = Problems::default();
    let alert = parse_alert(object, "", &mut problems);
    match alert {
        Some(alert) if problems.0.is_empty() => Ok(alert),
        _ => Err(PayloadError::Invalid {
            problems: problems.0,
        }),
    }
}

/// Parses a body that is an array of alert objects.
pub(super) fn parse_list(items: &[Value]) -> Result<Vec<IncomingAlert>, PayloadError> {
    parse_items(items, Source::Generic, "", parse_alert)
}

/// Parses one alert object at `path`, recording every problem. Returns
/// `None` when a required value is missing or invalid.
fn parse_alert(
    object: &Map<String, Value>,
    path: &str,
    problems: &mut Problems,
) -> Option<IncomingAlert> {
    for key in object.keys() {
        if !FIELDS.contains(&key.as_str()) {
            problems.push(
                &child_path(path, key),
                format!(
                    "is not a field of the generic alert format: expected one of {}",
                    FIELDS.join(", ")
                ),
            );
        }
    }

    let name = required_line(
        object,
        "name",
        path,
        MAX_NAME_CHARS,
        "the alert rule name, such as DiskSpaceLow",
        problems,
    );
    let summary = required_line(
        object,
        "summary",
        path,
        MAX_SUMMARY_CHARS,
        "a one-line summary of what is wrong",
        problems,
    );
    let severity = read_severity(object, path, problems);
    let status = read_status(object, path, problems);
    let host = read_host(object, path, problems);
    let service = optional_line(object, "service", path, MAX_KEY_CHARS, problems);
    let description = read_optional(object, "description", path, problems, |field_path, text| {
        check_text(field_path, text, MAX_TEXT_CHARS)
    });
    let runbook = read_optional(object, "runbook", path, problems, check_url);
    let started_at = read_optional(object, "started_at", path, problems, parse_time).flatten();
    let resolved_at = read_optional(object, "resolved_at", path, problems, parse_time).flatten();
    if let (Some(start), Some(end)) = (started_at, resolved_at) {
        problems.take(check_order(
            &child_path(path, "resolved_at"),
            "started_at",
            start,
            end,
        ));
    }
    let labels = match object.get("labels") {
        None | Some(Value::Null) => BTreeMap::new(),
        Some(value) => string_map(value, &child_path(path, "labels"), problems),
    };
    let explicit_key = read_dedupe_key(object, path, problems);

    let name = name?;
    let fingerprint = explicit_key.unwrap_or_else(|| {
        let host_text = host.as_ref().map(Host::as_str).unwrap_or_default();
        let service_text = service.as_deref().unwrap_or_default();
        let label_parts = labels
            .iter()
            .flat_map(|(key, value)| [key.as_str(), value.as_str()]);
        derive_fingerprint(
            [name.as_str(), host_text, service_text]
                .into_iter()
                .chain(label_parts),
        )
    });

    Some(IncomingAlert {
        source: Source::Generic,
        fingerprint,
        name,
        severity: severity?,
        status: status?,
        host,
        service,
        summary: summary?,
        description,
        runbook,
        started_at,
        resolved_at,
        labels,
        annotations: BTreeMap::new(),
    })
}

/// Reads an optional string member and checks it with `check`.
fn read_optional<T>(
    object: &Map<String, Value>,
    key: &str,
    path: &str,
    problems: &mut Problems,
    check: impl FnOnce(&str, &str) -> Result<T, super::FieldProblem>,
) -> Option<T> {
    let field_path = child_path(path, key);
    let text = problems.take(optional_string(object, key, &field_path))??;
    problems.take(check(&field_path, text))
}

fn optional_line(
    object: &Map<String, Value>,
    key: &str,
    path: &str,
    max_chars: usize,
    problems: &mut Problems,
) -> Option<String> {
    read_optional(object, key, path, problems, |field_path, text| {
        check_line(field_path, text, max_chars)
    })
}

fn required_line(
    object: &Map<String, Value>,
    key: &str,
    path: &str,
    max_chars: usize,
    expected: &str,
    problems: &mut Problems,
) -> Option<String> {
    let field_path = child_path(path, key);
    match problems.take(optional_string(object, key, &field_path)) {
        Some(Some(text)) => problems.take(check_line(&field_path, text, max_chars)),
        Some(None) => {
            problems.push(&field_path, format!("is missing: expected {expected}"));
            None
        }
        None => None,
    }
}

fn read_severity(
    object: &Map<String, Value>,
    path: &str,
    problems: &mut Problems,
) -> Option<Severity> {
    let field_path = child_path(path, "severity");
    let Some(text) = problems.take(optional_string(object, "severity", &field_path))? else {
        return Some(Severity::Medium);
    };
    let severity = Severity::parse(text);
    if severity.is_none() {
        problems.push(
            &field_path,
            format!(
                "is `{}`, expected critical, high, medium or low (or an alias such as warning, info, sev1, p2)",
                excerpt(text)
            ),
        );
    }
    severity
}

fn read_status(object: &Map<String, Value>, path: &str, problems: &mut Problems) -> Option<Status> {
    let field_path = child_path(path, "status");
    let Some(text) = problems.take(optional_string(object, "status", &field_path))? else {
        return Some(Status::Firing);
    };
    let status = Status::parse(text.trim());
    if status.is_none() {
        problems.push(
            &field_path,
            format!("is `{}`, expected firing or resolved", excerpt(text)),
        );
    }
    status
}

fn read_host(object: &Map<String, Value>, path: &str, problems: &mut Problems) -> Option<Host> {
    read_optional(object, "host", path, problems, |field_path, text| {
        Host::parse(text.trim())
            .map_err(|error| problem(field_path, format!("is invalid: {error}")))
    })
}

/// Reads `fingerprint` or its alias `id`. Both may be given only when equal.
fn read_dedupe_key(
    object: &Map<String, Value>,
    path: &str,
    problems: &mut Problems,
) -> Option<String> {
    let fingerprint = optional_line(object, "fingerprint", path, MAX_KEY_CHARS, problems);
    let id = optional_line(object, "id", path, MAX_KEY_CHARS, problems);
    match (fingerprint, id) {
        (Some(fingerprint), Some(id)) if fingerprint != id => {
            problems.push(
                &child_path(path, "id"),
                format!(
                    "is `{}` but `fingerprint` is `{}`: give only one of them, because both set the deduplication key",
                    excerpt(&id),
                    excerpt(&fingerprint)
                ),
            );
            None
        }
        (Some(key), _) | (None, Some(key)) => Some(key),
        (None, None) => None,
    }
}
