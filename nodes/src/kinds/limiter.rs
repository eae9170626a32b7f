//! `limiter`: a lookahead brickwall limiter with true-peak detection.
//!
//! - Ports: in `in` (N channels), out `out` (N channels).
//! - Config: `(channels: 2, lookahead_ms: 5.0, oversampling: 4)`. `lookahead_ms`
//!   (3 ..= 50) is the node's latency; `oversampling` (4, 8 or 16) is the factor of the
//!   true-peak detector.
//! - Params: `ceiling_dbtp`, `release_ms`, `auto_release` (program-dependent release as
//!   in `compressor`), `link_pct`, `input_gain_db`; declared in [`LimiterParam`], ranges
//!   and defaults in `lathe nodes limiter`.
//! - Meters: `gain_reduction_db`: reduction of the most reduced channel at the end of each
//!   block, as a POSITIVE number of dB (0 = none). `true_peak_dbtp`: the highest true peak
//!   of the output since the last reset, as lathe's BS.1770 meter measures it (4x
//!   oversampled below 96 kHz, 2x above), dBTP.
//! - Latency: `lookahead_ms` in frames (at least 46 frames: the detector's 36 and the
//!   guard). Allocates only at build (buffers for the engine's largest block).
//!
//! Guarantee: the output sample peak never exceeds `ceiling_dbtp`; the output true peak
//! stays within 0.1 dB of it on full-band material (noise, pushed mixes, squares, sweeps
//! to 0.49 fs), measured both by a 16x windowed-sinc interpolator flat to 0.49 fs and by
//! lathe's BS.1770 meter. Signals that never reach the ceiling come out as an exact delay.
//!
//! How the guarantee is built (all per channel, gains in linear units):
//! 1. The true-peak detector (`oversample::OversamplingFilter::DETECTOR`, flat to 0.47 fs)
//!    gives, per frame, the peak magnitude of the oversampled input over that frame's
//!    span; the largest of three consecutive spans covers the interval `[t - 1, t + 2]`
//!    around sample `t`, so it bounds every inter-sample value that sample `t` takes part
//!    in, for content up to 0.47 fs.
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
//!
//! What it costs, and why it is cheap where nothing needs limiting:
//! - The detector (a 4x or larger polyphase interpolator) runs only where it could find
//!   something. Per 16-frame granule of the driven input, the sample peak `M0` and the
//!   peak second difference `M2` are kept ([`crate::dsp::fir_bound`]); `a M0 + b M2` (with `a`,
//!   `b` from the detector's and the near-Nyquist filter's taps) is a proven upper bound
//!   of what they could read. Where it is at or under the ceiling, the wanted gain is 1
//!   without running them: exactly what they would have given, tested bit for bit.
//! - Fully linked, every channel wants the same gain each frame, so while the channels'
//!   gain paths are in step one path (hold, release, averages) serves all of them.
//! - At rest (unity wanted, everything settled) the gain path is not stepped; elsewhere it
//!   runs in passes over the block, so the serial recursions are short loops of their own
//!   and the conversions between them vectorise. The running minimum is a block-wise
//!   (van Herk) minimum: two minima per frame, no data-dependent branch.
//! - The whole block is compiled twice, for the x86-64 baseline and for AVX2, and the CPU
//!   picks ([`crate::dsp::cpu`]); both give the same bits.

use lathe_engine::{
    BuildContext, BuiltNode, ConfigError, Io, LinearSmoother, MeterSpec, NodeConfig, NodeKind,
    NodeSpec, ParamDecl, ParamId, ParamTable, Processor, Unit, params,
};
use serde::Deserialize;

use crate::bus::{DEFAULT_CHANNELS, check_channels};
use crate::dsp::ballistics::{Ballistics, Envelope};
use crate::dsp::bs1770::true_peak::TruePeak;
use crate::dsp::cpu::Isa;
use crate::dsp::fastmath;
use crate::dsp::fir_bound::{FirBound, GRANULE_FRAMES, InputPeaks};
use crate::dsp::near_nyquist::NearNyquistEnvelope;
use crate::dsp::oversample::{OversamplingFilter, valid_factor};
use crate::dsp::peak_detector::TruePeakDetector;

/// Default lookahead (and latency), in ms.
pub const DEFAULT_LOOKAHEAD_MS: f64 = 5.0;
/// Lookahead range, in ms.
pub const LOOKAHEAD_RANGE_MS: (f64, f64) = (3.0, 50.0);
/// Default true-peak detector oversampling.
pub const DEFAULT_OVERSAMPLING: usize = 4;
/// Fixed-point scale of the gain averages: 2^48.
const GAIN_SCALE: f64 = (1u64 << 48) as f64;
/// Unity gain in the averages' fixed point.
const UNITY: u64 = 1 << 48;
/// Longest gain average, so its sum fits in 63 bits and [`ExactDivisor`] stays exact.
const MAX_AVERAGE_FRAMES: usize = (1 << 15) - 1;
/// Reduction (log2 units) below which a releasing envelope with nothing to reduce is
/// set to rest: about 6e-9 dB, so it stops costing work instead of decaying for seconds.
const ENVELOPE_REST: f64 = 1e-9;
/// Frames on each side of a sample over which its wanted gain is also enforced, so the
/// gain is flat around every peak and its changes (which add sidebands to the signal)
/// happen away from the peaks.
const GUARD_FRAMES: usize = 8;
/// Consecutive detector spans whose maximum bounds one sample's neighbourhood.
const PEAK_SPANS: usize = 3;
/// Share of the near-Nyquist envelope added to the detector's reading: what the
/// detector's interpolator misses of content it cannot resolve.
const NYQUIST_MARGIN: f32 = 0.5;
/// Frames per decision whether the detector must run: a stretch whose input bound (see
/// [`crate::dsp::fir_bound`]) stays under the ceiling has nothing to limit and is not
/// interpolated.
const DECISION_FRAMES: usize = 32;

