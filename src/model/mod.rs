//! Model directories: locating, verifying and importing sentence-embedding models.

mod hub;
mod import;
mod provenance;

use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};

use serde::Deserialize;

pub use hub::{download, is_repo_id};
pub(crate) use import::copy_other_files;
pub use import::{ImportReport, TargetDtype, import};
pub use provenance::{FineTuneRecord, PROVENANCE_FILE, Provenance, ProvenanceFile, sha256_hex};

/// Files a model directory must contain to be loaded.
pub const REQUIRED_FILES: [&str; 3] = [WEIGHTS_FILE, "config.json", "tokenizer.json"];

/// Name of the weights file inside a model directory.
pub const WEIGHTS_FILE: &str = "model.safetensors";

/// Sequence length used when a model directory has no `sentence_bert_config.json`:
/// the value sentence-transformers uses for BERT-style models.
const DEFAULT_MAX_SEQ_LENGTH: usize = 256;

/// Errors raised while locating, verifying or importing a model.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error(
        "model directory `{}` not found: pass --model DIR, a Hugging Face repo id, or set `model` in warroom.toml",
        path.display()
    )]
    DirectoryNotFound { path: PathBuf },

    #[error("model file `{}` is missing: restore it, or re-create the directory with `warroom model import`", path.display())]
    MissingFile { path: PathBuf },

    #[error(
        "model file `{}` is corrupt: sha256 {actual}, expected {expected} from {PROVENANCE_FILE}; restore it, or re-create the directory with `warroom model import`",
        path.display()
    )]
    ChecksumMismatch {
        path: PathBuf,
        expected: String,
        actual: String,
    },

    #[error("failed to read `{}`", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("failed to write `{}`", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("invalid JSON in `{}`", path.display())]
    Json {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },

    #[error("invalid weights in `{}`: {message}", path.display())]
    Weights { path: PathBuf, message: String },

    #[error(
        "`{repo}` is no local model directory, and downloading it as a Hugging Face repo id failed: {message}; check the path, or the repo id and network access"
    )]
    Download { repo: String, message: String },
}

/// Content hash of a model's weights, used to key cached embeddings.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ModelId(String);

/// A model directory whose files were found and, where a provenance file
/// lists them, verified against their recorded sha256.
#[derive(Debug, Clone)]
pub struct ModelFiles {
    pub dir: PathBuf,
    pub id: ModelId,
    /// Contents of `model.safetensors`, already read for verification.
    pub weights: Vec<u8>,
    pub max_seq_length: usize,
}

/// The part of `sentence_bert_config.json` that warroom reads.
#[derive(Debug, Deserialize)]
struct SentenceBertConfig {
    max_seq_length: usize,
}

/// Where a model comes from: a local directory or a Hugging Face repo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelSpec {
    Dir(PathBuf),
    Hub(String),
}

impl ModelSpec {
    /// Reads a `--model` or config value: a directory that exists (relative
    /// to `base`) is used as it is, and otherwise a value of the form
    /// `owner/name` is a Hugging Face repo id.
    pub fn parse(value: &str, base: &Path) -> Self {
        let path = base.join(value);
        if path.exists() || !is_repo_id(value) {
            Self::Dir(path)
        } else {
            Self::Hub(value.to_string())
        }
    }

    /// Returns the model directory, downloading a hub model into hf-hub's
    /// cache first.
    pub fn resolve(&self) -> Result<PathBuf, ModelError> {
        match self {
            Self::Dir(path) => Ok(path.clone()),
            Self::Hub(repo) => download(repo),
        }
    }
}

impl fmt::Display for ModelSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Dir(path) => write!(f, "{}", path.display()),
            Self::Hub(repo) => write!(f, "hf:{repo}"),
        }
    }
}

impl ModelId {
    pub fn new(hash: impl Into<String>) -> Self {
        Self(hash.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ModelId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl ModelFiles {
    /// Opens a model directory, checks that every required file is present
    /// and verifies each file listed in its provenance file.
    pub fn open(dir: &Path) -> Result<Self, ModelError> {
        if !dir.is_dir() {
            return Err(ModelError::DirectoryNotFound {
                path: dir.to_path_buf(),
            });
        }
        for name in REQUIRED_FILES {
            let path = dir.join(name);
            if !path.is_file() {
                return Err(ModelError::MissingFile { path });
            }
        }

        let weights_path = dir.join(WEIGHTS_FILE);
        let weights = read(&weights_path)?;
        let weights_hash = sha256_hex(&weights);

        let provenance_path = dir.join(PROVENANCE_FILE);
        if provenance_path.is_file() {
            let provenance = Provenance::load(&provenance_path)?;
            provenance.verify(dir, WEIGHTS_FILE, &weights_hash)?;
        }

        let max_seq_length = read_max_seq_length(dir)?;
        Ok(Self {
            dir: dir.to_path_buf(),
            id: ModelId::new(weights_hash),
            weights,
            max_seq_length,
        })
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.join("config.json")
    }

    pub fn tokenizer_path(&self) -> PathBuf {
        self.dir.join("tokenizer.json")
    }
}

/// Reads `max_seq_length` from `sentence_bert_config.json`, falling back to
/// the sentence-transformers default when the file is absent.
fn read_max_seq_length(dir: &Path) -> Result<usize, ModelError> {
    let path = dir.join("sentence_bert_config.json");
    if !path.is_file() {
        return Ok(DEFAULT_MAX_SEQ_LENGTH);
    }
    let text = read(&path)?;
    let config: SentenceBertConfig =
        serde_json::from_slice(&text).map_err(|source| ModelError::Json { path, source })?;
    Ok(config.max_seq_length)
}

fn read(path: &Path) -> Result<Vec<u8>, ModelError> {
    fs::read(path).map_err(|source| ModelError::Read {
        path: path.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn existing_directory_wins_over_repo_id() {
        let base = Path::new(env!("CARGO_MANIFEST_DIR"));
        assert_eq!(
            ModelSpec::parse("models/all-MiniLM-L6-v2", base),
            ModelSpec::Dir(base.join("models/all-MiniLM-L6-v2"))
        );
        assert_eq!(
            ModelSpec::parse("sentence-transformers/all-mpnet-base-v2", base),
            ModelSpec::Hub("sentence-transformers/all-mpnet-base-v2".to_string())
        );
        assert_eq!(
            ModelSpec::parse("no-such-dir", base),
            ModelSpec::Dir(base.join("no-such-dir"))
        );
    }
}
