//! The live control loop of `lathe run` over the in-process backend, without jackd: hot
//! reload, console commands, OSC, the monitor section, scripts and format changes. The test
//! plays the audio itself, period by period (or with a real-time clock for scripts), so
//! every level is checked exactly, sample by sample.

use std::collections::BTreeMap;
use std::net::{SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use lathe_engine::GraphDoc;
use lathe_host::live::console::{self, Command};
use lathe_host::live::{
    Answer, Backend, ClockInput, ControlLoop, Ending, Event, InProcessBackend, InProcessDriver,
    Message, Messages, Reply, Session,
};

const RATE: usize = 48_000;
const PERIOD: u32 = 256;
const SECOND: Duration = Duration::from_secs(1);

fn db(x: f64) -> f32 {
    10f64.powf(x / 20.0) as f32
}

fn gain_graph(gain_db: f64) -> String {
    format!(
        "(\n    inputs: {{\"main\": 2}},\n    outputs: {{\"main\": 2}},\n    nodes: [(id: \"trim\", kind: \"gain\", params: {{\"gain_db\": {gain_db:?}}})],\n    links: [\"in.main -> trim -> out.main\"],\n)\n"
    )
}

fn sine(freq_hz: f64, amp: f32, frames: usize) -> Vec<f32> {
    (0..frames)
        .map(|i| amp * (2.0 * std::f64::consts::PI * freq_hz * i as f64 / RATE as f64).sin() as f32)
        .collect()
}

fn peak(x: &[f32]) -> f32 {
    x.iter().fold(0.0f32, |m, v| m.max(v.abs()))
}

fn max_step(x: &[f32]) -> f32 {
    x.windows(2)
        .map(|w| (w[1] - w[0]).abs())
        .fold(0.0f32, f32::max)
}

/// A live run on the in-process backend: the control loop on a thread of its own, as in
/// `lathe run`; the test holds the driver and plays the audio.
struct Live {
    dir: tempfile::TempDir,
    graph: PathBuf,
    events: Sender<Event>,
    messages: Receiver<Message>,
    seen: Vec<Message>,
    /// Lent to a clock while one plays.
    driver: Option<InProcessDriver>,
    osc: Option<SocketAddr>,
    control: Option<JoinHandle<(Ending, String)>>,
}

/// Files of a test graph, written into a fresh directory.
fn write_files(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).expect("write test file");
    }
    dir
}

impl Live {
    /// Runs `g.ron` (among `files`) watched, with OSC on a free port if `osc`.
    fn start(files: &[(&str, &str)], osc: bool) -> Live {
        let dir = write_files(files);
        let graph = dir.path().join("g.ron");
        let (backend, mut driver) = InProcessBackend::new("lt", RATE as u32, PERIOD);
        let (msg_tx, messages) = mpsc::channel();
        let (ready_tx, ready) = mpsc::channel();
        let path = graph.clone();
        let control = std::thread::spawn(move || {
            let doc = GraphDoc::load(&path).expect("graph loads");
            let started = Session::start(
                &path,
                doc,
                BTreeMap::new(),
                Messages::Channel(msg_tx),
                || Ok(backend),
            );
            let mut session = match started {
                Ok(s) => s,
                Err(e) => panic!("start: {e}"),
            };
            session.watch();
            let bound = osc.then(|| {
                session
                    .listen_osc("127.0.0.1:0".parse().expect("address"))
                    .expect("OSC socket")
            });
            let banner = session.banner(&path);
            ready_tx
                .send((session.events(), bound, banner))
                .expect("test waits");
            let (ending, control) = session.run();
            let summary = control.summary();
            let ControlLoop { backend, .. } = control;
            backend.stop(ending == Ending::ServerGone);
            (ending, summary)
        });
        let (events, osc, banner) = ready.recv().expect("the run starts");
        assert!(banner.contains("in-process client `lt`"), "{banner}");
        assert!(driver.is_started());
        let driver = Some(driver);
        Live {
            dir,
            graph,
            events,
            messages,
            seen: Vec::new(),
            driver,
            osc,
            control: Some(control),
        }
    }

    /// Sends a console line and waits for its answer.
    fn cmd(&self, line: &str) -> Reply {
        let cmd = console::parse(line)
            .unwrap_or_else(|e| panic!("`{line}`: {e}"))
            .expect("a command");
        self.send(cmd)
    }

    fn send(&self, cmd: Command) -> Reply {
        let (tx, rx) = mpsc::channel();
        self.events
            .send(Event::Command {
                cmd,
                reply: Some(tx),
            })
            .expect("control loop running");
        rx.recv_timeout(2 * SECOND).expect("an answer")
    }

    fn text(&self, line: &str) -> String {
        match self.cmd(line) {
            Ok(Answer::Text(t)) => t,
            other => panic!("`{line}`: {other:?}"),
        }
    }

    fn value(&self, line: &str) -> f32 {
        match self.cmd(line) {
            Ok(Answer::Value { value, .. }) => value,
            other => panic!("`{line}`: {other:?}"),
        }
    }

    fn driver(&mut self) -> &mut InProcessDriver {
        self.driver
            .as_mut()
            .expect("the driver is not lent to a clock")
    }

    /// Plays `input` (one buffer per channel) for `frames` frames; returns the output.
    fn play(&mut self, input: &[Vec<f32>], frames: usize) -> Vec<Vec<f32>> {
        self.driver().run(input, frames)
    }

