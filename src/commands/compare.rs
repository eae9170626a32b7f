//! `lathe compare MIX REFERENCE`: the mix against a reference at matched loudness.
//!
//! The mix is measured as it is (integrated, LRA, PLR, true peak, correlation), then its
//! long-term 1/3-octave spectrum is compared with the reference's after a gain that
//! makes their integrated loudness equal, so the difference shows balance, not level.
//! `--match-eq` turns the difference into an `eq` node: one bell per octave (31.5 Hz to
//! 16 kHz, Q 1.41 = one octave wide) whose gain is the difference around its centre,
//! smoothed over neighbouring bands, scaled by `--strength`, bounded to ±[`MAX_EQ_DB`].

use std::fmt::Write as _;

use anyhow::anyhow;
use lathe_nodes::dsp::analysis::{FileAnalysis, analyze};
use lathe_nodes::dsp::bs1770::Layout;
use serde::Serialize;

use crate::atomic_file::{ensure_not_overwriting, write_atomically};
use crate::audio_io::{Audio, read_audio};
use crate::cli::CompareArgs;
use crate::exit::{CliError, ResultExt};
use crate::plot::spectrum::{band_centres_hz, third_octave_db};
use crate::plot::{COLORS, Panel, Series, draw};

/// The largest boost or cut of a match-EQ band.
pub const MAX_EQ_DB: f64 = 6.0;
/// Q of an octave-wide bell.
pub const OCTAVE_Q: f64 = 1.41;
/// Image size of `--plot`.
const PLOT_SIZE: (u32, u32) = (1200, 800);

#[derive(Debug, Serialize)]
pub struct Band {
    pub freq_hz: f64,
    pub mix_db: Option<f64>,
    pub reference_db: Option<f64>,
    /// Reference minus loudness-matched mix: what the mix lacks (+) or has too much of (-).
    pub difference_db: Option<f64>,
}

#[derive(Debug, Serialize)]
pub struct Comparison {
    pub mix: FileAnalysis,
    pub reference: FileAnalysis,
    /// Gain that brings the mix to the reference's integrated loudness.
    pub match_gain_db: f64,
    pub bands: Vec<Band>,
}

fn measure(audio: &Audio) -> FileAnalysis {
    let planes: Vec<&[f32]> = audio.channels.iter().map(Vec::as_slice).collect();
    analyze(
        &planes,
        f64::from(audio.sample_rate_hz),
        Layout::for_channels(audio.channel_count()),
    )
}

/// Measures and compares two signals.
pub fn compare(mix: &Audio, reference: &Audio) -> Comparison {
    let m = measure(mix);
    let r = measure(reference);
    let match_gain_db = match (m.integrated_lufs, r.integrated_lufs) {
        (Some(a), Some(b)) => b - a,
        _ => 0.0,
    };
    let bands = band_centres_hz()
        .into_iter()
        .zip(third_octave_db(mix))
        .zip(third_octave_db(reference))
        .map(|((freq_hz, mix_db), reference_db)| Band {
            freq_hz,
            mix_db,
            reference_db,
            difference_db: mix_db
                .zip(reference_db)
                .map(|(m, r)| r - (m + match_gain_db)),
        })
        .collect();
    Comparison {
        mix: m,
        reference: r,
        match_gain_db,
        bands,
    }
}

/// Bell bands `(freq_hz, gain_db)` of the match EQ, one per octave.
pub fn match_bands(bands: &[Band], strength_pct: f64) -> Vec<(f64, f64)> {
    let diff: Vec<Option<f64>> = bands.iter().map(|b| b.difference_db).collect();
    // Band 2 is 31.25 Hz (base-2 1/3-octave centres from 19.7 Hz): every third band
    // from there is an octave centre, 31.25 Hz to 16 kHz, the ten bells the docs promise.
    (2..bands.len())
        .step_by(3)
        .filter(|&i| bands[i].freq_hz <= 17_000.0)
        .map(|i| {
            // A 1-2-1 weighted mean of the band and its neighbours: smooth, and the
            // three 1/3 octaves under one octave-wide bell.
            let mut sum = 0.0;
            let mut weight = 0.0;
            for (j, w) in [(i - 1, 1.0), (i, 2.0), (i + 1, 1.0)] {
                if let Some(Some(d)) = diff.get(j) {
                    sum += w * d;
                    weight += w;
                }
            }
            let gain = if weight > 0.0 { sum / weight } else { 0.0 };
            let gain = (gain * strength_pct / 100.0).clamp(-MAX_EQ_DB, MAX_EQ_DB);
            (bands[i].freq_hz, (gain * 100.0).round() / 100.0)
        })
        .collect()
}

