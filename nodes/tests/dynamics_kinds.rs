//! The dynamics kinds (compressor, limiter, clipper, dither) against the shared harness and
//! against exact references: the compressor's static curve and time constants, the
//! limiter's ceiling guarantee under hostile and random signals (checked with an
//! independent 16x windowed-sinc true-peak measurement), dither noise against theory.

use lathe_engine::harness::{
    Case, HARNESS_MAX_BLOCK, build, check_kind, meters_for, render, render_into,
};
use lathe_engine::{NodeKind, PrepareInfo};
use lathe_nodes::dsp::analysis::analyze;
use lathe_nodes::dsp::bs1770::Layout;
use lathe_nodes::kinds::clipper::ClipperKind;
use lathe_nodes::kinds::compressor::{CompressorKind, static_gain_reduction_db};
use lathe_nodes::kinds::dither::DitherKind;
use lathe_nodes::kinds::limiter::LimiterKind;
use proptest::prelude::*;

mod common;
use common::build_context;

#[global_allocator]
static ALLOC: assert_no_alloc::AllocDisabler = assert_no_alloc::AllocDisabler;

const RATE: f64 = 48_000.0;

fn prepare() -> PrepareInfo {
    PrepareInfo::new(RATE, HARNESS_MAX_BLOCK)
}

fn db(x: f64) -> f64 {
    20.0 * x.abs().log10()
}

/// Renders `inputs` through a node of `kind` built with `config` and `params`.
fn run(
    kind: &dyn NodeKind,
    config: &str,
    params: &[(&str, f32)],
    inputs: &[Vec<f32>],
) -> (Vec<Vec<f32>>, usize, Vec<f32>) {
    let case = Case::new(kind).config(config).params(params);
    let mut built = build(&case, prepare());
    let meters = meters_for(&built.spec);
    // Extra input ports (a sidechain) get copies of the main input.
    let inputs: Vec<Vec<f32>> = inputs
        .iter()
        .cycle()
        .take(built.spec.input_channels())
        .cloned()
        .collect();
    let out = render(&mut built, &inputs, 64, &[], &meters);
    let meter_values = meters.iter().map(|m| m.load()).collect();
    (out, built.spec.latency_frames, meter_values)
}

// ---------------------------------------------------------------- harness

#[test]
fn compressor_passes_harness() {
    check_kind(&Case::new(&CompressorKind));
    check_kind(
        &Case::new(&CompressorKind)
            .config("(lookahead_ms: 5.0)")
            .params(&[
                ("detector", 1.0),
                ("auto_release", 1.0),
                ("sidechain_hpf_hz", 80.0),
                ("mix_pct", 50.0),
                ("link_pct", 50.0),
                ("makeup_db", 3.0),
            ]),
    );
    check_kind(&Case::new(&CompressorKind).config("(channels: 1, lookahead_ms: 1.5)"));
}

#[test]
fn limiter_passes_harness() {
    check_kind(&Case::new(&LimiterKind));
    check_kind(
        &Case::new(&LimiterKind)
            .config("(lookahead_ms: 3.0, oversampling: 8)")
            .params(&[
                ("auto_release", 1.0),
                ("link_pct", 30.0),
                ("input_gain_db", 6.0),
            ]),
    );
    check_kind(&Case::new(&LimiterKind).config("(channels: 1, oversampling: 16)"));
}

#[test]
fn clipper_passes_harness() {
    check_kind(&Case::new(&ClipperKind));
    check_kind(&Case::new(&ClipperKind).config("(shape: \"soft\", oversampling: 8)"));
    check_kind(&Case::new(&ClipperKind).config("(oversampling: 1, channels: 1)"));
    check_kind(&Case::new(&ClipperKind).config("(clamp_output: false)"));
    check_kind(
        &Case::new(&ClipperKind)
            .config("(oversampling: 2)")
            .params(&[("drive_db", 6.0)]),
    );
}

#[test]
fn dither_passes_harness() {
    check_kind(&Case::new(&DitherKind));
    check_kind(&Case::new(&DitherKind).config("(bits: 24, shaping: \"tpdf_hp\")"));
    check_kind(&Case::new(&DitherKind).config("(bits: 20, shaping: \"shaped\", seed: 7)"));
    check_kind(&Case::new(&DitherKind).config("(channels: 1, auto_mute_ms: 0.0)"));
}

#[test]
fn bad_configs_are_rejected_with_the_field_named() {
    let ctx = build_context(prepare(), "x");
    let cases: [(&dyn NodeKind, &str, &str); 6] = [
        (&LimiterKind, "(oversampling: 2)", "oversampling"),
        (&LimiterKind, "(lookahead_ms: 2.0)", "lookahead_ms"),
        (&CompressorKind, "(lookahead_ms: 80.0)", "lookahead_ms"),
        (&ClipperKind, "(oversampling: 3)", "oversampling"),
        (&DitherKind, "(bits: 32)", "bits"),
        (&DitherKind, "(channels: 0)", "channels"),
    ];
    for (kind, config, field) in cases {
        match kind.build(&lathe_engine::NodeConfig::from_ron(config), &ctx) {
            Err(lathe_engine::ConfigError::Invalid { field: f, .. }) => assert_eq!(f, field),
            Err(e) => panic!("{config}: unexpected error {e}"),
            Ok(_) => panic!("{config}: accepted"),
        }
    }
}

// ---------------------------------------------------------------- compressor

