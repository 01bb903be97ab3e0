//! A BERT sentence embedder that computes what `BertEmbedder` computes,
//! several times faster. Weights are laid out once at load, with query,
//! key and value fused into one projection. Attention runs over the real
//! tokens only, and activations live in buffers reused from call to call.
//! Matrix multiplies are exact f32 by default, or bfloat16 on request
//! (`Precision`).
//!
//! Threads: one text is embedded on the calling thread alone. A batch is
//! split by text length over up to `threads` scoped threads (default: the
//! available parallelism), each running the whole model on its share. No
//! thread pool is involved, so `RAYON_NUM_THREADS` and candle's own thread
//! settings do not apply here.

mod attention;
mod encoder;
mod matmul;
mod ops;

use std::num::NonZeroUsize;
use std::sync::{Mutex, PoisonError};
use std::thread;

use candle_core::safetensors::SliceSafetensors;
use candle_core::{DType, Device};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::Config;

pub use matmul::{Isa, Precision};

use super::tokenizer::{ModelTokenizer, load_config};
use super::{EmbedError, Embedder, Embedding, TokenCount};
use crate::model::{ModelError, ModelFiles, ModelId, WEIGHTS_FILE};
use encoder::{Encoder, Workspace};

/// A BERT encoder with its tokenizer, run by the kernels in this module.
pub struct FastBertEmbedder {
    encoder: Encoder,
    tokenizer: ModelTokenizer,
    id: ModelId,
    isa: Isa,
    precision: Precision,
    threads: usize,
    /// Activation buffers of finished calls, taken by the next ones.
    workspaces: Mutex<Vec<Workspace>>,
    /// The same model in exact f32 arithmetic, beside a bfloat16 one: the
    /// matcher embeds exemplars with it and settles close decisions.
    exact: Option<Box<FastBertEmbedder>>,
}

/// Tokens run through the encoder in one pass. Every weight panel is
/// reused for all rows of a pass, and at 256 tokens a pass's activations
/// (256 × 1536 f32 for the widest layer, 1.5 MB) stay close to L2 size.
/// Any sequence up to the model's position limit fits, alone if need be.
const MAX_PASS_TOKENS: usize = 256;

impl FastBertEmbedder {
    /// Loads weights, config and tokenizer from a verified model directory,
    /// with the same tokenizer settings as `BertEmbedder`, for exact f32
    /// arithmetic. Weights are read from `model.safetensors` under no
    /// prefix or under `bert.`.
    pub fn load(files: ModelFiles) -> Result<Self, EmbedError> {
        Self::load_with_precision(files, Precision::Exact)
    }

    /// Loads as `load` does, with the matrix multiplies in `precision`.
    /// `Precision::Bf16` on a CPU without AVX-512 BF16 falls back to
    /// `Precision::Exact` with a warning, and `precision()` returns the one in use.
    pub fn load_with_precision(
        files: ModelFiles,
        precision: Precision,
    ) -> Result<Self, EmbedError> {
        let precision = if precision.is_supported() {
            precision
        } else {
            tracing::warn!(requested = ?precision, "this CPU has no AVX-512 BF16, using exact f32 arithmetic");
            Precision::Exact
        };
        let config = load_config(&files)?;
        let tokenizer = ModelTokenizer::load(&files, &config)?;

        let encoder = load_encoder(&files.weights, &config, precision).map_err(|error| {
            ModelError::Weights {
                path: files.dir.join(WEIGHTS_FILE),
                message: error.to_string(),
            }
        })?;
        let threads = thread::available_parallelism().map_or(1, NonZeroUsize::get);

        // Cached embeddings are keyed by this id, so it names the arithmetic
        // too: bf16 and exact f32 give slightly different vectors.
        let (id, exact) = match precision {
            Precision::Exact => (files.id, None),
            Precision::Bf16 => (
                ModelId::new(format!("{}+bf16", files.id)),
                Some(Box::new(Self::load_with_precision(
                    files,
                    Precision::Exact,
                )?)),
            ),
        };
        Ok(Self {
            encoder,
            tokenizer,
            id,
            isa: Isa::detect(),
            precision,
            threads,
            workspaces: Mutex::new(Vec::new()),
            exact,
        })
    }

