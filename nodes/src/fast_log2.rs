//! Base-2 logarithm and exponential of gains, without a library call: gain envelopes
//! that run per sample in the log domain need them on every frame, and the library's
//! `log10`/`powf` cost more than the rest of the envelope. Both are accurate to 1e-8 in
//! log2 units (about 6e-8 dB), far below what a gain envelope can hear, and both are plain
//! f64 arithmetic, so results are the same on every machine.

const LN_2: f64 = std::f64::consts::LN_2;

/// `log2(x)` for a finite `x > 0` (normal f64); other values give an unspecified finite
/// result or NaN.
#[inline]
pub fn log2(x: f64) -> f64 {
    let bits = x.to_bits();
    let mut exponent = ((bits >> 52) & 0x7ff) as i64 - 1023;
    // Mantissa in [1, 2), folded into [sqrt(1/2), sqrt(2)) so the series below converges fast.
    let mut m = f64::from_bits((bits & ((1u64 << 52) - 1)) | (1023u64 << 52));
    if m > std::f64::consts::SQRT_2 {
        m *= 0.5;
        exponent += 1;
    }
    // ln(m) = 2 atanh(t), t = (m - 1) / (m + 1), |t| <= 0.172: five odd terms leave an
    // error below 2 t^11 / 11 < 7e-10.
    let t = (m - 1.0) / (m + 1.0);
    let t2 = t * t;
    let series =
        t * (2.0 + t2 * (2.0 / 3.0 + t2 * (2.0 / 5.0 + t2 * (2.0 / 7.0 + t2 * (2.0 / 9.0)))));
    exponent as f64 + series / LN_2
}

/// `2^x` for `x` in `-1000 ..= 1000` (clamped to that range).
#[inline]
pub fn exp2(x: f64) -> f64 {
    let x = x.clamp(-1000.0, 1000.0);
    // Nearest integer by truncating a positive number (no library call for `round`).
    let whole = ((x + 1024.5) as i64 - 1024) as f64;
    // 2^f = e^(f ln 2), |f ln 2| <= 0.347: Taylor to degree 7 leaves below 6e-9 relative.
    let y = (x - whole) * LN_2;
    let poly = 1.0
        + y * (1.0
            + y * (1.0 / 2.0
                + y * (1.0 / 6.0
                    + y * (1.0 / 24.0
                        + y * (1.0 / 120.0 + y * (1.0 / 720.0 + y * (1.0 / 5040.0)))))));
    poly * f64::from_bits(((whole as i64 + 1023) as u64) << 52)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Against the library over gains from 1e-12 to 1 (and a little above): within 1e-8.
    #[test]
    fn log2_matches_the_library() {
        let mut x = 1e-12f64;
        while x < 4.0 {
            let err = (log2(x) - x.log2()).abs();
            assert!(err < 1e-8, "log2({x}): {} vs {}", log2(x), x.log2());
            x *= 1.000_37;
        }
        assert_eq!(log2(1.0), 0.0);
    }

    /// Against the library from 2^-45 to 2^2: relative error within 1e-8, and exactly 1 at 0.
    #[test]
    fn exp2_matches_the_library() {
        let mut x = -45.0f64;
        while x < 2.0 {
            let rel = (exp2(x) / x.exp2() - 1.0).abs();
            assert!(rel < 1e-8, "exp2({x}): {} vs {}", exp2(x), x.exp2());
            x += 0.000_731;
        }
        assert_eq!(exp2(0.0), 1.0);
    }
}
