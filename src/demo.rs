//! The built-in demo: a synthetic, unmastered stereo mix, so `lathe render GRAPH --demo`
//! works on a fresh clone with no audio file at hand.
//!
//! It is a short 120 BPM loop: kick (sine with a falling pitch and a click), snare (noise
//! burst over a tone), closed and open hats, a crash every four bars, a plucked bass
//! line and detuned chord pads spread across the stereo field. Levels are those of a
//! typical mix before mastering: peak [`DEMO_PEAK_DBFS`], about -20 LUFS integrated, so
//! a mastering chain has real work to do. Everything is computed from fixed seeds: the
//! same samples every time, on every run.

use crate::audio_io::{Audio, SplitMix64};

pub const DEMO_SAMPLE_RATE_HZ: u32 = 48_000;
pub const DEMO_SECONDS: usize = 30;
pub const DEMO_FRAMES: usize = DEMO_SAMPLE_RATE_HZ as usize * DEMO_SECONDS;
/// The demo's sample peak after normalisation, in dBFS.
pub const DEMO_PEAK_DBFS: f64 = -6.0;

const RATE: f64 = DEMO_SAMPLE_RATE_HZ as f64;
const BPM: f64 = 120.0;
const BEAT_FRAMES: usize = (RATE * 60.0 / BPM) as usize;
const BAR_FRAMES: usize = BEAT_FRAMES * 4;
const BARS: usize = DEMO_FRAMES / BAR_FRAMES;

/// Chords of two bars each, as MIDI notes: Am, F, C, G. The first note is the bass root.
const PROGRESSION: [[u8; 4]; 4] = [
    [33, 57, 60, 64],
    [29, 57, 60, 65],
    [36, 55, 60, 64],
    [31, 55, 59, 62],
];

/// The demo mix: stereo, [`DEMO_SAMPLE_RATE_HZ`], exactly [`DEMO_SECONDS`] long.
pub fn demo_mix() -> Audio {
    let mut mix = Stereo::new(DEMO_FRAMES);
    let mut noise = SplitMix64::new(0xde30_0001);
    for bar in 0..BARS {
        let bar_start = bar * BAR_FRAMES;
        let chord = PROGRESSION[(bar / 2) % PROGRESSION.len()];
        pad(&mut mix, bar_start, BAR_FRAMES, &chord[1..]);
        if bar == 0 {
            // Intro bar: pads and hats only.
            hats(&mut mix, &mut noise, bar_start, bar);
            continue;
        }
        bass(&mut mix, bar_start, chord[0], bar);
        drums(&mut mix, &mut noise, bar_start, bar);
        if bar % 4 == 1 {
            crash(&mut mix, &mut noise, bar_start);
        }
    }
    mix.normalize_peak(db_to_gain(DEMO_PEAK_DBFS));
    Audio {
        sample_rate_hz: DEMO_SAMPLE_RATE_HZ,
        channels: vec![mix.left, mix.right],
    }
}

struct Stereo {
    left: Vec<f32>,
    right: Vec<f32>,
}

impl Stereo {
    fn new(frames: usize) -> Self {
        Self {
            left: vec![0.0; frames],
            right: vec![0.0; frames],
        }
    }

    /// Adds `sample` at frame `at` with the gains of a [`Pan`].
    #[inline]
    fn add(&mut self, at: usize, sample: f64, pan: Pan) {
        self.add_lr(at, sample * pan.left, sample * pan.right);
    }

    fn add_lr(&mut self, at: usize, left: f64, right: f64) {
        if at < self.left.len() {
            self.left[at] += left as f32;
            self.right[at] += right as f32;
        }
    }

    fn normalize_peak(&mut self, target: f64) {
        let peak = self
            .left
            .iter()
            .chain(&self.right)
            .fold(0.0f32, |p, s| p.max(s.abs()));
        if peak > 0.0 {
            let gain = (target / peak as f64) as f32;
            for s in self.left.iter_mut().chain(self.right.iter_mut()) {
                *s *= gain;
            }
        }
    }
}

/// Constant-power pan gains.
#[derive(Clone, Copy)]
struct Pan {
    left: f64,
    right: f64,
}

impl Pan {
    /// -1 = left, 0 = centre, +1 = right.
    fn new(position: f64) -> Self {
        let angle = (position + 1.0) * std::f64::consts::FRAC_PI_4;
        Self {
            left: angle.cos(),
            right: angle.sin(),
        }
    }
}

/// An exponential decay from 1 with time constant `tau_s`, one sample per `next`.
struct Decay {
    value: f64,
    factor: f64,
}

