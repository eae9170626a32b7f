//! The reference in the monitor section (`monitor ref`, `lathe run --reference`): played
//! in place of the graph's output, resampled to the run's rate, at the processed output's
//! loudness (the louder side turned down), faded without a click; bad files refused with
//! their name. Over the in-process backend, on the audio side alone under
//! `assert_no_alloc`, and once against a real jackd (skipped with a notice without it,
//! unless `LATHE_REQUIRE_JACK=1`).

mod jack_support;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use lathe::audio_io::{Audio, SampleFormat, write_wav};
use lathe::commands::run_reference::FileReferenceDecoder;
use lathe_host::live::ref_deck::{RefCommand, RefDeck};
use lathe_host::live::testing::TestRun;
use lathe_host::live::{Ending, Message};
use lathe_nodes::dsp::bs1770::{Layout, LoudnessMeter};

// The audio side's real-time check: any allocation inside `assert_no_alloc` counts.
#[global_allocator]
static ALLOC: assert_no_alloc::AllocDisabler = assert_no_alloc::AllocDisabler;

const RATE: usize = 48_000;
const PERIOD: u32 = 256;
const SECOND: Duration = Duration::from_secs(1);
/// The reference files' rate: every test resamples.
const FILE_RATE: u32 = 44_100;
/// The reference tone: 441 Hz, 100 samples a period at 44.1 kHz (seamless loop).
const REF_HZ: f64 = 441.0;

fn gain_graph() -> String {
    "(\n    inputs: {\"main\": 2},\n    outputs: {\"main\": 2},\n    nodes: [(id: \"trim\", kind: \"gain\", params: {\"gain_db\": 0.0})],\n    links: [\"in.main -> trim -> out.main\"],\n)\n".to_string()
}

fn sine(freq_hz: f64, amp: f32, rate: usize, frames: usize) -> Vec<f32> {
    (0..frames)
        .map(|i| amp * (2.0 * std::f64::consts::PI * freq_hz * i as f64 / rate as f64).sin() as f32)
        .collect()
}

/// The mix: a 1 kHz sine at 0.1 on both channels (seamless over any whole second).
fn mix(frames: usize) -> Vec<Vec<f32>> {
    let x = sine(1000.0, 0.1, RATE, frames);
    vec![x.clone(), x]
}

/// A stereo 44.1 kHz reference: the 441 Hz tone at `amp`, 4 s.
fn write_reference(dir: &Path, name: &str, amp: f32) -> PathBuf {
    let x = sine(REF_HZ, amp, FILE_RATE as usize, 4 * FILE_RATE as usize);
    let path = dir.join(name);
    let audio = Audio {
        sample_rate_hz: FILE_RATE,
        channels: vec![x.clone(), x],
    };
    write_wav(&path, &audio, SampleFormat::Float32).expect("write reference");
    path
}

/// BS.1770 loudness of stereo audio at 48 kHz, every channel weighted 1 (integrated).
fn lufs(channels: &[Vec<f32>]) -> f64 {
    let mut m = LoudnessMeter::new(RATE as f64, Layout::Stereo);
    let planes: Vec<&[f32]> = channels.iter().map(Vec::as_slice).collect();
    m.process(&planes, |_| {});
    m.integrated_lufs().expect("not silent")
}

fn tail(x: &[Vec<f32>], frames: usize) -> Vec<Vec<f32>> {
    x.iter().map(|c| c[c.len() - frames..].to_vec()).collect()
}

/// Upward zero crossings per second: the tone's frequency.
fn frequency_hz(x: &[f32]) -> f64 {
    let ups = x.windows(2).filter(|w| w[0] < 0.0 && w[1] >= 0.0).count();
    ups as f64 * RATE as f64 / x.len() as f64
}

fn max_step(x: &[f32]) -> f32 {
    x.windows(2)
        .map(|w| (w[1] - w[0]).abs())
        .fold(0.0f32, f32::max)
}

fn peak(x: &[f32]) -> f32 {
    x.iter().fold(0.0f32, |m, v| m.max(v.abs()))
}

/// A live run over the in-process backend with lathe's reference decoder; the test
/// plays the audio.
struct Live(TestRun<()>);

impl Live {
    fn start(graph: &Path) -> Live {
        let mut run = TestRun::start("ref", graph, RATE as u32, PERIOD, |session| {
            session.set_reference_decoder(Arc::new(FileReferenceDecoder));
        });
        assert!(run.driver.is_started());
        Live(run)
    }

    /// Waits for a message containing `part`.
    fn wait_message(&self, part: &str) -> Message {
        let end = Instant::now() + 20 * SECOND;
        loop {
            let left = end.saturating_duration_since(Instant::now());
            match self.messages.recv_timeout(left) {
                Ok(m) if m.text.contains(part) => return m,
                Ok(_) => {}
                Err(_) => panic!("no message with `{part}`"),
            }
        }
    }

    fn play(&mut self, seconds: f64) -> Vec<Vec<f32>> {
        let frames = (seconds * RATE as f64) as usize;
        self.driver.run(&mix(frames), frames)
    }

