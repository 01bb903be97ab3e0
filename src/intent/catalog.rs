//! Reading and validating `intents/*.toml` into the runtime catalog.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::{CommandSpec, Intent, IntentName, Risk, SlotSpec};
use crate::slots::SlotKind;

/// The validated set of intents the bot understands.
#[derive(Debug, Clone)]
pub struct Catalog {
    intents: Vec<Intent>,
}

/// One problem found in an intent file, tied to where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub file: PathBuf,
    pub intent: Option<String>,
    pub field: Option<String>,
    pub message: String,
}

/// Errors raised while loading the catalog.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("failed to read intent directory `{}`", path.display())]
    Directory {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("{} problem(s) in the intent files; run `warroom check` to list them:\n{}", problems.len(), format_problems(problems))]
    Invalid { problems: Vec<Problem> },
}

/// An intent file as written, before validation.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    intents: Vec<RawIntent>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIntent {
    /// Dotted intent name, such as `server.health`.
    name: String,
    /// One sentence saying what the intent does; it becomes help text.
    #[serde(default)]
    description: String,
    /// `read`, `change` or `critical`.
    #[serde(default)]
    risk: String,
    /// The program and argument template the intent runs.
    command: Option<RawCommand>,
    /// Typed parameters.
    #[serde(default)]
    slots: Vec<RawSlot>,
    /// Messages that ask for this intent.
    #[serde(default)]
    exemplars: Vec<String>,
    /// Messages close to the intent that must not match it.
    #[serde(default)]
    negatives: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCommand {
    /// Program name or path; it is never run through a shell.
    program: String,
    /// Argument template; `{slot}` placeholders are filled with slot values.
    #[serde(default)]
    args: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSlot {
    /// Slot name, used in argument placeholders.
    name: String,
    /// Slot type, such as `host` or `duration`.
    #[serde(rename = "type")]
    kind: String,
    /// Whether the intent cannot run without this slot.
    #[serde(default)]
    required: bool,
    /// Required slots that share a group are alternatives.
    group: Option<String>,
    /// Whether the value is masked in replies, errors and logs.
    #[serde(default)]
    secret: bool,
}

/// Fewer exemplars leave the nearest-neighbour matcher too few phrasings to
/// recognise an intent that people word in many ways.
pub const MIN_EXEMPLARS: usize = 15;

/// Longest exemplar accepted: exemplars are chat messages, and a longer
/// text would be cut at the model's sequence length anyway.
const MAX_EXEMPLAR_CHARS: usize = 500;

impl Catalog {
    /// Loads every `*.toml` file of `dir`, failing with all problems found.
    pub fn load(dir: &Path) -> Result<Self, CatalogError> {
        let (catalog, problems) = Self::check(dir)?;
        match catalog {
            Some(catalog) if problems.is_empty() => Ok(catalog),
            _ => Err(CatalogError::Invalid { problems }),
        }
    }

    /// Validates every `*.toml` file of `dir` and returns the catalog, when
    /// it could be built, with every problem found.
    pub fn check(dir: &Path) -> Result<(Option<Self>, Vec<Problem>), CatalogError> {
        let directory_error = |source| CatalogError::Directory {
            path: dir.to_path_buf(),
            source,
        };
        let mut paths: Vec<PathBuf> = fs::read_dir(dir)
            .map_err(directory_error)?
            .filter_map(Result::ok)
            .map(|entry| entry.path())
            .filter(|path| path.extension().is_some_and(|ext| ext == "toml"))
            .collect();
        paths.sort();

        let mut problems = Vec::new();
        if paths.is_empty() {
            problems.push(Problem::file(dir, "no intent files (`*.toml`) found"));
        }
        let mut files = Vec::new();
        for path in paths {
            if let Some(raw) = read_file(&path, &mut problems) {
                files.push((path, raw));
            }
        }
        let intents = validate(files, &mut problems);
        let catalog = (!intents.is_empty()).then_some(Self { intents });
        Ok((catalog, problems))
    }

    /// Builds a catalog from intents that are already valid, as tests and
    /// benchmark datasets do.
    pub fn from_intents(intents: Vec<Intent>) -> Self {
        Self { intents }
    }

    pub fn intents(&self) -> &[Intent] {
        &self.intents
    }

    pub fn get(&self, name: &str) -> Option<&Intent> {
        self.intents
            .iter()
            .find(|intent| intent.name.as_str() == name)
    }
}

impl Problem {
    fn file(file: &Path, message: impl Into<String>) -> Self {
        Self {
            file: file.to_path_buf(),
            intent: None,
            field: None,
            message: message.into(),
        }
    }

    fn intent(file: &Path, intent: &str, field: &str, message: impl Into<String>) -> Self {
        Self {
            file: file.to_path_buf(),
            intent: Some(intent.to_string()),
            field: Some(field.to_string()),
            message: message.into(),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(intent) = &self.intent {
            write!(f, ": intent `{intent}`")?;
        }
        if let Some(field) = &self.field {
            write!(f, " field `{field}`")?;
        }
        write!(f, ": {}", self.message)
    }
}

fn format_problems(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(|problem| format!("  {problem}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Reads and parses one file, recording a problem instead of failing.
fn read_file(path: &Path, problems: &mut Vec<Problem>) -> Option<RawFile> {
    let bytes = match fs::read(path) {
        Ok(bytes) => bytes,
        Err(error) => {
            problems.push(Problem::file(path, format!("failed to read: {error}")));
            return None;
        }
    };
    let text = match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(error) => {
            let offset = error.utf8_error().valid_up_to();
            problems.push(Problem::file(
                path,
                format!("invalid UTF-8 at byte {offset}; save the file as UTF-8"),
            ));
            return None;
        }
    };
    match toml::from_str::<RawFile>(&text) {
        Ok(raw) => {
            if raw.intents.is_empty() {
                problems.push(Problem::file(
                    path,
                    "no intents: add at least one `[[intents]]` table",
                ));
            }
            Some(raw)
        }
        Err(error) => {
            let message = error.message().trim().to_string();
            let location = error
                .span()
                .map(|span| {
                    let line = text[..span.start].matches('\n').count() + 1;
                    format!("invalid TOML at line {line}: ")
                })
                .unwrap_or_else(|| "invalid TOML: ".to_string());
            problems.push(Problem::file(path, format!("{location}{message}")));
            None
        }
    }
}

/// Turns raw files into intents, recording every problem. Intents with
/// problems are left out of the result.
fn validate(files: Vec<(PathBuf, RawFile)>, problems: &mut Vec<Problem>) -> Vec<Intent> {
    let mut intents = Vec::new();
    let mut names: HashMap<String, PathBuf> = HashMap::new();
    // Normalised text -> (intent, whether it is a negative), across the catalog.
    let mut texts: HashMap<String, (String, bool)> = HashMap::new();

    for (path, raw) in files {
        for raw_intent in raw.intents {
            let before = problems.len();
            let name = raw_intent.name.clone();
            check_name(&path, &name, &mut names, problems);
            let intent = validate_intent(&path, raw_intent, problems);
            check_texts(&path, &intent, &mut texts, problems);
            if problems.len() == before {
                intents.push(intent);
            }
        }
    }
    intents
}

fn check_name(
    path: &Path,
    name: &str,
    names: &mut HashMap<String, PathBuf>,
    problems: &mut Vec<Problem>,
) {
    if !is_valid_intent_name(name) {
        problems.push(Problem::intent(
            path,
            name,
            "name",
            "invalid name: use lowercase words separated by dots, such as `server.health`",
        ));
    }
    if let Some(first) = names.get(name) {
        problems.push(Problem::intent(
            path,
            name,
            "name",
            format!(
                "duplicate intent name, first defined in `{}`",
                first.display()
            ),
        ));
    } else {
        names.insert(name.to_string(), path.to_path_buf());
    }
}

fn validate_intent(path: &Path, raw: RawIntent, problems: &mut Vec<Problem>) -> Intent {
    let name = raw.name;
    let mut problem = |field: &str, message: String| {
        problems.push(Problem::intent(path, &name, field, message));
    };

    if raw.description.trim().is_empty() {
        problem(
            "description",
            "missing description: add one sentence saying what the intent does".to_string(),
        );
    }
    let risk = match raw.risk.parse::<Risk>() {
        Ok(risk) => risk,
        Err(_) if raw.risk.is_empty() => {
            problem(
                "risk",
                "missing risk tier: set `risk` to read, change or critical".to_string(),
            );
            Risk::Critical
        }
        Err(message) => {
            problem("risk", message);
            Risk::Critical
        }
    };

    let slots = validate_slots(&raw.slots, &mut problem);
    let command = match raw.command {
        Some(command) => {
            validate_command(&command, &slots, &mut problem);
            CommandSpec {
                program: command.program,
                args: command.args,
            }
        }
        None => {
            problem(
                "command",
                "missing command: add `command = { program = \"...\", args = [...] }`".to_string(),
            );
            CommandSpec {
                program: String::new(),
                args: Vec::new(),
            }
        }
    };

    if raw.exemplars.len() < MIN_EXEMPLARS {
        problem(
            "exemplars",
            format!(
                "{} exemplar(s), expected at least {MIN_EXEMPLARS} varied phrasings",
                raw.exemplars.len()
            ),
        );
    }
    for (field, list) in [("exemplars", &raw.exemplars), ("negatives", &raw.negatives)] {
        for (index, text) in list.iter().enumerate() {
            if text.trim().is_empty() {
                problem(&format!("{field}[{index}]"), "empty text".to_string());
            } else if text.chars().count() > MAX_EXEMPLAR_CHARS {
                problem(
                    &format!("{field}[{index}]"),
                    format!("text longer than {MAX_EXEMPLAR_CHARS} characters"),
                );
            }
        }
    }

    Intent {
        name: IntentName::new(name.clone()),
        description: raw.description.trim().to_string(),
        risk,
        command,
        slots,
        exemplars: raw.exemplars,
        negatives: raw.negatives,
        source: path.to_path_buf(),
    }
}

fn validate_slots(raw: &[RawSlot], problem: &mut impl FnMut(&str, String)) -> Vec<SlotSpec> {
    let mut seen = BTreeSet::new();
    let mut slots = Vec::new();
    for (index, slot) in raw.iter().enumerate() {
        let field = format!("slots[{index}]");
        if !is_valid_slot_name(&slot.name) {
            problem(
                &format!("{field}.name"),
                format!(
                    "invalid slot name `{}`: use lowercase letters, digits and `_`",
                    slot.name
                ),
            );
        }
        if !seen.insert(slot.name.as_str()) {
            problem(
                &format!("{field}.name"),
                format!("duplicate slot `{}`", slot.name),
            );
        }
        let kind = match slot.kind.parse::<SlotKind>() {
            Ok(kind) => kind,
            Err(message) => {
                problem(&format!("{field}.type"), message);
                continue;
            }
        };
        if slot.group.is_some() && !slot.required {
            problem(
                &format!("{field}.group"),
                "a slot in a group of alternatives must be `required = true`".to_string(),
            );
        }
        slots.push(SlotSpec {
            name: slot.name.clone(),
            kind,
            required: slot.required,
            group: slot.group.clone(),
            secret: slot.secret,
        });
    }
    slots
}

fn validate_command(
    command: &RawCommand,
    slots: &[SlotSpec],
    problem: &mut impl FnMut(&str, String),
) {
    if command.program.trim().is_empty() {
        problem("command.program", "empty program name".to_string());
    }
    for (index, arg) in command.args.iter().enumerate() {
        match placeholders(arg) {
            Ok(names) => {
                for name in names {
                    if !slots.iter().any(|slot| slot.name == name) {
                        problem(
                            &format!("command.args[{index}]"),
                            format!("placeholder `{{{name}}}` names no slot of this intent"),
                        );
                    }
                }
            }
            Err(message) => problem(&format!("command.args[{index}]"), message),
        }
    }
}

/// Records each exemplar and negative under its normalised form, reporting
/// texts shared by two intents and negatives that repeat an exemplar.
fn check_texts(
    path: &Path,
    intent: &Intent,
    texts: &mut HashMap<String, (String, bool)>,
    problems: &mut Vec<Problem>,
) {
    let name = intent.name.as_str();
    let lists = [
        ("exemplars", &intent.exemplars, false),
        ("negatives", &intent.negatives, true),
    ];
    for (field, list, negative) in lists {
        for (index, text) in list.iter().enumerate() {
            let key = normalize_text(text);
            if key.is_empty() {
                continue;
            }
            match texts.get(&key) {
                Some((owner, owner_negative)) => {
                    let kind = if *owner_negative {
                        "negative"
                    } else {
                        "exemplar"
                    };
                    let message = if owner == name {
                        format!("`{text}` repeats an {kind} of the same intent")
                    } else {
                        format!("`{text}` is also an {kind} of intent `{owner}`")
                    };
                    problems.push(Problem::intent(
                        path,
                        name,
                        &format!("{field}[{index}]"),
                        message,
                    ));
                }
                None => {
                    texts.insert(key, (name.to_string(), negative));
                }
            }
        }
    }
}

/// Lowercases and collapses whitespace, so near-identical texts compare equal.
pub fn normalize_text(text: &str) -> String {
    text.split_whitespace()
        .map(str::to_lowercase)
        .collect::<Vec<_>>()
        .join(" ")
}

/// One piece of a command template argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Segment<'a> {
    Literal(&'a str),
    /// A `{slot}` placeholder, by slot name.
    Placeholder(&'a str),
}

/// Splits a template argument into literal text and `{slot}` placeholders,
/// rejecting unbalanced braces and placeholders that are no valid slot name.
pub fn parse_template(arg: &str) -> Result<Vec<Segment<'_>>, String> {
    let mut segments = Vec::new();
    let mut rest = arg;
    while let Some(open) = rest.find(['{', '}']) {
        if rest.as_bytes()[open] == b'}' {
            return Err(format!("unbalanced `}}` in `{arg}`"));
        }
        if open > 0 {
            segments.push(Segment::Literal(&rest[..open]));
        }
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else {
            return Err(format!("unclosed `{{` in `{arg}`"));
        };
        let name = &after[..close];
        if !is_valid_slot_name(name) {
            return Err(format!("invalid placeholder `{{{name}}}` in `{arg}`"));
        }
        segments.push(Segment::Placeholder(name));
        rest = &after[close + 1..];
    }
    if !rest.is_empty() {
        segments.push(Segment::Literal(rest));
    }
    Ok(segments)
}

/// Returns the slot names of the `{slot}` placeholders in a template argument.
pub fn placeholders(arg: &str) -> Result<Vec<&str>, String> {
    Ok(parse_template(arg)?
        .into_iter()
        .filter_map(|segment| match segment {
            Segment::Placeholder(name) => Some(name),
            Segment::Literal(_) => None,
        })
        .collect())
}

fn is_valid_intent_name(name: &str) -> bool {
    !name.is_empty()
        && name.split('.').all(|part| {
            part.chars().next().is_some_and(|c| c.is_ascii_lowercase())
                && part
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        })
}

fn is_valid_slot_name(name: &str) -> bool {
    name.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_parsed() {
        assert_eq!(placeholders("--host={host}"), Ok(vec!["host"]));
        assert_eq!(placeholders("{a}-{b}"), Ok(vec!["a", "b"]));
        assert_eq!(placeholders("literal"), Ok(vec![]));
        assert!(placeholders("{host").is_err());
        assert!(placeholders("host}").is_err());
        assert!(placeholders("{Host}").is_err());
    }

    #[test]
    fn intent_names_are_dotted_lowercase() {
        assert!(is_valid_intent_name("server.health"));
        assert!(is_valid_intent_name("help"));
        assert!(!is_valid_intent_name("Server.health"));
        assert!(!is_valid_intent_name("server..health"));
        assert!(!is_valid_intent_name(""));
    }

    #[test]
    fn normalized_text_ignores_case_and_spacing() {
        assert_eq!(normalize_text("  Restart   NGINX "), "restart nginx");
    }
}
