//! Training texts grouped by intent, and the pairs and batches that
//! contrastive training draws from them.

use std::collections::{BTreeMap, HashSet};

use rand::Rng;
use rand::seq::{IndexedRandom, SliceRandom};

use super::FineTuneError;

/// Label of a training text.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Label {
    Intent(String),
    /// Out of scope, or a negative exemplar: trained to be unlike every intent.
    Negative,
}

/// Labelled texts indexed for sampling.
pub struct TrainingSet {
    texts: Vec<String>,
    /// Text indices of each intent, in intent-name order.
    intents: Vec<Vec<usize>>,
    /// Intent index of each text, `None` for negatives.
    classes: Vec<Option<usize>>,
    /// Text indices of the negatives.
    negatives: Vec<usize>,
    fingerprint: String,
}

/// Two texts and the cosine similarity training pulls them towards.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pair {
    pub first: usize,
    pub second: usize,
    pub target: f32,
}

/// An anchor, a text of the same intent and, when the set has any, a
/// negative text. A batch of triplets contains each intent at most once, so
/// the other rows' positives are true negatives for every anchor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Triplet {
    pub anchor: usize,
    pub positive: usize,
    pub negative: Option<usize>,
}

/// Share of negative pairs whose second text is a negative row rather
/// than an example of another intent. An estimate, not tuned: half keeps
/// both kinds of mistake, wrong intent and accepted out-of-scope, in view.
const NEGATIVE_ROW_SHARE: f64 = 0.5;

impl TrainingSet {
    /// Indexes `rows`. A text repeated under the same label is kept once.
    /// Fails unless at least two intents have two texts each, the least
    /// that positive and negative pairs need.
    pub fn new(rows: impl IntoIterator<Item = (String, Label)>) -> Result<Self, FineTuneError> {
        let mut seen = HashSet::new();
        let mut texts = Vec::new();
        let mut labels = Vec::new();
        for (text, label) in rows {
            if seen.insert((text.clone(), label.clone())) {
                texts.push(text);
                labels.push(label);
            }
        }

        let mut by_name: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        let mut negatives = Vec::new();
        for (index, label) in labels.iter().enumerate() {
            match label {
                Label::Intent(name) => by_name.entry(name).or_default().push(index),
                Label::Negative => negatives.push(index),
            }
        }
        let usable = by_name.values().filter(|texts| texts.len() >= 2).count();
        if usable < 2 {
            return Err(FineTuneError::TooFewExamples {
                intents: by_name.len(),
                usable,
            });
        }

        let mut classes = vec![None; texts.len()];
        let intents: Vec<Vec<usize>> = by_name.into_values().collect();
        for (class, members) in intents.iter().enumerate() {
            for &index in members {
                classes[index] = Some(class);
            }
        }

        let fingerprint = fingerprint(&texts, &labels);
        Ok(Self {
            texts,
            intents,
            classes,
            negatives,
            fingerprint,
        })
    }

    pub fn text(&self, index: usize) -> &str {
        &self.texts[index]
    }

    pub fn len(&self) -> usize {
        self.texts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.texts.is_empty()
    }

    pub fn intent_count(&self) -> usize {
        self.intents.len()
    }

    pub fn negative_count(&self) -> usize {
        self.negatives.len()
    }

