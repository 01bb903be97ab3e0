//! Nearest-exemplar matching: scores a message against every exemplar and
//! decides between one intent, several, or none.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use super::{
    Alternative, Catalog, Decision, DeclineReason, EmbeddingCache, Explanation, Intent, IntentName,
    MatcherConfig, Neighbour, Next, Outcome, Risk,
};
use sha2::{Digest, Sha256};

use super::head::{Head, HeadError, HeadTraining};
use super::mask::mask_entities;
use super::negation::NegationGuard;
use super::rank::{IntentScore, by_rank, lead, mark_contenders, rival};
use super::settle::{is_exact, is_settled};
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
    head: Option<Head>,
    /// Per intent: when a negated or deferred message is declined with the
    /// intent ranked first.
    negation_guards: Vec<NegationGuard>,
}

/// One embedded exemplar or negative.
#[derive(Debug, Clone)]
struct Entry {
    intent: usize,
    text: String,
    negative: bool,
}

/// Evidence about one message: its similarity to every exemplar and
/// negative of the catalog, and the classifier head's probabilities when
/// the matcher has a head (one per intent, then one for out of scope).
#[derive(Debug, Clone)]
pub struct Similarities {
    values: Vec<f32>,
    probabilities: Option<Vec<f32>>,
}

/// The scores that decide a message, independent of thresholds.
#[derive(Debug, Clone, Copy)]
pub struct Ranking {
    /// Index of the best intent in the catalog.
    pub top: usize,
    pub top_risk: Risk,
    /// Score of the best intent (mean of its best `top_k` similarities).
    pub top_score: f32,
    /// Best single exemplar similarity of the best intent.
    pub top_best: f32,
    /// The head's probability for the best intent, when there is a head.
    pub top_probability: Option<f32>,
    /// The head's probability that the message is out of scope.
    pub oos_probability: Option<f32>,
    /// Lead over the rival intent: in probability over the most probable
    /// other intent with a head, in score over the runner-up without. With
    /// a head it is negative when the head prefers another intent.
    pub lead: Option<f32>,
    /// With a head, the lead of the best intent's ranking value (its
    /// log-probability plus its weighted best similarity) over the
    /// runner-up's, when the runner-up is a contender.
    pub rank_lead: Option<f32>,
    /// Whether the message takes back or puts off the best intent, in a way
    /// that intent declines (see [`NegationGuard::declines`]).
    pub negated: bool,
    /// Nearest negative exemplar (entry index) and its similarity.
    pub best_negative: Option<(usize, f32)>,
}

/// The gate a message stopped at, before the explanation is written.
#[derive(Debug, Clone, Copy)]
enum Verdict {
    Matched,
    Negated,
    Ambiguous,
    BelowThreshold,
    Classifier,
    NearNegative { entry: usize, score: f32 },
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
        cache: Option<&mut EmbeddingCache>,
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
        let masked: Vec<String> = unique
            .iter()
            .map(|text| mask_entities(text).into_owned())
            .collect();
        let masked_refs: Vec<&str> = masked.iter().map(String::as_str).collect();
        // Exemplars are embedded exactly, so a bfloat16 embedder changes
        // only the message side of each comparison.
        let embeddings = embed_with_cache(embedder.exact(), &masked_refs, cache)?;

        let dimension = embedder.dimension();
        let mut vectors = Vec::with_capacity(entries.len() * dimension);
        for entry in &entries {
            // Every entry's text is in `unique`, so it has an embedding.
            match embeddings.get(mask_entities(&entry.text).as_ref()) {
                Some(embedding) => vectors.extend_from_slice(embedding.as_slice()),
                None => vectors.extend(std::iter::repeat_n(0.0, dimension)),
            }
        }

