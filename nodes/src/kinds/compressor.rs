//! `compressor`: a feed-forward, log-domain compressor with soft knee, lookahead,
//! stereo link, peak or RMS detection, an optional external sidechain with a high-pass
//! filter, program-dependent release and dry/wet mix.
//!
//! - Ports: in `in` (N channels), in `sidechain` (N channels, optional: when unlinked the
//!   main input drives the detector), out `out` (N channels).
//! - Config: `(channels: 2, lookahead_ms: 0.0)`. `lookahead_ms` (0 ..= 50) delays the audio
//!   (not the detector) and is the node's latency.
//! - Params: declared in [`CompressorParam`] (ranges, defaults and smoothing in
//!   `lathe nodes compressor`). The knee is quadratic (0 = hard); the dry path of `mix_pct`
//!   is delayed like the wet one; the RMS detector averages the mean square over 10 ms;
//!   `sidechain_hpf_hz` is a 12 dB/oct Butterworth on the detector signal. Level params
//!   are smoothed; times apply at once.
//! - Meters: `gain_reduction_db`: the largest gain reduction among the channels at the end
//!   of each block, as a POSITIVE number of dB (3.0 = 3 dB quieter; 0 = no reduction).
//! - Latency: `lookahead_ms` in frames. Allocates only at build (delay lines and the
//!   scratch of one pass, 256 frames per channel).
//!
//! Processing runs in passes of up to 256 frames, ending on the absolute 256-frame grid
//! (where the envelopes are flushed of values below 1e-30, so flushing does not depend
//! on the block size): detector (sidechain filter, |x| or mean square) per channel, then
//! per frame the linked level, static curve and ballistics, then the wet gains, then
//! delay and mix per channel. Levels use a fast log2 and gains a fast exp2
//! ([`crate::dsp::fastmath`], 1e-10 dB); while the loudest detector value is below
//! `threshold - knee/2` no level is computed at all. Fully linked, the level, curve and
//! ballistics run once for all channels, each in a loop of its own; the ballistics are
//! branch-free. The passes are compiled twice, for the x86-64 baseline and for AVX2,
//! and the CPU picks (see [`crate::dsp::cpu`]); both give the same bits.
//!
//! Time constants: attack and release are one-pole time constants on the gain reduction in
//! dB: after a step of the wanted reduction, 63.2 % of the step is reached after
//! `attack_ms` (rising) or `release_ms` (falling).

use lathe_engine::rt::flush_denormal;
use lathe_engine::{
    BuildContext, BuiltNode, ConfigError, Io, LinearSmoother, MeterSpec, NodeConfig, NodeKind,
    NodeSpec, ParamDecl, ParamId, ParamTable, PortSpec, Processor, Unit, params,
};
use serde::Deserialize;

use crate::bus::{DEFAULT_CHANNELS, check_channels};
use crate::dsp::ballistics::{Ballistics, Envelope, one_pole_coef};
use crate::dsp::biquad::Coefs;
use crate::dsp::coef_grid::COEF_GRID_FRAMES;
use crate::dsp::cpu::Isa;
use crate::dsp::fastmath;

/// Longest lookahead a config may ask for, in ms.
pub const MAX_LOOKAHEAD_MS: f64 = 50.0;
/// Averaging time of the RMS detector (one-pole mean square), in ms.
pub const RMS_WINDOW_MS: f64 = 10.0;
/// The sidechain filter is off below this frequency.
const HPF_MIN_HZ: f64 = 1.0;
/// Detector floor, in dB, so silence gives a finite level.
const LEVEL_FLOOR_DB: f64 = -200.0;

const DOC: &str = "\
compressor: feed-forward soft-knee compressor with lookahead, link, sidechain.
Ports: in `in` (N), in `sidechain` (N, optional; unlinked = main input detects), out `out` (N).
Config: (channels: 2, lookahead_ms: 0.0)   lookahead 0..=50 ms = latency.
Params: knee_db is quadratic; sidechain_hpf_hz 0 = off.
Meters: gain_reduction_db (positive dB of reduction, largest channel).
Attack/release: one-pole time constants on the reduction in dB (63.2 % of a step).
Latency: lookahead_ms. Allocates at build only.";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CompressorConfig {
    pub channels: usize,
    pub lookahead_ms: f64,
}

impl Default for CompressorConfig {
    fn default() -> Self {
        Self {
            channels: DEFAULT_CHANNELS,
            lookahead_ms: 0.0,
        }
    }
}

