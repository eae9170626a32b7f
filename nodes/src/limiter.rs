//! `limiter`: a lookahead brickwall limiter with true-peak detection.
//!
//! - Ports: in `in` (N channels), out `out` (N channels).
//! - Config: `(channels: 2, lookahead_ms: 5.0, oversampling: 4)`. `lookahead_ms`
//!   (3 ..= 50) is the node's latency; `oversampling` (4, 8 or 16) is the factor of the
//!   true-peak detector.
//! - Params: `ceiling_dbtp` (-24 ..= 0, default -1, smoothed 20 ms), `release_ms`
//!   (1 ..= 2000, default 50), `auto_release` (toggle, default off; program-dependent
//!   release as in `compressor`), `link_pct` (0 ..= 100, default 100), `input_gain_db`
//!   (-24 ..= 24, default 0, smoothed 20 ms).
//! - Meters: `gain_reduction_db`: reduction of the most reduced channel at the end of each
//!   block, as a POSITIVE number of dB (0 = none). `true_peak_dbtp`: the highest true peak
//!   of the output since the last reset (4x oversampled estimate), dBTP.
//! - Latency: `lookahead_ms` in frames. Allocates only at build.
//!
//! Guarantee: the output sample peak never exceeds `ceiling_dbtp`; the output true peak
//! stays within 0.1 dB of it on full-band material (noise, pushed mixes, squares, sweeps
//! to 0.49 fs), measured both by a 16x windowed-sinc interpolator flat to 0.49 fs and by
//! lathe's BS.1770 meter. Signals that never reach the ceiling come out as an exact delay.
//!
//! How the guarantee is built (all per channel, gains in linear units):
//! 1. The true-peak detector gives, per frame, the peak magnitude of the oversampled
//!    input over that frame's span; the largest of three consecutive spans covers the
//!    interval `[t - 1, t + 2]` around sample `t`, so it bounds every inter-sample value
//!    that sample `t` takes part in, for content up to 0.48 fs.
//! 2. Content above that is read low by any detector of a few milliseconds' latency (its
//!    peaks lie between samples that only show them over many frames; the detector is at
//!    half gain at 0.5 fs, and flatter designs up to 0.495 fs still read 0.35 dB low on
//!    noise). White noise reaches Nyquist: without a correction, limited white-noise
//!    bursts read 0.28 dB over the ceiling and the demo mix pushed 20 dB 0.39 dB.
//!    So half the near-Nyquist envelope (`near_nyquist`: high-pass at 0.44 fs, maximum
//!    over +-8 frames) is added to the reading: a conservative bound that costs a little
//!    extra reduction only when such content is loud and over the ceiling. The wanted
//!    gain is `r[t] = min(1, ceiling / peak)`.
//! 3. A running minimum of `r` over `H = R + 2 G` frames, then release (attack instant, so
//!    the envelope never rises above the held minimum), then two moving averages of
//!    lengths `B1 + B2 - 1 = R`. Each output of the averages is a mean of values that are
//!    all `<= r` at every frame of a window of `2 G + 1` frames, and the output sample is
//!    the centre of that window: the applied gain is never above the wanted gain, it is
//!    flat for `G` frames (`GUARD_FRAMES`) on each side of a peak, and it moves smoothly
//!    elsewhere (no steps, so no distortion from the gain itself). The averages run on
//!    integers (gain scaled by 2^48, rounded down), so they are exact and never drift.
//!    Latency = detector delay + `R + G`; `R` gets what the lookahead leaves.
//! 4. A final clamp at the (delayed) ceiling only removes f32 rounding: the sample peak of
//!    the output never exceeds the ceiling.
//!
//! Measured on the output, the gain is flat around the worst peaks, so what is left is the
//! detector's own error (hundredths of a dB). A bare tone at exactly fs/2 switched on and
//! off has no well-defined true peak and is outside the guarantee. While `ceiling_dbtp`
//! moves, each sample is held to the ceiling of the moment it was detected, which trails
//! the current one by the lookahead.

use lathe_engine::{
    BuildContext, BuiltNode, ConfigError, Io, LinearSmoother, MeterSpec, NodeConfig, NodeKind,
    NodeSpec, ParamId, ParamSpec, PortSpec, Processor, Unit, db_to_gain,
};
use serde::Deserialize;