        let negation_guards = catalog.intents().iter().map(NegationGuard::new).collect();
        Ok(Self {
            catalog,
            embedder,
            config,
            dimension,
            vectors,
            entries,
            head: None,
            negation_guards,
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

    pub fn head(&self) -> Option<&Head> {
        self.head.as_ref()
    }

    /// Installs a classifier head trained by [`Matcher::train_head`], or removes it.
    pub fn set_head(&mut self, head: Option<Head>) {
        self.head = head;
    }

    /// Returns a key that changes whenever the head's training input does:
    /// the model, every catalog text and label, the extra rows and the settings.
    pub fn head_key(&self, extra: &[(&str, &str)], settings: HeadTraining) -> String {
        let mut digest = Sha256::new();
        digest.update(self.embedder.exact().model_id().as_str());
        for entry in &self.entries {
            let label = match entry.negative {
                true => "oos",
                false => self.catalog.intents()[entry.intent].name.as_str(),
            };
            digest.update([0]);
            digest.update(entry.text.as_bytes());
            digest.update([1]);
            digest.update(label.as_bytes());
        }
        for (text, label) in extra {
            digest.update([2]);
            digest.update(text.as_bytes());
            digest.update([3]);
            digest.update(label.as_bytes());
        }
        digest.update(format!("{settings:?}").as_bytes());
        digest
            .finalize()
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect()
    }

    /// Trains a classifier head on the catalog (exemplars as their intent,
    /// negatives as out of scope) plus `extra` labelled embeddings. A label
    /// that is no intent of the catalog counts as out of scope, as `oos` does.
    pub fn train_head(
        &self,
        extra: &[(&Embedding, &str)],
        settings: HeadTraining,
    ) -> Result<Head, HeadError> {
        let out_of_scope = self.catalog.intents().len() as u32;
        let catalog_rows: Vec<Embedding> = self
            .vectors
            .chunks_exact(self.dimension)
            .map(|row| Embedding::from_unit(row.to_vec()))
            .collect();
        let mut embeddings: Vec<&Embedding> = catalog_rows.iter().collect();
        let mut labels: Vec<u32> = self
            .entries
            .iter()
            .map(|entry| {
                if entry.negative {
                    out_of_scope
                } else {
                    entry.intent as u32
                }
            })
            .collect();
        for (embedding, label) in extra {
            embeddings.push(embedding);
            let index = self
                .catalog
                .intents()
                .iter()
                .position(|intent| intent.name.as_str() == *label);
            labels.push(index.map_or(out_of_scope, |index| index as u32));
        }
        Head::train(&embeddings, &labels, out_of_scope as usize + 1, settings)
    }

    /// Decides which intent one message requests.
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

        // One tokenization gives both the embedding and the token count of
        // the masked text, which is what the model is given.
        let masked: Vec<String> = to_embed
            .iter()
            .map(|&index| mask_entities(texts[index]).into_owned())
            .collect();
        let masked_refs: Vec<&str> = masked.iter().map(String::as_str).collect();
        let embedded = self.embedder.embed_counted(&masked_refs)?;
        let approximate = !is_exact(self.embedder.as_ref());
        let mut unsettled = Vec::new();
        for (position, (embedding, tokens)) in embedded.iter().enumerate() {
            let index = to_embed[position];
            let similarities = self.similarities(embedding);
            if approximate {
                let ranking = self.ranking(texts[index], &similarities, self.config.top_k);
                if !is_settled(&ranking, &self.config) {
                    tracing::debug!(?ranking, "decision made again on the exact embedding");
                    unsettled.push(position);
                    continue;
                }
            }
            decisions[index] = Some(self.judge(texts[index], &similarities, *tokens, &self.config));
        }

        // Decisions the approximate embedding leaves too close to call are
        // made again on the exact one, so they match exact arithmetic.
        if !unsettled.is_empty() {
            let again: Vec<&str> = unsettled
                .iter()
                .map(|&position| masked_refs[position])
                .collect();
            let exact = self.embedder.exact().embed(&again)?;
            for (&position, embedding) in unsettled.iter().zip(&exact) {
                let index = to_embed[position];
                let tokens = embedded[position].1;
                decisions[index] = Some(self.decide_embedded(texts[index], embedding, tokens));
            }
        }
        // Each index was filled either by the precheck or by the embedding loop.
        Ok(decisions.into_iter().flatten().collect())
    }

    /// Embeds messages as the matcher compares them: identifiers replaced
    /// by a word for their type, in exact arithmetic, which decides as
    /// [`Matcher::decide`] does.
    pub fn embed_messages(&self, texts: &[&str]) -> Result<Vec<Embedding>, EmbedError> {
        let masked: Vec<String> = texts
            .iter()
            .map(|text| mask_entities(text).into_owned())
            .collect();
        let masked_refs: Vec<&str> = masked.iter().map(String::as_str).collect();
        self.embedder.exact().embed(&masked_refs)
    }

    /// Counts the tokens the model is given for a message, after masking.
    pub fn count_tokens(&self, text: &str) -> Result<TokenCount, EmbedError> {
        self.embedder.count_tokens(&mask_entities(text))
    }

    /// Decides on a message whose embedding is already computed.
    pub fn decide_embedded(
        &self,
        text: &str,
        embedding: &Embedding,
        tokens: TokenCount,
    ) -> Decision {
        let similarities = self.similarities(embedding);
        self.judge(text, &similarities, tokens, &self.config)
    }

    /// Computes the similarity of a message to every exemplar, so that it
    /// can be judged under several settings, as calibration does.
    pub fn similarities(&self, embedding: &Embedding) -> Similarities {
        self.similarities_with(embedding, self.head.as_ref())
    }

    /// Like [`Matcher::similarities`], with another head or none, as
    /// cross-validation needs.
    pub fn similarities_with(&self, embedding: &Embedding, head: Option<&Head>) -> Similarities {
        Similarities {
            values: self
                .vectors
                .chunks_exact(self.dimension)
                .map(|row| dot(row, embedding.as_slice()))
                .collect(),
            probabilities: head.map(|head| head.probabilities(embedding)),
        }
    }

    /// Summarises how message `text` scores with `top_k` exemplars per intent.
    pub fn ranking(&self, text: &str, similarities: &Similarities, top_k: usize) -> Ranking {
        let ranked = self.rank_intents(similarities, top_k);
        self.summarize(text, &ranked, similarities)
    }

    /// Returns the outcome and intent (by name) `config` gives a ranked
    /// message, without building an explanation.
    pub fn classify(
        &self,
        ranking: &Ranking,
        config: &MatcherConfig,
    ) -> (Outcome, Option<&IntentName>) {
        match verdict(ranking, config) {
            Verdict::Matched => (
                Outcome::Matched,
                Some(&self.catalog.intents()[ranking.top].name),
            ),
            Verdict::Ambiguous => (Outcome::Ambiguous, None),
            Verdict::Negated
            | Verdict::BelowThreshold
            | Verdict::Classifier
            | Verdict::NearNegative { .. } => (Outcome::OutOfScope, None),
        }
    }

    fn summarize(
        &self,
        text: &str,
        ranked: &[IntentScore],
        similarities: &Similarities,
    ) -> Ranking {
        let top = ranked[0];
        let oos_probability = similarities
            .probabilities
            .as_ref()
            .and_then(|probabilities| probabilities.get(self.catalog.intents().len()).copied());
        Ranking {
            top: top.intent,
            top_risk: self.catalog.intents()[top.intent].risk,
            top_score: top.score,
            top_best: top.best,
            top_probability: top.probability,
            oos_probability,
            lead: lead(ranked),
            rank_lead: top
                .probability
                .and(ranked.get(1))
                .filter(|second| second.contender)
                .map(|second| top.rank() - second.rank()),
            best_negative: self.best_negative(&similarities.values),
            negated: self.negation_guards[top.intent].declines(text),
        }
    }

    /// Decides on a message from its similarities under `config`, with the
    /// evidence behind the decision.
    pub fn judge(
        &self,
        text: &str,
        similarities: &Similarities,
        tokens: TokenCount,
        config: &MatcherConfig,
    ) -> Decision {
        let ranked = self.rank_intents(similarities, config.top_k);
        let ranking = self.summarize(text, &ranked, similarities);
        let verdict = verdict(&ranking, config);
        let similarities = &similarities.values;

        let top = ranked[0];
        let top_intent = &self.catalog.intents()[top.intent];
        let tier = config.thresholds.for_risk(top_intent.risk);
        let margin = ranking.lead;
        let mut explanation = Explanation {
            summary: String::new(),
            margin,
            thresholds: Some(tier),
            nearest: self.nearest(similarities),
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
                    score: score.value(),
                })
                .collect()
        };

