//! The model config and tokenizer shared by both BERT embedders: texts are
//! cut at the model's maximum sequence length and never padded.

use std::fs;

use candle_transformers::models::bert::Config;
use tokenizers::{Encoding, Tokenizer, TruncationDirection, TruncationParams, TruncationStrategy};

use super::{EmbedError, TokenCount};
use crate::model::{ModelError, ModelFiles};

/// A model's tokenizer, set to truncate at the model's maximum sequence length.
pub(super) struct ModelTokenizer {
    tokenizer: Tokenizer,
}

/// Reads the model's `config.json`.
pub(super) fn load_config(files: &ModelFiles) -> Result<Config, EmbedError> {
    let path = files.config_path();
    let text = fs::read(&path).map_err(|source| {
        EmbedError::Model(ModelError::Read {
            path: path.clone(),
            source,
        })
    })?;
    serde_json::from_slice(&text).map_err(|source| EmbedError::Config { path, source })
}

impl ModelTokenizer {
    /// Loads `tokenizer.json`, replacing its own truncation and padding
    /// settings: texts are cut at the smaller of the sentence-transformers
    /// `max_seq_length` and the model's position table, and never padded.
    pub(super) fn load(files: &ModelFiles, config: &Config) -> Result<Self, EmbedError> {
        let path = files.tokenizer_path();
        let load_error = |error: tokenizers::Error| EmbedError::TokenizerLoad {
            path: path.clone(),
            message: error.to_string(),
        };

        let mut tokenizer = Tokenizer::from_file(&path).map_err(load_error)?;
        let max_length = files.max_seq_length.min(config.max_position_embeddings);
        tokenizer
            .with_truncation(Some(TruncationParams {
                direction: TruncationDirection::Right,
                max_length,
                strategy: TruncationStrategy::LongestFirst,
                stride: 0,
            }))
            .map_err(load_error)?;
        tokenizer.with_padding(None);
        Ok(Self { tokenizer })
    }

    /// Splits `text` into model tokens, special tokens included.
    pub(super) fn encode(&self, text: &str) -> Result<Encoding, EmbedError> {
        self.tokenizer
            .encode(text, true)
            .map_err(|error| EmbedError::Tokenize {
                message: error.to_string(),
            })
    }

    pub(super) fn count_tokens(&self, text: &str) -> Result<TokenCount, EmbedError> {
        let encoding = self.encode(text)?;
        Ok(TokenCount {
            used: encoding.len(),
            truncated: !encoding.get_overflowing().is_empty(),
        })
    }

    /// Counts the words of `text`, two characters or longer, that are whole
    /// vocabulary entries once lowercased.
    pub(super) fn known_words(&self, text: &str) -> usize {
        text.split(|c: char| !c.is_alphanumeric())
            .filter(|word| word.chars().count() >= 2)
            .filter(|word| {
                let lower = word.to_lowercase();
                self.tokenizer.token_to_id(&lower).is_some()
            })
            .count()
    }
}
