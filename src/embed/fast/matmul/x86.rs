//! The SIMD kernels. Each block function holds a block of rows times a
//! panel (or half a panel) of columns in registers for the whole
//! reduction, so the weights are read once per block and the output is
//! written once.

use std::arch::x86_64::*;

use half::f16;

use super::{PANEL_WIDTH, Shape, Write, row_blocks};

/// Rows in an AVX-512 block: 12 rows × 2 accumulators, 2 weight registers
/// and a broadcast input use 27 of the 32 zmm registers. At 14 rows LLVM
/// spilled accumulators of the bfloat16 kernel to the stack.
const AVX512_MAX_ROWS: usize = 12;

/// Rows in an AVX2 block: 6 rows × 2 accumulators, 2 weight registers and
/// 1 broadcast input use 15 of the 16 ymm registers.
const AVX2_MAX_ROWS: usize = 6;

/// Steps of the bfloat16 reduction between a weight prefetch and its use:
/// 16 steps of 128 bytes, 2 KB ahead. 8 and 16 were tried on the benchmark
/// machine of `docs/benchmarks.md`, and 16 was slightly faster.
const PREFETCH_PAIRS: usize = 16;

/// Loads weights as f32 vectors.
pub(super) trait SimdValue: Copy {
    /// Loads 16 values.
    ///
    /// # Safety
    /// `pointer` is valid for 16 reads and the CPU supports AVX-512F.
    unsafe fn load16(pointer: *const Self) -> __m512;

    /// Loads 8 values.
    ///
    /// # Safety
    /// `pointer` is valid for 8 reads and the CPU supports AVX and F16C.
    unsafe fn load8(pointer: *const Self) -> __m256;
}

impl SimdValue for f32 {
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn load16(pointer: *const Self) -> __m512 {
        // SAFETY: the caller's contract.
        unsafe { _mm512_loadu_ps(pointer) }
    }

    #[inline]
    #[target_feature(enable = "avx,f16c")]
    unsafe fn load8(pointer: *const Self) -> __m256 {
        // SAFETY: the caller's contract.
        unsafe { _mm256_loadu_ps(pointer) }
    }
}

impl SimdValue for f16 {
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn load16(pointer: *const Self) -> __m512 {
        // SAFETY: the caller's contract; `f16` is 16 bits wide.
        unsafe { _mm512_cvtph_ps(_mm256_loadu_si256(pointer.cast())) }
    }

    #[inline]
    #[target_feature(enable = "avx,f16c")]
    unsafe fn load8(pointer: *const Self) -> __m256 {
        // SAFETY: the caller's contract; `f16` is 16 bits wide.
        unsafe { _mm256_cvtph_ps(_mm_loadu_si128(pointer.cast())) }
    }
}

/// Pointers and strides for one block call. `X` is an input value: f32,
/// or a pair of bfloat16 packed in a u32.
#[derive(Clone, Copy)]
struct Block<X, W> {
    /// First input row of the block.
    input: *const X,
    /// Input values a row, and steps of the reduction.
    inputs: usize,
    /// First value of the panel, or of the half panel for AVX2.
    panel: *const W,
    /// Bias of the block's first column.
    bias: *const f32,
    /// First output value of the block.
    output: *mut f32,
    outputs: usize,
    /// Output columns to write: the lanes, or fewer in the last panel.
    columns: usize,
    write: Write,
}

/// Calls `$call!(N)` for a row count `N` known only at run time, so that
/// each block size gets its own monomorphised, fully unrolled function.
macro_rules! dispatch_rows {
    ($rows:expr, [$($count:literal)*], $call:ident) => {
        match $rows {
            $($count => $call!($count),)*
            _ => unreachable!("row block of {} rows", $rows),
        }
    };
}

