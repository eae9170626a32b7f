//! Polyphase FIR oversampling (2x, 4x, 8x) and a true-peak estimator.
//!
//! Both directions use a linear-phase low-pass prototype, a Kaiser-windowed sinc with its
//! cutoff exactly at the original Nyquist frequency, in one of three [`FilterDesign`]s:
//! [`FilterDesign::AUDIO`] (110 dB stopband, passband to 0.45 fs) for signal paths,
//! [`FilterDesign::TRUE_PEAK`] (70 dB, passband to 0.48 fs) for peak estimation, where the
//! flat passband close to Nyquist matters more than a deep stopband (an image at -70 dB
//! moves a peak estimate by less than 0.003 dB), and the shorter
//! [`FilterDesign::DETECTOR`] (70 dB, passband to 0.47 fs) for a detector whose reading
//! near Nyquist is backed by another bound (the limiter's near-Nyquist envelope).
//! - The cutoff at `fs/2` makes it an L-th band (Nyquist) filter: every L-th tap of the
//!   prototype is zero except the centre, so the upsampler passes the original samples
//!   through unchanged and a true-peak estimate never reads below the sample peak.
//! - The Kaiser window is chosen because its single parameter trades main-lobe width for
//!   side-lobe level in closed form: `beta` and the length follow from the wanted stopband
//!   attenuation and transition band (symmetric around the original Nyquist), with no
//!   iterative design at build time.
//! - The half-length is a whole number of original frames (`half_frames`), so an
//!   up + down round trip delays by exactly `2 * half_frames` frames and the upsampler alone
//!   by `half_frames`.
//!
//! Everything is sized in `new`; `process*` only do f32 dot products over contiguous
//! windows of history buffers, so they never allocate.

use crate::polyphase::PolyphaseBank;

/// Targets of a prototype design.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FilterDesign {
    /// Upper passband edge as a fraction of the original sample rate; the stopband starts
    /// as far above 0.5 as this is below.
    pub passband_edge: f64,
    /// Stopband attenuation (Kaiser formula), in dB; above 50.
    pub stopband_db: f64,
}

impl FilterDesign {
    /// For signal paths (clipping, saturation): images and aliases 110 dB down.
    pub const AUDIO: Self = Self {
        passband_edge: 0.45,
        stopband_db: 110.0,
    };
    /// For true-peak estimation: flat to 0.48 fs, 70 dB stopband.
    pub const TRUE_PEAK: Self = Self {
        passband_edge: 0.48,
        stopband_db: 70.0,
    };
    /// For a true-peak detector backed by a near-Nyquist envelope (the limiter's): flat
    /// to 0.47 fs, 70 dB stopband, 36 frames of delay and two thirds of the taps of
    /// [`Self::TRUE_PEAK`] (54 frames). Flatter to 0.45 or 0.46 fs, the limiter's output
    /// read up to 0.27 dB over its ceiling on squares and noise bursts.
    pub const DETECTOR: Self = Self {
        passband_edge: 0.47,
        stopband_db: 70.0,
    };

    /// Half-length of the prototype in original frames.
    pub fn half_frames(&self) -> usize {
        // Kaiser: taps - 1 = (A - 7.95) / (2.285 * dw), dw = 2 pi (0.5 - edge) * 2 / L rad
        // at the oversampled rate; taps - 1 = 2 * half * L, so L cancels out.
        let dw_times_l = 2.0 * std::f64::consts::PI * 2.0 * (0.5 - self.passband_edge);
        let taps_over_l = (self.stopband_db - 7.95) / (2.285 * dw_times_l);
        (taps_over_l / 2.0).ceil() as usize
    }

    /// The prototype low-pass at `factor` x the original rate: `2 * half * factor + 1`
    /// taps, gain `factor` at DC (interpolation gain), centre tap exactly 1.
    pub fn prototype(&self, factor: usize) -> Vec<f64> {
        let half = self.half_frames() * factor;
        let len = 2 * half + 1;
        let beta = 0.1102 * (self.stopband_db - 8.7);
        let i0_beta = bessel_i0(beta);
        (0..len)
            .map(|j| {
                let t = (j as f64 - half as f64) / factor as f64;
                let sinc = if t == 0.0 {
                    1.0
                } else {
                    (std::f64::consts::PI * t).sin() / (std::f64::consts::PI * t)
                };
                let r = (j as f64 - half as f64) / half as f64;
                let window = bessel_i0(beta * (1.0 - r * r).max(0.0).sqrt()) / i0_beta;
                sinc * window
            })
            .collect()
    }
}

