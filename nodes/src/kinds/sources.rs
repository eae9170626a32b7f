//! Test-signal sources: `sine`, `noise`, `impulse`, `sweep`. No inputs, one output.
//!
//! Every source is deterministic and independent of block size: tones advance a per-frame
//! f64 phase, the sweep and the impulse derive everything from the absolute frame
//! position, and noise comes from a seeded per-channel generator stepped once per frame.
//! All channels of `sine`, `impulse` and `sweep` carry the same signal; `noise` channels
//! are independent.
//!
//! Params are declared in [`SineParam`], [`NoiseParam`], [`ImpulseParam`] and
//! [`SweepParam`]; `lathe nodes KIND` lists their ranges and defaults.
//!
//! - `sine`: out `out` (channels). Config `(channels: 2)`. Params `freq_hz` (held below
//!   0.49 x sample rate), `level_dbfs` (peak).
//! - `noise`: out `out` (channels). Config `(channels: 2, color: "white", seed: 1)`;
//!   `color` `"white"` (uniform) or `"pink"` (-3 dB/oct from 10 Hz to about 13 kHz, a
//!   cascade of pole/zero pairs). Params `level_dbfs` (RMS; white peaks sit 4.8 dB above
//!   the RMS).
//! - `impulse`: out `out` (channels). Config `(channels: 2, period_ms: 0)`; `period_ms` 0
//!   gives one impulse at frame 0 after reset, > 0 repeats it every `period_ms` (rounded to
//!   whole frames). Params `level_dbfs` (default 0 = amplitude 1).
//! - `sweep`: out `out` (channels). Config `(channels: 2, start_hz: 20, end_hz: 20000,
//!   duration_s: 10, repeat: false)`: an exponential (log) sine sweep, phase
//!   `2 pi f1 T / ln(f2/f1) (exp(t ln(f2/f1) / T) - 1)`, starting at phase 0, faded in and
//!   out over 5 ms (raised cosine); silence after `duration_s` unless `repeat`. Params
//!   `level_dbfs` (peak).
//! - Latency: none (no input). Allocate at build only (per-channel noise state).

use std::f64::consts::{PI, TAU};

use lathe_engine::{
    BuildContext, BuiltNode, ConfigError, Io, LinearSmoother, NodeConfig, NodeKind, NodeSpec,
    ParamDecl, ParamId, ParamTable, PortSpec, Processor, Unit, db_to_gain, params,
};
use serde::Deserialize;

use crate::bus::{ChannelsConfig, DEFAULT_CHANNELS, check_channels};
use crate::dsp::noise::{GOLDEN_GAMMA, Xorshift64Star, splitmix64_finalise};

/// Raised-cosine fade at each end of a sweep, so it neither starts nor stops with a click.
pub const SWEEP_FADE_MS: f64 = 5.0;
/// Highest tone frequency as a fraction of the sample rate.
pub const MAX_TONE_FRACTION: f64 = 0.49;

/// The level every source has; each kind gives it its own doc (and default).
const LEVEL_DBFS: ParamDecl = ParamDecl::new("level_dbfs", Unit::Dbfs, -120.0, 0.0, -20.0);

params! {
    /// The params of `sine`.
    pub enum SineParam {
        FreqHz = ParamDecl::new("freq_hz", Unit::Hz, 1.0, 24_000.0, 1000.0).doc("Frequency."),
        LevelDbfs = LEVEL_DBFS.doc("Peak level."),
    }
}

params! {
    /// The params of `noise`.
    pub enum NoiseParam {
        LevelDbfs = LEVEL_DBFS.doc("RMS level."),
    }
}

params! {
    /// The params of `impulse`.
    pub enum ImpulseParam {
        LevelDbfs = LEVEL_DBFS.with_default(0.0).doc("Impulse amplitude."),
    }
}

params! {
    /// The params of `sweep`.
    pub enum SweepParam {
        LevelDbfs = LEVEL_DBFS.doc("Peak level."),
    }
}

/// A source's spec: one output, the params of table `P`.
fn spec<P: ParamTable>(channels: usize) -> NodeSpec {
    NodeSpec::with_ports(vec![], vec![PortSpec::main_out(channels)]).with_params(P::specs())
}

