//! A series of biquad sections over a bus, each on every channel or on one lane of the
//! left/right or mid/side pair. The bands' sections are flattened into stages, and each
//! stage runs as one tight loop over a stretch of frames (both lanes of a stereo stage in
//! the same loop), so nothing branches per sample on band type or channel mode.

use lathe_engine::rt::flush_denormal;

use super::band::{BandLayout, ChannelMode};
use crate::biquad::{Coefs, MAX_SECTIONS};

/// The representation of a two-channel bus a stage works in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Domain {
    LeftRight,
    MidSide,
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct Stage {
    domain: Domain,
    /// `None`: every channel; `Some(lane)`: lane 0 or 1 of the domain.
    lane: Option<usize>,
}

/// Biquad cascade over `channels` channels held as f64 work buffers.
#[derive(Debug)]
pub struct FilterChain {
    channels: usize,
    stages: Vec<Stage>,
    coefs: Vec<Coefs>,
    /// `[s1, s2]` per stage and channel: `stage * channels + channel`.
    state: Vec<[f64; 2]>,
    /// First stage and number of stages of each band.
    band_stages: Vec<(usize, usize)>,
}

/// Number of sections a band has (fixed by its layout, whatever its params).
pub fn section_count(layout: &BandLayout) -> usize {
    let probe = layout.design(1000.0, 1.0, 1.0).analog();
    probe.sections().len().min(MAX_SECTIONS)
}

impl FilterChain {
    pub fn new(layouts: &[BandLayout], channels: usize) -> Self {
        let mut stages = Vec::new();
        let mut band_stages = Vec::new();
        for layout in layouts {
            let (domain, lane) = match layout.channel {
                ChannelMode::Stereo => (Domain::LeftRight, None),
                ChannelMode::Left => (Domain::LeftRight, Some(0)),
                ChannelMode::Right => (Domain::LeftRight, Some(1)),
                ChannelMode::Mid => (Domain::MidSide, Some(0)),
                ChannelMode::Side => (Domain::MidSide, Some(1)),
            };
            let n = section_count(layout);
            band_stages.push((stages.len(), n));
            stages.extend(std::iter::repeat_n(Stage { domain, lane }, n));
        }
        let count = stages.len();
        Self {
            channels,
            stages,
            coefs: vec![Coefs::IDENTITY; count],
            state: vec![[0.0; 2]; count * channels],
            band_stages,
        }
    }

    /// Sets the sections of band `band` (extra entries of `coefs` are ignored).
    pub fn set_band(&mut self, band: usize, coefs: &[Coefs; MAX_SECTIONS]) {
        if let Some(&(start, n)) = self.band_stages.get(band) {
            for (slot, c) in self.coefs[start..start + n].iter_mut().zip(coefs) {
                *slot = *c;
            }
        }
    }

    pub fn reset(&mut self) {
        self.state.fill([0.0; 2]);
    }

    /// Filters frames `range` of `work` (channel `c` at `c * stride ..`).
    pub fn process(&mut self, work: &mut [f64], stride: usize, range: std::ops::Range<usize>) {
        let ch = self.channels;
        let mut domain = Domain::LeftRight;
        for (i, stage) in self.stages.iter().enumerate() {
            if stage.domain != domain && ch == 2 {
                convert(work, stride, range.clone(), stage.domain);
                domain = stage.domain;
            }
            let c = self.coefs[i];
            let state = &mut self.state[i * ch..(i + 1) * ch];
            match (stage.lane, ch) {
                (None, 2) => {
                    let (a, b) = work.split_at_mut(stride);
                    let (s0, s1) = state.split_at_mut(1);
                    run_pair(
                        &c,
                        &mut s0[0],
                        &mut s1[0],
                        &mut a[range.clone()],
                        &mut b[range.clone()],
                    );
                }
                (None, _) => {
                    for (k, s) in state.iter_mut().enumerate() {
                        let off = k * stride;
                        run_one(&c, s, &mut work[off + range.start..off + range.end]);
                    }
                }
                (Some(lane), _) => {
                    if let Some(s) = state.get_mut(lane) {
                        let off = lane * stride;
                        run_one(&c, s, &mut work[off + range.start..off + range.end]);
                    }
                }
            }
        }
        if domain != Domain::LeftRight {
            convert(work, stride, range, Domain::LeftRight);
        }
    }
}

/// Converts a two-channel stretch into `to`: mid = (l + r) / 2, side = (l - r) / 2.
fn convert(work: &mut [f64], stride: usize, range: std::ops::Range<usize>, to: Domain) {
    let (a, b) = work.split_at_mut(stride);
    for (x, y) in a[range.clone()].iter_mut().zip(&mut b[range]) {
        let (p, q) = (*x, *y);
        match to {
            Domain::MidSide => {
                *x = 0.5 * (p + q);
                *y = 0.5 * (p - q);
            }
            Domain::LeftRight => {
                *x = p + q;
                *y = p - q;
            }
        }
    }
}

#[inline]
fn run_one(c: &Coefs, s: &mut [f64; 2], buf: &mut [f64]) {
    let [mut s1, mut s2] = *s;
    for x in buf {
        let y = c.b0 * *x + s1;
        s1 = flush_denormal(c.b1 * *x - c.a1 * y + s2);
        s2 = flush_denormal(c.b2 * *x - c.a2 * y);
        *x = y;
    }
    *s = [s1, s2];
}

/// Two independent lanes in one loop: their recursions overlap in the pipeline.
#[inline]
fn run_pair(c: &Coefs, sa: &mut [f64; 2], sb: &mut [f64; 2], a: &mut [f64], b: &mut [f64]) {
    let [mut a1, mut a2] = *sa;
    let [mut b1, mut b2] = *sb;
    for (x, z) in a.iter_mut().zip(b.iter_mut()) {
        let ya = c.b0 * *x + a1;
        let yb = c.b0 * *z + b1;
        a1 = flush_denormal(c.b1 * *x - c.a1 * ya + a2);
        b1 = flush_denormal(c.b1 * *z - c.a1 * yb + b2);
        a2 = flush_denormal(c.b2 * *x - c.a2 * ya);
        b2 = flush_denormal(c.b2 * *z - c.a2 * yb);
        *x = ya;
        *z = yb;
    }
    *sa = [a1, a2];
    *sb = [b1, b2];
}