/// Gain reduction (positive dB) the compressor applies to a constant (DC) input once
/// settled, against the static curve, for hard and soft knees. Tolerance 0.01 dB.
#[test]
fn compressor_static_curve_matches_formula() {
    for knee in [0.0f32, 6.0, 12.0] {
        for level_db in [
            -40.0f64, -24.0, -21.0, -19.0, -18.0, -16.0, -12.0, -6.0, 0.0,
        ] {
            let level = 10f64.powf(level_db / 20.0) as f32;
            let input = vec![vec![level; 4800]; 2];
            let params = [
                ("threshold_db", -18.0),
                ("ratio", 4.0),
                ("knee_db", knee),
                ("attack_ms", 0.1),
                ("release_ms", 5.0),
            ];
            let (out, _, meters) = run(&CompressorKind, "", &params, &input);
            let measured = -db(out[0][4799] as f64 / level as f64);
            let expected = static_gain_reduction_db(level_db, -18.0, 4.0, knee as f64);
            assert!(
                (measured - expected).abs() < 0.01,
                "knee {knee} level {level_db}: {measured} vs {expected}"
            );
            assert!((meters[0] as f64 - expected).abs() < 0.01);
        }
    }
}

/// Attack/release definition: after a step of the wanted reduction, the applied reduction
/// (in dB) reaches 63.2 % of the step after `attack_ms` (rising) and falls to 36.8 % after
/// `release_ms`. Measured on a DC step with a hard knee; tolerance 2 frames.
#[test]
fn compressor_attack_and_release_time_constants() {
    let (attack_ms, release_ms) = (10.0f32, 100.0f32);
    let (low, high) = (0.001f32, 0.1f32); // -60 and -20 dBFS
    let step_at = 1000;
    let fall_at = 30_000;
    let frames = 60_000;
    let signal: Vec<f32> = (0..frames)
        .map(|i| {
            if (step_at..fall_at).contains(&i) {
                high
            } else {
                low
            }
        })
        .collect();
    let params = [
        ("threshold_db", -40.0),
        ("ratio", 20.0),
        ("knee_db", 0.0),
        ("attack_ms", attack_ms),
        ("release_ms", release_ms),
    ];
    let (out, _, _) = run(
        &CompressorKind,
        "",
        &params,
        &[signal.clone(), signal.clone()],
    );
    let gr: Vec<f64> = out[0]
        .iter()
        .zip(&signal)
        .map(|(&y, &x)| -db(y as f64 / x as f64))
        .collect();
    let full = 19.0; // (1 - 1/20) * (-20 - -40)
    let rise = gr[step_at..]
        .iter()
        .position(|&g| g >= 0.632 * full)
        .unwrap();
    let expected_rise = attack_ms as f64 * RATE / 1000.0;
    assert!(
        (rise as f64 - expected_rise).abs() <= 2.0,
        "rise {rise} frames vs {expected_rise}"
    );
    eprintln!("attack: 63.2 % after {rise} frames (expected {expected_rise})");
    let fall = gr[fall_at..]
        .iter()
        .position(|&g| g <= 0.368 * gr[fall_at - 1])
        .unwrap();
    let expected_fall = release_ms as f64 * RATE / 1000.0;
    eprintln!("release: 36.8 % after {fall} frames (expected {expected_fall})");
    assert!(
        (fall as f64 - expected_fall).abs() <= 2.0,
        "fall {fall} frames vs {expected_fall}"
    );
}

/// Auto release recovers faster than the set release after a short peak and slower after
/// sustained reduction.
#[test]
fn compressor_auto_release_is_program_dependent() {
    let fall_time = |burst: usize| {
        let frames = burst + 48_000;
        let signal: Vec<f32> = (0..frames)
            .map(|i| if i < burst { 0.5 } else { 0.01 })
            .collect();
        let params = [
            ("threshold_db", -30.0),
            ("ratio", 10.0),
            ("attack_ms", 1.0),
            ("release_ms", 100.0),
            ("auto_release", 1.0),
        ];
        let (out, _, _) = run(
            &CompressorKind,
            "(channels: 1)",
            &params,
            std::slice::from_ref(&signal),
        );
        let gr: Vec<f64> = out[0]
            .iter()
            .zip(&signal)
            .map(|(&y, &x)| -db(y as f64 / x as f64))
            .collect();
        let start = gr[burst - 1];
        gr[burst..]
            .iter()
            .position(|&g| g <= 0.368 * start)
            .unwrap() as f64
            * 1000.0
            / RATE
    };
    let short = fall_time(480); // 10 ms peak
    let long = fall_time(96_000); // 2 s of reduction
    eprintln!("auto release: {short:.1} ms after a 10 ms peak, {long:.1} ms after 2 s");
    assert!(short < 50.0, "after a short peak: {short} ms");
    assert!(long > 150.0, "after sustained reduction: {long} ms");
}

/// The RMS detector reads a sine at its RMS level (peak - 3.01 dB): the settled reduction
/// of a 1 kHz sine matches the static curve at the RMS level within 0.1 dB (the 10 ms
/// mean square still ripples a little at 2 kHz), and the peak detector's at its peak.
#[test]
fn compressor_rms_and_peak_detectors_read_their_levels() {
    let amp = 0.5f64;
    let x = sine(1000.0, amp, 0.0, 48_000);
    let rms_of =
        |v: &[f32]| (v.iter().map(|&s| (s as f64).powi(2)).sum::<f64>() / v.len() as f64).sqrt();
    for (detector, level_db) in [(1.0f32, db(amp) - 10.0 * 2f64.log10()), (0.0, db(amp))] {
        let params = [
            ("detector", detector),
            ("threshold_db", -30.0),
            ("ratio", 4.0),
            ("knee_db", 0.0),
            ("attack_ms", 50.0),
            ("release_ms", 500.0),
        ];
        let (out, _, _) = run(
            &CompressorKind,
            "(channels: 1)",
            &params,
            std::slice::from_ref(&x),
        );
        let measured = -db(rms_of(&out[0][24_000..]) / rms_of(&x[24_000..]));
        let expected = static_gain_reduction_db(level_db, -30.0, 4.0, 0.0);
        eprintln!("detector {detector}: {measured:.3} dB vs {expected:.3} dB");
        assert!(
            (measured - expected).abs() < 0.1,
            "detector {detector}: {measured} vs {expected}"
        );
    }
}

