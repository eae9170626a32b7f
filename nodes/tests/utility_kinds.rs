//! The crossover, stereo, routing and source kinds: the shared harness for every kind and
//! config variant, and measurements of what each kind is for.

use lathe_engine::harness::{
    Case, HARNESS_MAX_BLOCK, HARNESS_RATE_HZ, LatencyCheck, ParamEvent, build, check_kind, render,
    render_into, test_signal,
};
use lathe_engine::{NodeKind, ParamId, PrepareInfo};
use lathe_nodes::kinds::{
    balance::BalanceKind,
    crossover::CrossoverKind,
    dc_block::DcBlockKind,
    delay::DelayKind,
    mid_side::{MsDecodeKind, MsEncodeKind},
    mix::MixKind,
    polarity::PolarityKind,
    route::RouteKind,
    sources::{ImpulseKind, NoiseKind, SineKind, SweepKind},
    width::WidthKind,
};

mod common;
use common::build_context;

#[global_allocator]
static ALLOC: assert_no_alloc::AllocDisabler = assert_no_alloc::AllocDisabler;

const RATE: f64 = HARNESS_RATE_HZ;
const TAU: f64 = std::f64::consts::TAU;

fn prepare() -> PrepareInfo {
    PrepareInfo::new(RATE, HARNESS_MAX_BLOCK)
}

/// Runs `kind` with `config` and initial `params` over `inputs` in 64-frame blocks.
fn run(
    kind: &dyn NodeKind,
    config: &str,
    params: &[(&str, f32)],
    inputs: &[Vec<f32>],
) -> Vec<Vec<f32>> {
    let case = Case::new(kind).config(config).params(params);
    let mut built = build(&case, prepare());
    render(&mut built, inputs, 64, &[], &[])
}

/// Runs a source (no inputs) for `frames` in blocks of `block`.
fn run_source(
    kind: &dyn NodeKind,
    config: &str,
    params: &[(&str, f32)],
    frames: usize,
    block: usize,
    events: &[ParamEvent],
) -> Vec<Vec<f32>> {
    let case = Case::new(kind).config(config).params(params);
    let mut built = build(&case, prepare());
    let mut out = vec![vec![0.0f32; frames]; built.spec.output_channels()];
    render_into(&mut built, &[], &mut out, block, events, &[], &[]);
    out
}

fn sine(freq: f64, amp: f32, frames: usize) -> Vec<f32> {
    (0..frames)
        .map(|n| amp * (TAU * freq * n as f64 / RATE).sin() as f32)
        .collect()
}

fn rms(x: &[f32]) -> f64 {
    (x.iter().map(|v| f64::from(*v).powi(2)).sum::<f64>() / x.len() as f64).sqrt()
}

fn peak(x: &[f32]) -> f32 {
    x.iter().fold(0.0, |m, v| m.max(v.abs()))
}

fn correlation(a: &[f32], b: &[f32]) -> f64 {
    let dot = |x: &[f32], y: &[f32]| -> f64 {
        x.iter()
            .zip(y)
            .map(|(p, q)| f64::from(*p) * f64::from(*q))
            .sum()
    };
    dot(a, b) / (dot(a, a) * dot(b, b)).sqrt()
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).fold(0.0, |m, (x, y)| m.max((x - y).abs()))
}

// ----------------------------------------------------------------------- shared harness

#[test]
fn crossover_passes_harness() {
    let skip = LatencyCheck::Skip; // a low band's impulse peak is not at its (zero) latency
    check_kind(&Case::new(&CrossoverKind).latency(skip));
    check_kind(
        &Case::new(&CrossoverKind)
            .config("(freqs_hz: [1000], slope: \"lr2\", channels: 1)")
            .latency(skip),
    );
    check_kind(
        &Case::new(&CrossoverKind)
            .config("(freqs_hz: [100, 1000, 8000], slope: \"lr8\")")
            .params(&[("split2_hz", 1500.0)])
            .latency(skip),
    );
    check_kind(&Case::new(&CrossoverKind).config("(mode: \"linear_phase\")"));
    check_kind(
        &Case::new(&CrossoverKind)
            .config("(freqs_hz: [500, 5000], slope: \"lr8\", mode: \"linear_phase\", fir_taps: 255, channels: 1)"),
    );
}

