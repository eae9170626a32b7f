//! Envelope of the content near Nyquist, the part of a signal whose inter-sample peaks
//! a short interpolator cannot resolve.
//!
//! A tone at `(1 - d) fs/2` sampled at `fs` is `(-1)^n A cos(pi d n / 2 + phi)`: the samples
//! carry its amplitude only where the slow beat brings them up, and an interpolator must
//! span many frames (about `1 / d`) to rebuild the peaks between them. Any detector with a
//! few milliseconds of latency therefore reads such content low (the limiter's detector
//! is flat to 0.47 fs and half gain at 0.5 fs). [`NearNyquistEnvelope`] measures that
//! content directly: a high-pass FIR (unity at Nyquist, half gain at 0.44 fs, below -30 dB
//! from 0.39 fs down) and the largest magnitude of its output over `2 W + 1` frames around the
//! frame of interest. Adding it to a detector's reading bounds what the detector misses.
//!
//! Sized in `new`; `process` allocates nothing.

use crate::dsp::fir_bound::FirBound;
use crate::dsp::input_history::InputHistory;
use crate::dsp::oversample::bessel_i0;
use crate::dsp::polyphase::PolyphaseBank;

/// Half-length of the high-pass, in frames (its delay).
pub const HIGH_PASS_HALF: usize = 16;
/// Frames on each side over which the high-passed magnitude is maximised.
pub const ENVELOPE_HALF_WIDTH: usize = 8;
/// Cutoff of the low-pass prototype that is shifted up to Nyquist (fraction of fs).
const PROTOTYPE_CUTOFF: f64 = 0.06;
/// Kaiser window parameter of the prototype (about 60 dB side lobes).
const KAISER_BETA: f64 = 6.0;

/// Near-Nyquist envelope of one channel, delayed by a chosen number of frames.
///
/// Like [`TruePeakDetector`](crate::dsp::peak_detector::TruePeakDetector) it keeps only its
/// input history, so any run of frames of the loaded block can be computed on its own
/// (and skipped where a bound says it cannot matter) with the values a full pass gives.
#[derive(Clone)]
pub struct NearNyquistEnvelope {
    high_pass: PolyphaseBank,
    /// The input history and the loaded block.
    input: InputHistory,
    /// |high-pass| of the frames one run reads.
    magnitudes: Box<[f32]>,
    /// Frames between the newest high-pass output a frame's envelope reads and the frame
    /// itself: `delay - HIGH_PASS_HALF - ENVELOPE_HALF_WIDTH`.
    lead: usize,
    bound: FirBound,
}

/// The high-pass: a Kaiser-windowed low-pass with unity DC gain, modulated by `(-1)^n`
/// so its unity gain sits at Nyquist instead.
fn high_pass() -> Vec<f64> {
    let half = HIGH_PASS_HALF as f64;
    let raw: Vec<f64> = (0..=2 * HIGH_PASS_HALF)
        .map(|j| {
            let n = j as f64 - half;
            let x = 2.0 * PROTOTYPE_CUTOFF * n;
            let sinc = if n == 0.0 {
                1.0
            } else {
                (std::f64::consts::PI * x).sin() / (std::f64::consts::PI * x)
            };
            let r = n / (half + 1.0);
            sinc * bessel_i0(KAISER_BETA * (1.0 - r * r).sqrt()) / bessel_i0(KAISER_BETA)
        })
        .collect();
    let sum: f64 = raw.iter().sum();
    raw.iter()
        .enumerate()
        .map(|(j, g)| if j % 2 == 0 { g / sum } else { -g / sum })
        .collect()
}

impl NearNyquistEnvelope {
    /// The value returned for a loaded frame describes the frame `delay` frames earlier;
    /// `delay` is raised to at least `HIGH_PASS_HALF + ENVELOPE_HALF_WIDTH`, the least that
    /// sees `W` frames ahead of it. Blocks longer than `max_block_frames` are split by
    /// [`Self::process`]; [`Self::load`] takes at most that many frames.
    pub fn new(delay: usize, max_block_frames: usize) -> Self {
        let delay = delay.max(HIGH_PASS_HALF + ENVELOPE_HALF_WIDTH);
        let max_block_frames = max_block_frames.max(1);
        let taps = high_pass();
        let span = 2 * ENVELOPE_HALF_WIDTH + 1;
        // The oldest output a frame's envelope reads is `lead + span - 1` frames back, and
        // that output reads `taps - 1` frames further back.
        let lead = delay - HIGH_PASS_HALF - ENVELOPE_HALF_WIDTH;
        let history = lead + span - 1 + taps.len() - 1;
        Self {
            input: InputHistory::new(history, max_block_frames),
            high_pass: PolyphaseBank::new(1, taps.len(), |_, j| taps[j] as f32),
            magnitudes: vec![0.0; max_block_frames + span - 1].into_boxed_slice(),
            lead,
            bound: FirBound::of(
                &taps
                    .iter()
                    .map(|&h| f64::from(h as f32))
                    .collect::<Vec<_>>(),
            ),
        }
    }

