//! A `clap` node live, on the in-process backend: a console `set` reaches the plugin, and
//! a hot reload that changes another node keeps the plugin instance, delay line and all.
//! The plugin is the test CLAP plugin built from source (`plugins/test-plugin`).

#[path = "../../plugins/tests/support/test_plugin.rs"]
mod test_plugin;

use std::collections::BTreeMap;
use std::sync::mpsc;
use std::time::Duration;

use lathe_engine::GraphDoc;
use lathe_host::live::console;
use lathe_host::live::{
    Answer, Backend, ControlLoop, Event, InProcessBackend, Message, Messages, Session,
};
use test_plugin::{LATENCY_ID, PLUGIN_LATENCY_FRAMES, test_plugin};

const RATE: usize = 48_000;
const PERIOD: u32 = 256;

fn db(x: f64) -> f32 {
    10f64.powf(x / 20.0) as f32
}

/// `trim` (a built-in gain) before the plugin with latency.
fn graph(trim_db: f64) -> String {
    format!(
        "(\n    inputs: {{\"main\": 2}},\n    outputs: {{\"main\": 2}},\n    nodes: [\n        \
         (id: \"trim\", kind: \"gain\", params: {{\"gain_db\": {trim_db:?}}}),\n        \
         (id: \"plug\", kind: \"clap\", config: (path: {:?}, id: {LATENCY_ID:?})),\n    ],\n    \
         links: [\"in.main -> trim -> plug -> out.main\"],\n)\n",
        test_plugin()
    )
}

#[test]
fn console_set_reaches_the_plugin_and_a_reload_keeps_its_instance() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("g.ron");
    std::fs::write(&path, graph(0.0)).expect("write graph");
    let (backend, mut driver) = InProcessBackend::new("clap", RATE as u32, PERIOD);
    let (msg_tx, messages) = mpsc::channel::<Message>();
    let (ready_tx, ready) = mpsc::channel();
    let watched = path.clone();
    let control = std::thread::spawn(move || {
        let doc = GraphDoc::load(&watched).expect("graph loads");
        let mut session = Session::start(
            &watched,
            doc,
            BTreeMap::new(),
            Messages::Channel(msg_tx),
            || Ok(backend),
        )
        .unwrap_or_else(|e| panic!("start: {e}"));
        session.watch();
        ready_tx.send(session.events()).expect("test waits");
        let (ending, control) = session.run();
        let ControlLoop { backend, .. } = control;
        backend.stop(false);
        ending
    });
    let events = ready.recv().expect("the run starts");
    let cmd = |line: &str| {
        let (tx, rx) = mpsc::channel();
        let cmd = console::parse(line).expect("parses").expect("a command");
        events
            .send(Event::Command {
                cmd,
                reply: Some(tx),
            })
            .expect("control loop running");
        rx.recv_timeout(Duration::from_secs(2)).expect("an answer")
    };
    let mut play_dc = |frames: usize| driver.run(&[vec![0.5; frames], vec![0.5; frames]], frames);

    // Live: the console's set reaches the plugin through a param event.
    match cmd("set plug.gain_db -6") {
        Ok(Answer::Value { value, .. }) => assert_eq!(value, -6.0),
        other => panic!("set: {other:?}"),
    }
    let out = play_dc(RATE / 10);
    let expected = 0.5 * db(-6.0);
    assert!(
        (out[0][RATE / 10 - 1] - expected).abs() < 1e-6,
        "{} vs {expected}",
        out[0][RATE / 10 - 1]
    );

    // Reload with only `trim` changed: the plugin keeps running. A new instance would
    // start with an empty delay line: PLUGIN_LATENCY_FRAMES of silence in the output.
    std::fs::write(&path, graph(-1.0)).expect("edit");
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let m = messages
            .recv_timeout(deadline.saturating_duration_since(std::time::Instant::now()))
            .expect("a reload message");
        assert!(!m.error, "{}", m.text);
        if m.text.starts_with("reloaded") {
            break;
        }
    }
    let after = play_dc(RATE / 5);
    let quietest = after[0].iter().fold(f32::MAX, |m, x| m.min(x.abs()));
    assert!(
        quietest > 0.1,
        "a gap of silence after the reload ({quietest}): the plugin was rebuilt \
         (its {PLUGIN_LATENCY_FRAMES}-frame delay line restarted)"
    );
    let settled = 0.5 * db(-1.0) * db(-6.0);
    assert!((after[0][RATE / 5 - 1] - settled).abs() < 1e-5);
    assert_eq!(cmd("quit"), Ok(Answer::Quit));
    control.join().expect("control loop ends cleanly");
}
