//! `dither`: TPDF dither and quantisation to a target word length, optionally noise-shaped.
//!
//! - Ports: in `in` (N channels), out `out` (N channels).
//! - Config: `(channels: 2, bits: 16, shaping: "none", seed: 1, auto_mute_ms: 100.0)`.
//!   `bits` 8 ..= 24; `shaping`:
//!   - `"none"`: plain TPDF dither (two uniform values of 1 LSB width summed, +-1 LSB).
//!   - `"tpdf_hp"`: high-passed TPDF, `u[n] - u[n-1]`: same triangular amplitude
//!     distribution, spectrum `4 sin^2(pi f / fs)`, so less noise at low frequencies.
//!   - `"shaped"`: TPDF with second-order error feedback; the total error is shaped by
//!     `(1 - 0.8 z^-1)^2`: about -28 dB at DC, +10 dB at Nyquist.
//!
//!   `seed` makes the noise reproducible; every channel derives its own stream from it.
//!   `auto_mute_ms` (0 = never): after this long of exactly zero input on a channel, that
//!   channel outputs exact zeros (no dither noise in digital silence) and the shaping
//!   state is cleared; the first non-zero input sample resumes dithering.
//! - Params: none. Meters: none. Latency: 0. Allocates only at build.
//!
//! Output values are multiples of `2^-(bits-1)` in `[-1, 1 - 2^-(bits-1)]`.
//!
//! Noise levels in LSB^2 (`LSB = 2^-(bits-1)`): rounding after TPDF dither leaves an error
//! independent of the signal with power `1/12` (rounding) + `1/6` (dither) = `1/4`,
//! i.e. an RMS of half an LSB. `tpdf_hp` has the same total; `shaped` multiplies it by the
//! sum of squared shaping taps, `1 + 1.6^2 + 0.64^2 = 3.9696`.

use lathe_engine::{
    BuildContext, BuiltNode, ConfigError, Io, NodeConfig, NodeKind, NodeSpec, ParamId, Processor,
};
use serde::Deserialize;

use crate::bus::{DEFAULT_CHANNELS, check_channels};
use crate::dsp::noise::{GOLDEN_GAMMA, Xorshift64Star, splitmix64_finalise};

/// Default target word length.
pub const DEFAULT_BITS: u32 = 16;
/// Default seed of the noise generator.
pub const DEFAULT_SEED: u64 = 1;
/// Default time of exact digital silence before a channel mutes, in ms.
pub const DEFAULT_AUTO_MUTE_MS: f64 = 100.0;
/// Error-feedback taps of `shaping: "shaped"`: the error is filtered by
/// `1 - SHAPED_FEEDBACK[0] z^-1 - SHAPED_FEEDBACK[1] z^-2 = (1 - 0.8 z^-1)^2`.
pub const SHAPED_FEEDBACK: [f64; 2] = [1.6, -0.64];

const DOC: &str = "\
dither: TPDF dither and quantisation to `bits`, optionally noise-shaped.
Ports: in `in` (N), out `out` (N).
Config: (channels: 2, bits: 16, shaping: \"none\", seed: 1, auto_mute_ms: 100.0)
  bits 8..=24; shaping \"none\" | \"tpdf_hp\" | \"shaped\" ((1 - 0.8 z^-1)^2 error feedback);
  auto_mute_ms: exact-zero input this long gives exact-zero output (0 = never).
Output: multiples of 2^-(bits-1). Noise: 1/4 LSB^2 (RMS 0.5 LSB) for none and tpdf_hp.
No params, no meters. Latency 0. Allocates at build only.";

/// How the dither noise is coloured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shaping {
    None,
    TpdfHp,
    Shaped,
}

impl Shaping {
    fn parse(name: &str) -> Result<Self, ConfigError> {
        match name {
            "none" => Ok(Self::None),
            "tpdf_hp" => Ok(Self::TpdfHp),
            "shaped" => Ok(Self::Shaped),
            other => Err(ConfigError::invalid(
                "shaping",
                format!("must be \"none\", \"tpdf_hp\" or \"shaped\", found \"{other}\""),
            )),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DitherConfig {
    pub channels: usize,
    pub bits: u32,
    /// `"none"`, `"tpdf_hp"` or `"shaped"`.
    pub shaping: String,
    pub seed: u64,
    pub auto_mute_ms: f64,
}

impl Default for DitherConfig {
    fn default() -> Self {
        Self {
            channels: DEFAULT_CHANNELS,
            bits: DEFAULT_BITS,
            shaping: "none".to_string(),
            seed: DEFAULT_SEED,
            auto_mute_ms: DEFAULT_AUTO_MUTE_MS,
        }
    }
}

pub struct DitherKind;

impl NodeKind for DitherKind {
    fn name(&self) -> &'static str {
        "dither"
    }

    fn summary(&self) -> &'static str {
        "TPDF dither (plain, high-passed or noise-shaped) and quantisation to 8..24 bits."
    }

    fn doc(&self) -> &'static str {
        DOC
    }