    /// Input frames before a frame that its envelope may depend on, the frame included
    /// (the envelope of frame `t` reads input frames `t - reach + 1 ..= t`; in fact it
    /// stops `lead` frames before `t`).
    pub fn reach_frames(&self) -> usize {
        self.input.history_frames() + 1
    }

    /// A bound of every envelope value from the sample and curvature peaks of the input
    /// frames it reads (see [`Self::reach_frames`]).
    pub fn bound(&self) -> FirBound {
        self.bound
    }

    /// Loads the next block (at most `max_block_frames`; more is cut).
    pub fn load(&mut self, block: &[f32]) {
        self.input.load(block);
    }

    /// Writes to `out` the envelope of frames `first .. first + out.len()` of the loaded
    /// block. Frames outside it are left alone.
    pub fn envelope(&mut self, first: usize, out: &mut [f32]) {
        let n = out.len();
        if first + n > self.input.loaded_frames() || n == 0 {
            return;
        }
        let span = 2 * ENVELOPE_HALF_WIDTH + 1;
        let taps = self.high_pass.taps();
        // High-pass outputs whose newest input is frame first - lead - span + 1 onward.
        let oldest_input =
            self.input.history_frames() + first - self.lead - (span - 1) - (taps - 1);
        let outputs = n + span - 1;
        let mags = &mut self.magnitudes[..outputs];
        // The taps are symmetric, so the history order does not matter.
        self.high_pass.run(
            &self.input.frames()[oldest_input..oldest_input + outputs + taps - 1],
            mags,
        );
        for m in mags.iter_mut() {
            *m = m.abs();
        }
        out.fill(0.0);
        for k in 0..span {
            for (o, &m) in out.iter_mut().zip(&mags[k..k + n]) {
                *o = o.max(m);
            }
        }
    }

    /// Ends the loaded block: its last frames become the history.
    pub fn finish(&mut self) {
        self.input.finish();
    }

    /// Pushes `input`; writes to `out` (same length) the near-Nyquist envelope around
    /// the delayed frames.
    pub fn process(&mut self, input: &[f32], out: &mut [f32]) {
        for (x, out) in input
            .chunks(self.input.max_block_frames())
            .zip(out.chunks_mut(self.input.max_block_frames()))
        {
            let n = x.len().min(out.len());
            self.load(&x[..n]);
            self.envelope(0, &mut out[..n]);
            self.finish();
        }
    }

    pub fn reset(&mut self) {
        self.input.reset();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gain(f: f64) -> f64 {
        crate::dsp::oversample::fir_magnitude(&high_pass(), f)
    }

    /// Unity at Nyquist (1e-12), above 0.95 from 0.48 fs, 0.5 +- 0.05 at 0.44 fs, below
    /// -30 dB (0.0316) from 0.39 fs down.
    #[test]
    fn high_pass_response() {
        assert!((gain(0.5) - 1.0).abs() < 1e-12);
        assert!(gain(0.48) > 0.95);
        assert!((gain(0.44) - 0.5).abs() < 0.05);
        for i in 0..=400 {
            let f = 0.39 * i as f64 / 400.0;
            assert!(gain(f) < 0.0316, "{f}: {}", gain(f));
        }
    }

    /// A steady tone at 0.49 fs reads its amplitude within 3 %; an impulse enters the
    /// envelope exactly when the high-pass's first tap, `HIGH_PASS_HALF` frames ahead of
    /// it, reaches the window's leading edge, `W` frames ahead of the delayed frame.
    #[test]
    fn tone_near_nyquist_reads_its_amplitude() {
        let mut env = NearNyquistEnvelope::new(40, 64);
        let w = 2.0 * std::f64::consts::PI * 0.49;
        let x: Vec<f32> = (0..2000)
            .map(|i| (0.8 * (w * i as f64 + 0.3).sin()) as f32)
            .collect();
        let mut read = vec![0.0f32; 2000];
        env.process(&x, &mut read);
        let steady = read[500..1500].iter().fold(0.0f32, |m, &v| m.max(v));
        assert!((steady - 0.8).abs() < 0.8 * 0.03, "{steady}");
        let mut env = NearNyquistEnvelope::new(40, 7);
        let mut impulse = vec![0.0f32; 300];
        impulse[100] = 1.0;
        let mut read = vec![0.0f32; 300];
        env.process(&impulse, &mut read);
        let first = read.iter().position(|&v| v > 0.0).unwrap();
        assert_eq!(first, 100 - HIGH_PASS_HALF + 40 - ENVELOPE_HALF_WIDTH);
    }
}