    /// Sets how many threads a batch may use; 0 counts as 1.
    pub fn with_threads(mut self, threads: usize) -> Self {
        self.threads = threads.max(1);
        self.exact = self
            .exact
            .map(|exact| Box::new(exact.with_threads(threads)));
        self
    }

    pub fn threads(&self) -> usize {
        self.threads
    }

    /// Returns the instruction set the kernels run on, chosen for this CPU at load.
    /// Bfloat16 matrix multiplies run on AVX-512 BF16 whatever this returns.
    pub fn isa(&self) -> Isa {
        self.isa
    }

    pub fn precision(&self) -> Precision {
        self.precision
    }

    /// Returns the token ids the model receives for `text`, special tokens included.
    pub fn token_ids(&self, text: &str) -> Result<Vec<u32>, EmbedError> {
        Ok(self.tokenizer.encode(text)?.get_ids().to_vec())
    }

    /// Tokenizes and embeds `texts` on the calling thread, in passes of at
    /// most `MAX_PASS_TOKENS` tokens (a longer text is a pass of its own).
    fn embed_on_this_thread(
        &self,
        texts: &[&str],
    ) -> Result<Vec<(Embedding, TokenCount)>, EmbedError> {
        let encodings = texts
            .iter()
            .map(|text| self.tokenizer.encode(text))
            .collect::<Result<Vec<_>, _>>()?;

        let mut workspace = self
            .workspaces
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop()
            .unwrap_or_default();
        let mut embeddings = Vec::with_capacity(texts.len());
        let mut pass: Vec<&[u32]> = Vec::new();
        let mut pass_tokens = 0;
        for encoding in &encodings {
            let ids = encoding.get_ids();
            if !pass.is_empty() && pass_tokens + ids.len() > MAX_PASS_TOKENS {
                self.run_pass(&pass, &mut workspace, &mut embeddings)?;
                pass.clear();
                pass_tokens = 0;
            }
            pass.push(ids);
            pass_tokens += ids.len();
        }
        if !pass.is_empty() {
            self.run_pass(&pass, &mut workspace, &mut embeddings)?;
        }

        self.workspaces
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(workspace);
        let counts = encodings.iter().map(|encoding| TokenCount {
            used: encoding.len(),
            truncated: !encoding.get_overflowing().is_empty(),
        });
        Ok(embeddings.into_iter().zip(counts).collect())
    }

    fn run_pass(
        &self,
        pass: &[&[u32]],
        workspace: &mut Workspace,
        embeddings: &mut Vec<Embedding>,
    ) -> Result<(), EmbedError> {
        let pooled = self.encoder.forward(self.isa, pass, workspace)?;
        embeddings.extend(pooled.into_iter().map(Embedding::normalized));
        Ok(())
    }
}

impl Embedder for FastBertEmbedder {
    fn model_id(&self) -> &ModelId {
        &self.id
    }

    fn dimension(&self) -> usize {
        self.encoder.hidden_size()
    }

    fn embed(&self, texts: &[&str]) -> Result<Vec<Embedding>, EmbedError> {
        let counted = self.embed_counted(texts)?;
        Ok(counted
            .into_iter()
            .map(|(embedding, _)| embedding)
            .collect())
    }

    fn embed_counted(&self, texts: &[&str]) -> Result<Vec<(Embedding, TokenCount)>, EmbedError> {
        let threads = self.threads.min(texts.len());
        if threads <= 1 {
            return self.embed_on_this_thread(texts);
        }

        let shares = split_by_length(texts, threads);
        let results: Vec<Result<Vec<(Embedding, TokenCount)>, EmbedError>> =
            thread::scope(|scope| {
                let handles: Vec<_> = shares
                    .iter()
                    .map(|share| scope.spawn(|| self.embed_on_this_thread(share)))
                    .collect();
                handles
                    .into_iter()
                    .map(|handle| match handle.join() {
                        Ok(result) => result,
                        Err(panic) => std::panic::resume_unwind(panic),
                    })
                    .collect()
            });

        let mut embeddings = Vec::with_capacity(texts.len());
        for result in results {
            embeddings.extend(result?);
        }
        Ok(embeddings)
    }

