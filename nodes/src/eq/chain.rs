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
        let mut i = 0;
        while i < self.stages.len() {
            let stage = self.stages[i];
            if stage.domain != domain && ch == 2 {
                convert(work, stride, range.clone(), stage.domain);
                domain = stage.domain;
            }
            let c = self.coefs[i];
            match (stage.lane, ch) {
                (None, 2) => {
                    // Consecutive stages on both lanes run fused, up to four per pass.
                    let run = self.stages[i..]
                        .iter()
                        .take(MAX_FUSED)
                        .take_while(|s| s.lane.is_none() && s.domain == stage.domain)
                        .count();
                    let (a, b) = work.split_at_mut(stride);
                    let (a, b) = (&mut a[range.clone()], &mut b[range.clone()]);
                    let coefs = &self.coefs[i..i + run];
                    let state = &mut self.state[i * 2..(i + run) * 2];
                    match run {
                        4 => run_fused::<4>(coefs, state, a, b),
                        3 => run_fused::<3>(coefs, state, a, b),
                        2 => run_fused::<2>(coefs, state, a, b),
                        _ => run_fused::<1>(coefs, state, a, b),
                    }
                    i += run;
                    continue;
                }
                (None, _) => {
                    let state = &mut self.state[i * ch..(i + 1) * ch];
                    for (k, s) in state.iter_mut().enumerate() {
                        let off = k * stride;
                        run_one(&c, s, &mut work[off + range.start..off + range.end]);
                    }
                }
                (Some(lane), _) => {
                    if let Some(s) = self.state.get_mut(i * ch + lane) {
                        let off = lane * stride;
                        run_one(&c, s, &mut work[off + range.start..off + range.end]);
                    }
                }
            }
            i += 1;
        }
        if domain != Domain::LeftRight {
            convert(work, stride, range, Domain::LeftRight);
        }
    }
}

/// Most stages [`run_fused`] runs in one pass over the frames.
const MAX_FUSED: usize = 4;

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

/// `N` cascaded stages on two lanes in one pass over the frames: per frame, each lane's
/// sample goes through all `N` stages, so the 2 N recursions overlap in the pipeline
/// instead of one stage's recursion bounding a whole pass. The arithmetic per stage is
/// that of [`run_one`], in the same order: results are identical to stage-by-stage.
/// `coefs` holds `N` stages, `state` their `[lane a, lane b]` pairs.
#[inline]
fn run_fused<const N: usize>(
    coefs: &[Coefs],
    state: &mut [[f64; 2]],
    a: &mut [f64],
    b: &mut [f64],
) {
    let c: [Coefs; N] = std::array::from_fn(|k| coefs.get(k).copied().unwrap_or(Coefs::IDENTITY));
    let mut s: [[[f64; 2]; 2]; N] = std::array::from_fn(|k| {
        [
            state.get(2 * k).copied().unwrap_or_default(),
            state.get(2 * k + 1).copied().unwrap_or_default(),
        ]
    });
    for (x, z) in a.iter_mut().zip(b.iter_mut()) {
        let mut lanes = [*x, *z];
        for (c, s) in c.iter().zip(s.iter_mut()) {
            for (v, st) in lanes.iter_mut().zip(s.iter_mut()) {
                let y = c.b0 * *v + st[0];
                st[0] = flush_denormal(c.b1 * *v - c.a1 * y + st[1]);
                st[1] = flush_denormal(c.b2 * *v - c.a2 * y);
                *v = y;
            }
        }
        [*x, *z] = lanes;
    }
    for (k, pair) in s.iter().enumerate() {
        for (lane, st) in pair.iter().enumerate() {
            if let Some(slot) = state.get_mut(2 * k + lane) {
                *slot = *st;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::biquad::{Alignment, FilterDesign, FilterType};

    #[test]
    fn fused_stages_equal_stage_by_stage_bit_for_bit() {
        // Four real sections (a high pass, a shelf, two bells) on two lanes of a noisy
        // signal, fused 1..=4 at a time against `run_one` per stage and lane: identical.
        let designs = [
            (FilterType::HighPass, 30.0, 0.0, 0.7),
            (FilterType::LowShelf, 100.0, 1.5, 0.7),
            (FilterType::Bell, 300.0, -1.5, 1.0),
            (FilterType::Bell, 3000.0, 6.0, 2.0),
        ];
        let coefs: Vec<Coefs> = designs
            .iter()
            .map(|&(kind, freq_hz, gain_db, q)| {
                let mut out = [Coefs::IDENTITY; MAX_SECTIONS];
                FilterDesign {
                    kind,
                    order: 2,
                    alignment: Alignment::Butterworth,
                    freq_hz,
                    gain_db,
                    q,
                }
                .analog()
                .matched(48_000.0, &mut out);
                out[0]
            })
            .collect();
        let signal = |lane: u64| -> Vec<f64> {
            let mut seed = 0x2545_f491_4f6c_dd1d_u64 ^ lane;
            (0..999)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    (seed >> 11) as f64 / (1u64 << 53) as f64 - 0.5
                })
                .collect()
        };
        for n in 1..=4 {
            let (mut a, mut b) = (signal(1), signal(2));
            let (mut ra, mut rb) = (a.clone(), b.clone());
            let mut state = vec![[0.0; 2]; 2 * n];
            match n {
                4 => run_fused::<4>(&coefs, &mut state, &mut a, &mut b),
                3 => run_fused::<3>(&coefs, &mut state, &mut a, &mut b),
                2 => run_fused::<2>(&coefs, &mut state, &mut a, &mut b),
                _ => run_fused::<1>(&coefs, &mut state, &mut a, &mut b),
            }
            let mut ref_state = vec![[0.0; 2]; 2 * n];
            for k in 0..n {
                run_one(&coefs[k], &mut ref_state[2 * k], &mut ra);
                run_one(&coefs[k], &mut ref_state[2 * k + 1], &mut rb);
            }
            assert!(
                a.iter().zip(&ra).all(|(x, y)| x.to_bits() == y.to_bits()),
                "{n} stages, lane a"
            );
            assert!(
                b.iter().zip(&rb).all(|(x, y)| x.to_bits() == y.to_bits()),
                "{n} stages, lane b"
            );
            assert_eq!(state, ref_state);
        }
    }
}