/// Gain reduction in dB (positive) of the static curve for a detector level in dB:
/// below `threshold - knee/2` none; above `threshold + knee/2` the slope is `1/ratio`;
/// in between the quadratic knee `(1 - 1/ratio) (x - T + W/2)^2 / (2 W)`.
pub fn static_gain_reduction_db(level_db: f64, threshold_db: f64, ratio: f64, knee_db: f64) -> f64 {
    let slope = 1.0 - 1.0 / ratio.max(1.0);
    let over = level_db - threshold_db;
    if knee_db > 0.0 && over.abs() <= knee_db / 2.0 {
        let d = over + knee_db / 2.0;
        slope * d * d / (2.0 * knee_db)
    } else if over > 0.0 {
        slope * over
    } else {
        0.0
    }
}

/// 12 dB/oct Butterworth high-pass on the detector signal, f64 state (transposed
/// direct form II). Below `HPF_MIN_HZ` it passes the signal through.
#[derive(Debug, Clone, Copy, Default)]
struct SidechainHpf {
    coefs: Coefs,
    active: bool,
}

impl SidechainHpf {
    fn new(freq_hz: f64, sample_rate_hz: f64) -> Self {
        let nyquist_safe = 0.45 * sample_rate_hz;
        if freq_hz < HPF_MIN_HZ {
            return Self::default();
        }
        let k = (std::f64::consts::PI * freq_hz.min(nyquist_safe) / sample_rate_hz).tan();
        let sqrt2 = std::f64::consts::SQRT_2;
        let norm = 1.0 / (1.0 + sqrt2 * k + k * k);
        Self {
            coefs: Coefs {
                b0: norm,
                b1: -2.0 * norm,
                b2: norm,
                a1: 2.0 * (k * k - 1.0) * norm,
                a2: (1.0 - sqrt2 * k + k * k) * norm,
            },
            active: true,
        }
    }

    #[inline]
    fn tick(&self, state: &mut [f64; 2], x: f64) -> f64 {
        if !self.active {
            return x;
        }
        self.coefs.tick_flushed(state, x)
    }
}

params! {
    /// The params of `compressor`.
    pub enum CompressorParam {
        ThresholdDb = ParamDecl::new("threshold_db", Unit::Dbfs, -60.0, 0.0, -18.0)
            .doc("Level where compression starts (centre of the knee)."),
        Ratio = ParamDecl::new("ratio", Unit::Ratio, 1.0, 20.0, 2.0)
            .doc("Input dB per output dB above the knee."),
        KneeDb = ParamDecl::new("knee_db", Unit::Db, 0.0, 24.0, 6.0)
            .doc("Width of the quadratic soft knee; 0 = hard."),
        AttackMs = ParamDecl::new("attack_ms", Unit::Ms, 0.1, 500.0, 20.0)
            .smoothing_ms(0.0)
            .doc("Time constant of rising gain reduction (63.2 % of a step)."),
        ReleaseMs = ParamDecl::new("release_ms", Unit::Ms, 5.0, 5000.0, 200.0)
            .smoothing_ms(0.0)
            .doc("Time constant of falling gain reduction (63.2 % of a step)."),
        AutoRelease = ParamDecl::toggle("auto_release", false)
            .smoothing_ms(0.0)
            .doc(
                "Program-dependent release: fast after short peaks, slow after sustained \
                 reduction.",
            ),
        MakeupDb = ParamDecl::new("makeup_db", Unit::Db, -24.0, 24.0, 0.0)
            .doc("Gain after compression (wet path)."),
        MixPct = ParamDecl::new("mix_pct", Unit::Percent, 0.0, 100.0, 100.0)
            .doc("Wet share; the dry path is delayed to match the lookahead."),
        LinkPct = ParamDecl::new("link_pct", Unit::Percent, 0.0, 100.0, 100.0)
            .doc("Stereo link: 100 = every channel follows the loudest, 0 = independent."),
        Detector = ParamDecl::choice("detector", &["peak", "rms"], 0)
            .doc("Peak or 10 ms RMS level detection."),
        SidechainHpfHz = ParamDecl::new("sidechain_hpf_hz", Unit::Hz, 0.0, 500.0, 0.0)
            .doc("High-pass on the detector signal, 12 dB/oct; 0 = off."),
    }
}

pub struct CompressorKind;

impl NodeKind for CompressorKind {
    fn name(&self) -> &'static str {
        "compressor"
    }

    fn summary(&self) -> &'static str {
        "Soft-knee compressor: lookahead, stereo link, peak/RMS, sidechain with HPF, auto release, mix."
    }

    fn doc(&self) -> &'static str {
        DOC
    }

    fn build(
        &self,
        config: &NodeConfig<'_>,
        ctx: &BuildContext<'_>,
    ) -> Result<BuiltNode, ConfigError> {
        let (processor, spec) = build_compressor(config, ctx)?;
        Ok(BuiltNode {
            spec,
            processor: Box::new(processor),
        })
    }
}

