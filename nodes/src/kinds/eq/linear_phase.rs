//! Linear-phase mode of `eq`: the magnitude of the minimum-phase bands with zero phase,
//! applied by uniformly partitioned FFT convolution (overlap-save).
//!
//! Kernel design (off the per-sample path, at a control grid, never allocating): the
//! matched biquads' magnitude is sampled on `2 * fir_frames` bins, turned into a zero-phase
//! impulse response by an inverse real FFT, and windowed (Tukey, flat half) to
//! `fir_frames - 2P - 1` taps symmetric around their centre, where `P = fir_frames / 32`
//! is the partition size. The input is buffered in partitions of `P`, which delays by
//! `P`; the kernel is stored `P` frames early to absorb it, so the latency is exactly
//! `fir_frames / 2` and the impulse response is symmetric around it.
//!
//! Channel modes: with `left`/`right`/`mid`/`side` bands the response is a 2x2 matrix per
//! frequency (the product of the bands' matrices in band order), applied with four
//! kernels; otherwise one kernel filters every channel.
//!
//! Param changes: every [`CONTROL_GRID_FRAMES`] absolute frames (or every partition,
//! when a partition is longer), if a param changed, the kernel is redesigned at the params' targets and the output crossfades linearly from
//! the old kernel to the new one over the next grid period. Convolution is linear in the
//! kernel, so the crossfade is the same as a kernel that morphs sample by sample: no
//! click. Resolution: a kernel of `fir_frames` cannot follow responses that change within
//! about `2 * rate / fir_frames` Hz (23 Hz at 4096 frames and 48 kHz), so the lowest
//! corners (a 30 Hz high pass) are smoothed there.

use std::sync::Arc;

use lathe_engine::{ConfigError, Io, ParamId, ParamRoutes, Processor};
use realfft::num_complex::Complex;
use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};

use crate::dsp::biquad::{Coefs, MAX_SECTIONS};
use crate::dsp::eq_band::{BandField, BandLayout, BandValues, ChannelMode};
use crate::dsp::partitioned::PartitionedInput;

/// Frames between kernel redesigns while params move; also the crossfade length.
pub const CONTROL_GRID_FRAMES: usize = 1024;
/// Allowed kernel lengths.
pub const FIR_FRAMES_RANGE: (usize, usize) = (256, 65_536);

/// Validates `fir_frames`.
pub fn check_fir_frames(fir_frames: usize) -> Result<(), ConfigError> {
    let (lo, hi) = FIR_FRAMES_RANGE;
    if !fir_frames.is_power_of_two() || fir_frames < lo || fir_frames > hi {
        return Err(ConfigError::invalid(
            "fir_frames",
            format!("must be a power of two in {lo}..={hi}, found {fir_frames}"),
        ));
    }
    Ok(())
}

/// Partition size for a kernel of `fir_frames`.
pub fn partition_frames(fir_frames: usize) -> usize {
    (fir_frames / 32).max(16)
}

/// Scratch and plans for designing kernels.
struct Designer {
    /// Inverse FFT of the design length `2 * fir_frames`.
    inverse: Arc<dyn ComplexToReal<f64>>,
    forward_part: Arc<dyn RealToComplex<f64>>,
    /// Per kernel: the real (zero-phase) spectrum on the design grid.
    spectra: Vec<Complex<f64>>,
    time: Vec<f64>,
    scratch: Vec<Complex<f64>>,
    part_in: Vec<f64>,
    part_scratch: Vec<Complex<f64>>,
    window: Vec<f64>,
    band_coefs: Vec<[Coefs; MAX_SECTIONS]>,
}

pub struct LinearPhaseProcessor {
    layouts: Vec<BandLayout>,
    routes_params: ParamRoutes<(usize, BandField)>,
    values: Vec<BandValues>,
    dirty: bool,
    channels: usize,
    sample_rate_hz: f64,
    fir_frames: usize,
    part: usize,
    parts: usize,
    /// 1 (shared) or 4 (2x2 matrix) kernels.
    kernels: usize,
    /// (output channel, input channel, kernel).
    routes: Vec<(usize, usize, usize)>,
    /// Two kernel sets (current and previous): `[set][kernel][partition][bin]`.
    kernel_spec: Vec<Complex<f64>>,
    active: usize,
    /// The input side: partitions in, their spectra in a ring.
    input: PartitionedInput<f64>,
    /// Per channel: the output partition being played.
    out_part: Vec<f64>,
    fill: usize,
    chunks: u64,
    crossfade_done: usize,
    crossfading: bool,
    // Audio-path scratch.
    acc: Vec<Complex<f64>>,
    acc_old: Vec<Complex<f64>>,
    time: Vec<f64>,
    time_old: Vec<f64>,
    spec_tmp: Vec<Complex<f64>>,
    scratch: Vec<Complex<f64>>,
    inverse: Arc<dyn ComplexToReal<f64>>,
    designer: Designer,
}

