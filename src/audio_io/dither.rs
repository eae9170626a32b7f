//! Deterministic TPDF dither for reducing `f32` audio to integer samples.
//!
//! Triangular noise of ±1 LSB peak decorrelates the rounding error from the signal (no
//! harmonic distortion on quiet fades). The noise is a keyed hash of each sample's index
//! ([`TpdfNoise`]), keyed per channel from a fixed constant, so the same render always
//! writes the same bytes however its audio is chunked, and eight samples' noise is
//! computed at once with plain 32-bit integer vectors.

use lathe_nodes::dsp::cpu::Isa;

/// The seed every render starts from; changing it changes every dithered output.
pub const DITHER_SEED: u64 = 0x6c61_7468_6500_0001;

/// A small, fast PRNG (SplitMix64); statistical quality is ample for test signals and
/// the demo mix.
#[derive(Debug, Clone)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(GAMMA);
        mix(self.state)
    }

    /// Uniform in [0, 1), with 53 bits of resolution.
    pub fn next_unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
}

/// SplitMix64's state increment.
const GAMMA: u64 = 0x9e37_79b9_7f4a_7c15;

/// SplitMix64's output function.
#[inline(always)]
fn mix(state: u64) -> u64 {
    let mut z = state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Quantises one channel to integers of `bits` bits with TPDF dither.
///
/// Every output is `round(x * 2^(bits-1) + d)` (halves away from zero) clamped to the
/// format's range, with `d` the channel's [`TpdfNoise`] for that sample: a render writes
/// the same samples however its audio is chunked. [`Quantizer::quantize_into`] does a
/// chunk in two tight loops (dither, then rounding) without the library call
/// `f64::round` is on baseline x86-64.
#[derive(Debug, Clone)]
pub struct Quantizer {
    noise: TpdfNoise,
    scale: f64,
    min: i32,
    max: i32,
    /// Instruction set [`Quantizer::quantize_into`] runs on, detected once.
    isa: Isa,
}

/// Samples quantised per inner step of [`Quantizer::quantize_into`].
const QUANTIZE_BLOCK: usize = 256;

impl Quantizer {
    /// A quantiser for channel `channel` of an output with `bits` bits (2..=32).
    pub fn new(bits: u32, channel: usize) -> Self {
        let full_scale = (1i64 << (bits - 1)) as f64;
        Self {
            noise: TpdfNoise::new(channel_seed(channel)),
            scale: full_scale,
            min: -(1i64 << (bits - 1)) as i32,
            max: ((1i64 << (bits - 1)) - 1) as i32,
            isa: Isa::detect(),
        }
    }

    /// `x` (full scale = ±1.0) as a dithered integer, clamped to the format's range.
    /// NaN becomes silence plus dither.
    pub fn quantize(&mut self, x: f32) -> i32 {
        let mut dither = [0.0];
        self.noise.fill(&mut dither);
        self.with_dither(x, dither[0])
    }

    /// Quantises `input` into `output` (the same length), sample after sample.
    pub fn quantize_into(&mut self, input: &[f32], output: &mut [i32]) {
        match self.isa {
            // SAFETY: `Isa::Avx2` is detected only when the CPU reports AVX2.
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => unsafe { self.quantize_avx2(input, output) },
            _ => self.quantize_blocks(input, output),
        }
    }

    /// [`Quantizer::quantize_into`] compiled for AVX2: the noise runs eight samples at a
    /// time and the rounding four. The arithmetic is the same (no fused multiply-add), so
    /// are the samples.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    fn quantize_avx2(&mut self, input: &[f32], output: &mut [i32]) {
        self.quantize_blocks(input, output);
    }

    /// Dither for a block of samples, then the samples: two tight loops.
    #[inline(always)]
    fn quantize_blocks(&mut self, input: &[f32], output: &mut [i32]) {
        let mut dither = [0.0f64; QUANTIZE_BLOCK];
        for (input, output) in input
            .chunks(QUANTIZE_BLOCK)
            .zip(output.chunks_mut(QUANTIZE_BLOCK))
        {
            let dither = &mut dither[..input.len()];
            self.noise.fill(dither);
            for ((out, &x), &d) in output.iter_mut().zip(input).zip(dither.iter()) {
                *out = self.with_dither(x, d);
            }
        }
    }

    /// `x` with the dither value `d` added, rounded and clamped.
    #[inline(always)]
    fn with_dither(&self, x: f32, d: f64) -> i32 {
        let x = if x.is_nan() { 0.0 } else { f64::from(x) };
        // Clamping before rounding is the same as after: the bounds are integers.
        let v = (x * self.scale + d)
            .max(f64::from(self.min))
            .min(f64::from(self.max));
        let r = round_half_away(v);
        // SAFETY: `r` is a whole number within [min, max], which i32 holds.
        unsafe { r.to_int_unchecked::<i32>() }
    }
}

