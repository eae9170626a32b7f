//! `crossover`: splits a bus into N bands that sum back to the input, for multiband work.
//!
//! - Ports: in `in` (N channels); out `band1` .. `bandB` (N channels each), low to high.
//! - Config: `(freqs_hz: [200, 2000], slope: "lr4", channels: 2, mode: "iir", fir_taps: 4095)`.
//!   - `freqs_hz`: the split frequencies, ascending, 1 to 7 of them (so 2 to 8 bands),
//!     each 10 Hz .. 0.45 x sample rate. Default `[200, 2000]` (3 bands).
//!   - `slope`: `"lr2"` (12 dB/oct), `"lr4"` (24 dB/oct, default), `"lr8"` (48 dB/oct)
//!     Linkwitz-Riley. With `"lr2"` the upper band of each split is polarity-inverted, as
//!     that filter pair needs to sum flat.
//!   - `mode`: `"iir"` (default): minimum-phase Linkwitz-Riley filters; the lower bands go
//!     through all-pass copies of the higher splits so the bands sum to an all-pass (flat
//!     magnitude). `"linear_phase"`: FIR bands with the Linkwitz-Riley magnitudes and no
//!     phase shift, convolved by FFT; the bands sum to a pure delay.
//!   - `fir_taps`: length of each linear-phase FIR, odd, 63 ..= 65535 (default 4095). Longer
//!     resolves lower and steeper splits: at the default and 48 kHz an LR8 split at 100 Hz
//!     is within 1e-4 of its analytic magnitude; halve the lowest split, double the taps.
//! - Params (`"iir"` only): `split1_hz` .. `splitK_hz`, a [`CrossoverParam`] family
//!   (range in `lathe nodes crossover`), defaults from `freqs_hz`, smoothed on a
//!   log-frequency ramp. They are params because split
//!   points are tuned by ear while the music plays; the tree stays flat for any values
//!   (crossed splits only make bands overlap). In `"linear_phase"` mode the FIRs are
//!   designed at build, so the frequencies are structural and there are no params.
//! - Meters: none.
//! - Latency: `"iir"` 0 (the bands are all-pass shifted, not delayed); `"linear_phase"`
//!   `(fir_taps - 1) / 2 + 64` frames (half the FIR plus one 64-frame FFT partition).
//! - Allocates at build only: filter state per channel and band; in `"linear_phase"` mode
//!   the FIR spectra and the FFT buffers (about `bands x fir_taps x 8` bytes plus
//!   `channels x fir_taps x 8` bytes of input history).

use std::f64::consts::PI;
use std::sync::Arc;

use lathe_engine::rt::flush_denormal;
use lathe_engine::{
    BuildContext, BuiltNode, ConfigError, Io, LinearSmoother, NodeConfig, NodeKind, NodeSpec,
    ParamDecl, ParamFamily, ParamId, ParamTable, PortSpec, PrepareInfo, Processor, Unit, params,
};
use realfft::num_complex::Complex;
use realfft::{ComplexToReal, RealFftPlanner};
use serde::Deserialize;

use crate::bus::{DEFAULT_CHANNELS, check_channels};
use crate::dsp::bilinear::MAX_FREQ_FRACTION;
use crate::dsp::coef_grid::COEF_GRID_FRAMES;
use crate::dsp::linkwitz_riley::{LrSplit, Slope};
use crate::dsp::partitioned::PartitionedInput;

mod kernel;

use crate::dsp::cpu::Isa;
use kernel::{LaneState, PairJob, SplitLanes};

/// Default split frequencies: a three-band mastering split.
pub const DEFAULT_FREQS_HZ: [f64; 2] = [200.0, 2000.0];
/// Most bands a crossover may have.
pub const MAX_BANDS: usize = 8;
/// Lowest split frequency.
pub const MIN_SPLIT_HZ: f64 = 10.0;
/// Highest split param value (the audio side also keeps it below 0.45 x sample rate).
pub const MAX_SPLIT_HZ: f64 = 20_000.0;
/// Highest split as a fraction of the sample rate: bilinear warping stays tame below it.
pub const MAX_SPLIT_FRACTION: f64 = MAX_FREQ_FRACTION;
/// Default linear-phase FIR length (85 ms at 48 kHz).
pub const DEFAULT_FIR_TAPS: usize = 4095;
/// FFT partition of the linear-phase convolution: its share of the latency.
pub const FIR_PARTITION_FRAMES: usize = 64;
/// Fraction of each half of a linear-phase FIR that the window tapers.
pub const FIR_TAPER_FRACTION: f64 = 0.25;
/// Time a split frequency change takes, on a log-frequency ramp.
pub const SPLIT_SMOOTHING_MS: f32 = 50.0;
/// While every frequency is steady the IIR crossover only flushes denormals from its
/// state, on this coarser grid of absolute frames (a multiple of `COEF_GRID_FRAMES`),
/// so it runs long stretches without stopping.
pub const FLUSH_GRID_FRAMES: u64 = 256;

const DOC: &str = "\
crossover: N-way Linkwitz-Riley crossover, bands sum back flat.

