//! `lathe codec-check`: every file through every listed lossy codec and back, aligned,
//! then measured like the master itself: decoded true peak, sample peak, overs above
//! 0 dBFS and above the delivery ceiling, loudness change and the worst places. The exit
//! status says whether any decode overshoots the ceiling.

use std::path::{Path, PathBuf};

use lathe_codecs::{CodecError, CodecSpec, roundtrip};
use lathe_nodes::dsp::analysis::Analyzer;
use lathe_nodes::dsp::bs1770::Layout;
use rayon::prelude::*;
use serde::Serialize;

use crate::album::resample::resample;
use crate::audio_io::{Audio, read_audio};
use crate::cli::CodecCheckArgs;
use crate::delivery::codec_measure::{self, Overs, PeakReport};
use crate::exit::{CliError, ResultExt};

/// One decode of one file.
#[derive(Debug, Serialize)]
pub struct CodecResult {
    pub codec: String,
    pub decoded_rate_hz: u32,
    pub true_peak_dbtp: f64,
    pub sample_peak_dbfs: f64,
    pub overs_0dbfs: Overs,
    pub overs_ceiling: Overs,
    pub integrated_lufs: Option<f64>,
    /// Decoded integrated loudness minus the source's.
    pub loudness_change_lu: Option<f64>,
    pub worst: Vec<codec_measure::Place>,
    pub exceeds_ceiling: bool,
    /// Decoded true peak over time: (seconds, dBTP), the loudest window of every
    /// [`PLOT_HOP_S`].
    #[serde(skip)]
    pub curve: Vec<(f64, f64)>,
}

#[derive(Debug, Serialize)]
struct FileResult {
    path: String,
    sample_rate_hz: u32,
    source_integrated_lufs: Option<f64>,
    source_true_peak_dbtp: Option<f64>,
    codecs: Vec<CodecResult>,
}

#[derive(Debug, Serialize)]
struct Report {
    ceiling_dbtp: f64,
    files: Vec<FileResult>,
    /// Decodes whose true peak is over the ceiling.
    overshoots: usize,
}

/// Time step of the plotted curves: each point is the loudest 10 ms window in it.
pub const PLOT_HOP_S: f64 = 0.1;

pub fn run(args: &CodecCheckArgs) -> Result<(), CliError> {
    if let Some(plot) = &args.plot {
        super::ensure_output_folder(plot)?;
        let inputs: Vec<(&str, &Path)> =
            args.files.iter().map(|f| ("input", f.as_path())).collect();
        crate::atomic_file::ensure_not_overwriting(plot, &inputs).user_fault()?;
    }
    let report = check(&args.files, &args.codecs.0, args.ceiling_dbtp)?;
    if let Some(plot) = &args.plot {
        crate::plot::draw(
            plot,
            1200,
            400 * report.files.len().max(1) as u32,
            &panels(&report),
        )
        .map_err(|e| anyhow::anyhow!(e))
        .runtime_fault()?;
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report).runtime_fault()?);
    } else {
        print!("{}", table(&report));
    }
    if report.overshoots > 0 {
        let total: usize = report.files.iter().map(|f| f.codecs.len()).sum();
        return Err(CliError::runtime(anyhow::anyhow!(
            "{} of {total} decodes exceed the {:.1} dBTP ceiling",
            report.overshoots,
            args.ceiling_dbtp
        )));
    }
    Ok(())
}

