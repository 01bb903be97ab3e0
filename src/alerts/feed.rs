//! The alert feed: a JSON Lines file in the record format of the demo's
//! `alerts.jsonl`, so the `alerts-list` and `alert-explain` demo commands
//! show received alerts.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::{Alert, Recorded};

/// Appends alerts to a JSON Lines file, one line per new alert or status
/// change.
///
/// NOTE: a status change appends a second line with the same id. The demo
/// reader keeps every line, so until it keeps only the last line per id, a
/// resolved alert also shows once as firing.
#[derive(Debug, Clone)]
pub struct AlertFeed {
    path: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    #[error("failed to append alert `{id}` to feed `{}`", .path.display())]
    Write {
        path: PathBuf,
        id: String,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "failed to append alert `{id}` to feed `{}`: wrote {written} of {length} bytes, and the partial line was removed",
        .path.display()
    )]
    ShortWrite {
        path: PathBuf,
        id: String,
        written: usize,
        length: usize,
    },
}

/// One line of the feed, with exactly the fields of the demo's alert record
/// (its reader rejects unknown fields).
#[derive(Debug, Serialize)]
struct FeedRecord<'a> {
    id: String,
    name: &'a str,
    severity: &'a str,
    host: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    service: Option<&'a str>,
    fired_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    resolved_at: Option<String>,
    summary: &'a str,
    check: String,
    cause: String,
    runbook: &'a str,
}

/// Host written for alerts without one, because the demo record requires a
/// host.
const UNKNOWN_HOST: &str = "unknown";

/// Text written for a cause or runbook that the source did not give.
const NOT_GIVEN: &str = "not given by the source";

impl AlertFeed {
    /// Uses the feed at `path`. The file is created on the first append.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends the alert of `recorded` when it is new or changed status.
    /// Returns whether a line was written.
    pub fn append_recorded(&self, recorded: &Recorded) -> Result<bool, FeedError> {
        match recorded {
            Recorded::New { alert }
            | Recorded::Repeat {
                alert,
                status_changed: true,
                ..
            } => self.append(alert).map(|()| true),
            Recorded::Repeat { .. } => Ok(false),
        }
    }

    /// Appends one line for `alert`.
    ///
    /// The line goes out in one `write` on a file opened with `O_APPEND`, so
    /// concurrent appenders on a local file system never interleave inside
    /// a line. A short write, as when the disk fills up, is cut off again,
    /// so no partial line stays behind to break the readers.
    pub fn append(&self, alert: &Alert) -> Result<(), FeedError> {
        let write_error = |source| FeedError::Write {
            path: self.path.clone(),
            id: alert.id.to_string(),
            source,
        };
        let mut line = feed_line(alert);
        line.push('\n');
        let bytes = line.as_bytes();

        if let Some(parent) = self.path.parent()
            && !parent.as_os_str().is_empty()
        {
            std::fs::create_dir_all(parent).map_err(write_error)?;
        }
        let mut file = OpenOptions::new()
            .append(true)
            .create(true)
            .open(&self.path)
            .map_err(write_error)?;
        let start = file.metadata().map_err(write_error)?.len();
        let written = file.write(bytes).map_err(write_error)?;
        if written < bytes.len() {
            // NOTE: another appender that wrote after `start` loses its line
            // here too. The bot is the only writer of the feed.
            file.set_len(start).map_err(write_error)?;
            return Err(FeedError::ShortWrite {
                path: self.path.clone(),
                id: alert.id.to_string(),
                written,
                length: bytes.len(),
            });
        }
        file.sync_data().map_err(write_error)?;
        Ok(())
    }
}

/// Formats `alert` as one feed line, without the line end.
pub fn feed_line(alert: &Alert) -> String {
    let record = FeedRecord {
        id: alert.id.to_string(),
        name: &alert.name,
        severity: alert.severity.as_str(),
        host: alert
            .host
            .as_ref()
            .map_or(UNKNOWN_HOST, |host| host.as_str()),
        service: alert.service.as_deref(),
        fired_at: format!("{:.0}", alert.started_at),
        resolved_at: alert.resolved_at.map(|time| format!("{time:.0}")),
        summary: &alert.summary,
        check: describe_check(alert),
        cause: describe_cause(alert),
        runbook: alert.runbook.as_deref().unwrap_or(NOT_GIVEN),
    };
    // serde_json::to_string fails only on non-string map keys or a failing
    // Serialize impl (its documentation), and this struct of strings has
    // neither, so the fallback is unreachable.
    serde_json::to_string(&record).unwrap_or_default()
}

