//! Offline loudness analysis of whole files and albums: the library behind
//! `lathe analyze` and the CLI's before/after reports.
//!
//! It runs the same [`LoudnessMeter`] as the `loudness` node, so a file analysed here and
//! the node's meters at the end of the same audio agree. [`Analyzer`] takes audio in
//! chunks of any size (decode and analyse without holding the file), [`analyze`] takes
//! it whole. An album is measured as one programme: [`AlbumAnalysis`] merges the files'
//! gating histograms, so album integrated loudness and range gate over all files
//! together, as if they had been played back to back.

use serde::Serialize;

use crate::dsp::bs1770::histogram::GatingHistogram;
use crate::dsp::bs1770::{LRA_RELATIVE_GATE_LU, Layout, LoudnessMeter, RELATIVE_GATE_LU, finite};

/// The measurements of one file (or of an album, see [`AlbumAnalysis`]). `None` where a
/// value does not exist: the loudness of silence, the correlation of a mono file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FileAnalysis {
    pub sample_rate: u32,
    pub channels: usize,
    pub duration_s: f64,
    pub integrated_lufs: Option<f64>,
    pub loudness_range_lu: Option<f64>,
    pub true_peak_dbtp: Option<f64>,
    pub sample_peak_dbfs: Option<f64>,
    pub momentary_max_lufs: Option<f64>,
    pub short_term_max_lufs: Option<f64>,
    /// Peak-to-loudness ratio: true peak minus integrated loudness.
    pub plr_db: Option<f64>,
    /// Phase correlation of L and R over the whole file (-1 ..= +1), stereo only.
    pub correlation: Option<f64>,
}

/// Loudness over time, one value per 100 ms hop, for plots. The value at index `i` is
/// the loudness of the window ending at `(i + 1) * hop_s` (`hop_s` is 0.1 s, or the
/// nearest whole number of frames at rates that are not a multiple of 100 Hz); NaN (JSON `null`) where the
/// window held digital silence.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct LoudnessSeries {
    pub hop_s: f64,
    pub momentary_lufs: Vec<f64>,
    pub short_term_lufs: Vec<f64>,
}

/// Sums behind the L/R correlation of a whole programme.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct CorrelationSums {
    lr: f64,
    ll: f64,
    rr: f64,
}

impl CorrelationSums {
    fn add(&mut self, left: &[f32], right: &[f32]) {
        let (mut lr, mut ll, mut rr) = (0.0, 0.0, 0.0);
        for (&l, &r) in left.iter().zip(right) {
            let (l, r) = (l as f64, r as f64);
            lr += l * r;
            ll += l * l;
            rr += r * r;
        }
        self.lr += lr;
        self.ll += ll;
        self.rr += rr;
    }

    fn merge(&mut self, other: &CorrelationSums) {
        self.lr += other.lr;
        self.ll += other.ll;
        self.rr += other.rr;
    }

    fn correlation(&self) -> Option<f64> {
        let norm = (self.ll * self.rr).sqrt();
        (norm > 0.0).then(|| (self.lr / norm).clamp(-1.0, 1.0))
    }
}

/// Everything needed to combine a file into an album: its histograms, maxima and sums.
#[derive(Debug, Clone, PartialEq)]
pub struct FileState {
    sample_rate: u32,
    channels: usize,
    duration_s: f64,
    gating_blocks: GatingHistogram,
    range_blocks: GatingHistogram,
    true_peak_dbtp: Option<f64>,
    sample_peak_dbfs: Option<f64>,
    momentary_max_lufs: Option<f64>,
    short_term_max_lufs: Option<f64>,
    correlation: Option<CorrelationSums>,
}

