//! One EQ band: its structural config (type, order, alignment, channel mode), the params
//! it exposes, and its smoothed param values. Shared by `eq` and `dynamic_eq`.

use lathe_engine::{
    ConfigError, LinearSmoother, ParamDecl, ParamMap, ParamRoutes, ParamSpec, ParamTable, Unit,
    params,
};
use serde::Deserialize;

use crate::dsp::biquad::{Alignment, FilterDesign, FilterType, shelf_q_from_slope};

/// Smoothing time of band params.
pub const BAND_SMOOTHING_MS: f32 = 20.0;
/// Param ranges of every band.
pub const FREQ_RANGE_HZ: (f32, f32) = (10.0, 24_000.0);
pub const GAIN_RANGE_DB: (f32, f32) = (-24.0, 24.0);
pub const Q_RANGE: (f32, f32) = (0.1, 24.0);
/// Range of a shelf's slope `S` (RBJ cookbook: 1 = the steepest shelf without overshoot).
pub const SLOPE_RANGE: (f32, f32) = (0.1, 1.0);

params! {
    /// The params a band may have, named `bandN.` + the declared name. Which ones a band
    /// has, and the defaults of frequency and shape, follow its type
    /// ([`BandLayout::params`]).
    pub enum BandParam {
        FreqHz = ParamDecl::new("freq_hz", Unit::Hz, FREQ_RANGE_HZ.0, FREQ_RANGE_HZ.1, 1000.0)
            .smoothing_ms(BAND_SMOOTHING_MS)
            .doc("Centre, corner or shelf frequency (kept below 0.49 x the sample rate)."),
        GainDb = ParamDecl::new("gain_db", Unit::Db, GAIN_RANGE_DB.0, GAIN_RANGE_DB.1, 0.0)
            .smoothing_ms(BAND_SMOOTHING_MS)
            .doc("Gain at the centre / of the shelf; tilt: gain above the centre."),
        Slope = ParamDecl::new("slope", Unit::Factor, SLOPE_RANGE.0, SLOPE_RANGE.1, 1.0)
            .smoothing_ms(BAND_SMOOTHING_MS)
            .doc("Shelf slope S (1 = steepest without overshoot); sets Q from the gain."),
        Q = ParamDecl::new("q", Unit::Factor, Q_RANGE.0, Q_RANGE.1, 1.0)
            .smoothing_ms(BAND_SMOOTHING_MS)
            .doc("Quality factor (bandwidth; shelves: steepness, 0.707 = no overshoot)."),
    }
}

impl BandParam {
    /// The band value this param sets: a slope and a Q both set the shape.
    pub fn field(self) -> BandField {
        match self {
            BandParam::FreqHz => BandField::Freq,
            BandParam::GainDb => BandField::Gain,
            BandParam::Slope | BandParam::Q => BandField::Q,
        }
    }
}

/// A band as written in a graph file: `(type: "bell", order: 2, channel: "mid")`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BandConfig {
    #[serde(rename = "type")]
    pub kind: String,
    /// Pass filters 1..=8 (default 2), shelves and tilt 1..=2 (default 2).
    pub order: Option<usize>,
    /// `butterworth` (default) or `linkwitz_riley` (pass filters, even orders).
    pub alignment: String,
    /// `stereo` (default: every channel), `left`, `right`, `mid`, `side`.
    pub channel: String,
    /// Second-order shelves only: define the shelf by its slope `S` (0.1..=1) instead of
    /// its Q. The band then has a `bandN.slope` param (this value is its default) and no
    /// `bandN.q`; Q follows from gain and slope at every coefficient update.
    pub slope: Option<f64>,
}

impl Default for BandConfig {
    fn default() -> Self {
        Self {
            kind: "bell".into(),
            order: None,
            alignment: "butterworth".into(),
            channel: "stereo".into(),
            slope: None,
        }
    }
}

/// Which channels a band filters. The last four need a two-channel bus.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChannelMode {
    Stereo,
    Left,
    Right,
    Mid,
    Side,
}

/// A band's validated structure.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BandLayout {
    pub kind: FilterType,
    pub order: usize,
    pub alignment: Alignment,
    pub channel: ChannelMode,
    /// `Some(default slope)`: a shelf defined by slope, its third value is `S`, not Q.
    pub slope: Option<f32>,
}

const TYPE_NAMES: &[(&str, FilterType)] = &[
    ("bell", FilterType::Bell),
    ("low_shelf", FilterType::LowShelf),
    ("high_shelf", FilterType::HighShelf),
    ("high_pass", FilterType::HighPass),
    ("low_pass", FilterType::LowPass),
    ("notch", FilterType::Notch),
    ("band_pass", FilterType::BandPass),
    ("tilt", FilterType::Tilt),
];

