//! `lathe compare MIX REFERENCE...`: the mix against one reference, or the weighted
//! average of several, at matched loudness; with `--match`, `--match-eq` or `--plot`,
//! also the match that moves the mix toward them (see [`crate::matching`]).
//!
//! The mix is measured as it is (integrated, LRA, PLR, true peak, correlation), then its
//! long-term 1/3-octave spectrum is compared with the references' after a gain that
//! makes their integrated loudness equal, so the difference shows balance, not level.
//! Several references are each brought to 0 LUFS, averaged with their weights, and the
//! average is placed at their mean loudness; their spread per band says how much they
//! agree.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::anyhow;
use lathe_nodes::dsp::analysis::{FileAnalysis, analyze};
use lathe_nodes::dsp::bs1770::Layout;
use serde::Serialize;

use crate::atomic_file::{ensure_not_overwriting, write_atomically};
use crate::audio_io::{Audio, read_audio};
use crate::cli::CompareArgs;
use crate::exit::{CliError, ResultExt};
use crate::matching::chain::eq_node;
use crate::matching::fit::FitLimits;
use crate::matching::target::{Reference, Target, target};
use crate::matching::{MatchReport, Settings, match_mix};
use crate::plot::draw;
use crate::plot::spectrum::{CompareCurves, band_centres_hz, compare_panels, third_octave_db};

/// Image size of `--plot`.
const PLOT_SIZE: (u32, u32) = (1200, 800);

#[derive(Debug, Serialize)]
pub struct Band {
    pub freq_hz: f64,
    pub mix_db: Option<f64>,
    /// The reference (the weighted average of several) at its integrated loudness.
    pub reference_db: Option<f64>,
    /// Reference minus loudness-matched mix: what the mix lacks (+) or has too much of (-).
    pub difference_db: Option<f64>,
    /// Several references: the weighted standard deviation of their loudness-normalised
    /// levels in this band.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference_spread_db: Option<f64>,
    /// With a match: the matched mix at the reference loudness.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub matched_db: Option<f64>,
}

#[derive(Debug, Serialize)]
pub struct Comparison {
    pub mix: FileAnalysis,
    /// The first reference.
    pub reference: FileAnalysis,
    /// Every reference, in the order given (several only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<FileAnalysis>,
    /// Gain that brings the mix to the reference's integrated loudness.
    pub match_gain_db: f64,
    /// Several references: RMS over the 1/3-octave bands of their spread.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference_spread_rms_db: Option<f64>,
    pub bands: Vec<Band>,
    #[serde(rename = "match", skip_serializing_if = "Option::is_none")]
    pub matched: Option<MatchReport>,
}

fn measure(audio: &Audio) -> FileAnalysis {
    let planes: Vec<&[f32]> = audio.channels.iter().map(Vec::as_slice).collect();
    analyze(
        &planes,
        f64::from(audio.sample_rate_hz),
        Layout::for_channels(audio.channel_count()),
    )
}

/// Measures and compares two signals (`lathe plot spectrum` uses this).
pub fn compare(mix: &Audio, reference: &Audio) -> Comparison {
    let m = measure(mix);
    let r = measure(reference);
    comparison(mix, m, vec![r], &[reference], None)
}

/// The comparison of `mix` with the references, through `target` where there is one
/// (every reference has a loudness); otherwise the first reference as it is.
fn comparison(
    mix: &Audio,
    m: FileAnalysis,
    mut analyses: Vec<FileAnalysis>,
    references: &[&Audio],
    target: Option<&Target>,
) -> Comparison {
    let mix_bands = third_octave_db(mix);
    let (reference_bands, spread, reference_lufs) = match target {
        Some(t) => (
            t.third_octave_db
                .iter()
                .map(|v| v.map(|v| v + t.integrated_lufs))
                .collect(),
            t.spread_db.clone(),
            Some(t.integrated_lufs),
        ),
        None => (
            third_octave_db(references[0]),
            None,
            analyses[0].integrated_lufs,
        ),
    };
    let match_gain_db = match (m.integrated_lufs, reference_lufs) {
        (Some(a), Some(b)) => b - a,
        _ => 0.0,
    };
    let spread = spread.unwrap_or_default();
    let bands: Vec<Band> = band_centres_hz()
        .into_iter()
        .zip(mix_bands)
        .zip(reference_bands)
        .enumerate()
        .map(|(i, ((freq_hz, mix_db), reference_db))| Band {
            freq_hz,
            mix_db,
            reference_db,
            difference_db: mix_db
                .zip(reference_db)
                .map(|(m, r)| r - (m + match_gain_db)),
            reference_spread_db: spread.get(i).copied().flatten(),
            matched_db: None,
        })
        .collect();
    let reference_spread_rms_db = (!spread.is_empty())
        .then(|| crate::matching::tonal_rms(&spread, &vec![Some(0.0); spread.len()]))
        .flatten();
    let reference = analyses[0].clone();
    if analyses.len() == 1 {
        analyses.clear();
    }
    Comparison {
        mix: m,
        reference,
        references: analyses,
        match_gain_db,
        reference_spread_rms_db,
        bands,
        matched: None,
    }
}

