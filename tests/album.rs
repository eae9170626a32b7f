//! `lathe album` end to end on short synthetic tracks through a gain -> limiter graph:
//! album and track loudness, presets, tags, parallel = serial, shards, bad inputs.

mod common;

use std::path::{Path, PathBuf};

use common::{assert_fails, stderr, stdout, write_wav_f32, xorshift32};
use lathe::album::metadata::{parse_bext_loudness, parse_info};
use lathe::album::wav::read_chunks;
use lathe::audio_io::read_audio;
use lathe_nodes::dsp::analysis::{AlbumAnalysis, Analyzer, FileAnalysis};
use lathe_nodes::dsp::bs1770::Layout;

const RATE: u32 = 48_000;
/// Track length: long enough for gating and a loudness range (3 s windows).
const SECONDS: f64 = 4.0;

const GRAPH: &str = r#"(
    nodes: [
        (id: "trim", kind: "gain"),
        (id: "limit", kind: "limiter", params: {"ceiling_dbtp": -1.0}),
    ],
    links: ["in -> trim -> limit -> out"],
)"#;

/// Runs lathe in `dir` with a fixed origination time, so files are reproducible.
fn lathe(dir: &Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_lathe"))
        .args(args)
        .current_dir(dir)
        .env_remove("RUST_LOG")
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .output()
        .expect("the lathe binary runs")
}

/// Deterministic noise with a slow swell, `level` its RMS amplitude.
fn track(seed: u32, level: f32, channels: usize, rate: u32) -> Vec<Vec<f32>> {
    let frames = (SECONDS * f64::from(rate)) as usize;
    (0..channels)
        .map(|c| {
            let mut s = seed.wrapping_mul(2_654_435_761).wrapping_add(c as u32 + 1);
            (0..frames)
                .map(|i| {
                    let white = (xorshift32(&mut s) as f32 / u32::MAX as f32) * 2.0 - 1.0;
                    let swell = 0.6 + 0.4 * (i as f32 / frames as f32 * 6.0).sin();
                    white * level * 1.73 * swell
                })
                .collect()
        })
        .collect()
}

fn setup(levels: &[f32]) -> (tempfile::TempDir, Vec<String>) {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("master.ron"), GRAPH).expect("graph");
    let names: Vec<String> = levels
        .iter()
        .enumerate()
        .map(|(k, &level)| {
            let name = format!("t{k}.wav");
            write_wav_f32(
                &dir.path().join(&name),
                RATE,
                &track(k as u32, level, 2, RATE),
            );
            name
        })
        .collect();
    (dir, names)
}

fn analysis(path: &Path) -> (FileAnalysis, lathe_nodes::dsp::analysis::FileState) {
    let audio = read_audio(path).expect("readable output");
    let mut a = Analyzer::new(
        f64::from(audio.sample_rate_hz),
        Layout::for_channels(audio.channel_count()),
    );
    let planes: Vec<&[f32]> = audio.channels.iter().map(Vec::as_slice).collect();
    a.process(&planes);
    (a.analysis(), a.state())
}

fn lufs(path: &Path) -> f64 {
    analysis(path).0.integrated_lufs.expect("not silent")
}