/// The noise key of output channel `channel`.
fn channel_seed(channel: usize) -> u64 {
    DITHER_SEED ^ (channel as u64).wrapping_mul(0x2545_f491_4f6c_dd1d)
}

/// Triangular (TPDF) dither noise of ±1 LSB peak for one channel, as a function of the
/// sample index `n`: `(u(2n) - u(2n + 1)) / 2^31`, where `u(k)` is the top 31 bits of
/// a 32-bit integer hash of `k`'s low 32 bits, keyed by the channel's seed and by `k`'s
/// high bits (so the noise does not repeat within 2^63 samples).
///
/// A counter and a hash rather than a sequential generator: every value is independent
/// of the others, so a block of them is one loop of 32-bit multiplies and shifts that
/// vectorises eight wide. The hash (`x ^= x >> 16; x *= 0x7feb352d; x ^= x >> 15;
/// x *= 0x846ca68b; x ^= x >> 16`) is a well-mixed one of Chris Wellons's hash
/// prospector; dither needs noise that is uniform and uncorrelated with the signal, not
/// a cryptographic one. Both uniforms are multiples of 2^-31 below 1, so the difference
/// is exact.
#[derive(Debug, Clone)]
pub struct TpdfNoise {
    seed: u64,
    /// Index of the next sample.
    sample: u64,
}

/// Samples per key epoch: the uniform index `2n` keeps its low 32 bits within one.
const EPOCH_SAMPLES: u64 = 1 << 31;
/// 2^-31: scales a 31-bit integer to [0, 1).
const UNIFORM_SCALE: f64 = 1.0 / (1u64 << 31) as f64;

impl TpdfNoise {
    pub fn new(seed: u64) -> Self {
        Self { seed, sample: 0 }
    }

    /// Fills `out` with the noise of the next `out.len()` samples.
    #[inline(always)]
    pub fn fill(&mut self, out: &mut [f64]) {
        let mut rest = out;
        while !rest.is_empty() {
            let epoch = self.sample / EPOCH_SAMPLES;
            let left = EPOCH_SAMPLES - self.sample % EPOCH_SAMPLES;
            let n = rest.len().min(usize::try_from(left).unwrap_or(usize::MAX));
            let (now, later) = rest.split_at_mut(n);
            // The low 32 bits of the first uniform's index `2n`.
            let first = (self.sample as u32).wrapping_mul(2);
            fill_epoch(epoch_key(self.seed, epoch), first, now);
            self.sample += n as u64;
            rest = later;
        }
    }
}

/// The 32-bit hash key of a seed and epoch (SplitMix64's output function, folded).
fn epoch_key(seed: u64, epoch: u64) -> u32 {
    let z = mix(seed ^ epoch.wrapping_mul(GAMMA));
    (z ^ (z >> 32)) as u32
}

/// Noise for consecutive samples whose first uniform has index `first` (low bits).
#[inline(always)]
fn fill_epoch(key: u32, first: u32, out: &mut [f64]) {
    for (k, d) in out.iter_mut().enumerate() {
        let index = first.wrapping_add(2 * k as u32);
        let u1 = (hash32(index ^ key) >> 1) as i32;
        let u2 = (hash32(index.wrapping_add(1) ^ key) >> 1) as i32;
        *d = (f64::from(u1) - f64::from(u2)) * UNIFORM_SCALE;
    }
}

/// A 32-bit integer hash with good avalanche (see [`TpdfNoise`]).
#[inline(always)]
fn hash32(mut x: u32) -> u32 {
    x ^= x >> 16;
    x = x.wrapping_mul(0x7feb_352d);
    x ^= x >> 15;
    x = x.wrapping_mul(0x846c_a68b);
    x ^ (x >> 16)
}

/// `v.round()` (halves away from zero) for |v| <= 2^31, without the library call:
/// adding and removing 1.5 * 2^52 rounds to the nearest integer, halves to even (the
/// sum lies where the spacing of doubles is 1); the halves, found exactly as
/// `v - even == ±0.5`, are then moved away from zero.
#[inline(always)]
fn round_half_away(v: f64) -> f64 {
    const SHIFT: f64 = 6_755_399_441_055_744.0;
    let even = (v + SHIFT) - SHIFT;
    if (v - even).abs() == 0.5 {
        v + 0.5f64.copysign(v)
    } else {
        even
    }
}

