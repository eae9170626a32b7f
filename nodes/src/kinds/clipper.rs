//! `clipper`: an oversampled soft or hard clipper.
//!
//! - Ports: in `in` (N channels), out `out` (N channels).
//! - Config: `(channels: 2, oversampling: 4, shape: "hard", clamp_output: true)`.
//!   `oversampling` is 1 (none), 2, 4, 8 or 16; `shape` is `"hard"` (clamp at the
//!   ceiling) or `"soft"` (`ceiling * tanh(x / ceiling)`: smooth, approaches the ceiling
//!   without reaching it); `clamp_output`: see below.
//! - Params: `drive_db` (gain before the curve) and `ceiling_db`, declared in
//!   [`ClipperParam`] (ranges: `lathe nodes clipper`).
//! - Meters: none.
//! - Latency: the oversampler's round trip (72 frames at any factor > 1), 0 without
//!   oversampling. Allocates only at build.
//!
//! The curve runs on the oversampled signal so its harmonics above the original Nyquist
//! are filtered out instead of aliasing. Removing them makes the decimated signal ring
//! above the clipped level (Gibbs overshoot, up to about 1 dB on hard clipping of high
//! tones). With `clamp_output: true` (default) a last hard clamp at the ceiling keeps the
//! output's sample peak at or under the ceiling, at the price of some aliasing from that
//! clamp on heavily clipped high tones; with `false` the spectrum stays clean and a
//! true-peak limiter after the clipper should catch the overshoot.

use lathe_engine::{
    BuildContext, BuiltNode, ConfigError, Io, LinearSmoother, NodeConfig, NodeKind, NodeSpec,
    ParamDecl, ParamId, ParamTable, Processor, Unit, db_to_gain, params,
};
use serde::Deserialize;

use crate::bus::{DEFAULT_CHANNELS, check_channels};
use crate::dsp::oversample::{Oversampler, valid_factor};

/// Default oversampling factor.
pub const DEFAULT_OVERSAMPLING: usize = 4;

const DOC: &str = "\
clipper: oversampled hard or soft (tanh) clipper.
Ports: in `in` (N), out `out` (N).
Config: (channels: 2, oversampling: 4, shape: \"hard\", clamp_output: true)
  oversampling 1|2|4|8|16; shape \"hard\" | \"soft\";
  clamp_output: hard clamp after decimation (sample peak <= ceiling; false = cleaner
  spectrum, filter overshoot up to ~1 dB left for a limiter).
Latency: the oversampler's round trip (0 at oversampling 1). Allocates at build only.";

params! {
    /// The params of `clipper`.
    pub enum ClipperParam {
        DriveDb = ParamDecl::new("drive_db", Unit::Db, 0.0, 24.0, 0.0).doc("Gain before the curve."),
        CeilingDb = ParamDecl::new("ceiling_db", Unit::Dbfs, -24.0, 0.0, -0.1).doc("Clip level."),
    }
}

/// The transfer curve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClipShape {
    Hard,
    Soft,
}

impl ClipShape {
    fn parse(name: &str) -> Result<Self, ConfigError> {
        match name {
            "hard" => Ok(Self::Hard),
            "soft" => Ok(Self::Soft),
            other => Err(ConfigError::invalid(
                "shape",
                format!("must be \"hard\" or \"soft\", found \"{other}\""),
            )),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClipperConfig {
    pub channels: usize,
    pub oversampling: usize,
    /// `"hard"` or `"soft"`.
    pub shape: String,
    /// Hard-clamp the output at the ceiling after decimation.
    pub clamp_output: bool,
}

impl Default for ClipperConfig {
    fn default() -> Self {
        Self {
            channels: DEFAULT_CHANNELS,
            oversampling: DEFAULT_OVERSAMPLING,
            shape: "hard".to_string(),
            clamp_output: true,
        }
    }
}

pub struct ClipperKind;

impl NodeKind for ClipperKind {
    fn name(&self) -> &'static str {
        "clipper"
    }

    fn summary(&self) -> &'static str {
        "Oversampled hard or soft clipper with drive and ceiling."
    }

    fn doc(&self) -> &'static str {
        DOC
    }

    fn build(
        &self,
        config: &NodeConfig<'_>,
        ctx: &BuildContext<'_>,
    ) -> Result<BuiltNode, ConfigError> {
        let cfg: ClipperConfig = config.parse()?;
        check_channels(cfg.channels)?;
        if cfg.oversampling != 1 && !valid_factor(cfg.oversampling) {
            return Err(ConfigError::invalid(
                "oversampling",
                format!("must be 1, 2, 4, 8 or 16, found {}", cfg.oversampling),
            ));
        }
        let shape = ClipShape::parse(&cfg.shape)?;
        let sr = ctx.prepare.sample_rate_hz;
        let oversamplers = if cfg.oversampling > 1 {
            vec![Oversampler::new(cfg.oversampling); cfg.channels]
        } else {
            Vec::new()
        };
        let latency = oversamplers.first().map_or(0, Oversampler::latency_frames);
        let processor = ClipperProcessor {
            shape,
            clamp_output: cfg.clamp_output,
            drive_db: ClipperParam::DriveDb.smoother(sr),
            ceiling_db: ClipperParam::CeilingDb.smoother(sr),
            oversamplers,
        };
        Ok(BuiltNode {
            spec: NodeSpec::in_out(cfg.channels)
                .with_params(ClipperParam::specs())
                .with_latency(latency),
            processor: Box::new(processor),
        })
    }
}

pub struct ClipperProcessor {
    shape: ClipShape,
    clamp_output: bool,
    drive_db: LinearSmoother,
    ceiling_db: LinearSmoother,
    /// One per channel; empty without oversampling.
    oversamplers: Vec<Oversampler>,
}

/// The curve at `ceiling` (linear, > 0).
#[inline]
fn clip(shape: ClipShape, x: f32, ceiling: f32) -> f32 {
    match shape {
        ClipShape::Hard => x.clamp(-ceiling, ceiling),
        ClipShape::Soft => ceiling * (x / ceiling).tanh(),
    }
}

impl Processor for ClipperProcessor {
    fn set_param(&mut self, id: ParamId, value: f32) {
        match ClipperParam::from_id(id) {
            Some(ClipperParam::DriveDb) => self.drive_db.set_target(value),
            Some(ClipperParam::CeilingDb) => self.ceiling_db.set_target(value),
            None => {}
        }
    }

    fn reset(&mut self) {
        self.drive_db.snap();
        self.ceiling_db.snap();
        for os in &mut self.oversamplers {
            os.reset();
        }
    }

    fn process(&mut self, io: &mut Io<'_>) {
        let shape = self.shape;
        for i in 0..io.frames {
            let drive = db_to_gain(self.drive_db.next());
            let ceiling = db_to_gain(self.ceiling_db.next());
            for (c, out) in io.outputs.iter_mut().enumerate() {
                let x = io
                    .inputs
                    .get(c)
                    .and_then(|ch| ch.get(i))
                    .copied()
                    .unwrap_or(0.0)
                    * drive;
                // Keep absurd input finite through the filters; the curve clips it anyway.
                let x = if x.is_finite() {
                    x.clamp(-1e6, 1e6)
                } else {
                    0.0
                };
                let y = match self.oversamplers.get_mut(c) {
                    Some(os) => os.process_frame(x, |s| clip(shape, s, ceiling)),
                    None => clip(shape, x, ceiling),
                };
                if let Some(o) = out.get_mut(i) {
                    *o = if self.clamp_output {
                        y.clamp(-ceiling, ceiling)
                    } else {
                        y
                    };
                }
            }
        }
    }
}
