//! `spectrum`: an FFT analyser publishing 1/3-octave band levels as meters; audio passes
//! through unchanged.
//!
//! - Ports: in `in`, out `out` (N channels).
//! - Config: `(channels: 2, fft_size: 8192, window: "hann")`. `fft_size` is a power of
//!   two in 512 ..= 65536; `window` is `"hann"`, `"blackman_harris"` or `"flat_top"`.
//!   Frames overlap by 75 % (a new spectrum every `fft_size / 4` frames, on a grid of
//!   frames counted from reset).
//! - Params ([`SpectrumParam`]): `smoothing_ms`, time constant of the exponential
//!   averaging of band powers between spectra; `slope_db_per_oct`, tilt added to every
//!   band around 1 kHz (`+3` shows white noise flat, `+4.5` compensates a typical
//!   mastering reference slope).
//! - Meters: `band_<f>hz_db` for the ISO nominal 1/3-octave centres from 20 Hz to 20 kHz
//!   below Nyquist (`band_20hz_db`, `band_31_5hz_db`, `band_1000hz_db`, ...). Level of
//!   the band's power averaged over channels, in dB relative to a full-scale sine: a
//!   sine of amplitude A inside a band reads 20·log10(A). A band narrower than one FFT
//!   bin reads the nearest bin's power scaled by its share of the bin. NaN before the
//!   first spectrum and for digital silence.
//! - Latency: 0. Allocates at build: the FFT plan, input rings and spectra (about
//!   `fft_size · (channels + 4)` values). The FFTs run in the block where a hop ends,
//!   so the cost comes in bursts of one FFT per channel every `fft_size / 4` frames.

use std::sync::Arc;

use lathe_engine::{
    BuildContext, BuiltNode, ConfigError, Io, MeterSpec, NodeConfig, NodeKind, NodeSpec, ParamDecl,
    ParamId, ParamTable, Processor, Unit, params,
};
use realfft::num_complex::Complex;
use realfft::{RealFftPlanner, RealToComplex};
use serde::Deserialize;

use crate::bus::{DEFAULT_CHANNELS, check_channels};

pub const DEFAULT_FFT_SIZE: usize = 8192;
pub const DEFAULT_SMOOTHING_MS: f32 = 300.0;
params! {
    /// The params of `spectrum`.
    pub enum SpectrumParam {
        SmoothingMs =
            ParamDecl::new("smoothing_ms", Unit::Ms, 0.0, 10_000.0, DEFAULT_SMOOTHING_MS)
                .smoothing_ms(0.0)
                .doc("Time constant of the averaging of band powers."),
        SlopeDbPerOct = ParamDecl::new("slope_db_per_oct", Unit::Db, -12.0, 12.0, 0.0)
            .smoothing_ms(0.0)
            .doc("Tilt added to every band, in dB per octave around 1 kHz."),
    }
}

/// Spectra per FFT length (75 % overlap).
const OVERLAP: usize = 4;

/// ISO nominal 1/3-octave centres (meter name part, exact base-2 centre = 1000·2^(k/3)).
const BANDS: [(&str, i32); 31] = [
    ("20", -17),
    ("25", -16),
    ("31_5", -15),
    ("40", -14),
    ("50", -13),
    ("63", -12),
    ("80", -11),
    ("100", -10),
    ("125", -9),
    ("160", -8),
    ("200", -7),
    ("250", -6),
    ("315", -5),
    ("400", -4),
    ("500", -3),
    ("630", -2),
    ("800", -1),
    ("1000", 0),
    ("1250", 1),
    ("1600", 2),
    ("2000", 3),
    ("2500", 4),
    ("3150", 5),
    ("4000", 6),
    ("5000", 7),
    ("6300", 8),
    ("8000", 9),
    ("10000", 10),
    ("12500", 11),
    ("16000", 12),
    ("20000", 13),
];

const DOC: &str = "\
FFT analyser with 1/3-octave band meters; audio passes through unchanged.
Ports: in `in`, out `out` (N channels).
Config: channels (default 2), fft_size (power of two 512..=65536, default 8192), window
  (\"hann\" default, \"blackman_harris\", \"flat_top\"). 75 % overlap.
Params: smoothing_ms: averaging of band powers; slope_db_per_oct: tilt around 1 kHz
  added to every band.
Meters: band_<f>hz_db for 1/3-octave centres 20 Hz..20 kHz below Nyquist (band_31_5hz_db,
  band_1000hz_db...): band power averaged over channels, dB re a full-scale sine (a sine of
  amplitude A reads 20·log10(A)). NaN before the first spectrum and for silence.
Latency: 0. Allocates at build only (FFT plan, rings, spectra).";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SpectrumConfig {
    pub channels: usize,
    pub fft_size: usize,
    pub window: String,
}

impl Default for SpectrumConfig {
    fn default() -> Self {
        Self {
            channels: DEFAULT_CHANNELS,
            fft_size: DEFAULT_FFT_SIZE,
            window: "hann".into(),
        }
    }
}

