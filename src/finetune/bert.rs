//! A BERT encoder built from plain tensor ops with its weights held as
//! candle `Var`s, so the sentence embedding can be trained by backpropagation.
//!
//! The stock `candle_transformers` BERT uses candle-nn's fused layer-norm
//! op, which has no backward pass, so this file writes layer norm, attention
//! and pooling out of ops that do.

use std::collections::HashMap;

use candle_core::{D, DType, Device, Tensor, Var};
use candle_nn::VarMap;
use candle_transformers::models::bert::{Config, HiddenAct};

/// A BERT encoder whose encoder-layer weights, and optionally its embedding
/// tables, are trainable.
pub struct TrainableBert {
    embeddings: Embeddings,
    layers: Vec<Layer>,
    heads: usize,
    layer_norm_eps: f64,
    hidden_act: HiddenAct,
    /// Trainable weights by tensor name, without any `bert.` prefix.
    vars: VarMap,
    /// Every tensor of the weights file by its name there, as f32. Saving
    /// writes these names, taking trained values from `vars`.
    original: HashMap<String, Tensor>,
    prefix: &'static str,
}

/// Token ids and attention mask of a padded batch, both `(rows, max_len)`.
pub struct TokenBatch {
    pub ids: Tensor,
    pub mask: Tensor,
}

struct Embeddings {
    word: Tensor,
    position: Tensor,
    token_type: Tensor,
    norm: LayerNorm,
}

struct Linear {
    weight: Tensor,
    bias: Tensor,
}

struct LayerNorm {
    weight: Tensor,
    bias: Tensor,
}

struct Layer {
    query: Linear,
    key: Linear,
    value: Linear,
    attention_output: Linear,
    attention_norm: LayerNorm,
    intermediate: Linear,
    output: Linear,
    output_norm: LayerNorm,
}

/// Added to the attention score of padded positions: far below any real
/// score, so their softmax weight is exactly 0 in f32.
const MASKED_SCORE: f64 = -1e9;

impl TrainableBert {
    /// Reads every tensor of a safetensors file, under no prefix or under
    /// `bert.`, as f32. Encoder layers are trainable, and the embedding
    /// tables too unless `freeze_embeddings`.
    pub fn load(
        weights: &[u8],
        config: &Config,
        freeze_embeddings: bool,
    ) -> candle_core::Result<Self> {
        let device = Device::Cpu;
        let mut original = candle_core::safetensors::load_buffer(weights, &device)?;
        for tensor in original.values_mut() {
            *tensor = tensor.to_dtype(DType::F32)?;
        }
        let prefix = if original.contains_key("bert.embeddings.LayerNorm.weight") {
            "bert."
        } else {
            ""
        };

        let vars = VarMap::new();
        let mut loader = Loader {
            original: &original,
            vars: &vars,
            prefix,
            freeze_embeddings,
        };
        let embeddings = Embeddings {
            word: loader.tensor("embeddings.word_embeddings.weight")?,
            position: loader.tensor("embeddings.position_embeddings.weight")?,
            token_type: loader.tensor("embeddings.token_type_embeddings.weight")?,
            norm: loader.layer_norm("embeddings.LayerNorm")?,
        };
        let layers = (0..config.num_hidden_layers)
            .map(|index| loader.layer(&format!("encoder.layer.{index}")))
            .collect::<candle_core::Result<Vec<_>>>()?;

        Ok(Self {
            embeddings,
            layers,
            heads: config.num_attention_heads,
            layer_norm_eps: config.layer_norm_eps,
            hidden_act: config.hidden_act,
            vars,
            original,
            prefix,
        })
    }

    /// Returns the weights that training updates.
    pub fn trainable(&self) -> Vec<Var> {
        self.vars.all_vars()
    }

    /// Returns the unit-length mean-pooled sentence embeddings of a batch,
    /// `(rows, hidden)`, tracked for backpropagation.
    pub fn embed(&self, batch: &TokenBatch) -> candle_core::Result<Tensor> {
        let hidden = self.forward(&batch.ids, &batch.mask)?;

        // Mean pooling over real tokens only: padded positions get weight 0.
        let mask = batch.mask.to_dtype(DType::F32)?.unsqueeze(D::Minus1)?;
        let summed = hidden.broadcast_mul(&mask)?.sum(1)?;
        let counts = mask.sum(1)?.clamp(1e-9, f64::MAX)?;
        let pooled = summed.broadcast_div(&counts)?;

        let norms = pooled
            .sqr()?
            .sum_keepdim(1)?
            .sqrt()?
            .clamp(1e-12, f64::MAX)?;
        pooled.broadcast_div(&norms)
    }

