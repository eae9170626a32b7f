//! Real encoders (libopus, LAME, libfdk-aac) through `roundtrip`: the decoded signal lines
//! up with the source within one sample (cross-correlation) and is exactly as long. Skips
//! with a notice where a codec library is missing, unless LATHE_REQUIRE_CODECS=1 (libopus,
//! LAME) or LATHE_REQUIRE_AAC=1 (libfdk-aac).

use lathe_codecs::{Codec, CodecError, CodecSpec, roundtrip};

fn require(codec: Codec) -> bool {
    let var = match codec {
        Codec::Aac => "LATHE_REQUIRE_AAC",
        _ => "LATHE_REQUIRE_CODECS",
    };
    std::env::var(var).is_ok_and(|v| v == "1")
}

/// A music-like test signal: a few partials with a slow envelope and noise bursts, so
/// cross-correlation has one clear peak.
fn signal(frames: usize, rate_hz: u32, seed: u32) -> Vec<f32> {
    let mut state = seed;
    (0..frames)
        .map(|i| {
            let t = i as f64 / f64::from(rate_hz);
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            let noise = (state >> 8) as f64 / f64::from(1u32 << 24) - 0.5;
            let env = 0.5 + 0.5 * (2.0 * std::f64::consts::PI * 3.0 * t).sin();
            let tone = (2.0 * std::f64::consts::PI * 440.0 * t).sin() * 0.3
                + (2.0 * std::f64::consts::PI * 1234.5 * t).sin() * 0.15;
            ((tone + noise * 0.3 * env) * 0.8) as f32
        })
        .collect()
}

/// The lag (decoded relative to source) of the cross-correlation's peak within ±`max_lag`.
fn best_lag(source: &[f32], decoded: &[f32], max_lag: i64) -> i64 {
    let n = source.len() as i64;
    (-max_lag..=max_lag)
        .max_by(|&a, &b| {
            let c = |lag: i64| -> f64 {
                (max_lag..n - max_lag)
                    .map(|i| f64::from(source[i as usize]) * f64::from(decoded[(i + lag) as usize]))
                    .sum()
            };
            c(a).total_cmp(&c(b))
        })
        .unwrap_or(0)
}

fn check(spec: &str, rate_hz: u32) {
    let spec: CodecSpec = spec.parse().expect("a valid spec");
    let frames = rate_hz as usize * 2 + 777;
    let left = signal(frames, rate_hz, 1);
    let right = signal(frames, rate_hz, 2);
    let result = match roundtrip(spec, &[&left, &right], rate_hz) {
        Err(e @ CodecError::LibraryMissing { .. }) if !require(spec.codec) => {
            eprintln!("skipping {spec}: {e}");
            return;
        }
        other => other.expect("roundtrip"),
    };
    assert_eq!(result.channels.len(), 2);
    for (source, decoded) in [(&left, &result.channels[0]), (&right, &result.channels[1])] {
        assert_eq!(decoded.len(), source.len(), "{spec}: decoded length");
        let lag = best_lag(source, decoded, 2000);
        assert!(
            lag.abs() <= 1,
            "{spec} at {rate_hz} Hz: decoded is {lag} frames off"
        );
        let mid = frames / 2;
        let err: f64 = (mid..mid + 4800)
            .map(|i| f64::from(source[i] - decoded[i]).powi(2))
            .sum::<f64>();
        let energy: f64 = (mid..mid + 4800)
            .map(|i| f64::from(source[i]).powi(2))
            .sum();
        assert!(
            err < energy * 0.1,
            "{spec}: decoded does not resemble the source"
        );
    }
    assert!(result.encoded_bytes > 0);
}

#[test]
fn opus_decodes_aligned_to_the_sample() {
    check("opus:128", 48_000);
    check("opus:96:cbr", 48_000);
}

#[test]
fn mp3_decodes_aligned_to_the_sample() {
    check("mp3:320", 44_100);
    check("mp3:192:vbr", 48_000);
}

#[test]
fn aac_decodes_aligned_to_the_sample() {
    check("aac:256", 48_000);
    check("aac:128", 44_100);
    check("aac:192:vbr", 48_000);
}
