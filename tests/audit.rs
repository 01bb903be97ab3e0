//! The audit log on disk: tampering with the SQLite file itself, and the
//! `warroom audit` subcommand's output and exit status.

use std::fs;
use std::path::Path;
use std::process::{Command, Output};

use rusqlite::Connection;
use warroom::audit::{AuditEvent, AuditLog, ChainBreak, RequestContext, RequestId};
use warroom::intent::IntentName;
use warroom::inventory::UserId;

/// A channel id that occurs once in the file, so one byte of it can be
/// changed in place.
const MARKED_CHANNEL: &str = "C0MARKEDCHANNEL";

fn context(request: &str, channel: &str) -> RequestContext {
    RequestContext {
        actor: UserId::new("U024BE7LH"),
        channel: channel.to_string(),
        thread: None,
        request_id: RequestId::new(request),
        intent: Some(IntentName::new("host.isolate")),
    }
}

/// Writes four records; the second carries [`MARKED_CHANNEL`]. The log is
/// closed on return, so SQLite has moved the WAL into the main file.
fn write_log(path: &Path) {
    let log = AuditLog::open(path).unwrap();
    let started = AuditEvent::CommandStarted {
        command: "warroom-demo host-isolate --host=worker-12".to_string(),
        argv_masked: vec![
            "warroom-demo".to_string(),
            "host-isolate".to_string(),
            "--host=worker-12".to_string(),
        ],
    };
    log.append(&context("r-1", "C0SECOPS"), &AuditEvent::Approved)
        .unwrap();
    let record = log
        .append(&context("r-1", MARKED_CHANNEL), &started)
        .unwrap();
    log.append(
        &context("r-1", "C0SECOPS"),
        &AuditEvent::CommandFinished {
            started_seq: record.seq,
            exit_code: Some(0),
            signal: None,
            duration_ms: 8,
            timed_out: false,
            output_bytes: 96,
            truncated: false,
        },
    )
    .unwrap();
    log.append(&context("r-2", "C0SECOPS"), &AuditEvent::Cancelled)
        .unwrap();
}

fn warroom(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_warroom"))
        .args(args)
        .output()
        .expect("the warroom binary runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn one_changed_byte_in_file_fails_verify() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.sqlite");
    write_log(&path);
    assert!(
        !has_content(&dir.path().join("audit.sqlite-wal")),
        "records still in the WAL file"
    );

    let mut bytes = fs::read(&path).unwrap();
    let positions: Vec<usize> = bytes
        .windows(MARKED_CHANNEL.len())
        .enumerate()
        .filter(|(_, window)| *window == MARKED_CHANNEL.as_bytes())
        .map(|(position, _)| position)
        .collect();
    assert_eq!(positions.len(), 1, "the marked channel is stored once");
    // `M` becomes `N`: same length, so the page stays well-formed.
    bytes[positions[0] + 2] = b'N';
    fs::write(&path, &bytes).unwrap();

    let log = AuditLog::open_existing(&path).unwrap();
    let report = log.verify().unwrap();
    assert!(
        matches!(report.first_break, Some(ChainBreak::Hash { seq: 2, .. })),
        "{report:?}"
    );
    drop(log);

    let output = warroom(&["audit", "verify", "--db", path.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1), "{}", stdout(&output));
    assert!(
        stdout(&output).contains("TAMPERED at record 2"),
        "{}",
        stdout(&output)
    );
}

#[test]
fn intact_log_verifies_with_head() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.sqlite");
    write_log(&path);
    let db = path.to_str().unwrap();

    let output = warroom(&["audit", "verify", "--db", db]);
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    let text = stdout(&output);
    assert!(text.contains("records: 4"), "{text}");
    let head = text
        .lines()
        .find_map(|line| line.strip_prefix("head: "))
        .expect("verify prints the head");
    assert!(head.starts_with("4:"), "{head}");

    let output = warroom(&["audit", "verify", "--db", db, "--expect-head", head]);
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
}

