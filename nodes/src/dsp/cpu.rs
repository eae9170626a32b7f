//! Instruction sets picked at run time. lathe is built for the x86-64 baseline (SSE2),
//! so it runs on any x86-64 machine; the hottest loops also have copies compiled for
//! AVX/AVX2, and a processor picks one copy per block from the [`Isa`] it detected once,
//! when it was built.
//!
//! Every copy is a `#[target_feature]` function whose body is the same
//! `#[inline(always)]` function, so the copies do exactly the same arithmetic (separate
//! multiplies and adds, never fused, in the same order) and every path gives the same
//! bits. A kernel dispatches with one `match` on its stored [`Isa`]:
//!
//! ```ignore
//! match self.isa {
//!     // SAFETY: `Isa::Avx2` is detected only when the CPU reports AVX2.
//!     #[cfg(target_arch = "x86_64")]
//!     Isa::Avx2 => unsafe { run_avx2(..) },
//!     _ => run(..),
//! }
//! ```

/// Instruction set a kernel runs on, detected once (at build) and stored in the
/// processor. Each level includes the ones before it, so a kernel with only an AVX copy
/// runs it on [`Isa::Avx2`] too.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Isa {
    /// Plain code with no vector types: what targets other than x86-64 run, and the
    /// reference the tests compare the vector paths against.
    Portable,
    /// x86-64 baseline: SSE2 registers.
    #[cfg(target_arch = "x86_64")]
    Sse2,
    /// AVX: 256-bit float vectors.
    #[cfg(target_arch = "x86_64")]
    Avx,
    /// AVX2: 256-bit integer vectors too, which the bit tricks of
    /// [`crate::dsp::fastmath`] need to vectorise at that width.
    #[cfg(target_arch = "x86_64")]
    Avx2,
}

impl Isa {
    /// The best this CPU runs.
    pub fn detect() -> Self {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx2") {
                Isa::Avx2
            } else if std::arch::is_x86_feature_detected!("avx") {
                Isa::Avx
            } else {
                Isa::Sse2
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            Isa::Portable
        }
    }

    /// The baseline of this target: what runs when no wider copy is wanted (the tests
    /// force it to compare against the detected set).
    pub fn baseline() -> Self {
        #[cfg(target_arch = "x86_64")]
        {
            Isa::Sse2
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            Isa::Portable
        }
    }

    /// Every instruction set this CPU runs, the portable one first (for tests).
    pub fn all_available() -> Vec<Isa> {
        let best = Self::detect();
        let mut all = vec![Isa::Portable];
        #[cfg(target_arch = "x86_64")]
        all.extend(
            [Isa::Sse2, Isa::Avx, Isa::Avx2]
                .into_iter()
                .filter(|&i| i <= best),
        );
        let _ = best;
        all
    }
}