/// The analysis window of `size` points (periodic form, suited to overlapped FFTs).
fn window(name: &str, size: usize) -> Option<Vec<f64>> {
    let coefs: &[f64] = match name {
        "hann" => &[0.5, 0.5],
        "blackman_harris" => &[0.35875, 0.48829, 0.14128, 0.01168],
        "flat_top" => &[
            0.21557895,
            0.41663158,
            0.277263158,
            0.083578947,
            0.006947368,
        ],
        _ => return None,
    };
    Some(
        (0..size)
            .map(|n| {
                let x = 2.0 * std::f64::consts::PI * n as f64 / size as f64;
                coefs
                    .iter()
                    .enumerate()
                    .map(|(k, a)| if k % 2 == 0 { *a } else { -a } * (k as f64 * x).cos())
                    .sum()
            })
            .collect(),
    )
}

/// Bins summed into one band: `weight` scales a band narrower than a bin.
#[derive(Debug, Clone, Copy, PartialEq)]
struct BandBins {
    start: usize,
    end: usize,
    weight: f64,
    /// Tilt reference: octaves from 1 kHz.
    octaves: f64,
}

fn band_bins(sample_rate_hz: f64, fft_size: usize) -> Vec<(&'static str, BandBins)> {
    let bin_hz = sample_rate_hz / fft_size as f64;
    let last_bin = fft_size / 2;
    BANDS
        .iter()
        .filter_map(|&(name, k)| {
            let octaves = k as f64 / 3.0;
            let centre = 1000.0 * 2f64.powf(octaves);
            if centre >= sample_rate_hz / 2.0 {
                return None;
            }
            let (lo, hi) = (
                centre * 2f64.powf(-1.0 / 6.0),
                centre * 2f64.powf(1.0 / 6.0),
            );
            let start = (lo / bin_hz).ceil() as usize;
            let end = ((hi / bin_hz).ceil() as usize).min(last_bin + 1);
            let bins = if start < end {
                BandBins {
                    start,
                    end,
                    weight: 1.0,
                    octaves,
                }
            } else {
                let nearest = ((centre / bin_hz).round() as usize).min(last_bin);
                BandBins {
                    start: nearest,
                    end: nearest + 1,
                    weight: (hi - lo) / bin_hz,
                    octaves,
                }
            };
            Some((name, bins))
        })
        .collect()
}

pub struct SpectrumKind;

impl NodeKind for SpectrumKind {
    fn name(&self) -> &'static str {
        "spectrum"
    }

    fn summary(&self) -> &'static str {
        "FFT analyser: 1/3-octave band levels as meters, smoothing and slope compensation."
    }

    fn doc(&self) -> &'static str {
        DOC
    }

    fn build(
        &self,
        config: &NodeConfig<'_>,
        ctx: &BuildContext<'_>,
    ) -> Result<BuiltNode, ConfigError> {
        let cfg: SpectrumConfig = config.parse()?;
        check_channels(cfg.channels)?;
        if !cfg.fft_size.is_power_of_two() || !(512..=65536).contains(&cfg.fft_size) {
            return Err(ConfigError::invalid(
                "fft_size",
                format!(
                    "must be a power of two in 512..=65536, found {}",
                    cfg.fft_size
                ),
            ));
        }
        let window = window(&cfg.window, cfg.fft_size).ok_or_else(|| {
            ConfigError::invalid(
                "window",
                format!(
                    "must be \"hann\", \"blackman_harris\" or \"flat_top\", found {:?}",
                    cfg.window
                ),
            )
        })?;
        let rate = ctx.prepare.sample_rate_hz;
        let bands = band_bins(rate, cfg.fft_size);
        let meters = bands
            .iter()
            .map(|(name, _)| {
                MeterSpec::new(
                    format!("band_{name}hz_db"),
                    Unit::Db,
                    "1/3-octave band level.",
                )
            })
            .collect();
        let spec = NodeSpec::in_out(cfg.channels)
            .with_params(SpectrumParam::specs())
            .with_meters(meters);
        let fft = RealFftPlanner::<f64>::new().plan_fft_forward(cfg.fft_size);
        let window_power: f64 = window.iter().map(|w| w * w).sum();
        let mut processor = SpectrumProcessor {
            channels: cfg.channels,
            fft_size: cfg.fft_size,
            hop: cfg.fft_size / OVERLAP,
            sample_rate_hz: rate,
            // Power of the positive-frequency bins to "squared amplitude of a sine".
            scale: 4.0 / (cfg.fft_size as f64 * window_power * cfg.channels as f64),
            keep: 0.0,
            slope_db_per_oct: SpectrumParam::SlopeDbPerOct.default_value().into(),
            bands: bands.iter().map(|(_, b)| *b).collect(),
            window,
            ring: vec![0.0; cfg.channels * cfg.fft_size],
            ring_pos: 0,
            fill: 0,
            frame: fft.make_input_vec(),
            spectrum: fft.make_output_vec(),
            scratch: fft.make_scratch_vec(),
            power: vec![0.0; cfg.fft_size / 2 + 1],
            band_power: vec![0.0; bands.len()],
            has_spectrum: false,
            fft,
        };
        processor.set_smoothing(SpectrumParam::SmoothingMs.default_value());
        Ok(BuiltNode {
            spec,
            processor: Box::new(processor),
        })
    }
}

