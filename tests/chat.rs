//! The chat pipeline on the real model and the demo commands: scripted
//! sessions through the dialogue, confirmation and approval, expiry on an
//! injected clock, the audit trail they leave, and `warroom chat` itself.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use jiff::ZonedDateTime;
use warroom::audit::{AuditError, AuditEvent, AuditLog, AuditSink, Record, RequestContext};
use warroom::commands::CommandRunner;
use warroom::config::Config;
use warroom::dialogue::{
    Dialogue, ErrorKind, Incoming, IntentParser, ManualClock, PendingStatus, Proposal, Reply,
    RunReport, ThreadId,
};
use warroom::intent::{Catalog, Decision, Matcher, MatcherConfig, MatcherError};
use warroom::inventory::{Inventory, UserId};
use warroom::normalise::ChannelId;
use warroom::policy::Policy;

/// Alice: admin and operator, an approver.
pub(crate) const ALICE: &str = "U024BE7LH";
/// Tom Lee: operator and responder, an approver.
pub(crate) const TLEE: &str = "U06TLEE77";
/// Mei Chen: admin and responder, an approver.
pub(crate) const MCHEN: &str = "U03MCHEN1";
/// John Doe: viewer only.
pub(crate) const JDOE: &str = "U01JDOE42";
/// A service account with no role in the policy.
const SVC_DEPLOY: &str = "U0CSVCDEP";

pub(crate) const SECOPS: &str = "C0SECOPS";
const OTHER_CHANNEL: &str = "C0OTHER";

/// The demo data describe the world as of this instant, so the demo
/// commands and the dialogue's clock start here.
pub(crate) const DEMO_NOW: &str = "2025-06-12T12:00:00Z";

/// Returns the matcher shared by the whole test binary's chat tests, so
/// the catalog is embedded once (and cached under the target directory).
pub(crate) fn matcher() -> &'static Matcher {
    static MATCHER: OnceLock<Matcher> = OnceLock::new();
    MATCHER.get_or_init(|| {
        let mut config =
            Config::load(Some(&root().join("warroom.toml"))).expect("shipped config loads");
        config.cache = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("embeddings.sqlite");
        warroom::engine::load_matcher(&config).expect("engine loads on the shipped model")
    })
}

pub(crate) fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// One bot with its own demo data and audit log, on a clock that moves
/// only when a test moves it.
struct Session {
    dialogue: Dialogue<'static>,
    clock: Arc<ManualClock>,
    audit: Arc<AuditLog>,
    dir: tempfile::TempDir,
}

impl Session {
    fn new() -> Self {
        Self::build(matcher(), None)
    }

    fn build(parser: &'static dyn IntentParser, sink: Option<Arc<dyn AuditSink>>) -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        let demo = dir.path().join("demo");
        copy_dir(&root().join("demo"), &demo);
        let audit =
            Arc::new(AuditLog::open(&dir.path().join("audit.sqlite")).expect("audit log opens"));
        let sink = sink.unwrap_or_else(|| audit.clone());

        let catalog = parser.catalog();
        let policy =
            Policy::load(&root().join("policy.toml"), catalog).expect("shipped policy is valid");
        let inventory =
            Inventory::load(&demo.join("inventory.toml")).expect("demo inventory loads");
        let clock = Arc::new(ManualClock::new(start_time()));
        let dialogue = Dialogue::new(parser, policy, inventory, demo_runner(&demo), sink)
            .with_clock(clock.clone())
            .with_confirmation_ttl(Duration::from_secs(300));
        Self {
            dialogue,
            clock,
            audit,
            dir,
        }
    }

    /// Sends `text` as `user` in the security channel, outside any thread.
    fn say(&mut self, user: &str, text: &str) -> Reply {
        self.say_in(user, SECOPS, None, text)
    }