use crate::compressor::{Ballistics, Envelope, check_channels};
use crate::gain::DEFAULT_CHANNELS;
use crate::near_nyquist::NearNyquistEnvelope;
use crate::oversample::{TruePeakDetector, valid_factor};

/// Default lookahead (and latency), in ms.
pub const DEFAULT_LOOKAHEAD_MS: f64 = 5.0;
/// Lookahead range, in ms.
pub const LOOKAHEAD_RANGE_MS: (f64, f64) = (3.0, 50.0);
/// Default true-peak detector oversampling.
pub const DEFAULT_OVERSAMPLING: usize = 4;
/// Oversampling of the output true-peak meter.
pub const METER_OVERSAMPLING: usize = 4;
/// Fixed-point scale of the gain averages: 2^48.
const GAIN_SCALE: f64 = (1u64 << 48) as f64;
/// Frames on each side of a sample over which its wanted gain is also enforced, so the
/// gain is flat around every peak and its changes (which add sidebands to the signal)
/// happen away from the peaks.
const GUARD_FRAMES: usize = 8;
/// Consecutive detector spans whose maximum bounds one sample's neighbourhood.
const PEAK_SPANS: usize = 3;
/// Share of the near-Nyquist envelope added to the detector's reading: what the
/// detector's interpolator misses of content it cannot resolve.
const NYQUIST_MARGIN: f32 = 0.5;

const DOC: &str = "\
limiter: lookahead brickwall limiter with true-peak detection.
Ports: in `in` (N), out `out` (N).
Config: (channels: 2, lookahead_ms: 5.0, oversampling: 4)
  lookahead_ms 3..=50 = latency; oversampling 4|8|16 (true-peak detector).
Params: ceiling_dbtp -24..0 (-1), release_ms 1..2000 (50), auto_release on/off (off),
  link_pct 0..100 (100), input_gain_db -24..24 (0).
Meters: gain_reduction_db (positive dB of reduction, most reduced channel),
  true_peak_dbtp (highest output true peak since reset, 4x).
Guarantee: output sample peak <= ceiling; output true peak <= ceiling + 0.1 dB
  (content near Nyquist included: half its envelope is added to the detector's reading).
Latency: lookahead_ms. Allocates at build only.";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimiterConfig {
    pub channels: usize,
    pub lookahead_ms: f64,
    pub oversampling: usize,
}

impl Default for LimiterConfig {
    fn default() -> Self {
        Self {
            channels: DEFAULT_CHANNELS,
            lookahead_ms: DEFAULT_LOOKAHEAD_MS,
            oversampling: DEFAULT_OVERSAMPLING,
        }
    }
}

mod param {
    pub const CEILING: u32 = 0;
    pub const RELEASE: u32 = 1;
    pub const AUTO_RELEASE: u32 = 2;
    pub const LINK: u32 = 3;
    pub const INPUT_GAIN: u32 = 4;
}

fn param_specs() -> Vec<ParamSpec> {
    vec![
        ParamSpec::new("ceiling_dbtp", Unit::Dbtp, -24.0, 0.0, -1.0)
            .doc("Highest output level, true peak."),
        ParamSpec::new("release_ms", Unit::Ms, 1.0, 2000.0, 50.0)
            .smoothing_ms(0.0)
            .doc("Time constant of the gain recovery (63.2 % of a step, in dB)."),
        ParamSpec::toggle("auto_release", false)
            .smoothing_ms(0.0)
            .doc("Program-dependent release: fast after short peaks, slow after sustained reduction."),
        ParamSpec::new("link_pct", Unit::Percent, 0.0, 100.0, 100.0)
            .doc("Channel link: 100 = one gain for all channels, 0 = independent."),
        ParamSpec::new("input_gain_db", Unit::Db, -24.0, 24.0, 0.0).doc("Gain before limiting (drive)."),
    ]
}

pub struct LimiterKind;

