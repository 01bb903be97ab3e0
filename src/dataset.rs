//! Labelled utterance files: JSON Lines of `{"text", "intent"}`, with `oos` for out of scope.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// Label of out-of-scope rows.
pub const OUT_OF_SCOPE: &str = "oos";

/// One labelled utterance.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Example {
    pub text: String,
    pub intent: String,
    /// For out-of-scope rows, what kind they are (`smalltalk`, `offtopic`, `nearmiss`).
    #[serde(default)]
    pub kind: Option<String>,
}

/// A problem on one line of a labelled file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineProblem {
    pub file: PathBuf,
    pub line: usize,
    pub message: String,
}

/// Errors raised while reading a labelled file.
#[derive(Debug, thiserror::Error)]
pub enum DatasetError {
    #[error("failed to read labelled file `{}`", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("{} invalid line(s) in labelled data:\n  {}", problems.len(), problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n  "))]
    Invalid { problems: Vec<LineProblem> },
}

impl Example {
    pub fn is_out_of_scope(&self) -> bool {
        self.intent == OUT_OF_SCOPE
    }
}

impl fmt::Display for LineProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file.display(), self.line, self.message)
    }
}

/// Reads a labelled file, failing with every invalid line.
pub fn load(path: &Path) -> Result<Vec<Example>, DatasetError> {
    let (examples, problems) = check(path)?;
    if problems.is_empty() {
        Ok(examples)
    } else {
        Err(DatasetError::Invalid { problems })
    }
}

/// Reads a labelled file and returns its valid rows with a problem for each
/// invalid line: bad JSON, an empty text or label, or a text repeated in the file.
pub fn check(path: &Path) -> Result<(Vec<Example>, Vec<LineProblem>), DatasetError> {
    let bytes = std::fs::read(path).map_err(|source| DatasetError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let text = String::from_utf8_lossy(&bytes);
    let mut examples = Vec::new();
    let mut problems = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();

    for (index, line) in text.lines().enumerate() {
        let number = index + 1;
        let mut problem = |message: String| {
            problems.push(LineProblem {
                file: path.to_path_buf(),
                line: number,
                message,
            });
        };
        if line.trim().is_empty() {
            continue;
        }
        if line.contains('\u{FFFD}') {
            problem("invalid UTF-8".to_string());
            continue;
        }
        let example: Example = match serde_json::from_str(line) {
            Ok(example) => example,
            Err(error) => {
                problem(format!(
                    "invalid JSON ({error}); expected {{\"text\": ..., \"intent\": ...}}"
                ));
                continue;
            }
        };
        if example.text.trim().is_empty() {
            problem("empty `text`".to_string());
            continue;
        }
        if example.intent.trim().is_empty() {
            problem("empty `intent`; use `oos` for out-of-scope rows".to_string());
            continue;
        }
        let key = crate::intent::normalize_text(&example.text);
        if let Some(first) = seen.get(&key) {
            problem(format!("text repeats line {first}"));
            continue;
        }
        seen.insert(key, number);
        examples.push(example);
    }
    Ok((examples, problems))
}
