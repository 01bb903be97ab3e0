//! Linear layers whose weights are laid out once at load for a
//! matrix-multiply kernel that streams them: AVX-512 or AVX2 on x86-64,
//! portable Rust elsewhere, and optionally AVX-512 BF16.
//!
//! candle's CPU matmul (the `gemm` crate) needs both operands in one dtype,
//! so f16 weights would be widened to f32 and read as twice the bytes. For
//! MiniLM's six layers that is 42 MB a message, more than the 32 MB L3
//! cache of the benchmark machine in `docs/benchmarks.md`. These
//! kernels read the weights in the file's dtype (f16 stays f16) straight
//! from the packed panels and widen them in registers, accumulating in f32.

#[cfg(target_arch = "x86_64")]
use std::cell::RefCell;

use candle_core::{DType, Tensor};
use half::{bf16, f16};

/// Output columns in one weight panel: two AVX-512 registers of 16 lanes,
/// and one 64-byte cache line per input feature for f16 weights.
const PANEL_WIDTH: usize = 32;

/// The instruction set the kernels run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Isa {
    /// AVX-512F and FMA, 12-row blocks.
    Avx512,
    /// AVX2 with FMA and F16C, 6-row blocks.
    Avx2,
    /// Plain Rust, for other CPUs.
    Portable,
}

/// The arithmetic of the matrix multiplies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Precision {
    /// Products of f32 inputs and the weights as the file stores them
    /// (f16 or f32), summed in f32.
    #[default]
    Exact,
    /// Inputs and weights rounded to bfloat16 (8-bit significand), products
    /// summed in f32 by AVX-512 BF16, which does twice the multiply-adds
    /// of f32 FMA per instruction. Needs a CPU with AVX-512 BF16.
    Bf16,
}

/// Destination of the rows a linear layer computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Write {
    /// `output = input·W + b`
    Store,
    /// `output += input·W + b`, which adds a residual already in `output`.
    Accumulate,
}

/// A linear layer `y = x·W + b` with `W` packed into panels of
/// `PANEL_WIDTH` output columns. Inside a panel the values for one input
/// feature are contiguous, so a kernel reads each panel front to back.
pub struct PackedLinear {
    inputs: usize,
    outputs: usize,
    weights: PanelWeights,
    /// Zero-padded to whole panels.
    bias: Vec<f32>,
}

/// Packed weights: in the dtype of the model file for `Precision::Exact`
/// (f32 for any dtype other than f16, which widens exactly), or bfloat16
/// pairs of consecutive inputs for `Precision::Bf16`.
enum PanelWeights {
    F16(Vec<f16>),
    F32(Vec<f32>),
    Bf16Pairs(Vec<u32>),
}

#[cfg(target_arch = "x86_64")]
thread_local! {
    /// Inputs rounded to bfloat16 pairs for the call in progress on this thread.
    static BF16_INPUT: RefCell<Vec<u32>> = const { RefCell::new(Vec::new()) };
}

impl Isa {
    /// Returns the fastest instruction set this CPU supports.
    pub fn detect() -> Self {
        Self::available()[0]
    }

    /// Returns every instruction set this CPU supports, fastest first.
    pub fn available() -> Vec<Self> {
        let mut available = Vec::new();
        if Self::Avx512.is_supported() {
            available.push(Self::Avx512);
        }
        if Self::Avx2.is_supported() {
            available.push(Self::Avx2);
        }
        available.push(Self::Portable);
        available
    }

    /// Checks the CPU at run time; `std` caches the result, so this is cheap.
    pub fn is_supported(self) -> bool {
        match self {
            #[cfg(target_arch = "x86_64")]
            Self::Avx512 => {
                std::arch::is_x86_feature_detected!("avx512f")
                    && std::arch::is_x86_feature_detected!("fma")
            }
            #[cfg(target_arch = "x86_64")]
            Self::Avx2 => {
                std::arch::is_x86_feature_detected!("avx2")
                    && std::arch::is_x86_feature_detected!("fma")
                    && std::arch::is_x86_feature_detected!("f16c")
            }
            #[cfg(not(target_arch = "x86_64"))]
            Self::Avx512 | Self::Avx2 => false,
            Self::Portable => true,
        }
    }
}