#[test]
fn stereo_kinds_pass_harness() {
    check_kind(&Case::new(&MsEncodeKind));
    check_kind(&Case::new(&MsDecodeKind));
    check_kind(&Case::new(&WidthKind));
    check_kind(&Case::new(&WidthKind).params(&[("width_pct", 150.0), ("bass_mono_hz", 120.0)]));
    check_kind(&Case::new(&WidthKind).params(&[("width_pct", 0.0), ("side_gain_db", -6.0)]));
    check_kind(&Case::new(&BalanceKind));
    check_kind(&Case::new(&BalanceKind).params(&[("balance_pct", -40.0)]));
    check_kind(&Case::new(&PolarityKind));
    check_kind(&Case::new(&PolarityKind).params(&[("invert_right", 1.0)]));
    check_kind(
        &Case::new(&PolarityKind)
            .config("(channels: 3)")
            .params(&[("invert_ch2", 1.0)]),
    );
}

#[test]
fn utility_kinds_pass_harness() {
    check_kind(&Case::new(&DcBlockKind));
    check_kind(
        &Case::new(&DcBlockKind)
            .config("(channels: 1)")
            .params(&[("freq_hz", 20.0)]),
    );
    check_kind(&Case::new(&DelayKind));
    check_kind(
        &Case::new(&DelayKind)
            .config("(channels: 1, max_ms: 50)")
            .params(&[("delay_ms", 10.0)])
            .latency(LatencyCheck::Skip), // a deliberate delay, not latency: tested below
    );
    check_kind(&Case::new(&MixKind));
    check_kind(
        &Case::new(&MixKind)
            .config("(inputs: 3, channels: 1)")
            .params(&[("in2.gain_db", -6.0)]),
    );
    for config in [
        "",
        "(mode: \"split\", channels: 4)",
        "(mode: \"merge\", channels: 3)",
        "(mode: \"swap\")",
        "(mode: \"mono\")",
        "(mode: \"mono\", outputs: 1)",
        "(mode: \"map\", map: [[0.5, 0.5], [1, 0], [0, -1]])",
    ] {
        check_kind(&Case::new(&RouteKind).config(config));
    }
}

#[test]
fn sources_pass_harness() {
    let skip = LatencyCheck::Skip;
    check_kind(&Case::new(&SineKind).latency(skip));
    check_kind(&Case::new(&NoiseKind).latency(skip));
    check_kind(
        &Case::new(&NoiseKind)
            .config("(color: \"pink\", seed: 7, channels: 1)")
            .latency(skip),
    );
    check_kind(&Case::new(&ImpulseKind).latency(skip));
    check_kind(
        &Case::new(&ImpulseKind)
            .config("(period_ms: 10)")
            .latency(skip),
    );
    check_kind(&Case::new(&SweepKind).latency(skip));
    check_kind(
        &Case::new(&SweepKind)
            .config("(duration_s: 0.2, repeat: true)")
            .latency(skip),
    );
}

/// The harness renders sources for zero frames (it sizes runs by the input), so block-size
/// invariance of the sources is checked here: blocks of 512, 64, 7 and 1 with a level
/// change mid-block give bit-identical output.
#[test]
fn sources_are_block_size_invariant() {
    let frames = 20_000;
    let kinds: [(&dyn NodeKind, &str); 6] = [
        (&SineKind, ""),
        (&NoiseKind, ""),
        (&NoiseKind, "(color: \"pink\")"),
        (&ImpulseKind, "(period_ms: 3)"),
        (&SweepKind, "(duration_s: 0.3, repeat: true)"),
        (&SweepKind, "(duration_s: 0.2)"),
    ];
    for (kind, config) in kinds {
        let level = ParamId(
            kind.build(&lathe_engine::NodeConfig::empty(), &ctx())
                .map_or(0, |b| b.spec.param_index("level_dbfs").map_or(0, |p| p.0)),
        );
        let events = [
            ParamEvent {
                frame: 5003,
                param: level,
                value: -6.0,
            },
            ParamEvent {
                frame: 12_345,
                param: level,
                value: -30.0,
            },
        ];
        let reference = run_source(kind, config, &[], frames, 512, &events);
        for block in [64, 7, 1] {
            let out = run_source(kind, config, &[], frames, block, &events);
            for (a, b) in reference.iter().zip(&out) {
                assert!(
                    a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits()),
                    "{} {config}: block {block} differs",
                    kind.name()
                );
            }
        }
    }
}

