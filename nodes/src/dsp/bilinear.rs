//! Biquad sections designed by the bilinear transform of an analog prototype, with the
//! frequency prewarped: the design of the Linkwitz-Riley splits (whose low and high
//! bands must sum to an exact all-pass, which the bilinear map preserves) and of the DC
//! blocker. The EQ's magnitude-matched designs are in [`crate::dsp::biquad`].

use std::f64::consts::PI;

use crate::dsp::biquad::Coefs;

/// Highest design frequency as a fraction of the sample rate: bilinear warping stays tame
/// below it.
pub const MAX_FREQ_FRACTION: f64 = 0.45;

/// Prewarped frequency `tan(pi f / fs)`, with `f` kept in a range the bilinear map handles.
pub fn prewarp(freq_hz: f64, sample_rate_hz: f64) -> f64 {
    let f = freq_hz.clamp(0.1, MAX_FREQ_FRACTION * sample_rate_hz);
    (PI * f / sample_rate_hz).tan()
}

/// Bilinear transform of the analog section `(n2 s^2 + n1 s + n0) / (d2 s^2 + d1 s + d0)`
/// with `s` normalised to the design frequency, prewarped by `k = tan(pi f / fs)`.
fn bilinear2(n: [f64; 3], d: [f64; 3], k: f64) -> Coefs {
    let k2 = k * k;
    let z = |c: [f64; 3]| {
        [
            c[0] + c[1] * k + c[2] * k2,
            2.0 * (c[2] * k2 - c[0]),
            c[0] - c[1] * k + c[2] * k2,
        ]
    };
    let num = z(n);
    let den = z(d);
    let inv = 1.0 / den[0];
    Coefs {
        b0: num[0] * inv,
        b1: num[1] * inv,
        b2: num[2] * inv,
        a1: den[1] * inv,
        a2: den[2] * inv,
    }
}

/// Bilinear transform of the analog first-order `(n1 s + n0) / (s + 1)`.
pub fn bilinear1(n1: f64, n0: f64, k: f64) -> Coefs {
    let inv = 1.0 / (1.0 + k);
    Coefs {
        b0: (n1 + n0 * k) * inv,
        b1: (n0 * k - n1) * inv,
        b2: 0.0,
        a1: (k - 1.0) * inv,
        a2: 0.0,
    }
}

/// Second-order low-pass of quality `q` at `k = tan(pi f / fs)`.
pub fn lowpass(q: f64, k: f64) -> Coefs {
    bilinear2([0.0, 0.0, 1.0], [1.0, 1.0 / q, 1.0], k)
}

/// Second-order high-pass of quality `q` at `k = tan(pi f / fs)`.
pub fn highpass(q: f64, k: f64) -> Coefs {
    bilinear2([1.0, 0.0, 0.0], [1.0, 1.0 / q, 1.0], k)
}

/// Second-order all-pass of quality `q` at `k = tan(pi f / fs)`.
pub fn allpass(q: f64, k: f64) -> Coefs {
    bilinear2([1.0, -1.0 / q, 1.0], [1.0, 1.0 / q, 1.0], k)
}

/// First-order high-pass at `k = tan(pi f / fs)` (the DC blocker's filter).
pub fn highpass1(k: f64) -> Coefs {
    bilinear1(1.0, 0.0, k)
}