impl Precision {
    /// Checks the CPU at run time.
    pub fn is_supported(self) -> bool {
        match self {
            Self::Exact => true,
            #[cfg(target_arch = "x86_64")]
            Self::Bf16 => {
                std::arch::is_x86_feature_detected!("avx512f")
                    && std::arch::is_x86_feature_detected!("avx512bf16")
            }
            #[cfg(not(target_arch = "x86_64"))]
            Self::Bf16 => false,
        }
    }
}

impl PackedLinear {
    /// Packs a PyTorch `Linear`: `weight` is `[outputs, inputs]` and `bias`
    /// is `[outputs]`. For `Precision::Exact` f16 weights stay f16 and any
    /// other dtype becomes f32.
    pub fn from_tensors(
        weight: &Tensor,
        bias: &Tensor,
        precision: Precision,
    ) -> candle_core::Result<Self> {
        let (outputs, inputs) = weight.dims2()?;
        let bias_len = bias.dims1()?;
        if bias_len != outputs {
            candle_core::bail!("linear bias has {bias_len} values, expected {outputs}")
        }

        if !precision.is_supported() {
            candle_core::bail!("{precision:?} matrix multiplies are not supported by this CPU")
        }
        let weights = match (precision, weight.dtype()) {
            (Precision::Bf16, _) => {
                let rows = weight
                    .to_dtype(DType::F32)?
                    .flatten_all()?
                    .to_vec1::<f32>()?;
                PanelWeights::Bf16Pairs(pack_bf16_pairs(&rows, inputs, outputs))
            }
            (Precision::Exact, DType::F16) => {
                let rows = weight.flatten_all()?.to_vec1::<f16>()?;
                PanelWeights::F16(pack(&rows, inputs, outputs, f16::ZERO))
            }
            (Precision::Exact, _) => {
                let rows = weight
                    .to_dtype(DType::F32)?
                    .flatten_all()?
                    .to_vec1::<f32>()?;
                PanelWeights::F32(pack(&rows, inputs, outputs, 0.0))
            }
        };

        let mut padded_bias = bias.to_dtype(DType::F32)?.to_vec1::<f32>()?;
        padded_bias.resize(outputs.div_ceil(PANEL_WIDTH) * PANEL_WIDTH, 0.0);
        Ok(Self {
            inputs,
            outputs,
            weights,
            bias: padded_bias,
        })
    }

    /// Computes `rows` rows of `input·W + b` into `output`, both row-major
    /// with `inputs` and `outputs` values a row.
    ///
    /// Bfloat16 weights always run on the AVX-512 BF16 kernel, whatever `isa`.
    ///
    /// # Panics
    /// If a slice length does not match `rows`, or `isa` is not supported by
    /// this CPU.
    pub fn forward(&self, isa: Isa, input: &[f32], rows: usize, output: &mut [f32], write: Write) {
        assert_eq!(input.len(), rows * self.inputs, "input length");
        assert_eq!(output.len(), rows * self.outputs, "output length");
        assert!(isa.is_supported(), "{isa:?} is not supported by this CPU");

        let shape = Shape {
            rows,
            inputs: self.inputs,
            outputs: self.outputs,
        };
        match (&self.weights, isa) {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: the CPU supports AVX-512F (asserted above), and the
            // slice lengths match `shape` (asserted above and by `pack`).
            (PanelWeights::F16(weights), Isa::Avx512) => unsafe {
                x86::forward_avx512(shape, input, weights, &self.bias, output, write)
            },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: as above.
            (PanelWeights::F32(weights), Isa::Avx512) => unsafe {
                x86::forward_avx512(shape, input, weights, &self.bias, output, write)
            },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: the CPU supports AVX2, FMA and F16C, and the lengths
            // match as above.
            (PanelWeights::F16(weights), Isa::Avx2) => unsafe {
                x86::forward_avx2(shape, input, weights, &self.bias, output, write)
            },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: as above.
            (PanelWeights::F32(weights), Isa::Avx2) => unsafe {
                x86::forward_avx2(shape, input, weights, &self.bias, output, write)
            },
            #[cfg(target_arch = "x86_64")]
            (PanelWeights::Bf16Pairs(weights), _) => BF16_INPUT.with_borrow_mut(|pairs| {
                pairs.resize(rows * self.inputs.div_ceil(2), 0);
                // SAFETY: bfloat16 weights are only packed on CPUs with
                // AVX-512 BF16 (checked in `from_tensors`), and the lengths
                // match `shape` as above.
                unsafe {
                    x86::round_to_bf16_pairs(input, self.inputs, pairs);
                    x86::forward_bf16(shape, pairs, weights, &self.bias, output, write);
                }
            }),
            #[cfg(not(target_arch = "x86_64"))]
            (PanelWeights::Bf16Pairs(_), _) => {
                unreachable!("bfloat16 weights are only packed on x86-64")
            }
            (PanelWeights::F16(weights), _) => {
                forward_portable(shape, input, weights, &self.bias, output, write)
            }
            (PanelWeights::F32(weights), _) => {
                forward_portable(shape, input, weights, &self.bias, output, write)
            }
        }
    }
}

