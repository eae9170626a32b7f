//! Reference matching: moves a mix toward one reference or the average of several, in
//! tonal balance (a fitted `eq`), stereo width (side-only bells) and loudness (a `gain`),
//! and says where dynamics stand. The result is a graph file of ordinary nodes
//! ([`chain`]); every aspect is reported as before / after / reference, "after" measured
//! on the mix rendered through that very graph.
//!
//! Steps: smoothed spectra on a log grid ([`curve`]); the reference target, loudness-
//! normalised and averaged ([`target`]); the least-squares fit of bells and shelves to
//! the difference ([`fit`]); a render, a second fit pass on what is left, and the gain
//! that lands the integrated loudness on the reference's.

pub mod chain;
pub mod curve;
pub mod fit;
pub mod target;

use lathe_nodes::dsp::analysis::{FileAnalysis, analyze};
use lathe_nodes::dsp::bs1770::Layout;
use serde::Serialize;

use crate::audio_io::Audio;
use crate::plot::spectrum::{band_centres_hz, third_octave_db};
use chain::Chain;
use fit::{Band, FitLimits, bell_q_for_spacing, fit, layout, rms};
use target::Target;

/// Fit passes: the second fits what the first left on the rendered mix (stereo
/// interplay, loudness gating), which the model of the first cannot see.
pub const FIT_PASSES: usize = 2;
/// Loudness is corrected until it is this close to the target (LU), at most
/// [`MAX_GAIN_STEPS`] renders.
pub const LOUDNESS_TOLERANCE_LU: f64 = 0.02;
pub const MAX_GAIN_STEPS: usize = 4;
/// Width bands: shelves at the ends of [`WIDTH_RANGE_HZ`], bells one per octave between.
pub const WIDTH_BANDS_PER_OCTAVE: f64 = 1.0;
pub const WIDTH_RANGE_HZ: (f64, f64) = (62.5, 16_000.0);
/// A mix whose side is this far below its mid on average is treated as mono: side EQ
/// cannot create width from nothing.
pub const MONO_SIDE_DB: f64 = -40.0;
/// The band range of the tonal-difference figure: 1/3-octave bands 25 Hz to 20 kHz.
pub const TONAL_RANGE_HZ: (f64, f64) = (24.0, 20_500.0);
/// Regions of the width report.
pub const WIDTH_REGIONS_HZ: [(f64, f64); 3] = [(20.0, 250.0), (250.0, 4000.0), (4000.0, 20_000.0)];

/// How far to go, per aspect, and the limits of the fit.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    pub limits: FitLimits,
    pub smoothing_octaves: f64,
    pub eq_strength_pct: f64,
    pub width_strength_pct: f64,
    pub loudness_strength_pct: f64,
}

/// One figure before the match, after it and on the reference.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Aspect {
    pub before: Option<f64>,
    pub after: Option<f64>,
    pub reference: Option<f64>,
}

/// Side minus mid (dB) in one frequency region.
#[derive(Debug, Clone, Serialize)]
pub struct WidthRegion {
    pub low_hz: f64,
    pub high_hz: f64,
    pub side_minus_mid_db: Aspect,
}

/// Everything the match did and measured.
#[derive(Debug, Clone, Serialize)]
pub struct MatchReport {
    pub eq_bands: Vec<Band>,
    /// RMS of the smoothed target the fitted cascade could not follow (the fit's own
    /// measure, on the grid).
    pub fit_residual_rms_db: f64,
    pub eq_bands_at_limit: usize,
    pub width_bands: Vec<Band>,
    /// Why width was not matched, if it was not.
    pub width_skipped: Option<String>,
    pub gain_db: f64,
    pub integrated_lufs: Aspect,
    pub plr_db: Aspect,
    pub loudness_range_lu: Aspect,
    pub true_peak_dbtp: Aspect,
    /// Loudness-matched 1/3-octave difference from the reference, RMS over 25 Hz-20 kHz.
    pub tonal_difference_rms_db: Aspect,
    pub width: Vec<WidthRegion>,
    /// The matched mix's 1/3-octave levels at the reference loudness (for the plot).
    pub matched_bands_db: Vec<Option<f64>>,
    pub dynamics_suggestion: Option<String>,
    #[serde(skip)]
    pub chain: Chain,
}

fn measure(audio: &Audio) -> FileAnalysis {
    let planes: Vec<&[f32]> = audio.channels.iter().map(Vec::as_slice).collect();
    analyze(
        &planes,
        f64::from(audio.sample_rate_hz),
        Layout::for_channels(audio.channel_count()),
    )
}

/// Loudness-normalised 1/3-octave levels of a file.
fn normalised_bands(audio: &Audio, lufs: f64) -> Vec<Option<f64>> {
    third_octave_db(audio)
        .into_iter()
        .map(|v| v.map(|v| v - lufs))
        .collect()
}

