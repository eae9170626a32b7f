//! The `codec` node kind with the real encoders (libopus, LAME): offline it plays exactly
//! `lathe_codecs::roundtrip` of its input, delayed by its declared latency, the same on
//! every run and whatever the block size; live its worker keeps the audio thread free of
//! allocation and, given time, plays the same samples; at 44.1 kHz Opus runs through a
//! resampler and plays at its declared latency all the same. Skips with a notice where a codec
//! library is missing, unless LATHE_REQUIRE_CODECS=1.

use std::time::Duration;

use assert_no_alloc::{assert_no_alloc, reset_violation_count, violation_count};
use lathe_codecs::node::CodecKind;
use lathe_codecs::{CodecSpec, roundtrip};
use lathe_engine::harness::{self, Case, check_no_alloc, meters_for, render};
use lathe_engine::{BuildContext, BuiltNode, Io, NodeConfig, NodeKind, PrepareInfo};

#[global_allocator]
static ALLOC: assert_no_alloc::AllocDisabler = assert_no_alloc::AllocDisabler;

const RATE_HZ: u32 = 48_000;
const MAX_BLOCK: usize = 256;

fn require() -> bool {
    std::env::var("LATHE_REQUIRE_CODECS").is_ok_and(|v| v == "1")
}

/// Is the codec of `spec` installed? Prints the skip notice when not.
fn available(spec: &str) -> bool {
    let spec: CodecSpec = spec.parse().expect("a valid spec");
    match lathe_codecs::open(spec, RATE_HZ, 2) {
        Ok(_) => true,
        Err(e) if !require() => {
            eprintln!("skipping {spec}: {e}");
            false
        }
        Err(e) => panic!("{spec}: {e}"),
    }
}

/// Partials, a slow envelope and noise: music-like, different in each channel.
fn signal(frames: usize, seed: u32) -> Vec<f32> {
    let mut state = seed;
    (0..frames)
        .map(|i| {
            let t = i as f64 / f64::from(RATE_HZ);
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            let noise = (state >> 8) as f64 / f64::from(1u32 << 24) - 0.5;
            let env = 0.5 + 0.5 * (2.0 * std::f64::consts::PI * 3.0 * t).sin();
            let tone = (2.0 * std::f64::consts::PI * 440.0 * t).sin() * 0.3
                + (2.0 * std::f64::consts::PI * 1234.5 * t).sin() * 0.15;
            ((tone + noise * 0.3 * env) * 0.8) as f32
        })
        .collect()
}

fn build(spec: &str, prepare: PrepareInfo) -> BuiltNode {
    let config = format!("(codec: \"{spec}\")");
    let ctx = BuildContext {
        prepare,
        node_id: "codec",
        base_dir: std::path::Path::new("."),
    };
    CodecKind
        .build(&NodeConfig::from_ron(&config), &ctx)
        .unwrap_or_else(|e| panic!("{spec}: {e}"))
}

fn offline() -> PrepareInfo {
    PrepareInfo::new(f64::from(RATE_HZ), MAX_BLOCK).for_offline()
}

/// Offline, output frame `t` is the roundtrip's frame `t - latency`, sample for sample:
/// the node feeds the same encoder the same frames (only in other chunk sizes, which
/// neither libopus nor LAME depends on), so the packets and their decoding are the same.
fn node_plays_roundtrip_at_its_latency(spec: &str) {
    if !available(spec) {
        return;
    }
    let frames = RATE_HZ as usize * 2;
    let input = vec![signal(frames, 1), signal(frames, 2)];
    let mut node = build(spec, offline());
    let latency = node.spec.latency_frames;
    let meters = meters_for(&node.spec);
    let output = render(&mut node, &input, 100, &[], &meters);
    let parsed: CodecSpec = spec.parse().expect("valid");
    let reference = roundtrip(parsed, &[&input[0], &input[1]], RATE_HZ).expect("roundtrip");
    #[allow(clippy::needless_range_loop)] // c indexes three parallel buffers
    for c in 0..2 {
        // Silence until the decoded stream starts; its first `delay` frames are the
        // decoder's rendering of the time before the input.
        assert!(
            output[c][..latency - reference.delay_frames]
                .iter()
                .all(|&x| x == 0.0),
            "{spec}: silence before the decoded stream"
        );
        // The roundtrip flushes the encoder at the end; the node never does, so the last
        // codec frame or so differs. Compare all but the final 4096 source frames.
        let compared = frames - latency - 4096;
        let diff = (0..compared)
            .map(|i| (output[c][i + latency] - reference.channels[c][i]).abs())
            .fold(0.0f32, f32::max);
        assert!(
            diff == 0.0,
            "{spec}: channel {c} differs from the roundtrip by up to {diff} (latency {latency})"
        );
    }
    assert_eq!(meters[0].load(), 0.0, "{spec}: no late frames offline");
}

