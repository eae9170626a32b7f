//! The equaliser kinds (`eq`, `dynamic_eq`) measured end to end through their processors:
//! shared harness checks, total responses, linear-phase symmetry, smoothing and dynamics.

use lathe_engine::harness::{
    Case, LatencyCheck, ParamEvent, build, check_kind, meters_for, render,
};
use lathe_engine::{ParamId, PrepareInfo};
use lathe_nodes::eq::EqKind;

#[global_allocator]
static ALLOC: assert_no_alloc::AllocDisabler = assert_no_alloc::AllocDisabler;

const FS: f64 = 48_000.0;

const REFERENCE_PARAMS: &[(&str, f32)] = &[
    ("band1.freq_hz", 30.0),
    ("band2.freq_hz", 100.0),
    ("band2.gain_db", 1.5),
    ("band3.freq_hz", 300.0),
    ("band3.q", 1.0),
    ("band3.gain_db", -1.5),
    ("band4.freq_hz", 3000.0),
    ("band4.q", 1.0),
    ("band4.gain_db", 1.0),
    ("band5.freq_hz", 10_000.0),
    ("band5.gain_db", 1.0),
];

const REFERENCE_BANDS: &str = r#"(bands: [(type: "high_pass", order: 2), (type: "low_shelf"), (type: "bell"), (type: "bell"), (type: "high_shelf")])"#;

#[test]
fn eq_minimum_phase_passes_harness() {
    check_kind(&Case::new(&EqKind));
    check_kind(
        &Case::new(&EqKind)
            .config(REFERENCE_BANDS)
            .params(REFERENCE_PARAMS),
    );
    // A steep low pass delays the impulse peak of a minimum-phase filter by a frame:
    // the declared 0 is checked by the other cases.
    check_kind(&Case::new(&EqKind).latency(LatencyCheck::Skip).config(
        r#"(bands: [(type: "low_pass", order: 7), (type: "high_pass", order: 8, alignment: "linkwitz_riley", channel: "side"), (type: "bell", channel: "mid"), (type: "tilt", order: 1, channel: "left"), (type: "notch", channel: "right"), (type: "band_pass")])"#,
    ));
    check_kind(
        &Case::new(&EqKind)
            .config(r#"(channels: 3, bands: [(type: "low_shelf", order: 1), (type: "bell")])"#),
    );
}

#[test]
fn eq_linear_phase_passes_harness() {
    let cfg = r#"(mode: "linear_phase", fir_frames: 2048)"#;
    check_kind(&Case::new(&EqKind).config(cfg).params(REFERENCE_PARAMS));
    check_kind(&Case::new(&EqKind).config(
        r#"(mode: "linear_phase", fir_frames: 1024, bands: [(type: "bell", channel: "side"), (type: "high_shelf", channel: "left")])"#,
    ).params(&[("band1.gain_db", 6.0), ("band2.gain_db", -3.0)]));
}

#[test]
fn dynamic_eq_passes_harness() {
    use lathe_nodes::dynamic_eq::DynamicEqKind;
    check_kind(&Case::new(&DynamicEqKind));
    check_kind(&Case::new(&DynamicEqKind).config(
        r#"(bands: [(type: "bell", detector: "sidechain"), (type: "low_shelf", order: 1, channel: "mid"), (type: "high_shelf", channel: "side")])"#,
    ).params(&[("band1.threshold_db", -40.0), ("band1.range_db", 6.0), ("band2.ratio", 8.0)]));
}
