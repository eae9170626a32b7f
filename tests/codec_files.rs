//! Lossy delivery files from lathe's own Ogg Opus and MP3 writers, checked with ffmpeg
//! and ffprobe as the independent decoder and tag reader:
//! - `lathe render ... -o x.opus / x.mp3`: ffmpeg decodes both to exactly the source
//!   length, aligned with it within one sample, and reads `R128_TRACK_GAIN` /
//!   `REPLAYGAIN_TRACK_*` equal to the gain computed by hand from the loudness;
//! - `lathe album --format opus|mp3|flac`: every track carries the album gain computed
//!   by hand from the album's loudness (within 0.01 dB), and `--platforms` previews every
//!   platform per track and for the album, as computed by hand;
//! - `render -o x.m4a` and `album --format m4a --codec aac:192`: AAC in MP4 that lathe
//!   decodes to exactly the source length and ffmpeg to the source plus at most one
//!   access unit's padding (it ignores the end of the edit list), both aligned with the
//!   source within one sample (the edit list removes the encoder delay), with ReplayGain
//!   2.0 track and album tags ffprobe reads, at the bitrate asked for;
//! - bad format, bitrate and rate combinations exit 2 naming the allowed values.
//!
//! Skips where libopus, LAME, libfdk-aac or ffmpeg are missing, unless
//! LATHE_REQUIRE_CODECS=1 / LATHE_REQUIRE_AAC=1 / LATHE_REQUIRE_FFMPEG=1.

mod codec_support;
mod common;

use std::path::Path;
use std::process::Command;

use codec_support::{
    aac_missing, best_lag, codecs_required, ffmpeg_available, ffmpeg_encode, read_f32_wav,
};
use common::{assert_usage_error, lathe_in, lathe_ok, stderr, write_wav_f32, xorshift32};

const GRAPH: &str = r#"(
    nodes: [(id: "limit", kind: "limiter", params: {"ceiling_dbtp": -1.0})],
    links: ["in -> limit -> out"],
)"#;

/// A music-like stereo signal: tones, a slow envelope and noise, so cross-correlation
/// has one clear peak.
fn track(frames: usize, level: f32, seed: u32) -> Vec<Vec<f32>> {
    let mut s = seed;
    (0..2)
        .map(|c| {
            (0..frames)
                .map(|i| {
                    let white = (xorshift32(&mut s) as f32 / u32::MAX as f32) * 2.0 - 1.0;
                    let env = 0.6 + 0.4 * (i as f32 * 0.0003).sin();
                    level
                        * env
                        * (0.3 * white
                            + 0.5 * (i as f32 * (0.031 + 0.002 * c as f32)).sin()
                            + 0.2 * (i as f32 * 0.2).sin())
                })
                .collect()
        })
        .collect()
}

/// Whether the codec libraries are here; prints the skip notice when not.
fn codecs_here(dir: &Path) -> bool {
    let probe = lathe_in(
        dir,
        &["codec-check", "a.wav", "--codec", "opus:128,mp3:320"],
    );
    if probe.status.code() == Some(2) && stderr(&probe).contains("is not installed") {
        assert!(!codecs_required(), "{}", stderr(&probe));
        eprintln!("notice: skipping: {}", stderr(&probe));
        return false;
    }
    true
}

/// The tags ffprobe reads from `file`: the container's and the audio stream's together
/// (Ogg keeps the Opus comments on the stream).
fn ffprobe_tags(dir: &Path, file: &str) -> serde_json::Map<String, serde_json::Value> {
    let probe = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "format_tags:stream_tags",
            "-of",
            "json",
            file,
        ])
        .current_dir(dir)
        .output()
        .expect("ffprobe runs");
    let v: serde_json::Value = serde_json::from_slice(&probe.stdout).expect("ffprobe JSON");
    let mut tags = serde_json::Map::new();
    for t in [&v["format"]["tags"], &v["streams"][0]["tags"]] {
        if let Some(map) = t.as_object() {
            for (k, val) in map {
                tags.insert(k.to_ascii_uppercase(), val.clone());
            }
        }
    }
    tags
}

fn tag<'a>(tags: &'a serde_json::Map<String, serde_json::Value>, name: &str) -> &'a str {
    tags.get(name)
        .and_then(|v| v.as_str())
        .unwrap_or_else(|| panic!("no {name} tag in {tags:?}"))
}

fn replaygain_db(text: &str) -> f64 {
    text.trim_end_matches(" dB")
        .parse()
        .expect("a ReplayGain value")
}

