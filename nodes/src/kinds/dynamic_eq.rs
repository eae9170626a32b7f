//! `dynamic_eq`: bell and shelf bands whose gain follows a level detector, listening to
//! the band's own frequency range on the input or on the `sidechain` input.
//!
//! - Ports: in `in` (N channels), in `sidechain` (N channels, optional: silence when not
//!   linked), out `out` (N channels).
//! - Config: `(channels: 2, bands: [(type: "bell", order: 2, channel: "stereo",
//!   detector: "band"), ...])`. `type`: `bell`, `low_shelf`, `high_shelf`; `order`
//!   (shelves) 1..=2, default 2; `channel`: `stereo` (default), `left`, `right`, `mid`,
//!   `side` (these need 2 channels); `detector`: `band` (default: the node's input) or
//!   `sidechain`; `slope` (second-order shelves, 0.1..=1, default none): define the
//!   shelf by its slope as in `eq`: the band gets `bandN.slope` instead of `bandN.q`, and
//!   Q follows from the slope and the band's total (static + dynamic) gain.
//!   Default: one bell with a `band` detector.
//! - Params per band N (1-based), ranges and defaults in `lathe nodes dynamic_eq`:
//!   - the band's filter params as in `eq` ([`crate::kinds::eq::band::BandParam`]):
//!     `bandN.freq_hz`, `bandN.gain_db` (the static gain), `bandN.q` or `bandN.slope`;
//!   - its dynamics ([`DynamicBandParam`]): `bandN.threshold_db` (RMS),
//!     `bandN.ratio` (the slope above the threshold is 1/ratio), `bandN.attack_ms` and
//!     `bandN.release_ms` (time constants: 63 % of a step in gain change), and
//!     `bandN.range_db`, the most gain change: negative cuts above the threshold
//!     (compression), positive boosts above it.
//! - Meters: `bandN.dynamic_gain_db` (dB): the band's current gain change (0 = none).
//! - Latency: 0. Allocates at build only.
//!
//! Detector: the band's source (the mean of all channels for `stereo`, else the band's
//! own lane: left, right, mid = (l + r) / 2 or side = (l - r) / 2) of the input or the
//! sidechain, filtered to the band (a band pass at freq and q for bells, a 2nd-order
//! low / high pass at freq for low / high shelves), RMS over 5 ms. Above the threshold
//! the gain change is `(level - threshold) * (1 - 1/ratio)`, limited to `|range_db|`,
//! signed as `range_db`; it moves toward that target with the attack time constant when
//! it grows and the release time constant when it shrinks. Detectors listen to the
//! node's input, not to earlier bands. Band filters are redesigned every 16 absolute
//! frames while their gain moves.
//!
//! De-esser preset: one bell on the sibilance,
//! ```text
//! (id: "deess", kind: "dynamic_eq", config: (bands: [(type: "bell")]),
//!  params: {"band1.freq_hz": 6500, "band1.q": 2, "band1.threshold_db": -30,
//!           "band1.ratio": 4, "band1.attack_ms": 1, "band1.release_ms": 60,
//!           "band1.range_db": -6})
//! ```
//! (use `type: "high_shelf"` at 5 kHz for a broadband de-esser, `channel: "mid"` to leave
//! the sides alone).

use lathe_engine::{
    BuildContext, BuiltNode, ConfigError, Io, MeterSpec, NodeConfig, NodeKind, NodeSpec, ParamDecl,
    ParamId, ParamMap, ParamRoutes, ParamTable, PortSpec, Processor, Unit, params,
};
use serde::Deserialize;

use crate::bus::{DEFAULT_CHANNELS, check_channels};
use crate::dsp::biquad::{Alignment, Biquad, Coefs, FilterDesign, FilterType, MAX_SECTIONS};
use crate::dsp::coef_grid::COEF_GRID_FRAMES;
use crate::dsp::eq_band::{
    BandConfig, BandField, BandLayout, BandValues, ChannelMode, parse_bands,
};
use crate::dsp::fastmath;
use crate::dsp::filter_chain::FilterChain;
use crate::dsp::work_buffer::{read_input, write_output};

