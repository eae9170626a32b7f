//! The shipped scripts (graphs/*.rhai) against simple models of the graph they steer.

mod surface;

use std::collections::VecDeque;
use std::path::{Path, PathBuf};

use lathe_engine::NodeConfig;
use lathe_scripting::{ScriptHost, ScriptSpec};
use surface::TestSurface;

const RATE: f64 = 48_000.0;

fn graphs_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../graphs")
}

fn shipped(node_id: &str, config: &str) -> ScriptSpec {
    ScriptSpec::from_config(node_id, &NodeConfig::from_ron(config), &graphs_dir())
        .unwrap_or_else(|e| panic!("{node_id}: {e}"))
}

/// A surface holding the script's own params at their defaults, under `node_id.`.
fn surface_for(spec: &ScriptSpec) -> TestSurface {
    let mut surface = TestSurface::new(RATE);
    for p in spec.params() {
        surface = surface.with_param(
            &format!("{}.{}", spec.node_id(), p.name),
            p.min as f64,
            p.max as f64,
            p.default as f64,
        );
    }
    surface
}

const RIDER: &str = r#"(file: "rider.rhai", rate_hz: 20, params: {
    "target_lufs":   (min: -30, max: -6, default: -14, unit: "LUFS"),
    "range_db":      (min: 0, max: 24, default: 6, unit: "dB"),
    "slew_lu_per_s": (min: 0.1, max: 10, default: 1, unit: "LU"),
    "response_s":    (min: 0.5, max: 30, default: 4, unit: "s"),
    "gate_lufs":     (min: -70, max: -20, default: -40, unit: "LUFS"),
})"#;

/// Short-term loudness after the trim: the mean, over the last 3 s of frames, of the
/// programme's level plus the trim gain (NaN before the first frame).
struct LoudnessModel {
    window: VecDeque<f64>,
    sum: f64,
}

impl LoudnessModel {
    const WINDOW_FRAMES: usize = 3 * 48_000;

    fn new() -> Self {
        Self {
            window: VecDeque::with_capacity(Self::WINDOW_FRAMES),
            sum: 0.0,
        }
    }

    fn push(&mut self, lufs: f64) {
        if self.window.len() == Self::WINDOW_FRAMES {
            self.sum -= self.window.pop_front().unwrap_or(0.0);
        }
        self.window.push_back(lufs);
        self.sum += lufs;
    }

    fn short_term_lufs(&self) -> f32 {
        if self.window.is_empty() {
            f32::NAN
        } else {
            (self.sum / self.window.len() as f64) as f32
        }
    }
}

/// The meter and gain seen at each tick.
#[derive(Debug, Clone, Copy, PartialEq)]
struct TickTrace {
    frame: u64,
    short_term_lufs: f32,
    gain_db: f64,
}

/// Renders `seconds` of a programme whose level at second `t` is `level(t)` through
/// trim -> loud with the rider steering, the way an offline host does: blocks of at most
/// `block` frames, split at the script's tick frames. `at_frame` may change params
/// (as the CLI or live host would) at block starts.
fn ride(
    block: u64,
    seconds: u64,
    level: impl Fn(f64) -> f64,
    at_frame: impl Fn(u64, &mut TestSurface),
) -> (TestSurface, Vec<TickTrace>) {
    let spec = shipped("rider", RIDER);
    let mut surface = surface_for(&spec)
        .with_param("trim.gain_db", -96.0, 24.0, 0.0)
        .with_meter("loud.short_term_lufs", f32::NAN);
    let mut host = ScriptHost::new(vec![spec], RATE).expect("rider compiles");
    let mut model = LoudnessModel::new();
    let mut trace = Vec::new();
    let end = seconds * RATE as u64;
    let mut pos = 0u64;
    let mut ticking = std::time::Duration::ZERO;
    while pos < end {
        surface.position_frames = pos;
        at_frame(pos, &mut surface);
        if host.next_tick_frame().is_some_and(|f| f <= pos) {
            let started = std::time::Instant::now();
            host.tick_due(pos, &mut surface);
            ticking += started.elapsed();
            trace.push(TickTrace {
                frame: pos,
                short_term_lufs: model.short_term_lufs(),
                gain_db: surface.value("trim.gain_db"),
            });
        }
        let next_tick = host.next_tick_frame().unwrap_or(end);
        let until = (pos + block).min(next_tick).min(end).max(pos + 1);
        let gain = surface.value("trim.gain_db");
        for frame in pos..until {
            model.push(level(frame as f64 / RATE) + gain);
        }
        surface.set_meter("loud.short_term_lufs", model.short_term_lufs());
        pos = until;
    }
    let reports = host.take_reports();
    assert!(reports.is_empty(), "rider failed: {reports:?}");
    println!(
        "rider: {} ticks, {:.1} us per tick on average",
        trace.len(),
        ticking.as_secs_f64() * 1e6 / trace.len().max(1) as f64
    );
    (surface, trace)
}

/// Largest change between two consecutive sets of `path`.
fn largest_step(surface: &TestSurface, path: &str) -> f64 {
    let sets = surface.sets_of(path);
    sets.windows(2)
        .map(|w| (w[1].applied as f64 - w[0].applied as f64).abs())
        .fold(0.0, f64::max)
}