/// Level smoothing shared by the sources: a dB smoother and the steady linear gain.
#[derive(Debug, Clone, Copy)]
struct Level {
    dbfs: LinearSmoother,
    gain: f32,
}

impl Level {
    fn new(decl: &ParamDecl, rate: f64) -> Self {
        Self {
            dbfs: decl.smoother(rate),
            gain: db_to_gain(decl.default),
        }
    }

    fn reset(&mut self) {
        self.dbfs.snap();
        self.gain = db_to_gain(self.dbfs.value());
    }

    #[inline]
    fn next(&mut self) -> f32 {
        if self.dbfs.is_smoothing() {
            self.gain = db_to_gain(self.dbfs.next());
        }
        self.gain
    }
}

/// Writes `value` to frame `i` of every output channel.
#[inline]
fn write_all(io: &mut Io<'_>, i: usize, value: f32) {
    for out in io.outputs.iter_mut() {
        out[i] = value;
    }
}

// ---------------------------------------------------------------------------------- sine

pub struct SineKind;

impl NodeKind for SineKind {
    fn name(&self) -> &'static str {
        "sine"
    }

    fn summary(&self) -> &'static str {
        "Sine tone source with smoothed frequency and level."
    }

    fn doc(&self) -> &'static str {
        "sine: sine tone, same on every channel.\n\
         Ports: out `out` (channels). Config: (channels: 2).\n\
         Params: freq_hz (held below 0.49 x rate), level_dbfs (peak)."
    }

    fn build(
        &self,
        config: &NodeConfig<'_>,
        ctx: &BuildContext<'_>,
    ) -> Result<BuiltNode, ConfigError> {
        let channels = check_channels(config.parse::<ChannelsConfig>()?.channels)?;
        let rate = ctx.prepare.sample_rate_hz;
        let processor = SineProcessor {
            rate,
            freq_hz: SineParam::FreqHz.smoother(rate),
            level: Level::new(SineParam::LevelDbfs.decl(), rate),
            phase: 0.0,
        };
        Ok(BuiltNode {
            spec: spec::<SineParam>(channels),
            processor: Box::new(processor),
        })
    }
}

pub struct SineProcessor {
    rate: f64,
    freq_hz: LinearSmoother,
    level: Level,
    /// In cycles, 0 ..< 1.
    phase: f64,
}

impl Processor for SineProcessor {
    fn set_param(&mut self, id: ParamId, value: f32) {
        match SineParam::from_id(id) {
            Some(SineParam::FreqHz) => self.freq_hz.set_target(value),
            Some(SineParam::LevelDbfs) => self.level.dbfs.set_target(value),
            None => {}
        }
    }

    fn reset(&mut self) {
        self.freq_hz.snap();
        self.level.reset();
        self.phase = 0.0;
    }

    fn process(&mut self, io: &mut Io<'_>) {
        let top = MAX_TONE_FRACTION * self.rate;
        for i in 0..io.frames {
            let gain = self.level.next();
            let value = (TAU * self.phase).sin() as f32 * gain;
            write_all(io, i, value);
            let step = f64::from(self.freq_hz.next()).min(top) / self.rate;
            self.phase += step;
            if self.phase >= 1.0 {
                self.phase -= 1.0;
            }
        }
    }
}

// --------------------------------------------------------------------------------- noise

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NoiseConfig {
    pub channels: usize,
    pub color: String,
    pub seed: u64,
}

impl Default for NoiseConfig {
    fn default() -> Self {
        Self {
            channels: DEFAULT_CHANNELS,
            color: "white".into(),
            seed: 1,
        }
    }
}

/// Pink filter: pole/zero pairs a factor of 3 apart, each zero sqrt(3) above its pole,
/// so the slope averages -10 dB/decade (-3 dB/oct) from the first pole to the last zero.
const PINK_FIRST_POLE_HZ: f64 = 10.0;
const PINK_POLE_STEP: f64 = 3.0;
const PINK_SECTIONS: usize = 7;

#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct PinkSection {
    pole: f64,
    zero: f64,
}

/// One channel's generator and the pink filter memory.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct NoiseChannel {
    rng: Xorshift64Star,
    /// Per section: previous input and output.
    memory: [(f64, f64); PINK_SECTIONS],
}

