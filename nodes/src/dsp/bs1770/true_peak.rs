//! True-peak detection (BS.1770-4 Annex 2): the signal is oversampled 4x below 96 kHz and
//! 2x from 96 kHz, and the largest absolute value of the interpolated signal is kept.
//!
//! The interpolator is a polyphase FIR designed here: a Kaiser-windowed sinc with
//! [`TAPS`] taps per phase (96 taps at 4x, twice the Annex's 48), cut off at the original
//! Nyquist frequency. Phase 0 is then an exact delay, so the true peak is never below
//! the sample peak. The other phases run through [`PolyphaseBank`], a block of frames at
//! a time with all phases sharing each input load, in f32. This loop is the hot spot of
//! `lathe analyze`.
//!
//! Only the running maximum is kept, so a stretch of input whose interpolated values
//! cannot exceed the maximum so far is not interpolated at all: a [`FirBound`] of the
//! phases, evaluated on the stretch's sample and curvature peaks, decides. The result is
//! the same maximum as interpolating everything (the skipped values are provably not
//! above it), so the meter reads the same whatever the input's block split.

use crate::dsp::cpu::Isa;
use crate::dsp::fir_bound::{FirBound, GRANULE_FRAMES, InputPeaks};
use crate::dsp::polyphase::PolyphaseBank;

/// Taps per polyphase branch.
pub const TAPS: usize = 24;
/// Coefficient lanes per tap: one per branch (4x oversampling; 2x leaves two zero).
const LANES: usize = 4;
/// Kaiser window shape: ~60 dB image rejection, flat passband to ~0.42·fs.
const KAISER_BETA: f64 = 6.0;
/// Input samples filtered per inner pass; longer inputs are split.
const CHUNK: usize = 1024;
/// Output frames per skip decision: small enough to skip around short loud moments,
/// large enough that the decision costs little beside the filter.
const SKIP_FRAMES: usize = 64;

/// Oversampling factor BS.1770 asks for at `sample_rate_hz`.
pub fn oversampling_for(sample_rate_hz: f64) -> usize {
    if sample_rate_hz < 96_000.0 { 4 } else { 2 }
}

/// Modified Bessel function of the first kind, order 0 (power series).
fn bessel_i0(x: f64) -> f64 {
    let (mut sum, mut term) = (1.0, 1.0);
    for k in 1..50 {
        term *= (x / (2.0 * k as f64)).powi(2);
        sum += term;
    }
    sum
}

/// The polyphase coefficients for `factor` (2 or 4), oldest input tap first.
fn design(factor: usize) -> Vec<[f32; LANES]> {
    let len = factor * TAPS;
    let centre = (len / 2) as f64;
    let prototype: Vec<f64> = (0..len)
        .map(|m| {
            let t = (m as f64 - centre) / factor as f64;
            // Exact zeros at whole input samples keep phase 0 a pure delay.
            let sinc = if t == 0.0 {
                1.0
            } else if t.fract() == 0.0 {
                0.0
            } else {
                (std::f64::consts::PI * t).sin() / (std::f64::consts::PI * t)
            };
            let r = (m as f64 - centre) / centre;
            let window =
                bessel_i0(KAISER_BETA * (1.0 - r * r).max(0.0).sqrt()) / bessel_i0(KAISER_BETA);
            sinc * window
        })
        .collect();
    let mut coefs = vec![[0f32; LANES]; TAPS];
    for phase in 0..factor {
        // Each branch is a fractional delay: normalise it to unity gain at DC.
        let gain: f64 = (0..TAPS).map(|k| prototype[k * factor + phase]).sum();
        for (j, c) in coefs.iter_mut().enumerate() {
            c[phase] = (prototype[(TAPS - 1 - j) * factor + phase] / gain) as f32;
        }
    }
    coefs
}

/// Largest of `start` and the absolute values of `x`, eight lanes at a time.
fn abs_max(start: f32, x: &[f32]) -> f32 {
    let mut lanes = [start; 8];
    let mut blocks = x.chunks_exact(8);
    for block in &mut blocks {
        for (m, v) in lanes.iter_mut().zip(block) {
            *m = m.max(v.abs());
        }
    }
    let rest = blocks.remainder().iter().fold(start, |m, v| m.max(v.abs()));
    lanes.iter().fold(rest, |m, &v| m.max(v))
}