/// A loud sidechain compresses a quiet main input; unlinked, the main input detects.
#[test]
fn compressor_sidechain_drives_detection() {
    let frames = 9600;
    let quiet: Vec<f32> = (0..frames)
        .map(|i| 0.01 * (i as f32 * 0.05).sin())
        .collect();
    let loud = vec![0.5f32; frames]; // -6 dBFS
    let case = Case::new(&CompressorKind).config("(channels: 1)").params(&[
        ("threshold_db", -30.0),
        ("ratio", 4.0),
        ("knee_db", 0.0),
        ("attack_ms", 1.0),
    ]);
    let render_with = |connected: [bool; 2], sidechain: &[f32]| {
        let mut built = build(&case, prepare());
        let meters = meters_for(&built.spec);
        let inputs = vec![quiet.clone(), sidechain.to_vec()];
        let mut outputs = vec![vec![0.0f32; frames]];
        render_into(
            &mut built,
            &inputs,
            &mut outputs,
            64,
            &[],
            &meters,
            &connected,
        );
        outputs.remove(0)
    };
    let ducked = render_with([true, true], &loud);
    let expected = static_gain_reduction_db(db(0.5), -30.0, 4.0, 0.0);
    let i = frames - 7; // a sample where the quiet sine is not near zero
    let measured = -db(ducked[i] as f64 / quiet[i] as f64);
    assert!(
        (measured - expected).abs() < 0.01,
        "{measured} vs {expected} dB"
    );
    // Same sidechain data but the port unlinked: the -40 dBFS main input stays untouched.
    let untouched = render_with([true, false], &loud);
    assert_eq!(untouched, quiet);
}

/// The sidechain high-pass keeps a loud 40 Hz tone from triggering compression.
#[test]
fn compressor_sidechain_hpf_ignores_low_frequencies() {
    let frames = 24_000;
    let bass: Vec<f32> = (0..frames)
        .map(|i| 0.5 * (2.0 * std::f64::consts::PI * 40.0 * i as f64 / RATE).sin() as f32)
        .collect();
    let reduction = |hpf: f32| {
        let params = [
            ("threshold_db", -20.0),
            ("sidechain_hpf_hz", hpf),
            ("knee_db", 0.0),
        ];
        let (_, _, meters) = run(
            &CompressorKind,
            "(channels: 1)",
            &params,
            std::slice::from_ref(&bass),
        );
        meters[0]
    };
    let off = reduction(0.0);
    let on = reduction(400.0);
    assert!(off > 5.0, "without the filter: {off} dB");
    assert!(on < 0.5, "with a 400 Hz high-pass: {on} dB");
}

/// Lookahead delays the audio by exactly the declared latency and lets the gain drop
/// before a step reaches the output.
#[test]
fn compressor_lookahead_latency_and_anticipation() {
    let frames = 4800;
    let at = 2000;
    let signal: Vec<f32> = (0..frames)
        .map(|i| if i >= at { 0.5 } else { 0.001 })
        .collect();
    let params = [("threshold_db", -30.0), ("ratio", 10.0), ("attack_ms", 1.0)];
    let (out, latency, _) = run(
        &CompressorKind,
        "(channels: 1, lookahead_ms: 5.0)",
        &params,
        std::slice::from_ref(&signal),
    );
    assert_eq!(latency, 240);
    // The step reaches the output exactly `latency` frames later (the quiet part before
    // it is already turned down: the detector runs ahead of the audio).
    assert!(out[0][at + latency - 1] <= 0.001);
    assert!(out[0][at + latency] > 0.01);
    assert_eq!(out[0][..at].iter().filter(|&&v| v > 0.001).count(), 0);
    // 5 time constants of look-ahead: the step arrives already reduced by > 99 % of the
    // static reduction (in dB).
    let expected = static_gain_reduction_db(db(0.5), -30.0, 10.0, 6.0);
    let applied = -db(out[0][at + latency] as f64 / 0.5);
    assert!(applied > 0.99 * expected, "{applied} of {expected} dB");
}

/// Dry/wet mix blends the delayed dry signal with the compressed one.
#[test]
fn compressor_mix_blends_dry_and_wet() {
    let input = vec![vec![0.5f32; 4800]; 2];
    let params = [
        ("ratio", 4.0),
        ("attack_ms", 0.1),
        ("mix_pct", 50.0),
        ("makeup_db", 2.0),
    ];
    let (out, _, _) = run(&CompressorKind, "", &params, &input);
    let gr = static_gain_reduction_db(db(0.5), -18.0, 4.0, 6.0);
    let wet = 0.5 * 10f64.powf((2.0 - gr) / 20.0);
    let expected = 0.5 * 0.5 + 0.5 * wet;
    assert!((out[0][4799] as f64 - expected).abs() < 1e-5);
}

// ---------------------------------------------------------------- limiter