/// A Q7.8 R128 gain, in dB.
fn r128_db(text: &str) -> f64 {
    f64::from(text.parse::<i16>().expect("a Q7.8 integer")) / 256.0
}

/// lathe's integrated loudness of `files` as JSON: (each file's, the album's).
fn analyze(dir: &Path, files: &[&str]) -> (Vec<f64>, f64) {
    let mut args = vec!["analyze", "--json"];
    args.extend(files);
    let out = lathe_ok(dir, &args);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("analyze JSON");
    let each = (v["files"].as_array().expect("files").iter())
        .map(|f| f["integrated_lufs"].as_f64().expect("loudness"))
        .collect();
    (each, v["album"]["integrated_lufs"].as_f64().expect("album"))
}

/// ffmpeg's decode of `file` as 32-bit float planes.
fn ffmpeg_decode(dir: &Path, file: &str) -> Vec<Vec<f32>> {
    let out = format!("{file}.decoded.wav");
    ffmpeg_encode(dir, file, &["-c:a", "pcm_f32le"], &out);
    read_f32_wav(&dir.join(out))
}

/// Asserts `decoded` is as long as `source` and lines up with it within one sample, in
/// either direction.
fn assert_aligned(what: &str, source: &[Vec<f32>], decoded: &[Vec<f32>]) {
    assert_eq!(decoded.len(), source.len(), "{what}: channels");
    assert_eq!(decoded[0].len(), source[0].len(), "{what}: decoded length");
    let late = best_lag(&source[0], &decoded[0], 0, 40);
    let early = best_lag(&decoded[0], &source[0], 0, 40);
    assert!(
        late <= 1 && early <= 1,
        "{what}: {late} late, {early} early"
    );
}