    /// Plays `frames` frames of a constant stereo input.
    fn play_dc(&mut self, level: f32, frames: usize) -> Vec<Vec<f32>> {
        self.play(&[vec![level; frames], vec![level; frames]], frames)
    }

    /// Waits for a message of the control loop that satisfies `want` (reloads compile on
    /// the control thread: no audio needs to play meanwhile).
    fn wait_message(&mut self, want: impl Fn(&Message) -> bool, timeout: Duration) -> Message {
        let end = Instant::now() + timeout;
        loop {
            if let Some(m) = self.seen.iter().find(|m| want(m)) {
                return m.clone();
            }
            let left = end.saturating_duration_since(Instant::now());
            match self.messages.recv_timeout(left) {
                Ok(m) => self.seen.push(m),
                Err(_) => panic!("no such message; seen {:?}", self.seen),
            }
        }
    }

    /// Rewrites a file of the graph (messages seen so far are forgotten).
    fn edit(&mut self, name: &str, text: &str) {
        self.seen.clear();
        std::fs::write(self.dir.path().join(name), text).expect("edit");
    }

    fn quit(mut self) -> (Ending, String) {
        assert_eq!(self.cmd("quit"), Ok(Answer::Quit));
        let control = self.control.take().expect("running");
        let result = control.join().expect("control loop ends cleanly");
        assert!(self.driver().is_stopped(), "quit stops the backend");
        result
    }
}

/// A good edit is swapped in and glides from the old gain to the new within 40 ms with no
/// step; a broken edit prints the error with file:line:col and `reload failed`, and the
/// audio keeps the last good gain exactly.
#[test]
fn hot_reload_glides_and_broken_edit_keeps_the_graph() {
    let mut live = Live::start(&[("g.ron", &gain_graph(-6.0))], false);
    let (old, new) = (0.5 * db(-6.0), 0.5 * db(-12.0));
    let before = live.play_dc(0.5, RATE / 10);
    assert!((before[0][RATE / 10 - 1] - old).abs() < 1e-6);

    live.edit("g.ron", &gain_graph(-12.0));
    let reloaded = live.wait_message(|m| m.text.starts_with("reloaded"), 3 * SECOND);
    assert!(!reloaded.error && reloaded.text.ends_with("(latency 0 frames)"));
    let after = live.play_dc(0.5, RATE / 5);
    let x = &after[0];
    let first_new = x
        .iter()
        .position(|v| (v - new).abs() < 1e-5)
        .expect("reaches the new level");
    let glide_ms = first_new as f64 * 1000.0 / RATE as f64;
    assert!(glide_ms <= 40.0, "glide took {glide_ms} ms");
    assert!(max_step(x) < 1e-3, "step {}", max_step(x));
    assert!(x[first_new..].iter().all(|v| (v - new).abs() < 1e-5));

    live.edit("g.ron", "(nodes: [(id: \"trim\", kind: \"gain\"");
    let failed = live.wait_message(|m| m.text.contains("reload failed"), 3 * SECOND);
    assert!(failed.error);
    assert!(
        failed.text.contains("g.ron:1:"),
        "names the file, line and column: {}",
        failed.text
    );
    let kept = live.play_dc(0.5, RATE / 10);
    assert!(kept[0].iter().all(|v| (v - new).abs() < 1e-6));
    assert_eq!(live.value("get trim.gain_db"), -12.0);
    assert_eq!(live.quit().0, Ending::Quit);
}

/// A live `set` survives a reload that does not touch the param; an edit of that param in
/// the file wins and says so.
#[test]
fn live_values_survive_reloads_unless_the_file_changes_them() {
    let two = |a: f64, b: f64| {
        format!(
            "(\n    inputs: {{\"main\": 2}},\n    outputs: {{\"main\": 2}},\n    nodes: [\n        \
             (id: \"a\", kind: \"gain\", params: {{\"gain_db\": {a:?}}}),\n        \
             (id: \"b\", kind: \"gain\", params: {{\"gain_db\": {b:?}}}),\n    ],\n    \
             links: [\"in.main -> a -> b -> out.main\"],\n)\n"
        )
    };
    let mut live = Live::start(&[("g.ron", &two(0.0, 0.0))], false);
    assert_eq!(live.value("set a.gain_db -3"), -3.0);
    live.edit("g.ron", &two(0.0, -1.0));
    live.wait_message(|m| m.text.starts_with("reloaded"), 3 * SECOND);
    // The engine takes the new graph at its next period; a later reload waits for that.
    live.play_dc(0.5, PERIOD as usize);
    assert_eq!(live.value("get a.gain_db"), -3.0);
    assert_eq!(live.value("get b.gain_db"), -1.0);
    live.edit("g.ron", &two(-2.0, -1.0));
    let msg = live.wait_message(|m| m.text.starts_with("reloaded"), 3 * SECOND);
    assert!(
        msg.text.ends_with("; the file now sets a.gain_db"),
        "{}",
        msg.text
    );
    assert_eq!(live.value("get a.gain_db"), -2.0);
    let out = live.play_dc(0.5, RATE / 5);
    assert!((out[1][RATE / 5 - 1] - 0.5 * db(-3.0)).abs() < 1e-6);
    live.quit();
}

