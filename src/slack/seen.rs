//! Delivered events the bot has already taken, kept in SQLite so a
//! redelivery after a retry, a reconnect or a restart is recognised.
//!
//! Slack may deliver one message twice under different event ids (for
//! example once per subscribed event type), so a message is known by its
//! event id and by its channel and timestamp. A click is known by its own id.

use std::path::Path;
use std::sync::Mutex;

use rusqlite::{Connection, TransactionBehavior, params};

/// Days a delivery key is kept; Slack retries within minutes.
const KEEP_DAYS: i64 = 7;

/// Errors of the delivery store.
#[derive(Debug, thiserror::Error)]
pub enum SeenError {
    #[error("failed to open the state database `{path}`")]
    Open {
        path: String,
        #[source]
        source: rusqlite::Error,
    },

    #[error("failed to record a delivery in the state database")]
    Write(#[from] rusqlite::Error),
}

/// The set of delivery keys already taken.
pub struct SeenDeliveries {
    connection: Mutex<Connection>,
}

impl SeenDeliveries {
    pub fn open(path: &Path) -> Result<Self, SeenError> {
        let open = || -> Result<Connection, rusqlite::Error> {
            let connection = Connection::open(path)?;
            connection.busy_timeout(std::time::Duration::from_secs(5))?;
            connection.pragma_update(None, "journal_mode", "WAL")?;
            connection.execute_batch(
                "CREATE TABLE IF NOT EXISTS slack_deliveries (
                     key TEXT PRIMARY KEY,
                     seen_at INTEGER NOT NULL
                 )",
            )?;
            Ok(connection)
        };
        let connection = open().map_err(|source| SeenError::Open {
            path: path.display().to_string(),
            source,
        })?;
        Ok(Self {
            connection: Mutex::new(connection),
        })
    }

    /// Records the keys of one delivery. Returns `true` when none of them
    /// was known, so the delivery is new; otherwise records nothing new
    /// and returns `false`. Checking and recording happen in one
    /// transaction, so of two racing deliveries only one is new.
    pub fn first_time(&self, keys: &[String]) -> Result<bool, SeenError> {
        let now = jiff::Timestamp::now().as_second();
        let mut connection = self
            .connection
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
        for key in keys {
            let known: bool = transaction.query_row(
                "SELECT EXISTS (SELECT 1 FROM slack_deliveries WHERE key = ?1)",
                params![key],
                |row| row.get(0),
            )?;
            if known {
                return Ok(false);
            }
        }
        for key in keys {
            transaction.execute(
                "INSERT INTO slack_deliveries (key, seen_at) VALUES (?1, ?2)",
                params![key, now],
            )?;
        }
        transaction.execute(
            "DELETE FROM slack_deliveries WHERE seen_at < ?1",
            params![now - KEEP_DAYS * 86_400],
        )?;
        transaction.commit()?;
        Ok(true)
    }
}

/// Keys of a message delivery.
pub fn message_keys(event_id: &str, channel: &str, ts: &str) -> Vec<String> {
    vec![
        format!("event:{event_id}"),
        format!("message:{channel}:{ts}"),
    ]
}

/// Key of a button click.
pub fn click_key(click_id: &str) -> Vec<String> {
    vec![format!("click:{click_id}")]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_under_new_event_id_is_seen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.sqlite");
        let seen = SeenDeliveries::open(&path).unwrap();
        assert!(seen.first_time(&message_keys("Ev1", "C1", "1.1")).unwrap());
        assert!(!seen.first_time(&message_keys("Ev1", "C1", "1.1")).unwrap());
        assert!(!seen.first_time(&message_keys("Ev2", "C1", "1.1")).unwrap());
        assert!(!seen.first_time(&message_keys("Ev1", "C1", "1.2")).unwrap());
        assert!(seen.first_time(&message_keys("Ev3", "C1", "1.3")).unwrap());
        drop(seen);

        let reopened = SeenDeliveries::open(&path).unwrap();
        assert!(
            !reopened
                .first_time(&message_keys("Ev3", "C9", "9.9"))
                .unwrap()
        );
        assert!(reopened.first_time(&click_key("U1:1.5")).unwrap());
        assert!(!reopened.first_time(&click_key("U1:1.5")).unwrap());
    }
}