impl Decay {
    fn new(tau_s: f64) -> Self {
        Self {
            value: 1.0,
            factor: (-1.0 / (tau_s * RATE)).exp(),
        }
    }

    #[inline]
    fn next(&mut self) -> f64 {
        let v = self.value;
        self.value *= self.factor;
        v
    }
}

fn db_to_gain(db: f64) -> f64 {
    10f64.powf(db / 20.0)
}

fn midi_hz(note: u8) -> f64 {
    440.0 * 2f64.powf((note as f64 - 69.0) / 12.0)
}

/// Uniform noise in [-1, 1).
fn white(rng: &mut SplitMix64) -> f64 {
    rng.next_unit() * 2.0 - 1.0
}

fn drums(mix: &mut Stereo, noise: &mut SplitMix64, bar_start: usize, bar: usize) {
    let eighth = BEAT_FRAMES / 2;
    // Kick on 1 and 3, plus a push before 3 on odd bars.
    kick(mix, noise, bar_start, 1.0);
    kick(mix, noise, bar_start + 2 * BEAT_FRAMES, 0.9);
    if bar % 2 == 1 {
        kick(mix, noise, bar_start + 3 * eighth, 0.6);
    }
    snare(mix, noise, bar_start + BEAT_FRAMES, 1.0);
    snare(mix, noise, bar_start + 3 * BEAT_FRAMES, 1.0);
    if bar.is_multiple_of(4) {
        // A fill of sixteenth notes rising in level at the end of each phrase.
        let sixteenth = BEAT_FRAMES / 4;
        for i in 0..4 {
            snare(
                mix,
                noise,
                bar_start + 3 * BEAT_FRAMES + i * sixteenth,
                0.4 + 0.15 * i as f64,
            );
        }
    }
    hats(mix, noise, bar_start, bar);
}

fn kick(mix: &mut Stereo, noise: &mut SplitMix64, at: usize, velocity: f64) {
    let len = (0.45 * RATE) as usize;
    let (mut pitch, mut amp) = (Decay::new(0.035), Decay::new(0.16));
    let centre = Pan::new(0.0);
    let mut phase = 0.0f64;
    for i in 0..len {
        let freq = 48.0 + 110.0 * pitch.next();
        phase += freq / RATE;
        let body = (phase * std::f64::consts::TAU).sin() * amp.next();
        let click = if i < 96 {
            white(noise) * 0.5 * (1.0 - i as f64 / 96.0)
        } else {
            0.0
        };
        mix.add(at + i, velocity * 0.9 * (body + click), centre);
    }
}

fn snare(mix: &mut Stereo, noise: &mut SplitMix64, at: usize, velocity: f64) {
    let len = (0.3 * RATE) as usize;
    let (mut tone_env, mut wire_env) = (Decay::new(0.05), Decay::new(0.09));
    let pan = Pan::new(-0.1);
    let mut phase = 0.0f64;
    let mut prev = 0.0f64;
    for i in 0..len {
        phase += 190.0 / RATE;
        let tone = (phase * std::f64::consts::TAU).sin() * tone_env.next();
        // A first difference tilts the noise toward the top end, like snare wires.
        let n = white(noise);
        let wires = (n - 0.6 * prev) * wire_env.next();
        prev = n;
        mix.add(at + i, velocity * 0.35 * (0.6 * tone + wires), pan);
    }
}

fn hats(mix: &mut Stereo, noise: &mut SplitMix64, bar_start: usize, bar: usize) {
    let eighth = BEAT_FRAMES / 2;
    for step in 0..8 {
        let open = step == 7 && bar.is_multiple_of(2);
        let decay_s = if open { 0.12 } else { 0.025 };
        let accent = if step % 2 == 0 { 1.0 } else { 0.7 };
        let len = (decay_s * 5.0 * RATE) as usize;
        let at = bar_start + step * eighth;
        let mut env = Decay::new(decay_s);
        let pan = Pan::new(0.35);
        let mut prev = 0.0f64;
        for i in 0..len {
            let n = white(noise);
            let high = n - prev;
            prev = n;
            mix.add(at + i, 0.09 * accent * high * env.next(), pan);
        }
    }
}

fn crash(mix: &mut Stereo, noise: &mut SplitMix64, at: usize) {
    let len = (1.8 * RATE) as usize;
    let (mut prev_l, mut prev_r) = (0.0f64, 0.0f64);
    let mut decay = Decay::new(0.45);
    for i in 0..len {
        let env = 0.12 * decay.next();
        // Independent noise per side: a wide, decorrelated cymbal.
        let (l, r) = (white(noise), white(noise));
        mix.add_lr(at + i, env * (l - prev_l), env * (r - prev_r));
        prev_l = l;
        prev_r = r;
    }
}

