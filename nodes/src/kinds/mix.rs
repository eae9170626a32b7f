//! `mix`: sums N input buses, each with its own smoothed gain.
//!
//! Several links into one port are summed too; `mix` is for when each input needs a gain
//! (parallel compression blends, stem sums).
//!
//! - Ports: in `in1` .. `inN` (C channels each, all required), out `out` (C channels).
//! - Config: `(inputs: 2, channels: 2)`; `inputs` 1 ..= 32.
//! - Params: `in1.gain_db` .. `inN.gain_db` (-96 ..= 24 dB, default 0, smoothed 20 ms).
//! - Latency: 0. Allocates one smoother per input at build.

use lathe_engine::{
    BuildContext, BuiltNode, ConfigError, Io, LinearSmoother, NodeConfig, NodeKind, NodeSpec,
    ParamId, ParamSpec, PortSpec, Processor, Unit, db_to_gain,
};
use serde::Deserialize;

use crate::kinds::crossover::check_channels;
use crate::kinds::gain::DEFAULT_CHANNELS;

/// Inputs of a mix when the config does not say.
pub const DEFAULT_INPUTS: usize = 2;
/// Most inputs a mix may have.
pub const MAX_INPUTS: usize = 32;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MixConfig {
    pub inputs: usize,
    pub channels: usize,
}

impl Default for MixConfig {
    fn default() -> Self {
        Self {
            inputs: DEFAULT_INPUTS,
            channels: DEFAULT_CHANNELS,
        }
    }
}

pub struct MixKind;

impl NodeKind for MixKind {
    fn name(&self) -> &'static str {
        "mix"
    }

    fn summary(&self) -> &'static str {
        "Sums N input buses with a smoothed gain per input."
    }

    fn doc(&self) -> &'static str {
        "mix: sum of N inputs with per-input gain.\n\
         Ports: in `in1`..`inN` (channels each), out `out` (channels).\n\
         Config: (inputs: 2, channels: 2), inputs 1..32.\n\
         Params: in1.gain_db .. inN.gain_db, -96..24 dB, default 0, smoothed 20 ms.\n\
         Latency 0."
    }

    fn build(
        &self,
        config: &NodeConfig<'_>,
        ctx: &BuildContext<'_>,
    ) -> Result<BuiltNode, ConfigError> {
        let cfg: MixConfig = config.parse()?;
        let channels = check_channels(cfg.channels)?;
        if cfg.inputs == 0 || cfg.inputs > MAX_INPUTS {
            return Err(ConfigError::invalid(
                "inputs",
                format!("must be 1..={MAX_INPUTS}, found {}", cfg.inputs),
            ));
        }
        let params: Vec<ParamSpec> = (1..=cfg.inputs)
            .map(|i| {
                ParamSpec::new(format!("in{i}.gain_db"), Unit::Db, -96.0, 24.0, 0.0)
                    .doc(format!("Gain of input in{i}."))
            })
            .collect();
        let rate = ctx.prepare.sample_rate_hz;
        let processor = MixProcessor {
            channels,
            gain_db: vec![LinearSmoother::new(0.0, params[0].smoothing_ms, rate); cfg.inputs],
            gain: vec![1.0; cfg.inputs],
        };
        Ok(BuiltNode {
            spec: NodeSpec {
                inputs: (1..=cfg.inputs)
                    .map(|i| PortSpec::new(format!("in{i}"), channels))
                    .collect(),
                outputs: vec![PortSpec::new("out", channels)],
                params,
                meters: vec![],
                latency_frames: 0,
            },
            processor: Box::new(processor),
        })
    }
}

pub struct MixProcessor {
    channels: usize,
    gain_db: Vec<LinearSmoother>,
    /// Linear gains matching `gain_db` while they are steady.
    gain: Vec<f32>,
}

impl Processor for MixProcessor {
    fn set_param(&mut self, id: ParamId, value: f32) {
        if let Some(s) = self.gain_db.get_mut(id.index()) {
            s.set_target(value);
        }
    }

    fn reset(&mut self) {
        for (s, g) in self.gain_db.iter_mut().zip(&mut self.gain) {
            s.snap();
            *g = db_to_gain(s.value());
        }
    }

    fn process(&mut self, io: &mut Io<'_>) {
        let frames = io.frames;
        for out in io.outputs.iter_mut() {
            out[..frames].fill(0.0);
        }
        let ports = io.inputs.chunks_exact(self.channels);
        for ((port, s), steady) in ports.zip(&mut self.gain_db).zip(&mut self.gain) {
            if s.is_smoothing() {
                // One gain per frame, shared by the port's channels: step the smoother
                // once per frame on the first channel and replay it on the others.
                let start = *s;
                for (ch, (out, inp)) in io.outputs.iter_mut().zip(port).enumerate() {
                    if ch > 0 {
                        *s = start;
                    }
                    for (o, x) in out[..frames].iter_mut().zip(&inp[..frames]) {
                        *o += x * db_to_gain(s.next());
                    }
                }
                *steady = db_to_gain(s.value());
            } else {
                let g = *steady;
                for (out, inp) in io.outputs.iter_mut().zip(port) {
                    for (o, x) in out[..frames].iter_mut().zip(&inp[..frames]) {
                        *o += x * g;
                    }
                }
            }
        }
    }
}