/// `set`/`get` change and read params (the audio follows), out-of-range values are
/// clamped, unknown paths get a suggestion, `bypass` toggles, `meters` lists every meter
/// and the monitor, `save` writes the current values next to the graph.
#[test]
fn console_commands() {
    let graph = "(\n    inputs: {\"main\": 2},\n    outputs: {\"main\": 2},\n    nodes: [\n        \
                 (id: \"trim\", kind: \"gain\", params: {\"gain_db\": -6.0}),\n        \
                 (id: \"level\", kind: \"peak_rms\", params: {\"window_ms\": 50.0}),\n    ],\n    \
                 links: [\"in.main -> trim -> level -> out.main\"],\n)\n";
    let mut live = Live::start(&[("g.ron", graph)], false);
    assert_eq!(live.value("get trim.gain_db"), -6.0);
    assert_eq!(live.value("set trim.gain_db -3"), -3.0);
    assert_eq!(live.value("set trim.gain_db 99"), 24.0);
    assert_eq!(live.value("set trim.gain_db -3"), -3.0);
    let out = live.play_dc(0.5, RATE / 5);
    assert!((out[0][RATE / 5 - 1] - 0.5 * db(-3.0)).abs() < 1e-6);
    let unknown = live.cmd("get trim.gain_dB").unwrap_err();
    assert!(unknown.contains("did you mean `trim.gain_db`"), "{unknown}");

    assert_eq!(live.text("bypass trim on"), "trim bypassed");
    let out = live.play_dc(0.5, RATE / 5);
    assert!((out[0][RATE / 5 - 1] - 0.5).abs() < 1e-6, "bypassed");
    assert_eq!(live.text("bypass trim"), "trim active");
    assert!(
        live.cmd("bypass nope")
            .unwrap_err()
            .contains("unknown node `nope`")
    );
    live.play_dc(0.5, RATE / 5);

    let meters = live.text("meters");
    let rms = meters
        .lines()
        .find_map(|l| l.strip_prefix("level.ch1.rms_dbfs = "))
        .unwrap_or_else(|| panic!("{meters}"));
    let rms: f32 = rms.trim().parse().expect("a number");
    assert!(
        (rms - (20.0 * (0.5 * db(-3.0)).log10())).abs() < 0.1,
        "{rms}"
    );
    assert!(
        meters.contains("monitor: off; short-term loudness processed"),
        "{meters}"
    );
    assert!(meters.contains("DSP load"), "{meters}");
    let meter = live.value("get level.ch1.rms_dbfs");
    assert!((meter - rms).abs() < 0.1);

    assert_eq!(live.text("monitor dim on"), "monitor: dim");
    assert_eq!(live.text("monitor mono"), "monitor: mono dim");
    assert_eq!(live.text("monitor dim off"), "monitor: mono");

    let saved = live.dir.path().join("g.saved.ron");
    assert_eq!(live.text("save"), format!("saved {}", saved.display()));
    let text = std::fs::read_to_string(&saved).expect("saved file");
    assert!(text.contains("\"gain_db\": -3.0"), "{text}");
    let original = std::fs::read_to_string(&live.graph).expect("graph");
    assert!(original.contains("-6.0"), "the graph file is untouched");
    let refused = live
        .cmd(&format!("save {}", live.graph.display()))
        .unwrap_err();
    assert!(refused.starts_with("refusing to write over"), "{refused}");

    let (ending, summary) = live.quit();
    assert_eq!(ending, Ending::Quit);
    assert!(summary.contains("0 xruns"), "{summary}");
}

/// `solo bands.band2` plays one crossover band instead of the graph's output, a port the
/// crossover does not have is refused with its outputs listed, and `solo off` returns to
/// the summed output.
#[test]
fn solo_plays_one_crossover_band() {
    let graph = "(\n    inputs: {\"main\": 2},\n    outputs: {\"main\": 2},\n    nodes: [\n        \
                 (id: \"bands\", kind: \"crossover\", config: (freqs_hz: [200.0, 2000.0])),\n        \
                 (id: \"sum\", kind: \"mix\", config: (inputs: 3)),\n    ],\n    \
                 links: [\"in.main -> bands\", \"bands.band1 -> sum.in1\", \"bands.band2 -> sum.in2\", \
                 \"bands.band3 -> sum.in3\", \"sum -> out.main\"],\n)\n";
    let mut live = Live::start(&[("g.ron", graph)], false);
    let x = sine(1000.0, 0.5, RATE / 2);
    let input = vec![x.clone(), x];
    live.play(&input, RATE / 2);
    let refused = live.cmd("solo bands.band9").unwrap_err();
    assert!(
        refused.contains("outputs: bands.band1, bands.band2, bands.band3"),
        "{refused}"
    );
    let mut peaks = Vec::new();
    for (command, reply) in [
        ("solo bands.band2", "monitor: solo bands.band2"),
        ("solo bands.band1", "monitor: solo bands.band1"),
        ("solo off", "monitor: off"),
    ] {
        assert_eq!(live.text(command), reply);
        let out = live.play(&input, RATE / 2);
        peaks.push(peak(&out[0][RATE / 4..]));
    }
    println!("band2 {}, band1 {}, off {}", peaks[0], peaks[1], peaks[2]);
    assert!(peaks[0] > 0.45, "band 2 carries 1 kHz: {}", peaks[0]);
    assert!(peaks[1] < 0.5 * db(-40.0), "band 1 does not: {}", peaks[1]);
    assert!(
        (peaks[2] - 0.5).abs() < 0.01,
        "the summed output: {}",
        peaks[2]
    );
    live.quit();
}