const DOC: &str = "\
limiter: lookahead brickwall limiter with true-peak detection.
Ports: in `in` (N), out `out` (N).
Config: (channels: 2, lookahead_ms: 5.0, oversampling: 4)
  lookahead_ms 3..=50 = latency; oversampling 4|8|16 (true-peak detector).
Meters: gain_reduction_db (positive dB of reduction, most reduced channel),
  true_peak_dbtp (highest output true peak since reset, BS.1770 meter).
Guarantee: output sample peak <= ceiling; output true peak <= ceiling + 0.1 dB
  (content near Nyquist included: half its envelope is added to the detector's reading).
Latency: lookahead_ms (at least 46 frames). Allocates at build only.";

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

params! {
    /// The params of `limiter`.
    pub enum LimiterParam {
        CeilingDbtp = ParamDecl::new("ceiling_dbtp", Unit::Dbtp, -24.0, 0.0, -1.0)
            .doc("Highest output level, true peak."),
        ReleaseMs = ParamDecl::new("release_ms", Unit::Ms, 1.0, 2000.0, 50.0)
            .smoothing_ms(0.0)
            .doc("Time constant of the gain recovery (63.2 % of a step, in dB)."),
        AutoRelease = ParamDecl::toggle("auto_release", false)
            .smoothing_ms(0.0)
            .doc(
                "Program-dependent release: fast after short peaks, slow after sustained \
                 reduction.",
            ),
        LinkPct = ParamDecl::new("link_pct", Unit::Percent, 0.0, 100.0, 100.0)
            .doc("Channel link: 100 = one gain for all channels, 0 = independent."),
        InputGainDb = ParamDecl::new("input_gain_db", Unit::Db, -24.0, 24.0, 0.0)
            .doc("Gain before limiting (drive)."),
    }
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
        let (processor, spec) = build_limiter(config, ctx)?;
        Ok(BuiltNode {
            spec,
            processor: Box::new(processor),
        })
    }
}

/// The limiter's processor and spec for `config`.
fn build_limiter(
    config: &NodeConfig<'_>,
    ctx: &BuildContext<'_>,
) -> Result<(LimiterProcessor, NodeSpec), ConfigError> {
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
    let detector = TruePeakDetector::new(
        cfg.oversampling,
        OversamplingFilter::DETECTOR,
        ctx.prepare.max_block_frames,
    );
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
    if box1 > MAX_AVERAGE_FRAMES {
        return Err(ConfigError::invalid(
            "lookahead_ms",
            format!(
                "must give at most {} frames at {sr} Hz, found {latency}",
                2 * MAX_AVERAGE_FRAMES + k + GUARD_FRAMES
            ),
        ));
    }
    let n = cfg.channels;
    let block = ctx.prepare.max_block_frames.max(1);
    // The envelope is aligned with the middle of the three spans: one frame more.
    let nyquist = NearNyquistEnvelope::new(k + 1, block);
    // A frame's wanted gain reads the spans of it and the two frames before it.
    let reach = (detector.reach_frames() + PEAK_SPANS - 1).max(nyquist.reach_frames());
    let history = detector.history_frames();
    let bound = detector
        .bound()
        .plus(nyquist.bound().scaled(f64::from(NYQUIST_MARGIN)));
    let channel = Channel {
        nyquist,
        detector,
        hold: MinHold::new(hold),
        envelope: Envelope::default(),
        box1: MovingAverage::new(box1),
        box2: MovingAverage::new(box2),
        gain: 1.0,
        dry: vec![0.0; latency + block].into_boxed_slice(),
    };
    let mut processor = LimiterProcessor {
        channels: (0..n).map(|_| channel.clone()).collect(),
        sample_rate_hz: sr,
        ceiling_db: LimiterParam::CeilingDbtp.smoother(sr),
        input_gain_db: LimiterParam::InputGainDb.smoother(sr),
        link: LimiterParam::LinkPct.smoother(sr),
        release_ms: LimiterParam::ReleaseMs.default_value() as f64,
        auto_release: LimiterParam::AutoRelease.default_value() >= 0.5,
        ballistics: Ballistics::new(sr, 0.0, 0.0, false),
        latency,
        block_frames: block,
        frames: FrameScratch::new(block),
        wanted: vec![1.0; n * block].into_boxed_slice(),
        spans: vec![0.0; block + PEAK_SPANS - 1].into_boxed_slice(),
        blended: vec![0.0; block].into_boxed_slice(),
        gains: vec![0.0; block].into_boxed_slice(),
        gain_scratch: GainScratch::new(block),
        isa: Isa::detect(),
        in_step: true,
        sharing: true,
        near_nyquist: vec![0.0; block].into_boxed_slice(),
        granules: vec![InputPeaks::default(); (history + block).div_ceil(GRANULE_FRAMES)]
            .into_boxed_slice(),
        // The bound needs every frame the wanted gain reads inside the detector's
        // input; were it not, every stretch would simply be computed.
        bound: (reach <= history + 1).then_some(bound),
        reach,
        detected_frames: 0,
        out: vec![0.0; block].into_boxed_slice(),
        ceilings: vec![0.0; ramp + GUARD_FRAMES - 1].into_boxed_slice(),
        ceiling_pos: 0,
        uniform_ceilings: 0,
        ceiling_cache: DbCache::default(),
        drive_cache: DbCache::default(),
        frame: 0,
        meter: TruePeak::new(n, sr),
    };
    processor.update_ballistics();
    processor.reset();
    let spec = NodeSpec::in_out(n)
        .with_params(LimiterParam::specs())
        .with_meters(vec![
            MeterSpec::new(
                "gain_reduction_db",
                Unit::Db,
                "Gain reduction of the most reduced channel, positive dB (0 = none).",
            ),
            MeterSpec::new(
                "true_peak_dbtp",
                Unit::Dbtp,
                "Highest true peak of the output since reset (BS.1770 meter).",
            ),
        ])
        .with_latency(latency);
    Ok((processor, spec))
}

