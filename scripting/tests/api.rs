//! The script API: state between ticks, ctx reads and sets, helpers, timing.

mod surface;

use lathe_engine::NodeConfig;
use lathe_scripting::{ScriptHost, ScriptSpec};
use surface::TestSurface;

const RATE: f64 = 48_000.0;

fn inline(node_id: &str, config: &str) -> ScriptSpec {
    ScriptSpec::from_config(
        node_id,
        &NodeConfig::from_ron(config),
        std::path::Path::new("."),
    )
    .unwrap_or_else(|e| panic!("{node_id}: {e}"))
}

fn ron_string(text: &str) -> String {
    format!("{text:?}")
}

/// Ticks `host` at every due frame up to (excluding) `end_frames`.
fn run_until(host: &mut ScriptHost, surface: &mut TestSurface, end_frames: u64) {
    while let Some(frame) = host.next_tick_frame().filter(|f| *f < end_frames) {
        surface.position_frames = frame;
        host.tick_due(frame, surface);
    }
}

#[test]
fn top_level_state_persists_between_ticks() {
    let source = r#"
        const OUT = "trim.gain_db";
        let count = 0;
        fn init(ctx) { count = 100; }
        fn tick(ctx) {
            count += 1;
            ctx.set(OUT, count);
        }
    "#;
    let spec = inline(
        "counter",
        &format!("(source: {}, rate_hz: 10)", ron_string(source)),
    );
    let mut host = ScriptHost::new(vec![spec], RATE).expect("compiles");
    let mut surface = TestSurface::new(RATE).with_param("trim.gain_db", -1000.0, 1000.0, 0.0);
    run_until(&mut host, &mut surface, 48_000);
    let applied: Vec<f32> = surface.sets.iter().map(|s| s.applied).collect();
    assert_eq!(applied, (101..=110).map(|v| v as f32).collect::<Vec<_>>());
    let frames: Vec<u64> = surface.sets.iter().map(|s| s.frame).collect();
    assert_eq!(frames, (0..10).map(|k| k * 4800).collect::<Vec<_>>());
    assert!(host.take_reports().is_empty());
}

#[test]
fn ctx_reports_time_rate_and_period() {
    let source = r#"
        fn tick(ctx) {
            ctx.set("out.time_s", ctx.time_s);
            ctx.set("out.dt_s", ctx.dt_s);
            ctx.set("out.rate_hz", ctx.sample_rate_hz);
        }
    "#;
    let spec = inline(
        "clock",
        &format!("(source: {}, rate_hz: 20)", ron_string(source)),
    );
    let mut host = ScriptHost::new(vec![spec], RATE).expect("compiles");
    let mut surface = TestSurface::new(RATE)
        .with_param("out.time_s", 0.0, 1e9, 0.0)
        .with_param("out.dt_s", 0.0, 1e9, 0.0)
        .with_param("out.rate_hz", 0.0, 1e9, 0.0);
    run_until(&mut host, &mut surface, 48_000 + 1);
    assert_eq!(surface.value("out.time_s"), 1.0);
    assert_eq!(surface.value("out.dt_s"), 0.05f32 as f64); // through the f32 param table
    assert_eq!(surface.value("out.rate_hz"), 48_000.0);
    assert_eq!(surface.sets_of("out.time_s").len(), 21);
}

#[test]
fn helpers_and_nan_meters() {
    let source = r#"
        fn tick(ctx) {
            let m = ctx.meter("loud.short_term_lufs");
            ctx.set("out.nan", if m.is_nan && is_nan(m) { 1 } else { 0 });
            ctx.set("out.db_to_gain", db_to_gain(-6));
            ctx.set("out.gain_to_db", gain_to_db(0.5));
            ctx.set("out.clamp", clamp(12, -6, 6.5));
            ctx.set("out.slew_up", slew(1.0, 5, 0.25));
            ctx.set("out.slew_down", slew(1.0, -5, -0.25));
            ctx.set("out.smooth", smooth(0.0, 1.0, 0.1));
            ctx.set("out.own", ctx.own("target_lufs"));
            ctx.set("out.param", ctx.param("trim.gain_db"));
            ctx.set("out.clamped", ctx.set("trim.gain_db", 99.0));
        }
    "#;
    let config = format!(
        r#"(source: {}, rate_hz: 20, params: {{"target_lufs": (min: -30, max: -6, default: -14, unit: "LUFS")}})"#,
        ron_string(source)
    );
    let spec = inline("h", &config);
    let mut host = ScriptHost::new(vec![spec], RATE).expect("compiles");
    let mut surface = TestSurface::new(RATE)
        .with_meter("loud.short_term_lufs", f32::NAN)
        .with_param("h.target_lufs", -30.0, -6.0, -11.0)
        .with_param("trim.gain_db", -24.0, 24.0, -1.5);
    for name in [
        "nan",
        "db_to_gain",
        "gain_to_db",
        "clamp",
        "slew_up",
        "slew_down",
        "smooth",
        "own",
        "param",
        "clamped",
    ] {
        surface = surface.with_param(&format!("out.{name}"), -1e9, 1e9, -99.0);
    }
    run_until(&mut host, &mut surface, 1);
    assert!(host.take_reports().is_empty());
    // Values pass through the param table as f32: compare at f32 precision.
    let close = |name: &str, expected: f64| {
        let v = surface.value(&format!("out.{name}"));
        assert!((v - expected).abs() < 1e-6, "{name}: {v} vs {expected}");
    };
    close("nan", 1.0);
    close("db_to_gain", 10f64.powf(-0.3));
    close("gain_to_db", 20.0 * 0.5f64.log10());
    close("clamp", 6.5);
    close("slew_up", 1.25);
    close("slew_down", 0.75);
    // One-pole step of dt = 0.05 s toward 1 with a 0.1 s time constant.
    close("smooth", 1.0 - (-0.5f64).exp());
    close("own", -11.0);
    close("param", -1.5);
    close("clamped", 24.0);
}

