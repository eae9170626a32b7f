//! Codec listening in the monitor (`monitor codec opus:128`) over the in-process backend:
//! the listener hears the graph's output as Opus decodes it, later by the codec's latency,
//! at the uncoded output's loudness, and the switches in and out never step the output
//! more than the signal itself does; the same at 44.1 kHz, where the codec runs behind a
//! resampler. Skips with a notice where libopus is missing, unless
//! LATHE_REQUIRE_CODECS=1.

use std::time::Duration;

use lathe_host::live::console::{self, Command};
use lathe_host::live::testing::TestRun;
use lathe_host::live::{Answer, Ending};

const PERIOD: u32 = 256;

const GRAPH: &str = "(\n    inputs: {\"main\": 2},\n    outputs: {\"main\": 2},\n    \
    nodes: [(id: \"trim\", kind: \"gain\", params: {\"gain_db\": -6.0})],\n    \
    links: [\"in.main -> trim -> out.main\"],\n)\n";

fn require() -> bool {
    std::env::var("LATHE_REQUIRE_CODECS").is_ok_and(|v| v == "1")
}

/// Partials and noise under a slow envelope: music-like, different per channel.
fn music(frames: usize, seed: u32) -> Vec<f32> {
    let mut state = seed;
    (0..frames)
        .map(|i| {
            let t = i as f64 / 48_000.0;
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            let noise = (state >> 8) as f64 / f64::from(1u32 << 24) - 0.5;
            let tone = (2.0 * std::f64::consts::PI * 220.0 * t).sin() * 0.3
                + (2.0 * std::f64::consts::PI * 987.0 * t).sin() * 0.15;
            ((tone + noise * 0.1) * (0.8 + 0.2 * (6.0 * t).sin())) as f32
        })
        .collect()
}

fn max_step(x: &[f32]) -> f32 {
    x.windows(2)
        .map(|w| (w[1] - w[0]).abs())
        .fold(0.0f32, f32::max)
}

fn energy(x: &[f32]) -> f64 {
    x.iter().map(|&v| f64::from(v) * f64::from(v)).sum()
}

/// A live run whose control loop runs on its own thread; the test plays the audio.
struct Live {
    _dir: tempfile::TempDir,
    run: TestRun<()>,
}

impl Live {
    fn start(rate_hz: u32) -> Live {
        let dir = tempfile::tempdir().expect("temp dir");
        let graph = dir.path().join("g.ron");
        std::fs::write(&graph, GRAPH).expect("graph written");
        let run = TestRun::start("codec", &graph, rate_hz, PERIOD, |_| ());
        Live { _dir: dir, run }
    }

    fn quit(mut self) {
        assert_eq!(self.run.quit().0, Ending::Quit);
    }
}

impl std::ops::Deref for Live {
    type Target = TestRun<()>;
    fn deref(&self) -> &TestRun<()> {
        &self.run
    }
}

impl std::ops::DerefMut for Live {
    fn deref_mut(&mut self) -> &mut TestRun<()> {
        &mut self.run
    }
}

/// `monitor codec opus:128`: once the codec has settled the output is the graph's output
/// `L` frames late as Opus decodes it (within the codec's own error: its samples depend on
/// where its packets start, which is the period boundary where the audio thread took it
/// over, so they are compared by error energy, not sample by sample), loudness matched
/// within 0.3 dB; `monitor codec off` returns to the graph's output exactly; neither switch
/// steps the output more than the uncoded or the coded signal itself does (plus what a
/// 20 ms crossfade between the two can add).
#[test]
fn monitor_codec_plays_the_decoded_output_matched_and_click_free() {
    plays_decoded_matched_and_click_free(48_000);
}

/// The same in a 44.1 kHz session, where Opus does not code: the monitor resamples to
/// 48 kHz and back around the codec.
#[test]
fn monitor_codec_at_44100_hz_resamples_around_the_codec() {
    plays_decoded_matched_and_click_free(44_100);
}

