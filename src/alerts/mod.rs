//! Alert ingestion: alerts that detection systems send over HTTP, stored,
//! deduplicated and turned into Slack messages with suggested actions.
//!
//! # Flow
//!
//! 1. [`parse_alerts`] validates a request body, either a Prometheus
//!    Alertmanager webhook payload or the generic JSON format described in
//!    [`payload`], and returns one [`IncomingAlert`] per alert. A body with any
//!    invalid alert is rejected as a whole, with every problem listed.
//! 2. [`AlertStore::record`] assigns an id (`ALRT-5001` upward) to a new alert,
//!    or counts a repeat of the same group within the deduplication window.
//! 3. [`AlertFeed::append_recorded`] appends new alerts and status changes to a
//!    JSON Lines file in the format of the demo's `alerts.jsonl`.
//! 4. [`alert_message`] builds the Slack message. After posting it, the caller
//!    stores its channel and timestamp with [`AlertStore::set_message`], so a
//!    repeat updates that message instead of posting again.
//! 5. A button click carries the alert id. [`action_request`] turns the click
//!    into the chat request it stands for, which then goes through the normal
//!    dialogue, so policy, confirmation and audit apply.
//!
//! # Severity
//!
//! Alerts carry one of four severities. Alertmanager has no fixed severity
//! scale, so [`Severity::from_label`] maps the common values of the `severity`
//! label (`page`, `warning`, `info`, `sev1`, `p2`, …) and treats a missing or
//! unknown value as [`Severity::Medium`].

mod feed;
mod host;
mod message;
pub mod payload;
mod store;

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use jiff::Timestamp;

pub use feed::{AlertFeed, FeedError, feed_line};
pub use host::{Host, HostError};
pub use message::{
    ACTION_DECLARE, ACTION_INVESTIGATE, ACTION_ISOLATE, AlertMessage, action_request, alert_message,
};
pub use payload::{
    FieldProblem, IncomingAlert, MAX_ALERTS, MAX_BODY_BYTES, PayloadError, parse_alerts,
};
pub use store::{AlertStore, PostedMessage, Recorded, StoreError, StoredAlert};

/// An alert as stored: the first sighting of a group, with the status and
/// content that later repeats brought (see [`AlertStore::record`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    pub id: AlertId,
    pub source: Source,
    /// Group key: alerts of one source with the same fingerprint are one
    /// alert seen again.
    pub fingerprint: String,
    /// Alert rule name, such as `DiskSpaceLow`.
    pub name: String,
    pub severity: Severity,
    pub status: Status,
    /// Host the alert is about, when the source names one.
    pub host: Option<Host>,
    pub service: Option<String>,
    /// One line.
    pub summary: String,
    /// Free text, may span several lines.
    pub description: Option<String>,
    /// `http://` or `https://` URL of the runbook.
    pub runbook: Option<String>,
    pub started_at: Timestamp,
    /// Set while the status is resolved.
    pub resolved_at: Option<Timestamp>,
    pub labels: BTreeMap<String, String>,
    /// Alertmanager annotations other than the ones mapped to fields above.
    pub annotations: BTreeMap<String, String>,
}

/// Alert id: `ALRT-` and the number the store assigned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AlertId(u64);

/// The format an alert arrived in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Source {
    /// The generic JSON format of [`payload`].
    Generic,
    /// A Prometheus Alertmanager webhook, payload version 4.
    Alertmanager,
}

/// Severity, in increasing order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Low,
    Medium,
    High,
    Critical,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    Firing,
    Resolved,
}

/// Error of parsing an [`AlertId`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid alert id `{text}`: expected `ALRT-` and digits, such as `ALRT-5001`")]
pub struct InvalidAlertId {
    pub text: String,
}

/// Prefix of every alert id.
const ID_PREFIX: &str = "ALRT-";

/// Maximum characters of an input value quoted in an error message, so a
/// huge value cannot flood the reply.
const MAX_EXCERPT_CHARS: usize = 80;

impl AlertId {
    pub fn new(number: u64) -> Self {
        Self(number)
    }

    pub fn number(self) -> u64 {
        self.0
    }
}