/// Reference true peak, written independently of the node's detector: 16x interpolation
/// with a Kaiser-windowed sinc (beta 8, 2 x 192 frames), evaluated directly (no polyphase).
/// Its passband is flat to 0.49 fs, so it reads content close to Nyquist as an ideal
/// interpolator would, and its stopband is 80 dB down.
fn reference_true_peak(x: &[f32]) -> f64 {
    const UP: usize = 16;
    const HALF: isize = 192;
    const BETA: f64 = 8.0;
    let i0 = |v: f64| {
        let (mut sum, mut term) = (1.0f64, 1.0f64);
        for k in 1..60 {
            term *= (v / (2.0 * k as f64)).powi(2);
            sum += term;
        }
        sum
    };
    // kernel[j][k]: weight of x[i + k - HALF] for the point j/UP after sample i.
    let kernel: Vec<Vec<f64>> = (1..UP)
        .map(|j| {
            (-HALF..=HALF)
                .map(|m| {
                    let t = m as f64 - j as f64 / UP as f64;
                    let sinc = (std::f64::consts::PI * t).sin() / (std::f64::consts::PI * t);
                    let r = t / (HALF as f64 + 1.0);
                    sinc * i0(BETA * (1.0 - r * r).max(0.0).sqrt()) / i0(BETA)
                })
                .collect()
        })
        .collect();
    let n = x.len();
    let pad = HALF as usize;
    let padded: Vec<f64> = std::iter::repeat_n(0.0, pad)
        .chain(x.iter().map(|&v| v as f64))
        .chain(std::iter::repeat_n(0.0, pad + 1))
        .collect();
    let mut peak = x.iter().fold(0.0f64, |m, &v| m.max(v.abs() as f64));
    for i in 0..n {
        let window = &padded[i..i + 2 * pad + 1];
        for taps in &kernel {
            let acc: f64 = taps.iter().zip(window).map(|(c, v)| c * v).sum();
            peak = peak.max(acc.abs());
        }
    }
    peak
}

/// True peak and sample peak (dB) of a stereo signal by lathe's own BS.1770 analyser.
fn bs1770_peaks(out: &[Vec<f32>]) -> (f64, f64) {
    let channels: Vec<&[f32]> = out.iter().map(|c| c.as_slice()).collect();
    let layout = if channels.len() == 2 {
        Layout::Stereo
    } else {
        Layout::Unweighted(channels.len())
    };
    let a = analyze(&channels, RATE, layout);
    (
        a.true_peak_dbtp.unwrap_or(f64::NEG_INFINITY),
        a.sample_peak_dbfs.unwrap_or(f64::NEG_INFINITY),
    )
}

/// Runs the limiter and checks the guarantee: sample peak <= ceiling, true peak <=
/// ceiling + 0.1 dB by both the reference and lathe's BS.1770 meter. Returns (sample peak dBFS, true peak dBTP).
fn check_limiter(
    config: &str,
    params: &[(&str, f32)],
    inputs: &[Vec<f32>],
    ceiling_db: f64,
) -> (f64, f64) {
    // Zeros after the signal let its end leave the lookahead delay: the reference treats
    // everything outside the output as silence, so a cut-off output would read a
    // truncation overshoot that is not the limiter's.
    let padded: Vec<Vec<f32>> = inputs
        .iter()
        .map(|ch| {
            ch.iter()
                .copied()
                .chain(std::iter::repeat_n(0.0, 2000))
                .collect()
        })
        .collect();
    let (out, _, _) = run(&LimiterKind, config, params, &padded);
    let ceiling = 10f64.powf(ceiling_db / 20.0);
    let mut sample_peak = 0.0f64;
    let mut true_peak = 0.0f64;
    for ch in &out {
        for &y in ch {
            sample_peak = sample_peak.max(y.abs() as f64);
        }
        true_peak = true_peak.max(reference_true_peak(ch));
    }
    let (meter_true_peak, _) = bs1770_peaks(&out);
    assert!(
        meter_true_peak <= ceiling_db + 0.1,
        "BS.1770 true peak {meter_true_peak} dBTP over ceiling {ceiling_db} + 0.1"
    );
    assert!(
        sample_peak <= ceiling,
        "sample peak {} dB over ceiling {ceiling_db}",
        db(sample_peak)
    );
    assert!(
        db(true_peak) <= ceiling_db + 0.1,
        "true peak {} dBTP over ceiling {ceiling_db} + 0.1",
        db(true_peak)
    );
    (db(sample_peak), db(true_peak))
}

fn sine(freq_hz: f64, amp: f64, phase: f64, frames: usize) -> Vec<f32> {
    let w = 2.0 * std::f64::consts::PI * freq_hz / RATE;
    (0..frames)
        .map(|i| (amp * (w * i as f64 + phase).sin()) as f32)
        .collect()
}

/// Signals that stress a true-peak limiter. A period-2 square (a tone at exactly fs/2) is
/// left out on purpose: the interpolated peak of a switched-on fs/2 tone grows with the
/// length of the interpolation kernel (its sinc tails add up without cancelling), so it
/// has no true peak to meet; the period-6 square still carries an fs/2 harmonic.
fn hostile_signals() -> Vec<(&'static str, Vec<f32>)> {
    let n = 12_000;
    let square = |period: usize| -> Vec<f32> {
        (0..n)
            .map(|i| {
                if (i / (period / 2)).is_multiple_of(2) {
                    1.0
                } else {
                    -1.0
                }
            })
            .collect()
    };
    let mut noise_state = 0x1234_5678u32;
    let mut noise = move || {
        noise_state ^= noise_state << 13;
        noise_state ^= noise_state >> 17;
        noise_state ^= noise_state << 5;
        noise_state as f32 / u32::MAX as f32 * 2.0 - 1.0
    };
    let burst: Vec<f32> = (0..n)
        .map(|i| if i < n / 2 { 0.0 } else { noise() })
        .collect();
    let dc_steps: Vec<f32> = (0..n)
        .map(|i| [0.0, 1.0, -1.0, 0.5, -0.2, 1.0][(i * 6 / n).min(5)])
        .collect();
    let impulses: Vec<f32> = (0..n)
        .map(|i| match i % 997 {
            0 => 1.0,
            1 => -1.0,
            _ => 0.0,
        })
        .collect();
    vec![
        ("square 6", square(6)),
        ("square 100", square(100)),
        ("square 48", square(48)),
        (
            "fs/4 at 45 degrees",
            sine(12_000.0, 1.0, std::f64::consts::FRAC_PI_4, n),
        ),
        ("21 kHz", sine(21_000.0, 1.0, 0.7, n)),
        ("19.3 kHz", sine(19_300.0, 1.0, 2.1, n)),
        ("silence then noise burst", burst),
        ("dc steps", dc_steps),
        ("impulse pairs", impulses),
    ]
}