fn args<'a>(names: &'a [String], extra: &[&'a str]) -> Vec<&'a str> {
    let mut v = vec!["album", "master.ron"];
    v.extend(names.iter().map(String::as_str));
    v.extend_from_slice(extra);
    v
}

fn out(dir: &Path, sub: &str, name: &str) -> PathBuf {
    dir.join(sub).join(name)
}

/// Album mode to `target` with `extra` arguments: album loudness within 0.3 LU, every
/// track's loudness relative to the album within 0.5 LU of the mix's, true peak under -1.
fn album_mode_case(levels: &[f32], target: f64, extra: &[&str]) {
    let (dir, names) = setup(levels);
    let d = dir.path();
    let mut flags = vec!["-o", "out", "--preset", "streaming", "--report", "r.json"];
    flags.extend_from_slice(extra);
    let run = lathe(d, &args(&names, &flags));
    assert!(run.status.success(), "{}", stderr(&run));
    assert!(stdout(&run).contains("album"), "{}", stdout(&run));
    let mut album = AlbumAnalysis::new();
    let mut before_album = AlbumAnalysis::new();
    let mut rel = Vec::new();
    for name in &names {
        let (after, state) = analysis(&out(d, "out", name));
        album.add(&state);
        let (before, bstate) = analysis(&d.join(name));
        before_album.add(&bstate);
        rel.push((
            before.integrated_lufs.unwrap(),
            after.integrated_lufs.unwrap(),
        ));
        // The limiter's guarantee (+0.1 dB) is tightened by the safety gain to the ceiling.
        assert!(
            after.true_peak_dbtp.unwrap() <= -1.0 + 1e-3,
            "{name}: {after:?}"
        );
    }
    let album_lufs = album.analysis().unwrap().integrated_lufs.unwrap();
    assert!((album_lufs - target).abs() <= 0.3, "album {album_lufs}");
    let before_album = before_album.analysis().unwrap().integrated_lufs.unwrap();
    for (b, a) in &rel {
        let change = (a - album_lufs) - (b - before_album);
        assert!(change.abs() <= 0.5, "relative change {change} ({b} -> {a})");
    }
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.join("r.json")).unwrap()).unwrap();
    assert_eq!(report["tracks"].as_array().unwrap().len(), levels.len());
    assert!(
        report["spread"]["after_lu"].as_f64().unwrap() > 5.0,
        "differences kept"
    );
    eprintln!(
        "album {album_lufs:.2} LUFS, tracks {rel:?}, passes {}",
        report["passes"]
    );
}

#[test]
fn album_mode_hits_the_target_and_keeps_the_differences() {
    album_mode_case(&[0.05, 0.1, 0.2], -14.0, &[]);
}

#[test]
fn album_mode_iterates_when_the_limiter_works_hard() {
    // The loudest track is driven about 8 dB into the limiter: loudness is no longer
    // linear in gain, and it needs a trim to keep its place.
    album_mode_case(&[0.05, 0.1, 0.2], -9.0, &["--target-lufs", "-9"]);
}

#[test]
fn track_mode_brings_every_track_to_the_target() {
    let (dir, names) = setup(&[0.03, 0.3]);
    let d = dir.path();
    let run = lathe(
        d,
        &args(
            &names,
            &[
                "-o",
                "out",
                "--mode",
                "track",
                "--target-lufs",
                "-16",
                "-q",
                "--plot",
                "loudness.png",
            ],
        ),
    );
    assert!(run.status.success(), "{}", stderr(&run));
    assert!(stdout(&run).is_empty(), "--quiet prints nothing");
    for name in &names {
        let l = lufs(&out(d, "out", name));
        assert!((l + 16.0).abs() <= 0.3, "{name}: {l}");
    }
    // One loudness panel per track, 320 px each (at least 400), 1200 px wide.
    let png = std::fs::read(d.join("loudness.png")).expect("the loudness plot");
    assert_eq!(&png[1..4], b"PNG");
    let be = |i: usize| u32::from_be_bytes([png[i], png[i + 1], png[i + 2], png[i + 3]]);
    assert_eq!((be(16), be(20)), (1200, 640));
    assert!(png.len() > 5000, "a drawn chart, not an empty image");
}

fn fmt_of(path: &Path) -> (u32, u16) {
    let bytes = std::fs::read(path).unwrap();
    let chunks = read_chunks(&bytes);
    let fmt = chunks
        .iter()
        .find(|c| &c.0 == b"fmt ")
        .expect("fmt chunk")
        .1;
    (
        u32::from_le_bytes([fmt[4], fmt[5], fmt[6], fmt[7]]),
        u16::from_le_bytes([fmt[14], fmt[15]]),
    )
}