/// OSC over loopback UDP: `/lathe/set` and `/lathe/get` answer `/lathe/value` to the
/// sender, a bad path answers `/lathe/error`, and the audio follows the set.
#[test]
fn osc_set_and_get_over_udp() {
    let mut live = Live::start(&[("g.ron", &gain_graph(-6.0))], true);
    let addr = live.osc.expect("OSC bound");
    let socket = UdpSocket::bind("127.0.0.1:0").expect("client socket");
    socket.set_read_timeout(Some(2 * SECOND)).expect("timeout");
    let ask = |addr_path: &str, args: Vec<rosc::OscType>| {
        let msg = rosc::OscPacket::Message(rosc::OscMessage {
            addr: addr_path.into(),
            args,
        });
        socket
            .send_to(&rosc::encoder::encode(&msg).expect("encodes"), addr)
            .expect("sent");
        let mut buf = [0u8; 1024];
        let n = socket.recv(&mut buf).expect("OSC reply");
        match rosc::decoder::decode_udp(&buf[..n]).expect("decodes").1 {
            rosc::OscPacket::Message(m) => m,
            other => panic!("a message: {other:?}"),
        }
    };
    use rosc::OscType::{Float, String as Text};
    let reply = ask("/lathe/set", vec![Text("trim.gain_db".into()), Float(-3.0)]);
    assert_eq!(reply.addr, "/lathe/value");
    assert_eq!(reply.args, vec![Text("trim.gain_db".into()), Float(-3.0)]);
    let reply = ask("/lathe/get", vec![Text("trim.gain_db".into())]);
    assert_eq!(reply.args, vec![Text("trim.gain_db".into()), Float(-3.0)]);
    let reply = ask("/lathe/get", vec![Text("trim.gain".into())]);
    assert_eq!(reply.addr, "/lathe/error");
    let out = live.play_dc(0.5, RATE / 5);
    assert!((out[0][RATE / 5 - 1] - 0.5 * db(-3.0)).abs() < 1e-6);
    live.quit();
}

/// The monitor section: dim is -20 dB; A/B plays the unprocessed input (6 dB louder than
/// the processed output) turned down to the processed loudness from the moment it is
/// switched on, and at its own level once matching is off; mono sums the channels. No
/// switch steps beyond what the sine itself makes.
#[test]
fn monitor_ab_loudness_match_mono_and_dim() {
    let mut live = Live::start(&[("g.ron", &gain_graph(-6.0))], false);
    let processed = 0.5 * db(-6.0);
    let x = sine(1000.0, 0.5, RATE);
    let input = vec![x.clone(), x];
    let mut played = Vec::new();
    let mut play = |live: &mut Live, seconds: f64| {
        let frames = (seconds * RATE as f64) as usize;
        let mut out = Vec::new();
        let mut done = 0;
        while done < frames {
            let n = (frames - done).min(RATE);
            let o = live.play(&input, n);
            out.extend_from_slice(&o[0]);
            done += n;
        }
        played.extend_from_slice(&out);
        out
    };
    play(&mut live, 3.2); // the loudness window fills
    assert_eq!(live.text("monitor dim on"), "monitor: dim");
    let dimmed = play(&mut live, 0.3);
    assert!((peak(&dimmed[RATE / 10..]) - processed * db(-20.0)).abs() < processed * 0.01);
    assert_eq!(live.text("monitor dim off"), "monitor: off");
    play(&mut live, 0.1);
    assert_eq!(live.text("monitor ab on"), "monitor: ab match");
    let ab = play(&mut live, 0.7);
    assert!(
        (peak(&ab) - processed).abs() < processed * 0.03,
        "{}",
        peak(&ab)
    );
    assert_eq!(live.text("monitor match off"), "monitor: ab");
    let unmatched = play(&mut live, 0.4);
    let unmatched = peak(&unmatched[RATE / 10..]);
    assert!((unmatched - 0.5).abs() < 0.5 * 0.03, "{unmatched}");
    assert_eq!(live.text("monitor ab off"), "monitor: off");
    // A 1 kHz sine of amplitude 0.5 moves at most 0.066 per sample.
    assert!(max_step(&played) < 0.07, "step {}", max_step(&played));

    assert_eq!(live.text("monitor mono on"), "monitor: mono");
    let left = vec![0.5f32; RATE / 5];
    let right = vec![0.1f32; RATE / 5];
    let out = live.play(&[left, right], RATE / 5);
    let mid = 0.3 * db(-6.0);
    assert!((out[0][RATE / 5 - 1] - mid).abs() < 1e-6 && (out[1][RATE / 5 - 1] - mid).abs() < 1e-6);
    live.quit();
}

