//! Nearest-exemplar matching: scores a message against every exemplar and
//! decides between one intent, several, or none.

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use super::{
    Alternative, Catalog, Decision, DeclineReason, EmbeddingCache, Explanation, Intent,
    MatcherConfig, Neighbour, Next, Outcome,
};
use crate::embed::{EmbedError, Embedder, Embedding, TokenCount, dot};

/// Errors raised while building the matcher or deciding on a message.
#[derive(Debug, thiserror::Error)]
pub enum MatcherError {
    #[error(transparent)]
    Embed(#[from] EmbedError),

    #[error("the intent catalog is empty: add intents to the intent directory")]
    EmptyCatalog,
}

/// Scores messages against the embedded exemplars of a catalog.
pub struct Matcher {
    catalog: Catalog,
    embedder: Arc<dyn Embedder>,
    config: MatcherConfig,
    dimension: usize,
    /// Exemplar embeddings, one row of `dimension` values per entry.
    vectors: Vec<f32>,
    entries: Vec<Entry>,
}

/// One embedded exemplar or negative.
#[derive(Debug, Clone)]
struct Entry {
    intent: usize,
    text: String,
    negative: bool,
}

/// An intent's score for one message.
#[derive(Debug, Clone, Copy)]
struct IntentScore {
    intent: usize,
    /// Mean of the best `top_k` exemplar similarities.
    score: f32,
    /// Best single exemplar similarity.
    best: f32,
}

/// Exemplars closest to the message shown in an explanation.
const NEAREST_SHOWN: usize = 5;

/// Candidate intents listed in a decision.
const ALTERNATIVES_SHOWN: usize = 3;

impl Matcher {
    /// Embeds every exemplar and negative of the catalog, reading and
    /// filling `cache` so that only new or edited texts are embedded.
    pub fn new(
        catalog: Catalog,
        embedder: Arc<dyn Embedder>,
        config: MatcherConfig,
        mut cache: Option<&mut EmbeddingCache>,
    ) -> Result<Self, MatcherError> {
        if catalog.intents().is_empty() {
            return Err(MatcherError::EmptyCatalog);
        }
        let mut entries = Vec::new();
        for (index, intent) in catalog.intents().iter().enumerate() {
            let texts = intent
                .exemplars
                .iter()
                .map(|text| (text, false))
                .chain(intent.negatives.iter().map(|text| (text, true)));
            for (text, negative) in texts {
                entries.push(Entry {
                    intent: index,
                    text: text.clone(),
                    negative,
                });
            }
        }

        let unique: Vec<&str> = {
            let mut seen = HashSet::new();
            entries
                .iter()
                .map(|entry| entry.text.as_str())
                .filter(|text| seen.insert(*text))
                .collect()
        };
        let embeddings = embed_with_cache(embedder.as_ref(), &unique, cache.as_deref_mut())?;

        let dimension = embedder.dimension();
        let mut vectors = Vec::with_capacity(entries.len() * dimension);
        for entry in &entries {
            // Every entry's text is in `unique`, so it has an embedding.
            match embeddings.get(entry.text.as_str()) {
                Some(embedding) => vectors.extend_from_slice(embedding.as_slice()),
                None => vectors.extend(std::iter::repeat_n(0.0, dimension)),
            }
        }

        Ok(Self {
            catalog,
            embedder,
            config,
            dimension,
            vectors,
            entries,
        })
    }

    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    pub fn config(&self) -> &MatcherConfig {
        &self.config
    }

    pub fn embedder(&self) -> &Arc<dyn Embedder> {
        &self.embedder
    }

    /// Replaces the thresholds and scoring settings; the exemplars stay embedded.
    pub fn set_config(&mut self, config: MatcherConfig) {
        self.config = config;
    }

    /// Decides what one message asks for.
    pub fn decide(&self, text: &str) -> Result<Decision, MatcherError> {
        let mut decisions = self.decide_batch(&[text])?;
        // `decide_batch` returns one decision per text.
        Ok(decisions.remove(0))
    }

    /// Decides on many messages, embedding them in batches.
    pub fn decide_batch(&self, texts: &[&str]) -> Result<Vec<Decision>, MatcherError> {
        let mut decisions: Vec<Option<Decision>> = vec![None; texts.len()];
        let mut to_embed = Vec::new();
        for (index, text) in texts.iter().enumerate() {
            match self.precheck(text) {
                Some(reason) => {
                    decisions[index] = Some(self.declined_early(text, reason));
                }
                None => to_embed.push(index),
            }
        }

        let batch: Vec<&str> = to_embed.iter().map(|&index| texts[index]).collect();
        let embeddings = self.embedder.embed(&batch)?;
        for (&index, embedding) in to_embed.iter().zip(&embeddings) {
            let tokens = self.embedder.count_tokens(texts[index])?;
            decisions[index] = Some(self.decide_embedded(texts[index], embedding, tokens));
        }
        // Each index was filled either by the precheck or by the embedding loop.
        Ok(decisions.into_iter().flatten().collect())
    }

