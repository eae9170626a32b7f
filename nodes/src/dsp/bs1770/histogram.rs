//! Gating histograms: the constant-memory store behind integrated loudness and loudness
//! range, so an hours-long programme needs no more memory than a second of it.
//!
//! Every block that passes the absolute gate (-70 LUFS) is counted in a bin of
//! [`BIN_LU`] width, and its energy is added to that bin's energy sum. The relative gate's
//! threshold comes from exact running sums, and the gated power mean from the bins' exact
//! energy sums, so the only approximation is *which* blocks pass the relative gate: a
//! block within one bin (0.01 LU) of the threshold may be counted on the wrong side.
//! Loudness-range percentiles read bin centres: at most half a bin (0.005 LU) off.
//! Counts are u64: at 10 blocks per second they cannot wrap in any realistic run.
//!
//! Above [`TOP_LUFS`], louder than any file at or below full scale can measure, bins are
//! [`COARSE_BIN_LU`] wide up to [`CEILING_LUFS`], above what the loudest `f32` samples
//! give (about +777 LUFS): a float file scaled far over full scale is measured too, its
//! percentiles within 0.05 LU. Blocks at or below [`TOP_LUFS`] land in the same bins as
//! they always did, so the figures of ordinary files do not change.

use super::{ABSOLUTE_GATE_LUFS, energy_to_lufs};

/// Bin width in LU.
pub const BIN_LU: f64 = 0.01;
/// Top of the fine bins.
pub const TOP_LUFS: f64 = 10.0;
/// Number of fine bins, from the absolute gate to [`TOP_LUFS`].
pub const FINE_BINS: usize = ((TOP_LUFS - ABSOLUTE_GATE_LUFS) / BIN_LU) as usize;
/// Width of the bins above [`TOP_LUFS`].
pub const COARSE_BIN_LU: f64 = 0.1;
/// Top of the coarse bins; louder blocks share the last bin (their energy stays exact).
pub const CEILING_LUFS: f64 = 800.0;
/// Number of bins in all.
pub const BINS: usize = FINE_BINS + ((CEILING_LUFS - TOP_LUFS) / COARSE_BIN_LU) as usize;

/// Blocks above the absolute gate, binned by loudness.
#[derive(Debug, Clone, PartialEq)]
pub struct GatingHistogram {
    counts: Vec<u64>,
    energies: Vec<f64>,
    total_count: u64,
    total_energy: f64,
    /// Range of bins that may be non-zero, so clearing and scanning skip the rest.
    lowest: usize,
    highest: usize,
}

impl Default for GatingHistogram {
    fn default() -> Self {
        Self::new()
    }
}

impl GatingHistogram {
    /// Allocates the fixed bins (16 bytes each, 254 KB in all).
    pub fn new() -> Self {
        Self {
            counts: vec![0; BINS],
            energies: vec![0.0; BINS],
            total_count: 0,
            total_energy: 0.0,
            lowest: BINS,
            highest: 0,
        }
    }

    /// Empties the histogram without allocating.
    pub fn clear(&mut self) {
        if self.lowest <= self.highest {
            self.counts[self.lowest..=self.highest].fill(0);
            self.energies[self.lowest..=self.highest].fill(0.0);
        }
        self.total_count = 0;
        self.total_energy = 0.0;
        self.lowest = BINS;
        self.highest = 0;
    }

    /// Adds one block of mean weighted energy `energy`; blocks at or below the absolute
    /// gate (and non-finite energies) are dropped.
    pub fn add(&mut self, energy: f64) {
        let lufs = energy_to_lufs(energy);
        if lufs.is_nan() || lufs <= ABSOLUTE_GATE_LUFS || !energy.is_finite() {
            return;
        }
        let bin = if lufs < TOP_LUFS {
            (((lufs - ABSOLUTE_GATE_LUFS) / BIN_LU) as usize).min(FINE_BINS - 1)
        } else {
            (FINE_BINS + ((lufs - TOP_LUFS) / COARSE_BIN_LU) as usize).min(BINS - 1)
        };
        self.add_to_bin(bin, 1, energy);
    }

    fn add_to_bin(&mut self, bin: usize, count: u64, energy: f64) {
        if let (Some(c), Some(e)) = (self.counts.get_mut(bin), self.energies.get_mut(bin)) {
            *c += count;
            *e += energy;
            self.total_count += count;
            self.total_energy += energy;
            self.lowest = self.lowest.min(bin);
            self.highest = self.highest.max(bin);
        }
    }

    /// Adds every block of `other`, as if both had measured one programme.
    pub fn merge(&mut self, other: &GatingHistogram) {
        if other.lowest > other.highest {
            return;
        }
        for bin in other.lowest..=other.highest {
            if other.counts[bin] > 0 {
                self.add_to_bin(bin, other.counts[bin], other.energies[bin]);
            }
        }
    }

    /// Number of blocks above the absolute gate.
    pub fn count(&self) -> u64 {
        self.total_count
    }

    /// First bin at or above `lufs` (rounded to the nearest bin edge).
    fn bin_at(lufs: f64) -> usize {
        if lufs <= TOP_LUFS {
            (((lufs - ABSOLUTE_GATE_LUFS) / BIN_LU).round().max(0.0) as usize).min(FINE_BINS)
        } else {
            (FINE_BINS + ((lufs - TOP_LUFS) / COARSE_BIN_LU).round() as usize).min(BINS)
        }
    }

    fn bin_centre_lufs(bin: usize) -> f64 {
        if bin < FINE_BINS {
            ABSOLUTE_GATE_LUFS + (bin as f64 + 0.5) * BIN_LU
        } else {
            TOP_LUFS + ((bin - FINE_BINS) as f64 + 0.5) * COARSE_BIN_LU
        }
    }

