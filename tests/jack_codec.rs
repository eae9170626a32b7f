//! Codec listening (`monitor codec opus:128`) in `lathe run` against a real JACK server
//! (the dummy driver at 48 kHz / 256 frames, on its own clock so the codec's worker thread
//! runs in real time as it would on a desk). Skipped with a notice when `jackd` or libopus
//! is missing, unless `LATHE_REQUIRE_JACK=1` / `LATHE_REQUIRE_CODECS=1`.

mod jack_support;

use std::time::Duration;

use jack_support::{JackServer, Lathe, PERIOD, RATE, Rig, TempDir, gain_graph};

const SECOND: Duration = Duration::from_secs(1);

/// Partials and a little noise under a slow envelope, looped seamlessly every 2 s.
fn music(frames: usize, seed: u32) -> Vec<f32> {
    let mut state = seed;
    (0..frames)
        .map(|i| {
            let t = i as f64 / RATE as f64;
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            let noise = (state >> 8) as f64 / f64::from(1u32 << 24) - 0.5;
            let tone = (2.0 * std::f64::consts::PI * 220.0 * t).sin() * 0.3
                + (2.0 * std::f64::consts::PI * 987.0 * t).sin() * 0.15;
            ((tone + noise * 0.1) * (0.8 + 0.2 * (std::f64::consts::PI * t).sin())) as f32
        })
        .collect()
}

/// The runs of consecutive trusted frames in `range` at least `min_frames` long.
fn trusted_runs(
    take: &jack_support::Take,
    range: std::ops::Range<usize>,
    min_frames: usize,
) -> Vec<std::ops::Range<usize>> {
    let mut runs = Vec::new();
    let mut start = None;
    for i in range.clone().chain([range.end]) {
        let ok = i < range.end && take.trusted(i);
        match (ok, start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                if i - s >= min_frames {
                    runs.push(s..i);
                }
                start = None;
            }
            _ => {}
        }
    }
    runs
}

