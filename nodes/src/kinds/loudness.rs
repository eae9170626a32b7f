//! `loudness`: an EBU R128 / ITU-R BS.1770-4 loudness meter on a bus; audio passes
//! through unchanged.
//!
//! - Ports: in `in`, out `out` (the layout's channel count).
//! - Config: `(layout: "stereo")`, one of `"mono"`, `"stereo"`, `"5.0"` (L R C Ls Rs),
//!   `"5.1"` (L R C LFE Ls Rs, LFE not measured); or `(channels: N)` for N = 1, 2, 5, 6
//!   (those layouts) or up to 8 other channels weighted 1.0. When both are given they
//!   must agree.
//! - Params: `reset` ([`LoudnessParam`]): every change of value (0 -> 1 or 1 -> 0)
//!   restarts the measurement at that frame, like the reset button of a meter.
//! - Meters (NaN = no value, e.g. integrated loudness of silence):
//!   `momentary_lufs` (400 ms, updated every 10 ms), `short_term_lufs` (3 s, every
//!   10 ms), `integrated_lufs` (gated, every 100 ms), `loudness_range_lu` (Tech 3342),
//!   `true_peak_dbtp` and `sample_peak_dbfs` (maxima since reset, over all channels),
//!   `momentary_max_lufs` and `short_term_max_lufs` (10 ms resolution).
//! - Latency: 0. Allocates at build only (about 260 KB: two fixed gating histograms);
//!   memory does not grow with the length of the measurement.

use lathe_engine::{
    BuildContext, BuiltNode, ConfigError, Io, MeterSpec, NodeConfig, NodeKind, NodeSpec, ParamDecl,
    ParamId, ParamTable, Processor, Unit, params,
};
use serde::Deserialize;

use crate::dsp::bs1770::{Layout, LoudnessMeter};

/// Most channels a `loudness` node measures.
pub const MAX_CHANNELS: usize = 8;
/// Layout when the config names none.
pub const DEFAULT_LAYOUT: &str = "stereo";

const DOC: &str = "\
EBU R128 / ITU-R BS.1770-4 loudness meter; audio passes through unchanged.
Ports: in `in`, out `out` (the layout's channel count).
Config: layout: \"mono\" | \"stereo\" (default) | \"5.0\" (L R C Ls Rs) | \"5.1\" (L R C LFE Ls Rs,
  LFE not measured); or channels: 1, 2, 5, 6 (those layouts) or up to 8 channels weighted 1.0.
Params: reset: any change of value restarts the measurement.
Meters (NaN = no value): momentary_lufs (400 ms, every 10 ms), short_term_lufs (3 s, every
  10 ms), integrated_lufs (gated), loudness_range_lu (Tech 3342), true_peak_dbtp (4x
  oversampled, 2x from 96 kHz), sample_peak_dbfs, momentary_max_lufs, short_term_max_lufs.
Latency: 0. Allocates at build only (~260 KB); memory is constant however long it runs.";

