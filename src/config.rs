//! `warroom.toml`: where the model, intents and cache are, and the matcher's thresholds.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::intent::{HeadTraining, MatcherConfig};
use crate::model::ModelSpec;

/// Name of the config file looked for in the working directory.
pub const CONFIG_FILE: &str = "warroom.toml";

/// Errors raised while reading the config file.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("config file `{}` not found", path.display())]
    NotFound { path: PathBuf },

    #[error("failed to read config file `{}`", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("invalid config file `{}`: {message}", path.display())]
    Parse { path: PathBuf, message: String },

    #[error("invalid config file `{}`:\n  {}", path.display(), problems.join("\n  "))]
    Invalid {
        path: PathBuf,
        problems: Vec<String>,
    },
}

/// Settings read from `warroom.toml`, with paths resolved against the
/// file's directory.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file the settings came from, when there was one.
    pub source: Option<PathBuf>,
    pub model: ModelSpec,
    pub intents: PathBuf,
    pub cache: PathBuf,
    /// Labelled rows the classifier head is trained on, beside the catalog;
    /// `None` runs the matcher on exemplar similarity alone.
    pub training: Option<PathBuf>,
    pub matcher: MatcherConfig,
    /// Classifier head training settings.
    pub head: HeadTraining,
}

/// The config file as written.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    /// Model directory (relative to this file) or a Hugging Face repo id.
    pub model: Option<String>,
    /// Directory of intent files (relative to this file).
    pub intents: Option<PathBuf>,
    /// SQLite file caching exemplar embeddings (relative to this file).
    pub cache: Option<PathBuf>,
    /// Labelled JSON Lines the classifier head is trained on (relative to
    /// this file); an empty string trains no head.
    pub training: Option<PathBuf>,
    /// Scoring settings and thresholds by risk tier.
    #[serde(default)]
    pub matcher: MatcherConfig,
    /// Settings of the classifier head.
    #[serde(default)]
    pub head: RawHead,
    /// Settings of the chat bot, read and validated by `chat::ChatSettings`.
    #[serde(default)]
    pub chat: Option<toml::Table>,
    /// Settings of `warroom serve`, read and validated by
    /// `serve::ServeSettings`.
    #[serde(default)]
    pub slack: Option<toml::Table>,
    #[serde(default)]
    pub alerts: Option<toml::Table>,
}

/// The shipped labelled training rows, relative to the repository root.
pub const DEFAULT_TRAINING: &str = "training-data/train.jsonl";

/// The embedded default model, relative to the repository root.
pub const DEFAULT_MODEL: &str = "models/all-MiniLM-L6-v2";

impl Config {
    /// Reads `path`, or `warroom.toml` in the working directory when no path
    /// is given and that file exists; otherwise returns the defaults.
    pub fn load(path: Option<&Path>) -> Result<Self, ConfigError> {
        let path = match path {
            Some(path) if !path.is_file() => {
                return Err(ConfigError::NotFound {
                    path: path.to_path_buf(),
                });
            }
            Some(path) => Some(path.to_path_buf()),
            None => Some(PathBuf::from(CONFIG_FILE)).filter(|path| path.is_file()),
        };
        let Some(path) = path else {
            return Self::from_raw(RawConfig::default(), Path::new("."), None);
        };

        let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::Read {
            path: path.clone(),
            source,
        })?;
        let raw: RawConfig = toml::from_str(&text).map_err(|error| ConfigError::Parse {
            path: path.clone(),
            message: located(&text, &error),
        })?;
        let base = path
            .parent()
            .filter(|parent| !parent.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .to_path_buf();
        Self::from_raw(raw, &base, Some(path))
    }

    fn from_raw(raw: RawConfig, base: &Path, source: Option<PathBuf>) -> Result<Self, ConfigError> {
        let mut problems = raw.matcher.thresholds.problems();
        let mut head = HeadTraining::default();
        if let Some(l2) = raw.head.l2 {
            match l2_problem(l2) {
                Some(problem) => problems.push(format!("head.l2: {problem}")),
                None => head.l2 = l2,
            }
        }
        if !problems.is_empty() {
            return Err(ConfigError::Invalid {
                path: source.unwrap_or_else(|| PathBuf::from(CONFIG_FILE)),
                problems,
            });
        }

        let model = match raw.model {
            Some(value) => ModelSpec::parse(&value, base),
            None => ModelSpec::Dir(base.join(DEFAULT_MODEL)),
        };
        Ok(Self {
            source,
            model,
            intents: base.join(raw.intents.unwrap_or_else(|| PathBuf::from("intents"))),
            cache: raw
                .cache
                .map(|cache| base.join(cache))
                .unwrap_or_else(default_cache_path),
            training: match raw.training {
                Some(path) if path.as_os_str().is_empty() => None,
                Some(path) => Some(base.join(path)),
                None => Some(base.join(DEFAULT_TRAINING)).filter(|path| path.is_file()),
            },
            matcher: raw.matcher,
            head,
        })
    }
}

