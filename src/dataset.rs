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
    /// Whether the problem is only a repeated text, which `warroom check`
    /// reports but loading tolerates, since public datasets have repeats.
    pub repeat: bool,
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

    #[error("{} invalid line(s) in labelled data:\n  {}", problems.len(), list_problems(problems))]
    Invalid { problems: Vec<LineProblem> },
}

/// Invalid lines shown in a [`DatasetError::Invalid`] message. The rest are
/// only counted, so a file in the wrong format does not flood the terminal.
const PROBLEMS_SHOWN: usize = 20;

/// Lists the first [`PROBLEMS_SHOWN`] problems, one a line, and counts the rest.
fn list_problems(problems: &[LineProblem]) -> String {
    let mut lines: Vec<String> = problems
        .iter()
        .take(PROBLEMS_SHOWN)
        .map(ToString::to_string)
        .collect();
    if problems.len() > PROBLEMS_SHOWN {
        lines.push(format!(
            "... and {} more; run `warroom check --data {}` for the full list",
            problems.len() - PROBLEMS_SHOWN,
            problems[PROBLEMS_SHOWN].file.display()
        ));
    }
    lines.join("\n  ")
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

/// Reads a labelled file, failing with every invalid line. Repeated texts
/// are kept.
pub fn load(path: &Path) -> Result<Vec<Example>, DatasetError> {
    let (examples, problems) = read(path)?;
    let problems: Vec<LineProblem> = problems
        .into_iter()
        .filter(|problem| !problem.repeat)
        .collect();
    if problems.is_empty() {
        Ok(examples)
    } else {
        Err(DatasetError::Invalid { problems })
    }
}

/// Reads a labelled file and returns its valid rows, without repeats, with a
/// problem for each invalid line: bad JSON, an empty text or label, or a
/// text repeated in the file.
pub fn check(path: &Path) -> Result<(Vec<Example>, Vec<LineProblem>), DatasetError> {
    let (examples, problems) = read(path)?;
    let mut seen = std::collections::HashSet::new();
    let examples = examples
        .into_iter()
        .filter(|example| seen.insert(crate::intent::normalize_text(&example.text)))
        .collect();
    Ok((examples, problems))
}

/// Reads every valid row, repeats included, with a problem for each invalid
/// or repeated line.
fn read(path: &Path) -> Result<(Vec<Example>, Vec<LineProblem>), DatasetError> {
    let bytes = std::fs::read(path).map_err(|source| DatasetError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let mut examples = Vec::new();
    let mut problems = Vec::new();
    // A UTF-16 file starts with a byte-order mark or, when its text is
    // ASCII, has every other byte zero.
    if bytes.starts_with(&[0xFF, 0xFE])
        || bytes.starts_with(&[0xFE, 0xFF])
        || bytes.iter().take(64).filter(|&&byte| byte == 0).count() >= 8
    {
        problems.push(LineProblem {
            file: path.to_path_buf(),
            line: 1,
            message: "the file is UTF-16 encoded; save it as UTF-8".to_string(),
            repeat: false,
        });
        return Ok((examples, problems));
    }
    let text = String::from_utf8_lossy(&bytes);
    let mut seen: HashMap<String, usize> = HashMap::new();

    for (index, line) in text.lines().enumerate() {
        let number = index + 1;
        // A UTF-8 file may start with a byte-order mark, and joining such
        // files carries the mark into later lines.
        let line = line.trim_start_matches('\u{FEFF}');
        let mut problem = |message: String, repeat: bool| {
            problems.push(LineProblem {
                file: path.to_path_buf(),
                line: number,
                message,
                repeat,
            });
        };
        if line.trim().is_empty() {
            continue;
        }
        if line.contains('\u{FFFD}') {
            problem("invalid UTF-8".to_string(), false);
            continue;
        }
        let example: Example = match serde_json::from_str(line) {
            Ok(example) => example,
            Err(error) => {
                problem(
                    format!("invalid JSON ({error}); expected {{\"text\": ..., \"intent\": ...}}"),
                    false,
                );
                continue;
            }
        };
        if example.text.trim().is_empty() {
            problem("empty `text`".to_string(), false);
            continue;
        }
        if example.intent.trim().is_empty() {
            problem(
                "empty `intent`; use `oos` for out-of-scope rows".to_string(),
                false,
            );
            continue;
        }
        let key = crate::intent::normalize_text(&example.text);
        if let Some(first) = seen.get(&key) {
            problem(format!("text repeats line {first}"), true);
        } else {
            seen.insert(key, number);
        }
        examples.push(example);
    }
    Ok((examples, problems))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(text: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rows.jsonl");
        std::fs::write(&path, text).unwrap();
        (dir, path)
    }

    #[test]
    fn byte_order_mark_is_skipped() {
        let (_dir, path) =
            write("\u{FEFF}{\"text\": \"restart nginx\", \"intent\": \"service.restart\"}\n");
        let rows = load(&path).expect("a file with a byte-order mark loads");
        assert_eq!(rows[0].text, "restart nginx");
    }

    #[test]
    fn byte_order_mark_inside_the_file_is_skipped() {
        let row = "{\"text\": \"restart nginx\", \"intent\": \"service.restart\"}\n";
        let (_dir, path) = write(&format!("\u{FEFF}{row}\u{FEFF}\u{FEFF}{row}"));
        let rows = load(&path).expect("byte-order marks at line starts are skipped");
        assert_eq!(rows.len(), 2);
    }

    #[test]
    fn utf16_file_is_named() {
        let row = "{\"text\": \"restart nginx\", \"intent\": \"service.restart\"}\n";
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rows.jsonl");
        let mut bytes = vec![0xFF, 0xFE];
        bytes.extend(row.encode_utf16().flat_map(u16::to_le_bytes));
        std::fs::write(&path, bytes).unwrap();
        let message = load(&path).unwrap_err().to_string();
        assert!(
            message.contains("UTF-16 encoded; save it as UTF-8"),
            "{message}"
        );

        let without_mark: Vec<u8> = row.encode_utf16().flat_map(u16::to_be_bytes).collect();
        std::fs::write(&path, without_mark).unwrap();
        let message = load(&path).unwrap_err().to_string();
        assert!(message.contains("UTF-16 encoded"), "{message}");
    }

    #[test]
    fn long_problem_lists_are_cut() {
        let (_dir, path) = write(&"not json\n".repeat(25));
        let message = load(&path).unwrap_err().to_string();
        assert!(message.starts_with("25 invalid line(s)"), "{message}");
        assert!(message.contains("rows.jsonl:20:"), "{message}");
        assert!(!message.contains("rows.jsonl:21:"), "{message}");
        assert!(message.contains("... and 5 more"), "{message}");
        assert!(
            message.contains(&format!("warroom check --data {}", path.display())),
            "{message}"
        );
    }
}
