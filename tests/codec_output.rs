//! `lathe album --format mp3`: an MP3 delivery whose ReplayGain 2.0 tags ffprobe reads
//! back (and the same tags in a FLAC delivery), and which ffmpeg decodes gapless (the LAME tag) to the length of the WAV delivery
//! and aligned with it within one sample. Skips where LAME or ffmpeg are missing, unless
//! LATHE_REQUIRE_CODECS=1 / LATHE_REQUIRE_FFMPEG=1.

mod codec_support;
mod common;

use std::process::Command;

use codec_support::{best_lag, codecs_required, ffmpeg_available, ffmpeg_encode, read_f32_wav};
use common::{lathe_in, stderr, write_wav_f32, xorshift32};

const GRAPH: &str = r#"(
    nodes: [(id: "limit", kind: "limiter", params: {"ceiling_dbtp": -1.0})],
    links: ["in -> limit -> out"],
)"#;

#[test]
fn an_mp3_delivery_carries_replaygain_tags_and_decodes_gapless() {
    if !ffmpeg_available() {
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    let mut s = 7u32;
    let track: Vec<Vec<f32>> = (0..2)
        .map(|_| {
            (0..48_000 * 4 + 321)
                .map(|i| {
                    let white = (xorshift32(&mut s) as f32 / u32::MAX as f32) * 2.0 - 1.0;
                    0.1 * white + 0.3 * (i as f32 * 0.031).sin()
                })
                .collect()
        })
        .collect();
    write_wav_f32(&d.join("t.wav"), 48_000, &track);
    std::fs::write(d.join("master.ron"), GRAPH).expect("graph");
    let run = |format: &str, out: &str| {
        lathe_in(
            d,
            &[
                "album",
                "master.ron",
                "t.wav",
                "-o",
                out,
                "--preset",
                "streaming",
                "--format",
                format,
                "-q",
                "--report",
                &format!("{out}.json"),
            ],
        )
    };
    let probe = lathe_in(d, &["codec-check", "t.wav", "--codec", "mp3:320"]);
    if probe.status.code() == Some(2)
        && stderr(&probe).contains("is not installed")
        && !codecs_required()
    {
        eprintln!("notice: skipping: {}", stderr(&probe));
        return;
    }
    let mp3 = run("mp3", "mp3");
    assert_eq!(mp3.status.code(), Some(0), "{}", stderr(&mp3));
    let wav = run("wav", "wav");
    assert_eq!(wav.status.code(), Some(0), "{}", stderr(&wav));

    // ffprobe reads the ReplayGain tags: -18 LUFS minus the delivered loudness.
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("mp3.json")).expect("report"))
            .expect("JSON");
    let lufs = report["tracks"][0]["after"]["integrated_lufs"]
        .as_f64()
        .expect("loudness");
    let flac = run("flac", "flac");
    assert_eq!(flac.status.code(), Some(0), "{}", stderr(&flac));
    for file in ["mp3/t.mp3", "flac/t.flac"] {
        let tags = ffprobe_tags(d, file);
        let gain = tags["REPLAYGAIN_TRACK_GAIN"]
            .as_str()
            .unwrap_or_else(|| panic!("{file}: no gain tag: {tags}"));
        let gain_db: f64 = gain.trim_end_matches(" dB").parse().expect("a gain");
        assert!(
            (gain_db - (-18.0 - lufs)).abs() <= 0.011,
            "{file}: {gain} for {lufs} LUFS"
        );
        let peak: f64 = tags["REPLAYGAIN_TRACK_PEAK"]
            .as_str()
            .expect("peak tag")
            .parse()
            .expect("a peak");
        assert!(
            peak > 0.1 && peak <= 10f64.powf(-1.0 / 20.0),
            "{file}: {peak}"
        );
        assert!(
            // ffprobe shows FLAC's DESCRIPTION as `comment`.
            [&tags["DESCRIPTION"], &tags["comment"]]
                .iter()
                .any(|t| t.as_str().is_some_and(|t| t.contains("Mastered by lathe"))),
            "{file}: {tags}"
        );
    }

    // ffmpeg decodes it gapless: as long as the WAV delivery, and aligned with it.
    ffmpeg_encode(d, "mp3/t.mp3", &["-c:a", "pcm_f32le"], "decoded.wav");
    let decoded = read_f32_wav(&d.join("decoded.wav"));
    let reference = read_f32_wav(&d.join("wav/t.wav"));
    assert_eq!(decoded[0].len(), reference[0].len(), "decoded length");
    let lag = best_lag(&reference[0], &decoded[0], 0, 50);
    assert!(lag <= 1, "ffmpeg's decode is {lag} frames late");
}

/// The container tags ffprobe reads from `file`.
fn ffprobe_tags(dir: &std::path::Path, file: &str) -> serde_json::Value {
    let probe = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "format_tags",
            "-of",
            "json",
            file,
        ])
        .current_dir(dir)
        .output()
        .expect("ffprobe runs");
    let tags: serde_json::Value = serde_json::from_slice(&probe.stdout).expect("ffprobe JSON");
    tags["format"]["tags"].clone()
}
