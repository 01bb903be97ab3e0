//! Contrastive fine-tuning of the sentence encoder on labelled messages, as
//! SetFit trains its body, saved as a new model directory.

mod bert;
mod pairs;
mod save;
mod tokens;
mod train;

use std::path::{Path, PathBuf};

use crate::dataset::Example;
use crate::intent::{Catalog, mask_entities};
use crate::model::{FineTuneRecord, ModelError, ModelFiles, PROVENANCE_FILE, Provenance};

pub use bert::{TokenBatch, TrainableBert};
pub use pairs::{Label, Pair, TrainingSet, Triplet};
pub use tokens::TrainingTokenizer;
pub use train::{FineTuneSettings, Loss, StepReport, TrainingReport, train};

/// Errors raised while fine-tuning.
#[derive(Debug, thiserror::Error)]
pub enum FineTuneError {
    #[error(transparent)]
    Model(#[from] ModelError),

    #[error("invalid model config `{}`", path.display())]
    Config {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },

    #[error("failed to load tokenizer `{}`: {message}", path.display())]
    Tokenizer { path: PathBuf, message: String },

    #[error("failed to tokenize `{text}`: {message}")]
    Tokenize { text: String, message: String },

    #[error(
        "labels {} are no intent of the catalog; fix the labels or use `oos`",
        labels.iter().map(|label| format!("`{label}`")).collect::<Vec<_>>().join(", ")
    )]
    UnknownLabels { labels: Vec<String> },

    #[error(
        "cannot fine-tune on {intents} intent(s), {usable} with two or more distinct texts (texts that are equal once identifiers are masked count once): need at least two such intents"
    )]
    TooFewExamples { intents: usize, usable: usize },

    #[error("no training batches: `--epochs` and `--max-steps` must be at least 1")]
    NoBatches,

    #[error(
        "training diverged at step {step} (the loss is not a finite number); lower `--learning-rate`"
    )]
    Diverged { step: usize },

    #[error(
        "the trained weights `{tensor}` contain values that are not finite or too large for f16; lower `--learning-rate`"
    )]
    NonFiniteWeights { tensor: String },

    #[error("model computation failed")]
    Tensor(#[from] candle_core::Error),
}

/// Summary of a fine-tuning run and the directory it wrote.
#[derive(Debug)]
pub struct FineTuneReport {
    pub out_dir: PathBuf,
    pub texts: usize,
    pub intents: usize,
    pub negatives: usize,
    pub training: TrainingReport,
}

/// Labelled texts from the catalog and labelled rows, entity-masked as the
/// matcher masks messages before embedding them. Exemplars and rows
/// labelled with an intent are examples of it. Negative exemplars and
/// `oos` rows are negatives. Fails on a row label that is no intent.
pub fn training_texts(
    catalog: &Catalog,
    rows: &[Example],
) -> Result<Vec<(String, Label)>, FineTuneError> {
    let masked = |text: &str| mask_entities(text).into_owned();
    let mut texts = Vec::new();
    for intent in catalog.intents() {
        let name = intent.name.as_str();
        for exemplar in &intent.exemplars {
            texts.push((masked(exemplar), Label::Intent(name.to_string())));
        }
        for negative in &intent.negatives {
            texts.push((masked(negative), Label::Negative));
        }
    }

    let mut unknown = Vec::new();
    for row in rows {
        let label = if row.is_out_of_scope() {
            Label::Negative
        } else if catalog.get(&row.intent).is_some() {
            Label::Intent(row.intent.clone())
        } else {
            unknown.push(row.intent.clone());
            continue;
        };
        texts.push((masked(&row.text), label));
    }
    if !unknown.is_empty() {
        unknown.sort_unstable();
        unknown.dedup();
        return Err(FineTuneError::UnknownLabels { labels: unknown });
    }
    Ok(texts)
}

/// Fine-tunes the model in `base` on `set` and writes the result, weights
/// in f16, to `out_dir` with the base's other files and a provenance file.
/// `inputs` names the files the texts came from and `command` is the
/// command line, both recorded in the provenance file.
pub fn fine_tune(
    base: &ModelFiles,
    set: &TrainingSet,
    settings: &FineTuneSettings,
    out_dir: &Path,
    inputs: Vec<String>,
    command: &str,
    on_step: &mut dyn FnMut(StepReport),
) -> Result<FineTuneReport, FineTuneError> {
    let config_path = base.config_path();
    let config_text = std::fs::read(&config_path).map_err(|source| ModelError::Read {
        path: config_path.clone(),
        source,
    })?;
    let config = serde_json::from_slice(&config_text).map_err(|source| FineTuneError::Config {
        path: config_path,
        source,
    })?;
    let model = TrainableBert::load(&base.weights, &config, settings.freeze_embeddings)?;
    let tokenizer = TrainingTokenizer::load(&base.tokenizer_path(), settings.max_tokens)?;

    let training = train(&model, &tokenizer, set, settings, on_step)?;

    let record = FineTuneRecord {
        base_model: relative_to_working_dir(&base.dir),
        base_weights_sha256: base.id.to_string(),
        inputs,
        inputs_sha256: set.fingerprint().to_string(),
        texts: set.len(),
        loss: format!("{:?}", settings.loss).to_lowercase(),
        seed: settings.seed,
        epochs: settings.epochs,
        steps: training.steps,
        batch_size: settings.batch_size,
        learning_rate: settings.learning_rate,
        max_tokens: settings.max_tokens,
        freeze_embeddings: settings.freeze_embeddings,
    };
    save::write_model_dir(base, &model, out_dir, command, record)?;

    Ok(FineTuneReport {
        out_dir: out_dir.to_path_buf(),
        texts: set.len(),
        intents: set.intent_count(),
        negatives: set.negative_count(),
        training,
    })
}

/// Returns `path` relative to the working directory when it lies below it,
/// so a provenance file committed with a model names no machine's paths.
pub fn relative_to_working_dir(path: &Path) -> String {
    std::env::current_dir()
        .ok()
        .and_then(|dir| path.strip_prefix(dir).ok())
        .unwrap_or(path)
        .display()
        .to_string()
}

/// Returns whether the fine-tuned model in `model_dir` was trained on
/// exactly the texts of `catalog` and `rows`, by the fingerprint in its
/// provenance file. Returns `None` when the directory was not fine-tuned.
pub fn trained_on(
    model_dir: &Path,
    catalog: &Catalog,
    rows: &[Example],
) -> Result<Option<bool>, FineTuneError> {
    let path = model_dir.join(PROVENANCE_FILE);
    if !path.is_file() {
        return Ok(None);
    }
    let Some(record) = Provenance::load(&path)?.fine_tune else {
        return Ok(None);
    };
    let set = TrainingSet::new(training_texts(catalog, rows)?)?;
    Ok(Some(set.fingerprint() == record.inputs_sha256))
}
