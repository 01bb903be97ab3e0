//! The training loop: contrastive and classification losses on sentence
//! embeddings, AdamW with linear warm-up and decay.

use std::time::{Duration, Instant};

use candle_core::{DType, Device, Tensor, Var};
use candle_nn::{AdamW, Optimizer, ParamsAdamW};
use rand::SeedableRng;
use rand::rngs::StdRng;

use super::FineTuneError;
use super::bert::TrainableBert;
use super::pairs::{Pair, TrainingSet, Triplet};
use super::tokens::TrainingTokenizer;

/// The loss to train with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Loss {
    /// Mean squared error between a pair's cosine similarity and its target
    /// (1 for the same intent, 0 otherwise), SetFit's default.
    Cosine,
    /// Multiple-negatives ranking: cross-entropy over the scaled cosine
    /// similarities of each anchor to every positive and negative in the
    /// batch, the right one being its own positive.
    Mnrl,
    /// Cross-entropy of a cosine classifier with an additive margin
    /// (CosFace). Each text is scored against one learned unit vector per
    /// intent and one for the negatives, and its own class's cosine is
    /// lowered by the margin, so training leaves a gap between intents.
    Classify,
}

/// Fine-tuning settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FineTuneSettings {
    pub loss: Loss,
    pub epochs: usize,
    /// Pairs (cosine), anchors (mnrl) or texts (classify) per optimizer step.
    pub batch_size: usize,
    pub learning_rate: f64,
    pub weight_decay: f64,
    /// Share of the steps over which the learning rate rises linearly from 0.
    pub warmup_share: f64,
    /// Tokens per text, special tokens included. Longer texts are cut.
    pub max_tokens: usize,
    /// Keep the embedding tables fixed, which saves their gradients.
    pub freeze_embeddings: bool,
    /// Stop after this many optimizer steps, even before `epochs` are done.
    pub max_steps: Option<usize>,
    pub seed: u64,
}

/// Progress after one optimizer step.
#[derive(Debug, Clone, Copy)]
pub struct StepReport {
    pub step: usize,
    pub total_steps: usize,
    pub loss: f32,
}

/// Step count, time and loss of a training run.
#[derive(Debug, Clone, Copy)]
pub struct TrainingReport {
    pub steps: usize,
    pub elapsed: Duration,
    /// Mean loss of the first and the last tenth of the steps.
    pub first_loss: f32,
    pub last_loss: f32,
}

/// Scale of the cosine similarities before the softmax of the ranking
/// loss, the sentence-transformers default of 20.
const MNRL_SCALE: f64 = 20.0;

/// Scale of the cosines before the classification loss's softmax, as for
/// the ranking loss.
const CLASSIFY_SCALE: f64 = 20.0;

/// Margin taken off each text's cosine to its own class. An estimate, not tuned.
const CLASSIFY_MARGIN: f32 = 0.1;

/// Factor from the encoder's learning rate to the class vectors'. The
/// vectors must keep up with the moving encoder, so they take larger steps.
/// An estimate, not tuned.
const CLASS_VECTOR_RATE_FACTOR: f64 = 50.0;

/// Texts embedded at once while the class vectors are initialised.
const INIT_BATCH: usize = 64;

impl Default for FineTuneSettings {
    /// SetFit's defaults for the body (learning rate 2e-5, batch 16) with
    /// one epoch and a 32-token cut, which chat messages rarely reach.
    fn default() -> Self {
        Self {
            loss: Loss::Cosine,
            epochs: 1,
            batch_size: 16,
            learning_rate: 2e-5,
            weight_decay: 0.01,
            warmup_share: 0.1,
            max_tokens: 32,
            freeze_embeddings: true,
            max_steps: None,
            seed: 42,
        }
    }
}