impl NodeKind for LimiterKind {
    fn name(&self) -> &'static str {
        "limiter"
    }

    fn summary(&self) -> &'static str {
        "Lookahead true-peak brickwall limiter: output never above the ceiling."
    }

    fn doc(&self) -> &'static str {
        DOC
    }

    fn build(
        &self,
        config: &NodeConfig<'_>,
        ctx: &BuildContext<'_>,
    ) -> Result<BuiltNode, ConfigError> {
        let cfg: LimiterConfig = config.parse()?;
        check_channels(cfg.channels)?;
        if !valid_factor(cfg.oversampling) || cfg.oversampling < 4 {
            return Err(ConfigError::invalid(
                "oversampling",
                format!("must be 4, 8 or 16, found {}", cfg.oversampling),
            ));
        }
        let (lo, hi) = LOOKAHEAD_RANGE_MS;
        if !(lo..=hi).contains(&cfg.lookahead_ms) {
            return Err(ConfigError::invalid(
                "lookahead_ms",
                format!("must be {lo}..={hi}, found {}", cfg.lookahead_ms),
            ));
        }
        let sr = ctx.prepare.sample_rate_hz;
        let latency = ctx.prepare.ms_to_frames(cfg.lookahead_ms);
        let detector = TruePeakDetector::new(cfg.oversampling);
        // Output sample t is decided at frame t + k + 1 (detector delay k, one span after),
        // then waits H - 1 frames in the min-hold and averages: latency = H + k.
        let k = detector.latency_frames();
        let ramp = latency.saturating_sub(k + GUARD_FRAMES);
        if ramp < 2 {
            return Err(ConfigError::invalid(
                "lookahead_ms",
                format!(
                    "must give at least {} frames at {sr} Hz (the true-peak filter's delay \
                     and the guard), found {latency}",
                    k + GUARD_FRAMES + 2
                ),
            ));
        }
        let hold = ramp + 2 * GUARD_FRAMES;
        let box1 = ramp.div_ceil(2);
        let box2 = ramp + 1 - box1;
        let params = param_specs();
        let n = cfg.channels;
        let mut processor = LimiterProcessor {
            channels: n,
            sample_rate_hz: sr,
            ceiling_db: LinearSmoother::new(params[0].default, params[0].smoothing_ms, sr),
            input_gain_db: LinearSmoother::new(0.0, params[4].smoothing_ms, sr),
            link: LinearSmoother::new(100.0, params[3].smoothing_ms, sr),
            release_ms: params[param::RELEASE as usize].default as f64,
            auto_release: false,
            ballistics: Ballistics::new(sr, 0.0, 0.0, false),
            nyquist: vec![NearNyquistEnvelope::new(k + 1); n],
            detectors: vec![detector; n],
            meter_detectors: vec![TruePeakDetector::new(METER_OVERSAMPLING); n],
            spans: vec![[0.0; PEAK_SPANS]; n].into_boxed_slice(),
            wanted: vec![1.0; n].into_boxed_slice(),
            holds: vec![MinHold::new(hold); n],
            envelopes: vec![Envelope::default(); n].into_boxed_slice(),
            box1: vec![MovingAverage::new(box1); n],
            box2: vec![MovingAverage::new(box2); n],
            gains: vec![1.0; n].into_boxed_slice(),
            delay: vec![0.0; n * (latency + 1)].into_boxed_slice(),
            delay_len: latency + 1,
            delay_pos: 0,
            ceilings: vec![0.0; ramp + GUARD_FRAMES - 1].into_boxed_slice(),
            ceiling_pos: 0,
            frame: 0,
            output_peak: 0.0,
        };
        processor.update_ballistics();
        processor.reset();
        let spec = NodeSpec {
            inputs: vec![PortSpec::new("in", n)],
            outputs: vec![PortSpec::new("out", n)],
            params,
            meters: vec![
                MeterSpec::new(
                    "gain_reduction_db",
                    Unit::Db,
                    "Gain reduction of the most reduced channel, positive dB (0 = none).",
                ),
                MeterSpec::new(
                    "true_peak_dbtp",
                    Unit::Dbtp,
                    "Highest true peak of the output since reset (4x oversampled).",
                ),
            ],
            latency_frames: latency,
        };
        Ok(BuiltNode {
            spec,
            processor: Box::new(processor),
        })
    }
}

/// Running minimum over the last `len` frames (monotonic queue in a fixed ring).
#[derive(Clone)]
struct MinHold {
    values: Box<[f64]>,
    frames: Box<[u64]>,
    head: usize,
    count: usize,
    len: usize,
}

impl MinHold {
    fn new(len: usize) -> Self {
        Self {
            values: vec![1.0; len].into_boxed_slice(),
            frames: vec![0; len].into_boxed_slice(),
            head: 0,
            count: 0,
            len,
        }
    }