    fn quit(mut self) {
        assert_eq!(self.0.quit().0, Ending::Quit);
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

/// `monitor ref FILE` (a 44.1 kHz file, louder than the mix) plays the reference at
/// 48 kHz in place of the output, turned down to the processed output's loudness (within
/// 0.5 LU), with no click at either switch; `ref off` gives back the mix untouched. A
/// second, quieter reference is heard at its own level and the mix is turned down to it
/// when `ref` goes off; `next` returns to the first one where it left off. A missing
/// file and a corrupt one are refused with their names, and the audio goes on.
#[test]
fn ref_plays_the_reference_at_the_matched_loudness_without_clicks() {
    let dir = tempfile::tempdir().expect("temp dir");
    let graph = dir.path().join("g.ron");
    std::fs::write(&graph, gain_graph()).expect("graph");
    let loud = write_reference(dir.path(), "loud.wav", 0.5);
    let quiet = write_reference(dir.path(), "quiet.wav", 0.02);
    let corrupt = dir.path().join("corrupt.wav");
    std::fs::write(&corrupt, b"RIFF\x10\x00\x00\x00WAVEjunkjunkjunk").expect("corrupt file");
    let mut live = Live::start(&graph);

    // Bad input: named, and the audio is unaffected.
    let missing = live.cmd("monitor ref /nonexistent/ref.flac").unwrap_err();
    assert!(missing.contains("/nonexistent/ref.flac"), "{missing}");
    let err = live.cmd("monitor ref").unwrap_err();
    assert!(err.contains("no reference loaded"), "{err}");
    live.text(&format!("monitor ref {}", corrupt.display()));
    let m = live.wait_message("corrupt.wav");
    assert!(m.error, "{m:?}");

    let warm = live.play(3.2); // the processed output's short-term window fills
    let processed_lufs = lufs(&tail(&warm, 3 * RATE));
    assert!((peak(&warm[0][RATE..]) - 0.1).abs() < 1e-6);

    live.text(&format!("monitor ref {}", loud.display()));
    live.wait_message("loud.wav: 0:04.0");
    let heard = live.play(3.5);
    let ref_tail = tail(&heard, 3 * RATE);
    let heard_lufs = lufs(&ref_tail);
    let freq = frequency_hz(&ref_tail[0]);
    let step = max_step(&heard[0]);
    println!(
        "processed {processed_lufs:.2} LUFS, reference heard at {heard_lufs:.2} LUFS, \
         {freq:.1} Hz, max step {step:.4}"
    );
    assert!((heard_lufs - processed_lufs).abs() < 0.5, "{heard_lufs}");
    assert!((freq - REF_HZ).abs() < 2.0, "not resampled: {freq} Hz");
    // The 1 kHz mix at 0.1 moves at most 0.0131 a sample and the matched reference
    // (441 Hz, about 0.11) 0.0063: a crossfade stays under their sum; a cut would not.
    assert!(step < 0.02, "click: {step}");
    let list = live.text("monitor ref list");
    assert!(
        list.contains("* 1. ") && list.contains("loud.wav"),
        "{list}"
    );

    assert!(live.text("monitor ref off").starts_with("monitor: ref off"));
    let back = live.play(0.5);
    assert!(max_step(&back[0]) < 0.02, "click on the way back");
    assert!(
        (peak(&back[0][RATE / 10..]) - 0.1).abs() < 1e-4,
        "the mix is untouched"
    );

    live.text(&format!("monitor ref {}", quiet.display()));
    live.wait_message("quiet.wav: 0:04.0");
    let heard = live.play(2.0);
    let quiet_lufs = lufs(&tail(&heard, RATE));
    live.text("monitor ref off");
    let back = live.play(1.0);
    let mix_lufs = lufs(&tail(&back, RATE / 2));
    println!("quiet reference {quiet_lufs:.2} LUFS, mix turned down to {mix_lufs:.2} LUFS");
    assert!(quiet_lufs < processed_lufs - 10.0, "{quiet_lufs}");
    assert!(
        (mix_lufs - quiet_lufs).abs() < 0.5,
        "{mix_lufs} vs {quiet_lufs}"
    );

    // Back to the first: it resumes where it left off (3.5 s into a 4 s loop, at least).
    let next = live.text("monitor ref next");
    assert!(next.contains("loud.wav, 1/2"), "{next}");
    let list = live.text("monitor ref list");
    assert!(list.contains("(at 0:03."), "{list}");
    live.quit();
}

/// The audio side with references loaded, switched on and off and swapped for another,
/// allocates nothing; the replaced reference goes back to the control side.
#[test]
fn audio_side_with_a_reference_is_real_time_safe() {
    use lathe_host::live::audio::{AudioStatus, Stage, audio_side};
    use lathe_host::live::monitor::MonitorControls;

    let dir = tempfile::tempdir().expect("temp dir");
    let graph = dir.path().join("g.ron");
    std::fs::write(&graph, gain_graph()).expect("graph");
    let refs = [
        write_reference(dir.path(), "a.wav", 0.5),
        write_reference(dir.path(), "b.wav", 0.05),
    ];
    let registry = lathe_host::registry();
    let options = lathe_engine::CompileOptions::new(lathe_engine::PrepareInfo::new(48_000.0, 256));
    let compiled = lathe_engine::compile_file(&graph, &registry, &options).expect("compiles");
    let (controller, engine) = lathe_engine::engine(compiled);
    let controls = MonitorControls::new();
    let stage = Stage::with_monitor(engine, controller.info(), &controls);
    let status = AudioStatus::new(48_000, 256);
    let (mut audio, _sender) = audio_side(Box::new(stage), controller.info(), status);
    let mut deck = RefDeck::new(controls.clone());
    deck.set_decoder(Arc::new(FileReferenceDecoder));
    for r in &refs {
        deck.load_now(r).expect("loads");
    }
    deck.execute(RefCommand::Switch(Some(true)))
        .expect("ref on");
    let signal = mix(RATE);
    let mut outs = vec![vec![0.0f32; 256]; 2];
    let mut heard = Vec::new();
    assert_no_alloc::reset_violation_count();
    for period in 0..600 {
        match period {
            150 | 450 => {
                deck.execute(RefCommand::Next).expect("next");
            }
            300 => {
                deck.execute(RefCommand::Switch(Some(false))).expect("off");
            }
            350 => {
                deck.execute(RefCommand::Switch(Some(true))).expect("on");
            }
            _ => {}
        }
        deck.poll();
        let at = (period * 256) % (RATE - 256);
        let ins: Vec<&[f32]> = signal.iter().map(|c| &c[at..at + 256]).collect();
        let mut out_refs: Vec<&mut [f32]> = outs.iter_mut().map(|c| c.as_mut_slice()).collect();
        assert_no_alloc::assert_no_alloc(|| audio.process(&ins, &mut out_refs, 256));
        heard.push(peak(&outs[0]));
    }
    assert_eq!(
        assert_no_alloc::violation_count(),
        0,
        "the audio side allocated"
    );
    assert!(heard[140] > 0.0 && heard[590] > 0.0, "the reference played");
}

/// `lathe run --reference FILE` on a real jackd: `monitor ref` over stdin switches the
/// output to the reference (resampled from 44.1 kHz) at the processed output's loudness
/// within 0.5 LU; a missing `--reference` ends the start with exit 2, naming the file.
#[test]
fn jack_monitor_ref_over_stdin() {
    let Some(server) = jack_support::JackServer::start() else {
        return;
    };
    let dir = jack_support::TempDir::new();
    let graph = dir.write("g.ron", &gain_graph());
    let reference = write_reference(&dir.0, "ref.wav", 0.5);

    let missing = dir.0.join("missing.flac");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_lathe"))
        .arg("run")
        .arg(&graph)
        .args(["--name", "bad", "--reference"])
        .arg(&missing)
        .env("JACK_DEFAULT_SERVER", &server.name)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("lathe runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("missing.flac"), "{stderr}");

    let reference_arg = reference.display().to_string();
    let mut lathe = jack_support::Lathe::start(
        &server,
        &graph,
        &["--name", "lt", "--reference", &reference_arg],
    );
    assert!(
        lathe.stdout_text().contains("ref.wav: 0:04.0"),
        "{}",
        lathe.stdout_text()
    );
    let rig = jack_support::Rig::start("lt", mix(RATE), true, 9 * RATE);
    // The loudness window fills with the mix (none of the silence before the player).
    std::thread::sleep(Duration::from_millis(4000));
    let switched = rig.position();
    lathe.send("monitor ref on");
    assert!(
        lathe.wait_stdout(|l| l.starts_with("monitor: ref on"), SECOND),
        "{}",
        lathe.stderr_text()
    );
    std::thread::sleep(Duration::from_millis(3600));
    let take = rig.finish();
    let n = take.channels[0].len();
    println!("switched at frame {switched}, recorded {n}");
    assert!(
        switched >= 2 * RATE && n > switched + 2 * RATE,
        "recorded {n} frames"
    );
    let trusted = |range: std::ops::Range<usize>| -> Vec<Vec<f32>> {
        take.channels
            .iter()
            .map(|c| {
                range
                    .clone()
                    .filter(|&i| take.trusted(i))
                    .map(|i| c[i])
                    .collect()
            })
            .collect()
    };
    // Clear of the switch, its fade and the gain's glide.
    let before = lufs(&trusted(switched - 2 * RATE..switched));
    let after = trusted((switched + RATE / 2).max(n - 3 * RATE)..n);
    let heard = lufs(&after);
    let freq = frequency_hz(&after[0]);
    println!("processed {before:.2} LUFS, reference heard at {heard:.2} LUFS, {freq:.1} Hz");
    assert!((heard - before).abs() < 0.5, "{heard} vs {before}");
    assert!((freq - REF_HZ).abs() < 3.0, "{freq} Hz");
    lathe.send("quit");
    assert!(lathe.wait_exit(5 * SECOND).is_some());
}
