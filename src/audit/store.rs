//! The SQLite store of the audit log: an append-only table, one
//! transaction per record, read back in sequence order.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, OptionalExtension, Row, TransactionBehavior, params};
use serde::Serialize;
use serde_json::value::RawValue;
use tracing::{debug, warn};

use super::chain::{ChainWalker, GENESIS_HASH, Head, VerifyReport, record_hash};
use super::{AuditError, AuditEvent, AuditSink, Record, RequestContext};

/// The audit log in one SQLite file. Its methods block on disk I/O (every
/// append waits for a synced commit), so async code calls them through
/// `spawn_blocking`.
#[derive(Debug)]
pub struct AuditLog {
    connection: Mutex<Connection>,
    path: PathBuf,
}

/// One line of the JSON Lines export.
#[derive(Serialize)]
struct ExportLine<'a> {
    seq: i64,
    timestamp: &'a str,
    actor: &'a str,
    channel: &'a str,
    thread: Option<&'a str>,
    request_id: &'a str,
    intent: Option<&'a str>,
    event: ExportEvent,
    prev_hash: &'a str,
    hash: &'a str,
}

/// The stored event text, embedded as JSON when it parses, else as a string.
#[derive(Serialize)]
#[serde(untagged)]
enum ExportEvent {
    Json(Box<RawValue>),
    Text(String),
}

/// File name used when no path is configured, in the working directory.
pub const DEFAULT_DB_FILE: &str = "warroom-audit.sqlite";

/// Bumped when the table layout changes; stored as SQLite's `user_version`.
const SCHEMA_VERSION: i64 = 1;

/// The triggers reject changes made through SQL by mistake. They do not
/// stop anyone who can write the file, which is what the hash chain is for.
const SCHEMA: &str = "
CREATE TABLE audit_log (
    seq        INTEGER PRIMARY KEY,
    timestamp  TEXT NOT NULL,
    actor      TEXT NOT NULL,
    channel    TEXT NOT NULL,
    thread     TEXT,
    request_id TEXT NOT NULL,
    intent     TEXT,
    event      TEXT NOT NULL,
    prev_hash  TEXT NOT NULL,
    hash       TEXT NOT NULL
);
CREATE INDEX audit_log_request ON audit_log (request_id);
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
";

const SELECT_RECORDS: &str = "SELECT seq, timestamp, actor, channel, thread, request_id, intent, event, prev_hash, hash FROM audit_log";

/// How long an append waits for another process's write to finish.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

impl AuditLog {
    /// Opens the audit log at `path`, creating the file and table when missing.
    pub fn open(path: &Path) -> Result<Self, AuditError> {
        Self::open_with(path, OpenFlags::default())
    }

    /// Opens an audit log that must already exist, as reading commands do,
    /// so a wrong path is an error instead of a new empty log.
    pub fn open_existing(path: &Path) -> Result<Self, AuditError> {
        if !path.is_file() {
            return Err(AuditError::NotFound {
                path: path.to_path_buf(),
            });
        }
        let flags = OpenFlags::default() - OpenFlags::SQLITE_OPEN_CREATE;
        Self::open_with(path, flags)
    }