/// `save` never writes over a file the session reads (the graph, a subgraph, a script,
/// by any name), and a save leaves no temporary file.
#[test]
fn save_never_replaces_a_file_the_session_reads() {
    let graph = "(\n    inputs: {\"main\": 2},\n    outputs: {\"main\": 2},\n    nodes: [\n        \
                 (id: \"inner\", kind: \"sub.ron\"),\n        \
                 (id: \"trim\", kind: \"gain\"),\n        \
                 (id: \"ride\", kind: \"script\", config: (file: \"ride.rhai\")),\n    ],\n    \
                 links: [\"in.main -> inner -> trim -> out.main\"],\n)\n";
    let sub = "(nodes: [(id: \"g\", kind: \"gain\")], links: [\"in -> g -> out\"])";
    let ride = "fn tick(ctx) { ctx.set(\"trim.gain_db\", -1.0); }\n";
    let live = Live::start(
        &[("g.ron", graph), ("sub.ron", sub), ("ride.rhai", ride)],
        false,
    );
    let dir = live.dir.path().to_path_buf();
    let files = || {
        let mut names: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
            .expect("dir")
            .map(|e| {
                let e = e.expect("entry");
                let bytes = std::fs::read(e.path()).expect("read");
                (e.file_name().to_string_lossy().into_owned(), bytes)
            })
            .collect();
        names.sort();
        names
    };
    let before = files();
    for (name, role) in [
        ("sub.ron", "file the graph reads"),
        ("./ride.rhai", "file the graph reads"),
        ("g.ron", "graph file"),
    ] {
        let target = dir.join(name);
        let refused = live.cmd(&format!("save {}", target.display())).unwrap_err();
        assert!(
            refused.starts_with(&format!("refusing to write over the {role}")),
            "{name}: {refused}"
        );
    }
    assert!(before == files(), "a refused save changed a file");
    let other = dir.join("other.ron");
    assert_eq!(
        live.text(&format!("save {}", other.display())),
        format!("saved {}", other.display())
    );
    let names: Vec<String> = files().into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["g.ron", "other.ron", "ride.rhai", "sub.ron"]);
    live.quit();
}

/// A script ticks live on the control thread while a real-time clock plays the audio:
/// `ride` steers `trim.gain_db` so a 0.5 DC input comes out at -12 dBFS; `bad` fails once,
/// reported with its name and position, and the rest goes on.
#[test]
fn scripts_tick_live_against_the_clock() {
    let ride = "fn tick(ctx) {\n    let rms = ctx.meter(\"level.ch1.rms_dbfs\");\n    \
                if rms > -100.0 { ctx.set(\"trim.gain_db\", -12.0 - rms); }\n}\n";
    let bad = r#"fn tick(ctx) { if ctx.time_s > 0.3 { ctx.set("trim.gain", 1.0); } }"#;
    let graph = format!(
        "(\n    inputs: {{\"main\": 2}},\n    outputs: {{\"main\": 2}},\n    nodes: [\n        \
         (id: \"level\", kind: \"peak_rms\", params: {{\"window_ms\": 50.0}}),\n        \
         (id: \"trim\", kind: \"gain\"),\n        \
         (id: \"ride\", kind: \"script\", config: (file: \"ride.rhai\", rate_hz: 50)),\n        \
         (id: \"bad\", kind: \"script\", config: (source: {bad:?}, rate_hz: 10)),\n    ],\n    \
         links: [\"in.main -> level -> trim -> out.main\"],\n)\n"
    );
    let mut live = Live::start(&[("g.ron", &graph), ("ride.rhai", ride)], false);
    let driver = live.driver.take().expect("driver");
    let input = ClockInput {
        channels: vec![vec![0.5; RATE], vec![0.5; RATE]],
        looped: true,
    };
    let clock = driver.spawn_clock(input, 2 * RATE).expect("clock thread");
    let error = live.wait_message(|m| m.text.contains("script error"), 3 * SECOND);
    assert!(error.error);
    assert!(
        error.text.contains("bad (inline source):1:") && error.text.contains("trim.gain"),
        "names the script, its position and the path: {}",
        error.text
    );
    std::thread::sleep(Duration::from_millis(800));
    let gain = live.value("get trim.gain_db");
    assert!((gain - -5.98).abs() < 0.05, "{gain}");
    let (driver, recorded) = clock.stop();
    live.driver = Some(driver);
    let last = *recorded[0].last().expect("recorded");
    assert!((last - db(-12.0)).abs() < db(-12.0) * 0.001, "{last}");
    let errors = live
        .seen
        .iter()
        .filter(|m| m.text.contains("script error"))
        .count();
    assert_eq!(errors, 1, "reported once");
    live.quit();
}