/// An oversampling factor accepted by node configs.
pub fn valid_factor(factor: usize) -> bool {
    matches!(factor, 2 | 4 | 8 | 16)
}

/// Zeroth-order modified Bessel function of the first kind (power series).
pub(crate) fn bessel_i0(x: f64) -> f64 {
    let mut sum = 1.0;
    let mut term = 1.0;
    let half = x / 2.0;
    for k in 1..64 {
        term *= (half / k as f64) * (half / k as f64);
        sum += term;
        if term < sum * 1e-17 {
            break;
        }
    }
    sum
}

/// A history of the last `len` values, stored twice so the newest `len` values are
/// always one contiguous slice (oldest first).
#[derive(Clone)]
pub(crate) struct History {
    buf: Box<[f32]>,
    len: usize,
    pos: usize,
}

impl History {
    pub(crate) fn new(len: usize) -> Self {
        Self {
            buf: vec![0.0; 2 * len].into_boxed_slice(),
            len,
            pos: 0,
        }
    }

    #[inline]
    pub(crate) fn push(&mut self, x: f32) {
        let pos = self.pos;
        if let Some(a) = self.buf.get_mut(pos) {
            *a = x;
        }
        if let Some(b) = self.buf.get_mut(pos + self.len) {
            *b = x;
        }
        self.pos = if pos + 1 == self.len { 0 } else { pos + 1 };
    }

    /// The last `len` values, oldest first.
    #[inline]
    pub(crate) fn window(&self) -> &[f32] {
        &self.buf[self.pos..self.pos + self.len]
    }

    pub(crate) fn clear(&mut self) {
        self.buf.fill(0.0);
        self.pos = 0;
    }
}

/// Dot product with eight partial sums so the compiler vectorises it. The summation
/// order is fixed, so results are deterministic.
#[inline]
pub(crate) fn dot(a: &[f32], b: &[f32]) -> f32 {
    let (chunks_a, rest_a) = a.as_chunks::<8>();
    let (chunks_b, rest_b) = b.as_chunks::<8>();
    let mut acc = [0.0f32; 8];
    for (ca, cb) in chunks_a.iter().zip(chunks_b) {
        for k in 0..8 {
            acc[k] += ca[k] * cb[k];
        }
    }
    let mut tail = 0.0;
    for (x, y) in rest_a.iter().zip(rest_b) {
        tail += x * y;
    }
    ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7])) + tail
}

/// Raises the rate of one channel by `factor`: one input frame in, `factor` samples out.
/// Delay: [`Upsampler::latency_frames`] original frames, exactly.
#[derive(Clone)]
pub struct Upsampler {
    factor: usize,
    half_frames: usize,
    taps_per_phase: usize,
    /// Phase `p`'s taps, reversed to match the history order, phase after phase.
    phases: Box<[f32]>,
    history: History,
}

impl Upsampler {
    /// `factor` must satisfy [`valid_factor`] (configs check it); other values are
    /// treated as the nearest smaller valid factor (at least 2).
    pub fn new(factor: usize, design: FilterDesign) -> Self {
        let factor = sanitize(factor);
        let proto = design.prototype(factor);
        let half_frames = design.half_frames();
        let taps = 2 * half_frames + 1;
        let mut phases = vec![0.0f32; factor * taps];
        for p in 0..factor {
            for i in 0..taps {
                // Window slot i holds x[n - (taps - 1 - i)].
                let j = p + (taps - 1 - i) * factor;
                phases[p * taps + i] = proto.get(j).copied().unwrap_or(0.0) as f32;
            }
        }
        Self {
            factor,
            half_frames,
            taps_per_phase: taps,
            phases: phases.into_boxed_slice(),
            history: History::new(taps),
        }
    }

    pub fn factor(&self) -> usize {
        self.factor
    }

    /// Delay of the upsampled signal, in original frames.
    pub fn latency_frames(&self) -> usize {
        self.half_frames
    }

