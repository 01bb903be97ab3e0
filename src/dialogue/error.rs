//! The dispatch error taxonomy: every way a request can end without its
//! command running, each mapped to one reply and one audit record.

use jiff::Timestamp;

use super::pending::PendingId;
use super::reply::{ErrorKind, Reply};
use crate::audit::{AuditError, AuditEvent};
use crate::intent::{Alternative, IntentName, MatcherError};
use crate::inventory::UserId;
use crate::policy::Denial;

/// Why a request stopped. Handlers return it, and [`DispatchError::reply`]
/// and [`DispatchError::audit_event`] turn it into the answer and the record.
#[derive(Debug, thiserror::Error)]
pub enum DispatchError {
    /// No intent was proposed: out of scope, negated, or no request text.
    #[error("no intent: {reason}")]
    NoIntent {
        /// The reason for the audit log.
        reason: String,
        /// The answer for the user, with what the bot can do instead.
        message: String,
    },

    #[error("ambiguous between {}", names(options))]
    Ambiguous {
        options: Vec<Alternative>,
        question: String,
    },

    #[error("intent `{intent}`: missing required slot `{slot}`")]
    MissingSlot {
        intent: IntentName,
        slot: String,
        question: String,
    },

    #[error("intent `{intent}` slot `{slot}`: {problem}")]
    InvalidSlot {
        intent: IntentName,
        slot: String,
        /// The validator's message, secret values masked.
        problem: String,
        question: String,
    },

    #[error(transparent)]
    NotAuthorized(#[from] Refusal),

    #[error("pending action {pending} expired at {expired_at}; ask again to get a new one")]
    ExpiredConfirmation {
        pending: PendingId,
        expired_at: Timestamp,
    },

    #[error("`{command}` failed: {message}")]
    CommandFailed {
        /// The command line with secret values masked.
        command: String,
        /// The cause chain, secret values masked.
        message: String,
    },

    #[error("failed to record `{event}` in the audit log, so nothing more was done")]
    Audit {
        event: &'static str,
        #[source]
        source: AuditError,
    },

    #[error("failed to decide which intent the message requests")]
    Matcher {
        #[source]
        source: MatcherError,
    },
}

/// A reason a user may not do what they requested.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error(transparent)]
    Policy(#[from] Denial),

    #[error("only the requester, `{requester}`, can confirm or cancel {pending}")]
    NotRequester {
        pending: PendingId,
        requester: UserId,
    },

    #[error("{pending} waits in {place}; answer it there")]
    OtherPlace { pending: PendingId, place: String },
}

impl DispatchError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::NoIntent { .. } | Self::Matcher { .. } => ErrorKind::NoIntent,
            Self::Ambiguous { .. } => ErrorKind::Ambiguous,
            Self::MissingSlot { .. } => ErrorKind::MissingSlot,
            Self::InvalidSlot { .. } => ErrorKind::InvalidSlot,
            Self::NotAuthorized(_) => ErrorKind::NotAuthorized,
            Self::ExpiredConfirmation { .. } => ErrorKind::ExpiredConfirmation,
            Self::CommandFailed { .. } => ErrorKind::CommandFailed,
            Self::Audit { .. } => ErrorKind::AuditFailed,
        }
    }

    /// Returns the audit event that records this outcome, or `None` when
    /// it is already recorded (a command failure, recorded by the run) or
    /// cannot be (an audit failure).
    pub fn audit_event(&self) -> Option<AuditEvent> {
        match self {
            Self::NoIntent { reason, .. } => Some(AuditEvent::Declined {
                reason: reason.clone(),
            }),
            Self::Ambiguous { .. } | Self::Matcher { .. } => Some(AuditEvent::Declined {
                reason: self.to_string(),
            }),
            Self::MissingSlot { slot, .. } | Self::InvalidSlot { slot, .. } => {
                Some(AuditEvent::SlotAsked { slot: slot.clone() })
            }
            Self::NotAuthorized(refusal) => Some(AuditEvent::Denied {
                reason: refusal.to_string(),
            }),
            Self::ExpiredConfirmation { .. } => Some(AuditEvent::Denied {
                reason: self.to_string(),
            }),
            Self::CommandFailed { .. } | Self::Audit { .. } => None,
        }
    }

    /// Returns the answer for the user.
    pub fn reply(&self) -> Reply {
        match self {
            Self::NoIntent { message, .. } => Reply::Refused {
                kind: ErrorKind::NoIntent,
                message: message.clone(),
            },
            Self::Ambiguous { options, question } => Reply::Clarify {
                options: options.iter().map(|option| option.intent.clone()).collect(),
                question: question.clone(),
            },
            Self::MissingSlot {
                intent,
                slot,
                question,
            } => Reply::Question {
                intent: intent.clone(),
                slot: slot.clone(),
                question: question.clone(),
                problem: None,
            },
            Self::InvalidSlot {
                intent,
                slot,
                problem,
                question,
            } => Reply::Question {
                intent: intent.clone(),
                slot: slot.clone(),
                question: question.clone(),
                problem: Some(problem.clone()),
            },
            Self::Matcher { .. } | Self::Audit { .. } => Reply::Refused {
                kind: self.kind(),
                message: error_chain(self),
            },
            Self::NotAuthorized(_)
            | Self::ExpiredConfirmation { .. }
            | Self::CommandFailed { .. } => Reply::Refused {
                kind: self.kind(),
                message: self.to_string(),
            },
        }
    }
}

/// Formats an error and its causes as one line: `a: b: c`.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        // Some errors (slack-morphism's among them) print their source in
        // their own message, so a cause already at the end is not repeated.
        let cause_text = cause.to_string();
        if !text.ends_with(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

fn names(options: &[Alternative]) -> String {
    let names: Vec<String> = options
        .iter()
        .map(|option| format!("`{}`", option.intent))
        .collect();
    names.join(" and ")
}

#[cfg(test)]
mod tests {
    use super::error_chain;

    #[derive(Debug, thiserror::Error)]
    #[error("connection refused")]
    struct Refused;

    #[derive(Debug, thiserror::Error)]
    #[error("call failed: {0}")]
    struct Echoing(#[source] Refused);

    #[derive(Debug, thiserror::Error)]
    #[error("auth.test failed")]
    struct Outer(#[source] Echoing);

    #[test]
    fn chain_names_each_cause_once() {
        assert_eq!(
            error_chain(&Outer(Echoing(Refused))),
            "auth.test failed: call failed: connection refused"
        );
    }
}