/// Running minimum over the last `len` frames of a stream pushed frame after frame (van
/// Herk / Gil-Werman). The stream is cut into blocks of `len` frames; the window ending at
/// offset `o` of a block is that block's prefix up to `o` and the previous block's suffix
/// from `o + 1`. So each frame costs two minima and each block one backward pass, with no
/// data-dependent branch (a monotonic queue pops a data-dependent number of entries per
/// frame). Minima are exact, so the result is the window's minimum to the bit.
#[derive(Clone)]
struct MinHold {
    /// The current block's values, offsets `..offset`.
    values: Box<[f64]>,
    /// The previous block's suffix minima: `suffix[j]` is the minimum of its offsets
    /// `j..len`; `suffix[len]` is infinite (the window ending a block is the block).
    suffix: Box<[f64]>,
    /// Minimum of the current block so far.
    prefix: f64,
    /// Offset in the current block of the next frame.
    offset: usize,
    /// Every held value and suffix is 1.0 (the state [`Self::rest_at`] makes), so the
    /// next rest needs no filling.
    ones: bool,
    /// The window's minimum at the last frame.
    last: f64,
}

impl MinHold {
    fn new(len: usize) -> Self {
        let len = len.max(1);
        let mut hold = Self {
            values: vec![f64::INFINITY; len].into_boxed_slice(),
            suffix: vec![f64::INFINITY; len + 1].into_boxed_slice(),
            prefix: f64::INFINITY,
            offset: 0,
            ones: false,
            last: f64::INFINITY,
        };
        hold.clear();
        hold
    }

    /// Pushes the values `w` of the next frames and writes the minimum of the window
    /// ending at each into `held` (the same length).
    #[inline]
    fn run(&mut self, w: &[f64], held: &mut [f64]) {
        let len = self.values.len();
        let mut done = 0;
        while done < w.len() {
            let o = self.offset;
            let n = (w.len() - done).min(len - o);
            let mut prefix = if o == 0 { f64::INFINITY } else { self.prefix };
            let values = &mut self.values[o..o + n];
            let suffix = &self.suffix[o + 1..o + n + 1];
            let (src, dst) = (&w[done..done + n], &mut held[done..done + n]);
            for (((h, &v), slot), &tail) in dst.iter_mut().zip(src).zip(values).zip(suffix) {
                prefix = smaller(prefix, v);
                *slot = v;
                *h = smaller(tail, prefix);
            }
            self.prefix = prefix;
            self.offset = o + n;
            if self.offset == len {
                // The block is complete: its suffix minima serve the next block.
                let mut tail = f64::INFINITY;
                for (s, &v) in self.suffix[..len].iter_mut().zip(self.values.iter()).rev() {
                    tail = smaller(v, tail);
                    *s = tail;
                }
                self.offset = 0;
            }
            done += n;
        }
        if let Some(&last) = held[..w.len()].last() {
            self.last = last;
            self.ones = false;
        }
    }

    fn clear(&mut self) {
        self.values.fill(f64::INFINITY);
        self.suffix.fill(f64::INFINITY);
        self.prefix = f64::INFINITY;
        self.offset = 0;
        self.ones = false;
        self.last = f64::INFINITY;
    }

    fn copy_from(&mut self, other: &MinHold) {
        self.values.copy_from_slice(&other.values);
        self.suffix.copy_from_slice(&other.suffix);
        self.prefix = other.prefix;
        self.offset = other.offset;
        self.ones = other.ones;
        self.last = other.last;
    }

    /// Every value in the window is unity (or nothing was pushed yet).
    #[inline]
    fn at_rest(&self) -> bool {
        self.last >= 1.0
    }

    /// The state after pushing unity at rest up to and including absolute `frame` (the
    /// blocks are cut at multiples of `len` from frame 0): every value in the window 1.
    fn rest_at(&mut self, frame: u64) {
        let len = self.values.len();
        if !self.ones {
            self.values.fill(1.0);
            self.suffix[..len].fill(1.0);
            self.ones = true;
        }
        self.prefix = 1.0;
        self.offset = ((frame + 1) % len as u64) as usize;
        self.last = 1.0;
    }
}

/// The smaller of two values that are not NaN, as one `minsd` (`f64::min` also sorts
/// out NaN, which costs a compare and a blend per value on x86).
#[inline(always)]
fn smaller(a: f64, b: f64) -> f64 {
    if a < b { a } else { b }
}

/// Floor division by a fixed `d` (1 ..= [`MAX_AVERAGE_FRAMES`]) of any `n <= d * 2^48`,
/// by a multiply and a shift: `floor(n * m / 2^s)` with `s = 48 + 2 b` (`d < 2^b`) and
/// `m = ceil(2^s / d)`. Exact: with `n = q d + r` and `e = m d - 2^s` (`0 <= e < d`),
/// `n m / 2^s = q + r / d + n e / (d 2^s)`, and `n e < 2^(48 + b) 2^b = 2^s` keeps the
/// sum of the last two terms below `(r + 1) / d <= 1`. The product stays under
/// `2^(97 + 2 b) <= 2^127`.
#[derive(Clone, Copy)]
struct ExactDivisor {
    magic: u128,
    shift: u32,
}

impl ExactDivisor {
    fn new(d: usize) -> Self {
        let d = d.clamp(1, MAX_AVERAGE_FRAMES) as u128;
        let bits = 128 - d.leading_zeros();
        let shift = 48 + 2 * bits;
        Self {
            magic: (1u128 << shift).div_ceil(d),
            shift,
        }
    }

    #[inline]
    fn divide(&self, n: u64) -> u64 {
        ((n as u128 * self.magic) >> self.shift) as u64
    }
}