impl LinearPhaseProcessor {
    /// `fir_frames` must have passed [`check_fir_frames`].
    pub fn new(
        layouts: Vec<BandLayout>,
        routes_params: ParamRoutes<(usize, BandField)>,
        channels: usize,
        sample_rate_hz: f64,
        fir_frames: usize,
    ) -> Self {
        let part = partition_frames(fir_frames);
        let parts = fir_frames / part - 2;
        let bins = part + 1;
        let matrix = channels == 2 && layouts.iter().any(|l| l.channel != ChannelMode::Stereo);
        let (kernels, routes) = if matrix {
            (4, vec![(0, 0, 0), (0, 1, 1), (1, 0, 2), (1, 1, 3)])
        } else {
            (1, (0..channels).map(|c| (c, c, 0)).collect())
        };
        let mut planner = RealFftPlanner::<f64>::new();
        let forward = planner.plan_fft_forward(2 * part);
        let inverse = planner.plan_fft_inverse(2 * part);
        let design_len = 2 * fir_frames;
        let design_inverse = planner.plan_fft_inverse(design_len);
        let scratch_len = forward.get_scratch_len().max(inverse.get_scratch_len());
        let half = fir_frames / 2 - part - 1;
        let flat = half / 2;
        let window = (0..=half)
            .map(|d| {
                if d <= flat {
                    1.0
                } else {
                    let x = (d - flat) as f64 / (half + 1 - flat) as f64;
                    0.5 * (1.0 + (std::f64::consts::PI * x).cos())
                }
            })
            .collect();
        let designer = Designer {
            spectra: vec![Complex::default(); kernels * (design_len / 2 + 1)],
            time: vec![0.0; design_len],
            scratch: vec![Complex::default(); design_inverse.get_scratch_len()],
            part_in: vec![0.0; 2 * part],
            part_scratch: vec![Complex::default(); forward.get_scratch_len()],
            window,
            band_coefs: vec![[Coefs::IDENTITY; MAX_SECTIONS]; layouts.len()],
            inverse: design_inverse,
            forward_part: Arc::clone(&forward),
        };
        let values = layouts
            .iter()
            .map(|l| l.initial_values(sample_rate_hz))
            .collect();
        let mut p = Self {
            layouts,
            routes_params,
            values,
            dirty: false,
            channels,
            sample_rate_hz,
            fir_frames,
            part,
            parts,
            kernels,
            routes,
            kernel_spec: vec![Complex::default(); 2 * kernels * parts * bins],
            active: 0,
            input: PartitionedInput::new(Arc::clone(&forward), part, parts, channels),
            out_part: vec![0.0; channels * part],
            fill: 0,
            chunks: 0,
            crossfade_done: 0,
            crossfading: false,
            acc: vec![Complex::default(); bins],
            acc_old: vec![Complex::default(); bins],
            time: vec![0.0; 2 * part],
            time_old: vec![0.0; 2 * part],
            spec_tmp: vec![Complex::default(); bins],
            scratch: vec![Complex::default(); scratch_len],
            inverse,
            designer,
        };
        p.reset();
        p
    }

    /// Designs the kernels for the params' targets into kernel set `set`.
    fn design(&mut self, set: usize) {
        let d = &mut self.designer;
        for ((layout, values), coefs) in self
            .layouts
            .iter()
            .zip(&self.values)
            .zip(d.band_coefs.iter_mut())
        {
            let (f, g, q) = values.target();
            layout
                .design(f, g, q)
                .analog()
                .matched(self.sample_rate_hz, coefs);
        }
        let design_len = d.time.len();
        let bins = design_len / 2 + 1;
        for k in 0..bins {
            let w = std::f64::consts::TAU * k as f64 / design_len as f64;
            let z1 = Complex::from_polar(1.0, -w);
            let z2 = z1 * z1;
            // Response as a 2x2 real matrix [[a, b], [c, d]], applied band after band.
            let mut m = [1.0, 0.0, 0.0, 1.0];
            for (layout, coefs) in self.layouts.iter().zip(&d.band_coefs) {
                let h: f64 = coefs
                    .iter()
                    .map(|c| {
                        let num = z1 * c.b1 + z2 * c.b2 + c.b0;
                        let den = z1 * c.a1 + z2 * c.a2 + 1.0;
                        num.norm() / den.norm()
                    })
                    .product();
                let band = match layout.channel {
                    ChannelMode::Stereo => [h, 0.0, 0.0, h],
                    ChannelMode::Left => [h, 0.0, 0.0, 1.0],
                    ChannelMode::Right => [1.0, 0.0, 0.0, h],
                    ChannelMode::Mid => [
                        0.5 * (h + 1.0),
                        0.5 * (h - 1.0),
                        0.5 * (h - 1.0),
                        0.5 * (h + 1.0),
                    ],
                    ChannelMode::Side => [
                        0.5 * (1.0 + h),
                        0.5 * (1.0 - h),
                        0.5 * (1.0 - h),
                        0.5 * (1.0 + h),
                    ],
                };
                m = [
                    band[0] * m[0] + band[1] * m[2],
                    band[0] * m[1] + band[1] * m[3],
                    band[2] * m[0] + band[3] * m[2],
                    band[2] * m[1] + band[3] * m[3],
                ];
            }
            for (kern, value) in m.iter().enumerate().take(self.kernels) {
                d.spectra[kern * bins + k] = Complex::new(*value, 0.0);
            }
        }
        let part = self.part;
        let pbins = part + 1;
        let centre = self.fir_frames / 2 - part;
        let half = d.window.len() - 1;
        let scale = 1.0 / (design_len as f64 * 2.0 * part as f64);
        for kern in 0..self.kernels {
            let spectrum = &mut d.spectra[kern * bins..(kern + 1) * bins];
            let _ = d
                .inverse
                .process_with_scratch(spectrum, &mut d.time, &mut d.scratch);
            for p in 0..self.parts {
                for (i, x) in d.part_in.iter_mut().enumerate() {
                    let m = p * part + i;
                    let dist = m.abs_diff(centre);
                    *x = if i < part && dist <= half {
                        let idx = if m >= centre { dist } else { design_len - dist };
                        d.time[idx % design_len] * d.window[dist] * scale
                    } else {
                        0.0
                    };
                }
                let at = ((set * self.kernels + kern) * self.parts + p) * pbins;
                let out = &mut self.kernel_spec[at..at + pbins];
                let _ =
                    d.forward_part
                        .process_with_scratch(&mut d.part_in, out, &mut d.part_scratch);
            }
        }
    }