fn plays_decoded_matched_and_click_free(rate: usize) {
    let spec = "opus:128";
    if let Err(e) = lathe_codecs::open(spec.parse().expect("valid"), 48_000, 2) {
        assert!(!require(), "{e}");
        eprintln!("skipping: {e}");
        return;
    }
    let mut live = Live::start(rate as u32);
    let frames = rate * 3;
    let input = [music(frames, 1), music(frames, 2)];
    let wet: Vec<Vec<f32>> = input
        .iter()
        .map(|c| c.iter().map(|x| x * 10f32.powf(-6.0 / 20.0)).collect())
        .collect();
    // The run's position in the input, so the graph's output can be lined up.
    let mut at = 0;
    let play = |live: &mut Live, at: &mut usize, n: usize| {
        let part: Vec<Vec<f32>> = input.iter().map(|c| c[*at..*at + n].to_vec()).collect();
        *at += n;
        live.driver.run(&part, n)
    };
    let before = play(&mut live, &mut at, rate / 2);
    assert!(
        before[0]
            .iter()
            .zip(&wet[0])
            .all(|(a, b)| (a - b).abs() < 1e-6)
    );
    match live.cmd(&format!("monitor codec {spec}")) {
        Ok(Answer::Text(t)) => assert!(t.contains("codec opus:128"), "{t}"),
        other => panic!("{other:?}"),
    }
    let start = at;
    // The worker needs real time to encode: play the switch period by period.
    let mut heard = [Vec::new(), Vec::new()];
    while at < start + rate * 2 {
        let out = play(&mut live, &mut at, PERIOD as usize);
        for (h, o) in heard.iter_mut().zip(out) {
            h.extend(o);
        }
        std::thread::sleep(Duration::from_secs_f64(f64::from(PERIOD) / rate as f64));
    }
    let latency =
        lathe_codecs::stream::stream_latency_frames(spec.parse().expect("valid"), rate as u32, 2)
            .expect("latency")
            + lathe_codecs::realtime::worker_headroom_frames(rate as u32, PERIOD as usize);
    // The last half second: the decoded output, `latency` frames late.
    let tail = rate / 2;
    let from = heard[0].len() - tail;
    for c in 0..2 {
        let out = &heard[c][from..];
        let late = &wet[c][start + from - latency..][..tail];
        let now = &wet[c][start + from..][..tail];
        let err_late: Vec<f32> = out.iter().zip(late).map(|(a, b)| a - b).collect();
        let err_now: Vec<f32> = out.iter().zip(now).map(|(a, b)| a - b).collect();
        let snr_db = 10.0 * (energy(late) / energy(&err_late)).log10();
        let snr_now_db = 10.0 * (energy(now) / energy(&err_now)).log10();
        assert!(
            snr_db > 15.0,
            "channel {c}: {snr_db:.1} dB from the delayed output"
        );
        assert!(
            snr_now_db < 3.0,
            "channel {c}: not delayed ({snr_now_db:.1} dB)"
        );
        let gain_db = 10.0 * (energy(out) / energy(late)).log10();
        assert!(
            gain_db.abs() < 0.3,
            "channel {c}: loudness off by {gain_db:.2} dB"
        );
    }
    // The switch: until the codec has played its latency and settled, and faded in (with
    // periods to spare). After it, the coded output alone, which steps more than the
    // source (the codec's noise is broadband): each side's own largest step is allowed.
    let switch =
        latency + lathe_host::live::monitor::codec::SETTLE_FRAMES + rate / 25 + 4 * PERIOD as usize;
    let own_step = max_step(&wet[0]).max(max_step(&heard[0][switch..]));
    let peak = wet[0].iter().fold(0.0f32, |m, x| m.max(x.abs()));
    // A crossfade adds at most the difference of its two sides per frame of its ramp.
    let allowed = own_step + 2.0 * peak / (0.02 * rate as f32);
    let switch_step = max_step(&heard[0][..switch]);
    assert!(
        switch_step <= allowed,
        "switch in: step {switch_step} > {allowed}"
    );
    match live.cmd("monitor codec off") {
        Ok(Answer::Text(t)) => assert!(!t.contains("codec"), "{t}"),
        other => panic!("{other:?}"),
    }
    let back = play(&mut live, &mut at, rate / 4);
    assert!(
        max_step(&back[0]) <= allowed,
        "switch out: step {}",
        max_step(&back[0])
    );
    let settled = rate / 8;
    let base = at - rate / 4;
    for i in settled..rate / 4 {
        assert!(
            (back[0][i] - wet[0][base + i]).abs() < 1e-6,
            "uncoded again at {i}"
        );
    }
    live.quit();
}

/// Bad specs are refused with the allowed values, on the console and in the parser.
#[test]
fn monitor_codec_rejects_bad_specs() {
    let e = console::parse("monitor codec mp3:300").expect_err("refused");
    assert!(e.contains("256, 320"), "{e}");
    let e = console::parse("monitor codec flac:900").expect_err("refused");
    assert!(e.contains("opus, mp3 and aac"), "{e}");
    assert!(matches!(
        console::parse("monitor codec off"),
        Ok(Some(Command::MonitorCodec { spec: None }))
    ));
}
