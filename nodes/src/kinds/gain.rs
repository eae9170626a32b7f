//! `gain`: a smoothed gain on a bus of any width.
//!
//! Ports, config (`channels`) and the `gain_db` param: `lathe nodes gain`, generated from
//! [`GainParam`]. Latency 0. Allocates only at build.

use lathe_engine::{
    BuildContext, BuiltNode, ConfigError, Io, LinearSmoother, NodeConfig, NodeKind, NodeSpec,
    ParamDecl, ParamId, ParamTable, Processor, Unit, db_to_gain, params,
};

use crate::bus::{ChannelsConfig, check_channels};

params! {
    /// The params of `gain`.
    pub enum GainParam {
        GainDb = ParamDecl::new("gain_db", Unit::Db, -96.0, 24.0, 0.0).doc("Gain in dB."),
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
        let channels = check_channels(config.parse::<ChannelsConfig>()?.channels)?;
        let processor = GainProcessor {
            gain_db: GainParam::GainDb.smoother(ctx.prepare.sample_rate_hz),
            gain: 1.0,
        };
        Ok(BuiltNode {
            spec: NodeSpec::in_out(channels).with_params(GainParam::specs()),
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
        if let Some(GainParam::GainDb) = GainParam::from_id(id) {
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
