//! Block kernel for the branches of a polyphase interpolator: each branch is a plain FIR
//! (a convolution) over the same input, so a whole block of output frames is computed at
//! once, several frames side by side in vector registers, with all branches sharing each
//! input load.
//!
//! Every output is summed tap after tap, oldest input first, from 0.0, with a separate
//! multiply and add (no fused multiply-add): its value does not depend on how many
//! frames are computed together, on where a block starts, or on which instruction set
//! runs the loop. The vector path (AVX, chosen at run time on x86-64) and the portable
//! path therefore give bit-identical results, and so does any block split.
//!
//! Allocates in [`PolyphaseBank::new`] only.

use crate::dsp::cpu::Isa;

/// Branch coefficients of a polyphase FIR, laid out for [`PolyphaseBank::run`].
#[derive(Debug, Clone, PartialEq)]
pub struct PolyphaseBank {
    branches: usize,
    taps: usize,
    /// Tap-major: `coefs[j * branches + b]` multiplies input `i + j` of output `i`.
    coefs: Box<[f32]>,
    /// Instruction set the kernel runs on (detected once, here, not per call).
    isa: Isa,
}

impl PolyphaseBank {
    /// `coef(b, j)`: tap `j` of branch `b`, for `b < branches`, `j < taps`; tap 0 meets the
    /// oldest input of an output's window.
    pub fn new(branches: usize, taps: usize, coef: impl Fn(usize, usize) -> f32) -> Self {
        let coefs = (0..taps * branches)
            .map(|k| coef(k % branches, k / branches))
            .collect();
        Self {
            branches,
            taps,
            coefs,
            isa: Isa::detect(),
        }
    }

    pub fn branches(&self) -> usize {
        self.branches
    }

    pub fn taps(&self) -> usize {
        self.taps
    }

