//! `lathe album --codec-safe`: a loud, limited master that overshoots -1 dBTP through Opus
//! and MP3 is turned down until both decode at or under the ceiling, as lathe's
//! codec-check and ffmpeg (decoding lathe's MP3 stream, and encoding Opus itself with
//! libopus) both measure; the same through AAC (libfdk-aac), asked for by the preset's
//! codec list, decoded by ffmpeg's native AAC decoder. Skips where the codec libraries or
//! ffmpeg are missing, unless LATHE_REQUIRE_CODECS=1 / LATHE_REQUIRE_AAC=1 /
//! LATHE_REQUIRE_FFMPEG=1.

mod codec_support;
mod common;

use std::path::Path;

use codec_support::{
    aac_adts_stream, aac_missing, codecs_required, ffmpeg_available, ffmpeg_encode,
    ffmpeg_true_peak_dbtp, mp3_stream, music_like, read_f32_wav,
};
use common::{assert_usage_error, lathe_in, stderr, write_wav_f32, xorshift32};

const GRAPH: &str = r#"(
    nodes: [
        (id: "limit", kind: "limiter", params: {"ceiling_dbtp": -1.0}),
    ],
    links: ["in -> limit -> out"],
)"#;

/// Loud delivery: -5.5 LUFS into a -1 dBTP limiter, the kind of master that overshoots.
const PRESET: &str = r#"(name: "loud", description: "loud", target_lufs: Some(-5.5),
    tolerance_lu: 0.5, ceiling_dbtp: -1.0, sample_rate_hz: None, bits: 24, shaping: "none")"#;

fn setup() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut s = 0xC0DE_u32;
    let track: Vec<Vec<f32>> = (0..2)
        .map(|_| {
            (0..48_000 * 5)
                .map(|i| {
                    let white = (xorshift32(&mut s) as f32 / u32::MAX as f32) * 2.0 - 1.0;
                    let saw = ((i as f32 * 3_000.0 / 48_000.0) % 1.0) * 2.0 - 1.0;
                    0.3 * white + 0.2 * saw
                })
                .collect()
        })
        .collect();
    write_wav_f32(&dir.path().join("t.wav"), 48_000, &track);
    std::fs::write(dir.path().join("master.ron"), GRAPH).expect("graph");
    std::fs::write(dir.path().join("loud.ron"), PRESET).expect("preset");
    dir
}

fn codec_check(dir: &Path, file: &str) -> Option<i32> {
    let out = lathe_in(dir, &["codec-check", file, "--codec", "opus:128,mp3:320"]);
    out.status.code()
}

#[test]
fn codec_safe_brings_every_decode_under_the_ceiling() {
    let dir = setup();
    let d = dir.path();
    // Without --codec-safe the delivery overshoots through the codecs.
    let plain = lathe_in(
        d,
        &[
            "album",
            "master.ron",
            "t.wav",
            "-o",
            "plain",
            "--preset",
            "loud.ron",
            "-q",
        ],
    );
    assert_eq!(plain.status.code(), Some(0), "{}", stderr(&plain));
    match codec_check(d, "plain/t.wav") {
        Some(2) if !codecs_required() => {
            eprintln!("notice: libopus or LAME missing; skipping");
            return;
        }
        code => assert_eq!(code, Some(1), "the plain delivery should overshoot"),
    }

    std::fs::create_dir(d.join("safe")).expect("dir");
    let safe = lathe_in(
        d,
        &[
            "album",
            "master.ron",
            "t.wav",
            "-o",
            "safe",
            "--preset",
            "loud.ron",
            "-q",
            "--codec-safe",
            "opus:128,mp3:320",
            "--report",
            "r.json",
        ],
    );
    assert_eq!(safe.status.code(), Some(0), "{}", stderr(&safe));
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("r.json")).expect("report"))
            .expect("JSON");
    let chosen = &report["tracks"][0]["codec_safe"];
    assert!(chosen["gain_db"].as_f64().expect("gain") < 0.0, "{chosen}");
    assert!(chosen["passes"].as_u64().expect("passes") <= 4, "{chosen}");
    for decoded in chosen["decoded"].as_array().expect("decoded") {
        assert!(
            decoded["true_peak_dbtp"].as_f64().expect("tp") <= -1.0,
            "{decoded}"
        );
    }
    // The delivered file records the check (BWF description).
    let bytes = std::fs::read(d.join("safe/t.wav")).expect("delivered");
    assert!(
        bytes.windows(10).any(|w| w == b"codec-safe"),
        "bext lacks the codec check"
    );
    // lathe's own check of the delivered file now passes.
    assert_eq!(codec_check(d, "safe/t.wav"), Some(0));

    if !ffmpeg_available() {
        return;
    }
    let delivered = read_f32_wav(&d.join("safe/t.wav"));
    let planes: Vec<&[f32]> = delivered.iter().map(Vec::as_slice).collect();
    let (stream, _) = mp3_stream(&planes);
    std::fs::write(d.join("safe.mp3"), stream).expect("write mp3");
    let tp = ffmpeg_true_peak_dbtp(d, "safe.mp3");
    assert!(
        tp <= -1.0,
        "ffmpeg decodes lathe's MP3 of the delivery at {tp} dBTP"
    );
    ffmpeg_encode(
        d,
        "safe/t.wav",
        &["-c:a", "libopus", "-b:a", "128k"],
        "safe.opus",
    );
    let tp = ffmpeg_true_peak_dbtp(d, "safe.opus");
    assert!(
        tp <= -1.0,
        "ffmpeg's Opus of the delivery decodes at {tp} dBTP"
    );
}