    /// Returns the last hidden states, `(rows, max_len, hidden)`.
    fn forward(&self, ids: &Tensor, mask: &Tensor) -> candle_core::Result<Tensor> {
        let (rows, length) = ids.dims2()?;
        let embeddings = &self.embeddings;

        let words = embeddings
            .word
            .index_select(&ids.flatten_all()?, 0)?
            .reshape((rows, length, ()))?;
        let positions = embeddings.position.narrow(0, 0, length)?;
        // Every token has token type 0, as sentence-transformers passes it.
        let token_type = embeddings.token_type.get(0)?;
        let mut hidden = words
            .broadcast_add(&positions)?
            .broadcast_add(&token_type)?;
        hidden = embeddings.norm.forward(&hidden, self.layer_norm_eps)?;

        // (rows, 1, 1, length): 0 for real tokens, MASKED_SCORE for padding.
        let score_mask = ((mask.to_dtype(DType::F32)? - 1.0)? * -MASKED_SCORE)?
            .unsqueeze(1)?
            .unsqueeze(1)?;
        for layer in &self.layers {
            hidden = self.layer_forward(layer, &hidden, &score_mask)?;
        }
        Ok(hidden)
    }

    fn layer_forward(
        &self,
        layer: &Layer,
        hidden: &Tensor,
        score_mask: &Tensor,
    ) -> candle_core::Result<Tensor> {
        let (rows, length, width) = hidden.dims3()?;
        let head_width = width / self.heads;
        let split_heads = |x: Tensor| -> candle_core::Result<Tensor> {
            x.reshape((rows, length, self.heads, head_width))?
                .transpose(1, 2)?
                .contiguous()
        };

        let query = split_heads(layer.query.forward(hidden)?)?;
        let key = split_heads(layer.key.forward(hidden)?)?;
        let value = split_heads(layer.value.forward(hidden)?)?;
        let scores =
            (query.matmul(&key.t()?)? / (head_width as f64).sqrt())?.broadcast_add(score_mask)?;
        let probabilities = candle_nn::ops::softmax(&scores, D::Minus1)?;
        let context = probabilities
            .matmul(&value)?
            .transpose(1, 2)?
            .contiguous()?
            .reshape((rows, length, width))?;

        let attended = (layer.attention_output.forward(&context)? + hidden)?;
        let attended = layer
            .attention_norm
            .forward(&attended, self.layer_norm_eps)?;

        let intermediate = layer.intermediate.forward(&attended)?;
        let intermediate = match self.hidden_act {
            HiddenAct::Gelu => intermediate.gelu_erf()?,
            HiddenAct::GeluApproximate => intermediate.gelu()?,
            HiddenAct::Relu => intermediate.relu()?,
        };
        let output = (layer.output.forward(&intermediate)? + attended)?;
        layer.output_norm.forward(&output, self.layer_norm_eps)
    }

    /// Returns every tensor of the loaded weights file under its original
    /// name, with trained values in place, converted to `dtype`.
    pub fn tensors(&self, dtype: DType) -> candle_core::Result<HashMap<String, Tensor>> {
        let trained =
            self.vars.data().lock().map_err(|_| {
                candle_core::Error::Msg("trainable weights lock poisoned".to_string())
            })?;
        let mut tensors = HashMap::with_capacity(self.original.len());
        for (name, tensor) in &self.original {
            let unprefixed = name.strip_prefix(self.prefix).unwrap_or(name);
            let value = match trained.get(unprefixed) {
                Some(var) => var.as_tensor().detach(),
                None => tensor.clone(),
            };
            tensors.insert(name.clone(), value.to_dtype(dtype)?);
        }
        Ok(tensors)
    }
}

/// Picks each weight from the file and registers the trainable ones.
struct Loader<'a> {
    original: &'a HashMap<String, Tensor>,
    vars: &'a VarMap,
    prefix: &'static str,
    freeze_embeddings: bool,
}

