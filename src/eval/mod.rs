//! Intent-accuracy metrics: how often the matcher picks the right intent and
//! how often it accepts a message it should decline.

mod calibrate;
mod report;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use serde::Serialize;

pub use calibrate::{Calibration, HeadUse, Target, calibrate};
pub use report::{REPORT_PAGE, write_report};

use crate::dataset::{Example, OUT_OF_SCOPE};
use crate::embed::Embedding;
use crate::intent::{
    Catalog, CommandSpec, Decision, Intent, IntentName, Matcher, MatcherConfig, MatcherError,
    Outcome, Risk,
};

/// Precision, recall and F1 of one label.
#[derive(Debug, Clone, Serialize)]
pub struct LabelScores {
    pub label: String,
    pub support: usize,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
}

/// A pair of labels the matcher mixed up, and how often.
#[derive(Debug, Clone, Serialize)]
pub struct Confusion {
    pub expected: String,
    pub predicted: String,
    pub count: usize,
}

/// One point of the curve traced as the acceptance threshold moves.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct CurvePoint {
    pub threshold: f32,
    pub in_scope_accuracy: f64,
    pub oos_recall: f64,
}

/// The full evaluation of a labelled set. The first six field names are
/// read by other tools and must not change.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub n: usize,
    pub accuracy: f64,
    pub in_scope_accuracy: f64,
    pub oos_recall: f64,
    pub oos_precision: f64,
    pub macro_f1: f64,
    pub in_scope_rows: usize,
    pub oos_rows: usize,
    /// Rows where the matcher asked which of two intents was meant.
    pub ambiguous_rows: usize,
    /// Share of `oos` rows accepted as an intent of each risk tier.
    pub oos_false_accept_by_risk: BTreeMap<String, f64>,
    /// Area under the ROC curve of confidence as an in-scope vs out-of-scope score.
    pub auroc: f64,
    pub per_label: Vec<LabelScores>,
    pub confusions: Vec<Confusion>,
    pub curve: Vec<CurvePoint>,
}

/// Confused pairs listed in a report.
const CONFUSIONS_SHOWN: usize = 15;

/// Threshold steps of the curve: every 0.01 of cosine similarity from 0 to 1.
const CURVE_STEPS: usize = 100;

/// Returns the label a decision amounts to: its intent when matched, `oos` otherwise.
pub fn predicted_label(decision: &Decision) -> &str {
    match (&decision.outcome, &decision.intent) {
        (Outcome::Matched, Some(intent)) => intent.as_str(),
        _ => OUT_OF_SCOPE,
    }
}

