//! Upper bounds on what an FIR filter can output over a stretch of input, from two
//! cheap measures of that input: its peak magnitude `M0 = max |x|` and the peak magnitude
//! of its second difference `M2 = max |x[n-1] - 2 x[n] + x[n+1]|`.
//!
//! Why: the true-peak detectors (the limiter's and the meters') spend most of their time
//! on interpolation filters whose output matters only when it is large: above the
//! limiter's ceiling, above a meter's running maximum. A bound that is cheap to evaluate
//! and provably not below the filter's output lets them skip the filter wherever the
//! bound already settles the question, with results identical to computing everything.
//!
//! The bound: any FIR `y = sum h[j] x[j]` can be written, around a centre tap `c`, as
//!
//! ```text
//! y = (a - b) x[c] + b x[c+1] + sum e[k] (x[k] - 2 x[k+1] + x[k+2])
//! ```
//!
//! with `a = sum h`, `b = sum (j - c) h[j]`, and `e` the double running sum of
//! `h - (a - b) d[c] - b d[c+1]` (which has zero sum and zero first moment, so `e` ends at
//! zero and the identity holds). Hence `|y| <= (|a - b| + |b|) M0 + (sum |e|) M2`. For an
//! interpolator (`a = 1`, `0 <= b <= 1`) the first factor is 1: the output is bounded by
//! the sample peak plus a multiple of the curvature peak, which music keeps small (the
//! second difference is a 12 dB/octave high-pass). The centre is chosen to minimise
//! `sum |e|`.

use crate::dsp::cpu::Isa;

/// Relative allowance added to every evaluated bound: covers the f32 rounding of the
/// filters' own sums (at most `taps * 2^-24` of `sum |h x|`, about 1e-5 for 74 taps of
/// gain 3) and of the measured second differences, with room to spare.
const ROUNDING_MARGIN: f64 = 1e-4;

/// Frames per granule of [`InputPeaks::granules`] (a multiple of 4): the resolution at
/// which peaks are kept. A window's bound takes every granule it touches, so it covers a little more
/// than the window (a superset only loosens the bound).
pub const GRANULE_FRAMES: usize = 16;

/// The coefficients of the bound of one filter (or the sum or maximum of several). Two
/// bounds hold at once and the smaller is used: `absolute * M0` (the plain sum of
/// |taps|, tight for signals near Nyquist) and `peak * M0 + curvature * M2` (tight for
/// smooth signals).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct FirBound {
    /// Sum of |taps|: multiplies the input's peak magnitude alone.
    pub absolute: f64,
    /// Multiplies the input's peak magnitude, beside `curvature`.
    pub peak: f64,
    /// Multiplies the peak magnitude of the input's second difference.
    pub curvature: f64,
}

impl FirBound {
    /// The bound of the filter `taps` (any order; only the values matter).
    pub fn of(taps: &[f64]) -> Self {
        let n = taps.len();
        let absolute: f64 = taps.iter().map(|h| h.abs()).sum();
        let mut best = Self {
            absolute,
            peak: absolute,
            curvature: 0.0,
        };
        if n < 2 {
            return best;
        }
        let sum: f64 = taps.iter().sum();
        let mut best_curvature = f64::INFINITY;
        let mut rest = vec![0.0; n];
        for centre in 0..n - 1 {
            let moment: f64 = taps
                .iter()
                .enumerate()
                .map(|(j, h)| (j as f64 - centre as f64) * h)
                .sum();
            rest.copy_from_slice(taps);
            rest[centre] -= sum - moment;
            rest[centre + 1] -= moment;
            let (mut first, mut second, mut total) = (0.0, 0.0, 0.0);
            for r in &rest {
                first += r;
                second += first;
                total += f64::abs(second);
            }
            if total < best_curvature {
                best_curvature = total;
                best = Self {
                    absolute,
                    peak: (sum - moment).abs() + moment.abs(),
                    curvature: total,
                };
            }
        }
        best
    }

    /// A bound of the larger of two filters' outputs.
    pub fn max(self, other: Self) -> Self {
        Self {
            absolute: self.absolute.max(other.absolute),
            peak: self.peak.max(other.peak),
            curvature: self.curvature.max(other.curvature),
        }
    }

    /// A bound of the sum of two filters' outputs (in magnitude).
    pub fn plus(self, other: Self) -> Self {
        Self {
            absolute: self.absolute + other.absolute,
            peak: self.peak + other.peak,
            curvature: self.curvature + other.curvature,
        }
    }

