//! Multi-head self-attention over the real tokens of one sequence, so no
//! padding and no attention mask are involved.

use super::matmul::Isa;
use super::ops::softmax_in_place;

/// Buffers reused across calls, sized for the longest sequence seen.
#[derive(Debug, Default)]
pub struct AttentionScratch {
    /// One head's keys, transposed to `head_dim × tokens`.
    keys: Vec<f32>,
    /// One query's scores against every key.
    scores: Vec<f32>,
}

/// Shape of the fused projection rows that attention reads.
#[derive(Debug, Clone, Copy)]
pub struct Heads {
    pub count: usize,
    /// Hidden size: `count × head_dim`.
    pub hidden: usize,
}

/// f32 lanes of an AVX-512 register.
const SCORE_LANES: usize = 16;

/// Computes `softmax(q·kᵀ/√d)·v` for every head of one sequence.
///
/// `qkv` has one row of `3 × hidden` values per token (all queries, then
/// all keys, then all values, head after head within each), and
/// `context` receives one row of `hidden` values per token.
pub fn attend(
    isa: Isa,
    heads: Heads,
    qkv: &[f32],
    context: &mut [f32],
    scratch: &mut AttentionScratch,
) {
    let tokens = context.len() / heads.hidden;
    assert_eq!(qkv.len(), tokens * 3 * heads.hidden, "qkv length");
    assert!(
        heads.hidden.is_multiple_of(heads.count),
        "hidden size divides into heads"
    );

    match isa {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the CPU supports AVX-512F and FMA, checked in the guard.
        Isa::Avx512 if isa.is_supported() => unsafe { attend_avx512(heads, qkv, context, scratch) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the CPU supports AVX2 and FMA, checked in the guard.
        Isa::Avx2 if isa.is_supported() => unsafe { attend_avx2(heads, qkv, context, scratch) },
        _ => attend_portable(heads, qkv, context, scratch),
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,fma")]
unsafe fn attend_avx512(
    heads: Heads,
    qkv: &[f32],
    context: &mut [f32],
    scratch: &mut AttentionScratch,
) {
    attend_portable(heads, qkv, context, scratch);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn attend_avx2(
    heads: Heads,
    qkv: &[f32],
    context: &mut [f32],
    scratch: &mut AttentionScratch,
) {
    attend_portable(heads, qkv, context, scratch);
}

/// Written as loops over 16-value chunks (`scores += q_d·keysᵀ[d]`,
/// `context += p_j·v_j`) whose sums stay in one register each, so that they
/// vectorise without reordering any sum.
#[inline(always)]
fn attend_portable(heads: Heads, qkv: &[f32], context: &mut [f32], scratch: &mut AttentionScratch) {
    let hidden = heads.hidden;
    let head_dim = hidden / heads.count;
    let row_len = 3 * hidden;
    let tokens = context.len() / hidden;
    let scale = 1.0 / (head_dim as f32).sqrt();

    // Rows of keys and scores are padded with zeros to whole vectors, so
    // the loops over them vectorise even for a handful of tokens.
    let padded = tokens.next_multiple_of(SCORE_LANES);
    scratch.keys.clear();
    scratch.keys.resize(head_dim * padded, 0.0);
    scratch.scores.resize(padded, 0.0);
    let keys = &mut scratch.keys[..head_dim * padded];
    let padded_scores = &mut scratch.scores[..padded];

    for head in 0..heads.count {
        let query_offset = head * head_dim;
        let key_offset = hidden + head * head_dim;
        let value_offset = 2 * hidden + head * head_dim;

        for (token, row) in qkv.chunks_exact(row_len).enumerate() {
            for (dim, &key) in row[key_offset..key_offset + head_dim].iter().enumerate() {
                keys[dim * padded + token] = key;
            }
        }

        for (query_row, context_row) in qkv
            .chunks_exact(row_len)
            .zip(context.chunks_exact_mut(hidden))
        {
            let query = &query_row[query_offset..query_offset + head_dim];
            for (chunk, score_chunk) in padded_scores.chunks_exact_mut(SCORE_LANES).enumerate() {
                let mut sums = [0.0f32; SCORE_LANES];
                for (&q, key_row) in query.iter().zip(keys.chunks_exact(padded)) {
                    let q = q * scale;
                    let key_chunk = &key_row[chunk * SCORE_LANES..(chunk + 1) * SCORE_LANES];
                    for (sum, &key) in sums.iter_mut().zip(key_chunk) {
                        *sum += q * key;
                    }
                }
                score_chunk.copy_from_slice(&sums);
            }
            let scores = &mut padded_scores[..tokens];
            softmax_in_place(scores);

            let out = &mut context_row[query_offset..query_offset + head_dim];
            let mut out_chunks = out.chunks_exact_mut(SCORE_LANES);
            for (chunk, out_chunk) in out_chunks.by_ref().enumerate() {
                let start = value_offset + chunk * SCORE_LANES;
                let mut sums = [0.0f32; SCORE_LANES];
                for (&weight, value_row) in scores.iter().zip(qkv.chunks_exact(row_len)) {
                    for (sum, &value) in sums.iter_mut().zip(&value_row[start..start + SCORE_LANES])
                    {
                        *sum += weight * value;
                    }
                }
                out_chunk.copy_from_slice(&sums);
            }
            let rest = out_chunks.into_remainder();
            let start = value_offset + head_dim - rest.len();
            rest.fill(0.0);
            for (&weight, value_row) in scores.iter().zip(qkv.chunks_exact(row_len)) {
                for (o, &value) in rest
                    .iter_mut()
                    .zip(&value_row[start..value_offset + head_dim])
                {
                    *o += weight * value;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use candle_core::{D, Device, Tensor};

    use super::*;

    /// Attention as candle-transformers' `BertSelfAttention` computes it,
    /// from the same fused rows.
    fn candle_attention(qkv: &[f32], tokens: usize, heads: Heads) -> candle_core::Result<Vec<f32>> {
        let head_dim = heads.hidden / heads.count;
        let qkv = Tensor::from_vec(qkv.to_vec(), (1, tokens, 3 * heads.hidden), &Device::Cpu)?;
        let split = |index: usize| -> candle_core::Result<Tensor> {
            qkv.narrow(2, index * heads.hidden, heads.hidden)?
                .reshape((1, tokens, heads.count, head_dim))?
                .transpose(1, 2)?
                .contiguous()
        };
        let (query, key, value) = (split(0)?, split(1)?, split(2)?);
        let scores = (query.matmul(&key.t()?)? / (head_dim as f64).sqrt())?;
        let probabilities = candle_nn::ops::softmax(&scores, D::Minus1)?;
        probabilities
            .matmul(&value)?
            .transpose(1, 2)?
            .contiguous()?
            .flatten_all()?
            .to_vec1::<f32>()
    }

    #[test]
    fn attention_matches_candle() -> candle_core::Result<()> {
        // MiniLM's heads of 32 values, and heads of 12 that are not whole
        // vectors.
        let shapes = [
            Heads {
                count: 12,
                hidden: 384,
            },
            Heads {
                count: 3,
                hidden: 36,
            },
        ];
        let mut scratch = AttentionScratch::default();
        for heads in shapes {
            for tokens in [1, 2, 13, 16, 40] {
                let qkv: Vec<f32> = (0..tokens * 3 * heads.hidden)
                    .map(|index| ((index * 2_654_435_761) % 2000) as f32 / 500.0 - 2.0)
                    .collect();
                let expected = candle_attention(&qkv, tokens, heads)?;
                for isa in Isa::available() {
                    let case = format!("{isa:?} {} heads, {tokens} tokens", heads.count);
                    let mut context = vec![f32::NAN; tokens * heads.hidden];
                    attend(isa, heads, &qkv, &mut context, &mut scratch);
                    for (index, (a, e)) in context.iter().zip(&expected).enumerate() {
                        assert!((a - e).abs() < 1e-4, "{case}, value {index}: {a} vs {e}");
                    }
                }
            }
        }
        Ok(())
    }
}
