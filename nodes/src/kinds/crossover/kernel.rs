//! The IIR crossover's inner loop, on lanes: the channels go two by two, and each split
//! runs its low-pass and high-pass side by side, so one four-lane section holds
//! `[low L, low R, high L, high R]`. The all-passes that phase-match a lower band run on
//! the two channels of that band.
//!
//! Each lane performs the arithmetic of [`LrSplit::split`] and [`LrSplit::allpass`] in
//! the same order (separate multiplies and adds, no fused multiply-add), so the bands are
//! bit-identical to one channel at a time through the scalar sections, on any of the
//! instruction sets below. Every shape (number of splits and slope) is its own
//! instantiation, so the loops over splits and sections have fixed lengths and the
//! filter memories stay in registers for a whole segment.

use super::MAX_BANDS;
use crate::dsp::biquad::{Coefs, LaneCoefs};
use crate::dsp::cpu::Isa;
use crate::dsp::lanes::{Pair, Quad};
use crate::dsp::linkwitz_riley::{LrSplit, Slope};

/// Most sections of a split's low-pass or high-pass (LR8).
pub(super) const MAX_PASS_SECTIONS: usize = 4;
/// Most sections of a split's all-pass (LR8).
pub(super) const MAX_ALLPASS_SECTIONS: usize = 2;

/// Memory of one section on two or four lanes: `[s1, s2]`.
pub(super) type LaneState<const L: usize> = [[f64; L]; 2];

/// The coefficients of one split on lanes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct SplitLanes {
    /// Low-pass in lanes 0 and 1, high-pass in lanes 2 and 3.
    pass: [LaneCoefs<[f64; 4]>; MAX_PASS_SECTIONS],
    /// The all-pass on both lanes.
    allpass: [LaneCoefs<[f64; 2]>; MAX_ALLPASS_SECTIONS],
}

impl SplitLanes {
    /// Wires (never run: fills the kernel's fixed-size table past the last split).
    const IDENTITY: Self = Self {
        pass: [LaneCoefs::splat(Coefs::IDENTITY); MAX_PASS_SECTIONS],
        allpass: [LaneCoefs::splat(Coefs::IDENTITY); MAX_ALLPASS_SECTIONS],
    };

    pub(super) fn new(split: &LrSplit) -> Self {
        Self {
            pass: std::array::from_fn(|p| {
                let (lp, hp) = (split.lowpass_sections()[p], split.highpass_sections()[p]);
                LaneCoefs::gather([lp, lp, hp, hp])
            }),
            allpass: std::array::from_fn(|a| {
                let ap = split.allpass_sections()[a];
                LaneCoefs::gather([ap, ap])
            }),
        }
    }
}

/// One channel pair over one segment.
pub(super) struct PairJob<'a, 'o> {
    /// Per split, low to high.
    pub tables: &'a [SplitLanes],
    /// `[split][pass section]` of this pair.
    pub pass_state: &'a mut [LaneState<4>],
    /// `[band][split][all-pass section]` of this pair (used where split > band).
    pub allpass_state: &'a mut [LaneState<2>],
    /// `[left, right]` input; the segment is as long as the shorter.
    pub input: [&'a [f32]; 2],
    /// `[band][left, right]` outputs, each at least as long as the segment (bands past
    /// the last are ignored).
    pub output: &'a mut [[&'o mut [f32]; 2]],
}
/// Runs `job` for a crossover of `slope` with `job.tables.len()` splits.
pub(super) fn run_pair(isa: Isa, slope: Slope, job: PairJob<'_, '_>) {
    match (slope, job.tables.len()) {
        (Slope::Lr2, 1) => with_shape::<2, 1, 1>(isa, job),
        (Slope::Lr2, 2) => with_shape::<3, 1, 1>(isa, job),
        (Slope::Lr2, 3) => with_shape::<4, 1, 1>(isa, job),
        (Slope::Lr2, 4) => with_shape::<5, 1, 1>(isa, job),
        (Slope::Lr2, 5) => with_shape::<6, 1, 1>(isa, job),
        (Slope::Lr2, 6) => with_shape::<7, 1, 1>(isa, job),
        (Slope::Lr2, _) => with_shape::<8, 1, 1>(isa, job),
        (Slope::Lr4, 1) => with_shape::<2, 2, 1>(isa, job),
        (Slope::Lr4, 2) => with_shape::<3, 2, 1>(isa, job),
        (Slope::Lr4, 3) => with_shape::<4, 2, 1>(isa, job),
        (Slope::Lr4, 4) => with_shape::<5, 2, 1>(isa, job),
        (Slope::Lr4, 5) => with_shape::<6, 2, 1>(isa, job),
        (Slope::Lr4, 6) => with_shape::<7, 2, 1>(isa, job),
        (Slope::Lr4, _) => with_shape::<8, 2, 1>(isa, job),
        (Slope::Lr8, 1) => with_shape::<2, 4, 2>(isa, job),
        (Slope::Lr8, 2) => with_shape::<3, 4, 2>(isa, job),
        (Slope::Lr8, 3) => with_shape::<4, 4, 2>(isa, job),
        (Slope::Lr8, 4) => with_shape::<5, 4, 2>(isa, job),
        (Slope::Lr8, 5) => with_shape::<6, 4, 2>(isa, job),
        (Slope::Lr8, 6) => with_shape::<7, 4, 2>(isa, job),
        (Slope::Lr8, _) => with_shape::<8, 4, 2>(isa, job),
    }
}

