//! f64 lanes for the IIR kernels: two or four f64 values that go through the same
//! arithmetic side by side (two channels, or the low-pass and high-pass of a split for
//! two channels).
//!
//! Each operation is one IEEE multiply, add or subtract per lane, never a fused
//! multiply-add, so a lane computes exactly what the same expression computes on a plain
//! `f64`: the portable arrays, SSE2 (the x86-64 baseline) and AVX give the same bits,
//! and a kernel written once over these traits matches its scalar original.
//!
//! The x86 types wrap `core::arch` vectors. [`Avx`] may only be used by code entered
//! through a `#[target_feature(enable = "avx")]` function after
//! [`crate::dsp::cpu::Isa::detect`] found AVX: its operations are AVX instructions.

/// Arithmetic of a group of f64 lanes.
pub trait Lanes: Copy {
    fn add(self, rhs: Self) -> Self;
    fn sub(self, rhs: Self) -> Self;
    fn mul(self, rhs: Self) -> Self;
    /// [`lathe_engine::rt::flush_denormal`] on every lane.
    fn flush(self) -> Self;
}

/// Two lanes: one value per channel of a pair.
pub trait Pair: Lanes {
    fn from_array(a: [f64; 2]) -> Self;
    fn to_array(self) -> [f64; 2];
    /// Widens two f32 samples (exact).
    fn from_f32(a: [f32; 2]) -> Self;
    /// Rounds to f32 as `as f32` does (to nearest, ties to even).
    fn to_f32(self) -> [f32; 2];
}

/// Four lanes: a [`Pair`] twice, as low and high halves.
pub trait Quad: Lanes {
    type Half: Pair;
    fn from_array(a: [f64; 4]) -> Self;
    fn to_array(self) -> [f64; 4];
    /// `[h, h]`.
    fn dup(h: Self::Half) -> Self;
    /// `(low, high)`.
    fn halves(self) -> (Self::Half, Self::Half);
}

impl Lanes for f64 {
    #[inline(always)]
    fn add(self, rhs: Self) -> Self {
        self + rhs
    }
    #[inline(always)]
    fn sub(self, rhs: Self) -> Self {
        self - rhs
    }
    #[inline(always)]
    fn mul(self, rhs: Self) -> Self {
        self * rhs
    }
    #[inline(always)]
    fn flush(self) -> Self {
        lathe_engine::rt::flush_denormal(self)
    }
}

impl<const N: usize> Lanes for [f64; N] {
    #[inline(always)]
    fn add(self, rhs: Self) -> Self {
        std::array::from_fn(|i| self[i] + rhs[i])
    }
    #[inline(always)]
    fn sub(self, rhs: Self) -> Self {
        std::array::from_fn(|i| self[i] - rhs[i])
    }
    #[inline(always)]
    fn mul(self, rhs: Self) -> Self {
        std::array::from_fn(|i| self[i] * rhs[i])
    }
    #[inline(always)]
    fn flush(self) -> Self {
        self.map(lathe_engine::rt::flush_denormal)
    }
}

impl Pair for [f64; 2] {
    #[inline(always)]
    fn from_array(a: [f64; 2]) -> Self {
        a
    }
    #[inline(always)]
    fn to_array(self) -> [f64; 2] {
        self
    }
    #[inline(always)]
    fn from_f32(a: [f32; 2]) -> Self {
        a.map(f64::from)
    }
    #[inline(always)]
    fn to_f32(self) -> [f32; 2] {
        self.map(|x| x as f32)
    }
}

impl Quad for [f64; 4] {
    type Half = [f64; 2];
    #[inline(always)]
    fn from_array(a: [f64; 4]) -> Self {
        a
    }
    #[inline(always)]
    fn to_array(self) -> [f64; 4] {
        self
    }
    #[inline(always)]
    fn dup(h: [f64; 2]) -> Self {
        [h[0], h[1], h[0], h[1]]
    }
    #[inline(always)]
    fn halves(self) -> ([f64; 2], [f64; 2]) {
        ([self[0], self[1]], [self[2], self[3]])
    }
}

