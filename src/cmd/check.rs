//! `warroom check`: validates the intent files, the labelled data and the
//! config, reporting every problem in one pass.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;
use warroom::config::Config;
use warroom::dataset::{self, OUT_OF_SCOPE};
use warroom::finetune;
use warroom::intent::{Catalog, normalize_text};
use warroom::model::ModelSpec;

use super::GlobalArgs;

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Labelled JSON Lines files to check [default: training-data/*.jsonl]
    #[arg(long = "data", value_name = "FILE")]
    data: Vec<PathBuf>,
}

pub fn run(global: &GlobalArgs, args: CheckArgs, out: &mut dyn Write) -> anyhow::Result<ExitCode> {
    let mut problems: Vec<String> = Vec::new();

    let config = match Config::load(global.config.as_deref()) {
        Ok(config) => Some(config),
        Err(error) => {
            problems.push(format!("{error:#}"));
            None
        }
    };
    let intents_dir = global
        .intents
        .clone()
        .or_else(|| config.as_ref().map(|config| config.intents.clone()))
        .unwrap_or_else(|| PathBuf::from("intents"));

    let (catalog, catalog_problems) = Catalog::check(&intents_dir)?;
    problems.extend(catalog_problems.iter().map(ToString::to_string));

    let data_files = if args.data.is_empty() {
        default_data_files(Path::new("training-data"))
    } else {
        args.data
    };
    let mut data_rows = 0;
    let mut seen_in: HashMap<String, PathBuf> = HashMap::new();
    let catalog_texts = catalog.as_ref().map(catalog_texts).unwrap_or_default();
    for file in &data_files {
        let (examples, line_problems) = dataset::check(file)?;
        if examples.is_empty() && line_problems.is_empty() {
            problems.push(format!(
                "{}: no labelled rows; add JSON lines such as {{\"text\": \"restart nginx on web-01\", \"intent\": \"service.restart\"}}",
                file.display()
            ));
        }
        problems.extend(line_problems.iter().map(ToString::to_string));
        data_rows += examples.len();
        for example in &examples {
            // Intents with problems are left out of the catalog, so their
            // rows are only judged once the intent files are clean.
            let known = example.intent == OUT_OF_SCOPE
                || !catalog_problems.is_empty()
                || catalog
                    .as_ref()
                    .is_none_or(|catalog| catalog.get(&example.intent).is_some());
            if !known {
                problems.push(format!(
                    "{}: intent `{}` of `{}` is not in the catalog; use an intent name or `oos`",
                    file.display(),
                    example.intent,
                    example.text
                ));
            }
            let key = normalize_text(&example.text);
            if let Some(intent) = catalog_texts.get(&key) {
                problems.push(format!(
                    "{}: `{}` is also an exemplar or negative of `{intent}`; labelled data must be distinct from the catalog",
                    file.display(),
                    example.text
                ));
            }
            if let Some(other) = seen_in.get(&key).filter(|other| *other != file) {
                problems.push(format!(
                    "{}: `{}` also appears in `{}`",
                    file.display(),
                    example.text,
                    other.display()
                ));
            }
            seen_in.insert(key, file.clone());
        }
    }

    if problems.is_empty()
        && let (Some(config), Some(catalog)) = (&config, &catalog)
        && let Some(note) = stale_fine_tune(config, catalog)?
    {
        writeln!(out, "{note}")?;
    }

    if problems.is_empty() {
        let intents = catalog
            .as_ref()
            .map_or(0, |catalog| catalog.intents().len());
        writeln!(
            out,
            "ok: {intents} intents in {}, {data_rows} labelled rows in {} file(s)",
            intents_dir.display(),
            data_files.len()
        )?;
        Ok(ExitCode::SUCCESS)
    } else {
        for problem in &problems {
            writeln!(out, "{problem}")?;
        }
        writeln!(out, "{} problem(s) found", problems.len())?;
        Ok(ExitCode::from(1))
    }
}

/// Returns a note when the configured model was fine-tuned on other
/// intents or training rows than the current ones. It still works, but a
/// new fine-tune would fit the catalog better.
fn stale_fine_tune(config: &Config, catalog: &Catalog) -> anyhow::Result<Option<String>> {
    let ModelSpec::Dir(model_dir) = &config.model else {
        return Ok(None);
    };
    let rows = match &config.training {
        Some(path) => dataset::load(path)?,
        None => Vec::new(),
    };
    if finetune::trained_on(model_dir, catalog, &rows)? != Some(false) {
        return Ok(None);
    }
    Ok(Some(format!(
        "note: model `{}` was fine-tuned on other exemplars or training rows than these; \
         it still works, and `warroom --model <base model> model fine-tune --out <new directory>` \
         with the settings in its provenance.json fits a model to them (then set `model` in the config to it)",
        model_dir.display()
    )))
}

fn default_data_files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "jsonl"))
        .collect();
    files.sort();
    files
}

/// Normalised exemplar and negative texts, mapped to their intent.
fn catalog_texts(catalog: &Catalog) -> HashMap<String, String> {
    let mut texts = HashMap::new();
    for intent in catalog.intents() {
        for text in intent.exemplars.iter().chain(&intent.negatives) {
            texts.insert(normalize_text(text), intent.name.to_string());
        }
    }
    texts
}
