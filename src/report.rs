//! Measurements of audio for `lathe analyze` and the before/after report of a render:
//! printed as a table, or as JSON for scripts.
//!
//! Loudness follows EBU R128 / ITU-R BS.1770 (integrated loudness, loudness range, true
//! peak 4x oversampled), measured with lathe's own analyser (`lathe_nodes::analysis`).

use lathe_nodes::analysis::Analyzer;
use lathe_nodes::bs1770::Layout;
use serde::Serialize;

use crate::audio_io::Audio;

/// What we know about one file or bus. Levels of silence are `-inf` in text and `null`
/// in JSON.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Measurement {
    /// The file or bus measured.
    pub label: String,
    pub sample_rate_hz: u32,
    pub channels: usize,
    pub frames: usize,
    pub duration_s: f64,
    /// Largest absolute sample over all channels, in dBFS.
    pub sample_peak_dbfs: f64,
    /// RMS over all channels, in dBFS (a full-scale sine reads -3.01).
    pub rms_dbfs: f64,
    pub integrated_lufs: Option<f64>,
    pub true_peak_dbtp: Option<f64>,
    pub loudness_range_lu: Option<f64>,
    pub momentary_max_lufs: Option<f64>,
    pub short_term_max_lufs: Option<f64>,
    /// Peak-to-loudness ratio: true peak minus integrated loudness.
    pub plr_db: Option<f64>,
    /// L/R phase correlation over the whole signal (stereo only).
    pub correlation: Option<f64>,
}

impl Measurement {
    /// Measures everything about `audio`: the figures of `lathe analyze`, plus RMS.
    pub fn of(label: impl Into<String>, audio: &Audio) -> Self {
        let analysis = (audio.channel_count() > 0).then(|| {
            let layout = Layout::for_channels(audio.channel_count());
            let mut analyzer = Analyzer::new(f64::from(audio.sample_rate_hz), layout);
            let planes: Vec<&[f32]> = audio.channels.iter().map(Vec::as_slice).collect();
            analyzer.process(&planes);
            analyzer.analysis()
        });
        let get = |f: fn(&lathe_nodes::analysis::FileAnalysis) -> Option<f64>| {
            analysis.as_ref().and_then(f)
        };
        let samples = audio.frames() * audio.channel_count();
        let sum_sq: f64 = audio
            .channels
            .iter()
            .flatten()
            .map(|&s| s as f64 * s as f64)
            .sum();
        let rms = if samples == 0 {
            0.0
        } else {
            (sum_sq / samples as f64).sqrt()
        };
        Self {
            label: label.into(),
            sample_rate_hz: audio.sample_rate_hz,
            channels: audio.channel_count(),
            frames: audio.frames(),
            duration_s: audio.duration_seconds(),
            sample_peak_dbfs: amplitude_db(audio.sample_peak() as f64),
            rms_dbfs: amplitude_db(rms),
            integrated_lufs: get(|a| a.integrated_lufs),
            true_peak_dbtp: get(|a| a.true_peak_dbtp),
            loudness_range_lu: get(|a| a.loudness_range_lu),
            momentary_max_lufs: get(|a| a.momentary_max_lufs),
            short_term_max_lufs: get(|a| a.short_term_max_lufs),
            plr_db: get(|a| a.plr_db),
            correlation: get(|a| a.correlation),
        }
    }
}

fn amplitude_db(x: f64) -> f64 {
    20.0 * x.log10()
}

