//! Matcher settings: how exemplar scores are combined and the thresholds each risk tier must pass.

use serde::{Deserialize, Serialize};

use super::Risk;

/// Thresholds one risk tier must pass to be matched.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TierThresholds {
    /// Lowest intent score (cosine similarity, -1 to 1) accepted as a match.
    pub min_score: f32,
    /// Smallest lead over the runner-up intent; a closer runner-up makes the
    /// message ambiguous.
    pub min_margin: f32,
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

/// How the matcher scores an intent from its exemplars.
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
    /// Values calibrated on the shipped catalog's train split with
    /// `warroom calibrate`; see docs/benchmarks.md.
    fn default() -> Self {
        Self {
            read: TierThresholds {
                min_score: 0.55,
                min_margin: 0.02,
            },
            change: TierThresholds {
                min_score: 0.60,
                min_margin: 0.03,
            },
            critical: TierThresholds {
                min_score: 0.65,
                min_margin: 0.04,
            },
        }
    }
}

impl Default for MatcherConfig {
    fn default() -> Self {
        Self {
            top_k: 3,
            negative_margin: 0.0,
            thresholds: Thresholds::default(),
        }
    }
}