    /// Decides on a message whose embedding is already computed.
    pub fn decide_embedded(&self, text: &str, embedding: &Embedding, tokens: TokenCount) -> Decision {
        let similarities: Vec<f32> = self
            .vectors
            .chunks_exact(self.dimension)
            .map(|row| dot(row, embedding.as_slice()))
            .collect();
        let ranked = self.rank_intents(&similarities);
        let nearest = self.nearest(&similarities);
        let best_negative = self.best_negative(&similarities);

        let top = ranked[0];
        let top_intent = &self.catalog.intents()[top.intent];
        let tier = self.config.thresholds.for_risk(top_intent.risk);
        let runner_up = ranked.get(1).copied();
        let margin = runner_up.map(|second| top.score - second.score);

        let mut explanation = Explanation {
            summary: String::new(),
            margin,
            thresholds: Some(tier),
            nearest,
            decline: None,
            tokens: tokens.used,
            truncated: tokens.truncated,
        };
        let alternatives = |skip_top: bool| -> Vec<Alternative> {
            ranked
                .iter()
                .skip(usize::from(skip_top))
                .take(ALTERNATIVES_SHOWN)
                .map(|score| Alternative {
                    intent: self.catalog.intents()[score.intent].name.clone(),
                    score: score.score,
                })
                .collect()
        };

        if top.score < tier.min_score {
            explanation.summary = format!(
                "best intent `{}` scored {:.3}, below the {} threshold {:.3}",
                top_intent.name, top.score, top_intent.risk, tier.min_score
            );
            explanation.decline = Some(DeclineReason::BelowThreshold {
                score: top.score,
                min_score: tier.min_score,
            });
            return self.declined(text, top.score, alternatives(false), explanation);
        }

        if let Some((negative_index, negative_score)) = best_negative {
            if negative_score > top.best + self.config.negative_margin {
                let entry = &self.entries[negative_index];
                let owner = &self.catalog.intents()[entry.intent];
                explanation.summary = format!(
                    "closest to negative exemplar `{}` of `{}` ({:.3}), nearer than any exemplar of `{}` ({:.3})",
                    entry.text, owner.name, negative_score, top_intent.name, top.best
                );
                explanation.decline = Some(DeclineReason::NearNegative {
                    intent: owner.name.clone(),
                    text: entry.text.clone(),
                    score: negative_score,
                });
                return self.declined(text, top.score, alternatives(false), explanation);
            }
        }

        if let (Some(second), Some(margin)) = (runner_up, margin) {
            if margin < tier.min_margin {
                let second_intent = &self.catalog.intents()[second.intent];
                explanation.summary = format!(
                    "`{}` ({:.3}) and `{}` ({:.3}) are within the margin {:.3}",
                    top_intent.name, top.score, second_intent.name, second.score, tier.min_margin
                );
                return Decision {
                    text: text.to_string(),
                    outcome: Outcome::Ambiguous,
                    intent: None,
                    confidence: top.score,
                    alternatives: alternatives(false),
                    risk: None,
                    slots: BTreeMap::new(),
                    next: Next::Clarify,
                    explanation,
                };
            }
        }

        explanation.summary = format!(
            "`{}` scored {:.3} (threshold {:.3}) with a lead of {:.3} (minimum {:.3})",
            top_intent.name,
            top.score,
            tier.min_score,
            margin.unwrap_or(top.score),
            tier.min_margin
        );
        Decision {
            text: text.to_string(),
            outcome: Outcome::Matched,
            intent: Some(top_intent.name.clone()),
            confidence: top.score,
            alternatives: alternatives(true),
            risk: Some(top_intent.risk),
            slots: BTreeMap::new(),
            next: Next::for_risk(top_intent.risk),
            explanation,
        }
    }

    /// Returns the intent of a decision, when it has one.
    pub fn intent(&self, decision: &Decision) -> Option<&Intent> {
        decision
            .intent
            .as_ref()
            .and_then(|name| self.catalog.get(name.as_str()))
    }

    /// Declines messages that carry nothing for the model to judge.
    fn precheck(&self, text: &str) -> Option<DeclineReason> {
        if text.trim().is_empty() {
            return Some(DeclineReason::Empty);
        }
        if self.embedder.known_words(text) == 0 {
            return Some(DeclineReason::NoWords);
        }
        None
    }