Ports: in `in` (channels); out `band1`..`bandB` (channels each), low to high.
Config: (freqs_hz: [200, 2000], slope: \"lr4\", channels: 2, mode: \"iir\", fir_taps: 4095)
  freqs_hz  ascending split frequencies, 1..7 of them, 10 Hz .. 0.45 x rate
  slope     \"lr2\" | \"lr4\" | \"lr8\" (12/24/48 dB/oct); lr2 inverts each upper band
  mode      \"iir\": minimum phase, lower bands all-pass compensated, sum = all-pass
            \"linear_phase\": FIR bands, sum = pure delay
  fir_taps  odd FIR length for linear_phase, 63..65535 (default 4095)
Params (iir only): split1_hz..splitK_hz, defaults from freqs_hz, smoothed on a
  log-frequency ramp. linear_phase: frequencies are config.
Latency: iir 0; linear_phase (fir_taps - 1) / 2 + 64 frames.
Allocates at build only.";

params! {
    /// The param of each split (`"iir"` mode), numbered: `split1_hz` ... Its default is
    /// the split's `freqs_hz` entry.
    pub enum CrossoverParam {
        SplitHz = ParamDecl::new(
            "split{n}_hz",
            Unit::Hz,
            MIN_SPLIT_HZ as f32,
            MAX_SPLIT_HZ as f32,
            1000.0,
        )
        .smoothing_ms(SPLIT_SMOOTHING_MS),
    }
}

/// The split params of `splits` splits, from param id 0.
fn split_family(splits: usize) -> ParamFamily<CrossoverParam> {
    ParamFamily::new("split", splits, ParamId(0))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CrossoverConfig {
    pub freqs_hz: Vec<f64>,
    pub slope: String,
    pub channels: usize,
    pub mode: String,
    pub fir_taps: usize,
}

impl Default for CrossoverConfig {
    fn default() -> Self {
        Self {
            freqs_hz: DEFAULT_FREQS_HZ.to_vec(),
            slope: "lr4".into(),
            channels: DEFAULT_CHANNELS,
            mode: "iir".into(),
            fir_taps: DEFAULT_FIR_TAPS,
        }
    }
}

pub struct CrossoverKind;

impl NodeKind for CrossoverKind {
    fn name(&self) -> &'static str {
        "crossover"
    }

    fn summary(&self) -> &'static str {
        "N-way Linkwitz-Riley crossover (lr2/lr4/lr8, IIR or linear phase); bands sum flat."
    }

    fn doc(&self) -> &'static str {
        DOC
    }

    fn build(
        &self,
        config: &NodeConfig<'_>,
        ctx: &BuildContext<'_>,
    ) -> Result<BuiltNode, ConfigError> {
        let cfg: CrossoverConfig = config.parse()?;
        let slope = Slope::parse(&cfg.slope)?;
        let channels = check_channels(cfg.channels)?;
        let rate = ctx.prepare.sample_rate_hz;
        check_freqs(&cfg.freqs_hz, rate)?;
        let bands = cfg.freqs_hz.len() + 1;
        let outputs: Vec<PortSpec> = (1..=bands)
            .map(|b| PortSpec::new(format!("band{b}"), channels))
            .collect();
        let ports = NodeSpec::with_ports(vec![PortSpec::main_in(channels)], outputs);
        match cfg.mode.as_str() {
            "iir" => {
                let family = split_family(cfg.freqs_hz.len());
                let split = CrossoverParam::SplitHz.decl();
                let params = cfg
                    .freqs_hz
                    .iter()
                    .enumerate()
                    .map(|(i, f)| {
                        split
                            .with_default(*f as f32)
                            .spec_named(family.name(i, CrossoverParam::SplitHz))
                            .doc(format!("Split between band{} and band{}.", i + 1, i + 2))
                    })
                    .collect();
                let processor = IirCrossover::new(slope, &cfg.freqs_hz, channels, ctx.prepare);
                Ok(BuiltNode {
                    spec: ports.with_params(params),
                    processor: Box::new(processor),
                })
            }
            "linear_phase" => {
                if cfg.fir_taps.is_multiple_of(2) || !(63..=65535).contains(&cfg.fir_taps) {
                    return Err(ConfigError::invalid(
                        "fir_taps",
                        format!("must be odd and 63..=65535, found {}", cfg.fir_taps),
                    ));
                }
                let taps = linear_phase_taps(slope, &cfg.freqs_hz, cfg.fir_taps, rate);
                let processor = FirCrossover::new(&taps, channels);
                Ok(BuiltNode {
                    spec: ports.with_latency(processor.latency_frames()),
                    processor: Box::new(processor),
                })
            }
            other => Err(ConfigError::invalid(
                "mode",
                format!("must be \"iir\" or \"linear_phase\", found \"{other}\""),
            )),
        }
    }
}

fn check_freqs(freqs: &[f64], rate: f64) -> Result<(), ConfigError> {
    if freqs.is_empty() || freqs.len() >= MAX_BANDS {
        return Err(ConfigError::invalid(
            "freqs_hz",
            format!(
                "must list 1..={} split frequencies, found {}",
                MAX_BANDS - 1,
                freqs.len()
            ),
        ));
    }
    let top = (MAX_SPLIT_FRACTION * rate).min(MAX_SPLIT_HZ);
    for (i, f) in freqs.iter().enumerate() {
        if !(f.is_finite() && *f >= MIN_SPLIT_HZ && *f <= top) {
            return Err(ConfigError::invalid(
                format!("freqs_hz[{i}]"),
                format!("must be {MIN_SPLIT_HZ}..={top} Hz, found {f}"),
            ));
        }
        if i > 0 && *f <= freqs[i - 1] {
            return Err(ConfigError::invalid(
                format!("freqs_hz[{i}]"),
                format!(
                    "must be above the previous split ({} Hz), found {f}",
                    freqs[i - 1]
                ),
            ));
        }
    }
    Ok(())
}