/// Exact moving average on fixed-point gains (rounded down).
#[derive(Clone)]
struct MovingAverage {
    ring: Box<[u64]>,
    pos: usize,
    sum: u64,
    divisor: ExactDivisor,
    /// Unity values pushed in a row; from `ring.len()` on, the ring holds only unity and
    /// further unity pushes change nothing, so they are skipped.
    unity_run: usize,
}

impl MovingAverage {
    fn new(len: usize) -> Self {
        let len = len.clamp(1, MAX_AVERAGE_FRAMES);
        Self {
            ring: vec![0; len].into_boxed_slice(),
            pos: 0,
            sum: 0,
            divisor: ExactDivisor::new(len),
            unity_run: 0,
        }
    }

    #[inline]
    fn push(&mut self, value: u64) -> u64 {
        let len = self.ring.len();
        if value == UNITY && self.unity_run >= len {
            return UNITY;
        }
        self.unity_run = if value == UNITY {
            self.unity_run + 1
        } else {
            0
        };
        let old = std::mem::replace(&mut self.ring[self.pos], value);
        self.sum = self.sum - old + value;
        self.pos = if self.pos + 1 == len { 0 } else { self.pos + 1 };
        self.divisor.divide(self.sum)
    }

    fn copy_from(&mut self, other: &MovingAverage) {
        self.ring.copy_from_slice(&other.ring);
        self.pos = other.pos;
        self.sum = other.sum;
        self.unity_run = other.unity_run;
    }

    /// Full of unity: a unity push changes nothing.
    #[inline]
    fn at_rest(&self) -> bool {
        self.unity_run >= self.ring.len()
    }

    /// Fills with unity gain, as if the input had been silent forever.
    fn fill_unity(&mut self) {
        self.ring.fill(UNITY);
        self.sum = UNITY * self.ring.len() as u64;
        self.pos = 0;
        self.unity_run = self.ring.len();
    }
}

/// A dB value and its linear gain, recomputed only when the value changes.
#[derive(Clone, Copy, Default)]
struct DbCache {
    db: Option<f32>,
    gain: f64,
}

impl DbCache {
    #[inline]
    fn gain(&mut self, db: f32) -> f64 {
        if self.db != Some(db) {
            self.db = Some(db);
            self.gain = lathe_engine::db_to_gain_f64(db as f64);
        }
        self.gain
    }
}

/// Detection and gain state of one channel.
#[derive(Clone)]
struct Channel {
    detector: TruePeakDetector,
    /// Near-Nyquist envelope, aligned with the middle detector span.
    nyquist: NearNyquistEnvelope,
    hold: MinHold,
    envelope: Envelope,
    box1: MovingAverage,
    box2: MovingAverage,
    /// Gain applied on the last frame.
    gain: f64,
    /// The last `latency` driven input frames, then the block being processed.
    dry: Box<[f32]>,
}

impl Channel {
    /// The gain path holds nothing back: the hold window is all unity, the release
    /// envelope is at rest and both averages are full of unity.
    #[inline]
    fn at_rest(&self) -> bool {
        self.hold.at_rest()
            && self.envelope == Envelope::default()
            && self.box1.at_rest()
            && self.box2.at_rest()
    }

    /// The gain path over frames `frame0 ..` for the wanted gains `w`, into `gains`
    /// (the gain to apply to each frame's delayed sample). Runs of unity wanted gain at
    /// rest pass unity without stepping the path, which would give the same. The rest
    /// runs in passes over the frames (hold; release targets; release; gains; averages),
    /// so the serial recursions are short loops of their own and the log and exp
    /// between them vectorise.
    #[inline(always)]
    fn gains(
        &mut self,
        frame0: u64,
        w: &[f64],
        ballistics: &Ballistics,
        scratch: &mut GainScratch,
        gains: &mut [f64],
    ) {
        let mut i = 0;
        while i < w.len() && w[i] >= 1.0 && self.at_rest() {
            let run = w[i..].iter().take_while(|&&w| w >= 1.0).count();
            gains[i..i + run].fill(1.0);
            self.hold.rest_at(frame0 + (i + run - 1) as u64);
            self.gain = 1.0;
            i += run;
        }
        let n = w.len() - i;
        if n == 0 {
            return;
        }
        let (w, gains) = (&w[i..], &mut gains[i..]);
        let held = &mut scratch.held[..n];
        self.hold.run(w, held);
        // Reduction in log2 units: release is a linear recursion, so its time constant
        // is the same in any log unit.
        let env = &mut scratch.envelope[..n];
        for (e, &h) in env.iter_mut().zip(held.iter()) {
            *e = (-fastmath::log2(h.max(1e-12))).max(0.0);
        }
        // The release, in place of its targets; negative marks a frame with nothing to
        // hold back (unity gain).
        //
        // Unflushed steps: a releasing envelope is set to rest below `ENVELOPE_REST`, and
        // one holding something back has a target of at least 1.6e-16 (the reduction of
        // the largest gain under 1), so its state never comes near the subnormals (the
        // flush here is for safety and changes nothing). `resting` mirrors `envelope ==
        // default`: only the reset below reaches the default state.
        self.envelope.flush();
        let mut resting = self.envelope == Envelope::default();
        for (e, &h) in env.iter_mut().zip(held.iter()) {
            if h >= 1.0 && resting {
                *e = -1.0;
                continue;
            }
            let reduction = ballistics.step_unflushed(&mut self.envelope, *e);
            resting = h >= 1.0 && reduction < ENVELOPE_REST;
            *e = if resting {
                self.envelope = Envelope::default();
                -1.0
            } else {
                reduction
            };
        }
        // The gain each frame wants after release, scaled for the averages (still f64,
        // so this loop vectorises; the conversion to integers is in the next).
        for (e, &h) in env.iter_mut().zip(held.iter()) {
            // Computed for every frame and selected, so nothing branches.
            let released = fastmath::exp2(-e.max(0.0)).min(h);
            let gain = if *e < 0.0 { 1.0 } else { released };
            *e = gain.clamp(0.0, 1.0) * GAIN_SCALE;
        }
        for (g, &scaled) in gains.iter_mut().zip(env.iter()) {
            let smooth = self.box2.push(self.box1.push(scaled as u64));
            // Through i64 (exact: `smooth` is at most 2^48), which converts in one
            // instruction where u64 does not.
            *g = if smooth == UNITY {
                1.0
            } else {
                smooth as i64 as f64 / GAIN_SCALE
            };
        }
        self.gain = gains[n - 1];
    }