/// A mastering chain (that of graphs/master.ron) with compressors, a lookahead limiter and
/// a loudness meter: state everywhere, 240 frames of latency. `extra` nodes and the chain
/// after `sum` are the parts a structural edit changes.
fn chain(extra: &str, tail: &str) -> String {
    format!(
        r#"(
    inputs: {{"main": 2}},
    outputs: {{"main": 2}},
    nodes: [
        {extra}
        (id: "trim", kind: "gain", params: {{"gain_db": 0.0}}),
        (id: "eq", kind: "eq", config: (bands: [(type: "high_pass", order: 2), (type: "bell")]),
         params: {{"band1.freq_hz": 30.0, "band2.freq_hz": 3000.0, "band2.gain_db": 1.0}}),
        (id: "bands", kind: "crossover", config: (freqs_hz: [200.0, 2000.0], slope: "lr4")),
        (id: "comp_low", kind: "compressor", params: {{"threshold_db": -24.0, "ratio": 3.0, "attack_ms": 20.0, "release_ms": 200.0}}),
        (id: "comp_mid", kind: "compressor", params: {{"threshold_db": -24.0, "ratio": 3.0, "attack_ms": 10.0, "release_ms": 150.0}}),
        (id: "comp_high", kind: "compressor", params: {{"threshold_db": -24.0, "ratio": 3.0, "attack_ms": 5.0, "release_ms": 100.0}}),
        (id: "sum", kind: "mix", config: (inputs: 3)),
        (id: "width", kind: "width", params: {{"side_gain_db": 1.6}}),
        (id: "limit", kind: "limiter", config: (lookahead_ms: 5.0), params: {{"ceiling_dbtp": -6.0, "release_ms": 50.0}}),
        (id: "loud", kind: "loudness"),
    ],
    links: [
        "in -> trim -> eq -> bands",
        "bands.band1 -> comp_low -> sum.in1",
        "bands.band2 -> comp_mid -> sum.in2",
        "bands.band3 -> comp_high -> sum.in3",
        "{tail}",
    ],
)
"#
    )
}

const TAIL: &str = "sum -> width -> limit -> loud -> out";

/// Music-like stereo test signal: a few partials with a slow level swell, different on
/// each side, so compressors and the limiter work all the time.
fn music(frames: usize) -> Vec<Vec<f32>> {
    let partials = [(55.0, 0.3), (220.0, 0.2), (1250.0, 0.15), (5100.0, 0.1)];
    (0..2)
        .map(|ch| {
            (0..frames)
                .map(|i| {
                    let t = i as f64 / RATE as f64;
                    let swell = 0.6 + 0.4 * (2.0 * std::f64::consts::PI * 0.7 * t).sin();
                    let x: f64 = partials
                        .iter()
                        .map(|(f, a)| {
                            a * (2.0 * std::f64::consts::PI * f * (1.0 + 0.01 * ch as f64) * t)
                                .sin()
                        })
                        .sum();
                    (swell * x) as f32
                })
                .collect()
        })
        .collect()
}

/// Plays `input` in `parts` (frame counts), calling `between(k)` after part k.
fn play_parts(
    live: &mut Live,
    input: &[Vec<f32>],
    parts: &[usize],
    mut between: impl FnMut(&mut Live, usize),
) -> Vec<Vec<f32>> {
    let mut out = vec![Vec::new(), Vec::new()];
    let mut at = 0;
    for (k, &n) in parts.iter().enumerate() {
        let part: Vec<Vec<f32>> = input.iter().map(|c| c[at..at + n].to_vec()).collect();
        for (o, p) in out.iter_mut().zip(live.play(&part, n)) {
            o.extend(p);
        }
        at += n;
        between(live, k);
    }
    out
}

fn assert_same_audio(edited: &[Vec<f32>], reference: &[Vec<f32>], what: &str) {
    for (c, (e, r)) in edited.iter().zip(reference).enumerate() {
        assert_eq!(e.len(), r.len());
        let (i, worst) = e
            .iter()
            .zip(r)
            .map(|(a, b)| (a - b).abs())
            .enumerate()
            .fold((0, 0.0f32), |m, (i, d)| if d > m.1 { (i, d) } else { m });
        assert!(
            worst <= 1e-6,
            "{what}: channel {c} differs by {worst} at frame {i}"
        );
    }
}

/// Structural edits under music (insert a unity gain, an EQ with every band at 0 dB,
/// reorder two unity stages, remove them again) leave the output within 1e-6 of the same
/// chain left alone, at every sample; the loudness meter's integrated value and the
/// limiter's true-peak history continue.
#[test]
fn structural_edits_keep_every_unchanged_nodes_state() {
    let input = music(RATE * 3);
    let parts = [RATE / 2; 6];
    let mut plain = Live::start(&[("g.ron", &chain("", TAIL))], false);
    let reference = play_parts(&mut plain, &input, &parts, |_, _| {});
    let plain_lufs = plain.value("get loud.integrated_lufs");
    let plain_tp = plain.value("get limit.true_peak_dbtp");
    plain.quit();

    let unity = r#"(id: "u", kind: "gain", params: {"gain_db": 0.0}),"#;
    let flat_eq =
        r#"(id: "flat", kind: "eq", config: (bands: [(type: "bell"), (type: "high_shelf")])),"#;
    let edits = [
        chain(unity, "sum -> width -> u -> limit -> loud -> out"),
        chain(
            &format!("{unity}{flat_eq}"),
            "sum -> width -> u -> flat -> limit -> loud -> out",
        ),
        chain(
            &format!("{unity}{flat_eq}"),
            "sum -> flat -> width -> u -> limit -> loud -> out",
        ),
        chain(
            &format!("{unity}{flat_eq}"),
            "sum -> u -> flat -> width -> limit -> loud -> out",
        ),
        chain("", TAIL),
    ];
    let mut live = Live::start(&[("g.ron", &chain("", TAIL))], false);
    let edited = play_parts(&mut live, &input, &parts, |live, k| {
        if let Some(text) = edits.get(k) {
            live.edit("g.ron", text);
            let m = live.wait_message(
                |m| m.text.starts_with("reloaded") || m.text.contains("failed"),
                5 * SECOND,
            );
            assert!(!m.error, "edit {k}: {}", m.text);
        }
    });
    assert_same_audio(&edited, &reference, "structural edits");
    let lufs = live.value("get loud.integrated_lufs");
    assert!(
        lufs.is_finite() && (lufs - plain_lufs).abs() < 1e-3,
        "integrated {lufs} vs {plain_lufs}"
    );
    assert!((live.value("get limit.true_peak_dbtp") - plain_tp).abs() < 1e-3);
    live.quit();
}

