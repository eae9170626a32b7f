//! A true-peak detector that reads the peak of every frame's span of the oversampled
//! signal, for a limiter that must know, frame by frame, whether its ceiling is at risk.
//!
//! The interpolating branches of an [`oversample`](crate::dsp::oversample) prototype run
//! through [`PolyphaseBank`], and each oversampled value is refined by a parabola
//! through it and its two neighbours around a local maximum (which removes most of the
//! under-read of plain oversampling on content near Nyquist).
//!
//! The detector keeps nothing but its input history: [`TruePeakDetector::spans`]
//! computes the spans of any run of frames of the loaded block (and of a few frames
//! before it) from the input alone. A caller can therefore compute only the frames it
//! needs, for instance where [`TruePeakDetector::bound`] says the ceiling might be
//! reached, and get exactly the values a full computation gives.
//!
//! Sized in `new`; `load`, `spans` and `finish` never allocate.

use crate::dsp::fir_bound::FirBound;
use crate::dsp::input_history::InputHistory;
use crate::dsp::oversample::{OversamplingFilter, sanitize};
use crate::dsp::polyphase::PolyphaseBank;

/// Frames before the loaded block whose spans [`TruePeakDetector::spans`] can compute.
pub const SPAN_LOOKBACK_FRAMES: usize = 2;

/// Estimates the true (inter-sample) peak of one channel, block by block.
///
/// The estimate for a loaded frame describes the signal
/// [`TruePeakDetector::latency_frames`] frames earlier (the span from that frame to the
/// next).
#[derive(Clone)]
pub struct TruePeakDetector {
    factor: usize,
    half_frames: usize,
    /// Taps of each branch: `2 * half_frames`.
    taps: usize,
    /// Branches 1 .. factor of the interpolator (branch 0 is the delayed input itself).
    /// Their first tap, which would meet the oldest frame of the window, is zero for a
    /// Nyquist filter and is left out.
    branches: PolyphaseBank,
    /// The input history and the loaded block.
    input: InputHistory,
    /// Branch outputs of one run, branch after branch.
    points: Box<[f32]>,
    /// The run's oversampled values in time order.
    sequence: Box<[f32]>,
    /// Each oversampled value's magnitude, raised by the parabola centred before it.
    refined: Box<[f32]>,
    bound: FirBound,
}

impl TruePeakDetector {
    /// `factor` of at least 4 is what BS.1770 true-peak meters use; `design` sets the
    /// interpolator ([`OversamplingFilter::TRUE_PEAK`] unless a shorter one is known to do).
    /// Blocks longer than `max_block_frames` are split by [`Self::process`]; [`Self::load`]
    /// takes at most that many frames.
    pub fn new(factor: usize, design: OversamplingFilter, max_block_frames: usize) -> Self {
        let factor = sanitize(factor);
        let proto = design.prototype(factor);
        let half_frames = design.half_frames();
        let taps = 2 * half_frames;
        let max_block_frames = max_block_frames.max(1);
        // Tap j of branch b meets input x[n - (taps - 1 - j)] for output point
        // (n - half_frames) * factor + b + 1.
        let branches = PolyphaseBank::new(factor - 1, taps, |b, j| {
            proto
                .get(b + 1 + (taps - 1 - j) * factor)
                .copied()
                .unwrap_or(0.0) as f32
        });
        // Points of the frame before the first span, for its parabolas.
        let run_frames = max_block_frames + SPAN_LOOKBACK_FRAMES + 1;
        let history = taps + SPAN_LOOKBACK_FRAMES;
        Self {
            factor,
            half_frames,
            taps,
            branches,
            input: InputHistory::new(history, max_block_frames),
            points: vec![0.0; (factor - 1) * run_frames].into_boxed_slice(),
            sequence: vec![0.0; factor * run_frames].into_boxed_slice(),
            refined: vec![0.0; factor * run_frames].into_boxed_slice(),
            bound: span_bound(&proto, factor),
        }
    }

    pub fn latency_frames(&self) -> usize {
        self.half_frames
    }

    /// Input frames before a frame that its span depends on (inclusive of the frame
    /// itself: the span of frame `t` reads input frames `t - reach + 1 ..= t`).
    pub fn reach_frames(&self) -> usize {
        self.taps + 1
    }

    /// Frames of input kept before the loaded block ([`Self::input`] starts with them).
    pub fn history_frames(&self) -> usize {
        self.input.history_frames()
    }

