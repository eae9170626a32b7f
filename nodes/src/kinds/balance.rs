//! `balance`: left/right balance of a stereo bus.
//!
//! The law is linear attenuation of the far side, unity in the centre: at `balance_pct`
//! = b/100, left gain = min(1, 1 - b) and right gain = min(1, 1 + b). A balance control
//! corrects a mix that leans to one side, so it never boosts (a constant-power pan law
//! would lift the near side by 3 dB and change the loudness of the bus).
//!
//! Stereo in and out, no config; the `balance_pct` param: `lathe nodes balance`, generated
//! from [`BalanceParam`]. Latency 0. Allocates nothing.

use lathe_engine::{
    BuildContext, BuiltNode, ConfigError, Io, LinearSmoother, NodeConfig, NodeKind, NodeSpec,
    ParamDecl, ParamId, ParamTable, Processor, Unit, params,
};

use crate::bus::NoConfig;

params! {
    /// The params of `balance`.
    pub enum BalanceParam {
        BalancePct = ParamDecl::new("balance_pct", Unit::Percent, -100.0, 100.0, 0.0)
            .doc("-100 = left only, 0 = unchanged, +100 = right only."),
    }
}

pub struct BalanceKind;

impl NodeKind for BalanceKind {
    fn name(&self) -> &'static str {
        "balance"
    }

    fn summary(&self) -> &'static str {
        "Stereo balance: attenuates the far side linearly, unity at centre, never boosts."
    }

    fn doc(&self) -> &'static str {
        "balance: left/right balance of a stereo bus.\n\
         Ports: in `in` (2), out `out` (2). No config.\n\
         Law: left gain = min(1, 1 - b), right gain = min(1, 1 + b), b = balance_pct / 100\n\
         (linear attenuation of the far side, unity at centre). Latency 0."
    }

    fn build(
        &self,
        config: &NodeConfig<'_>,
        ctx: &BuildContext<'_>,
    ) -> Result<BuiltNode, ConfigError> {
        let _: NoConfig = config.parse()?;
        let processor = BalanceProcessor {
            balance_pct: BalanceParam::BalancePct.smoother(ctx.prepare.sample_rate_hz),
        };
        Ok(BuiltNode {
            spec: NodeSpec::in_out(2).with_params(BalanceParam::specs()),
            processor: Box::new(processor),
        })
    }
}

/// Gains (left, right) for a balance in -1 ..= 1.
pub fn balance_gains(balance: f32) -> (f32, f32) {
    ((1.0 - balance).min(1.0), (1.0 + balance).min(1.0))
}

pub struct BalanceProcessor {
    balance_pct: LinearSmoother,
}

impl Processor for BalanceProcessor {
    fn set_param(&mut self, id: ParamId, value: f32) {
        if let Some(BalanceParam::BalancePct) = BalanceParam::from_id(id) {
            self.balance_pct.set_target(value);
        }
    }

    fn reset(&mut self) {
        self.balance_pct.snap();
    }

    fn process(&mut self, io: &mut Io<'_>) {
        let [l, r] = io.inputs else {
            return;
        };
        let [ol, or] = &mut *io.outputs else {
            return;
        };
        for i in 0..io.frames {
            let (gl, gr) = balance_gains(self.balance_pct.next() * 0.01);
            ol[i] = l[i] * gl;
            or[i] = r[i] * gr;
        }
    }
}