/// The compressor's processor and spec for `config`.
fn build_compressor(
    config: &NodeConfig<'_>,
    ctx: &BuildContext<'_>,
) -> Result<(CompressorProcessor, NodeSpec), ConfigError> {
    let cfg: CompressorConfig = config.parse()?;
    check_channels(cfg.channels)?;
    if !(0.0..=MAX_LOOKAHEAD_MS).contains(&cfg.lookahead_ms) {
        return Err(ConfigError::invalid(
            "lookahead_ms",
            format!("must be 0..={MAX_LOOKAHEAD_MS}, found {}", cfg.lookahead_ms),
        ));
    }
    let sr = ctx.prepare.sample_rate_hz;
    let latency = ctx.prepare.ms_to_frames(cfg.lookahead_ms);
    use CompressorParam as P;
    let processor = CompressorProcessor {
        channels: cfg.channels,
        sample_rate_hz: sr,
        threshold_db: P::ThresholdDb.smoother(sr),
        ratio: P::Ratio.smoother(sr),
        knee_db: P::KneeDb.smoother(sr),
        makeup_db: P::MakeupDb.smoother(sr),
        mix: P::MixPct.smoother(sr),
        link: P::LinkPct.smoother(sr),
        hpf_hz: P::SidechainHpfHz.smoother(sr),
        attack_ms: P::AttackMs.default_value() as f64,
        release_ms: P::ReleaseMs.default_value() as f64,
        auto_release: P::AutoRelease.default_value() >= 0.5,
        rms: P::Detector.default_value() >= 0.5,
        ballistics: Ballistics::new(sr, 0.0, 0.0, false),
        rms_coef: one_pole_coef(RMS_WINDOW_MS, sr),
        hpf: SidechainHpf::default(),
        hpf_coef_hz: 0.0,
        hpf_state: vec![[0.0; 2]; cfg.channels].into_boxed_slice(),
        mean_square: vec![0.0; cfg.channels].into_boxed_slice(),
        envelopes: vec![Envelope::default(); cfg.channels].into_boxed_slice(),
        detect: vec![0.0; cfg.channels * CHUNK_FRAMES].into_boxed_slice(),
        reduction: vec![0.0; cfg.channels * CHUNK_FRAMES].into_boxed_slice(),
        wet_gain: vec![0.0; cfg.channels * CHUNK_FRAMES].into_boxed_slice(),
        mix_buf: vec![0.0; CHUNK_FRAMES].into_boxed_slice(),
        makeup_buf: vec![0.0; CHUNK_FRAMES].into_boxed_slice(),
        gr_db: vec![0.0; cfg.channels].into_boxed_slice(),
        isa: Isa::detect(),
        delay: vec![0.0; cfg.channels * (latency + 1)].into_boxed_slice(),
        delay_len: latency + 1,
        delay_pos: 0,
    };
    let spec = NodeSpec::in_out(cfg.channels)
        .with_input(PortSpec::sidechain(cfg.channels))
        .with_params(P::specs())
        .with_meters(vec![MeterSpec::new(
            "gain_reduction_db",
            Unit::Db,
            "Gain reduction of the most reduced channel, positive dB (0 = none).",
        )])
        .with_latency(latency);
    let mut processor = processor;
    processor.update_ballistics();
    processor.reset();
    Ok((processor, spec))
}

pub struct CompressorProcessor {
    channels: usize,
    sample_rate_hz: f64,
    threshold_db: LinearSmoother,
    ratio: LinearSmoother,
    knee_db: LinearSmoother,
    makeup_db: LinearSmoother,
    mix: LinearSmoother,
    link: LinearSmoother,
    hpf_hz: LinearSmoother,
    attack_ms: f64,
    release_ms: f64,
    auto_release: bool,
    rms: bool,
    ballistics: Ballistics,
    rms_coef: f64,
    hpf: SidechainHpf,
    /// Frequency the current `hpf` coefficients were made for.
    hpf_coef_hz: f32,
    hpf_state: Box<[[f64; 2]]>,
    mean_square: Box<[f64]>,
    envelopes: Box<[Envelope]>,
    /// Per-pass scratch, `CHUNK_FRAMES` per channel: the detector value (|x| or the
    /// mean square), the gain reduction (dB) and the wet gain.
    detect: Box<[f64]>,
    reduction: Box<[f64]>,
    wet_gain: Box<[f32]>,
    /// Per-pass scratch: the wet share and the makeup gain (dB) of each frame.
    mix_buf: Box<[f32]>,
    makeup_buf: Box<[f64]>,
    /// Current gain reduction per channel (positive dB).
    gr_db: Box<[f64]>,
    /// Instruction set the passes run on: [`Isa::Avx2`] runs their AVX2 copy (see
    /// [`crate::dsp::cpu`]).
    isa: Isa,
    /// Lookahead delay, channel after channel, `delay_len` frames each.
    delay: Box<[f32]>,
    delay_len: usize,
    delay_pos: usize,
}