    fn say_in(&mut self, user: &str, channel: &str, thread: Option<&str>, text: &str) -> Reply {
        let incoming = Incoming::new(
            UserId::new(user),
            ChannelId::new(channel),
            thread.map(ThreadId::new),
            text,
        );
        self.dialogue.handle(&incoming)
    }

    fn events(&self) -> Vec<AuditEvent> {
        self.records()
            .iter()
            .map(|record| record.parse_event().expect("stored events parse"))
            .collect()
    }

    fn records(&self) -> Vec<Record> {
        self.audit.records().expect("audit log reads")
    }

    fn count(&self, kind: &str) -> usize {
        self.events()
            .iter()
            .filter(|event| event.kind() == kind)
            .count()
    }

    /// Restarts the demo recorded, from its state file.
    fn restarts(&self) -> usize {
        let path = self.dir.path().join("demo/state/restarts.json");
        match fs::read_to_string(&path) {
            Ok(text) => {
                let state: serde_json::Value =
                    serde_json::from_str(&text).expect("state file is JSON");
                state["restarts"].as_array().map_or(0, Vec::len)
            }
            Err(_) => 0,
        }
    }

    fn status(&self, proposal: &Proposal) -> PendingStatus {
        self.dialogue
            .pending(&proposal.pending)
            .expect("the pending action is kept")
            .status
    }
}

pub(crate) fn start_time() -> ZonedDateTime {
    format!("{DEMO_NOW}[UTC]")
        .parse()
        .expect("valid start time")
}

pub(crate) fn demo_runner(demo: &Path) -> CommandRunner {
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_warroom-demo"))
        .parent()
        .expect("the demo binary has a directory")
        .to_path_buf();
    let mut runner = CommandRunner::new(vec![bin_dir]);
    runner
        .env_set
        .insert("WARROOM_DEMO_DIR".to_string(), demo.display().to_string());
    runner
        .env_set
        .insert("WARROOM_DEMO_NOW".to_string(), DEMO_NOW.to_string());
    runner
}

pub(crate) fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).expect("create directory");
    for entry in fs::read_dir(from).expect("readable demo directory") {
        let entry = entry.expect("directory entry");
        if entry.file_name() == "state" {
            continue;
        }
        let target = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), &target).expect("copy file");
        }
    }
}

fn ran(reply: &Reply) -> &RunReport {
    match reply {
        Reply::Ran(report) => report,
        other => panic!("expected a command run, got {other:?}\n{other}"),
    }
}

fn needs_confirmation(reply: &Reply) -> &Proposal {
    match reply {
        Reply::NeedsConfirmation(proposal) => proposal,
        other => panic!("expected a confirmation request, got {other:?}\n{other}"),
    }
}

fn needs_approval(reply: &Reply) -> &Proposal {
    match reply {
        Reply::NeedsApproval(proposal) => proposal,
        other => panic!("expected an approval request, got {other:?}\n{other}"),
    }
}

fn refused(reply: &Reply, expected: ErrorKind) -> &str {
    match reply {
        Reply::Refused { kind, message } if *kind == expected => message,
        other => panic!("expected a `{expected}` refusal, got {other:?}\n{other}"),
    }
}

fn target<'p>(proposal: &'p Proposal, slot: &str) -> Option<&'p str> {
    proposal
        .targets
        .iter()
        .find(|(name, _)| name == slot)
        .map(|(_, value)| value.as_str())
}

#[test]
fn read_query_runs_at_once() {
    let mut session = Session::new();

    let reply = session.say(ALICE, "what's wrong with web-01?");
    let report = ran(&reply);
    assert_eq!(report.intent.as_str(), "server.health");
    assert_eq!(report.command, "warroom-demo server-health --host=web-01");
    assert_eq!(report.exit_code, Some(0), "{reply}");
    assert!(report.stdout.contains("web-01"), "{}", report.stdout);
    assert!(report.pending.is_none());
    assert!(
        reply
            .to_string()
            .starts_with("ran `warroom-demo server-health --host=web-01`: exit code 0")
    );

    let kinds: Vec<&str> = session.events().iter().map(AuditEvent::kind).collect();
    assert_eq!(kinds, ["matched", "command_started", "command_finished"]);
}

