//! Request bodies of the alert webhook: format detection, validation, and the
//! generic JSON format.
//!
//! # Formats
//!
//! A JSON object with an `alerts` key is a Prometheus Alertmanager webhook
//! payload and must have `"version": "4"`. Any other JSON object is one alert
//! in the generic format, and a JSON array is a list of them.
//!
//! # Generic format
//!
//! ```json
//! {
//!   "name": "SSHBruteForce",
//!   "summary": "1,240 failed SSH logins from 203.0.113.7 in 10 minutes",
//!   "severity": "high",
//!   "status": "firing",
//!   "host": "bastion-01",
//!   "service": "sshd",
//!   "description": "Password guessing from one address.\nSource listed by threat intel.",
//!   "runbook": "https://runbooks.example.internal/ssh-brute-force",
//!   "fingerprint": "ssh-bruteforce-bastion-01",
//!   "started_at": "2025-06-12T10:47:00Z",
//!   "resolved_at": null,
//!   "labels": {"team": "secops"}
//! }
//! ```
//!
//! | field | required | content |
//! |---|---|---|
//! | `name` | yes | rule name, one line, at most 200 characters |
//! | `summary` | yes | one line, at most 1,000 characters |
//! | `severity` | no | `critical`, `high`, `medium` (default) or `low`, or an alias that [`Severity::parse`] accepts |
//! | `status` | no | `firing` (default) or `resolved` |
//! | `host` | no | host name or IP address, without port; see [`Host::parse`] |
//! | `service` | no | one line, at most 200 characters |
//! | `description` | no | text that may span lines, at most 10,000 characters |
//! | `runbook` | no | `http://` or `https://` URL, at most 2,000 characters |
//! | `fingerprint` or `id` | no | deduplication key, one line, at most 200 characters. Without it, the key is a hash of name, host, service and labels |
//! | `started_at` | no | RFC 3339 time with offset; default: when the store records the alert |
//! | `resolved_at` | no | RFC 3339 time with offset, not before `started_at`; default for a resolved alert: when the store records it |
//! | `labels` | no | object of string values |
//!
//! A `null` or blank value counts as missing. Unknown fields are rejected, so
//! a misspelt field is reported instead of silently dropped.
//!
//! # Alertmanager format
//!
//! Each alert of a version 4 payload maps as follows. `name` is the
//! `alertname` label, which is required. `severity` comes from the `severity`
//! label through [`Severity::from_label`]. `host` comes from the first of
//! the labels `host`, `hostname` and `instance`, through [`Host::from_label`].
//! `service` comes from the `service` label, else `job`. The annotations
//! `summary`, `description` and `runbook_url` fill the fields of the same
//! meaning, and the other annotations are kept. Without a `summary`
//! annotation, the summary is the `message` annotation, else the first line
//! of the description, else a note that none was given. Alerts without a
//! `fingerprint`, which older Alertmanager releases omit, get a hash of
//! their labels.
//!
//! # Validation
//!
//! Every string must be free of control characters and bidirectional
//! formatting characters. Only descriptions, label values and annotation
//! values may contain line breaks and tabs. A body with any invalid alert is
//! rejected as a whole, because a partial accept would leave the sender
//! unsure which alerts arrived. [`PayloadError::Invalid`] lists every problem
//! found, each with the JSON path of its value.

mod alertmanager;
mod fields;
mod generic;

use std::collections::BTreeMap;
use std::fmt;

use jiff::Timestamp;
use serde_json::Value;

#[cfg(doc)]
use super::AlertStore;
use super::{Host, Severity, Source, Status};

/// One validated alert of a request body, before the store assigns its id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncomingAlert {
    pub source: Source,
    /// Group key, unique within the source.
    pub fingerprint: String,
    pub name: String,
    pub severity: Severity,
    pub status: Status,
    pub host: Option<Host>,
    pub service: Option<String>,
    pub summary: String,
    pub description: Option<String>,
    pub runbook: Option<String>,
    /// Start time, `None` when the source gave none. [`AlertStore::record`]
    /// then uses the time of recording.
    pub started_at: Option<Timestamp>,
    pub resolved_at: Option<Timestamp>,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
}