#[test]
fn presets_set_rate_depth_and_ceiling() {
    let (dir, names) = setup(&[0.1, 0.25]);
    let d = dir.path();
    for (preset, rate, bits, ceiling) in [("cd", 44_100, 16, -0.3), ("broadcast", 48_000, 24, -1.0)]
    {
        let run = lathe(d, &args(&names, &["-o", preset, "--preset", preset, "-q"]));
        assert!(run.status.success(), "{preset}: {}", stderr(&run));
        for name in &names {
            let path = out(d, preset, name);
            assert_eq!(fmt_of(&path), (rate, bits), "{preset} {name}");
            let a = analysis(&path).0;
            assert!(
                a.true_peak_dbtp.unwrap() <= ceiling + 1e-3,
                "{preset}: {a:?}"
            );
        }
    }
    // cd has no target: no pre-gain.
    let run = lathe(
        d,
        &args(
            &names,
            &["-o", "cd2", "--preset", "cd", "-q", "--report", "cd.json"],
        ),
    );
    assert!(run.status.success(), "{}", stderr(&run));
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.join("cd.json")).unwrap()).unwrap();
    assert_eq!(report["tracks"][0]["gain_db"], 0.0);
    assert_eq!(
        report["dither"],
        "dither node kind, TPDF, shaping \"shaped\""
    );
    let listed = lathe(d, &["album", "--list-presets"]);
    for name in ["streaming", "broadcast", "podcast", "cd"] {
        assert!(stdout(&listed).contains(name));
    }
    let bare = lathe(d, &["album", "--preset"]);
    assert!(
        bare.status.success() && stdout(&bare).contains("podcast"),
        "{}",
        stderr(&bare)
    );
}

#[test]
fn a_preset_file_of_ones_own_is_read() {
    let (dir, names) = setup(&[0.1]);
    let d = dir.path();
    std::fs::write(
        d.join("mine.ron"),
        r#"(name: "mine", description: "x", target_lufs: Some(-18.0), tolerance_lu: 0.3,
            ceiling_dbtp: -2.0, sample_rate_hz: Some(32000), bits: 16, shaping: "tpdf_hp")"#,
    )
    .unwrap();
    let run = lathe(d, &args(&names, &["-o", "o", "--preset", "mine.ron", "-q"]));
    assert!(run.status.success(), "{}", stderr(&run));
    let path = out(d, "o", &names[0]);
    assert_eq!(fmt_of(&path), (32_000, 16));
    assert!((lufs(&path) + 18.0).abs() <= 0.3);
}

#[test]
fn parallel_and_serial_runs_write_the_same_bytes() {
    let (dir, names) = setup(&[0.05, 0.1, 0.2, 0.15]);
    let d = dir.path();
    for (sub, jobs) in [("serial", "1"), ("parallel", "4")] {
        let run = lathe(
            d,
            &args(
                &names,
                &["-o", sub, "--preset", "streaming", "--jobs", jobs, "-q"],
            ),
        );
        assert!(run.status.success(), "{}", stderr(&run));
    }
    for name in &names {
        let a = std::fs::read(out(d, "serial", name)).unwrap();
        let b = std::fs::read(out(d, "parallel", name)).unwrap();
        assert!(a == b, "{name} differs");
    }
}