params! {
    /// The params of `loudness`.
    pub enum LoudnessParam {
        Reset = ParamDecl::toggle("reset", false)
            .smoothing_ms(0.0)
            .doc("Any change of value restarts the measurement."),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LoudnessConfig {
    pub layout: Option<String>,
    pub channels: Option<usize>,
}

impl LoudnessConfig {
    /// The measured layout, or why the config does not give one.
    pub fn layout(&self) -> Result<Layout, ConfigError> {
        let named = match &self.layout {
            Some(name) => Some(Layout::from_name(name).ok_or_else(|| {
                ConfigError::invalid(
                    "layout",
                    format!("must be \"mono\", \"stereo\", \"5.0\" or \"5.1\", found {name:?}"),
                )
            })?),
            None => None,
        };
        match (named, self.channels) {
            (_, Some(n)) if n == 0 || n > MAX_CHANNELS => Err(ConfigError::invalid(
                "channels",
                format!("must be 1..={MAX_CHANNELS}, found {n}"),
            )),
            (Some(layout), Some(n)) if layout.channels() != n => Err(ConfigError::invalid(
                "channels",
                format!(
                    "must match layout {:?} ({} channels), found {n}",
                    self.layout.as_deref().unwrap_or_default(),
                    layout.channels()
                ),
            )),
            (Some(layout), _) => Ok(layout),
            (None, Some(n)) => Ok(Layout::for_channels(n)),
            (None, None) => Ok(Layout::from_name(DEFAULT_LAYOUT).unwrap_or(Layout::Stereo)),
        }
    }
}

/// Meter order in [`NodeSpec::meters`].
const METERS: [(&str, Unit, &str); 8] = [
    (
        "momentary_lufs",
        Unit::Lufs,
        "Momentary loudness (400 ms window), every 10 ms.",
    ),
    (
        "short_term_lufs",
        Unit::Lufs,
        "Short-term loudness (3 s window), every 10 ms.",
    ),
    (
        "integrated_lufs",
        Unit::Lufs,
        "Gated integrated loudness since reset.",
    ),
    (
        "loudness_range_lu",
        Unit::Lu,
        "Loudness range (EBU Tech 3342) since reset.",
    ),
    (
        "true_peak_dbtp",
        Unit::Dbtp,
        "Largest true peak since reset, all channels.",
    ),
    (
        "sample_peak_dbfs",
        Unit::Dbfs,
        "Largest sample since reset, all channels.",
    ),
    (
        "momentary_max_lufs",
        Unit::Lufs,
        "Largest momentary loudness since reset.",
    ),
    (
        "short_term_max_lufs",
        Unit::Lufs,
        "Largest short-term loudness since reset.",
    ),
];

pub struct LoudnessKind;

impl NodeKind for LoudnessKind {
    fn name(&self) -> &'static str {
        "loudness"
    }

    fn summary(&self) -> &'static str {
        "EBU R128 loudness meter: momentary, short-term, integrated, range, true peak."
    }

    fn doc(&self) -> &'static str {
        DOC
    }

    fn build(
        &self,
        config: &NodeConfig<'_>,
        ctx: &BuildContext<'_>,
    ) -> Result<BuiltNode, ConfigError> {
        let cfg: LoudnessConfig = config.parse()?;
        let layout = cfg.layout()?;
        let channels = layout.channels();
        let spec = NodeSpec::in_out(channels)
            .with_params(LoudnessParam::specs())
            .with_meters(
                METERS
                    .iter()
                    .map(|(name, unit, doc)| MeterSpec::new(*name, *unit, *doc))
                    .collect(),
            );
        let processor = LoudnessProcessor {
            meter: LoudnessMeter::new(ctx.prepare.sample_rate_hz, layout),
            reset_value: LoudnessParam::Reset.default_value(),
            summary_hop: 0,
            integrated_lufs: f32::NAN,
            loudness_range_lu: f32::NAN,
        };
        Ok(BuiltNode {
            spec,
            processor: Box::new(processor),
        })
    }
}

pub struct LoudnessProcessor {
    meter: LoudnessMeter,
    /// Last value of the `reset` param: a change restarts the measurement.
    reset_value: f32,
    /// Hop count when the histogram readings were last computed (they change per hop).
    summary_hop: u64,
    integrated_lufs: f32,
    loudness_range_lu: f32,
}

/// `None` (no value) is published as NaN.
fn meter_value(value: Option<f64>) -> f32 {
    value.map_or(f32::NAN, |v| v as f32)
}

impl Processor for LoudnessProcessor {
    fn set_param(&mut self, id: ParamId, value: f32) {
        if let Some(LoudnessParam::Reset) = LoudnessParam::from_id(id)
            && value != self.reset_value
        {
            self.reset_value = value;
            self.reset();
        }
    }

    fn reset(&mut self) {
        self.meter.reset();
        self.summary_hop = 0;
        self.integrated_lufs = f32::NAN;
        self.loudness_range_lu = f32::NAN;
    }

    fn process(&mut self, io: &mut Io<'_>) {
        io.copy_through();
        let frames = io.frames;
        let mut channels: [&[f32]; MAX_CHANNELS] = [&[]; MAX_CHANNELS];
        for (slot, input) in channels.iter_mut().zip(io.inputs.iter()) {
            *slot = &input[..frames.min(input.len())];
        }
        let count = io.inputs.len().min(MAX_CHANNELS);
        self.meter.process(&channels[..count], |_| {});
        if self.meter.hops() != self.summary_hop {
            self.summary_hop = self.meter.hops();
            self.integrated_lufs = meter_value(self.meter.integrated_lufs());
            self.loudness_range_lu = meter_value(self.meter.loudness_range_lu());
        }
        let m = &self.meter;
        let values = [
            meter_value(m.momentary_lufs()),
            meter_value(m.short_term_lufs()),
            self.integrated_lufs,
            self.loudness_range_lu,
            meter_value(m.true_peak_dbtp()),
            meter_value(m.sample_peak_dbfs()),
            meter_value(m.momentary_max_lufs()),
            meter_value(m.short_term_max_lufs()),
        ];
        for (i, v) in values.into_iter().enumerate() {
            io.set_meter(i, v);
        }
    }
}