    /// Copies the state of `other`'s gain path (hold, release, averages) into this
    /// channel's, without allocating (the buffers have the same sizes).
    fn take_gain_path(&mut self, other: &Channel) {
        self.hold.copy_from(&other.hold);
        self.envelope = other.envelope;
        self.box1.copy_from(&other.box1);
        self.box2.copy_from(&other.box2);
        self.gain = other.gain;
    }
}

/// Per-frame scratch of [`Channel::gains`], for one block.
struct GainScratch {
    held: Box<[f64]>,
    /// Release targets, then the release itself, then the gains it allows, scaled to
    /// the averages' fixed point.
    envelope: Box<[f64]>,
}

impl GainScratch {
    fn new(frames: usize) -> Self {
        Self {
            held: zeros(frames),
            envelope: zeros(frames),
        }
    }
}

/// A scratch buffer of `frames` zeros (allocated at build only).
fn zeros<T: Copy + Default>(frames: usize) -> Box<[T]> {
    vec![T::default(); frames].into_boxed_slice()
}

/// Per-frame values shared by all channels, for one block.
struct FrameScratch {
    drive: Box<[f32]>,
    ceiling: Box<[f64]>,
    /// Clamp level of the sample leaving on each frame.
    clamp: Box<[f32]>,
    link: Box<[f64]>,
    /// Smallest wanted gain over the channels.
    wanted_min: Box<[f64]>,
}

impl FrameScratch {
    fn new(frames: usize) -> Self {
        Self {
            drive: zeros(frames),
            ceiling: zeros(frames),
            clamp: zeros(frames),
            link: zeros(frames),
            wanted_min: zeros(frames),
        }
    }
}

pub struct LimiterProcessor {
    channels: Vec<Channel>,
    sample_rate_hz: f64,
    ceiling_db: LinearSmoother,
    input_gain_db: LinearSmoother,
    link: LinearSmoother,
    release_ms: f64,
    auto_release: bool,
    ballistics: Ballistics,
    latency: usize,
    /// Largest block processed in one pass; the scratch below holds that many frames.
    block_frames: usize,
    frames: FrameScratch,
    /// Wanted gain per channel and frame, channel after channel.
    wanted: Box<[f64]>,
    /// Detector spans of one run of frames and the two frames before it.
    spans: Box<[f32]>,
    /// Per frame of a block: the blended wanted gain of one channel, and the gain
    /// applied to one channel (or to all, in step).
    blended: Box<[f64]>,
    gains: Box<[f64]>,
    gain_scratch: GainScratch,
    /// Instruction set the blocks run on: [`Isa::Avx2`] runs their AVX2 copy (see
    /// [`crate::dsp::cpu`]).
    isa: Isa,
    /// Every channel's gain path is in the state of channel 0's, and only channel 0's
    /// is stepped (fully linked).
    in_step: bool,
    /// Whether channels may share one gain path while in step (always, but for tests
    /// that check sharing changes nothing).
    sharing: bool,
    near_nyquist: Box<[f32]>,
    /// Sample and curvature peaks of the detector's input, per granule.
    granules: Box<[InputPeaks]>,
    /// Bound of the peak reading from the input (None: always compute).
    bound: Option<FirBound>,
    /// Input frames a frame's peak reading depends on, the frame included.
    reach: usize,
    /// Channel frames run through the detector since construction (the rest were
    /// settled by the bound).
    detected_frames: u64,
    out: Box<[f32]>,
    /// Linear ceiling per frame, delayed like the wanted gains, for the final clamp.
    ceilings: Box<[f32]>,
    ceiling_pos: usize,
    /// Frames in a row that wrote into `ceilings` the value written before them and the
    /// value they replaced: from its length on, every entry is the same.
    uniform_ceilings: usize,
    ceiling_cache: DbCache,
    drive_cache: DbCache,
    frame: u64,
    /// Output true peak, as lathe's BS.1770 meter measures it.
    meter: TruePeak,
}

impl LimiterProcessor {
    fn update_ballistics(&mut self) {
        self.ballistics =
            Ballistics::new(self.sample_rate_hz, 0.0, self.release_ms, self.auto_release);
    }

    /// The per-frame params of frames `0..n` of a block, and the clamp level of the
    /// samples leaving on them.
    #[inline(always)]
    fn advance_params(&mut self, n: usize) {
        let f = &mut self.frames;
        let steady = !(self.ceiling_db.is_smoothing()
            || self.input_gain_db.is_smoothing()
            || self.link.is_smoothing());
        if steady && self.uniform_ceilings >= self.ceilings.len() {
            // Every delayed ceiling is the current one: nothing moves in this block.
            let ceiling = self.ceiling_cache.gain(self.ceiling_db.value());
            f.ceiling[..n].fill(ceiling);
            f.drive[..n].fill(self.drive_cache.gain(self.input_gain_db.value()) as f32);
            f.link[..n].fill(self.link.value() as f64 * 0.01);
            f.clamp[..n].fill(f32_at_or_below(ceiling));
            return;
        }
        for i in 0..n {
            let ceiling = self.ceiling_cache.gain(self.ceiling_db.next());
            f.ceiling[i] = ceiling;
            f.drive[i] = self.drive_cache.gain(self.input_gain_db.next()) as f32;
            f.link[i] = self.link.next() as f64 * 0.01;
            // Clamp ceiling of the sample leaving now: the one its own wanted gain used,
            // R + G - 1 frames ago.
            let len = self.ceilings.len();
            let previous = self.ceilings[(self.ceiling_pos + len - 1) % len];
            let slot = &mut self.ceilings[self.ceiling_pos];
            let clamp = f32_at_or_below(ceiling);
            self.uniform_ceilings = if clamp == *slot && clamp == previous {
                self.uniform_ceilings + 1
            } else {
                0
            };
            f.clamp[i] = std::mem::replace(slot, clamp);
            self.ceiling_pos += 1;
            if self.ceiling_pos == self.ceilings.len() {
                self.ceiling_pos = 0;
            }
        }
    }