fn ctx() -> lathe_engine::BuildContext<'static> {
    build_context(prepare(), "t")
}

// --------------------------------------------------------------------------- mid/side

/// Encode then decode gives the input back: bit-exact for values on a 2^-16 grid (every
/// sum exact), and within one f32 rounding (6e-8 at full scale) for arbitrary noise.
#[test]
fn ms_round_trip_is_exact() {
    let grid: Vec<Vec<f32>> = (0..2)
        .map(|c| {
            (0..4096)
                .map(|n| (((n * 7919 + c * 104_729) % 65_536) as f32 - 32_768.0) / 32_768.0)
                .collect()
        })
        .collect();
    let noise = test_signal(2, 24_000);
    for (input, tolerance) in [(grid, 0.0f32), (noise, 6e-8)] {
        let ms = run(&MsEncodeKind, "", &[], &input);
        let back = run(&MsDecodeKind, "", &[], &ms);
        for (a, b) in input.iter().zip(&back) {
            let d = max_diff(a, b);
            assert!(d <= tolerance * peak(a).max(1.0), "round trip off by {d}");
        }
    }
    // M = (L + R) / 2, S = (L - R) / 2 on a known pair.
    let ms = run(&MsEncodeKind, "", &[], &[vec![1.0, 0.5], vec![0.5, -0.5]]);
    assert_eq!(ms, vec![vec![0.75, 0.0], vec![0.25, 0.5]]);
}

// ------------------------------------------------------------------------------ width

#[test]
fn width_100_is_identity_and_0_is_mono() {
    let input = test_signal(2, 24_000);
    let out = run(&WidthKind, "", &[], &input);
    assert_eq!(out, input, "width 100% must be bit-exact identity");
    let mono = run(&WidthKind, "", &[("width_pct", 0.0)], &input);
    for n in 0..input[0].len() {
        let mid = 0.5 * (f64::from(input[0][n]) + f64::from(input[1][n]));
        assert_eq!(mono[0][n], mono[1][n]);
        assert!((f64::from(mono[0][n]) - mid).abs() <= 1e-7 * mid.abs().max(1.0));
    }
    // 200% doubles the side; -6 dB side gain scales it by 0.501.
    let wide = run(
        &WidthKind,
        "",
        &[("width_pct", 200.0), ("side_gain_db", -6.0)],
        &input,
    );
    let side = |o: &Vec<Vec<f32>>, n: usize| 0.5 * (f64::from(o[0][n]) - f64::from(o[1][n]));
    let g = 2.0 * 10f64.powf(-6.0 / 20.0);
    for n in 0..input[0].len() {
        assert!((side(&wide, n) - g * side(&input, n)).abs() < 1e-5);
    }
}