#[test]
fn shards_cover_every_track_once_and_match_the_whole_run() {
    let (dir, names) = setup(&[0.05, 0.1, 0.2, 0.15, 0.08]);
    let d = dir.path();
    let whole = lathe(
        d,
        &args(&names, &["-o", "whole", "--preset", "podcast", "-q"]),
    );
    assert!(whole.status.success(), "{}", stderr(&whole));
    let mut seen = Vec::new();
    for i in 0..3 {
        let shard = format!("{i}/3");
        let sub = format!("s{i}");
        let run = lathe(
            d,
            &args(
                &names,
                &["-o", &sub, "--preset", "podcast", "--shard", &shard, "-q"],
            ),
        );
        assert!(run.status.success(), "{}", stderr(&run));
        for name in common::dir_entries(&d.join(&sub)) {
            // Album mode: every shard solves the same album gain, so its files are the
            // whole run's.
            assert_eq!(
                std::fs::read(d.join(&sub).join(&name)).unwrap(),
                std::fs::read(d.join("whole").join(&name)).unwrap(),
                "{name}"
            );
            seen.push(name);
        }
    }
    seen.sort();
    let mut all = names.clone();
    all.sort();
    assert_eq!(seen, all, "every track exactly once");
}

#[test]
fn tags_and_loudness_are_written_as_info_and_bext() {
    let (dir, names) = setup(&[0.1, 0.2]);
    let d = dir.path();
    std::fs::write(
        d.join("tracks.json"),
        r#"{"artist": "The Testers", "album": "Signals",
            "tracks": [{"file": "t0.wav", "title": "Opening", "isrc": "GB-AAA-24-00001"},
                       {"file": "t1.wav", "title": "Closing", "track": 9}]}"#,
    )
    .unwrap();
    let run = lathe(
        d,
        &args(
            &names,
            &[
                "-o",
                "out",
                "--preset",
                "streaming",
                "--manifest",
                "tracks.json",
                "--report",
                "r.json",
                "-q",
            ],
        ),
    );
    assert!(run.status.success(), "{}", stderr(&run));
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.join("r.json")).unwrap()).unwrap();
    let path = out(d, "out", "t0.wav");
    let bytes = std::fs::read(&path).unwrap();
    let chunks = read_chunks(&bytes);
    let list = chunks.iter().find(|c| &c.0 == b"LIST").expect("LIST").1;
    let info = parse_info(list);
    for (k, v) in [
        ("INAM", "Opening"),
        ("IART", "The Testers"),
        ("IPRD", "Signals"),
        ("ITRK", "1"),
        ("ISRC", "GBAAA2400001"),
    ] {
        assert!(
            info.contains(&(k.to_string(), v.to_string())),
            "{k}: {info:?}"
        );
    }
    let bext = chunks.iter().find(|c| &c.0 == b"bext").expect("bext").1;
    let loud = parse_bext_loudness(bext).unwrap();
    let after = &report["tracks"][0]["after"];
    let hundredths = |v: &serde_json::Value| (v.as_f64().unwrap() * 100.0).round() / 100.0;
    assert_eq!(
        loud.integrated_lufs,
        Some(hundredths(&after["integrated_lufs"]))
    );
    assert_eq!(
        loud.true_peak_dbtp,
        Some(hundredths(&after["true_peak_dbtp"]))
    );
    assert_eq!(loud.range_lu, Some(hundredths(&after["loudness_range_lu"])));
    let info1 = parse_info(
        read_chunks(&std::fs::read(out(d, "out", "t1.wav")).unwrap())
            .iter()
            .find(|c| &c.0 == b"LIST")
            .unwrap()
            .1,
    );
    assert!(info1.contains(&("ITRK".into(), "9".into())));
    ffprobe_reads_tags(&path);
}

/// ffprobe (ffmpeg) reads the INFO tags; skipped with a notice where it is not installed.
fn ffprobe_reads_tags(path: &Path) {
    let Ok(probe) = std::process::Command::new("ffprobe")
        .args(["-v", "error", "-show_format", "-of", "json"])
        .arg(path)
        .output()
    else {
        eprintln!("notice: ffprobe not installed; skipping the ffprobe check");
        return;
    };
    let json: serde_json::Value = serde_json::from_slice(&probe.stdout).expect("ffprobe json");
    let tags = &json["format"]["tags"];
    assert_eq!(tags["title"], "Opening", "{json}");
    assert_eq!(tags["artist"], "The Testers", "{json}");
    assert_eq!(tags["album"], "Signals", "{json}");
    assert_eq!(tags["track"], "1", "{json}");
}

