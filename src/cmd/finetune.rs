//! `warroom model fine-tune`: trains the sentence encoder on labelled
//! messages and writes a new model directory.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use warroom::dataset::{self, Example};
use warroom::finetune::{
    FineTuneSettings, Label, Loss, TrainingSet, fine_tune, relative_to_working_dir, training_texts,
};
use warroom::intent::{Catalog, mask_entities};
use warroom::model::ModelFiles;

use super::{GlobalArgs, load_config};

#[derive(Debug, Args)]
pub struct FineTuneArgs {
    /// Output model directory
    #[arg(long, value_name = "DIR")]
    out: PathBuf,

    /// Train on this labelled file alone (`oos` rows as negatives) instead
    /// of the intent files' exemplars and negatives plus the config's
    /// training file
    #[arg(long, value_name = "FILE")]
    train: Option<PathBuf>,

    /// Leave every N-th row of the labelled file out of training (rows
    /// N, 2N, ...), so those rows can be used for calibration
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(2..))]
    holdout_every: Option<u32>,

    /// Training loss
    #[arg(long, value_enum, default_value = "cosine")]
    loss: Loss,

    /// Passes over the labelled texts. Each pass samples new pairs
    #[arg(long, default_value_t = 1, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1000))]
    epochs: u32,

    /// Pairs (cosine), anchors (mnrl) or texts (classify) per optimizer step
    #[arg(long, default_value_t = 16, value_name = "N", value_parser = clap::value_parser!(u32).range(2..))]
    batch_size: u32,

    /// Peak AdamW learning rate, reached after a linear warm-up over the
    /// first 10% of the steps and decayed linearly to 0
    #[arg(long, default_value_t = 2e-5, value_name = "RATE", value_parser = parse_learning_rate)]
    learning_rate: f64,

    /// Tokens per text in training, special tokens included
    #[arg(long, default_value_t = 32, value_name = "N", value_parser = clap::value_parser!(u32).range(3..=512))]
    max_tokens: u32,

    /// Stop after N optimizer steps, to bound the run time on large data
    #[arg(long, value_name = "N")]
    max_steps: Option<usize>,

    /// Also train the embedding tables (kept fixed by default, which saves time)
    #[arg(long)]
    train_embeddings: bool,

    /// Seed of the pair and batch sampling
    #[arg(long, default_value_t = 42, value_name = "N")]
    seed: u64,
}

pub fn run(
    global: &GlobalArgs,
    args: FineTuneArgs,
    out: &mut dyn Write,
) -> anyhow::Result<ExitCode> {
    let (staging, created) = prepare_out_dir(&args.out)?;
    let result = train_into(global, &args, &staging)
        .and_then(|summary| publish(&staging, &args.out).map(|()| summary));
    match result {
        Ok(summary) => {
            writeln!(out, "{summary}")?;
            Ok(ExitCode::SUCCESS)
        }
        Err(error) => {
            // Best effort: the error matters more than a leftover directory.
            let _ = std::fs::remove_dir_all(&staging);
            // Parents this run created go too, unless something else has
            // written into them meanwhile (`remove_dir` fails then).
            for dir in created.iter().rev() {
                let _ = std::fs::remove_dir(dir);
            }
            Err(error)
        }
    }
}

