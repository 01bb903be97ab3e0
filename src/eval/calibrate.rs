//! Threshold calibration: picks the matcher settings that reach a target on
//! labelled development data.

use serde::Serialize;

use super::EvalError;
use crate::dataset::Example;
use crate::embed::Embedding;
use crate::intent::{
    Head, HeadTraining, Matcher, MatcherConfig, Outcome, Ranking, Risk, Thresholds, TierThresholds,
};

/// The target calibration must reach; within it, in-scope accuracy is maximised.
#[derive(Debug, Clone, Copy)]
pub struct Target {
    /// Lowest share of `oos` rows that must be declined.
    pub min_oos_recall: f64,
    /// Most `oos` rows that may be accepted as a `critical` intent.
    pub max_critical_false_accepts: usize,
}

/// The source of the classifier head's probabilities for calibration rows.
#[derive(Debug, Clone, Copy)]
pub enum HeadUse {
    /// Score with the matcher's own head, or without one when it has none.
    Installed,
    /// The rows are the head's own training rows: score each fold of
    /// `folds` with a head trained on the catalog and the other folds, so
    /// no row is scored by a head that saw it.
    CrossFitted {
        folds: usize,
        training: HeadTraining,
    },
}

/// The chosen settings and what they reach on the calibration data.
#[derive(Debug, Clone, Serialize)]
pub struct Calibration {
    pub config: MatcherConfig,
    pub in_scope_accuracy: f64,
    pub oos_recall: f64,
    pub critical_false_accepts: usize,
    /// Settings tried.
    pub candidates: usize,
    /// Whether the target was met; when not, the settings with the highest
    /// out-of-scope recall are returned.
    pub target_met: bool,
}

/// The values tried for each setting.
struct Grid {
    top_k: &'static [usize],
    negative_margin: &'static [f32],
    min_margin: &'static [f32],
    min_score: Vec<f32>,
    min_probability: Vec<f32>,
}

/// 2.0 turns the negative gate off, since cosine similarities lie in [-1, 1].
const NEGATIVE_GATE_OFF: f32 = 2.0;

/// One labelled row, reduced to what the gates need.
struct Row {
    out_of_scope: bool,
    label: String,
    /// One ranking per `top_k` choice; `None` when the row is declined
    /// before scoring (empty, no word).
    rankings: Option<Vec<Ranking>>,
}

/// Outcomes of the rows whose best intent is of one tier, under one setting.
#[derive(Debug, Clone, Copy, Default)]
struct TierCounts {
    /// In-scope rows matched to their labelled intent.
    correct: usize,
    /// `oos` rows declined.
    declined: usize,
    /// `oos` rows accepted as an intent of this tier.
    false_accepts: usize,
}

/// Searches the settings grid for the highest in-scope accuracy that meets
/// `target` on `examples`. Thresholds stay ordered by risk tier: a riskier
/// tier never has a lower one.
pub fn calibrate(
    matcher: &Matcher,
    examples: &[Example],
    embeddings: &[Option<Embedding>],
    target: Target,
    head_use: HeadUse,
) -> Result<Calibration, EvalError> {
    let heads = fold_heads(matcher, examples, embeddings, head_use)?;
    let with_head = !heads.is_empty() || matcher.head().is_some();
    let grid = Grid::new(with_head);

    let rows: Vec<Row> = examples
        .iter()
        .zip(embeddings)
        .enumerate()
        .map(|(index, (example, embedding))| Row {
            out_of_scope: example.is_out_of_scope(),
            label: example.intent.clone(),
            rankings: embedding.as_ref().map(|embedding| {
                let similarities = match heads.is_empty() {
                    true => matcher.similarities(embedding),
                    false => {
                        matcher.similarities_with(embedding, Some(&heads[index % heads.len()]))
                    }
                };
                grid.top_k
                    .iter()
                    .map(|&top_k| matcher.ranking(&example.text, &similarities, top_k))
                    .collect()
            }),
        })
        .collect();
    let in_scope_rows = rows.iter().filter(|row| !row.out_of_scope).count();
    let oos_rows = rows.len() - in_scope_rows;
    if in_scope_rows == 0 {
        return Err(EvalError::NoIntents);
    }
    let always_declined = rows
        .iter()
        .filter(|row| row.out_of_scope && row.rankings.is_none())
        .count();

    let mut best: Option<Calibration> = None;
    let mut fallback: Option<Calibration> = None;
    let mut candidates = 0;
    for (k_index, &top_k) in grid.top_k.iter().enumerate() {
        for &negative_margin in grid.negative_margin {
            for &min_margin in grid.min_margin {
                // A row's outcome depends only on the thresholds of its best
                // intent's tier, so each tier is counted once per threshold
                // pair and the tiers are combined afterwards.
                let counts: Vec<Vec<Vec<TierCounts>>> = Risk::ALL
                    .iter()
                    .map(|&risk| {
                        grid.min_score
                            .iter()
                            .map(|&min_score| {
                                grid.min_probability
                                    .iter()
                                    .map(|&min_probability| {
                                        let config = MatcherConfig {
                                            top_k,
                                            negative_margin,
                                            thresholds: uniform(tier(
                                                min_score,
                                                min_margin,
                                                min_probability,
                                            )),
                                        };
                                        count_tier(matcher, &rows, k_index, risk, &config)
                                    })
                                    .collect()
                            })
                            .collect()
                    })
                    .collect();

                for scores in ordered_triples(grid.min_score.len()) {
                    for probabilities in ordered_triples(grid.min_probability.len()) {
                        candidates += 1;
                        let tiers: [TierCounts; 3] = [0, 1, 2]
                            .map(|level| counts[level][scores[level]][probabilities[level]]);
                        let correct: usize = tiers.iter().map(|counts| counts.correct).sum();
                        let declined: usize = always_declined
                            + tiers.iter().map(|counts| counts.declined).sum::<usize>();
                        let settings = [0, 1, 2].map(|level| {
                            tier(
                                grid.min_score[scores[level]],
                                min_margin,
                                grid.min_probability[probabilities[level]],
                            )
                        });
                        let candidate = Calibration {
                            config: MatcherConfig {
                                top_k,
                                negative_margin,
                                thresholds: Thresholds {
                                    read: settings[0],
                                    change: settings[1],
                                    critical: settings[2],
                                },
                            },
                            in_scope_accuracy: correct as f64 / in_scope_rows as f64,
                            oos_recall: if oos_rows == 0 {
                                1.0
                            } else {
                                declined as f64 / oos_rows as f64
                            },
                            critical_false_accepts: tiers[2].false_accepts,
                            candidates: 0,
                            target_met: false,
                        };
                        let meets = candidate.oos_recall >= target.min_oos_recall
                            && candidate.critical_false_accepts
                                <= target.max_critical_false_accepts;
                        if meets {
                            if is_better(&candidate, best.as_ref()) {
                                best = Some(candidate);
                            }
                        } else if is_safer(&candidate, fallback.as_ref()) {
                            fallback = Some(candidate);
                        }
                    }
                }
            }
        }
    }

    let (mut chosen, target_met) = match (best, fallback) {
        (Some(best), _) => (best, true),
        (None, Some(fallback)) => (fallback, false),
        (None, None) => return Err(EvalError::NoIntents),
    };
    chosen.candidates = candidates;
    chosen.target_met = target_met;
    Ok(chosen)
}