/// Mixes a seed into a well-spread non-zero generator state (splitmix64 finaliser).
fn seed_state(seed: u64, channel: usize) -> Xorshift64Star {
    let z = seed
        .wrapping_add((channel as u64 + 1).wrapping_mul(GOLDEN_GAMMA))
        .wrapping_add(GOLDEN_GAMMA);
    Xorshift64Star::new(splitmix64_finalise(z).max(1))
}

impl NoiseChannel {
    /// Uniform in [-1, 1).
    #[inline]
    fn uniform(&mut self) -> f64 {
        self.rng.uniform_signed()
    }

    #[inline]
    fn pink(&mut self, sections: &[PinkSection], x: f64) -> f64 {
        let mut y = x;
        for (s, (x1, y1)) in sections.iter().zip(&mut self.memory) {
            let out = y - s.zero * *x1 + s.pole * *y1;
            *x1 = y;
            *y1 = out;
            y = out;
        }
        y
    }
}

fn pink_sections(rate: f64) -> [PinkSection; PINK_SECTIONS] {
    let mut sections = [PinkSection::default(); PINK_SECTIONS];
    let mut f = PINK_FIRST_POLE_HZ;
    for s in &mut sections {
        let zero_hz = (f * PINK_POLE_STEP.sqrt()).min(MAX_TONE_FRACTION * rate);
        let pole_hz = f.min(zero_hz);
        s.pole = (-TAU * pole_hz / rate).exp();
        s.zero = (-TAU * zero_hz / rate).exp();
        f *= PINK_POLE_STEP;
    }
    sections
}

/// Gain that brings the pink filter's output to the variance of its input: one over the
/// root energy of its impulse response (run until the slowest pole has died out).
fn pink_normaliser(sections: &[PinkSection], rate: f64) -> f64 {
    let mut ch = NoiseChannel::default();
    let mut energy = 0.0;
    for n in 0..(2.0 * rate) as usize {
        let y = ch.pink(sections, f64::from(u8::from(n == 0)));
        energy += y * y;
    }
    1.0 / energy.sqrt()
}

pub struct NoiseKind;

impl NodeKind for NoiseKind {
    fn name(&self) -> &'static str {
        "noise"
    }

    fn summary(&self) -> &'static str {
        "White or pink noise source, seeded and deterministic, level as RMS."
    }

    fn doc(&self) -> &'static str {
        "noise: white (uniform) or pink (-3 dB/oct) noise, independent per channel.\n\
         Ports: out `out` (channels). Config: (channels: 2, color: \"white\", seed: 1),\n\
         color \"white\" | \"pink\"; the same seed gives the same noise.\n\
         Params: level_dbfs (RMS)."
    }

    fn build(
        &self,
        config: &NodeConfig<'_>,
        ctx: &BuildContext<'_>,
    ) -> Result<BuiltNode, ConfigError> {
        let cfg: NoiseConfig = config.parse()?;
        let channels = check_channels(cfg.channels)?;
        let pink = match cfg.color.as_str() {
            "white" => false,
            "pink" => true,
            other => {
                return Err(ConfigError::invalid(
                    "color",
                    format!("must be \"white\" or \"pink\", found \"{other}\""),
                ));
            }
        };
        let rate = ctx.prepare.sample_rate_hz;
        let sections = pink_sections(rate);
        // Uniform [-1, 1) has RMS 1/sqrt(3).
        let unit = 3f64.sqrt();
        let processor = NoiseProcessor {
            level: Level::new(NoiseParam::LevelDbfs.decl(), rate),
            seed: cfg.seed,
            pink,
            scale: if pink {
                unit * pink_normaliser(&sections, rate)
            } else {
                unit
            },
            sections,
            channels: (0..channels)
                .map(|c| NoiseChannel {
                    rng: seed_state(cfg.seed, c),
                    ..NoiseChannel::default()
                })
                .collect(),
        };
        Ok(BuiltNode {
            spec: spec::<NoiseParam>(channels),
            processor: Box::new(processor),
        })
    }
}

pub struct NoiseProcessor {
    level: Level,
    seed: u64,
    pink: bool,
    /// Brings the generator to unit RMS.
    scale: f64,
    sections: [PinkSection; PINK_SECTIONS],
    channels: Vec<NoiseChannel>,
}

