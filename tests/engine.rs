//! The intent engine on the real model: decisions, bad input, catalog
//! validation and model verification.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use warroom::config::Config;
use warroom::intent::{Catalog, Decision, Matcher, Next, Outcome, Risk};
use warroom::model::{ModelError, ModelFiles};

/// Returns the matcher shared by the whole test binary, so the catalog is
/// embedded once (and cached on disk under the target directory across runs).
fn matcher() -> &'static Matcher {
    static MATCHER: OnceLock<Matcher> = OnceLock::new();
    MATCHER.get_or_init(|| {
        let mut config =
            Config::load(Some(Path::new("warroom.toml"))).expect("shipped config loads");
        config.cache = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("embeddings.sqlite");
        warroom::engine::load_matcher(&config).expect("engine loads on the shipped model")
    })
}

fn decide(text: &str) -> Decision {
    matcher().decide(text).expect("decision")
}

#[test]
fn server_question_matches_server_health() {
    let decision = decide("what's wrong with web-01?");
    assert_eq!(decision.outcome, Outcome::Matched, "{decision:?}");
    assert_eq!(
        decision.intent.as_ref().map(|name| name.as_str()),
        Some("server.health")
    );
    assert_eq!(decision.risk, Some(Risk::Read));
    assert_eq!(decision.next, Next::Run);
}

#[test]
fn small_talk_is_out_of_scope() {
    for text in [
        "thanks!",
        "what's the weather in Paris",
        "I am writting something",
    ] {
        let decision = decide(text);
        assert_eq!(
            decision.outcome,
            Outcome::OutOfScope,
            "`{text}`: {decision:?}"
        );
        assert_eq!(decision.intent, None);
        assert_eq!(decision.next, Next::Fallback);
    }
}

#[test]
fn bad_input_is_declined_cleanly() {
    let long_paste = "the disk on web-01 is filling up again ".repeat(520);
    let junk: String = (0u8..=255).map(char::from).collect();
    let cases = [
        "",
        "   \t\n ",
        "j",
        "osifhaskdnkauer",
        "RFSSSw",
        "🚨🔥💥",
        "123",
        "INC-4821",
        "@warroom 203.0.113.7",
        junk.as_str(),
    ];
    for text in cases {
        let decision = decide(text);
        assert_eq!(
            decision.outcome,
            Outcome::OutOfScope,
            "`{text}`: {decision:?}"
        );
    }
    let decision = decide(&long_paste);
    assert!(long_paste.len() > 20_000);
    assert!(
        decision.explanation.truncated,
        "a paste past the model's limit is flagged"
    );
}

#[test]
fn negated_request_is_not_proposed() {
    for text in [
        "don't restart nginx on web-01",
        "dont isolate db-02 yet",
        "do not block 203.0.113.7",
        "no need to page anyone",
        "restart nginx on web-01? no wait, don't",
        "restart nginx on web-01 later",
        "stop blocking 203.0.113.7",
        "stop the restart of nginx on web-01",
    ] {
        let decision = decide(text);
        assert_ne!(decision.outcome, Outcome::Matched, "`{text}`: {decision:?}");
    }
}

#[test]
fn stop_traffic_and_until_are_requests() {
    for text in [
        "stop all traffic from 198.51.100.23",
        "silence ALRT-2231 until 9am tomorrow",
    ] {
        let decision = decide(text);
        assert_ne!(
            decision.explanation.decline,
            Some(warroom::intent::DeclineReason::Negated),
            "`{text}`: {decision:?}"
        );
    }
}

#[test]
fn questions_with_not_yet_are_answered() {
    for text in [
        "why is web-01 still not healthy yet?",
        "which alerts have not been acked yet",
    ] {
        let decision = decide(text);
        assert_eq!(decision.outcome, Outcome::Matched, "`{text}`: {decision:?}");
        assert_eq!(decision.risk, Some(Risk::Read), "`{text}`: {decision:?}");
    }
}

#[test]
fn decision_json_keeps_its_field_names() {
    let value = serde_json::to_value(decide("restart nginx on web-01 please")).expect("json");
    for key in [
        "text",
        "outcome",
        "intent",
        "confidence",
        "alternatives",
        "risk",
        "slots",
        "next",
    ] {
        assert!(value.get(key).is_some(), "missing key `{key}` in {value}");
    }
    let outcome = value["outcome"].as_str().unwrap_or_default();
    assert!(["matched", "ambiguous", "out_of_scope"].contains(&outcome));
}

#[test]
fn dev_split_accuracy_meets_the_targets() {
    let examples = warroom::dataset::load(Path::new("training-data/dev.jsonl")).expect("dev split");
    let embeddings =
        warroom::eval::embed_examples(matcher(), &examples, |_| {}).expect("embeddings");
    let decisions =
        warroom::eval::decide_examples(matcher(), &examples, &embeddings, matcher().config())
            .expect("decisions");
    let report = warroom::eval::evaluate(&examples, &decisions, matcher().catalog());
    // The engine's targets; measured 98.1% and 98.9% on 2026-12-05.
    assert!(
        report.in_scope_accuracy >= 0.95,
        "in-scope accuracy {}",
        report.in_scope_accuracy
    );
    assert!(
        report.oos_recall >= 0.90,
        "oos recall {}",
        report.oos_recall
    );
    assert_eq!(
        report.oos_false_accept_by_risk.get("critical").copied(),
        Some(0.0),
        "oos rows accepted as critical"
    );
}

