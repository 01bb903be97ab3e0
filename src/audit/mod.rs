//! The tamper-evident audit log: typed events of every request, from the
//! match to the command's end, appended to SQLite as a SHA-256 hash chain.
//!
//! Each record stores the hash of the record before it, and its own hash
//! covers that link and all of its fields, so an edited, deleted or
//! reordered record breaks the chain at a sequence number that
//! [`AuditLog::verify`] reports. [`run_audited`] runs a command between its
//! start and end records.

mod chain;
mod run;
mod store;

use std::fmt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Deserializer, Serialize};

use crate::commands::{CommandOutput, PreparedCommand};
use crate::intent::{IntentName, Risk};
use crate::inventory::UserId;

pub use chain::{ChainBreak, GENESIS_HASH, Head, VerifyReport};
pub use run::{AuditedRunError, run_audited};
pub use store::{AuditLog, DEFAULT_DB_FILE};

/// One step of a request, with fixed field names. Serialised as JSON with
/// the variant name in `type`, such as `{"type":"denied","reason":"..."}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AuditEvent {
    /// The message matched an intent, with the matcher's confidence.
    Matched { confidence: f32 },
    /// No intent was proposed for the message, with the matcher's reason.
    Declined { reason: String },
    /// The bot asked the requester for the value of a slot.
    SlotAsked { slot: String },
    /// The bot proposed a command and waits for confirmation or approval.
    Proposed {
        /// The command line with secret values masked.
        command: String,
        #[serde(deserialize_with = "deserialize_risk")]
        risk: Risk,
    },
    /// The requester confirmed a proposed command.
    Confirmed,
    /// A second person approved a critical command; the record's actor is
    /// the approver.
    Approved,
    /// The command was not allowed.
    Denied { reason: String },
    /// The requester withdrew the request.
    Cancelled,
    /// The proposal was neither confirmed nor cancelled in time.
    Expired,
    /// Written before the program starts. A failed write means the command
    /// must not run.
    CommandStarted {
        /// The command line with secret values masked.
        command: String,
        /// Program and arguments with secret values masked.
        argv_masked: Vec<String>,
    },
    /// The program ran to an end: an exit, a signal or the timeout.
    CommandFinished {
        /// Sequence number of the `command_started` record.
        started_seq: i64,
        exit_code: Option<i32>,
        signal: Option<i32>,
        duration_ms: u64,
        timed_out: bool,
        /// Bytes written to standard output and error, including those cut.
        output_bytes: u64,
        truncated: bool,
    },
    /// The program could not be started or watched.
    CommandFailed {
        /// Sequence number of the `command_started` record.
        started_seq: i64,
        /// The error message, with secret values masked.
        error: String,
    },
}

/// An id that ties together the records of one request.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct RequestId(String);

/// The actor, channel, thread, request id and intent that every record of
/// a request shares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestContext {
    /// The user who caused the event: the requester, or the approver of an
    /// approval.
    pub actor: UserId,
    pub channel: String,
    /// Thread of the conversation, when the request has one.
    pub thread: Option<String>,
    pub request_id: RequestId,
    /// The matched intent; `None` before or without a match.
    pub intent: Option<IntentName>,
}

/// One stored record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Position in the chain, from 1 without gaps.
    pub seq: i64,
    /// Time of the append, RFC 3339 in UTC.
    pub timestamp: String,
    pub actor: String,
    pub channel: String,
    pub thread: Option<String>,
    pub request_id: String,
    pub intent: Option<String>,
    /// The [`AuditEvent`] as stored JSON text; the hash covers this exact text.
    pub event: String,
    /// Hash of the previous record, or [`GENESIS_HASH`] for the first.
    pub prev_hash: String,
    /// Lowercase hex SHA-256 of the record's canonical form.
    pub hash: String,
}

/// Errors of the audit log. Any error from an append means the event was
/// not recorded.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("failed to open audit log `{}`; check that its directory exists and is writable", path.display())]
    Open {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },

    #[error("audit log `{}` not found; check the path of the audit database", path.display())]
    NotFound { path: PathBuf },

    #[error(
        "audit log `{}` has schema version {found}, expected {expected}; use the warroom version that wrote it",
        path.display()
    )]
    Schema {
        path: PathBuf,
        found: i64,
        expected: i64,
    },

    #[error("failed to append `{event}` record to audit log `{}`; the event was not recorded", path.display())]
    Append {
        path: PathBuf,
        event: &'static str,
        #[source]
        source: rusqlite::Error,
    },

    #[error("failed to read audit log `{}`", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },

    #[error("failed to encode `{event}` event as JSON")]
    Encode {
        event: &'static str,
        #[source]
        source: serde_json::Error,
    },

    #[error("failed to write audit export")]
    Export {
        #[source]
        source: std::io::Error,
    },
}