    /// A bound of every span value from the sample and curvature peaks of the input
    /// frames it reads (see [`Self::reach_frames`]).
    pub fn bound(&self) -> FirBound {
        self.bound
    }

    /// The input history followed by the loaded block.
    pub fn input(&self) -> &[f32] {
        self.input.frames()
    }

    /// Loads the next block (at most `max_block_frames`; more is cut).
    pub fn load(&mut self, block: &[f32]) {
        self.input.load(block);
    }

    /// Writes to `out` the spans of frames `first .. first + out.len()` of the loaded
    /// block, where `first` may reach [`SPAN_LOOKBACK_FRAMES`] frames before it (negative).
    /// Frames outside that range are left alone.
    pub fn spans(&mut self, first: isize, out: &mut [f32]) {
        let lookback = SPAN_LOOKBACK_FRAMES as isize;
        let last = first + out.len() as isize;
        if first < -lookback || last > self.input.loaded_frames() as isize || out.is_empty() {
            return;
        }
        // Points of frames first - 1 .. last: the first frame's last points give the
        // parabolas of the first span.
        let frames = out.len() + 1;
        let newest = (self.input.history_frames() as isize + first - 1) as usize;
        let input = self.input.frames();
        let window = &input[newest + 1 - self.taps..newest + frames];
        let branches = self.factor - 1;
        let points = &mut self.points[..branches * frames];
        self.branches.run(window, points);
        let f = self.factor;
        let sequence = &mut self.sequence[..f * frames];
        for (i, frame) in sequence.chunks_exact_mut(f).enumerate() {
            // Branch 0 of a Nyquist filter is the input delayed by `half_frames`.
            frame[0] = input[newest + i - self.half_frames];
            for (k, p) in frame[1..].iter_mut().enumerate() {
                *p = points[k * frames + i];
            }
        }
        let refined = &mut self.refined[..f * out.len()];
        for (r, w) in refined.iter_mut().zip(sequence[f - 2..].windows(3)) {
            *r = w[2].abs().max(parabola_peak(w[0], w[1], w[2]));
        }
        for (span, r) in out.iter_mut().zip(refined.chunks_exact(f)) {
            *span = r.iter().fold(0.0f32, |m, &v| m.max(v));
        }
    }

    /// Ends the loaded block: its last frames become the history.
    pub fn finish(&mut self) {
        self.input.finish();
    }

    /// Pushes `input`; writes to `spans` (same length) the peak magnitude estimate of
    /// each delayed frame's span.
    pub fn process(&mut self, input: &[f32], spans: &mut [f32]) {
        for (x, spans) in input
            .chunks(self.input.max_block_frames())
            .zip(spans.chunks_mut(self.input.max_block_frames()))
        {
            let n = x.len().min(spans.len());
            self.load(&x[..n]);
            self.spans(0, &mut spans[..n]);
            self.finish();
        }
    }

    pub fn reset(&mut self) {
        self.input.reset();
    }
}

/// Bound of a span: the largest oversampled magnitude plus the most a parabola adds to
/// it, which is an eighth of the oversampled second difference around the vertex (with
/// `u = b - a >= 0` and `v = b - c >= 0` at a local maximum `b`, the vertex exceeds `b`
/// by `(u - v)^2 / (8 (u + v)) <= (u + v) / 8`). Every oversampled value and second
/// difference is an FIR of the input; their bounds come from the prototype's taps as
/// the branches use them (rounded to f32).
fn span_bound(proto: &[f64], factor: usize) -> FirBound {
    let tap = |i: isize| {
        usize::try_from(i)
            .ok()
            .and_then(|i| proto.get(i))
            .map_or(0.0, |&h| f64::from(h as f32))
    };
    // Oversampled value m reads input frame n with tap m - n * factor (m placed so every
    // tap of every neighbour lands on some frame n in 0..frames).
    let frames = (proto.len() / factor + 3) as isize;
    let fir = |m: isize, weights: &[(isize, f64)]| -> Vec<f64> {
        (0..frames)
            .map(|n| {
                weights
                    .iter()
                    .map(|&(d, w)| w * tap(m + d - n * factor as isize))
                    .sum()
            })
            .collect()
    };
    let base = (proto.len() + factor) as isize;
    (0..factor as isize).fold(FirBound::default(), |bound, r| {
        let m = base + r;
        let value = FirBound::of(&fir(m, &[(0, 1.0)]));
        let curvature = FirBound::of(&fir(m, &[(-1, 1.0), (0, -2.0), (1, 1.0)]));
        bound.max(value.plus(curvature.scaled(0.125)))
    })
}