    /// Pushes one input sample and writes `factor` output samples (fewer if `out` is short).
    #[inline]
    pub fn process_frame(&mut self, x: f32, out: &mut [f32]) {
        self.history.push(x);
        let window = self.history.window();
        let mut phases = out
            .iter_mut()
            .zip(self.phases.chunks_exact(self.taps_per_phase));
        // Phase 0 of a Nyquist filter is the input delayed by `half_frames` (centre tap 1,
        // the others zero), so it needs no dot product.
        if let Some((o, _)) = phases.next() {
            *o = window.get(self.half_frames).copied().unwrap_or(0.0);
        }
        for (o, phase) in phases {
            *o = dot(window, phase);
        }
    }

    pub fn reset(&mut self) {
        self.history.clear();
    }
}

/// Lowers the rate of one channel by `factor`: `factor` samples in, one frame out.
/// Delay: [`Downsampler::latency_frames`] original frames, exactly.
#[derive(Clone)]
pub struct Downsampler {
    factor: usize,
    half_frames: usize,
    coefs: Box<[f32]>,
    history: History,
}

impl Downsampler {
    pub fn new(factor: usize, design: FilterDesign) -> Self {
        let factor = sanitize(factor);
        let proto = design.prototype(factor);
        // The output is aligned to the first of the `factor` samples of a frame, so the
        // window runs `factor - 1` samples past it with zero taps there.
        let len = proto.len() + factor - 1;
        let gain = 1.0 / factor as f64;
        let coefs = (0..len)
            .map(|i| {
                let lag = len - 1 - i;
                lag.checked_sub(factor - 1)
                    .and_then(|j| proto.get(j))
                    .map_or(0.0, |h| (h * gain) as f32)
            })
            .collect();
        Self {
            factor,
            half_frames: design.half_frames(),
            coefs,
            history: History::new(len),
        }
    }

    pub fn latency_frames(&self) -> usize {
        self.half_frames
    }

    /// Pushes `factor` samples (one original frame) and returns the output frame.
    #[inline]
    pub fn process_frame(&mut self, input: &[f32]) -> f32 {
        for &x in input.iter().take(self.factor) {
            self.history.push(x);
        }
        dot(self.history.window(), &self.coefs)
    }

    pub fn reset(&mut self) {
        self.history.clear();
    }
}

fn sanitize(factor: usize) -> usize {
    match factor {
        0..=3 => 2,
        4..=7 => 4,
        8..=15 => 8,
        _ => 16,
    }
}

/// Largest factor; sizes stack buffers for one oversampled frame.
pub const MAX_FACTOR: usize = 16;

/// Up then down on one channel, with a caller-supplied function on the oversampled
/// samples in between, with [`FilterDesign::AUDIO`]. Delay: twice its `half_frames`
/// original frames, exactly.
#[derive(Clone)]
pub struct Oversampler {
    up: Upsampler,
    down: Downsampler,
}

impl Oversampler {
    pub fn new(factor: usize) -> Self {
        Self {
            up: Upsampler::new(factor, FilterDesign::AUDIO),
            down: Downsampler::new(factor, FilterDesign::AUDIO),
        }
    }

    pub fn factor(&self) -> usize {
        self.up.factor()
    }

    pub fn latency_frames(&self) -> usize {
        self.up.latency_frames() + self.down.latency_frames()
    }

    /// Processes one frame: upsample `x`, apply `f` to each oversampled sample, downsample.
    #[inline]
    pub fn process_frame(&mut self, x: f32, mut f: impl FnMut(f32) -> f32) -> f32 {
        let mut buf = [0.0f32; MAX_FACTOR];
        let n = self.up.factor();
        let frame = &mut buf[..n];
        self.up.process_frame(x, frame);
        for s in frame.iter_mut() {
            *s = f(*s);
        }
        self.down.process_frame(frame)
    }

    pub fn reset(&mut self) {
        self.up.reset();
        self.down.reset();
    }
}

