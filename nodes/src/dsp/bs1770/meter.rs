//! The BS.1770 / EBU R128 meter: feed it planar audio in chunks of any size and read
//! momentary, short-term, integrated loudness, loudness range, maxima and peaks.
//!
//! Time runs in 10 ms ticks counted from the last reset, so readings never depend on how
//! the audio was chunked. Each tick's K-weighted, channel-weighted energy goes into a ring
//! of the last 3 s of ticks:
//! - momentary (400 ms = 40 ticks) and short-term (3 s) loudness are evaluated every
//!   tick, so both maxima are found at 10 ms resolution (Tech 3341 asks for 10 ms and
//!   100 ms or finer; at 100 ms a short-term maximum can read 0.07 LU low);
//! - every 100 ms hop (10 ticks) the 400 ms block ending there enters the
//!   integrated-loudness histogram (75 % overlap) and the 3 s window enters the
//!   loudness-range histogram (10 Hz stepping, Tech 3342).
//!
//! Window sums are re-added from the ring (340 additions per tick, 34 000 per second)
//! instead of kept as running differences, so they cannot drift. Before a window has
//! filled, the time before the reset counts as silence. At rates that are not a multiple
//! of 100 Hz, a tick is the nearest whole number of frames.
//!
//! All memory is allocated in [`LoudnessMeter::new`] and stays fixed (about 260 KB,
//! mostly the two histograms), whatever the length of the programme.

use super::histogram::GatingHistogram;
use super::kweight::{KFilterState, KWeighting, energy_lanes};
use super::true_peak::TruePeak;
use super::{LRA_RELATIVE_GATE_LU, Layout, RELATIVE_GATE_LU, energy_to_lufs, finite};

/// Ticks per 100 ms hop.
pub const TICKS_PER_HOP: u64 = 10;
/// Ticks in the momentary window (400 ms).
pub const MOMENTARY_TICKS: usize = 40;
/// Ticks in the short-term window (3 s).
pub const SHORT_TERM_TICKS: usize = 300;

/// Loudness at the end of one 100 ms hop (LUFS; -inf for digital silence).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HopReading {
    pub momentary_lufs: f64,
    pub short_term_lufs: f64,
}

#[derive(Debug, PartialEq)]
pub struct LoudnessMeter {
    layout: Layout,
    weights: Vec<f64>,
    kweighting: KWeighting,
    filters: Vec<KFilterState>,
    tick_frames: usize,
    /// Frames already in the current tick.
    tick_fill: usize,
    /// K-weighted energy of the current tick, per channel (unweighted).
    tick_energy: Vec<f64>,
    /// Channel-weighted energy of the last [`SHORT_TERM_TICKS`] ticks.
    ring: Vec<f64>,
    ring_pos: usize,
    ticks: u64,
    /// Mean weighted energies of the current windows and their maxima.
    momentary: f64,
    short_term: f64,
    momentary_max: f64,
    short_term_max: f64,
    gating_blocks: GatingHistogram,
    range_blocks: GatingHistogram,
    true_peak: TruePeak,
    sample_peaks: Vec<f32>,
}

impl LoudnessMeter {
    pub fn new(sample_rate_hz: f64, layout: Layout) -> Self {
        let channels = layout.channels();
        Self {
            layout,
            weights: (0..channels).map(|c| layout.weight(c)).collect(),
            kweighting: KWeighting::new(sample_rate_hz),
            filters: vec![KFilterState::default(); channels],
            tick_frames: ((sample_rate_hz / 100.0).round() as usize).max(1),
            tick_fill: 0,
            tick_energy: vec![0.0; channels],
            ring: vec![0.0; SHORT_TERM_TICKS],
            ring_pos: 0,
            ticks: 0,
            momentary: 0.0,
            short_term: 0.0,
            momentary_max: 0.0,
            short_term_max: 0.0,
            gating_blocks: GatingHistogram::new(),
            range_blocks: GatingHistogram::new(),
            true_peak: TruePeak::new(channels, sample_rate_hz),
            sample_peaks: vec![0.0; channels],
        }
    }