#[test]
fn restart_runs_once_after_requester_confirms() {
    let mut session = Session::new();

    let reply = session.say(ALICE, "restart nginx on web-01");
    let proposal = needs_confirmation(&reply).clone();
    assert_eq!(
        proposal.command,
        "warroom-demo service-restart --service=nginx --host=web-01"
    );
    assert_eq!(target(&proposal, "host"), Some("web-01"));
    assert_eq!(target(&proposal, "service"), Some("nginx"));
    let shown = reply.to_string();
    assert!(shown.contains(proposal.pending.as_str()), "{shown}");
    assert!(
        shown.contains("command: warroom-demo service-restart"),
        "{shown}"
    );
    assert_eq!(session.restarts(), 0, "the restart ran before confirmation");

    let reply = session.say(ALICE, "yes");
    let report = ran(&reply);
    assert_eq!(report.pending.as_ref(), Some(&proposal.pending));
    assert_eq!(report.exit_code, Some(0), "{reply}");
    assert!(
        report.stdout.contains("Restarted nginx on web-01"),
        "{}",
        report.stdout
    );
    assert!(
        reply.to_string().contains("| Restarted nginx on web-01"),
        "{reply}"
    );
    assert_eq!(session.restarts(), 1);

    let reply = session.say(ALICE, "yes");
    assert!(matches!(reply, Reply::AlreadyHandled { .. }), "{reply:?}");
    assert!(reply.to_string().contains("already ran"), "{reply}");
    assert_eq!(session.restarts(), 1, "a second yes ran the command again");
    assert_eq!(session.count("command_started"), 1);
    assert_eq!(session.count("confirmed"), 1);
}

#[test]
fn bare_yes_during_slot_question_runs_nothing() {
    let mut session = Session::new();

    let reply = session.say(ALICE, "restart nginx on web-01");
    needs_confirmation(&reply);
    let reply = session.say(ALICE, "restart -rf on web-01");
    assert!(matches!(reply, Reply::Question { .. }), "{reply}");

    let reply = session.say(ALICE, "yes");
    assert!(!matches!(reply, Reply::Ran(_)), "{reply}");
    assert_eq!(
        session.restarts(),
        0,
        "a bare yes ran the older pending action"
    );
}

#[test]
fn reference_targets_the_last_host() {
    let mut session = Session::new();
    ran(&session.say(ALICE, "what's wrong with web-01?"));

    let reply = session.say(ALICE, "restart nginx on it");
    let proposal = needs_confirmation(&reply);
    assert_eq!(target(proposal, "host"), Some("web-01"), "{reply}");
    assert_eq!(target(proposal, "service"), Some("nginx"));
}

#[test]
fn missing_slot_is_asked_then_filled() {
    let mut session = Session::new();

    let reply = session.say(ALICE, "restart the nginx service");
    match &reply {
        Reply::Question { slot, problem, .. } => {
            assert_eq!(slot, "host");
            assert_eq!(problem, &None);
        }
        other => panic!("expected a question, got {other:?}"),
    }
    assert!(reply.to_string().starts_with("Which host?"), "{reply}");

    let reply = session.say(ALICE, "web-99");
    match &reply {
        Reply::Question { slot, problem, .. } => {
            assert_eq!(slot, "host");
            let problem = problem.as_deref().unwrap_or_default();
            assert!(problem.contains("unknown host `web-99`"), "{problem}");
        }
        other => panic!("expected the question again, got {other:?}"),
    }
    assert!(reply.to_string().contains("Which host?"), "{reply}");

    // Inline code is data to normalisation, but a slot answer all the same.
    let reply = session.say(ALICE, "`web-01`");
    let proposal = needs_confirmation(&reply);
    assert_eq!(target(proposal, "host"), Some("web-01"));
    assert_eq!(target(proposal, "service"), Some("nginx"));
    assert_eq!(session.count("slot_asked"), 2);
}