impl Grid {
    /// With a head, the probability gate does most of the work, so the
    /// similarity grid is coarse; without one, the similarity grid is fine.
    fn new(with_head: bool) -> Self {
        if with_head {
            Self {
                top_k: &[1, 3],
                negative_margin: &[0.05, NEGATIVE_GATE_OFF],
                min_margin: &[0.0, 0.05, 0.1],
                min_score: vec![0.2, 0.3, 0.4, 0.5],
                min_probability: vec![0.0, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9],
            }
        } else {
            Self {
                top_k: &[1, 2, 3, 5],
                negative_margin: &[-0.05, 0.0, 0.05, 0.1, NEGATIVE_GATE_OFF],
                min_margin: &[0.0, 0.01, 0.02, 0.03, 0.05],
                min_score: (20..=85).map(|value| value as f32 / 100.0).collect(),
                min_probability: vec![0.0],
            }
        }
    }
}

/// Trains one head per fold for cross-fitted calibration; no heads otherwise.
/// Row `i` belongs to fold `i % folds`.
fn fold_heads(
    matcher: &Matcher,
    examples: &[Example],
    embeddings: &[Option<Embedding>],
    head_use: HeadUse,
) -> Result<Vec<Head>, EvalError> {
    let HeadUse::CrossFitted { folds, training } = head_use else {
        return Ok(Vec::new());
    };
    let folds = folds.max(2);
    (0..folds)
        .map(|fold| {
            let extra: Vec<(&Embedding, &str)> = examples
                .iter()
                .zip(embeddings)
                .enumerate()
                .filter(|(index, _)| index % folds != fold)
                .filter_map(|(_, (example, embedding))| {
                    embedding
                        .as_ref()
                        .map(|embedding| (embedding, example.intent.as_str()))
                })
                .collect();
            matcher
                .train_head(&extra, training)
                .map_err(|source| EvalError::Head { source })
        })
        .collect()
}

/// Index triples `a <= b <= c` below `len`, for thresholds that rise with risk.
fn ordered_triples(len: usize) -> Vec<[usize; 3]> {
    let mut triples = Vec::new();
    for a in 0..len {
        for b in a..len {
            for c in b..len {
                triples.push([a, b, c]);
            }
        }
    }
    triples
}

fn uniform(tier: TierThresholds) -> Thresholds {
    Thresholds {
        read: tier,
        change: tier,
        critical: tier,
    }
}

fn tier(min_score: f32, min_margin: f32, min_probability: f32) -> TierThresholds {
    TierThresholds {
        min_score: round(min_score),
        min_margin: round(min_margin),
        min_probability: round(min_probability),
    }
}

/// Rounds to 3 decimals, so written config values read cleanly.
fn round(value: f32) -> f32 {
    (value * 1000.0).round() / 1000.0
}

fn count_tier(
    matcher: &Matcher,
    rows: &[Row],
    k_index: usize,
    risk: Risk,
    config: &MatcherConfig,
) -> TierCounts {
    let mut counts = TierCounts::default();
    for row in rows {
        let Some(rankings) = &row.rankings else {
            continue;
        };
        let ranking = &rankings[k_index];
        if ranking.top_risk != risk {
            continue;
        }
        let (outcome, intent) = matcher.classify(ranking, config);
        if row.out_of_scope {
            match outcome {
                Outcome::OutOfScope => counts.declined += 1,
                Outcome::Matched => counts.false_accepts += 1,
                Outcome::Ambiguous => {}
            }
        } else if intent.is_some_and(|name| name.as_str() == row.label) {
            counts.correct += 1;
        }
    }
    counts
}

fn is_better(candidate: &Calibration, best: Option<&Calibration>) -> bool {
    let Some(best) = best else {
        return true;
    };
    (candidate.in_scope_accuracy, candidate.oos_recall) > (best.in_scope_accuracy, best.oos_recall)
}

fn is_safer(candidate: &Calibration, best: Option<&Calibration>) -> bool {
    let Some(best) = best else {
        return true;
    };
    (candidate.oos_recall, candidate.in_scope_accuracy) > (best.oos_recall, best.in_scope_accuracy)
}