impl Loader<'_> {
    /// Returns the named weight: a tracked `Var` when trainable, else a
    /// plain tensor that backpropagation skips.
    fn tensor(&mut self, name: &str) -> candle_core::Result<Tensor> {
        let full_name = format!("{}{name}", self.prefix);
        let tensor = self.original.get(&full_name).ok_or_else(|| {
            candle_core::Error::Msg(format!("tensor `{full_name}` missing from the weights"))
        })?;
        if self.freeze_embeddings && name.starts_with("embeddings.") {
            return Ok(tensor.clone());
        }

        let var = Var::from_tensor(tensor)?;
        let tracked = var.as_tensor().clone();
        self.vars
            .data()
            .lock()
            .map_err(|_| candle_core::Error::Msg("trainable weights lock poisoned".to_string()))?
            .insert(name.to_string(), var);
        Ok(tracked)
    }

    fn linear(&mut self, name: &str) -> candle_core::Result<Linear> {
        Ok(Linear {
            weight: self.tensor(&format!("{name}.weight"))?,
            bias: self.tensor(&format!("{name}.bias"))?,
        })
    }

    fn layer_norm(&mut self, name: &str) -> candle_core::Result<LayerNorm> {
        Ok(LayerNorm {
            weight: self.tensor(&format!("{name}.weight"))?,
            bias: self.tensor(&format!("{name}.bias"))?,
        })
    }

    fn layer(&mut self, name: &str) -> candle_core::Result<Layer> {
        Ok(Layer {
            query: self.linear(&format!("{name}.attention.self.query"))?,
            key: self.linear(&format!("{name}.attention.self.key"))?,
            value: self.linear(&format!("{name}.attention.self.value"))?,
            attention_output: self.linear(&format!("{name}.attention.output.dense"))?,
            attention_norm: self.layer_norm(&format!("{name}.attention.output.LayerNorm"))?,
            intermediate: self.linear(&format!("{name}.intermediate.dense"))?,
            output: self.linear(&format!("{name}.output.dense"))?,
            output_norm: self.layer_norm(&format!("{name}.output.LayerNorm"))?,
        })
    }
}

impl Linear {
    /// `x W^T + b` on `(rows, length, in)`, as one 2-D matrix multiply.
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let (rows, length, width) = x.dims3()?;
        x.reshape((rows * length, width))?
            .matmul(&self.weight.t()?)?
            .broadcast_add(&self.bias)?
            .reshape((rows, length, ()))
    }
}

impl LayerNorm {
    /// Layer norm over the last dimension from mean and variance ops, which
    /// unlike candle-nn's fused op have a backward pass.
    fn forward(&self, x: &Tensor, eps: f64) -> candle_core::Result<Tensor> {
        let mean = x.mean_keepdim(D::Minus1)?;
        let centred = x.broadcast_sub(&mean)?;
        let variance = centred.sqr()?.mean_keepdim(D::Minus1)?;
        let normalized = centred.broadcast_div(&(variance + eps)?.sqrt()?)?;
        normalized
            .broadcast_mul(&self.weight)?
            .broadcast_add(&self.bias)
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::embed::{BertEmbedder, Embedder};
    use crate::finetune::tokens::TrainingTokenizer;
    use crate::model::ModelFiles;

    /// Cosine similarity the trainable forward must reach against the stock
    /// candle BERT on the same weights.
    const MIN_COSINE: f32 = 0.9999;

    #[test]
    fn trainable_forward_matches_stock_bert() -> Result<(), Box<dyn std::error::Error>> {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/all-MiniLM-L6-v2");
        let files = ModelFiles::open(&dir)?;
        let config: Config = serde_json::from_slice(&std::fs::read(files.config_path())?)?;
        let texts = [
            "restart nginx on web-01",
            "what alerts fired in the last hour?",
            "hi",
            "could you please list every critical vulnerability that was found on the database servers during last night's scan",
            "",
        ];

        let stock = BertEmbedder::load(files.clone())?;
        let expected = stock.embed(&texts)?;

        let model = TrainableBert::load(&files.weights, &config, false)?;
        let tokenizer = TrainingTokenizer::load(&files.tokenizer_path(), 256)?;
        // One padded batch, so the mask handling is exercised too.
        let batch = tokenizer.batch(&texts)?;
        let actual = model.embed(&batch)?.to_vec2::<f32>()?;

        for ((text, expected), actual) in texts.iter().zip(&expected).zip(&actual) {
            let cosine = expected.cosine(actual);
            assert!(cosine >= MIN_COSINE, "cosine {cosine} for `{text}`");
        }
        Ok(())
    }

    #[test]
    fn frozen_embeddings_are_not_trainable() -> Result<(), Box<dyn std::error::Error>> {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/all-MiniLM-L6-v2");
        let files = ModelFiles::open(&dir)?;
        let config: Config = serde_json::from_slice(&std::fs::read(files.config_path())?)?;

        let all = TrainableBert::load(&files.weights, &config, false)?;
        let frozen = TrainableBert::load(&files.weights, &config, true)?;
        // Word, position and token-type tables plus the layer norm's two vectors.
        assert_eq!(all.trainable().len() - frozen.trainable().len(), 5);
        assert_eq!(frozen.tensors(DType::F32)?.len(), all.original.len());
        Ok(())
    }
}
