//! The fixed iteration rule that finds pre-gains: render, measure, correct, render again.
//!
//! Loudness after a limiter is not linear in the gain before it (a limiter turns 1 dB
//! more drive into less than 1 LU more loudness), so one measurement is not enough. The
//! rule, the same on every run:
//!
//! 1. The first gain is `target - loudness before` (exact for a linear chain).
//! 2. After each pass the error `target - loudness after` is measured. It is settled
//!    when within [`SETTLE_LU`].
//! 3. Otherwise the next gain is `gain + error / slope`, where `slope` is the secant
//!    slope (LU per dB) of the last two passes, clamped to [`MIN_SLOPE`]`..=1` (1 on
//!    the second pass). Gains stay within ±[`MAX_GAIN_DB`].
//! 4. At most [`MAX_PASSES`] passes; the last one is kept and reported if it missed.

/// Where the iteration stops: well inside the ±0.3 LU a delivery allows, so dither and
/// resampling after the graph cannot push a settled track out of tolerance.
pub const SETTLE_LU: f64 = 0.1;
/// Album mode: a track's loudness relative to the album may drift this far from the
/// mix's before it gets a trim of its own.
pub const RELATIVE_SETTLE_LU: f64 = 0.2;
/// Renders per track at most.
pub const MAX_PASSES: usize = 6;
/// The least loudness change per dB of gain assumed (heavy limiting).
pub const MIN_SLOPE: f64 = 0.1;
/// The largest pre-gain either way.
pub const MAX_GAIN_DB: f64 = 40.0;

/// The secant search of one gain towards one target.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GainSearch {
    target: f64,
    gain_db: f64,
    previous: Option<(f64, f64)>,
}

impl GainSearch {
    /// A search for `target` starting from the loudness `before` any gain (a silent
    /// input, `None`, starts and stays at 0 dB).
    pub fn new(target: f64, before: Option<f64>) -> Self {
        Self {
            target,
            gain_db: before.map_or(0.0, |b| (target - b).clamp(-MAX_GAIN_DB, MAX_GAIN_DB)),
            previous: None,
        }
    }

    /// The gain to render the next pass with.
    pub fn gain_db(&self) -> f64 {
        self.gain_db
    }

    /// The error of a pass rendered at [`Self::gain_db`] that measured `loudness`.
    pub fn error(&self, loudness: Option<f64>) -> f64 {
        loudness.map_or(0.0, |l| self.target - l)
    }

    /// Records the loudness a pass measured and moves the gain; returns whether the
    /// pass was settled (then the gain is left as it was).
    pub fn step(&mut self, loudness: Option<f64>) -> bool {
        let Some(measured) = loudness else {
            return true;
        };
        let error = self.target - measured;
        if error.abs() <= SETTLE_LU {
            return true;
        }
        let slope = match self.previous {
            Some((g, l)) if (self.gain_db - g).abs() > 1e-9 => {
                ((measured - l) / (self.gain_db - g)).clamp(MIN_SLOPE, 1.0)
            }
            _ => 1.0,
        };
        self.previous = Some((self.gain_db, measured));
        self.gain_db = (self.gain_db + error / slope).clamp(-MAX_GAIN_DB, MAX_GAIN_DB);
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A chain that is linear up to a threshold, then adds a quarter LU per dB.
    fn limited(input: f64) -> f64 {
        if input < -12.0 {
            input
        } else {
            -12.0 + (input + 12.0) * 0.25
        }
    }

    #[test]
    fn a_linear_chain_settles_on_the_first_pass() {
        let mut s = GainSearch::new(-14.0, Some(-20.0));
        assert_eq!(s.gain_db(), 6.0);
        assert!(s.step(Some(-20.0 + s.gain_db())));
    }

    #[test]
    fn a_limited_chain_settles_within_the_passes() {
        let before = -20.0;
        let mut s = GainSearch::new(-10.0, Some(before));
        let mut passes = 0;
        loop {
            passes += 1;
            let after = limited(before + s.gain_db());
            if s.step(Some(after)) {
                assert!((after + 10.0).abs() <= SETTLE_LU);
                break;
            }
            assert!(passes < MAX_PASSES, "not settled");
        }
        assert!(passes >= 2);
    }
}
