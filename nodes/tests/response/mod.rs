//! Measuring a node kind's frequency response in tests: its impulse response through the
//! harness, and the magnitude of that at one frequency (a direct DFT bin, exact at any
//! frequency, no windowing).

use lathe_engine::PrepareInfo;
use lathe_engine::harness::{Case, build, meters_for, render};

/// Sample rate of the measurements.
pub const FS: f64 = 48_000.0;

pub fn db(x: f64) -> f64 {
    20.0 * x.log10()
}

/// Channel-0 impulse response of `case` (impulse on every input channel at frame 0).
pub fn impulse_response(case: &Case<'_>, frames: usize) -> Vec<f64> {
    let mut built = build(case, PrepareInfo::new(FS, 512));
    let mut input = vec![vec![0.0f32; frames]; built.spec.input_channels()];
    for ch in &mut input {
        ch[0] = 1.0;
    }
    let meters = meters_for(&built.spec);
    let out = render(&mut built, &input, 512, &[], &meters);
    out[0].iter().map(|&x| x as f64).collect()
}

/// |DFT| of `h` at `freq_hz`.
pub fn magnitude_at(h: &[f64], freq_hz: f64) -> f64 {
    let w = std::f64::consts::TAU * freq_hz / FS;
    let (mut re, mut im) = (0.0, 0.0);
    for (n, x) in h.iter().enumerate() {
        let (s, c) = (w * n as f64).sin_cos();
        re += x * c;
        im -= x * s;
    }
    (re * re + im * im).sqrt()
}