/// First second from which every tick's meter stays within `tol` of `target` until `until_s`.
fn settled_at(
    trace: &[TickTrace],
    target: f32,
    tol: f32,
    from_s: f64,
    until_s: f64,
) -> Option<f64> {
    let span: Vec<_> = trace
        .iter()
        .filter(|t| {
            let s = t.frame as f64 / RATE;
            s >= from_s && s < until_s
        })
        .collect();
    let last_out = span
        .iter()
        .rposition(|t| (t.short_term_lufs - target).abs() > tol || t.short_term_lufs.is_nan());
    match last_out {
        None => span.first().map(|t| t.frame as f64 / RATE),
        Some(i) => span.get(i + 1).map(|t| t.frame as f64 / RATE),
    }
}

#[test]
fn rider_converges_to_target_within_half_a_lu_and_respects_slew() {
    // Programme at -20 LUFS; target -15 from the start, -17 (set live) from 40 s.
    let (surface, trace) = ride(
        512,
        80,
        |_| -20.0,
        |frame, s| match frame {
            0 => s.set_value("rider.target_lufs", -15.0),
            f if f == 40 * 48_000 => s.set_value("rider.target_lufs", -17.0),
            _ => {}
        },
    );
    let first = settled_at(&trace, -15.0, 0.5, 0.0, 40.0).expect("settles on -15 LUFS");
    let second = settled_at(&trace, -17.0, 0.5, 40.0, 80.0).expect("settles on -17 LUFS");
    let last = trace.last().expect("ticks");
    println!(
        "rider: within 0.5 LU of -15 from {first:.2} s, of -17 from {second:.2} s; \
         final meter {:.4} LUFS, gain {:.4} dB",
        last.short_term_lufs, last.gain_db
    );
    assert!(first < 30.0 && second < 70.0);
    assert!(
        (last.short_term_lufs + 17.0).abs() < 0.05,
        "final {}",
        last.short_term_lufs
    );
    // Slew: 1 LU/s at 20 Hz is 0.05 dB per tick (plus f32 rounding of the param).
    let step = largest_step(&surface, "trim.gain_db");
    println!("rider: largest step {step:.6} dB per tick");
    assert!(step <= 0.05 + 1e-5, "step {step}");
}

#[test]
fn rider_stays_within_its_range() {
    // -35 LUFS programme, target -14: it would need +21 dB, the range allows 6.
    let (surface, trace) = ride(512, 60, |_| -35.0, |_, _| {});
    let sets = surface.sets_of("trim.gain_db");
    // The ride approaches the bound (one-pole) and never passes it.
    let largest = sets.iter().map(|s| s.applied).fold(f32::MIN, f32::max);
    assert!(largest <= 6.0 && largest > 5.99, "{largest}");
    assert!(trace.iter().all(|t| t.gain_db <= 6.0));
    // Too loud: -2 LUFS needs -12 dB, held at -6.
    let (surface, _) = ride(512, 60, |_| -2.0, |_, _| {});
    let smallest = surface
        .sets_of("trim.gain_db")
        .iter()
        .map(|s| s.applied)
        .fold(f32::MAX, f32::min);
    assert!((-6.0..-5.99).contains(&smallest), "{smallest}");
    println!("rider: range +-6 dB, reached {largest} and {smallest}");
}

#[test]
fn rider_holds_on_silence_and_quiet_passages() {
    // No reading at all (NaN) and a programme under the gate: no set, gain untouched.
    let (surface, _) = ride(512, 10, |_| -55.0, |_, _| {});
    assert!(surface.sets.is_empty(), "{:?}", surface.sets.first());
    // Music at -18, a quiet passage at -60 from 20 s to 35 s, music again.
    let level = |t: f64| {
        if (20.0..35.0).contains(&t) {
            -60.0
        } else {
            -18.0
        }
    };
    let (surface, trace) = ride(512, 60, level, |_, _| {});
    let held = |from: f64, to: f64| {
        trace
            .iter()
            .filter(|t| (from..to).contains(&(t.frame as f64 / RATE)))
            .map(|t| t.gain_db)
            .collect::<Vec<_>>()
    };
    let quiet = held(23.0, 35.0);
    assert!(
        quiet.windows(2).all(|w| w[0] == w[1]),
        "gain moved while quiet"
    );
    let sets_in_quiet = surface
        .sets_of("trim.gain_db")
        .iter()
        .filter(|s| (23.0..35.0).contains(&(s.frame as f64 / RATE)))
        .count();
    assert_eq!(sets_in_quiet, 0);
    // Held near the ride's value (+4 dB), not pulled up to the range.
    println!(
        "rider: gain held at {:.4} dB through the quiet passage",
        quiet[0]
    );
    assert!((quiet[0] - 4.0).abs() < 1.5);
    let last = trace.last().expect("ticks");
    assert!(
        (last.short_term_lufs + 14.0).abs() < 0.5,
        "resumed: {}",
        last.short_term_lufs
    );
}