fn figure(v: Option<f64>, unit: &str) -> String {
    v.map_or_else(|| "n/a".to_string(), |v| format!("{v:.2} {unit}"))
}

fn text(c: &Comparison) -> String {
    let mut out = String::new();
    type Row = (&'static str, fn(&FileAnalysis) -> String);
    let rows: [Row; 5] = [
        ("integrated", |a| figure(a.integrated_lufs, "LUFS")),
        ("loudness range", |a| figure(a.loudness_range_lu, "LU")),
        ("PLR", |a| figure(a.plr_db, "dB")),
        ("true peak", |a| figure(a.true_peak_dbtp, "dBTP")),
        ("correlation", |a| figure(a.correlation, "")),
    ];
    let refs: Vec<&FileAnalysis> = if c.references.is_empty() {
        vec![&c.reference]
    } else {
        c.references.iter().collect()
    };
    let _ = write!(out, "{:<16} {:>14}", "", "mix");
    for k in 0..refs.len() {
        let name = if refs.len() == 1 {
            "reference".to_string()
        } else {
            format!("reference {}", k + 1)
        };
        let _ = write!(out, " {name:>14}");
    }
    out.push('\n');
    for (name, f) in rows {
        let _ = write!(out, "{name:<16} {:>14}", f(&c.mix));
        for r in &refs {
            let _ = write!(out, " {:>14}", f(r));
        }
        out.push('\n');
    }
    if let Some(s) = c.reference_spread_rms_db {
        let _ = writeln!(
            out,
            "\nthe references differ from their average by {s:.2} dB RMS (1/3 octaves, 25 Hz-20 kHz, at matched loudness)"
        );
    }
    let _ = writeln!(
        out,
        "\nspectrum at matched loudness (mix {:+.2} dB), reference - mix:",
        c.match_gain_db
    );
    for b in &c.bands {
        if let Some(d) = b.difference_db {
            let bar = "#".repeat((d.abs() * 2.0).round().min(30.0) as usize);
            let _ = write!(
                out,
                "{:>8.0} Hz {d:+6.2} dB {}{bar}",
                b.freq_hz,
                if d < 0.0 { "-" } else { "+" }
            );
            if let Some(s) = b.reference_spread_db {
                let _ = write!(out, "  (references ±{s:.1})");
            }
            out.push('\n');
        }
    }
    if let Some(m) = &c.matched {
        out.push_str(&match_text(m));
    }
    out
}

fn match_text(m: &MatchReport) -> String {
    let mut out = String::new();
    let bells = m.eq_bands.len().saturating_sub(2);
    let _ = writeln!(
        out,
        "\nmatch: eq of {} bands (low shelf, {bells} bells, high shelf), {} at the gain limit, \
         fit residual {:.2} dB RMS; gain {:+.2} dB",
        m.eq_bands.len(),
        m.eq_bands_at_limit,
        m.fit_residual_rms_db,
        m.gain_db
    );
    match &m.width_skipped {
        Some(why) => {
            let _ = writeln!(out, "width: not matched ({why})");
        }
        None => {
            let _ = writeln!(out, "width: {} side bands", m.width_bands.len());
        }
    }
    let _ = writeln!(
        out,
        "{:<28} {:>10} {:>10} {:>10}",
        "", "before", "after", "reference"
    );
    let f = |v: Option<f64>| v.map_or_else(|| "n/a".to_string(), |v| format!("{v:.2}"));
    let mut row = |name: &str, a: &crate::matching::Aspect| {
        let _ = writeln!(
            out,
            "{name:<28} {:>10} {:>10} {:>10}",
            f(a.before),
            f(a.after),
            f(a.reference)
        );
    };
    row("integrated (LUFS)", &m.integrated_lufs);
    row("PLR (dB)", &m.plr_db);
    row("loudness range (LU)", &m.loudness_range_lu);
    row("true peak (dBTP)", &m.true_peak_dbtp);
    row("1/3-oct difference (dB RMS)", &m.tonal_difference_rms_db);
    for w in &m.width {
        row(
            &format!("side-mid {:.0}-{:.0} Hz (dB)", w.low_hz, w.high_hz),
            &w.side_minus_mid_db,
        );
    }
    if let Some(s) = &m.dynamics_suggestion {
        let _ = writeln!(out, "dynamics: {s}");
    }
    out
}

/// Brings a reference to the mix's channel layout before anything is measured:
/// loudness (BS.1770 sums the channels' power) and the spectrum (channels averaged) only
/// compare like with like. A mono file is played as the same signal on both speakers of
/// a stereo pair, so against a stereo file it becomes dual mono; other mismatches are
/// refused.
fn match_layouts(
    mix_path: &Path,
    reference_path: &Path,
    mix: Audio,
    reference: Audio,
) -> Result<(Audio, Audio), CliError> {
    let (m, r) = (mix.channel_count(), reference.channel_count());
    let dual_mono = |audio: Audio| Audio {
        sample_rate_hz: audio.sample_rate_hz,
        channels: vec![audio.channels[0].clone(), audio.channels[0].clone()],
    };
    let note = |p: &Path| {
        eprintln!(
            "note: `{}` is mono; it is compared as dual mono (the same signal on both \
             channels), as a stereo pair plays it",
            p.display()
        );
    };
    match (m, r) {
        _ if m == r => Ok((mix, reference)),
        (1, 2) => {
            note(mix_path);
            Ok((dual_mono(mix), reference))
        }
        (2, 1) => {
            note(reference_path);
            Ok((mix, dual_mono(reference)))
        }
        _ => Err(CliError::user(anyhow!(
            "`{}` has {m} channels but `{}` has {r}; compare files of one layout \
             (mono against stereo is compared as dual mono)",
            mix_path.display(),
            reference_path.display()
        ))),
    }
}

/// The references in order: the positional one, then each `--reference`.
fn reference_paths(args: &CompareArgs) -> Result<Vec<PathBuf>, CliError> {
    let paths: Vec<PathBuf> = args
        .reference
        .iter()
        .chain(&args.references)
        .cloned()
        .collect();
    if paths.is_empty() {
        return Err(CliError::user(anyhow!(
            "no reference: give one after the mix or with --reference FILE"
        )));
    }
    if !args.weights.is_empty() && args.weights.len() != paths.len() {
        return Err(CliError::user(anyhow!(
            "{} --weight values for {} references; give one per reference, in their order, or none",
            args.weights.len(),
            paths.len()
        )));
    }
    Ok(paths)
}

fn settings(args: &CompareArgs) -> Settings {
    Settings {
        limits: FitLimits {
            max_gain_db: args.max_gain_db,
            bands_per_octave: args.bands_per_octave,
            q: args.q,
            ..FitLimits::default()
        },
        smoothing_octaves: args.smoothing_octaves,
        eq_strength_pct: args.eq_strength.unwrap_or(args.strength),
        width_strength_pct: args.width_strength.unwrap_or(args.strength),
        loudness_strength_pct: args.loudness_strength.unwrap_or(args.strength),
    }
}

fn write_text(path: &Path, text: &str) -> Result<(), CliError> {
    write_atomically(path, |w| std::io::Write::write_all(w, text.as_bytes()))
        .map_err(|e| anyhow!("cannot write `{}`: {e}", path.display()))
        .runtime_fault()
}

pub fn run(args: &CompareArgs) -> Result<(), CliError> {
    let paths = reference_paths(args)?;
    let mut protected = vec![("mix", args.mix.as_path())];
    protected.extend(paths.iter().map(|p| ("reference", p.as_path())));
    let outputs = [&args.plot, &args.match_eq, &args.match_graph];
    for out in outputs.into_iter().flatten() {
        ensure_not_overwriting(out, &protected).user_fault()?;
    }
    for out in outputs.into_iter().flatten() {
        super::ensure_output_folder(out)?;
    }
    let mut mix = read_audio(&args.mix).user_fault()?;
    let mut references = Vec::new();
    for path in &paths {
        let reference = read_audio(path).user_fault()?;
        let (m, r) = match_layouts(&args.mix, path, mix, reference)?;
        if m.sample_rate_hz != r.sample_rate_hz {
            return Err(CliError::user(anyhow!(
                "`{}` is {} Hz but `{}` is {} Hz; compare files of one rate",
                args.mix.display(),
                m.sample_rate_hz,
                path.display(),
                r.sample_rate_hz
            )));
        }
        mix = m;
        references.push(r);
    }
    // A mono mix made dual mono by a later stereo reference: earlier mono references
    // follow it.
    for r in &mut references {
        if r.channel_count() == 1 && mix.channel_count() == 2 {
            r.channels.push(r.channels[0].clone());
        }
    }
    let mix_analysis = measure(&mix);
    let analyses: Vec<FileAnalysis> = references.iter().map(measure).collect();
    let weights: Vec<f64> = if args.weights.is_empty() {
        vec![1.0; paths.len()]
    } else {
        args.weights.clone()
    };
    // The plot shows the match where there can be one; the match files need one.
    let needs_match = args.match_eq.is_some() || args.match_graph.is_some();
    let wants_match = needs_match || args.plot.is_some();
    let settings = settings(args);
    let all_loud = analyses.iter().all(|a| a.integrated_lufs.is_some());
    let target = if paths.len() > 1 || wants_match {
        for (path, a) in paths.iter().zip(&analyses) {
            if a.integrated_lufs.is_none() && (needs_match || paths.len() > 1) {
                return Err(CliError::user(anyhow!(
                    "`{}` has no measurable loudness (silent?); it cannot be a reference",
                    path.display()
                )));
            }
        }
        let refs: Vec<Reference<'_>> = references
            .iter()
            .zip(&analyses)
            .zip(&weights)
            .map(|((audio, analysis), &weight)| Reference {
                audio,
                analysis,
                weight,
            })
            .collect();
        all_loud
            .then(|| target(&refs, settings.smoothing_octaves))
            .flatten()
    } else {
        None
    };
    let ref_audio: Vec<&Audio> = references.iter().collect();
    let mut comparison = comparison(
        &mix,
        mix_analysis.clone(),
        analyses,
        &ref_audio,
        target.as_ref(),
    );
    if wants_match
        && let Some(t) = &target
        && (needs_match || mix_analysis.integrated_lufs.is_some())
    {
        if mix_analysis.integrated_lufs.is_none() {
            return Err(CliError::user(anyhow!(
                "`{}` has no measurable loudness (silent?); there is nothing to match",
                args.mix.display()
            )));
        }
        let report = match_mix(&mix, &mix_analysis, t, &settings).runtime_fault()?;
        for (band, m) in comparison.bands.iter_mut().zip(&report.matched_bands_db) {
            band.matched_db = *m;
        }
        comparison.matched = Some(report);
    }
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&comparison).runtime_fault()?
        );
    } else {
        print!("{}", text(&comparison));
    }
    let names: Vec<String> = paths.iter().map(|p| format!("`{}`", p.display())).collect();
    if let Some(m) = &comparison.matched {
        if let Some(path) = &args.match_eq {
            let snippet = format!(
                "// Match EQ from `lathe compare`: {} toward {}. Paste into a graph's `nodes` and link it.\n{}\n",
                args.mix.display(),
                names.join(", "),
                eq_node("match_eq", &m.eq_bands, mix.channel_count(), None)
            );
            write_text(path, &snippet)?;
        }
        if let Some(path) = &args.match_graph {
            let header = format!(
                "Match of `{}` toward {} by `lathe compare` (EQ {:.0} %, width {:.0} %, loudness {:.0} %).\n\
                 Render: lathe render {} {} -o matched.wav",
                args.mix.display(),
                names.join(", "),
                settings.eq_strength_pct,
                settings.width_strength_pct,
                settings.loudness_strength_pct,
                path.display(),
                args.mix.display()
            );
            write_text(path, &m.chain.graph_text(&header))?;
        }
    }
    if let Some(path) = &args.plot {
        let curves = CompareCurves {
            freq_hz: comparison.bands.iter().map(|b| b.freq_hz).collect(),
            mix_db: comparison
                .bands
                .iter()
                .map(|b| b.mix_db.map(|v| v + comparison.match_gain_db))
                .collect(),
            reference_db: comparison.bands.iter().map(|b| b.reference_db).collect(),
            matched_db: comparison.bands.iter().map(|b| b.matched_db).collect(),
        };
        draw(path, PLOT_SIZE.0, PLOT_SIZE.1, &compare_panels(&curves))
            .map_err(|e| CliError::runtime(anyhow!(e)))?;
    }
    Ok(())
}