/// # Safety
/// The CPU supports AVX-512F, `input` has `rows × inputs` values,
/// `weights` has `inputs × outputs` values rounded up to whole panels,
/// `bias` has one value per padded column and `output` has
/// `rows × outputs` values.
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn forward_avx512<W: SimdValue>(
    shape: Shape,
    input: &[f32],
    weights: &[W],
    bias: &[f32],
    output: &mut [f32],
    write: Write,
) {
    let panel_len = shape.inputs * PANEL_WIDTH;
    let panels = shape.outputs.div_ceil(PANEL_WIDTH);
    for panel in 0..panels {
        let first_column = panel * PANEL_WIDTH;
        for (first_row, rows) in row_blocks(shape.rows, AVX512_MAX_ROWS) {
            // SAFETY: every offset stays inside its slice by the function's
            // contract, and `rows` is between 1 and 12.
            unsafe {
                let block = Block {
                    input: input.as_ptr().add(first_row * shape.inputs),
                    inputs: shape.inputs,
                    panel: weights.as_ptr().add(panel * panel_len),
                    bias: bias.as_ptr().add(first_column),
                    output: output
                        .as_mut_ptr()
                        .add(first_row * shape.outputs + first_column),
                    outputs: shape.outputs,
                    columns: PANEL_WIDTH.min(shape.outputs - first_column),
                    write,
                };
                macro_rules! call {
                    ($count:literal) => {
                        block_avx512::<W, $count>(block)
                    };
                }
                dispatch_rows!(rows, [1 2 3 4 5 6 7 8 9 10 11 12], call);
            }
        }
    }
}

/// Computes `ROWS` rows of one 32-column panel.
///
/// # Safety
/// The CPU supports AVX-512F and the block's pointers are valid for `ROWS`
/// rows, `inputs` weight rows of 32 lanes and `columns` outputs.
#[inline]
#[target_feature(enable = "avx512f")]
unsafe fn block_avx512<W: SimdValue, const ROWS: usize>(block: Block<f32, W>) {
    // SAFETY: the function's contract covers every pointer below.
    unsafe {
        let mut low = [_mm512_loadu_ps(block.bias); ROWS];
        let mut high = [_mm512_loadu_ps(block.bias.add(16)); ROWS];
        for feature in 0..block.inputs {
            let weights = block.panel.add(feature * PANEL_WIDTH);
            let weights_low = W::load16(weights);
            let weights_high = W::load16(weights.add(16));
            for row in 0..ROWS {
                let x = _mm512_set1_ps(*block.input.add(row * block.inputs + feature));
                low[row] = _mm512_fmadd_ps(x, weights_low, low[row]);
                high[row] = _mm512_fmadd_ps(x, weights_high, high[row]);
            }
        }
        write_avx512(&low, &high, block);
    }
}

/// # Safety
/// The CPU supports AVX-512F and AVX-512 BF16, `input` has `rows × pairs`
/// bfloat16 pairs, `weights` has `pairs × outputs` pairs rounded up to
/// whole panels, and `bias` and `output` are as for `forward_avx512`.
#[target_feature(enable = "avx512f,avx512bf16")]
pub(super) unsafe fn forward_bf16(
    shape: Shape,
    input: &[u32],
    weights: &[u32],
    bias: &[f32],
    output: &mut [f32],
    write: Write,
) {
    let pairs = shape.inputs.div_ceil(2);
    let panel_len = pairs * PANEL_WIDTH;
    let panels = shape.outputs.div_ceil(PANEL_WIDTH);
    for panel in 0..panels {
        let first_column = panel * PANEL_WIDTH;
        for (first_row, rows) in row_blocks(shape.rows, AVX512_MAX_ROWS) {
            // SAFETY: as in `forward_avx512`, counting pairs of inputs.
            unsafe {
                let block = Block {
                    input: input.as_ptr().add(first_row * pairs),
                    inputs: pairs,
                    panel: weights.as_ptr().add(panel * panel_len),
                    bias: bias.as_ptr().add(first_column),
                    output: output
                        .as_mut_ptr()
                        .add(first_row * shape.outputs + first_column),
                    outputs: shape.outputs,
                    columns: PANEL_WIDTH.min(shape.outputs - first_column),
                    write,
                };
                macro_rules! call {
                    ($count:literal) => {
                        block_bf16::<$count>(block)
                    };
                }
                dispatch_rows!(rows, [1 2 3 4 5 6 7 8 9 10 11 12], call);
            }
        }
    }
}

