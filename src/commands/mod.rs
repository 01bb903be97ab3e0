//! Vetted command execution: filling an intent's argument template with slot
//! values, and running the result without a shell, with a timeout, a
//! scrubbed environment and bounded output.
//!
//! [`prepare`] decides the argv. Each slot value lands inside exactly one
//! argv element, so a chat message can change the text of an argument
//! but never add an argument the intent's template does not have.
//! [`CommandRunner`] resolves the program in configured directories only
//! and runs it in its own process group.

mod capture;
mod runner;

use std::collections::BTreeMap;
use std::fmt;

use crate::intent::{Intent, IntentName, Segment, parse_template};

pub use runner::{
    CommandOutput, CommandRunner, DEFAULT_ENV_ALLOW, DEFAULT_OUTPUT_LIMIT, DEFAULT_PATH,
    DEFAULT_TIMEOUT, RunError,
};

/// Replacement text for a secret value in display strings, errors and logs.
pub const MASK: &str = "••••";

/// A command ready to run: the program and its argv, decided by the intent's
/// template and the slot values.
#[derive(Clone, PartialEq, Eq)]
pub struct PreparedCommand {
    pub intent: IntentName,
    /// Program name or absolute path, as the intent names it.
    pub program: String,
    /// Arguments after the program name, with the real slot values.
    pub args: Vec<String>,
    /// The same arguments with secret values replaced by [`MASK`].
    pub masked_args: Vec<String>,
    /// Values of secret slots, so output and errors can be masked.
    secrets: Vec<String>,
}

/// Reasons a command cannot be prepared from an intent and slot values.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error("intent `{intent}`: missing required slot `{slot}`; ask the user for it")]
    MissingSlot { intent: IntentName, slot: String },

    #[error(
        "intent `{intent}`: missing a value for one of the slots {}; ask the user for one",
        format_names(slots)
    )]
    MissingAlternative {
        intent: IntentName,
        group: String,
        slots: Vec<String>,
    },

    #[error("intent `{intent}` has no slot `{slot}`; pass only the intent's own slots")]
    UnknownSlot { intent: IntentName, slot: String },

    #[error(
        "intent `{intent}` slot `{slot}`: empty value; give a non-empty value or leave the slot out"
    )]
    EmptyValue { intent: IntentName, slot: String },

    #[error(
        "intent `{intent}` slot `{slot}`: value `{value}` contains a NUL byte, which no argument can hold"
    )]
    NulInValue {
        intent: IntentName,
        slot: String,
        /// The value, escaped, or [`MASK`] for a secret slot.
        value: String,
    },

    #[error(
        "intent `{intent}` slot `{slot}`: value `{value}` starts with `-` and would begin argument {index}, where the program could read it as an option; remove the leading `-`"
    )]
    LeadingDash {
        intent: IntentName,
        slot: String,
        /// The value, escaped, or [`MASK`] for a secret slot.
        value: String,
        /// Index of the template argument, counted from 0 after the program.
        index: usize,
    },

    #[error("intent `{intent}` argument {index} `{arg}`: {message}; fix the intent file")]
    InvalidTemplate {
        intent: IntentName,
        index: usize,
        arg: String,
        message: String,
    },
}

/// Fills the intent's argument template with slot values.
///
/// `values` maps slot names to values already validated and normalised by
/// the slot's type (the text passed to the program). Secrecy comes from the
/// intent's [`SlotSpec::secret`](crate::intent::SlotSpec::secret).
///
/// A template argument whose placeholders name a slot without a value is
/// left out. That is an error only for a required slot, and for a slot of a
/// group of alternatives only when no slot of the group has a value.
pub fn prepare(
    intent: &Intent,
    values: &BTreeMap<String, String>,
) -> Result<PreparedCommand, CommandError> {
    check_values(intent, values)?;
    check_required(intent, values)?;

    let secrets: Vec<String> = intent
        .slots
        .iter()
        .filter(|slot| slot.secret)
        .filter_map(|slot| values.get(&slot.name))
        .cloned()
        .collect();

    let mut args = Vec::new();
    let mut masked_args = Vec::new();
    for (index, template) in intent.command.args.iter().enumerate() {
        let segments =
            parse_template(template).map_err(|message| CommandError::InvalidTemplate {
                intent: intent.name.clone(),
                index,
                arg: template.clone(),
                message,
            })?;
        let filled = fill(intent, index, &segments, values)?;
        if let Some((arg, masked)) = filled {
            args.push(arg);
            masked_args.push(masked);
        }
    }

    Ok(PreparedCommand {
        intent: intent.name.clone(),
        program: intent.command.program.clone(),
        args,
        masked_args,
        secrets,
    })
}