        match verdict {
            Verdict::Negated => {
                explanation.summary = format!(
                    "the message asks not to do `{}`, or to do it later",
                    top_intent.name
                );
                explanation.decline = Some(DeclineReason::Negated);
                self.declined(text, top.score, alternatives(false), explanation)
            }
            Verdict::BelowThreshold => {
                explanation.summary = format!(
                    "best intent `{}` scored {:.3}, below the {} threshold {:.3}",
                    top_intent.name, top.score, top_intent.risk, tier.min_score
                );
                explanation.decline = Some(DeclineReason::BelowThreshold {
                    score: top.score,
                    min_score: tier.min_score,
                });
                self.declined(text, top.score, alternatives(false), explanation)
            }
            Verdict::Classifier => {
                let probability = ranking.top_probability.unwrap_or(0.0);
                let oos_probability = ranking.oos_probability.unwrap_or(0.0);
                explanation.summary = format!(
                    "the classifier gives `{}` probability {probability:.3} (minimum {:.3}) and out of scope {oos_probability:.3}",
                    top_intent.name, tier.min_probability
                );
                explanation.decline = Some(DeclineReason::Classifier {
                    probability,
                    oos_probability,
                    min_probability: tier.min_probability,
                });
                self.declined(text, probability, alternatives(false), explanation)
            }
            Verdict::NearNegative { entry, score } => {
                let entry = &self.entries[entry];
                let owner = &self.catalog.intents()[entry.intent];
                explanation.summary = format!(
                    "closest to negative exemplar `{}` of `{}` ({score:.3}), nearer than any exemplar of `{}` ({:.3})",
                    entry.text, owner.name, top_intent.name, top.best
                );
                explanation.decline = Some(DeclineReason::NearNegative {
                    intent: owner.name.clone(),
                    text: entry.text.clone(),
                    score,
                });
                self.declined(text, top.score, alternatives(false), explanation)
            }
            Verdict::Ambiguous => {
                // An ambiguous verdict needs a lead, so there is a rival.
                let rival = rival(&ranked).copied().unwrap_or(top);
                let rival_intent = &self.catalog.intents()[rival.intent];
                explanation.summary = if top.value() < rival.value() {
                    format!(
                        "`{}` has the nearer exemplar, but the classifier prefers `{}` (probability {:.3} against {:.3})",
                        top_intent.name,
                        rival_intent.name,
                        rival.value(),
                        top.value()
                    )
                } else {
                    format!(
                        "`{}` ({:.3}) and `{}` ({:.3}) are within the margin {:.3}",
                        top_intent.name,
                        top.value(),
                        rival_intent.name,
                        rival.value(),
                        tier.min_margin
                    )
                };
                Decision {
                    text: text.to_string(),
                    outcome: Outcome::Ambiguous,
                    intent: None,
                    confidence: ranking.top_probability.unwrap_or(top.score),
                    alternatives: alternatives(false),
                    risk: None,
                    slots: BTreeMap::new(),
                    missing_slots: Vec::new(),
                    next: Next::Clarify,
                    explanation,
                }
            }
            Verdict::Matched => {
                let probability = ranking
                    .top_probability
                    .map(|probability| {
                        format!(
                            ", classifier probability {probability:.3} (minimum {:.3})",
                            tier.min_probability
                        )
                    })
                    .unwrap_or_default();
                explanation.summary = format!(
                    "`{}` scored {:.3} (threshold {:.3}){probability} with a lead of {:.3} (minimum {:.3})",
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
                    confidence: ranking.top_probability.unwrap_or(top.score),
                    alternatives: alternatives(true),
                    risk: Some(top_intent.risk),
                    slots: BTreeMap::new(),
                    missing_slots: Vec::new(),
                    next: Next::for_risk(top_intent.risk),
                    explanation,
                }
            }
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
    pub fn precheck(&self, text: &str) -> Option<DeclineReason> {
        if text.trim().is_empty() {
            return Some(DeclineReason::Empty);
        }
        if !has_word(text) {
            return Some(DeclineReason::NoWords);
        }
        if is_identifier_only(text) {
            return Some(DeclineReason::IdentifierOnly);
        }
        None
    }

    fn declined_early(&self, text: &str, reason: DeclineReason) -> Decision {
        let summary = match reason {
            DeclineReason::Empty => "the message is empty",
            DeclineReason::IdentifierOnly => {
                "the message is only an identifier: it does not say what to do with it"
            }
            _ => "the message has no word of two or more letters",
        }
        .to_string();
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
            missing_slots: Vec::new(),
            next: Next::Fallback,
            explanation,
        }
    }

