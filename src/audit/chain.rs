//! The hash chain: the canonical form a record's hash covers, and the walk
//! that checks every link.

use std::fmt;

use sha2::{Digest, Sha256};

use super::Record;

/// `prev_hash` of the first record.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Names the canonical form, so records of a later format can be
/// distinguished.
const CANONICAL_TAG: &str = "warroom-audit-v1";

/// The newest record of a chain, identified by sequence number and hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    pub seq: i64,
    pub hash: String,
}

/// The result of checking the whole chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    /// Records read, including any after the first break.
    pub records: u64,
    /// The last record read, whether or not the chain holds up to it.
    pub head: Option<Head>,
    /// The first break found, or `None` when every link holds.
    pub first_break: Option<ChainBreak>,
}

/// The reason the chain breaks at a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainBreak {
    /// The sequence jumps: records were deleted, or rows were renumbered.
    Sequence { expected: i64, found: i64 },
    /// The record does not link to the hash of the record before it, so
    /// one of them was replaced or the order changed.
    Link {
        seq: i64,
        expected: String,
        found: String,
    },
    /// The stored hash does not match the record's content, so a field
    /// was edited.
    Hash {
        seq: i64,
        stored: String,
        computed: String,
    },
    /// A head recorded elsewhere does not match this chain: the record at
    /// that sequence number is missing (the newest records were cut off)
    /// or differs.
    Head {
        expected: Head,
        found: Option<String>,
    },
}

/// Lowercase hex SHA-256 of the record's canonical form: a JSON array of the
/// format tag, then every field in a fixed order, ending with `prev_hash`.
/// The event is hashed as the exact stored text.
pub fn record_hash(record: &Record) -> String {
    let canonical = (
        CANONICAL_TAG,
        record.seq,
        &record.timestamp,
        &record.actor,
        &record.channel,
        &record.thread,
        &record.request_id,
        &record.intent,
        &record.event,
        &record.prev_hash,
    );
    // Invariant: serde_json fails only on maps with non-string keys and on
    // custom `Serialize` errors, and a tuple of strings, integers and
    // options has neither.
    let bytes = serde_json::to_vec(&canonical).expect("a tuple of plain values serialises");
    hex(&Sha256::digest(&bytes))
}

/// Checks records in sequence order, one at a time.
#[derive(Debug)]
pub(super) struct ChainWalker {
    records: u64,
    expected_seq: i64,
    prev_hash: String,
    head: Option<Head>,
    first_break: Option<ChainBreak>,
    /// Stored hash of the record at this sequence number, when a recorded
    /// head is checked too.
    watched: Option<(Head, Option<String>)>,
}

impl ChainWalker {
    pub fn new(expected_head: Option<Head>) -> Self {
        Self {
            records: 0,
            expected_seq: 1,
            prev_hash: GENESIS_HASH.to_string(),
            head: None,
            first_break: None,
            watched: expected_head.map(|head| (head, None)),
        }
    }

    /// Checks one record against the one before it. After the first break
    /// the rest are only counted.
    pub fn visit(&mut self, record: &Record) {
        self.records += 1;
        self.head = Some(Head {
            seq: record.seq,
            hash: record.hash.clone(),
        });
        if let Some((expected, found)) = &mut self.watched
            && expected.seq == record.seq
        {
            *found = Some(record.hash.clone());
        }
        if self.first_break.is_some() {
            return;
        }

        self.first_break = self.check(record);
        self.expected_seq = record.seq.saturating_add(1);
        self.prev_hash = record.hash.clone();
    }

    pub fn finish(self) -> VerifyReport {
        let mut first_break = self.first_break;
        if first_break.is_none()
            && let Some((expected, found)) = self.watched
            && found.as_deref() != Some(expected.hash.as_str())
        {
            first_break = Some(ChainBreak::Head { expected, found });
        }
        VerifyReport {
            records: self.records,
            head: self.head,
            first_break,
        }
    }

    fn check(&self, record: &Record) -> Option<ChainBreak> {
        if record.seq != self.expected_seq {
            return Some(ChainBreak::Sequence {
                expected: self.expected_seq,
                found: record.seq,
            });
        }
        if record.prev_hash != self.prev_hash {
            return Some(ChainBreak::Link {
                seq: record.seq,
                expected: self.prev_hash.clone(),
                found: record.prev_hash.clone(),
            });
        }
        let computed = record_hash(record);
        if record.hash != computed {
            return Some(ChainBreak::Hash {
                seq: record.seq,
                stored: record.hash.clone(),
                computed,
            });
        }
        None
    }
}

impl VerifyReport {
    pub fn is_intact(&self) -> bool {
        self.first_break.is_none()
    }
}

impl ChainBreak {
    /// Sequence number of the first record that fails.
    pub fn seq(&self) -> i64 {
        match self {
            Self::Sequence { expected, .. } => *expected,
            Self::Link { seq, .. } | Self::Hash { seq, .. } => *seq,
            Self::Head { expected, .. } => expected.seq,
        }
    }
}

impl fmt::Display for Head {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.seq, self.hash)
    }
}

