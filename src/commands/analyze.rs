//! `lathe analyze`: loudness, range, peaks and correlation of audio files, per file and
//! for all of them as one programme (an album), with lathe's own BS.1770 analyser.
//!
//! Files are decoded and measured in parallel, one worker per core. An unreadable file is
//! reported by name (exit code 2) while the others are still measured and printed.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use lathe_nodes::dsp::analysis::{AlbumAnalysis, Analyzer, FileAnalysis, FileState};
use lathe_nodes::dsp::bs1770::Layout;
use serde::Serialize;

use crate::audio_io::read_audio;
use crate::cli::AnalyzeArgs;
use crate::delivery::platforms::{self, Preview};
use crate::exit::{CliError, ResultExt};

/// One analysed file, as `--json` prints it.
#[derive(Debug, Serialize)]
struct FileReport {
    path: String,
    #[serde(flatten)]
    analysis: FileAnalysis,
    #[serde(skip_serializing_if = "Option::is_none")]
    platforms: Option<Vec<Preview>>,
}

/// The album: every readable file as one programme.
#[derive(Debug, Serialize)]
struct AlbumReport {
    integrated_lufs: Option<f64>,
    loudness_range_lu: Option<f64>,
    true_peak_dbtp: Option<f64>,
}

#[derive(Debug, Serialize)]
struct Report {
    files: Vec<FileReport>,
    album: AlbumReport,
}

pub fn run(args: &AnalyzeArgs) -> Result<(), CliError> {
    let platforms = match &args.platforms {
        Some(table) => Some(platforms::load(table.as_deref()).user_fault()?),
        None => None,
    };
    let results = measure_all(&args.files);
    let mut album = AlbumAnalysis::new();
    let mut files = Vec::new();
    let mut failures = Vec::new();
    for (path, result) in args.files.iter().zip(results) {
        match result {
            Ok((analysis, state)) => {
                album.add(&state);
                let previews = platforms
                    .as_deref()
                    .and_then(|p| platform_previews(p, &analysis));
                files.push(FileReport {
                    path: path.display().to_string(),
                    analysis: rounded(analysis),
                    platforms: previews,
                });
            }
            Err(e) => failures.push(e),
        }
    }
    let album = album.analysis().map(rounded);
    let report = Report {
        files,
        album: AlbumReport {
            integrated_lufs: album.as_ref().and_then(|a| a.integrated_lufs),
            loudness_range_lu: album.as_ref().and_then(|a| a.loudness_range_lu),
            true_peak_dbtp: album.as_ref().and_then(|a| a.true_peak_dbtp),
        },
    };
    if args.json {
        println!("{}", serde_json::to_string(&report).runtime_fault()?);
    } else {
        print!("{}", table(&report));
    }
    match failures.into_iter().next() {
        None => Ok(()),
        Some(first) => Err(first),
    }
}

/// What each platform does to a file (none for silence, which has no loudness).
pub(crate) fn platform_previews(
    table: &[platforms::Platform],
    a: &FileAnalysis,
) -> Option<Vec<Preview>> {
    let master = platforms::Master {
        integrated_lufs: a.integrated_lufs?,
        true_peak_dbtp: a.true_peak_dbtp?,
        sample_peak_dbfs: a.sample_peak_dbfs?,
    };
    Some(platforms::preview_all(table, master))
}

type Measured = Result<(FileAnalysis, FileState), CliError>;

/// Measures every file, using every core; results come back in the order given.
fn measure_all(paths: &[PathBuf]) -> Vec<Measured> {
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(paths.len())
        .max(1);
    let next = Mutex::new(0usize);
    let results: Vec<Mutex<Option<Measured>>> = paths.iter().map(|_| Mutex::new(None)).collect();
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                loop {
                    let i = {
                        let mut n = next.lock().unwrap_or_else(|p| p.into_inner());
                        let i = *n;
                        *n += 1;
                        i
                    };
                    let Some(path) = paths.get(i) else { break };
                    let measured = measure(path);
                    *results[i].lock().unwrap_or_else(|p| p.into_inner()) = Some(measured);
                }
            });
        }
    });
    results
        .into_iter()
        .map(|slot| {
            slot.into_inner()
                .unwrap_or_else(|p| p.into_inner())
                .expect("every file is measured")
        })
        .collect()
}

fn measure(path: &Path) -> Measured {
    let audio = read_audio(path).user_fault()?;
    // Files without a channel mask: 5 channels are 5.0 (L R C Ls Rs), 6 are 5.1.
    let layout = Layout::for_channels(audio.channel_count());
    let mut analyzer = Analyzer::new(f64::from(audio.sample_rate_hz), layout);
    let planes: Vec<&[f32]> = audio.channels.iter().map(Vec::as_slice).collect();
    analyzer.process(&planes);
    Ok((analyzer.analysis(), analyzer.state()))
}

/// Figures to 0.01: finer digits are below every meter's tolerance.
fn rounded(mut a: FileAnalysis) -> FileAnalysis {
    let r = |v: &mut Option<f64>| *v = v.map(|x| (x * 100.0).round() / 100.0);
    a.duration_s = (a.duration_s * 100.0).round() / 100.0;
    for v in [
        &mut a.integrated_lufs,
        &mut a.loudness_range_lu,
        &mut a.true_peak_dbtp,
        &mut a.sample_peak_dbfs,
        &mut a.momentary_max_lufs,
        &mut a.short_term_max_lufs,
        &mut a.plr_db,
        &mut a.correlation,
    ] {
        r(v);
    }
    a
}

fn table(report: &Report) -> String {
    let show = |v: Option<f64>, unit: &str| v.map_or("-".to_string(), |x| format!("{x:.2} {unit}"));
    let mut out = String::new();
    for f in &report.files {
        let a = &f.analysis;
        out.push_str(&format!("{}\n", f.path));
        let rows = [
            (
                "format",
                format!(
                    "{} Hz, {} ch, {:.2} s",
                    a.sample_rate, a.channels, a.duration_s
                ),
            ),
            ("integrated", show(a.integrated_lufs, "LUFS")),
            ("loudness range", show(a.loudness_range_lu, "LU")),
            ("true peak", show(a.true_peak_dbtp, "dBTP")),
            ("sample peak", show(a.sample_peak_dbfs, "dBFS")),
            ("momentary max", show(a.momentary_max_lufs, "LUFS")),
            ("short-term max", show(a.short_term_max_lufs, "LUFS")),
            ("PLR", show(a.plr_db, "dB")),
            (
                "correlation",
                a.correlation.map_or("-".into(), |c| format!("{c:.2}")),
            ),
        ];
        for (name, value) in rows {
            out.push_str(&format!("  {name:<16}{value}\n"));
        }
        if let Some(previews) = &f.platforms {
            out.push_str(&platforms::table(previews));
        }
    }
    if report.files.len() > 1 {
        let a = &report.album;
        out.push_str("album (all files as one programme)\n");
        out.push_str(&format!(
            "  {:<16}{}\n",
            "integrated",
            show(a.integrated_lufs, "LUFS")
        ));
        out.push_str(&format!(
            "  {:<16}{}\n",
            "loudness range",
            show(a.loudness_range_lu, "LU")
        ));
        out.push_str(&format!(
            "  {:<16}{}\n",
            "true peak",
            show(a.true_peak_dbtp, "dBTP")
        ));
    }
    out
}