#[test]
fn render_writes_opus_and_mp3_that_decode_to_the_source_length_with_loudness_tags() {
    if !ffmpeg_available() {
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    write_wav_f32(&d.join("a.wav"), 48_000, &track(48_000 * 3 + 321, 0.5, 7));
    std::fs::write(d.join("g.ron"), GRAPH).expect("graph");
    if !codecs_here(d) {
        return;
    }
    // The same render as float WAV: the samples the encoders were given.
    lathe_ok(
        d,
        &[
            "render", "g.ron", "a.wav", "-o", "ref.wav", "--bits", "32f", "-q",
        ],
    );
    lathe_ok(d, &["render", "g.ron", "a.wav", "-o", "a.opus", "-q"]);
    lathe_ok(
        d,
        &[
            "render", "g.ron", "a.wav", "-o", "a.mp3", "--codec", "mp3:256", "-q",
        ],
    );
    let source = read_f32_wav(&d.join("ref.wav"));
    let (lufs, _) = analyze(d, &["ref.wav"]);
    let lufs = lufs[0];

    let opus = ffprobe_tags(d, "a.opus");
    let gain = r128_db(tag(&opus, "R128_TRACK_GAIN"));
    assert!(
        (gain - (-23.0 - lufs)).abs() <= 0.01,
        "R128_TRACK_GAIN {gain} dB for {lufs} LUFS"
    );
    assert!(
        !opus.contains_key("R128_ALBUM_GAIN"),
        "a render is no album"
    );
    assert!(
        !opus.keys().any(|k| k.starts_with("REPLAYGAIN")),
        "RFC 7845: no ReplayGain fields in Opus: {opus:?}"
    );
    assert_aligned("opus", &source, &ffmpeg_decode(d, "a.opus"));

    let mp3 = ffprobe_tags(d, "a.mp3");
    let gain = replaygain_db(tag(&mp3, "REPLAYGAIN_TRACK_GAIN"));
    assert!(
        (gain - (-18.0 - lufs)).abs() <= 0.011,
        "REPLAYGAIN_TRACK_GAIN {gain} dB for {lufs} LUFS"
    );
    let peak: f64 = tag(&mp3, "REPLAYGAIN_TRACK_PEAK").parse().expect("peak");
    assert!(
        peak > 0.3 && peak <= 10f64.powf(-0.95 / 20.0),
        "peak {peak}"
    );
    assert_aligned("mp3", &source, &ffmpeg_decode(d, "a.mp3"));
    // The bitrate asked for: 256 kbps CBR.
    assert_eq!(ffprobe_bit_rate(d, "a.mp3"), 256_000.0);
}

#[test]
fn album_files_carry_the_album_gain_and_the_report_previews_the_platforms() {
    if !ffmpeg_available() {
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    // 44.1 kHz tracks of different loudness: Opus delivery resamples them to 48 kHz.
    write_wav_f32(&d.join("a.wav"), 44_100, &track(44_100 * 3, 0.5, 3));
    write_wav_f32(&d.join("b.wav"), 44_100, &track(44_100 * 2 + 99, 0.12, 5));
    std::fs::write(d.join("g.ron"), GRAPH).expect("graph");
    if !codecs_here(d) {
        return;
    }
    let album = |format: &str| {
        lathe_ok(
            d,
            &[
                "album",
                "g.ron",
                "a.wav",
                "b.wav",
                "-o",
                format,
                "--format",
                format,
                "--target-lufs",
                "-12",
                "--platforms",
                "--report",
                &format!("{format}.json"),
            ],
        )
    };
    let text = album("flac");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("flac.json")).expect("report"))
            .expect("JSON");
    let album_lufs = report["album_after"]["integrated_lufs"]
        .as_f64()
        .expect("album loudness");
    // By hand, independently: lathe analyze of the delivered files as one programme.
    let (each, analyzed_album) = analyze(d, &["flac/a.flac", "flac/b.flac"]);
    assert!((analyzed_album - album_lufs).abs() <= 0.006);
    assert!((each[0] - each[1]).abs() > 3.0, "tracks differ: {each:?}");
    for (k, file) in ["flac/a.flac", "flac/b.flac"].iter().enumerate() {
        let tags = ffprobe_tags(d, file);
        let album_gain = replaygain_db(tag(&tags, "REPLAYGAIN_ALBUM_GAIN"));
        assert!(
            (album_gain - (-18.0 - analyzed_album)).abs() <= 0.01,
            "{file}: album gain {album_gain} for {analyzed_album} LUFS"
        );
        let track_gain = replaygain_db(tag(&tags, "REPLAYGAIN_TRACK_GAIN"));
        assert!((track_gain - (-18.0 - each[k])).abs() <= 0.01, "{file}");
        let peak: f64 = tag(&tags, "REPLAYGAIN_ALBUM_PEAK").parse().expect("peak");
        let tp = report["album_after"]["true_peak_dbtp"]
            .as_f64()
            .expect("tp");
        assert!(
            (peak - 10f64.powf(tp / 20.0)).abs() < 1e-5,
            "{file}: {peak}"
        );
    }

    // The platform preview, per track and for the album, against the rule by hand: a
    // master louder than a platform's target is turned down by the difference.
    let stdout = String::from_utf8_lossy(&text.stdout).into_owned();
    assert!(
        stdout.contains("album (one programme): on streaming platforms"),
        "{stdout}"
    );
    let mut checked = 0;
    let previews = (report["tracks"].as_array().expect("tracks").iter())
        .map(|t| (&t["platforms"], t["after"]["integrated_lufs"].as_f64()))
        .chain([(&report["album_platforms"], Some(album_lufs))]);
    for (list, lufs) in previews {
        let lufs = lufs.expect("loudness");
        let list = list.as_array().expect("a platform preview");
        assert_eq!(list.len(), 8, "every platform of presets/platforms.ron");
        for p in list {
            let target = p["target_lufs"].as_f64().expect("target");
            if target < lufs {
                let gain = p["gain_db"].as_f64().expect("gain");
                assert!((gain - (target - lufs)).abs() <= 0.006, "{p} for {lufs}");
                checked += 1;
            }
        }
    }
    assert!(checked >= 8, "{checked} previews checked");

    for format in ["opus", "mp3"] {
        album(format);
        let r: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(d.join(format!("{format}.json"))).expect("report"),
        )
        .expect("JSON");
        let album_lufs = r["album_after"]["integrated_lufs"].as_f64().expect("album");
        for (k, name) in ["a", "b"].iter().enumerate() {
            let file = format!("{format}/{name}.{format}");
            let tags = ffprobe_tags(d, &file);
            let track_lufs = r["tracks"][k]["after"]["integrated_lufs"]
                .as_f64()
                .expect("track");
            if format == "opus" {
                let album_gain = r128_db(tag(&tags, "R128_ALBUM_GAIN"));
                assert!(
                    (album_gain - (-23.0 - album_lufs)).abs() <= 0.01,
                    "{file}: {album_gain} for {album_lufs} LUFS"
                );
                let track_gain = r128_db(tag(&tags, "R128_TRACK_GAIN"));
                assert!((track_gain - (-23.0 - track_lufs)).abs() <= 0.01, "{file}");
                // Delivered at 48 kHz: ffmpeg decodes exactly the delivered length.
                let frames = (r["tracks"][k]["after"]["duration_s"].as_f64().expect("s") * 48_000.0)
                    .round() as usize;
                assert_eq!(ffmpeg_decode(d, &file)[0].len(), frames, "{file}");
            } else {
                let album_gain = replaygain_db(tag(&tags, "REPLAYGAIN_ALBUM_GAIN"));
                assert!(
                    (album_gain - (-18.0 - album_lufs)).abs() <= 0.006,
                    "{file}: {album_gain} for {album_lufs} LUFS"
                );
            }
        }
    }
}