/// RMS over 25 Hz-20 kHz of `target - bands` where both are present.
pub fn tonal_rms(target: &[Option<f64>], bands: &[Option<f64>]) -> Option<f64> {
    let diffs: Vec<f64> = band_centres_hz()
        .into_iter()
        .zip(target.iter().zip(bands))
        .filter(|(f, _)| (TONAL_RANGE_HZ.0..=TONAL_RANGE_HZ.1).contains(f))
        .filter_map(|(_, (t, b))| Some(t.as_ref()? - b.as_ref()?))
        .collect();
    (!diffs.is_empty()).then(|| rms(diffs.into_iter()))
}

fn region_mean(
    grid_hz: &[f64],
    curve: Option<&Vec<Option<f64>>>,
    (lo, hi): (f64, f64),
) -> Option<f64> {
    let values: Vec<f64> = grid_hz
        .iter()
        .zip(curve?)
        .filter(|(f, _)| (lo..hi).contains(*f))
        .filter_map(|(_, v)| *v)
        .collect();
    (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
}

/// `a - b` per point, scaled by `pct` %.
fn scaled_difference(a: &[Option<f64>], b: &[Option<f64>], pct: f64) -> Vec<Option<f64>> {
    a.iter()
        .zip(b)
        .map(|(a, b)| Some((a.as_ref()? - b.as_ref()?) * pct / 100.0))
        .collect()
}

/// Matches `mix` (measured as `mix_analysis`) to `target`.
pub fn match_mix(
    mix: &Audio,
    mix_analysis: &FileAnalysis,
    target: &Target,
    settings: &Settings,
) -> anyhow::Result<MatchReport> {
    let rate_hz = f64::from(mix.sample_rate_hz);
    let mix_lufs = mix_analysis
        .integrated_lufs
        .ok_or_else(|| anyhow::anyhow!("the mix has no measurable loudness (silent?)"))?;
    let grid = target.curve.grid_hz.clone();
    let mix_spectra = curve::spectra(mix, settings.smoothing_octaves);
    let normalise = |c: &[Option<f64>], l: f64| -> Vec<Option<f64>> {
        c.iter().map(|v| v.map(|v| v - l)).collect()
    };
    let mix_norm = normalise(&mix_spectra.mean_db, mix_lufs);

    // Width: side-only shelves and bells on the side/mid difference, stereo only.
    let mut width_skipped = None;
    let width_target = match (
        &mix_spectra.side_minus_mid_db,
        &target.curve.side_minus_mid_db,
    ) {
        _ if settings.width_strength_pct == 0.0 => {
            width_skipped = Some("width strength is 0".to_string());
            None
        }
        (Some(m), Some(r)) => {
            let mean = region_mean(&grid, Some(m), (20.0, 20_000.0)).unwrap_or(f64::NEG_INFINITY);
            if mean < MONO_SIDE_DB {
                width_skipped = Some(format!(
                    "the mix is (nearly) mono: side {mean:.0} dB below mid; side EQ cannot create width"
                ));
                None
            } else {
                Some(scaled_difference(r, m, settings.width_strength_pct))
            }
        }
        _ => {
            width_skipped = Some("the mix or a reference is not stereo".to_string());
            None
        }
    };
    let width_bands = match &width_target {
        Some(t) => {
            let limits = FitLimits {
                bands_per_octave: WIDTH_BANDS_PER_OCTAVE,
                q: Some(bell_q_for_spacing(WIDTH_BANDS_PER_OCTAVE)),
                low_hz: WIDTH_RANGE_HZ.0,
                high_hz: WIDTH_RANGE_HZ.1,
                ..settings.limits
            };
            fit(
                layout(&limits, rate_hz),
                &grid,
                t,
                limits.max_gain_db,
                rate_hz,
            )
            .bands
        }
        None => Vec::new(),
    };

    // Tonal balance: fit, render, fit what is left.
    let eq_target = scaled_difference(&target.curve.mean_db, &mix_norm, settings.eq_strength_pct);
    let mut chain = Chain {
        channels: mix.channel_count(),
        eq: layout(&settings.limits, rate_hz),
        width: width_bands,
        gain_db: 0.0,
    };
    let mut wanted = eq_target.clone();
    let mut eq_fit = None;
    let mut rendered = None;
    for pass in 0..FIT_PASSES {
        let f = fit(
            chain.eq.clone(),
            &grid,
            &wanted,
            settings.limits.max_gain_db,
            rate_hz,
        );
        chain.eq = f.bands.clone();
        eq_fit = Some(f);
        let out = chain.render(mix)?;
        if pass + 1 < FIT_PASSES {
            // What the rendered mix still lacks, added to what the cascade does now.
            let out_analysis = measure(&out);
            let Some(out_lufs) = out_analysis.integrated_lufs else {
                break;
            };
            let out_norm = normalise(
                &curve::spectra(&out, settings.smoothing_octaves).mean_db,
                out_lufs,
            );
            // What the cascade achieved on the mix; the next pass adds what it missed of
            // the (strength-scaled) target to what it was asked for.
            let achieved = scaled_difference(&out_norm, &mix_norm, 100.0);
            wanted = wanted
                .iter()
                .zip(eq_target.iter().zip(&achieved))
                .map(|(w, (t, a))| Some(w.as_ref()? + t.as_ref()? - a.as_ref()?))
                .collect();
        }
        rendered = Some(out);
    }
    let eq_fit = eq_fit.ok_or_else(|| anyhow::anyhow!("nothing to fit"))?;

    // Loudness: the gain that lands the rendered mix on the (strength-scaled) target.
    let goal_lufs =
        mix_lufs + (target.integrated_lufs - mix_lufs) * settings.loudness_strength_pct / 100.0;
    let mut out = rendered.ok_or_else(|| anyhow::anyhow!("nothing rendered"))?;
    let mut out_analysis = measure(&out);
    for _ in 0..MAX_GAIN_STEPS {
        let Some(l) = out_analysis.integrated_lufs else {
            break;
        };
        let error = goal_lufs - l;
        if error.abs() <= LOUDNESS_TOLERANCE_LU && chain.gain_db != 0.0 {
            break;
        }
        chain.gain_db += error;
        out = chain.render(mix)?;
        out_analysis = measure(&out);
    }

    let out_lufs = out_analysis.integrated_lufs.unwrap_or(goal_lufs);
    let out_spectra = curve::spectra(&out, settings.smoothing_octaves);
    let aspect = |f: fn(&FileAnalysis) -> Option<f64>, r: Option<f64>| Aspect {
        before: f(mix_analysis),
        after: f(&out_analysis),
        reference: r,
    };
    let width = WIDTH_REGIONS_HZ
        .iter()
        .map(|&(lo, hi)| WidthRegion {
            low_hz: lo,
            high_hz: hi,
            side_minus_mid_db: Aspect {
                before: region_mean(&grid, mix_spectra.side_minus_mid_db.as_ref(), (lo, hi)),
                after: region_mean(&grid, out_spectra.side_minus_mid_db.as_ref(), (lo, hi)),
                reference: region_mean(&grid, target.curve.side_minus_mid_db.as_ref(), (lo, hi)),
            },
        })
        .collect();
    let out_bands = normalised_bands(&out, out_lufs);
    let reference_lufs = target.integrated_lufs;
    let matched_bands_db = out_bands
        .iter()
        .map(|v| v.map(|v| v + reference_lufs))
        .collect();
    let mix_bands = normalised_bands(mix, mix_lufs);
    let report = MatchReport {
        eq_bands: chain.eq.clone(),
        fit_residual_rms_db: eq_fit.residual_rms_db,
        eq_bands_at_limit: eq_fit.bands_at_limit,
        width_bands: chain.width.clone(),
        width_skipped,
        gain_db: chain.gain_db,
        integrated_lufs: aspect(|a| a.integrated_lufs, Some(target.integrated_lufs)),
        plr_db: aspect(|a| a.plr_db, target.plr_db),
        loudness_range_lu: aspect(|a| a.loudness_range_lu, target.loudness_range_lu),
        true_peak_dbtp: aspect(|a| a.true_peak_dbtp, None),
        tonal_difference_rms_db: Aspect {
            before: tonal_rms(&target.third_octave_db, &mix_bands),
            after: tonal_rms(&target.third_octave_db, &out_bands),
            reference: Some(0.0),
        },
        width,
        matched_bands_db,
        dynamics_suggestion: None,
        chain,
    };
    Ok(MatchReport {
        dynamics_suggestion: dynamics_suggestion(&report),
        ..report
    })
}

/// How far apart PLR must be before a change of dynamics is suggested (dB).
pub const PLR_SUGGESTION_DB: f64 = 1.0;
/// True peak above which the matched mix needs a limiter (dBTP).
pub const TRUE_PEAK_LIMIT_DBTP: f64 = -1.0;

/// A sentence on dynamics: what PLR the reference has and what would get there.
fn dynamics_suggestion(r: &MatchReport) -> Option<String> {
    let mut out = Vec::new();
    if let (Some(after), Some(reference)) = (r.plr_db.after, r.plr_db.reference) {
        let d = after - reference;
        if d > PLR_SUGGESTION_DB {
            out.push(format!(
                "the reference is denser (PLR {reference:.1} dB against {after:.1} dB): a `limiter` \
                 (ceiling {TRUE_PEAK_LIMIT_DBTP} dBTP) taking about {d:.1} dB off the peaks, \
                 with `match_gain.gain_db` raised by as much, would match it"
            ));
        } else if d < -PLR_SUGGESTION_DB {
            out.push(format!(
                "the mix is denser than the reference (PLR {after:.1} dB against {reference:.1} dB): \
                 about {:.1} dB less limiting or compression upstream would match it",
                -d
            ));
        }
    }
    if let Some(tp) = r.true_peak_dbtp.after
        && tp > TRUE_PEAK_LIMIT_DBTP
    {
        out.push(format!(
            "the loudness gain takes true peaks to {tp:.1} dBTP: put a `limiter` after `match_gain`"
        ));
    }
    (!out.is_empty()).then(|| out.join("; "))
}
