//! The minimum-phase (IIR) processor of `eq`: matched biquads, params smoothed per
//! sample, coefficients recomputed on a grid of absolute frames while a band moves.

use lathe_engine::{Io, ParamId, ParamRoutes, Processor};

use crate::dsp::biquad::{Coefs, MAX_SECTIONS};
use crate::dsp::coef_grid::COEF_GRID_FRAMES;
use crate::dsp::eq_band::{BandField, BandLayout, BandValues};
use crate::dsp::filter_chain::FilterChain;
use crate::dsp::work_buffer::{read_input, write_output};

#[derive(Debug)]
pub struct MinimumPhaseProcessor {
    layouts: Vec<BandLayout>,
    routes: ParamRoutes<(usize, BandField)>,
    values: Vec<BandValues>,
    dirty: Vec<bool>,
    any_dirty: bool,
    chain: FilterChain,
    /// f64 copy of the block, channel `c` at `c * stride`.
    work: Vec<f64>,
    stride: usize,
    channels: usize,
    sample_rate_hz: f64,
}

impl MinimumPhaseProcessor {
    pub fn new(
        layouts: Vec<BandLayout>,
        routes: ParamRoutes<(usize, BandField)>,
        channels: usize,
        sample_rate_hz: f64,
        max_block_frames: usize,
    ) -> Self {
        let values = layouts
            .iter()
            .map(|l| l.initial_values(sample_rate_hz))
            .collect();
        let chain = FilterChain::new(&layouts, channels);
        let mut p = Self {
            dirty: vec![false; layouts.len()],
            layouts,
            routes,
            values,
            any_dirty: false,
            chain,
            work: vec![0.0; channels * max_block_frames],
            stride: max_block_frames,
            channels,
            sample_rate_hz,
        };
        p.reset();
        p
    }

    fn design_band(&mut self, band: usize) {
        let (Some(layout), Some(values)) = (self.layouts.get(band), self.values.get(band)) else {
            return;
        };
        let (f, g, q) = values.current();
        let mut coefs = [Coefs::IDENTITY; MAX_SECTIONS];
        layout
            .design(f, g, q)
            .analog()
            .matched(self.sample_rate_hz, &mut coefs);
        self.chain.set_band(band, &coefs);
    }

    /// At a grid frame: redesign moving bands; a band whose ramps ended is designed at
    /// its target one last time and goes quiet.
    fn update_moving(&mut self) {
        let mut any = false;
        for band in 0..self.dirty.len() {
            if self.dirty[band] {
                self.design_band(band);
                let moving = self.values[band].is_smoothing();
                self.dirty[band] = moving;
                any |= moving;
            }
        }
        self.any_dirty = any;
    }
}

impl Processor for MinimumPhaseProcessor {
    fn set_param(&mut self, id: ParamId, value: f32) {
        if let Some((band, field)) = self.routes.get(id)
            && let (Some(v), Some(d)) = (self.values.get_mut(band), self.dirty.get_mut(band))
        {
            v.set(field, value);
            *d = true;
            self.any_dirty = true;
        }
    }

    fn reset(&mut self) {
        for v in &mut self.values {
            v.snap();
        }
        for band in 0..self.layouts.len() {
            self.design_band(band);
        }
        self.dirty.fill(false);
        self.any_dirty = false;
        self.chain.reset();
    }

    fn process(&mut self, io: &mut Io<'_>) {
        let frames = io.frames.min(self.stride);
        read_input(io, &mut self.work, self.stride, self.channels, frames);
        let mut start = 0;
        while start < frames {
            let pos = io.position_frames + start as u64;
            let mut end = frames;
            if self.any_dirty {
                if pos.is_multiple_of(COEF_GRID_FRAMES) {
                    self.update_moving();
                }
                let to_grid = (COEF_GRID_FRAMES - pos % COEF_GRID_FRAMES) as usize;
                end = frames.min(start + to_grid);
                for (v, &d) in self.values.iter_mut().zip(&self.dirty) {
                    if d {
                        for _ in start..end {
                            v.step();
                        }
                    }
                }
            }
            self.chain
                .process(&mut self.work, self.stride, start..end, pos);
            start = end;
        }
        write_output(io, &self.work, self.stride, self.channels, frames);
    }
}

#[cfg(test)]
mod tests {
    use lathe_engine::harness::{ParamEvent, render};
    use lathe_engine::{BuildContext, BuiltNode, NodeConfig, NodeKind, ParamId, PrepareInfo};

    use super::*;
    use crate::dsp::cpu::Isa;
    use crate::dsp::eq_band::{ALL_TYPES, parse_bands};
    use crate::dsp::filter_chain::Mode;
    use crate::kinds::eq::{EqConfig, EqKind};

    const RATE: f64 = 48_000.0;

    /// The `eq` of `config` with its chain in `mode`.
    fn build(config: &str, mode: Mode) -> BuiltNode {
        let ctx = BuildContext {
            prepare: PrepareInfo::new(RATE, 512),
            node_id: "x",
            base_dir: std::path::Path::new("."),
        };
        let node_config = NodeConfig::from_ron(config);
        let mut built = EqKind.build(&node_config, &ctx).expect("valid config");
        let cfg: EqConfig = node_config.parse().expect("valid config");
        let (layouts, _, routes) =
            parse_bands(&cfg.bands, cfg.channels, ALL_TYPES).expect("valid bands");
        let mut processor = MinimumPhaseProcessor::new(layouts, routes, cfg.channels, RATE, 512);
        processor.chain.set_mode(mode);
        built.processor = Box::new(processor);
        built.processor.reset();
        built
    }