/// Returns the parse error's message, led by the line it points at.
fn located(text: &str, error: &toml::de::Error) -> String {
    let message = error.message().trim();
    match error.span() {
        Some(span) => {
            let before = &text.as_bytes()[..span.start.min(text.len())];
            let line = before.iter().filter(|&&byte| byte == b'\n').count() + 1;
            format!("line {line}: {message}")
        }
        None => message.to_string(),
    }
}

/// The `[head]` table as written.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHead {
    /// L2 penalty on the head's weights (see [`HeadTraining::l2`]).
    pub l2: Option<f64>,
}

/// Largest L2 penalty accepted. In a manual run, 1,000 made the head decline
/// every request tried on the shipped catalog, and 1e300 made training diverge.
pub const MAX_L2: f64 = 100.0;

/// Returns the problem with an L2 penalty value, or `None` when it is valid.
pub fn l2_problem(l2: f64) -> Option<String> {
    (!(0.0..=MAX_L2).contains(&l2)).then(|| {
        format!("the L2 penalty must be a number from 0 to {MAX_L2} (0 turns it off), got {l2}")
    })
}

/// `$XDG_CACHE_HOME/warroom/embeddings.sqlite`, else under `~/.cache`, else
/// in the working directory.
fn default_cache_path() -> PathBuf {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .filter(|path| path.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))
        .unwrap_or_else(|| PathBuf::from(".cache"));
    base.join("warroom").join("embeddings.sqlite")
}

/// Replaces the `[matcher]` table of the config file at `path` (created when
/// missing), keeping the rest of the file and its comments.
pub fn write_matcher(path: &Path, matcher: &MatcherConfig) -> Result<(), ConfigError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(source) => {
            return Err(ConfigError::Read {
                path: path.to_path_buf(),
                source,
            });
        }
    };
    let parse_error = |message: String| ConfigError::Parse {
        path: path.to_path_buf(),
        message,
    };
    let mut document: toml_edit::DocumentMut = text
        .parse()
        .map_err(|error: toml_edit::TomlError| parse_error(error.message().to_string()))?;
    let settings = toml::to_string(matcher).map_err(|error| parse_error(error.to_string()))?;
    let settings: toml_edit::DocumentMut = settings
        .parse()
        .map_err(|error: toml_edit::TomlError| parse_error(error.message().to_string()))?;
    document["matcher"] = toml_edit::Item::Table(settings.as_table().clone());

    let partial = path.with_extension("toml.partial");
    std::fs::write(&partial, document.to_string())
        .and_then(|()| std::fs::rename(&partial, path))
        .map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<Config, ConfigError> {
        let dir = tempfile::tempdir().expect("temporary directory");
        let path = dir.path().join(CONFIG_FILE);
        std::fs::write(&path, text).expect("config written");
        Config::load(Some(&path))
    }

    #[test]
    fn config_reads_head_l2() {
        let default = load("").expect("empty config loads");
        assert_eq!(default.head, HeadTraining::default());
        let off = load("[head]\nl2 = 0.0\n").expect("config loads");
        assert_eq!(off.head.l2, 0.0);
        assert_eq!(off.head.epochs, HeadTraining::default().epochs);
    }

    #[test]
    fn config_rejects_invalid_head_l2() {
        for value in ["-0.5", "nan", "inf", "1e300"] {
            let error = load(&format!("[head]\nl2 = {value}\n")).expect_err(value);
            let message = error.to_string();
            assert!(
                message.contains("head.l2: the L2 penalty must be a number from 0 to 100"),
                "{message}"
            );
        }
        let error = load("[head]\nl2 = \"0.1\"\n").expect_err("string value");
        assert!(
            error.to_string().contains("line 2: invalid type"),
            "{error}"
        );
        let error = load("[head]\nepochs = 3\n").expect_err("unknown key");
        assert!(
            error.to_string().contains("unknown field `epochs`"),
            "{error}"
        );
    }
}