impl Processor for NoiseProcessor {
    fn set_param(&mut self, id: ParamId, value: f32) {
        if let Some(NoiseParam::LevelDbfs) = NoiseParam::from_id(id) {
            self.level.dbfs.set_target(value);
        }
    }

    fn reset(&mut self) {
        self.level.reset();
        for (c, ch) in self.channels.iter_mut().enumerate() {
            *ch = NoiseChannel {
                rng: seed_state(self.seed, c),
                ..NoiseChannel::default()
            };
        }
    }

    fn process(&mut self, io: &mut Io<'_>) {
        for i in 0..io.frames {
            let gain = f64::from(self.level.next()) * self.scale;
            for (out, ch) in io.outputs.iter_mut().zip(&mut self.channels) {
                let mut x = ch.uniform();
                if self.pink {
                    x = ch.pink(&self.sections, x);
                }
                out[i] = (x * gain) as f32;
            }
        }
    }
}

// ------------------------------------------------------------------------------- impulse

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ImpulseConfig {
    pub channels: usize,
    pub period_ms: f64,
}

impl Default for ImpulseConfig {
    fn default() -> Self {
        Self {
            channels: DEFAULT_CHANNELS,
            period_ms: 0.0,
        }
    }
}

pub struct ImpulseKind;

impl NodeKind for ImpulseKind {
    fn name(&self) -> &'static str {
        "impulse"
    }

    fn summary(&self) -> &'static str {
        "Unit impulse source: once at frame 0, or repeated with a period."
    }

    fn doc(&self) -> &'static str {
        "impulse: one-sample impulses, same on every channel.\n\
         Ports: out `out` (channels). Config: (channels: 2, period_ms: 0);\n\
         period_ms 0 = a single impulse at frame 0 after reset, > 0 = one every period.\n\
         Params: level_dbfs (0 = amplitude 1)."
    }

    fn build(
        &self,
        config: &NodeConfig<'_>,
        ctx: &BuildContext<'_>,
    ) -> Result<BuiltNode, ConfigError> {
        let cfg: ImpulseConfig = config.parse()?;
        let channels = check_channels(cfg.channels)?;
        if !(cfg.period_ms.is_finite() && cfg.period_ms >= 0.0 && cfg.period_ms <= 3.6e6) {
            return Err(ConfigError::invalid(
                "period_ms",
                format!(
                    "must be 0 (single) or a period up to 3600000 ms, found {}",
                    cfg.period_ms
                ),
            ));
        }
        let rate = ctx.prepare.sample_rate_hz;
        let period = ctx.prepare.ms_to_frames(cfg.period_ms).max(1) as u64;
        let processor = ImpulseProcessor {
            level: Level::new(ImpulseParam::LevelDbfs.decl(), rate),
            period: (cfg.period_ms > 0.0).then_some(period),
        };
        Ok(BuiltNode {
            spec: spec::<ImpulseParam>(channels),
            processor: Box::new(processor),
        })
    }
}

pub struct ImpulseProcessor {
    level: Level,
    /// None: a single impulse at frame 0.
    period: Option<u64>,
}

impl Processor for ImpulseProcessor {
    fn set_param(&mut self, id: ParamId, value: f32) {
        if let Some(ImpulseParam::LevelDbfs) = ImpulseParam::from_id(id) {
            self.level.dbfs.set_target(value);
        }
    }

    fn reset(&mut self) {
        self.level.reset();
    }

    fn process(&mut self, io: &mut Io<'_>) {
        for i in 0..io.frames {
            let gain = self.level.next();
            let n = io.position_frames + i as u64;
            let hit = match self.period {
                None => n == 0,
                Some(p) => n.is_multiple_of(p),
            };
            write_all(io, i, if hit { gain } else { 0.0 });
        }
    }
}

// --------------------------------------------------------------------------------- sweep

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SweepConfig {
    pub channels: usize,
    pub start_hz: f64,
    pub end_hz: f64,
    pub duration_s: f64,
    pub repeat: bool,
}

impl Default for SweepConfig {
    fn default() -> Self {
        Self {
            channels: DEFAULT_CHANNELS,
            start_hz: 20.0,
            end_hz: 20_000.0,
            duration_s: 10.0,
            repeat: false,
        }
    }
}