/// Scores decisions against their labels. `decisions[i]` is the decision on `examples[i]`.
pub fn evaluate(examples: &[Example], decisions: &[Decision], catalog: &Catalog) -> Report {
    let n = examples.len();
    let mut correct = 0;
    let mut in_scope_rows = 0;
    let mut in_scope_correct = 0;
    let mut oos_rows = 0;
    let mut oos_declined = 0;
    let mut declined_total = 0;
    let mut ambiguous_rows = 0;
    let mut false_accepts: HashMap<Risk, usize> = HashMap::new();
    let mut confusion_counts: HashMap<(String, String), usize> = HashMap::new();
    let mut true_positive: HashMap<String, usize> = HashMap::new();
    let mut predicted_count: HashMap<String, usize> = HashMap::new();
    let mut expected_count: HashMap<String, usize> = HashMap::new();

    for (example, decision) in examples.iter().zip(decisions) {
        let predicted = predicted_label(decision);
        let expected = example.intent.as_str();
        *expected_count.entry(expected.to_string()).or_default() += 1;
        *predicted_count.entry(predicted.to_string()).or_default() += 1;
        if decision.outcome == Outcome::Ambiguous {
            ambiguous_rows += 1;
        }
        if predicted == OUT_OF_SCOPE {
            declined_total += 1;
        }

        if predicted == expected {
            correct += 1;
            *true_positive.entry(expected.to_string()).or_default() += 1;
        } else {
            *confusion_counts
                .entry((expected.to_string(), predicted.to_string()))
                .or_default() += 1;
        }

        if example.is_out_of_scope() {
            oos_rows += 1;
            if predicted == OUT_OF_SCOPE {
                oos_declined += 1;
            } else if let Some(intent) = catalog.get(predicted) {
                *false_accepts.entry(intent.risk).or_default() += 1;
            }
        } else {
            in_scope_rows += 1;
            if predicted == expected {
                in_scope_correct += 1;
            }
        }
    }

    let oos_declined_correctly = true_positive.get(OUT_OF_SCOPE).copied().unwrap_or(0);
    let per_label = label_scores(&expected_count, &predicted_count, &true_positive);
    let macro_f1 = mean(per_label.iter().map(|scores| scores.f1));

    let mut confusions: Vec<Confusion> = confusion_counts
        .into_iter()
        .map(|((expected, predicted), count)| Confusion {
            expected,
            predicted,
            count,
        })
        .collect();
    confusions.sort_by(|a, b| {
        b.count
            .cmp(&a.count)
            .then_with(|| a.expected.cmp(&b.expected))
            .then_with(|| a.predicted.cmp(&b.predicted))
    });
    confusions.truncate(CONFUSIONS_SHOWN);

    let oos_false_accept_by_risk = Risk::ALL
        .into_iter()
        .map(|risk| {
            let count = false_accepts.get(&risk).copied().unwrap_or(0);
            (risk.name().to_string(), ratio(count, oos_rows))
        })
        .collect();

    let (curve, auroc) = threshold_curve(examples, decisions);
    Report {
        n,
        accuracy: ratio(correct, n),
        in_scope_accuracy: ratio(in_scope_correct, in_scope_rows),
        oos_recall: ratio(oos_declined, oos_rows),
        oos_precision: ratio(oos_declined_correctly, declined_total),
        macro_f1,
        in_scope_rows,
        oos_rows,
        ambiguous_rows,
        oos_false_accept_by_risk,
        auroc,
        per_label,
        confusions,
        curve,
    }
}

fn label_scores(
    expected: &HashMap<String, usize>,
    predicted: &HashMap<String, usize>,
    true_positive: &HashMap<String, usize>,
) -> Vec<LabelScores> {
    let mut labels: Vec<&String> = expected.keys().collect();
    labels.sort();
    labels
        .into_iter()
        .map(|label| {
            let hits = true_positive.get(label).copied().unwrap_or(0);
            let precision = ratio(hits, predicted.get(label).copied().unwrap_or(0));
            let recall = ratio(hits, expected[label]);
            let f1 = if precision + recall > 0.0 {
                2.0 * precision * recall / (precision + recall)
            } else {
                0.0
            };
            LabelScores {
                label: label.clone(),
                support: expected[label],
                precision,
                recall,
                f1,
            }
        })
        .collect()
}

/// Traces in-scope accuracy against out-of-scope recall when only the
/// confidence threshold decides acceptance, and the AUROC of confidence as
/// a score separating in-scope rows from `oos` rows.
fn threshold_curve(examples: &[Example], decisions: &[Decision]) -> (Vec<CurvePoint>, f64) {
    let mut in_scope: Vec<(f32, bool)> = Vec::new();
    let mut out_of_scope: Vec<f32> = Vec::new();
    for (example, decision) in examples.iter().zip(decisions) {
        let top = decision
            .intent
            .as_ref()
            .map(|intent| intent.as_str())
            .or_else(|| {
                decision
                    .alternatives
                    .first()
                    .map(|alternative| alternative.intent.as_str())
            });
        if example.is_out_of_scope() {
            out_of_scope.push(decision.confidence);
        } else {
            in_scope.push((decision.confidence, top == Some(example.intent.as_str())));
        }
    }

    let curve = (0..=CURVE_STEPS)
        .map(|step| {
            let threshold = step as f32 / CURVE_STEPS as f32;
            let accepted_correct = in_scope
                .iter()
                .filter(|(score, right)| *right && *score >= threshold)
                .count();
            let declined = out_of_scope
                .iter()
                .filter(|score| **score < threshold)
                .count();
            CurvePoint {
                threshold,
                in_scope_accuracy: ratio(accepted_correct, in_scope.len()),
                oos_recall: ratio(declined, out_of_scope.len()),
            }
        })
        .collect();

    // AUROC as the probability that a random in-scope row outscores a random
    // out-of-scope row, ties counting half.
    let mut wins = 0.0;
    for (score, _) in &in_scope {
        for other in &out_of_scope {
            if score > other {
                wins += 1.0;
            } else if score == other {
                wins += 0.5;
            }
        }
    }
    let pairs = (in_scope.len() * out_of_scope.len()) as f64;
    let auroc = if pairs > 0.0 { wins / pairs } else { 0.0 };
    (curve, auroc)
}