/// Sizes of one call: `rows × inputs` times `inputs × outputs`.
#[derive(Debug, Clone, Copy)]
struct Shape {
    rows: usize,
    inputs: usize,
    outputs: usize,
}

/// A weight value the kernels can widen to f32.
trait PanelValue: Copy {
    fn to_f32(self) -> f32;
}

impl PanelValue for f16 {
    fn to_f32(self) -> f32 {
        f16::to_f32(self)
    }
}

impl PanelValue for f32 {
    fn to_f32(self) -> f32 {
        self
    }
}

/// Lays out `weight` (row-major `[outputs][inputs]`, as PyTorch stores a
/// `Linear`) as panels of `PANEL_WIDTH` output columns, each `inputs ×
/// PANEL_WIDTH` values, the last one padded with `zero`.
fn pack<T: Copy>(weight: &[T], inputs: usize, outputs: usize, zero: T) -> Vec<T> {
    let panels = outputs.div_ceil(PANEL_WIDTH);
    let mut packed = vec![zero; panels * inputs * PANEL_WIDTH];
    for (column, row) in weight.chunks_exact(inputs).enumerate() {
        let first = (column / PANEL_WIDTH) * inputs * PANEL_WIDTH + column % PANEL_WIDTH;
        for (feature, &value) in row.iter().enumerate() {
            packed[first + feature * PANEL_WIDTH] = value;
        }
    }
    packed
}

/// Lays out `weight` as `pack` does, but with each lane holding the
/// bfloat16 values of two consecutive inputs in one u32, the lower input
/// in the low half, as `vdpbf16ps` reads them.
fn pack_bf16_pairs(weight: &[f32], inputs: usize, outputs: usize) -> Vec<u32> {
    let panels = outputs.div_ceil(PANEL_WIDTH);
    let pairs = inputs.div_ceil(2);
    let mut packed = vec![0; panels * pairs * PANEL_WIDTH];
    for (column, row) in weight.chunks_exact(inputs).enumerate() {
        let first = (column / PANEL_WIDTH) * pairs * PANEL_WIDTH + column % PANEL_WIDTH;
        for (pair, values) in row.chunks(2).enumerate() {
            let high = values.get(1).copied().unwrap_or(0.0);
            packed[first + pair * PANEL_WIDTH] = bf16_pair(values[0], high);
        }
    }
    packed
}

/// Rounds two values to bfloat16, nearest even, and packs them into one
/// u32 with `low` in the low half.
fn bf16_pair(low: f32, high: f32) -> u32 {
    u32::from(bf16::from_f32(low).to_bits()) | u32::from(bf16::from_f32(high).to_bits()) << 16
}

/// Splits `rows` into the fewest blocks of at most `max_rows`, with sizes
/// that differ by at most one, so no block is left with a row or two.
fn row_blocks(rows: usize, max_rows: usize) -> impl Iterator<Item = (usize, usize)> {
    let count = rows.div_ceil(max_rows);
    (0..count).map(move |block| {
        let start = block * rows / count;
        let end = (block + 1) * rows / count;
        (start, end - start)
    })
}