/// Frames per pass: the block is processed in passes (detector, gain computer, apply),
/// each over up to this many frames, so the scratch size does not depend on the block.
const CHUNK_FRAMES: usize = 256;

/// The static curve and output stage at one frame's param values.
#[derive(Debug, Clone, Copy)]
struct Curve {
    threshold_db: f64,
    ratio: f64,
    knee_db: f64,
    /// Detector value (|x| or mean square) at `threshold - knee/2`: below it the curve
    /// gives no reduction, so the level needs no logarithm.
    floor: f64,
    /// dB per unit of log2 of the detector value.
    db_per_log2: f64,
    makeup_db: f64,
    link: f64,
    mix: f32,
}

impl Curve {
    fn new(p: &mut CompressorProcessor) -> Self {
        let threshold_db = p.threshold_db.next() as f64;
        let ratio = p.ratio.next() as f64;
        let knee_db = p.knee_db.next() as f64;
        let makeup_db = p.makeup_db.next() as f64;
        let mix = p.mix.next() * 0.01;
        let link = p.link.next() as f64 * 0.01;
        let db_per_log2 = if p.rms {
            fastmath::DB_PER_LOG2_POWER
        } else {
            fastmath::DB_PER_LOG2_AMPLITUDE
        };
        Self {
            threshold_db,
            ratio,
            knee_db,
            floor: fastmath::exp2((threshold_db - 0.5 * knee_db) / db_per_log2),
            db_per_log2,
            makeup_db,
            link,
            mix,
        }
    }

    /// Level in dB of a detector value, floored at `LEVEL_FLOOR_DB`.
    #[inline]
    fn level_db(&self, detect: f64) -> f64 {
        (self.db_per_log2 * fastmath::log2(detect.max(1e-30))).max(LEVEL_FLOOR_DB)
    }

    #[inline]
    fn reduction_db(&self, level_db: f64) -> f64 {
        static_gain_reduction_db(level_db, self.threshold_db, self.ratio, self.knee_db)
    }
}

/// dB to linear gain through the fast `exp2`.
#[inline]
fn gain_of(db: f64) -> f64 {
    fastmath::exp2(db * (std::f64::consts::LOG2_10 / 20.0))
}

impl CompressorProcessor {
    fn update_ballistics(&mut self) {
        self.ballistics = Ballistics::new(
            self.sample_rate_hz,
            self.attack_ms,
            self.release_ms,
            self.auto_release,
        );
    }

    fn update_hpf(&mut self) {
        let f = self.hpf_hz.value();
        self.hpf = SidechainHpf::new(f as f64, self.sample_rate_hz);
        self.hpf_coef_hz = f;
    }

    fn levels_moving(&self) -> bool {
        [
            &self.threshold_db,
            &self.ratio,
            &self.knee_db,
            &self.makeup_db,
            &self.mix,
            &self.link,
        ]
        .iter()
        .any(|s| s.is_smoothing())
    }

    /// Pass 1: sidechain filter and detector value of frames `start..start + len` into
    /// `detect`. The filter frequency advances per frame and its coefficients change
    /// only on the absolute grid, so the work splits into runs between grid frames.
    #[inline(always)]
    fn detect(&mut self, io: &Io<'_>, sc_offset: usize, start: usize, len: usize) {
        let mut done = 0;
        while done < len {
            let pos = io.position_frames + (start + done) as u64;
            let run = if self.hpf_hz.is_smoothing() || self.hpf_coef_hz != self.hpf_hz.value() {
                let f = self.hpf_hz.next();
                if pos.is_multiple_of(COEF_GRID_FRAMES) && f != self.hpf_coef_hz {
                    self.update_hpf();
                }
                let run = (len - done).min((COEF_GRID_FRAMES - pos % COEF_GRID_FRAMES) as usize);
                for _ in 1..run {
                    self.hpf_hz.next();
                }
                run
            } else {
                len - done
            };
            let from = start + done;
            for c in 0..self.channels {
                let input = io
                    .inputs
                    .get(c + sc_offset)
                    .and_then(|ch| ch.get(from..from + run));
                let (Some(state), Some(ms)) =
                    (self.hpf_state.get_mut(c), self.mean_square.get_mut(c))
                else {
                    continue;
                };
                let dst = &mut self.detect[c * CHUNK_FRAMES + done..c * CHUNK_FRAMES + done + run];
                if !self.hpf.active
                    && !self.rms
                    && let Some(src) = input
                {
                    // The common case, peak detection without a filter: |x|, vectorised.
                    for (d, &x) in dst.iter_mut().zip(src) {
                        *d = (x as f64).abs();
                    }
                    continue;
                }
                let hpf = self.hpf;
                let rms = self.rms;
                let coef = self.rms_coef;
                let mut one = |d: &mut f64, x: f64| {
                    let s = hpf.tick(state, x);
                    *d = if rms {
                        *ms = flush_denormal(s * s + (*ms - s * s) * coef);
                        *ms
                    } else {
                        s.abs()
                    };
                };
                match input {
                    Some(src) => {
                        for (d, &x) in dst.iter_mut().zip(src) {
                            one(d, x as f64);
                        }
                    }
                    None => dst.iter_mut().for_each(|d| one(d, 0.0)),
                }
            }
            done += run;
        }
    }