    /// Scores every intent from its positive exemplars, best first.
    fn rank_intents(&self, similarities: &Similarities, top_k: usize) -> Vec<IntentScore> {
        let mut per_intent: Vec<Vec<f32>> = vec![Vec::new(); self.catalog.intents().len()];
        for (entry, &similarity) in self.entries.iter().zip(&similarities.values) {
            if !entry.negative {
                per_intent[entry.intent].push(similarity);
            }
        }

        let top_k = top_k.max(1);
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
                    probability: similarities
                        .probabilities
                        .as_ref()
                        .and_then(|probabilities| probabilities.get(intent).copied()),
                    contender: true,
                }
            })
            .collect();
        mark_contenders(&mut ranked);
        ranked.sort_by(by_rank);
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

/// Returns whether `text` has a word of two or more letters: without one (a single
/// character, digits, emoji, punctuation) there is nothing to match.
fn has_word(text: &str) -> bool {
    text.split(|c: char| !c.is_alphanumeric())
        .any(|word| word.chars().filter(|c| c.is_alphabetic()).count() >= 2)
}

/// Returns whether the message is nothing but identifiers (`INC-4821`,
/// `203.0.113.7`, a hash), which name a thing without a request.
fn is_identifier_only(text: &str) -> bool {
    let masked = mask_entities(text);
    if masked == text {
        return false;
    }
    masked
        .split(|c: char| !c.is_alphanumeric())
        .filter(|word| !word.is_empty())
        .all(|word| IDENTIFIER_WORDS.contains(&word))
}