/// Computes one row and one panel at a time: the reference kernel.
fn forward_portable<W: PanelValue>(
    shape: Shape,
    input: &[f32],
    weights: &[W],
    bias: &[f32],
    output: &mut [f32],
    write: Write,
) {
    let panel_len = shape.inputs * PANEL_WIDTH;
    for (panel_index, panel) in weights.chunks_exact(panel_len).enumerate() {
        let first_column = panel_index * PANEL_WIDTH;
        let columns = PANEL_WIDTH.min(shape.outputs - first_column);
        for row in 0..shape.rows {
            let mut sums = [0.0f32; PANEL_WIDTH];
            sums.copy_from_slice(&bias[first_column..first_column + PANEL_WIDTH]);
            let values = &input[row * shape.inputs..(row + 1) * shape.inputs];
            for (&x, lane_weights) in values.iter().zip(panel.chunks_exact(PANEL_WIDTH)) {
                for (sum, &weight) in sums.iter_mut().zip(lane_weights) {
                    *sum += x * weight.to_f32();
                }
            }

            let start = row * shape.outputs + first_column;
            let target = &mut output[start..start + columns];
            match write {
                Write::Store => target.copy_from_slice(&sums[..columns]),
                Write::Accumulate => {
                    for (out, sum) in target.iter_mut().zip(&sums) {
                        *out += sum;
                    }
                }
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod x86;

#[cfg(test)]
mod tests {
    use candle_core::{DType, Device, Tensor};

    use super::*;

    /// Values in [-1, 1) from a fixed linear congruential sequence.
    fn values(count: usize, seed: u64) -> Vec<f32> {
        let mut state = seed;
        (0..count)
            .map(|_| {
                state = state
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                (state >> 40) as f32 / (1u64 << 23) as f32 - 1.0
            })
            .collect()
    }

    /// Computes `input·weightᵀ + bias` with candle, as `candle_nn::Linear` does.
    fn candle_linear(
        input: &Tensor,
        weight: &Tensor,
        bias: &Tensor,
    ) -> candle_core::Result<Vec<f32>> {
        let weight = weight.to_dtype(DType::F32)?;
        let bias = bias.to_dtype(DType::F32)?;
        input
            .matmul(&weight.t()?)?
            .broadcast_add(&bias)?
            .flatten_all()?
            .to_vec1::<f32>()
    }

    fn max_difference(left: &[f32], right: &[f32]) -> f32 {
        left.iter()
            .zip(right)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max)
    }

    #[test]
    fn row_blocks_cover_rows_evenly() {
        for max_rows in [6, 12] {
            for rows in 0..60 {
                let blocks: Vec<(usize, usize)> = row_blocks(rows, max_rows).collect();
                let mut next = 0;
                for &(start, len) in &blocks {
                    assert_eq!(
                        start, next,
                        "{rows} rows: block starts where the last ended"
                    );
                    assert!(len >= 1, "{rows} rows: empty block");
                    assert!(len <= max_rows, "{rows} rows: block of {len}");
                    next = start + len;
                }
                assert_eq!(next, rows, "{rows} rows: blocks cover every row");
                let sizes = blocks.iter().map(|block| block.1);
                let spread = sizes.clone().max().unwrap_or(0) - sizes.min().unwrap_or(0);
                assert!(spread <= 1, "{rows} rows: sizes differ by {spread}");
            }
        }
    }

    #[test]
    fn packed_linear_matches_candle_matmul() -> candle_core::Result<()> {
        let device = Device::Cpu;
        // Full panels, a partial last panel and fewer columns than a panel,
        // each over row counts that hit every block size.
        let shapes = [(384, 64), (40, 45), (17, 7)];
        for (inputs, outputs) in shapes {
            for dtype in [DType::F16, DType::F32] {
                let weight =
                    Tensor::from_vec(values(outputs * inputs, 1), (outputs, inputs), &device)?
                        .to_dtype(dtype)?;
                let bias =
                    Tensor::from_vec(values(outputs, 2), outputs, &device)?.to_dtype(dtype)?;
                let linear = PackedLinear::from_tensors(&weight, &bias, Precision::Exact)?;
                for rows in [1, 2, 5, 6, 7, 12, 14, 15, 29, 40] {
                    let input = values(rows * inputs, 3 + rows as u64);
                    let input_tensor = Tensor::from_vec(input.clone(), (rows, inputs), &device)?;
                    let expected = candle_linear(&input_tensor, &weight, &bias)?;
                    let residual = values(rows * outputs, 4);

                    for isa in Isa::available() {
                        let case = format!("{isa:?} {dtype:?} {rows}x{inputs}x{outputs}");
                        let mut stored = vec![f32::NAN; rows * outputs];
                        linear.forward(isa, &input, rows, &mut stored, Write::Store);
                        let error = max_difference(&stored, &expected);
                        assert!(error < 1e-4, "{case} store: max difference {error}");

                        let mut accumulated = residual.clone();
                        linear.forward(isa, &input, rows, &mut accumulated, Write::Accumulate);
                        let with_residual: Vec<f32> =
                            expected.iter().zip(&residual).map(|(a, b)| a + b).collect();
                        let error = max_difference(&accumulated, &with_residual);
                        assert!(error < 1e-4, "{case} accumulate: max difference {error}");
                    }
                }
            }
        }
        Ok(())
    }

    #[test]
    fn bf16_linear_matches_rounded_product() -> candle_core::Result<()> {
        if !Precision::Bf16.is_supported() {
            println!("skipped: this CPU has no AVX-512 BF16");
            return Ok(());
        }
        let device = Device::Cpu;
        let round = |value: f32| f64::from(bf16::from_f32(value).to_f32());
        // An odd input count pads the last pair, a partial panel pads columns.
        for (inputs, outputs) in [(384, 64), (45, 40), (7, 17)] {
            let weights = values(outputs * inputs, 6);
            let bias = values(outputs, 7);
            let linear = PackedLinear::from_tensors(
                &Tensor::from_vec(weights.clone(), (outputs, inputs), &device)?,
                &Tensor::from_vec(bias.clone(), outputs, &device)?,
                Precision::Bf16,
            )?;
            for rows in [1, 3, 14, 15, 29] {
                let input = values(rows * inputs, 8 + rows as u64);
                let expected: Vec<f32> = (0..rows * outputs)
                    .map(|index| {
                        let (row, column) = (index / outputs, index % outputs);
                        let dot: f64 = (0..inputs)
                            .map(|k| {
                                round(input[row * inputs + k]) * round(weights[column * inputs + k])
                            })
                            .sum();
                        (dot + f64::from(bias[column])) as f32
                    })
                    .collect();

                let mut output = vec![f32::NAN; rows * outputs];
                linear.forward(Isa::detect(), &input, rows, &mut output, Write::Store);
                let error = max_difference(&output, &expected);
                assert!(
                    error < 1e-4,
                    "{rows}x{inputs}x{outputs}: max difference {error}"
                );
            }
        }
        Ok(())
    }

    #[test]
    fn f16_weights_stay_f16() -> candle_core::Result<()> {
        let device = Device::Cpu;
        let weight = Tensor::from_vec(values(64, 5), (8, 8), &device)?.to_dtype(DType::F16)?;
        let bias = Tensor::zeros(8, DType::F16, &device)?;
        let linear = PackedLinear::from_tensors(&weight, &bias, Precision::Exact)?;
        assert!(matches!(linear.weights, PanelWeights::F16(_)));
        Ok(())
    }

    #[test]
    fn bias_of_wrong_length_is_rejected() -> candle_core::Result<()> {
        let device = Device::Cpu;
        let weight = Tensor::zeros((8, 4), DType::F32, &device)?;
        let bias = Tensor::zeros(5, DType::F32, &device)?;
        let error = PackedLinear::from_tensors(&weight, &bias, Precision::Exact).err();
        let message = error.map(|error| error.to_string()).unwrap_or_default();
        assert!(message.contains("5 values, expected 8"), "error: {message}");
        Ok(())
    }
}