    /// Adds `value` at absolute `frame` and returns the minimum of the last `len` frames.
    #[inline]
    fn push(&mut self, frame: u64, value: f64) -> f64 {
        let cap = self.len;
        // Drop larger-or-equal values from the back: they can never be the minimum again.
        let wrap = |i: usize| if i >= cap { i - cap } else { i };
        while self.count > 0 {
            let back = wrap(self.head + self.count - 1);
            if self.values[back] >= value {
                self.count -= 1;
            } else {
                break;
            }
        }
        // Drop the front when it has left the window.
        if self.count > 0 && self.frames[self.head] + cap as u64 <= frame {
            self.head = wrap(self.head + 1);
            self.count -= 1;
        }
        let slot = wrap(self.head + self.count);
        self.values[slot] = value;
        self.frames[slot] = frame;
        self.count += 1;
        self.values[self.head]
    }

    fn clear(&mut self) {
        self.head = 0;
        self.count = 0;
    }
}

/// Exact moving average on fixed-point gains (rounded down).
#[derive(Clone)]
struct MovingAverage {
    ring: Box<[u64]>,
    pos: usize,
    sum: u64,
}

impl MovingAverage {
    fn new(len: usize) -> Self {
        Self {
            ring: vec![0; len.max(1)].into_boxed_slice(),
            pos: 0,
            sum: 0,
        }
    }

    #[inline]
    fn push(&mut self, value: u64) -> u64 {
        let len = self.ring.len();
        let old = std::mem::replace(&mut self.ring[self.pos], value);
        self.sum = self.sum - old + value;
        self.pos = if self.pos + 1 == len { 0 } else { self.pos + 1 };
        self.sum / len as u64
    }

    /// Fills with unity gain, as if the input had been silent forever.
    fn fill_unity(&mut self) {
        let unity = GAIN_SCALE as u64;
        self.ring.fill(unity);
        self.sum = unity * self.ring.len() as u64;
        self.pos = 0;
    }
}

pub struct LimiterProcessor {
    channels: usize,
    sample_rate_hz: f64,
    ceiling_db: LinearSmoother,
    input_gain_db: LinearSmoother,
    link: LinearSmoother,
    release_ms: f64,
    auto_release: bool,
    ballistics: Ballistics,
    detectors: Vec<TruePeakDetector>,
    /// Near-Nyquist envelope per channel, aligned with the middle detector span.
    nyquist: Vec<NearNyquistEnvelope>,
    meter_detectors: Vec<TruePeakDetector>,
    /// The last three detector spans per channel.
    spans: Box<[[f32; PEAK_SPANS]]>,
    /// Per-frame scratch: wanted gain per channel.
    wanted: Box<[f64]>,
    holds: Vec<MinHold>,
    envelopes: Box<[Envelope]>,
    box1: Vec<MovingAverage>,
    box2: Vec<MovingAverage>,
    /// Gain applied on the last frame, per channel.
    gains: Box<[f64]>,
    delay: Box<[f32]>,
    delay_len: usize,
    delay_pos: usize,
    /// Linear ceiling per frame, delayed like the wanted gains, for the final clamp.
    ceilings: Box<[f32]>,
    ceiling_pos: usize,
    frame: u64,
    output_peak: f32,
}

impl LimiterProcessor {
    fn update_ballistics(&mut self) {
        self.ballistics =
            Ballistics::new(self.sample_rate_hz, 0.0, self.release_ms, self.auto_release);
    }
}

/// The largest f32 not above `x`, so a clamp at it never lets a value exceed `x`.
fn f32_at_or_below(x: f64) -> f32 {
    let f = x as f32;
    if f as f64 > x { f.next_down() } else { f }
}

impl Processor for LimiterProcessor {
    fn set_param(&mut self, id: ParamId, value: f32) {
        match id.0 {
            param::CEILING => self.ceiling_db.set_target(value),
            param::RELEASE => {
                self.release_ms = value as f64;
                self.update_ballistics();
            }
            param::AUTO_RELEASE => {
                self.auto_release = value >= 0.5;
                self.update_ballistics();
            }
            param::LINK => self.link.set_target(value),
            param::INPUT_GAIN => self.input_gain_db.set_target(value),
            _ => {}
        }
    }