/// Bass mono at 150 Hz on uncorrelated noise: the band below 40 Hz (an LR4 crossover
/// after the width node) has L/R correlation above 0.999 (about 0.01 without bass mono),
/// while the side of a 5 kHz tone keeps its level within 0.001 dB.
#[test]
fn bass_mono_makes_the_low_band_mono() {
    let frames = 96_000;
    let settle = 9600;
    let noise = run_source(&NoiseKind, "", &[], frames, 64, &[]);
    for (bass_mono_hz, low) in [(150.0, true), (0.0, false)] {
        let out = run(&WidthKind, "", &[("bass_mono_hz", bass_mono_hz)], &noise);
        let bands = run(&CrossoverKind, "(freqs_hz: [40])", &[], &out);
        let c = correlation(&bands[0][settle..], &bands[1][settle..]);
        println!("low-band L/R correlation, bass_mono_hz {bass_mono_hz}: {c}");
        if low {
            assert!(c > 0.999, "correlation {c}");
        } else {
            assert!(c.abs() < 0.1, "correlation {c}");
        }
    }
    let input = vec![sine(5000.0, 0.5, frames), vec![0.0; frames]];
    let out = run(&WidthKind, "", &[("bass_mono_hz", 150.0)], &input);
    let side_out: Vec<f32> = out[0][settle..]
        .iter()
        .zip(&out[1][settle..])
        .map(|(a, b)| 0.5 * (a - b))
        .collect();
    let side_in = 0.25f64 / 2f64.sqrt();
    let db = 20.0 * (rms(&side_out) / side_in).log10();
    println!("5 kHz side level with bass mono: {db} dB");
    assert!(db.abs() < 1e-3, "side changed by {db} dB");
}

// ---------------------------------------------------------------- balance, polarity, mix

#[test]
fn balance_attenuates_the_far_side_linearly() {
    let input = test_signal(2, 4800);
    let out = run(&BalanceKind, "", &[("balance_pct", 50.0)], &input);
    assert_eq!(out[1], input[1], "near side untouched");
    assert!(out[0].iter().zip(&input[0]).all(|(o, i)| *o == i * 0.5));
    let out = run(&BalanceKind, "", &[("balance_pct", -100.0)], &input);
    assert_eq!(out[0], input[0]);
    assert!(out[1].iter().all(|x| *x == 0.0));
}

#[test]
fn polarity_inverts_selected_channels_without_a_step() {
    let input = test_signal(2, 4800);
    let out = run(&PolarityKind, "", &[("invert_right", 1.0)], &input);
    assert_eq!(out[0], input[0]);
    assert!(out[1].iter().zip(&input[1]).all(|(o, i)| *o == -i));
    // A flip while a constant plays ramps through zero over 10 ms (480 frames).
    let dc = vec![vec![0.5f32; 4800]];
    let case = Case::new(&PolarityKind).config("(channels: 1)");
    let mut built = build(&case, prepare());
    let events = [ParamEvent {
        frame: 1000,
        param: ParamId(0),
        value: 1.0,
    }];
    let out = render(&mut built, &dc, 64, &events, &[]);
    let step = out[0]
        .windows(2)
        .map(|w| (w[1] - w[0]).abs())
        .fold(0.0, f32::max);
    assert!(step <= 1.0 / 480.0 * 1.01, "largest step {step}");
    assert_eq!(out[0][999], 0.5);
    assert_eq!(out[0][1480], -0.5);
}

#[test]
fn mix_sums_inputs_with_their_gains() {
    let inputs = test_signal(3, 9600);
    let out = run(
        &MixKind,
        "(inputs: 3, channels: 1)",
        &[("in2.gain_db", -6.0), ("in3.gain_db", 6.0)],
        &inputs,
    );
    let (g2, g3) = (10f32.powf(-0.3), 10f32.powf(0.3));
    for n in 0..inputs[0].len() {
        let expected = inputs[0][n] + g2 * inputs[1][n] + g3 * inputs[2][n];
        assert!((out[0][n] - expected).abs() < 1e-6, "frame {n}");
    }
}

// ------------------------------------------------------------------------------ route