/// Trains `model` on `set` in place, calling `on_step` after every step.
pub fn train(
    model: &TrainableBert,
    tokenizer: &TrainingTokenizer,
    set: &TrainingSet,
    settings: &FineTuneSettings,
    on_step: &mut dyn FnMut(StepReport),
) -> Result<TrainingReport, FineTuneError> {
    let started = Instant::now();
    let mut rng = StdRng::seed_from_u64(settings.seed);
    // Epochs are sampled up front so the step count is known, but no more
    // of them than `max_steps` needs.
    let max_steps = settings.max_steps.unwrap_or(usize::MAX);
    let mut epochs: Vec<Epoch> = Vec::new();
    let mut total_steps = 0;
    while epochs.len() < settings.epochs && total_steps < max_steps {
        let epoch = Epoch::sample(set, settings, &mut rng);
        total_steps += epoch.len();
        epochs.push(epoch);
    }
    total_steps = total_steps.min(max_steps);
    if total_steps == 0 {
        return Err(FineTuneError::NoBatches);
    }

    let mut optimizer = AdamW::new(
        model.trainable(),
        ParamsAdamW {
            lr: 0.0,
            weight_decay: settings.weight_decay,
            ..ParamsAdamW::default()
        },
    )?;
    let mut classifier = match settings.loss {
        Loss::Classify => Some(Classifier::new(model, tokenizer, set)?),
        Loss::Cosine | Loss::Mnrl => None,
    };
    let warmup_steps = ((total_steps as f64 * settings.warmup_share).ceil() as usize).max(1);
    let mut losses = Vec::with_capacity(total_steps);

    let batches = epochs.iter().flat_map(Epoch::batches).take(total_steps);
    for (step, batch) in batches.enumerate() {
        let rate = learning_rate(settings.learning_rate, step, warmup_steps, total_steps);
        optimizer.set_learning_rate(rate);
        let loss = match (batch, classifier.as_ref()) {
            (Batch::Pairs(pairs), _) => cosine_loss(model, tokenizer, set, pairs)?,
            (Batch::Triplets(triplets), _) => ranking_loss(model, tokenizer, set, triplets)?,
            (Batch::Texts(texts), Some(classifier)) => {
                classifier.loss(model, tokenizer, set, texts)?
            }
            (Batch::Texts(_), None) => unreachable!("text batches are sampled for classify only"),
        };
        let gradients = loss.backward()?;
        optimizer.step(&gradients)?;
        if let Some(classifier) = classifier.as_mut() {
            classifier.step(rate, &gradients)?;
        }

        let loss = loss.to_scalar::<f32>()?;
        if !loss.is_finite() {
            return Err(FineTuneError::Diverged { step: step + 1 });
        }
        losses.push(loss);
        on_step(StepReport {
            step: step + 1,
            total_steps,
            loss,
        });
    }

    let tenth = (losses.len() / 10).max(1);
    let mean = |values: &[f32]| values.iter().sum::<f32>() / values.len() as f32;
    Ok(TrainingReport {
        steps: losses.len(),
        elapsed: started.elapsed(),
        first_loss: mean(&losses[..tenth]),
        last_loss: mean(&losses[losses.len() - tenth..]),
    })
}

/// One epoch's batches, sampled up front so the step count is known.
enum Epoch {
    Pairs(Vec<Vec<Pair>>),
    Triplets(Vec<Vec<Triplet>>),
    Texts(Vec<Vec<usize>>),
}