/// Per-channel true-peak detectors sharing one coefficient set.
#[derive(Debug, PartialEq)]
pub struct TruePeak {
    /// Phases 1 .. factor (phase 0 is the input itself).
    phases: PolyphaseBank,
    factor: usize,
    channels: usize,
    /// The last `TAPS - 1` input samples of each channel.
    history: Vec<f32>,
    /// History followed by the chunk being filtered.
    scratch: Vec<f32>,
    /// The other phases' output for the chunk, phase after phase.
    branch: Vec<f32>,
    /// Running maximum per channel and branch.
    peaks: Vec<[f32; LANES]>,
    /// Bound of the interpolating phases' outputs.
    bound: FirBound,
    /// Sample and curvature peaks of the chunk being filtered, per granule.
    granules: Vec<InputPeaks>,
    /// Frames run through the interpolator since construction (the rest were skipped).
    interpolated_frames: u64,
    /// Instruction set the granule measures run on.
    isa: Isa,
}

impl TruePeak {
    pub fn new(channels: usize, sample_rate_hz: f64) -> Self {
        let factor = oversampling_for(sample_rate_hz);
        let coefs = design(factor);
        Self {
            phases: PolyphaseBank::new(factor - 1, TAPS, |b, j| coefs[j][b + 1]),
            factor,
            channels,
            history: vec![0.0; channels * (TAPS - 1)],
            scratch: vec![0.0; TAPS - 1 + CHUNK],
            branch: vec![0.0; (factor - 1) * CHUNK],
            peaks: vec![[0.0; LANES]; channels],
            bound: (1..factor).fold(FirBound::default(), |b, phase| {
                let taps: Vec<f64> = coefs.iter().map(|c| f64::from(c[phase])).collect();
                b.max(FirBound::of(&taps))
            }),
            granules: vec![InputPeaks::default(); (TAPS - 1 + CHUNK).div_ceil(GRANULE_FRAMES)],
            interpolated_frames: 0,
            isa: Isa::detect(),
        }
    }

    pub fn factor(&self) -> usize {
        self.factor
    }

    pub fn reset(&mut self) {
        self.history.fill(0.0);
        self.peaks.fill([0.0; LANES]);
    }

    /// Clears the running maxima but keeps the filter history, so the next samples are
    /// measured on their own without a restart transient (windowed true peak).
    pub fn reset_peaks(&mut self) {
        self.peaks.fill([0.0; LANES]);
    }

    /// Feeds the next samples of `channel`.
    pub fn process(&mut self, channel: usize, input: &[f32]) {
        let start = channel * (TAPS - 1);
        let (Some(history), Some(peak)) = (
            self.history.get_mut(start..start + TAPS - 1),
            self.peaks.get_mut(channel),
        ) else {
            return;
        };
        for chunk in input.chunks(CHUNK) {
            let buf = &mut self.scratch[..TAPS - 1 + chunk.len()];
            buf[..TAPS - 1].copy_from_slice(history);
            buf[TAPS - 1..].copy_from_slice(chunk);
            let len = chunk.len();
            // Phase 0 is the input itself.
            peak[0] = abs_max(peak[0], chunk);
            InputPeaks::granules(self.isa, buf, &mut self.granules);
            let others = self.factor - 1;
            // Runs of output frames whose interpolation could raise the maximum.
            let mut start = 0;
            while start < len {
                let current = peak.iter().fold(0f32, |m, &p| m.max(p));
                let needed = |from: usize| {
                    let to = (from + SKIP_FRAMES).min(len);
                    let peaks = InputPeaks::over(&self.granules, from..to + TAPS - 1);
                    self.bound.at(peaks) > f64::from(current)
                };
                if !needed(start) {
                    start += SKIP_FRAMES;
                    continue;
                }
                let mut end = (start + SKIP_FRAMES).min(len);
                while end < len && needed(end) {
                    end = (end + SKIP_FRAMES).min(len);
                }
                let frames = end - start;
                self.interpolated_frames += frames as u64;
                let out = &mut self.branch[..others * frames];
                self.phases.run(&buf[start..end + TAPS - 1], out);
                for (branch, branch_peak) in out.chunks_exact(frames).zip(&mut peak[1..]) {
                    *branch_peak = abs_max(*branch_peak, branch);
                }
                start = end;
            }
            history.copy_from_slice(&buf[chunk.len()..]);
        }
    }

    /// Largest interpolated absolute value of `channel` since the last reset (linear).
    pub fn peak(&self, channel: usize) -> f32 {
        self.peaks
            .get(channel)
            .map_or(0.0, |p| p.iter().fold(0f32, |m, &x| m.max(x)))
    }

    /// Frames run through the interpolator since construction, over all channels.
    pub fn interpolated_frames(&self) -> u64 {
        self.interpolated_frames
    }

    /// Largest over all channels.
    pub fn max_peak(&self) -> f32 {
        (0..self.channels).fold(0f32, |m, c| m.max(self.peak(c)))
    }