#[test]
fn limiter_guarantee_on_hostile_signals() {
    for (name, signal) in hostile_signals() {
        for (config, input_gain) in [
            ("", 0.0f32),
            ("", 20.0),
            ("(oversampling: 8, lookahead_ms: 3.0)", 20.0),
        ] {
            let inputs = vec![signal.clone(), signal.iter().map(|x| -0.5 * x).collect()];
            let params = [("input_gain_db", input_gain), ("ceiling_dbtp", -1.0)];
            let (sp, tp) = check_limiter(config, &params, &inputs, -1.0);
            eprintln!("[{name}] +{input_gain} dB {config}: sample {sp:.3} dBFS, true {tp:.3} dBTP");
        }
    }
}

/// Deterministic white noise in -1..1 (xorshift32).
fn white_noise(seed: u32, frames: usize) -> Vec<f32> {
    let mut state = seed | 1;
    (0..frames)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state as f32 / u32::MAX as f32 * 2.0 - 1.0
        })
        .collect()
}

/// Pink-ish noise: white noise through three one-pole low-passes an octave and a half
/// apart, summed with the white itself (about -3 dB per octave up to Nyquist).
fn pink_noise(seed: u32, frames: usize) -> Vec<f32> {
    let white = white_noise(seed, frames);
    let mut state = [0.0f64; 3];
    let poles = [0.997, 0.97, 0.75];
    let weights = [0.05, 0.09, 0.2];
    let y: Vec<f64> = white
        .iter()
        .map(|&w| {
            let w = w as f64;
            let mut v = 0.15 * w;
            for k in 0..3 {
                state[k] = poles[k] * state[k] + (1.0 - poles[k]) * w;
                v += weights[k] * state[k] / (1.0 - poles[k]).sqrt();
            }
            v
        })
        .collect();
    let peak = y.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    y.iter().map(|v| (v / peak) as f32).collect()
}

/// Bursts of `noise` 50 ms long every 80 ms, with silence between.
fn bursts(noise: Vec<f32>) -> Vec<f32> {
    let on = (RATE * 0.05) as usize;
    let period = (RATE * 0.08) as usize;
    noise
        .iter()
        .enumerate()
        .map(|(i, &v)| if i % period < on { v } else { 0.0 })
        .collect()
}

/// A drum-and-bass bar like the demo mix: a kick with a falling pitch, full-band white
/// noise hats and a noisy snare with sharp attacks, a sawtooth-ish bass; peaks at 0 dBFS.
fn demo_like(frames: usize, seed: u32) -> Vec<f32> {
    let noise = white_noise(seed, frames);
    let step = (RATE * 0.125) as usize; // 1/8 notes at 120 bpm
    let mut phase = 0.0f64;
    let y: Vec<f64> = (0..frames)
        .map(|i| {
            let beat = i % (4 * step);
            let since = (i % step) as f64 / RATE;
            // Kick on every beat: 150 Hz falling to 50 Hz, 200 ms decay.
            let kt = (i % (2 * step)) as f64 / RATE;
            phase += 2.0 * std::f64::consts::PI * (50.0 + 100.0 * (-kt / 0.03).exp()) / RATE;
            let kick = 0.9 * (-kt / 0.2).exp() * phase.sin();
            // Hats on every 1/8: white noise, 30 ms decay.
            let hat = 0.5 * (-since / 0.03).exp() * noise[i] as f64;
            // Snare on beats 2 and 4: noise plus a 190 Hz body, 80 ms decay.
            let snare = if beat >= 2 * step {
                let st = (beat - 2 * step) as f64 / RATE;
                (-st / 0.08).exp()
                    * (0.7 * noise[(i * 7) % frames] as f64
                        + 0.4 * (2.0 * std::f64::consts::PI * 190.0 * st).sin())
            } else {
                0.0
            };
            let t = i as f64 / RATE;
            let bass: f64 = (1..8)
                .map(|k| 0.25 / k as f64 * (2.0 * std::f64::consts::PI * 55.0 * k as f64 * t).sin())
                .sum();
            kick + hat + snare + bass
        })
        .collect();
    let peak = y.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    y.iter().map(|v| (v / peak) as f32).collect()
}

/// Logarithmic sine sweep from 20 Hz to 0.49 fs at full scale.
fn sweep(frames: usize) -> Vec<f32> {
    let (f0, f1) = (20.0f64, 0.49 * RATE);
    let dur = frames as f64 / RATE;
    let k = (f1 / f0).ln() / dur;
    (0..frames)
        .map(|i| {
            let t = i as f64 / RATE;
            let phase = 2.0 * std::f64::consts::PI * f0 * ((k * t).exp() - 1.0) / k;
            phase.sin() as f32
        })
        .collect()
}