/// RMS window of the detector.
pub const DETECTOR_RMS_MS: f64 = 5.0;
/// Gain moves smaller than this (dB) do not trigger a redesign.
const REDESIGN_STEP_DB: f64 = 1e-3;

const TYPES: &[FilterType] = &[
    FilterType::Bell,
    FilterType::LowShelf,
    FilterType::HighShelf,
];

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DynamicBandConfig {
    #[serde(rename = "type")]
    pub kind: String,
    pub order: Option<usize>,
    pub channel: String,
    /// `band` (default) or `sidechain`.
    pub detector: String,
    /// Second-order shelves: define the shelf by slope (see `eq`'s band `slope`).
    pub slope: Option<f64>,
}

impl Default for DynamicBandConfig {
    fn default() -> Self {
        Self {
            kind: "bell".into(),
            order: None,
            channel: "stereo".into(),
            detector: "band".into(),
            slope: None,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DynamicEqConfig {
    pub channels: usize,
    pub bands: Vec<DynamicBandConfig>,
}

impl Default for DynamicEqConfig {
    fn default() -> Self {
        Self {
            channels: DEFAULT_CHANNELS,
            bands: vec![DynamicBandConfig::default()],
        }
    }
}

params! {
    /// The dynamics params of each band, named `bandN.` + the declared name; they follow
    /// the band's filter params. Times and levels apply at once.
    pub enum DynamicBandParam {
        ThresholdDb = ParamDecl::new("threshold_db", Unit::Dbfs, -80.0, 0.0, -20.0)
            .smoothing_ms(0.0)
            .doc("Detector level (RMS) above which the gain changes."),
        Ratio = ParamDecl::new("ratio", Unit::Ratio, 1.0, 20.0, 2.0)
            .smoothing_ms(0.0)
            .doc("Above the threshold, level changes by 1/ratio."),
        AttackMs = ParamDecl::new("attack_ms", Unit::Ms, 0.1, 500.0, 10.0)
            .smoothing_ms(0.0)
            .doc("Time constant of a growing gain change."),
        ReleaseMs = ParamDecl::new("release_ms", Unit::Ms, 1.0, 5000.0, 100.0)
            .smoothing_ms(0.0)
            .doc("Time constant of a shrinking gain change."),
        RangeDb = ParamDecl::new("range_db", Unit::Db, -24.0, 24.0, -6.0)
            .smoothing_ms(0.0)
            .doc("Most gain change: negative cuts above the threshold, positive boosts."),
    }
}

/// Which value of a band a param sets.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Field {
    Band(BandField),
    Dynamics(DynamicBandParam),
}

pub struct DynamicEqKind;

const DOC: &str = "Dynamic EQ: bell/shelf bands whose gain follows a detector.

Ports: in `in` (N), in `sidechain` (N, optional), out `out` (N).
Config: (channels: 2, bands: [(type: \"bell\" | \"low_shelf\" | \"high_shelf\", order: 2,
  channel: \"stereo\" | \"left\" | \"right\" | \"mid\" | \"side\", detector: \"band\" | \"sidechain\",
  slope: S)]); slope (2nd-order shelves, 0.1..=1): bandN.slope replaces bandN.q
Params per band N: bandN.freq_hz, bandN.gain_db (static), bandN.q, bandN.threshold_db,
  bandN.ratio, bandN.attack_ms, bandN.release_ms, bandN.range_db (negative cuts above
  the threshold, positive boosts).
Meters: bandN.dynamic_gain_db. Latency: 0. Allocates at build only.
De-esser: a bell at 6500 Hz, q 2, threshold -30, ratio 4, attack 1 ms, release 60 ms,
  range -6 dB.";

impl NodeKind for DynamicEqKind {
    fn name(&self) -> &'static str {
        "dynamic_eq"
    }

    fn summary(&self) -> &'static str {
        "Dynamic EQ: bells and shelves whose gain follows their band's level or a sidechain."
    }