#[test]
fn critical_action_needs_a_second_approver() {
    let mut session = Session::new();

    let reply = session.say(TLEE, "block 203.0.113.7 for 1 hour");
    let proposal = needs_approval(&reply).clone();
    assert_eq!(
        proposal.command,
        "warroom-demo ip-block --ip=203.0.113.7 --duration=3600"
    );
    assert!(
        reply
            .to_string()
            .contains(&format!("approve {}", proposal.pending)),
        "{reply}"
    );

    let reply = session.say(TLEE, "approve");
    let message = refused(&reply, ErrorKind::NotAuthorized);
    assert!(
        message.contains("you requested this `ip.block` yourself"),
        "{message}"
    );

    let reply = session.say(JDOE, "approve");
    let message = refused(&reply, ErrorKind::NotAuthorized);
    assert!(
        message.contains("approving `ip.block` needs role"),
        "{message}"
    );
    assert_eq!(
        session.count("command_started"),
        0,
        "a refused approval ran the command"
    );

    let reply = session.say(MCHEN, &format!("approve {}", proposal.pending));
    let report = ran(&reply);
    assert_eq!(report.exit_code, Some(0), "{reply}");
    assert_eq!(
        session.status(&proposal),
        PendingStatus::Ran { exit_code: Some(0) }
    );

    let approvals: Vec<String> = session
        .records()
        .iter()
        .filter(|record| {
            record
                .parse_event()
                .is_ok_and(|event| event == AuditEvent::Approved)
        })
        .map(|record| record.actor.clone())
        .collect();
    assert_eq!(approvals, [MCHEN]);
    assert_eq!(session.count("denied"), 2);
}

#[test]
fn expired_confirmation_is_refused() {
    let mut session = Session::new();
    let proposal = needs_confirmation(&session.say(ALICE, "restart nginx on web-01")).clone();

    session.clock.advance(Duration::from_secs(301));
    let reply = session.say(ALICE, "yes");
    let message = refused(&reply, ErrorKind::ExpiredConfirmation);
    assert!(
        message.contains(&format!("{} expired", proposal.pending)),
        "{message}"
    );
    assert_eq!(session.status(&proposal), PendingStatus::Expired);
    assert_eq!(session.restarts(), 0);
    assert_eq!(session.count("command_started"), 0);
    assert_eq!(session.count("expired"), 1);
}

#[test]
fn confirmation_within_time_runs() {
    let mut session = Session::new();
    needs_confirmation(&session.say(ALICE, "restart nginx on web-01"));
    session.clock.advance(Duration::from_secs(299));
    ran(&session.say(ALICE, "go ahead"));
}

#[test]
fn denied_user_is_refused_with_the_reason() {
    let mut session = Session::new();

    let reply = session.say(JDOE, "restart nginx on web-01");
    let message = refused(&reply, ErrorKind::NotAuthorized);
    assert_eq!(
        message,
        "`service.restart` needs role admin, operator or responder; you have viewer"
    );

    let reply = session.say(SVC_DEPLOY, "what's wrong with web-01?");
    let message = refused(&reply, ErrorKind::NotAuthorized);
    assert!(
        message.contains("has no role in the access policy"),
        "{message}"
    );

    let reply = session.say_in(ALICE, "C0GENERAL", None, "restart nginx on web-01");
    let message = refused(&reply, ErrorKind::NotAuthorized);
    assert!(
        message.contains("not allowed in channel `C0GENERAL`"),
        "{message}"
    );

    assert_eq!(session.count("denied"), 3);
    assert_eq!(session.count("proposed"), 0);
    assert_eq!(session.count("command_started"), 0);
}

