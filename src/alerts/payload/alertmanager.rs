//! The payload that Prometheus Alertmanager's `webhook_config` receiver
//! sends, version 4. The mapping to alert fields is documented on the parent
//! module.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::fields::{
    MAX_KEY_CHARS, MAX_NAME_CHARS, MAX_SUMMARY_CHARS, Problems, check_line, check_order, check_url,
    child_path, derive_fingerprint, optional_string, parse_items, parse_time, problem, string_map,
    wrong_type,
};
use super::{IncomingAlert, PayloadError, json_type};
use crate::alerts::{Host, Severity, Source, Status, excerpt};

/// Webhook payload version that this parser reads.
const VERSION: &str = "4";

/// Labels that name the host, in order of preference. `instance` comes last
/// because Prometheus sets it to the scrape target, which may be a URL.
const HOST_LABELS: [&str; 3] = ["host", "hostname", "instance"];

/// Labels that name the service, in order of preference.
const SERVICE_LABELS: [&str; 2] = ["service", "job"];

/// Annotations mapped to alert fields, so not kept among the annotations.
const MAPPED_ANNOTATIONS: [&str; 3] = ["summary", "description", "runbook_url"];

/// Summary of an alert that has neither a summary nor a message annotation
/// nor a description.
const NO_SUMMARY: &str = "no summary given by Alertmanager";

/// Parses a webhook payload, an object that has an `alerts` member.
pub(super) fn parse(payload: &Map<String, Value>) -> Result<Vec<IncomingAlert>, PayloadError> {
    match payload.get("version") {
        None | Some(Value::Null) => return Err(PayloadError::MissingVersion),
        Some(Value::String(version)) if version == VERSION => {}
        Some(Value::String(version)) => {
            return Err(PayloadError::UnsupportedVersion {
                found: version.clone(),
            });
        }
        Some(other) => {
            return Err(PayloadError::VersionNotString {
                found: other.to_string(),
                found_type: json_type(other),
            });
        }
    }

    let items = match payload.get("alerts") {
        Some(Value::Array(items)) => items,
        Some(other) => {
            return Err(PayloadError::Invalid {
                problems: vec![wrong_type("alerts", other, "an array of alerts")],
            });
        }
        None => {
            return Err(PayloadError::NoAlerts {
                format: Source::Alertmanager,
            });
        }
    };
    parse_items(items, Source::Alertmanager, "alerts", parse_alert)
}

/// Parses one alert at `path`, recording every problem. Returns `None` when
/// a required value is missing or invalid. Members this code does not know
/// are ignored, because newer Alertmanager versions may add some.
fn parse_alert(
    object: &Map<String, Value>,
    path: &str,
    problems: &mut Problems,
) -> Option<IncomingAlert> {
    let status = read_status(object, path, problems);

    let labels_path = child_path(path, "labels");
    let labels = match object.get("labels") {
        None | Some(Value::Null) => {
            problems.push(
                &labels_path,
                "is missing: expected an object of labels with at least `alertname`".to_string(),
            );
            return None;
        }
        Some(value) => string_map(value, &labels_path, problems),
    };
    let annotations_path = child_path(path, "annotations");
    let all_annotations = match object.get("annotations") {
        None | Some(Value::Null) => BTreeMap::new(),
        Some(value) => string_map(value, &annotations_path, problems),
    };

    let name = read_name(&labels, &labels_path, problems);
    let severity = Severity::from_label(labels.get("severity").map(String::as_str));
    let host = read_host(&labels, &labels_path, problems);
    let service = SERVICE_LABELS
        .iter()
        .find_map(|label| {
            labels
                .get(*label)
                .filter(|value| !value.is_empty())
                .map(|value| (*label, value))
        })
        .and_then(|(label, value)| {
            problems.take(check_line(
                &child_path(&labels_path, label),
                value,
                MAX_KEY_CHARS,
            ))
        });

    let description = all_annotations
        .get("description")
        .filter(|text| !text.is_empty())
        .cloned();
    let summary = read_summary(
        &all_annotations,
        description.as_deref(),
        &annotations_path,
        problems,
    );
    let runbook = all_annotations.get("runbook_url").and_then(|url| {
        problems.take(check_url(
            &child_path(&annotations_path, "runbook_url"),
            url,
        ))
    });
    let annotations: BTreeMap<String, String> = all_annotations
        .into_iter()
        .filter(|(key, _)| !MAPPED_ANNOTATIONS.contains(&key.as_str()))
        .collect();

    let started_at = read_time(object, "startsAt", path, problems);
    let ends_at = read_time(object, "endsAt", path, problems);

    let fingerprint_path = child_path(path, "fingerprint");
    let fingerprint = match problems.take(optional_string(object, "fingerprint", &fingerprint_path))
    {
        Some(Some(text)) => problems.take(check_line(&fingerprint_path, text, MAX_KEY_CHARS)),
        Some(None) => {
            let label_parts = labels
                .iter()
                .flat_map(|(key, value)| [key.as_str(), value.as_str()]);
            Some(derive_fingerprint(label_parts))
        }
        None => None,
    };

    let status = status?;
    let resolved_at = match status {
        Status::Resolved => ends_at,
        Status::Firing => None,
    };
    if let (Some(start), Some(end)) = (started_at, resolved_at) {
        problems.take(check_order(
            &child_path(path, "endsAt"),
            "startsAt",
            start,
            end,
        ));
    }
    Some(IncomingAlert {
        source: Source::Alertmanager,
        fingerprint: fingerprint?,
        name: name?,
        severity,
        status,
        host,
        service,
        summary: summary?,
        description,
        runbook,
        started_at,
        resolved_at,
        labels,
        annotations,
    })
}