/// Heard through `monitor codec opus:128`: the graph's output (a -6 dB gain) `L` frames
/// late as Opus decodes it (compared by error energy: the codec's samples depend on where
/// its packets start, the period at which the audio thread took it over), at the uncoded
/// output's loudness within 0.3 dB, and no step at either switch larger than the uncoded or
/// the coded signal's own plus what a 20 ms crossfade between the two can add.
#[test]
fn monitor_codec_is_heard_decoded_matched_and_click_free() {
    let spec = "opus:128";
    if let Err(e) = lathe_codecs::open(spec.parse().expect("valid"), RATE as u32, 2) {
        let require = std::env::var("LATHE_REQUIRE_CODECS").is_ok_and(|v| v == "1");
        assert!(!require, "{e}");
        eprintln!("skipping: {e}");
        return;
    }
    let Some(server) = JackServer::start() else {
        return;
    };
    let dir = TempDir::new();
    let graph = dir.write("g.ron", &gain_graph(-6.0));
    let mut lathe = Lathe::start(&server, &graph, &["--name", "lt"]);
    let loop_frames = 2 * RATE;
    let signal = vec![music(loop_frames, 1), music(loop_frames, 2)];
    let wet: Vec<Vec<f32>> = signal
        .iter()
        .map(|c| c.iter().map(|x| x * 10f32.powf(-6.0 / 20.0)).collect())
        .collect();
    let wet_at = |c: usize, i: usize| wet[c][i % loop_frames];
    let rig = Rig::start_realtime("lt", signal, true, 12 * RATE);
    std::thread::sleep(Duration::from_millis(3200)); // the loudness window fills
    lathe.send(&format!("monitor codec {spec}"));
    assert!(
        lathe.wait_stdout(|l| l.contains("codec opus:128"), SECOND),
        "{:?}",
        lathe.stdout_text()
    );
    let on_at = rig.position();
    std::thread::sleep(Duration::from_millis(2500));
    let coded_end = rig.position();
    lathe.send("monitor codec off");
    assert!(lathe.wait_stdout(|l| l == "monitor: match", SECOND));
    std::thread::sleep(Duration::from_millis(600));
    let take = rig.finish();
    let x = &take.channels;
    let latency =
        lathe_codecs::stream::stream_latency_frames(spec.parse().expect("valid"), 48_000, 2)
            .expect("latency")
            + lathe_codecs::realtime::worker_headroom_frames(48_000, PERIOD);
    // The last two seconds before `off`: coded. Measured in the runs of trusted frames
    // between xruns, each at its own lag: the codec's latency plus one period for every
    // cycle lathe missed so far while the player went on (a server without real-time
    // scheduling on a loaded machine drops cycles; the codec's delay line then falls that
    // much further behind).
    let segments = trusted_runs(&take, coded_end - 2 * RATE..coded_end - RATE / 20, RATE / 8);
    let measured: usize = segments.iter().map(|r| r.len()).sum();
    assert!(
        measured > RATE / 2,
        "too few trusted frames: {measured} in {} runs, {} xruns",
        segments.len(),
        take.xruns.len()
    );
    // Error and reference energy of channel `c` over `frames` against the wet signal
    // `lag` frames earlier, and the output's energy.
    let energies = |c: usize, frames: std::ops::Range<usize>, lag: usize| {
        let (mut err, mut reference, mut out) = (0.0, 0.0, 0.0);
        for i in frames {
            let (o, r) = (f64::from(x[c][i]), f64::from(wet_at(c, i - lag)));
            err += (o - r) * (o - r);
            reference += r * r;
            out += o * o;
        }
        (err, reference, out)
    };
    let max_missed = RATE / 4 / PERIOD;
    let mut lags = Vec::new();
    for run in &segments {
        let lag = (0..=max_missed)
            .map(|k| latency + k * PERIOD)
            .min_by(|&a, &b| {
                let ea = energies(0, run.clone(), a).0;
                ea.total_cmp(&energies(0, run.clone(), b).0)
            })
            .expect("lags");
        lags.push(lag);
    }
    println!(
        "coded output lags by {lags:?} frames in {} runs (codec latency {latency}), {} xruns",
        segments.len(),
        take.xruns.len()
    );
    for c in 0..2 {
        let (mut err, mut reference, mut out, mut err_now) = (0.0, 0.0, 0.0, 0.0);
        for (run, &lag) in segments.iter().zip(&lags) {
            let (e, r, o) = energies(c, run.clone(), lag);
            err += e;
            reference += r;
            out += o;
            err_now += energies(c, run.clone(), 0).0;
        }
        let snr_db = 10.0 * (reference / err).log10();
        let snr_now_db = 10.0 * (reference / err_now).log10();
        let gain_db = 10.0 * (out / reference).log10();
        println!(
            "channel {c}: {snr_db:.1} dB SNR to the delayed output, {snr_now_db:.1} dB to the undelayed, level {gain_db:+.2} dB"
        );
        assert!(
            snr_db > 15.0,
            "channel {c}: not the codec's decode of the output"
        );
        assert!(snr_now_db < 3.0, "channel {c}: not delayed by the codec");
        assert!(
            gain_db.abs() < 0.3,
            "channel {c}: loudness off by {gain_db:.2} dB"
        );
    }
    // Each side's own largest step: the source's, and the coded output's in steady state
    // (the codec's noise is broadband, so it steps more than the source).
    let wet_step = (1..loop_frames)
        .map(|i| (wet[0][i] - wet[0][i - 1]).abs())
        .fold(0.0f32, f32::max);
    let switch_end = on_at + latency + lathe_host::live::monitor::codec::SETTLE_FRAMES + RATE / 5;
    // (The 99.99th percentile: a cycle the server dropped can leave a seam in the coded
    // take that is no property of the codec.)
    let mut coded_steps: Vec<f32> = (switch_end..coded_end - RATE / 20)
        .filter(|&i| take.trusted(i) && take.trusted(i - 1))
        .map(|i| (x[0][i] - x[0][i - 1]).abs())
        .collect();
    coded_steps.sort_by(f32::total_cmp);
    let coded_step = coded_steps[coded_steps.len() * 9999 / 10000];
    let own_step = wet_step.max(coded_step);
    let peak = wet[0].iter().fold(0.0f32, |m, v| m.max(v.abs()));
    let allowed = own_step + 2.0 * peak / (0.02 * RATE as f32);
    let n = x[0].len();
    // Both switches: in (from before `monitor codec` was sent until the codec is faded in)
    // and out (from before `off` was sent to the end).
    let max_step = (on_at.saturating_sub(RATE / 10)..switch_end)
        .chain(coded_end - RATE / 20..n)
        .filter(|&i| take.trusted(i) && take.trusted(i - 1))
        .map(|i| (x[0][i] - x[0][i - 1]).abs())
        .fold(0.0f32, f32::max);
    println!("max step {max_step}, allowed {allowed}");
    assert!(max_step <= allowed, "a click: step {max_step} > {allowed}");
}
