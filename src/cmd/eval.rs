//! `warroom eval`: measures intent accuracy and out-of-scope rejection on labelled data.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use warroom::config::Config;
use warroom::dataset::{self, Example};
use warroom::embed::Embedding;
use warroom::eval::{
    Calibration, HeadUse, Report, Target, calibrate, decide_examples, embed_examples, evaluate,
    write_report,
};
use warroom::intent::{Decision, EmbeddingCache, Matcher, MatcherConfig};

use super::{GlobalArgs, load_config};

#[derive(Debug, Args)]
pub struct EvalArgs {
    /// Labelled JSON Lines to evaluate (`{"text","intent"}`, `oos` for out of scope)
    #[arg(long, value_name = "FILE", required_unless_present = "holdout_every")]
    data: Option<PathBuf>,

    /// With --train and no --data: hold out every N-th row of the training
    /// file and evaluate on those rows, for datasets without a test split
    #[arg(long, value_name = "N", requires = "train", conflicts_with = "data", value_parser = clap::value_parser!(u32).range(2..))]
    holdout_every: Option<u32>,

    /// Take exemplars from this labelled file instead of the intent files
    #[arg(long, value_name = "FILE")]
    train: Option<PathBuf>,

    /// Calibrate thresholds on this labelled file first, instead of using
    /// those of the config
    #[arg(long, value_name = "FILE")]
    dev: Option<PathBuf>,

    /// With --dev: lowest out-of-scope recall the thresholds must reach on it
    #[arg(long, default_value_t = 0.9, value_name = "RATIO")]
    min_oos_recall: f64,

    /// Accept every message as its best intent (no thresholds), as
    /// benchmarks without out-of-scope rows are scored
    #[arg(long, conflicts_with = "dev")]
    no_reject: bool,

    /// Print the report as one JSON object
    #[arg(long)]
    json: bool,

    /// Also write a report page with charts (index.html) into DIR
    #[arg(long, value_name = "DIR")]
    report: Option<PathBuf>,

    /// Also write every row's decision and label as JSON Lines to FILE
    #[arg(long, value_name = "FILE")]
    decisions: Option<PathBuf>,
}