#[test]
fn route_modes_move_channels_as_documented() {
    let input = test_signal(4, 2000);
    let split = run(&RouteKind, "(mode: \"split\", channels: 4)", &[], &input);
    assert_eq!(split, input);
    let merged = run(&RouteKind, "(mode: \"merge\", channels: 4)", &[], &input);
    assert_eq!(merged, input);
    let stereo = test_signal(2, 2000);
    let swapped = run(&RouteKind, "(mode: \"swap\")", &[], &stereo);
    assert_eq!(swapped, vec![stereo[1].clone(), stereo[0].clone()]);
    let mono: Vec<f32> = stereo[0]
        .iter()
        .zip(&stereo[1])
        .map(|(l, r)| (l + r) * 0.5)
        .collect();
    assert_eq!(
        run(&RouteKind, "(mode: \"mono\")", &[], &stereo),
        vec![mono.clone(), mono.clone()]
    );
    assert_eq!(
        run(&RouteKind, "(mode: \"mono\", outputs: 1)", &[], &stereo),
        vec![mono]
    );
    let map = run(
        &RouteKind,
        "(mode: \"map\", map: [[0, 1], [2, 0], [0.5, -0.5]])",
        &[],
        &stereo,
    );
    assert_eq!(map[0], stereo[1]);
    assert!(map[1].iter().zip(&stereo[0]).all(|(o, l)| *o == 2.0 * l));
    assert!(
        map[2]
            .iter()
            .zip(&stereo[0])
            .zip(&stereo[1])
            .all(|((o, l), r)| *o == 0.5 * l + -0.5 * r)
    );
    // Ports as documented.
    let spec = |cfg: &str| build(&Case::new(&RouteKind).config(cfg), prepare()).spec;
    let s = spec("(mode: \"split\", channels: 3)");
    assert_eq!(
        s.outputs
            .iter()
            .map(|p| (p.name.as_str(), p.channels))
            .collect::<Vec<_>>(),
        [("out1", 1), ("out2", 1), ("out3", 1)]
    );
    let m = spec("(mode: \"merge\")");
    assert_eq!(
        m.inputs.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(),
        ["in1", "in2"]
    );
    assert_eq!(m.outputs[0].channels, 2);
}

#[test]
fn route_rejects_fields_of_other_modes() {
    let err = |cfg: &str| match RouteKind.build(&lathe_engine::NodeConfig::from_ron(cfg), &ctx()) {
        Err(e) => e.to_string(),
        Ok(_) => panic!("{cfg} accepted"),
    };
    assert!(err("(mode: \"swap\", outputs: 1)").contains("`outputs`"));
    assert!(err("(mode: \"split\", map: [[1]])").contains("`map`"));
    assert!(err("(mode: \"map\", map: [[1, 0], [1]])").contains("`map[1]`"));
    assert!(err("(mode: \"swap\", channels: 3)").contains("`channels`"));
    assert!(err("(mode: \"upmix\")").contains("\"upmix\""));
}

// ------------------------------------------------------------------------ delay, dc

/// 10 ms at 48 kHz delays an impulse by exactly 480 frames; moving to 20 ms crossfades
/// and then delays by exactly 960 frames.
#[test]
fn delay_is_exact_in_frames() {
    let mut input = vec![0.0f32; 9600];
    input[100] = 1.0;
    input[6000] = 1.0;
    let case = Case::new(&DelayKind)
        .config("(channels: 1, max_ms: 50)")
        .params(&[("delay_ms", 10.0)]);
    let mut built = build(&case, prepare());
    let events = [ParamEvent {
        frame: 2000,
        param: ParamId(0),
        value: 20.0,
    }];
    let out = render(&mut built, &[input], 64, &events, &[]);
    let hits: Vec<usize> = (0..out[0].len()).filter(|n| out[0][*n] != 0.0).collect();
    assert_eq!(hits, [580, 6960]);
    assert_eq!(out[0][580], 1.0);
    assert_eq!(out[0][6960], 1.0);
}

/// DC is removed (below 1e-4 of its level after 1 s) and the corner is where the param
/// says: -3.01 dB at 5 Hz, unity within 0.001 dB at 1 kHz.
#[test]
fn dc_block_removes_dc_and_corners_at_freq_hz() {
    let dc = run(&DcBlockKind, "(channels: 1)", &[], &[vec![0.5; 96_000]]);
    assert!(dc[0][48_000..].iter().all(|x| x.abs() < 5e-5));
    for (freq, expected_db, tol) in [(5.0, -10.0 * 2f64.log10(), 0.01), (1000.0, 0.0, 1e-3)] {
        let frames = 5 * RATE as usize;
        let out = run(
            &DcBlockKind,
            "(channels: 1)",
            &[],
            &[sine(freq, 0.5, frames)],
        );
        let db = 20.0
            * (rms(&out[0][frames / 2..]) / rms(&sine(freq, 0.5, frames)[frames / 2..])).log10();
        println!("dc_block at {freq} Hz: {db} dB");
        assert!((db - expected_db).abs() < tol, "{freq} Hz: {db} dB");
    }
}