    fn declined_early(&self, text: &str, reason: DeclineReason) -> Decision {
        let summary = match reason {
            DeclineReason::Empty => "the message is empty".to_string(),
            _ => "the message has no word the model knows".to_string(),
        };
        let explanation = Explanation {
            summary,
            margin: None,
            thresholds: None,
            nearest: Vec::new(),
            decline: Some(reason),
            tokens: 0,
            truncated: false,
        };
        self.declined(text, 0.0, Vec::new(), explanation)
    }

    fn declined(
        &self,
        text: &str,
        confidence: f32,
        alternatives: Vec<Alternative>,
        explanation: Explanation,
    ) -> Decision {
        Decision {
            text: text.to_string(),
            outcome: Outcome::OutOfScope,
            intent: None,
            confidence,
            alternatives,
            risk: None,
            slots: BTreeMap::new(),
            next: Next::Fallback,
            explanation,
        }
    }

    /// Scores every intent from its positive exemplars, best first.
    fn rank_intents(&self, similarities: &[f32]) -> Vec<IntentScore> {
        let mut per_intent: Vec<Vec<f32>> = vec![Vec::new(); self.catalog.intents().len()];
        for (entry, &similarity) in self.entries.iter().zip(similarities) {
            if !entry.negative {
                per_intent[entry.intent].push(similarity);
            }
        }

        let top_k = self.config.top_k.max(1);
        let mut ranked: Vec<IntentScore> = per_intent
            .into_iter()
            .enumerate()
            .map(|(intent, mut scores)| {
                scores.sort_by(|a, b| b.total_cmp(a));
                let best = scores.first().copied().unwrap_or(-1.0);
                let taken = scores.len().min(top_k).max(1);
                let score = scores.iter().take(taken).sum::<f32>() / taken as f32;
                IntentScore {
                    intent,
                    score,
                    best,
                }
            })
            .collect();
        ranked.sort_by(|a, b| b.score.partial_cmp(&a.score).unwrap_or(Ordering::Equal));
        ranked
    }

    fn nearest(&self, similarities: &[f32]) -> Vec<Neighbour> {
        let mut order: Vec<usize> = (0..similarities.len()).collect();
        order.sort_by(|&a, &b| similarities[b].total_cmp(&similarities[a]));
        order
            .into_iter()
            .take(NEAREST_SHOWN)
            .map(|index| {
                let entry = &self.entries[index];
                Neighbour {
                    intent: self.catalog.intents()[entry.intent].name.clone(),
                    text: entry.text.clone(),
                    score: similarities[index],
                    negative: entry.negative,
                }
            })
            .collect()
    }

    fn best_negative(&self, similarities: &[f32]) -> Option<(usize, f32)> {
        self.entries
            .iter()
            .zip(similarities)
            .enumerate()
            .filter(|(_, (entry, _))| entry.negative)
            .map(|(index, (_, &similarity))| (index, similarity))
            .max_by(|a, b| a.1.total_cmp(&b.1))
    }
}

/// Returns an embedding for every text, reading the cache first and storing
/// what had to be computed. A failing cache is logged and bypassed: it only
/// saves time.
fn embed_with_cache(
    embedder: &dyn Embedder,
    texts: &[&str],
    mut cache: Option<&mut EmbeddingCache>,
) -> Result<HashMap<String, Embedding>, EmbedError> {
    let model = embedder.model_id().clone();
    let mut found = match cache.as_deref() {
        Some(cache) => match cache.lookup(&model, embedder.dimension(), texts) {
            Ok(found) => found,
            Err(error) => {
                tracing::warn!(error = %error, "embedding cache unreadable, embedding every exemplar");
                HashMap::new()
            }
        },
        None => HashMap::new(),
    };

    let missing: Vec<&str> = texts
        .iter()
        .copied()
        .filter(|text| !found.contains_key(*text))
        .collect();
    if missing.is_empty() {
        return Ok(found);
    }
    tracing::info!(
        count = missing.len(),
        cached = found.len(),
        "embedding exemplars not in the cache"
    );
    let embeddings = embedder.embed(&missing)?;

    if let Some(cache) = cache.as_deref_mut() {
        let entries: Vec<(&str, &Embedding)> = missing.iter().copied().zip(&embeddings).collect();
        if let Err(error) = cache.store(&model, &entries) {
            tracing::warn!(error = %error, "failed to store exemplar embeddings in the cache");
        }
    }
    found.extend(
        missing
            .into_iter()
            .map(str::to_string)
            .zip(embeddings),
    );
    Ok(found)
}
