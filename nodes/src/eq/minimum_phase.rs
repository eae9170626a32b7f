//! The minimum-phase (IIR) processor of `eq`: matched biquads, params smoothed per
//! sample, coefficients recomputed on a grid of absolute frames while a band moves.

use lathe_engine::{Io, ParamId, Processor};

use super::band::{BandField, BandLayout, BandValues};
use super::chain::FilterChain;
use super::io::{read_input, write_output};
use crate::biquad::{Coefs, MAX_SECTIONS};

/// Frames between coefficient updates of a moving band (0.33 ms at 48 kHz): fine enough
/// that a 20 ms ramp takes 60 steps, so no step is audible.
pub const COEF_GRID_FRAMES: u64 = 16;

#[derive(Debug)]
pub struct MinimumPhaseProcessor {
    layouts: Vec<BandLayout>,
    routes: Vec<(usize, BandField)>,
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
        routes: Vec<(usize, BandField)>,
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
        if let Some(&(band, field)) = self.routes.get(id.index())
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
            self.chain.process(&mut self.work, self.stride, start..end);
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
    use crate::eq::band::{ALL_TYPES, parse_bands};
    use crate::eq::{EqConfig, EqKind};
    use crate::lanes::Isa;

    const RATE: f64 = 48_000.0;

    /// The `eq` of `config` with its chain in `mode` (see `FilterChain::set_mode`).
    fn build(config: &str, mode: Option<Isa>) -> BuiltNode {
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

    /// Noise at 1e-32 from rest (where the memories are flushed), then at full scale,
    /// with silence between.
    fn signal(frames: usize, seed: u64) -> Vec<f32> {
        let mut state = 0x2545_f491_4f6c_dd1d_u64 ^ seed;
        (0..frames)
            .map(|n| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let x = (state >> 40) as f32 / (1u64 << 24) as f32 - 0.5;
                match n * 6 / frames {
                    0 => x * 1e-32,
                    3 => 0.0,
                    _ => x,
                }
            })
            .collect()
    }

    /// The fused lane kernels on every instruction set give the bits of the chain run
    /// one stage and one channel at a time, for mono, stereo (with left, mid and side
    /// bands) and three-channel buses, with every band's frequency and gain moving (the
    /// coefficient grid), at any block size.
    #[test]
    fn lane_kernels_equal_stage_by_stage_bit_for_bit() {
        let cases = [
            (
                1,
                "(bands: [(type: \"high_pass\", order: 4), (type: \"bell\")])",
            ),
            (
                2,
                "(bands: [(type: \"high_pass\", order: 2), (type: \"low_shelf\"), \
                 (type: \"bell\"), (type: \"bell\"), (type: \"high_shelf\"), \
                 (type: \"low_pass\", order: 8), (type: \"bell\", channel: \"mid\"), \
                 (type: \"bell\", channel: \"side\"), (type: \"tilt\", channel: \"left\")])",
            ),
            (
                3,
                "(bands: [(type: \"low_shelf\"), (type: \"notch\"), (type: \"high_shelf\")])",
            ),
        ];
        let frames = 12_000;
        for (channels, bands) in cases {
            let config = format!("(channels: {channels}, bands: {}", &bands[8..]);
            let specs = build(&config, None).spec.params;
            let inputs: Vec<Vec<f32>> = (0..channels).map(|c| signal(frames, c + 1)).collect();
            // Every param moves twice: up, then back down, mid-block.
            let events: Vec<ParamEvent> = (0u32..)
                .zip(&specs)
                .flat_map(|(p, spec)| {
                    [(700, 1.3f32), (5003, 0.9)].map(|(frame, scale)| ParamEvent {
                        frame: frame + 11 * u64::from(p),
                        param: ParamId(p),
                        value: (spec.default * scale + 2.0 * (scale - 1.0))
                            .clamp(spec.min, spec.max),
                    })
                })
                .collect();
            let expected = render(&mut build(&config, None), &inputs, 512, &events, &[]);
            for isa in Isa::all_available() {
                for block in [64, 333] {
                    let out = render(&mut build(&config, Some(isa)), &inputs, block, &events, &[]);
                    for (c, (got, want)) in out.iter().zip(&expected).enumerate() {
                        let first = got
                            .iter()
                            .zip(want)
                            .position(|(g, w)| g.to_bits() != w.to_bits());
                        assert_eq!(first, None, "{config} {isa:?} block {block}: channel {c}");
                    }
                }
            }
        }
    }
}
