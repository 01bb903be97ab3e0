//! Whether a decision made on an approximate (bfloat16) embedding is the
//! one exact arithmetic gives, or close enough to a gate that it must be
//! made again on the exact embedding.

use super::MatcherConfig;
use super::matcher::Ranking;
use super::rank::SIMILARITY_WEIGHT;
use crate::embed::Embedder;

/// Largest change of a cosine similarity that the bfloat16 embedding of a
/// message may cause. Two unit vectors with cosine `c` move a dot product
/// by at most `sqrt(2 - 2c)`. The embedder's tests hold `c` at 0.9999 or
/// more, a distance of 0.0141.
const SCORE_SLACK: f32 = 0.015;

/// Largest change of a classifier-head probability the bfloat16 embedding
/// may cause. NOTE: an estimate, not a bound: the largest change over the
/// 740 labelled rows of the base model was 0.0092. `tests/engine.rs` checks on every
/// labelled row that decisions equal exact ones.
const PROBABILITY_SLACK: f32 = 0.015;

/// Largest change of a difference of two head logits that the bfloat16
/// embedding may cause. NOTE: an estimate, not a bound, checked like
/// [`PROBABILITY_SLACK`] by the tests that compare live and exact decisions.
const LOGIT_SLACK: f32 = 0.1;

/// Largest change of the lead in ranking value (log-probability plus
/// weighted best similarity) that the bfloat16 embedding may cause.
const RANK_SLACK: f32 = LOGIT_SLACK + 2.0 * SIMILARITY_WEIGHT * SCORE_SLACK;

/// Returns whether `embedder` computes exact vectors itself.
pub(super) fn is_exact(embedder: &dyn Embedder) -> bool {
    std::ptr::addr_eq(embedder.exact(), embedder)
}

/// Returns whether the exact embedding would give the same decision. The
/// best intent must lead by more than the bfloat16 error. The gates of
/// `config`, in the order the matcher applies them, must each pass by more
/// than that error until one fails by more than it.
pub(super) fn is_settled(ranking: &Ranking, config: &MatcherConfig) -> bool {
    let tier = config.thresholds.for_risk(ranking.top_risk);

    // The head clearly prefers out of scope to the best intent, so to every
    // intent: the message is declined whichever intent ranks first.
    if let (Some(probability), Some(oos)) = (ranking.top_probability, ranking.oos_probability)
        && oos - probability > 2.0 * PROBABILITY_SLACK
    {
        return true;
    }
    // Otherwise the best intent must stay best, since its tier sets the gates.
    let lead_slack = match ranking.top_probability {
        Some(_) => 2.0 * PROBABILITY_SLACK,
        None => 2.0 * SCORE_SLACK,
    };
    let stays_best = match ranking.rank_lead {
        Some(rank_lead) => rank_lead > RANK_SLACK,
        None => ranking.lead.is_none_or(|lead| lead > lead_slack),
    };
    if !stays_best {
        return false;
    }

    let mut gates = vec![(ranking.top_score, tier.min_score, SCORE_SLACK)];
    if let Some(probability) = ranking.top_probability {
        let oos = ranking.oos_probability.unwrap_or(0.0);
        gates.push((probability, oos, 2.0 * PROBABILITY_SLACK));
        gates.push((probability, tier.min_probability, PROBABILITY_SLACK));
    }
    if let Some((_, score)) = ranking.best_negative {
        // Passed while the nearest negative is not nearer than the exemplars.
        gates.push((
            ranking.top_best + config.negative_margin,
            score,
            2.0 * SCORE_SLACK,
        ));
    }
    if let Some(lead) = ranking.lead {
        gates.push((lead, tier.min_margin, lead_slack));
    }
    for (value, threshold, slack) in gates {
        if value < threshold - slack {
            return true;
        }
        if value <= threshold + slack {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intent::Risk;

    fn ranking(top_score: f32, probability: f32, oos: f32, lead: f32) -> Ranking {
        Ranking {
            top: 0,
            top_risk: Risk::Change,
            top_score,
            top_best: top_score,
            top_probability: Some(probability),
            oos_probability: Some(oos),
            lead: Some(lead),
            rank_lead: Some(lead * 10.0),
            best_negative: None,
            negated: false,
        }
    }

    #[test]
    fn clear_decisions_are_settled() {
        let config = MatcherConfig::default();
        let min_score = config.thresholds.for_risk(Risk::Change).min_score;
        assert!(is_settled(
            &ranking(min_score + 0.2, 0.9, 0.05, 0.85),
            &config
        ));
        assert!(is_settled(
            &ranking(min_score - 0.2, 0.9, 0.05, 0.85),
            &config
        ));
        // Clearly out of scope by the head, even with a close runner-up.
        assert!(is_settled(
            &ranking(min_score + 0.2, 0.1, 0.85, 0.001),
            &config
        ));
    }

    #[test]
    fn close_calls_are_not_settled() {
        let config = MatcherConfig::default();
        let min_score = config.thresholds.for_risk(Risk::Change).min_score;
        assert!(!is_settled(
            &ranking(min_score + 0.005, 0.9, 0.05, 0.85),
            &config
        ));
        assert!(!is_settled(
            &ranking(min_score + 0.2, 0.48, 0.47, 0.4),
            &config
        ));
        assert!(!is_settled(
            &ranking(min_score + 0.2, 0.5, 0.1, 0.01),
            &config
        ));
    }
}
