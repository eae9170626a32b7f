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