/// Material with energy up to Nyquist, pushed 10 and 20 dB into the ceiling: the true
/// peak stays within 0.1 dB of it by the 16x reference and by the BS.1770 meter, and the
/// sample peak never passes it.
#[test]
fn limiter_guarantee_on_full_band_material() {
    let n = 24_000;
    let signals: Vec<(&str, Vec<f32>, Vec<f32>)> = vec![
        (
            "white noise bursts",
            bursts(white_noise(1, n)),
            bursts(white_noise(2, n)),
        ),
        (
            "pink noise bursts",
            bursts(pink_noise(3, n)),
            bursts(pink_noise(4, n)),
        ),
        ("demo-like mix", demo_like(n, 5), demo_like(n, 6)),
        (
            "sweep to 0.49 fs",
            sweep(n),
            sweep(n).iter().map(|x| -x).collect(),
        ),
    ];
    for (name, left, right) in signals {
        for (config, input_gain) in [
            ("", 10.0f32),
            ("", 20.0),
            ("(oversampling: 8, lookahead_ms: 3.0)", 20.0),
        ] {
            let inputs = vec![left.clone(), right.clone()];
            let params = [("input_gain_db", input_gain), ("ceiling_dbtp", -1.0)];
            let (sp, tp) = check_limiter(config, &params, &inputs, -1.0);
            eprintln!("[{name}] +{input_gain} dB {config}: sample {sp:.3} dBFS, true {tp:.3} dBTP");
        }
    }
}

/// Below the ceiling the limiter is a pure delay: gain exactly 1, meter 0.
#[test]
fn limiter_leaves_signals_below_the_ceiling_untouched() {
    let x = sine(997.0, 10f64.powf(-3.0 / 20.0), 0.0, 24_000);
    let (out, latency, meters) = run(
        &LimiterKind,
        "",
        &[("ceiling_dbtp", -1.0)],
        &[x.clone(), x.clone()],
    );
    for i in latency..x.len() {
        assert_eq!(out[0][i], x[i - latency]);
    }
    assert_eq!(meters[0], 0.0);
    assert!(
        (meters[1] as f64 + 3.0).abs() < 0.01,
        "true peak meter {}",
        meters[1]
    );
}

/// 6 dB over the ceiling, a steady sine comes out at the ceiling with a constant gain: the
/// residual after removing the fundamental is below -100 dB (no distortion from the gain).
#[test]
fn limiter_gain_is_smooth_on_steady_sines() {
    let freq = 1000.0;
    let x = sine(freq, 10f64.powf(5.0 / 20.0), 0.0, 48_000);
    let (out, _, meters) = run(
        &LimiterKind,
        "",
        &[("ceiling_dbtp", -1.0)],
        &[x.clone(), x.clone()],
    );
    let y = &out[0][24_000..];
    let w = 2.0 * std::f64::consts::PI * freq / RATE;
    let (mut s, mut c) = (0.0, 0.0);
    for (i, &v) in y.iter().enumerate() {
        s += v as f64 * (w * i as f64).sin();
        c += v as f64 * (w * i as f64).cos();
    }
    let (s, c) = (2.0 * s / y.len() as f64, 2.0 * c / y.len() as f64);
    let amp = (s * s + c * c).sqrt();
    let residual = y
        .iter()
        .enumerate()
        .map(|(i, &v)| {
            let fit = s * (w * i as f64).sin() + c * (w * i as f64).cos();
            (v as f64 - fit).powi(2)
        })
        .sum::<f64>()
        / y.len() as f64;
    let residual_db = 10.0 * residual.log10() - db(amp / 2f64.sqrt());
    assert!(
        (db(amp) + 1.0).abs() < 0.05,
        "output amplitude {} dB",
        db(amp)
    );
    assert!(residual_db < -100.0, "residual {residual_db} dB");
    assert!(
        (meters[0] - 6.0).abs() < 0.05,
        "gain reduction meter {}",
        meters[0]
    );
}

