//! The meter kinds (`loudness`, `peak_rms`, `correlation`, `spectrum`) through the shared
//! harness, and what each meter reads on signals with known answers.

use lathe_engine::PrepareInfo;
use lathe_engine::harness::{Case, build, check_kind, meters_for, render};
use lathe_engine::{MeterCell, NodeKind, NodeSpec};
use lathe_nodes::kinds::correlation::CorrelationKind;
use lathe_nodes::kinds::loudness::LoudnessKind;
use lathe_nodes::kinds::peak_rms::PeakRmsKind;
use lathe_nodes::kinds::spectrum::SpectrumKind;

mod common;
use common::{build_context, noise};

#[global_allocator]
static ALLOC: assert_no_alloc::AllocDisabler = assert_no_alloc::AllocDisabler;

const RATE: f64 = 48_000.0;

#[test]
fn loudness_passes_harness() {
    for config in [
        "",
        "(layout: \"mono\")",
        "(layout: \"5.0\")",
        "(layout: \"5.1\", channels: 6)",
        "(channels: 4)",
    ] {
        check_kind(&Case::new(&LoudnessKind).config(config));
    }
    check_kind(&Case::new(&LoudnessKind).params(&[("reset", 1.0)]));
}

#[test]
fn peak_rms_passes_harness() {
    check_kind(&Case::new(&PeakRmsKind));
    check_kind(
        &Case::new(&PeakRmsKind)
            .config("(channels: 1)")
            .params(&[("window_ms", 10.0)]),
    );
}

#[test]
fn correlation_passes_harness() {
    check_kind(&Case::new(&CorrelationKind));
}

#[test]
fn spectrum_passes_harness() {
    check_kind(&Case::new(&SpectrumKind));
    check_kind(
        &Case::new(&SpectrumKind).config("(channels: 1, fft_size: 512, window: \"flat_top\")"),
    );
    check_kind(&Case::new(&SpectrumKind).config("(fft_size: 65536, window: \"blackman_harris\")"));
}

#[test]
fn bad_configs_are_rejected_with_the_field() {
    use lathe_engine::{ConfigError, NodeConfig};
    let ctx = build_context(PrepareInfo::new(RATE, 512), "m");
    let field_of =
        |kind: &dyn NodeKind, ron: &str| match kind.build(&NodeConfig::from_ron(ron), &ctx) {
            Err(ConfigError::Invalid { field, .. }) => field,
            Err(e) => panic!("{ron}: {e}"),
            Ok(_) => panic!("{ron}: accepted"),
        };
    assert_eq!(field_of(&LoudnessKind, "(layout: \"7.1\")"), "layout");
    assert_eq!(
        field_of(&LoudnessKind, "(layout: \"stereo\", channels: 6)"),
        "channels"
    );
    assert_eq!(field_of(&SpectrumKind, "(fft_size: 1000)"), "fft_size");
    assert_eq!(field_of(&SpectrumKind, "(window: \"kaiser\")"), "window");
    assert_eq!(field_of(&PeakRmsKind, "(channels: 0)"), "channels");
}

/// Renders `input` through a node of `kind` and returns the meters by name.
fn meters_after(
    kind: &dyn NodeKind,
    config: &str,
    params: &[(&str, f32)],
    input: &[Vec<f32>],
) -> (NodeSpec, Vec<MeterCell>) {
    let case = Case::new(kind).config(config).params(params);
    let mut node = build(&case, PrepareInfo::new(RATE, 512));
    let meters = meters_for(&node.spec);
    let out = render(&mut node, input, 300, &[], &meters);
    assert_eq!(out, input, "audio must pass unchanged");
    (node.spec, meters)
}

fn read(spec: &NodeSpec, meters: &[MeterCell], name: &str) -> f64 {
    let i = spec
        .meter_index(name)
        .unwrap_or_else(|| panic!("no meter {name}"));
    meters[i].load() as f64
}

fn sine(freq_hz: f64, amp: f64, frames: usize) -> Vec<f32> {
    (0..frames)
        .map(|n| (amp * (2.0 * std::f64::consts::PI * freq_hz * n as f64 / RATE).sin()) as f32)
        .collect()
}