    /// Bytes held, fixed at construction.
    pub fn heap_bytes(&self) -> usize {
        self.phases.taps() * self.phases.branches() * size_of::<f32>()
            + self.peaks.capacity() * size_of::<[f32; LANES]>()
            + (self.history.capacity() + self.scratch.capacity() + self.branch.capacity())
                * size_of::<f32>()
            + self.granules.capacity() * size_of::<InputPeaks>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Phase 0 reproduces the input exactly (a pure delay), so true peak >= sample peak.
    #[test]
    fn phase_zero_is_a_delay() {
        let coefs = design(4);
        let ones: Vec<usize> = (0..TAPS).filter(|&j| coefs[j][0] != 0.0).collect();
        assert_eq!(ones.len(), 1);
        assert_eq!(coefs[ones[0]][0], 1.0);
    }

    /// Every branch has a flat passband: within 0.1 dB up to 0.42·fs at 4x and 2x.
    #[test]
    fn branches_are_flat_in_the_passband() {
        for factor in [2, 4] {
            let coefs = design(factor);
            for phase in 0..factor {
                for i in 1..=42 {
                    let w = 2.0 * std::f64::consts::PI * i as f64 / 100.0;
                    let (mut re, mut im) = (0.0, 0.0);
                    for (j, c) in coefs.iter().enumerate() {
                        re += c[phase] as f64 * (w * j as f64).cos();
                        im += c[phase] as f64 * (w * j as f64).sin();
                    }
                    let db = 10.0 * (re * re + im * im).log10();
                    assert!(
                        db.abs() < 0.1,
                        "factor {factor} phase {phase} at {i}%: {db} dB"
                    );
                }
            }
        }
    }

    /// The maximum with skipping equals the maximum of every interpolated value (the
    /// same filter run over the whole signal), bit for bit, whatever the block split:
    /// on a loud burst followed by quieter noise and tones, where most stretches are
    /// skipped, and on a signal that only grows, where none can be.
    #[test]
    fn skipping_keeps_the_exact_maximum() {
        let mut s = 0x2545_f491u32;
        let mut noise = move || {
            s ^= s << 13;
            s ^= s >> 17;
            s ^= s << 5;
            s as f32 / u32::MAX as f32 * 2.0 - 1.0
        };
        let burst_then_quiet: Vec<f32> = (0..20_000)
            .map(|n| {
                let level = if n < 3000 {
                    0.9
                } else {
                    0.2 + 0.2 * ((n / 4000) % 2) as f32
                };
                let tone = (n as f32 * 0.37).sin() * 0.5;
                level * (0.5 * noise() + tone)
            })
            .collect();
        let growing: Vec<f32> = (0..8000)
            .map(|n| (n as f32 / 8000.0) * (n as f32 * 2.9).sin())
            .collect();
        for (x, most_skipped) in [(burst_then_quiet, true), (growing, false)] {
            let reference = TruePeak::new(1, 48_000.0);
            let mut padded = vec![0.0f32; TAPS - 1];
            padded.extend_from_slice(&x);
            let others = reference.factor - 1;
            let mut all = vec![0.0f32; others * x.len()];
            reference.phases.run(&padded, &mut all);
            let exact = abs_max(abs_max(0.0, &x), &all);
            for block in [1, 100, 1024, 5000] {
                let mut tp = TruePeak::new(1, 48_000.0);
                for part in x.chunks(block) {
                    tp.process(0, part);
                }
                assert_eq!(tp.peak(0), exact, "blocks of {block}");
                let share = tp.interpolated_frames() as f64 / x.len() as f64;
                if most_skipped {
                    assert!(share < 0.5, "{share} of the frames interpolated");
                } else {
                    assert!(share > 0.9, "{share} of the frames interpolated");
                }
            }
        }
    }

    /// A sine at fs/4 sampled at 45° (faded in, so the onset does not ring): samples read
    /// -3 dB, the true peak 0 dB (±0.01).
    #[test]
    fn finds_the_peak_between_samples() {
        for rate in [48_000.0, 96_000.0] {
            let mut tp = TruePeak::new(1, rate);
            let x: Vec<f32> = (0..5000)
                .map(|n| {
                    let fade = (n as f64 / 1000.0).min(1.0);
                    let phase =
                        std::f64::consts::FRAC_PI_2 * n as f64 + std::f64::consts::FRAC_PI_4;
                    (fade * phase.sin()) as f32
                })
                .collect();
            tp.process(0, &x[..1234]);
            tp.process(0, &x[1234..]);
            let db = 20.0 * tp.peak(0).log10();
            assert!(db.abs() < 0.01, "{rate}: {db} dBTP");
        }
    }
}