enum Batch<'a> {
    Pairs(&'a [Pair]),
    Triplets(&'a [Triplet]),
    Texts(&'a [usize]),
}

impl Epoch {
    fn sample(set: &TrainingSet, settings: &FineTuneSettings, rng: &mut StdRng) -> Self {
        match settings.loss {
            Loss::Cosine => Self::Pairs(
                set.sample_pairs(rng)
                    .chunks(settings.batch_size)
                    .map(<[Pair]>::to_vec)
                    .collect(),
            ),
            Loss::Mnrl => Self::Triplets(set.sample_triplet_batches(settings.batch_size, rng)),
            Loss::Classify => Self::Texts(set.sample_text_batches(settings.batch_size, rng)),
        }
    }

    fn len(&self) -> usize {
        match self {
            Self::Pairs(batches) => batches.len(),
            Self::Triplets(batches) => batches.len(),
            Self::Texts(batches) => batches.len(),
        }
    }

    fn batches(&self) -> Box<dyn Iterator<Item = Batch<'_>> + '_> {
        match self {
            Self::Pairs(batches) => Box::new(batches.iter().map(|batch| Batch::Pairs(batch))),
            Self::Triplets(batches) => Box::new(batches.iter().map(|batch| Batch::Triplets(batch))),
            Self::Texts(batches) => Box::new(batches.iter().map(|batch| Batch::Texts(batch))),
        }
    }
}

/// Linear warm-up to `peak` over `warmup_steps`, then linear decay to 0 at
/// `total_steps`, as sentence-transformers' `WarmupLinear` schedule.
fn learning_rate(peak: f64, step: usize, warmup_steps: usize, total_steps: usize) -> f64 {
    if step < warmup_steps {
        return peak * (step + 1) as f64 / warmup_steps as f64;
    }
    let remaining = total_steps.saturating_sub(step) as f64;
    let decay_steps = total_steps.saturating_sub(warmup_steps).max(1) as f64;
    peak * remaining / decay_steps
}

/// Mean squared error between each pair's cosine similarity and its target.
fn cosine_loss(
    model: &TrainableBert,
    tokenizer: &TrainingTokenizer,
    set: &TrainingSet,
    pairs: &[Pair],
) -> Result<Tensor, FineTuneError> {
    let mut texts = BatchTexts::default();
    let first: Vec<u32> = pairs.iter().map(|pair| texts.add(pair.first)).collect();
    let second: Vec<u32> = pairs.iter().map(|pair| texts.add(pair.second)).collect();
    let targets: Vec<f32> = pairs.iter().map(|pair| pair.target).collect();
    let embeddings = texts.embed(model, tokenizer, set)?;

    let device = Device::Cpu;
    let first = embeddings.index_select(&Tensor::new(first, &device)?, 0)?;
    let second = embeddings.index_select(&Tensor::new(second, &device)?, 0)?;
    // The embeddings are unit length, so the dot product is the cosine.
    let cosines = (first * second)?.sum(1)?;
    let targets = Tensor::new(targets, &device)?;
    Ok((cosines - targets)?.sqr()?.mean_all()?)
}

/// Cross-entropy of each anchor over the batch's positives and negatives.
fn ranking_loss(
    model: &TrainableBert,
    tokenizer: &TrainingTokenizer,
    set: &TrainingSet,
    triplets: &[Triplet],
) -> Result<Tensor, FineTuneError> {
    let mut texts = BatchTexts::default();
    let anchors: Vec<u32> = triplets.iter().map(|t| texts.add(t.anchor)).collect();
    let mut candidates: Vec<u32> = triplets.iter().map(|t| texts.add(t.positive)).collect();
    candidates.extend(
        triplets
            .iter()
            .filter_map(|t| t.negative)
            .map(|negative| texts.add(negative)),
    );
    let embeddings = texts.embed(model, tokenizer, set)?;

    let device = Device::Cpu;
    let anchors = embeddings.index_select(&Tensor::new(anchors, &device)?, 0)?;
    let candidates = embeddings.index_select(&Tensor::new(candidates, &device)?, 0)?;
    let scores = (anchors.matmul(&candidates.t()?)? * MNRL_SCALE)?;
    // Anchor i's own positive is candidate i.
    let targets = Tensor::arange(0u32, triplets.len() as u32, &device)?;
    Ok(candle_nn::loss::cross_entropy(&scores, &targets)?)
}

/// The class vectors of the classification loss and their optimizer.
struct Classifier {
    /// One row per class, intents first, then the negatives when there are any.
    vectors: Var,
    optimizer: AdamW,
}

impl Classifier {
    /// Starts each class vector at the mean embedding of its texts under
    /// the untrained encoder.
    fn new(
        model: &TrainableBert,
        tokenizer: &TrainingTokenizer,
        set: &TrainingSet,
    ) -> Result<Self, FineTuneError> {
        let classes = set.intent_count() + usize::from(set.negative_count() > 0);
        let indices: Vec<usize> = (0..set.len()).collect();
        let mut sums: Option<Tensor> = None;
        for chunk in indices.chunks(INIT_BATCH) {
            let texts: Vec<&str> = chunk.iter().map(|&index| set.text(index)).collect();
            let embeddings = model.embed(&tokenizer.batch(&texts)?)?.detach();
            let targets: Vec<u32> = chunk
                .iter()
                .map(|&index| set.class_of(index) as u32)
                .collect();
            let membership = candle_nn::encoding::one_hot(
                Tensor::new(targets, &Device::Cpu)?,
                classes,
                1f32,
                0f32,
            )?;
            let chunk_sums = membership.t()?.matmul(&embeddings)?;
            sums = Some(match sums {
                Some(sums) => (sums + chunk_sums)?,
                None => chunk_sums,
            });
        }
        let sums = sums.ok_or(FineTuneError::NoBatches)?;
        let vectors = Var::from_tensor(&unit_rows(&sums)?.to_dtype(DType::F32)?)?;
        let optimizer = AdamW::new(
            vec![vectors.clone()],
            ParamsAdamW {
                lr: 0.0,
                weight_decay: 0.0,
                ..ParamsAdamW::default()
            },
        )?;
        Ok(Self { vectors, optimizer })
    }

    /// Computes the CosFace cross-entropy of the texts at `indices` of `set`.
    fn loss(
        &self,
        model: &TrainableBert,
        tokenizer: &TrainingTokenizer,
        set: &TrainingSet,
        indices: &[usize],
    ) -> Result<Tensor, FineTuneError> {
        let texts: Vec<&str> = indices.iter().map(|&index| set.text(index)).collect();
        let embeddings = model.embed(&tokenizer.batch(&texts)?)?;
        let vectors = unit_rows(self.vectors.as_tensor())?;
        let cosines = embeddings.matmul(&vectors.t()?)?;
        let targets: Vec<u32> = indices
            .iter()
            .map(|&index| set.class_of(index) as u32)
            .collect();
        let targets = Tensor::new(targets, &Device::Cpu)?;
        let margins =
            candle_nn::encoding::one_hot(targets.clone(), cosines.dim(1)?, CLASSIFY_MARGIN, 0f32)?;
        let logits = ((cosines - margins)? * CLASSIFY_SCALE)?;
        Ok(candle_nn::loss::cross_entropy(&logits, &targets)?)
    }

    /// Moves the class vectors by their gradients at the encoder's `rate`
    /// times [`CLASS_VECTOR_RATE_FACTOR`].
    fn step(
        &mut self,
        rate: f64,
        gradients: &candle_core::backprop::GradStore,
    ) -> Result<(), FineTuneError> {
        self.optimizer
            .set_learning_rate(rate * CLASS_VECTOR_RATE_FACTOR);
        self.optimizer.step(gradients)?;
        Ok(())
    }
}

/// Scales every row of `matrix` to unit length.
fn unit_rows(matrix: &Tensor) -> candle_core::Result<Tensor> {
    let norms = matrix.sqr()?.sum_keepdim(1)?.sqrt()?;
    matrix.broadcast_div(&norms)
}

/// The distinct texts of a batch, so each is run through the model once.
#[derive(Default)]
struct BatchTexts {
    indices: Vec<usize>,
}

impl BatchTexts {
    /// Adds a text of the set and returns its row in the batch.
    fn add(&mut self, index: usize) -> u32 {
        let row = match self.indices.iter().position(|&seen| seen == index) {
            Some(row) => row,
            None => {
                self.indices.push(index);
                self.indices.len() - 1
            }
        };
        row as u32
    }

    fn embed(
        &self,
        model: &TrainableBert,
        tokenizer: &TrainingTokenizer,
        set: &TrainingSet,
    ) -> Result<Tensor, FineTuneError> {
        let texts: Vec<&str> = self.indices.iter().map(|&index| set.text(index)).collect();
        let batch = tokenizer.batch(&texts)?;
        Ok(model.embed(&batch)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn learning_rate_warms_up_then_decays() {
        let rates: Vec<f64> = (0..10)
            .map(|step| learning_rate(1.0, step, 2, 10))
            .collect();
        assert_eq!(rates[0], 0.5);
        assert_eq!(rates[1], 1.0);
        assert_eq!(rates[2], 1.0);
        assert!(rates[3] < rates[2]);
        assert_eq!(rates[9], 0.125);
    }
}
