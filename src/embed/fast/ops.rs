//! Element-wise and row-wise operations of the encoder, in place on f32
//! buffers: GELU, layer normalisation and softmax.
//!
//! Each is plain Rust written so that LLVM vectorises it (no reductions
//! across lanes inside a loop), compiled once more for AVX-512 and AVX2
//! through `#[target_feature]` wrappers that `Isa` picks from.

use super::matmul::Isa;

/// Applies GELU, `x·Φ(x)` with the exact normal CDF `Φ(x) = (1 + erf(x/√2))/2`
/// as BERT defines it, to every value.
///
/// erf comes from a rational approximation, so the result differs from
/// GELU computed in f64 by at most 1.5e-6·max(1, x): 1.5e-6 for x ≤ 1, and
/// a relative 1.5e-6 above. The largest error, 1.2e-6, is near x = -5.5,
/// where erf is close to -1. The test `gelu_matches_f64_erf` checks the
/// bound on a grid of step 1e-4 over [-20, 20].
pub fn gelu_in_place(isa: Isa, values: &mut [f32]) {
    match isa {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the guard checked that the CPU supports AVX-512F and FMA.
        Isa::Avx512 if isa.is_supported() => unsafe { gelu_avx512(values) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the guard checked that the CPU supports AVX2 and FMA.
        Isa::Avx2 if isa.is_supported() => unsafe { gelu_avx2(values) },
        _ => gelu_portable(values),
    }
}

/// Normalises each row of `width` values to zero mean and unit variance,
/// then scales by `gamma` and shifts by `beta`, as `torch.nn.LayerNorm`.
pub fn layer_norm_in_place(isa: Isa, rows: &mut [f32], gamma: &[f32], beta: &[f32], epsilon: f32) {
    assert_eq!(
        gamma.len(),
        beta.len(),
        "layer norm weight and bias lengths"
    );
    match isa {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as in `gelu_in_place`.
        Isa::Avx512 if isa.is_supported() => unsafe {
            layer_norm_avx512(rows, gamma, beta, epsilon)
        },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as in `gelu_in_place`.
        Isa::Avx2 if isa.is_supported() => unsafe { layer_norm_avx2(rows, gamma, beta, epsilon) },
        _ => layer_norm_portable(rows, gamma, beta, epsilon),
    }
}

/// Replaces `values` by their softmax, computed after subtracting the
/// maximum so that `exp` cannot overflow.
pub fn softmax_in_place(values: &mut [f32]) {
    let max = values.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0;
    for value in values.iter_mut() {
        *value = (*value - max).exp();
        sum += *value;
    }
    let scale = 1.0 / sum;
    for value in values.iter_mut() {
        *value *= scale;
    }
}

/// erf(x) is ±1 in f32 beyond this, so the approximation clamps there.
const ERF_CLAMP: f32 = 4.0;

/// Coefficients of `erf(x) ≈ x·P(x²)/Q(x²)` on [-4, 4], the single-precision
/// approximation of Eigen's `generic_fast_erf_float` (also used by XLA),
/// lowest degree first.
const ERF_NUMERATOR: [f32; 7] = [
    -1.6096033e-2,
    -2.9546e-3,
    -7.3499064e-4,
    -5.6925062e-5,
    -2.101024e-6,
    2.7706815e-8,
    -2.7261424e-10,
];
const ERF_DENOMINATOR: [f32; 5] = [
    -1.4264739e-2,
    -7.3733293e-3,
    -1.682827e-3,
    -2.1337405e-4,
    -1.45660715e-5,
];

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,fma")]
unsafe fn gelu_avx512(values: &mut [f32]) {
    gelu_portable(values);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn gelu_avx2(values: &mut [f32]) {
    gelu_portable(values);
}

#[inline(always)]
fn gelu_portable(values: &mut [f32]) {
    for value in values.iter_mut() {
        let x = *value;
        *value = 0.5 * x * (1.0 + erf(x * std::f32::consts::FRAC_1_SQRT_2));
    }
}

/// erf by the rational approximation above, branch-free so it vectorises.
/// Beyond the clamp it returns exactly ±1, so GELU of a large negative
/// value is 0 and not the value times the approximation's last error.
#[inline(always)]
fn erf(x: f32) -> f32 {
    let saturated = x.abs() >= ERF_CLAMP;
    let x = x.clamp(-ERF_CLAMP, ERF_CLAMP);
    let x2 = x * x;

    let mut numerator = ERF_NUMERATOR[6];
    for &coefficient in ERF_NUMERATOR[..6].iter().rev() {
        numerator = numerator * x2 + coefficient;
    }
    let mut denominator = ERF_DENOMINATOR[4];
    for &coefficient in ERF_DENOMINATOR[..4].iter().rev() {
        denominator = denominator * x2 + coefficient;
    }
    if saturated {
        x.signum()
    } else {
        x * numerator / denominator
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,fma")]
unsafe fn layer_norm_avx512(rows: &mut [f32], gamma: &[f32], beta: &[f32], epsilon: f32) {
    layer_norm_portable(rows, gamma, beta, epsilon);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn layer_norm_avx2(rows: &mut [f32], gamma: &[f32], beta: &[f32], epsilon: f32) {
    layer_norm_portable(rows, gamma, beta, epsilon);
}

#[inline(always)]
fn layer_norm_portable(rows: &mut [f32], gamma: &[f32], beta: &[f32], epsilon: f32) {
    let width = gamma.len();
    for row in rows.chunks_exact_mut(width) {
        let mean = lane_sum(row, |x| x) / width as f32;
        let variance = lane_sum(row, |x| (x - mean) * (x - mean)) / width as f32;
        let scale = 1.0 / (variance + epsilon).sqrt();
        for ((x, &g), &b) in row.iter_mut().zip(gamma).zip(beta) {
            *x = (*x - mean) * scale * g + b;
        }
    }
}

/// Lanes summed independently, so the loop vectorises without reordering
/// a single running sum.
const SUM_LANES: usize = 16;

/// Sums `map(value)` over `values` in `SUM_LANES` interleaved partial sums.
#[inline(always)]
fn lane_sum(values: &[f32], map: impl Fn(f32) -> f32) -> f32 {
    let mut lanes = [0.0f32; SUM_LANES];
    let chunks = values.chunks_exact(SUM_LANES);
    let rest = chunks.remainder();
    for chunk in chunks {
        for (lane, &value) in lanes.iter_mut().zip(chunk) {
            *lane += map(value);
        }
    }
    lanes.iter().sum::<f32>() + rest.iter().map(|&value| map(value)).sum::<f32>()
}

#[cfg(test)]
mod tests {
    use candle_core::{Device, Tensor};

    use super::*;

    /// GELU in f64 with candle's erf, the function candle's `gelu_erf` uses.
    fn gelu_f64(x: f64) -> f64 {
        0.5 * x * (1.0 + candle_core::cpu::erf::erf_f64(x / std::f64::consts::SQRT_2))
    }

    #[test]
    fn gelu_matches_f64_erf() {
        let grid: Vec<f32> = (-200_000..=200_000)
            .map(|step| step as f32 * 1e-4)
            .collect();
        for isa in Isa::available() {
            let mut values = grid.clone();
            gelu_in_place(isa, &mut values);
            for (&x, &gelu) in grid.iter().zip(&values) {
                let error = (f64::from(gelu) - gelu_f64(f64::from(x))).abs();
                let bound = 1.5e-6 * f64::from(x).max(1.0);
                assert!(
                    error <= bound,
                    "{isa:?} gelu({x}) = {gelu}: error {error:e} > {bound:e}"
                );
            }
        }
    }

    #[test]
    fn gelu_of_extremes_saturates() {
        let mut values = [f32::MAX, f32::MIN, 1e10, -1e10, 0.0];
        gelu_in_place(Isa::detect(), &mut values);
        assert!(
            (values[0] / f32::MAX - 1.0).abs() < 1e-6,
            "gelu(MAX) = {}",
            values[0]
        );
        assert_eq!(values[1], 0.0);
        assert!(
            (values[2] / 1e10 - 1.0).abs() < 1e-6,
            "gelu(1e10) = {}",
            values[2]
        );
        assert_eq!(values[3], 0.0);
        assert_eq!(values[4], 0.0);
    }

    #[test]
    fn layer_norm_matches_candle() -> candle_core::Result<()> {
        let device = Device::Cpu;
        let width = 384;
        let rows = 5;
        let input: Vec<f32> = (0..rows * width)
            .map(|index| ((index * 7919) % 1000) as f32 / 100.0 - 3.0)
            .collect();
        let gamma: Vec<f32> = (0..width).map(|index| 0.5 + index as f32 / 500.0).collect();
        let beta: Vec<f32> = (0..width)
            .map(|index| index as f32 / 1000.0 - 0.2)
            .collect();

        let expected = candle_nn::ops::layer_norm(
            &Tensor::from_vec(input.clone(), (rows, width), &device)?,
            &Tensor::from_vec(gamma.clone(), width, &device)?,
            &Tensor::from_vec(beta.clone(), width, &device)?,
            1e-12,
        )?
        .flatten_all()?
        .to_vec1::<f32>()?;

        for isa in Isa::available() {
            let mut actual = input.clone();
            layer_norm_in_place(isa, &mut actual, &gamma, &beta, 1e-12);
            for (index, (a, e)) in actual.iter().zip(&expected).enumerate() {
                assert!((a - e).abs() < 1e-5, "{isa:?} value {index}: {a} vs {e}");
            }
        }
        Ok(())
    }

    #[test]
    fn softmax_matches_candle() -> candle_core::Result<()> {
        let input = vec![-1000.0f32, 3.5, 0.0, 2.0, 88.0, 87.5];
        let expected =
            candle_nn::ops::softmax_last_dim(&Tensor::new(input.as_slice(), &Device::Cpu)?)?
                .to_vec1::<f32>()?;
        let mut actual = input;
        softmax_in_place(&mut actual);
        for (a, e) in actual.iter().zip(&expected) {
            assert!((a - e).abs() < 1e-6, "{a} vs {e}");
        }
        Ok(())
    }
}