    /// A bound of the filter's output times `factor` (non-negative).
    pub fn scaled(self, factor: f64) -> Self {
        Self {
            absolute: self.absolute * factor,
            peak: self.peak * factor,
            curvature: self.curvature * factor,
        }
    }

    /// The bound for input whose measures over the filter's window are `peaks`.
    #[inline]
    pub fn at(&self, peaks: InputPeaks) -> f64 {
        let m0 = peaks.peak as f64;
        let smooth = self.peak * m0 + self.curvature * peaks.curvature as f64;
        smooth.min(self.absolute * m0) * (1.0 + ROUNDING_MARGIN)
    }
}

/// `M0` and `M2` of a stretch of input.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct InputPeaks {
    /// Largest |x|.
    pub peak: f32,
    /// Largest |x[n-1] - 2 x[n] + x[n+1]| over the stretch's interior.
    pub curvature: f32,
}

impl InputPeaks {
    pub fn max(self, other: Self) -> Self {
        Self {
            peak: self.peak.max(other.peak),
            curvature: self.curvature.max(other.curvature),
        }
    }

    /// The measures of each granule of [`GRANULE_FRAMES`] frames of `x` (the last one
    /// possibly shorter) into `out` (at least `x.len().div_ceil(GRANULE_FRAMES)` long).
    /// The second difference centred on frame `n` counts in `n`'s granule; it needs both
    /// neighbours, so the first and last frames of `x` have none. Any FIR window inside
    /// `x` has its interior second differences in the granules it touches.
    /// `isa` picks the copy that runs (see [`crate::dsp::cpu`]).
    pub fn granules(isa: Isa, x: &[f32], out: &mut [InputPeaks]) {
        match isa {
            // SAFETY: `Isa::Avx` and `Isa::Avx2` are detected only when the CPU reports AVX.
            #[cfg(target_arch = "x86_64")]
            Isa::Avx | Isa::Avx2 => unsafe { granules_avx(x, out) },
            _ => Self::granules_with(x, out, inner_granule),
        }
    }

    /// [`Self::granules`] with `inner` measuring the granules that have both neighbours.
    #[inline(always)]
    fn granules_with(
        x: &[f32],
        out: &mut [InputPeaks],
        inner: impl Fn(&[f32; GRANULE_FRAMES + 2]) -> InputPeaks,
    ) {
        let n = x.len();
        for (g, slot) in out.iter_mut().enumerate().take(n.div_ceil(GRANULE_FRAMES)) {
            let start = g * GRANULE_FRAMES;
            *slot = match x.get(start.wrapping_sub(1)..start + GRANULE_FRAMES + 1) {
                // Inside `x`: the granule and one frame on each side, in fixed-size
                // arrays so the work vectorises.
                Some(around) => {
                    let around: &[f32; GRANULE_FRAMES + 2] =
                        around.try_into().expect("the range has that length");
                    inner(around)
                }
                None => Self::edge_granule(x, start),
            };
        }
    }

    /// A granule at either end of `x`, where some neighbours are missing.
    fn edge_granule(x: &[f32], start: usize) -> InputPeaks {
        let end = (start + GRANULE_FRAMES).min(x.len());
        let peak = x[start..end].iter().fold(0.0f32, |m, v| m.max(v.abs()));
        let from = start.max(1);
        let to = end.min(x.len().saturating_sub(1));
        let mut curvature = 0.0f32;
        if from < to {
            for w in x[from - 1..to + 1].windows(3) {
                curvature = curvature.max((w[0] - 2.0 * w[1] + w[2]).abs());
            }
        }
        InputPeaks { peak, curvature }
    }

    /// The measures over frames `range` of the signal whose granules are `granules`
    /// (a superset of the range: every granule it touches).
    #[inline]
    pub fn over(granules: &[InputPeaks], range: std::ops::Range<usize>) -> InputPeaks {
        if range.is_empty() {
            return InputPeaks::default();
        }
        let first = range.start / GRANULE_FRAMES;
        let last = (range.end - 1) / GRANULE_FRAMES;
        granules
            .get(first..=last.min(granules.len().saturating_sub(1)))
            .unwrap_or(&[])
            .iter()
            .fold(InputPeaks::default(), |m, &g| m.max(g))
    }
}

/// [`InputPeaks::granules`] compiled for AVX, eight frames per instruction (the same
/// maxima, so the same values).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
fn granules_avx(x: &[f32], out: &mut [InputPeaks]) {
    InputPeaks::granules_with(x, out, |around| inner_granule_avx(around));
}

