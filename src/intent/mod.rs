//! Intents: the catalog read from `intents/*.toml`, and the matcher that
//! decides which intent a message requests.

mod cache;
mod catalog;
mod decision;
mod head;
mod mask;
mod matcher;
mod negation;
mod rank;
mod settle;
mod thresholds;

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use serde::Serialize;

pub use cache::{CacheError, EmbeddingCache};
pub use catalog::{
    Catalog, CatalogError, MIN_EXEMPLARS, Problem, Segment, normalize_text, parse_template,
    placeholders,
};
pub use decision::{Alternative, Decision, DeclineReason, Explanation, Neighbour, Next, Outcome};
pub use head::{Head, HeadError, HeadTraining};
pub use mask::mask_entities;
pub(crate) use matcher::embed_with_cache;
pub use matcher::{Matcher, MatcherError, Ranking, Similarities};
pub(crate) use negation::{is_question, takes_back_anywhere};
pub use thresholds::{MatcherConfig, Thresholds, TierThresholds};

use crate::slots::SlotKind;

/// Name of an intent, such as `server.health`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct IntentName(String);

/// How much an intent changes the world, which decides what it needs before it runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Risk {
    /// Reads state; runs at once.
    Read,
    /// Changes state; runs after the requester confirms.
    Change,
    /// Changes state in a way that is hard to undo; needs a second person's approval.
    Critical,
}

/// One intent of the catalog, validated.
#[derive(Debug, Clone)]
pub struct Intent {
    pub name: IntentName,
    pub description: String,
    pub risk: Risk,
    pub command: CommandSpec,
    pub slots: Vec<SlotSpec>,
    pub exemplars: Vec<String>,
    pub negatives: Vec<String>,
    /// The intent file it was read from.
    pub source: PathBuf,
}

/// The program an intent runs and its argument template. An argument
/// contains literal text and `{slot}` placeholders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandSpec {
    pub program: String,
    pub args: Vec<String>,
}

/// A typed parameter of an intent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotSpec {
    pub name: String,
    pub kind: SlotKind,
    pub required: bool,
    /// Slots sharing a group are alternatives: one of them is enough.
    pub group: Option<String>,
    /// A secret value is masked in replies, errors and logs.
    pub secret: bool,
}

impl IntentName {
    pub fn new(name: impl Into<String>) -> Self {
        Self(name.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for IntentName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Risk {
    pub const ALL: [Risk; 3] = [Self::Read, Self::Change, Self::Critical];

    pub fn name(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Change => "change",
            Self::Critical => "critical",
        }
    }
}

impl fmt::Display for Risk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Risk {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|risk| risk.name() == s)
            .ok_or_else(|| format!("unknown risk tier `{s}`, expected read, change or critical"))
    }
}

impl Intent {
    /// Slots marked required, including those of a group of alternatives.
    pub fn required_slots(&self) -> impl Iterator<Item = &SlotSpec> {
        self.slots.iter().filter(|slot| slot.required)
    }
}