#[test]
fn yes_from_elsewhere_confirms_nothing() {
    let mut session = Session::new();
    let thread = Some("1718000000.000100");
    let reply = session.say_in(ALICE, SECOPS, thread, "restart nginx on web-01");
    let proposal = needs_confirmation(&reply).clone();

    let reply = session.say_in(TLEE, SECOPS, thread, "yes");
    let message = refused(&reply, ErrorKind::NotAuthorized);
    assert!(message.contains("only the requester"), "{message}");

    let reply = session.say_in(ALICE, OTHER_CHANNEL, thread, "yes");
    let message = refused(&reply, ErrorKind::NotAuthorized);
    assert!(message.contains("answer it there"), "{message}");

    let reply = session.say_in(ALICE, SECOPS, None, "yes");
    let message = refused(&reply, ErrorKind::NotAuthorized);
    assert!(message.contains("thread `1718000000.000100`"), "{message}");

    let reply = session.say_in(
        ALICE,
        SECOPS,
        Some("1718000000.000999"),
        &format!("yes {}", proposal.pending),
    );
    refused(&reply, ErrorKind::NotAuthorized);

    assert_eq!(
        session.status(&proposal),
        PendingStatus::AwaitingConfirmation
    );
    assert_eq!(session.restarts(), 0);
    ran(&session.say_in(ALICE, SECOPS, thread, "yes"));
    assert_eq!(session.restarts(), 1);
}

#[test]
fn refusals_never_confirm() {
    let mut session = Session::new();
    for refusal in [
        "don't",
        "dont",
        "do not",
        "no",
        "nope",
        "cancel",
        "stop",
        "Don’t do it",
    ] {
        let proposal = needs_confirmation(&session.say(ALICE, "restart nginx on web-01")).clone();
        let reply = session.say(ALICE, refusal);
        assert!(
            matches!(reply, Reply::Cancelled { .. }),
            "`{refusal}`: {reply:?}"
        );
        assert_eq!(
            session.status(&proposal),
            PendingStatus::Cancelled,
            "`{refusal}`"
        );
    }
    assert_eq!(session.count("command_started"), 0);
    assert_eq!(session.restarts(), 0);
}

#[test]
fn negated_request_is_not_proposed() {
    let mut session = Session::new();
    for text in [
        "don't restart nginx on web-01 yet",
        "do not restart nginx on web-01",
        "restart nginx on web-01 later",
    ] {
        let reply = session.say(ALICE, text);
        let message = refused(&reply, ErrorKind::NoIntent);
        assert!(message.starts_with("OK, I won't"), "`{text}`: {message}");
    }
    assert_eq!(session.count("proposed"), 0);
}

#[test]
fn long_paste_take_back_is_declined() {
    let mut session = Session::new();
    let log = (0..8)
        .map(|second| {
            format!("Mar 10 14:00:{second:02} web-01 nginx[812]: upstream timed out while reading")
        })
        .collect::<Vec<_>>()
        .join("\n");

    let reply = session.say(ALICE, &format!("restart nginx on web-01\n{log}"));
    needs_confirmation(&reply);

    let text = format!("restart nginx on web-01\n{log}\nactually, not yet - wait for the deploy");
    let reply = session.say(ALICE, &text);
    let message = refused(&reply, ErrorKind::NoIntent);
    assert!(message.starts_with("Your message is long"), "{message}");
    assert_eq!(session.count("proposed"), 1);
}

#[test]
fn negated_reply_names_the_waiting_proposal() {
    let mut session = Session::new();
    let proposal = needs_confirmation(&session.say(ALICE, "restart nginx on web-01")).clone();

    let reply = session.say(ALICE, "wait, don't restart it yet");
    let message = refused(&reply, ErrorKind::NoIntent);
    assert!(message.starts_with("OK, I won't"), "{message}");
    assert!(message.contains("is still waiting"), "{message}");
    assert!(message.contains(&proposal.pending.to_string()), "{message}");
    assert_eq!(session.restarts(), 0);
}