/// The minimum-phase crossover: a tree of Linkwitz-Riley splits, lowest first. Band k is
/// the low side of split k taken from the high side of splits 1..k-1, then passed through
/// the all-passes of splits k+1.. so that every band carries the same phase, and the sum
/// telescopes to the product of all the splits' all-passes.
///
/// The channels are filtered two by two on lanes (see [`kernel`]); an odd last channel
/// shares its pair with a silent lane.
pub struct IirCrossover {
    slope: Slope,
    channels: usize,
    rate: f64,
    /// Per split: log2 of the frequency, ramped.
    freq_log2: Vec<LinearSmoother>,
    /// Per split: the frequency the coefficients were designed for.
    designed_hz: Vec<f32>,
    /// Per split: its coefficients on lanes.
    tables: Vec<SplitLanes>,
    /// `[pair][split][pass section]`.
    pass_state: Vec<LaneState<4>>,
    /// `[pair][band][split][all-pass section]`, used where split > band.
    allpass_state: Vec<LaneState<2>>,
    /// Input of a channel the bus lacks (the free lane of an odd last channel): silence.
    silence: Vec<f32>,
    /// Where the bands of channels the bus lacks go: `2 x bands` segments.
    spare: Vec<f32>,
    isa: Isa,
}

/// Sections in the low-pass (and in the high-pass) and in the all-pass of a split.
fn section_counts(slope: Slope) -> (usize, usize) {
    match slope {
        Slope::Lr2 => (1, 1),
        Slope::Lr4 => (2, 1),
        Slope::Lr8 => (4, 2),
    }
}

impl IirCrossover {
    fn new(slope: Slope, freqs: &[f64], channels: usize, prepare: PrepareInfo) -> Self {
        let rate = prepare.sample_rate_hz;
        let n = freqs.len();
        let pairs = channels.div_ceil(2);
        let (pass, allpass) = section_counts(slope);
        let segment = COEF_GRID_FRAMES.max(FLUSH_GRID_FRAMES) as usize;
        Self {
            slope,
            channels,
            rate,
            freq_log2: freqs
                .iter()
                .map(|f| LinearSmoother::new(f.log2() as f32, SPLIT_SMOOTHING_MS, rate))
                .collect(),
            designed_hz: freqs.iter().map(|f| *f as f32).collect(),
            tables: freqs
                .iter()
                .map(|f| SplitLanes::new(&LrSplit::new(slope, *f, rate)))
                .collect(),
            pass_state: vec![LaneState::default(); pairs * n * pass],
            allpass_state: vec![LaneState::default(); pairs * n * n * allpass],
            silence: vec![0.0; segment],
            spare: vec![0.0; segment * (n + 1) * 2],
            isa: Isa::detect(),
        }
    }

    /// Whether a split frequency ramps or its coefficients lag its value.
    fn moving(&self) -> bool {
        self.freq_log2
            .iter()
            .zip(&self.designed_hz)
            .any(|(s, &designed)| s.is_smoothing() || s.value().exp2() != designed)
    }

    /// At a grid point: redesign the splits whose frequency moved, flush denormals.
    fn on_grid(&mut self) {
        for ((s, designed), table) in self
            .freq_log2
            .iter()
            .zip(&mut self.designed_hz)
            .zip(&mut self.tables)
        {
            let hz = s.value().exp2();
            if hz != *designed {
                *designed = hz;
                *table = SplitLanes::new(&LrSplit::new(self.slope, hz as f64, self.rate));
            }
        }
        for lanes in self.pass_state.iter_mut().flatten().flatten() {
            *lanes = flush_denormal(*lanes);
        }
        for lanes in self.allpass_state.iter_mut().flatten().flatten() {
            *lanes = flush_denormal(*lanes);
        }
    }

    /// Frames `range` of the channel pair `pair`, from the inputs to the band outputs.
    /// A channel the bus lacks (or a missing port buffer) reads silence and writes to
    /// `spare`.
    fn run_pair(&mut self, io: &mut Io<'_>, pair: usize, range: std::ops::Range<usize>) {
        let n = self.tables.len();
        let bands = n + 1;
        let channels = self.channels;
        let len = range.len();
        let silence = &self.silence[..len];
        let input: [&[f32]; 2] = std::array::from_fn(|lane| {
            let ch = 2 * pair + lane;
            io.inputs
                .get(ch)
                .filter(|_| ch < channels)
                .and_then(|s| s.get(range.clone()))
                .unwrap_or(silence)
        });
        let mut output: [[&mut [f32]; 2]; MAX_BANDS] = Default::default();
        for (index, out) in io.outputs.iter_mut().enumerate() {
            let (band, ch) = (index / channels, index % channels);
            if ch / 2 == pair
                && let Some(slot) = output.get_mut(band).and_then(|b| b.get_mut(ch % 2))
                && let Some(out) = out.get_mut(range.clone())
            {
                *slot = out;
            }
        }
        let mut spare = self.spare.chunks_exact_mut(len.max(1));
        for slot in output.iter_mut().take(bands).flatten() {
            if slot.len() < len
                && let Some(chunk) = spare.next()
            {
                *slot = chunk;
            }
        }
        let (pass, allpass) = section_counts(self.slope);
        let pass_len = n * pass;
        let allpass_len = n * n * allpass;
        kernel::run_pair(
            self.isa,
            self.slope,
            PairJob {
                tables: &self.tables,
                pass_state: &mut self.pass_state[pair * pass_len..(pair + 1) * pass_len],
                allpass_state: &mut self.allpass_state
                    [pair * allpass_len..(pair + 1) * allpass_len],
                input,
                output: &mut output,
            },
        );
    }
}