impl fmt::Display for ChainBreak {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Sequence { expected, found } if *found > *expected => write!(
                f,
                "record {expected} missing: the sequence jumps to {found}, so records were deleted"
            ),
            Self::Sequence { expected, found } => write!(
                f,
                "record {expected} missing: found sequence number {found} in its place, so records were renumbered"
            ),
            Self::Link {
                seq,
                expected,
                found,
            } => write!(
                f,
                "record {seq} links to prev_hash {found}, expected {expected}: record {seq} or the one before it was replaced, or records were reordered"
            ),
            Self::Hash {
                seq,
                stored,
                computed,
            } => write!(
                f,
                "record {seq} has hash {stored} but its content hashes to {computed}: a field of it was edited"
            ),
            Self::Head {
                expected,
                found: None,
            } => write!(
                f,
                "recorded head {expected} not found: record {} is missing, so the newest records were removed",
                expected.seq
            ),
            Self::Head {
                expected,
                found: Some(found),
            } => write!(
                f,
                "recorded head {expected} does not match: record {} now has hash {found}",
                expected.seq
            ),
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    use fmt::Write;

    let mut text = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        // Writing to a String cannot fail.
        let _ = write!(text, "{byte:02x}");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(seq: i64, prev_hash: &str) -> Record {
        let mut record = Record {
            seq,
            timestamp: "2025-01-01T00:00:00.000Z".to_string(),
            actor: "U1".to_string(),
            channel: "C1".to_string(),
            thread: None,
            request_id: "r-1".to_string(),
            intent: Some("server.health".to_string()),
            event: r#"{"type":"confirmed"}"#.to_string(),
            prev_hash: prev_hash.to_string(),
            hash: String::new(),
        };
        record.hash = record_hash(&record);
        record
    }

    fn chain(length: i64) -> Vec<Record> {
        let mut records: Vec<Record> = Vec::new();
        for seq in 1..=length {
            let prev = records
                .last()
                .map_or(GENESIS_HASH.to_string(), |r| r.hash.clone());
            records.push(record(seq, &prev));
        }
        records
    }

    fn walk(records: &[Record], head: Option<Head>) -> VerifyReport {
        let mut walker = ChainWalker::new(head);
        for record in records {
            walker.visit(record);
        }
        walker.finish()
    }

    #[test]
    fn hash_is_sha256_hex_and_covers_every_field() {
        let base = record(1, GENESIS_HASH);
        assert_eq!(base.hash.len(), 64);
        let edits: [fn(&mut Record); 9] = [
            |r| r.seq = 2,
            |r| r.timestamp.push('x'),
            |r| r.actor.push('x'),
            |r| r.channel.push('x'),
            |r| r.thread = Some(String::new()),
            |r| r.request_id.push('x'),
            |r| r.intent = None,
            |r| r.event.push(' '),
            |r| r.prev_hash.replace_range(0..1, "1"),
        ];
        for (index, edit) in edits.iter().enumerate() {
            let mut edited = base.clone();
            edit(&mut edited);
            assert_ne!(record_hash(&edited), base.hash, "edit {index} not covered");
        }
    }

    #[test]
    fn intact_chain_verifies() {
        let records = chain(3);
        let report = walk(&records, None);
        assert!(report.is_intact(), "{:?}", report.first_break);
        assert_eq!(report.records, 3);
        assert_eq!(report.head.unwrap().hash, records[2].hash);
    }

    #[test]
    fn empty_chain_verifies() {
        let report = walk(&[], None);
        assert!(report.is_intact());
        assert_eq!(report.head, None);
    }

    #[test]
    fn edited_field_breaks_its_own_hash() {
        let mut records = chain(3);
        records[1].actor = "U2".to_string();
        let report = walk(&records, None);
        assert!(matches!(
            report.first_break,
            Some(ChainBreak::Hash { seq: 2, .. })
        ));
    }

    #[test]
    fn rehashed_edit_breaks_next_link() {
        let mut records = chain(3);
        records[1].actor = "U2".to_string();
        records[1].hash = record_hash(&records[1]);
        let report = walk(&records, None);
        assert!(matches!(
            report.first_break,
            Some(ChainBreak::Link { seq: 3, .. })
        ));
    }

    #[test]
    fn deleted_first_record_is_a_gap() {
        let records = chain(3);
        let report = walk(&records[1..], None);
        assert_eq!(
            report.first_break,
            Some(ChainBreak::Sequence {
                expected: 1,
                found: 2
            })
        );
    }

    #[test]
    fn recorded_head_detects_cut_off_tail() {
        let records = chain(3);
        let head = Head {
            seq: 3,
            hash: records[2].hash.clone(),
        };
        assert!(walk(&records, Some(head.clone())).is_intact());

        let report = walk(&records[..2], Some(head));
        assert!(matches!(
            report.first_break,
            Some(ChainBreak::Head { found: None, .. })
        ));
        assert!(
            report
                .first_break
                .unwrap()
                .to_string()
                .contains("newest records were removed")
        );
    }
}
