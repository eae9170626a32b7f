//! `lathe render` streams its files: these tests hold it to what a render in memory
//! writes, byte for byte, and to reports that measure the files as written.

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use common::{
    FLAC_BLOCK, assert_fails, dir_entries, lathe_in, lathe_ok, stderr, test_signal, write_flac,
    write_wav_int,
};
use lathe::audio_io::{Audio, SampleFormat, read_audio, write_audio};
use lathe::commands;
use lathe::progress::Progress;
use lathe::report::Measurement;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn temp() -> tempfile::TempDir {
    tempfile::tempdir().expect("temp dir")
}

/// A stereo 24-bit WAV test file of `frames` frames at 48 kHz.
fn song(path: &Path, frames: usize, seed: usize) {
    let chans = [
        test_signal(frames, 24, 0.8, seed),
        test_signal(frames, 24, 0.5, seed + 1),
    ];
    write_wav_int(path, 48_000, 24, &chans);
}

/// What `lathe render` wrote before it streamed: every input decoded, padded to the
/// longest, rendered in memory, and the outputs written whole.
fn render_in_memory(
    graph: &Path,
    inputs: &[&Path],
    block_frames: usize,
    outputs: &[&Path],
    bits: SampleFormat,
) {
    let mut audio: Vec<Audio> = inputs
        .iter()
        .map(|p| read_audio(p).expect("input decodes"))
        .collect();
    let longest = audio.iter().map(Audio::frames).max().unwrap_or(0);
    for a in &mut audio {
        a.channels.iter_mut().for_each(|c| c.resize(longest, 0.0));
    }
    let rate = audio[0].sample_rate_hz;
    let graph = commands::load(graph, &[], f64::from(rate), block_frames).expect("graph loads");
    let rendered = commands::render_audio(graph, audio, &Progress::hidden());
    for (path, audio) in outputs.iter().zip(&rendered.outputs) {
        write_audio(path, audio, bits).expect("output written");
    }
}

fn bits_arg(bits: SampleFormat) -> &'static str {
    bits.name()
}

#[test]
fn streamed_renders_write_what_an_in_memory_render_writes() {
    let dir = temp();
    let d = dir.path();
    // Past several engine calls and FLAC blocks, not a whole number of either.
    song(&d.join("song.wav"), 100_003, 0);
    song(&d.join("music.wav"), 70_001, 2);
    song(&d.join("vocals.wav"), 41_234, 4);
    let cases: [(&str, &[&str], &str, SampleFormat, usize); 6] = [
        (
            "graphs/master.ron",
            &["song.wav"],
            "a.wav",
            SampleFormat::Int16,
            512,
        ),
        (
            "graphs/master.ron",
            &["song.wav"],
            "b.wav",
            SampleFormat::Int24,
            1000,
        ),
        (
            "graphs/master.ron",
            &["song.wav"],
            "c.wav",
            SampleFormat::Float32,
            64,
        ),
        (
            "graphs/master.ron",
            &["song.wav"],
            "d.flac",
            SampleFormat::Int24,
            512,
        ),
        // A control script ticking at exact frames, with an odd block size.
        (
            "graphs/rider.ron",
            &["song.wav"],
            "e.flac",
            SampleFormat::Int16,
            333,
        ),
        // Two input buses of different lengths: the shorter is padded with silence.
        (
            "graphs/stems.ron",
            &["music=music.wav", "vocals=vocals.wav"],
            "f.wav",
            SampleFormat::Int24,
            512,
        ),
    ];
    for (graph, inputs, output, bits, block) in cases {
        let mut args = vec![
            "render".to_string(),
            repo().join(graph).display().to_string(),
        ];
        args.extend(inputs.iter().map(|s| s.to_string()));
        let block_text = block.to_string();
        args.extend(
            [
                "-o",
                output,
                "--bits",
                bits_arg(bits),
                "--block-frames",
                &block_text,
                "-q",
            ]
            .map(String::from),
        );
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = lathe_in(d, &args);
        assert_eq!(out.status.code(), Some(0), "{graph}: {}", stderr(&out));
        let files: Vec<PathBuf> = inputs
            .iter()
            .map(|s| d.join(s.split_once('=').map_or(*s, |(_, p)| p)))
            .collect();
        let file_refs: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
        let reference = d.join(format!("reference-{output}"));
        render_in_memory(&repo().join(graph), &file_refs, block, &[&reference], bits);
        assert!(
            fs::read(d.join(output)).unwrap() == fs::read(&reference).unwrap(),
            "{graph} -> {output}: the streamed file differs from the in-memory render"
        );
    }
}

#[test]
fn every_output_bus_streams_to_its_own_file() {
    let dir = temp();
    let d = dir.path();
    song(&d.join("song.wav"), 60_001, 3);
    // The limiter's lookahead delays `main`; the compiler delays `side` to match.
    fs::write(
        d.join("two.ron"),
        r#"(
            inputs: {"main": 2},
            outputs: {"main": 2, "side": 2},
            nodes: [(id: "lim", kind: "limiter"), (id: "g", kind: "gain", params: {"gain_db": -6.0})],
            links: ["in -> lim -> out.main", "in -> g -> out.side"],
        )"#,
    )
    .unwrap();
    lathe_ok(
        d,
        &[
            "render",
            "two.ron",
            "song.wav",
            "-o",
            "main=m.wav",
            "-o",
            "side=s.flac",
            "-q",
        ],
    );
    render_in_memory(
        &d.join("two.ron"),
        &[&d.join("song.wav")],
        512,
        &[&d.join("ref-m.wav"), &d.join("ref-s.flac")],
        SampleFormat::Int24,
    );
    for (file, reference) in [("m.wav", "ref-m.wav"), ("s.flac", "ref-s.flac")] {
        assert!(
            fs::read(d.join(file)).unwrap() == fs::read(d.join(reference)).unwrap(),
            "{file} differs from the in-memory render"
        );
    }
}

