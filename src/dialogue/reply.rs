//! What the bot answers to one message, as data for any chat transport,
//! with a plain-text rendering.

use std::fmt;
use std::time::Duration;

use jiff::Timestamp;

use super::pending::PendingId;
use crate::intent::{IntentName, Risk};
use crate::policy::Role;

/// The bot's answer to one message.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// A command ran: at once for a `read` intent, after confirmation or
    /// approval otherwise.
    Ran(RunReport),
    /// A `change` command waits for its requester's yes.
    NeedsConfirmation(Proposal),
    /// A `critical` command waits for a second person's approval.
    NeedsApproval(Proposal),
    /// A required slot is missing, or its value was invalid.
    Question {
        intent: IntentName,
        slot: String,
        question: String,
        /// The validator's message about the last value, when it was rejected.
        problem: Option<String>,
    },
    /// Intents too close to tell apart: "did you mean X or Y?".
    Clarify {
        options: Vec<IntentName>,
        question: String,
    },
    /// The intents the asker may run, with their descriptions.
    Help { entries: Vec<HelpEntry> },
    /// A pending action or a question was withdrawn.
    Cancelled {
        pending: Option<PendingId>,
        text: String,
    },
    /// A pending action already ran, failed or was closed, so a yes does nothing.
    AlreadyHandled { pending: PendingId, text: String },
    /// Anything else the bot says that is neither a result nor a refusal,
    /// such as "what should I do with INC-4821?".
    Note { text: String },
    /// The request was not carried out, and why.
    Refused { kind: ErrorKind, message: String },
}

/// A command that ran, with its result.
#[derive(Debug, Clone, PartialEq)]
pub struct RunReport {
    /// The pending action it ran as, for `change` and `critical` intents.
    pub pending: Option<PendingId>,
    pub intent: IntentName,
    /// The command line with secret values masked.
    pub command: String,
    pub exit_code: Option<i32>,
    pub signal: Option<i32>,
    pub duration: Duration,
    pub timed_out: bool,
    /// Whether the output was cut at the runner's limit.
    pub truncated: bool,
    pub stdout: String,
    pub stderr: String,
    /// Whether the end of the command reached the audit log.
    pub end_recorded: bool,
}

/// A command shown for confirmation or approval.
#[derive(Debug, Clone, PartialEq)]
pub struct Proposal {
    pub pending: PendingId,
    pub intent: IntentName,
    pub description: String,
    pub risk: Risk,
    /// The exact command line, secret values masked.
    pub command: String,
    /// Slot names and values as shown, secret values masked.
    pub targets: Vec<(String, String)>,
    pub expires_at: Timestamp,
    /// Time from proposal to expiry.
    pub ttl: Duration,
    /// Roles that may approve, for a critical action.
    pub approvers: Vec<Role>,
}

/// One line of help.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HelpEntry {
    pub intent: IntentName,
    pub risk: Risk,
    pub description: String,
}

/// The kinds of failure one request can end in. Each drives one reply and
/// one audit record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    NoIntent,
    Ambiguous,
    MissingSlot,
    InvalidSlot,
    NotAuthorized,
    ExpiredConfirmation,
    CommandFailed,
    /// The audit log could not record an event, so nothing more was done.
    AuditFailed,
}

/// Output lines shown in a reply, at most; the rest is counted, because a
/// chat reply is read, not scrolled.
const MAX_OUTPUT_LINES: usize = 40;

impl Reply {
    /// Returns the pending id the reply is about, if any.
    pub fn pending(&self) -> Option<&PendingId> {
        match self {
            Self::Ran(report) => report.pending.as_ref(),
            Self::NeedsConfirmation(proposal) | Self::NeedsApproval(proposal) => {
                Some(&proposal.pending)
            }
            Self::Cancelled { pending, .. } => pending.as_ref(),
            Self::AlreadyHandled { pending, .. } => Some(pending),
            _ => None,
        }
    }

    /// Returns the kind of failure for a refusal.
    pub fn error_kind(&self) -> Option<ErrorKind> {
        match self {
            Self::Refused { kind, .. } => Some(*kind),
            _ => None,
        }
    }
}