#[test]
fn codec_safe_aac_from_the_preset_decodes_under_the_ceiling_in_ffmpeg() {
    let dir = setup();
    let d = dir.path();
    let check = lathe_in(d, &["codec-check", "t.wav", "--codec", "aac:256"]);
    if aac_missing(&check) {
        return;
    }
    // FDK leaves out much of white noise's top octaves, so it decodes quieter; music-like
    // material, limited to -1 dBTP, decodes over it.
    write_wav_f32(&d.join("m.wav"), 48_000, &music_like(48_000 * 5));
    // The preset's codec list, not the command line, asks for AAC here.
    let preset = PRESET.replace(
        r#"shaping: "none")"#,
        r#"shaping: "none", codec_safe: ["aac:256"])"#,
    );
    std::fs::write(d.join("aac.ron"), preset).expect("preset");
    let safe = lathe_in(
        d,
        &[
            "album",
            "master.ron",
            "m.wav",
            "-o",
            "safe",
            "--preset",
            "aac.ron",
            "-q",
            "--report",
            "r.json",
        ],
    );
    assert_eq!(safe.status.code(), Some(0), "{}", stderr(&safe));
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("r.json")).expect("report"))
            .expect("JSON");
    let chosen = &report["tracks"][0]["codec_safe"];
    assert!(chosen["gain_db"].as_f64().expect("gain") < 0.0, "{chosen}");
    assert_eq!(chosen["decoded"][0]["codec"], "aac:256");
    assert!(chosen["decoded"][0]["true_peak_dbtp"].as_f64().expect("tp") <= -1.0);
    let out = lathe_in(d, &["codec-check", "safe/m.wav", "--codec", "aac:256"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    if !ffmpeg_available() {
        return;
    }
    // ffmpeg's native AAC decoder reads lathe's AAC stream of the delivery (ADTS) at or
    // under the ceiling.
    let delivered = read_f32_wav(&d.join("safe/m.wav"));
    let planes: Vec<&[f32]> = delivered.iter().map(Vec::as_slice).collect();
    let (stream, _) = aac_adts_stream("aac:256", &planes);
    std::fs::write(d.join("safe.aac"), stream).expect("write aac");
    let tp = ffmpeg_true_peak_dbtp(d, "safe.aac");
    assert!(
        tp <= -1.0,
        "ffmpeg decodes lathe's AAC of the delivery at {tp} dBTP"
    );
}

#[test]
fn a_missing_codec_library_stops_the_album_before_any_render() {
    let dir = setup();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_lathe"))
        .args([
            "album",
            "master.ron",
            "t.wav",
            "-o",
            "out",
            "--codec-safe",
            "aac:256",
        ])
        .current_dir(dir.path())
        .env("LATHE_FDK_AAC", dir.path().join("no-such-libfdk-aac.so.2"))
        .output()
        .expect("the lathe binary runs");
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("--codec-safe: libfdk-aac is not installed")
            && err.contains("scripts/build-fdk-aac.sh"),
        "{err}"
    );
    assert!(!dir.path().join("out/t.wav").exists());
}

