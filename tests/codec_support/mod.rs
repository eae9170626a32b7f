//! Helpers of the codec tests: ffmpeg as the independent encoder, decoder and true-peak
//! meter, lathe's MP3 stream as a file, and alignment by cross-correlation.

#![allow(dead_code)] // Each test binary uses its own subset of these helpers.

use std::path::Path;
use std::process::{Command, Stdio};

pub const RATE_HZ: u32 = 48_000;

pub fn codecs_required() -> bool {
    std::env::var("LATHE_REQUIRE_CODECS").as_deref() == Ok("1")
}

/// Whether libfdk-aac must be found (LATHE_REQUIRE_AAC=1, set by `.ci/run`).
pub fn aac_required() -> bool {
    std::env::var("LATHE_REQUIRE_AAC").as_deref() == Ok("1")
}

/// Whether a lathe run failed only because libfdk-aac is missing, where that may skip.
pub fn aac_missing(out: &std::process::Output) -> bool {
    let err = String::from_utf8_lossy(&out.stderr);
    let missing = out.status.code() == Some(2) && err.contains("libfdk-aac is not installed");
    if missing {
        assert!(
            !aac_required(),
            "libfdk-aac is required (LATHE_REQUIRE_AAC=1): {err}"
        );
        eprintln!("notice: skipping the AAC checks: {err}");
    }
    missing
}

pub fn ffmpeg_available() -> bool {
    let found = Command::new("ffmpeg")
        .arg("-version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        assert!(
            std::env::var("LATHE_REQUIRE_FFMPEG").as_deref() != Ok("1"),
            "ffmpeg is required (LATHE_REQUIRE_FFMPEG=1) but not installed"
        );
        eprintln!("notice: ffmpeg is not installed; skipping the ffmpeg cross-check");
    }
    found
}

/// ffmpeg's own true-peak meter (ebur128 filter) over `args` (inputs and codecs).
pub fn ffmpeg_true_peak_dbtp(dir: &Path, input: &str) -> f64 {
    let out = Command::new("ffmpeg")
        .args([
            "-hide_banner",
            "-nostats",
            "-i",
            input,
            "-af",
            "ebur128=peak=true",
            "-f",
            "null",
            "-",
        ])
        .current_dir(dir)
        .output()
        .expect("ffmpeg runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "ffmpeg failed: {err}");
    let summary = err
        .rsplit("True peak:")
        .next()
        .expect("a true-peak summary");
    summary
        .lines()
        .find_map(|l| l.trim().strip_prefix("Peak:"))
        .and_then(|v| v.trim().trim_end_matches("dBFS").trim().parse().ok())
        .unwrap_or_else(|| panic!("no peak in ffmpeg's summary: {summary}"))
}

pub fn ffmpeg_encode(dir: &Path, input: &str, codec_args: &[&str], output: &str) {
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-y", "-i", input])
        .args(codec_args)
        .arg(output)
        .current_dir(dir)
        .output()
        .expect("ffmpeg runs");
    assert!(
        out.status.success(),
        "ffmpeg encode: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// lathe's MP3 encoder over `planes`: the frames as one stream, and the encoder's delay
/// plus the MP3 decoder's.
pub fn mp3_stream(planes: &[&[f32]]) -> (Vec<u8>, usize) {
    use lathe_codecs::Encoder;
    let spec: lathe_codecs::CodecSpec = "mp3:320".parse().expect("valid");
    let mut encoder =
        lathe_codecs::mp3::LameEncoder::new(spec, RATE_HZ, planes.len()).expect("LAME");
    let interleaved: Vec<f32> = (0..planes[0].len())
        .flat_map(|i| planes.iter().map(move |p| p[i]))
        .collect();
    let mut packets = Vec::new();
    encoder.encode(&interleaved, &mut packets).expect("encode");
    encoder.finish(&mut packets).expect("flush");
    (
        packets.into_iter().flat_map(|p| p.data).collect(),
        encoder.delay_frames(),
    )
}

/// lathe's AAC encoder over `planes` as an ADTS stream, and the priming frames a decoder
/// of it plays first.
pub fn aac_adts_stream(spec: &str, planes: &[&[f32]]) -> (Vec<u8>, usize) {
    let spec: lathe_codecs::CodecSpec = spec.parse().expect("valid");
    lathe_codecs::adts::encode_stream(spec, planes, RATE_HZ).expect("libfdk-aac")
}

/// Music-like stereo material: odd harmonics of 110 Hz up to 4.2 kHz and noise falling off
/// above 4 kHz. Full-band white noise is more than AAC at 256 kbps can code: FDK leaves out
/// much of its top octaves (ffmpeg measures lathe's decode 4 dB down above 10 kHz and 17 dB
/// down above 17 kHz), so a white-noise master decodes 1.3 LU quieter and under its own
/// peak. This material keeps its energy where AAC codes it, as music does.
pub fn music_like(frames: usize) -> Vec<Vec<f32>> {
    let mut state: u32 = 0x1234_5678;
    let a = (-2.0 * std::f64::consts::PI * 4_000.0 / f64::from(RATE_HZ)).exp();
    (0..2)
        .map(|_| {
            let (mut y1, mut y2) = (0.0, 0.0);
            (0..frames)
                .map(|i| {
                    state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                    let noise = f64::from(state >> 8) / f64::from(1u32 << 23) - 1.0;
                    y1 = a * y1 + (1.0 - a) * noise;
                    y2 = a * y2 + (1.0 - a) * y1;
                    let t = i as f64 / f64::from(RATE_HZ);
                    let tone: f64 = (1..40)
                        .step_by(2)
                        .map(|k| {
                            (2.0 * std::f64::consts::PI * 110.0 * f64::from(k) * t).sin()
                                / f64::from(k)
                        })
                        .sum();
                    (0.25 * (0.6 * tone + 3.0 * y2)) as f32
                })
                .collect()
        })
        .collect()
}

pub fn read_f32_wav(path: &Path) -> Vec<Vec<f32>> {
    let mut reader = hound::WavReader::open(path).expect("a WAV file");
    let spec = reader.spec();
    let channels = usize::from(spec.channels);
    let samples: Vec<f32> = match spec.sample_format {
        hound::SampleFormat::Float => reader
            .samples::<f32>()
            .map(|s| s.expect("a sample"))
            .collect(),
        hound::SampleFormat::Int => {
            let scale = (1u64 << (spec.bits_per_sample - 1)) as f32;
            reader
                .samples::<i32>()
                .map(|s| s.expect("a sample") as f32 / scale)
                .collect()
        }
    };
    (0..channels)
        .map(|c| samples.iter().skip(c).step_by(channels).copied().collect())
        .collect()
}

/// The lag of `decoded` against `source` within `expected ± span` where they correlate best.
pub fn best_lag(source: &[f32], decoded: &[f32], expected: usize, span: usize) -> usize {
    let n = source
        .len()
        .min(decoded.len().saturating_sub(expected + span))
        .min(96_000);
    let corr = |lag: usize| -> f64 {
        (0..n)
            .map(|i| f64::from(source[i]) * f64::from(decoded[i + lag]))
            .sum()
    };
    (expected.saturating_sub(span)..=expected + span)
        .max_by(|&a, &b| corr(a).total_cmp(&corr(b)))
        .unwrap_or(0)
}