/// Computes `ROWS` rows of one 32-column panel from bfloat16 pairs: each
/// `vdpbf16ps` adds two products per lane, so a step covers two inputs.
///
/// # Safety
/// The CPU supports AVX-512F and AVX-512 BF16, and the block's pointers are
/// valid for `ROWS` rows of `inputs` pairs, `inputs` weight rows of 32
/// pairs and `columns` outputs.
#[inline]
#[target_feature(enable = "avx512f,avx512bf16")]
unsafe fn block_bf16<const ROWS: usize>(block: Block<u32, u32>) {
    // SAFETY: the function's contract covers every pointer below, and
    // `__m512i` and `__m512bh` are both 64-byte vectors, so the transmutes
    // only reinterpret 32 bfloat16 values.
    unsafe {
        let mut low = [_mm512_loadu_ps(block.bias); ROWS];
        let mut high = [_mm512_loadu_ps(block.bias.add(16)); ROWS];
        for pair in 0..block.inputs {
            let weights = block.panel.add(pair * PANEL_WIDTH);
            // The panel is one sequential stream, read faster than the
            // hardware prefetcher alone brings it in from L3 or memory.
            _mm_prefetch::<_MM_HINT_T0>(weights.add(PREFETCH_PAIRS * PANEL_WIDTH).cast());
            _mm_prefetch::<_MM_HINT_T0>(weights.add(PREFETCH_PAIRS * PANEL_WIDTH + 16).cast());
            let weights_low: __m512bh = std::mem::transmute(_mm512_loadu_si512(weights.cast()));
            let weights_high: __m512bh =
                std::mem::transmute(_mm512_loadu_si512(weights.add(16).cast()));
            for row in 0..ROWS {
                let x = *block.input.add(row * block.inputs + pair);
                let x: __m512bh = std::mem::transmute(_mm512_set1_epi32(x as i32));
                low[row] = _mm512_dpbf16_ps(low[row], x, weights_low);
                high[row] = _mm512_dpbf16_ps(high[row], x, weights_high);
            }
        }
        write_avx512(&low, &high, block);
    }
}

/// Rounds `input` (rows of `inputs` f32) to bfloat16, nearest even, into
/// `pairs` (rows of `inputs.div_ceil(2)` u32, a zero padding an odd row).
///
/// # Safety
/// The CPU supports AVX-512F and AVX-512 BF16.
#[target_feature(enable = "avx512f,avx512bf16")]
pub(super) unsafe fn round_to_bf16_pairs(input: &[f32], inputs: usize, pairs: &mut [u32]) {
    let pairs_per_row = inputs.div_ceil(2);
    for (row, out) in input
        .chunks_exact(inputs)
        .zip(pairs.chunks_exact_mut(pairs_per_row))
    {
        let mut values = row.chunks_exact(32);
        let mut targets = out.chunks_exact_mut(16);
        for (chunk, target) in values.by_ref().zip(targets.by_ref()) {
            // SAFETY: `chunk` has 32 values and `target` room for 16 u32.
            unsafe {
                let low = _mm512_loadu_ps(chunk.as_ptr());
                let high = _mm512_loadu_ps(chunk.as_ptr().add(16));
                let rounded: __m512i = std::mem::transmute(_mm512_cvtne2ps_pbh(high, low));
                _mm512_storeu_si512(target.as_mut_ptr().cast(), rounded);
            }
        }

        let done = row.len() - values.remainder().len();
        for (pair, target) in out.iter_mut().enumerate().skip(done / 2) {
            let low = row.get(2 * pair).copied().unwrap_or(0.0);
            let high = row.get(2 * pair + 1).copied().unwrap_or(0.0);
            *target = super::bf16_pair(low, high);
        }
    }
}

/// Adds or stores the accumulators of an AVX-512 block.
///
/// # Safety
/// As for the block functions: the output pointer is valid for `ROWS` rows
/// of `columns` values.
#[inline]
#[target_feature(enable = "avx512f")]
unsafe fn write_avx512<X, W, const ROWS: usize>(
    low: &[__m512; ROWS],
    high: &[__m512; ROWS],
    block: Block<X, W>,
) {
    for row in 0..ROWS {
        // SAFETY: the function's contract.
        unsafe {
            let target = block.output.add(row * block.outputs);
            if block.columns == PANEL_WIDTH {
                let (mut low_sum, mut high_sum) = (low[row], high[row]);
                if block.write == Write::Accumulate {
                    low_sum = _mm512_add_ps(low_sum, _mm512_loadu_ps(target));
                    high_sum = _mm512_add_ps(high_sum, _mm512_loadu_ps(target.add(16)));
                }
                _mm512_storeu_ps(target, low_sum);
                _mm512_storeu_ps(target.add(16), high_sum);
            } else {
                let mut sums = [0.0f32; PANEL_WIDTH];
                _mm512_storeu_ps(sums.as_mut_ptr(), low[row]);
                _mm512_storeu_ps(sums.as_mut_ptr().add(16), high[row]);
                write_columns(target, &sums[..block.columns], block.write);
            }
        }
    }
}