    fn count_tokens(&self, text: &str) -> Result<TokenCount, EmbedError> {
        self.tokenizer.count_tokens(text)
    }

    fn known_words(&self, text: &str) -> usize {
        self.tokenizer.known_words(text)
    }

    fn exact(&self) -> &dyn Embedder {
        match &self.exact {
            Some(exact) => exact.as_ref(),
            None => self,
        }
    }
}

/// Reads the encoder from safetensors bytes. For `Precision::Exact` f16
/// weights stay f16 and any other dtype is stored as f32.
fn load_encoder(
    weights: &[u8],
    config: &Config,
    precision: Precision,
) -> candle_core::Result<Encoder> {
    let device = Device::Cpu;
    let tensors = SliceSafetensors::new(weights)?;
    let prefix = if tensors.get("bert.embeddings.LayerNorm.weight").is_ok() {
        "bert."
    } else {
        ""
    };
    let file_dtype = tensors
        .load(&format!("{prefix}embeddings.LayerNorm.weight"), &device)?
        .dtype();
    let dtype = match file_dtype {
        DType::F16 => DType::F16,
        _ => DType::F32,
    };

    let vb = VarBuilder::from_slice_safetensors(weights, dtype, &device)?;
    let vb = match prefix {
        "" => vb,
        _ => vb.pp("bert"),
    };
    Encoder::load(vb, config, precision)
}