pub fn run(global: &GlobalArgs, args: EvalArgs, out: &mut dyn Write) -> anyhow::Result<ExitCode> {
    let config = load_config(global)?;
    let train_rows = match &args.train {
        Some(path) => Some(dataset::load(path)?),
        None => None,
    };
    let (examples, train_rows, source) = match (&args.data, args.holdout_every, train_rows) {
        (Some(path), _, train_rows) => {
            (dataset::load(path)?, train_rows, path.display().to_string())
        }
        (None, Some(every), Some(rows)) => {
            let every = every as usize;
            let (held_out, kept): (Vec<_>, Vec<_>) = rows
                .into_iter()
                .enumerate()
                .partition(|(index, _)| index % every == every - 1);
            let strip = |rows: Vec<(usize, Example)>| {
                rows.into_iter().map(|(_, row)| row).collect::<Vec<_>>()
            };
            (
                strip(held_out),
                Some(strip(kept)),
                format!("every {every}th row of the training file"),
            )
        }
        _ => anyhow::bail!("pass --data FILE, or --train FILE with --holdout-every N"),
    };
    if examples.is_empty() {
        anyhow::bail!("{source} has no labelled rows");
    }
    let matcher = load_matcher(&config, train_rows.as_deref())?;
    let mut unknown: Vec<&str> = examples
        .iter()
        .filter(|example| !example.is_out_of_scope())
        .map(|example| example.intent.as_str())
        .filter(|label| matcher.catalog().get(label).is_none())
        .collect();
    unknown.sort_unstable();
    unknown.dedup();
    if !unknown.is_empty() {
        tracing::warn!(
            labels = %unknown.join(", "),
            "labels that are no intent of the catalog count as errors; fix the labels or use `oos`"
        );
    }

    let settings = match &args.dev {
        Some(dev) => {
            let target = Target {
                min_oos_recall: args.min_oos_recall,
                max_critical_false_accepts: 0,
            };
            let calibration = calibrate_on(&matcher, dev, target, HeadUse::Installed)?;
            if !calibration.target_met {
                tracing::warn!(
                    oos_recall = calibration.oos_recall,
                    "calibration did not reach the out-of-scope recall target"
                );
            }
            calibration.config
        }
        None if args.no_reject => MatcherConfig::accept_all(),
        None => *matcher.config(),
    };

    let embeddings = embed_with_progress(&matcher, &examples)?;
    let decisions = decide_examples(&matcher, &examples, &embeddings, &settings)?;
    let report = evaluate(&examples, &decisions, matcher.catalog());
    if let Some(path) = &args.decisions {
        write_decisions(path, &examples, &decisions)
            .with_context(|| format!("failed to write decisions to `{}`", path.display()))?;
    }
    if let Some(dir) = &args.report {
        let page = write_report(dir, &report, &examples, &decisions)
            .with_context(|| format!("failed to write the report into `{}`", dir.display()))?;
        tracing::info!(page = %page.display(), "report written");
        if !args.json {
            writeln!(out, "report: {}", page.display())?;
        }
    }
    if args.json {
        serde_json::to_writer(&mut *out, &report)?;
        writeln!(out)?;
    } else {
        write_text(&report, out)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Builds the matcher from the intent files, or from labelled rows used as
/// exemplars when `train` is given.
pub(super) fn load_matcher(config: &Config, train: Option<&[Example]>) -> anyhow::Result<Matcher> {
    let Some(rows) = train else {
        return Ok(warroom::engine::load_matcher(config)?);
    };
    let catalog = warroom::eval::catalog_from_examples(rows)
        .context("cannot use the training rows as exemplars")?;
    let embedder = Arc::new(warroom::engine::load_embedder(&config.model)?);
    let mut cache = match EmbeddingCache::open(&config.cache) {
        Ok(cache) => Some(cache),
        Err(error) => {
            tracing::warn!(error = %error, "embedding cache unavailable");
            None
        }
    };
    let mut matcher = Matcher::new(catalog, embedder, config.matcher, cache.as_mut())?;
    // The training file's rows are already the catalog's exemplars, so the
    // head learns from them alone.
    let head = warroom::engine::train_head(&matcher, &[], config.head, cache.as_mut())?;
    matcher.set_head(Some(head));
    Ok(matcher)
}

/// Calibrates the matcher's settings on a labelled development file.
pub(super) fn calibrate_on(
    matcher: &Matcher,
    dev: &Path,
    target: Target,
    head_use: HeadUse,
) -> anyhow::Result<Calibration> {
    let examples = dataset::load(dev)?;
    let embeddings = embed_with_progress(matcher, &examples)?;
    Ok(calibrate(
        matcher,
        &examples,
        &embeddings,
        target,
        head_use,
    )?)
}

/// Embeds every row, showing progress on standard error.
fn embed_with_progress(
    matcher: &Matcher,
    examples: &[Example],
) -> anyhow::Result<Vec<Option<Embedding>>> {
    let progress = ProgressBar::new(examples.len() as u64);
    progress.set_style(
        ProgressStyle::with_template("{spinner} embedding {pos}/{len} messages {wide_bar} {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let embeddings = embed_examples(matcher, examples, |done| progress.inc(done as u64))?;
    progress.finish_and_clear();
    Ok(embeddings)
}

fn write_decisions(
    path: &std::path::Path,
    examples: &[Example],
    decisions: &[Decision],
) -> anyhow::Result<()> {
    let mut file = std::io::BufWriter::new(std::fs::File::create(path)?);
    for (example, decision) in examples.iter().zip(decisions) {
        let row = serde_json::json!({ "label": example.intent, "decision": decision });
        serde_json::to_writer(&mut file, &row)?;
        writeln!(file)?;
    }
    file.flush()?;
    Ok(())
}

fn write_text(report: &Report, out: &mut dyn Write) -> anyhow::Result<()> {
    let percent = |value: f64| format!("{:.1}%", value * 100.0);
    writeln!(
        out,
        "rows: {} ({} in scope, {} out of scope, {} ambiguous)",
        report.n, report.in_scope_rows, report.oos_rows, report.ambiguous_rows
    )?;
    writeln!(out, "accuracy:           {}", percent(report.accuracy))?;
    writeln!(
        out,
        "in-scope accuracy:  {}",
        percent(report.in_scope_accuracy)
    )?;
    writeln!(out, "oos recall:         {}", percent(report.oos_recall))?;
    writeln!(out, "oos precision:      {}", percent(report.oos_precision))?;
    writeln!(out, "macro F1:           {:.3}", report.macro_f1)?;
    writeln!(out, "AUROC (confidence): {:.3}", report.auroc)?;
    for (risk, rate) in &report.oos_false_accept_by_risk {
        writeln!(out, "oos accepted as {risk:<8} {}", percent(*rate))?;
    }
    if !report.confusions.is_empty() {
        writeln!(out, "most confused (expected -> predicted):")?;
        for confusion in &report.confusions {
            writeln!(
                out,
                "  {:>3}  {} -> {}",
                confusion.count, confusion.expected, confusion.predicted
            )?;
        }
    }
    writeln!(out, "per label (precision / recall / F1, support):")?;
    for scores in &report.per_label {
        writeln!(
            out,
            "  {:<20} {:.2} / {:.2} / {:.2}  {}",
            scores.label, scores.precision, scores.recall, scores.f1, scores.support
        )?;
    }
    Ok(())
}
