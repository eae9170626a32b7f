//! Parameter smoothing: a change never jumps, it ramps over the param's smoothing time,
//! one step per sample so the result does not depend on block size.

/// Linear ramp toward a target over a fixed time. Cheap and exact: it lands on the target
/// after exactly `ramp_frames` samples, and reports when it is settled so nodes can skip
/// per-sample work (coefficient updates) while a value is steady.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LinearSmoother {
    current: f64,
    target: f64,
    step: f64,
    remaining: u32,
    ramp_frames: u32,
}

impl LinearSmoother {
    /// A smoother at `value`, ramping over `smoothing_ms` at `sample_rate_hz`.
    pub fn new(value: f32, smoothing_ms: f32, sample_rate_hz: f64) -> Self {
        let ramp_frames = ((smoothing_ms as f64) * 0.001 * sample_rate_hz)
            .round()
            .max(0.0) as u32;
        Self {
            current: value as f64,
            target: value as f64,
            step: 0.0,
            remaining: 0,
            ramp_frames,
        }
    }

    /// Starts a ramp from the current value to `target`.
    pub fn set_target(&mut self, target: f32) {
        let target = target as f64;
        if target == self.target && self.remaining == 0 {
            return;
        }
        self.target = target;
        if self.ramp_frames == 0 {
            self.current = target;
            self.remaining = 0;
        } else {
            self.remaining = self.ramp_frames;
            self.step = (target - self.current) / self.ramp_frames as f64;
        }
    }

    /// Restarts from `start` and ramps to the target over the smoothing time: a node
    /// that joins a running graph glides in from bypass this way.
    pub fn ramp_from(&mut self, start: f32) {
        self.current = start as f64;
        if self.ramp_frames == 0 || self.current == self.target {
            self.current = self.target;
            self.remaining = 0;
        } else {
            self.remaining = self.ramp_frames;
            self.step = (self.target - self.current) / self.ramp_frames as f64;
        }
    }

    /// Jumps to the target (used by `reset`).
    pub fn snap(&mut self) {
        self.current = self.target;
        self.remaining = 0;
    }

    /// Advances one sample and returns the new value.
    #[inline]
    #[allow(clippy::should_implement_trait)] // a smoother never ends: not an Iterator
    pub fn next(&mut self) -> f32 {
        if self.remaining > 0 {
            self.remaining -= 1;
            if self.remaining == 0 {
                self.current = self.target;
            } else {
                self.current += self.step;
            }
        }
        self.current as f32
    }

    /// Fills `block` with the next `block.len()` values, exactly as that many calls of
    /// [`LinearSmoother::next`] would: a block-rate caller gets the per-sample ramp
    /// without a loop of its own. A settled smoother fills with its value.
    #[inline]
    pub fn fill(&mut self, block: &mut [f32]) {
        if self.remaining == 0 {
            block.fill(self.current as f32);
            return;
        }
        for v in block {
            *v = self.next();
        }
    }

    /// Advances `frames` samples at once and returns the value reached.
    pub fn skip(&mut self, frames: usize) -> f32 {
        let n = frames.min(self.remaining as usize) as u32;
        if n > 0 {
            self.remaining -= n;
            if self.remaining == 0 {
                self.current = self.target;
            } else {
                self.current += self.step * n as f64;
            }
        }
        self.current as f32
    }

    #[inline]
    pub fn value(&self) -> f32 {
        self.current as f32
    }

    pub fn target(&self) -> f32 {
        self.target as f32
    }

    #[inline]
    pub fn is_smoothing(&self) -> bool {
        self.remaining > 0
    }
}

/// Decibels to linear gain.
#[inline]
pub fn db_to_gain(db: f32) -> f32 {
    10f32.powf(db * 0.05)
}

/// Linear gain (magnitude) to decibels; 0 gives -inf.
#[inline]
pub fn gain_to_db(gain: f32) -> f32 {
    20.0 * gain.abs().log10()
}

/// f64 versions for coefficient maths.
#[inline]
pub fn db_to_gain_f64(db: f64) -> f64 {
    10f64.powf(db * 0.05)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ramp_lands_exactly_on_target_after_smoothing_time() {
        let mut s = LinearSmoother::new(0.0, 1.0, 48_000.0); // 48 frames
        s.set_target(1.0);
        for _ in 0..47 {
            assert!(s.next() < 1.0);
        }
        assert_eq!(s.next(), 1.0);
        assert!(!s.is_smoothing());
    }

    #[test]
    fn fill_equals_stepping() {
        let mut a = LinearSmoother::new(0.5, 2.0, 48_000.0);
        let mut b = a;
        a.set_target(-1.0);
        b.set_target(-1.0);
        let mut block = [0.0f32; 150];
        b.fill(&mut block);
        for v in block {
            assert_eq!(a.next(), v);
        }
        b.fill(&mut block[..3]);
        assert_eq!(block[..3], [-1.0; 3]);
    }

    #[test]
    fn skip_equals_stepping() {
        let mut a = LinearSmoother::new(-6.0, 10.0, 48_000.0);
        let mut b = a;
        a.set_target(3.0);
        b.set_target(3.0);
        for _ in 0..100 {
            a.next();
        }
        b.skip(100);
        assert!((a.value() - b.value()).abs() < 1e-5);
    }
}