    fn doc(&self) -> &'static str {
        DOC
    }

    fn build(
        &self,
        config: &NodeConfig<'_>,
        ctx: &BuildContext<'_>,
    ) -> Result<BuiltNode, ConfigError> {
        let cfg: DynamicEqConfig = config.parse()?;
        check_channels(cfg.channels)?;
        let plain: Vec<BandConfig> = cfg
            .bands
            .iter()
            .map(|b| BandConfig {
                kind: b.kind.clone(),
                order: b.order,
                alignment: "butterworth".into(),
                channel: b.channel.clone(),
                slope: b.slope,
            })
            .collect();
        let (layouts, band_specs, band_routes) = parse_bands(&plain, cfg.channels, TYPES)?;
        let mut sidechain = Vec::with_capacity(cfg.bands.len());
        for (i, b) in cfg.bands.iter().enumerate() {
            sidechain.push(match b.detector.as_str() {
                "band" => false,
                "sidechain" => true,
                other => {
                    return Err(ConfigError::invalid(
                        format!("bands[{i}].detector"),
                        format!("must be \"band\" or \"sidechain\", found \"{other}\""),
                    ));
                }
            });
        }
        let mut params = ParamMap::new();
        let mut meters = Vec::new();
        let band_fields = band_routes.keys().iter().copied();
        let mut band_params = band_specs.into_iter().zip(band_fields).peekable();
        for band in 0..layouts.len() {
            while let Some((spec, (_, field))) = band_params.next_if(|(_, (b, _))| *b == band) {
                params.push(spec, (band, Field::Band(field)));
            }
            let n = band + 1;
            let dynamics = DynamicBandParam::specs_prefixed(&format!("band{n}."));
            for (&param, spec) in DynamicBandParam::ALL.iter().zip(dynamics) {
                params.push(spec, (band, Field::Dynamics(param)));
            }
            meters.push(MeterSpec::new(
                format!("band{n}.dynamic_gain_db"),
                Unit::Db,
                "Current gain change of the band (0 = none).",
            ));
        }
        let (params, routes) = params.into_parts();
        let prepare = ctx.prepare;
        let processor = DynamicEqProcessor::new(
            layouts,
            routes,
            sidechain,
            cfg.channels,
            prepare.sample_rate_hz,
            prepare.max_block_frames,
        );
        let spec = NodeSpec::in_out(cfg.channels)
            .with_input(PortSpec::sidechain(cfg.channels))
            .with_params(params)
            .with_meters(meters);
        Ok(BuiltNode {
            spec,
            processor: Box::new(processor),
        })
    }
}

/// The level follower and gain computer of one band.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Detector {
    filter: Biquad,
    mean_square: f64,
    /// Current gain change, dB.
    change_db: f64,
    threshold_db: f64,
    slope: f64,
    range_db: f64,
    attack: f64,
    release: f64,
    rms: f64,
}

impl Detector {
    #[inline]
    fn run(&mut self, x: f64) {
        let y = self.filter.process(x);
        self.mean_square += self.rms * (y * y - self.mean_square);
        self.mean_square = lathe_engine::rt::flush_denormal(self.mean_square);
        // Per sample and band: the fast log (1e-10 dB) instead of libm's `log10`.
        let level_db = fastmath::DB_PER_LOG2_POWER * fastmath::log2(self.mean_square + 1e-30);
        let over = (level_db - self.threshold_db).max(0.0);
        let amount = (over * self.slope).min(self.range_db.abs());
        let target = amount.copysign(self.range_db);
        let coef = if target.abs() > self.change_db.abs() {
            self.attack
        } else {
            self.release
        };
        self.change_db += coef * (target - self.change_db);
    }

    fn reset(&mut self) {
        self.filter.reset();
        self.mean_square = 0.0;
        self.change_db = 0.0;
    }
}

