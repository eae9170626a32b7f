//! Measurements of audio for `lathe analyze` and the before/after report of a render:
//! printed as a table, or as JSON for scripts.
//!
//! Loudness follows EBU R128 / ITU-R BS.1770 (integrated loudness, loudness range, true
//! peak 4x oversampled), measured with lathe's own analyser (`lathe_nodes::dsp::analysis`).

use lathe_nodes::dsp::analysis::Analyzer;
use lathe_nodes::dsp::bs1770::Layout;
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
        let mut stream = MeasurementStream::new(label, audio.sample_rate_hz, audio.channel_count());
        let planes: Vec<&[f32]> = audio.channels.iter().map(Vec::as_slice).collect();
        stream.push(&planes);
        stream.finish()
    }
}

/// Frames handed to the loudness analyser at a time (rounded up to whole meter ticks).
const ANALYSIS_CHUNK_FRAMES: usize = 16_384;

/// A [`Measurement`] of audio that arrives in chunks: a render measures its inputs and
/// outputs as they stream, so nothing is held but the chunk in hand.
///
/// The figures do not depend on how the audio is chunked, bit for bit: the loudness
/// meter is fed whole 10 ms ticks (its sums are per tick, so a tick split across two
/// calls would be summed in another order); the L/R correlation sums run across the
/// whole stream (the analyser restarts its sums on every call); RMS sums each channel in
/// order, then the channels.
#[derive(Debug)]
pub struct MeasurementStream {
    label: String,
    sample_rate_hz: u32,
    analyzer: Option<Analyzer>,
    /// Frames waiting for a whole number of meter ticks.
    pending: Vec<Vec<f32>>,
    pending_frames: usize,
    /// Frames per analyser call: a multiple of the meter's tick.
    flush_frames: usize,
    sum_sq: Vec<f64>,
    peak: f32,
    correlation: Option<CorrelationSums>,
    frames: usize,
}

/// Sums behind the L/R correlation of a whole programme, as the analyser keeps them.
#[derive(Debug, Clone, Copy, Default)]
struct CorrelationSums {
    lr: f64,
    ll: f64,
    rr: f64,
}

impl CorrelationSums {
    fn add(&mut self, left: &[f32], right: &[f32]) {
        for (&l, &r) in left.iter().zip(right) {
            let (l, r) = (f64::from(l), f64::from(r));
            self.lr += l * r;
            self.ll += l * l;
            self.rr += r * r;
        }
    }

    fn correlation(&self) -> Option<f64> {
        let norm = (self.ll * self.rr).sqrt();
        (norm > 0.0).then(|| (self.lr / norm).clamp(-1.0, 1.0))
    }
}

impl MeasurementStream {
    pub fn new(label: impl Into<String>, sample_rate_hz: u32, channels: usize) -> Self {
        let layout = Layout::for_channels(channels);
        // The meter's tick: 10 ms, rounded to whole frames.
        let tick_frames = ((f64::from(sample_rate_hz) / 100.0).round() as usize).max(1);
        Self {
            label: label.into(),
            sample_rate_hz,
            analyzer: (channels > 0).then(|| Analyzer::new(f64::from(sample_rate_hz), layout)),
            pending: vec![Vec::new(); channels],
            pending_frames: 0,
            flush_frames: ANALYSIS_CHUNK_FRAMES.div_ceil(tick_frames) * tick_frames,
            sum_sq: vec![0.0; channels],
            peak: 0.0,
            correlation: (layout == Layout::Stereo).then(CorrelationSums::default),
            frames: 0,
        }
    }

    /// Measures the next frames: one slice per channel, all the same length.
    pub fn push(&mut self, planes: &[&[f32]]) {
        let frames = planes.first().map_or(0, |p| p.len());
        let peak = &mut self.peak;
        for (sum, plane) in self.sum_sq.iter_mut().zip(planes) {
            for &s in plane.iter() {
                *sum += f64::from(s) * f64::from(s);
                *peak = peak.max(s.abs());
            }
        }
        if let (Some(sums), [left, right, ..]) = (&mut self.correlation, planes) {
            sums.add(left, right);
        }
        self.frames += frames;
        let mut done = 0;
        while done < frames {
            let n = (frames - done).min(self.flush_frames - self.pending_frames);
            for (pending, plane) in self.pending.iter_mut().zip(planes) {
                pending.extend_from_slice(&plane[done..done + n]);
            }
            self.pending_frames += n;
            done += n;
            if self.pending_frames == self.flush_frames {
                self.flush();
            }
        }
    }

    /// Hands the pending frames to the analyser.
    fn flush(&mut self) {
        if let Some(analyzer) = &mut self.analyzer {
            let planes: Vec<&[f32]> = self.pending.iter().map(Vec::as_slice).collect();
            analyzer.process(&planes);
        }
        self.pending.iter_mut().for_each(Vec::clear);
        self.pending_frames = 0;
    }