prop_compose! {
    fn limiter_case()(
        seed in any::<u32>(),
        tones in prop::collection::vec((100.0f64..23_500.0, 0.0f64..1.0, 0.0f64..6.3), 1..4),
        noise_amp in 0.0f64..1.0,
        // From 4: a period-2 square is a bare fs/2 tone (see `hostile_signals`).
        square_period in 4usize..200,
        square_amp in 0.0f64..1.0,
        ceiling in -6.0f32..0.0,
        input_gain in 0.0f32..24.0,
        release in 1.0f32..500.0,
        link in 0.0f32..100.0,
        auto_release in any::<bool>(),
        lookahead in prop::sample::select(vec![3.0f64, 4.0, 5.0, 10.0]),
        oversampling in prop::sample::select(vec![4usize, 8]),
    ) -> (Vec<Vec<f32>>, f32, [(&'static str, f32); 5], String) {
        let n = 6000;
        let mut state = seed | 1;
        let inputs = (0..2)
            .map(|ch| {
                (0..n)
                    .map(|i| {
                        state ^= state << 13;
                        state ^= state >> 17;
                        state ^= state << 5;
                        let noise = state as f64 / u32::MAX as f64 * 2.0 - 1.0;
                        let t = i as f64 / RATE;
                        let mut v: f64 = tones
                            .iter()
                            .map(|&(f, a, p)| a * (2.0 * std::f64::consts::PI * f * t + p + ch as f64).sin())
                            .sum();
                        // Sections: silence, tones, tones + noise, square.
                        match i * 4 / n {
                            0 => v = 0.0,
                            1 => {}
                            2 => v += noise_amp * noise,
                            _ => v = if (i / (square_period / 2).max(1)) % 2 == 0 { square_amp } else { -square_amp },
                        }
                        v as f32
                    })
                    .collect()
            })
            .collect();
        let params = [
            ("ceiling_dbtp", ceiling),
            ("input_gain_db", input_gain),
            ("release_ms", release),
            ("link_pct", link),
            ("auto_release", if auto_release { 1.0 } else { 0.0 }),
        ];
        let config = format!("(lookahead_ms: {lookahead:.1}, oversampling: {oversampling})");
        (inputs, ceiling, params, config)
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 128,
        rng_seed: proptest::test_runner::RngSeed::Fixed(0x11_7e),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn limiter_guarantee_holds_for_random_signals_and_params(case in limiter_case()) {
        let (inputs, ceiling, params, config) = case;
        let (_, tp) = check_limiter(&config, &params, &inputs, ceiling as f64);
        eprintln!("random case {config}: true peak {:+.3} dB re ceiling", tp - ceiling as f64);
    }
}

// ---------------------------------------------------------------- clipper

#[test]
fn clipper_respects_the_ceiling_and_declares_its_latency() {
    let loud = sine(3000.0, 1.0, 0.3, 12_000);
    for config in [
        "",
        "(shape: \"soft\")",
        "(oversampling: 1)",
        "(oversampling: 8)",
    ] {
        let params = [("drive_db", 24.0), ("ceiling_db", -3.0)];
        let (out, latency, _) = run(&ClipperKind, config, &params, &[loud.clone(), loud.clone()]);
        let ceiling = 10f64.powf(-3.0 / 20.0) as f32;
        let peak = out[0].iter().fold(0.0f32, |m, &v| m.max(v.abs()));
        assert!(peak <= ceiling, "{config}: peak {peak} over {ceiling}");
        assert!(peak > 0.99 * ceiling, "{config}: peak {peak}");
        let expected_latency = if config.contains("oversampling: 1") {
            0
        } else {
            72
        };
        assert_eq!(latency, expected_latency, "{config}");
    }
    // A quiet signal passes a hard clipper unchanged but for the delay (filter error
    // below -100 dB).
    let quiet = sine(1000.0, 0.1, 0.0, 4800);
    let (out, latency, _) = run(&ClipperKind, "", &[], &[quiet.clone(), quiet.clone()]);
    for i in 1000..4800 {
        assert!((out[0][i] - quiet[i - latency]).abs() < 1e-6);
    }
}

/// Power below 20 kHz other than the 15 kHz fundamental, relative to the fundamental, in
/// dB: for a 15 kHz tone every other component in that band is an alias.
fn alias_to_fundamental_db(x: &[f32]) -> f64 {
    use realfft::RealFftPlanner;
    let n = x.len(); // a whole number of 15 kHz periods: the tone sits on one bin
    let fft = RealFftPlanner::<f64>::new().plan_fft_forward(n);
    let mut input: Vec<f64> = x.iter().map(|&v| v as f64).collect();
    let mut spectrum = fft.make_output_vec();
    fft.process(&mut input, &mut spectrum).expect("sizes match");
    let bin_hz = RATE / n as f64;
    let tone_bin = (15_000.0 / bin_hz).round() as usize;
    let top_bin = (20_000.0 / bin_hz) as usize;
    let alias: f64 = (1..=top_bin)
        .filter(|&k| k != tone_bin)
        .map(|k| spectrum[k].norm_sqr())
        .sum();
    10.0 * (alias / spectrum[tone_bin].norm_sqr()).log10()
}

/// A 15 kHz sine driven 12 dB into the clipper: without oversampling every harmonic
/// folds back below 20 kHz. Aliases are measured as all power below 20 kHz except the
/// fundamental, relative to it. Without the output clamp, 4x must cut them by 15 dB and
/// 8x by 35 dB (at 4x the 13th harmonic, 195 kHz, still folds to 3 kHz); with the clamp
/// (default) 4x must still gain 10 dB.
#[test]
fn clipper_oversampling_suppresses_aliasing() {
    let x = sine(15_000.0, 1.0, 0.0, 14_400);
    let alias_db = |shape: &str, factor: usize, clamp: bool| {
        let config = format!("(oversampling: {factor}, shape: \"{shape}\", clamp_output: {clamp})");
        let params = [("drive_db", 12.0), ("ceiling_db", -6.0)];
        let (out, _, _) = run(&ClipperKind, &config, &params, &[x.clone(), x.clone()]);
        alias_to_fundamental_db(&out[0][4800..14_400])
    };
    for shape in ["hard", "soft"] {
        let plain = alias_db(shape, 1, true);
        let (x4, x8) = (alias_db(shape, 4, false), alias_db(shape, 8, false));
        let x4_clamped = alias_db(shape, 4, true);
        eprintln!(
            "{shape}: aliases {plain:.1} dB plain; unclamped {x4:.1} dB at 4x, {x8:.1} dB at 8x; \
             clamped {x4_clamped:.1} dB at 4x"
        );
        assert!(x4 < plain - 15.0, "{shape}: 4x {x4} vs {plain} dB");
        assert!(x8 < plain - 35.0, "{shape}: 8x {x8} vs {plain} dB");
        assert!(
            x4_clamped < plain - 10.0,
            "{shape}: clamped 4x {x4_clamped} vs {plain} dB"
        );
    }
}

// ---------------------------------------------------------------- dither

/// A theoretical noise power density over normalised frequency, in LSB^2.
type Density = Box<dyn Fn(f64) -> f64>;

/// Quantisation error (output - input) in LSB for a signal far from the grid.
fn dither_error(config: &str, bits: u32, frames: usize) -> Vec<f64> {
    let lsb = 2f64.powi(1 - bits as i32);
    // A slow sine of a few hundred LSB plus an offset of 0.3 LSB.
    let input: Vec<f32> = (0..frames)
        .map(|i| ((300.0 * (i as f64 * 0.001).sin() + 0.3) * lsb) as f32)
        .collect();
    let (out, _, _) = run(&DitherKind, config, &[], &[input.clone(), input.clone()]);
    out[0]
        .iter()
        .zip(&input)
        .map(|(&y, &x)| {
            let steps = y as f64 / lsb;
            assert_eq!(
                steps,
                steps.round(),
                "output {y} is not on the {bits}-bit grid"
            );
            steps - x as f64 / lsb
        })
        .collect()
}

fn power(e: &[f64]) -> f64 {
    e.iter().map(|v| v * v).sum::<f64>() / e.len() as f64
}

/// Total noise power (LSB^2) against theory: TPDF dither (variance 1/6) plus rounding
/// (1/12) = 1/4, RMS 0.5 LSB, for plain and high-passed TPDF; the shaped variant
/// multiplies 1/4 by 1 + 1.6^2 + 0.64^2. Tolerance 2 % (400k samples).
#[test]
fn dither_noise_power_matches_theory() {
    for (config, bits, expected) in [
        ("(bits: 16)", 16, 0.25),
        ("(bits: 24, shaping: \"tpdf_hp\")", 24, 0.25),
        (
            "(bits: 20, shaping: \"shaped\")",
            20,
            0.25 * (1.0 + 1.6 * 1.6 + 0.64 * 0.64),
        ),
    ] {
        let p = power(&dither_error(config, bits, 400_000));
        eprintln!("{config}: noise power {p:.4} LSB^2 (theory {expected:.4})");
        assert!(
            (p / expected - 1.0).abs() < 0.02,
            "{config}: {p} LSB^2 vs {expected}"
        );
    }
}

/// Noise power in the lowest and highest eighth of the band, against the theoretical
/// spectra: flat for plain TPDF; 1/12 (1 + 4 sin^2(pi f)) for tpdf_hp; 1/4 |F|^2 with
/// F = (1 - 0.8 z^-1)^2 for shaped. Band powers from averaged 1024-point periodograms
/// (Hann window); tolerance 10 %.
#[test]
fn dither_spectrum_follows_the_shaping() {
    use realfft::RealFftPlanner;
    let fft_len = 1024;
    let mut planner = RealFftPlanner::<f64>::new();
    let fft = planner.plan_fft_forward(fft_len);
    let band_powers = |e: &[f64]| {
        let window: Vec<f64> = (0..fft_len)
            .map(|i| 0.5 - 0.5 * (2.0 * std::f64::consts::PI * i as f64 / fft_len as f64).cos())
            .collect();
        let mut spectrum = vec![0.0; fft_len / 2 + 1];
        for chunk in e.chunks_exact(fft_len) {
            let mut frame: Vec<f64> = chunk.iter().zip(&window).map(|(x, w)| x * w).collect();
            let mut out = fft.make_output_vec();
            fft.process(&mut frame, &mut out).unwrap();
            for (s, c) in spectrum.iter_mut().zip(&out) {
                *s += c.norm_sqr();
            }
        }
        let eighth = fft_len / 16;
        let low: f64 = spectrum[1..eighth].iter().sum::<f64>() / (eighth - 1) as f64;
        let high: f64 = spectrum[fft_len / 2 - eighth..fft_len / 2]
            .iter()
            .sum::<f64>()
            / eighth as f64;
        (low, high)
    };
    // Theoretical mean spectral density over a band of normalised frequencies.
    let theory = |density: &dyn Fn(f64) -> f64, from: f64, to: f64| {
        let steps = 1000;
        (0..steps)
            .map(|i| density(from + (to - from) * (i as f64 + 0.5) / steps as f64))
            .sum::<f64>()
            / steps as f64
    };
    let sin2 = |f: f64| (std::f64::consts::PI * f).sin().powi(2);
    let cases: [(&str, u32, Density); 3] = [
        ("(bits: 16)", 16, Box::new(|_| 0.25)),
        (
            "(bits: 16, shaping: \"tpdf_hp\")",
            16,
            Box::new(move |f| (1.0 + 4.0 * sin2(f)) / 12.0),
        ),
        (
            "(bits: 16, shaping: \"shaped\")",
            16,
            Box::new(|f| {
                // 1/4 |1 - 0.8 e^{-jw}|^4
                let single = 1.64 - 1.6 * (2.0 * std::f64::consts::PI * f).cos();
                0.25 * single * single
            }),
        ),
    ];
    let eighth = 1.0 / 16.0;
    for (config, bits, density) in cases {
        let e = dither_error(config, bits, 400_000);
        let (low, high) = band_powers(&e);
        let measured = high / low;
        let expected =
            theory(&*density, 0.5 - eighth, 0.5) / theory(&*density, 1.0 / 1024.0, eighth);
        eprintln!("{config}: high/low band power {measured:.3} (theory {expected:.3})");
        assert!(
            (measured / expected - 1.0).abs() < 0.1,
            "{config}: high/low {measured} vs {expected}"
        );
        if config.contains("shaping") {
            assert!(measured > 1.5, "{config}: spectrum does not rise");
        }
    }
}

/// Exact zero input for longer than `auto_mute_ms` gives exact zero output; dithering
/// resumes with the signal. Same seed, same noise; another seed, other noise.
#[test]
fn dither_auto_mutes_digital_silence_and_is_deterministic() {
    let frames = 48_000;
    let input: Vec<f32> = (0..frames)
        .map(|i| {
            if !(10_000..40_000).contains(&i) {
                0.001
            } else {
                0.0
            }
        })
        .collect();
    for shaping in ["none", "tpdf_hp", "shaped"] {
        let config = format!("(auto_mute_ms: 100.0, shaping: \"{shaping}\")");
        let (out, _, _) = run(&DitherKind, &config, &[], &[input.clone(), input.clone()]);
        let mute_after = 10_000 + 4800;
        assert!(
            out[0][10_000..mute_after - 1].iter().any(|&v| v != 0.0),
            "{shaping}: muted too early"
        );
        assert!(
            out[0][mute_after..40_000].iter().all(|&v| v == 0.0),
            "{shaping}: not muted"
        );
        assert!(
            out[0][40_000..].iter().any(|&v| v != out[0][40_000]),
            "{shaping}: no dither after"
        );
    }
    let noise = |seed: u64| {
        run(
            &DitherKind,
            &format!("(seed: {seed})"),
            &[],
            &[input.clone(), input.clone()],
        )
        .0
    };
    assert_eq!(noise(3), noise(3));
    assert_ne!(noise(3), noise(4));
}