/// Describes what the rule checks as a Prometheus selector: the rule name
/// and the labels other than `alertname`, such as
/// `DiskSpaceLow{instance="db-01:9100", job="node"}`.
fn describe_check(alert: &Alert) -> String {
    let labels: Vec<String> = alert
        .labels
        .iter()
        .filter(|(name, _)| name.as_str() != "alertname")
        .map(|(name, value)| format!("{name}={}", serde_json::Value::from(value.as_str())))
        .collect();
    if labels.is_empty() {
        alert.name.clone()
    } else {
        format!("{}{{{}}}", alert.name, labels.join(", "))
    }
}

/// Describes the cause: the description with its lines joined, since the
/// demo prints the cause on one line.
fn describe_cause(alert: &Alert) -> String {
    match alert.description.as_deref() {
        Some(description) => description.split_whitespace().collect::<Vec<_>>().join(" "),
        None => NOT_GIVEN.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::fs;

    use jiff::Timestamp;
    use serde::Deserialize;

    use super::*;
    use crate::alerts::{AlertId, Host, PostedMessage, Severity, Source, Status};

    /// The demo's alert record with the same fields and field rules, to read
    /// the feed back as the demo does.
    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct DemoAlert {
        id: String,
        name: String,
        severity: String,
        host: String,
        service: Option<String>,
        fired_at: DemoTime,
        resolved_at: Option<DemoTime>,
        summary: String,
        check: String,
        cause: String,
        runbook: String,
    }

    /// A time as the demo reads it: RFC 3339 text parsed by jiff.
    #[derive(Debug, PartialEq)]
    struct DemoTime(Timestamp);

    impl<'de> Deserialize<'de> for DemoTime {
        fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            let text = String::deserialize(deserializer)?;
            text.parse().map(Self).map_err(serde::de::Error::custom)
        }
    }

    /// Two records copied from the demo's `alerts.jsonl`, one firing and one
    /// resolved, which `DemoAlert` must read like the demo does.
    const DEMO_LINES: &str = r#"{"id":"ALRT-2210","name":"DiskSpaceLow","severity":"high","host":"db-01","service":"postgres","fired_at":"2025-06-12T11:20:00Z","summary":"/var/lib/postgresql is 91% full","check":"disk used on /var/lib/postgresql above 90% for 5 minutes","cause":"WAL segments pile up because replication to db-02 lags and keeps them from being recycled","runbook":"https://runbooks.example.internal/disk-space-low"}
{"id":"ALRT-2222","name":"DiskSpaceLow","severity":"medium","host":"log-01","service":"elasticsearch","fired_at":"2025-06-12T04:15:00Z","resolved_at":"2025-06-12T05:02:00Z","summary":"/var/lib/elasticsearch was 88% full","check":"disk used above 85% for 10 minutes","cause":"index rollover was late; resolved after the nightly curation job","runbook":"https://runbooks.example.internal/disk-space-low"}
"#;

    fn time(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn sample_alert() -> Alert {
        Alert {
            id: AlertId::new(5001),
            source: Source::Alertmanager,
            fingerprint: "c3a1b2".to_string(),
            name: "DiskSpaceLow".to_string(),
            severity: Severity::High,
            status: Status::Firing,
            host: Some(Host::parse("db-01").unwrap()),
            service: Some("node".to_string()),
            summary: "/var/lib/postgresql is 91% full".to_string(),
            description: Some("WAL segments pile up.\nReplication lags.".to_string()),
            runbook: Some("https://runbooks.example.internal/disk-space-low".to_string()),
            started_at: time("2025-06-12T11:20:00.123456789Z"),
            resolved_at: None,
            labels: BTreeMap::from([
                ("alertname".to_string(), "DiskSpaceLow".to_string()),
                ("instance".to_string(), "db-01:9100".to_string()),
                ("job".to_string(), "node".to_string()),
            ]),
            annotations: BTreeMap::new(),
        }
    }

    fn read_feed(path: &Path) -> Vec<DemoAlert> {
        fs::read_to_string(path)
            .unwrap()
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect()
    }

    #[test]
    fn demo_record_mirror_reads_demo_lines() {
        let records: Vec<DemoAlert> = DEMO_LINES
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
        assert_eq!(records.len(), 2);
        assert_eq!(
            records[1].resolved_at,
            Some(DemoTime(time("2025-06-12T05:02:00Z")))
        );
    }

    #[test]
    fn feed_line_matches_demo_format() {
        let line = feed_line(&sample_alert());
        assert_eq!(
            line,
            r#"{"id":"ALRT-5001","name":"DiskSpaceLow","severity":"high","host":"db-01","service":"node","fired_at":"2025-06-12T11:20:00Z","summary":"/var/lib/postgresql is 91% full","check":"DiskSpaceLow{instance=\"db-01:9100\", job=\"node\"}","cause":"WAL segments pile up. Replication lags.","runbook":"https://runbooks.example.internal/disk-space-low"}"#
        );
        let record: DemoAlert = serde_json::from_str(&line).unwrap();
        assert_eq!(record.resolved_at, None);
    }

    #[test]
    fn feed_line_fills_missing_values() {
        let mut alert = sample_alert();
        alert.host = None;
        alert.service = None;
        alert.description = None;
        alert.runbook = None;
        alert.labels.clear();

        let record: DemoAlert = serde_json::from_str(&feed_line(&alert)).unwrap();
        assert_eq!(record.host, "unknown");
        assert_eq!(record.service, None);
        assert_eq!(record.check, "DiskSpaceLow");
        assert_eq!(record.cause, "not given by the source");
        assert_eq!(record.runbook, "not given by the source");
    }

    #[test]
    fn append_writes_one_line_per_alert() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("alerts.jsonl");
        let feed = AlertFeed::new(&path);

        let firing = sample_alert();
        let mut resolved = sample_alert();
        resolved.status = Status::Resolved;
        resolved.resolved_at = Some(time("2025-06-12T12:00:00Z"));
        feed.append(&firing).unwrap();
        feed.append(&resolved).unwrap();

        let text = fs::read_to_string(&path).unwrap();
        assert!(text.ends_with('\n'));
        let records = read_feed(&path);
        assert_eq!(records.len(), 2);
        assert_eq!(records[0].resolved_at, None);
        assert_eq!(
            records[1].resolved_at,
            Some(DemoTime(time("2025-06-12T12:00:00Z")))
        );
    }

    #[test]
    fn append_extends_existing_demo_file() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("alerts.jsonl");
        fs::write(&path, DEMO_LINES).unwrap();

        AlertFeed::new(&path).append(&sample_alert()).unwrap();

        let records = read_feed(&path);
        let ids: Vec<&str> = records.iter().map(|record| record.id.as_str()).collect();
        assert_eq!(ids, ["ALRT-2210", "ALRT-2222", "ALRT-5001"]);
    }

    #[test]
    fn append_recorded_skips_unchanged_repeats() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("alerts.jsonl");
        let feed = AlertFeed::new(&path);
        let alert = sample_alert();
        let message = Some(PostedMessage {
            channel: "C0123".to_string(),
            ts: "1718191200.000100".to_string(),
        });

        let new = Recorded::New {
            alert: alert.clone(),
        };
        let repeat = Recorded::Repeat {
            alert: alert.clone(),
            count: 2,
            message: message.clone(),
            status_changed: false,
        };
        let change = Recorded::Repeat {
            alert,
            count: 3,
            message,
            status_changed: true,
        };
        assert!(feed.append_recorded(&new).unwrap());
        assert!(!feed.append_recorded(&repeat).unwrap());
        assert!(feed.append_recorded(&change).unwrap());
        assert_eq!(read_feed(&path).len(), 2);
    }

    #[test]
    fn append_reports_unwritable_path() {
        let directory = tempfile::tempdir().unwrap();
        let blocker = directory.path().join("not-a-directory");
        std::fs::write(&blocker, "").unwrap();
        let path = blocker.join("alerts.jsonl");
        let error = AlertFeed::new(&path).append(&sample_alert()).unwrap_err();
        assert_eq!(
            error.to_string(),
            format!(
                "failed to append alert `ALRT-5001` to feed `{}`",
                path.display()
            )
        );
    }
}