#[test]
fn rider_sets_are_identical_whatever_the_block_size() {
    let level = |t: f64| -20.0 + 6.0 * (t * 0.3).sin() + if t > 12.0 { 3.0 } else { 0.0 };
    let (reference, _) = ride(512, 30, level, |_, _| {});
    assert!(reference.sets.len() > 500);
    for block in [4096, 64, 7] {
        let (other, _) = ride(block, 30, level, |_, _| {});
        assert_eq!(reference.sets, other.sets, "block size {block}");
    }
}

const AUTO_RELEASE: &str = r#"(file: "auto_release.rhai", rate_hz: 20, params: {
    "fast_ms":     (min: 1, max: 1000, default: 50, unit: "ms"),
    "slow_ms":     (min: 10, max: 3000, default: 400, unit: "ms"),
    "dense_gr_db": (min: 0.5, max: 20, default: 6, unit: "dB"),
    "average_s":   (min: 0.1, max: 10, default: 1, unit: "s"),
})"#;

/// Ticks `host` every due frame up to `end`, calling `drive` before each tick.
fn run(
    host: &mut ScriptHost,
    surface: &mut TestSurface,
    end: u64,
    mut drive: impl FnMut(f64, &mut TestSurface),
) {
    while let Some(frame) = host.next_tick_frame().filter(|f| *f < end) {
        surface.position_frames = frame;
        drive(frame as f64 / RATE, surface);
        host.tick_due(frame, surface);
    }
    let reports = host.take_reports();
    assert!(reports.is_empty(), "{reports:?}");
}

#[test]
fn auto_release_follows_limiting_density() {
    let spec = shipped("auto_release", AUTO_RELEASE);
    let mut surface = surface_for(&spec)
        .with_param("limit.release_ms", 1.0, 2000.0, 100.0)
        .with_meter("limit.gain_reduction_db", f32::NAN);
    let mut host = ScriptHost::new(vec![spec], RATE).expect("compiles");
    // No reading: nothing set.
    run(&mut host, &mut surface, 48_000, |_, _| {});
    assert!(surface.sets.is_empty());
    // Light limiting (0.5 dB): near the fast release, 50 + 350 * 0.5 / 6 = 79.2 ms.
    run(&mut host, &mut surface, 11 * 48_000, |_, s| {
        s.set_meter("limit.gain_reduction_db", -0.5)
    });
    let light = surface.value("limit.release_ms");
    // Dense limiting (9 dB on average, over the 6 dB of "dense"): the slow release.
    run(&mut host, &mut surface, 21 * 48_000, |_, s| {
        s.set_meter("limit.gain_reduction_db", -9.0)
    });
    let dense = surface.value("limit.release_ms");
    println!("auto_release: light {light:.2} ms, dense {dense:.2} ms");
    assert!((light - 79.17).abs() < 0.6, "{light}");
    assert_eq!(dense, 400.0);
}

const DEESS: &str = r#"(file: "deess.rhai", rate_hz: 100, params: {
    "threshold_db": (min: -60, max: 0, default: -30, unit: "dB"),
    "ratio":        (min: 1, max: 20, default: 4, unit: ":1"),
    "max_cut_db":   (min: 0, max: 18, default: 8, unit: "dB"),
    "attack_s":     (min: 0.001, max: 1, default: 0.01, unit: "s"),
    "release_s":    (min: 0.01, max: 2, default: 0.15, unit: "s"),
})"#;

#[test]
fn deess_cuts_by_the_excess_over_threshold() {
    let spec = shipped("deess", DEESS);
    let mut surface = surface_for(&spec)
        .with_param("eq.band4.gain_db", -24.0, 24.0, 0.0)
        .with_meter("ess.ch1.rms_dbfs", -50.0);
    let mut host = ScriptHost::new(vec![spec], RATE).expect("compiles");
    run(&mut host, &mut surface, 48_000, |_, _| {});
    assert_eq!(surface.value("eq.band4.gain_db"), 0.0);
    // 10 dB over at 4:1: cut 7.5 dB.
    run(&mut host, &mut surface, 2 * 48_000, |_, s| {
        s.set_meter("ess.ch1.rms_dbfs", -20.0)
    });
    let cut = surface.value("eq.band4.gain_db");
    // 30 dB over would be 22.5 dB: held at the 8 dB maximum.
    run(&mut host, &mut surface, 3 * 48_000, |_, s| {
        s.set_meter("ess.ch1.rms_dbfs", 0.0)
    });
    let max_cut = surface.value("eq.band4.gain_db");
    // Under the threshold again: released to 0 (0.15 s time constant, 2 s later).
    run(&mut host, &mut surface, 5 * 48_000, |_, s| {
        s.set_meter("ess.ch1.rms_dbfs", -45.0)
    });
    let released = surface.value("eq.band4.gain_db");
    println!("deess: cut {cut:.4} dB, max {max_cut:.4} dB, released {released:.6} dB");
    assert!((cut + 7.5).abs() < 1e-3, "{cut}");
    assert!((max_cut + 8.0).abs() < 1e-3, "{max_cut}");
    assert!(released.abs() < 1e-3, "{released}");
}
