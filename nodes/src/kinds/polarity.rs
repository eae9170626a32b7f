//! `polarity`: inverts the polarity of selected channels, click-free.
//!
//! One toggle per channel ([`PolarityParam::Invert`], named `invert_left` /
//! `invert_right` on a stereo bus, `invert_ch1` .. `invert_chN` otherwise; ranges and
//! smoothing in `lathe nodes polarity`). A toggle ramps the channel's gain from +1 through
//! 0 to -1, so flipping it never clicks. Latency 0. Allocates one smoother per channel at
//! build.

use lathe_engine::{
    BuildContext, BuiltNode, ConfigError, Io, LinearSmoother, NodeConfig, NodeKind, NodeSpec,
    ParamDecl, ParamId, ParamTable, Processor, params,
};

use crate::bus::{ChannelsConfig, check_channels};

/// Time a polarity flip takes.
pub const FLIP_SMOOTHING_MS: f32 = 10.0;

params! {
    /// The param of each channel, named by [`invert_param_names`].
    pub enum PolarityParam {
        Invert = ParamDecl::toggle("invert", false)
            .smoothing_ms(FLIP_SMOOTHING_MS)
            .doc("Inverts this channel."),
    }
}

pub struct PolarityKind;

/// Param names: left/right on stereo, numbered otherwise.
pub fn invert_param_names(channels: usize) -> Vec<String> {
    if channels == 2 {
        vec!["invert_left".into(), "invert_right".into()]
    } else {
        (1..=channels).map(|c| format!("invert_ch{c}")).collect()
    }
}

impl NodeKind for PolarityKind {
    fn name(&self) -> &'static str {
        "polarity"
    }

    fn summary(&self) -> &'static str {
        "Inverts the polarity of selected channels, click-free."
    }

    fn doc(&self) -> &'static str {
        "polarity: inverts selected channels.\n\
         Ports: in `in` (channels), out `out` (channels). Config: (channels: 2).\n\
         Params: a toggle per channel, invert_left and invert_right (stereo) or\n\
         invert_ch1..invert_chN (other counts); a flip ramps the gain +1 -> -1. Latency 0."
    }

    fn build(
        &self,
        config: &NodeConfig<'_>,
        ctx: &BuildContext<'_>,
    ) -> Result<BuiltNode, ConfigError> {
        let channels = check_channels(config.parse::<ChannelsConfig>()?.channels)?;
        let invert = PolarityParam::Invert.decl();
        let params = invert_param_names(channels)
            .into_iter()
            .map(|name| invert.spec_named(name))
            .collect();
        let processor = PolarityProcessor {
            invert: vec![invert.smoother(ctx.prepare.sample_rate_hz); channels],
        };
        Ok(BuiltNode {
            spec: NodeSpec::in_out(channels).with_params(params),
            processor: Box::new(processor),
        })
    }
}

pub struct PolarityProcessor {
    /// Per channel (= param id): 0 = as is, 1 = inverted, ramping in between.
    invert: Vec<LinearSmoother>,
}

impl Processor for PolarityProcessor {
    fn set_param(&mut self, id: ParamId, value: f32) {
        if let Some(s) = self.invert.get_mut(id.index()) {
            s.set_target(value);
        }
    }

    fn reset(&mut self) {
        self.invert.iter_mut().for_each(LinearSmoother::snap);
    }

    fn process(&mut self, io: &mut Io<'_>) {
        let frames = io.frames;
        for ((out, inp), s) in io.outputs.iter_mut().zip(io.inputs).zip(&mut self.invert) {
            if s.is_smoothing() {
                for (o, x) in out[..frames].iter_mut().zip(&inp[..frames]) {
                    *o = x * (1.0 - 2.0 * s.next());
                }
            } else {
                let g = 1.0 - 2.0 * s.value();
                for (o, x) in out[..frames].iter_mut().zip(&inp[..frames]) {
                    *o = x * g;
                }
            }
        }
    }
}