fn ratio(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

fn mean(values: impl Iterator<Item = f64>) -> f64 {
    let (sum, count) = values.fold((0.0, 0usize), |(sum, count), value| {
        (sum + value, count + 1)
    });
    if count == 0 { 0.0 } else { sum / count as f64 }
}

/// Errors raised while turning labelled data into a catalog.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error("no in-scope rows: every row is labelled `oos`")]
    NoIntents,

    #[error("failed to train the classifier head")]
    Head {
        #[source]
        source: crate::intent::HeadError,
    },
}

/// Builds a catalog whose exemplars are the rows of a labelled file, one
/// `read` intent per label, so public datasets can be used as they are.
/// `oos` rows become negative exemplars of a label with no exemplars of its
/// own, which never wins a match.
pub fn catalog_from_examples(examples: &[Example]) -> Result<Catalog, EvalError> {
    let mut by_label: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for example in examples {
        by_label
            .entry(example.intent.as_str())
            .or_default()
            .push(example.text.clone());
    }
    let negatives = by_label.remove(OUT_OF_SCOPE).unwrap_or_default();
    if by_label.is_empty() {
        return Err(EvalError::NoIntents);
    }

    let intent = |name: &str, exemplars: Vec<String>, negatives: Vec<String>| Intent {
        name: IntentName::new(name),
        description: format!("label `{name}` of the training file"),
        risk: Risk::Read,
        command: CommandSpec {
            program: String::new(),
            args: Vec::new(),
        },
        slots: Vec::new(),
        exemplars,
        negatives,
        source: PathBuf::new(),
    };
    let mut intents: Vec<Intent> = by_label
        .into_iter()
        .map(|(name, exemplars)| intent(name, exemplars, Vec::new()))
        .collect();
    if !negatives.is_empty() {
        intents.push(intent(OUT_OF_SCOPE, Vec::new(), negatives));
    }
    Ok(Catalog::from_intents(intents))
}

/// Embeds the texts of `examples` in batches, calling `progress` with the
/// number done after each batch. Rows the matcher declines before scoring
/// (empty, no known words) get `None`.
pub fn embed_examples(
    matcher: &Matcher,
    examples: &[Example],
    mut progress: impl FnMut(usize),
) -> Result<Vec<Option<Embedding>>, MatcherError> {
    let mut embeddings = Vec::with_capacity(examples.len());
    for chunk in examples.chunks(EMBED_CHUNK) {
        let scored: Vec<&str> = chunk
            .iter()
            .map(|example| example.text.as_str())
            .filter(|text| matcher.precheck(text).is_none())
            .collect();
        let mut computed = matcher.embed_messages(&scored)?.into_iter();
        for example in chunk {
            let embedding = match matcher.precheck(&example.text) {
                Some(_) => None,
                None => computed.next(),
            };
            embeddings.push(embedding);
        }
        progress(chunk.len());
    }
    Ok(embeddings)
}

/// Decides on every example under `config` from precomputed embeddings.
pub fn decide_examples(
    matcher: &Matcher,
    examples: &[Example],
    embeddings: &[Option<Embedding>],
    config: &MatcherConfig,
) -> Result<Vec<Decision>, MatcherError> {
    examples
        .iter()
        .zip(embeddings)
        .map(|(example, embedding)| match embedding {
            Some(embedding) => {
                let tokens = matcher.count_tokens(&example.text)?;
                let similarities = matcher.similarities(embedding);
                Ok(matcher.judge(&example.text, &similarities, tokens, config))
            }
            None => matcher.decide(&example.text),
        })
        .collect()
}

/// Texts embedded per batch between progress updates.
const EMBED_CHUNK: usize = 128;