    /// Threshold of a relative gate `relative_lu` below the power mean of all blocks.
    fn relative_threshold_lufs(&self, relative_lu: f64) -> Option<f64> {
        (self.total_count > 0)
            .then(|| energy_to_lufs(self.total_energy / self.total_count as f64) + relative_lu)
    }

    /// Gated loudness (integrated loudness with `relative_lu` = -10): the power mean of
    /// the blocks above the relative gate. `None` when no block passed the gates.
    pub fn gated_loudness(&self, relative_lu: f64) -> Option<f64> {
        let first = Self::bin_at(self.relative_threshold_lufs(relative_lu)?);
        let (mut count, mut energy) = (0u64, 0.0);
        for bin in first.max(self.lowest)..=self.highest.min(BINS - 1) {
            count += self.counts[bin];
            energy += self.energies[bin];
        }
        (count > 0).then(|| energy_to_lufs(energy / count as f64))
    }

    /// Loudness range per Tech 3342: P95 - P10 of the blocks above the relative gate
    /// (`relative_lu` = -20). `None` without blocks.
    pub fn loudness_range(&self, relative_lu: f64) -> Option<f64> {
        let first = Self::bin_at(self.relative_threshold_lufs(relative_lu)?).max(self.lowest);
        let last = self.highest.min(BINS - 1);
        if first > last {
            return None;
        }
        let n: u64 = self.counts[first..=last].iter().sum();
        if n == 0 {
            return None;
        }
        // Nearest-rank percentiles over the sorted block values, 0-based.
        let rank = |p: f64| ((n - 1) as f64 * p).round() as u64;
        let percentile = |p: f64| {
            let r = rank(p);
            let mut seen = 0u64;
            for bin in first..=last {
                seen += self.counts[bin];
                if seen > r {
                    return Self::bin_centre_lufs(bin);
                }
            }
            Self::bin_centre_lufs(last)
        };
        Some(percentile(0.95) - percentile(0.10))
    }

    /// Bytes held, fixed at construction (for the constant-memory test).
    pub fn heap_bytes(&self) -> usize {
        self.counts.capacity() * size_of::<u64>() + self.energies.capacity() * size_of::<f64>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dsp::bs1770::lufs_to_energy as energy_of;

    /// Two levels 10 LU apart: both pass the -10 LU gate only when the quieter is above it.
    #[test]
    fn gating_follows_the_standard() {
        let mut h = GatingHistogram::new();
        for _ in 0..100 {
            h.add(energy_of(-23.0));
        }
        for _ in 0..100 {
            h.add(energy_of(-40.0)); // below -23 - 3 (mean) - 10: gated out
        }
        for _ in 0..100 {
            h.add(energy_of(-80.0)); // below the absolute gate
        }
        let i = h.gated_loudness(-10.0).unwrap();
        assert!((i + 23.0).abs() < 1e-9, "{i}");
        assert_eq!(h.count(), 200);
    }

    #[test]
    fn silence_has_no_loudness() {
        let mut h = GatingHistogram::new();
        h.add(0.0);
        h.add(energy_of(-75.0));
        assert_eq!(h.gated_loudness(-10.0), None);
        assert_eq!(h.loudness_range(-20.0), None);
    }

    /// Uniformly spread values from -30 to -10: P95 - P10 = 0.85 * 20 = 17 LU (to a bin).
    #[test]
    fn range_of_a_uniform_spread() {
        let mut h = GatingHistogram::new();
        for i in 0..=2000 {
            h.add(energy_of(-30.0 + i as f64 * 0.01));
        }
        let lra = h.loudness_range(-20.0).unwrap();
        assert!((lra - 17.0).abs() < 0.02, "{lra}");
    }

    /// Merging equals measuring both programmes into one histogram; clear empties it.
    #[test]
    fn merge_and_clear() {
        let (mut a, mut b, mut both) = (
            GatingHistogram::new(),
            GatingHistogram::new(),
            GatingHistogram::new(),
        );
        for i in 0..300 {
            let e = energy_of(-40.0 + (i % 37) as f64 * 0.7);
            if i % 3 == 0 { &mut a } else { &mut b }.add(e);
            both.add(e);
        }
        a.merge(&b);
        let (i_a, i_both) = (
            a.gated_loudness(-10.0).unwrap(),
            both.gated_loudness(-10.0).unwrap(),
        );
        assert!((i_a - i_both).abs() < 1e-9, "{i_a} vs {i_both}");
        assert_eq!(a.loudness_range(-20.0), both.loudness_range(-20.0));
        a.clear();
        assert_eq!(a, GatingHistogram::new());
    }

    /// Music scaled far above full scale (a float file) is measured, not dropped into
    /// one last bin: integrated loudness and range move with the gain.
    #[test]
    fn loud_float_levels_are_measured() {
        let measure = |offset_lu: f64| {
            let mut h = GatingHistogram::new();
            for k in 0..200 {
                h.add(energy_of(-20.0 + offset_lu + f64::from(k % 10)));
            }
            (
                h.gated_loudness(-10.0).expect("blocks pass the gates"),
                h.loudness_range(-20.0).expect("a range"),
            )
        };
        let (integrated, lra) = measure(0.0);
        assert!(lra > 7.9, "{lra}");
        for offset_lu in [30.0, 60.0, 500.0] {
            let (i, r) = measure(offset_lu);
            assert!(
                (i - (integrated + offset_lu)).abs() < 0.01,
                "{offset_lu}: {i}"
            );
            assert!((r - lra).abs() <= 0.1, "{offset_lu}: {r} vs {lra}");
        }
    }
}