#[test]
fn deleted_record_fails_verify_from_cli() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.sqlite");
    write_log(&path);
    let connection = Connection::open(&path).unwrap();
    connection
        .execute_batch("DROP TRIGGER audit_log_no_delete; DELETE FROM audit_log WHERE seq = 3;")
        .unwrap();
    drop(connection);

    let output = warroom(&["audit", "verify", "--db", path.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1), "{}", stdout(&output));
    assert!(
        stdout(&output).contains("record 3 missing"),
        "{}",
        stdout(&output)
    );
}

#[test]
fn reordered_records_fail_verify_from_cli() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.sqlite");
    write_log(&path);
    let connection = Connection::open(&path).unwrap();
    connection
        .execute_batch(
            "DROP TRIGGER audit_log_no_update;
             UPDATE audit_log SET seq = 100 WHERE seq = 3;
             UPDATE audit_log SET seq = 3 WHERE seq = 4;
             UPDATE audit_log SET seq = 4 WHERE seq = 100;",
        )
        .unwrap();
    drop(connection);

    let output = warroom(&["audit", "verify", "--db", path.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1), "{}", stdout(&output));
    assert!(
        stdout(&output).contains("TAMPERED at record 3"),
        "{}",
        stdout(&output)
    );
}

#[test]
fn truncated_tail_fails_verify_against_recorded_head() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.sqlite");
    write_log(&path);
    let db = path.to_str().unwrap();
    let head = AuditLog::open_existing(&path)
        .unwrap()
        .verify()
        .unwrap()
        .head
        .unwrap()
        .to_string();
    let connection = Connection::open(&path).unwrap();
    connection
        .execute_batch("DROP TRIGGER audit_log_no_delete; DELETE FROM audit_log WHERE seq = 4;")
        .unwrap();
    drop(connection);

    let output = warroom(&["audit", "verify", "--db", db]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "a cut tail alone looks intact"
    );
    let output = warroom(&["audit", "verify", "--db", db, "--expect-head", &head]);
    assert_eq!(output.status.code(), Some(1), "{}", stdout(&output));
    assert!(
        stdout(&output).contains("newest records were removed"),
        "{}",
        stdout(&output)
    );
}

#[test]
fn started_never_finished_command_is_shown() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.sqlite");
    write_log(&path);
    {
        let log = AuditLog::open_existing(&path).unwrap();
        let started = AuditEvent::CommandStarted {
            command: "warroom-demo user-disable --user=jdoe".to_string(),
            argv_masked: vec![
                "warroom-demo".to_string(),
                "user-disable".to_string(),
                "--user=jdoe".to_string(),
            ],
        };
        log.append(&context("r-crash", "C0SECOPS"), &started)
            .unwrap();
    }

    let output = warroom(&["audit", "show", "--db", path.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    let text = stdout(&output);
    let section = text
        .split_once("started, never finished: 1 command(s)")
        .map(|(_, rest)| rest)
        .unwrap_or_else(|| panic!("no unfinished section in:\n{text}"));
    assert!(section.contains("#5 "), "{section}");
    assert!(section.contains("request=r-crash"), "{section}");
    assert!(
        !section.contains("#2 "),
        "the finished command is listed: {section}"
    );
}

#[test]
fn export_writes_json_lines() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.sqlite");
    write_log(&path);

    let output = warroom(&["audit", "export", "--db", path.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0));
    let lines: Vec<serde_json::Value> = stdout(&output)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(lines.len(), 4);
    assert_eq!(lines[1]["event"]["type"], "command_started");
    assert_eq!(lines[1]["channel"], MARKED_CHANNEL);
    assert_eq!(lines[2]["event"]["started_seq"], 2);
    assert_eq!(lines[3]["prev_hash"], lines[2]["hash"]);
}

#[test]
fn missing_database_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("missing.sqlite");
    let output = warroom(&["audit", "verify", "--db", path.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("not found"));
    assert!(!path.exists(), "verify created the database");
}

/// Checks that a file exists with content; SQLite may leave an empty WAL
/// file behind.
fn has_content(path: &Path) -> bool {
    fs::metadata(path).is_ok_and(|meta| meta.len() > 0)
}