#[test]
fn a_bad_codec_safe_list_is_a_usage_error() {
    let dir = setup();
    assert_usage_error(
        dir.path(),
        &[
            "album",
            "master.ron",
            "t.wav",
            "-o",
            "x",
            "--codec-safe",
            "mp3:300",
        ],
        &["--codec-safe", "bitrate `300`", "256, 320"],
    );
    // The preset field is checked the same way.
    let preset = PRESET.replace(
        r#"shaping: "none")"#,
        r#"shaping: "none", codec_safe: ["ogg:96"])"#,
    );
    std::fs::write(dir.path().join("bad.ron"), preset).expect("preset");
    assert_usage_error(
        dir.path(),
        &[
            "album",
            "master.ron",
            "t.wav",
            "-o",
            "x",
            "--preset",
            "bad.ron",
        ],
        &["unknown codec `ogg`", "opus, mp3 and aac"],
    );
}

/// In album mode (one gain for the album) the codec-safe gain is the album's too: every
/// track is turned down as far as the one whose decode overshoots most needs, so a quiet
/// track that does not overshoot at all goes down with the loud one and the tracks keep
/// their relative loudness (within 0.05 LU of the same album without --codec-safe). In
/// track mode each track finds its own (the quiet one none).
#[test]
fn album_mode_turns_every_track_down_by_the_loudest_decodes_need() {
    let dir = setup();
    let d = dir.path();
    let tones: Vec<Vec<f32>> = (0..2)
        .map(|_| {
            (0..48_000 * 5)
                .map(|i| {
                    let t = i as f32 / 48_000.0;
                    0.1 * (2.0 * std::f32::consts::PI * 440.0 * t).sin()
                        + 0.05 * (2.0 * std::f32::consts::PI * 1_000.0 * t).sin()
                })
                .collect()
        })
        .collect();
    write_wav_f32(&d.join("q.wav"), 48_000, &tones);
    let album = |name: &str, extra: &[&str]| -> Option<serde_json::Value> {
        let report = format!("{name}.json");
        let mut args = vec![
            "album",
            "master.ron",
            "t.wav",
            "q.wav",
            "-o",
            name,
            "--preset",
            "loud.ron",
            "-q",
            "--report",
            &report,
        ];
        args.extend(extra);
        let out = lathe_in(d, &args);
        if out.status.code() == Some(2) && stderr(&out).contains("is not installed") {
            assert!(!codecs_required(), "{}", stderr(&out));
            eprintln!("notice: skipping: {}", stderr(&out));
            return None;
        }
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let text = std::fs::read_to_string(d.join(report)).expect("report");
        Some(serde_json::from_str(&text).expect("JSON"))
    };
    let lufs = |r: &serde_json::Value, k: usize| {
        r["tracks"][k]["after"]["integrated_lufs"]
            .as_f64()
            .expect("loudness")
    };
    let codec_gain = |r: &serde_json::Value, k: usize| {
        r["tracks"][k]["codec_safe"]["gain_db"]
            .as_f64()
            .expect("codec-safe gain")
    };
    let Some(plain) = album("plain", &[]) else {
        return;
    };
    let Some(safe) = album("safe", &["--codec-safe", "opus:128"]) else {
        return;
    };
    let album_db = safe["codec_safe_album_db"].as_f64().expect("album gain");
    assert!(album_db < -0.1, "the loud track overshoots: {album_db}");
    for k in 0..2 {
        assert!(
            (codec_gain(&safe, k) - album_db).abs() < 0.02,
            "track {k}: {} against the album's {album_db}",
            codec_gain(&safe, k)
        );
        for decoded in safe["tracks"][k]["codec_safe"]["decoded"]
            .as_array()
            .expect("decoded")
        {
            assert!(decoded["true_peak_dbtp"].as_f64().expect("tp") <= -1.0);
        }
    }
    let relative = |r: &serde_json::Value| lufs(r, 0) - lufs(r, 1);
    assert!(
        (relative(&safe) - relative(&plain)).abs() < 0.05,
        "relative loudness {} with codec-safe, {} without",
        relative(&safe),
        relative(&plain)
    );

    let Some(own) = album("own", &["--codec-safe", "opus:128", "--mode", "track"]) else {
        return;
    };
    assert!(own.get("codec_safe_album_db").is_none());
    assert!(codec_gain(&own, 0) < -0.1, "the loud track goes down");
    assert_eq!(codec_gain(&own, 1), 0.0, "the quiet track does not");
}