// ---------------------------------------------------------------------------- sources

/// 1 kHz at -20 dBFS: peak 0.1 within 1e-4, 1000 cycles per second (positive-going zero
/// crossings counted over 1 s).
#[test]
fn sine_has_its_frequency_and_level() {
    let out = run_source(
        &SineKind,
        "",
        &[("freq_hz", 1000.0), ("level_dbfs", -20.0)],
        48_000,
        64,
        &[],
    );
    assert!((peak(&out[0]) - 0.1).abs() < 1e-4);
    let crossings = out[0]
        .windows(2)
        .filter(|w| w[0] <= 0.0 && w[1] > 0.0)
        .count();
    assert!((999..=1000).contains(&crossings), "{crossings} cycles");
    assert_eq!(out[0], out[1]);
}

/// White noise: RMS -20 dBFS within 0.1 dB over 2 s, channels uncorrelated (|r| < 0.02),
/// the same seed repeats, another seed differs. Pink: RMS within 0.2 dB, and equal power
/// per octave from 63 Hz to 8 kHz within 1 dB.
#[test]
fn noise_has_its_level_and_colour() {
    let frames = 96_000;
    let white = run_source(&NoiseKind, "", &[], frames, 64, &[]);
    for ch in &white {
        let db = 20.0 * rms(ch).log10();
        assert!((db + 20.0).abs() < 0.1, "white RMS {db}");
    }
    assert!(correlation(&white[0], &white[1]).abs() < 0.02);
    assert_eq!(
        white,
        run_source(&NoiseKind, "(seed: 1)", &[], frames, 7, &[])
    );
    assert_ne!(
        white,
        run_source(&NoiseKind, "(seed: 2)", &[], frames, 64, &[])
    );

    let n = 1 << 18;
    let pink = run_source(
        &NoiseKind,
        "(color: \"pink\", channels: 1)",
        &[],
        n,
        64,
        &[],
    );
    let db = 20.0 * rms(&pink[0]).log10();
    assert!((db + 20.0).abs() < 0.2, "pink RMS {db}");
    let mut planner = realfft::RealFftPlanner::<f64>::new();
    let fft = planner.plan_fft_forward(n);
    let mut time: Vec<f64> = pink[0].iter().map(|x| f64::from(*x)).collect();
    let mut spec = fft.make_output_vec();
    fft.process(&mut time, &mut spec).unwrap();
    let bin_hz = RATE / n as f64;
    let octaves: Vec<f64> = (0..8)
        .map(|k| {
            let lo = 62.5 * 2f64.powi(k);
            let power: f64 = spec[(lo / bin_hz) as usize..(2.0 * lo / bin_hz) as usize]
                .iter()
                .map(|c| c.norm_sqr())
                .sum();
            10.0 * power.log10()
        })
        .collect();
    let mean = octaves.iter().sum::<f64>() / octaves.len() as f64;
    println!(
        "pink octave powers relative to mean: {:?}",
        octaves.iter().map(|o| o - mean).collect::<Vec<_>>()
    );
    assert!(octaves.iter().all(|o| (o - mean).abs() < 1.0));
}

#[test]
fn impulse_fires_once_or_periodically() {
    let single = run_source(&ImpulseKind, "", &[("level_dbfs", -6.0)], 4800, 64, &[]);
    let g = 10f32.powf(-6.0 / 20.0);
    assert_eq!(single[0][0], g);
    assert!(single[0][1..].iter().all(|x| *x == 0.0));
    let periodic = run_source(&ImpulseKind, "(period_ms: 10)", &[], 4800, 7, &[]);
    let hits: Vec<usize> = (0..4800).filter(|n| periodic[1][*n] != 0.0).collect();
    assert_eq!(hits, (0..10).map(|k| k * 480).collect::<Vec<_>>());
}

