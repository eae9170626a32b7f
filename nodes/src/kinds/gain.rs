//! `gain`: a smoothed gain on a bus of any width.
//!
//! - Ports: in `in` (N channels), out `out` (N channels).
//! - Config: `(channels: 2)`.
//! - Params: `gain_db` (-96 ..= 24 dB, default 0, smoothed 20 ms).
//! - Latency: 0. Allocates only at build.

use lathe_engine::{
    BuildContext, BuiltNode, ConfigError, Io, LinearSmoother, NodeConfig, NodeKind, NodeSpec,
    ParamId, ParamSpec, PortSpec, Processor, Unit, db_to_gain,
};
use serde::Deserialize;

/// Channel count of buses when a config does not say.
pub const DEFAULT_CHANNELS: usize = 2;
/// Most channels a bus may have.
pub const MAX_CHANNELS: usize = 32;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GainConfig {
    pub channels: usize,
}

impl Default for GainConfig {
    fn default() -> Self {
        Self {
            channels: DEFAULT_CHANNELS,
        }
    }
}

pub struct GainKind;

impl NodeKind for GainKind {
    fn name(&self) -> &'static str {
        "gain"
    }

    fn summary(&self) -> &'static str {
        "Smoothed gain in dB on a bus of any width."
    }

    fn build(
        &self,
        config: &NodeConfig<'_>,
        ctx: &BuildContext<'_>,
    ) -> Result<BuiltNode, ConfigError> {
        let cfg: GainConfig = config.parse()?;
        if cfg.channels == 0 || cfg.channels > MAX_CHANNELS {
            return Err(ConfigError::invalid(
                "channels",
                format!("must be 1..={MAX_CHANNELS}, found {}", cfg.channels),
            ));
        }
        let gain = ParamSpec::new("gain_db", Unit::Db, -96.0, 24.0, 0.0).doc("Gain in dB.");
        let spec = NodeSpec {
            inputs: vec![PortSpec::new("in", cfg.channels)],
            outputs: vec![PortSpec::new("out", cfg.channels)],
            params: vec![gain.clone()],
            meters: vec![],
            latency_frames: 0,
        };
        let processor = GainProcessor {
            gain_db: LinearSmoother::new(0.0, gain.smoothing_ms, ctx.prepare.sample_rate_hz),
            gain: 1.0,
        };
        Ok(BuiltNode {
            spec,
            processor: Box::new(processor),
        })
    }
}

pub struct GainProcessor {
    gain_db: LinearSmoother,
    /// Linear gain matching `gain_db` while it is not moving.
    gain: f32,
}

impl Processor for GainProcessor {
    fn set_param(&mut self, id: ParamId, value: f32) {
        if id.0 == 0 {
            self.gain_db.set_target(value);
        }
    }

    fn reset(&mut self) {
        self.gain_db.snap();
        self.gain = db_to_gain(self.gain_db.value());
    }

    fn process(&mut self, io: &mut Io<'_>) {
        let frames = io.frames;
        if !self.gain_db.is_smoothing() {
            let g = self.gain;
            for (out, inp) in io.outputs.iter_mut().zip(io.inputs.iter()) {
                for (o, i) in out[..frames].iter_mut().zip(&inp[..frames]) {
                    *o = i * g;
                }
            }
            return;
        }
        // Ramp: one gain per frame shared by all channels.
        for i in 0..frames {
            let g = db_to_gain(self.gain_db.next());
            for (out, inp) in io.outputs.iter_mut().zip(io.inputs.iter()) {
                out[i] = inp[i] * g;
            }
        }
        self.gain = db_to_gain(self.gain_db.value());
    }
}
