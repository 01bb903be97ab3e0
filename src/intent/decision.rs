//! The matcher's decision on one message, with the evidence behind it.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

use super::{IntentName, Risk, TierThresholds};

/// The matcher's conclusion on a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Matched,
    Ambiguous,
    OutOfScope,
}

/// The bot's next step with the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Next {
    /// A `read` intent with every required slot: run it.
    Run,
    /// A `change` intent: show the command and wait for the requester's yes.
    Confirm,
    /// A `critical` intent: wait for a second authorised person's approval.
    Approve,
    /// A required slot is missing: ask for it.
    AskSlot,
    /// Two intents are too close to tell apart: ask which one.
    Clarify,
    /// Out of scope: reply with what the bot can do.
    Fallback,
}

/// A candidate intent and its score.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Alternative {
    pub intent: IntentName,
    pub score: f32,
}

/// An exemplar close to the message.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Neighbour {
    pub intent: IntentName,
    pub text: String,
    pub score: f32,
    /// Whether the exemplar is a negative one (a phrasing that must not match).
    pub negative: bool,
}

/// The reason a message was declined as out of scope.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DeclineReason {
    /// The message is empty or only whitespace.
    Empty,
    /// The message has no word of two or more letters (a single character, digits, emoji).
    NoWords,
    /// The message asks not to do something, or to do it later ("don't
    /// restart nginx yet").
    Negated,
    /// The message is only an identifier, such as `INC-4821`: it names a
    /// thing but requests nothing.
    IdentifierOnly,
    /// The best intent scored below its tier's threshold.
    BelowThreshold { score: f32, min_score: f32 },
    /// The classifier head finds the message out of scope, or is not sure
    /// enough of the best intent.
    Classifier {
        probability: f32,
        oos_probability: f32,
        min_probability: f32,
    },
    /// A negative exemplar is closer than any exemplar of the best intent.
    NearNegative {
        intent: IntentName,
        text: String,
        score: f32,
    },
}

/// The evidence behind a decision, for `warroom ask` and the audit log.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Explanation {
    /// One sentence saying why.
    pub summary: String,
    /// Lead of the best intent over the closest other intent: in probability
    /// over the most probable one with a classifier head, else in score.
    pub margin: Option<f32>,
    /// Thresholds of the best intent's risk tier.
    pub thresholds: Option<TierThresholds>,
    /// Nearest exemplars of any intent, closest first.
    pub nearest: Vec<Neighbour>,
    pub decline: Option<DeclineReason>,
    /// Model tokens the message used.
    pub tokens: usize,
    /// Whether the message was cut at the model's maximum sequence length.
    pub truncated: bool,
}

/// The matcher's decision on one message. The field names are read by
/// other tools and must not change.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Decision {
    pub text: String,
    pub outcome: Outcome,
    pub intent: Option<IntentName>,
    pub confidence: f32,
    pub alternatives: Vec<Alternative>,
    pub risk: Option<Risk>,
    pub slots: BTreeMap<String, serde_json::Value>,
    /// Required slots the message did not give, and slots whose value was invalid.
    pub missing_slots: Vec<String>,
    pub next: Next,
    pub explanation: Explanation,
}

impl Next {
    /// Returns the step for a matched intent of this tier whose slots are complete.
    pub fn for_risk(risk: Risk) -> Self {
        match risk {
            Risk::Read => Self::Run,
            Risk::Change => Self::Confirm,
            Risk::Critical => Self::Approve,
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Matched => "matched",
            Self::Ambiguous => "ambiguous",
            Self::OutOfScope => "out of scope",
        })
    }
}

impl fmt::Display for Next {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Run => "run",
            Self::Confirm => "confirm",
            Self::Approve => "approve",
            Self::AskSlot => "ask_slot",
            Self::Clarify => "clarify",
            Self::Fallback => "fallback",
        })
    }
}