    /// Drives frames `start..start + n` of the input into each channel's delay line and
    /// writes each channel's wanted gain from the true peak around the aligned sample.
    /// Stretches whose input bound stays under the ceiling want unity gain without
    /// running the detector: exactly what it would have found.
    #[inline(always)]
    fn detect(&mut self, io: &Io<'_>, start: usize, n: usize) {
        let block = self.block_frames;
        let f = &mut self.frames;
        f.wanted_min[..n].fill(1.0);
        for (c, ch) in self.channels.iter_mut().enumerate() {
            let x = &mut ch.dry[self.latency..self.latency + n];
            match io.inputs.get(c).and_then(|i| i.get(start..start + n)) {
                Some(input) => {
                    for ((x, &v), &drive) in x.iter_mut().zip(input).zip(&f.drive[..n]) {
                        let v = v * drive;
                        *x = if v.is_finite() { v } else { 0.0 };
                    }
                }
                None => x.fill(0.0),
            }
            ch.detector.load(x);
            ch.nyquist.load(x);
            let history = ch.detector.history_frames();
            InputPeaks::granules(self.isa, ch.detector.input(), &mut self.granules);
            let needed = |from: usize| -> bool {
                let to = (from + DECISION_FRAMES).min(n);
                let Some(bound) = self.bound else {
                    return true;
                };
                let reads = history + from + 1 - self.reach..history + to;
                let lowest = f.ceiling[from..to].iter().fold(f64::MAX, |m, &c| m.min(c));
                bound.at(InputPeaks::over(&self.granules, reads)) > lowest
            };
            let wanted = &mut self.wanted[c * block..c * block + n];
            wanted.fill(1.0);
            let mut first = 0;
            while first < n {
                if !needed(first) {
                    first += DECISION_FRAMES;
                    continue;
                }
                let mut end = (first + DECISION_FRAMES).min(n);
                while end < n && needed(end) {
                    end = (end + DECISION_FRAMES).min(n);
                }
                let len = end - first;
                self.detected_frames += len as u64;
                let spans = &mut self.spans[..len + PEAK_SPANS - 1];
                let near = &mut self.near_nyquist[..len];
                ch.detector
                    .spans(first as isize - (PEAK_SPANS as isize - 1), spans);
                ch.nyquist.envelope(first, near);
                for (i, (w, s)) in wanted[first..end]
                    .iter_mut()
                    .zip(spans.windows(3))
                    .enumerate()
                {
                    let peak = (s[0].max(s[1]).max(s[2]) + NYQUIST_MARGIN * near[i]) as f64;
                    let ceiling = f.ceiling[first + i];
                    *w = if peak > ceiling { ceiling / peak } else { 1.0 };
                }
                first = end;
            }
            for (m, &w) in f.wanted_min[..n].iter_mut().zip(wanted.iter()) {
                *m = m.min(w);
            }
            ch.detector.finish();
            ch.nyquist.finish();
        }
    }

    /// Turns the wanted gains of frames `start..start + n` into applied gains and writes
    /// the delayed, limited output. Fully linked, every channel wants the same gain each
    /// frame, so while the channels' gain paths are in step (always, from a reset, until
    /// the link drops below 100 %) one path computes the gain of all.
    #[inline(always)]
    fn apply(&mut self, io: &mut Io<'_>, start: usize, n: usize) {
        let block = self.block_frames;
        let f = &self.frames;
        let linked = f.link[..n].iter().all(|&l| l >= 1.0);
        let frame = self.frame;
        if linked && self.in_step {
            if let Some((first, others)) = self.channels.split_first_mut() {
                first.gains(
                    frame,
                    &f.wanted_min[..n],
                    &self.ballistics,
                    &mut self.gain_scratch,
                    &mut self.gains[..n],
                );
                for other in others {
                    other.gain = first.gain;
                }
            }
        } else if self.in_step {
            // Leaving step: the other channels take up channel 0's path from here.
            if let Some((first, others)) = self.channels.split_first_mut() {
                for other in others {
                    other.take_gain_path(first);
                }
            }
            self.in_step = false;
        }
        let mut outs = io.outputs.iter_mut();
        for (c, ch) in self.channels.iter_mut().enumerate() {
            if !self.in_step {
                let wanted = &self.wanted[c * block..c * block + n];
                let w = &mut self.blended[..n];
                for (((w, &own), &linked), &link) in w
                    .iter_mut()
                    .zip(wanted)
                    .zip(&f.wanted_min[..n])
                    .zip(&f.link[..n])
                {
                    // Geometric blend toward the linked gain; never above the channel's own.
                    *w = if link >= 1.0 {
                        linked
                    } else if link <= 0.0 || own <= linked {
                        own
                    } else {
                        (own * (linked / own).powf(link)).min(own)
                    };
                }
                ch.gains(
                    frame,
                    w,
                    &self.ballistics,
                    &mut self.gain_scratch,
                    &mut self.gains[..n],
                );
            }
            let y = &mut self.out[..n];
            let (dry, clamp) = (&ch.dry[..n], &f.clamp[..n]);
            for (((y, &x), &g), &c) in y.iter_mut().zip(dry).zip(&self.gains[..n]).zip(clamp) {
                *y = clamp_finite((x as f64 * g) as f32, c);
            }
            self.meter.process(c, y);
            if let Some(out) = outs.next().and_then(|o| o.get_mut(start..start + n)) {
                out.copy_from_slice(y);
            }
            ch.dry.copy_within(n..n + self.latency, 0);
        }
        if !self.in_step && linked && self.sharing && self.channels.iter().all(Channel::at_rest) {
            // At rest every gain path is in the same state again.
            self.in_step = true;
        }
    }
}