/// Lays measurements out side by side, one column each, one row per figure.
pub fn table(columns: &[&Measurement]) -> String {
    type Row = (&'static str, fn(&Measurement) -> String);
    let rows: [Row; 12] = [
        ("duration", |m| format!("{:.3} s", m.duration_s)),
        ("format", |m| {
            format!("{} Hz, {} ch", m.sample_rate_hz, m.channels)
        }),
        ("integrated", |m| opt(m.integrated_lufs, "LUFS")),
        ("true peak", |m| opt(m.true_peak_dbtp, "dBTP")),
        ("loudness range", |m| opt(m.loudness_range_lu, "LU")),
        ("momentary max", |m| opt(m.momentary_max_lufs, "LUFS")),
        ("short-term max", |m| opt(m.short_term_max_lufs, "LUFS")),
        ("PLR", |m| opt(m.plr_db, "dB")),
        ("correlation", |m| {
            m.correlation.map_or("n/a".into(), |c| format!("{c:.2}"))
        }),
        ("sample peak", |m| level(m.sample_peak_dbfs, "dBFS")),
        ("RMS", |m| level(m.rms_dbfs, "dBFS")),
        ("frames", |m| m.frames.to_string()),
    ];
    let label_width = rows.iter().map(|(name, _)| name.len()).max().unwrap_or(0);
    let cells: Vec<Vec<String>> = columns
        .iter()
        .map(|m| {
            std::iter::once(m.label.clone())
                .chain(rows.iter().map(|(_, f)| f(m)))
                .collect()
        })
        .collect();
    let widths: Vec<usize> = cells
        .iter()
        .map(|c| c.iter().map(|s| s.chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for line in 0..=rows.len() {
        let name = if line == 0 { "" } else { rows[line - 1].0 };
        let mut text = format!("{name:<label_width$}");
        for (column, width) in cells.iter().zip(&widths) {
            text.push_str(&format!("  {:>width$}", column[line]));
        }
        out.push_str(text.trim_end());
        out.push('\n');
    }
    out
}

fn level(db: f64, unit: &str) -> String {
    if db.is_finite() {
        format!("{db:.2} {unit}")
    } else {
        format!("-inf {unit}")
    }
}

fn opt(value: Option<f64>, unit: &str) -> String {
    match value {
        Some(v) => level(v, unit),
        None => "n/a".to_string(),
    }
}

/// The before/after report of a render, as written by `--report`.
#[derive(Debug, Clone, Serialize)]
pub struct RenderReport {
    pub graph: String,
    pub output_format: String,
    pub block_frames: usize,
    pub latency_frames: usize,
    pub inputs: Vec<Measurement>,
    pub outputs: Vec<Measurement>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_scale_sine_reads_minus_three_db_rms() {
        let n = 48_000;
        let sine: Vec<f32> = (0..n)
            .map(|i| (i as f64 * 1000.0 * std::f64::consts::TAU / 48_000.0).sin() as f32)
            .collect();
        let audio = Audio {
            sample_rate_hz: 48_000,
            channels: vec![sine.clone(), sine],
        };
        let m = Measurement::of("sine", &audio);
        assert!((m.rms_dbfs + 3.0103).abs() < 0.001, "{}", m.rms_dbfs);
        assert!(m.sample_peak_dbfs.abs() < 0.001);
        assert!((m.duration_s - 1.0).abs() < 1e-12);
        // EBU Tech 3341 case 1 scaled up 23 dB: a stereo 1 kHz sine at X dBFS reads
        // X LUFS (±0.1 LU).
        let lufs = m.integrated_lufs.unwrap();
        assert!(lufs.abs() < 0.1, "{lufs}");
    }

    #[test]
    fn no_channels_have_no_loudness() {
        let m = Measurement::of("none", &Audio::silence(48_000, 0, 0));
        assert!(m.integrated_lufs.is_none());
        assert!(table(&[&m]).contains("n/a"));
    }

    #[test]
    fn silence_prints_minus_inf_and_json_null() {
        let m = Measurement::of("quiet", &Audio::silence(44_100, 1, 10));
        let text = table(&[&m]);
        assert!(text.contains("-inf dBFS"), "{text}");
        assert!(
            text.lines()
                .any(|l| l.starts_with("integrated") && l.ends_with("n/a")),
            "{text}"
        );
        let json = serde_json::to_value(&m).unwrap();
        assert!(json["sample_peak_dbfs"].is_null());
        assert!(json["integrated_lufs"].is_null());
    }
}