/// Estimates the true (inter-sample) peak of one channel, block by block, from the
/// upsampled signal: the largest magnitude among the oversampled points, refined by a
/// parabola through the three points around each local maximum (which removes most of
/// the under-read of plain oversampling on content near Nyquist). The interpolating
/// branches run through [`PolyphaseBank`], so the estimates do not depend on the block
/// split.
///
/// The estimate written for a pushed frame describes the signal
/// [`TruePeakDetector::latency_frames`] frames earlier (the span from that frame to the
/// next).
#[derive(Clone)]
pub struct TruePeakDetector {
    factor: usize,
    half_frames: usize,
    /// Branches 1 .. factor of the interpolator (branch 0 is the delayed input itself).
    /// Their first tap, which would meet the oldest frame of the window, is zero for a
    /// Nyquist filter and is left out.
    branches: PolyphaseBank,
    /// The last `2 * half_frames` input frames, then the block being processed.
    input: Box<[f32]>,
    /// Branch outputs for one block, branch after branch.
    points: Box<[f32]>,
    /// The two previous oversampled values, then the block's, in time order.
    sequence: Box<[f32]>,
    /// Each oversampled value's magnitude, raised by the parabola centred before it.
    refined: Box<[f32]>,
    /// The two previous oversampled values, for the parabola across frame boundaries.
    prev: [f32; 2],
    max_block_frames: usize,
}

impl TruePeakDetector {
    /// `factor` of at least 4 is what BS.1770 true-peak meters use; `design` sets the
    /// interpolator ([`FilterDesign::TRUE_PEAK`] unless a shorter one is known to do).
    /// Blocks longer than `max_block_frames` are split.
    pub fn new(factor: usize, design: FilterDesign, max_block_frames: usize) -> Self {
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
        Self {
            factor,
            half_frames,
            branches,
            input: vec![0.0; taps + max_block_frames].into_boxed_slice(),
            points: vec![0.0; (factor - 1) * max_block_frames].into_boxed_slice(),
            sequence: vec![0.0; factor * max_block_frames + 2].into_boxed_slice(),
            refined: vec![0.0; factor * max_block_frames].into_boxed_slice(),
            prev: [0.0; 2],
            max_block_frames,
        }
    }

    pub fn latency_frames(&self) -> usize {
        self.half_frames
    }

    /// Pushes `input`; writes to `spans` (same length) the peak magnitude estimate of
    /// each delayed frame's span.
    pub fn process(&mut self, input: &[f32], spans: &mut [f32]) {
        let history = 2 * self.half_frames;
        let branches = self.factor - 1;
        for (x, spans) in input
            .chunks(self.max_block_frames)
            .zip(spans.chunks_mut(self.max_block_frames))
        {
            let n = x.len().min(spans.len());
            self.input[history..history + n].copy_from_slice(&x[..n]);
            let points = &mut self.points[..branches * n];
            self.branches.run(&self.input[1..history + n], points);
            // All oversampled points in time order, after the two previous ones, so each
            // point's parabola is a plain elementwise pass (which vectorises).
            let f = self.factor;
            let sequence = &mut self.sequence[..f * n + 2];
            sequence[..2].copy_from_slice(&self.prev);
            for (i, frame) in sequence[2..].chunks_exact_mut(f).enumerate() {
                // Branch 0 of a Nyquist filter is the input delayed by `half_frames`.
                frame[0] = self.input[i + self.half_frames];
                for (k, p) in frame[1..].iter_mut().enumerate() {
                    *p = points[k * n + i];
                }
            }
            let refined = &mut self.refined[..f * n];
            for (r, w) in refined.iter_mut().zip(sequence.windows(3)) {
                *r = w[2].abs().max(parabola_peak(w[0], w[1], w[2]));
            }
            for (span, r) in spans[..n].iter_mut().zip(refined.chunks_exact(f)) {
                *span = r.iter().fold(0.0f32, |m, &v| m.max(v));
            }
            self.prev = [sequence[f * n], sequence[f * n + 1]];
            self.input.copy_within(n..n + history, 0);
        }
    }

    pub fn reset(&mut self) {
        self.input.fill(0.0);
        self.prev = [0.0; 2];
    }
}

