//! `warroom calibrate`: picks matcher thresholds from labelled development
//! data and writes them into the config file.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use warroom::config::CONFIG_FILE;
use warroom::eval::{HeadUse, Target};

use super::eval::{calibrate_on, load_matcher};
use super::{GlobalArgs, load_config};

#[derive(Debug, Args)]
pub struct CalibrateArgs {
    /// Labelled JSON Lines to calibrate on (`{"text","intent"}`, `oos` for out of scope)
    #[arg(long, value_name = "FILE")]
    dev: PathBuf,

    /// Take exemplars from this labelled file instead of the intent files
    #[arg(long, value_name = "FILE")]
    train: Option<PathBuf>,

    /// Lowest share of `oos` rows that must be declined
    #[arg(long, default_value_t = 0.9, value_name = "RATIO")]
    min_oos_recall: f64,

    /// Most `oos` rows that may be accepted as a `critical` intent
    #[arg(long, default_value_t = 0, value_name = "COUNT")]
    max_critical_false_accepts: usize,

    /// Write the chosen settings into the config file's `[matcher]` table
    #[arg(long)]
    write: bool,
}

/// Folds of cross-fitting when calibrating on the head's training rows.
const CROSS_FIT_FOLDS: usize = 5;

pub fn run(
    global: &GlobalArgs,
    args: CalibrateArgs,
    out: &mut dyn Write,
) -> anyhow::Result<ExitCode> {
    if !(0.0..=1.0).contains(&args.min_oos_recall) {
        anyhow::bail!(
            "--min-oos-recall is {}, expected a ratio from 0 to 1",
            args.min_oos_recall
        );
    }
    let config = load_config(global)?;
    let train_rows = match &args.train {
        Some(path) => Some(warroom::dataset::load(path)?),
        None => None,
    };
    let matcher = load_matcher(&config, train_rows.as_deref())?;
    let target = Target {
        min_oos_recall: args.min_oos_recall,
        max_critical_false_accepts: args.max_critical_false_accepts,
    };
    // Calibrating on the head's own training rows would judge the head on
    // rows it has seen, so those rows are scored by cross-fitted heads.
    let same_file = |a: &std::path::Path, b: &std::path::Path| matches!((a.canonicalize(), b.canonicalize()), (Ok(a), Ok(b)) if a == b);
    let head_use = match &config.training {
        Some(training) if args.train.is_none() && same_file(training, &args.dev) => {
            HeadUse::CrossFitted {
                folds: CROSS_FIT_FOLDS,
                training: config.head,
            }
        }
        _ => HeadUse::Installed,
    };
    let calibration = calibrate_on(&matcher, &args.dev, target, head_use)?;

    let status = if calibration.target_met {
        "target met"
    } else {
        "target NOT met, showing the settings with the highest out-of-scope recall"
    };
    writeln!(
        out,
        "{status}: in-scope accuracy {:.1}%, oos recall {:.1}%, critical false accepts {} ({} settings tried)",
        calibration.in_scope_accuracy * 100.0,
        calibration.oos_recall * 100.0,
        calibration.critical_false_accepts,
        calibration.candidates
    )?;
    let mut table = toml::Table::new();
    table.insert(
        "matcher".to_string(),
        toml::Value::try_from(calibration.config).context("failed to format settings")?,
    );
    let settings = toml::to_string(&table).context("failed to format settings")?;
    writeln!(out, "{settings}")?;

    if args.write {
        let path = config
            .source
            .clone()
            .unwrap_or_else(|| PathBuf::from(CONFIG_FILE));
        warroom::config::write_matcher(&path, &calibration.config)
            .with_context(|| format!("failed to write `{}`", path.display()))?;
        writeln!(out, "written to {}", path.display())?;
    }
    Ok(if calibration.target_met {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