/// `v` clamped to `±c`, for a finite `v`: plain selects (`f32::max` and `min` also sort
/// out NaN, which costs a compare and a blend per value on x86).
#[inline(always)]
fn clamp_finite(v: f32, c: f32) -> f32 {
    let v = if v < -c { -c } else { v };
    if v > c { c } else { v }
}

/// The largest f32 not above `x`, so a clamp at it never lets a value exceed `x`.
fn f32_at_or_below(x: f64) -> f32 {
    let f = x as f32;
    if f as f64 > x { f.next_down() } else { f }
}

impl Processor for LimiterProcessor {
    fn set_param(&mut self, id: ParamId, value: f32) {
        let Some(param) = LimiterParam::from_id(id) else {
            return;
        };
        match param {
            LimiterParam::CeilingDbtp => self.ceiling_db.set_target(value),
            LimiterParam::ReleaseMs => {
                self.release_ms = value as f64;
                self.update_ballistics();
            }
            LimiterParam::AutoRelease => {
                self.auto_release = value >= 0.5;
                self.update_ballistics();
            }
            LimiterParam::LinkPct => self.link.set_target(value),
            LimiterParam::InputGainDb => self.input_gain_db.set_target(value),
        }
    }

    fn reset(&mut self) {
        self.ceiling_db.snap();
        self.input_gain_db.snap();
        self.link.snap();
        for ch in &mut self.channels {
            ch.detector.reset();
            ch.nyquist.reset();
            ch.hold.clear();
            ch.envelope = Envelope::default();
            ch.box1.fill_unity();
            ch.box2.fill_unity();
            ch.gain = 1.0;
            ch.dry.fill(0.0);
        }
        let ceiling = f32_at_or_below(lathe_engine::db_to_gain_f64(self.ceiling_db.value() as f64));
        self.ceilings.fill(ceiling);
        self.ceiling_pos = 0;
        self.uniform_ceilings = self.ceilings.len();
        self.in_step = self.sharing;
        self.frame = 0;
        self.meter.reset();
    }

    fn process(&mut self, io: &mut Io<'_>) {
        match self.isa {
            // SAFETY: `Isa::Avx2` is detected only when the CPU reports AVX2.
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => unsafe { self.process_avx2(io) },
            _ => self.process_blocks(io),
        }
    }
}