/// Peak magnitude of the parabola through three equally spaced points when the middle
/// one is a local extremum of magnitude; otherwise 0. Branch-free (selects only), so a
/// loop over many points vectorises.
#[inline]
pub(crate) fn parabola_peak(a: f32, b: f32, c: f32) -> f32 {
    // Work on the side of b's sign so a negative peak is a maximum too.
    let flip = if b < 0.0 { -1.0 } else { 1.0 };
    let (a, b, c) = (a * flip, b * flip, c * flip);
    let curvature = a - 2.0 * b + c;
    let d = c - a;
    let vertex = b - d * d / (8.0 * curvature);
    if b >= a && b >= c && curvature < 0.0 {
        vertex
    } else {
        0.0
    }
}

/// True peak of a whole signal (max over [`TruePeakDetector`] estimates, including the
/// filter's tail). Convenience for offline use and tests: builds (allocates) a detector.
pub fn true_peak(signal: &[f32], factor: usize) -> f32 {
    let mut det = TruePeakDetector::new(factor, OversamplingFilter::TRUE_PEAK, 1024);
    let tail = det.latency_frames() + 2;
    let padded: Vec<f32> = signal
        .iter()
        .copied()
        .chain(std::iter::repeat_n(0.0, tail))
        .collect();
    let mut spans = vec![0.0f32; padded.len()];
    det.process(&padded, &mut spans);
    spans.iter().fold(0.0f32, |m, &p| m.max(p))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dsp::fir_bound::{GRANULE_FRAMES, InputPeaks};
    use crate::dsp::oversample::Upsampler;
    use lathe_engine::harness::white_noise;

    /// Peak estimate over the steady middle of a signal (the abrupt start and end of a
    /// test tone have Gibbs overshoots of their own).
    fn steady_true_peak(x: &[f32], factor: usize) -> f32 {
        let mut det = TruePeakDetector::new(factor, OversamplingFilter::TRUE_PEAK, 100);
        let lat = det.latency_frames();
        let n = x.len();
        let mut spans = vec![0.0f32; n];
        det.process(x, &mut spans);
        spans
            .iter()
            .enumerate()
            .filter(|&(i, _)| i >= n / 4 + lat && i < 3 * n / 4 + lat)
            .fold(0.0f32, |m, (_, &p)| m.max(p))
    }

    #[test]
    fn true_peak_finds_the_inter_sample_peak_of_fs4_at_45_degrees() {
        // Samples +-0.7071, true peak 1.0 (3.01 dB over the sample peak).
        let x: Vec<f32> = (0..2000)
            .map(|i| {
                (std::f64::consts::FRAC_PI_2 * i as f64 + std::f64::consts::FRAC_PI_4).sin() as f32
            })
            .collect();
        let tp = steady_true_peak(&x, 4);
        assert!((tp - 1.0).abs() < 0.002, "true peak {tp}");
        // Sines near Nyquist at awkward phases: within 0.05 dB of 1.0 at 4x.
        for (freq, phase) in [(19_000.0, 0.3), (20_000.0, 1.1), (21_000.0, 0.05)] {
            let w = 2.0 * std::f64::consts::PI * freq / 48_000.0;
            let y: Vec<f32> = (0..4000)
                .map(|i| (w * i as f64 + phase).sin() as f32)
                .collect();
            let tp = steady_true_peak(&y, 4);
            assert!(
                (20.0 * tp.log10()).abs() < 0.05,
                "{freq} Hz: true peak {tp}"
            );
        }
    }

    /// The block detector against the frame-by-frame [`Upsampler`] with the parabola
    /// applied point by point: within 2e-6 (f32 sums in another order) on noise, for each
    /// design and factor, and bit-identical whatever the block split.
    #[test]
    fn block_detector_matches_the_frame_by_frame_reference() {
        let mut state = 0x9e37_79b9u32;
        let x: Vec<f32> = (0..3000)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                state as f32 / u32::MAX as f32 * 2.0 - 1.0
            })
            .collect();
        for design in [OversamplingFilter::TRUE_PEAK, OversamplingFilter::DETECTOR] {
            for factor in [4, 8, 16] {
                let mut up = Upsampler::new(factor, design);
                let mut frame = vec![0.0f32; factor];
                let (mut a, mut b) = (0.0f32, 0.0f32);
                let reference: Vec<f32> = x
                    .iter()
                    .map(|&s| {
                        up.process_frame(s, &mut frame);
                        let mut peak = 0.0f32;
                        for &c in &frame {
                            peak = peak.max(c.abs()).max(parabola_peak(a, b, c));
                            (a, b) = (b, c);
                        }
                        peak
                    })
                    .collect();
                let mut whole = vec![0.0f32; x.len()];
                TruePeakDetector::new(factor, design, 512).process(&x, &mut whole);
                for (i, (w, r)) in whole.iter().zip(&reference).enumerate() {
                    assert!(
                        (w - r).abs() < 2e-6,
                        "{design:?} x{factor} frame {i}: {w} vs {r}"
                    );
                }
                for block in [1, 7, 64] {
                    let mut det = TruePeakDetector::new(factor, design, block);
                    let mut split = vec![0.0f32; x.len()];
                    det.process(&x, &mut split);
                    assert_eq!(split, whole, "{design:?} x{factor} blocks of {block}");
                }
            }
        }
    }

    /// Spans computed run by run, from any frame (lookback included), equal the spans
    /// of a whole-signal pass.
    #[test]
    fn any_run_of_spans_equals_the_whole_pass() {
        let x = white_noise(0x1234_5678, 700);
        for design in [OversamplingFilter::TRUE_PEAK, OversamplingFilter::DETECTOR] {
            let mut whole = vec![0.0f32; x.len()];
            TruePeakDetector::new(4, design, 1024).process(&x, &mut whole);
            let mut det = TruePeakDetector::new(4, design, 100);
            for (b, block) in x.chunks(100).enumerate() {
                det.load(block);
                for (first, len) in [(-2isize, 5usize), (0, 100), (37, 11), (98, 2)] {
                    let mut part = vec![0.0f32; len];
                    det.spans(first, &mut part);
                    let at = b as isize * 100 + first;
                    for (k, v) in part.iter().enumerate() {
                        let i = at + k as isize;
                        if i >= 0 {
                            assert_eq!(*v, whole[i as usize], "{design:?} frame {i}");
                        }
                    }
                }
                det.finish();
            }
        }
    }

    /// The span bound holds on every frame of noise, of loud tones up to 0.49 fs and of
    /// a square wave, measured over the frames each span reads; and on a low tone its
    /// largest value is within 1 % of the largest span, so it is useful.
    #[test]
    fn span_bound_holds_and_is_tight_on_smooth_signals() {
        let tone = |freq: f64, amp: f64| -> Vec<f32> {
            (0..3000)
                .map(|n| (amp * (std::f64::consts::TAU * freq * n as f64 + 0.4).sin()) as f32)
                .collect()
        };
        let square: Vec<f32> = (0..3000)
            .map(|n| if (n / 37) % 2 == 0 { 0.9 } else { -0.9 })
            .collect();
        for design in [OversamplingFilter::TRUE_PEAK, OversamplingFilter::DETECTOR] {
            let det = TruePeakDetector::new(4, design, 512);
            let reach = det.reach_frames();
            for (name, x) in [
                ("noise", white_noise(99, 3000)),
                ("0.49 fs", tone(0.49, 0.9)),
                ("0.25 fs", tone(0.25, 0.9)),
                ("square", square.clone()),
                ("low tone", tone(0.002, 0.5)),
            ] {
                let mut spans = vec![0.0f32; x.len()];
                TruePeakDetector::new(4, design, 512).process(&x, &mut spans);
                let (mut top_bound, mut top_span) = (0.0f64, 0.0f64);
                for t in reach..x.len() {
                    let window = &x[t + 1 - reach..=t];
                    let mut g = vec![InputPeaks::default(); window.len().div_ceil(GRANULE_FRAMES)];
                    InputPeaks::granules(crate::dsp::cpu::Isa::detect(), window, &mut g);
                    let peaks = InputPeaks::over(&g, 0..window.len());
                    let bound = det.bound().at(peaks);
                    assert!(
                        f64::from(spans[t]) <= bound,
                        "{design:?} {name} frame {t}: span {} over bound {bound}",
                        spans[t]
                    );
                    top_bound = top_bound.max(bound);
                    top_span = top_span.max(f64::from(spans[t]));
                }
                if name == "low tone" {
                    let ratio = top_bound / top_span;
                    assert!(
                        ratio < 1.01,
                        "{design:?}: largest bound {ratio} x largest span"
                    );
                }
            }
        }
    }
}