    /// Noise from rest: at 1e-32 (below the flush threshold) for the first sixth if
    /// `tiny`, then at full scale with silence in the fourth sixth.
    fn signal(frames: usize, seed: u64, tiny: bool) -> Vec<f32> {
        let mut noise = lathe_engine::harness::WhiteNoise::new(seed);
        (0..frames)
            .map(|n| {
                let x = 0.5 * noise.next_value();
                match n * 6 / frames {
                    0 if tiny => x * 1e-32,
                    3 => 0.0,
                    _ => x,
                }
            })
            .collect()
    }

    /// Mono, stereo with left, mid and side bands, three channels.
    const CASES: [(u64, &str); 3] = [
        (1, "[(type: \"high_pass\", order: 4), (type: \"bell\")]"),
        (
            2,
            "[(type: \"high_pass\", order: 2), (type: \"low_shelf\"), (type: \"bell\"), \
             (type: \"bell\"), (type: \"high_shelf\"), (type: \"low_pass\", order: 8), \
             (type: \"bell\", channel: \"mid\"), (type: \"bell\", channel: \"side\"), \
             (type: \"tilt\", channel: \"left\")]",
        ),
        (
            3,
            "[(type: \"low_shelf\"), (type: \"notch\"), (type: \"high_shelf\")]",
        ),
    ];

    /// Renders `config` in `mode` at `block` frames a call, every param moving twice
    /// (up, then back down, mid-block).
    fn render_moving(config: &str, mode: Mode, inputs: &[Vec<f32>], block: usize) -> Vec<Vec<f32>> {
        let mut built = build(config, mode);
        let events: Vec<ParamEvent> = (0u32..)
            .zip(&built.spec.params)
            .flat_map(|(p, spec)| {
                [(700, 1.3f32), (5003, 0.9)].map(|(frame, scale)| ParamEvent {
                    frame: frame + 11 * u64::from(p),
                    param: ParamId(p),
                    value: (spec.default * scale + 2.0 * (scale - 1.0)).clamp(spec.min, spec.max),
                })
            })
            .collect();
        render(&mut built, inputs, block, &events, &[])
    }

    fn first_difference(a: &[Vec<f32>], b: &[Vec<f32>]) -> Option<(usize, usize)> {
        a.iter().zip(b).enumerate().find_map(|(c, (x, y))| {
            x.iter()
                .zip(y)
                .position(|(p, q)| p.to_bits() != q.to_bits())
                .map(|n| (c, n))
        })
    }

    /// The fused lane kernels on every instruction set give the bits of the chain run
    /// one stage and one channel at a time, with memories below the flush threshold and
    /// every band moving (the coefficient grid), at any block size.
    #[test]
    fn lane_kernels_equal_stage_by_stage_bit_for_bit() {
        for (channels, bands) in CASES {
            let config = format!("(channels: {channels}, bands: {bands})");
            let inputs: Vec<Vec<f32>> =
                (0..channels).map(|c| signal(12_000, c + 1, true)).collect();
            let expected = render_moving(&config, Mode::Reference, &inputs, 512);
            for isa in Isa::all_available() {
                for block in [64, 333] {
                    let out = render_moving(&config, Mode::Lanes(isa), &inputs, block);
                    let diff = first_difference(&out, &expected);
                    assert_eq!(diff, None, "{config} {isa:?} block {block}");
                }
            }
        }
    }

    /// Flushing on the frame grid instead of at every update changes no bit on a signal
    /// that stays far above the threshold: noise with a short silence (where the memories
    /// of the fast sections do drop below 1e-30, but far below the rounding of the sums
    /// they enter).
    #[test]
    fn flush_grid_matches_flushing_every_update_above_the_threshold() {
        for (channels, bands) in CASES {
            let config = format!("(channels: {channels}, bands: {bands})");
            let inputs: Vec<Vec<f32>> = (0..channels)
                .map(|c| signal(12_000, c + 1, false))
                .collect();
            let expected = render_moving(&config, Mode::EveryUpdate, &inputs, 512);
            let out = render_moving(&config, Mode::Lanes(Isa::detect()), &inputs, 512);
            assert_eq!(first_difference(&out, &expected), None, "{config}");
        }
    }

    /// After a second of silence the output is exactly zero: the flush grid brings the
    /// decaying memories to rest.
    #[test]
    fn silence_decays_to_exact_zero() {
        let (channels, bands) = CASES[1];
        let config = format!("(channels: {channels}, bands: {bands})");
        let mut input = signal(4800, 1, false);
        input.resize(4800 + 48_000, 0.0);
        let out = render_moving(
            &config,
            Mode::Lanes(Isa::detect()),
            &[input.clone(), input],
            256,
        );
        for ch in &out {
            assert!(ch[ch.len() - 256..].iter().all(|x| x.to_bits() == 0));
        }
    }
}