impl LimiterProcessor {
    /// The blocks compiled for AVX2: the per-frame loops (drive, bounds, wanted gains,
    /// output clamp) run four or eight frames at a time, with the same arithmetic, so
    /// the same bits as the baseline build.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    fn process_avx2(&mut self, io: &mut Io<'_>) {
        self.process_blocks(io);
    }

    #[inline(always)]
    fn process_blocks(&mut self, io: &mut Io<'_>) {
        let mut start = 0;
        while start < io.frames {
            let n = (io.frames - start).min(self.block_frames);
            self.advance_params(n);
            self.detect(io, start, n);
            self.apply(io, start, n);
            self.frame += n as u64;
            start += n;
        }
        let min_gain = self.channels.iter().fold(1.0f64, |m, ch| m.min(ch.gain));
        io.set_meter(0, (-20.0 * min_gain.max(1e-12).log10()) as f32);
        io.set_meter(1, lathe_engine::gain_to_db(self.meter.max_peak()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lathe_engine::PrepareInfo;
    use lathe_engine::harness::{render, test_signal};

    /// The limiter built with default params for blocks of up to 256 frames.
    fn built_limiter() -> (LimiterProcessor, lathe_engine::NodeSpec) {
        let ctx = BuildContext {
            prepare: PrepareInfo::new(48_000.0, 256),
            node_id: "limit",
            base_dir: std::path::Path::new("."),
        };
        build_limiter(&NodeConfig::empty(), &ctx).expect("defaults build")
    }

    /// `input` through a default limiter changed by `setup`, in blocks of `block`.
    fn render_with(
        setup: impl FnOnce(&mut LimiterProcessor),
        input: &[Vec<f32>],
        block: usize,
        events: &[lathe_engine::harness::ParamEvent],
    ) -> Vec<Vec<f32>> {
        let (mut p, spec) = built_limiter();
        setup(&mut p);
        let mut built = BuiltNode {
            spec,
            processor: Box::new(p),
        };
        render(&mut built, input, block, events, &[])
    }

    /// The harness test signal, stereo, scaled by `scale`.
    fn scaled_signal(frames: usize, scale: f32) -> Vec<Vec<f32>> {
        test_signal(2, frames)
            .iter()
            .map(|c| c.iter().map(|v| v * scale).collect())
            .collect()
    }

    /// Skipping the detector where the input bound stays under the ceiling gives the
    /// same output, bit for bit, as running it everywhere: on the harness signal (noise
    /// bursts up to full scale, silence, a low sine) at three drive levels and two block
    /// sizes. At the lowest drive most frames are skipped, at the highest few.
    #[test]
    fn skipping_the_detector_changes_nothing() {
        for (scale, most_skipped) in [(0.3f32, true), (1.0, false), (4.0, false)] {
            let input = scaled_signal(40_000, scale);
            for block in [64, 256] {
                let skipping = render_with(|_| {}, &input, block, &[]);
                let everywhere = render_with(|p| p.bound = None, &input, block, &[]);
                assert!(skipping == everywhere, "scale {scale}, blocks of {block}");
            }
            // How much the bound skips, measured on the processor directly.
            let (mut p, _) = built_limiter();
            let skipped = skipped_share(&mut p, &input);
            println!("scale {scale}: {skipped:.3} of the frames skipped");
            if most_skipped {
                assert!(skipped > 0.5, "scale {scale}: {skipped} skipped");
            }
        }
    }

    /// One gain path for all channels while fully linked gives the same output as a
    /// path per channel, also when the link drops below 100 % and comes back.
    #[test]
    fn sharing_the_gain_path_changes_nothing() {
        let input = scaled_signal(60_000, 3.0);
        let event = |frame, value| lathe_engine::harness::ParamEvent {
            frame,
            param: LimiterParam::LinkPct.id(),
            value,
        };
        let events = [event(15_000, 60.0), event(35_000, 100.0)];
        let unshared = |p: &mut LimiterProcessor| {
            p.sharing = false;
            p.reset();
        };
        let shared = render_with(|_| {}, &input, 100, &events);
        assert!(shared == render_with(unshared, &input, 100, &events));
    }

    /// The AVX2 copy of the blocks and the baseline copy give the same bits, driven into
    /// reduction, with the ceiling and the link moving and auto release (on a CPU without
    /// AVX2 both runs take the baseline copy and the test is trivially true).
    #[test]
    fn instruction_sets_give_the_same_bits() {
        let input = scaled_signal(60_000, 3.0);
        let event = |frame, param: LimiterParam, value| lathe_engine::harness::ParamEvent {
            frame,
            param: param.id(),
            value,
        };
        let events = [
            event(10_000, LimiterParam::CeilingDbtp, -3.0),
            event(15_000, LimiterParam::LinkPct, 60.0),
            event(35_000, LimiterParam::LinkPct, 100.0),
        ];
        let with_isa = |isa: Isa| {
            move |p: &mut LimiterProcessor| {
                p.isa = isa;
                p.set_param(LimiterParam::AutoRelease.id(), 1.0);
            }
        };
        let wide = render_with(with_isa(Isa::detect()), &input, 200, &events);
        assert!(wide == render_with(with_isa(Isa::baseline()), &input, 200, &events));
    }

    /// The running minimum is the minimum of the last `len` values, exactly, through
    /// runs of every length (within and across its blocks), rests (unity runs skipped
    /// with `rest_at`), a copy taken mid-stream and a clear.
    #[test]
    fn min_hold_is_the_exact_window_minimum() {
        let mut seed = 7u64;
        let mut random = move || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) as usize
        };
        for len in [1, 2, 5, 64, 203] {
            let mut hold = MinHold::new(len);
            // Every value pushed or rested, from the last clear.
            let mut history: Vec<f64> = Vec::new();
            let mut held = vec![0.0; 700];
            for step in 0..400 {
                match random() % 10 {
                    0 if hold.at_rest() => {
                        let run = 1 + random() % (2 * len);
                        history.extend(std::iter::repeat_n(1.0, run));
                        hold.rest_at(history.len() as u64 - 1);
                    }
                    1 if step % 50 == 0 => {
                        hold.clear();
                        history.clear();
                    }
                    2 => {
                        let mut copy = MinHold::new(len);
                        copy.copy_from(&hold);
                        hold = copy;
                    }
                    _ => {
                        let run = 1 + random() % 700;
                        // Mostly unity with dips, as wanted gains are.
                        let w: Vec<f64> = (0..run)
                            .map(|_| match random() % 4 {
                                0 => (random() % 1000) as f64 / 1000.0,
                                _ => 1.0,
                            })
                            .collect();
                        hold.run(&w, &mut held[..run]);
                        for (k, &v) in w.iter().enumerate() {
                            history.push(v);
                            let from = history.len().saturating_sub(len);
                            let want = history[from..].iter().fold(f64::INFINITY, |m, &x| m.min(x));
                            assert_eq!(held[k], want, "len {len}, step {step}, frame {k}");
                        }
                    }
                }
                let from = history.len().saturating_sub(len);
                let rest = history[from..].iter().all(|&x| x >= 1.0);
                assert_eq!(hold.at_rest(), rest, "len {len}, step {step}");
            }
        }
    }

    /// Share of channel frames whose detector run was skipped, feeding `input` through
    /// `p` in blocks of 256.
    fn skipped_share(p: &mut LimiterProcessor, input: &[Vec<f32>]) -> f64 {
        let frames = input[0].len();
        let mut out = vec![vec![0.0f32; frames]; input.len()];
        let mut pos = 0;
        while pos < frames {
            let end = (pos + 256).min(frames);
            let ins: Vec<&[f32]> = input.iter().map(|c| &c[pos..end]).collect();
            let mut outs: Vec<&mut [f32]> = out.iter_mut().map(|c| &mut c[pos..end]).collect();
            let mut io = Io::new(end - pos, &ins, &mut outs, pos as u64, &[true], &[]);
            p.process(&mut io);
            pos = end;
        }
        1.0 - p.detected_frames as f64 / (frames * input.len()) as f64
    }

    /// The multiply-and-shift division equals integer division exactly, at the edges of
    /// its range (`n` up to `d * 2^48`, remainders `0` and `d - 1`) and on scattered values,
    /// for every length from 1 to 4096 and a spread up to the longest.
    #[test]
    fn exact_divisor_matches_integer_division() {
        let lengths = (1..=4096).chain((4097..=MAX_AVERAGE_FRAMES).step_by(97));
        let mut seed = 1u64;
        for d in lengths.chain([MAX_AVERAGE_FRAMES]) {
            let div = ExactDivisor::new(d);
            let d = d as u64;
            let top = d << 48;
            let check = |n: u64| assert_eq!(div.divide(n), n / d, "{n} / {d}");
            for n in [0, 1, d - 1, d, top, top - 1, top - d, top - d + 1] {
                check(n);
            }
            for _ in 0..64 {
                seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let n = seed % (top + 1);
                check(n);
                check((n - n % d + d - 1).min(top));
                check(n - n % d);
            }
        }
    }
}