    pub fn layout(&self) -> Layout {
        self.layout
    }

    /// Starts a new measurement, without allocating.
    pub fn reset(&mut self) {
        self.filters.fill(KFilterState::default());
        self.tick_fill = 0;
        self.tick_energy.fill(0.0);
        self.ring.fill(0.0);
        self.ring_pos = 0;
        self.ticks = 0;
        self.momentary = 0.0;
        self.short_term = 0.0;
        self.momentary_max = 0.0;
        self.short_term_max = 0.0;
        self.gating_blocks.clear();
        self.range_blocks.clear();
        self.true_peak.reset();
        self.sample_peaks.fill(0.0);
    }

    /// Measures the next frames: `channels[c]` is channel `c` (layout order), all the
    /// same length. Missing channels count as silence, extra ones are ignored.
    /// `on_hop` is called at the end of every 100 ms hop. Does not allocate.
    pub fn process(&mut self, channels: &[&[f32]], mut on_hop: impl FnMut(HopReading)) {
        let frames = channels.iter().map(|c| c.len()).min().unwrap_or(0);
        for (c, input) in channels.iter().enumerate().take(self.weights.len()) {
            let input = &input[..frames];
            self.true_peak.process(c, input);
            if let Some(peak) = self.sample_peaks.get_mut(c) {
                *peak = input.iter().fold(*peak, |m, x| m.max(x.abs()));
            }
        }
        let mut offset = 0;
        while offset < frames {
            let n = (frames - offset).min(self.tick_frames - self.tick_fill);
            self.filter_segment(channels, offset..offset + n);
            offset += n;
            self.tick_fill += n;
            if self.tick_fill == self.tick_frames {
                self.tick_fill = 0;
                self.end_tick(&mut on_hop);
            }
        }
    }

    /// K-weights frames `range` of every channel into the tick energies, two channels
    /// per loop so their filter recursions overlap. The LFE (weight 0) is filtered too:
    /// its energy is weighted out, and skipping it would break the pairing.
    fn filter_segment(&mut self, channels: &[&[f32]], range: std::ops::Range<usize>) {
        let count = channels.len().min(self.filters.len());
        let k = &self.kweighting;
        let mut c = 0;
        while c < count {
            let pair = (self.filters.get_mut(c..c + 2), channels.get(c..c + 2));
            if let (Some([a, b]), Some([x, y])) = (pair.0, pair.1) {
                let mut states = [*a, *b];
                let [ea, eb] = energy_lanes(&mut states, k, [&x[range.clone()], &y[range.clone()]]);
                [*a, *b] = states;
                self.tick_energy[c] += ea;
                self.tick_energy[c + 1] += eb;
                c += 2;
            } else {
                self.tick_energy[c] += self.filters[c].energy(k, &channels[c][range.clone()]);
                c += 1;
            }
        }
    }

    fn end_tick(&mut self, on_hop: &mut impl FnMut(HopReading)) {
        let weighted: f64 = self
            .weights
            .iter()
            .zip(&self.tick_energy)
            .map(|(w, e)| w * e)
            .sum();
        self.tick_energy.fill(0.0);
        self.ring[self.ring_pos] = weighted;
        self.ring_pos = (self.ring_pos + 1) % SHORT_TERM_TICKS;
        self.ticks += 1;
        self.momentary = self.window_sum(MOMENTARY_TICKS) / self.window_frames(MOMENTARY_TICKS);
        self.momentary_max = self.momentary_max.max(self.momentary);
        self.short_term = self.window_sum(SHORT_TERM_TICKS) / self.window_frames(SHORT_TERM_TICKS);
        self.short_term_max = self.short_term_max.max(self.short_term);
        if !self.ticks.is_multiple_of(TICKS_PER_HOP) {
            return;
        }
        if self.ticks >= MOMENTARY_TICKS as u64 {
            self.gating_blocks.add(self.momentary);
        }
        if self.ticks >= SHORT_TERM_TICKS as u64 {
            self.range_blocks.add(self.short_term);
        }
        on_hop(HopReading {
            momentary_lufs: energy_to_lufs(self.momentary),
            short_term_lufs: energy_to_lufs(self.short_term),
        });
    }