fn max_option(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

impl FileState {
    /// The measurements this state stands for.
    pub fn analysis(&self) -> FileAnalysis {
        let integrated_lufs = self.gating_blocks.gated_loudness(RELATIVE_GATE_LU);
        FileAnalysis {
            sample_rate: self.sample_rate,
            channels: self.channels,
            duration_s: self.duration_s,
            integrated_lufs,
            loudness_range_lu: self.range_blocks.loudness_range(LRA_RELATIVE_GATE_LU),
            true_peak_dbtp: self.true_peak_dbtp,
            sample_peak_dbfs: self.sample_peak_dbfs,
            momentary_max_lufs: self.momentary_max_lufs,
            short_term_max_lufs: self.short_term_max_lufs,
            plr_db: self
                .true_peak_dbtp
                .zip(integrated_lufs)
                .map(|(tp, i)| tp - i),
            correlation: self.correlation.and_then(|c| c.correlation()),
        }
    }

    fn merge(&mut self, other: &FileState) {
        self.duration_s += other.duration_s;
        self.channels = self.channels.max(other.channels);
        self.gating_blocks.merge(&other.gating_blocks);
        self.range_blocks.merge(&other.range_blocks);
        self.true_peak_dbtp = max_option(self.true_peak_dbtp, other.true_peak_dbtp);
        self.sample_peak_dbfs = max_option(self.sample_peak_dbfs, other.sample_peak_dbfs);
        self.momentary_max_lufs = max_option(self.momentary_max_lufs, other.momentary_max_lufs);
        self.short_term_max_lufs = max_option(self.short_term_max_lufs, other.short_term_max_lufs);
        self.correlation = match (self.correlation, other.correlation) {
            (Some(mut a), Some(b)) => {
                a.merge(&b);
                Some(a)
            }
            (a, b) => a.or(b),
        };
    }
}

/// Streaming analysis of one file: feed chunks with [`Analyzer::process`], then read
/// [`Analyzer::analysis`]. Memory is constant apart from the loudness series (16 bytes
/// per 100 ms).
#[derive(Debug)]
pub struct Analyzer {
    meter: LoudnessMeter,
    sample_rate_hz: f64,
    correlation: Option<CorrelationSums>,
    series: LoudnessSeries,
}

impl Analyzer {
    pub fn new(sample_rate_hz: f64, layout: Layout) -> Self {
        let meter = LoudnessMeter::new(sample_rate_hz, layout);
        let hop_s = meter.hop_frames() as f64 / sample_rate_hz;
        Self {
            meter,
            sample_rate_hz,
            correlation: (layout == Layout::Stereo).then(CorrelationSums::default),
            series: LoudnessSeries {
                hop_s,
                ..LoudnessSeries::default()
            },
        }
    }

    /// Analyses the next frames: `channels[c]` is channel `c` in layout order, all the
    /// same length.
    pub fn process(&mut self, channels: &[&[f32]]) {
        let series = &mut self.series;
        self.meter.process(channels, |hop| {
            let nan_if_silent = |x: f64| finite(x).unwrap_or(f64::NAN);
            series
                .momentary_lufs
                .push(nan_if_silent(hop.momentary_lufs));
            series
                .short_term_lufs
                .push(nan_if_silent(hop.short_term_lufs));
        });
        if let (Some(sums), [left, right, ..]) = (&mut self.correlation, channels) {
            let frames = left.len().min(right.len());
            sums.add(&left[..frames], &right[..frames]);
        }
    }

    /// The file so far, for combining into an album.
    pub fn state(&self) -> FileState {
        let m = &self.meter;
        FileState {
            sample_rate: self.sample_rate_hz.round() as u32,
            channels: m.layout().channels(),
            duration_s: m.frames() as f64 / self.sample_rate_hz,
            gating_blocks: m.gating_blocks().clone(),
            range_blocks: m.range_blocks().clone(),
            true_peak_dbtp: m.true_peak_dbtp(),
            sample_peak_dbfs: m.sample_peak_dbfs(),
            momentary_max_lufs: m.momentary_max_lufs(),
            short_term_max_lufs: m.short_term_max_lufs(),
            correlation: self.correlation,
        }
    }

    /// The measurements of the file so far.
    pub fn analysis(&self) -> FileAnalysis {
        self.state().analysis()
    }

    /// Momentary and short-term loudness every 100 ms so far.
    pub fn series(&self) -> &LoudnessSeries {
        &self.series
    }
}

/// Analyses a whole file held in memory (`channels[c]` = channel `c`, layout order).
pub fn analyze(channels: &[&[f32]], sample_rate_hz: f64, layout: Layout) -> FileAnalysis {
    let mut analyzer = Analyzer::new(sample_rate_hz, layout);
    analyzer.process(channels);
    analyzer.analysis()
}

/// Several files measured as one programme (an album played back to back).
#[derive(Debug, Clone, Default)]
pub struct AlbumAnalysis {
    total: Option<FileState>,
}

impl AlbumAnalysis {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a file. Loudness gating and range run over the blocks of every file together;
    /// peaks and maxima are the largest of any file; durations add up.
    pub fn add(&mut self, file: &FileState) {
        match &mut self.total {
            Some(total) => total.merge(file),
            None => self.total = Some(file.clone()),
        }
    }

    /// The album's measurements; `sample_rate` is the first file's, `channels` the
    /// largest count. `None` before any file was added.
    pub fn analysis(&self) -> Option<FileAnalysis> {
        self.total.as_ref().map(FileState::analysis)
    }
}
