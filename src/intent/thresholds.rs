//! Matcher settings: how exemplar scores are combined and the thresholds each risk tier must pass.

use serde::{Deserialize, Serialize};

use super::Risk;

/// Thresholds one risk tier must pass to be matched.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TierThresholds {
    /// Lowest intent score (cosine similarity, -1 to 1) accepted as a match.
    pub min_score: f32,
    /// Smallest lead over the closest other intent (in probability when a
    /// classifier head is trained, in score otherwise); a closer intent
    /// makes the message ambiguous. With a head the lead is negative when
    /// the head prefers an intent other than the best-ranked one, so a
    /// margin of 0 makes those ambiguous.
    pub min_margin: f32,
    /// Lowest classifier-head probability accepted; unused without a head.
    #[serde(default)]
    pub min_probability: f32,
}

/// Thresholds by risk tier. Higher tiers should be stricter, because a
/// wrong match there changes the world.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Thresholds {
    pub read: TierThresholds,
    pub change: TierThresholds,
    pub critical: TierThresholds,
}

/// Scoring settings: how exemplar similarities become an intent score,
/// and the thresholds each tier must pass.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MatcherConfig {
    /// The intent score is the mean of its `top_k` best exemplar similarities.
    pub top_k: usize,
    /// A message whose nearest negative exemplar is closer than its nearest
    /// positive exemplar plus this margin is declined as out of scope.
    pub negative_margin: f32,
    pub thresholds: Thresholds,
}

impl Thresholds {
    pub fn for_risk(&self, risk: Risk) -> TierThresholds {
        match risk {
            Risk::Read => self.read,
            Risk::Change => self.change,
            Risk::Critical => self.critical,
        }
    }

    /// Problems with the values: out of range, or a higher tier laxer than a lower one.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        for risk in Risk::ALL {
            let tier = self.for_risk(risk);
            if !(-1.0..=1.0).contains(&tier.min_score) {
                problems.push(format!(
                    "thresholds.{risk}.min_score is {}, expected a cosine similarity from -1 to 1",
                    tier.min_score
                ));
            }
            if !(0.0..=1.0).contains(&tier.min_probability) {
                problems.push(format!(
                    "thresholds.{risk}.min_probability is {}, expected 0 to 1",
                    tier.min_probability
                ));
            }
            if !(0.0..=2.0).contains(&tier.min_margin) {
                problems.push(format!(
                    "thresholds.{risk}.min_margin is {}, expected 0 to 2",
                    tier.min_margin
                ));
            }
        }
        for (lower, higher) in [(Risk::Read, Risk::Change), (Risk::Change, Risk::Critical)] {
            if self.for_risk(higher).min_score < self.for_risk(lower).min_score {
                problems.push(format!(
                    "thresholds.{higher}.min_score is below thresholds.{lower}.min_score: a riskier tier must not be easier to match"
                ));
            }
        }
        problems
    }
}

impl Default for Thresholds {
    /// Returns the values `warroom calibrate --dev training-data/train.jsonl` chose
    /// for the shipped catalog with its classifier head, as written in the
    /// shipped warroom.toml. Without a head they accept too much: calibrate
    /// again.
    fn default() -> Self {
        Self {
            read: TierThresholds {
                min_score: 0.2,
                min_margin: 0.0,
                min_probability: 0.0,
            },
            change: TierThresholds {
                min_score: 0.4,
                min_margin: 0.0,
                min_probability: 0.0,
            },
            critical: TierThresholds {
                min_score: 0.4,
                min_margin: 0.0,
                min_probability: 0.7,
            },
        }
    }
}

impl MatcherConfig {
    /// Settings under which every message is matched to its best intent:
    /// no score, probability or margin gate and no negative gate.
    pub fn accept_all() -> Self {
        // Scores and leads lie in [-1, 1]: a lead is negative when the head
        // prefers another intent to the best-ranked one.
        let tier = TierThresholds {
            min_score: -1.0,
            min_margin: -1.0,
            min_probability: 0.0,
        };
        Self {
            top_k: 1,
            // Similarities lie in [-1, 1], so no negative can beat the best
            // exemplar by 2.
            negative_margin: 2.0,
            thresholds: Thresholds {
                read: tier,
                change: tier,
                critical: tier,
            },
        }
    }
}

impl Default for MatcherConfig {
    fn default() -> Self {
        Self {
            top_k: 1,
            negative_margin: 2.0,
            thresholds: Thresholds::default(),
        }
    }
}