impl Processor for IirCrossover {
    fn set_param(&mut self, id: ParamId, value: f32) {
        if let Some((split, CrossoverParam::SplitHz)) =
            split_family(self.freq_log2.len()).decode(id)
            && let Some(s) = self.freq_log2.get_mut(split)
        {
            s.set_target(value.max(MIN_SPLIT_HZ as f32).log2());
        }
    }

    fn reset(&mut self) {
        self.freq_log2.iter_mut().for_each(LinearSmoother::snap);
        self.pass_state.fill(LaneState::default());
        self.allpass_state.fill(LaneState::default());
        self.on_grid();
    }

    fn process(&mut self, io: &mut Io<'_>) {
        let mut done = 0;
        while done < io.frames {
            let pos = io.position_frames + done as u64;
            // Steady frequencies make a coefficient-grid point a no-op but for the flush,
            // which then happens on the coarser grid only. Within a call nothing starts
            // moving (params change between calls), so this is a function of absolute
            // frames and param history, not of block size.
            let grid = if self.moving() {
                COEF_GRID_FRAMES
            } else {
                FLUSH_GRID_FRAMES
            };
            if pos.is_multiple_of(grid) {
                self.on_grid();
            }
            let len = ((grid - pos % grid) as usize).min(io.frames - done);
            for s in self.freq_log2.iter_mut().filter(|s| s.is_smoothing()) {
                for _ in 0..len {
                    s.next();
                }
            }
            for pair in 0..self.channels.div_ceil(2) {
                self.run_pair(io, pair, done..done + len);
            }
            done += len;
        }
    }
}

/// Designs the zero-phase band FIRs of a linear-phase crossover, centred at
/// `(taps - 1) / 2`: the Linkwitz-Riley band magnitudes sampled on a dense grid, turned
/// into impulse responses by an inverse FFT, windowed (Tukey). The last band is the
/// centred unit impulse minus the others, so the bands sum to a pure delay exactly.
/// Returns one Vec of `taps` coefficients per band.
pub fn linear_phase_taps(slope: Slope, freqs: &[f64], taps: usize, rate: f64) -> Vec<Vec<f64>> {
    let half = taps / 2;
    let size = (taps.next_power_of_two() * 4).max(1024);
    let mut planner = RealFftPlanner::<f64>::new();
    let inverse = planner.plan_fft_inverse(size);
    let mut spectrum = inverse.make_input_vec();
    let mut impulse = inverse.make_output_vec();
    // Tukey window: the band responses have mostly decayed within the FIR, so the middle
    // is kept intact and only the outer quarter of each side is tapered.
    let window = |n: usize| {
        let r = (n as f64 - half as f64).abs() / (half as f64 + 1.0);
        if r <= 1.0 - FIR_TAPER_FRACTION {
            1.0
        } else {
            0.5 * (1.0 + (PI * (r - 1.0 + FIR_TAPER_FRACTION) / FIR_TAPER_FRACTION).cos())
        }
    };
    let mut bands: Vec<Vec<f64>> = Vec::with_capacity(freqs.len() + 1);
    for b in 0..freqs.len() {
        for (i, bin) in spectrum.iter_mut().enumerate() {
            let f = i as f64 * rate / size as f64;
            // Band b: high side of the splits below it, low side of its own split.
            let mut mag = slope.lowpass_magnitude(f / freqs[b]);
            for lower in &freqs[..b] {
                mag *= 1.0 - slope.lowpass_magnitude(f / lower);
            }
            *bin = Complex::new(mag / size as f64, 0.0);
        }
        inverse
            .process(&mut spectrum, &mut impulse)
            .expect("buffers come from the same plan");
        bands.push(
            (0..taps)
                .map(|n| impulse[(n + size - half) % size] * window(n))
                .collect(),
        );
    }
    let last = (0..taps)
        .map(|n| f64::from(u8::from(n == half)) - bands.iter().map(|b| b[n]).sum::<f64>())
        .collect();
    bands.push(last);
    bands
}

/// Linear-phase crossover by uniformly partitioned FFT convolution (overlap-save with
/// 64-frame partitions). The input spectrum history is shared by all bands of a channel,
/// so each partition costs one forward FFT per channel and one inverse FFT per band.
pub struct FirCrossover {
    channels: usize,
    bands: usize,
    latency: usize,
    /// The input side: partitions in, their spectra in a ring.
    input: PartitionedInput<f32>,
    inverse: Arc<dyn ComplexToReal<f32>>,
    /// `[band][partition][bin]`: FIR partition spectra, scaled for the inverse FFT.
    filters: Vec<Complex<f32>>,
    /// `[channel][band][partition]`: output being played out.
    output: Vec<f32>,
    fill: usize,
    time: Vec<f32>,
    acc: Vec<Complex<f32>>,
    scratch: Vec<Complex<f32>>,
}