/// A 1 s sweep 100 Hz -> 10 kHz: the frequency at 0.5 s is 1 kHz (zero-crossing rate
/// over 20 ms, within 1%), peak -20 dBFS, faded ends, and silence after the sweep.
#[test]
fn sweep_is_exponential_and_ends() {
    let out = run_source(
        &SweepKind,
        "(start_hz: 100, end_hz: 10000, duration_s: 1)",
        &[],
        72_000,
        64,
        &[],
    );
    let x = &out[0];
    let window = &x[24_000 - 480..24_000 + 480];
    let crossings: Vec<usize> = (1..window.len())
        .filter(|n| window[n - 1] <= 0.0 && window[*n] > 0.0)
        .collect();
    let period =
        (crossings[crossings.len() - 1] - crossings[0]) as f64 / (crossings.len() - 1) as f64;
    let freq = RATE / period;
    assert!(
        (freq / 1000.0 - 1.0).abs() < 0.01,
        "frequency at the middle {freq}"
    );
    assert!((peak(&x[..48_000]) - 0.1).abs() < 1e-3);
    assert!(x[48_000..].iter().all(|v| *v == 0.0));
    // The 5 ms fades: no step at either end.
    assert_eq!(x[0], 0.0);
    assert!(x[47_999].abs() < 1e-6, "last sample {}", x[47_999]);
}

// -------------------------------------------------------------------------- specs

/// Port and param names as the docs give them, and the declared latencies.
#[test]
fn specs_name_ports_and_params_as_documented() {
    let spec = |kind: &dyn NodeKind, cfg: &str| build(&Case::new(kind).config(cfg), prepare()).spec;
    let names = |ports: &[lathe_engine::PortSpec]| {
        ports
            .iter()
            .map(|p| format!("{}:{}", p.name, p.channels))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let params = |s: &lathe_engine::NodeSpec| {
        s.params
            .iter()
            .map(|p| p.name.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    };
    let s = spec(&CrossoverKind, "");
    assert_eq!(names(&s.inputs), "in:2");
    assert_eq!(names(&s.outputs), "band1:2 band2:2 band3:2");
    assert_eq!(params(&s), "split1_hz split2_hz");
    assert_eq!(s.params[1].default, 2000.0);
    assert_eq!(s.latency_frames, 0);
    let s = spec(
        &CrossoverKind,
        "(freqs_hz: [300], mode: \"linear_phase\", fir_taps: 1023)",
    );
    assert_eq!(names(&s.outputs), "band1:2 band2:2");
    assert_eq!(params(&s), "");
    assert_eq!(s.latency_frames, 511 + 64);
    assert_eq!(
        params(&spec(&WidthKind, "")),
        "width_pct side_gain_db bass_mono_hz"
    );
    assert_eq!(params(&spec(&BalanceKind, "")), "balance_pct");
    assert_eq!(params(&spec(&DcBlockKind, "")), "freq_hz");
    assert_eq!(params(&spec(&DelayKind, "")), "delay_ms");
    assert_eq!(params(&spec(&PolarityKind, "")), "invert_left invert_right");
    assert_eq!(
        params(&spec(&PolarityKind, "(channels: 3)")),
        "invert_ch1 invert_ch2 invert_ch3"
    );
    let s = spec(&MixKind, "(inputs: 3, channels: 1)");
    assert_eq!(names(&s.inputs), "in1:1 in2:1 in3:1");
    assert_eq!(params(&s), "in1.gain_db in2.gain_db in3.gain_db");
    assert_eq!(params(&spec(&SineKind, "")), "freq_hz level_dbfs");
    for kind in [&NoiseKind as &dyn NodeKind, &ImpulseKind, &SweepKind] {
        let s = spec(kind, "(channels: 1)");
        assert_eq!(
            (names(&s.inputs), names(&s.outputs)),
            (String::new(), "out:1".into())
        );
        assert_eq!(params(&s), "level_dbfs");
    }
}