    /// sha256 of the labelled texts in input order, one `label<TAB>text`
    /// line each with `oos` as the negatives' label, to record in provenance.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// Samples one epoch of SetFit pairs in random order. Every text of an
    /// intent gets a positive pair with another text of that intent and a
    /// negative pair with a negative row or a text of another intent. Every
    /// negative row gets a negative pair with a random intent text.
    pub fn sample_pairs(&self, rng: &mut impl Rng) -> Vec<Pair> {
        let mut pairs = Vec::with_capacity(2 * self.texts.len());
        for (class, members) in self.intents.iter().enumerate() {
            for &anchor in members {
                if let Some(positive) = self.other_member(class, anchor, rng) {
                    pairs.push(Pair {
                        first: anchor,
                        second: positive,
                        target: 1.0,
                    });
                }
                let negative = if !self.negatives.is_empty() && rng.random_bool(NEGATIVE_ROW_SHARE)
                {
                    self.negatives.choose(rng).copied()
                } else {
                    self.other_intent_text(class, rng)
                };
                if let Some(negative) = negative {
                    pairs.push(Pair {
                        first: anchor,
                        second: negative,
                        target: 0.0,
                    });
                }
            }
        }
        for &negative in &self.negatives {
            let class = rng.random_range(0..self.intents.len());
            if let Some(&text) = self.intents[class].choose(rng) {
                pairs.push(Pair {
                    first: negative,
                    second: text,
                    target: 0.0,
                });
            }
        }
        pairs.shuffle(rng);
        pairs
    }

    /// Samples one epoch of triplets for a multiple-negatives ranking loss,
    /// with every text of an intent once as anchor. Batches have at most
    /// `batch_size` triplets and no intent twice, so a batch may come out
    /// smaller when few intents are left at the end of the epoch.
    pub fn sample_triplet_batches(
        &self,
        batch_size: usize,
        rng: &mut impl Rng,
    ) -> Vec<Vec<Triplet>> {
        let mut anchors: Vec<usize> = self
            .intents
            .iter()
            .filter(|members| members.len() >= 2)
            .flatten()
            .copied()
            .collect();
        anchors.shuffle(rng);

        // Each anchor goes into the first open batch without its intent,
        // as sentence-transformers' no-duplicates batch sampler does.
        let mut batches: Vec<Vec<Triplet>> = Vec::new();
        let mut batch_classes: Vec<HashSet<usize>> = Vec::new();
        let mut first_open = 0;
        for anchor in anchors {
            let Some(class) = self.classes[anchor] else {
                continue;
            };
            let Some(positive) = self.other_member(class, anchor, rng) else {
                continue;
            };
            let triplet = Triplet {
                anchor,
                positive,
                negative: self.negatives.choose(rng).copied(),
            };

            let slot = (first_open..batches.len()).find(|&index| {
                batches[index].len() < batch_size && !batch_classes[index].contains(&class)
            });
            let slot = slot.unwrap_or_else(|| {
                batches.push(Vec::with_capacity(batch_size));
                batch_classes.push(HashSet::new());
                batches.len() - 1
            });
            batches[slot].push(triplet);
            batch_classes[slot].insert(class);
            while first_open < batches.len() && batches[first_open].len() == batch_size {
                first_open += 1;
            }
        }
        batches.shuffle(rng);
        batches
    }

    /// Class of text `index` for a classification loss: its intent's index,
    /// or [`TrainingSet::intent_count`] for a negative.
    pub fn class_of(&self, index: usize) -> usize {
        self.classes[index].unwrap_or(self.intents.len())
    }

    /// Shuffles every text once into batches of at most `batch_size`, one
    /// epoch for a classification loss.
    pub fn sample_text_batches(&self, batch_size: usize, rng: &mut impl Rng) -> Vec<Vec<usize>> {
        let mut order: Vec<usize> = (0..self.texts.len()).collect();
        order.shuffle(rng);
        order
            .chunks(batch_size.max(1))
            .map(<[usize]>::to_vec)
            .collect()
    }

    /// Picks a text of intent `class` other than `anchor`, if the intent has one.
    fn other_member(&self, class: usize, anchor: usize, rng: &mut impl Rng) -> Option<usize> {
        let members = &self.intents[class];
        if members.len() < 2 {
            return None;
        }
        loop {
            let &candidate = members.choose(rng)?;
            if candidate != anchor {
                return Some(candidate);
            }
        }
    }

    /// Picks a random text of an intent other than `class`.
    fn other_intent_text(&self, class: usize, rng: &mut impl Rng) -> Option<usize> {
        let others: Vec<usize> = (0..self.intents.len())
            .filter(|&other| other != class && !self.intents[other].is_empty())
            .collect();
        let &other = others.choose(rng)?;
        self.intents[other].choose(rng).copied()
    }
}

