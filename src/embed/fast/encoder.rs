//! The BERT encoder over the tokens of several sequences packed one after
//! another: embeddings, transformer layers and mean pooling, in reused
//! buffers.

use candle_core::{DType, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{Config, HiddenAct};
use half::f16;

use super::attention::{AttentionScratch, Heads, attend};
use super::matmul::{Isa, PackedLinear, Precision, Write};
use super::ops::{gelu_in_place, layer_norm_in_place};

/// The weights of a BERT encoder, laid out for `PackedLinear`.
pub struct Encoder {
    heads: Heads,
    intermediate: usize,
    epsilon: f32,
    words: WordTable,
    /// Position embeddings with the token type 0 embedding added, one row
    /// of `hidden` values per position.
    positions: Vec<f32>,
    embedding_norm: Norm,
    layers: Vec<Layer>,
}

/// Activation buffers for one thread, grown to the largest call so far.
#[derive(Debug, Default)]
pub struct Workspace {
    hidden: Vec<f32>,
    qkv: Vec<f32>,
    context: Vec<f32>,
    intermediate: Vec<f32>,
    attention: AttentionScratch,
}

/// Word embeddings in the dtype of the model file.
enum WordTable {
    F16 { rows: Vec<f16>, vocabulary: usize },
    F32 { rows: Vec<f32>, vocabulary: usize },
}

/// Layer normalisation weights.
struct Norm {
    gamma: Vec<f32>,
    beta: Vec<f32>,
}

struct Layer {
    /// Query, key and value projections fused into one `hidden × 3·hidden` layer.
    qkv: PackedLinear,
    attention_output: PackedLinear,
    attention_norm: Norm,
    intermediate: PackedLinear,
    output: PackedLinear,
    output_norm: Norm,
}

impl Encoder {
    /// Loads the weights of a Hugging Face `BertModel` from `vb`. For
    /// `Precision::Exact` the dtype of `vb` decides how the large matrices
    /// are stored (f16 stays f16).
    pub fn load(
        vb: VarBuilder,
        config: &Config,
        precision: Precision,
    ) -> candle_core::Result<Self> {
        if config.hidden_act != HiddenAct::Gelu {
            candle_core::bail!(
                "unsupported hidden_act `{:?}` in the model config, expected `gelu`",
                config.hidden_act
            )
        }
        if !config
            .hidden_size
            .is_multiple_of(config.num_attention_heads)
        {
            candle_core::bail!(
                "hidden_size {} is not a multiple of num_attention_heads {}",
                config.hidden_size,
                config.num_attention_heads
            )
        }
        let hidden = config.hidden_size;

        let embeddings = vb.pp("embeddings");
        let words = WordTable::load(
            &embeddings.get((config.vocab_size, hidden), "word_embeddings.weight")?,
        )?;
        let positions = embeddings
            .get(
                (config.max_position_embeddings, hidden),
                "position_embeddings.weight",
            )?
            .to_dtype(DType::F32)?;
        let token_type = embeddings
            .get(
                (config.type_vocab_size, hidden),
                "token_type_embeddings.weight",
            )?
            .to_dtype(DType::F32)?
            .get(0)?;
        let positions = positions
            .broadcast_add(&token_type)?
            .flatten_all()?
            .to_vec1::<f32>()?;
        let embedding_norm = Norm::load(&embeddings.pp("LayerNorm"), hidden)?;

        let layers = (0..config.num_hidden_layers)
            .map(|index| Layer::load(&vb.pp(format!("encoder.layer.{index}")), config, precision))
            .collect::<candle_core::Result<Vec<_>>>()?;

        Ok(Self {
            heads: Heads {
                count: config.num_attention_heads,
                hidden,
            },
            intermediate: config.intermediate_size,
            epsilon: config.layer_norm_eps as f32,
            words,
            positions,
            embedding_norm,
            layers,
        })
    }

    pub fn hidden_size(&self) -> usize {
        self.heads.hidden
    }

    /// Maximum sequence length the position table covers.
    pub fn max_positions(&self) -> usize {
        self.positions.len() / self.heads.hidden
    }

    /// Runs `sequences` of token ids through the encoder as one packed
    /// batch and returns the mean of each sequence's output rows
    /// (a zero vector for an empty sequence), not yet normalised.
    pub fn forward(
        &self,
        isa: Isa,
        sequences: &[&[u32]],
        workspace: &mut Workspace,
    ) -> candle_core::Result<Vec<Vec<f32>>> {
        let hidden_size = self.heads.hidden;
        let tokens: usize = sequences.iter().map(|ids| ids.len()).sum();
        workspace.reserve(tokens, hidden_size, self.intermediate);
        let Workspace {
            hidden,
            qkv,
            context,
            intermediate,
            attention,
        } = workspace;
        let hidden = &mut hidden[..tokens * hidden_size];
        let qkv = &mut qkv[..tokens * 3 * hidden_size];
        let context = &mut context[..tokens * hidden_size];
        let intermediate = &mut intermediate[..tokens * self.intermediate];

        self.embed_tokens(sequences, hidden)?;
        layer_norm_in_place(
            isa,
            hidden,
            &self.embedding_norm.gamma,
            &self.embedding_norm.beta,
            self.epsilon,
        );

        for layer in &self.layers {
            layer.qkv.forward(isa, hidden, tokens, qkv, Write::Store);
            let mut start = 0;
            for ids in sequences {
                let end = start + ids.len();
                attend(
                    isa,
                    self.heads,
                    &qkv[start * 3 * hidden_size..end * 3 * hidden_size],
                    &mut context[start * hidden_size..end * hidden_size],
                    attention,
                );
                start = end;
            }

            layer
                .attention_output
                .forward(isa, context, tokens, hidden, Write::Accumulate);
            let norm = &layer.attention_norm;
            layer_norm_in_place(isa, hidden, &norm.gamma, &norm.beta, self.epsilon);

            layer
                .intermediate
                .forward(isa, hidden, tokens, intermediate, Write::Store);
            gelu_in_place(isa, intermediate);
            layer
                .output
                .forward(isa, intermediate, tokens, hidden, Write::Accumulate);
            let norm = &layer.output_norm;
            layer_norm_in_place(isa, hidden, &norm.gamma, &norm.beta, self.epsilon);
        }

        let mut pooled = Vec::with_capacity(sequences.len());
        let mut rows = hidden.chunks_exact(hidden_size);
        for ids in sequences {
            let mut sum = vec![0.0f32; hidden_size];
            for row in rows.by_ref().take(ids.len()) {
                for (total, &value) in sum.iter_mut().zip(row) {
                    *total += value;
                }
            }
            let count = ids.len().max(1) as f32;
            sum.iter_mut().for_each(|value| *value /= count);
            pooled.push(sum);
        }
        Ok(pooled)
    }

    /// Writes word plus position plus token-type embeddings, one row per token.
    fn embed_tokens(&self, sequences: &[&[u32]], hidden: &mut [f32]) -> candle_core::Result<()> {
        let hidden_size = self.heads.hidden;
        let max_positions = self.max_positions();
        let mut rows = hidden.chunks_exact_mut(hidden_size);
        for ids in sequences {
            if ids.len() > max_positions {
                candle_core::bail!(
                    "sequence of {} tokens is longer than the {max_positions} positions of the model",
                    ids.len()
                )
            }
            for (position, (&id, row)) in ids.iter().zip(rows.by_ref()).enumerate() {
                self.words.write_row(id, row)?;
                let position_row =
                    &self.positions[position * hidden_size..(position + 1) * hidden_size];
                for (value, &offset) in row.iter_mut().zip(position_row) {
                    *value += offset;
                }
            }
        }
        Ok(())
    }
}

impl Workspace {
    fn reserve(&mut self, tokens: usize, hidden: usize, intermediate: usize) {
        grow(&mut self.hidden, tokens * hidden);
        grow(&mut self.qkv, tokens * 3 * hidden);
        grow(&mut self.context, tokens * hidden);
        grow(&mut self.intermediate, tokens * intermediate);
    }
}

fn grow(buffer: &mut Vec<f32>, len: usize) {
    if buffer.len() < len {
        buffer.resize(len, 0.0);
    }
}

impl WordTable {
    fn load(table: &Tensor) -> candle_core::Result<Self> {
        let vocabulary = table.dim(0)?;
        Ok(match table.dtype() {
            DType::F16 => Self::F16 {
                rows: table.flatten_all()?.to_vec1::<f16>()?,
                vocabulary,
            },
            _ => Self::F32 {
                rows: table
                    .to_dtype(DType::F32)?
                    .flatten_all()?
                    .to_vec1::<f32>()?,
                vocabulary,
            },
        })
    }

    /// Copies the embedding of token `id` into `row`.
    fn write_row(&self, id: u32, row: &mut [f32]) -> candle_core::Result<()> {
        let width = row.len();
        let index = id as usize;
        match self {
            Self::F16 { rows, vocabulary } => {
                check_token(index, *vocabulary)?;
                for (value, &weight) in row
                    .iter_mut()
                    .zip(&rows[index * width..(index + 1) * width])
                {
                    *value = weight.to_f32();
                }
            }
            Self::F32 { rows, vocabulary } => {
                check_token(index, *vocabulary)?;
                row.copy_from_slice(&rows[index * width..(index + 1) * width]);
            }
        }
        Ok(())
    }
}

fn check_token(index: usize, vocabulary: usize) -> candle_core::Result<()> {
    if index >= vocabulary {
        candle_core::bail!("token id {index} is outside the vocabulary of {vocabulary} tokens")
    }
    Ok(())
}

impl Norm {
    fn load(vb: &VarBuilder, size: usize) -> candle_core::Result<Self> {
        let read = |name: &str| -> candle_core::Result<Vec<f32>> {
            vb.get(size, name)?.to_dtype(DType::F32)?.to_vec1::<f32>()
        };
        Ok(Self {
            gamma: read("weight")?,
            beta: read("bias")?,
        })
    }
}

impl Layer {
    fn load(vb: &VarBuilder, config: &Config, precision: Precision) -> candle_core::Result<Self> {
        let hidden = config.hidden_size;
        let intermediate = config.intermediate_size;
        let linear =
            |vb: VarBuilder, inputs: usize, outputs: usize| -> candle_core::Result<PackedLinear> {
                let weight = vb.get((outputs, inputs), "weight")?;
                let bias = vb.get(outputs, "bias")?;
                PackedLinear::from_tensors(&weight, &bias, precision)
            };

        let attention = vb.pp("attention");
        let projections = attention.pp("self");
        let mut weights = Vec::with_capacity(3);
        let mut biases = Vec::with_capacity(3);
        for name in ["query", "key", "value"] {
            weights.push(projections.pp(name).get((hidden, hidden), "weight")?);
            biases.push(projections.pp(name).get(hidden, "bias")?);
        }
        let qkv = PackedLinear::from_tensors(
            &Tensor::cat(&weights, 0)?,
            &Tensor::cat(&biases, 0)?,
            precision,
        )?;

        Ok(Self {
            qkv,
            attention_output: linear(attention.pp("output").pp("dense"), hidden, hidden)?,
            attention_norm: Norm::load(&attention.pp("output").pp("LayerNorm"), hidden)?,
            intermediate: linear(vb.pp("intermediate").pp("dense"), hidden, intermediate)?,
            output: linear(vb.pp("output").pp("dense"), intermediate, hidden)?,
            output_norm: Norm::load(&vb.pp("output").pp("LayerNorm"), hidden)?,
        })
    }
}