/// Asserts that every figure of `m` appears in `report_section` exactly as serialised
/// (compared as text: JSON numbers parsed back may be a unit in the last place off).
fn assert_reports(report_section: &str, m: &Measurement, what: &str) {
    let json = serde_json::to_string_pretty(m).unwrap();
    for line in json.lines().map(str::trim) {
        let line = line.trim_end_matches(',');
        if line.starts_with("\"label\"") || !line.contains(':') {
            continue;
        }
        assert!(
            report_section.contains(line),
            "{what}: {line} is not in the report:\n{report_section}"
        );
    }
}

#[test]
fn the_report_measures_the_files_as_written() {
    let dir = temp();
    let d = dir.path();
    song(&d.join("song.wav"), 150_000, 7);
    for (output, bits) in [("out.wav", "16"), ("out.flac", "24"), ("float.wav", "32f")] {
        lathe_ok(
            d,
            &[
                "render",
                repo().join("graphs/master.ron").to_str().unwrap(),
                "song.wav",
                "-o",
                output,
                "--bits",
                bits,
                "--report",
                "report.json",
            ],
        );
        let text = fs::read_to_string(d.join("report.json")).unwrap();
        let report: serde_json::Value = serde_json::from_str(&text).unwrap();
        let (inputs, outputs) = text.split_once("\"outputs\"").expect("an outputs section");
        // Reading the files back and measuring them gives the same figures, bit for bit.
        let written = Measurement::of("x", &read_audio(&d.join(output)).unwrap());
        assert_reports(outputs, &written, output);
        let input = Measurement::of("x", &read_audio(&d.join("song.wav")).unwrap());
        assert_reports(inputs, &input, "input");
        // And `lathe analyze` reads the same loudness and peaks off the file.
        let analyzed = lathe_ok(d, &["analyze", output, "--json"]);
        let analyzed: serde_json::Value = serde_json::from_slice(&analyzed.stdout).unwrap();
        let file = &analyzed["files"][0];
        let round = |v: &serde_json::Value| v.as_f64().map(|x| (x * 100.0).round() / 100.0);
        for key in [
            "integrated_lufs",
            "true_peak_dbtp",
            "loudness_range_lu",
            "momentary_max_lufs",
            "short_term_max_lufs",
            "plr_db",
            "correlation",
            "sample_peak_dbfs",
        ] {
            assert_eq!(
                round(&report["outputs"][0][key]),
                round(&file[key]),
                "{output}: {key}"
            );
        }
    }
}

#[test]
fn damage_found_mid_stream_fails_the_render_and_keeps_the_old_output() {
    let dir = temp();
    let d = dir.path();
    let frames = 40 * FLAC_BLOCK;
    let chans = [
        test_signal(frames, 16, 0.9, 0),
        test_signal(frames, 16, 0.9, 1),
    ];
    write_flac(&d.join("broken.flac"), 48_000, 16, &chans);
    let mut bytes = fs::read(d.join("broken.flac")).unwrap();
    // Damage audio bytes in frame 20 (header 42 bytes, ~16 KiB per frame).
    let at = 42 + 20 * (4096 * 2 * 2 + 12) + 5000;
    for b in &mut bytes[at..at + 64] {
        *b ^= 0x5a;
    }
    fs::write(d.join("broken.flac"), bytes).unwrap();
    fs::write(d.join("out.wav"), b"previous render").unwrap();
    let before = dir_entries(d);
    let out = lathe_in(
        d,
        &[
            "render",
            repo().join("graphs/master.ron").to_str().unwrap(),
            "broken.flac",
            "-o",
            "out.wav",
        ],
    );
    assert_fails(
        &out,
        2,
        &[
            "`broken.flac` is corrupt at 1.707 s: 4096 frames are missing (damaged data was skipped)",
        ],
    );
    assert_eq!(dir_entries(d), before, "no temporary file is left");
    assert_eq!(fs::read(d.join("out.wav")).unwrap(), b"previous render");
}

#[test]
fn a_cut_off_wav_input_is_refused_before_the_graph_is_loaded() {
    let dir = temp();
    let d = dir.path();
    song(&d.join("cut.wav"), 48_000, 0);
    let bytes = fs::read(d.join("cut.wav")).unwrap();
    fs::write(d.join("cut.wav"), &bytes[..bytes.len() / 2]).unwrap();
    // The graph does not exist: the input's error comes first, as it always did.
    let out = lathe_in(d, &["render", "missing.ron", "cut.wav", "-o", "x.wav"]);
    assert_fails(
        &out,
        2,
        &[
            "`cut.wav` is corrupt at 0.500 s: the file ends after 23994 of the 48000 frames its header declares",
        ],
    );
}
