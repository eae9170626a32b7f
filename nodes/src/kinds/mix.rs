//! `mix`: sums N input buses, each with its own smoothed gain.
//!
//! Several links into one port are summed too; `mix` is for when each input needs a gain
//! (parallel compression blends, stem sums).
//!
//! - Ports: in `in1` .. `inN` (C channels each, all required), out `out` (C channels).
//! - Config: `(inputs: 2, channels: 2)`; `inputs` 1 ..= 32.
//! - Params: `in1.gain_db` .. `inN.gain_db`, a [`MixParam`] family (`lathe nodes mix`).
//! - Latency: 0. Allocates one smoother per input at build.

use lathe_engine::{
    BuildContext, BuiltNode, ConfigError, Io, LinearSmoother, NodeConfig, NodeKind, NodeSpec,
    ParamDecl, ParamFamily, ParamId, ParamTable, PortSpec, Processor, Unit, db_to_gain, params,
};
use serde::Deserialize;

use crate::bus::{DEFAULT_CHANNELS, check_channels};

/// Inputs of a mix when the config does not say.
pub const DEFAULT_INPUTS: usize = 2;
/// Most inputs a mix may have.
pub const MAX_INPUTS: usize = 32;

params! {
    /// The params of each input `inN.`.
    pub enum MixParam {
        GainDb = ParamDecl::new("gain_db", Unit::Db, -96.0, 24.0, 0.0),
    }
}

/// The params of `inputs` inputs: `in1.gain_db` ...
fn family(inputs: usize) -> ParamFamily<MixParam> {
    ParamFamily::new("in", inputs, ParamId(0))
}

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
         Params: in1.gain_db .. inN.gain_db.\n\
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
        let family = family(cfg.inputs);
        let params = (1..=cfg.inputs)
            .zip(family.specs())
            .map(|(i, spec)| spec.doc(format!("Gain of input in{i}.")))
            .collect();
        let rate = ctx.prepare.sample_rate_hz;
        let processor = MixProcessor {
            channels,
            family,
            gain_db: vec![MixParam::GainDb.smoother(rate); cfg.inputs],
            gain: vec![1.0; cfg.inputs],
        };
        let inputs = (1..=cfg.inputs)
            .map(|i| PortSpec::new(format!("in{i}"), channels))
            .collect();
        Ok(BuiltNode {
            spec: NodeSpec::with_ports(inputs, vec![PortSpec::main_out(channels)])
                .with_params(params),
            processor: Box::new(processor),
        })
    }
}

pub struct MixProcessor {
    channels: usize,
    family: ParamFamily<MixParam>,
    gain_db: Vec<LinearSmoother>,
    /// Linear gains matching `gain_db` while they are steady.
    gain: Vec<f32>,
}

impl Processor for MixProcessor {
    fn set_param(&mut self, id: ParamId, value: f32) {
        if let Some((input, MixParam::GainDb)) = self.family.decode(id)
            && let Some(s) = self.gain_db.get_mut(input)
        {
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
