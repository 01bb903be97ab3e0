//! Sentence embeddings: the `Embedder` seam and its BERT implementations.

mod bert;
mod fast;
mod tokenizer;

use std::path::PathBuf;

pub use bert::BertEmbedder;
pub(crate) use bert::pad_batch;
pub use fast::{FastBertEmbedder, Isa, Precision};

use crate::model::ModelId;

/// Errors raised while loading an embedding model or embedding text.
#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    #[error(transparent)]
    Model(#[from] crate::model::ModelError),

    #[error("invalid model config `{}`", path.display())]
    Config {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },

    #[error("failed to load tokenizer `{}`: {message}", path.display())]
    TokenizerLoad { path: PathBuf, message: String },

    #[error("failed to tokenize text: {message}")]
    Tokenize { message: String },

    #[error("model computation failed")]
    Tensor(#[from] candle_core::Error),
}

/// A unit-length sentence embedding.
#[derive(Debug, Clone, PartialEq)]
pub struct Embedding(Vec<f32>);

/// The token count of a text as the model receives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenCount {
    /// Tokens given to the model, special tokens included.
    pub used: usize,
    /// Whether the text was longer than the model's maximum sequence length.
    pub truncated: bool,
}

/// Turns texts into sentence embeddings.
pub trait Embedder: Send + Sync {
    /// Identifies the weights, so cached embeddings of another model are never reused.
    fn model_id(&self) -> &ModelId;

    fn dimension(&self) -> usize;

    /// Embeds every text, in order.
    fn embed(&self, texts: &[&str]) -> Result<Vec<Embedding>, EmbedError>;

    /// Counts the tokens the model is given for `text`.
    fn count_tokens(&self, text: &str) -> Result<TokenCount, EmbedError>;

    /// Embeds every text, in order, with its token count. Implementations
    /// that tokenize once for both should override the default, which
    /// tokenizes each text a second time.
    fn embed_counted(&self, texts: &[&str]) -> Result<Vec<(Embedding, TokenCount)>, EmbedError> {
        let embeddings = self.embed(texts)?;
        texts
            .iter()
            .zip(embeddings)
            .map(|(text, embedding)| Ok((embedding, self.count_tokens(text)?)))
            .collect()
    }

    /// Counts the words of `text` that are whole entries of the model's
    /// vocabulary, a cheap sign that the text is language and not noise.
    fn known_words(&self, text: &str) -> usize;

    /// Returns the embedder that computes this one's vectors in exact
    /// arithmetic: itself, unless it approximates them (bfloat16).
    fn exact(&self) -> &dyn Embedder;
}

impl Embedding {
    /// Wraps a vector, scaling it to unit length (a zero vector stays zero).
    pub fn normalized(mut values: Vec<f32>) -> Self {
        let norm = values.iter().map(|v| v * v).sum::<f32>().sqrt();
        if norm > 0.0 {
            values.iter_mut().for_each(|v| *v /= norm);
        }
        Self(values)
    }

    /// Wraps a vector that is already unit length, such as one read from the cache.
    pub fn from_unit(values: Vec<f32>) -> Self {
        Self(values)
    }

    pub fn as_slice(&self) -> &[f32] {
        &self.0
    }

    pub fn into_vec(self) -> Vec<f32> {
        self.0
    }

    /// Cosine similarity, which for unit vectors is the dot product.
    pub fn cosine(&self, other: &[f32]) -> f32 {
        dot(&self.0, other)
    }
}

/// Dot product of two equal-length slices.
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}