impl FirCrossover {
    fn new(taps: &[Vec<f64>], channels: usize) -> Self {
        let p = FIR_PARTITION_FRAMES;
        let len = taps.first().map_or(0, Vec::len);
        let latency = len / 2 + p;
        let partitions = len.div_ceil(p);
        let mut planner = RealFftPlanner::<f32>::new();
        let forward = planner.plan_fft_forward(2 * p);
        let inverse = planner.plan_fft_inverse(2 * p);
        let bins = p + 1;
        let mut time = forward.make_input_vec();
        let mut spec = forward.make_output_vec();
        let mut filters = Vec::with_capacity(taps.len() * partitions * bins);
        let scale = 1.0 / (2 * p) as f64;
        for band in taps {
            for part in 0..partitions {
                time.fill(0.0);
                for (t, h) in time.iter_mut().zip(band.iter().skip(part * p).take(p)) {
                    *t = (h * scale) as f32;
                }
                forward
                    .process(&mut time, &mut spec)
                    .expect("buffers come from the same plan");
                filters.extend_from_slice(&spec);
            }
        }
        let scratch_len = forward.get_scratch_len().max(inverse.get_scratch_len());
        Self {
            channels,
            bands: taps.len(),
            latency,
            input: PartitionedInput::new(forward, p, partitions, channels),
            output: vec![0.0; channels * taps.len() * p],
            fill: 0,
            time,
            acc: spec,
            scratch: vec![Complex::default(); scratch_len],
            filters,
            inverse,
        }
    }

    fn latency_frames(&self) -> usize {
        self.latency
    }

    /// A partition is complete: transform it, convolve every band, refill the outputs.
    fn run_partition(&mut self) {
        let p = FIR_PARTITION_FRAMES;
        let per_band = self.filters.len() / self.bands.max(1);
        self.input.advance();
        for ch in 0..self.channels {
            self.input.transform(ch);
            for band in 0..self.bands {
                self.acc.fill(Complex::default());
                let filters = &self.filters[band * per_band..(band + 1) * per_band];
                self.input.accumulate(ch, filters, &mut self.acc);
                if let Some(first) = self.acc.first_mut() {
                    first.im = 0.0;
                }
                if let Some(last) = self.acc.last_mut() {
                    last.im = 0.0;
                }
                let _ = self.inverse.process_with_scratch(
                    &mut self.acc,
                    &mut self.time,
                    &mut self.scratch,
                );
                let at = (ch * self.bands + band) * p;
                self.output[at..at + p].copy_from_slice(&self.time[p..]);
            }
        }
    }
}

impl Processor for FirCrossover {
    fn set_param(&mut self, _id: ParamId, _value: f32) {}

    fn reset(&mut self) {
        self.input.reset();
        self.output.fill(0.0);
        self.fill = 0;
    }