    /// Sum of the last `ticks` tick energies.
    fn window_sum(&self, ticks: usize) -> f64 {
        let p = self.ring_pos;
        if ticks <= p {
            self.ring[p - ticks..p].iter().sum()
        } else {
            let wrapped = ticks.min(SHORT_TERM_TICKS) - p;
            self.ring[..p].iter().sum::<f64>()
                + self.ring[SHORT_TERM_TICKS - wrapped..].iter().sum::<f64>()
        }
    }

    fn window_frames(&self, ticks: usize) -> f64 {
        (ticks * self.tick_frames) as f64
    }

    /// Completed 100 ms hops since the reset: readings that change at hop rate
    /// (short-term, integrated, range) only need re-reading when this moves.
    pub fn hops(&self) -> u64 {
        self.ticks / TICKS_PER_HOP
    }

    /// Length of a 100 ms hop in frames (rounded at rates that are not a multiple of
    /// 100 Hz).
    pub fn hop_frames(&self) -> usize {
        self.tick_frames * TICKS_PER_HOP as usize
    }

    /// Frames measured since the reset.
    pub fn frames(&self) -> u64 {
        self.ticks * self.tick_frames as u64 + self.tick_fill as u64
    }

    pub fn momentary_lufs(&self) -> Option<f64> {
        finite(energy_to_lufs(self.momentary))
    }

    pub fn short_term_lufs(&self) -> Option<f64> {
        finite(energy_to_lufs(self.short_term))
    }

    pub fn momentary_max_lufs(&self) -> Option<f64> {
        finite(energy_to_lufs(self.momentary_max))
    }

    pub fn short_term_max_lufs(&self) -> Option<f64> {
        finite(energy_to_lufs(self.short_term_max))
    }

    /// Gated integrated loudness; scans the histogram (up to 8000 bins): call it at hop
    /// rate, not per block.
    pub fn integrated_lufs(&self) -> Option<f64> {
        self.gating_blocks.gated_loudness(RELATIVE_GATE_LU)
    }

    /// Loudness range (Tech 3342); scans the histogram like [`Self::integrated_lufs`].
    pub fn loudness_range_lu(&self) -> Option<f64> {
        self.range_blocks.loudness_range(LRA_RELATIVE_GATE_LU)
    }

    /// Largest true peak over all channels, dBTP.
    pub fn true_peak_dbtp(&self) -> Option<f64> {
        finite(20.0 * (self.true_peak.max_peak() as f64).log10())
    }

    /// Largest absolute sample over all channels, dBFS.
    pub fn sample_peak_dbfs(&self) -> Option<f64> {
        let peak = self.sample_peaks.iter().fold(0f32, |m, &x| m.max(x));
        finite(20.0 * (peak as f64).log10())
    }

    /// The 400 ms blocks behind integrated loudness (for merging programmes).
    pub fn gating_blocks(&self) -> &GatingHistogram {
        &self.gating_blocks
    }

    /// The 3 s windows behind loudness range (for merging programmes).
    pub fn range_blocks(&self) -> &GatingHistogram {
        &self.range_blocks
    }

    /// Bytes held on the heap; fixed at construction.
    pub fn heap_bytes(&self) -> usize {
        (self.weights.capacity() + self.tick_energy.capacity() + self.ring.capacity())
            * size_of::<f64>()
            + self.filters.capacity() * size_of::<KFilterState>()
            + self.sample_peaks.capacity() * size_of::<f32>()
            + self.gating_blocks.heap_bytes()
            + self.range_blocks.heap_bytes()
            + self.true_peak.heap_bytes()
    }
}