/// Peak magnitude of the parabola through three equally spaced points when the middle
/// one is a local extremum of magnitude; otherwise 0. Branch-free (selects only), so a
/// loop over many points vectorises.
#[inline]
fn parabola_peak(a: f32, b: f32, c: f32) -> f32 {
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
    let mut det = TruePeakDetector::new(factor, FilterDesign::TRUE_PEAK, 1024);
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

/// Magnitude response of a real FIR at normalised frequency `f` (cycles per sample), for
/// the filter-design tests of this crate.
#[cfg(test)]
pub(crate) fn fir_magnitude(h: &[f64], f: f64) -> f64 {
    let (mut re, mut im) = (0.0, 0.0);
    for (j, &c) in h.iter().enumerate() {
        let w = 2.0 * std::f64::consts::PI * f * j as f64;
        re += c * w.cos();
        im -= c * w.sin();
    }
    (re * re + im * im).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Passband ripple within 0.001 dB (AUDIO) / 0.01 dB (TRUE_PEAK) up to the edge;
    /// stopband from `1 - edge` (original rate) to the oversampled Nyquist at least 100 dB
    /// (AUDIO) / 65 dB (TRUE_PEAK) down.
    #[test]
    fn prototype_passband_ripple_and_stopband_meet_targets() {
        let cases = [
            (FilterDesign::AUDIO, 0.001, -100.0),
            (FilterDesign::TRUE_PEAK, 0.01, -65.0),
            (FilterDesign::DETECTOR, 0.01, -67.0),
        ];
        for (design, ripple_limit, stop_limit) in cases {
            let edge = design.passband_edge;
            for factor in [2, 4, 8] {
                let h = design.prototype(factor);
                let gain_db =
                    |f: f64| 20.0 * (fir_magnitude(&h, f / factor as f64) / factor as f64).log10();
                assert!(gain_db(0.0).abs() < ripple_limit);
                let ripple = (0..=1000)
                    .map(|i| gain_db(edge * i as f64 / 1000.0).abs())
                    .fold(0.0, f64::max);
                assert!(
                    ripple < ripple_limit,
                    "{design:?} x{factor}: ripple {ripple} dB"
                );
                let start = 1.0 - edge;
                let span = factor as f64 / 2.0 - start;
                let stop = (0..=2000)
                    .map(|i| gain_db(start + span * i as f64 / 2000.0))
                    .fold(f64::MIN, f64::max);
                assert!(
                    stop < stop_limit,
                    "{design:?} x{factor}: stopband {stop} dB"
                );
                eprintln!(
                    "{:?} x{factor}: {} taps, ripple {ripple:.1e} dB, stopband {stop:.1} dB",
                    design,
                    h.len()
                );
            }
        }
    }

    #[test]
    fn round_trip_latency_is_exact_and_sine_passes_unchanged() {
        for factor in [2, 4, 8] {
            let mut os = Oversampler::new(factor);
            let lat = os.latency_frames();
            assert_eq!(lat, 2 * FilterDesign::AUDIO.half_frames());
            // Impulse: peak exactly at the declared latency.
            let out: Vec<f32> = (0..400)
                .map(|i| os.process_frame(if i == 10 { 1.0 } else { 0.0 }, |s| s))
                .collect();
            let peak = (0..out.len())
                .max_by(|&a, &b| out[a].abs().total_cmp(&out[b].abs()))
                .unwrap();
            assert_eq!(peak, 10 + lat, "factor {factor}");
            // A 1 kHz sine at 48 kHz comes back delayed, error below -100 dB.
            os.reset();
            let w = 2.0 * std::f64::consts::PI * 1000.0 / 48_000.0;
            let x: Vec<f32> = (0..4000)
                .map(|i| (w * i as f64).sin() as f32 * 0.5)
                .collect();
            let y: Vec<f32> = x.iter().map(|&s| os.process_frame(s, |v| v)).collect();
            let err = (1000..4000)
                .map(|i| (y[i] - x[i - lat]).abs())
                .fold(0.0f32, f32::max);
            assert!(err < 0.5e-5, "factor {factor}: error {err}");
        }
    }

    #[test]
    fn upsampler_passes_original_samples_and_latency_is_exact() {
        let mut up = Upsampler::new(4, FilterDesign::AUDIO);
        let lat = up.latency_frames();
        let x: Vec<f32> = (0..300)
            .map(|i| ((i * 37) % 11) as f32 / 11.0 - 0.5)
            .collect();
        let mut frame = [0.0f32; 4];
        for (n, &s) in x.iter().enumerate() {
            up.process_frame(s, &mut frame);
            if n >= lat {
                assert!((frame[0] - x[n - lat]).abs() < 1e-6);
            }
        }
    }

    /// Peak estimate over the steady middle of a signal (the abrupt start and end of a
    /// test tone have Gibbs overshoots of their own).
    fn steady_true_peak(x: &[f32], factor: usize) -> f32 {
        let mut det = TruePeakDetector::new(factor, FilterDesign::TRUE_PEAK, 100);
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
        for design in [FilterDesign::TRUE_PEAK, FilterDesign::DETECTOR] {
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
}
