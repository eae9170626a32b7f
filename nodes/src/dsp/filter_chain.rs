//! A series of biquad sections over a bus, each on every channel or on one lane of the
//! left/right or mid/side pair. The bands' sections are flattened into stages, and runs
//! of consecutive stages on the same channels go through the frames in one pass (up to
//! [`MAX_FUSED`] stages per frame), so nothing branches per sample on band type or
//! channel mode and the stages' recursions overlap in the pipeline. Stages on every
//! channel take the channels two at a time on f64 lanes ([`crate::dsp::lanes`]).
//!
//! Every stage performs the arithmetic of [`crate::dsp::biquad::Biquad::process`] in the same
//! order, on every instruction set, except for the denormal flush: the memories are
//! flushed on a grid of absolute frames ([`FLUSH_GRID_FRAMES`]) instead of at every
//! update, which takes the flush off the recursions and a third of the work per sample.
//! The output is therefore bit-identical to one stage and one channel at a time through
//! `Biquad::process` while no memory falls below the flush threshold (1e-30); in tails
//! decaying through silence it differs at that level. Between grid points a memory can
//! only become subnormal behind a pole within 0.08 of the origin, and then only for the
//! few frames before it reaches zero.

use crate::dsp::eq_band::{BandLayout, ChannelMode};
use lathe_engine::rt::flush_denormal;

use crate::dsp::biquad::{Coefs, LaneCoefs, MAX_SECTIONS};
use crate::dsp::cpu::Isa;
use crate::dsp::lanes::Pair;

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
    isa: Isa,
    /// Run [`Self::process_reference`] instead (tests)...
    #[cfg(test)]
    reference: bool,
    /// ... with `Biquad::process` (tests).
    #[cfg(test)]
    every_update: bool,
}

/// Number of sections a band has (fixed by its layout, whatever its params).
pub fn section_count(layout: &BandLayout) -> usize {
    let probe = layout.design(1000.0, 1.0, 1.0).analog();
    probe.sections().len().min(MAX_SECTIONS)
}

/// The memories are flushed of denormals before every frame whose absolute position is
/// a multiple of this (a multiple of the EQs' 16-frame coefficient grid).
pub const FLUSH_GRID_FRAMES: u64 = 256;

