//! Real-time helpers: denormal protection for the audio thread.

/// Sets flush-to-zero and denormals-are-zero for the current thread while alive, and
/// restores the previous mode on drop. Denormals in decaying filter and reverb tails
/// can make a CPU 10-100x slower; FTZ/DAZ turns them into zeros at no cost.
pub struct DenormalGuard {
    #[cfg(any(target_arch = "x86_64", target_arch = "x86"))]
    previous: u32,
}

impl DenormalGuard {
    #[allow(deprecated)] // _mm_getcsr/_mm_setcsr: the only stable way to set FTZ/DAZ
    pub fn new() -> Self {
        #[cfg(target_arch = "x86_64")]
        {
            use std::arch::x86_64::{_mm_getcsr, _mm_setcsr};
            const FTZ_DAZ: u32 = 0x8040;
            // SAFETY: SSE is always present on x86_64; we only set two mode bits.
            let previous = unsafe { _mm_getcsr() };
            unsafe { _mm_setcsr(previous | FTZ_DAZ) };
            Self { previous }
        }
        #[cfg(target_arch = "x86")]
        {
            Self { previous: 0 }
        }
        #[cfg(not(any(target_arch = "x86_64", target_arch = "x86")))]
        {
            Self {}
        }
    }
}

impl Default for DenormalGuard {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for DenormalGuard {
    #[allow(deprecated)]
    fn drop(&mut self) {
        #[cfg(target_arch = "x86_64")]
        {
            use std::arch::x86_64::_mm_setcsr;
            // SAFETY: restores the mode read in `new`.
            unsafe { _mm_setcsr(self.previous) };
        }
    }
}

/// Flushes a recursive state value to zero when it is too small to matter. Explicit
/// flushing keeps state clean on platforms or threads where FTZ is not set.
#[inline]
pub fn flush_denormal(x: f64) -> f64 {
    if x.abs() < 1e-30 { 0.0 } else { x }
}
