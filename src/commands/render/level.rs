//! Mastering to a loudness: `render --target-lufs X` and `--preset NAME` find the gain
//! into the graph that lands the output's integrated loudness on the target, and the
//! safety gain after it that keeps the true peak under the ceiling.
//!
//! The search is the album's ([`crate::album::plan::GainSearch`], the rule `album
//! --mode track` applies to each track): a chain with compressors and a limiter is not
//! linear in its input gain, so the output is rendered and measured, the gain corrected,
//! and rendered again, at most [`MAX_PASSES`] times. The measuring passes write nothing;
//! the file is written by one more render at the settled gains.

use anyhow::anyhow;

use crate::album::plan::{GainSearch, MAX_PASSES, SETTLE_LU};
use crate::album::preset::{DEFAULT_CEILING_DBTP, Preset};
use crate::audio_io::SampleFormat;
use crate::cli::RenderArgs;
use crate::exit::{CliError, ResultExt};
use crate::report::{Leveling, Measurement};

/// Headroom kept under the ceiling when a safety gain is needed, in dB (as `album`).
const SAFETY_MARGIN_DB: f64 = 0.05;
/// Output bit depth when neither `--bits` nor a preset gives one.
const DEFAULT_BITS: SampleFormat = SampleFormat::Int24;

/// What the render delivers: the loudness target and ceiling (when leveled) and the
/// output sample format.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub preset: Option<String>,
    pub target_lufs: Option<f64>,
    pub ceiling_dbtp: f64,
    pub bits: SampleFormat,
    /// Whether measuring passes run: a target or a preset was given.
    pub leveled: bool,
}

impl Delivery {
    /// `--target-lufs` wins over the preset's target, `--bits` over its bit depth.
    pub fn from_args(args: &RenderArgs) -> Result<Self, CliError> {
        let preset = args
            .preset
            .as_deref()
            .map(Preset::find)
            .transpose()
            .user_fault()?;
        let bits = match (args.bits, &preset) {
            (Some(bits), _) => bits,
            (None, Some(p)) if p.bits == 16 => SampleFormat::Int16,
            (None, Some(_)) => SampleFormat::Int24,
            (None, None) => DEFAULT_BITS,
        };
        Ok(Self {
            target_lufs: args
                .target_lufs
                .or(preset.as_ref().and_then(|p| p.target_lufs)),
            ceiling_dbtp: preset
                .as_ref()
                .map_or(DEFAULT_CEILING_DBTP, |p| p.ceiling_dbtp),
            leveled: args.target_lufs.is_some() || preset.is_some(),
            preset: preset.map(|p| p.name),
            bits,
        })
    }
}

/// Finds the gains: `pass(gain_db)` renders the inputs at that pre-gain and returns the
/// measurement of the (first) output. Without a target the one pass is at 0 dB and only
/// the ceiling is kept.
pub fn find(
    delivery: &Delivery,
    mut pass: impl FnMut(f64) -> Result<Measurement, CliError>,
) -> Result<Leveling, CliError> {
    let at_unity = pass(0.0)?;
    let mut passes = 1;
    let (gain_db, measured) = match (delivery.target_lufs, at_unity.integrated_lufs) {
        (Some(target), Some(unity_lufs)) => {
            // The output at 0 dB is the start: the first correction is exact for a
            // linear chain, and the chain's own gain is already counted.
            let mut search = GainSearch::new(target, Some(unity_lufs));
            let mut last = (0.0, at_unity);
            if search.error(Some(unity_lufs)).abs() > SETTLE_LU {
                loop {
                    let gain = search.gain_db();
                    let measured = pass(gain)?;
                    passes += 1;
                    let settled = search.step(measured.integrated_lufs);
                    last = (gain, measured);
                    if settled || passes > MAX_PASSES {
                        break;
                    }
                }
            }
            last
        }
        _ => (0.0, at_unity),
    };
    let safety_gain_db = match measured.true_peak_dbtp {
        Some(peak) if peak > delivery.ceiling_dbtp - SAFETY_MARGIN_DB / 2.0 => {
            delivery.ceiling_dbtp - SAFETY_MARGIN_DB - peak
        }
        _ => 0.0,
    };
    if !gain_db.is_finite() || !safety_gain_db.is_finite() {
        return Err(CliError::runtime(anyhow!(
            "the loudness search found no finite gain (gain {gain_db} dB, safety {safety_gain_db} dB)"
        )));
    }
    Ok(Leveling {
        preset: delivery.preset.clone(),
        target_lufs: delivery.target_lufs,
        ceiling_dbtp: delivery.ceiling_dbtp,
        gain_db,
        safety_gain_db,
        passes,
    })
}

/// One line for the end of the render: where the output landed against the target.
pub fn summary(leveling: &Leveling, output: Option<&Measurement>) -> String {
    let landed = output.and_then(|m| m.integrated_lufs);
    let peak = output.and_then(|m| m.true_peak_dbtp);
    let figure =
        |v: Option<f64>, unit: &str| v.map_or("n/a".to_string(), |v| format!("{v:.2} {unit}"));
    let mut line = match leveling.target_lufs {
        Some(target) => format!(
            "loudness: target {target:.1} LUFS, gain into the graph {:+.2} dB ({} measuring passes)",
            leveling.gain_db, leveling.passes
        ),
        None => "loudness: no target (the preset keeps the mix's level)".to_string(),
    };
    line.push_str(&format!(
        "; landed at {}, true peak {} (ceiling {:.1} dBTP)",
        figure(landed, "LUFS"),
        figure(peak, "dBTP"),
        leveling.ceiling_dbtp
    ));
    if leveling.safety_gain_db != 0.0 {
        line.push_str(&format!(
            "; safety gain {:+.2} dB after the graph kept the ceiling",
            leveling.safety_gain_db
        ));
    }
    line.push('\n');
    line
}
