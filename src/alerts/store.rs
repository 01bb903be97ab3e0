//! The SQLite store of alerts: id assignment, deduplication of repeats, and
//! the Slack message each alert was posted as.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use rusqlite::{Connection, OptionalExtension, Row, Transaction, TransactionBehavior, params};

use super::{Alert, AlertId, Host, IncomingAlert, Severity, Source, Status};

/// Alerts in one SQLite file. Methods block on disk I/O, so async code calls
/// them through `spawn_blocking`. Several stores, in one process or several,
/// may share a file: writes are serialized by SQLite's write lock.
#[derive(Debug)]
pub struct AlertStore {
    connection: Mutex<Connection>,
    path: PathBuf,
}

/// Result of [`AlertStore::record`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recorded {
    /// First sighting of the group, or the first after the window passed.
    /// The caller posts a new message.
    New { alert: Alert },
    /// The group seen again within the window. The caller updates `message`
    /// when there is one, else posts a new message.
    Repeat {
        alert: Alert,
        /// Sightings so far, this one included, so at least 2.
        count: u32,
        message: Option<PostedMessage>,
        /// Whether this sighting changed the status, such as firing to
        /// resolved.
        status_changed: bool,
    },
}

/// A Slack message an alert was posted as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostedMessage {
    /// Channel id, such as `C0123456789`.
    pub channel: String,
    /// Message timestamp, Slack's message id within the channel.
    pub ts: String,
}

/// An alert with its sighting history, as [`AlertStore::get`] and
/// [`AlertStore::recent`] return it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredAlert {
    pub alert: Alert,
    /// Sightings of the alert, the first included.
    pub count: u32,
    pub first_seen: Timestamp,
    pub last_seen: Timestamp,
    pub message: Option<PostedMessage>,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("failed to open alert store `{}`", .path.display())]
    Open {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error(
        "alert store `{}` uses journal mode `{mode}`, but WAL is required: put the file on a local file system",
        .path.display()
    )]
    NotWal { path: PathBuf, mode: String },
    #[error(
        "alert store `{}` has schema version {found}, expected {SCHEMA_VERSION}: use the warroom version that wrote it, or another file",
        .path.display()
    )]
    Schema { path: PathBuf, found: i64 },
    #[error("failed to {operation} in alert store `{}`", .path.display())]
    Query {
        path: PathBuf,
        operation: &'static str,
        #[source]
        source: rusqlite::Error,
    },
    #[error("alert store `{}` has no alert `{id}`", .path.display())]
    NotFound { path: PathBuf, id: AlertId },
    #[error(
        "alert store `{}` row {row} has invalid {column} `{value}`: the file was changed outside warroom",
        .path.display()
    )]
    Corrupt {
        path: PathBuf,
        row: i64,
        column: &'static str,
        value: String,
    },
    #[error("invalid Slack message reference for alert `{id}`: {field} is empty")]
    EmptyMessageField { id: AlertId, field: &'static str },
}

/// Schema version, stored as SQLite's `user_version`. Bump it when the
/// table layout changes.
const SCHEMA_VERSION: i64 = 1;

const SCHEMA: &str = "
CREATE TABLE alerts (
    id          INTEGER PRIMARY KEY,
    source      TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    name        TEXT NOT NULL,
    severity    TEXT NOT NULL,
    status      TEXT NOT NULL,
    host        TEXT,
    service     TEXT,
    summary     TEXT NOT NULL,
    description TEXT,
    runbook     TEXT,
    started_at  TEXT NOT NULL,
    resolved_at TEXT,
    labels      TEXT NOT NULL,
    annotations TEXT NOT NULL,
    first_seen  TEXT NOT NULL,
    last_seen   TEXT NOT NULL,
    count       INTEGER NOT NULL,
    channel     TEXT,
    message_ts  TEXT
);
CREATE INDEX alerts_group ON alerts (source, fingerprint, id);
CREATE INDEX alerts_last_seen ON alerts (last_seen);
";

const SELECT_ALERTS: &str = "SELECT id, source, fingerprint, name, severity, status, host, service, summary, description, runbook, started_at, resolved_at, labels, annotations, first_seen, last_seen, count, channel, message_ts FROM alerts";

/// First id the store assigns, above the demo data's `ALRT-22xx` ids so the
/// two never clash in the demo's alert feed.
const FIRST_ID: i64 = 5001;