    /// One full input partition is in: convolve and produce the next output partition.
    fn run_partition(&mut self) {
        if self.dirty && !self.crossfading {
            let grid = (CONTROL_GRID_FRAMES / self.part).max(1) as u64;
            if self.chunks.is_multiple_of(grid) {
                self.active ^= 1;
                let set = self.active;
                self.design(set);
                self.dirty = false;
                self.crossfading = true;
                self.crossfade_done = 0;
            }
        }
        let part = self.part;
        self.input.advance();
        for c in 0..self.channels {
            self.input.transform(c);
        }
        let fade = CONTROL_GRID_FRAMES.max(part);
        for o in 0..self.channels {
            convolve(self, o, self.active, false);
            if self.crossfading {
                convolve(self, o, self.active ^ 1, true);
            }
            let out = &mut self.out_part[o * part..(o + 1) * part];
            for (i, y) in out.iter_mut().enumerate() {
                let new = self.time[part + i];
                *y = if self.crossfading {
                    let t = (self.crossfade_done + i + 1) as f64 / fade as f64;
                    let old = self.time_old[part + i];
                    old + (new - old) * t.min(1.0)
                } else {
                    new
                };
            }
        }
        if self.crossfading {
            self.crossfade_done += part;
            if self.crossfade_done >= fade {
                self.crossfading = false;
            }
        }
        self.chunks += 1;
    }
}

/// Sums the partitions of every route into output `o` with kernel set `set` and returns
/// to the time domain (`time`, or `time_old`).
fn convolve(p: &mut LinearPhaseProcessor, o: usize, set: usize, old: bool) {
    let kernel_len = p.parts * (p.part + 1);
    let acc = if old { &mut p.acc_old } else { &mut p.acc };
    acc.fill(Complex::default());
    for &(out, input, kern) in &p.routes {
        if out != o {
            continue;
        }
        let kernel = &p.kernel_spec[(set * p.kernels + kern) * kernel_len..][..kernel_len];
        p.input.accumulate(input, kernel, acc);
    }
    p.spec_tmp.copy_from_slice(acc);
    let time = if old { &mut p.time_old } else { &mut p.time };
    let _ = p
        .inverse
        .process_with_scratch(&mut p.spec_tmp, time, &mut p.scratch);
}

impl Processor for LinearPhaseProcessor {
    fn set_param(&mut self, id: ParamId, value: f32) {
        if let Some((band, field)) = self.routes_params.get(id)
            && let Some(v) = self.values.get_mut(band)
        {
            v.set(field, value);
            v.snap();
            self.dirty = true;
        }
    }

    fn reset(&mut self) {
        self.input.reset();
        self.out_part.fill(0.0);
        self.fill = 0;
        self.chunks = 0;
        self.crossfading = false;
        self.crossfade_done = 0;
        self.active = 0;
        self.design(0);
        self.dirty = false;
    }

    fn process(&mut self, io: &mut Io<'_>) {
        let part = self.part;
        let frames = io.frames;
        let mut start = 0;
        while start < frames {
            let n = (part - self.fill).min(frames - start);
            for c in 0..self.channels {
                let hist = self.input.input_mut(c, self.fill, n);
                match io.inputs.get(c) {
                    Some(src) => {
                        for (h, s) in hist.iter_mut().zip(&src[start..start + n]) {
                            *h = *s as f64;
                        }
                    }
                    None => hist.fill(0.0),
                }
                if let Some(out) = io.outputs.get_mut(c) {
                    let src = &self.out_part[c * part + self.fill..][..n];
                    for (o, s) in out[start..start + n].iter_mut().zip(src) {
                        *o = *s as f32;
                    }
                }
            }
            self.fill += n;
            start += n;
            if self.fill == part {
                self.fill = 0;
                self.run_partition();
            }
        }
    }
}