/// A destination for audit events; [`AuditLog`] is the SQLite one.
pub trait AuditSink: Send + Sync {
    /// Appends one event and returns the stored record. On error nothing
    /// was stored, and a command the event announces must not run.
    fn append(&self, context: &RequestContext, event: &AuditEvent) -> Result<Record, AuditError>;
}

impl AuditEvent {
    /// Creates the event recorded before `command` runs.
    pub fn command_started(command: &PreparedCommand) -> Self {
        let mut argv_masked = Vec::with_capacity(command.masked_args.len() + 1);
        argv_masked.push(command.program.clone());
        argv_masked.extend(command.masked_args.iter().cloned());
        Self::CommandStarted {
            command: command.display(),
            argv_masked,
        }
    }

    /// Creates the event recorded when the command started as record
    /// `started_seq` has ended.
    pub fn command_finished(started_seq: i64, output: &CommandOutput) -> Self {
        Self::CommandFinished {
            started_seq,
            exit_code: output.exit_code,
            signal: output.signal,
            duration_ms: u64::try_from(output.duration.as_millis()).unwrap_or(u64::MAX),
            timed_out: output.timed_out,
            output_bytes: output.output_bytes,
            truncated: output.truncated,
        }
    }

    /// Returns the value of the `type` field, such as `command_started`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Matched { .. } => "matched",
            Self::Declined { .. } => "declined",
            Self::SlotAsked { .. } => "slot_asked",
            Self::Proposed { .. } => "proposed",
            Self::Confirmed => "confirmed",
            Self::Approved => "approved",
            Self::Denied { .. } => "denied",
            Self::Cancelled => "cancelled",
            Self::Expired => "expired",
            Self::CommandStarted { .. } => "command_started",
            Self::CommandFinished { .. } => "command_finished",
            Self::CommandFailed { .. } => "command_failed",
        }
    }
}

/// Distinguishes ids generated in the same nanosecond by one process.
static REQUEST_COUNTER: AtomicU64 = AtomicU64::new(0);

impl RequestId {
    pub fn new(id: impl Into<String>) -> Self {
        Self(id.into())
    }

    /// Makes an id unique across the processes of one machine: the current
    /// time in nanoseconds, the process id and a per-process counter.
    pub fn generate() -> Self {
        let nanos = jiff::Timestamp::now().as_nanosecond();
        let count = REQUEST_COUNTER.fetch_add(1, Ordering::Relaxed);
        Self(format!("r-{nanos:x}-{:x}-{count:x}", std::process::id()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Record {
    /// Parses the stored event text.
    pub fn parse_event(&self) -> Result<AuditEvent, serde_json::Error> {
        serde_json::from_str(&self.event)
    }
}

/// `Risk` has no `Deserialize`, so its lowercase name is parsed with `FromStr`.
fn deserialize_risk<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Risk, D::Error> {
    let name = String::deserialize(deserializer)?;
    name.parse().map_err(serde::de::Error::custom)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_serialise_with_type_tag() {
        let event = AuditEvent::Denied {
            reason: "not on call".to_string(),
        };
        assert_eq!(
            serde_json::to_string(&event).unwrap(),
            r#"{"type":"denied","reason":"not on call"}"#
        );
        assert_eq!(
            serde_json::to_string(&AuditEvent::Confirmed).unwrap(),
            r#"{"type":"confirmed"}"#
        );
    }

    #[test]
    fn events_round_trip() {
        let events = [
            AuditEvent::Matched { confidence: 0.75 },
            AuditEvent::Proposed {
                command: "warroom-demo ip-block --ip=203.0.113.7".to_string(),
                risk: Risk::Critical,
            },
            AuditEvent::Expired,
            AuditEvent::CommandFinished {
                started_seq: 7,
                exit_code: None,
                signal: Some(9),
                duration_ms: 30_000,
                timed_out: true,
                output_bytes: 12,
                truncated: false,
            },
        ];
        for event in events {
            let text = serde_json::to_string(&event).unwrap();
            let parsed: AuditEvent = serde_json::from_str(&text).unwrap();
            assert_eq!(parsed, event, "{text}");
            assert!(
                text.contains(&format!(r#""type":"{}""#, event.kind())),
                "{text}"
            );
        }
    }

    #[test]
    fn generated_request_ids_differ() {
        let first = RequestId::generate();
        let second = RequestId::generate();
        assert_ne!(first, second);
        assert!(first.as_str().starts_with("r-"));
    }
}