fn names<T>(table: &[(&str, T)], allowed: impl Fn(&T) -> bool) -> String {
    table
        .iter()
        .filter(|(_, v)| allowed(v))
        .map(|(n, _)| format!("\"{n}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

impl BandConfig {
    /// Validates band `index` (0-based) for a bus of `channels`, allowing only `types`.
    pub fn layout(
        &self,
        index: usize,
        channels: usize,
        types: &[FilterType],
    ) -> Result<BandLayout, ConfigError> {
        let field = |f: &str| format!("bands[{index}].{f}");
        let kind = TYPE_NAMES
            .iter()
            .find(|(n, t)| *n == self.kind && types.contains(t))
            .map(|(_, t)| *t)
            .ok_or_else(|| {
                ConfigError::invalid(
                    field("type"),
                    format!(
                        "must be one of {}, found \"{}\"",
                        names(TYPE_NAMES, |t| types.contains(t)),
                        self.kind
                    ),
                )
            })?;
        let alignments = [
            ("butterworth", Alignment::Butterworth),
            ("linkwitz_riley", Alignment::LinkwitzRiley),
        ];
        let alignment = alignments
            .iter()
            .find(|(n, _)| *n == self.alignment)
            .map(|(_, a)| *a)
            .ok_or_else(|| {
                ConfigError::invalid(
                    field("alignment"),
                    format!(
                        "must be one of {}, found \"{}\"",
                        names(&alignments, |_| true),
                        self.alignment
                    ),
                )
            })?;
        let orders = kind.orders();
        let order = self.order.unwrap_or(2);
        if !orders.contains(&order) {
            return Err(ConfigError::invalid(
                field("order"),
                format!(
                    "must be {}..={} for \"{}\", found {order}",
                    orders.start(),
                    orders.end(),
                    self.kind
                ),
            ));
        }
        if alignment == Alignment::LinkwitzRiley {
            let pass = matches!(kind, FilterType::HighPass | FilterType::LowPass);
            if !pass || !order.is_multiple_of(2) {
                return Err(ConfigError::invalid(
                    field("alignment"),
                    format!(
                        "\"linkwitz_riley\" needs a high_pass or low_pass of even order, \
                         found \"{}\" of order {order}",
                        self.kind
                    ),
                ));
            }
        }
        let modes = [
            ("stereo", ChannelMode::Stereo),
            ("left", ChannelMode::Left),
            ("right", ChannelMode::Right),
            ("mid", ChannelMode::Mid),
            ("side", ChannelMode::Side),
        ];
        let channel = modes
            .iter()
            .find(|(n, _)| *n == self.channel)
            .map(|(_, m)| *m)
            .ok_or_else(|| {
                ConfigError::invalid(
                    field("channel"),
                    format!(
                        "must be one of {}, found \"{}\"",
                        names(&modes, |_| true),
                        self.channel
                    ),
                )
            })?;
        if channel != ChannelMode::Stereo && channels != 2 {
            return Err(ConfigError::invalid(
                field("channel"),
                format!(
                    "\"{}\" needs a 2-channel bus, found channels: {channels}",
                    self.channel
                ),
            ));
        }
        let slope = self.slope.map(|s| s as f32);
        if let Some(s) = self.slope {
            let shelf = matches!(kind, FilterType::LowShelf | FilterType::HighShelf);
            if !shelf || order != 2 {
                return Err(ConfigError::invalid(
                    field("slope"),
                    format!(
                        "applies to low_shelf and high_shelf of order 2 only, found \"{}\" of order {order}",
                        self.kind
                    ),
                ));
            }
            let (lo, hi) = SLOPE_RANGE;
            if !(lo as f64..=hi as f64).contains(&s) {
                return Err(ConfigError::invalid(
                    field("slope"),
                    format!("must be {lo}..={hi}, found {s}"),
                ));
            }
        }
        Ok(BandLayout {
            kind,
            order,
            alignment,
            channel,
            slope,
        })
    }
}

/// Which value of a band a param sets. `Q` is the band's shape value: its Q, or its
/// slope `S` for a shelf defined by slope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BandField {
    Freq,
    Gain,
    Q,
}

impl BandLayout {
    fn default_freq_hz(&self) -> f32 {
        match self.kind {
            FilterType::HighPass => 30.0,
            FilterType::LowPass => 18_000.0,
            FilterType::LowShelf => 100.0,
            FilterType::HighShelf => 10_000.0,
            _ => 1000.0,
        }
    }

    /// Default of the shape value: the configured slope, or the type's default Q.
    fn default_q(&self) -> f32 {
        if let Some(slope) = self.slope {
            return slope;
        }
        match self.kind {
            FilterType::LowShelf | FilterType::HighShelf | FilterType::Tilt => {
                std::f32::consts::FRAC_1_SQRT_2
            }
            FilterType::Notch => 4.0,
            _ => 1.0,
        }
    }

    /// The params of band `number` (1-based), each with its default for this band.
    pub fn params(&self, number: usize) -> Vec<(ParamSpec, BandParam)> {
        let mut out = vec![(BandParam::FreqHz, self.default_freq_hz())];
        if self.kind.uses_gain() {
            out.push((BandParam::GainDb, BandParam::GainDb.default_value()));
        }
        if let Some(slope) = self.slope {
            out.push((BandParam::Slope, slope));
        } else if self.kind.uses_q(self.order) {
            out.push((BandParam::Q, self.default_q()));
        }
        out.into_iter()
            .map(|(param, default)| {
                let name = format!("band{number}.{}", param.decl().name);
                (param.decl().with_default(default).spec_named(name), param)
            })
            .collect()
    }

    /// Smoothed values at the defaults of [`BandLayout::params`].
    pub fn initial_values(&self, sample_rate_hz: f64) -> BandValues {
        BandValues {
            freq_log2: LinearSmoother::new(
                self.default_freq_hz().log2(),
                BAND_SMOOTHING_MS,
                sample_rate_hz,
            ),
            gain_db: LinearSmoother::new(0.0, BAND_SMOOTHING_MS, sample_rate_hz),
            q_log2: LinearSmoother::new(self.default_q().log2(), BAND_SMOOTHING_MS, sample_rate_hz),
        }
    }

    /// The filter at the given values; `shape` is the Q, or the slope `S` of a shelf
    /// defined by slope (then `Q = shelf_q_from_slope(gain_db, S)`).
    pub fn design(&self, freq_hz: f64, gain_db: f64, shape: f64) -> FilterDesign {
        let q = if self.slope.is_some() {
            shelf_q_from_slope(gain_db, shape)
        } else {
            shape
        };
        FilterDesign {
            kind: self.kind,
            order: self.order,
            alignment: self.alignment,
            freq_hz,
            gain_db,
            q,
        }
    }
}

/// A band's smoothed values. Frequency and Q ramp in log2 so sweeps sound even.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BandValues {
    pub freq_log2: LinearSmoother,
    pub gain_db: LinearSmoother,
    pub q_log2: LinearSmoother,
}

impl BandValues {
    pub fn set(&mut self, field: BandField, value: f32) {
        match field {
            BandField::Freq => self.freq_log2.set_target(value.max(1e-3).log2()),
            BandField::Gain => self.gain_db.set_target(value),
            BandField::Q => self.q_log2.set_target(value.max(1e-3).log2()),
        }
    }

    pub fn is_smoothing(&self) -> bool {
        self.freq_log2.is_smoothing() || self.gain_db.is_smoothing() || self.q_log2.is_smoothing()
    }

    /// Advances every ramp by one frame.
    #[inline]
    pub fn step(&mut self) {
        self.freq_log2.next();
        self.gain_db.next();
        self.q_log2.next();
    }

    pub fn snap(&mut self) {
        self.freq_log2.snap();
        self.gain_db.snap();
        self.q_log2.snap();
    }

    /// Current (freq_hz, gain_db, q).
    pub fn current(&self) -> (f64, f64, f64) {
        (
            (self.freq_log2.value() as f64).exp2(),
            self.gain_db.value() as f64,
            (self.q_log2.value() as f64).exp2(),
        )
    }

    /// Target (freq_hz, gain_db, q): where the ramps are going.
    pub fn target(&self) -> (f64, f64, f64) {
        (
            (self.freq_log2.target() as f64).exp2(),
            self.gain_db.target() as f64,
            (self.q_log2.target() as f64).exp2(),
        )
    }
}

/// What [`parse_bands`] returns: (layouts, param specs, routes), where the routes map
/// each param id to (band index, field).
pub type BandParams = (
    Vec<BandLayout>,
    Vec<ParamSpec>,
    ParamRoutes<(usize, BandField)>,
);

/// Most bands one `eq` or `dynamic_eq` node may have. A mastering EQ uses a handful and a
/// fitted match curve some dozens; the bound keeps a typo or a generated file from building
/// a node whose every sample costs thousands of filters.
pub const MAX_BANDS: usize = 128;

/// Validates every band of a config (allowing only `types`) and builds their params.
pub fn parse_bands(
    bands: &[BandConfig],
    channels: usize,
    types: &[FilterType],
) -> Result<BandParams, ConfigError> {
    if bands.len() > MAX_BANDS {
        return Err(ConfigError::invalid(
            "bands",
            format!(
                "{} bands; a node may have at most {MAX_BANDS} (split the curve over several nodes)",
                bands.len()
            ),
        ));
    }
    let mut layouts = Vec::with_capacity(bands.len());
    let mut params = ParamMap::new();
    for (i, band) in bands.iter().enumerate() {
        let layout = band.layout(i, channels, types)?;
        for (spec, param) in layout.params(i + 1) {
            params.push(spec, (i, param.field()));
        }
        layouts.push(layout);
    }
    let (specs, routes) = params.into_parts();
    Ok((layouts, specs, routes))
}

/// Every band type.
pub const ALL_TYPES: &[FilterType] = &[
    FilterType::Bell,
    FilterType::LowShelf,
    FilterType::HighShelf,
    FilterType::HighPass,
    FilterType::LowPass,
    FilterType::Notch,
    FilterType::BandPass,
    FilterType::Tilt,
];