#[test]
fn live_decisions_equal_the_eval_decisions() {
    // `decide` embeds in bfloat16 where the CPU has it and settles close
    // calls exactly; the eval embeds exactly. Both must agree on every row.
    let mut examples =
        warroom::dataset::load(Path::new("training-data/dev.jsonl")).expect("dev split");
    examples.extend(
        warroom::dataset::load(Path::new("training-data/train.jsonl")).expect("train split"),
    );
    let embeddings =
        warroom::eval::embed_examples(matcher(), &examples, |_| {}).expect("embeddings");
    let exact =
        warroom::eval::decide_examples(matcher(), &examples, &embeddings, matcher().config())
            .expect("exact decisions");
    let texts: Vec<&str> = examples
        .iter()
        .map(|example| example.text.as_str())
        .collect();
    let live = matcher().decide_batch(&texts).expect("live decisions");
    let differing: Vec<String> = exact
        .iter()
        .zip(&live)
        .filter(|(exact, live)| (exact.outcome, &exact.intent) != (live.outcome, &live.intent))
        .map(|(exact, live)| {
            format!(
                "{:?}: exact {:?} {:?}, live {:?} {:?}",
                exact.text, exact.outcome, exact.intent, live.outcome, live.intent
            )
        })
        .collect();
    assert!(differing.is_empty(), "{differing:#?}");
}

#[test]
fn shipped_catalog_has_the_26_intents() {
    let catalog = Catalog::load(Path::new("intents")).expect("shipped intents validate");
    let expected = [
        ("server.health", Risk::Read),
        ("server.logs", Risk::Read),
        ("service.status", Risk::Read),
        ("alerts.list", Risk::Read),
        ("alert.explain", Risk::Read),
        ("deploy.history", Risk::Read),
        ("incident.status", Risk::Read),
        ("incident.list", Risk::Read),
        ("vuln.lookup", Risk::Read),
        ("vuln.exposure", Risk::Read),
        ("ip.lookup", Risk::Read),
        ("hash.lookup", Risk::Read),
        ("user.activity", Risk::Read),
        ("oncall.who", Risk::Read),
        ("help", Risk::Read),
        ("service.restart", Risk::Change),
        ("patch.apply", Risk::Change),
        ("deploy.rollback", Risk::Change),
        ("incident.declare", Risk::Change),
        ("incident.resolve", Risk::Change),
        ("alert.silence", Risk::Change),
        ("oncall.page", Risk::Change),
        ("host.isolate", Risk::Critical),
        ("ip.block", Risk::Critical),
        ("user.disable", Risk::Critical),
        ("file.quarantine", Risk::Critical),
    ];
    assert_eq!(catalog.intents().len(), expected.len());
    for (name, risk) in expected {
        let intent = catalog
            .get(name)
            .unwrap_or_else(|| panic!("intent `{name}` missing"));
        assert_eq!(intent.risk, risk, "risk of `{name}`");
        assert!(intent.exemplars.len() >= 15, "exemplars of `{name}`");
        assert!(!intent.negatives.is_empty(), "negatives of `{name}`");
    }
}

/// Checks a fixture directory and returns its problems as text.
fn fixture_problems(name: &str) -> Vec<String> {
    let dir = Path::new("tests/fixtures/intents").join(name);
    let (_, problems) = Catalog::check(&dir).expect("fixture directory readable");
    problems.iter().map(ToString::to_string).collect()
}

#[test]
fn valid_fixture_has_no_problems() {
    assert_eq!(fixture_problems("valid"), Vec::<String>::new());
}

#[test]
fn invalid_fixtures_report_one_problem_each() {
    let cases = [
        ("malformed", "invalid TOML at line 4"),
        ("bad_utf8", "invalid UTF-8 at byte"),
        ("duplicate_name", "duplicate intent name"),
        (
            "shared_exemplar",
            "is also an exemplar of intent `server.health`",
        ),
    ];
    for (fixture, expected) in cases {
        let problems = fixture_problems(fixture);
        assert_eq!(problems.len(), 1, "{fixture}: {problems:?}");
        assert!(problems[0].contains(expected), "{fixture}: {}", problems[0]);
    }
}

/// Copies the shipped model into a temporary directory that a test may damage.
fn model_copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let source = Path::new("models/all-MiniLM-L6-v2");
    copy_dir(source, dir.path());
    dir
}

fn copy_dir(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).expect("model dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            std::fs::create_dir_all(&target).expect("mkdir");
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).expect("copy");
        }
    }
}

#[test]
fn truncated_weights_are_reported_as_corrupt() {
    let dir = model_copy();
    let weights = dir.path().join("model.safetensors");
    let bytes = std::fs::read(&weights).expect("weights");
    std::fs::write(&weights, &bytes[..bytes.len() / 2]).expect("truncate");
    let error = ModelFiles::open(dir.path()).expect_err("truncated weights rejected");
    assert!(
        matches!(error, ModelError::ChecksumMismatch { .. }),
        "{error}"
    );
    assert!(error.to_string().contains("is corrupt"));
}

#[test]
fn missing_tokenizer_is_named() {
    let dir = model_copy();
    std::fs::remove_file(dir.path().join("tokenizer.json")).expect("remove");
    let error = ModelFiles::open(dir.path()).expect_err("missing file rejected");
    assert!(matches!(error, ModelError::MissingFile { .. }), "{error}");
    assert!(error.to_string().contains("tokenizer.json"));
}

#[test]
fn missing_model_directory_says_what_to_do() {
    let error = ModelFiles::open(Path::new("models/no-such-model")).expect_err("rejected");
    assert!(error.to_string().contains("--model"), "{error}");
}