/// The detector's slope for a ratio: the share of the level above the threshold that
/// becomes gain change.
fn ratio_slope(ratio: f64) -> f64 {
    1.0 - 1.0 / ratio.max(1.0)
}

/// One-pole coefficient of time constant `ms`.
fn one_pole(ms: f64, sample_rate_hz: f64) -> f64 {
    1.0 - (-1.0 / (ms * 0.001 * sample_rate_hz).max(1e-9)).exp()
}

#[derive(Debug)]
pub struct DynamicEqProcessor {
    layouts: Vec<BandLayout>,
    routes: ParamRoutes<(usize, Field)>,
    sidechain: Vec<bool>,
    values: Vec<BandValues>,
    detectors: Vec<Detector>,
    /// (freq_hz, gain_db, q) each band's filter and detector were last designed at.
    designed: Vec<(f64, f64, f64)>,
    chain: FilterChain,
    work: Vec<f64>,
    source: Vec<f64>,
    stride: usize,
    channels: usize,
    sample_rate_hz: f64,
}

impl DynamicEqProcessor {
    fn new(
        layouts: Vec<BandLayout>,
        routes: ParamRoutes<(usize, Field)>,
        sidechain: Vec<bool>,
        channels: usize,
        sample_rate_hz: f64,
        max_block_frames: usize,
    ) -> Self {
        let values: Vec<BandValues> = layouts
            .iter()
            .map(|l| l.initial_values(sample_rate_hz))
            .collect();
        let detector = Detector {
            filter: Biquad::default(),
            mean_square: 0.0,
            change_db: 0.0,
            threshold_db: DynamicBandParam::ThresholdDb.default_value().into(),
            slope: ratio_slope(DynamicBandParam::Ratio.default_value().into()),
            range_db: DynamicBandParam::RangeDb.default_value().into(),
            attack: one_pole(
                DynamicBandParam::AttackMs.default_value().into(),
                sample_rate_hz,
            ),
            release: one_pole(
                DynamicBandParam::ReleaseMs.default_value().into(),
                sample_rate_hz,
            ),
            rms: one_pole(DETECTOR_RMS_MS, sample_rate_hz),
        };
        let chain = FilterChain::new(&layouts, channels);
        let mut p = Self {
            detectors: vec![detector; layouts.len()],
            designed: vec![(0.0, f64::NAN, 0.0); layouts.len()],
            layouts,
            routes,
            sidechain,
            values,
            chain,
            work: vec![0.0; channels * max_block_frames],
            source: vec![0.0; max_block_frames],
            stride: max_block_frames,
            channels,
            sample_rate_hz,
        };
        p.reset();
        p
    }

    /// Redesigns bands whose frequency, Q or total gain moved since their last design.
    fn update_designs(&mut self) {
        for band in 0..self.layouts.len() {
            let layout = self.layouts[band];
            let (f, g, q) = self.values[band].current();
            let gain = g + self.detectors[band].change_db;
            let (df, dg, dq) = self.designed[band];
            let shape_moved = f != df || q != dq;
            if !shape_moved && (gain - dg).abs() < REDESIGN_STEP_DB {
                continue;
            }
            let mut coefs = [Coefs::IDENTITY; MAX_SECTIONS];
            layout
                .design(f, gain, q)
                .analog()
                .matched(self.sample_rate_hz, &mut coefs);
            self.chain.set_band(band, &coefs);
            if shape_moved {
                let (kind, order) = match layout.kind {
                    FilterType::LowShelf => (FilterType::LowPass, 2),
                    FilterType::HighShelf => (FilterType::HighPass, 2),
                    _ => (FilterType::BandPass, 2),
                };
                let detector = FilterDesign {
                    kind,
                    order,
                    alignment: Alignment::Butterworth,
                    freq_hz: f,
                    gain_db: 0.0,
                    q,
                };
                let mut dc = [Coefs::IDENTITY; MAX_SECTIONS];
                detector.analog().matched(self.sample_rate_hz, &mut dc);
                self.detectors[band].filter.coefs = dc[0];
            }
            self.designed[band] = (f, gain, q);
        }
    }