#[test]
fn opus_node_plays_roundtrip_at_its_latency() {
    node_plays_roundtrip_at_its_latency("opus:128");
}

#[test]
fn mp3_node_plays_roundtrip_at_its_latency() {
    node_plays_roundtrip_at_its_latency("mp3:320");
}

/// The declared latency: the codec's delay and buffering, measured by the probe, plus the
/// worker's headroom (one block and 10 ms). These figures are quoted in the node's doc.
#[test]
fn declared_latency_is_the_codecs_plus_the_workers_headroom() {
    if !available("opus:128") {
        return;
    }
    let headroom = MAX_BLOCK + 480;
    let node = build("opus:128", offline());
    // 312 frames of Opus lookahead, up to 959 frames held by the encoder until a 20 ms
    // packet is complete, and one packet (960 frames) of margin.
    assert_eq!(node.spec.latency_frames, 312 + 959 + 960 + headroom);
    if available("mp3:320") {
        let node = build("mp3:320", offline());
        eprintln!("mp3:320 latency {} frames", node.spec.latency_frames);
        assert!(node.spec.latency_frames > 1105 + 1152 + headroom);
    }
}

/// Two offline renders, in different block sizes, are identical.
#[test]
fn offline_renders_are_identical_run_to_run() {
    for spec in ["opus:96", "mp3:192"] {
        if !available(spec) {
            continue;
        }
        let frames = RATE_HZ as usize;
        let input = vec![signal(frames, 3), signal(frames, 4)];
        let mut a = build(spec, offline());
        let mut b = build(spec, offline());
        let meters = meters_for(&a.spec);
        let first = render(&mut a, &input, 256, &[], &meters);
        let second = render(&mut b, &input, 37, &[], &meters);
        assert!(first == second, "{spec}: renders differ");
        // After a reset the same node renders the same again.
        a.processor.reset();
        let third = render(&mut a, &input, 256, &[], &meters);
        assert!(first == third, "{spec}: render after reset differs");
    }
}

/// Live (worker) mode: `process` and `reset` never allocate, whatever the worker does.
#[test]
fn live_node_does_not_allocate_on_the_audio_thread() {
    for spec in ["opus:128", "mp3:320"] {
        if available(spec) {
            let config = format!("(codec: \"{spec}\")");
            check_no_alloc(&Case::new(&CodecKind).config(&config));
        }
    }
}

/// Live (worker) mode, fed at twice real time's period: the audio thread never allocates,
/// nothing is late, and the output is the offline output sample for sample.
#[test]
fn live_node_plays_what_the_offline_node_plays() {
    let spec = "opus:128";
    if !available(spec) {
        return;
    }
    let frames = RATE_HZ as usize;
    let input = vec![signal(frames, 5), signal(frames, 6)];
    let mut offline_node = build(spec, offline());
    let meters = meters_for(&offline_node.spec);
    let expected = render(&mut offline_node, &input, MAX_BLOCK, &[], &meters);
    let mut live = build(spec, PrepareInfo::new(f64::from(RATE_HZ), MAX_BLOCK));
    assert_eq!(live.spec.latency_frames, offline_node.spec.latency_frames);
    let live_meters = meters_for(&live.spec);
    let mut output = vec![vec![0.0f32; frames]; 2];
    let period = Duration::from_secs_f64(MAX_BLOCK as f64 / f64::from(RATE_HZ));
    let connected = [true];
    reset_violation_count();
    let mut start = 0;
    while start < frames {
        let n = MAX_BLOCK.min(frames - start);
        let ins: [&[f32]; 2] = [&input[0][start..start + n], &input[1][start..start + n]];
        let (left, right) = output.split_at_mut(1);
        let mut outs: [&mut [f32]; 2] = [
            &mut left[0][start..start + n],
            &mut right[0][start..start + n],
        ];
        assert_no_alloc(|| {
            let mut io = Io::new(n, &ins, &mut outs, start as u64, &connected, &live_meters);
            live.processor.process(&mut io);
        });
        start += n;
        std::thread::sleep(period * 2);
    }
    assert_eq!(violation_count(), 0, "allocations on the audio thread");
    assert_eq!(live_meters[0].load(), 0.0, "late frames");
    assert!(output == expected, "live output differs from offline");
    let _ = harness::HARNESS_MAX_BLOCK;
}