/// A sine of amplitude 0.5 reads -6.02 dBFS peak and -9.03 dBFS RMS (±0.01 dB); a
/// channel of silence reads NaN; the window follows its param.
#[test]
fn peak_rms_reads_a_sine() {
    let input = vec![sine(1000.0, 0.5, 48_000), vec![0.0; 48_000]];
    let (spec, m) = meters_after(&PeakRmsKind, "", &[], &input);
    assert!((read(&spec, &m, "ch1.peak_dbfs") + 6.0206).abs() < 0.01);
    assert!((read(&spec, &m, "ch1.rms_dbfs") + 9.0309).abs() < 0.01);
    assert!((read(&spec, &m, "peak_max_dbfs") + 6.0206).abs() < 0.01);
    assert!(read(&spec, &m, "ch2.rms_dbfs").is_nan());
    // A loud click 200 ms before the end: inside a 300 ms window, outside a 100 ms one.
    let mut clicked = input.clone();
    clicked[0][48_000 - 9600] = 1.0;
    let (spec, m) = meters_after(&PeakRmsKind, "", &[], &clicked);
    assert_eq!(read(&spec, &m, "ch1.peak_dbfs"), 0.0);
    let (spec, m) = meters_after(&PeakRmsKind, "", &[("window_ms", 100.0)], &clicked);
    assert!((read(&spec, &m, "ch1.peak_dbfs") + 6.0206).abs() < 0.01);
}

/// Identical channels read +1, one inverted -1 (±1e-6), independent noise 0 (±0.05);
/// balance: equal 0, left only -1, right 6 dB down -0.6 (±1e-3).
#[test]
fn correlation_of_known_pairs() {
    let frames = 96_000;
    let a = noise(1, frames);
    let b = noise(2, frames);
    let inverted: Vec<f32> = a.iter().map(|x| -x).collect();
    let half: Vec<f32> = a.iter().map(|x| 0.5 * x).collect();
    let cases = [
        (vec![a.clone(), a.clone()], 1.0, 1e-6, 0.0),
        (vec![a.clone(), inverted], -1.0, 1e-6, 0.0),
        (vec![a.clone(), b], 0.0, 0.05, f64::NAN),
        (vec![a.clone(), vec![0.0; frames]], 0.0, 1e-6, -1.0),
        (vec![a.clone(), half], 1.0, 1e-6, -0.6),
    ];
    for (i, (input, want, tol, want_balance)) in cases.into_iter().enumerate() {
        let (spec, m) = meters_after(&CorrelationKind, "", &[], &input);
        let c = read(&spec, &m, "correlation");
        assert!(
            (c - want).abs() <= tol,
            "case {i}: correlation {c}, expected {want}"
        );
        if !want_balance.is_nan() {
            let bal = read(&spec, &m, "balance");
            assert!((bal - want_balance).abs() < 1e-3, "case {i}: balance {bal}");
        }
    }
    let (spec, m) = meters_after(
        &CorrelationKind,
        "",
        &[],
        &[vec![0.0; 4800], vec![0.0; 4800]],
    );
    assert!(read(&spec, &m, "correlation").is_nan());
}

/// A sine of amplitude A reads 20·log10(A) in its band (±0.2 dB, every window whose main
/// lobe fits in the band), the
/// neighbouring bands read at least 60 dB lower (Hann), and slope compensation tilts the
/// reading by slope·octaves from 1 kHz.
#[test]
fn spectrum_band_reads_a_sine() {
    // 2 s: the 300 ms smoothing has forgotten the start-up (e^-6).
    let frames = 96_000;
    for (freq, band, amp) in [
        (1000.0, "band_1000hz_db", 0.5),
        (100.0, "band_100hz_db", 0.1),
        (4000.0, "band_4000hz_db", 0.25),
    ] {
        let input = vec![sine(freq, amp, frames), sine(freq, amp, frames)];
        let want = 20.0 * f64::log10(amp);
        for window in ["hann", "blackman_harris", "flat_top"] {
            // The flat-top main lobe (±5 bins) must fit in the band: 100 Hz needs 32768.
            let size = if window == "flat_top" && freq < 1000.0 {
                32768
            } else {
                8192
            };
            let config = format!("(window: \"{window}\", fft_size: {size})");
            let (spec, m) = meters_after(&SpectrumKind, &config, &[], &input);
            let got = read(&spec, &m, band);
            assert!(
                (got - want).abs() < 0.2,
                "{window}: {band} reads {got}, expected {want}"
            );
        }
        let (spec, m) = meters_after(&SpectrumKind, "", &[("slope_db_per_oct", 3.0)], &input);
        let octaves = (freq / 1000.0f64).log2();
        let got = read(&spec, &m, band);
        assert!(
            (got - want - 3.0 * octaves).abs() < 0.2,
            "sloped {band}: {got}"
        );
    }
    // Unsmoothed, so the splatter of the sine's abrupt start is not remembered.
    let input = vec![sine(1000.0, 0.5, frames); 2];
    let (spec, m) = meters_after(&SpectrumKind, "", &[("smoothing_ms", 0.0)], &input);
    for far in ["band_800hz_db", "band_1250hz_db", "band_100hz_db"] {
        let got = read(&spec, &m, far);
        assert!(got < -6.0 - 60.0, "{far} reads {got}");
    }
    assert!(spec.meter_index("band_31_5hz_db").is_some());
    assert!(spec.meter_index("band_20000hz_db").is_some());
}