    fn reset(&mut self) {
        self.ceiling_db.snap();
        self.input_gain_db.snap();
        self.link.snap();
        for d in self
            .detectors
            .iter_mut()
            .chain(self.meter_detectors.iter_mut())
        {
            d.reset();
        }
        for e in &mut self.nyquist {
            e.reset();
        }
        self.spans.fill([0.0; PEAK_SPANS]);
        self.wanted.fill(1.0);
        for h in &mut self.holds {
            h.clear();
        }
        self.envelopes.fill(Envelope::default());
        for b in self.box1.iter_mut().chain(self.box2.iter_mut()) {
            b.fill_unity();
        }
        self.gains.fill(1.0);
        self.delay.fill(0.0);
        self.delay_pos = 0;
        let ceiling = f32_at_or_below(lathe_engine::db_to_gain_f64(self.ceiling_db.value() as f64));
        self.ceilings.fill(ceiling);
        self.ceiling_pos = 0;
        self.frame = 0;
        self.output_peak = 0.0;
    }

    fn process(&mut self, io: &mut Io<'_>) {
        let n = self.channels;
        let len = self.delay_len;
        for i in 0..io.frames {
            let ceiling_db = self.ceiling_db.next() as f64;
            let ceiling = lathe_engine::db_to_gain_f64(ceiling_db);
            let drive = db_to_gain(self.input_gain_db.next());
            let link = self.link.next() as f64 * 0.01;
            let pos = self.delay_pos;

            // Wanted gain per channel from the true peak around the aligned sample.
            let mut wanted_min = 1.0f64;
            for c in 0..n {
                let x = io
                    .inputs
                    .get(c)
                    .and_then(|ch| ch.get(i))
                    .copied()
                    .unwrap_or(0.0)
                    * drive;
                let x = if x.is_finite() { x } else { 0.0 };
                self.delay[c * len + pos] = x;
                let span = self.detectors[c].process_frame(x);
                let spans = &mut self.spans[c];
                spans.rotate_left(1);
                spans[PEAK_SPANS - 1] = span;
                let near_nyquist = self.nyquist[c].process_frame(x);
                let peak = (spans.iter().fold(0.0f32, |m, &s| m.max(s))
                    + NYQUIST_MARGIN * near_nyquist) as f64;
                let wanted = if peak > ceiling { ceiling / peak } else { 1.0 };
                self.wanted[c] = wanted;
                wanted_min = wanted_min.min(wanted);
            }

            // Clamp ceiling of the sample leaving now: the one its own wanted gain used,
            // R + G - 1 frames ago.
            let clamp = self.ceilings[self.ceiling_pos];
            self.ceilings[self.ceiling_pos] = f32_at_or_below(ceiling);
            self.ceiling_pos += 1;
            if self.ceiling_pos == self.ceilings.len() {
                self.ceiling_pos = 0;
            }

            let read = if pos + 1 == len { 0 } else { pos + 1 };
            let mut outs = io.outputs.iter_mut();
            for c in 0..n {
                let own = self.wanted[c];
                // Geometric blend toward the linked gain; never above the channel's own.
                let wanted = if link >= 1.0 {
                    wanted_min
                } else if link <= 0.0 || own <= wanted_min {
                    own
                } else {
                    (own * (wanted_min / own).powf(link)).min(own)
                };
                let held = self.holds[c].push(self.frame, wanted);
                let env_gain = if held >= 1.0 && self.envelopes[c] == Envelope::default() {
                    1.0
                } else {
                    let target_db = -20.0 * held.max(1e-12).log10();
                    let env_db = self.ballistics.step(&mut self.envelopes[c], target_db);
                    lathe_engine::db_to_gain_f64(-env_db).min(held)
                };
                let fixed = (env_gain.clamp(0.0, 1.0) * GAIN_SCALE) as u64;
                let smooth = self.box2[c].push(self.box1[c].push(fixed));
                let gain = smooth as f64 / GAIN_SCALE;
                self.gains[c] = gain;

                let dry = self.delay[c * len + read];
                let y = ((dry as f64 * gain) as f32).clamp(-clamp, clamp);
                self.output_peak = self
                    .output_peak
                    .max(self.meter_detectors[c].process_frame(y));
                if let Some(out) = outs.next().and_then(|o| o.get_mut(i)) {
                    *out = y;
                }
            }
            self.delay_pos = read;
            self.frame += 1;
        }
        let min_gain = self.gains.iter().fold(1.0f64, |m, &g| m.min(g));
        io.set_meter(0, (-20.0 * min_gain.max(1e-12).log10()) as f32);
        io.set_meter(1, lathe_engine::gain_to_db(self.output_peak));
    }
}