#[cfg(target_arch = "x86_64")]
pub use x86::{Avx, Sse2, Sse2Quad};

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    use super::{Lanes, Pair, Quad};

    /// Two lanes in an SSE2 register (always available on x86-64).
    #[derive(Clone, Copy)]
    pub struct Sse2(__m128d);

    /// Four lanes in two SSE2 registers, for CPUs without AVX.
    #[derive(Clone, Copy)]
    pub struct Sse2Quad(Sse2, Sse2);

    /// Four lanes in an AVX register. See the module doc: only under AVX.
    #[derive(Clone, Copy)]
    pub struct Avx(__m256d);

    /// Per-lane `if |x| < 1e-30 { 0.0 } else { x }`: the mask is all ones where the
    /// magnitude is below the threshold (never for NaN), and clears those lanes to +0.0.
    #[inline(always)]
    fn flush128(x: __m128d) -> __m128d {
        // SAFETY: SSE2 is part of the x86-64 baseline.
        unsafe {
            let magnitude = _mm_and_pd(x, _mm_castsi128_pd(_mm_set1_epi64x(i64::MAX)));
            let small = _mm_cmplt_pd(magnitude, _mm_set1_pd(1e-30));
            _mm_andnot_pd(small, x)
        }
    }

    impl Lanes for Sse2 {
        #[inline(always)]
        fn add(self, rhs: Self) -> Self {
            // SAFETY: SSE2 is part of the x86-64 baseline.
            Self(unsafe { _mm_add_pd(self.0, rhs.0) })
        }
        #[inline(always)]
        fn sub(self, rhs: Self) -> Self {
            // SAFETY: as above.
            Self(unsafe { _mm_sub_pd(self.0, rhs.0) })
        }
        #[inline(always)]
        fn mul(self, rhs: Self) -> Self {
            // SAFETY: as above.
            Self(unsafe { _mm_mul_pd(self.0, rhs.0) })
        }
        #[inline(always)]
        fn flush(self) -> Self {
            Self(flush128(self.0))
        }
    }

    impl Pair for Sse2 {
        #[inline(always)]
        fn from_array(a: [f64; 2]) -> Self {
            // SAFETY: SSE2 baseline; the load reads the two f64 of `a`.
            Self(unsafe { _mm_loadu_pd(a.as_ptr()) })
        }
        #[inline(always)]
        fn to_array(self) -> [f64; 2] {
            let mut a = [0.0; 2];
            // SAFETY: SSE2 baseline; the store writes the two f64 of `a`.
            unsafe { _mm_storeu_pd(a.as_mut_ptr(), self.0) };
            a
        }
        #[inline(always)]
        fn from_f32(a: [f32; 2]) -> Self {
            // SAFETY: SSE2 baseline; the 64-bit load reads the two f32 of `a`.
            Self(unsafe {
                _mm_cvtps_pd(_mm_castsi128_ps(_mm_loadl_epi64(
                    a.as_ptr().cast::<__m128i>(),
                )))
            })
        }
        #[inline(always)]
        fn to_f32(self) -> [f32; 2] {
            let mut a = [0.0f32; 2];
            // SAFETY: SSE2 baseline; the 64-bit store writes the two f32 of `a`.
            // `cvtpd2ps` rounds by MXCSR, which Rust code runs at round-to-nearest.
            unsafe {
                _mm_storel_epi64(
                    a.as_mut_ptr().cast::<__m128i>(),
                    _mm_castps_si128(_mm_cvtpd_ps(self.0)),
                )
            };
            a
        }
    }

    impl Lanes for Sse2Quad {
        #[inline(always)]
        fn add(self, rhs: Self) -> Self {
            Self(self.0.add(rhs.0), self.1.add(rhs.1))
        }
        #[inline(always)]
        fn sub(self, rhs: Self) -> Self {
            Self(self.0.sub(rhs.0), self.1.sub(rhs.1))
        }
        #[inline(always)]
        fn mul(self, rhs: Self) -> Self {
            Self(self.0.mul(rhs.0), self.1.mul(rhs.1))
        }
        #[inline(always)]
        fn flush(self) -> Self {
            Self(self.0.flush(), self.1.flush())
        }
    }

    impl Quad for Sse2Quad {
        type Half = Sse2;
        #[inline(always)]
        fn from_array(a: [f64; 4]) -> Self {
            Self(
                Sse2::from_array([a[0], a[1]]),
                Sse2::from_array([a[2], a[3]]),
            )
        }
        #[inline(always)]
        fn to_array(self) -> [f64; 4] {
            let ([a, b], [c, d]) = (self.0.to_array(), self.1.to_array());
            [a, b, c, d]
        }
        #[inline(always)]
        fn dup(h: Sse2) -> Self {
            Self(h, h)
        }
        #[inline(always)]
        fn halves(self) -> (Sse2, Sse2) {
            (self.0, self.1)
        }
    }

    impl Lanes for Avx {
        #[inline(always)]
        fn add(self, rhs: Self) -> Self {
            // SAFETY: `Avx` runs only under AVX (module doc).
            Self(unsafe { _mm256_add_pd(self.0, rhs.0) })
        }
        #[inline(always)]
        fn sub(self, rhs: Self) -> Self {
            // SAFETY: as above.
            Self(unsafe { _mm256_sub_pd(self.0, rhs.0) })
        }
        #[inline(always)]
        fn mul(self, rhs: Self) -> Self {
            // SAFETY: as above.
            Self(unsafe { _mm256_mul_pd(self.0, rhs.0) })
        }
        #[inline(always)]
        fn flush(self) -> Self {
            let (lo, hi) = self.halves();
            Self::from_halves(lo.flush(), hi.flush())
        }
    }

    impl Avx {
        #[inline(always)]
        fn from_halves(lo: Sse2, hi: Sse2) -> Self {
            // SAFETY: `Avx` runs only under AVX (module doc).
            Self(unsafe { _mm256_set_m128d(hi.0, lo.0) })
        }
    }

    impl Quad for Avx {
        type Half = Sse2;
        #[inline(always)]
        fn from_array(a: [f64; 4]) -> Self {
            // SAFETY: under AVX (module doc); the load reads the four f64 of `a`.
            Self(unsafe { _mm256_loadu_pd(a.as_ptr()) })
        }
        #[inline(always)]
        fn to_array(self) -> [f64; 4] {
            let mut a = [0.0; 4];
            // SAFETY: under AVX (module doc); the store writes the four f64 of `a`.
            unsafe { _mm256_storeu_pd(a.as_mut_ptr(), self.0) };
            a
        }
        #[inline(always)]
        fn dup(h: Sse2) -> Self {
            Self::from_halves(h, h)
        }
        #[inline(always)]
        fn halves(self) -> (Sse2, Sse2) {
            // SAFETY: under AVX (module doc).
            unsafe {
                (
                    Sse2(_mm256_castpd256_pd128(self.0)),
                    Sse2(_mm256_extractf128_pd::<1>(self.0)),
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Values around the flush threshold, signed zeros, subnormals, infinities, NaN.
    const EDGES: [f64; 12] = [
        0.0,
        -0.0,
        1e-30,
        -1e-30,
        9.99e-31,
        -9.99e-31,
        1e-310,
        -3.5,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NAN,
        1.0e300,
    ];

    /// Same bits, or both NaN (Rust leaves NaN payloads unspecified: constant folding
    /// and the CPU may make different ones).
    fn same(a: &[f64], b: &[f64]) -> bool {
        a.iter()
            .zip(b)
            .all(|(x, y)| x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan()))
    }

    /// Every lane type computes what plain f64 arithmetic computes, bit for bit.
    #[inline(always)]
    fn check_quad<Q: Quad>() {
        for (i, &x) in EDGES.iter().enumerate() {
            let a = [x, EDGES[(i + 3) % 12], EDGES[(i + 5) % 12], 0.1 * x];
            let b = [EDGES[(i + 1) % 12], 3.0, -x, 1e-20];
            let (qa, qb) = (Q::from_array(a), Q::from_array(b));
            let scalar =
                |f: fn(f64, f64) -> f64| -> [f64; 4] { std::array::from_fn(|k| f(a[k], b[k])) };
            assert!(same(&qa.add(qb).to_array(), &scalar(|x, y| x + y)));
            assert!(same(&qa.sub(qb).to_array(), &scalar(|x, y| x - y)));
            assert!(same(&qa.mul(qb).to_array(), &scalar(|x, y| x * y)));
            let flushed = a.map(lathe_engine::rt::flush_denormal);
            assert!(same(&qa.flush().to_array(), &flushed), "{a:?}");
            let (lo, hi) = qa.halves();
            assert!(same(&lo.to_array(), &a[..2]) && same(&hi.to_array(), &a[2..]));
            assert!(same(&Q::dup(lo).to_array(), &[a[0], a[1], a[0], a[1]]));
            let narrow = lo.to_f32();
            assert_eq!(
                narrow.map(f32::to_bits),
                [a[0] as f32, a[1] as f32].map(f32::to_bits)
            );
            let wide = <Q::Half as Pair>::from_f32([x as f32, -1.5e-40]);
            assert!(same(
                &wide.to_array(),
                &[f64::from(x as f32), f64::from(-1.5e-40f32)]
            ));
        }
    }

    #[test]
    fn portable_lanes_are_plain_f64_arithmetic() {
        check_quad::<[f64; 4]>();
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn sse2_lanes_are_plain_f64_arithmetic() {
        check_quad::<Sse2Quad>();
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx")]
    fn check_avx() {
        check_quad::<Avx>();
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn avx_lanes_are_plain_f64_arithmetic() {
        if crate::dsp::cpu::Isa::detect() >= crate::dsp::cpu::Isa::Avx {
            // SAFETY: AVX is present.
            unsafe { check_avx() };
        }
    }
}