/// Inserting a stage that changes the sound glides it in from bypass: no click.
#[test]
fn an_inserted_stage_glides_in() {
    let mut live = Live::start(&[("g.ron", &gain_graph(0.0))], false);
    live.play_dc(0.5, RATE / 10);
    let two = "(\n    inputs: {\"main\": 2},\n    outputs: {\"main\": 2},\n    nodes: [(id: \"trim\", kind: \"gain\"), (id: \"cut\", kind: \"gain\", params: {\"gain_db\": -12.0})],\n    links: [\"in.main -> trim -> cut -> out.main\"],\n)\n";
    live.edit("g.ron", two);
    live.wait_message(|m| m.text.starts_with("reloaded"), 3 * SECOND);
    let out = live.play_dc(0.5, RATE / 10);
    assert!(max_step(&out[0]) < 1e-3, "step {}", max_step(&out[0]));
    assert!((out[0][RATE / 10 - 1] - 0.5 * db(-12.0)).abs() < 1e-6);
    live.quit();
}

/// Renders `input` through the graph `text` with the engine alone (no host, no swap), in
/// periods; returns the output and the controller (for meters).
fn offline(text: &str, input: &[Vec<f32>]) -> (Vec<Vec<f32>>, lathe_engine::Controller) {
    let doc = GraphDoc::parse(std::path::Path::new("offline.ron"), text).expect("parses");
    let options = lathe_engine::CompileOptions::new(lathe_engine::PrepareInfo::new(
        RATE as f64,
        PERIOD as usize,
    ));
    let compiled =
        lathe_engine::compile(&doc, &lathe_host::registry(), &options).expect("compiles");
    let (controller, mut engine) = lathe_engine::engine(compiled);
    let frames = input[0].len();
    let mut out = vec![vec![0.0f32; frames]; input.len()];
    for start in (0..frames).step_by(PERIOD as usize) {
        let n = (PERIOD as usize).min(frames - start);
        let ins: Vec<&[f32]> = input.iter().map(|c| &c[start..start + n]).collect();
        let mut outs: Vec<&mut [f32]> = out.iter_mut().map(|c| &mut c[start..start + n]).collect();
        engine.process(&ins, &mut outs, n);
    }
    (out, controller)
}

/// A one-node graph: the chain's limiter with `lookahead_ms`.
fn limiter_alone(lookahead_ms: f64) -> String {
    format!(
        r#"(inputs: {{"main": 2}}, outputs: {{"main": 2}},
    nodes: [(id: "limit", kind: "limiter", config: (lookahead_ms: {lookahead_ms:?}), params: {{"ceiling_dbtp": -6.0, "release_ms": 50.0}})],
    links: ["in -> limit -> out"])"#
    )
}