    /// Pass 2: per frame, the linked level, the static curve and the ballistics of every
    /// channel, then the wet gains in a loop of their own (branch-free, it vectorises).
    /// With the params steady the curve is made once per pass. Returns whether every
    /// channel shares the gains of channel 0 (see [`Self::shares_envelope`]).
    #[inline(always)]
    fn compute_gains(&mut self, len: usize) -> bool {
        let n = self.channels;
        let steady = !self.levels_moving();
        let mut curve = Curve::new(self);
        self.mix_buf[..len].fill(curve.mix);
        self.makeup_buf[..len].fill(curve.makeup_db);
        let shared = steady && self.shares_envelope(&curve);
        if shared {
            self.shared_ballistics(&curve, len);
        } else {
            for i in 0..len {
                if i > 0 && !steady {
                    curve = Curve::new(self);
                    self.mix_buf[i] = curve.mix;
                    self.makeup_buf[i] = curve.makeup_db;
                }
                self.frame_ballistics(&curve, i);
            }
        }
        let makeup = &self.makeup_buf[..len];
        for c in 0..if shared { 1 } else { n } {
            let range = c * CHUNK_FRAMES..c * CHUNK_FRAMES + len;
            let gains = &mut self.wet_gain[range.clone()];
            for ((g, &gr), &m) in gains.iter_mut().zip(&self.reduction[range]).zip(makeup) {
                *g = gain_of(m - gr) as f32;
            }
        }
        shared
    }

    /// Fully linked with every channel's envelope in the same state: every channel
    /// gets the same target each frame, so the ballistics and gains of channel 0 are
    /// those of all (bit for bit) and need computing once.
    fn shares_envelope(&self, curve: &Curve) -> bool {
        curve.link >= 1.0
            && self
                .envelopes
                .split_first()
                .is_some_and(|(first, rest)| rest.iter().all(|e| e == first))
    }

    /// Pass 2 for [`Self::shares_envelope`]: the loudest channel drives one envelope.
    /// In three loops over the pass: the loudest channel, its static curve (skipped when
    /// the whole pass is below the knee) and the ballistics, so the first two vectorise
    /// and the last carries nothing else on its serial chain.
    #[inline(always)]
    fn shared_ballistics(&mut self, curve: &Curve, len: usize) {
        let Some(mut env) = self.envelopes.first().copied() else {
            return;
        };
        // Row 0 of `reduction` holds the loudest level, then the target, then the result.
        let (first, others) = self.detect.split_at(CHUNK_FRAMES);
        let levels = &mut self.reduction[..len];
        levels.copy_from_slice(&first[..len]);
        for row in others.chunks_exact(CHUNK_FRAMES).take(self.channels - 1) {
            for (l, &d) in levels.iter_mut().zip(&row[..len]) {
                *l = l.max(d);
            }
        }
        // An OR over the whole pass (no early exit), so it vectorises.
        if levels
            .iter()
            .fold(false, |any, &l| any | (l >= curve.floor))
        {
            for l in levels.iter_mut() {
                let reduction = curve.reduction_db(curve.level_db(*l));
                *l = if *l < curve.floor { 0.0 } else { reduction };
            }
        } else {
            levels.fill(0.0);
        }
        self.ballistics.run_unflushed(&mut env, levels);
        let gr = levels.last().copied().unwrap_or(self.gr_db[0]);
        self.envelopes.fill(env);
        self.gr_db.fill(gr);
    }