/// Eighth-note bass on the chord root, an octave jump on the last note of the bar.
fn bass(mix: &mut Stereo, bar_start: usize, root: u8, bar: usize) {
    let eighth = BEAT_FRAMES / 2;
    let centre = Pan::new(0.0);
    for step in 0..8 {
        let note = if step == 7 && bar % 2 == 1 {
            root + 12
        } else {
            root
        };
        let freq = midi_hz(note);
        let len = eighth - 200;
        let mut pluck = Decay::new(0.06);
        let mut phase = 0.0f64;
        let mut low = 0.0f64;
        for i in 0..len {
            let t = i as f64 / RATE;
            phase = (phase + freq / RATE).fract();
            let saw = 2.0 * phase - 1.0;
            // One-pole low-pass, its cutoff falling with the pluck (w / (1 + w) is close
            // to the exact 1 - e^-w at these low cutoffs, and far cheaper).
            let w = std::f64::consts::TAU * (200.0 + 1200.0 * pluck.next()) / RATE;
            low += (saw - low) * (w / (1.0 + w));
            let sub = (phase * std::f64::consts::TAU).sin();
            let env = (t / 0.003).min(1.0) * (1.0 - i as f64 / len as f64).sqrt();
            mix.add(
                bar_start + step * eighth + i,
                0.28 * env * (0.7 * low + 0.5 * sub),
                centre,
            );
        }
    }
}

/// Detuned saw pads: each note is two oscillators, one a little flat on the left and one
/// a little sharp on the right, so the chord spreads across the stereo field.
fn pad(mix: &mut Stereo, start: usize, len: usize, notes: &[u8]) {
    const DETUNE: f64 = 0.004;
    let attack = 0.25 * RATE;
    let release = 0.2 * RATE;
    let coeff = 1.0 - (-std::f64::consts::TAU * 1800.0 / RATE).exp();
    let oscillators: Vec<(f64, f64)> = notes
        .iter()
        .enumerate()
        .map(|(v, &n)| (midi_hz(n), 0.13 * v as f64))
        .collect();
    let mut phases = vec![(0.0f64, 0.0f64); oscillators.len()];
    let (mut low_l, mut low_r) = (0.0f64, 0.0f64);
    for i in 0..len {
        let (mut l, mut r) = (0.0, 0.0);
        for ((freq, offset), (pl, pr)) in oscillators.iter().zip(phases.iter_mut()) {
            *pl = (*pl + freq * (1.0 - DETUNE) / RATE).fract();
            *pr = (*pr + freq * (1.0 + DETUNE) / RATE).fract();
            l += 2.0 * ((*pl + offset).fract()) - 1.0;
            r += 2.0 * ((*pr + offset).fract()) - 1.0;
        }
        low_l += (l - low_l) * coeff;
        low_r += (r - low_r) * coeff;
        let fade_in = (i as f64 / attack).min(1.0);
        let fade_out = ((len - i) as f64 / release).min(1.0);
        let env = 0.05 * fade_in * fade_out;
        mix.add_lr(start + i, env * low_l, env * low_r);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_has_the_promised_shape_and_peak() {
        let audio = demo_mix();
        assert_eq!(audio.sample_rate_hz, 48_000);
        assert_eq!(audio.channel_count(), 2);
        assert_eq!(audio.frames(), 30 * 48_000);
        let peak_db = 20.0 * (audio.sample_peak() as f64).log10();
        assert!(
            (peak_db - DEMO_PEAK_DBFS).abs() < 0.01,
            "peak {peak_db} dBFS"
        );
    }

    #[test]
    fn demo_loudness_is_that_of_an_unmastered_mix() {
        let audio = demo_mix();
        let mut meter = ebur128::EbuR128::new(2, DEMO_SAMPLE_RATE_HZ, ebur128::Mode::I).unwrap();
        meter
            .add_frames_planar_f32(&[&audio.channels[0], &audio.channels[1]])
            .unwrap();
        let lufs = meter.loudness_global().unwrap();
        // Measured: -20.8 LUFS.
        assert!((-22.0..=-19.0).contains(&lufs), "integrated {lufs} LUFS");
    }

    #[test]
    fn demo_is_stereo_not_dual_mono() {
        let audio = demo_mix();
        let diff: f64 = audio.channels[0]
            .iter()
            .zip(&audio.channels[1])
            .map(|(l, r)| ((l - r) as f64).powi(2))
            .sum();
        assert!(diff > 1.0, "side energy {diff}");
    }
}
