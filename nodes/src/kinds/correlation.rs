//! `correlation`: a stereo phase-correlation and balance meter; audio passes through
//! unchanged.
//!
//! - Ports: in `in` (2), out `out` (2).
//! - Config: none.
//! - Params: `integration_ms` ([`CorrelationParam`], range in `lathe nodes correlation`):
//!   time constant of the exponential averages behind both readings; applies at once.
//! - Meters: `correlation` (-1 ..= +1: +1 identical channels, 0 unrelated, -1 one
//!   channel inverted; E[L·R] / sqrt(E[L²]·E[R²])) and `balance` (-1 ..= +1: the energy
//!   balance (E[R²] - E[L²]) / (E[R²] + E[L²]); -1 = left only, +1 = right only). NaN
//!   while the input is (nearly) silent.
//! - Latency: 0. Allocates nothing.

use lathe_engine::rt::flush_denormal;
use lathe_engine::{
    BuildContext, BuiltNode, ConfigError, Io, MeterSpec, NodeConfig, NodeKind, NodeSpec, ParamDecl,
    ParamId, ParamTable, Processor, Unit, params,
};

use crate::bus::NoConfig;

/// Default integration time.
pub const DEFAULT_INTEGRATION_MS: f32 = 300.0;
/// Below this mean square (-200 dBFS) a channel counts as silent.
const SILENCE: f64 = 1e-20;

const DOC: &str = "\
Stereo phase correlation and balance; audio passes through unchanged.
Ports: in `in` (2), out `out` (2). Config: none.
Params: integration_ms: time constant of the averages, applies at once.
Meters: correlation (-1..=+1, E[LR]/sqrt(E[L²]E[R²])), balance (-1 = left only .. +1 = right
  only, (E[R²]-E[L²])/(E[R²]+E[L²])). NaN while silent.
Latency: 0. Allocates nothing.";

params! {
    /// The params of `correlation`.
    pub enum CorrelationParam {
        IntegrationMs =
            ParamDecl::new("integration_ms", Unit::Ms, 10.0, 5000.0, DEFAULT_INTEGRATION_MS)
                .smoothing_ms(0.0)
                .doc("Time constant of the averages."),
    }
}

pub struct CorrelationKind;

impl NodeKind for CorrelationKind {
    fn name(&self) -> &'static str {
        "correlation"
    }

    fn summary(&self) -> &'static str {
        "Stereo phase correlation (-1..+1) and L/R energy balance meter."
    }

    fn doc(&self) -> &'static str {
        DOC
    }

    fn build(
        &self,
        config: &NodeConfig<'_>,
        ctx: &BuildContext<'_>,
    ) -> Result<BuiltNode, ConfigError> {
        let _: NoConfig = config.parse()?;
        let spec = NodeSpec::in_out(2)
            .with_params(CorrelationParam::specs())
            .with_meters(vec![
                MeterSpec::new("correlation", Unit::Factor, "Phase correlation, -1 ..= +1."),
                MeterSpec::new(
                    "balance",
                    Unit::Factor,
                    "Energy balance, -1 left ..= +1 right.",
                ),
            ]);
        let mut processor = CorrelationProcessor {
            sample_rate_hz: ctx.prepare.sample_rate_hz,
            keep: 0.0,
            lr: 0.0,
            ll: 0.0,
            rr: 0.0,
        };
        processor.set_integration(CorrelationParam::IntegrationMs.default_value());
        Ok(BuiltNode {
            spec,
            processor: Box::new(processor),
        })
    }
}

pub struct CorrelationProcessor {
    sample_rate_hz: f64,
    /// One-pole coefficient: the share of the average kept per sample.
    keep: f64,
    lr: f64,
    ll: f64,
    rr: f64,
}

impl CorrelationProcessor {
    fn set_integration(&mut self, ms: f32) {
        let frames = (ms as f64 * 0.001 * self.sample_rate_hz).max(1.0);
        self.keep = (-1.0 / frames).exp();
    }
}

impl Processor for CorrelationProcessor {
    fn set_param(&mut self, id: ParamId, value: f32) {
        if let Some(CorrelationParam::IntegrationMs) = CorrelationParam::from_id(id) {
            self.set_integration(value);
        }
    }

    fn reset(&mut self) {
        self.lr = 0.0;
        self.ll = 0.0;
        self.rr = 0.0;
    }

    fn process(&mut self, io: &mut Io<'_>) {
        io.copy_through();
        let frames = io.frames;
        if let [left, right, ..] = io.inputs {
            let (keep, take) = (self.keep, 1.0 - self.keep);
            let (mut lr, mut ll, mut rr) = (self.lr, self.ll, self.rr);
            for (&l, &r) in left[..frames].iter().zip(&right[..frames]) {
                let (l, r) = (l as f64, r as f64);
                lr = keep * lr + take * l * r;
                ll = keep * ll + take * l * l;
                rr = keep * rr + take * r * r;
            }
            self.lr = flush_denormal(lr);
            self.ll = flush_denormal(ll);
            self.rr = flush_denormal(rr);
        }
        let (correlation, balance) = if self.ll.max(self.rr) > SILENCE {
            let norm = (self.ll * self.rr).sqrt();
            let correlation = if norm > SILENCE {
                (self.lr / norm).clamp(-1.0, 1.0)
            } else {
                0.0
            };
            (correlation, (self.rr - self.ll) / (self.rr + self.ll))
        } else {
            (f64::NAN, f64::NAN)
        };
        io.set_meter(0, correlation as f32);
        io.set_meter(1, balance as f32);
    }
}