    /// Pass 2 for one frame `i`, channel by channel.
    #[inline(always)]
    fn frame_ballistics(&mut self, curve: &Curve, i: usize) {
        let n = self.channels;
        let loudest = (0..n).fold(0.0f64, |m, c| m.max(self.detect[c * CHUNK_FRAMES + i]));
        // Below the knee every channel's target is 0 (linked levels never exceed the
        // loudest), so the levels need not be known.
        let quiet = loudest < curve.floor;
        let full_link = curve.link >= 1.0;
        let shared = if quiet {
            0.0
        } else if full_link {
            curve.reduction_db(curve.level_db(loudest))
        } else {
            curve.level_db(loudest)
        };
        for c in 0..n {
            let target = if quiet || full_link {
                shared
            } else {
                let own = curve.level_db(self.detect[c * CHUNK_FRAMES + i]);
                curve.reduction_db(own + (shared - own) * curve.link)
            };
            let gr = self
                .ballistics
                .step_unflushed(&mut self.envelopes[c], target);
            self.gr_db[c] = gr;
            self.reduction[c * CHUNK_FRAMES + i] = gr;
        }
    }

    /// Pass 3: lookahead delay, wet gain and dry/wet mix, channel by channel.
    #[inline(always)]
    fn apply(&mut self, io: &mut Io<'_>, start: usize, len: usize, shared: bool) {
        let delay_len = self.delay_len;
        let mix = &self.mix_buf[..len];
        for c in 0..self.channels {
            let input = io.inputs.get(c).and_then(|ch| ch.get(start..start + len));
            let Some(out) = io
                .outputs
                .get_mut(c)
                .and_then(|o| o.get_mut(start..start + len))
            else {
                continue;
            };
            let row = if shared { 0 } else { c };
            let gains = &self.wet_gain[row * CHUNK_FRAMES..row * CHUNK_FRAMES + len];
            let mix_one = |dry: f32, g: f32, m: f32| {
                let wet = dry * g;
                dry + (wet - dry) * m
            };
            if delay_len == 1 {
                match input {
                    Some(src) => {
                        for (((o, &x), &g), &m) in out.iter_mut().zip(src).zip(gains).zip(mix) {
                            *o = mix_one(x, g, m);
                        }
                    }
                    None => out.fill(0.0),
                }
                continue;
            }
            let line = &mut self.delay[c * delay_len..(c + 1) * delay_len];
            let mut pos = self.delay_pos;
            for (i, o) in out.iter_mut().enumerate() {
                let x = input.and_then(|s| s.get(i)).copied().unwrap_or(0.0);
                line[pos] = x;
                pos = if pos + 1 == delay_len { 0 } else { pos + 1 };
                *o = mix_one(line[pos], gains[i], mix[i]);
            }
        }
        self.delay_pos = (self.delay_pos + len) % delay_len;
    }
}

impl Processor for CompressorProcessor {
    fn set_param(&mut self, id: ParamId, value: f32) {
        use CompressorParam as P;
        let Some(param) = P::from_id(id) else {
            return;
        };
        match param {
            P::ThresholdDb => self.threshold_db.set_target(value),
            P::Ratio => self.ratio.set_target(value),
            P::KneeDb => self.knee_db.set_target(value),
            P::AttackMs => {
                self.attack_ms = value as f64;
                self.update_ballistics();
            }
            P::ReleaseMs => {
                self.release_ms = value as f64;
                self.update_ballistics();
            }
            P::AutoRelease => {
                self.auto_release = value >= 0.5;
                self.update_ballistics();
            }
            P::MakeupDb => self.makeup_db.set_target(value),
            P::MixPct => self.mix.set_target(value),
            P::LinkPct => self.link.set_target(value),
            P::Detector => self.rms = value >= 0.5,
            P::SidechainHpfHz => self.hpf_hz.set_target(value),
        }
    }

    fn reset(&mut self) {
        for s in [
            &mut self.threshold_db,
            &mut self.ratio,
            &mut self.knee_db,
            &mut self.makeup_db,
            &mut self.mix,
            &mut self.link,
            &mut self.hpf_hz,
        ] {
            s.snap();
        }
        self.update_hpf();
        self.hpf_state.fill([0.0; 2]);
        self.mean_square.fill(0.0);
        self.envelopes.fill(Envelope::default());
        self.gr_db.fill(0.0);
        self.delay.fill(0.0);
        self.delay_pos = 0;
    }

    fn process(&mut self, io: &mut Io<'_>) {
        match self.isa {
            // SAFETY: `Isa::Avx2` is detected only when the CPU reports AVX2.
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => unsafe { self.process_avx2(io) },
            _ => self.process_passes(io),
        }
    }
}

impl CompressorProcessor {
    /// The passes compiled for AVX2: the level, curve and gain loops run four frames
    /// at a time (the same arithmetic, so the same bits as the baseline build).
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    fn process_avx2(&mut self, io: &mut Io<'_>) {
        self.process_passes(io);
    }