    /// Filters `input` (the `taps - 1` frames of history, then the new frames) into `out`,
    /// branch after branch: `out[b * frames + i]` = sum over `j` of tap `j` of branch `b`
    /// times `input[i + j]`, with `frames = input.len() + 1 - taps`. Does nothing when
    /// `input` is shorter than the filter or `out` shorter than `branches * frames`.
    pub fn run(&self, input: &[f32], out: &mut [f32]) {
        let Some(frames) = (input.len() + 1).checked_sub(self.taps) else {
            return;
        };
        if self.taps == 0 || out.len() < self.branches * frames {
            return;
        }
        match self.isa {
            // SAFETY: `Isa::Avx` and `Isa::Avx2` are detected only when the CPU reports AVX.
            #[cfg(target_arch = "x86_64")]
            Isa::Avx | Isa::Avx2 => unsafe { run_avx(self, input, out, frames) },
            _ => dispatch(self, input, out, frames),
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
fn run_avx(bank: &PolyphaseBank, input: &[f32], out: &mut [f32], frames: usize) {
    dispatch(bank, input, out, frames);
}

/// Picks a kernel sized for the branch count: all accumulators of a group of frames stay
/// in registers (about 6 to 12 vectors), and there are enough independent sums to hide
/// the adder's latency.
#[inline(always)]
fn dispatch(bank: &PolyphaseBank, input: &[f32], out: &mut [f32], frames: usize) {
    match bank.branches {
        1 => frames_together::<1, 32>(bank, input, out, frames),
        3 => frames_together::<3, 16>(bank, input, out, frames),
        7 => frames_together::<7, 8>(bank, input, out, frames),
        15 => frames_together::<15, 8>(bank, input, out, frames),
        _ => {
            for b in 0..bank.branches {
                one_by_one(bank, b, input, out, 0, frames);
            }
        }
    }
}

/// `L` frames at a time for all `B` branches, the rest frame by frame.
#[inline(always)]
fn frames_together<const B: usize, const L: usize>(
    bank: &PolyphaseBank,
    input: &[f32],
    out: &mut [f32],
    frames: usize,
) {
    let taps = bank.taps;
    let mut start = 0;
    while start + L <= frames {
        let mut acc = [[0.0f32; L]; B];
        let window = &input[start..start + taps - 1 + L];
        for (x, c) in window.windows(L).zip(bank.coefs.chunks_exact(B)) {
            let (Some(x), Some(c)) = (x.first_chunk::<L>(), c.first_chunk::<B>()) else {
                continue;
            };
            for (a, &c) in acc.iter_mut().zip(c) {
                for (a, &x) in a.iter_mut().zip(x) {
                    *a += c * x;
                }
            }
        }
        for (b, a) in acc.iter().enumerate() {
            if let Some(o) = out.get_mut(b * frames + start..b * frames + start + L) {
                o.copy_from_slice(a);
            }
        }
        start += L;
    }
    for b in 0..B {
        one_by_one(bank, b, input, out, start, frames);
    }
}

/// Frames `start..frames` of branch `b`, one at a time, in the same summation order.
#[inline(always)]
fn one_by_one(
    bank: &PolyphaseBank,
    b: usize,
    input: &[f32],
    out: &mut [f32],
    start: usize,
    frames: usize,
) {
    for i in start..frames {
        let mut acc = 0.0f32;
        let window = &input[i..i + bank.taps];
        for (x, c) in window.iter().zip(bank.coefs.chunks_exact(bank.branches)) {
            acc += c.get(b).copied().unwrap_or(0.0) * x;
        }
        if let Some(o) = out.get_mut(b * frames + i) {
            *o = acc;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lathe_engine::harness::white_noise;

    fn bank(branches: usize, taps: usize) -> PolyphaseBank {
        let c = white_noise(7 + branches as u64, branches * taps);
        PolyphaseBank::new(branches, taps, |b, j| c[b * taps + j] * 0.3)
    }

    /// Against a direct f64 convolution: the f32 sums stay within `taps * 2^-23` times the
    /// sum of |tap * input| (the bound on accumulated f32 rounding).
    #[test]
    fn matches_direct_convolution() {
        for branches in [1, 2, 3, 7, 15] {
            for taps in [1, 5, 24, 47] {
                let bank = bank(branches, taps);
                let input = white_noise(3, 300 + taps - 1);
                let frames = 300;
                let mut out = vec![0.0f32; branches * frames];
                bank.run(&input, &mut out);
                for b in 0..branches {
                    for i in 0..frames {
                        let (mut exact, mut mag) = (0.0f64, 0.0f64);
                        for j in 0..taps {
                            let term = bank.coefs[j * branches + b] as f64 * input[i + j] as f64;
                            exact += term;
                            mag += term.abs();
                        }
                        let err = (out[b * frames + i] as f64 - exact).abs();
                        let tol = taps as f64 * mag * f32::EPSILON as f64;
                        assert!(err <= tol, "{branches}x{taps} b{b} i{i}: {err} > {tol}");
                    }
                }
            }
        }
    }

    /// Any split of the input into blocks, and the portable path, give the same bits.
    #[test]
    fn block_split_and_instruction_set_do_not_change_a_bit() {
        for branches in [1, 2, 3, 7, 15] {
            let taps = 47;
            let bank = bank(branches, taps);
            let input = white_noise(11, 1000 + taps - 1);
            let mut whole = vec![0.0f32; branches * 1000];
            bank.run(&input, &mut whole);
            let mut portable = vec![0.0f32; branches * 1000];
            dispatch(&bank, &input, &mut portable, 1000);
            assert_eq!(whole, portable);
            for block in [1, 7, 64, 333] {
                let mut start = 0;
                while start < 1000 {
                    let n = block.min(1000 - start);
                    let mut part = vec![0.0f32; branches * n];
                    bank.run(&input[start..start + n + taps - 1], &mut part);
                    for b in 0..branches {
                        assert_eq!(
                            part[b * n..(b + 1) * n],
                            whole[b * 1000 + start..b * 1000 + start + n]
                        );
                    }
                    start += n;
                }
            }
        }
    }
}
