//! An `lv2` node live, on the in-process backend, with x42's digital peak limiter (dpl,
//! Debian x42-plugins): a script's and the console's param changes reach the plugin, and
//! a hot reload that changes another node keeps the plugin instance, lookahead and all.
//!
//! Where liblilv or dpl is missing the test skips with a notice; `LATHE_REQUIRE_LV2=1`
//! (set by `.ci/run`) turns that into a failure.

use std::time::{Duration, Instant};

use lathe_host::live::Answer;
use lathe_host::live::testing::TestRun;

const RATE: usize = 48_000;
const PERIOD: u32 = 256;
const DPL: &str = "http://gareus.org/oss/lv2/dpl#stereo";
/// The input: a constant well below dpl's threshold, so dpl acts as its input gain.
const DC: f32 = 0.1;
/// The gain the script sets at its start.
const SCRIPT_GAIN_DB: f64 = 12.0;

fn lv2_ready(test: &str) -> bool {
    let missing = match lathe_plugins::lv2::installed(&[DPL]) {
        Ok(missing) if missing.is_empty() => return true,
        Ok(missing) => format!("LV2 plugins not installed: {}", missing.join(", ")),
        Err(e) => e.to_string(),
    };
    if std::env::var("LATHE_REQUIRE_LV2").as_deref() == Ok("1") {
        panic!("{test}: {missing} (LATHE_REQUIRE_LV2=1)");
    }
    eprintln!("SKIPPED {test}: {missing} (apt install liblilv-0-0 x42-plugins)");
    false
}

fn db(x: f64) -> f32 {
    10f64.powf(x / 20.0) as f32
}

/// `trim` (a built-in gain) before dpl, and a script that sets dpl's input gain once.
fn graph(trim_db: f64) -> String {
    format!(
        "(\n    inputs: {{\"main\": 2}},\n    outputs: {{\"main\": 2}},\n    nodes: [\n        \
         (id: \"trim\", kind: \"gain\", params: {{\"gain_db\": {trim_db:?}}}),\n        \
         (id: \"limit\", kind: \"lv2\", config: (uri: {DPL:?}), params: {{\"threshold\": 0.0}}),\n        \
         (id: \"boost\", kind: \"script\", config: (file: \"boost.rhai\")),\n    ],\n    \
         links: [\"in.main -> trim -> limit -> out.main\"],\n)\n"
    )
}

const SCRIPT: &str = "\
// Sets dpl's input gain once, at the start.
fn init(ctx) {
    ctx.set(\"limit.gain\", 12.0);
}
";

fn max_step(x: &[f32]) -> f32 {
    x.windows(2)
        .map(|w| (w[1] - w[0]).abs())
        .fold(0.0f32, f32::max)
}

#[test]
fn script_and_console_reach_an_lv2_plugin_and_a_reload_keeps_its_instance() {
    if !lv2_ready("script_and_console_reach_an_lv2_plugin_and_a_reload_keeps_its_instance") {
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("g.ron");
    std::fs::write(dir.path().join("boost.rhai"), SCRIPT).expect("write script");
    std::fs::write(&path, graph(0.0)).expect("write graph");
    let mut live = TestRun::start("lv2", &path, RATE as u32, PERIOD, |s| s.watch());
    let play_dc = |live: &mut TestRun<()>, frames: usize| {
        live.driver
            .run(&[vec![DC; frames], vec![DC; frames]], frames)
    };
    let settled = |out: &[Vec<f32>]| *out[0].last().expect("frames");

    // The script's set reached dpl: the output settles at the input times its gain.
    // (The script runs on the control thread as audio starts: give it a moment.)
    let deadline = Instant::now() + Duration::from_secs(5);
    let wanted = DC * db(SCRIPT_GAIN_DB);
    loop {
        let out = play_dc(&mut live, RATE / 5);
        if (settled(&out) - wanted).abs() < 1e-4 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the script's gain never reached dpl: output {} instead of {wanted}",
            settled(&out)
        );
        std::thread::sleep(Duration::from_millis(20));
    }

    // The console's set reaches it too.
    match live.cmd("set limit.gain 6") {
        Ok(Answer::Value { value, .. }) => assert_eq!(value, 6.0),
        other => panic!("set: {other:?}"),
    }
    let out = play_dc(&mut live, RATE / 5);
    let wanted = DC * db(6.0);
    assert!(
        (settled(&out) - wanted).abs() < 1e-4,
        "console set: output {} instead of {wanted}",
        settled(&out)
    );

    // Reload with `trim` changed. An unchanged dpl node keeps running; a new instance
    // would start with an empty lookahead, its output jumping from silence.
    std::fs::write(&path, graph(-1.0)).expect("edit");
    live.wait_for_reload();
    let after = play_dc(&mut live, RATE / 5);
    let mut joined = vec![settled(&out)];
    joined.extend_from_slice(&after[0]);
    let step = max_step(&joined);
    assert!(
        step < 1e-3,
        "a step of {step} after the reload: the plugin was rebuilt"
    );
    let wanted = DC * db(-1.0) * db(6.0);
    assert!(
        (settled(&after) - wanted).abs() < 1e-4,
        "after the reload: output {} instead of {wanted} (the console's gain stays)",
        settled(&after)
    );
    live.quit();
}