#[test]
fn bad_tracks_fail_clearly_and_the_others_are_written() {
    let (dir, mut names) = setup(&[0.1, 0.2]);
    let d = dir.path();
    std::fs::write(d.join("broken.wav"), b"RIFF????WAVEnonsense").unwrap();
    write_wav_f32(&d.join("mono.wav"), RATE, &track(7, 0.1, 1, RATE));
    write_wav_f32(&d.join("fast.wav"), 44_100, &track(8, 0.1, 2, 44_100));
    names.extend(["broken.wav", "mono.wav", "fast.wav"].map(String::from));
    let run = lathe(d, &args(&names, &["-o", "out", "--preset", "streaming"]));
    assert_fails(
        &run,
        2,
        &[
            "3 of 5 track(s) failed",
            "broken.wav",
            "`mono.wav` has 1 channel(s) but the graph's input bus `main` takes 2",
            "`fast.wav` is 44100 Hz but `t0.wav` is 48000 Hz",
        ],
    );
    assert_eq!(common::dir_entries(&d.join("out")), ["t0.wav", "t1.wav"]);
    let no_graph = lathe(d, &["album", "missing.ron", "t0.wav", "-o", "x"]);
    assert_eq!(no_graph.status.code(), Some(2));
    let bad_shard = lathe(
        d,
        &["album", "master.ron", "t0.wav", "-o", "x", "--shard", "3/3"],
    );
    assert_fails(&bad_shard, 2, &["expected I/N"]);
}

/// Vorbis comments of a FLAC file, parsed from its metadata blocks.
fn vorbis_comments(path: &Path) -> Vec<(String, String)> {
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(&bytes[..4], b"fLaC");
    let le = |b: &[u8], at: usize| u32::from_le_bytes(b[at..at + 4].try_into().unwrap()) as usize;
    let mut pos = 4;
    loop {
        let header = &bytes[pos..pos + 4];
        let len = u32::from_be_bytes([0, header[1], header[2], header[3]]) as usize;
        let body = &bytes[pos + 4..pos + 4 + len];
        if header[0] & 0x7F == 4 {
            let vendor = le(body, 0);
            let mut at = 4 + vendor;
            let count = le(body, at);
            at += 4;
            let mut out = Vec::new();
            for _ in 0..count {
                let n = le(body, at);
                let text = std::str::from_utf8(&body[at + 4..at + 4 + n]).unwrap();
                let (k, v) = text.split_once('=').unwrap();
                out.push((k.to_string(), v.to_string()));
                at += 4 + n;
            }
            return out;
        }
        assert!(header[0] & 0x80 == 0, "no Vorbis comment block");
        pos += 4 + len;
    }
}

/// An external tool's output, or `None` (with a notice) where it is not installed;
/// absent tools fail the test when `LATHE_REQUIRE_FFMPEG=1` (set by .ci/run).
fn tool(name: &str, args: &[&str], path: &Path) -> Option<std::process::Output> {
    match std::process::Command::new(name)
        .args(args)
        .arg(path)
        .output()
    {
        Ok(out) => Some(out),
        Err(_) if std::env::var("LATHE_REQUIRE_FFMPEG").as_deref() == Ok("1") => {
            panic!("{name} is required (LATHE_REQUIRE_FFMPEG=1) but not installed")
        }
        Err(_) => {
            eprintln!("notice: {name} not installed; skipping its check");
            None
        }
    }
}

