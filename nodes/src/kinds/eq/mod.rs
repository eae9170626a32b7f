//! `eq`: a parametric equaliser with any number of bands, minimum phase (matched
//! biquads) or linear phase (the same magnitude by FFT convolution).
//!
//! - Ports: in `in` (N channels), out `out` (N channels).
//! - Config (every field optional):
//!   `(channels: 2, mode: "minimum_phase", fir_frames: 4096, bands: [...])`
//!   - `channels`: 1..=32, default 2. Bands in `left`/`right`/`mid`/`side` need 2.
//!   - `mode`: `"minimum_phase"` (default) or `"linear_phase"`.
//!   - `fir_frames`: linear phase only, power of two 256..=65536 (default 4096).
//!   - `bands`: list of `(type: T, order: N, alignment: A, channel: C, slope: S)`; default: the
//!     five-band mastering layout `high_pass` (order 2), `low_shelf`, `bell`, `bell`,
//!     `high_shelf`, all at 0 dB. `type`: `bell`, `low_shelf`, `high_shelf`,
//!     `high_pass`, `low_pass`, `notch`, `band_pass`, `tilt`. `order`: pass filters
//!     1..=8, shelves and tilt 1..=2, default 2. `alignment`: `butterworth` (default,
//!     -3 dB at freq) or `linkwitz_riley` (-6 dB, even orders). `channel`: `stereo`
//!     (default, every channel), `left`, `right`, `mid`, `side`. `slope`: second-order
//!     `low_shelf` / `high_shelf` only, 0.1..=1, default none: define the shelf by its
//!     slope `S` (RBJ cookbook; 1 = the steepest shelf without overshoot) instead of
//!     its Q. Such a band has the param `bandN.slope` (default: this value) and no
//!     `bandN.q`; at every coefficient update `1/Q^2 = (A + 1/A)(1/S - 1) + 2` with
//!     `A = 10^(gain_db/40)`, so Q follows the gain ([`crate::dsp::biquad::shelf_q_from_slope`]).
//! - Params, per band N (1-based), declared in [`band::BandParam`] (ranges and smoothing
//!   in `lathe nodes eq`); which a band has and their defaults follow its type:
//!   - `bandN.freq_hz` (designs keep it below 0.49 x the sample rate); default high_pass
//!     30, low_pass 18000, low_shelf 100, high_shelf 10000, others 1000.
//!   - `bandN.gain_db` (bell, shelves, tilt; tilt: the gain above the centre, its
//!     negative below).
//!   - `bandN.q` (bell, notch, band_pass, second-order shelves and tilt); default 1
//!     (bell, band_pass), 0.707 (shelves, tilt), 4 (notch).
//!   - `bandN.slope` (shelves with a `slope` config only, instead of `bandN.q`); default
//!     the configured slope.
//! - Meters: none.
//! - Latency: minimum phase 0; linear phase `fir_frames / 2`.
//! - Allocates at build only: f64 work buffers of the block size; linear phase also its
//!   FFT plans, kernel spectra (two sets, for crossfades) and design buffers.
//!
//! Minimum phase: each band is a cascade of matched biquads ([`crate::dsp::biquad`]): no
//! cramping near Nyquist. Params ramp per sample; a moving band's coefficients are
//! recomputed every 16 absolute frames, a steady band costs nothing extra.
//!
//! Linear phase: see [`crate::kinds::eq::linear_phase`]. The magnitude is the minimum-phase one;
//! changes redesign the kernel every 1024 frames and crossfade to it.
//!
//! The reference mastering EQ:
//! ```text
//! (id: "eq", kind: "eq",
//!  config: (bands: [(type: "high_pass", order: 2), (type: "low_shelf"), (type: "bell"),
//!                   (type: "bell"), (type: "high_shelf")]),
//!  params: {"band1.freq_hz": 30, "band2.freq_hz": 100, "band2.gain_db": 1.5,
//!           "band3.freq_hz": 300, "band3.q": 1, "band3.gain_db": -1.5,
//!           "band4.freq_hz": 3000, "band4.q": 1, "band4.gain_db": 1,
//!           "band5.freq_hz": 10000, "band5.gain_db": 1})
//! ```

pub mod linear_phase;
pub mod minimum_phase;

use lathe_engine::{BuildContext, BuiltNode, ConfigError, NodeConfig, NodeKind, NodeSpec};
use serde::Deserialize;