    fn open_with(path: &Path, flags: OpenFlags) -> Result<Self, AuditError> {
        let open_error = |source| AuditError::Open {
            path: path.to_path_buf(),
            source,
        };
        let mut connection = Connection::open_with_flags(path, flags).map_err(open_error)?;
        connection.busy_timeout(BUSY_TIMEOUT).map_err(open_error)?;

        // WAL lets readers such as `warroom audit show` run while the bot
        // appends. FULL syncs the WAL on every commit, so an appended
        // record survives a power loss.
        let mode: String = connection
            .pragma_update_and_check(None, "journal_mode", "wal", |row| row.get(0))
            .map_err(open_error)?;
        if !mode.eq_ignore_ascii_case("wal") {
            warn!(path = %path.display(), mode, "audit log is not in WAL mode");
        }
        connection
            .pragma_update(None, "synchronous", "FULL")
            .map_err(open_error)?;

        let version: i64 = connection
            .pragma_query_value(None, "user_version", |row| row.get(0))
            .map_err(open_error)?;
        match version {
            0 => {
                let transaction = connection.transaction().map_err(open_error)?;
                transaction.execute_batch(SCHEMA).map_err(open_error)?;
                transaction
                    .pragma_update(None, "user_version", SCHEMA_VERSION)
                    .map_err(open_error)?;
                transaction.commit().map_err(open_error)?;
                debug!(path = %path.display(), "created audit log");
            }
            SCHEMA_VERSION => {}
            found => {
                return Err(AuditError::Schema {
                    path: path.to_path_buf(),
                    found,
                    expected: SCHEMA_VERSION,
                });
            }
        }

        Ok(Self {
            connection: Mutex::new(connection),
            path: path.to_path_buf(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one event in one transaction and returns the stored record.
    /// On error nothing was written; if the event announces a command, the
    /// command must not run.
    pub fn append(
        &self,
        context: &RequestContext,
        event: &AuditEvent,
    ) -> Result<Record, AuditError> {
        let event_json = serde_json::to_string(event).map_err(|source| AuditError::Encode {
            event: event.kind(),
            source,
        })?;
        let append_error = |source| AuditError::Append {
            path: self.path.clone(),
            event: event.kind(),
            source,
        };

        let mut connection = self.lock();
        // IMMEDIATE takes the write lock before reading the head, so two
        // processes cannot both append after the same record.
        let transaction = connection
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(append_error)?;
        let last: Option<(i64, String)> = transaction
            .query_row(
                "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1",
                [],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()
            .map_err(append_error)?;
        let (seq, prev_hash) = match last {
            Some((seq, hash)) => (seq + 1, hash),
            None => (1, GENESIS_HASH.to_string()),
        };

        let mut record = Record {
            seq,
            timestamp: format!("{:.3}", jiff::Timestamp::now()),
            actor: context.actor.as_str().to_string(),
            channel: context.channel.clone(),
            thread: context.thread.clone(),
            request_id: context.request_id.as_str().to_string(),
            intent: context
                .intent
                .as_ref()
                .map(|name| name.as_str().to_string()),
            event: event_json,
            prev_hash,
            hash: String::new(),
        };
        record.hash = record_hash(&record);

        transaction
            .execute(
                "INSERT INTO audit_log (seq, timestamp, actor, channel, thread, request_id, intent, event, prev_hash, hash)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                params![
                    record.seq,
                    record.timestamp,
                    record.actor,
                    record.channel,
                    record.thread,
                    record.request_id,
                    record.intent,
                    record.event,
                    record.prev_hash,
                    record.hash,
                ],
            )
            .map_err(append_error)?;
        transaction.commit().map_err(append_error)?;

        debug!(
            seq = record.seq,
            request_id = %record.request_id,
            event = event.kind(),
            "audit record appended"
        );
        Ok(record)
    }

    /// Calls `visit` with every record in sequence order, stopping at the
    /// first error.
    pub fn scan(
        &self,
        mut visit: impl FnMut(Record) -> Result<(), AuditError>,
    ) -> Result<(), AuditError> {
        let read_error = |source| AuditError::Read {
            path: self.path.clone(),
            source,
        };
        let connection = self.lock();
        let mut statement = connection
            .prepare(&format!("{SELECT_RECORDS} ORDER BY seq"))
            .map_err(read_error)?;
        let mut rows = statement.query([]).map_err(read_error)?;
        while let Some(row) = rows.next().map_err(read_error)? {
            visit(read_record(row).map_err(read_error)?)?;
        }
        Ok(())
    }

    /// Reads every record, in sequence order.
    pub fn records(&self) -> Result<Vec<Record>, AuditError> {
        let mut records = Vec::new();
        self.scan(|record| {
            records.push(record);
            Ok(())
        })?;
        Ok(records)
    }

    /// Reads the records of one request, in sequence order.
    pub fn request_records(&self, request_id: &str) -> Result<Vec<Record>, AuditError> {
        let read_error = |source| AuditError::Read {
            path: self.path.clone(),
            source,
        };
        let connection = self.lock();
        let mut statement = connection
            .prepare(&format!(
                "{SELECT_RECORDS} WHERE request_id = ?1 ORDER BY seq"
            ))
            .map_err(read_error)?;
        let records = statement
            .query_map([request_id], read_record)
            .map_err(read_error)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(read_error)?;
        Ok(records)
    }

    /// Recomputes every hash and checks sequence continuity and every
    /// `prev_hash` link, reporting the first break.
    ///
    /// NOTE: a chain alone cannot show that its newest records were cut
    /// off, because what remains is still a valid chain. Keep the head
    /// ([`VerifyReport::head`]) somewhere the log's writer cannot change,
    /// and pass it to [`AuditLog::verify_against`].
    pub fn verify(&self) -> Result<VerifyReport, AuditError> {
        self.walk(None)
    }

    /// Like [`AuditLog::verify`], and also checks that the record at
    /// `head.seq` still has hash `head.hash`, which detects removal of
    /// records up to that head.
    pub fn verify_against(&self, head: &Head) -> Result<VerifyReport, AuditError> {
        self.walk(Some(head.clone()))
    }

    fn walk(&self, head: Option<Head>) -> Result<VerifyReport, AuditError> {
        let mut walker = ChainWalker::new(head);
        self.scan(|record| {
            walker.visit(&record);
            Ok(())
        })?;
        Ok(walker.finish())
    }

    /// Writes every record as one JSON object per line (JSON Lines) for a
    /// SIEM, with all fields and the event as a nested object. Returns the
    /// number of records written.
    pub fn export(&self, writer: &mut dyn Write) -> Result<u64, AuditError> {
        let mut count = 0;
        self.scan(|record| {
            let event = match RawValue::from_string(record.event.clone()) {
                Ok(raw) => ExportEvent::Json(raw),
                Err(_) => ExportEvent::Text(record.event.clone()),
            };
            let line = ExportLine {
                seq: record.seq,
                timestamp: &record.timestamp,
                actor: &record.actor,
                channel: &record.channel,
                thread: record.thread.as_deref(),
                request_id: &record.request_id,
                intent: record.intent.as_deref(),
                event,
                prev_hash: &record.prev_hash,
                hash: &record.hash,
            };
            serde_json::to_writer(&mut *writer, &line).map_err(|source| AuditError::Export {
                source: source.into(),
            })?;
            writer
                .write_all(b"\n")
                .map_err(|source| AuditError::Export { source })?;
            count += 1;
            Ok(())
        })?;
        writer
            .flush()
            .map_err(|source| AuditError::Export { source })?;
        Ok(count)
    }

    /// `command_started` records with no `command_finished` or
    /// `command_failed` record referring to them: commands whose end was
    /// never recorded, because warroom stopped while they ran or the last
    /// append failed.
    pub fn unfinished_commands(&self) -> Result<Vec<Record>, AuditError> {
        let mut started: BTreeMap<i64, Record> = BTreeMap::new();
        self.scan(|record| {
            match record.parse_event() {
                Ok(AuditEvent::CommandStarted { .. }) => {
                    started.insert(record.seq, record);
                }
                Ok(
                    AuditEvent::CommandFinished { started_seq, .. }
                    | AuditEvent::CommandFailed { started_seq, .. },
                ) => {
                    started.remove(&started_seq);
                }
                Ok(_) => {}
                Err(error) => {
                    warn!(seq = record.seq, %error, "audit record has an unreadable event");
                }
            }
            Ok(())
        })?;
        Ok(started.into_values().collect())
    }

    /// Locks the connection. A panic while the lock was held leaves no
    /// half-done write, because an uncommitted transaction rolls back when
    /// dropped, so a poisoned lock is used as is.
    fn lock(&self) -> MutexGuard<'_, Connection> {
        self.connection
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

impl AuditSink for AuditLog {
    fn append(&self, context: &RequestContext, event: &AuditEvent) -> Result<Record, AuditError> {
        AuditLog::append(self, context, event)
    }
}

fn read_record(row: &Row<'_>) -> rusqlite::Result<Record> {
    Ok(Record {
        seq: row.get(0)?,
        timestamp: row.get(1)?,
        actor: row.get(2)?,
        channel: row.get(3)?,
        thread: row.get(4)?,
        request_id: row.get(5)?,
        intent: row.get(6)?,
        event: row.get(7)?,
        prev_hash: row.get(8)?,
        hash: row.get(9)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::{ChainBreak, RequestId};
    use crate::intent::IntentName;
    use crate::inventory::UserId;

    fn context(request: &str) -> RequestContext {
        RequestContext {
            actor: UserId::new("U024BE7LH"),
            channel: "C0SECOPS".to_string(),
            thread: Some("1718000000.000100".to_string()),
            request_id: RequestId::new(request),
            intent: Some(IntentName::new("service.restart")),
        }
    }

    fn started() -> AuditEvent {
        AuditEvent::CommandStarted {
            command: "warroom-demo service-restart --service=nginx --host=web-01".to_string(),
            argv_masked: vec![
                "warroom-demo".to_string(),
                "service-restart".to_string(),
                "--service=nginx".to_string(),
                "--host=web-01".to_string(),
            ],
        }
    }

    /// Creates a log with five records: two requests, the first with a
    /// finished command.
    fn sample_log(dir: &Path) -> AuditLog {
        let log = AuditLog::open(&dir.join("audit.sqlite")).unwrap();
        let first = context("r-1");
        log.append(&first, &AuditEvent::Matched { confidence: 0.9 })
            .unwrap();
        log.append(&first, &AuditEvent::Confirmed).unwrap();
        let start = log.append(&first, &started()).unwrap();
        log.append(
            &first,
            &AuditEvent::CommandFinished {
                started_seq: start.seq,
                exit_code: Some(0),
                signal: None,
                duration_ms: 12,
                timed_out: false,
                output_bytes: 40,
                truncated: false,
            },
        )
        .unwrap();
        log.append(
            &context("r-2"),
            &AuditEvent::Denied {
                reason: "not on call".to_string(),
            },
        )
        .unwrap();
        log
    }

    /// Runs SQL on the file through a separate connection, with the
    /// append-only triggers dropped, as someone editing the file would.
    fn tamper(log: &AuditLog, sql: &str) {
        let connection = Connection::open(log.path()).unwrap();
        connection
            .execute_batch(&format!(
                "DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete; {sql}"
            ))
            .unwrap();
    }

    #[test]
    fn appended_records_chain_from_genesis() {
        let dir = tempfile::tempdir().unwrap();
        let log = sample_log(dir.path());
        let records = log.records().unwrap();
        assert_eq!(records.len(), 5);
        assert_eq!(records[0].prev_hash, GENESIS_HASH);
        for pair in records.windows(2) {
            assert_eq!(pair[1].seq, pair[0].seq + 1);
            assert_eq!(pair[1].prev_hash, pair[0].hash);
        }
        assert!(
            records[0].timestamp.ends_with('Z'),
            "{}",
            records[0].timestamp
        );
        records[0].timestamp.parse::<jiff::Timestamp>().unwrap();

        let report = log.verify().unwrap();
        assert!(report.is_intact(), "{:?}", report.first_break);
        assert_eq!(report.records, 5);
        assert_eq!(report.head.unwrap().hash, records[4].hash);
    }

    #[test]
    fn journal_is_wal() {
        let dir = tempfile::tempdir().unwrap();
        let log = sample_log(dir.path());
        let mode: String = log
            .lock()
            .pragma_query_value(None, "journal_mode", |row| row.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
    }

    #[test]
    fn update_and_delete_are_rejected_by_triggers() {
        let dir = tempfile::tempdir().unwrap();
        let log = sample_log(dir.path());
        let connection = Connection::open(log.path()).unwrap();
        let update = connection.execute("UPDATE audit_log SET actor = 'U0' WHERE seq = 1", []);
        assert!(update.is_err());
        let delete = connection.execute("DELETE FROM audit_log WHERE seq = 5", []);
        assert!(delete.is_err());
        assert!(log.verify().unwrap().is_intact());
    }

    #[test]
    fn edited_field_fails_verify() {
        let dir = tempfile::tempdir().unwrap();
        let log = sample_log(dir.path());
        tamper(
            &log,
            "UPDATE audit_log SET event = replace(event, 'not on call', 'on call') WHERE seq = 5",
        );
        let report = log.verify().unwrap();
        assert!(
            matches!(report.first_break, Some(ChainBreak::Hash { seq: 5, .. })),
            "{report:?}"
        );
    }

    #[test]
    fn deleted_record_fails_verify() {
        let dir = tempfile::tempdir().unwrap();
        let log = sample_log(dir.path());
        tamper(&log, "DELETE FROM audit_log WHERE seq = 2");
        let report = log.verify().unwrap();
        assert_eq!(
            report.first_break,
            Some(ChainBreak::Sequence {
                expected: 2,
                found: 3
            })
        );
        assert_eq!(report.first_break.unwrap().seq(), 2);
    }

    #[test]
    fn renumbered_after_delete_fails_verify() {
        let dir = tempfile::tempdir().unwrap();
        let log = sample_log(dir.path());
        tamper(
            &log,
            "DELETE FROM audit_log WHERE seq = 2; UPDATE audit_log SET seq = seq - 1 WHERE seq > 2",
        );
        let report = log.verify().unwrap();
        assert!(
            matches!(report.first_break, Some(ChainBreak::Link { seq: 2, .. })),
            "{report:?}"
        );
    }

    #[test]
    fn reordered_records_fail_verify() {
        let dir = tempfile::tempdir().unwrap();
        let log = sample_log(dir.path());
        // Swap records 2 and 3 whole, hashes included.
        tamper(
            &log,
            "UPDATE audit_log SET seq = 100 WHERE seq = 2;
             UPDATE audit_log SET seq = 2 WHERE seq = 3;
             UPDATE audit_log SET seq = 3 WHERE seq = 100;",
        );
        let report = log.verify().unwrap();
        assert!(
            matches!(report.first_break, Some(ChainBreak::Link { seq: 2, .. })),
            "{report:?}"
        );
    }

    #[test]
    fn cut_off_tail_needs_recorded_head() {
        let dir = tempfile::tempdir().unwrap();
        let log = sample_log(dir.path());
        let head = log.verify().unwrap().head.unwrap();
        tamper(&log, "DELETE FROM audit_log WHERE seq >= 4");

        assert!(
            log.verify().unwrap().is_intact(),
            "a chain alone cannot see a cut tail"
        );
        let report = log.verify_against(&head).unwrap();
        assert!(
            matches!(
                report.first_break,
                Some(ChainBreak::Head { found: None, .. })
            ),
            "{report:?}"
        );
    }

    #[test]
    fn started_command_without_end_is_unfinished() {
        let dir = tempfile::tempdir().unwrap();
        let log = sample_log(dir.path());
        assert!(log.unfinished_commands().unwrap().is_empty());

        let crashed = log.append(&context("r-3"), &started()).unwrap();
        let failed = log.append(&context("r-4"), &started()).unwrap();
        log.append(
            &context("r-4"),
            &AuditEvent::CommandFailed {
                started_seq: failed.seq,
                error: "failed to start".to_string(),
            },
        )
        .unwrap();

        let unfinished = log.unfinished_commands().unwrap();
        assert_eq!(unfinished.len(), 1);
        assert_eq!(unfinished[0].seq, crashed.seq);
        assert_eq!(unfinished[0].request_id, "r-3");
    }

    #[test]
    fn export_writes_one_json_object_per_record() {
        let dir = tempfile::tempdir().unwrap();
        let log = sample_log(dir.path());
        let mut output = Vec::new();
        assert_eq!(log.export(&mut output).unwrap(), 5);

        let text = String::from_utf8(output).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
        assert_eq!(lines.len(), 5);
        let first = &lines[0];
        for field in [
            "seq",
            "timestamp",
            "actor",
            "channel",
            "thread",
            "request_id",
            "intent",
            "event",
            "prev_hash",
            "hash",
        ] {
            assert!(first.get(field).is_some(), "missing {field}: {first}");
        }
        assert_eq!(first["event"]["type"], "matched");
        assert_eq!(lines[4]["event"]["reason"], "not on call");
        assert_eq!(lines[4]["request_id"], "r-2");
    }

    #[test]
    fn request_records_filter_by_id() {
        let dir = tempfile::tempdir().unwrap();
        let log = sample_log(dir.path());
        let records = log.request_records("r-1").unwrap();
        assert_eq!(
            records.iter().map(|r| r.seq).collect::<Vec<_>>(),
            [1, 2, 3, 4]
        );
    }

    #[test]
    fn reopened_log_continues_chain() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.sqlite");
        drop(sample_log(dir.path()));
        let log = AuditLog::open_existing(&path).unwrap();
        let record = log.append(&context("r-9"), &AuditEvent::Cancelled).unwrap();
        assert_eq!(record.seq, 6);
        assert!(log.verify().unwrap().is_intact());
    }

    #[test]
    fn open_existing_rejects_missing_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing.sqlite");
        let error = AuditLog::open_existing(&path).unwrap_err();
        assert!(matches!(error, AuditError::NotFound { .. }));
        assert!(!path.exists());
    }
}