impl ErrorKind {
    pub fn name(self) -> &'static str {
        match self {
            Self::NoIntent => "no intent",
            Self::Ambiguous => "ambiguous",
            Self::MissingSlot => "missing slot",
            Self::InvalidSlot => "invalid slot",
            Self::NotAuthorized => "not authorized",
            Self::ExpiredConfirmation => "expired confirmation",
            Self::CommandFailed => "command failed",
            Self::AuditFailed => "audit failed",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Ran(report) => write!(f, "{report}"),
            Self::NeedsConfirmation(proposal) => {
                writeln!(
                    f,
                    "awaiting confirmation: `{}` ({}), pending {}",
                    proposal.intent, proposal.description, proposal.pending
                )?;
                write_proposal(f, proposal)?;
                write!(
                    f,
                    "Reply `yes` to run it or `no` to cancel; only the requester can confirm, in this channel and thread."
                )
            }
            Self::NeedsApproval(proposal) => {
                writeln!(
                    f,
                    "awaiting approval: `{}` ({}) is critical, pending {}",
                    proposal.intent, proposal.description, proposal.pending
                )?;
                write_proposal(f, proposal)?;
                write!(
                    f,
                    "A second person with role {} replies `approve {}` here to run it; `no` cancels. The requester cannot approve.",
                    roles_text(&proposal.approvers),
                    proposal.pending
                )
            }
            Self::Question {
                question, problem, ..
            } => match problem {
                Some(problem) => write!(f, "{problem}\n{question}"),
                None => f.write_str(question),
            },
            Self::Clarify { question, .. } => f.write_str(question),
            Self::Help { entries } if entries.is_empty() => {
                f.write_str("You may not run any action here; ask an admin for a role.")
            }
            Self::Help { entries } => {
                write!(f, "You can ask me to:")?;
                for entry in entries {
                    write!(
                        f,
                        "\n  {} [{}]: {}",
                        entry.intent, entry.risk, entry.description
                    )?;
                }
                Ok(())
            }
            Self::Cancelled { text, .. }
            | Self::AlreadyHandled { text, .. }
            | Self::Note { text } => f.write_str(text),
            Self::Refused { kind, message } => write!(f, "refused ({kind}): {message}"),
        }
    }
}

impl fmt::Display for RunReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let status = match (self.exit_code, self.signal) {
            (Some(code), _) => format!("exit code {code}"),
            (None, Some(signal)) => format!("killed by signal {signal}"),
            (None, None) => "no exit status".to_string(),
        };
        let timed_out = if self.timed_out { ", timed out" } else { "" };
        let pending = self
            .pending
            .as_ref()
            .map(|id| format!(" as {id}"))
            .unwrap_or_default();
        write!(
            f,
            "ran `{}`{pending}: {status}{timed_out}, {} ms",
            self.command,
            self.duration.as_millis()
        )?;
        write_output(f, "", &self.stdout)?;
        write_output(f, "stderr: ", &self.stderr)?;
        if self.truncated {
            write!(f, "\n(output cut at the output limit)")?;
        }
        if !self.end_recorded {
            write!(
                f,
                "\nwarning: the end of this command is missing from the audit log"
            )?;
        }
        Ok(())
    }
}

fn write_proposal(f: &mut fmt::Formatter<'_>, proposal: &Proposal) -> fmt::Result {
    writeln!(f, "  command: {}", proposal.command)?;
    if !proposal.targets.is_empty() {
        let targets: Vec<String> = proposal
            .targets
            .iter()
            .map(|(slot, value)| format!("{slot}={value}"))
            .collect();
        writeln!(f, "  target: {}", targets.join(", "))?;
    }
    writeln!(
        f,
        "  expires: {} (in {} s)",
        proposal.expires_at.strftime("%Y-%m-%d %H:%M:%S UTC"),
        proposal.ttl.as_secs()
    )
}

fn write_output(f: &mut fmt::Formatter<'_>, prefix: &str, text: &str) -> fmt::Result {
    let lines: Vec<&str> = text.lines().collect();
    for line in lines.iter().take(MAX_OUTPUT_LINES) {
        write!(f, "\n  | {prefix}{line}")?;
    }
    if lines.len() > MAX_OUTPUT_LINES {
        write!(f, "\n  | ({} more lines)", lines.len() - MAX_OUTPUT_LINES)?;
    }
    Ok(())
}

/// Formats roles as `a`, `a or b`, `a, b or c`.
pub fn roles_text(roles: &[Role]) -> String {
    let names: Vec<&str> = roles.iter().map(Role::as_str).collect();
    match names.split_last() {
        None => "(none defined)".to_string(),
        Some((last, [])) => (*last).to_string(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
    }
}