    #[inline(always)]
    fn process_passes(&mut self, io: &mut Io<'_>) {
        let frames = io.frames;
        let sc_offset = if io.is_connected(1) { self.channels } else { 0 };
        let mut start = 0;
        while start < frames {
            // Passes end on the absolute grid of CHUNK_FRAMES, where the envelopes are
            // flushed, so the flushes do not depend on the block size.
            let pos = io.position_frames + start as u64;
            let to_grid = CHUNK_FRAMES - (pos % CHUNK_FRAMES as u64) as usize;
            if to_grid == CHUNK_FRAMES {
                self.envelopes.iter_mut().for_each(Envelope::flush);
            }
            let len = (frames - start).min(to_grid);
            self.detect(io, sc_offset, start, len);
            let shared = self.compute_gains(len);
            self.apply(io, start, len, shared);
            start += len;
        }
        let meter = self.gr_db.iter().fold(0.0f64, |m, &g| m.max(g));
        io.set_meter(0, meter as f32);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The AVX2 copy of the passes and the baseline copy give the same bits, linked and
    /// unlinked, peak and RMS, with a moving threshold (on a CPU without AVX2 both runs
    /// take the baseline copy and the test is trivially true).
    #[test]
    fn instruction_sets_give_the_same_bits() {
        let ctx = BuildContext {
            prepare: PrepareInfo::new(48_000.0, 512),
            node_id: "comp",
            base_dir: std::path::Path::new("."),
        };
        // The main input and, as the sidechain, the same signal.
        let signal = lathe_engine::harness::test_signal(2, 30_000);
        let input: Vec<Vec<f32>> = signal.iter().chain(&signal).cloned().collect();
        let events = [lathe_engine::harness::ParamEvent {
            frame: 9_000,
            param: CompressorParam::ThresholdDb.id(),
            value: -30.0,
        }];
        let tweaks = vec![
            (CompressorParam::LinkPct, 40.0),
            (CompressorParam::Detector, 1.0),
        ];
        for params in [vec![], tweaks] {
            let outputs: Vec<Vec<Vec<f32>>> = [Isa::detect(), Isa::baseline()]
                .into_iter()
                .map(|isa| {
                    let (mut p, spec) =
                        build_compressor(&NodeConfig::empty(), &ctx).expect("defaults build");
                    p.isa = isa;
                    for &(id, value) in &params {
                        p.set_param(id.id(), value);
                    }
                    let mut built = BuiltNode {
                        spec,
                        processor: Box::new(p),
                    };
                    render(&mut built, &input, 256, &events, &[])
                })
                .collect();
            assert!(outputs[0] == outputs[1], "{params:?}");
        }
    }
    use lathe_engine::PrepareInfo;
    use lathe_engine::harness::{Case, build, meters_for, render};

    /// The compressor written the plain way: per frame, libm `log10` and `powf`, levels
    /// in dB for every channel, the link in dB. No sidechain filter, steady params.
    fn reference(input: &[Vec<f32>], p: &[(&str, f32)], lookahead: usize) -> Vec<Vec<f32>> {
        let get = |name: &str, default: f64| {
            p.iter()
                .find(|(n, _)| *n == name)
                .map_or(default, |(_, v)| *v as f64)
        };
        let (t, r, w) = (
            get("threshold_db", -18.0),
            get("ratio", 2.0),
            get("knee_db", 6.0),
        );
        let link = get("link_pct", 100.0) * 0.01;
        let rms = get("detector", 0.0) >= 0.5;
        let makeup = get("makeup_db", 0.0);
        let mix = get("mix_pct", 100.0) * 0.01;
        let ballistics = Ballistics::new(
            48_000.0,
            get("attack_ms", 20.0),
            get("release_ms", 200.0),
            get("auto_release", 0.0) >= 0.5,
        );
        let rms_coef = one_pole_coef(RMS_WINDOW_MS, 48_000.0);
        let n = input.len();
        let mut env = vec![Envelope::default(); n];
        let mut ms = vec![0.0f64; n];
        let mut out = vec![vec![0.0f32; input[0].len()]; n];
        for i in 0..input[0].len() {
            let levels: Vec<f64> = (0..n)
                .map(|c| {
                    let x = input[c][i] as f64;
                    let l = if rms {
                        ms[c] = flush_denormal(x * x + (ms[c] - x * x) * rms_coef);
                        10.0 * ms[c].max(1e-30).log10()
                    } else {
                        20.0 * x.abs().max(1e-15).log10()
                    };
                    l.max(LEVEL_FLOOR_DB)
                })
                .collect();
            let loudest = levels.iter().copied().fold(LEVEL_FLOOR_DB, f64::max);
            for c in 0..n {
                let level = levels[c] + (loudest - levels[c]) * link;
                let gr = ballistics.step(&mut env[c], static_gain_reduction_db(level, t, r, w));
                let dry = if i >= lookahead {
                    input[c][i - lookahead] as f64
                } else {
                    0.0
                };
                let wet = dry * 10f64.powf((makeup - gr) / 20.0);
                out[c][i] = (dry + (wet - dry) * mix) as f32;
            }
        }
        out
    }

    #[test]
    fn block_kernel_matches_the_plain_reference() {
        // A decaying stereo tone burst with different levels per channel, through the
        // node and through `reference`: equal within 2e-6 of full scale (f32 rounding
        // of the output and the 1e-10 dB error of the fast log/exp).
        let frames = 24_000;
        let input: Vec<Vec<f32>> = (0..2)
            .map(|c| {
                (0..frames)
                    .map(|i| {
                        let t = i as f64 / 48_000.0;
                        let env = (-(t * 8.0) % 1.0).exp() * if c == 0 { 1.0 } else { 0.3 };
                        (env * (std::f64::consts::TAU * (220.0 + 110.0 * c as f64) * t).sin())
                            as f32
                    })
                    .collect()
            })
            .collect();
        let settings: &[(&str, &[(&str, f32)])] = &[
            ("(lookahead_ms: 0.0)", &[]),
            (
                "(lookahead_ms: 2.0)",
                &[
                    ("link_pct", 40.0),
                    ("knee_db", 0.0),
                    ("ratio", 8.0),
                    ("mix_pct", 70.0),
                ],
            ),
            (
                "(lookahead_ms: 0.0)",
                &[
                    ("detector", 1.0),
                    ("link_pct", 0.0),
                    ("auto_release", 1.0),
                    ("makeup_db", 3.0),
                ],
            ),
        ];
        for (config, params) in settings {
            let case = Case::new(&CompressorKind).config(config).params(params);
            let mut built = build(&case, PrepareInfo::new(48_000.0, 512));
            let lookahead = built.spec.latency_frames;
            let meters = meters_for(&built.spec);
            // The harness links every port: the sidechain carries the input itself.
            let with_sidechain: Vec<Vec<f32>> = input.iter().chain(&input).cloned().collect();
            let got = render(&mut built, &with_sidechain, 512, &[], &meters);
            let want = reference(&input, params, lookahead);
            let worst = got
                .iter()
                .flatten()
                .zip(want.iter().flatten())
                .map(|(a, b)| (a - b).abs())
                .fold(0.0f32, f32::max);
            assert!(worst < 2e-6, "{config} {params:?}: worst {worst}");
        }
    }

    #[test]
    fn static_curve_matches_the_knee_formula() {
        // Hard knee: nothing below the threshold, (1 - 1/R) of the excess above.
        assert_eq!(static_gain_reduction_db(-30.0, -18.0, 4.0, 0.0), 0.0);
        assert!((static_gain_reduction_db(-10.0, -18.0, 4.0, 0.0) - 6.0).abs() < 1e-12);
        // Soft knee: continuous at both knee edges, quadratic inside.
        let (t, r, w) = (-18.0, 2.0, 6.0);
        assert_eq!(static_gain_reduction_db(t - w / 2.0, t, r, w), 0.0);
        let top = static_gain_reduction_db(t + w / 2.0, t, r, w);
        assert!((top - (w / 2.0) * 0.5).abs() < 1e-12);
        // At the threshold: (1 - 1/R) (W/2)^2 / (2W) = 0.5 * 9 / 12.
        assert!((static_gain_reduction_db(t, t, r, w) - 0.375).abs() < 1e-12);
    }

    #[test]
    fn sidechain_hpf_has_butterworth_response() {
        let sr = 48_000.0;
        let f0 = 100.0;
        let hpf = SidechainHpf::new(f0, sr);
        // Response at f: |H| = 1/sqrt(1 + (f0/f)^4) (analog prototype; bilinear warping
        // is below 0.01 dB this far under Nyquist).
        for f in [25.0, 50.0, 100.0, 200.0, 1000.0] {
            let mut state = [0.0; 2];
            let w = 2.0 * std::f64::consts::PI * f / sr;
            let mut peak: f64 = 0.0;
            for i in 0..(sr as usize) {
                let y = hpf.tick(&mut state, (w * i as f64).sin());
                if i > sr as usize / 2 {
                    peak = peak.max(y.abs());
                }
            }
            let expected = 1.0 / (1.0 + (f0 / f).powi(4)).sqrt();
            let err_db = 20.0 * (peak / expected).log10();
            assert!(err_db.abs() < 0.01, "{f} Hz: {err_db} dB off");
        }
    }
}
