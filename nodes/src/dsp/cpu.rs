//! Instruction sets picked at run time. lathe is built for the x86-64 baseline (SSE2),
//! so it runs on any x86-64 machine; the hottest loops also have copies compiled for
//! AVX/AVX2 and chosen once, when a processor is built, from what the CPU reports.
//!
//! The wide copies do exactly the same arithmetic (separate multiplies and adds, never
//! fused), so every path gives the same bits.

/// Whether the CPU has AVX (256-bit float vectors).
pub fn has_avx() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Whether the CPU has AVX2 (256-bit integer vectors too, which the bit tricks of
/// [`crate::dsp::fastmath`] need to vectorise at that width).
pub fn has_avx2() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}
