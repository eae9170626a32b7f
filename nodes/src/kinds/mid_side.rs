//! `ms_encode` and `ms_decode`: left/right to mid/side and back, for M/S processing.
//!
//! - `ms_encode`: in `in` (2 channels: L, R), out `out` (2 channels: M, S) with
//!   `M = (L + R) / 2`, `S = (L - R) / 2`.
//! - `ms_decode`: in `in` (2 channels: M, S), out `out` (2 channels: L, R) with
//!   `L = M + S`, `R = M - S`, the exact inverse: a mono signal keeps its level through
//!   encode, and encode then decode gives the input back (bit-exact wherever the f32
//!   sums are exact, within one f32 rounding otherwise; the maths runs in f64).
//! - Config: none. Params: none. Meters: none.
//! - Latency: 0. Allocates nothing.

use lathe_engine::{
    BuildContext, BuiltNode, ConfigError, Io, NodeConfig, NodeKind, NodeSpec, ParamId, Processor,
};

use crate::bus::NoConfig;

pub struct MsEncodeKind;
pub struct MsDecodeKind;

fn build_ms(config: &NodeConfig<'_>, decode: bool) -> Result<BuiltNode, ConfigError> {
    let _: NoConfig = config.parse()?;
    Ok(BuiltNode {
        spec: NodeSpec::in_out(2),
        processor: Box::new(MsProcessor { decode }),
    })
}

impl NodeKind for MsEncodeKind {
    fn name(&self) -> &'static str {
        "ms_encode"
    }

    fn summary(&self) -> &'static str {
        "Stereo L/R to mid/side: M = (L+R)/2, S = (L-R)/2."
    }

    fn doc(&self) -> &'static str {
        "ms_encode: L/R to M/S, M = (L + R) / 2, S = (L - R) / 2.\n\
         Ports: in `in` (2: L, R), out `out` (2: M, S). No config, no params. Latency 0.\n\
         ms_decode is the exact inverse."
    }

    fn build(
        &self,
        config: &NodeConfig<'_>,
        _ctx: &BuildContext<'_>,
    ) -> Result<BuiltNode, ConfigError> {
        build_ms(config, false)
    }
}

impl NodeKind for MsDecodeKind {
    fn name(&self) -> &'static str {
        "ms_decode"
    }

    fn summary(&self) -> &'static str {
        "Mid/side to stereo L/R: L = M+S, R = M-S (inverse of ms_encode)."
    }

    fn doc(&self) -> &'static str {
        "ms_decode: M/S to L/R, L = M + S, R = M - S, the exact inverse of ms_encode.\n\
         Ports: in `in` (2: M, S), out `out` (2: L, R). No config, no params. Latency 0."
    }

    fn build(
        &self,
        config: &NodeConfig<'_>,
        _ctx: &BuildContext<'_>,
    ) -> Result<BuiltNode, ConfigError> {
        build_ms(config, true)
    }
}

/// Both directions: they differ only by the 1/2 on the way in.
pub struct MsProcessor {
    decode: bool,
}

impl Processor for MsProcessor {
    fn set_param(&mut self, _id: ParamId, _value: f32) {}

    fn reset(&mut self) {}

    fn process(&mut self, io: &mut Io<'_>) {
        let frames = io.frames;
        let scale = if self.decode { 1.0 } else { 0.5 };
        let [a, b] = io.inputs else {
            return;
        };
        let [x, y] = &mut *io.outputs else {
            return;
        };
        for i in 0..frames {
            let (l, r) = (f64::from(a[i]), f64::from(b[i]));
            x[i] = ((l + r) * scale) as f32;
            y[i] = ((l - r) * scale) as f32;
        }
    }
}
