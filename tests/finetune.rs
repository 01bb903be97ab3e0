//! `warroom model fine-tune`: a short run writes a model directory that
//! verifies, loads and records how it was made.

use std::path::Path;
use std::process::{Command, Output};

fn warroom(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_warroom"))
        .args(args)
        .output()
        .expect("the warroom binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

const TRAIN_ROWS: &str = r#"{"text": "restart nginx on web-01", "intent": "service.restart"}
{"text": "bounce postgres on db-02 please", "intent": "service.restart"}
{"text": "can you restart redis on cache-03", "intent": "service.restart"}
{"text": "block 203.0.113.7 for a day", "intent": "ip.block"}
{"text": "ban 198.51.100.20 at the firewall", "intent": "ip.block"}
{"text": "drop all traffic from 192.0.2.44", "intent": "ip.block"}
{"text": "thanks, that fixed it", "intent": "oos"}
{"text": "what's for lunch", "intent": "oos"}
"#;

/// Returns the arguments that fine-tune the shipped base model on `train`
/// into `out`.
fn base_fine_tune<'a>(out: &'a Path, train: &'a Path) -> Vec<&'a str> {
    vec![
        "--model",
        "models/all-MiniLM-L6-v2",
        "model",
        "fine-tune",
        "--out",
        out.to_str().unwrap(),
        "--train",
        train.to_str().unwrap(),
    ]
}

/// Fine-tunes the shipped base model for two steps on a small file.
fn fine_tune(dir: &Path) -> std::path::PathBuf {
    let train = dir.join("train.jsonl");
    std::fs::write(&train, TRAIN_ROWS).unwrap();
    let out = dir.join("tuned");
    let mut args = base_fine_tune(&out, &train);
    args.extend([
        "--loss",
        "cosine",
        "--max-steps",
        "2",
        "--batch-size",
        "4",
        "--max-tokens",
        "16",
    ]);
    let output = warroom(&args);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(
        text(&output.stdout).contains("2 steps"),
        "{}",
        text(&output.stdout)
    );
    out
}

#[test]
fn short_fine_tune_writes_a_verified_model() {
    let dir = tempfile::tempdir().unwrap();
    let out = fine_tune(dir.path());

    let verify = warroom(&["model", "verify", out.to_str().unwrap()]);
    assert!(verify.status.success(), "{}", text(&verify.stderr));

    let provenance: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("provenance.json")).unwrap()).unwrap();
    let record = &provenance["fine_tune"];
    assert_eq!(record["steps"], 2, "{provenance}");
    assert_eq!(record["seed"], 42);
    assert!(
        record["base_model"]
            .as_str()
            .is_some_and(|path| path.ends_with("models/all-MiniLM-L6-v2")),
        "{record}"
    );

    let card = std::fs::read_to_string(out.join("README.md")).unwrap();
    assert!(card.starts_with("# Fine-tuned by warroom"), "{card}");

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
        assert_eq!(
            mode(&out.join("model.safetensors")),
            mode(Path::new("models/all-MiniLM-L6-v2/model.safetensors"))
        );
    }

    let embed = warroom(&["--model", out.to_str().unwrap(), "embed", "--json", "hello"]);
    assert!(embed.status.success(), "{}", text(&embed.stderr));
    let value: serde_json::Value = serde_json::from_slice(&embed.stdout).unwrap();
    assert_eq!(value["embedding"].as_array().map(Vec::len), Some(384));
}

#[test]
fn check_notes_stale_fine_tune() {
    let dir = tempfile::tempdir().unwrap();
    let out = fine_tune(dir.path());
    let root = std::env::current_dir().unwrap();
    let config = dir.path().join("warroom.toml");
    std::fs::write(
        &config,
        format!(
            "model = {:?}\nintents = {:?}\ntraining = {:?}\n",
            out.display().to_string(),
            root.join("intents").display().to_string(),
            root.join("training-data/train.jsonl").display().to_string(),
        ),
    )
    .unwrap();

    let check = warroom(&["--config", config.to_str().unwrap(), "check"]);
    let stdout = text(&check.stdout);
    assert!(check.status.success(), "{stdout}{}", text(&check.stderr));
    assert!(
        stdout.contains("was fine-tuned on other exemplars or training rows"),
        "{stdout}"
    );
}