/// Most stages run in one pass over the frames: their memories (two per stage and
/// channel pair) and a few temporaries fill the 16 vector registers.
pub const MAX_FUSED: usize = 6;

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
            isa: Isa::detect(),
            #[cfg(test)]
            reference: false,
            #[cfg(test)]
            every_update: false,
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

    /// Filters frames `range` of `work` (channel `c` at `c * stride ..`);
    /// `position_frames` is the absolute position of `range.start` since the reset.
    pub fn process(
        &mut self,
        work: &mut [f64],
        stride: usize,
        range: std::ops::Range<usize>,
        position_frames: u64,
    ) {
        let mut start = range.start;
        while start < range.end {
            let pos = position_frames + (start - range.start) as u64;
            if pos.is_multiple_of(FLUSH_GRID_FRAMES) {
                self.flush();
            }
            let to_grid = (FLUSH_GRID_FRAMES - pos % FLUSH_GRID_FRAMES) as usize;
            let end = range.end.min(start + to_grid);
            #[cfg(test)]
            if self.reference {
                self.process_reference(work, stride, start..end);
                start = end;
                continue;
            }
            self.run(work, stride, start..end);
            start = end;
        }
    }

    fn flush(&mut self) {
        for s in self.state.iter_mut().flatten() {
            *s = flush_denormal(*s);
        }
    }

    /// Frames `range` through every stage, with no grid point inside.
    fn run(&mut self, work: &mut [f64], stride: usize, range: std::ops::Range<usize>) {
        let ch = self.channels;
        let mut domain = Domain::LeftRight;
        let mut i = 0;
        while i < self.stages.len() {
            let stage = self.stages[i];
            if stage.domain != domain && ch == 2 {
                convert(work, stride, range.clone(), stage.domain);
                domain = stage.domain;
            }
            let run = self.stages[i..]
                .iter()
                .take(MAX_FUSED)
                .take_while(|s| **s == stage)
                .count();
            match run {
                6 => self.run_stages::<6>(i, stage.lane, work, stride, range.clone()),
                5 => self.run_stages::<5>(i, stage.lane, work, stride, range.clone()),
                4 => self.run_stages::<4>(i, stage.lane, work, stride, range.clone()),
                3 => self.run_stages::<3>(i, stage.lane, work, stride, range.clone()),
                2 => self.run_stages::<2>(i, stage.lane, work, stride, range.clone()),
                _ => self.run_stages::<1>(i, stage.lane, work, stride, range.clone()),
            }
            i += run.max(1);
        }
        if domain != Domain::LeftRight {
            convert(work, stride, range, Domain::LeftRight);
        }
    }

    /// Stages `first..first + N` over frames `range`: on channel `lane` only, or on every
    /// channel (two at a time, an odd last one alone).
    fn run_stages<const N: usize>(
        &mut self,
        first: usize,
        lane: Option<usize>,
        work: &mut [f64],
        stride: usize,
        range: std::ops::Range<usize>,
    ) {
        let ch = self.channels;
        let Some(coefs) = self.coefs.get(first..).and_then(|c| c.first_chunk::<N>()) else {
            return;
        };
        let table = CoefTable(coefs.map(LaneCoefs::splat));
        let single = CoefTable(coefs.map(LaneCoefs::from));
        let state = &mut self.state[first * ch..(first + N) * ch];
        let channel = |work: &mut [f64], c: usize| -> Option<std::ops::Range<usize>> {
            let r = c * stride + range.start..c * stride + range.end;
            (r.end <= work.len()).then_some(r)
        };
        let (pairs, single_channels) = match lane {
            Some(l) => (0..0, l..(l + 1).min(ch)),
            None => (0..ch / 2, 2 * (ch / 2)..ch),
        };
        for pair in pairs {
            let (c0, c1) = (2 * pair, 2 * pair + 1);
            let (Some(r0), Some(r1)) = (channel(work, c0), channel(work, c1)) else {
                continue;
            };
            let mut lanes: [[[f64; 2]; 2]; N] =
                std::array::from_fn(|k| [state[k * ch + c0], state[k * ch + c1]]);
            let (head, tail) = work.split_at_mut(r1.start);
            let (a, b) = (&mut head[r0], &mut tail[..r1.len()]);
            run_pair(self.isa, &table, &mut lanes, a, b);
            for (k, [s0, s1]) in lanes.iter().enumerate() {
                state[k * ch + c0] = *s0;
                state[k * ch + c1] = *s1;
            }
        }
        for c in single_channels {
            let Some(r) = channel(work, c) else {
                continue;
            };
            let mut mem: [[f64; 2]; N] = std::array::from_fn(|k| state[k * ch + c]);
            run_single(&single, &mut mem, &mut work[r]);
            for (k, m) in mem.iter().enumerate() {
                state[k * ch + c] = *m;
            }
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

/// The coefficients of a run of stages, aligned so that a multiply can read them from
/// memory directly.
#[repr(align(32))]
struct CoefTable<T, const N: usize>([LaneCoefs<T>; N]);

/// `N` stages over two channels `a` and `b` (one lane each); `state[stage][lane]`.
fn run_pair<const N: usize>(
    isa: Isa,
    table: &CoefTable<[f64; 2], N>,
    state: &mut [[[f64; 2]; 2]; N],
    a: &mut [f64],
    b: &mut [f64],
) {
    match isa {
        Isa::Portable => pair_kernel::<[f64; 2], N>(table, state, a, b),
        #[cfg(target_arch = "x86_64")]
        Isa::Sse2 => pair_kernel::<crate::dsp::lanes::Sse2, N>(table, state, a, b),
        // SAFETY: `Isa::Avx` and `Isa::Avx2` are detected only when the CPU reports AVX.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx | Isa::Avx2 => unsafe { pair_kernel_avx::<N>(table, state, a, b) },
    }
}

/// The SSE2 kernel with VEX encoding (three-operand instructions, unaligned memory
/// operands): the same operations, fewer register copies.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
fn pair_kernel_avx<const N: usize>(
    table: &CoefTable<[f64; 2], N>,
    state: &mut [[[f64; 2]; 2]; N],
    a: &mut [f64],
    b: &mut [f64],
) {
    pair_kernel::<crate::dsp::lanes::Sse2, N>(table, state, a, b);
}

/// Per frame, the pair `[a, b]` goes through all `N` stages.
#[inline(always)]
fn pair_kernel<V: Pair, const N: usize>(
    table: &CoefTable<[f64; 2], N>,
    state: &mut [[[f64; 2]; 2]; N],
    a: &mut [f64],
    b: &mut [f64],
) {
    let mut mem: [[V; 2]; N] = std::array::from_fn(|k| {
        let [l, r] = state[k];
        [V::from_array([l[0], r[0]]), V::from_array([l[1], r[1]])]
    });
    for (x, y) in a.iter_mut().zip(b.iter_mut()) {
        // Coefficients are read from memory where they are used, so the registers hold
        // the memories, whose recursions set the pace (see the crossover kernel).
        let table = std::hint::black_box(table);
        let mut v = V::from_array([*x, *y]);
        for (c, m) in table.0.iter().zip(mem.iter_mut()) {
            v = c.map(V::from_array).tick(m, v);
        }
        [*x, *y] = v.to_array();
    }
    for (k, [s1, s2]) in mem.iter().enumerate() {
        let ([l1, r1], [l2, r2]) = (s1.to_array(), s2.to_array());
        state[k] = [[l1, l2], [r1, r2]];
    }
}

/// `N` stages over one channel.
fn run_single<const N: usize>(
    table: &CoefTable<f64, N>,
    state: &mut [[f64; 2]; N],
    buf: &mut [f64],
) {
    for x in buf {
        let table = std::hint::black_box(table);
        let mut v = *x;
        for (c, m) in table.0.iter().zip(state.iter_mut()) {
            v = c.tick(m, v);
        }
        *x = v;
    }
}

/// What a chain runs (tests).
#[cfg(test)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// The fused lane kernels on an instruction set.
    Lanes(Isa),
    /// One stage and one channel at a time, on plain f64 (the kernels' reference).
    Reference,
    /// One stage and one channel at a time through `Biquad::process`, flushing at every
    /// update: the chain as it ran before the flush grid.
    EveryUpdate,
}

#[cfg(test)]
impl FilterChain {
    pub(crate) fn set_mode(&mut self, mode: Mode) {
        self.reference = !matches!(mode, Mode::Lanes(_));
        self.every_update = mode == Mode::EveryUpdate;
        if let Mode::Lanes(isa) = mode {
            self.isa = isa;
        }
    }

    /// The chain one stage and one channel at a time: the reference the fused lane
    /// kernels are tested against.
    fn process_reference(
        &mut self,
        work: &mut [f64],
        stride: usize,
        range: std::ops::Range<usize>,
    ) {
        let ch = self.channels;
        let mut domain = Domain::LeftRight;
        for (i, stage) in self.stages.iter().enumerate() {
            if stage.domain != domain && ch == 2 {
                convert(work, stride, range.clone(), stage.domain);
                domain = stage.domain;
            }
            let channels = match stage.lane {
                Some(lane) => lane..lane + 1,
                None => 0..ch,
            };
            for c in channels {
                let off = c * stride;
                let buf = &mut work[off + range.start..off + range.end];
                let state = &mut self.state[i * ch + c];
                if self.every_update {
                    run_every_update(&self.coefs[i], state, buf);
                } else {
                    run_one(&self.coefs[i], state, buf);
                }
            }
        }
        if domain != Domain::LeftRight {
            convert(work, stride, range, Domain::LeftRight);
        }
    }
}

/// One stage over one channel, sample by sample, on plain f64.
#[cfg(test)]
fn run_one(c: &Coefs, s: &mut [f64; 2], buf: &mut [f64]) {
    let c = LaneCoefs::from(*c);
    for x in buf {
        *x = c.tick(s, *x);
    }
}

/// One stage over one channel through [`crate::dsp::biquad::Biquad::process`].
#[cfg(test)]
fn run_every_update(c: &Coefs, s: &mut [f64; 2], buf: &mut [f64]) {
    let mut biquad = crate::dsp::biquad::Biquad::new(*c);
    biquad.set_state(*s);
    biquad.process_buffer(buf);
    *s = biquad.state();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dsp::biquad::{Alignment, FilterDesign, FilterType};

    /// Noise at 1e-32 from rest (so the memories stay below the flush threshold), then
    /// at full scale, then silence.
    fn signal(len: usize, seed: u64) -> Vec<f64> {
        let mut noise = lathe_engine::harness::WhiteNoise::new(seed);
        (0..len)
            .map(|n| {
                let x = 0.5 * f64::from(noise.next_value());
                match n * 3 / len {
                    0 => x * 1e-32,
                    1 => x,
                    _ => 0.0,
                }
            })
            .collect()
    }

    fn same(a: &[f64], b: &[f64]) -> bool {
        a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
    }

    fn check_fused<const N: usize>(coefs: &[Coefs; N]) {
        let pair_table = CoefTable(coefs.map(LaneCoefs::splat));
        let single_table = CoefTable(coefs.map(LaneCoefs::from));
        let (a0, b0) = (signal(3000, 1), signal(3000, 2));
        let mut ref_state = [[[0.0; 2]; 2]; N];
        let (mut ra, mut rb) = (a0.clone(), b0.clone());
        for (k, c) in coefs.iter().enumerate() {
            run_one(c, &mut ref_state[k][0], &mut ra);
            run_one(c, &mut ref_state[k][1], &mut rb);
        }
        for isa in Isa::all_available() {
            let (mut a, mut b) = (a0.clone(), b0.clone());
            let mut state = [[[0.0; 2]; 2]; N];
            // In two calls, so the memories also go through their storage.
            let (a1, a2) = a.split_at_mut(1234);
            let (b1, b2) = b.split_at_mut(1234);
            run_pair(isa, &pair_table, &mut state, a1, b1);
            run_pair(isa, &pair_table, &mut state, a2, b2);
            assert!(same(&a, &ra) && same(&b, &rb), "{N} stages on {isa:?}");
            assert_eq!(state, ref_state, "{N} stages on {isa:?}");
        }
        let mut a = a0.clone();
        let mut state = [[0.0; 2]; N];
        run_single(&single_table, &mut state, &mut a);
        assert!(same(&a, &ra), "{N} stages on one channel");
        assert_eq!(state, ref_state.map(|s| s[0]));
    }

    #[test]
    fn fused_stages_equal_stage_by_stage_bit_for_bit() {
        // Six real sections (a high pass, shelves, bells, a notch) on two lanes, fused 1
        // to 6 at a time on every instruction set, and on one lane, against `run_one`
        // per stage and lane: identical, memories included (also below the flush
        // threshold: flushing is the chain's business, not the kernels').
        let designs = [
            (FilterType::HighPass, 30.0, 0.0, 0.7),
            (FilterType::LowShelf, 100.0, 1.5, 0.7),
            (FilterType::Bell, 300.0, -1.5, 1.0),
            (FilterType::Bell, 3000.0, 6.0, 2.0),
            (FilterType::HighShelf, 10_000.0, -3.0, 0.7),
            (FilterType::Notch, 7000.0, 0.0, 4.0),
        ];
        let coefs: [Coefs; 6] = designs.map(|(kind, freq_hz, gain_db, q)| {
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
        });
        check_fused::<1>(&[coefs[0]]);
        check_fused::<2>(&[coefs[0], coefs[1]]);
        check_fused::<3>(&[coefs[0], coefs[1], coefs[2]]);
        check_fused::<4>(&[coefs[0], coefs[1], coefs[2], coefs[3]]);
        check_fused::<5>(&[coefs[0], coefs[1], coefs[2], coefs[3], coefs[4]]);
        check_fused::<6>(&coefs);
    }
}