/// Splits `texts` into `count` consecutive shares of about equal total
/// length in bytes, a stand-in for tokens before tokenization.
fn split_by_length<'a, 'b>(texts: &'b [&'a str], count: usize) -> Vec<&'b [&'a str]> {
    let total: usize = texts.iter().map(|text| text.len() + 1).sum();
    let mut shares = Vec::with_capacity(count);
    let mut start = 0;
    let mut consumed = 0;
    for (index, text) in texts.iter().enumerate() {
        consumed += text.len() + 1;
        let remaining_texts = texts.len() - index - 1;
        let remaining_shares = count - shares.len() - 1;
        let share_full = consumed * count >= total * (shares.len() + 1);
        if remaining_shares > 0 && (share_full || remaining_texts == remaining_shares) {
            shares.push(&texts[start..=index]);
            start = index + 1;
        }
    }
    shares.push(&texts[start..]);
    shares
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::sync::OnceLock;

    use super::*;
    use crate::embed::BertEmbedder;

    /// Cosine similarity that the fast path must reach against the stock path.
    const MIN_COSINE: f32 = 0.9999;

    fn model_files() -> ModelFiles {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/all-MiniLM-L6-v2");
        match ModelFiles::open(&dir) {
            Ok(files) => files,
            Err(error) => panic!("shipped model `{}` failed to open: {error}", dir.display()),
        }
    }

    /// Both embedders, loaded once for every test in this module.
    fn embedders() -> &'static (BertEmbedder, FastBertEmbedder) {
        static EMBEDDERS: OnceLock<(BertEmbedder, FastBertEmbedder)> = OnceLock::new();
        EMBEDDERS.get_or_init(|| {
            let stock = BertEmbedder::load(model_files());
            let fast = FastBertEmbedder::load(model_files());
            match (stock, fast) {
                (Ok(stock), Ok(fast)) => (stock, fast.with_threads(2)),
                (Err(error), _) | (_, Err(error)) => {
                    panic!("failed to load the shipped model: {error}")
                }
            }
        })
    }

    /// Embeds `texts` with both embedders and checks every pair of
    /// embeddings against `MIN_COSINE`.
    fn assert_matches_stock(fast: &FastBertEmbedder, texts: &[&str]) -> Result<(), EmbedError> {
        let (stock, _) = embedders();
        let expected = stock.embed(texts)?;
        let actual = fast.embed(texts)?;
        assert_eq!(actual.len(), texts.len(), "one embedding per text");
        for ((text, expected), actual) in texts.iter().zip(&expected).zip(&actual) {
            assert_eq!(actual.as_slice().len(), 384, "dimension of `{text}`");
            let cosine = actual.cosine(expected.as_slice());
            assert!(
                cosine >= MIN_COSINE,
                "{:?}: cosine {cosine} for `{text}`",
                fast.isa()
            );
        }
        Ok(())
    }

    fn long_text() -> String {
        (0..400)
            .map(|index| format!("host-{index} restarted"))
            .collect::<Vec<_>>()
            .join(", ")
    }

    #[test]
    fn empty_text_matches_stock() -> Result<(), EmbedError> {
        assert_matches_stock(&embedders().1, &[""])
    }

    #[test]
    fn single_word_matches_stock() -> Result<(), EmbedError> {
        let (_, fast) = embedders();
        assert_eq!(fast.token_ids("restart")?.len(), 3, "[CLS] restart [SEP]");
        assert_matches_stock(fast, &["restart"])
    }

    #[test]
    fn truncated_text_matches_stock() -> Result<(), EmbedError> {
        let (_, fast) = embedders();
        let text = long_text();
        let count = fast.count_tokens(&text)?;
        assert_eq!(count.used, 256, "cut at max_seq_length");
        assert!(count.truncated);
        assert_matches_stock(fast, &[text.as_str()])
    }

    #[test]
    fn mixed_batch_matches_stock() -> Result<(), EmbedError> {
        let long = long_text();
        let mut texts = vec![
            "restart nginx on web-01",
            "",
            "who is on call for the database team this week?",
            long.as_str(),
            "ok",
            "block 10.0.0.7 at the firewall, it is scanning our subnet",
        ];
        // More texts than one pass holds, so passes and threads both split.
        let repeated: Vec<String> = (0..40)
            .map(|index| format!("check disk usage on db-{index:02}"))
            .collect();
        texts.extend(repeated.iter().map(String::as_str));
        assert_matches_stock(&embedders().1, &texts)
    }

    #[test]
    fn batch_equals_single_texts() -> Result<(), EmbedError> {
        let (_, fast) = embedders();
        let texts = [
            "page the on-call engineer",
            "x",
            "rotate the api keys for billing",
        ];
        let batch = fast.embed(&texts)?;
        for (text, batched) in texts.iter().zip(&batch) {
            let single = fast.embed(&[text])?.remove(0);
            let cosine = single.cosine(batched.as_slice());
            assert!(
                cosine > 0.99999,
                "`{text}`: cosine {cosine} between batch and single"
            );
        }
        Ok(())
    }

    #[test]
    fn every_isa_matches_stock() -> Result<(), EmbedError> {
        for isa in Isa::available() {
            let fast = FastBertEmbedder {
                isa,
                ..FastBertEmbedder::load(model_files())?
            };
            assert_matches_stock(&fast, &["restart nginx on web-01", "is vault-01 healthy?"])?;
        }
        Ok(())
    }

    #[test]
    fn bf16_precision_matches_stock() -> Result<(), EmbedError> {
        if !Precision::Bf16.is_supported() {
            println!("skipped: this CPU has no AVX-512 BF16");
            return Ok(());
        }
        let fast = FastBertEmbedder::load_with_precision(model_files(), Precision::Bf16)?;
        assert_eq!(fast.precision(), Precision::Bf16);
        let long = long_text();
        let texts = [
            "",
            "restart",
            "who is on call for the database team this week?",
            "block 10.0.0.7 at the firewall, it is scanning our subnet",
            long.as_str(),
        ];
        assert_matches_stock(&fast, &texts)
    }

    #[test]
    fn empty_batch_embeds_nothing() -> Result<(), EmbedError> {
        assert!(embedders().1.embed(&[])?.is_empty());
        Ok(())
    }

    #[test]
    fn shares_are_consecutive_and_non_empty() {
        let texts = [
            "a",
            "bb",
            "ccc",
            "a much longer text than the others",
            "e",
            "f",
        ];
        for count in 1..=texts.len() {
            let shares = split_by_length(&texts, count);
            assert_eq!(shares.len(), count, "{count} shares");
            assert!(
                shares.iter().all(|share| !share.is_empty()),
                "{count} shares: one is empty"
            );
            let joined: Vec<&str> = shares.concat();
            assert_eq!(joined, texts, "{count} shares keep the order");
        }
    }
}