/// [`inner_granule`] in 8-lane AVX.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
#[inline]
fn inner_granule_avx(around: &[f32; GRANULE_FRAMES + 2]) -> InputPeaks {
    use std::arch::x86_64::*;
    const _: () = assert!(GRANULE_FRAMES.is_multiple_of(8));
    let p = around.as_ptr();
    let sign = _mm256_set1_ps(-0.0);
    let two = _mm256_set1_ps(2.0);
    let mut peak = _mm256_setzero_ps();
    let mut curvature = _mm256_setzero_ps();
    for k in (0..GRANULE_FRAMES).step_by(8) {
        // SAFETY: the loads read 8 floats at offsets 0 ..= GRANULE_FRAMES - 6 of an array
        // of GRANULE_FRAMES + 2.
        let (before, at, after) = unsafe {
            (
                _mm256_loadu_ps(p.add(k)),
                _mm256_loadu_ps(p.add(k + 1)),
                _mm256_loadu_ps(p.add(k + 2)),
            )
        };
        peak = _mm256_max_ps(peak, _mm256_andnot_ps(sign, at));
        let d = _mm256_sub_ps(before, _mm256_mul_ps(two, at));
        curvature = _mm256_max_ps(curvature, _mm256_andnot_ps(sign, _mm256_add_ps(d, after)));
    }
    // Fold the halves, then the four lanes of both: lanes 0-1 peak, 2-3 curvature.
    let peak = _mm_max_ps(_mm256_castps256_ps128(peak), _mm256_extractf128_ps(peak, 1));
    let curvature = _mm_max_ps(
        _mm256_castps256_ps128(curvature),
        _mm256_extractf128_ps(curvature, 1),
    );
    let pair = _mm_max_ps(
        _mm_movelh_ps(peak, curvature),
        _mm_movehl_ps(curvature, peak),
    );
    let folded = _mm_max_ps(pair, _mm_shuffle_ps(pair, pair, 0b10_11_00_01));
    InputPeaks {
        peak: _mm_cvtss_f32(folded),
        curvature: _mm_cvtss_f32(_mm_movehl_ps(folded, folded)),
    }
}

/// The measures of a granule from it and one frame on each side.
#[inline]
fn inner_granule(around: &[f32; GRANULE_FRAMES + 2]) -> InputPeaks {
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: SSE is part of x86-64; the loads read 4 floats at offsets 0 ..=
        // GRANULE_FRAMES - 2 of an array of GRANULE_FRAMES + 2.
        unsafe {
            use std::arch::x86_64::*;
            let p = around.as_ptr();
            let sign = _mm_set1_ps(-0.0);
            let two = _mm_set1_ps(2.0);
            let mut peak = _mm_setzero_ps();
            let mut curvature = _mm_setzero_ps();
            for k in (0..GRANULE_FRAMES).step_by(4) {
                peak = _mm_max_ps(peak, _mm_andnot_ps(sign, _mm_loadu_ps(p.add(k + 1))));
                let d = _mm_sub_ps(
                    _mm_loadu_ps(p.add(k)),
                    _mm_mul_ps(two, _mm_loadu_ps(p.add(k + 1))),
                );
                let c = _mm_andnot_ps(sign, _mm_add_ps(d, _mm_loadu_ps(p.add(k + 2))));
                curvature = _mm_max_ps(curvature, c);
            }
            // Fold the four lanes of both into one: lanes 0-1 peak, 2-3 curvature.
            let pair = _mm_max_ps(
                _mm_movelh_ps(peak, curvature),
                _mm_movehl_ps(curvature, peak),
            );
            let folded = _mm_max_ps(pair, _mm_shuffle_ps(pair, pair, 0b10_11_00_01));
            let mut lanes = [0.0f32; 4];
            _mm_storeu_ps(lanes.as_mut_ptr(), folded);
            InputPeaks {
                peak: lanes[0],
                curvature: lanes[2],
            }
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let mut peak = 0.0f32;
        let mut curvature = 0.0f32;
        for k in 0..GRANULE_FRAMES {
            peak = larger(peak, around[k + 1].abs());
            curvature = larger(
                curvature,
                (around[k] - 2.0 * around[k + 1] + around[k + 2]).abs(),
            );
        }
        InputPeaks { peak, curvature }
    }
}