pub struct SweepKind;

impl NodeKind for SweepKind {
    fn name(&self) -> &'static str {
        "sweep"
    }

    fn summary(&self) -> &'static str {
        "Exponential (log) sine sweep source, once or repeated."
    }

    fn doc(&self) -> &'static str {
        "sweep: exponential sine sweep from start_hz to end_hz, same on every channel.\n\
         Ports: out `out` (channels).\n\
         Config: (channels: 2, start_hz: 20, end_hz: 20000, duration_s: 10, repeat: false);\n\
         5 ms raised-cosine fades at both ends; silence after the sweep unless repeat.\n\
         Params: level_dbfs (peak)."
    }

    fn build(
        &self,
        config: &NodeConfig<'_>,
        ctx: &BuildContext<'_>,
    ) -> Result<BuiltNode, ConfigError> {
        let cfg: SweepConfig = config.parse()?;
        let channels = check_channels(cfg.channels)?;
        let rate = ctx.prepare.sample_rate_hz;
        let top = MAX_TONE_FRACTION * rate;
        for (field, f) in [("start_hz", cfg.start_hz), ("end_hz", cfg.end_hz)] {
            if !(f.is_finite() && (1.0..=top).contains(&f)) {
                return Err(ConfigError::invalid(
                    field,
                    format!("must be 1..={top} Hz, found {f}"),
                ));
            }
        }
        if cfg.start_hz == cfg.end_hz {
            return Err(ConfigError::invalid(
                "end_hz",
                format!("must differ from start_hz ({} Hz)", cfg.start_hz),
            ));
        }
        if !(cfg.duration_s.is_finite() && (0.01..=3600.0).contains(&cfg.duration_s)) {
            return Err(ConfigError::invalid(
                "duration_s",
                format!("must be 0.01..=3600 s, found {}", cfg.duration_s),
            ));
        }
        let log_ratio = (cfg.end_hz / cfg.start_hz).ln();
        let processor = SweepProcessor {
            level: Level::new(SweepParam::LevelDbfs.decl(), rate),
            length: (cfg.duration_s * rate).round().max(1.0) as u64,
            repeat: cfg.repeat,
            rate_per_frame: log_ratio / (cfg.duration_s * rate),
            phase_scale: TAU * cfg.start_hz * cfg.duration_s / log_ratio,
            fade_frames: (SWEEP_FADE_MS * 0.001 * rate).min(cfg.duration_s * rate / 4.0),
        };
        Ok(BuiltNode {
            spec: spec::<SweepParam>(channels),
            processor: Box::new(processor),
        })
    }
}

pub struct SweepProcessor {
    level: Level,
    /// Sweep length in frames.
    length: u64,
    repeat: bool,
    /// ln(f2/f1) / (T fs): the exponent grows by this per frame.
    rate_per_frame: f64,
    /// 2 pi f1 T / ln(f2/f1).
    phase_scale: f64,
    /// Length of the raised-cosine fades at both ends.
    fade_frames: f64,
}

impl Processor for SweepProcessor {
    fn set_param(&mut self, id: ParamId, value: f32) {
        if let Some(SweepParam::LevelDbfs) = SweepParam::from_id(id) {
            self.level.dbfs.set_target(value);
        }
    }

    fn reset(&mut self) {
        self.level.reset();
    }

    fn process(&mut self, io: &mut Io<'_>) {
        for i in 0..io.frames {
            let gain = self.level.next();
            let n = io.position_frames + i as u64;
            let k = if self.repeat { n % self.length } else { n };
            let value = if k < self.length {
                let phase = self.phase_scale * ((self.rate_per_frame * k as f64).exp() - 1.0);
                // Reduce before the sine: the phase reaches millions of radians.
                let edge = k.min(self.length - 1 - k) as f64;
                let fade = if edge < self.fade_frames {
                    0.5 - 0.5 * (PI * edge / self.fade_frames).cos()
                } else {
                    1.0
                };
                ((phase % (2.0 * PI)).sin() * fade) as f32 * gain
            } else {
                0.0
            };
            write_all(io, i, value);
        }
    }
}