fn fingerprint(texts: &[String], labels: &[Label]) -> String {
    let mut lines = String::new();
    for (text, label) in texts.iter().zip(labels) {
        let label = match label {
            Label::Intent(name) => name.as_str(),
            Label::Negative => crate::dataset::OUT_OF_SCOPE,
        };
        lines.push_str(label);
        lines.push('\t');
        lines.push_str(text);
        lines.push('\n');
    }
    crate::model::sha256_hex(lines.as_bytes())
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    use super::*;

    fn set() -> TrainingSet {
        let intent = |name: &str, text: &str| (text.to_string(), Label::Intent(name.to_string()));
        let rows = vec![
            intent("a", "a one"),
            intent("a", "a two"),
            intent("a", "a three"),
            intent("b", "b one"),
            intent("b", "b two"),
            intent("c", "c one"),
            intent("c", "c two"),
            ("hello".to_string(), Label::Negative),
            ("lunch?".to_string(), Label::Negative),
            intent("a", "a one"),
        ];
        TrainingSet::new(rows).expect("three intents of two or more texts")
    }

    #[test]
    fn repeated_rows_are_kept_once() {
        assert_eq!(set().len(), 9);
    }

    #[test]
    fn pairs_agree_with_labels() {
        let set = set();
        let mut rng = StdRng::seed_from_u64(7);
        let pairs = set.sample_pairs(&mut rng);
        // Seven intent texts give a positive and a negative pair each, and
        // the two negative rows one negative pair each.
        assert_eq!(pairs.len(), 16);
        for pair in pairs {
            let same = set.classes[pair.first].is_some()
                && set.classes[pair.first] == set.classes[pair.second];
            assert_ne!(pair.first, pair.second);
            assert_eq!(same, pair.target == 1.0, "pair {pair:?}");
        }
    }

    #[test]
    fn triplet_batches_hold_each_intent_once() {
        let set = set();
        let mut rng = StdRng::seed_from_u64(7);
        let batches = set.sample_triplet_batches(2, &mut rng);
        assert_eq!(batches.iter().map(Vec::len).sum::<usize>(), 7);
        for batch in &batches {
            assert!(batch.len() <= 2);
            let classes: HashSet<_> = batch.iter().map(|t| set.classes[t.anchor]).collect();
            assert_eq!(classes.len(), batch.len());
            for triplet in batch {
                assert_eq!(set.classes[triplet.anchor], set.classes[triplet.positive]);
                assert_ne!(triplet.anchor, triplet.positive);
                let negative = triplet.negative.expect("the set has negatives");
                assert_eq!(set.classes[negative], None);
            }
        }
    }

    #[test]
    fn text_batches_cover_every_text_once() {
        let set = set();
        let batches = set.sample_text_batches(4, &mut StdRng::seed_from_u64(7));
        assert_eq!(batches.len(), 3);
        let mut seen: Vec<usize> = batches.concat();
        seen.sort_unstable();
        assert_eq!(seen, (0..set.len()).collect::<Vec<_>>());
        let negatives: Vec<usize> = (0..set.len())
            .filter(|&index| set.class_of(index) == set.intent_count())
            .collect();
        assert_eq!(negatives.len(), set.negative_count());
    }

    #[test]
    fn sampling_is_reproducible() {
        let set = set();
        let first = set.sample_pairs(&mut StdRng::seed_from_u64(3));
        let second = set.sample_pairs(&mut StdRng::seed_from_u64(3));
        assert_eq!(first, second);
    }

    #[test]
    fn one_usable_intent_is_rejected() {
        let rows = vec![
            ("x".to_string(), Label::Intent("a".to_string())),
            ("y".to_string(), Label::Intent("a".to_string())),
            ("z".to_string(), Label::Intent("b".to_string())),
        ];
        assert!(matches!(
            TrainingSet::new(rows),
            Err(FineTuneError::TooFewExamples { .. })
        ));
    }
}
