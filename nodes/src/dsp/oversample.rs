//! Polyphase FIR oversampling (2x, 4x, 8x) and a true-peak estimator.
//!
//! Both directions use a linear-phase low-pass prototype, a Kaiser-windowed sinc with its
//! cutoff exactly at the original Nyquist frequency, in one of three [`OversamplingFilter`]s:
//! [`OversamplingFilter::AUDIO`] (110 dB stopband, passband to 0.45 fs) for signal paths,
//! [`OversamplingFilter::TRUE_PEAK`] (70 dB, passband to 0.48 fs) for peak estimation, where the
//! flat passband close to Nyquist matters more than a deep stopband (an image at -70 dB
//! moves a peak estimate by less than 0.003 dB), and the shorter
//! [`OversamplingFilter::DETECTOR`] (70 dB, passband to 0.47 fs) for a detector whose reading
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

/// Targets of the oversampling low-pass prototype (named apart from the EQ's
/// [`crate::dsp::biquad::FilterDesign`], which designs IIR sections).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OversamplingFilter {
    /// Upper passband edge as a fraction of the original sample rate; the stopband starts
    /// as far above 0.5 as this is below.
    pub passband_edge: f64,
    /// Stopband attenuation (Kaiser formula), in dB; above 50.
    pub stopband_db: f64,
}

impl OversamplingFilter {
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
    pub fn new(factor: usize, design: OversamplingFilter) -> Self {
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
    pub fn new(factor: usize, design: OversamplingFilter) -> Self {
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

pub(crate) fn sanitize(factor: usize) -> usize {
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
/// samples in between, with [`OversamplingFilter::AUDIO`]. Delay: twice its `half_frames`
/// original frames, exactly.
#[derive(Clone)]
pub struct Oversampler {
    up: Upsampler,
    down: Downsampler,
}

impl Oversampler {
    pub fn new(factor: usize) -> Self {
        Self {
            up: Upsampler::new(factor, OversamplingFilter::AUDIO),
            down: Downsampler::new(factor, OversamplingFilter::AUDIO),
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
            (OversamplingFilter::AUDIO, 0.001, -100.0),
            (OversamplingFilter::TRUE_PEAK, 0.01, -65.0),
            (OversamplingFilter::DETECTOR, 0.01, -67.0),
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
            assert_eq!(lat, 2 * OversamplingFilter::AUDIO.half_frames());
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
        let mut up = Upsampler::new(4, OversamplingFilter::AUDIO);
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
}
