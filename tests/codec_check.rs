//! `lathe codec-check` with the real encoders: a master limited to -1 dBTP with dense
//! high-frequency content decodes over -1 dBTP through Opus, MP3 and AAC, as lathe
//! reports and as ffmpeg (an independent encoder and decoder) measures; bad codec specs
//! are usage errors naming the allowed values.
//!
//! Skips with a notice where libopus/LAME (LATHE_REQUIRE_CODECS=1), libfdk-aac
//! (LATHE_REQUIRE_AAC=1) or ffmpeg (LATHE_REQUIRE_FFMPEG=1) are missing.

mod codec_support;
mod common;

use codec_support::{
    aac_adts_stream, aac_missing, best_lag, codecs_required, ffmpeg_available, ffmpeg_encode,
    ffmpeg_true_peak_dbtp, mp3_stream, music_like, read_f32_wav,
};
use common::{assert_usage_error, lathe_in, stderr, stdout, write_wav_f32, xorshift32};
use lathe_nodes::dsp::analysis::analyze;
use lathe_nodes::dsp::bs1770::Layout;

const RATE_HZ: u32 = 48_000;
const CEILING_DBTP: f64 = -1.0;

/// Dense, bright, hard-limited material: noise plus a 5 kHz sawtooth, clipped flat at
/// the sample level, then scaled so its true peak sits just under -1 dBTP. Codecs
/// smear such flat tops into overshoots.
fn limited_master(frames: usize) -> Vec<Vec<f32>> {
    let mut state = 0x1234_5678;
    let mut channels: Vec<Vec<f32>> = (0..2)
        .map(|_| {
            (0..frames)
                .map(|i| {
                    let noise = (xorshift32(&mut state) as f64 / u32::MAX as f64) * 2.0 - 1.0;
                    let saw = ((i as f64 * 5_000.0 / f64::from(RATE_HZ)) % 1.0) * 2.0 - 1.0;
                    (3.0 * (0.7 * noise + 0.5 * saw)).clamp(-1.0, 1.0) as f32
                })
                .collect()
        })
        .collect();
    let planes: Vec<&[f32]> = channels.iter().map(Vec::as_slice).collect();
    let tp = analyze(&planes, f64::from(RATE_HZ), Layout::Stereo)
        .true_peak_dbtp
        .expect("not silent");
    let gain = 10f64.powf((CEILING_DBTP - 0.05 - tp) / 20.0) as f32;
    channels.iter_mut().flatten().for_each(|s| *s *= gain);
    channels
}

#[test]
fn a_minus_1_dbtp_master_overshoots_through_opus_and_mp3() {
    let dir = tempfile::tempdir().expect("temp dir");
    write_wav_f32(
        &dir.path().join("master.wav"),
        RATE_HZ,
        &limited_master(RATE_HZ as usize * 6),
    );
    let out = lathe_in(
        dir.path(),
        &[
            "codec-check",
            "master.wav",
            "--codec",
            "opus:128,mp3:320",
            "--json",
        ],
    );
    if out.status.code() == Some(2)
        && stderr(&out).contains("is not installed")
        && !codecs_required()
    {
        eprintln!("notice: skipping: {}", stderr(&out));
        return;
    }
    assert_eq!(
        out.status.code(),
        Some(1),
        "an overshoot exits 1: {}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("2 of 2 decodes exceed the -1.0 dBTP ceiling"),
        "{}",
        stderr(&out)
    );
    let report: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("JSON");
    let file = &report["files"][0];
    assert!(file["source_true_peak_dbtp"].as_f64().expect("source TP") <= CEILING_DBTP);
    let mut lathe_tp = Vec::new();
    for codec in file["codecs"].as_array().expect("codecs") {
        let tp = codec["true_peak_dbtp"].as_f64().expect("decoded TP");
        assert!(tp > CEILING_DBTP, "{codec}");
        assert_eq!(codec["exceeds_ceiling"], true);
        assert!(
            codec["overs_ceiling"]["count"].as_u64().expect("count") > 0,
            "{codec}"
        );
        assert!(codec["overs_ceiling"]["duration_ms"].as_f64().expect("ms") > 0.0);
        assert!(!codec["worst"].as_array().expect("worst").is_empty());
        assert!(codec["loudness_change_lu"].as_f64().expect("change").abs() < 1.0);
        lathe_tp.push(tp);
    }

    // The text report names the codecs and marks the overs.
    let text = stdout(&lathe_in(
        dir.path(),
        &["codec-check", "master.wav", "--codec", "opus:128"],
    ));
    assert!(text.contains("opus:128") && text.contains("OVER"), "{text}");

    if !ffmpeg_available() {
        return;
    }
    // ffmpeg agrees that the source is within the ceiling.
    let source_tp = ffmpeg_true_peak_dbtp(dir.path(), "master.wav");
    assert!(source_tp <= CEILING_DBTP + 0.05, "source {source_tp}");
    // lathe's MP3 stream, decoded by ffmpeg: over the ceiling by about what lathe found,
    // and delayed by exactly the delay lathe removes.
    let master = read_f32_wav(&dir.path().join("master.wav"));
    let planes: Vec<&[f32]> = master.iter().map(Vec::as_slice).collect();
    let (stream, delay_frames) = mp3_stream(&planes);
    std::fs::write(dir.path().join("lathe.mp3"), stream).expect("write mp3");
    let tp = ffmpeg_true_peak_dbtp(dir.path(), "lathe.mp3");
    assert!(
        tp > CEILING_DBTP,
        "ffmpeg measures lathe's MP3 at {tp} dBTP"
    );
    assert!(
        (tp - lathe_tp[1]).abs() < 0.3,
        "ffmpeg {tp} dBTP, lathe {} dBTP",
        lathe_tp[1]
    );
    ffmpeg_encode(
        dir.path(),
        "lathe.mp3",
        &["-c:a", "pcm_f32le"],
        "ffmpeg-decoded.wav",
    );
    let decoded = read_f32_wav(&dir.path().join("ffmpeg-decoded.wav"));
    let lag = best_lag(&master[0], &decoded[0], delay_frames, 200);
    assert!(
        lag.abs_diff(delay_frames) <= 1,
        "ffmpeg's decode is {lag} frames late, lathe removes {delay_frames}"
    );
    // ffmpeg's own Opus encode (libopus) and decoder see the overshoot too.
    ffmpeg_encode(
        dir.path(),
        "master.wav",
        &["-c:a", "libopus", "-b:a", "128k"],
        "ff.opus",
    );
    let tp = ffmpeg_true_peak_dbtp(dir.path(), "ff.opus");
    assert!(
        tp > CEILING_DBTP,
        "ffmpeg measures its Opus encode at {tp} dBTP"
    );
}