#[test]
fn question_about_an_action_is_not_refused() {
    let mut session = Session::new();

    let reply = session.say(
        ALICE,
        "why hasn't the nginx restart on web-01 finished yet?",
    );
    let message = refused(&reply, ErrorKind::NoIntent);
    assert!(message.starts_with("That reads as a question"), "{message}");
    assert!(message.contains("`help`"), "{message}");
    assert_eq!(session.restarts(), 0);
}

#[test]
fn id_alone_asks_what_to_do() {
    let mut session = Session::new();

    let reply = session.say(ALICE, "INC-4821");
    let text = reply.to_string();
    assert!(matches!(reply, Reply::Note { .. }), "{reply:?}");
    assert!(
        text.starts_with("What should I do with incident `INC-4821`?"),
        "{text}"
    );
    assert!(text.contains("`incident.status`"), "{text}");

    let report_reply = session.say(ALICE, "show me the status of that incident");
    let report = ran(&report_reply);
    assert_eq!(
        report.command,
        "warroom-demo incident-status --incident-id=INC-4821"
    );

    let reply = session.say(ALICE, "123");
    assert!(
        reply
            .to_string()
            .starts_with("What should I do with incident `INC-123`?"),
        "{reply}"
    );
}

#[test]
fn out_of_scope_suggests_permitted_intents() {
    let mut session = Session::new();

    let reply = session.say(JDOE, "what's the weather in Paris");
    let message = refused(&reply, ErrorKind::NoIntent);
    assert!(
        message.starts_with("I can't help with that. I can help with: alert, deploy, incident"),
        "{message}"
    );
    assert!(message.contains("server"), "{message}");
    assert!(
        !message.contains("host"),
        "a viewer was offered host isolation: {message}"
    );

    let reply = session.say(ALICE, "what's the weather in Paris");
    let message = refused(&reply, ErrorKind::NoIntent);
    assert!(message.contains("host"), "{message}");

    let reply = session.say(SVC_DEPLOY, "what's the weather in Paris");
    let message = refused(&reply, ErrorKind::NoIntent);
    assert!(
        message.contains("You may not run any action here"),
        "{message}"
    );
    assert_eq!(session.count("declined"), 3);
}

#[test]
fn help_lists_only_permitted_intents() {
    let mut session = Session::new();
    let intents = |reply: &Reply| -> Vec<String> {
        match reply {
            Reply::Help { entries } => entries
                .iter()
                .map(|entry| entry.intent.to_string())
                .collect(),
            other => panic!("expected help, got {other:?}"),
        }
    };

    let viewer = intents(&session.say(JDOE, "help"));
    assert!(viewer.contains(&"server.health".to_string()), "{viewer:?}");
    assert!(
        !viewer.contains(&"service.restart".to_string()),
        "{viewer:?}"
    );
    assert!(!viewer.contains(&"ip.block".to_string()), "{viewer:?}");

    let admin = intents(&session.say(ALICE, "what can you do"));
    assert!(admin.contains(&"service.restart".to_string()), "{admin:?}");
    assert!(admin.contains(&"user.disable".to_string()), "{admin:?}");

    let general = intents(&session.say_in(ALICE, "C0GENERAL", None, "help"));
    assert!(
        !general.contains(&"service.restart".to_string()),
        "{general:?}"
    );
    assert!(
        general.contains(&"incident.declare".to_string()),
        "{general:?}"
    );

    let catalog = matcher().catalog();
    let reply = session.say(JDOE, "help");
    let shown = reply.to_string();
    let description = &catalog
        .get("server.health")
        .expect("shipped intent")
        .description;
    assert!(shown.contains(description.as_str()), "{shown}");
}

/// The real matcher with every tier's minimum margin above any possible
/// lead, so every message it would match is ambiguous instead.
struct AlwaysAmbiguous {
    matcher: &'static Matcher,
    config: MatcherConfig,
}

impl IntentParser for AlwaysAmbiguous {
    fn catalog(&self) -> &Catalog {
        self.matcher.catalog()
    }

