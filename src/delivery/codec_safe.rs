//! Codec-safe delivery: the gain that brings the decoded true peak of every listed codec
//! at or under the delivery ceiling, found by encoding, decoding and measuring.
//!
//! Codecs are close to linear in level, so each pass lowers the gain by the worst
//! decode's excess over [`AIM_BELOW_CEILING_DB`] under the ceiling; a pass is accepted
//! when every decode is at least [`ACCEPT_BELOW_CEILING_DB`] under it (the stated
//! tolerance), and the search gives up after [`MAX_PASSES`] passes.

use lathe_codecs::{CodecSpec, coded_rate_hz, roundtrip};
use lathe_nodes::dsp::bs1770::true_peak::TruePeak;
use serde::Serialize;

use crate::album::resample::resample;
use crate::audio_io::Audio;

/// Where each pass aims: this far under the ceiling.
pub const AIM_BELOW_CEILING_DB: f64 = 0.1;
/// A pass is accepted when every decode is at least this far under the ceiling, which
/// leaves room for dither and for decoders that round differently.
pub const ACCEPT_BELOW_CEILING_DB: f64 = 0.05;
/// Encode-decode passes at most.
pub const MAX_PASSES: usize = 4;

/// One codec's decoded true peak at the chosen gain.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DecodedPeak {
    pub codec: String,
    pub true_peak_dbtp: f64,
}

/// What the search chose.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CodecSafe {
    /// Gain applied on top of the delivery (0 or negative).
    pub gain_db: f64,
    pub passes: usize,
    pub decoded: Vec<DecodedPeak>,
}

/// Decoded true peak of `audio` through `spec`, in dBTP.
pub fn decoded_true_peak_dbtp(audio: &Audio, spec: CodecSpec) -> Result<f64, String> {
    let rate_hz = coded_rate_hz(spec.codec, audio.sample_rate_hz);
    let input = resample(audio, rate_hz)?;
    let planes: Vec<&[f32]> = input.channels.iter().map(Vec::as_slice).collect();
    let decoded = roundtrip(spec, &planes, rate_hz).map_err(|e| e.to_string())?;
    let mut meter = TruePeak::new(decoded.channels.len(), f64::from(rate_hz));
    for (c, channel) in decoded.channels.iter().enumerate() {
        meter.process(c, channel);
    }
    Ok(20.0 * f64::from(meter.max_peak()).max(1e-10).log10())
}

fn scaled(audio: &Audio, gain_db: f64) -> Audio {
    let g = 10f64.powf(gain_db / 20.0) as f32;
    Audio {
        sample_rate_hz: audio.sample_rate_hz,
        channels: audio
            .channels
            .iter()
            .map(|c| c.iter().map(|s| s * g).collect())
            .collect(),
    }
}

/// The gain (0 dB or lower) at which every codec in `codecs` decodes `audio` at or
/// under `ceiling_dbtp`, within the stated tolerance and [`MAX_PASSES`] passes.
pub fn search(audio: &Audio, codecs: &[CodecSpec], ceiling_dbtp: f64) -> Result<CodecSafe, String> {
    search_from(audio, codecs, ceiling_dbtp, 0.0)
}

/// [`search`] starting at `start_gain_db` (0 or lower) instead of 0 dB: the gain found is
/// `start_gain_db` when every codec decodes under the ceiling there (one pass), else lower.
/// An album turns every track down by its loudest decode's need this way.
pub fn search_from(
    audio: &Audio,
    codecs: &[CodecSpec],
    ceiling_dbtp: f64,
    start_gain_db: f64,
) -> Result<CodecSafe, String> {
    let mut gain_db = start_gain_db;
    for pass in 1..=MAX_PASSES {
        let trial = scaled(audio, gain_db);
        let decoded = codecs
            .iter()
            .map(|&spec| {
                decoded_true_peak_dbtp(&trial, spec).map(|tp| DecodedPeak {
                    codec: spec.to_string(),
                    true_peak_dbtp: tp,
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        let worst = decoded
            .iter()
            .map(|d| d.true_peak_dbtp)
            .fold(f64::NEG_INFINITY, f64::max);
        if worst <= ceiling_dbtp - ACCEPT_BELOW_CEILING_DB {
            return Ok(CodecSafe {
                gain_db,
                passes: pass,
                decoded,
            });
        }
        gain_db -= worst - (ceiling_dbtp - AIM_BELOW_CEILING_DB);
    }
    Err(format!(
        "codec-safe: the decoded true peak is still over {ceiling_dbtp:.1} dBTP after {MAX_PASSES} passes (gain {gain_db:+.2} dB)"
    ))
}