    /// Fills `source[range]` with band `band`'s detector input.
    fn fill_source(&mut self, io: &Io<'_>, band: usize, range: std::ops::Range<usize>) {
        let ch = self.channels;
        let offset = if self.sidechain[band] { ch } else { 0 };
        let input = |c: usize| io.inputs.get(offset + c).map(|s| &s[range.clone()]);
        let dst = &mut self.source[range.clone()];
        dst.fill(0.0);
        let mode = self.layouts[band].channel;
        for c in 0..ch {
            let w = lane_weight(mode, c, ch);
            if w == 0.0 {
                continue;
            }
            if let Some(src) = input(c) {
                for (d, s) in dst.iter_mut().zip(src) {
                    *d += w * *s as f64;
                }
            }
        }
    }
}

/// Weight of channel `c` of `ch` in the detector source of a band in `mode`.
fn lane_weight(mode: ChannelMode, c: usize, ch: usize) -> f64 {
    match (mode, c) {
        (ChannelMode::Stereo, _) => 1.0 / ch as f64,
        (ChannelMode::Left, 0) | (ChannelMode::Right, 1) => 1.0,
        (ChannelMode::Mid, 0 | 1) | (ChannelMode::Side, 0) => 0.5,
        (ChannelMode::Side, 1) => -0.5,
        _ => 0.0,
    }
}

impl Processor for DynamicEqProcessor {
    fn set_param(&mut self, id: ParamId, value: f32) {
        let Some((band, field)) = self.routes.get(id) else {
            return;
        };
        let fs = self.sample_rate_hz;
        let (Some(values), Some(det)) = (self.values.get_mut(band), self.detectors.get_mut(band))
        else {
            return;
        };
        let v = value as f64;
        match field {
            Field::Band(f) => values.set(f, value),
            Field::Dynamics(DynamicBandParam::ThresholdDb) => det.threshold_db = v,
            Field::Dynamics(DynamicBandParam::Ratio) => det.slope = ratio_slope(v),
            Field::Dynamics(DynamicBandParam::AttackMs) => det.attack = one_pole(v, fs),
            Field::Dynamics(DynamicBandParam::ReleaseMs) => det.release = one_pole(v, fs),
            Field::Dynamics(DynamicBandParam::RangeDb) => det.range_db = v,
        }
    }

    fn reset(&mut self) {
        for v in &mut self.values {
            v.snap();
        }
        for d in &mut self.detectors {
            d.reset();
        }
        self.designed.fill((0.0, f64::NAN, 0.0));
        self.update_designs();
        self.chain.reset();
    }

    fn process(&mut self, io: &mut Io<'_>) {
        let frames = io.frames.min(self.stride);
        read_input(io, &mut self.work, self.stride, self.channels, frames);
        let mut start = 0;
        while start < frames {
            let pos = io.position_frames + start as u64;
            if pos.is_multiple_of(COEF_GRID_FRAMES) {
                self.update_designs();
            }
            let end = frames.min(start + (COEF_GRID_FRAMES - pos % COEF_GRID_FRAMES) as usize);
            for band in 0..self.layouts.len() {
                self.fill_source(io, band, start..end);
                let det = &mut self.detectors[band];
                for &x in &self.source[start..end] {
                    det.run(x);
                }
                let values = &mut self.values[band];
                if values.is_smoothing() {
                    for _ in start..end {
                        values.step();
                    }
                }
            }
            self.chain
                .process(&mut self.work, self.stride, start..end, pos);
            start = end;
        }
        write_output(io, &self.work, self.stride, self.channels, frames);
        for (i, d) in self.detectors.iter().enumerate() {
            io.set_meter(i, d.change_db as f32);
        }
    }
}