/// Trains and writes the model into `staging`, returning a summary of the run.
fn train_into(global: &GlobalArgs, args: &FineTuneArgs, staging: &Path) -> anyhow::Result<String> {
    let config = load_config(global)?;
    let base_dir = config.model.resolve()?;
    let base = ModelFiles::open(&base_dir)?;

    let (texts, mut inputs) = match &args.train {
        Some(path) => {
            let rows = holdout(dataset::load(path)?, args.holdout_every);
            (
                labelled_file_texts(&rows),
                vec![relative_to_working_dir(path)],
            )
        }
        None => {
            let catalog = Catalog::load(&config.intents)?;
            let mut inputs = vec![relative_to_working_dir(&config.intents)];
            let rows = match &config.training {
                Some(path) => {
                    inputs.push(relative_to_working_dir(path));
                    holdout(dataset::load(path)?, args.holdout_every)
                }
                None => Vec::new(),
            };
            (training_texts(&catalog, &rows)?, inputs)
        }
    };
    if let Some(every) = args.holdout_every {
        inputs.push(format!("without every {every}th labelled row"));
    }
    let set = TrainingSet::new(texts)?;

    let settings = FineTuneSettings {
        loss: args.loss,
        epochs: args.epochs as usize,
        batch_size: args.batch_size as usize,
        learning_rate: args.learning_rate,
        max_tokens: args.max_tokens as usize,
        freeze_embeddings: !args.train_embeddings,
        max_steps: args.max_steps,
        seed: args.seed,
        ..FineTuneSettings::default()
    };
    let command = std::iter::once("warroom".to_string())
        .chain(std::env::args().skip(1))
        .collect::<Vec<_>>()
        .join(" ");

    let progress = ProgressBar::new(0);
    progress.set_style(
        ProgressStyle::with_template("{spinner} step {pos}/{len} {wide_bar} {eta} loss {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let mut on_step = |step: warroom::finetune::StepReport| {
        progress.set_length(step.total_steps as u64);
        progress.set_position(step.step as u64);
        progress.set_message(format!("{:.4}", step.loss));
    };
    let report = fine_tune(
        &base,
        &set,
        &settings,
        staging,
        inputs,
        &command,
        &mut on_step,
    )
    .with_context(|| format!("failed to fine-tune `{}`", base_dir.display()))?;
    progress.finish_and_clear();

    if report.training.last_loss > report.training.first_loss {
        eprintln!(
            "warning: the loss rose from {:.4} to {:.4}, so the model may be worse than its base; lower `--learning-rate` and compare both with `warroom eval`",
            report.training.first_loss, report.training.last_loss
        );
    }
    Ok(format!(
        "fine-tuned on {} texts ({} intents, {} negatives): {} steps in {:.1} s, loss {:.4} -> {:.4} (mean of first and last tenth); written to {}",
        report.texts,
        report.intents,
        report.negatives,
        report.training.steps,
        report.training.elapsed.as_secs_f64(),
        report.training.first_loss,
        report.training.last_loss,
        args.out.display()
    ))
}

/// Checks that `out` is free (missing or an empty directory) and creates
/// the staging directory the model is written into before it moves to
/// `out`. So a run never overwrites a model, the base one included, an
/// unwritable path fails before training, and a killed run leaves no
/// half-written model under `out`. Also returns the parent directories it
/// had to create, outermost first, so that a failed run can remove them.
fn prepare_out_dir(out: &Path) -> anyhow::Result<(PathBuf, Vec<PathBuf>)> {
    if out.exists() {
        if !out.is_dir() {
            anyhow::bail!(
                "output `{}` is a file; choose a new directory for the fine-tuned model",
                out.display()
            );
        }
        let mut entries = std::fs::read_dir(out)
            .with_context(|| format!("failed to read output directory `{}`", out.display()))?;
        if entries.next().is_some() {
            anyhow::bail!(
                "output directory `{}` is not empty; choose a new directory for the fine-tuned model",
                out.display()
            );
        }
    }
    let name = out
        .file_name()
        .with_context(|| format!("invalid output directory `{}`", out.display()))?;
    let parent = match out.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let staging = parent.join(format!(
        ".{}.{}.partial",
        name.to_string_lossy(),
        std::process::id()
    ));
    let mut created: Vec<PathBuf> = parent
        .ancestors()
        .take_while(|dir| !dir.as_os_str().is_empty() && !dir.exists())
        .map(Path::to_path_buf)
        .collect();
    created.reverse();
    std::fs::create_dir_all(&staging)
        .with_context(|| format!("failed to create directory `{}`", staging.display()))?;
    Ok((staging, created))
}

/// Moves the finished model from `staging` to `out`, which must still be
/// missing or empty (a rename replaces only an empty directory).
fn publish(staging: &Path, out: &Path) -> anyhow::Result<()> {
    std::fs::rename(staging, out).with_context(|| {
        format!(
            "failed to move the fine-tuned model from `{}` to `{}`: another run may have written there meanwhile",
            staging.display(),
            out.display()
        )
    })
}

/// Parses a learning rate, which must be a finite number above 0.
fn parse_learning_rate(value: &str) -> Result<f64, String> {
    let rate: f64 = value
        .parse()
        .map_err(|_| format!("`{value}` is not a number"))?;
    if !rate.is_finite() || rate <= 0.0 {
        return Err(format!(
            "`{value}` is not a positive finite number; try 2e-5"
        ));
    }
    Ok(rate)
}

/// Drops rows N, 2N, ... (1-based) when `every` is given, the rows that
/// `warroom eval --holdout-every N` evaluates on.
fn holdout(rows: Vec<Example>, every: Option<u32>) -> Vec<Example> {
    let Some(every) = every else {
        return rows;
    };
    let every = every as usize;
    rows.into_iter()
        .enumerate()
        .filter(|(index, _)| index % every != every - 1)
        .map(|(_, row)| row)
        .collect()
}

/// Returns the labelled texts of one file, entity-masked, with `oos` rows
/// as negatives.
fn labelled_file_texts(rows: &[Example]) -> Vec<(String, Label)> {
    rows.iter()
        .map(|row| {
            let label = if row.is_out_of_scope() {
                Label::Negative
            } else {
                Label::Intent(row.intent.clone())
            };
            (mask_entities(&row.text).into_owned(), label)
        })
        .collect()
}