/// The stream's bit rate as ffprobe reads it, in bits per second.
fn ffprobe_bit_rate(dir: &Path, file: &str) -> f64 {
    let probe = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "stream=bit_rate",
            "-of",
            "csv=p=0",
            file,
        ])
        .current_dir(dir)
        .output()
        .expect("ffprobe runs");
    let text = String::from_utf8_lossy(&probe.stdout);
    text.trim()
        .trim_end_matches(',')
        .parse()
        .unwrap_or_else(|_| panic!("{file}: bit rate `{text}`"))
}

#[test]
fn aac_in_m4a_from_render_and_album_decodes_aligned_with_replaygain_tags() {
    if !ffmpeg_available() {
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    write_wav_f32(&d.join("a.wav"), 48_000, &track(48_000 * 3 + 321, 0.5, 7));
    // The album is at 44.1 kHz, a rate AAC codes as it is.
    write_wav_f32(&d.join("c.wav"), 44_100, &track(44_100 * 3, 0.5, 3));
    write_wav_f32(&d.join("b.wav"), 44_100, &track(44_100 * 2 + 99, 0.12, 5));
    std::fs::write(d.join("g.ron"), GRAPH).expect("graph");
    let unity = r#"(nodes: [(id: "g", kind: "gain", params: {"gain_db": 0.0})], links: ["in -> g -> out"])"#;
    std::fs::write(d.join("unity.ron"), unity).expect("graph");
    let render = lathe_in(d, &["render", "g.ron", "a.wav", "-o", "a.m4a", "-q"]);
    if aac_missing(&render) {
        return;
    }
    assert_eq!(render.status.code(), Some(0), "{}", stderr(&render));
    lathe_ok(
        d,
        &[
            "render", "g.ron", "a.wav", "-o", "ref.wav", "--bits", "32f", "-q",
        ],
    );
    let source = read_f32_wav(&d.join("ref.wav"));
    let (lufs, _) = analyze(d, &["ref.wav"]);

    let tags = ffprobe_tags(d, "a.m4a");
    let gain = replaygain_db(tag(&tags, "REPLAYGAIN_TRACK_GAIN"));
    assert!(
        (gain - (-18.0 - lufs[0])).abs() <= 0.011,
        "REPLAYGAIN_TRACK_GAIN {gain} dB for {} LUFS",
        lufs[0]
    );
    assert!(
        !tags.contains_key("REPLAYGAIN_ALBUM_GAIN"),
        "a render is no album"
    );
    // The delivery default, aac:256 CBR, within 1 %.
    let rate = ffprobe_bit_rate(d, "a.m4a");
    assert!((rate / 256_000.0 - 1.0).abs() < 0.01, "bit rate {rate}");
    // ffmpeg (5.1) honours the start of the edit list, not its end: it plays on through
    // the encoder's padding of the last access unit. lathe's own reader stops at the end.
    let mut decoded = ffmpeg_decode(d, "a.m4a");
    let padding = decoded[0].len() - source[0].len();
    assert!(padding < 1024, "{padding} frames after the source");
    for channel in &mut decoded {
        channel.truncate(source[0].len());
    }
    assert_aligned("m4a in ffmpeg", &source, &decoded);
    lathe_ok(
        d,
        &[
            "render",
            "unity.ron",
            "a.m4a",
            "-o",
            "back.wav",
            "--bits",
            "32f",
            "-q",
        ],
    );
    assert_aligned("m4a in lathe", &source, &read_f32_wav(&d.join("back.wav")));

    lathe_ok(
        d,
        &[
            "album",
            "g.ron",
            "c.wav",
            "b.wav",
            "-o",
            "m4a",
            "--format",
            "m4a",
            "--codec",
            "aac:192",
            "--target-lufs",
            "-12",
            "--report",
            "m4a.json",
        ],
    );
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("m4a.json")).expect("report"))
            .expect("JSON");
    assert_eq!(r["codec"], "aac:192");
    let album_lufs = r["album_after"]["integrated_lufs"].as_f64().expect("album");
    for (k, name) in ["c", "b"].iter().enumerate() {
        let file = format!("m4a/{name}.m4a");
        let tags = ffprobe_tags(d, &file);
        let album_gain = replaygain_db(tag(&tags, "REPLAYGAIN_ALBUM_GAIN"));
        assert!(
            (album_gain - (-18.0 - album_lufs)).abs() <= 0.006,
            "{file}: {album_gain} for {album_lufs} LUFS"
        );
        let track_lufs = r["tracks"][k]["after"]["integrated_lufs"]
            .as_f64()
            .expect("track");
        let track_gain = replaygain_db(tag(&tags, "REPLAYGAIN_TRACK_GAIN"));
        assert!((track_gain - (-18.0 - track_lufs)).abs() <= 0.006, "{file}");
        let rate = ffprobe_bit_rate(d, &file);
        assert!((rate / 192_000.0 - 1.0).abs() < 0.02, "{file}: {rate}");
        // Delivered at the source rate (AAC codes 44.1 kHz): its length, plus in ffmpeg
        // the padding of the last access unit.
        let frames = (r["tracks"][k]["after"]["duration_s"].as_f64().expect("s") * 44_100.0).round()
            as usize;
        let decoded = ffmpeg_decode(d, &file)[0].len();
        assert!(
            decoded >= frames && decoded < frames + 1024,
            "{file}: {decoded} frames"
        );
    }
}

