//! What the mix is matched to: one reference, or the weighted average of several, each
//! brought to 0 LUFS first so that a loud reference weighs no more than a quiet one.

use lathe_nodes::dsp::analysis::FileAnalysis;

use super::curve::{Spectra, spectra};
use crate::audio_io::Audio;
use crate::plot::spectrum::third_octave_db;

/// One reference file, measured, with its weight in the average.
pub struct Reference<'a> {
    pub audio: &'a Audio,
    pub analysis: &'a FileAnalysis,
    pub weight: f64,
}

/// The reference curves, loudness-normalised (levels relative to the file's integrated
/// loudness) and averaged.
#[derive(Debug, Clone)]
pub struct Target {
    /// Weighted mean integrated loudness of the references.
    pub integrated_lufs: f64,
    /// Weighted mean PLR and LRA of the references (where measured).
    pub plr_db: Option<f64>,
    pub loudness_range_lu: Option<f64>,
    /// Smoothed spectrum on the fit grid, dB relative to the integrated loudness.
    pub curve: Spectra,
    /// 1/3-octave levels (the `compare` bands), dB relative to the integrated loudness.
    pub third_octave_db: Vec<Option<f64>>,
    /// Weighted standard deviation of the references' normalised 1/3-octave levels, per
    /// band (several references only): how far they disagree.
    pub spread_db: Option<Vec<Option<f64>>>,
}

/// Weighted mean and standard deviation of the values present.
fn weighted(values: impl Iterator<Item = (Option<f64>, f64)>) -> Option<(f64, f64)> {
    let present: Vec<(f64, f64)> = values.filter_map(|(v, w)| Some((v?, w))).collect();
    let total: f64 = present.iter().map(|p| p.1).sum();
    if present.is_empty() || total <= 0.0 {
        return None;
    }
    let mean = present.iter().map(|(v, w)| v * w).sum::<f64>() / total;
    let var = present
        .iter()
        .map(|(v, w)| w * (v - mean).powi(2))
        .sum::<f64>()
        / total;
    Some((mean, var.sqrt()))
}

/// Averages per index of several curves of equal length.
fn average_curves(curves: &[(Vec<Option<f64>>, f64)]) -> (Vec<Option<f64>>, Vec<Option<f64>>) {
    let len = curves.first().map_or(0, |c| c.0.len());
    (0..len)
        .map(|i| {
            let s = weighted(curves.iter().map(|(c, w)| (c[i], *w)));
            (s.map(|s| s.0), s.map(|s| s.1))
        })
        .unzip()
}

/// Builds the target from references with a measurable loudness (the caller refuses
/// the others), at `smoothing_octaves`.
pub fn target(references: &[Reference<'_>], smoothing_octaves: f64) -> Option<Target> {
    let lufs = |r: &Reference<'_>| r.analysis.integrated_lufs;
    let (integrated_lufs, _) = weighted(references.iter().map(|r| (lufs(r), r.weight)))?;
    let plr_db = weighted(references.iter().map(|r| (r.analysis.plr_db, r.weight))).map(|s| s.0);
    let loudness_range_lu = weighted(
        references
            .iter()
            .map(|r| (r.analysis.loudness_range_lu, r.weight)),
    )
    .map(|s| s.0);
    let normalise = |curve: Vec<Option<f64>>, l: f64| -> Vec<Option<f64>> {
        curve.into_iter().map(|v| v.map(|v| v - l)).collect()
    };
    let mut curves = Vec::new();
    let mut widths = Vec::new();
    let mut bands = Vec::new();
    let mut grid = Vec::new();
    for r in references {
        let l = lufs(r)?;
        let s = spectra(r.audio, smoothing_octaves);
        grid = s.grid_hz.clone();
        curves.push((normalise(s.mean_db, l), r.weight));
        if let Some(w) = s.side_minus_mid_db {
            widths.push((w, r.weight));
        }
        bands.push((normalise(third_octave_db(r.audio), l), r.weight));
    }
    let (mean_db, _) = average_curves(&curves);
    // Width is matched only if every reference is stereo.
    let side_minus_mid_db = (widths.len() == references.len()).then(|| average_curves(&widths).0);
    let (third_octave_db, spread) = average_curves(&bands);
    Some(Target {
        integrated_lufs,
        plr_db,
        loudness_range_lu,
        curve: Spectra {
            grid_hz: grid,
            mean_db,
            side_minus_mid_db,
        },
        third_octave_db,
        spread_db: (references.len() > 1).then_some(spread),
    })
}