/// How long a write waits for another connection's write to finish.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// One row as SQLite returns it, before validation.
struct AlertRow {
    id: i64,
    source: String,
    fingerprint: String,
    name: String,
    severity: String,
    status: String,
    host: Option<String>,
    service: Option<String>,
    summary: String,
    description: Option<String>,
    runbook: Option<String>,
    started_at: String,
    resolved_at: Option<String>,
    labels: String,
    annotations: String,
    first_seen: String,
    last_seen: String,
    count: i64,
    channel: Option<String>,
    message_ts: Option<String>,
}

impl Recorded {
    pub fn alert(&self) -> &Alert {
        match self {
            Self::New { alert } | Self::Repeat { alert, .. } => alert,
        }
    }

    /// Returns the sightings of the alert so far, 1 for a new alert.
    pub fn count(&self) -> u32 {
        match self {
            Self::New { .. } => 1,
            Self::Repeat { count, .. } => *count,
        }
    }
}

impl AlertStore {
    /// Opens the store at `path`, creating the file and table when missing.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let open_error = |source| StoreError::Open {
            path: path.to_path_buf(),
            source,
        };
        let mut connection = Connection::open(path).map_err(open_error)?;
        connection.busy_timeout(BUSY_TIMEOUT).map_err(open_error)?;

        // WAL lets readers run while the bot records alerts. FULL syncs the
        // WAL on every commit, so a recorded alert survives a power loss.
        let mode: String = connection
            .pragma_update_and_check(None, "journal_mode", "wal", |row| row.get(0))
            .map_err(open_error)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::NotWal {
                path: path.to_path_buf(),
                mode,
            });
        }
        connection
            .pragma_update(None, "synchronous", "FULL")
            .map_err(open_error)?;

        // IMMEDIATE makes the version check and the table creation one step,
        // so two processes opening a new file do not both create the table.
        let transaction = connection
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(open_error)?;
        let version: i64 = transaction
            .pragma_query_value(None, "user_version", |row| row.get(0))
            .map_err(open_error)?;
        match version {
            0 => {
                transaction.execute_batch(SCHEMA).map_err(open_error)?;
                transaction
                    .pragma_update(None, "user_version", SCHEMA_VERSION)
                    .map_err(open_error)?;
            }
            SCHEMA_VERSION => {}
            found => {
                return Err(StoreError::Schema {
                    path: path.to_path_buf(),
                    found,
                });
            }
        }
        transaction.commit().map_err(open_error)?;

        Ok(Self {
            connection: Mutex::new(connection),
            path: path.to_path_buf(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Records one sighting of an alert at `now`, in one transaction.
    ///
    /// The sighting is a repeat when the latest alert with the same source
    /// and fingerprint was last seen at most `window` before `now`. A
    /// resolved sighting is always a repeat when the group has an alert,
    /// because it closes the group's latest alert, however old, instead of
    /// opening a new one. A repeat counts up and takes the sighting's status, severity, summary,
    /// description, runbook, labels and annotations. Its id, name, host,
    /// service and start time stay those of the first sighting, because
    /// posted messages and buttons refer to them. Any other sighting is a
    /// new alert with the next id.
    pub fn record(
        &self,
        incoming: &IncomingAlert,
        now: Timestamp,
        window: Duration,
    ) -> Result<Recorded, StoreError> {
        let window = SignedDuration::try_from(window).unwrap_or(SignedDuration::MAX);
        let mut connection = self.lock();

        // IMMEDIATE takes the write lock before the read, so two connections
        // cannot both find no alert and both insert one.
        let transaction = connection
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|source| self.query_error("start a transaction", source))?;
        let latest = transaction
            .query_row(
                &format!("{SELECT_ALERTS} WHERE source = ?1 AND fingerprint = ?2 ORDER BY id DESC LIMIT 1"),
                params![incoming.source.as_str(), incoming.fingerprint],
                read_row,
            )
            .optional()
            .map_err(|source| self.query_error("look up the alert group", source))?
            .map(|row| self.validate_row(row))
            .transpose()?;

        let is_repeat = |stored: &StoredAlert| {
            incoming.status == Status::Resolved || now.duration_since(stored.last_seen) <= window
        };
        let recorded = match latest {
            Some(stored) if is_repeat(&stored) => {
                self.update_repeat(&transaction, stored, incoming, now)?
            }
            _ => self.insert_new(&transaction, incoming, now)?,
        };

        transaction
            .commit()
            .map_err(|source| self.query_error("commit the alert", source))?;
        Ok(recorded)
    }

    /// Records the Slack message that alert `id` was posted as, replacing
    /// any earlier one.
    pub fn set_message(&self, id: AlertId, channel: &str, ts: &str) -> Result<(), StoreError> {
        if channel.trim().is_empty() {
            return Err(StoreError::EmptyMessageField {
                id,
                field: "channel",
            });
        }
        if ts.trim().is_empty() {
            return Err(StoreError::EmptyMessageField { id, field: "ts" });
        }

        let changed = self
            .lock()
            .execute(
                "UPDATE alerts SET channel = ?1, message_ts = ?2 WHERE id = ?3",
                params![channel, ts, id_number(id)],
            )
            .map_err(|source| self.query_error("store the Slack message", source))?;
        if changed == 0 {
            return Err(StoreError::NotFound {
                path: self.path.clone(),
                id,
            });
        }
        Ok(())
    }

    /// Returns the alert with id `id`, or `None` when there is none.
    pub fn get(&self, id: AlertId) -> Result<Option<StoredAlert>, StoreError> {
        let row = self
            .lock()
            .query_row(
                &format!("{SELECT_ALERTS} WHERE id = ?1"),
                params![id_number(id)],
                read_row,
            )
            .optional()
            .map_err(|source| self.query_error("read an alert", source))?;
        row.map(|row| self.validate_row(row)).transpose()
    }

    /// Returns up to `limit` alerts, most recently seen first.
    pub fn recent(&self, limit: usize) -> Result<Vec<StoredAlert>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let connection = self.lock();
        let mut statement = connection
            .prepare(&format!(
                "{SELECT_ALERTS} ORDER BY last_seen DESC, id DESC LIMIT ?1"
            ))
            .map_err(|source| self.query_error("list recent alerts", source))?;
        let rows = statement
            .query_map(params![limit], read_row)
            .map_err(|source| self.query_error("list recent alerts", source))?;

        let mut alerts = Vec::new();
        for row in rows {
            let row = row.map_err(|source| self.query_error("list recent alerts", source))?;
            alerts.push(self.validate_row(row)?);
        }
        Ok(alerts)
    }

    fn insert_new(
        &self,
        transaction: &Transaction<'_>,
        incoming: &IncomingAlert,
        now: Timestamp,
    ) -> Result<Recorded, StoreError> {
        let insert_error = |source| self.query_error("insert the alert", source);
        let id: i64 = transaction
            .query_row(
                "SELECT COALESCE(MAX(id), ?1 - 1) + 1 FROM alerts",
                params![FIRST_ID],
                |row| row.get(0),
            )
            .map_err(insert_error)?;

        let resolved_at = match incoming.status {
            Status::Resolved => Some(incoming.resolved_at.unwrap_or(now)),
            Status::Firing => None,
        };
        let alert = Alert {
            id: AlertId::new(id.unsigned_abs()),
            source: incoming.source,
            fingerprint: incoming.fingerprint.clone(),
            name: incoming.name.clone(),
            severity: incoming.severity,
            status: incoming.status,
            host: incoming.host.clone(),
            service: incoming.service.clone(),
            summary: incoming.summary.clone(),
            description: incoming.description.clone(),
            runbook: incoming.runbook.clone(),
            started_at: incoming.started_at.unwrap_or(now),
            resolved_at,
            labels: incoming.labels.clone(),
            annotations: incoming.annotations.clone(),
        };

        transaction
            .execute(
                "INSERT INTO alerts (id, source, fingerprint, name, severity, status, host, service, summary, description, runbook, started_at, resolved_at, labels, annotations, first_seen, last_seen, count) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?16, 1)",
                params![
                    id,
                    alert.source.as_str(),
                    alert.fingerprint,
                    alert.name,
                    alert.severity.as_str(),
                    alert.status.as_str(),
                    alert.host.as_ref().map(Host::as_str),
                    alert.service,
                    alert.summary,
                    alert.description,
                    alert.runbook,
                    format_time(alert.started_at),
                    alert.resolved_at.map(format_time),
                    encode_map(&alert.labels),
                    encode_map(&alert.annotations),
                    format_time(now),
                ],
            )
            .map_err(insert_error)?;

        Ok(Recorded::New { alert })
    }

    fn update_repeat(
        &self,
        transaction: &Transaction<'_>,
        stored: StoredAlert,
        incoming: &IncomingAlert,
        now: Timestamp,
    ) -> Result<Recorded, StoreError> {
        let StoredAlert {
            mut alert,
            count,
            message,
            ..
        } = stored;
        let count = count.saturating_add(1);
        let status_changed = alert.status != incoming.status;

        alert.resolved_at = match incoming.status {
            Status::Resolved => Some(incoming.resolved_at.or(alert.resolved_at).unwrap_or(now)),
            Status::Firing => None,
        };
        alert.status = incoming.status;
        alert.severity = incoming.severity;
        alert.summary = incoming.summary.clone();
        alert.description = incoming.description.clone();
        alert.runbook = incoming.runbook.clone();
        alert.labels = incoming.labels.clone();
        alert.annotations = incoming.annotations.clone();

        transaction
            .execute(
                "UPDATE alerts SET status = ?1, resolved_at = ?2, severity = ?3, summary = ?4, description = ?5, runbook = ?6, labels = ?7, annotations = ?8, last_seen = ?9, count = ?10 WHERE id = ?11",
                params![
                    alert.status.as_str(),
                    alert.resolved_at.map(format_time),
                    alert.severity.as_str(),
                    alert.summary,
                    alert.description,
                    alert.runbook,
                    encode_map(&alert.labels),
                    encode_map(&alert.annotations),
                    format_time(now),
                    count,
                    id_number(alert.id),
                ],
            )
            .map_err(|source| self.query_error("update the alert", source))?;

        Ok(Recorded::Repeat {
            alert,
            count,
            message,
            status_changed,
        })
    }

    /// Turns a row into a [`StoredAlert`], failing on values that warroom
    /// never writes.
    fn validate_row(&self, row: AlertRow) -> Result<StoredAlert, StoreError> {
        let corrupt = |column: &'static str, value: &str| StoreError::Corrupt {
            path: self.path.clone(),
            row: row.id,
            column,
            value: super::excerpt(value),
        };
        let time = |column: &'static str, text: &str| {
            text.parse::<Timestamp>().map_err(|_| corrupt(column, text))
        };
        let map = |column: &'static str, text: &str| {
            serde_json::from_str::<BTreeMap<String, String>>(text)
                .map_err(|_| corrupt(column, text))
        };

        let id = u64::try_from(row.id).map_err(|_| corrupt("id", &row.id.to_string()))?;
        let source = Source::parse(&row.source).ok_or_else(|| corrupt("source", &row.source))?;
        let severity =
            Severity::parse(&row.severity).ok_or_else(|| corrupt("severity", &row.severity))?;
        let status = Status::parse(&row.status).ok_or_else(|| corrupt("status", &row.status))?;
        let host = row
            .host
            .as_deref()
            .map(|text| Host::parse(text).map_err(|_| corrupt("host", text)))
            .transpose()?;
        let started_at = time("started_at", &row.started_at)?;
        let resolved_at = row
            .resolved_at
            .as_deref()
            .map(|text| time("resolved_at", text))
            .transpose()?;
        let labels = map("labels", &row.labels)?;
        let annotations = map("annotations", &row.annotations)?;
        let first_seen = time("first_seen", &row.first_seen)?;
        let last_seen = time("last_seen", &row.last_seen)?;
        let count =
            u32::try_from(row.count).map_err(|_| corrupt("count", &row.count.to_string()))?;
        let message = match (row.channel, row.message_ts) {
            (Some(channel), Some(ts)) => Some(PostedMessage { channel, ts }),
            _ => None,
        };

        Ok(StoredAlert {
            alert: Alert {
                id: AlertId::new(id),
                source,
                fingerprint: row.fingerprint,
                name: row.name,
                severity,
                status,
                host,
                service: row.service,
                summary: row.summary,
                description: row.description,
                runbook: row.runbook,
                started_at,
                resolved_at,
                labels,
                annotations,
            },
            count,
            first_seen,
            last_seen,
            message,
        })
    }

    fn query_error(&self, operation: &'static str, source: rusqlite::Error) -> StoreError {
        StoreError::Query {
            path: self.path.clone(),
            operation,
            source,
        }
    }

    /// Locks the connection. A panic while it was held leaves no open
    /// transaction behind, because a dropped transaction rolls back, so a
    /// poisoned lock is safe to take over.
    fn lock(&self) -> MutexGuard<'_, Connection> {
        self.connection
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