/// A codec the node cannot run is the user's error, naming the allowed values.
#[test]
fn bad_configs_name_the_allowed_values() {
    let ctx = BuildContext {
        prepare: offline(),
        node_id: "codec",
        base_dir: std::path::Path::new("."),
    };
    let err = |config: &str| match CodecKind.build(&NodeConfig::from_ron(config), &ctx) {
        Ok(_) => panic!("{config} builds"),
        Err(e) => e.to_string(),
    };
    assert!(err("()").contains("name the codec"));
    let e = err("(codec: \"mp3:300\")");
    assert!(e.contains("256, 320"), "{e}");
    let e = err("(codec: \"opus:128\", channels: 3)");
    assert!(e.contains("1 or 2"), "{e}");
}

/// How the offline `spec` node at `rate_hz` plays [`signal`], per channel: its latency,
/// the lag of least squared error near it, the SNR at the latency and undelayed, and the
/// output's level against the input's, in dB.
fn played(spec: &str, rate_hz: usize) -> Vec<(usize, usize, f64, f64, f64)> {
    let frames = rate_hz * 2;
    let input = vec![signal(frames, 1), signal(frames, 2)];
    let mut node = build(
        spec,
        PrepareInfo::new(rate_hz as f64, MAX_BLOCK).for_offline(),
    );
    let latency = node.spec.latency_frames;
    let meters = meters_for(&node.spec);
    let output = render(&mut node, &input, 100, &[], &meters);
    let compared = latency + 16..frames - 4096;
    let error_at = |c: usize, lag: usize| -> f64 {
        (compared.clone())
            .map(|i| f64::from(output[c][i] - input[c][i - lag]).powi(2))
            .sum()
    };
    (0..2)
        .map(|c| {
            let energy: f64 = (compared.clone())
                .map(|i| f64::from(input[c][i - latency]).powi(2))
                .sum();
            let best = (latency - 8..=latency + 8)
                .min_by(|&a, &b| error_at(c, a).total_cmp(&error_at(c, b)))
                .expect("lags");
            let snr_db = 10.0 * (energy / error_at(c, latency)).log10();
            let snr_now_db = 10.0 * (energy / error_at(c, 0)).log10();
            let out: f64 = (compared.clone())
                .map(|i| f64::from(output[c][i]).powi(2))
                .sum();
            let level_db = 10.0 * (out / energy).log10();
            println!(
                "{spec} at {rate_hz} Hz, channel {c}: latency {latency}, best lag {best}, \
                 {snr_db:.1} dB SNR ({snr_now_db:.1} undelayed), level {level_db:+.2} dB"
            );
            (latency, best, snr_db, snr_now_db, level_db)
        })
        .collect()
}

/// At 44.1 kHz, where Opus does not code, the node resamples to 48 kHz and back: its
/// output is the input as Opus renders it, `latency` frames late (the least squared error
/// is at exactly that lag; undelayed, no likeness), within 2 dB of the SNR the same codec
/// reaches at 48 kHz on the same signal, at the input's level within 0.2 dB.
#[test]
fn opus_node_at_44100_hz_resamples_around_the_codec() {
    if !available("opus:128") {
        return;
    }
    let native = played("opus:128", 48_000);
    for (c, (latency, best, snr_db, snr_now_db, level_db)) in
        played("opus:128", 44_100).into_iter().enumerate()
    {
        assert_eq!(best, latency, "channel {c}");
        assert!(
            snr_db > native[c].2 - 2.0,
            "channel {c}: {snr_db} dB, at 48 kHz {}",
            native[c].2
        );
        assert!(snr_now_db < 3.0, "channel {c}: {snr_now_db} dB undelayed");
        assert!(level_db.abs() < 0.2, "channel {c}: {level_db} dB");
    }
}