impl fmt::Display for AlertId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{ID_PREFIX}{}", self.0)
    }
}

impl FromStr for AlertId {
    type Err = InvalidAlertId;

    /// Parses the canonical form `ALRT-5001`, as buttons carry it.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let invalid = || InvalidAlertId {
            text: text.to_string(),
        };
        let digits = text.strip_prefix(ID_PREFIX).ok_or_else(invalid)?;
        if digits.is_empty() || !digits.bytes().all(|byte| byte.is_ascii_digit()) {
            return Err(invalid());
        }
        digits.parse().map(Self).map_err(|_| invalid())
    }
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Generic => "generic",
            Self::Alertmanager => "alertmanager",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "generic" => Some(Self::Generic),
            "alertmanager" => Some(Self::Alertmanager),
            _ => None,
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Severity {
    /// Parses `critical`, `high`, `medium` or `low`, or a common alias, in
    /// any case and with `-`, `_` or spaces ignored:
    ///
    /// - critical: `page`, `fatal`, `emergency`, `alert`, `sev0`, `sev1`, `p0`, `p1`
    /// - high: `error`, `major`, `sev2`, `p2`
    /// - medium: `warning`, `moderate`, `average`, `sev3`, `p3`
    /// - low: `info`, `notice`, `minor`, `none`, `debug`, `sev4`, `sev5`, `p4`, `p5`
    pub fn parse(text: &str) -> Option<Self> {
        let lower = text.trim().to_ascii_lowercase();
        let compact: String = lower
            .chars()
            .filter(|c| !matches!(c, ' ' | '-' | '_'))
            .collect();
        let severity = match compact.as_str() {
            "critical" | "crit" | "page" | "fatal" | "emergency" | "emerg" | "alert"
            | "disaster" | "sev1" | "sev0" | "p1" | "p0" => Self::Critical,
            "high" | "error" | "err" | "major" | "sev2" | "p2" => Self::High,
            "medium" | "med" | "moderate" | "average" | "warning" | "warn" | "sev3" | "p3" => {
                Self::Medium
            }
            "low" | "info" | "informational" | "notice" | "minor" | "none" | "debug" | "sev4"
            | "sev5" | "p4" | "p5" => Self::Low,
            _ => return None,
        };
        Some(severity)
    }

    /// Maps an Alertmanager `severity` label value like [`Severity::parse`],
    /// and a missing or unknown value to medium, because Alertmanager rules
    /// use any words they like and an alert must not be dropped for that.
    pub fn from_label(value: Option<&str>) -> Self {
        value.and_then(Self::parse).unwrap_or(Self::Medium)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Critical => "critical",
            Self::High => "high",
            Self::Medium => "medium",
            Self::Low => "low",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Firing => "firing",
            Self::Resolved => "resolved",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "firing" => Some(Self::Firing),
            "resolved" => Some(Self::Resolved),
            _ => None,
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Quotes an input value for an error message: control and bidirectional
/// formatting characters escaped as in Rust string literals (`\n`,
/// `\u{202e}`), and cut to [`MAX_EXCERPT_CHARS`] with `…`.
pub(crate) fn excerpt(text: &str) -> String {
    let mut escaped = String::new();
    for character in text.chars() {
        match character {
            '\n' => escaped.push_str("\\n"),
            '\r' => escaped.push_str("\\r"),
            '\t' => escaped.push_str("\\t"),
            c if c.is_control() || is_bidi_control(c) => {
                escaped.push_str(&format!("\\u{{{:x}}}", c as u32));
            }
            c => escaped.push(c),
        }
    }
    if escaped.chars().count() <= MAX_EXCERPT_CHARS {
        return escaped;
    }
    let mut cut: String = escaped.chars().take(MAX_EXCERPT_CHARS - 1).collect();
    cut.push('…');
    cut
}

/// Returns whether `character` is an invisible bidirectional embedding,
/// override or isolate, which can make displayed text read differently from
/// its content.
pub(crate) fn is_bidi_control(character: char) -> bool {
    matches!(character, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alertmanager_payload_flows_to_request() {
        let directory = tempfile::tempdir().unwrap();
        let store = AlertStore::open(&directory.path().join("alerts.sqlite")).unwrap();
        let feed = AlertFeed::new(directory.path().join("alerts.jsonl"));
        let window = std::time::Duration::from_secs(3600);
        let now: Timestamp = "2025-06-12T11:25:00Z".parse().unwrap();
        let body = include_bytes!("fixtures/alertmanager-two-alerts.json");

        let mut ids = Vec::new();
        for incoming in parse_alerts(body).unwrap() {
            let recorded = store.record(&incoming, now, window).unwrap();
            assert!(feed.append_recorded(&recorded).unwrap());
            let Recorded::New { alert } = recorded else {
                panic!("first sighting must be new: {recorded:?}");
            };
            let message = alert_message(&alert, 1);
            assert!(!message.text.is_empty());
            store
                .set_message(alert.id, "C0123456789", "1718191500.000100")
                .unwrap();
            ids.push(alert.id);
        }
        assert_eq!(ids, [AlertId::new(5001), AlertId::new(5002)]);

        // Alertmanager repeats the group notification: no new alert, and the
        // posted message is returned for an update.
        let repeat = store
            .record(&parse_alerts(body).unwrap()[0], now, window)
            .unwrap();
        let Recorded::Repeat {
            alert,
            count,
            message,
            ..
        } = &repeat
        else {
            panic!("second sighting must be a repeat: {repeat:?}");
        };
        assert_eq!(*count, 2);
        assert_eq!(
            message.as_ref().map(|message| message.ts.as_str()),
            Some("1718191500.000100")
        );
        assert!(!feed.append_recorded(&repeat).unwrap());

        let clicked: AlertId = "ALRT-5001".parse().unwrap();
        let stored = store.get(clicked).unwrap().unwrap();
        assert_eq!(stored.alert, *alert);
        assert_eq!(
            action_request(&stored.alert, ACTION_ISOLATE).as_deref(),
            Some("isolate db-01")
        );
        let feed_text = std::fs::read_to_string(feed.path()).unwrap();
        assert_eq!(feed_text.lines().count(), 2);
    }

    #[test]
    fn alert_id_round_trips() {
        let id: AlertId = "ALRT-5001".parse().unwrap();
        assert_eq!(id, AlertId::new(5001));
        assert_eq!(id.to_string(), "ALRT-5001");
    }

    #[test]
    fn alert_id_rejects_other_forms() {
        for text in [
            "",
            "ALRT-",
            "alrt-5001",
            "5001",
            "ALRT-50a1",
            "ALRT--1",
            "ALRT-+1",
            "INC-5001",
        ] {
            let error = text.parse::<AlertId>().unwrap_err();
            assert_eq!(
                error.to_string(),
                format!(
                    "invalid alert id `{text}`: expected `ALRT-` and digits, such as `ALRT-5001`"
                )
            );
        }
    }

    #[test]
    fn severity_parses_aliases() {
        let cases = [
            ("critical", Severity::Critical),
            ("PAGE", Severity::Critical),
            ("sev-1", Severity::Critical),
            ("P1", Severity::Critical),
            ("error", Severity::High),
            ("high", Severity::High),
            ("warning", Severity::Medium),
            ("Medium", Severity::Medium),
            ("info", Severity::Low),
            ("none", Severity::Low),
            (" low ", Severity::Low),
        ];
        for (text, expected) in cases {
            assert_eq!(Severity::parse(text), Some(expected), "severity `{text}`");
        }
        assert_eq!(Severity::parse("urgent-ish"), None);
    }

    #[test]
    fn severity_label_defaults_to_medium() {
        assert_eq!(Severity::from_label(None), Severity::Medium);
        assert_eq!(Severity::from_label(Some("whatever")), Severity::Medium);
        assert_eq!(Severity::from_label(Some("page")), Severity::Critical);
    }

    #[test]
    fn severity_orders_by_urgency() {
        assert!(Severity::Critical > Severity::High);
        assert!(Severity::High > Severity::Medium);
        assert!(Severity::Medium > Severity::Low);
    }
}