impl PreparedCommand {
    /// Builds a command from a literal program and arguments, with no slot
    /// values, as tests and built-in checks do.
    pub fn literal(intent: IntentName, program: impl Into<String>, args: Vec<String>) -> Self {
        Self {
            intent,
            program: program.into(),
            masked_args: args.clone(),
            args,
            secrets: Vec::new(),
        }
    }

    /// Formats the command line as one line for chat and logs, with secret
    /// values masked. Arguments are quoted for reading only: nothing runs it
    /// through a shell.
    pub fn display(&self) -> String {
        let mut line = quote_for_display(&self.program);
        for arg in &self.masked_args {
            line.push(' ');
            line.push_str(&quote_for_display(arg));
        }
        line
    }

    /// Replaces every secret value in `text` with [`MASK`].
    pub fn mask(&self, text: &str) -> String {
        let mut masked = text.to_string();
        for secret in &self.secrets {
            if !secret.is_empty() {
                masked = masked.replace(secret.as_str(), MASK);
            }
        }
        masked
    }
}

/// Shows the masked command only, so a debug print cannot leak a secret.
impl fmt::Debug for PreparedCommand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PreparedCommand")
            .field("intent", &self.intent)
            .field("program", &self.program)
            .field("masked_args", &self.masked_args)
            .finish_non_exhaustive()
    }
}

/// Rejects values for slots the intent does not have, and values that
/// cannot be passed as part of an argument.
fn check_values(intent: &Intent, values: &BTreeMap<String, String>) -> Result<(), CommandError> {
    for (name, value) in values {
        let Some(slot) = intent.slots.iter().find(|slot| &slot.name == name) else {
            return Err(CommandError::UnknownSlot {
                intent: intent.name.clone(),
                slot: name.clone(),
            });
        };
        if value.is_empty() {
            return Err(CommandError::EmptyValue {
                intent: intent.name.clone(),
                slot: name.clone(),
            });
        }
        if value.contains('\0') {
            return Err(CommandError::NulInValue {
                intent: intent.name.clone(),
                slot: name.clone(),
                value: shown_value(value, slot.secret),
            });
        }
    }
    Ok(())
}

/// Checks that every required slot has a value, or for a group of
/// alternatives, that at least one slot of the group has one.
fn check_required(intent: &Intent, values: &BTreeMap<String, String>) -> Result<(), CommandError> {
    for slot in intent.required_slots() {
        if values.contains_key(&slot.name) {
            continue;
        }
        let Some(group) = &slot.group else {
            return Err(CommandError::MissingSlot {
                intent: intent.name.clone(),
                slot: slot.name.clone(),
            });
        };
        let members: Vec<String> = intent
            .slots
            .iter()
            .filter(|other| other.group.as_ref() == Some(group))
            .map(|other| other.name.clone())
            .collect();
        if !members.iter().any(|member| values.contains_key(member)) {
            return Err(CommandError::MissingAlternative {
                intent: intent.name.clone(),
                group: group.clone(),
                slots: members,
            });
        }
    }
    Ok(())
}