/// # Safety
/// The CPU supports AVX2, FMA and F16C, and the slices are as for
/// `forward_avx512`.
#[target_feature(enable = "avx2,fma,f16c")]
pub(super) unsafe fn forward_avx2<W: SimdValue>(
    shape: Shape,
    input: &[f32],
    weights: &[W],
    bias: &[f32],
    output: &mut [f32],
    write: Write,
) {
    const HALF: usize = PANEL_WIDTH / 2;
    let panel_len = shape.inputs * PANEL_WIDTH;
    let panels = shape.outputs.div_ceil(PANEL_WIDTH);
    for panel in 0..panels {
        for half in 0..2 {
            let first_column = panel * PANEL_WIDTH + half * HALF;
            if first_column >= shape.outputs {
                break;
            }
            for (first_row, rows) in row_blocks(shape.rows, AVX2_MAX_ROWS) {
                // SAFETY: as in `forward_avx512`, and `rows` is between 1 and 6.
                unsafe {
                    let block = Block {
                        input: input.as_ptr().add(first_row * shape.inputs),
                        inputs: shape.inputs,
                        panel: weights.as_ptr().add(panel * panel_len + half * HALF),
                        bias: bias.as_ptr().add(first_column),
                        output: output
                            .as_mut_ptr()
                            .add(first_row * shape.outputs + first_column),
                        outputs: shape.outputs,
                        columns: HALF.min(shape.outputs - first_column),
                        write,
                    };
                    macro_rules! call {
                        ($count:literal) => {
                            block_avx2::<W, $count>(block)
                        };
                    }
                    dispatch_rows!(rows, [1 2 3 4 5 6], call);
                }
            }
        }
    }
}

/// Computes `ROWS` rows of 16 columns: half of a panel, whose rows of
/// weights are still 32 values apart.
///
/// # Safety
/// The CPU supports AVX2, FMA and F16C, and the block's pointers are valid
/// as for `block_avx512` with 16 columns.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn block_avx2<W: SimdValue, const ROWS: usize>(block: Block<f32, W>) {
    // SAFETY: the function's contract covers every pointer below.
    unsafe {
        let mut low = [_mm256_loadu_ps(block.bias); ROWS];
        let mut high = [_mm256_loadu_ps(block.bias.add(8)); ROWS];
        for feature in 0..block.inputs {
            let weights = block.panel.add(feature * PANEL_WIDTH);
            let weights_low = W::load8(weights);
            let weights_high = W::load8(weights.add(8));
            for row in 0..ROWS {
                let x = _mm256_set1_ps(*block.input.add(row * block.inputs + feature));
                low[row] = _mm256_fmadd_ps(x, weights_low, low[row]);
                high[row] = _mm256_fmadd_ps(x, weights_high, high[row]);
            }
        }

        for row in 0..ROWS {
            let target = block.output.add(row * block.outputs);
            if block.columns == 16 {
                let (mut low_sum, mut high_sum) = (low[row], high[row]);
                if block.write == Write::Accumulate {
                    low_sum = _mm256_add_ps(low_sum, _mm256_loadu_ps(target));
                    high_sum = _mm256_add_ps(high_sum, _mm256_loadu_ps(target.add(8)));
                }
                _mm256_storeu_ps(target, low_sum);
                _mm256_storeu_ps(target.add(8), high_sum);
            } else {
                let mut sums = [0.0f32; 16];
                _mm256_storeu_ps(sums.as_mut_ptr(), low[row]);
                _mm256_storeu_ps(sums.as_mut_ptr().add(8), high[row]);
                write_columns(target, &sums[..block.columns], block.write);
            }
        }
    }
}

/// Writes the first columns of a partial panel.
///
/// # Safety
/// `target` is valid for `sums.len()` writes.
#[inline]
unsafe fn write_columns(target: *mut f32, sums: &[f32], write: Write) {
    for (column, &sum) in sums.iter().enumerate() {
        // SAFETY: the caller's contract.
        unsafe {
            let out = target.add(column);
            match write {
                Write::Store => *out = sum,
                Write::Accumulate => *out += sum,
            }
        }
    }
}