    fn process(&mut self, io: &mut Io<'_>) {
        let p = FIR_PARTITION_FRAMES;
        let mut done = 0;
        while done < io.frames {
            let len = (p - self.fill).min(io.frames - done);
            for ch in 0..self.channels {
                let Some(input) = io.inputs.get(ch) else {
                    break;
                };
                self.input
                    .input_mut(ch, self.fill, len)
                    .copy_from_slice(&input[done..done + len]);
                for band in 0..self.bands {
                    let at = (ch * self.bands + band) * p + self.fill;
                    if let Some(out) = io.outputs.get_mut(band * self.channels + ch) {
                        out[done..done + len].copy_from_slice(&self.output[at..at + len]);
                    }
                }
            }
            self.fill += len;
            done += len;
            if self.fill == p {
                self.fill = 0;
                self.run_partition();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dsp::biquad::flush_state;
    use crate::dsp::linkwitz_riley::{AllpassState, BUTTERWORTH4_Q, LrSplitState};
    use lathe_engine::harness::{ParamEvent, render};

    const RATE: f64 = 48_000.0;
    const IR_FRAMES: usize = 1 << 15;

    type C64 = Complex<f64>;

    fn build(config: &str) -> BuiltNode {
        let ctx = BuildContext {
            prepare: PrepareInfo::new(RATE, 512),
            node_id: "x",
            base_dir: std::path::Path::new("."),
        };
        let mut built = CrossoverKind
            .build(&NodeConfig::from_ron(config), &ctx)
            .expect("valid config");
        built.processor.reset();
        built
    }

    /// Impulse responses of channel 0 of every band (mono crossover).
    fn band_irs(config: &str) -> Vec<Vec<f32>> {
        let mut built = build(config);
        let mut input = vec![0.0f32; IR_FRAMES];
        input[0] = 1.0;
        render(&mut built, &[input], 512, &[], &[])
    }

    fn response(ir: &[f32], f: f64) -> C64 {
        let w = -TAU_F * f / RATE;
        ir.iter()
            .enumerate()
            .map(|(n, h)| C64::from_polar(f64::from(*h), w * n as f64))
            .sum()
    }

    const TAU_F: f64 = 2.0 * PI;

    /// Log-spaced test frequencies from 10 Hz to 20 kHz.
    fn freqs() -> impl Iterator<Item = f64> {
        (0..=90).map(|i| 10.0 * 2000f64.powf(i as f64 / 90.0))
    }

    /// Analog prototype frequency of a bilinear filter split at `fc`, seen at `f`.
    fn warped(f: f64, fc: f64) -> f64 {
        (PI * f / RATE).tan() / (PI * fc / RATE).tan()
    }

    /// The all-pass a split's bands sum to, at `f`.
    fn split_allpass(slope: Slope, fc: f64, f: f64) -> C64 {
        let s = C64::new(0.0, warped(f, fc));
        let ap2 = |q: f64| (s * s - s / q + 1.0) / (s * s + s / q + 1.0);
        match slope {
            Slope::Lr2 => (1.0 - s) / (1.0 + s),
            Slope::Lr4 => ap2(std::f64::consts::FRAC_1_SQRT_2),
            Slope::Lr8 => ap2(BUTTERWORTH4_Q[0]) * ap2(BUTTERWORTH4_Q[1]),
        }
    }

    const CASES: [&[f64]; 3] = [&[1000.0], &[200.0, 2000.0], &[100.0, 1000.0, 8000.0]];
    const SLOPES: [(Slope, &str); 3] = [
        (Slope::Lr2, "lr2"),
        (Slope::Lr4, "lr4"),
        (Slope::Lr8, "lr8"),
    ];

    fn config(freqs: &[f64], slope: &str, extra: &str) -> String {
        format!("(freqs_hz: {freqs:?}, slope: \"{slope}\", channels: 1{extra})")
    }

    /// Every band of 2-, 3- and 4-band crossovers of each slope follows the analytic
    /// Linkwitz-Riley magnitude (lower splits' high-pass times own low-pass) within 1e-5
    /// (linear, about 1e-4 dB at unity), 10 Hz - 20 kHz.
    #[test]
    fn bands_follow_analytic_linkwitz_riley_magnitudes() {
        let mut worst = 0.0f64;
        for (slope, name) in SLOPES {
            for splits in CASES {
                let irs = band_irs(&config(splits, name, ""));
                for f in freqs() {
                    for (b, ir) in irs.iter().enumerate() {
                        let mut expected = splits
                            .get(b)
                            .map_or(1.0, |fc| slope.lowpass_magnitude(warped(f, *fc)));
                        for fc in &splits[..b] {
                            expected *= 1.0 - slope.lowpass_magnitude(warped(f, *fc));
                        }
                        let err = (response(ir, f).norm() - expected).abs();
                        worst = worst.max(err);
                        assert!(
                            err < 1e-5,
                            "{name} {splits:?} band{} at {f:.1} Hz: {err:e}",
                            b + 1
                        );
                    }
                }
            }
        }
        println!("worst band magnitude error: {worst:e}");
    }

    /// The band sum is flat within 0.01 dB (measured: about 1e-6 dB) and equals the
    /// product of the splits' all-passes within 1e-5 (complex), 10 Hz - 20 kHz.
    #[test]
    fn band_sum_is_the_allpass_of_the_splits() {
        let (mut worst_db, mut worst_err) = (0.0f64, 0.0f64);
        for (slope, name) in SLOPES {
            for splits in CASES {
                let irs = band_irs(&config(splits, name, ""));
                let sum: Vec<f32> = (0..IR_FRAMES)
                    .map(|n| irs.iter().map(|ir| ir[n]).sum())
                    .collect();
                for f in freqs() {
                    let h = response(&sum, f);
                    let expected: C64 = splits
                        .iter()
                        .map(|fc| split_allpass(slope, *fc, f))
                        .product();
                    let db = 20.0 * h.norm().log10();
                    let err = (h - expected).norm();
                    worst_db = worst_db.max(db.abs());
                    worst_err = worst_err.max(err);
                    assert!(
                        db.abs() < 0.01,
                        "{name} {splits:?}: sum {db} dB at {f:.1} Hz"
                    );
                    assert!(
                        err < 1e-5,
                        "{name} {splits:?}: sum off the all-pass by {err:e} at {f:.1} Hz"
                    );
                }
            }
        }
        println!("sum flatness {worst_db:e} dB, all-pass error {worst_err:e}");
    }

    /// Linear phase: the bands sum to the input delayed by the declared latency (within
    /// 1e-5 per sample, f32 FFT convolution), and each band's magnitude follows the analog
    /// Linkwitz-Riley magnitude within 5e-4 (linear), 10 Hz - 20 kHz.
    #[test]
    fn linear_phase_bands_sum_to_a_delayed_impulse() {
        for (slope, name) in SLOPES {
            for splits in CASES {
                let cfg = config(splits, name, ", mode: \"linear_phase\"");
                let latency = build(&cfg).spec.latency_frames;
                assert_eq!(latency, DEFAULT_FIR_TAPS / 2 + FIR_PARTITION_FRAMES);
                let irs = band_irs(&cfg);
                let mut worst = 0.0f32;
                for n in 0..IR_FRAMES {
                    let sum: f32 = irs.iter().map(|ir| ir[n]).sum();
                    let expected = if n == latency { 1.0 } else { 0.0 };
                    worst = worst.max((sum - expected).abs());
                }
                assert!(
                    worst < 1e-5,
                    "{name} {splits:?}: sum off a delay by {worst:e}"
                );
                let mut worst_mag = 0.0f64;
                for f in freqs() {
                    for (b, ir) in irs.iter().enumerate() {
                        let mut expected = splits
                            .get(b)
                            .map_or(1.0, |fc| slope.lowpass_magnitude(f / fc));
                        for fc in &splits[..b] {
                            expected *= 1.0 - slope.lowpass_magnitude(f / fc);
                        }
                        worst_mag = worst_mag.max((response(ir, f).norm() - expected).abs());
                    }
                }
                println!("{name} {splits:?}: sum error {worst:e}, magnitude error {worst_mag:e}");
                assert!(
                    worst_mag < 5e-4,
                    "{name} {splits:?}: band magnitude off by {worst_mag}"
                );
            }
        }
    }

    /// Moving a split while a 1 kHz sine plays does not click: the band sum never steps
    /// by more than the sine's own largest step (0.065 at amplitude 0.5) plus 10%.
    #[test]
    fn moving_a_split_is_click_free() {
        let mut built = build("(freqs_hz: [200, 2000], channels: 1)");
        let frames = 24_000;
        let input: Vec<f32> = (0..frames)
            .map(|n| 0.5 * (TAU_F * 1000.0 * n as f64 / RATE).sin() as f32)
            .collect();
        let events = [
            ParamEvent {
                frame: 4000,
                param: ParamId(0),
                value: 1500.0,
            },
            ParamEvent {
                frame: 12_000,
                param: ParamId(1),
                value: 600.0,
            },
        ];
        let out = render(&mut built, &[input], 64, &events, &[]);
        let sum: Vec<f32> = (0..frames)
            .map(|n| out.iter().map(|b| b[n]).sum())
            .collect();
        let max_step = sum
            .windows(2)
            .map(|w| (w[1] - w[0]).abs())
            .fold(0.0, f32::max);
        let limit = 0.5 * (TAU_F * 1000.0 / RATE) as f32 * 1.1;
        assert!(max_step < limit, "step {max_step} over {limit}");
    }

    /// The crossover one channel and one sample at a time through the scalar sections,
    /// with the grid logic of [`IirCrossover`]: the reference for the lane kernel.
    struct ScalarCrossover {
        slope: Slope,
        channels: usize,
        freq_log2: Vec<LinearSmoother>,
        designed_hz: Vec<f32>,
        splits: Vec<LrSplit>,
        /// `[channel][split]`.
        split_state: Vec<LrSplitState>,
        /// `[channel][band][split]`.
        ap_state: Vec<AllpassState>,
    }

    impl ScalarCrossover {
        fn new(slope: Slope, freqs: &[f64], channels: usize) -> Self {
            let n = freqs.len();
            Self {
                slope,
                channels,
                freq_log2: freqs
                    .iter()
                    .map(|f| LinearSmoother::new(f.log2() as f32, SPLIT_SMOOTHING_MS, RATE))
                    .collect(),
                designed_hz: freqs.iter().map(|f| *f as f32).collect(),
                splits: freqs
                    .iter()
                    .map(|f| LrSplit::new(slope, *f, RATE))
                    .collect(),
                split_state: vec![LrSplitState::default(); channels * n],
                ap_state: vec![AllpassState::default(); channels * n * n],
            }
        }

        fn moving(&self) -> bool {
            self.freq_log2
                .iter()
                .zip(&self.designed_hz)
                .any(|(s, &designed)| s.is_smoothing() || s.value().exp2() != designed)
        }

        fn on_grid(&mut self) {
            for ((s, designed), split) in self
                .freq_log2
                .iter()
                .zip(&mut self.designed_hz)
                .zip(&mut self.splits)
            {
                let hz = s.value().exp2();
                if hz != *designed {
                    *designed = hz;
                    *split = LrSplit::new(self.slope, hz as f64, RATE);
                }
            }
            self.split_state.iter_mut().for_each(LrSplitState::flush);
            self.ap_state.iter_mut().flatten().for_each(flush_state);
        }
    }

    impl Processor for ScalarCrossover {
        fn set_param(&mut self, id: ParamId, value: f32) {
            if let Some(s) = self.freq_log2.get_mut(id.index()) {
                s.set_target(value.max(MIN_SPLIT_HZ as f32).log2());
            }
        }

        fn reset(&mut self) {
            self.freq_log2.iter_mut().for_each(LinearSmoother::snap);
            self.split_state.fill(LrSplitState::default());
            self.ap_state.fill(AllpassState::default());
            self.on_grid();
        }

        fn process(&mut self, io: &mut Io<'_>) {
            let n = self.splits.len();
            let ch_count = self.channels;
            let mut done = 0;
            while done < io.frames {
                let pos = io.position_frames + done as u64;
                let grid = if self.moving() {
                    COEF_GRID_FRAMES
                } else {
                    FLUSH_GRID_FRAMES
                };
                if pos.is_multiple_of(grid) {
                    self.on_grid();
                }
                let len = ((grid - pos % grid) as usize).min(io.frames - done);
                for s in &mut self.freq_log2 {
                    for _ in 0..len {
                        s.next();
                    }
                }
                for ch in 0..ch_count {
                    let input = io.inputs[ch];
                    let split_state = &mut self.split_state[ch * n..(ch + 1) * n];
                    let ap_state = &mut self.ap_state[ch * n * n..(ch + 1) * n * n];
                    for (i, x) in input.iter().enumerate().skip(done).take(len) {
                        let mut rest = f64::from(*x);
                        for (k, (split, st)) in
                            self.splits.iter().zip(split_state.iter_mut()).enumerate()
                        {
                            let (lo, hi) = split.split(st, rest);
                            rest = hi;
                            let mut band = lo;
                            let later = &self.splits[k + 1..];
                            let states = &mut ap_state[k * n + k + 1..(k + 1) * n];
                            for (ap, st) in later.iter().zip(states) {
                                band = ap.allpass(st, band);
                            }
                            io.outputs[k * ch_count + ch][i] = band as f32;
                        }
                        io.outputs[n * ch_count + ch][i] = rest as f32;
                    }
                }
                done += len;
            }
        }
    }

    /// Noise at full scale and at 1e-32 (where the flush grid acts) around silence.
    fn test_signal(frames: usize, seed: u64) -> Vec<f32> {
        let mut noise = lathe_engine::harness::WhiteNoise::new(seed);
        (0..frames)
            .map(|n| {
                let x = 0.5 * noise.next_value();
                match n * 8 / frames {
                    2 | 3 => 0.0,
                    5 => x * 1e-32,
                    _ => x,
                }
            })
            .collect()
    }

    /// The lane kernel (portable, SSE2 and, where the CPU has it, AVX) gives the bits of
    /// the scalar crossover for every slope, 1 to 5 splits, on 1, 2 and 3 channels, with
    /// splits moving (coefficient grid) and steady (flush grid), at any block size.
    #[test]
    fn lane_kernel_equals_scalar_sections_bit_for_bit() {
        let isas = Isa::all_available();
        let frames = 24_000;
        let split_cases: [&[f64]; 4] = [
            &[700.0],
            &[200.0, 2000.0],
            &[100.0, 1000.0, 8000.0],
            &[60.0, 250.0, 1000.0, 4000.0, 12_000.0],
        ];
        for (slope, name) in SLOPES {
            for splits in split_cases {
                for channels in [1, 2, 3] {
                    let cfg =
                        format!("(freqs_hz: {splits:?}, slope: \"{name}\", channels: {channels})");
                    let inputs: Vec<Vec<f32>> = (0..channels)
                        .map(|c| test_signal(frames, c as u64 + 1))
                        .collect();
                    let events: Vec<ParamEvent> = (0..splits.len())
                        .flat_map(|k| {
                            [
                                ParamEvent {
                                    frame: 1000 + 37 * k as u64,
                                    param: ParamId(k as u32),
                                    value: splits[k] as f32 * 1.7,
                                },
                                ParamEvent {
                                    frame: 16_500 + 5 * k as u64,
                                    param: ParamId(k as u32),
                                    value: splits[k] as f32 * 0.8,
                                },
                            ]
                        })
                        .collect();
                    let mut reference = build(&cfg);
                    reference.processor = Box::new(ScalarCrossover::new(slope, splits, channels));
                    reference.processor.reset();
                    let expected = render(&mut reference, &inputs, 512, &events, &[]);
                    for &isa in &isas {
                        for block in [64, 333] {
                            let mut built = build(&cfg);
                            let mut lanes = IirCrossover::new(
                                slope,
                                splits,
                                channels,
                                PrepareInfo::new(RATE, 512),
                            );
                            lanes.isa = isa;
                            built.processor = Box::new(lanes);
                            built.processor.reset();
                            let out = render(&mut built, &inputs, block, &events, &[]);
                            for (o, (got, want)) in out.iter().zip(&expected).enumerate() {
                                let first = got
                                    .iter()
                                    .zip(want)
                                    .position(|(g, w)| g.to_bits() != w.to_bits());
                                assert_eq!(
                                    first, None,
                                    "{name} {splits:?} x{channels} {isa:?} block {block}: \
                                     output {o} differs"
                                );
                            }
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn bad_configs_name_the_field() {
        let ctx = BuildContext {
            prepare: PrepareInfo::new(RATE, 512),
            node_id: "x",
            base_dir: std::path::Path::new("."),
        };
        let err = |cfg: &str| match CrossoverKind.build(&NodeConfig::from_ron(cfg), &ctx) {
            Err(ConfigError::Invalid { field, .. }) => field,
            Err(other) => panic!("{cfg}: unexpected {other}"),
            Ok(_) => panic!("{cfg}: accepted"),
        };
        assert_eq!(err("(freqs_hz: [2000, 200])"), "freqs_hz[1]");
        assert_eq!(err("(freqs_hz: [])"), "freqs_hz");
        assert_eq!(err("(freqs_hz: [5])"), "freqs_hz[0]");
        assert_eq!(err("(slope: \"lr6\")"), "slope");
        assert_eq!(err("(mode: \"fast\")"), "mode");
        assert_eq!(err("(mode: \"linear_phase\", fir_taps: 1000)"), "fir_taps");
        assert_eq!(err("(channels: 0)"), "channels");
    }
}