/// `music_like` mastered loud by lathe's own true-peak limiter at -1 dBTP (an album at
/// -5.5 LUFS), delivered as `lim/master.wav`.
fn limited_by_lathe(dir: &std::path::Path) {
    write_wav_f32(
        &dir.join("master.wav"),
        RATE_HZ,
        &music_like(RATE_HZ as usize * 6),
    );
    let graph = r#"(nodes: [(id: "limit", kind: "limiter", params: {"ceiling_dbtp": -1.0})],
        links: ["in -> limit -> out"])"#;
    let preset = r#"(name: "loud", description: "loud", target_lufs: Some(-5.5),
        tolerance_lu: 2.0, ceiling_dbtp: -1.0, sample_rate_hz: None, bits: 24, shaping: "none")"#;
    std::fs::write(dir.join("limit.ron"), graph).expect("graph");
    std::fs::write(dir.join("loud.ron"), preset).expect("preset");
    let out = lathe_in(
        dir,
        &[
            "album",
            "limit.ron",
            "master.wav",
            "-o",
            "lim",
            "--preset",
            "loud.ron",
            "-q",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[test]
fn a_minus_1_dbtp_master_overshoots_through_aac() {
    let dir = tempfile::tempdir().expect("temp dir");
    let check = lathe_in(
        dir.path(),
        &["codec-check", "nothing.wav", "--codec", "aac:256"],
    );
    if aac_missing(&check) {
        return;
    }
    limited_by_lathe(dir.path());
    let out = lathe_in(
        dir.path(),
        &[
            "codec-check",
            "lim/master.wav",
            "--codec",
            "aac:256",
            "--json",
        ],
    );
    if aac_missing(&out) {
        return;
    }
    eprintln!("DEBUG {}", stdout(&out));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("JSON");
    let file = &report["files"][0];
    assert!(file["source_true_peak_dbtp"].as_f64().expect("source TP") <= CEILING_DBTP);
    let codec = &file["codecs"][0];
    assert_eq!(codec["codec"], "aac:256");
    let lathe_tp = codec["true_peak_dbtp"].as_f64().expect("decoded TP");
    assert!(lathe_tp > CEILING_DBTP, "{codec}");
    assert_eq!(codec["exceeds_ceiling"], true);
    assert!(codec["overs_ceiling"]["count"].as_u64().expect("count") > 0);
    assert!(codec["loudness_change_lu"].as_f64().expect("change").abs() < 1.0);

    // A rate mono cannot carry is a usage error naming the rates it can.
    let mono: Vec<Vec<f32>> = vec![limited_master(RATE_HZ as usize).swap_remove(0)];
    write_wav_f32(&dir.path().join("mono.wav"), RATE_HZ, &mono);
    assert_usage_error(
        dir.path(),
        &["codec-check", "mono.wav", "--codec", "aac:320"],
        &[
            "aac:320",
            "1 channel(s) at 48000 Hz",
            "allowed kbps here: 12 ..= 288",
        ],
    );

    if !ffmpeg_available() {
        return;
    }
    // lathe's AAC stream as an ADTS file, decoded by ffmpeg's own (native, float) AAC
    // decoder: over the ceiling by what lathe found, within 0.2 dB (two decoders and two
    // true-peak meters), and delayed by exactly the priming lathe removes.
    let master = read_f32_wav(&dir.path().join("lim/master.wav"));
    let planes: Vec<&[f32]> = master.iter().map(Vec::as_slice).collect();
    let (stream, delay_frames) = aac_adts_stream("aac:256", &planes);
    std::fs::write(dir.path().join("lathe.aac"), stream).expect("write aac");
    let tp = ffmpeg_true_peak_dbtp(dir.path(), "lathe.aac");
    assert!(
        tp > CEILING_DBTP,
        "ffmpeg measures lathe's AAC at {tp} dBTP"
    );
    assert!(
        (tp - lathe_tp).abs() < 0.2,
        "ffmpeg {tp} dBTP, lathe {lathe_tp} dBTP"
    );
    ffmpeg_encode(
        dir.path(),
        "lathe.aac",
        &["-c:a", "pcm_f32le"],
        "ffmpeg-decoded.wav",
    );
    let decoded = read_f32_wav(&dir.path().join("ffmpeg-decoded.wav"));
    let lag = best_lag(&master[0], &decoded[0], delay_frames, 200);
    assert!(
        lag.abs_diff(delay_frames) <= 1,
        "ffmpeg's decode is {lag} frames late, lathe removes {delay_frames}"
    );
    assert!(decoded[0].len() >= master[0].len() + delay_frames);
}

#[test]
fn a_wrong_libfdk_aac_path_is_named_with_the_way_to_install_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_lathe"))
        .args(["codec-check", "a.wav", "--codec", "aac:256"])
        .current_dir(dir.path())
        .env("LATHE_FDK_AAC", dir.path().join("no-such-libfdk-aac.so.2"))
        .output()
        .expect("the lathe binary runs");
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    for needle in [
        "libfdk-aac is not installed",
        "no-such-libfdk-aac.so.2 (named by LATHE_FDK_AAC",
        "scripts/build-fdk-aac.sh",
        "libfdk-aac2",
    ] {
        assert!(err.contains(needle), "`{needle}` not in: {err}");
    }
}

#[test]
fn a_quiet_file_passes_with_exit_0() {
    let dir = tempfile::tempdir().expect("temp dir");
    let quiet: Vec<Vec<f32>> = limited_master(RATE_HZ as usize)
        .into_iter()
        .map(|c| c.into_iter().map(|s| s * 0.25).collect())
        .collect();
    write_wav_f32(&dir.path().join("quiet.wav"), RATE_HZ, &quiet);
    let out = lathe_in(
        dir.path(),
        &["codec-check", "quiet.wav", "--codec", "mp3:320"],
    );
    if out.status.code() == Some(2)
        && stderr(&out).contains("is not installed")
        && !codecs_required()
    {
        eprintln!("notice: skipping: {}", stderr(&out));
        return;
    }
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("0 decode(s) over"),
        "{}",
        stdout(&out)
    );

    // --plot draws the decoded true peak over time; a missing folder is refused first.
    let plotted = lathe_in(
        dir.path(),
        &[
            "codec-check",
            "quiet.wav",
            "--codec",
            "opus:64",
            "--plot",
            "peaks.png",
        ],
    );
    assert_eq!(plotted.status.code(), Some(0), "{}", stderr(&plotted));
    let png = std::fs::read(dir.path().join("peaks.png")).expect("the plot");
    assert!(png.starts_with(b"\x89PNG"), "not a PNG");
    assert_usage_error(
        dir.path(),
        &["codec-check", "quiet.wav", "--plot", "nowhere/p.png"],
        &["folder `nowhere` does not exist"],
    );
}

#[test]
fn bad_codec_specs_are_usage_errors_naming_the_allowed_values() {
    let dir = tempfile::tempdir().expect("temp dir");
    write_wav_f32(
        &dir.path().join("a.wav"),
        RATE_HZ,
        &[vec![0.0; 480], vec![0.0; 480]],
    );
    let run = |codec: &str, needles: &[&str]| {
        assert_usage_error(
            dir.path(),
            &["codec-check", "a.wav", "--codec", codec],
            needles,
        )
    };
    run("flac:128", &["unknown codec `flac`", "opus, mp3 and aac"]);
    run("mp3:300", &["bitrate `300`", "32, 40, 48", "256, 320"]);
    run("opus:9000", &["6 ..= 510"]);
    run("opus:128:abr", &["cbr and vbr"]);
    run("aac:400", &["bitrate `400`", "aac", "8 ..= 320"]);
    run("aac:256:abr", &["cbr and vbr"]);
    assert_usage_error(
        dir.path(),
        &["codec-check", "a.wav", "--ceiling-dbtp", "3"],
        &["-20.0 ..= 0.0"],
    );
}
