//! Intent ranking for one message, and the best intent's lead.

use std::cmp::Ordering;

/// Weight of an intent's best exemplar similarity when it is added to the
/// head's log-probability to rank intents. With a head, intents are ranked
/// by `ln p + SIMILARITY_WEIGHT * best`: the nearest exemplar breaks the
/// head's close calls. 20 is the scale at which the encoder's ranking loss
/// compares cosines. In a NumPy copy of the head it scored best of 5, 10,
/// 20 and 40 on a held-out fifth of BANKING77 train, and of 5, 10, 20 and
/// 30 on CLINC150 val at 90% oos recall (see docs/benchmarks.md).
pub(super) const SIMILARITY_WEIGHT: f32 = 20.0;

/// Share of the most probable intent's probability that another intent
/// needs for its nearest exemplar to move it ahead. Without it, an intent
/// the head all but rules out could rank first on one close exemplar, and
/// then fail the head's gate. In the same NumPy copy, shares up to 0.1
/// left both benchmark figures unchanged, and 0.2 lowered CLINC150's by
/// 0.4 points.
const CONTENDER_SHARE: f32 = 0.1;

/// An intent's score for one message.
#[derive(Debug, Clone, Copy)]
pub(super) struct IntentScore {
    pub(super) intent: usize,
    /// Mean of the best `top_k` exemplar similarities.
    pub(super) score: f32,
    /// Best single exemplar similarity.
    pub(super) best: f32,
    /// The head's probability for the intent, when there is a head.
    pub(super) probability: Option<f32>,
    /// Whether the intent's probability is close enough to the best one's
    /// for its nearest exemplar to count (see [`CONTENDER_SHARE`]). Always
    /// true without a head.
    pub(super) contender: bool,
}

impl IntentScore {
    /// Returns the probability with a head, else the score.
    pub(super) fn value(&self) -> f32 {
        self.probability.unwrap_or(self.score)
    }

    /// Returns the value intents are ranked by: without a head the score,
    /// with one the log-probability plus the weighted best similarity.
    pub(super) fn rank(&self) -> f32 {
        match self.probability {
            Some(probability) => {
                probability.max(f32::MIN_POSITIVE).ln() + SIMILARITY_WEIGHT * self.best
            }
            None => self.score,
        }
    }
}

/// Marks the intents whose probability reaches [`CONTENDER_SHARE`] of the
/// best probability, so their nearest exemplar may move them ahead.
pub(super) fn mark_contenders(scores: &mut [IntentScore]) {
    let best = scores
        .iter()
        .filter_map(|score| score.probability)
        .fold(0.0, f32::max);
    for score in scores {
        score.contender = score
            .probability
            .is_none_or(|probability| probability >= CONTENDER_SHARE * best);
    }
}

/// Orders intent scores best first: contenders by ranking value, then the
/// others by probability.
pub(super) fn by_rank(a: &IntentScore, b: &IntentScore) -> Ordering {
    let value = |score: &IntentScore| match score.contender {
        true => score.rank(),
        false => score.value(),
    };
    b.contender
        .cmp(&a.contender)
        .then_with(|| value(b).partial_cmp(&value(a)).unwrap_or(Ordering::Equal))
}

/// Returns the intent the best-ranked one is measured against: the most
/// probable other intent when there is a head, else the runner-up. `None`
/// for a catalog of one intent.
pub(super) fn rival(ranked: &[IntentScore]) -> Option<&IntentScore> {
    let (top, others) = ranked.split_first()?;
    match top.probability {
        Some(_) => others.iter().max_by(|a, b| {
            let value = |score: &IntentScore| score.probability.unwrap_or(f32::NEG_INFINITY);
            value(a).total_cmp(&value(b))
        }),
        None => others.first(),
    }
}

/// Returns the best-ranked intent's lead over its rival (see [`rival`]),
/// in probability with a head and in score without.
pub(super) fn lead(ranked: &[IntentScore]) -> Option<f32> {
    let top = ranked.first()?;
    rival(ranked).map(|rival| top.value() - rival.value())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn score(intent: usize, best: f32, probability: Option<f32>) -> IntentScore {
        IntentScore {
            intent,
            score: best,
            best,
            probability,
            contender: true,
        }
    }

    fn ranked(mut scores: Vec<IntentScore>) -> Vec<IntentScore> {
        mark_contenders(&mut scores);
        scores.sort_by(by_rank);
        scores
    }

    #[test]
    fn rank_prefers_a_much_nearer_exemplar() {
        let scores = ranked(vec![score(0, 0.6, Some(0.5)), score(1, 0.7, Some(0.4))]);
        assert_eq!(scores[0].intent, 1);
        let lead = lead(&scores).unwrap();
        assert!((lead + 0.1).abs() < 1e-6, "{lead}");
    }

    #[test]
    fn rank_keeps_a_clear_head_preference() {
        let scores = ranked(vec![score(0, 0.6, Some(0.95)), score(1, 0.65, Some(0.01))]);
        assert_eq!(scores[0].intent, 0);
    }

    #[test]
    fn rank_ignores_similarity_of_unlikely_intents() {
        let scores = ranked(vec![
            score(0, 0.5, Some(0.7)),
            score(1, 0.9, Some(0.05)),
            score(2, 0.1, Some(0.2)),
        ]);
        let order: Vec<usize> = scores.iter().map(|score| score.intent).collect();
        assert_eq!(order, [0, 2, 1]);
    }

    #[test]
    fn lead_is_over_the_most_probable_intent() {
        let scores = ranked(vec![
            score(0, 0.9, Some(0.5)),
            score(1, 0.8, Some(0.1)),
            score(2, 0.3, Some(0.3)),
        ]);
        assert_eq!(scores[1].intent, 1);
        assert_eq!(rival(&scores).map(|rival| rival.intent), Some(2));
        let lead = lead(&scores).unwrap();
        assert!((lead - 0.2).abs() < 1e-6, "{lead}");
    }

    #[test]
    fn rank_without_head_uses_the_score() {
        let scores = ranked(vec![score(0, 0.5, None), score(1, 0.7, None)]);
        assert_eq!(scores[0].intent, 1);
        let lead = lead(&scores).unwrap();
        assert!((lead - 0.2).abs() < 1e-6, "{lead}");
    }
}