#[test]
fn flac_delivery_has_the_wav_samples_and_vorbis_comments() {
    let (dir, names) = setup(&[0.1, 0.2]);
    let d = dir.path();
    std::fs::write(
        d.join("tracks.json"),
        r#"{"artist": "The Testers", "album": "Signals",
            "tracks": [{"file": "t0.wav", "title": "Opening", "isrc": "GB-AAA-24-00001"}]}"#,
    )
    .unwrap();
    let common = ["--preset", "streaming", "--manifest", "tracks.json", "-q"];
    for (sub, format, jobs) in [("w", "wav", "2"), ("f", "flac", "2"), ("f1", "flac", "1")] {
        let mut flags = vec!["-o", sub, "--format", format, "--jobs", jobs];
        flags.extend_from_slice(&common);
        flags.extend_from_slice(&["--report", if sub == "f" { "f.json" } else { "o.json" }]);
        let run = lathe(d, &args(&names, &flags));
        assert!(run.status.success(), "{}", stderr(&run));
    }
    assert_eq!(common::dir_entries(&d.join("f")), ["t0.flac", "t1.flac"]);
    for k in 0..2 {
        let wav = read_audio(&out(d, "w", &format!("t{k}.wav"))).unwrap();
        let flac_path = out(d, "f", &format!("t{k}.flac"));
        assert!(
            read_audio(&flac_path).unwrap() == wav,
            "t{k}: FLAC samples differ"
        );
        assert_eq!(
            std::fs::read(&flac_path).unwrap(),
            std::fs::read(out(d, "f1", &format!("t{k}.flac"))).unwrap(),
            "parallel and serial FLAC bytes"
        );
    }
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.join("f.json")).unwrap()).unwrap();
    assert_eq!(report["format"], "flac");
    let after = &report["tracks"][0]["after"];
    let path = out(d, "f", "t0.flac");
    let comments = vorbis_comments(&path);
    let get = |k: &str| {
        comments
            .iter()
            .find(|c| c.0 == k)
            .map(|c| c.1.clone())
            .unwrap_or_else(|| panic!("{k} missing: {comments:?}"))
    };
    assert_eq!(get("TITLE"), "Opening");
    assert_eq!(get("ARTIST"), "The Testers");
    assert_eq!(get("ALBUM"), "Signals");
    assert_eq!(get("TRACKNUMBER"), "1");
    assert_eq!(get("ISRC"), "GBAAA2400001");
    for (key, field) in [
        ("LOUDNESS_INTEGRATED_LUFS", "integrated_lufs"),
        ("LOUDNESS_RANGE_LU", "loudness_range_lu"),
        ("LOUDNESS_TRUE_PEAK_DBTP", "true_peak_dbtp"),
    ] {
        assert_eq!(
            get(key),
            format!("{:.2}", after[field].as_f64().unwrap()),
            "{key}"
        );
    }
    if let Some(probe) = tool(
        "ffprobe",
        &["-v", "error", "-show_format", "-of", "json"],
        &path,
    ) {
        assert!(probe.status.success(), "{}", stderr(&probe));
        let json: serde_json::Value = serde_json::from_slice(&probe.stdout).unwrap();
        assert_eq!(json["format"]["format_name"], "flac", "{json}");
        // ffprobe keeps the case of Vorbis comment names.
        let tags = json["format"]["tags"].as_object().expect("tags");
        let tag = |k: &str| {
            tags.iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(k))
                .and_then(|(_, v)| v.as_str())
                .unwrap_or_else(|| panic!("ffprobe lacks {k}: {json}"))
                .to_string()
        };
        assert_eq!(tag("title"), "Opening");
        assert_eq!(tag("artist"), "The Testers");
        assert_eq!(tag("album"), "Signals");
        assert_eq!(tag("isrc"), "GBAAA2400001");
        assert_eq!(
            tag("LOUDNESS_INTEGRATED_LUFS"),
            get("LOUDNESS_INTEGRATED_LUFS")
        );
    }
    // The reference decoder checks every frame's CRC and the MD5 of the samples.
    if let Some(test) = tool("flac", &["-t", "-s"], &path) {
        assert!(test.status.success(), "flac -t: {}", stderr(&test));
    }
}