#[test]
fn fine_tune_rejects_a_non_empty_out_dir() {
    let dir = tempfile::tempdir().unwrap();
    let train = dir.path().join("train.jsonl");
    std::fs::write(&train, TRAIN_ROWS).unwrap();
    let output = warroom(&base_fine_tune(
        Path::new("models/all-MiniLM-L6-v2"),
        &train,
    ));
    assert!(!output.status.success());
    assert!(
        text(&output.stderr).contains("is not empty"),
        "{}",
        text(&output.stderr)
    );
    let verify = warroom(&["model", "verify", "models/all-MiniLM-L6-v2"]);
    assert!(verify.status.success(), "{}", text(&verify.stderr));
}

#[test]
fn failed_fine_tune_leaves_no_directory() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("new/parent/tuned");
    let missing = dir.path().join("missing.jsonl");
    let output = warroom(&base_fine_tune(&out, &missing));
    assert!(!output.status.success());
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn non_finite_learning_rate_is_rejected() {
    for rate in ["NaN", "inf", "0", "-0.001"] {
        let output = warroom(&[
            "model",
            "fine-tune",
            "--out",
            "unused",
            &format!("--learning-rate={rate}"),
        ]);
        assert!(!output.status.success(), "{rate}");
        assert!(
            text(&output.stderr).contains("positive finite number"),
            "{rate}: {}",
            text(&output.stderr)
        );
    }
}

/// Returns the first and last loss of a fine-tune's summary line,
/// "... loss A -> B (mean of first and last tenth) ...".
fn losses(stdout: &str) -> (f32, f32) {
    let tail = stdout
        .split(", loss ")
        .nth(1)
        .expect("a loss in the summary");
    let mut numbers = tail
        .split([' ', '(', ';'])
        .filter_map(|word| word.parse::<f32>().ok());
    let first = numbers.next().expect("a first loss");
    let last = numbers.next().expect("a last loss");
    (first, last)
}

#[test]
fn classify_loss_falls_on_a_small_set() {
    let dir = tempfile::tempdir().unwrap();
    let (output, out) = classify_run(
        dir.path(),
        &[
            "--epochs",
            "8",
            "--batch-size",
            "8",
            "--learning-rate",
            "1e-4",
        ],
    );
    let stdout = text(&output.stdout);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(stdout.contains("8 steps"), "{stdout}");
    let (first, last) = losses(&stdout);
    assert!(last < first, "loss rose from {first} to {last}: {stdout}");

    let provenance: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("provenance.json")).unwrap()).unwrap();
    assert_eq!(provenance["fine_tune"]["loss"], "classify", "{provenance}");
}

/// Fine-tunes the base model on the small file with the classification
/// loss and `extra` arguments, and returns the output and the output directory.
fn classify_run(dir: &Path, extra: &[&str]) -> (Output, std::path::PathBuf) {
    let train = dir.join("train.jsonl");
    std::fs::write(&train, TRAIN_ROWS).unwrap();
    let out = dir.join("tuned");
    let mut args = base_fine_tune(&out, &train);
    args.extend(["--loss", "classify", "--max-tokens", "16"]);
    args.extend(extra);
    (warroom(&args), out)
}

#[test]
fn overflowing_weights_are_not_written() {
    let dir = tempfile::tempdir().unwrap();
    let (output, out) = classify_run(dir.path(), &["--max-steps", "1", "--learning-rate", "1e6"]);
    let stderr = text(&output.stderr);
    assert!(!output.status.success(), "{}", text(&output.stdout));
    assert!(
        stderr.contains("not finite or too large for f16"),
        "{stderr}"
    );
    assert!(stderr.contains("lower `--learning-rate`"), "{stderr}");
    assert!(!out.exists());
}

#[test]
fn rising_loss_is_warned_about() {
    let dir = tempfile::tempdir().unwrap();
    let (output, _) = classify_run(dir.path(), &["--batch-size", "4", "--learning-rate", "10"]);
    let stderr = text(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(stderr.contains("warning: the loss rose"), "{stderr}");
}