/// `x` (full scale = ±1.0), already on the grid of `bits`-bit integers (dithered
/// upstream), as that integer: rounded and clamped, without further noise. NaN becomes 0.
pub fn exact_pcm(x: f32, bits: u32) -> i32 {
    let full_scale = (1i64 << (bits - 1)) as f64;
    (f64::from(x) * full_scale)
        .round()
        .clamp(-full_scale, full_scale - 1.0) as i32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dither_is_reproducible_and_within_one_lsb() {
        let mut a = Quantizer::new(16, 0);
        let mut b = Quantizer::new(16, 0);
        for i in 0..10_000 {
            let x = (i as f32 * 0.001).sin() * 0.5;
            let qa = a.quantize(x);
            assert_eq!(qa, b.quantize(x));
            // round(x*s + d) with |d| < 1 lies within 1.5 LSB of x*s.
            assert!((qa as f64 - x as f64 * 32768.0).abs() <= 1.5);
        }
    }

    #[test]
    fn channels_get_different_noise() {
        let mut left = Quantizer::new(16, 0);
        let mut right = Quantizer::new(16, 1);
        let differ = (0..1000).any(|_| left.quantize(0.0) != right.quantize(0.0));
        assert!(differ);
    }

    #[test]
    fn clamps_to_full_scale() {
        let mut q = Quantizer::new(24, 0);
        assert_eq!(q.quantize(4.0), 8_388_607);
        assert_eq!(q.quantize(-4.0), -8_388_608);
        assert_eq!(q.quantize(f32::INFINITY), 8_388_607);
    }

    #[test]
    fn exact_conversion_keeps_grid_values_and_clamps() {
        assert_eq!(exact_pcm(3.0 / 32768.0, 16), 3);
        assert_eq!(exact_pcm(-1.0, 16), -32768);
        assert_eq!(exact_pcm(1.0, 24), 8_388_607);
        assert_eq!(exact_pcm(f32::NAN, 24), 0);
    }

    /// The quantiser written plainly, with `f64::round` and the noise of sample `n` from
    /// its definition: the reference the fast one must match sample for sample.
    fn reference(seed: u64, n: u64, x: f32, bits: u32) -> i32 {
        let full = (1i64 << (bits - 1)) as f64;
        let x = if x.is_nan() { 0.0 } else { x as f64 };
        let uniform = |k: u64| {
            let key = epoch_key(seed, k >> 32);
            f64::from(hash32(k as u32 ^ key) >> 1) / 2f64.powi(31)
        };
        let tpdf = uniform(2 * n) - uniform(2 * n + 1);
        (x * full + tpdf).round().clamp(-full, full - 1.0) as i32
    }

    #[test]
    fn fast_rounding_matches_the_reference_bit_for_bit() {
        let mut signal = SplitMix64::new(7);
        for bits in [8, 16, 24, 32] {
            for channel in 0..3 {
                let mut fast = Quantizer::new(bits, channel);
                let lsb = 1.0 / (1u64 << (bits - 1)) as f32;
                let mut specials = vec![
                    0.0,
                    -0.0,
                    1.0,
                    -1.0,
                    1.0 - lsb,
                    -1.0 + lsb,
                    0.5 * lsb,
                    -0.5 * lsb,
                    1.5 * lsb,
                    -2.5 * lsb,
                    f32::NAN,
                    f32::INFINITY,
                    f32::NEG_INFINITY,
                    f32::MAX,
                    f32::MIN,
                    f32::MIN_POSITIVE,
                    1e-30,
                    1.0000001,
                    -1.0000001,
                ];
                specials.extend((0..100_000).map(|_| {
                    let u = signal.next_unit() as f32 * 2.2 - 1.1;
                    // Half the samples on or next to the integer grid, where ties live.
                    if signal.next_u64() & 1 == 0 {
                        (u / lsb).round() * lsb + (signal.next_u64() % 3) as f32 * 0.25 * lsb
                    } else {
                        u
                    }
                }));
                let mut block = vec![0; specials.len()];
                // Both code paths: the one this CPU takes, and the portable one.
                let mut portable = fast.clone();
                fast.quantize_into(&specials, &mut block);
                let mut portable_block = vec![0; specials.len()];
                portable.quantize_blocks(&specials, &mut portable_block);
                assert_eq!(block, portable_block, "{bits} bits");
                let seed = channel_seed(channel);
                for (n, (&x, &q)) in specials.iter().zip(&block).enumerate() {
                    let expected = reference(seed, n as u64, x, bits);
                    assert_eq!(q, expected, "{bits} bits, x = {x:e}");
                }
            }
        }
    }

    #[test]
    fn rounding_takes_halves_away_from_zero_like_round() {
        let mut cases = vec![
            0.0,
            -0.0,
            0.5,
            -0.5,
            1.5,
            -1.5,
            2.5,
            -2.5,
            2.4999999999999996,
            -2.4999999999999996,
            0.49999999999999994,
            -0.49999999999999994,
            1e-300,
            -1e-300,
            2147483647.5,
            -2147483648.0,
            2147483646.5,
            -2147483647.5,
        ];
        let mut rng = SplitMix64::new(3);
        for _ in 0..100_000 {
            let whole = (rng.next_u64() >> 33) as f64 - 2_147_483_648.0;
            let frac =
                [0.5, -0.5, rng.next_unit(), -rng.next_unit()][(rng.next_u64() % 4) as usize];
            cases.push(whole + frac);
            cases.push(whole * 2.0f64.powi(-((rng.next_u64() % 40) as i32)));
        }
        // Compared as numbers: the sign of a zero is lost in the integer anyway.
        for v in cases
            .into_iter()
            .filter(|v: &f64| v.abs() <= 2_147_483_648.0)
        {
            assert_eq!(round_half_away(v), v.round(), "{v:e}");
        }
    }

    /// Any chunking gives the same noise, across an epoch boundary too, and the two
    /// sides of the boundary differ (a new key, not a repeat).
    #[test]
    fn noise_is_a_function_of_the_sample_index() {
        let start = EPOCH_SAMPLES - 300;
        let mut whole = TpdfNoise::new(42);
        whole.sample = start;
        let mut expected = vec![0.0; 1000];
        whole.fill(&mut expected);
        for chunk in [1, 7, 256, 999] {
            let mut noise = TpdfNoise::new(42);
            noise.sample = start;
            let mut got = vec![0.0; 1000];
            for part in got.chunks_mut(chunk) {
                noise.fill(part);
            }
            assert_eq!(got, expected, "chunks of {chunk}");
        }
        let mut next_epoch = TpdfNoise::new(42);
        next_epoch.sample = 2 * EPOCH_SAMPLES - 300;
        let mut later = vec![0.0; 1000];
        next_epoch.fill(&mut later);
        assert_ne!(later[300..], expected[300..]);
    }

    /// The noise is triangular on (-1, 1): the share of values in each tenth of the range
    /// follows the triangle's area (within 0.3 %), it is uncorrelated from one sample to
    /// the next (|r| < 0.005) and has the variance of TPDF, 1/6 (within 1 %).
    #[test]
    fn noise_has_the_triangular_distribution() {
        let mut noise = TpdfNoise::new(channel_seed(0));
        let mut d = vec![0.0; 1 << 20];
        noise.fill(&mut d);
        let n = d.len() as f64;
        let mut bins = [0usize; 10];
        for &v in &d {
            assert!(v > -1.0 && v < 1.0);
            bins[(((v + 1.0) * 5.0) as usize).min(9)] += 1;
        }
        for (i, &count) in bins.iter().enumerate() {
            let (a, b) = (i as f64 / 5.0 - 1.0, (i + 1) as f64 / 5.0 - 1.0);
            // Area of the triangle 1 - |x| over [a, b].
            let cdf = |x: f64| {
                if x < 0.0 {
                    0.5 * (1.0 + x).powi(2)
                } else {
                    1.0 - 0.5 * (1.0 - x).powi(2)
                }
            };
            let expected = cdf(b) - cdf(a);
            assert!(
                (count as f64 / n - expected).abs() < 0.003,
                "bin {i}: {count}"
            );
        }
        let variance = d.iter().map(|v| v * v).sum::<f64>() / n;
        assert!((variance - 1.0 / 6.0).abs() < 1.0 / 600.0, "{variance}");
        let lag1 = d.windows(2).map(|w| w[0] * w[1]).sum::<f64>() / n / variance;
        assert!(lag1.abs() < 0.005, "{lag1}");
    }

    #[test]
    fn dither_is_triangular_with_zero_mean() {
        // Mean of quantising 0.25 LSB: the dither makes the expectation exact (0.25).
        let mut q = Quantizer::new(16, 3);
        let n = 200_000;
        let sum: i64 = (0..n).map(|_| q.quantize(0.25 / 32768.0) as i64).sum();
        let mean = sum as f64 / n as f64;
        assert!((mean - 0.25).abs() < 0.01, "mean {mean}");
    }
}
