//! Downloads of models named by a Hugging Face repo id, into hf-hub's normal cache.

use std::path::{Path, PathBuf};

use hf_hub::api::sync::ApiBuilder;

use super::{ModelError, REQUIRED_FILES};

/// Files fetched when present in the repo; a model loads without them.
const OPTIONAL_FILES: [&str; 1] = ["sentence_bert_config.json"];

/// Downloads a model's files from the Hugging Face hub (or finds them in the
/// local hf-hub cache) with a progress bar, and returns the snapshot directory.
pub fn download(repo_id: &str) -> Result<PathBuf, ModelError> {
    let download_error = |message: String| ModelError::Download {
        repo: repo_id.to_string(),
        message,
    };
    let api = ApiBuilder::from_env()
        .with_progress(true)
        .build()
        .map_err(|error| download_error(error.to_string()))?;
    let repo = api.model(repo_id.to_string());

    let mut snapshot: Option<PathBuf> = None;
    for name in REQUIRED_FILES {
        let path = repo
            .get(name)
            .map_err(|error| download_error(format!("`{name}`: {error}")))?;
        snapshot = path.parent().map(Path::to_path_buf);
    }
    for name in OPTIONAL_FILES {
        if let Err(error) = repo.get(name) {
            tracing::debug!(repo = repo_id, file = name, %error, "optional model file not downloaded");
        }
    }
    snapshot.ok_or_else(|| download_error("the hub returned no file paths".to_string()))
}

/// Returns whether `spec` has the form of a Hugging Face repo id (`owner/name`).
pub fn is_repo_id(spec: &str) -> bool {
    let mut parts = spec.split('/');
    let (Some(owner), Some(name), None) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    let valid = |part: &str| {
        !part.is_empty()
            && part
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            && !part.starts_with('.')
    };
    valid(owner) && valid(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repo_ids_have_owner_and_name() {
        assert!(is_repo_id("sentence-transformers/all-MiniLM-L6-v2"));
        assert!(!is_repo_id("all-MiniLM-L6-v2"));
        assert!(!is_repo_id("a/b/c"));
        assert!(!is_repo_id("/abs/path"));
        assert!(!is_repo_id("./models"));
        assert!(!is_repo_id("owner/na me"));
    }
}