#[test]
fn ticks_fall_on_each_scripts_grid() {
    let empty = |id: &str, rate: u32| {
        inline(
            id,
            &format!("(source: \"fn tick(ctx) {{}}\", rate_hz: {rate})"),
        )
    };
    let mut host = ScriptHost::new(vec![empty("a", 20), empty("b", 30)], RATE).expect("compiles");
    let mut surface = TestSurface::new(RATE);
    let mut frames = Vec::new();
    while let Some(f) = host.next_tick_frame().filter(|f| *f <= 9600) {
        frames.push(f);
        host.tick_due(f, &mut surface);
    }
    assert_eq!(frames, [0, 1600, 2400, 3200, 4800, 6400, 7200, 8000, 9600]);
    // Rates that do not divide the sample rate round to whole frames.
    assert_eq!(lathe_scripting::period_frames(44_100.0, 1000.0), 44);
    assert_eq!(lathe_scripting::period_frames(44_100.0, 7.0), 6300);
    // A late call (live host) runs a due script once and moves to the next grid frame.
    let mut host = ScriptHost::new(vec![empty("a", 20)], RATE).expect("compiles");
    host.tick_due(10_000, &mut surface);
    assert_eq!(host.next_tick_frame(), Some(12_000));
}

#[test]
fn a_script_without_tick_runs_once() {
    let source = r#"
        let n = 1;
        fn init(ctx) { ctx.set("out.n", n + 1); }
    "#;
    let spec = inline("once", &format!("(source: {})", ron_string(source)));
    let mut host = ScriptHost::new(vec![spec], RATE).expect("compiles");
    let mut surface = TestSurface::new(RATE).with_param("out.n", 0.0, 10.0, 0.0);
    assert_eq!(host.next_tick_frame(), Some(0));
    host.tick_due(0, &mut surface);
    assert_eq!(surface.value("out.n"), 2.0);
    assert_eq!(host.next_tick_frame(), None);
}

#[test]
fn host_is_send() {
    fn assert_send<T: Send>() {}
    assert_send::<ScriptHost>();
}

/// A host replacing another (a live reload) carries over the state and tick grid of the
/// scripts whose spec is unchanged; a script whose source changed starts afresh.
#[test]
fn unchanged_scripts_keep_state_across_a_reload() {
    let counter = |step: i64| {
        let source = format!(
            "let count = 0; fn tick(ctx) {{ count += {step}; ctx.set(\"trim.gain_db\", count); }}"
        );
        inline(
            "counter",
            &format!("(source: {}, rate_hz: 10)", ron_string(&source)),
        )
    };
    let mut surface = TestSurface::new(RATE).with_param("trim.gain_db", -1000.0, 1000.0, 0.0);
    let mut old = ScriptHost::new(vec![counter(1)], RATE).expect("compiles");
    run_until(&mut old, &mut surface, 14_400);
    assert_eq!(surface.sets.last().map(|s| s.applied), Some(3.0));

    let mut same = ScriptHost::new(vec![counter(1)], RATE).expect("compiles");
    assert_eq!(same.adopt_state(old), ["counter"]);
    assert_eq!(
        same.next_tick_frame(),
        Some(14_400),
        "keeps its place on the grid"
    );
    run_until(&mut same, &mut surface, 19_200);
    assert_eq!(
        surface.sets.last().map(|s| s.applied),
        Some(4.0),
        "state carried over"
    );

    let mut edited = ScriptHost::new(vec![counter(10)], RATE).expect("compiles");
    assert!(edited.adopt_state(same).is_empty());
    surface.position_frames = 19_200;
    edited.tick_due(19_200, &mut surface);
    assert_eq!(
        surface.sets.last().map(|s| s.applied),
        Some(10.0),
        "edited script restarts"
    );
}
