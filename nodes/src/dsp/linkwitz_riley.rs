//! Linkwitz-Riley splits: a low-pass and a high-pass made of two cascaded Butterworth
//! filters, whose sum is an all-pass, so bands split by them sum back to a flat
//! magnitude. The crossover kind cascades them into N bands; the width kind uses one to
//! keep the bass mono.

use lathe_engine::ConfigError;

use crate::dsp::bilinear::{self, prewarp};
use crate::dsp::biquad::{Coefs, flush_state};

/// Linkwitz-Riley slope: two cascaded Butterworth filters of half the order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slope {
    Lr2,
    Lr4,
    Lr8,
}

impl Slope {
    pub fn parse(name: &str) -> Result<Self, ConfigError> {
        match name {
            "lr2" => Ok(Slope::Lr2),
            "lr4" => Ok(Slope::Lr4),
            "lr8" => Ok(Slope::Lr8),
            other => Err(ConfigError::invalid(
                "slope",
                format!("must be \"lr2\", \"lr4\" or \"lr8\", found \"{other}\""),
            )),
        }
    }

    /// Order of the Butterworth filter that is squared (1, 2 or 4).
    pub fn butterworth_order(self) -> u32 {
        match self {
            Slope::Lr2 => 1,
            Slope::Lr4 => 2,
            Slope::Lr8 => 4,
        }
    }

    /// Analytic magnitude of the low-pass at `ratio` = frequency / split frequency (in the
    /// analog domain; a bilinear filter follows it at the warped ratio). The high-pass is
    /// `1 - lowpass_magnitude`: Linkwitz-Riley magnitudes are complementary.
    pub fn lowpass_magnitude(self, ratio: f64) -> f64 {
        1.0 / (1.0 + ratio.powi(2 * self.butterworth_order() as i32))
    }
}

/// Butterworth Qs of the second-order sections of a 4th-order Butterworth.
pub const BUTTERWORTH4_Q: [f64; 2] = [0.541_196_100_146_197, 1.306_562_964_876_376_4];

/// The filters of one Linkwitz-Riley split: low-pass and high-pass cascades of up to
/// four sections, and the all-pass their sum equals (up to two sections), which lower
/// bands use to match the phase of this split.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct LrSplit {
    lp: [Coefs; 4],
    hp: [Coefs; 4],
    ap: [Coefs; 2],
    pass_sections: usize,
    ap_sections: usize,
}

/// Memory of one channel through the low-pass and high-pass of a split.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct LrSplitState {
    lp: [[f64; 2]; 4],
    hp: [[f64; 2]; 4],
}

impl LrSplitState {
    pub fn flush(&mut self) {
        self.lp.iter_mut().chain(&mut self.hp).for_each(flush_state);
    }
}

/// Memory of one signal through a split's all-pass.
pub type AllpassState = [[f64; 2]; 2];

impl LrSplit {
    /// The low-pass cascade (sections past the slope's count are unused zeros).
    pub fn lowpass_sections(&self) -> &[Coefs; 4] {
        &self.lp
    }

    /// The high-pass cascade (sections past the slope's count are unused zeros).
    pub fn highpass_sections(&self) -> &[Coefs; 4] {
        &self.hp
    }

    /// The all-pass equal to low + high (sections past the slope's count are unused zeros).
    pub fn allpass_sections(&self) -> &[Coefs; 2] {
        &self.ap
    }

    pub fn new(slope: Slope, freq_hz: f64, sample_rate_hz: f64) -> Self {
        let k = prewarp(freq_hz, sample_rate_hz);
        let mut split = Self::default();
        match slope {
            Slope::Lr2 => {
                // (1/(s+1))^2 and (s/(s+1))^2 sum to an all-pass only with the high band
                // inverted: LP - HP = (1 - s) / (1 + s).
                split.lp[0] = bilinear::lowpass(0.5, k);
                split.hp[0] = negated(bilinear::highpass(0.5, k));
                split.ap[0] = bilinear::bilinear1(-1.0, 1.0, k);
                split.pass_sections = 1;
                split.ap_sections = 1;
            }
            Slope::Lr4 => {
                let q = std::f64::consts::FRAC_1_SQRT_2;
                split.lp[..2].fill(bilinear::lowpass(q, k));
                split.hp[..2].fill(bilinear::highpass(q, k));
                split.ap[0] = bilinear::allpass(q, k);
                split.pass_sections = 2;
                split.ap_sections = 1;
            }
            Slope::Lr8 => {
                for (i, q) in BUTTERWORTH4_Q.iter().enumerate() {
                    split.lp[i] = bilinear::lowpass(*q, k);
                    split.lp[i + 2] = split.lp[i];
                    split.hp[i] = bilinear::highpass(*q, k);
                    split.hp[i + 2] = split.hp[i];
                    split.ap[i] = bilinear::allpass(*q, k);
                }
                split.pass_sections = 4;
                split.ap_sections = 2;
            }
        }
        split
    }

    /// One sample through the split: (low band, high band). The scalar reference the
    /// lane kernel is tested against.
    #[cfg(test)]
    pub fn split(&self, st: &mut LrSplitState, x: f64) -> (f64, f64) {
        let n = self.pass_sections;
        let mut lo = x;
        for (sec, s) in self.lp[..n].iter().zip(&mut st.lp) {
            lo = sec.tick(s, lo);
        }
        let mut hi = x;
        for (sec, s) in self.hp[..n].iter().zip(&mut st.hp) {
            hi = sec.tick(s, hi);
        }
        (lo, hi)
    }

    /// One sample through the high-pass only.
    #[inline]
    pub fn highpass(&self, st: &mut LrSplitState, x: f64) -> f64 {
        let mut hi = x;
        for (sec, s) in self.hp[..self.pass_sections].iter().zip(&mut st.hp) {
            hi = sec.tick(s, hi);
        }
        hi
    }

    /// One sample through the all-pass equal to low + high of this split.
    #[inline]
    pub fn allpass(&self, st: &mut AllpassState, x: f64) -> f64 {
        let mut y = x;
        for (sec, s) in self.ap[..self.ap_sections].iter().zip(st.iter_mut()) {
            y = sec.tick(s, y);
        }
        y
    }
}

/// The section with its numerator negated: the polarity-inverted filter.
fn negated(c: Coefs) -> Coefs {
    Coefs {
        b0: -c.b0,
        b1: -c.b1,
        b2: -c.b2,
        ..c
    }
}
