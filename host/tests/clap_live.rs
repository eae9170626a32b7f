//! A `clap` node live, on the in-process backend: a console `set` reaches the plugin, and
//! a hot reload that changes another node keeps the plugin instance, delay line and all,
//! and the console's `save` writes the plugin's state into the saved graph, which
//! restores it when it is run.
//! The plugin is the test CLAP plugin built from source (`plugins/test-plugin`).

#[path = "../../plugins/tests/support/test_plugin.rs"]
mod test_plugin;

use lathe_host::live::Answer;
use lathe_host::live::testing::TestRun;
use test_plugin::{FADE_FRAMES, FADE_ID, LATENCY_ID, PLUGIN_LATENCY_FRAMES, test_plugin};

const RATE: usize = 48_000;
const PERIOD: u32 = 256;

fn db(x: f64) -> f32 {
    10f64.powf(x / 20.0) as f32
}

/// `trim` (a built-in gain) before the plugin with latency; `other_path` names the same
/// file another way, which changes the plugin node's config.
fn graph(trim_db: f64, other_path: bool) -> String {
    let plugin = test_plugin();
    let path = if other_path {
        plugin
            .parent()
            .expect("folder")
            .join(".")
            .join(plugin.file_name().expect("name"))
    } else {
        plugin.to_path_buf()
    };
    format!(
        "(\n    inputs: {{\"main\": 2}},\n    outputs: {{\"main\": 2}},\n    nodes: [\n        \
         (id: \"trim\", kind: \"gain\", params: {{\"gain_db\": {trim_db:?}}}),\n        \
         (id: \"plug\", kind: \"clap\", config: (path: {:?}, id: {LATENCY_ID:?})),\n    ],\n    \
         links: [\"in.main -> trim -> plug -> out.main\"],\n)\n",
        path
    )
}

fn max_step(x: &[f32]) -> f32 {
    x.windows(2)
        .map(|w| (w[1] - w[0]).abs())
        .fold(0.0f32, f32::max)
}

#[test]
fn console_set_reaches_the_plugin_and_a_reload_keeps_its_instance() {
    // The same run with the plugin's config changed (so rebuilt) measures a step of
    // about 1e-2; a kept instance, only trim's glide.
    let step = run_and_reload(false);
    assert!(
        step < 1e-3,
        "a step of {step} after the reload: the plugin was rebuilt (its \
         {PLUGIN_LATENCY_FRAMES}-frame delay line restarted)"
    );
}

/// Runs the graph, sets the plugin's gain from the console, reloads with `trim`
/// changed (and the plugin's config too if `rebuild`), and returns the largest step
/// between consecutive output samples from just before the reload on.
fn run_and_reload(rebuild: bool) -> f32 {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("g.ron");
    std::fs::write(&path, graph(0.0, false)).expect("write graph");
    let mut live = Live::start(&path, "clap");

    // Live: the console's set reaches the plugin through a param event.
    match live.cmd("set plug.gain_db -6") {
        Ok(Answer::Value { value, .. }) => assert_eq!(value, -6.0),
        other => panic!("set: {other:?}"),
    }
    let out = live.play_dc(RATE / 10);
    let expected = 0.5 * db(-6.0);
    assert!(
        (out[RATE / 10 - 1] - expected).abs() < 1e-6,
        "{} vs {expected}",
        out[RATE / 10 - 1]
    );

    // Reload with `trim` changed. Unless its config changed too, the plugin keeps
    // running; a new instance would start with an empty delay line.
    std::fs::write(&path, graph(-1.0, rebuild)).expect("edit");
    live.wait_for_reload();
    let after = live.play_dc(RATE / 5);
    // `trim` glides by a few 1e-5 a frame. A rebuilt plugin would be crossfaded in
    // with an empty delay line: its output jumps from silence when the line fills.
    let mut joined = vec![out[RATE / 10 - 1]];
    joined.extend_from_slice(&after);
    let step = max_step(&joined);
    let settled = 0.5 * db(-1.0) * db(-6.0);
    assert!((after[RATE / 5 - 1] - settled).abs() < 1e-5);
    live.quit();
    step
}

/// `trim` before the fade plugin (whose state counts the frames of its life).
fn fade_graph(trim_db: f64) -> String {
    format!(
        "(\n    inputs: {{\"main\": 2}},\n    outputs: {{\"main\": 2}},\n    nodes: [\n        \
         (id: \"trim\", kind: \"gain\", params: {{\"gain_db\": {trim_db:?}}}),\n        \
         (id: \"fade\", kind: \"clap\", config: (path: {:?}, id: {FADE_ID:?})),\n    ],\n    \
         links: [\"in.main -> trim -> fade -> out.main\"],\n)\n",
        test_plugin()
    )
}

/// A live run of the graph file `path` on the in-process backend, watched.
struct Live(TestRun<()>);

impl Live {
    fn start(path: &std::path::Path, name: &str) -> Live {
        Live(TestRun::start(name, path, RATE as u32, PERIOD, |s| {
            s.watch()
        }))
    }

    /// Plays `frames` of a constant 0.5 and returns the left output.
    fn play_dc(&mut self, frames: usize) -> Vec<f32> {
        let out = self
            .driver
            .run(&[vec![0.5; frames], vec![0.5; frames]], frames);
        out[0].clone()
    }

    fn quit(mut self) {
        self.0.quit();
    }
}

impl std::ops::Deref for Live {
    type Target = TestRun<()>;
    fn deref(&self) -> &TestRun<()> {
        &self.0
    }
}

impl std::ops::DerefMut for Live {
    fn deref_mut(&mut self) -> &mut TestRun<()> {
        &mut self.0
    }
}

#[test]
fn console_save_writes_the_plugins_state_and_the_saved_graph_restores_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("g.ron");
    std::fs::write(&path, fade_graph(0.0)).expect("write graph");
    let mut live = Live::start(&path, "clap-state");
    // A fresh plugin fades in from silence over FADE_FRAMES.
    let first = live.play_dc(FADE_FRAMES + RATE / 10);
    assert_eq!(first[0], 0.0);
    assert_eq!(*first.last().expect("frames"), 0.5);

    // A reload that changes only `trim` keeps the plugin and its state task: what is
    // saved next is the running instance's state, not that of the fresh instance the
    // reload built and dropped (which never ran).
    std::fs::write(&path, fade_graph(-6.0)).expect("edit");
    live.wait_for_reload();
    live.play_dc(RATE / 10);
    let saved = dir.path().join("saved.ron");
    match live.cmd(&format!("save {}", saved.display())) {
        Ok(Answer::Text(text)) => assert!(text.starts_with("saved"), "{text}"),
        other => panic!("save: {other:?}"),
    }
    live.quit();
    let text = std::fs::read_to_string(&saved).expect("saved graph");
    assert!(text.contains("state: \""), "{text}");

    // The saved graph starts where the plugin was: at full gain from its first frame.
    let mut again = Live::start(&saved, "clap-state");
    let out = again.play_dc(RATE / 10);
    let trimmed = 0.5 * db(-6.0);
    assert!(
        (out[0] - trimmed).abs() < 1e-6,
        "first frame {} instead of {trimmed}: the state did not come back",
        out[0]
    );
    again.quit();
}