/// The `eq` node as RON, ready to paste into a graph's `nodes` list.
pub fn eq_snippet(bands: &[(f64, f64)], channels: usize) -> String {
    let mut out = String::from(
        "// Match EQ from `lathe compare`: paste into a graph's `nodes` and link it.\n",
    );
    let types = vec!["(type: \"bell\")"; bands.len()].join(", ");
    let _ = writeln!(out, "(\n    id: \"match_eq\",\n    kind: \"eq\",");
    let _ = writeln!(out, "    config: (channels: {channels}, bands: [{types}]),");
    let _ = writeln!(out, "    params: {{");
    for (k, (freq, gain)) in bands.iter().enumerate() {
        let n = k + 1;
        let _ = writeln!(
            out,
            "        \"band{n}.freq_hz\": {freq:.1}, \"band{n}.gain_db\": {gain:.2}, \"band{n}.q\": {OCTAVE_Q},"
        );
    }
    out.push_str("    },\n)\n");
    out
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
    let _ = writeln!(out, "{:<16} {:>14} {:>14}", "", "mix", "reference");
    for (name, f) in rows {
        let _ = writeln!(out, "{name:<16} {:>14} {:>14}", f(&c.mix), f(&c.reference));
    }
    let _ = writeln!(
        out,
        "\nspectrum at matched loudness (mix {:+.2} dB), reference - mix:",
        c.match_gain_db
    );
    for b in &c.bands {
        if let Some(d) = b.difference_db {
            let bar = "#".repeat((d.abs() * 2.0).round().min(30.0) as usize);
            let _ = writeln!(
                out,
                "{:>8.0} Hz {d:+6.2} dB {}{bar}",
                b.freq_hz,
                if d < 0.0 { "-" } else { "+" }
            );
        }
    }
    out
}

/// Brings both files to one channel layout before anything is measured: loudness
/// (BS.1770 sums the channels' power) and the spectrum (channels averaged) only compare
/// like with like. A mono file is played as the same signal on both speakers of a stereo
/// pair, so against a stereo file it becomes dual mono; other mismatches are refused.
fn match_layouts(
    args: &CompareArgs,
    mix: Audio,
    reference: Audio,
) -> Result<(Audio, Audio), CliError> {
    let (m, r) = (mix.channel_count(), reference.channel_count());
    let dual_mono = |audio: Audio| Audio {
        sample_rate_hz: audio.sample_rate_hz,
        channels: vec![audio.channels[0].clone(), audio.channels[0].clone()],
    };
    match (m, r) {
        _ if m == r => Ok((mix, reference)),
        (1, 2) => {
            eprintln!(
                "note: `{}` is mono; it is compared as dual mono (the same signal on both \
                 channels), as a stereo pair plays it",
                args.mix.display()
            );
            Ok((dual_mono(mix), reference))
        }
        (2, 1) => {
            eprintln!(
                "note: `{}` is mono; it is compared as dual mono (the same signal on both \
                 channels), as a stereo pair plays it",
                args.reference.display()
            );
            Ok((mix, dual_mono(reference)))
        }
        _ => Err(CliError::user(anyhow!(
            "`{}` has {m} channels but `{}` has {r}; compare files of one layout \
             (mono against stereo is compared as dual mono)",
            args.mix.display(),
            args.reference.display()
        ))),
    }
}

pub fn run(args: &CompareArgs) -> Result<(), CliError> {
    let protected = [
        ("mix", args.mix.as_path()),
        ("reference", args.reference.as_path()),
    ];
    for out in [&args.plot, &args.match_eq].into_iter().flatten() {
        ensure_not_overwriting(out, &protected).user_fault()?;
    }
    for out in [&args.plot, &args.match_eq].into_iter().flatten() {
        super::ensure_output_folder(out)?;
    }
    let mix = read_audio(&args.mix).user_fault()?;
    let reference = read_audio(&args.reference).user_fault()?;
    let (mix, reference) = match_layouts(args, mix, reference)?;
    if mix.sample_rate_hz != reference.sample_rate_hz {
        return Err(CliError::user(anyhow!(
            "`{}` is {} Hz but `{}` is {} Hz; compare files of one rate",
            args.mix.display(),
            mix.sample_rate_hz,
            args.reference.display(),
            reference.sample_rate_hz
        )));
    }
    let comparison = compare(&mix, &reference);
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&comparison).runtime_fault()?
        );
    } else {
        print!("{}", text(&comparison));
    }
    if let Some(path) = &args.match_eq {
        let bands = match_bands(&comparison.bands, args.strength);
        let snippet = eq_snippet(&bands, mix.channel_count());
        write_atomically(path, |w| std::io::Write::write_all(w, snippet.as_bytes()))
            .map_err(|e| anyhow!("cannot write `{}`: {e}", path.display()))
            .runtime_fault()?;
    }
    if let Some(path) = &args.plot {
        let spectrum = |db: fn(&Band) -> Option<f64>| -> Vec<(f64, f64)> {
            comparison
                .bands
                .iter()
                .filter_map(|b| Some((b.freq_hz, db(b)?)))
                .collect()
        };
        let gain = comparison.match_gain_db;
        let mut mix_points = spectrum(|b| b.mix_db);
        mix_points.iter_mut().for_each(|p| p.1 += gain);
        let panels = [
            Panel {
                title: "Long-term spectrum, loudness matched".into(),
                x_label: "frequency (Hz)".into(),
                y_label: "level (dB)".into(),
                log_x: true,
                series: vec![
                    Series {
                        name: "mix".into(),
                        points: mix_points,
                        color: COLORS[0],
                    },
                    Series {
                        name: "reference".into(),
                        points: spectrum(|b| b.reference_db),
                        color: COLORS[1],
                    },
                ],
                target: None,
            },
            Panel {
                title: "Reference - mix".into(),
                x_label: "frequency (Hz)".into(),
                y_label: "difference (dB)".into(),
                log_x: true,
                series: vec![Series {
                    name: "difference".into(),
                    points: spectrum(|b| b.difference_db),
                    color: COLORS[2],
                }],
                target: Some((0.0, "0 dB".into())),
            },
        ];
        draw(path, PLOT_SIZE.0, PLOT_SIZE.1, &panels).map_err(|e| CliError::runtime(anyhow!(e)))?;
    }
    Ok(())
}