const _: () = assert!(MAX_BANDS == 8, "run_pair covers 1 to 7 splits");

fn with_shape<const B: usize, const P: usize, const A: usize>(isa: Isa, job: PairJob<'_, '_>) {
    match isa {
        Isa::Portable => run::<[f64; 4], B, P, A>(job),
        #[cfg(target_arch = "x86_64")]
        Isa::Sse2 => run::<crate::dsp::lanes::Sse2Quad, B, P, A>(job),
        // SAFETY: `Isa::Avx` and `Isa::Avx2` are detected only when the CPU reports AVX.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx | Isa::Avx2 => unsafe { run_avx::<B, P, A>(job) },
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
fn run_avx<const B: usize, const P: usize, const A: usize>(job: PairJob<'_, '_>) {
    run::<crate::dsp::lanes::Avx, B, P, A>(job);
}

/// The crossover of `B` bands (`B - 1` splits) whose splits have `P` pass sections and
/// `A` all-pass sections, over one pair and segment. The memories are loaded into
/// locals for the segment and stored back after it.
#[inline(always)]
fn run<Q: Quad, const B: usize, const P: usize, const A: usize>(job: PairJob<'_, '_>) {
    let n = B - 1;
    let [left, right] = job.input;
    let frames = left.len().min(right.len());
    let Some(output) = job.output.first_chunk_mut::<B>() else {
        return;
    };
    if job.tables.len() < n
        || job.pass_state.len() < n * P
        || job.allpass_state.len() < n * n * A
        || output.iter().flatten().any(|o| o.len() < frames)
    {
        return;
    }
    let zero4 = Q::from_array([0.0; 4]);
    let zero2 = Q::Half::from_array([0.0; 2]);
    let tables: [SplitLanes; B] =
        std::array::from_fn(|k| job.tables.get(k).copied().unwrap_or(SplitLanes::IDENTITY));
    let mut pass_state: [[[Q; 2]; P]; B] = [[[zero4; 2]; P]; B];
    for (k, sections) in pass_state.iter_mut().enumerate().take(n) {
        for (p, s) in sections.iter_mut().enumerate() {
            let stored = job.pass_state[k * P + p];
            *s = stored.map(Q::from_array);
        }
    }
    let mut allpass_state: [[[[Q::Half; 2]; A]; B]; B] = [[[[zero2; 2]; A]; B]; B];
    for (k, per_split) in allpass_state.iter_mut().enumerate().take(n) {
        for (j, sections) in per_split.iter_mut().enumerate().take(n).skip(k + 1) {
            for (a, s) in sections.iter_mut().enumerate() {
                let stored = job.allpass_state[(k * n + j) * A + a];
                *s = stored.map(Q::Half::from_array);
            }
        }
    }

    for i in 0..frames {
        // The coefficients are read from memory where they are used (one operand of a
        // multiply each), which leaves the registers to the filter memories: hoisted
        // into registers they would push the memories, whose recursions set the pace,
        // out to the stack.
        let tables = std::hint::black_box(&tables);
        // SAFETY: `i < frames`, and both inputs and every output hold at least `frames`
        // samples (checked above).
        let x = unsafe { [*left.get_unchecked(i), *right.get_unchecked(i)] };
        let mut rest = Q::Half::from_f32(x);
        for k in 0..B {
            let band = if k < n {
                let mut v = Q::dup(rest);
                for (c, s) in tables[k].pass.iter().zip(&mut pass_state[k]) {
                    v = c.map(Q::from_array).tick(s, v);
                }
                let (low, high) = v.halves();
                let mut band = low;
                for j in k + 1..n {
                    for (c, s) in tables[j].allpass.iter().zip(&mut allpass_state[k][j]) {
                        band = c.map(Q::Half::from_array).tick(s, band);
                    }
                }
                rest = high;
                band
            } else {
                rest
            };
            let [l, r] = band.to_f32();
            let [out_l, out_r] = &mut output[k];
            // SAFETY: as above.
            unsafe {
                *out_l.get_unchecked_mut(i) = l;
                *out_r.get_unchecked_mut(i) = r;
            }
        }
    }

    for (k, sections) in pass_state.iter().enumerate().take(n) {
        for (p, s) in sections.iter().enumerate() {
            job.pass_state[k * P + p] = s.map(Q::to_array);
        }
    }
    for (k, per_split) in allpass_state.iter().enumerate().take(n) {
        for (j, sections) in per_split.iter().enumerate().take(n).skip(k + 1) {
            for (a, s) in sections.iter().enumerate() {
                job.allpass_state[(k * n + j) * A + a] = s.map(Pair::to_array);
            }
        }
    }
}