use crate::bus::{DEFAULT_CHANNELS, check_channels};
use crate::dsp::eq_band::{ALL_TYPES, BandConfig, parse_bands};
use linear_phase::LinearPhaseProcessor;
use minimum_phase::MinimumPhaseProcessor;

/// Kernel length of linear-phase mode when the config does not say.
pub const DEFAULT_FIR_FRAMES: usize = 4096;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EqConfig {
    pub channels: usize,
    pub mode: String,
    pub fir_frames: usize,
    pub bands: Vec<BandConfig>,
}

/// The five-band layout of the reference mastering EQ.
pub fn mastering_bands() -> Vec<BandConfig> {
    let band = |kind: &str| BandConfig {
        kind: kind.into(),
        ..BandConfig::default()
    };
    vec![
        BandConfig {
            order: Some(2),
            ..band("high_pass")
        },
        band("low_shelf"),
        band("bell"),
        band("bell"),
        band("high_shelf"),
    ]
}

impl Default for EqConfig {
    fn default() -> Self {
        Self {
            channels: DEFAULT_CHANNELS,
            mode: "minimum_phase".into(),
            fir_frames: DEFAULT_FIR_FRAMES,
            bands: mastering_bands(),
        }
    }
}

pub struct EqKind;

const DOC: &str = "Parametric EQ, any number of bands, minimum or linear phase.

Ports: in `in` (N channels), out `out` (N channels).
Config: (channels: 2, mode: \"minimum_phase\" | \"linear_phase\", fir_frames: 4096,
  bands: [(type: T, order: N, alignment: A, channel: C, slope: S), ...])
  type: bell, low_shelf, high_shelf, high_pass, low_pass, notch, band_pass, tilt
  order: pass filters 1..=8, shelves/tilt 1..=2 (default 2)
  alignment: butterworth (default) | linkwitz_riley (even orders)
  channel: stereo (default) | left | right | mid | side (these need 2 channels)
  slope: 2nd-order low/high shelves, 0.1..=1 (1 = steepest without overshoot): the
    band gets bandN.slope (default S) instead of bandN.q; Q = f(gain, S) (RBJ)
  default bands: high_pass(2), low_shelf, bell, bell, high_shelf
Params per band N (1-based), ranges as for the default bands below:
  bandN.freq_hz; bandN.gain_db (bell, shelves, tilt);
  bandN.q (bell, notch, band_pass, 2nd-order shelves/tilt)
  bandN.slope (shelves with a slope config, replacing bandN.q)
Latency: 0 (minimum_phase), fir_frames / 2 (linear_phase).
Allocates at build only.";

impl NodeKind for EqKind {
    fn name(&self) -> &'static str {
        "eq"
    }

    fn summary(&self) -> &'static str {
        "Parametric EQ: bells, shelves, tilt, pass filters to 8th order; minimum or linear phase."
    }

    fn doc(&self) -> &'static str {
        DOC
    }

    fn build(
        &self,
        config: &NodeConfig<'_>,
        ctx: &BuildContext<'_>,
    ) -> Result<BuiltNode, ConfigError> {
        let cfg: EqConfig = config.parse()?;
        check_channels(cfg.channels)?;
        let (layouts, params, routes) = parse_bands(&cfg.bands, cfg.channels, ALL_TYPES)?;
        let prepare = ctx.prepare;
        let (processor, latency_frames): (Box<dyn lathe_engine::Processor>, usize) =
            match cfg.mode.as_str() {
                "minimum_phase" => (
                    Box::new(MinimumPhaseProcessor::new(
                        layouts,
                        routes,
                        cfg.channels,
                        prepare.sample_rate_hz,
                        prepare.max_block_frames,
                    )),
                    0,
                ),
                "linear_phase" => {
                    linear_phase::check_fir_frames(cfg.fir_frames)?;
                    let p = LinearPhaseProcessor::new(
                        layouts,
                        routes,
                        cfg.channels,
                        prepare.sample_rate_hz,
                        cfg.fir_frames,
                    );
                    (Box::new(p), cfg.fir_frames / 2)
                }
                other => {
                    return Err(ConfigError::invalid(
                        "mode",
                        format!("must be \"minimum_phase\" or \"linear_phase\", found \"{other}\""),
                    ));
                }
            };
        let spec = NodeSpec::in_out(cfg.channels)
            .with_params(params)
            .with_latency(latency_frames);
        Ok(BuiltNode { spec, processor })
    }
}