    fn decide(&self, text: &str) -> Result<Decision, MatcherError> {
        let decision = self.matcher.decide(text)?;
        if decision.explanation.decline.is_some() {
            return Ok(decision);
        }
        let embeddings = self.matcher.embed_messages(&[text])?;
        let tokens = self.matcher.embedder().count_tokens(text)?;
        let similarities = self.matcher.similarities(&embeddings[0]);
        Ok(self
            .matcher
            .judge(text, &similarities, tokens, &self.config))
    }
}

fn always_ambiguous() -> &'static AlwaysAmbiguous {
    static PARSER: OnceLock<AlwaysAmbiguous> = OnceLock::new();
    PARSER.get_or_init(|| {
        let matcher = matcher();
        let mut config = *matcher.config();
        for tier in [
            &mut config.thresholds.read,
            &mut config.thresholds.change,
            &mut config.thresholds.critical,
        ] {
            tier.min_margin = 2.0;
        }
        AlwaysAmbiguous { matcher, config }
    })
}

#[test]
fn ambiguous_request_asks_which_one() {
    let mut session = Session::build(always_ambiguous(), None);

    let reply = session.say(ALICE, "is nginx running on web-01");
    let options = match &reply {
        Reply::Clarify { options, question } => {
            assert!(
                question.starts_with("Did you mean `service.status`"),
                "{question}"
            );
            assert!(question.contains(" or `"), "{question}");
            options.clone()
        }
        other => panic!("expected a clarifying question, got {other:?}"),
    };
    assert_eq!(options.len(), 2);
    assert_eq!(options[0].as_str(), "service.status");

    let report_reply = session.say(ALICE, "service.status");
    let report = ran(&report_reply);
    assert_eq!(
        report.command,
        "warroom-demo service-status --service=nginx --host=web-01"
    );

    session.say(ALICE, "is nginx running on web-01");
    let report_reply = session.say(ALICE, "the first one");
    assert_eq!(ran(&report_reply).intent.as_str(), "service.status");
}

/// An audit log that refuses to record the start of any command.
struct FailingStart {
    inner: Arc<AuditLog>,
}

impl AuditSink for FailingStart {
    fn append(&self, context: &RequestContext, event: &AuditEvent) -> Result<Record, AuditError> {
        if matches!(event, AuditEvent::CommandStarted { .. }) {
            return Err(AuditError::Encode {
                event: event.kind(),
                source: serde_json::from_str::<u8>("not json").expect_err("invalid JSON"),
            });
        }
        self.inner.append(context, event)
    }
}

#[test]
fn failed_audit_write_stops_the_command() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let inner =
        Arc::new(AuditLog::open(&dir.path().join("audit.sqlite")).expect("audit log opens"));
    let mut session = Session::build(
        matcher(),
        Some(Arc::new(FailingStart {
            inner: inner.clone(),
        })),
    );

    let proposal = needs_confirmation(&session.say(ALICE, "restart nginx on web-01")).clone();
    let reply = session.say(ALICE, "yes");
    let message = refused(&reply, ErrorKind::AuditFailed);
    assert!(
        message.contains("failed to record `command_started`"),
        "{message}"
    );
    assert_eq!(
        session.restarts(),
        0,
        "the command ran without its start record"
    );
    assert_eq!(session.status(&proposal), PendingStatus::Failed);

    let reply = session.say(ALICE, "yes");
    assert!(matches!(reply, Reply::AlreadyHandled { .. }), "{reply:?}");
    assert_eq!(session.restarts(), 0);
}