#[test]
fn bad_lossy_combinations_exit_2_naming_the_allowed_values() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    write_wav_f32(&d.join("a.wav"), 48_000, &track(4800, 0.5, 1));
    write_wav_f32(&d.join("cd.wav"), 44_100, &track(4410, 0.5, 1));
    std::fs::write(d.join("g.ron"), GRAPH).expect("graph");
    let render = |extra: &[&str], needles: &[&str]| {
        let mut args = vec!["render", "g.ron"];
        args.extend(extra);
        assert_usage_error(d, &args, needles);
    };
    render(
        &["a.wav", "-o", "x.opus", "--bits", "24"],
        &["--bits 24", "no --bits, or 32f"],
    );
    render(
        &["a.wav", "-o", "x.mp3", "--codec", "opus:128"],
        &["a .mp3 file is mp3", "32, 40, 48"],
    );
    render(
        &["a.wav", "-o", "x.opus", "--codec", "opus:900"],
        &["bitrate `900`", "6 ..= 510"],
    );
    render(
        &["a.wav", "-o", "x.mp3", "--codec", "mp3:300"],
        &["bitrate `300`", "256, 320"],
    );
    render(
        &["a.wav", "-o", "x.wav", "--codec", "mp3:320"],
        &["no output is one"],
    );
    render(
        &["a.wav", "-o", "x.opus", "--plot", "p.png"],
        &["reads no Opus", "x.opus"],
    );
    render(
        &["cd.wav", "-o", "x.opus"],
        &["8000, 12000, 16000, 24000, 48000 Hz", "44100 Hz"],
    );
    assert_usage_error(
        d,
        &[
            "album", "g.ron", "a.wav", "-o", "out", "--format", "opus", "--preset", "cd",
        ],
        &["44100 Hz", "8000, 12000, 16000, 24000, 48000 Hz"],
    );
    assert_usage_error(
        d,
        &[
            "album", "g.ron", "a.wav", "-o", "out", "--format", "opus", "--plot", "p.png",
        ],
        &["reads no Opus"],
    );
    assert_usage_error(
        d,
        &[
            "album", "g.ron", "a.wav", "-o", "out", "--format", "m4a", "--codec", "opus:128",
        ],
        &["--format m4a is coded with aac", "aac:KBPS (8 ..= 320)"],
    );
    assert_usage_error(
        d,
        &[
            "album", "g.ron", "a.wav", "-o", "out", "--format", "flac", "--codec", "aac:256",
        ],
        &["lossy --format (opus, mp3, m4a)", "--format is flac"],
    );
    render(
        &["a.wav", "-o", "x.m4a", "--codec", "mp3:320"],
        &["a .m4a file is aac", "8 ..= 320"],
    );
    assert!(!d.join("out").exists(), "no album was delivered");
    for name in ["x.opus", "x.mp3", "x.m4a", "x.wav", "p.png"] {
        assert!(!d.join(name).exists(), "{name} written");
    }
}
