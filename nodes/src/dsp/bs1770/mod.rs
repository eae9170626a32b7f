//! ITU-R BS.1770-4 loudness measurement with the EBU R128 extensions (Tech 3341 meter
//! ballistics, Tech 3342 loudness range): the engine shared by the `loudness` node and
//! by offline analysis (`lathe analyze`).
//!
//! - [`kweight`]: the K-weighting pre-filter at any sample rate, from its analog prototype.
//! - [`histogram`]: constant-memory gating histograms (integrated loudness and LRA).
//! - [`true_peak`]: oversampled true-peak detection (polyphase FIR).
//! - [`meter`]: the meter itself: 10 ms ticks, momentary (400 ms) and short-term (3 s)
//!   windows, 100 ms gating hops, maxima and peaks.

pub mod histogram;
pub mod kweight;
pub mod meter;
pub mod true_peak;

pub use meter::{HopReading, LoudnessMeter};

/// The offset of BS.1770's loudness formula: `L = -0.691 + 10·log10(Σ Gᵢ·zᵢ)`.
pub const LOUDNESS_OFFSET_DB: f64 = -0.691;
/// Absolute gate of integrated loudness and loudness range.
pub const ABSOLUTE_GATE_LUFS: f64 = -70.0;
/// Relative gate of integrated loudness, below the power mean of absolute-gated blocks.
pub const RELATIVE_GATE_LU: f64 = -10.0;
/// Relative gate of loudness range (Tech 3342).
pub const LRA_RELATIVE_GATE_LU: f64 = -20.0;
/// Weight of the surround channels (Ls, Rs): +1.5 dB.
pub const SURROUND_WEIGHT: f64 = 1.41;

/// Loudness in LUFS of a mean weighted energy; `-inf` for zero energy.
#[inline]
pub fn energy_to_lufs(energy: f64) -> f64 {
    LOUDNESS_OFFSET_DB + 10.0 * energy.log10()
}

/// Mean weighted energy of a loudness in LUFS.
#[inline]
pub fn lufs_to_energy(lufs: f64) -> f64 {
    10f64.powf((lufs - LOUDNESS_OFFSET_DB) / 10.0)
}

/// `Some(x)` when `x` is a finite number: the "no value" of silence is `None`.
#[inline]
pub fn finite(x: f64) -> Option<f64> {
    x.is_finite().then_some(x)
}

/// Channel layout of the measured signal: it fixes the channel count and the BS.1770
/// channel weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    Mono,
    Stereo,
    /// L R C Ls Rs.
    Surround50,
    /// L R C LFE Ls Rs; the LFE is not measured.
    Surround51,
    /// Any other count: every channel weighted 1.0.
    Unweighted(usize),
}

impl Layout {
    /// The layout a file of `channels` channels is assumed to have.
    pub fn for_channels(channels: usize) -> Self {
        match channels {
            1 => Layout::Mono,
            2 => Layout::Stereo,
            5 => Layout::Surround50,
            6 => Layout::Surround51,
            n => Layout::Unweighted(n),
        }
    }

    /// Parses a layout name as written in configs: `mono`, `stereo`, `5.0`, `5.1`.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "mono" => Some(Layout::Mono),
            "stereo" => Some(Layout::Stereo),
            "5.0" => Some(Layout::Surround50),
            "5.1" => Some(Layout::Surround51),
            _ => None,
        }
    }

    pub fn channels(self) -> usize {
        match self {
            Layout::Mono => 1,
            Layout::Stereo => 2,
            Layout::Surround50 => 5,
            Layout::Surround51 => 6,
            Layout::Unweighted(n) => n,
        }
    }

    /// BS.1770 weight Gᵢ of channel `index` (0 for the LFE, which is excluded).
    pub fn weight(self, index: usize) -> f64 {
        match (self, index) {
            (Layout::Surround50, 3 | 4) => SURROUND_WEIGHT,
            (Layout::Surround51, 3) => 0.0,
            (Layout::Surround51, 4 | 5) => SURROUND_WEIGHT,
            _ => 1.0,
        }
    }
}