/// Builds one argument and its masked form, or `None` when a placeholder
/// names a slot without a value, so the argument is left out.
fn fill(
    intent: &Intent,
    index: usize,
    segments: &[Segment<'_>],
    values: &BTreeMap<String, String>,
) -> Result<Option<(String, String)>, CommandError> {
    let mut arg = String::new();
    let mut masked = String::new();
    for (position, segment) in segments.iter().enumerate() {
        match *segment {
            Segment::Literal(text) => {
                arg.push_str(text);
                masked.push_str(text);
            }
            Segment::Placeholder(name) => {
                let Some(value) = values.get(name) else {
                    // `check_required` has already rejected a missing
                    // required slot, so only optional ones get here.
                    return Ok(None);
                };
                let secret = intent
                    .slots
                    .iter()
                    .any(|slot| slot.name == name && slot.secret);
                if position == 0 && value.starts_with('-') {
                    return Err(CommandError::LeadingDash {
                        intent: intent.name.clone(),
                        slot: name.to_string(),
                        value: shown_value(value, secret),
                        index,
                    });
                }
                arg.push_str(value);
                masked.push_str(if secret { MASK } else { value });
            }
        }
    }
    Ok(Some((arg, masked)))
}

/// Formats a value for an error message: escaped, so a newline cannot
/// forge a line of output, or masked for a secret slot.
fn shown_value(value: &str, secret: bool) -> String {
    if secret {
        MASK.to_string()
    } else {
        value.escape_debug().to_string()
    }
}

/// Quotes an argument in POSIX shell style when it contains characters a
/// reader would otherwise misjudge, such as spaces or quotes.
fn quote_for_display(arg: &str) -> String {
    let plain = !arg.is_empty()
        && arg.chars().all(|c| {
            c.is_alphanumeric() || matches!(c, '-' | '_' | '.' | '/' | '=' | ':' | ',' | '@' | '+')
        });
    if plain {
        arg.to_string()
    } else {
        format!("'{}'", arg.replace('\'', r"'\''"))
    }
}

fn format_names(names: &[String]) -> String {
    names
        .iter()
        .map(|name| format!("`{name}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::intent::{CommandSpec, Risk, SlotSpec};
    use crate::slots::SlotKind;

    fn slot(name: &str, required: bool) -> SlotSpec {
        SlotSpec {
            name: name.to_string(),
            kind: SlotKind::Text,
            required,
            group: None,
            secret: false,
        }
    }

    fn intent(args: &[&str], slots: Vec<SlotSpec>) -> Intent {
        Intent {
            name: IntentName::new("test.intent"),
            description: "test".to_string(),
            risk: Risk::Read,
            command: CommandSpec {
                program: "warroom-demo".to_string(),
                args: args.iter().map(|arg| arg.to_string()).collect(),
            },
            slots,
            exemplars: Vec::new(),
            negatives: Vec::new(),
            source: PathBuf::from("test.toml"),
        }
    }

    fn values(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(name, value)| (name.to_string(), value.to_string()))
            .collect()
    }

    #[test]
    fn placeholders_are_filled_in_place() {
        let intent = intent(
            &["server-health", "--host={host}", "{a}-{b}"],
            vec![slot("host", true), slot("a", true), slot("b", true)],
        );
        let command = prepare(
            &intent,
            &values(&[("host", "web 01; rm -rf /"), ("a", "x"), ("b", "y")]),
        )
        .unwrap();
        assert_eq!(command.program, "warroom-demo");
        assert_eq!(
            command.args,
            ["server-health", "--host=web 01; rm -rf /", "x-y"]
        );
    }

    #[test]
    fn absent_optional_slot_drops_its_argument() {
        let intent = intent(
            &["alerts-list", "--severity={severity}", "--host={host}"],
            vec![slot("severity", false), slot("host", false)],
        );
        let command = prepare(&intent, &values(&[("host", "web-01")])).unwrap();
        assert_eq!(command.args, ["alerts-list", "--host=web-01"]);

        let command = prepare(&intent, &values(&[])).unwrap();
        assert_eq!(command.args, ["alerts-list"]);
    }

    #[test]
    fn missing_required_slot_is_an_error() {
        let intent = intent(&["--host={host}"], vec![slot("host", true)]);
        let error = prepare(&intent, &values(&[])).unwrap_err();
        assert!(matches!(error, CommandError::MissingSlot { ref slot, .. } if slot == "host"));
        assert!(error.to_string().contains("`host`"), "{error}");
    }

    #[test]
    fn group_needs_one_alternative() {
        let mut ip = slot("ip", true);
        ip.group = Some("target".to_string());
        let mut cidr = slot("cidr", true);
        cidr.group = Some("target".to_string());
        let intent = intent(&["--ip={ip}", "--cidr={cidr}"], vec![ip, cidr]);

        let command = prepare(&intent, &values(&[("cidr", "10.0.0.0/8")])).unwrap();
        assert_eq!(command.args, ["--cidr=10.0.0.0/8"]);

        let error = prepare(&intent, &values(&[])).unwrap_err();
        assert!(
            matches!(error, CommandError::MissingAlternative { ref slots, .. } if slots == &["ip", "cidr"])
        );
    }

    #[test]
    fn unknown_slot_is_rejected() {
        let intent = intent(&["--host={host}"], vec![slot("host", true)]);
        let error = prepare(&intent, &values(&[("host", "a"), ("extra", "--evil")])).unwrap_err();
        assert!(matches!(error, CommandError::UnknownSlot { ref slot, .. } if slot == "extra"));
    }

    #[test]
    fn nul_and_empty_values_are_rejected() {
        let intent = intent(&["--host={host}"], vec![slot("host", true)]);
        let error = prepare(&intent, &values(&[("host", "web\0-01")])).unwrap_err();
        assert!(matches!(error, CommandError::NulInValue { .. }));
        let error = prepare(&intent, &values(&[("host", "")])).unwrap_err();
        assert!(matches!(error, CommandError::EmptyValue { .. }));
    }

    #[test]
    fn leading_dash_rejected_only_at_argument_start() {
        let intent = intent(
            &["{target}", "--host={host}"],
            vec![slot("target", false), slot("host", false)],
        );
        let error = prepare(&intent, &values(&[("target", "--help")])).unwrap_err();
        assert!(matches!(error, CommandError::LeadingDash { index: 0, .. }));

        let command = prepare(&intent, &values(&[("host", "-web")])).unwrap();
        assert_eq!(command.args, ["--host=-web"]);
    }

    #[test]
    fn secrets_are_masked_in_display_and_errors() {
        let mut token = slot("token", true);
        token.secret = true;
        let intent = intent(&["login", "--token={token}", "{token}"], vec![token]);

        let command = prepare(&intent, &values(&[("token", "hunter2")])).unwrap();
        assert_eq!(command.args[1], "--token=hunter2");
        assert_eq!(command.masked_args[1], "--token=••••");
        assert!(
            !command.display().contains("hunter2"),
            "{}",
            command.display()
        );
        assert!(!format!("{command:?}").contains("hunter2"));
        assert_eq!(command.mask("got hunter2 back"), "got •••• back");

        let error = prepare(&intent, &values(&[("token", "-hunter2")])).unwrap_err();
        assert!(!error.to_string().contains("hunter2"), "{error}");
        let error = prepare(&intent, &values(&[("token", "hun\0ter2")])).unwrap_err();
        assert!(!error.to_string().contains("hun"), "{error}");
    }

    #[test]
    fn display_quotes_arguments_with_spaces() {
        let command = PreparedCommand::literal(
            IntentName::new("x"),
            "warroom-demo",
            vec!["--title=db down".to_string(), "it's".to_string()],
        );
        assert_eq!(
            command.display(),
            r"warroom-demo '--title=db down' 'it'\''s'"
        );
    }

    #[test]
    fn invalid_template_is_reported() {
        let intent = intent(&["--host={host"], vec![slot("host", true)]);
        let error = prepare(&intent, &values(&[("host", "a")])).unwrap_err();
        assert!(matches!(
            error,
            CommandError::InvalidTemplate { index: 0, .. }
        ));
    }

    #[test]
    fn shipped_intents_prepare_with_every_slot() {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("intents");
        let catalog = crate::intent::Catalog::load(&dir).unwrap();
        for intent in catalog.intents() {
            let all = intent
                .slots
                .iter()
                .map(|slot| (slot.name.clone(), format!("v-{}", slot.name)))
                .collect();
            let command = prepare(intent, &all).unwrap();
            assert_eq!(
                command.args.len(),
                intent.command.args.len(),
                "{}",
                intent.name
            );
        }
    }
}