/// Invalid request body. The messages are written to be returned to the
/// sender as they are, in the body of a 400 or 413 response.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    #[error(
        "request body is {size} bytes, over the maximum of {MAX_BODY_BYTES} bytes: split the alerts over several requests"
    )]
    TooLarge { size: usize },
    #[error(
        "request body is empty: send one alert object, an array of alert objects, or an Alertmanager webhook payload"
    )]
    Empty,
    #[error("request body is not valid JSON: {detail}")]
    NotJson { detail: String },
    #[error(
        "request body is a JSON {found}: expected one alert object, an array of alert objects, or an Alertmanager webhook payload"
    )]
    WrongShape { found: &'static str },
    #[error(
        "Alertmanager payload has no `version`: expected \"4\" (a generic alert is one object without an `alerts` key, or an array of them)"
    )]
    MissingVersion,
    #[error("Alertmanager payload has version `{}`: only version \"4\" is supported", super::excerpt(.found))]
    UnsupportedVersion { found: String },
    #[error("Alertmanager payload has `version` {}, a JSON {found_type}: expected the string \"4\"", super::excerpt(.found))]
    VersionNotString {
        found: String,
        found_type: &'static str,
    },
    #[error("{format} payload has no alerts: send at least one")]
    NoAlerts { format: Source },
    #[error(
        "request has {count} alerts, over the maximum of {MAX_ALERTS}: split them over several requests (for Alertmanager, set `max_alerts: {MAX_ALERTS}` in the webhook config)"
    )]
    TooManyAlerts { count: usize },
    #[error("{}", describe_problems(.problems))]
    Invalid { problems: Vec<FieldProblem> },
}

/// One invalid value of a request body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldProblem {
    /// JSON path of the value, such as `alerts[0].labels.instance` or
    /// `[2].summary`.
    pub path: String,
    /// Description of the fault and of what to send instead, starting with a
    /// verb phrase such as "is missing".
    pub message: String,
}

/// Maximum request body size. 1 MiB has room for 100 alerts with long
/// descriptions many times over, so a larger body is more likely a mistake
/// or abuse.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Maximum alerts per request, because each one may become a Slack message
/// and Slack allows about one message per second per channel.
pub const MAX_ALERTS: usize = 100;

/// Maximum problems listed in one error message. The rest are only counted.
const MAX_LISTED_PROBLEMS: usize = 20;

/// Parses and validates a request body of the alert webhook.
pub fn parse_alerts(body: &[u8]) -> Result<Vec<IncomingAlert>, PayloadError> {
    if body.len() > MAX_BODY_BYTES {
        return Err(PayloadError::TooLarge { size: body.len() });
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(PayloadError::Empty);
    }
    let value: Value = serde_json::from_slice(body).map_err(|error| PayloadError::NotJson {
        detail: error.to_string(),
    })?;

    match value {
        Value::Object(object) if object.contains_key("alerts") => alertmanager::parse(&object),
        Value::Object(object) => generic::parse_one(&object).map(|alert| vec![alert]),
        Value::Array(items) => generic::parse_list(&items),
        other => Err(PayloadError::WrongShape {
            found: json_type(&other),
        }),
    }
}