fn read_row(row: &Row<'_>) -> rusqlite::Result<AlertRow> {
    Ok(AlertRow {
        id: row.get(0)?,
        source: row.get(1)?,
        fingerprint: row.get(2)?,
        name: row.get(3)?,
        severity: row.get(4)?,
        status: row.get(5)?,
        host: row.get(6)?,
        service: row.get(7)?,
        summary: row.get(8)?,
        description: row.get(9)?,
        runbook: row.get(10)?,
        started_at: row.get(11)?,
        resolved_at: row.get(12)?,
        labels: row.get(13)?,
        annotations: row.get(14)?,
        first_seen: row.get(15)?,
        last_seen: row.get(16)?,
        count: row.get(17)?,
        channel: row.get(18)?,
        message_ts: row.get(19)?,
    })
}

/// Formats a time with nine fraction digits, so that stored times sort as
/// text in time order.
fn format_time(time: Timestamp) -> String {
    format!("{time:.9}")
}

fn encode_map(map: &BTreeMap<String, String>) -> String {
    // serde_json::to_string fails only on non-string map keys or a failing
    // Serialize impl (its documentation), and a map of strings has neither,
    // so the fallback is unreachable.
    serde_json::to_string(map).unwrap_or_else(|_| "{}".to_string())
}

/// Converts an id to the `i64` that SQLite stores. Ids come from
/// [`AlertStore::record`], which assigns them from `i64` row ids, so they fit.
fn id_number(id: AlertId) -> i64 {
    i64::try_from(id.number()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::{Arc, Barrier};
    use std::thread;

    use super::*;

    const WINDOW: Duration = Duration::from_secs(3600);

    fn time(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn incoming(fingerprint: &str) -> IncomingAlert {
        IncomingAlert {
            source: Source::Alertmanager,
            fingerprint: fingerprint.to_string(),
            name: "DiskSpaceLow".to_string(),
            severity: Severity::High,
            status: Status::Firing,
            host: Some(Host::parse("db-01").unwrap()),
            service: Some("postgres".to_string()),
            summary: "/var/lib/postgresql is 91% full".to_string(),
            description: Some("WAL segments pile up.".to_string()),
            runbook: Some("https://runbooks.example.internal/disk-space-low".to_string()),
            started_at: Some(time("2025-06-12T11:20:00.5Z")),
            resolved_at: None,
            labels: BTreeMap::from([("alertname".to_string(), "DiskSpaceLow".to_string())]),
            annotations: BTreeMap::from([(
                "dashboard".to_string(),
                "https://grafana.example".to_string(),
            )]),
        }
    }

    fn open_temp() -> (tempfile::TempDir, AlertStore) {
        let directory = tempfile::tempdir().unwrap();
        let store = AlertStore::open(&directory.path().join("alerts.sqlite")).unwrap();
        (directory, store)
    }

    fn expect_new(recorded: Recorded) -> Alert {
        match recorded {
            Recorded::New { alert } => alert,
            other => panic!("expected a new alert, got {other:?}"),
        }
    }

    fn expect_repeat(recorded: Recorded) -> (Alert, u32, Option<PostedMessage>, bool) {
        match recorded {
            Recorded::Repeat {
                alert,
                count,
                message,
                status_changed,
            } => (alert, count, message, status_changed),
            other => panic!("expected a repeat, got {other:?}"),
        }
    }

    #[test]
    fn record_assigns_ids_from_5001() {
        let (_directory, store) = open_temp();
        let now = time("2025-06-12T11:21:00Z");

        let first = expect_new(store.record(&incoming("a"), now, WINDOW).unwrap());
        let recorded = store.record(&incoming("b"), now, WINDOW).unwrap();
        assert_eq!(recorded.count(), 1);
        assert_eq!(recorded.alert().id.to_string(), "ALRT-5002");
        let second = expect_new(recorded);

        assert_eq!(first.id.to_string(), "ALRT-5001");
        assert_eq!(second.id.to_string(), "ALRT-5002");
    }

    #[test]
    fn record_new_keeps_incoming_fields() {
        let (_directory, store) = open_temp();
        let now = time("2025-06-12T11:21:00Z");
        let source = incoming("a");

        let alert = expect_new(store.record(&source, now, WINDOW).unwrap());
        let stored = store.get(alert.id).unwrap().unwrap();

        assert_eq!(stored.alert, alert);
        assert_eq!(alert.fingerprint, "a");
        assert_eq!(alert.name, source.name);
        assert_eq!(alert.host, source.host);
        assert_eq!(alert.labels, source.labels);
        assert_eq!(alert.annotations, source.annotations);
        assert_eq!(alert.started_at, time("2025-06-12T11:20:00.5Z"));
        assert_eq!(stored.count, 1);
        assert_eq!(stored.first_seen, now);
        assert_eq!(stored.last_seen, now);
        assert_eq!(stored.message, None);
    }

    #[test]
    fn record_without_start_uses_now() {
        let (_directory, store) = open_temp();
        let now = time("2025-06-12T11:21:00Z");
        let mut source = incoming("a");
        source.started_at = None;
        let alert = expect_new(store.record(&source, now, WINDOW).unwrap());
        assert_eq!(alert.started_at, now);
    }

    #[test]
    fn repeat_within_window_counts_up() {
        let (_directory, store) = open_temp();
        let first = expect_new(
            store
                .record(&incoming("a"), time("2025-06-12T11:00:00Z"), WINDOW)
                .unwrap(),
        );
        store
            .set_message(first.id, "C0123456789", "1718190000.000100")
            .unwrap();

        let mut update = incoming("a");
        update.summary = "/var/lib/postgresql is 95% full".to_string();
        update.severity = Severity::Critical;
        // Exactly one window after the first sighting still counts.
        let (alert, count, message, status_changed) = expect_repeat(
            store
                .record(&update, time("2025-06-12T12:00:00Z"), WINDOW)
                .unwrap(),
        );

        assert_eq!(alert.id, first.id);
        assert_eq!(count, 2);
        assert!(!status_changed);
        assert_eq!(
            message,
            Some(PostedMessage {
                channel: "C0123456789".to_string(),
                ts: "1718190000.000100".to_string(),
            })
        );
        assert_eq!(alert.summary, "/var/lib/postgresql is 95% full");
        assert_eq!(alert.severity, Severity::Critical);

        let (_, count, _, _) = expect_repeat(
            store
                .record(&update, time("2025-06-12T12:30:00Z"), WINDOW)
                .unwrap(),
        );
        assert_eq!(count, 3);
        let stored = store.get(first.id).unwrap().unwrap();
        assert_eq!(stored.count, 3);
        assert_eq!(stored.first_seen, time("2025-06-12T11:00:00Z"));
        assert_eq!(stored.last_seen, time("2025-06-12T12:30:00Z"));
        assert_eq!(stored.alert.summary, "/var/lib/postgresql is 95% full");
    }

    #[test]
    fn window_runs_from_last_sighting() {
        let (_directory, store) = open_temp();
        expect_new(
            store
                .record(&incoming("a"), time("2025-06-12T10:00:00Z"), WINDOW)
                .unwrap(),
        );
        expect_repeat(
            store
                .record(&incoming("a"), time("2025-06-12T10:50:00Z"), WINDOW)
                .unwrap(),
        );
        // 100 minutes after the first sighting, but 50 after the last.
        let (_, count, _, _) = expect_repeat(
            store
                .record(&incoming("a"), time("2025-06-12T11:40:00Z"), WINDOW)
                .unwrap(),
        );
        assert_eq!(count, 3);
    }

    #[test]
    fn record_after_window_is_new() {
        let (_directory, store) = open_temp();
        let first = expect_new(
            store
                .record(&incoming("a"), time("2025-06-12T11:00:00Z"), WINDOW)
                .unwrap(),
        );
        store
            .set_message(first.id, "C0123456789", "1718190000.000100")
            .unwrap();

        let second = expect_new(
            store
                .record(
                    &incoming("a"),
                    time("2025-06-12T12:00:00.000000001Z"),
                    WINDOW,
                )
                .unwrap(),
        );
        assert_eq!(second.id.to_string(), "ALRT-5002");
        assert_eq!(store.get(second.id).unwrap().unwrap().message, None);

        // Later sightings count on the newest alert of the group.
        let (alert, count, _, _) = expect_repeat(
            store
                .record(&incoming("a"), time("2025-06-12T12:10:00Z"), WINDOW)
                .unwrap(),
        );
        assert_eq!(alert.id, second.id);
        assert_eq!(count, 2);
        assert_eq!(store.get(first.id).unwrap().unwrap().count, 1);
    }

    #[test]
    fn resolved_repeat_updates_status() {
        let (_directory, store) = open_temp();
        let first = expect_new(
            store
                .record(&incoming("a"), time("2025-06-12T11:00:00Z"), WINDOW)
                .unwrap(),
        );

        let mut resolved = incoming("a");
        resolved.status = Status::Resolved;
        resolved.resolved_at = Some(time("2025-06-12T11:30:00Z"));
        let (alert, count, _, status_changed) = expect_repeat(
            store
                .record(&resolved, time("2025-06-12T11:31:00Z"), WINDOW)
                .unwrap(),
        );

        assert_eq!(alert.id, first.id);
        assert_eq!(count, 2);
        assert!(status_changed);
        assert_eq!(alert.status, Status::Resolved);
        assert_eq!(alert.resolved_at, Some(time("2025-06-12T11:30:00Z")));
        let stored = store.get(first.id).unwrap().unwrap();
        assert_eq!(stored.alert.status, Status::Resolved);
        assert_eq!(stored.alert.resolved_at, Some(time("2025-06-12T11:30:00Z")));
    }

    #[test]
    fn resolved_without_time_uses_now() {
        let (_directory, store) = open_temp();
        expect_new(
            store
                .record(&incoming("a"), time("2025-06-12T11:00:00Z"), WINDOW)
                .unwrap(),
        );
        let mut resolved = incoming("a");
        resolved.status = Status::Resolved;
        let (alert, _, _, _) = expect_repeat(
            store
                .record(&resolved, time("2025-06-12T11:31:00Z"), WINDOW)
                .unwrap(),
        );
        assert_eq!(alert.resolved_at, Some(time("2025-06-12T11:31:00Z")));
    }

    #[test]
    fn resolved_after_window_closes_latest_alert() {
        let (_directory, store) = open_temp();
        let first = expect_new(
            store
                .record(&incoming("a"), time("2025-06-12T08:00:00Z"), WINDOW)
                .unwrap(),
        );
        let mut resolved = incoming("a");
        resolved.status = Status::Resolved;

        let (alert, count, _, status_changed) = expect_repeat(
            store
                .record(&resolved, time("2025-06-12T12:00:00Z"), WINDOW)
                .unwrap(),
        );
        assert_eq!(alert.id, first.id);
        assert_eq!(count, 2);
        assert!(status_changed);
    }

    #[test]
    fn resolved_first_sighting_is_new() {
        let (_directory, store) = open_temp();
        let mut resolved = incoming("a");
        resolved.status = Status::Resolved;
        let alert = expect_new(
            store
                .record(&resolved, time("2025-06-12T12:00:00Z"), WINDOW)
                .unwrap(),
        );
        assert_eq!(alert.status, Status::Resolved);
        assert_eq!(alert.resolved_at, Some(time("2025-06-12T12:00:00Z")));
    }

    #[test]
    fn firing_again_within_window_reopens() {
        let (_directory, store) = open_temp();
        expect_new(
            store
                .record(&incoming("a"), time("2025-06-12T11:00:00Z"), WINDOW)
                .unwrap(),
        );
        let mut resolved = incoming("a");
        resolved.status = Status::Resolved;
        expect_repeat(
            store
                .record(&resolved, time("2025-06-12T11:10:00Z"), WINDOW)
                .unwrap(),
        );

        let (alert, count, _, status_changed) = expect_repeat(
            store
                .record(&incoming("a"), time("2025-06-12T11:20:00Z"), WINDOW)
                .unwrap(),
        );
        assert_eq!(count, 3);
        assert!(status_changed);
        assert_eq!(alert.status, Status::Firing);
        assert_eq!(alert.resolved_at, None);
    }

    #[test]
    fn sources_have_separate_groups() {
        let (_directory, store) = open_temp();
        let now = time("2025-06-12T11:00:00Z");
        let mut generic = incoming("a");
        generic.source = Source::Generic;
        expect_new(store.record(&incoming("a"), now, WINDOW).unwrap());
        let alert = expect_new(store.record(&generic, now, WINDOW).unwrap());
        assert_eq!(alert.source, Source::Generic);
    }

    #[test]
    fn concurrent_records_make_one_new_alert() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("alerts.sqlite");
        let stores = [
            Arc::new(AlertStore::open(&path).unwrap()),
            Arc::new(AlertStore::open(&path).unwrap()),
        ];
        let now = time("2025-06-12T11:00:00Z");

        for round in 0..20 {
            let fingerprint = format!("group-{round}");
            let barrier = Arc::new(Barrier::new(2));
            let handles: Vec<_> = stores
                .iter()
                .map(|store| {
                    let store = Arc::clone(store);
                    let barrier = Arc::clone(&barrier);
                    let alert = incoming(&fingerprint);
                    thread::spawn(move || {
                        barrier.wait();
                        store.record(&alert, now, WINDOW).unwrap()
                    })
                })
                .collect();
            let results: Vec<Recorded> = handles
                .into_iter()
                .map(|handle| handle.join().unwrap())
                .collect();

            let new_count = results
                .iter()
                .filter(|recorded| matches!(recorded, Recorded::New { .. }))
                .count();
            let repeat_counts: Vec<u32> = results
                .iter()
                .filter_map(|recorded| match recorded {
                    Recorded::Repeat { count, .. } => Some(*count),
                    Recorded::New { .. } => None,
                })
                .collect();
            assert_eq!(new_count, 1, "round {round}: {results:?}");
            assert_eq!(repeat_counts, [2], "round {round}: {results:?}");
        }
        assert_eq!(stores[0].recent(100).unwrap().len(), 20);
    }

    #[test]
    fn set_message_rejects_unknown_and_empty() {
        let (_directory, store) = open_temp();
        let error = store
            .set_message(AlertId::new(9999), "C0123", "1.2")
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            format!(
                "alert store `{}` has no alert `ALRT-9999`",
                store.path().display()
            )
        );

        let alert = expect_new(
            store
                .record(&incoming("a"), time("2025-06-12T11:00:00Z"), WINDOW)
                .unwrap(),
        );
        let error = store.set_message(alert.id, " ", "1.2").unwrap_err();
        assert_eq!(
            error.to_string(),
            "invalid Slack message reference for alert `ALRT-5001`: channel is empty"
        );
        let error = store.set_message(alert.id, "C0123", "").unwrap_err();
        assert_eq!(
            error.to_string(),
            "invalid Slack message reference for alert `ALRT-5001`: ts is empty"
        );
    }

    #[test]
    fn set_message_replaces_earlier() {
        let (_directory, store) = open_temp();
        let alert = expect_new(
            store
                .record(&incoming("a"), time("2025-06-12T11:00:00Z"), WINDOW)
                .unwrap(),
        );
        store.set_message(alert.id, "C1", "1.1").unwrap();
        store.set_message(alert.id, "C2", "2.2").unwrap();
        assert_eq!(
            store.get(alert.id).unwrap().unwrap().message,
            Some(PostedMessage {
                channel: "C2".to_string(),
                ts: "2.2".to_string(),
            })
        );
    }

    #[test]
    fn get_unknown_is_none() {
        let (_directory, store) = open_temp();
        assert_eq!(store.get(AlertId::new(5001)).unwrap(), None);
    }

    #[test]
    fn recent_orders_by_last_sighting() {
        let (_directory, store) = open_temp();
        let a = expect_new(
            store
                .record(&incoming("a"), time("2025-06-12T11:00:00Z"), WINDOW)
                .unwrap(),
        );
        let b = expect_new(
            store
                .record(&incoming("b"), time("2025-06-12T11:05:00Z"), WINDOW)
                .unwrap(),
        );
        let c = expect_new(
            store
                .record(&incoming("c"), time("2025-06-12T11:10:00Z"), WINDOW)
                .unwrap(),
        );
        // A sub-second time must sort after the whole second before it.
        expect_repeat(
            store
                .record(&incoming("a"), time("2025-06-12T11:10:00.5Z"), WINDOW)
                .unwrap(),
        );

        let ids: Vec<AlertId> = store
            .recent(10)
            .unwrap()
            .iter()
            .map(|stored| stored.alert.id)
            .collect();
        assert_eq!(ids, [a.id, c.id, b.id]);
        assert_eq!(store.recent(2).unwrap().len(), 2);
        assert!(store.recent(0).unwrap().is_empty());
    }

    #[test]
    fn store_persists_across_open() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("alerts.sqlite");
        let alert = {
            let store = AlertStore::open(&path).unwrap();
            expect_new(
                store
                    .record(&incoming("a"), time("2025-06-12T11:00:00Z"), WINDOW)
                    .unwrap(),
            )
        };

        let store = AlertStore::open(&path).unwrap();
        assert_eq!(store.get(alert.id).unwrap().unwrap().alert, alert);
        let (_, count, _, _) = expect_repeat(
            store
                .record(&incoming("a"), time("2025-06-12T11:01:00Z"), WINDOW)
                .unwrap(),
        );
        assert_eq!(count, 2);
    }

    #[test]
    fn open_rejects_other_schema_version() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("alerts.sqlite");
        drop(AlertStore::open(&path).unwrap());
        Connection::open(&path)
            .unwrap()
            .pragma_update(None, "user_version", 7)
            .unwrap();

        let error = AlertStore::open(&path).unwrap_err();
        assert_eq!(
            error.to_string(),
            format!(
                "alert store `{}` has schema version 7, expected 1: use the warroom version that wrote it, or another file",
                path.display()
            )
        );
    }

    #[test]
    fn open_uses_wal() {
        let (_directory, store) = open_temp();
        let mode: String = store
            .lock()
            .pragma_query_value(None, "journal_mode", |row| row.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
    }

    #[test]
    fn corrupt_row_reported() {
        let (_directory, store) = open_temp();
        let alert = expect_new(
            store
                .record(&incoming("a"), time("2025-06-12T11:00:00Z"), WINDOW)
                .unwrap(),
        );
        store
            .lock()
            .execute("UPDATE alerts SET severity = 'bogus'", [])
            .unwrap();

        let error = store.get(alert.id).unwrap_err();
        assert_eq!(
            error.to_string(),
            format!(
                "alert store `{}` row 5001 has invalid severity `bogus`: the file was changed outside warroom",
                store.path().display()
            )
        );
    }
}
