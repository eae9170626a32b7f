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
