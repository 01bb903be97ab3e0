//! The provenance file of a model directory: where each file came from and its sha256.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::ModelError;

/// Name of the provenance file inside a model directory.
pub const PROVENANCE_FILE: &str = "provenance.json";

/// Record of how a model directory was produced.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Provenance {
    /// Where the original files came from (a Hugging Face repo id or a path).
    pub source: String,
    /// Licence of the model, as an SPDX identifier.
    pub license: String,
    /// The command that produced this directory.
    pub command: String,
    /// Element type of the weights in this directory (`f16`, `f32`, ...).
    pub dtype: String,
    /// Every file of the directory except this one, by relative path.
    pub files: BTreeMap<String, ProvenanceFile>,
    /// Fine-tuning inputs and settings, for directories written by
    /// `warroom model fine-tune`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fine_tune: Option<FineTuneRecord>,
}

/// The inputs and settings of a fine-tuning run, enough to repeat it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FineTuneRecord {
    /// The model directory training started from.
    pub base_model: String,
    /// sha256 of the base model's weights file.
    pub base_weights_sha256: String,
    /// The files the labelled texts were read from.
    pub inputs: Vec<String>,
    /// sha256 of the labelled texts as trained on, one `label<TAB>text`
    /// line each after entity masking, `oos` marking negatives.
    pub inputs_sha256: String,
    /// Distinct labelled texts trained on.
    pub texts: usize,
    pub loss: String,
    pub seed: u64,
    pub epochs: usize,
    pub steps: usize,
    pub batch_size: usize,
    pub learning_rate: f64,
    pub max_tokens: usize,
    pub freeze_embeddings: bool,
}

/// Checksums of one file of a model directory.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProvenanceFile {
    /// sha256 of the file as it is in this directory.
    pub sha256: String,
    /// sha256 of the original file it was made from, where it differs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_sha256: Option<String>,
}

impl Provenance {
    pub fn load(path: &Path) -> Result<Self, ModelError> {
        let text = fs::read(path).map_err(|source| ModelError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        serde_json::from_slice(&text).map_err(|source| ModelError::Json {
            path: path.to_path_buf(),
            source,
        })
    }

    /// Checks that every listed file exists with its recorded sha256.
    /// `known` is a file whose hash the caller already computed, so a large
    /// weights file is hashed only once.
    pub fn verify(&self, dir: &Path, known: &str, known_hash: &str) -> Result<(), ModelError> {
        for (name, file) in &self.files {
            let path = dir.join(name);
            let actual = if name == known {
                known_hash.to_string()
            } else {
                let bytes = fs::read(&path).map_err(|source| match source.kind() {
                    std::io::ErrorKind::NotFound => ModelError::MissingFile { path: path.clone() },
                    _ => ModelError::Read {
                        path: path.clone(),
                        source,
                    },
                })?;
                sha256_hex(&bytes)
            };
            if actual != file.sha256 {
                return Err(ModelError::ChecksumMismatch {
                    path,
                    expected: file.sha256.clone(),
                    actual,
                });
            }
        }
        Ok(())
    }
}

/// Returns the lowercase hex sha256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    digest.iter().map(|byte| format!("{byte:02x}")).collect()
}