    fn build(
        &self,
        config: &NodeConfig<'_>,
        ctx: &BuildContext<'_>,
    ) -> Result<BuiltNode, ConfigError> {
        let cfg: DitherConfig = config.parse()?;
        check_channels(cfg.channels)?;
        let shaping = Shaping::parse(&cfg.shaping)?;
        if !(8..=24).contains(&cfg.bits) {
            return Err(ConfigError::invalid(
                "bits",
                format!("must be 8..=24, found {}", cfg.bits),
            ));
        }
        if !(cfg.auto_mute_ms >= 0.0 && cfg.auto_mute_ms <= 60_000.0) {
            return Err(ConfigError::invalid(
                "auto_mute_ms",
                format!("must be 0..=60000, found {}", cfg.auto_mute_ms),
            ));
        }
        let mute_frames = ctx.prepare.ms_to_frames(cfg.auto_mute_ms) as u64;
        let mut processor = DitherProcessor {
            shaping,
            scale: (1u64 << (cfg.bits - 1)) as f64,
            seed: cfg.seed,
            mute_frames,
            channels: vec![ChannelState::default(); cfg.channels].into_boxed_slice(),
        };
        processor.reset();
        Ok(BuiltNode {
            spec: NodeSpec::in_out(cfg.channels),
            processor: Box::new(processor),
        })
    }
}

/// Per-channel noise generator and shaping state.
#[derive(Debug, Clone, Copy, Default)]
struct ChannelState {
    rng: Xorshift64Star,
    /// Previous uniform value (for `tpdf_hp`).
    last_uniform: f64,
    /// Previous two total errors, newest first (for `shaped`), in LSB.
    errors: [f64; 2],
    /// Consecutive exact-zero input samples.
    zero_run: u64,
}

impl ChannelState {
    /// Uniform in [-0.5, 0.5) LSB.
    #[inline]
    fn uniform(&mut self) -> f64 {
        self.rng.uniform_half()
    }
}

/// SplitMix64 step: spreads a seed into a well-mixed, non-zero generator state.
fn mix_seed(seed: u64) -> Xorshift64Star {
    Xorshift64Star::new(splitmix64_finalise(seed.wrapping_add(GOLDEN_GAMMA)) | 1)
}

pub struct DitherProcessor {
    shaping: Shaping,
    /// Quantisation steps per unit: 2^(bits-1).
    scale: f64,
    seed: u64,
    mute_frames: u64,
    channels: Box<[ChannelState]>,
}

impl Processor for DitherProcessor {
    fn set_param(&mut self, _id: ParamId, _value: f32) {}

    fn reset(&mut self) {
        for (c, state) in self.channels.iter_mut().enumerate() {
            *state = ChannelState {
                rng: mix_seed(self.seed.wrapping_add(c as u64)),
                ..ChannelState::default()
            };
        }
    }

    fn process(&mut self, io: &mut Io<'_>) {
        let frames = io.frames;
        let (lo, hi) = (-self.scale, self.scale - 1.0);
        for (c, out) in io.outputs.iter_mut().enumerate() {
            let Some(state) = self.channels.get_mut(c) else {
                continue;
            };
            let input = io.inputs.get(c).copied().unwrap_or(&[]);
            for i in 0..frames {
                let x = input.get(i).copied().unwrap_or(0.0);
                let x = if x.is_finite() { x as f64 } else { 0.0 };
                if x == 0.0 {
                    state.zero_run = state.zero_run.saturating_add(1);
                } else {
                    state.zero_run = 0;
                }
                let y = if self.mute_frames > 0 && state.zero_run >= self.mute_frames {
                    state.errors = [0.0; 2];
                    0.0
                } else {
                    let v = x * self.scale;
                    let (w, d) = match self.shaping {
                        Shaping::None => (v, state.uniform() + state.uniform()),
                        Shaping::TpdfHp => {
                            let u = state.uniform();
                            let d = u - state.last_uniform;
                            state.last_uniform = u;
                            (v, d)
                        }
                        Shaping::Shaped => {
                            let [e1, e2] = state.errors;
                            let w = v - (SHAPED_FEEDBACK[0] * e1 + SHAPED_FEEDBACK[1] * e2);
                            (w, state.uniform() + state.uniform())
                        }
                    };
                    let q = (w + d).round();
                    if self.shaping == Shaping::Shaped {
                        // Only the dither + rounding error is fed back; clipping is not,
                        // so a full-scale overload cannot make the loop run away.
                        state.errors = [(q - w).clamp(-2.0, 2.0), state.errors[0]];
                    }
                    q.clamp(lo, hi) / self.scale
                };
                if let Some(o) = out.get_mut(i) {
                    *o = y as f32;
                }
            }
        }
    }
}