impl fmt::Display for FieldProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}` {}", self.path, self.message)
    }
}

/// Name of a JSON value's type for error messages.
fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn describe_problems(problems: &[FieldProblem]) -> String {
    let listed: Vec<String> = problems
        .iter()
        .take(MAX_LISTED_PROBLEMS)
        .map(FieldProblem::to_string)
        .collect();
    let mut text = match problems.len() {
        1 => format!("invalid alert payload: {}", listed.join("")),
        count => format!(
            "invalid alert payload, {count} problems: {}",
            listed.join("; ")
        ),
    };
    if problems.len() > MAX_LISTED_PROBLEMS {
        text.push_str(&format!(
            "; and {} more",
            problems.len() - MAX_LISTED_PROBLEMS
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const ALERTMANAGER_TWO_ALERTS: &str = include_str!("fixtures/alertmanager-two-alerts.json");
    const GENERIC_ONE: &str = include_str!("fixtures/generic-one.json");
    const GENERIC_LIST: &str = include_str!("fixtures/generic-list.json");

    fn time(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn parse_value(value: serde_json::Value) -> Result<Vec<IncomingAlert>, PayloadError> {
        parse_alerts(value.to_string().as_bytes())
    }

    /// Parses `value` and returns the error message, failing if it parses.
    fn error_message(value: serde_json::Value) -> String {
        parse_value(value).unwrap_err().to_string()
    }

    fn alertmanager_with(alert: serde_json::Value) -> serde_json::Value {
        json!({"version": "4", "status": "firing", "alerts": [alert]})
    }

    fn alertmanager_alert() -> serde_json::Value {
        json!({
            "status": "firing",
            "labels": {"alertname": "HighCPU", "instance": "web-04:9100", "job": "node"},
            "annotations": {"summary": "CPU at 97% for 12 minutes"},
            "startsAt": "2025-06-12T11:42:00Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://prometheus:9090/graph",
            "fingerprint": "aa11bb22cc33dd44"
        })
    }

    #[test]
    fn alertmanager_fixture_parses() {
        let alerts = parse_alerts(ALERTMANAGER_TWO_ALERTS.as_bytes()).unwrap();
        assert_eq!(alerts.len(), 2);

        let first = &alerts[0];
        assert_eq!(first.source, Source::Alertmanager);
        assert_eq!(first.fingerprint, "b1f3c5a7d9e2f4a6");
        assert_eq!(first.name, "DiskSpaceLow");
        assert_eq!(first.severity, Severity::Medium);
        assert_eq!(first.status, Status::Firing);
        assert_eq!(first.host.as_ref().map(Host::as_str), Some("db-01"));
        assert_eq!(first.service.as_deref(), Some("node"));
        assert_eq!(first.summary, "/var/lib/postgresql is 91% full");
        assert_eq!(
            first.description.as_deref(),
            Some("Disk usage on db-01 is above 90% for 5 minutes.\n  VALUE = 91.2")
        );
        assert_eq!(
            first.runbook.as_deref(),
            Some("https://runbooks.example.internal/disk-space-low")
        );
        assert_eq!(
            first.started_at,
            Some(time("2025-06-12T11:20:00.123456789Z"))
        );
        assert_eq!(first.resolved_at, None);
        assert_eq!(
            first.labels.get("mountpoint").map(String::as_str),
            Some("/var/lib/postgresql")
        );
        assert_eq!(first.labels.len(), 5);
        let annotation_keys: Vec<&str> = first.annotations.keys().map(String::as_str).collect();
        assert_eq!(annotation_keys, ["dashboard"]);

        let second = &alerts[1];
        assert_eq!(second.fingerprint, "0c9e8d7f6a5b4c3d");
        assert_eq!(second.severity, Severity::Critical);
        assert_eq!(second.status, Status::Resolved);
        assert_eq!(second.host.as_ref().map(Host::as_str), Some("2001:db8::17"));
        assert_eq!(second.description, None);
        assert_eq!(second.runbook, None);
        assert_eq!(second.resolved_at, Some(time("2025-06-12T10:45:30Z")));
    }

    #[test]
    fn alertmanager_prefers_host_label_and_service() {
        let mut alert = alertmanager_alert();
        alert["labels"]["host"] = json!("web-04.prod.example.internal");
        alert["labels"]["service"] = json!("haproxy");
        let alerts = parse_value(alertmanager_with(alert)).unwrap();
        assert_eq!(
            alerts[0].host.as_ref().map(Host::as_str),
            Some("web-04.prod.example.internal")
        );
        assert_eq!(alerts[0].service.as_deref(), Some("haproxy"));
    }

    #[test]
    fn alertmanager_summary_falls_back() {
        let mut alert = alertmanager_alert();
        alert["annotations"] = json!({"message": "CPU is high"});
        assert_eq!(
            parse_value(alertmanager_with(alert.clone())).unwrap()[0].summary,
            "CPU is high"
        );

        alert["annotations"] = json!({"description": "\n  First line\tof it.\nSecond line."});
        assert_eq!(
            parse_value(alertmanager_with(alert.clone())).unwrap()[0].summary,
            "First line of it."
        );

        alert["annotations"] = json!({});
        assert_eq!(
            parse_value(alertmanager_with(alert)).unwrap()[0].summary,
            "no summary given by Alertmanager"
        );
    }

    #[test]
    fn alertmanager_fingerprint_derived_from_labels() {
        let mut alert = alertmanager_alert();
        alert.as_object_mut().unwrap().remove("fingerprint");
        let first = parse_value(alertmanager_with(alert.clone())).unwrap();
        let again = parse_value(alertmanager_with(alert.clone())).unwrap();
        assert_eq!(first[0].fingerprint.len(), 32);
        assert_eq!(first[0].fingerprint, again[0].fingerprint);

        alert["labels"]["instance"] = json!("web-05:9100");
        let other = parse_value(alertmanager_with(alert)).unwrap();
        assert_ne!(first[0].fingerprint, other[0].fingerprint);
    }

    #[test]
    fn alertmanager_ignores_unknown_members() {
        let mut alert = alertmanager_alert();
        alert["silencedBy"] = json!([]);
        let mut payload = alertmanager_with(alert);
        payload["newTopLevelField"] = json!(true);
        assert_eq!(parse_value(payload).unwrap().len(), 1);
    }

    #[test]
    fn generic_object_parses() {
        let alerts = parse_alerts(GENERIC_ONE.as_bytes()).unwrap();
        assert_eq!(alerts.len(), 1);
        let alert = &alerts[0];
        assert_eq!(alert.source, Source::Generic);
        assert_eq!(alert.fingerprint, "ssh-bruteforce-bastion-01");
        assert_eq!(alert.name, "SSHBruteForce");
        assert_eq!(alert.severity, Severity::High);
        assert_eq!(alert.status, Status::Firing);
        assert_eq!(alert.host.as_ref().map(Host::as_str), Some("bastion-01"));
        assert_eq!(alert.service.as_deref(), Some("sshd"));
        assert_eq!(
            alert.summary,
            "1,240 failed SSH logins from 203.0.113.7 in 10 minutes"
        );
        assert_eq!(
            alert.description.as_deref(),
            Some("Password guessing from one address.\nSource listed by threat intel.")
        );
        assert_eq!(
            alert.runbook.as_deref(),
            Some("https://runbooks.example.internal/ssh-brute-force")
        );
        assert_eq!(alert.started_at, Some(time("2025-06-12T10:47:00Z")));
        assert_eq!(alert.resolved_at, None);
        assert_eq!(alert.labels.get("team").map(String::as_str), Some("secops"));
        assert!(alert.annotations.is_empty());
    }

    #[test]
    fn generic_list_parses_with_defaults() {
        let alerts = parse_alerts(GENERIC_LIST.as_bytes()).unwrap();
        assert_eq!(alerts.len(), 2);
        assert_eq!(alerts[0].fingerprint, "edr-8841");
        assert_eq!(alerts[0].severity, Severity::Critical);

        let minimal = &alerts[1];
        assert_eq!(minimal.name, "QueueBacklog");
        assert_eq!(minimal.severity, Severity::Medium);
        assert_eq!(minimal.status, Status::Firing);
        assert_eq!(minimal.host, None);
        assert_eq!(minimal.started_at, None);
        assert_eq!(minimal.fingerprint.len(), 32);
    }

    #[test]
    fn generic_fingerprint_depends_on_identity() {
        let base = json!({"name": "HighCPU", "summary": "CPU at 97%", "host": "web-04"});
        let fingerprint =
            |value: serde_json::Value| parse_value(value).unwrap()[0].fingerprint.clone();

        let mut other_summary = base.clone();
        other_summary["summary"] = json!("CPU at 99%");
        assert_eq!(fingerprint(base.clone()), fingerprint(other_summary));

        let mut other_host = base.clone();
        other_host["host"] = json!("web-05");
        assert_ne!(fingerprint(base.clone()), fingerprint(other_host));

        let mut with_id = base;
        with_id["id"] = json!("cpu-web-04");
        assert_eq!(fingerprint(with_id), "cpu-web-04");
    }

    #[test]
    fn generic_resolved_alert_parses() {
        let alerts = parse_value(json!({
            "name": "HighCPU",
            "summary": "CPU back to 40%",
            "status": "resolved",
            "resolved_at": "2025-06-12T12:00:00Z",
            "severity": "warning",
            "description": "   "
        }))
        .unwrap();
        assert_eq!(alerts[0].status, Status::Resolved);
        assert_eq!(alerts[0].resolved_at, Some(time("2025-06-12T12:00:00Z")));
        assert_eq!(alerts[0].severity, Severity::Medium);
        assert_eq!(alerts[0].description, None);
    }

    #[test]
    fn empty_body_rejected() {
        for body in [&b""[..], b"  \n\t "] {
            let error = parse_alerts(body).unwrap_err();
            assert_eq!(
                error.to_string(),
                "request body is empty: send one alert object, an array of alert objects, or an Alertmanager webhook payload"
            );
        }
    }

    #[test]
    fn oversize_body_rejected() {
        let body = vec![b' '; MAX_BODY_BYTES + 1];
        let error = parse_alerts(&body).unwrap_err();
        assert_eq!(
            error.to_string(),
            "request body is 1048577 bytes, over the maximum of 1048576 bytes: split the alerts over several requests"
        );
    }

    #[test]
    fn invalid_json_rejected() {
        let error = parse_alerts(b"{\"name\": ").unwrap_err();
        assert_eq!(
            error.to_string(),
            "request body is not valid JSON: EOF while parsing a value at line 1 column 9"
        );
        let error = parse_alerts(b"<alert/>").unwrap_err();
        assert_eq!(
            error.to_string(),
            "request body is not valid JSON: expected value at line 1 column 1"
        );
    }

    #[test]
    fn non_object_body_rejected() {
        for (value, kind) in [
            (json!(42), "number"),
            (json!("alert"), "string"),
            (json!(null), "null"),
        ] {
            assert_eq!(
                error_message(value),
                format!(
                    "request body is a JSON {kind}: expected one alert object, an array of alert objects, or an Alertmanager webhook payload"
                )
            );
        }
    }

    #[test]
    fn empty_alert_lists_rejected() {
        assert_eq!(
            error_message(json!([])),
            "generic payload has no alerts: send at least one"
        );
        assert_eq!(
            error_message(json!({"version": "4", "alerts": []})),
            "alertmanager payload has no alerts: send at least one"
        );
    }

    #[test]
    fn too_many_alerts_rejected() {
        let alert = json!({"name": "HighCPU", "summary": "CPU at 97%"});
        let expected = "request has 101 alerts, over the maximum of 100: split them over several requests (for Alertmanager, set `max_alerts: 100` in the webhook config)";
        assert_eq!(error_message(json!(vec![alert; 101])), expected);

        let alerts = vec![alertmanager_alert(); 101];
        assert_eq!(
            error_message(json!({"version": "4", "alerts": alerts})),
            expected
        );

        assert_eq!(
            parse_value(json!(vec![json!({"name": "A", "summary": "B"}); 100]))
                .unwrap()
                .len(),
            100
        );
    }

    #[test]
    fn alertmanager_version_checked() {
        assert_eq!(
            error_message(json!({"alerts": [alertmanager_alert()]})),
            "Alertmanager payload has no `version`: expected \"4\" (a generic alert is one object without an `alerts` key, or an array of them)"
        );
        assert_eq!(
            error_message(json!({"version": "3", "alerts": [alertmanager_alert()]})),
            "Alertmanager payload has version `3`: only version \"4\" is supported"
        );
        assert_eq!(
            error_message(json!({"version": 4, "alerts": [alertmanager_alert()]})),
            "Alertmanager payload has `version` 4, a JSON number: expected the string \"4\""
        );
    }

    #[test]
    fn alertmanager_alerts_must_be_array() {
        assert_eq!(
            error_message(json!({"version": "4", "alerts": {"status": "firing"}})),
            "invalid alert payload: `alerts` is a object, expected an array of alerts"
        );
    }

    #[test]
    fn missing_name_and_summary_rejected() {
        assert_eq!(
            error_message(json!({"severity": "high"})),
            "invalid alert payload, 2 problems: `name` is missing: expected the alert rule name, such as DiskSpaceLow; `summary` is missing: expected a one-line summary of what is wrong"
        );
        assert_eq!(
            error_message(json!([{"name": "A", "summary": "B"}, {"name": "C", "summary": null}])),
            "invalid alert payload: `[1].summary` is missing: expected a one-line summary of what is wrong"
        );
        assert_eq!(
            error_message(json!({"name": "  ", "summary": "B"})),
            "invalid alert payload: `name` is missing: expected the alert rule name, such as DiskSpaceLow"
        );
    }

    #[test]
    fn alertmanager_missing_alertname_and_status() {
        let mut alert = alertmanager_alert();
        alert["labels"].as_object_mut().unwrap().remove("alertname");
        alert.as_object_mut().unwrap().remove("status");
        assert_eq!(
            error_message(alertmanager_with(alert)),
            "invalid alert payload, 2 problems: `alerts[0].status` is missing: expected firing or resolved; `alerts[0].labels.alertname` is missing: every Prometheus alert has it, so check the sender"
        );

        let mut alert = alertmanager_alert();
        alert.as_object_mut().unwrap().remove("labels");
        assert_eq!(
            error_message(alertmanager_with(alert)),
            "invalid alert payload: `alerts[0].labels` is missing: expected an object of labels with at least `alertname`"
        );
    }

    #[test]
    fn bad_timestamp_rejected() {
        assert_eq!(
            error_message(json!({"name": "A", "summary": "B", "started_at": "yesterday"})),
            "invalid alert payload: `started_at` is `yesterday`, not an RFC 3339 time: expected a time with a UTC offset, such as 2025-06-12T11:20:00Z"
        );
        assert_eq!(
            error_message(
                json!({"name": "A", "summary": "B", "started_at": "2025-06-12T11:20:00"})
            ),
            "invalid alert payload: `started_at` is `2025-06-12T11:20:00`, not an RFC 3339 time: expected a time with a UTC offset, such as 2025-06-12T11:20:00Z"
        );
        let mut alert = alertmanager_alert();
        alert["startsAt"] = json!("2025-13-01T00:00:00Z");
        assert_eq!(
            error_message(alertmanager_with(alert)),
            "invalid alert payload: `alerts[0].startsAt` is `2025-13-01T00:00:00Z`, not an RFC 3339 time: expected a time with a UTC offset, such as 2025-06-12T11:20:00Z"
        );
    }

    #[test]
    fn end_before_start_rejected() {
        assert_eq!(
            error_message(json!({
                "name": "A",
                "summary": "B",
                "status": "resolved",
                "started_at": "2025-06-12T11:00:00Z",
                "resolved_at": "2025-06-12T10:59:59Z"
            })),
            "invalid alert payload: `resolved_at` is 2025-06-12T10:59:59Z, before `started_at` 2025-06-12T11:00:00Z: an alert cannot end before it starts"
        );
        let mut alert = alertmanager_alert();
        alert["status"] = json!("resolved");
        alert["endsAt"] = json!("2025-06-12T13:00:00+02:00");
        assert_eq!(
            error_message(alertmanager_with(alert)),
            "invalid alert payload: `alerts[0].endsAt` is 2025-06-12T11:00:00Z, before `startsAt` 2025-06-12T11:42:00Z: an alert cannot end before it starts"
        );
    }

    #[test]
    fn control_characters_rejected() {
        assert_eq!(
            error_message(json!({"name": "A", "summary": "bell\u{7} here"})),
            "invalid alert payload: `summary` contains control character U+0007 at character 5: remove it"
        );
        assert_eq!(
            error_message(json!({"name": "Disk\nFull", "summary": "B"})),
            "invalid alert payload: `name` contains control character U+000A at character 5: remove it, because this field is one line (multi-line text belongs in the description)"
        );
        assert_eq!(
            error_message(
                json!({"name": "A", "summary": "B", "description": "ok\n\u{202e}txt.exe"})
            ),
            "invalid alert payload: `description` contains bidirectional formatting character U+202E at character 4: remove it"
        );
        let mut alert = alertmanager_alert();
        alert["labels"]["team"] = json!("sec\u{1b}[31mops");
        assert_eq!(
            error_message(alertmanager_with(alert)),
            "invalid alert payload: `alerts[0].labels.team` contains control character U+001B at character 4: remove it"
        );
    }

    #[test]
    fn trailing_newline_of_summary_trimmed() {
        let alerts = parse_value(json!({"name": "A", "summary": "CPU high\n"})).unwrap();
        assert_eq!(alerts[0].summary, "CPU high");
    }

    #[test]
    fn invalid_host_rejects_request() {
        assert_eq!(
            error_message(json!([
                {"name": "A", "summary": "B", "host": "web-01"},
                {"name": "A", "summary": "B", "host": "web-01; rm -rf /"}
            ])),
            "invalid alert payload: `[1].host` is invalid: host `web-01; rm -rf /` contains `;`: a host name may contain only ASCII letters, digits, `-`, `.` and `_`"
        );
        assert_eq!(
            error_message(json!({"name": "A", "summary": "B", "host": "--help"})),
            "invalid alert payload: `host` is invalid: host `--help` starts with `-`: a host name must start with a letter or digit"
        );
        let mut alert = alertmanager_alert();
        alert["labels"]["instance"] = json!("$(curl evil.example):9100");
        assert_eq!(
            error_message(alertmanager_with(alert)),
            "invalid alert payload: `alerts[0].labels.instance` is invalid: host `$(curl evil.example)` contains `$`: a host name may contain only ASCII letters, digits, `-`, `.` and `_`"
        );
    }

    #[test]
    fn unknown_generic_field_rejected() {
        assert_eq!(
            error_message(json!({"name": "A", "sumary": "B", "summary": "B"})),
            "invalid alert payload: `sumary` is not a field of the generic alert format: expected one of name, summary, severity, status, host, service, description, runbook, fingerprint, id, started_at, resolved_at, labels"
        );
    }

    #[test]
    fn wrong_types_rejected() {
        assert_eq!(
            error_message(json!({"name": "A", "summary": "B", "severity": 3})),
            "invalid alert payload: `severity` is a number, expected a string"
        );
        assert_eq!(
            error_message(json!({"name": "A", "summary": "B", "labels": {"team": 7}})),
            "invalid alert payload: `labels.team` is a number, expected a string"
        );
        assert_eq!(
            error_message(json!({"name": "A", "summary": "B", "labels": ["team"]})),
            "invalid alert payload: `labels` is a array, expected an object of string values"
        );
        assert_eq!(
            error_message(json!(["not an alert"])),
            "invalid alert payload: `[0]` is a string, expected an alert object"
        );
    }

    #[test]
    fn invalid_severity_and_status_rejected() {
        assert_eq!(
            error_message(json!({"name": "A", "summary": "B", "severity": "urgent"})),
            "invalid alert payload: `severity` is `urgent`, expected critical, high, medium or low (or an alias such as warning, info, sev1, p2)"
        );
        assert_eq!(
            error_message(json!({"name": "A", "summary": "B", "status": "open"})),
            "invalid alert payload: `status` is `open`, expected firing or resolved"
        );
        let mut alert = alertmanager_alert();
        alert["status"] = json!("pending");
        assert_eq!(
            error_message(alertmanager_with(alert)),
            "invalid alert payload: `alerts[0].status` is `pending`, expected firing or resolved"
        );
    }

    #[test]
    fn alertmanager_unknown_severity_is_medium() {
        let mut alert = alertmanager_alert();
        alert["labels"]["severity"] = json!("urgent-ish");
        assert_eq!(
            parse_value(alertmanager_with(alert)).unwrap()[0].severity,
            Severity::Medium
        );
    }

    #[test]
    fn invalid_runbook_rejected() {
        assert_eq!(
            error_message(json!({"name": "A", "summary": "B", "runbook": "wiki/DiskFull"})),
            "invalid alert payload: `runbook` is `wiki/DiskFull`, expected an http:// or https:// URL such as https://runbooks.example.com/disk-full"
        );
        assert_eq!(
            error_message(json!({"name": "A", "summary": "B", "runbook": "https://x.example/a|b"})),
            "invalid alert payload: `runbook` contains `|`, which would break the link: percent-encode it as %7C"
        );
        let mut alert = alertmanager_alert();
        alert["annotations"]["runbook_url"] = json!("https://x.example/a b");
        assert_eq!(
            error_message(alertmanager_with(alert)),
            "invalid alert payload: `alerts[0].annotations.runbook_url` contains ` `, which would break the link: percent-encode it as %20"
        );
    }

    #[test]
    fn over_long_values_rejected() {
        assert_eq!(
            error_message(json!({"name": "N".repeat(201), "summary": "B"})),
            "invalid alert payload: `name` is 201 characters, over the maximum of 200: shorten it"
        );
        assert_eq!(
            error_message(json!({"name": "A", "summary": "S".repeat(1_001)})),
            "invalid alert payload: `summary` is 1001 characters, over the maximum of 1000: shorten it"
        );
    }

    #[test]
    fn conflicting_dedupe_keys_rejected() {
        assert_eq!(
            error_message(json!({"name": "A", "summary": "B", "id": "x", "fingerprint": "y"})),
            "invalid alert payload: `id` is `x` but `fingerprint` is `y`: give only one of them, because both set the deduplication key"
        );
        let alerts =
            parse_value(json!({"name": "A", "summary": "B", "id": "x", "fingerprint": "x"}))
                .unwrap();
        assert_eq!(alerts[0].fingerprint, "x");
    }

    #[test]
    fn problems_listed_up_to_limit() {
        let alerts: Vec<serde_json::Value> = (0..25).map(|_| json!({"name": "A"})).collect();
        let message = error_message(json!(alerts));
        assert!(
            message.starts_with("invalid alert payload, 25 problems: `[0].summary` is missing"),
            "{message}"
        );
        assert!(message.ends_with("; and 5 more"), "{message}");
        assert_eq!(message.matches("is missing").count(), 20);
    }

    #[test]
    fn error_quotes_long_values_shortly() {
        let message =
            error_message(json!({"name": "A", "summary": "B", "severity": "x".repeat(500)}));
        assert!(
            message.contains(&format!("`{}…`", "x".repeat(79))),
            "{message}"
        );
    }
}