    /// The measurement of everything pushed.
    pub fn finish(mut self) -> Measurement {
        if self.pending_frames > 0 {
            self.flush();
        }
        let analysis = self.analyzer.as_ref().map(|a| {
            let mut analysis = a.analysis();
            analysis.correlation = self.correlation.and_then(|c| c.correlation());
            analysis
        });
        let get = |f: fn(&lathe_nodes::dsp::analysis::FileAnalysis) -> Option<f64>| {
            analysis.as_ref().and_then(f)
        };
        let channels = self.sum_sq.len();
        let samples = self.frames * channels;
        let sum_sq: f64 = self.sum_sq.iter().sum();
        let rms = if samples == 0 {
            0.0
        } else {
            (sum_sq / samples as f64).sqrt()
        };
        let duration_s = if self.sample_rate_hz == 0 {
            0.0
        } else {
            self.frames as f64 / f64::from(self.sample_rate_hz)
        };
        Measurement {
            label: self.label,
            sample_rate_hz: self.sample_rate_hz,
            channels,
            frames: self.frames,
            duration_s,
            sample_peak_dbfs: amplitude_db(f64::from(self.peak)),
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
    /// How the render reached its loudness target or ceiling (`--target-lufs`,
    /// `--preset`); absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub leveling: Option<Leveling>,
}

/// The gains a render found for its loudness target and true-peak ceiling.
#[derive(Debug, Clone, Serialize)]
pub struct Leveling {
    pub preset: Option<String>,
    pub target_lufs: Option<f64>,
    pub ceiling_dbtp: f64,
    /// The gain into the graph, in dB.
    pub gain_db: f64,
    /// The gain after the graph that keeps the true peak under the ceiling (0 when the
    /// graph's own limiter does), in dB.
    pub safety_gain_db: f64,
    /// Measuring renders before the one written.
    pub passes: usize,
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

    fn noise(frames: usize, seed: u64, amp: f32) -> Vec<f32> {
        let mut rng = crate::audio_io::SplitMix64::new(seed);
        (0..frames)
            .map(|i| {
                let fade = (i as f32 / frames as f32).min(0.7);
                amp * fade * (rng.next_unit() as f32 * 2.0 - 1.0)
            })
            .collect()
    }

    #[test]
    fn streamed_measurements_do_not_depend_on_the_chunks() {
        for (rate, channels) in [
            (48_000, 2),
            (44_100, 2),
            (22_050, 1),
            (11_025, 3),
            (96_000, 6),
        ] {
            let frames = rate as usize * 7 + 123;
            let audio = Audio {
                sample_rate_hz: rate,
                channels: (0..channels)
                    .map(|c| noise(frames, c as u64 + 1, 0.5 / (c + 1) as f32))
                    .collect(),
            };
            let whole = Measurement::of("x", &audio);
            assert!(whole.integrated_lufs.is_some() && whole.loudness_range_lu.is_some());
            for chunk in [1, 479, 4800, 16_384, 100_000] {
                let mut stream = MeasurementStream::new("x", rate, channels);
                let mut start = 0;
                while start < frames {
                    // Uneven chunks: `chunk` and then a few frames more.
                    let end = (start + chunk + start % 7).min(frames);
                    let planes: Vec<&[f32]> =
                        audio.channels.iter().map(|c| &c[start..end]).collect();
                    stream.push(&planes);
                    start = end;
                }
                assert_eq!(
                    stream.finish(),
                    whole,
                    "{rate} Hz, {channels} ch, chunks of {chunk}"
                );
            }
        }
    }

    #[test]
    fn figures_are_those_of_the_analyser() {
        let audio = Audio {
            sample_rate_hz: 48_000,
            channels: vec![noise(100_000, 1, 0.5), noise(100_000, 2, 0.25)],
        };
        let planes: Vec<&[f32]> = audio.channels.iter().map(Vec::as_slice).collect();
        let analysis = lathe_nodes::dsp::analysis::analyze(&planes, 48_000.0, Layout::Stereo);
        let m = Measurement::of("x", &audio);
        assert_eq!(m.integrated_lufs, analysis.integrated_lufs);
        assert_eq!(m.true_peak_dbtp, analysis.true_peak_dbtp);
        assert_eq!(m.loudness_range_lu, analysis.loudness_range_lu);
        assert_eq!(m.momentary_max_lufs, analysis.momentary_max_lufs);
        assert_eq!(m.short_term_max_lufs, analysis.short_term_max_lufs);
        assert_eq!(m.correlation, analysis.correlation);
        assert_eq!(Some(m.sample_peak_dbfs), analysis.sample_peak_dbfs);
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