pub struct SpectrumProcessor {
    channels: usize,
    fft_size: usize,
    hop: usize,
    sample_rate_hz: f64,
    scale: f64,
    /// Share of the previous band power kept at each new spectrum.
    keep: f64,
    slope_db_per_oct: f64,
    bands: Vec<BandBins>,
    window: Vec<f64>,
    /// Last `fft_size` input samples per channel (channel-major ring).
    ring: Vec<f64>,
    ring_pos: usize,
    /// Frames since the last spectrum.
    fill: usize,
    frame: Vec<f64>,
    spectrum: Vec<Complex<f64>>,
    scratch: Vec<Complex<f64>>,
    power: Vec<f64>,
    band_power: Vec<f64>,
    has_spectrum: bool,
    fft: Arc<dyn RealToComplex<f64>>,
}

impl SpectrumProcessor {
    fn set_smoothing(&mut self, ms: f32) {
        let spectra = ms as f64 * 0.001 * self.sample_rate_hz / self.hop as f64;
        self.keep = if spectra > 0.0 {
            (-1.0 / spectra).exp()
        } else {
            0.0
        };
    }

    fn push(&mut self, channel: usize, input: &[f32]) {
        let ring = &mut self.ring[channel * self.fft_size..(channel + 1) * self.fft_size];
        let mut pos = self.ring_pos;
        for chunk in input.chunks(self.fft_size) {
            let first = chunk.len().min(self.fft_size - pos);
            for (r, &x) in ring[pos..pos + first].iter_mut().zip(chunk) {
                *r = x as f64;
            }
            for (r, &x) in ring.iter_mut().zip(&chunk[first..]) {
                *r = x as f64;
            }
            pos = (pos + chunk.len()) % self.fft_size;
        }
    }

    fn analyse(&mut self) {
        self.power.fill(0.0);
        let n = self.fft_size;
        for c in 0..self.channels {
            let ring = &self.ring[c * n..(c + 1) * n];
            // Oldest sample first: the ring's write position onwards, then the start.
            let (newer, older) = ring.split_at(self.ring_pos);
            for ((f, &x), &w) in self
                .frame
                .iter_mut()
                .zip(older.iter().chain(newer))
                .zip(&self.window)
            {
                *f = x * w;
            }
            if self
                .fft
                .process_with_scratch(&mut self.frame, &mut self.spectrum, &mut self.scratch)
                .is_ok()
            {
                for (p, s) in self.power.iter_mut().zip(&self.spectrum) {
                    *p += s.norm_sqr();
                }
            }
        }
        let keep = if self.has_spectrum { self.keep } else { 0.0 };
        for (b, bp) in self.bands.iter().zip(self.band_power.iter_mut()) {
            let sum: f64 = self.power[b.start..b.end].iter().sum();
            let now = sum * b.weight * self.scale;
            *bp = keep * *bp + (1.0 - keep) * now;
        }
        self.has_spectrum = true;
    }
}

impl Processor for SpectrumProcessor {
    fn set_param(&mut self, id: ParamId, value: f32) {
        match SpectrumParam::from_id(id) {
            Some(SpectrumParam::SmoothingMs) => self.set_smoothing(value),
            Some(SpectrumParam::SlopeDbPerOct) => self.slope_db_per_oct = value as f64,
            None => {}
        }
    }

    fn reset(&mut self) {
        self.ring.fill(0.0);
        self.ring_pos = 0;
        self.fill = 0;
        self.band_power.fill(0.0);
        self.has_spectrum = false;
    }

    fn process(&mut self, io: &mut Io<'_>) {
        io.copy_through();
        let frames = io.frames;
        let mut offset = 0;
        while offset < frames {
            let n = (frames - offset).min(self.hop - self.fill);
            for (c, input) in io.inputs.iter().enumerate().take(self.channels) {
                self.push(c, &input[offset..offset + n]);
            }
            self.ring_pos = (self.ring_pos + n) % self.fft_size;
            offset += n;
            self.fill += n;
            if self.fill == self.hop {
                self.fill = 0;
                self.analyse();
            }
        }
        for (i, (b, &p)) in self.bands.iter().zip(&self.band_power).enumerate() {
            let db = if self.has_spectrum && p > 0.0 {
                (10.0 * p.log10() + self.slope_db_per_oct * b.octaves) as f32
            } else {
                f32::NAN
            };
            io.set_meter(i, db);
        }
    }
}