fn read_status(object: &Map<String, Value>, path: &str, problems: &mut Problems) -> Option<Status> {
    let status_path = child_path(path, "status");
    match problems.take(optional_string(object, "status", &status_path))? {
        Some(text) => {
            let status = Status::parse(text.trim());
            if status.is_none() {
                problems.push(
                    &status_path,
                    format!("is `{}`, expected firing or resolved", excerpt(text)),
                );
            }
            status
        }
        None => {
            problems.push(
                &status_path,
                "is missing: expected firing or resolved".to_string(),
            );
            None
        }
    }
}

fn read_name(
    labels: &BTreeMap<String, String>,
    labels_path: &str,
    problems: &mut Problems,
) -> Option<String> {
    let name_path = child_path(labels_path, "alertname");
    match labels.get("alertname").filter(|name| !name.is_empty()) {
        Some(name) => problems.take(check_line(&name_path, name, MAX_NAME_CHARS)),
        None => {
            problems.push(
                &name_path,
                "is missing: every Prometheus alert has it, so check the sender".to_string(),
            );
            None
        }
    }
}

/// Reads the host from the first host label present. An invalid value is a
/// problem and not skipped for the next label, because a wrong host on an
/// alert is worse than a rejected request.
fn read_host(
    labels: &BTreeMap<String, String>,
    labels_path: &str,
    problems: &mut Problems,
) -> Option<Host> {
    let (label, value) = HOST_LABELS.iter().find_map(|label| {
        labels
            .get(*label)
            .filter(|value| !value.is_empty())
            .map(|value| (*label, value))
    })?;
    let host = Host::from_label(value).map_err(|error| {
        problem(
            &child_path(labels_path, label),
            format!("is invalid: {error}"),
        )
    });
    problems.take(host)
}

/// Takes the summary from the `summary` annotation, else `message`, else the
/// first line of the description, cut to the maximum length.
fn read_summary(
    annotations: &BTreeMap<String, String>,
    description: Option<&str>,
    annotations_path: &str,
    problems: &mut Problems,
) -> Option<String> {
    for key in ["summary", "message"] {
        if let Some(text) = annotations.get(key).filter(|text| !text.is_empty()) {
            return problems.take(check_line(
                &child_path(annotations_path, key),
                text,
                MAX_SUMMARY_CHARS,
            ));
        }
    }

    let first_line =
        description.and_then(|text| text.lines().map(str::trim).find(|line| !line.is_empty()));
    let Some(line) = first_line else {
        return Some(NO_SUMMARY.to_string());
    };
    // The description passed the text checks, so a line of it has no
    // control characters left, and only the length needs care.
    let mut summary: String = line.replace('\t', " ");
    if summary.chars().count() > MAX_SUMMARY_CHARS {
        summary = summary.chars().take(MAX_SUMMARY_CHARS - 1).collect();
        summary.push('…');
    }
    Some(summary)
}

fn read_time(
    object: &Map<String, Value>,
    key: &str,
    path: &str,
    problems: &mut Problems,
) -> Option<jiff::Timestamp> {
    let time_path = child_path(path, key);
    let text = problems.take(optional_string(object, key, &time_path))??;
    problems.take(parse_time(&time_path, text)).flatten()
}
