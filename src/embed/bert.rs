//! BERT sentence embeddings with candle: forward pass, mean pooling under the
//! attention mask and L2 normalisation, as sentence-transformers computes them.

use candle_core::{D, DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::BertModel;
use tokenizers::Encoding;

use super::tokenizer::{ModelTokenizer, load_config};
use super::{EmbedError, Embedder, Embedding, TokenCount};
use crate::model::{ModelFiles, ModelId};

/// A BERT encoder with its tokenizer.
pub struct BertEmbedder {
    model: BertModel,
    tokenizer: ModelTokenizer,
    id: ModelId,
    dimension: usize,
    device: Device,
}

/// Texts embedded in one forward pass. Texts are sorted by length first, so
/// a batch pads little; 32 keeps the activations of a 256-token batch small.
const BATCH_SIZE: usize = 32;

impl BertEmbedder {
    /// Loads weights, config and tokenizer from a verified model directory.
    /// The tokenizer's own truncation and padding settings are replaced: texts
    /// are cut at the model's `max_seq_length` and never padded.
    pub fn load(files: ModelFiles) -> Result<Self, EmbedError> {
        let config = load_config(&files)?;
        let tokenizer = ModelTokenizer::load(&files, &config)?;

        let device = Device::Cpu;
        let weights_path = files.dir.join(crate::model::WEIGHTS_FILE);
        let vb = VarBuilder::from_buffered_safetensors(files.weights, DType::F32, &device)
            .map_err(|error| crate::model::ModelError::Weights {
                path: weights_path.clone(),
                message: error.to_string(),
            })?;
        let model =
            BertModel::load(vb, &config).map_err(|error| crate::model::ModelError::Weights {
                path: weights_path,
                message: error.to_string(),
            })?;

        Ok(Self {
            model,
            tokenizer,
            id: files.id,
            dimension: config.hidden_size,
            device,
        })
    }

    /// Returns the token ids the model sees for `text`, special tokens included.
    pub fn token_ids(&self, text: &str) -> Result<Vec<u32>, EmbedError> {
        Ok(self.encode(text)?.get_ids().to_vec())
    }

    fn encode(&self, text: &str) -> Result<Encoding, EmbedError> {
        self.tokenizer.encode(text)
    }

    /// Runs one padded batch through the model and pools it.
    fn embed_batch(&self, encodings: &[&Encoding]) -> Result<Vec<Embedding>, EmbedError> {
        let rows = encodings.len();
        let (ids, mask, max_len) = pad_batch(encodings.iter().copied());
        let ids = Tensor::from_vec(ids, (rows, max_len), &self.device)?;
        let mask = Tensor::from_vec(mask, (rows, max_len), &self.device)?;
        let token_types = ids.zeros_like()?;
        let hidden = self.model.forward(&ids, &token_types, Some(&mask))?;

        // Mean pooling over real tokens only: padded positions get weight 0.
        let mask = mask.to_dtype(DType::F32)?.unsqueeze(D::Minus1)?;
        let summed = hidden.broadcast_mul(&mask)?.sum(1)?;
        let counts = mask.sum(1)?.clamp(1e-9, f32::MAX)?;
        let pooled = summed.broadcast_div(&counts)?;

        Ok(pooled
            .to_vec2::<f32>()?
            .into_iter()
            .map(Embedding::normalized)
            .collect())
    }
}

impl Embedder for BertEmbedder {
    fn model_id(&self) -> &ModelId {
        &self.id
    }

    fn dimension(&self) -> usize {
        self.dimension
    }

    fn embed(&self, texts: &[&str]) -> Result<Vec<Embedding>, EmbedError> {
        let encodings = texts
            .iter()
            .map(|text| self.encode(text))
            .collect::<Result<Vec<_>, _>>()?;

        let mut order: Vec<usize> = (0..texts.len()).collect();
        order.sort_by_key(|&index| encodings[index].len());

        let mut results: Vec<Option<Embedding>> = vec![None; texts.len()];
        for chunk in order.chunks(BATCH_SIZE) {
            let batch: Vec<&Encoding> = chunk.iter().map(|&index| &encodings[index]).collect();
            let embeddings = self.embed_batch(&batch)?;
            for (&index, embedding) in chunk.iter().zip(embeddings) {
                results[index] = Some(embedding);
            }
        }
        // Every index appears in exactly one chunk, so every slot is filled.
        Ok(results.into_iter().flatten().collect())
    }

    fn count_tokens(&self, text: &str) -> Result<TokenCount, EmbedError> {
        self.tokenizer.count_tokens(text)
    }

    fn known_words(&self, text: &str) -> usize {
        self.tokenizer.known_words(text)
    }

    fn exact(&self) -> &dyn Embedder {
        self
    }
}

/// Pads encodings to the longest one, returning row-major token ids, the
/// attention mask (1 for a token, 0 for padding) and the padded length.
pub(crate) fn pad_batch<'a>(
    encodings: impl ExactSizeIterator<Item = &'a Encoding> + Clone,
) -> (Vec<u32>, Vec<u32>, usize) {
    let rows = encodings.len();
    let max_len = encodings.clone().map(Encoding::len).max().unwrap_or(0);
    let mut ids = vec![0u32; rows * max_len];
    let mut mask = vec![0u32; rows * max_len];
    for (row, encoding) in encodings.enumerate() {
        let start = row * max_len;
        ids[start..start + encoding.len()].copy_from_slice(encoding.get_ids());
        mask[start..start + encoding.len()].fill(1);
    }
    (ids, mask, max_len)
}