/// Words [`mask_entities`] puts in place of identifiers.
const IDENTIFIER_WORDS: [&str; 10] = [
    "link", "cve", "ip", "address", "range", "file", "hash", "incident", "alert", "server",
];

/// Applies the gates in order: negation, absolute score, classifier,
/// nearest negative, margin.
fn verdict(ranking: &Ranking, config: &MatcherConfig) -> Verdict {
    if ranking.negated {
        return Verdict::Negated;
    }
    let tier = config.thresholds.for_risk(ranking.top_risk);
    // A broken model can give NaN scores, which pass every comparison.
    if !ranking.top_score.is_finite() || ranking.top_score < tier.min_score {
        return Verdict::BelowThreshold;
    }
    if let Some(probability) = ranking.top_probability {
        let oos = ranking.oos_probability.unwrap_or(0.0);
        if !probability.is_finite() || oos > probability || probability < tier.min_probability {
            return Verdict::Classifier;
        }
    }
    if let Some((entry, score)) = ranking.best_negative
        && score > ranking.top_best + config.negative_margin
    {
        return Verdict::NearNegative { entry, score };
    }
    match ranking.lead {
        Some(lead) if lead < tier.min_margin => Verdict::Ambiguous,
        _ => Verdict::Matched,
    }
}

/// Returns an embedding for every text, reading the cache first and storing
/// what had to be computed. A failing cache is logged and bypassed: it only
/// saves time.
pub(crate) fn embed_with_cache(
    embedder: &dyn Embedder,
    texts: &[&str],
    cache: Option<&mut EmbeddingCache>,
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

    if let Some(cache) = cache {
        let entries: Vec<(&str, &Embedding)> = missing.iter().copied().zip(&embeddings).collect();
        if let Err(error) = cache.store(&model, &entries) {
            tracing::warn!(error = %error, "failed to store exemplar embeddings in the cache");
        }
    }
    found.extend(missing.into_iter().map(str::to_string).zip(embeddings));
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ranking(lead: f32) -> Ranking {
        Ranking {
            top: 0,
            top_risk: Risk::Read,
            top_score: 0.9,
            top_best: 0.9,
            top_probability: Some(0.6),
            oos_probability: Some(0.01),
            lead: Some(lead),
            rank_lead: Some(1.0),
            negated: false,
            best_negative: None,
        }
    }

    #[test]
    fn verdict_is_ambiguous_when_the_head_disagrees() {
        assert!(matches!(
            verdict(&ranking(-0.1), &MatcherConfig::default()),
            Verdict::Ambiguous
        ));
        assert!(matches!(
            verdict(&ranking(-0.1), &MatcherConfig::accept_all()),
            Verdict::Matched
        ));
        assert!(matches!(
            verdict(&ranking(0.1), &MatcherConfig::default()),
            Verdict::Matched
        ));
    }
}
