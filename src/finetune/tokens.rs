//! Tokenization for training: texts cut at a short maximum length and
//! padded into one batch.

use std::path::Path;

use candle_core::{Device, Tensor};
use tokenizers::{Tokenizer, TruncationDirection, TruncationParams, TruncationStrategy};

use super::FineTuneError;
use super::bert::TokenBatch;
use crate::embed::pad_batch;

/// The model's tokenizer, truncating at the training sequence length.
pub struct TrainingTokenizer {
    tokenizer: Tokenizer,
}

impl TrainingTokenizer {
    /// Loads `tokenizer.json` with its own padding removed and truncation
    /// set to `max_tokens`, special tokens included.
    pub fn load(path: &Path, max_tokens: usize) -> Result<Self, FineTuneError> {
        let tokenizer_error = |error: tokenizers::Error| FineTuneError::Tokenizer {
            path: path.to_path_buf(),
            message: error.to_string(),
        };
        let mut tokenizer = Tokenizer::from_file(path).map_err(tokenizer_error)?;
        tokenizer
            .with_truncation(Some(TruncationParams {
                direction: TruncationDirection::Right,
                max_length: max_tokens,
                strategy: TruncationStrategy::LongestFirst,
                stride: 0,
            }))
            .map_err(tokenizer_error)?;
        tokenizer.with_padding(None);
        Ok(Self { tokenizer })
    }

    /// Tokenizes `texts` into one batch padded to its longest row.
    pub fn batch(&self, texts: &[&str]) -> Result<TokenBatch, FineTuneError> {
        let mut encodings = Vec::with_capacity(texts.len());
        for text in texts {
            let encoding =
                self.tokenizer
                    .encode(*text, true)
                    .map_err(|error| FineTuneError::Tokenize {
                        text: (*text).to_string(),
                        message: error.to_string(),
                    })?;
            encodings.push(encoding);
        }

        let rows = encodings.len();
        let (ids, mask, max_len) = pad_batch(encodings.iter());

        let device = Device::Cpu;
        Ok(TokenBatch {
            ids: Tensor::from_vec(ids, (rows, max_len), &device)?,
            mask: Tensor::from_vec(mask, (rows, max_len), &device)?,
        })
    }
}