fn check(paths: &[PathBuf], codecs: &[CodecSpec], ceiling_dbtp: f64) -> Result<Report, CliError> {
    // An unusable codec is found before any file is read (tried in stereo; a rate mono
    // cannot carry is refused when a mono file comes).
    for &spec in codecs {
        roundtrip(
            spec,
            &[&[0.0; 16], &[0.0; 16]],
            lathe_codecs::coded_rate_hz(spec.codec, 48_000),
        )
        .map_err(codec_fault)?;
    }
    let sources: Vec<Audio> = paths
        .par_iter()
        .map(|p| read_audio(p).user_fault())
        .collect::<Result<_, _>>()?;
    let mut files = Vec::new();
    for (path, source) in paths.iter().zip(&sources) {
        files.push(check_file(path, source, codecs, ceiling_dbtp)?);
    }
    let overshoots = files
        .iter()
        .flat_map(|f| &f.codecs)
        .filter(|c| c.exceeds_ceiling)
        .count();
    Ok(Report {
        ceiling_dbtp,
        files,
        overshoots,
    })
}

/// A missing library, a channel count or a bitrate the codec refuses is the setup's problem (exit 2).
fn codec_fault(e: CodecError) -> CliError {
    match e {
        CodecError::LibraryMissing { .. }
        | CodecError::Channels { .. }
        | CodecError::BitrateRange { .. } => CliError::user(e),
        e => CliError::runtime(e),
    }
}

fn integrated_lufs(channels: &[Vec<f32>], rate_hz: u32) -> (Option<f64>, Option<f64>) {
    let mut analyzer = Analyzer::new(f64::from(rate_hz), Layout::for_channels(channels.len()));
    let planes: Vec<&[f32]> = channels.iter().map(Vec::as_slice).collect();
    analyzer.process(&planes);
    let a = analyzer.analysis();
    (a.integrated_lufs, a.true_peak_dbtp)
}

fn check_file(
    path: &Path,
    source: &Audio,
    codecs: &[CodecSpec],
    ceiling_dbtp: f64,
) -> Result<FileResult, CliError> {
    let name = path.display().to_string();
    if !(1..=2).contains(&source.channel_count()) {
        return Err(CliError::user(anyhow::anyhow!(
            "{name}: {} channels; codec-check takes mono or stereo files",
            source.channel_count()
        )));
    }
    let (source_lufs, source_tp) = integrated_lufs(&source.channels, source.sample_rate_hz);
    let results: Vec<Result<CodecResult, CliError>> = codecs
        .par_iter()
        .map(|&spec| {
            let rate_hz = lathe_codecs::coded_rate_hz(spec.codec, source.sample_rate_hz);
            let input = resample(source, rate_hz)
                .map_err(|e| CliError::runtime(anyhow::anyhow!("{name}: {e}")))?;
            let planes: Vec<&[f32]> = input.channels.iter().map(Vec::as_slice).collect();
            let decoded = roundtrip(spec, &planes, rate_hz).map_err(codec_fault)?;
            let peaks: PeakReport =
                codec_measure::measure(&decoded.channels, rate_hz, ceiling_dbtp);
            let (lufs, _) = integrated_lufs(&decoded.channels, rate_hz);
            Ok(CodecResult {
                codec: spec.to_string(),
                decoded_rate_hz: rate_hz,
                exceeds_ceiling: round2(peaks.true_peak_dbtp) > ceiling_dbtp,
                true_peak_dbtp: round2(peaks.true_peak_dbtp),
                sample_peak_dbfs: round2(peaks.sample_peak_dbfs),
                overs_0dbfs: peaks.overs_0dbfs,
                overs_ceiling: peaks.overs_ceiling,
                integrated_lufs: lufs.map(round2),
                loudness_change_lu: lufs.zip(source_lufs).map(|(d, s)| round2(d - s)),
                worst: peaks
                    .worst
                    .into_iter()
                    .map(|mut p| {
                        p.true_peak_dbtp = round2(p.true_peak_dbtp);
                        p.time_s = (p.time_s * 1000.0).round() / 1000.0;
                        p
                    })
                    .collect(),
                curve: curve(&peaks.windows_dbtp),
            })
        })
        .collect();
    Ok(FileResult {
        path: name,
        sample_rate_hz: source.sample_rate_hz,
        source_integrated_lufs: source_lufs.map(round2),
        source_true_peak_dbtp: source_tp.map(round2),
        codecs: results.into_iter().collect::<Result<_, _>>()?,
    })
}