#[test]
fn session_audit_log_verifies_until_changed() {
    let mut session = Session::new();
    ran(&session.say(ALICE, "what's wrong with web-01?"));
    needs_confirmation(&session.say(ALICE, "restart nginx on it"));
    ran(&session.say(ALICE, "yes"));
    needs_approval(&session.say(TLEE, "isolate worker-12"));
    refused(&session.say(TLEE, "approve"), ErrorKind::NotAuthorized);
    ran(&session.say(ALICE, "approve"));
    needs_confirmation(&session.say(ALICE, "restart nginx on web-02"));
    session.clock.advance(Duration::from_secs(600));
    refused(&session.say(ALICE, "yes"), ErrorKind::ExpiredConfirmation);
    refused(
        &session.say(JDOE, "restart nginx on web-01"),
        ErrorKind::NotAuthorized,
    );

    let records = session.records();
    let last_hash = records.last().expect("records were written").hash.clone();
    let report = session.audit.verify().expect("audit log verifies");
    assert!(report.is_intact(), "{report:?}");
    assert_eq!(report.records, records.len() as u64);

    let path = session.dir.path().join("audit.sqlite");
    let Session {
        dialogue,
        audit,
        dir,
        ..
    } = session;
    drop(dialogue);
    drop(audit);

    // The newest record's hash is stored once (no record follows it to
    // repeat it), so changing one of its hex digits changes one byte.
    let mut bytes = fs::read(&path).expect("audit database reads");
    let positions: Vec<usize> = bytes
        .windows(last_hash.len())
        .enumerate()
        .filter(|(_, window)| *window == last_hash.as_bytes())
        .map(|(position, _)| position)
        .collect();
    assert_eq!(positions.len(), 1, "the last hash is stored once");
    let byte = &mut bytes[positions[0]];
    *byte = if *byte == b'0' { b'1' } else { b'0' };
    fs::write(&path, &bytes).expect("audit database writes");

    let log = AuditLog::open_existing(&path).expect("changed audit log opens");
    let report = log.verify().expect("changed audit log is read");
    assert!(!report.is_intact(), "{report:?}");
    drop(dir);
}

#[test]
fn chat_command_runs_scripted_session() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let demo = dir.path().join("demo");
    copy_dir(&root().join("demo"), &demo);
    let audit_db = dir.path().join("audit.sqlite");
    let cache = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("embeddings.sqlite");

    let script = format!(
        "# a critical action needs someone else's approval\n\
         isolate worker-12\n\
         approve\n\
         /as {JDOE} approve\n\
         /as {ALICE} approve\n\
         /channel C0GENERAL\n\
         restart nginx on web-01\n"
    );
    let mut child = Command::new(env!("CARGO_BIN_EXE_warroom"))
        .current_dir(root())
        .arg("--cache")
        .arg(&cache)
        .args(["chat", "--user", TLEE, "--channel", SECOPS, "--demo-dir"])
        .arg(&demo)
        .arg("--audit-db")
        .arg(&audit_db)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the warroom binary starts");
    child
        .stdin
        .take()
        .expect("stdin is piped")
        .write_all(script.as_bytes())
        .expect("script is written");
    let output = child
        .wait_with_output()
        .expect("the warroom binary finishes");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stdout}\n{stderr}");

    let expected = [
        format!("[{TLEE} {SECOPS}] isolate worker-12"),
        "bot: awaiting approval: `host.isolate`".to_string(),
        "refused (not authorized): you requested this `host.isolate` yourself".to_string(),
        format!("[{JDOE} {SECOPS}] approve"),
        "refused (not authorized): approving `host.isolate` needs role".to_string(),
        format!("[{ALICE} {SECOPS}] approve"),
        "bot: ran `warroom-demo host-isolate --host=worker-12`".to_string(),
        format!("[{TLEE} C0GENERAL] restart nginx on web-01"),
        "not allowed in channel `C0GENERAL`".to_string(),
    ];
    let mut rest: &str = &stdout;
    for line in &expected {
        let Some(position) = rest.find(line.as_str()) else {
            panic!("missing, or out of order: {line}\n--- output:\n{stdout}");
        };
        rest = &rest[position + line.len()..];
    }

    let log = AuditLog::open_existing(&audit_db).expect("the session wrote an audit log");
    assert!(log.verify().expect("audit log reads").is_intact());
}