#[cfg(not(target_arch = "x86_64"))]
/// The larger of two values that are not NaN: one `maxss` (`f32::max` also handles NaN,
/// which costs a compare and a blend on x86).
#[inline]
fn larger(a: f32, b: f32) -> f32 {
    if a > b { a } else { b }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `len` values of the harness noise for `seed`, as f64.
    fn noise(len: usize, seed: u64) -> Vec<f64> {
        lathe_engine::harness::white_noise(seed, len)
            .into_iter()
            .map(f64::from)
            .collect()
    }

    fn measures(x: &[f64]) -> InputPeaks {
        let peak = x.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        let curvature = x
            .windows(3)
            .fold(0.0f64, |m, w| m.max((w[0] - 2.0 * w[1] + w[2]).abs()));
        InputPeaks {
            peak: peak as f32,
            curvature: curvature as f32,
        }
    }

    /// The bound holds for random filters on random signals, on the filter's worst-case
    /// input (the signs of its taps), and on smooth signals, where it is tight.
    #[test]
    fn bound_is_never_below_the_output() {
        for (taps, seed) in [(2, 1), (5, 2), (24, 3), (74, 4)] {
            let h = noise(taps, seed);
            let bound = FirBound::of(&h);
            let worst: Vec<f64> = h.iter().map(|v| v.signum()).collect();
            let signals = [
                noise(taps, seed + 100),
                worst,
                (0..taps).map(|n| (0.01 * n as f64).sin()).collect(),
            ];
            for x in signals {
                let y: f64 = h.iter().zip(&x).map(|(a, b)| a * b).sum();
                let b = bound.at(measures(&x));
                assert!(y.abs() <= b, "{taps} taps: |{y}| > {b}");
            }
        }
    }

    /// A windowed-sinc half-sample interpolator: sample peak weight 1, curvature weight
    /// below 1, and a slow sine is bounded within 0.1 % of its peak.
    #[test]
    fn interpolator_bound_is_close_to_the_sample_peak() {
        let h: Vec<f64> = (0..24)
            .map(|j| {
                let t = j as f64 - 11.5;
                let r = t / 12.0;
                (std::f64::consts::PI * t).sin() / (std::f64::consts::PI * t) * (1.0 - r * r)
            })
            .collect();
        let sum: f64 = h.iter().sum();
        let h: Vec<f64> = h.iter().map(|v| v / sum).collect();
        let bound = FirBound::of(&h);
        assert!((bound.peak - 1.0).abs() < 1e-9, "{bound:?}");
        assert!(bound.curvature < 1.0, "{bound:?}");
        let x: Vec<f64> = (0..24).map(|n| (0.002 * n as f64).cos()).collect();
        assert!(bound.at(measures(&x)) < 1.001);
    }

    /// Granule measures cover every window: the measure over any range is at least the
    /// range's own.
    #[test]
    fn granules_cover_their_windows() {
        let x: Vec<f32> = noise(203, 9).iter().map(|v| *v as f32).collect();
        let mut g = vec![InputPeaks::default(); x.len().div_ceil(GRANULE_FRAMES)];
        InputPeaks::granules(Isa::detect(), &x, &mut g);
        for start in 0..x.len() {
            for end in start + 1..(start + 40).min(x.len()) {
                let window = &x[start..end];
                let peak = window.iter().fold(0.0f32, |m, v| m.max(v.abs()));
                let curvature = window
                    .windows(3)
                    .fold(0.0f32, |m, w| m.max((w[0] - 2.0 * w[1] + w[2]).abs()));
                let over = InputPeaks::over(&g, start..end);
                assert!(over.peak >= peak && over.curvature >= curvature);
            }
        }
    }

    /// The AVX granules are those of the baseline code, exactly (and each granule is the
    /// maximum over its frames, not a loose cover).
    #[test]
    fn instruction_sets_give_the_same_granules() {
        let x: Vec<f32> = noise(203, 4).iter().map(|v| *v as f32 * 3.0).collect();
        let count = x.len().div_ceil(GRANULE_FRAMES);
        let mut dispatched = vec![InputPeaks::default(); count];
        InputPeaks::granules(Isa::detect(), &x, &mut dispatched);
        let mut baseline = vec![InputPeaks::default(); count];
        InputPeaks::granules_with(&x, &mut baseline, inner_granule);
        assert_eq!(dispatched, baseline);
        let middle = &x[GRANULE_FRAMES - 1..2 * GRANULE_FRAMES + 1];
        let curvature = middle
            .windows(3)
            .fold(0.0f32, |m, w| m.max((w[0] - 2.0 * w[1] + w[2]).abs()));
        let peak = middle[1..=GRANULE_FRAMES]
            .iter()
            .fold(0.0f32, |m, v| m.max(v.abs()));
        assert_eq!(baseline[1], InputPeaks { peak, curvature });
    }
}