/// The loudest window of every [`PLOT_HOP_S`], as (seconds, dBTP).
fn curve(windows_dbtp: &[f64]) -> Vec<(f64, f64)> {
    let per_hop = (PLOT_HOP_S * 1000.0 / codec_measure::WINDOW_MS).round() as usize;
    windows_dbtp
        .chunks(per_hop.max(1))
        .enumerate()
        .map(|(i, c)| {
            let peak = c.iter().fold(f64::NEG_INFINITY, |m, &v| m.max(v));
            (i as f64 * PLOT_HOP_S, peak.max(-60.0))
        })
        .collect()
}

/// One panel per file: a curve per codec and the ceiling.
fn panels(report: &Report) -> Vec<crate::plot::Panel> {
    report
        .files
        .iter()
        .map(|f| crate::plot::Panel {
            title: format!("Decoded true peak: {}", f.path),
            x_label: "time (s)".to_string(),
            y_label: "dBTP".to_string(),
            log_x: false,
            series: f
                .codecs
                .iter()
                .zip(crate::plot::COLORS.iter().cycle())
                .map(|(c, &color)| crate::plot::Series {
                    name: c.codec.clone(),
                    points: c.curve.clone(),
                    color,
                })
                .collect(),
            target: Some((
                report.ceiling_dbtp,
                format!("ceiling {:.1} dBTP", report.ceiling_dbtp),
            )),
        })
        .collect()
}

/// Figures to 0.01 dB: finer digits are below every meter's tolerance, and the ceiling
/// verdict is made on the figure printed.
fn round2(x: f64) -> f64 {
    if x.is_finite() {
        (x * 100.0).round() / 100.0
    } else {
        x
    }
}

fn clock(time_s: f64) -> String {
    let minutes = (time_s / 60.0).floor();
    format!("{}:{:06.3}", minutes as u64, time_s - minutes * 60.0)
}

fn table(report: &Report) -> String {
    let show =
        |v: Option<f64>, unit: &str| v.map_or("-".to_string(), |x| format!("{x:+.2} {unit}"));
    let overs = |o: &Overs| format!("{} ({:.2} ms)", o.count, o.duration_ms);
    let mut out = String::new();
    for f in &report.files {
        out.push_str(&format!(
            "{} ({} Hz; source {}, {})\n",
            f.path,
            f.sample_rate_hz,
            show(f.source_integrated_lufs, "LUFS"),
            show(f.source_true_peak_dbtp, "dBTP")
        ));
        out.push_str(&format!(
            "  {:<14}{:>12}{:>13}{:>18}{:>18}{:>11}  worst places\n",
            "codec",
            "true peak",
            "sample peak",
            "overs > 0 dBFS",
            format!("overs > {:.1} dBTP", report.ceiling_dbtp),
            "loudness"
        ));
        for c in &f.codecs {
            let worst: Vec<String> = c
                .worst
                .iter()
                .map(|p| format!("{} {:+.2}", clock(p.time_s), p.true_peak_dbtp))
                .collect();
            out.push_str(&format!(
                "  {:<14}{:>12}{:>13}{:>18}{:>18}{:>11}  {}{}\n",
                c.codec,
                format!("{:+.2} dBTP", c.true_peak_dbtp),
                format!("{:+.2} dBFS", c.sample_peak_dbfs),
                overs(&c.overs_0dbfs),
                overs(&c.overs_ceiling),
                show(c.loudness_change_lu, "LU"),
                worst.join(", "),
                if c.exceeds_ceiling { "  OVER" } else { "" }
            ));
        }
    }
    out.push_str(&format!(
        "{} decode(s) over the {:.1} dBTP ceiling\n",
        report.overshoots, report.ceiling_dbtp
    ));
    out
}