/// A config edit of one node under music (the limiter's lookahead, 5 -> 10 ms: a new
/// processor and a new latency) crossfades that node only. The output is, within 1e-6 at
/// every sample, the mix the docs describe, built here from separate offline renders: the
/// chain up to `width` run straight through (compressors and filters keep their state),
/// the old limiter run straight through, the new one fed from the swap on (a fresh
/// processor), heard from its latency plus `SWAP_SETTLE_MS` after the swap through a
/// `SWAP_CROSSFADE_MS` raised cosine. The loudness meter after the limiter carries its
/// history (its integrated value is that of the mix, start to end), and no run of zeros
/// appears. (Before, the fresh limiter was crossfaded in at once and put its 480 frames of
/// empty lookahead into the fade: a dip to silence and a click.)
#[test]
fn a_config_edit_crossfades_only_that_node() {
    let input = music(RATE * 2);
    let swap = RATE;
    let mut live = Live::start(&[("g.ron", &chain("", TAIL))], false);
    let edited = chain("", TAIL).replace("lookahead_ms: 5.0", "lookahead_ms: 10.0");
    let out = play_parts(&mut live, &input, &[swap, RATE], |live, k| {
        if k == 0 {
            live.edit("g.ron", &edited);
            let m = live.wait_message(|m| m.text.starts_with("reloaded"), 5 * SECOND);
            assert!(m.text.contains("latency 480 frames"), "{}", m.text);
        }
    });
    let live_lufs = live.value("get loud.integrated_lufs");
    live.quit();

    // The documented mix, from offline renders of the parts.
    let upstream = chain("", "sum -> width -> out")
        .lines()
        .filter(|l| !l.contains("id: \"limit\"") && !l.contains("id: \"loud\""))
        .collect::<Vec<_>>()
        .join("\n");
    let (up, _) = offline(&upstream, &input);
    let (old, _) = offline(&limiter_alone(5.0), &up);
    let from_swap: Vec<Vec<f32>> = up
        .iter()
        .map(|c| {
            c.iter()
                .enumerate()
                .map(|(i, &x)| if i < swap { 0.0 } else { x })
                .collect()
        })
        .collect();
    let (new, _) = offline(&limiter_alone(10.0), &from_swap);
    let settle = (lathe_engine::exec::SWAP_SETTLE_MS * RATE as f64 / 1000.0).round() as usize;
    let fade = (lathe_engine::exec::SWAP_CROSSFADE_MS * RATE as f64 / 1000.0).round() as usize;
    let warmup = 480 + settle;
    let mix: Vec<Vec<f32>> = old
        .iter()
        .zip(&new)
        .map(|(o, n)| {
            (0..o.len())
                .map(|t| match t.checked_sub(swap) {
                    None => o[t],
                    Some(pos) => {
                        lathe_engine::exec::runtime::fade_from(o[t], n[t], pos, warmup, fade)
                    }
                })
                .collect()
        })
        .collect();
    assert_same_audio(&out, &mix, "a config edit of the limiter");

    // The old chain up to the swap, unchanged: the offline render of the unedited graph.
    let (unedited, _) = offline(&chain("", TAIL), &input);
    assert_same_audio(
        &out.iter().map(|c| c[..swap].to_vec()).collect::<Vec<_>>(),
        &unedited
            .iter()
            .map(|c| c[..swap].to_vec())
            .collect::<Vec<_>>(),
        "before the edit",
    );
    let longest_zero_run = out[0][480..]
        .split(|x| *x != 0.0)
        .map(<[f32]>::len)
        .max()
        .unwrap_or(0);
    assert!(longest_zero_run <= 1, "a hole of {longest_zero_run} zeros");

    // The meter heard the mix from the start.
    let meter_alone = r#"(inputs: {"main": 2}, outputs: {"main": 2},
        nodes: [(id: "loud", kind: "loudness")], links: ["in -> loud -> out"])"#;
    let (_, meter) = offline(meter_alone, &mix);
    let want_lufs =
        lathe_engine::ControlSurface::meter(&meter, "loud.integrated_lufs").expect("a meter");
    println!("integrated loudness: live {live_lufs} LUFS, of the mix {want_lufs} LUFS");
    assert!(
        live_lufs.is_finite() && (live_lufs - want_lufs).abs() < 1e-3,
        "integrated {live_lufs} vs {want_lufs}"
    );
}

/// Period-size changes under music (256 -> 1024 -> 64 -> 2048 -> 512) keep the engine:
/// the output is the same as at a steady period, sample for sample, with no hole, and
/// the reported latency does not move.
#[test]
fn period_changes_keep_the_engine_and_leave_no_hole() {
    let input = music(RATE * 3);
    let parts = [RATE / 2; 6];
    let mut steady = Live::start(&[("g.ron", &chain("", TAIL))], false);
    let reference = play_parts(&mut steady, &input, &parts, |_, _| {});
    steady.quit();

    let mut live = Live::start(&[("g.ron", &chain("", TAIL))], false);
    let latency = live.driver().latency_frames();
    assert_eq!(latency, 240, "5 ms lookahead at 48 kHz");
    let sizes = [1024u32, 64, 2048, 512];
    let out = play_parts(&mut live, &input, &parts, |live, k| {
        if let Some(&size) = sizes.get(k) {
            live.driver().set_format(RATE as u32, size);
            live.wait_message(
                |m| m.text == format!("lathe: now running at 48000 Hz, {size} frames"),
                3 * SECOND,
            );
        }
    });
    assert_same_audio(&out, &reference, "period changes");
    let longest_zero_run = out[0][latency + 1..]
        .split(|x| *x != 0.0)
        .map(<[f32]>::len)
        .max()
        .unwrap_or(0);
    assert!(longest_zero_run <= 1, "a hole of {longest_zero_run} zeros");
    assert_eq!(live.driver().latency_frames(), latency);
    live.quit();
}

/// A sample-rate change recompiles the graph for the new rate; the audio is the graph's.
#[test]
fn rate_change_recompiles() {
    let mut live = Live::start(&[("g.ron", &gain_graph(-6.0))], false);
    live.driver().set_format(44_100, PERIOD);
    live.wait_message(
        |m| m.text == "lathe: now running at 44100 Hz, 256 frames",
        3 * SECOND,
    );
    let out = live.play_dc(0.5, RATE / 10);
    assert!((out[0][RATE / 10 - 1] - 0.5 * db(-6.0)).abs() < 1e-6);
    live.quit();
}

/// The audio side going away ends the run with `ServerGone`.
#[test]
fn shutdown_ends_the_run() {
    let mut live = Live::start(&[("g.ron", &gain_graph(0.0))], false);
    live.driver().shut_down();
    let control = live.control.take().expect("running");
    let (ending, _) = control.join().expect("ends");
    assert_eq!(ending, Ending::ServerGone);
}

/// A param at zero prints `0`, never `-0` (a gain set to -0 dB from the console).
#[test]
fn a_zero_value_prints_without_a_sign() {
    let mut live = Live::start(&[("g.ron", &gain_graph(-6.0))], false);
    let cmd = console::parse("set trim.gain_db -0")
        .expect("parses")
        .expect("a command");
    live.events
        .send(Event::Command { cmd, reply: None })
        .expect("control loop running");
    let m = live.wait_message(|m| m.text.starts_with("trim.gain_db ="), 3 * SECOND);
    assert_eq!(m.text, "trim.gain_db = 0");
    live.quit();
}
