//! Attack/release ballistics of a dynamics processor: how a gain reduction in dB follows
//! its target, with an optional program-dependent (auto) release. The compressor and the
//! limiter both smooth their gain reduction with it.

use lathe_engine::rt::flush_denormal;

/// Auto release: the fast stage releases in this fraction of `release_ms`.
pub const AUTO_FAST_RELEASE_FACTOR: f64 = 0.3;
/// Auto release: the slow stage releases in this multiple of `release_ms`.
pub const AUTO_SLOW_RELEASE_FACTOR: f64 = 3.0;
/// Auto release: the slow stage charges with this time constant, so only sustained
/// reduction reaches it.
pub const AUTO_SLOW_ATTACK_MS: f64 = 400.0;

/// One-pole coefficient for a time constant in ms (0 = instant).
pub fn one_pole_coef(ms: f64, sample_rate_hz: f64) -> f64 {
    if ms <= 0.0 {
        0.0
    } else {
        (-1.0 / (ms * 0.001 * sample_rate_hz)).exp()
    }
}

/// Attack/release ballistics on a gain reduction in dB (positive), for the compressor and
/// the limiter.
///
/// With `auto_release`, two stages run side by side and the larger reduction wins: a fast
/// one (attack as set, release `AUTO_FAST_RELEASE_FACTOR * release_ms`) and a slow one
/// (charging over `AUTO_SLOW_ATTACK_MS`, releasing over `AUTO_SLOW_RELEASE_FACTOR *
/// release_ms`). A short peak charges only the fast stage and recovers quickly; sustained
/// reduction charges the slow stage too and recovers slowly: program-dependent release.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ballistics {
    attack: Pole,
    release: Pole,
    fast_release: Pole,
    slow_attack: Pole,
    slow_release: Pole,
    auto_release: bool,
}

/// A one-pole coefficient and its complement: `y' = y * coef + x * rest` keeps the
/// multiply by the input off the recursion's serial chain (one multiply and one add
/// on it instead of a subtract, a multiply and an add).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Pole {
    coef: f64,
    rest: f64,
}

impl Pole {
    fn new(ms: f64, sample_rate_hz: f64) -> Self {
        let coef = one_pole_coef(ms, sample_rate_hz);
        Self {
            coef,
            rest: 1.0 - coef,
        }
    }
}

impl Ballistics {
    pub fn new(sample_rate_hz: f64, attack_ms: f64, release_ms: f64, auto_release: bool) -> Self {
        Self {
            attack: Pole::new(attack_ms, sample_rate_hz),
            release: Pole::new(release_ms, sample_rate_hz),
            fast_release: Pole::new(release_ms * AUTO_FAST_RELEASE_FACTOR, sample_rate_hz),
            slow_attack: Pole::new(AUTO_SLOW_ATTACK_MS, sample_rate_hz),
            slow_release: Pole::new(release_ms * AUTO_SLOW_RELEASE_FACTOR, sample_rate_hz),
            auto_release,
        }
    }

    /// Advances `env` one sample toward `target` and returns the reduction to apply.
    #[inline]
    pub fn step(&self, env: &mut Envelope, target: f64) -> f64 {
        let gr = self.step_unflushed(env, target);
        env.flush();
        // The flush can only have zeroed a value below 1e-30; the reduction follows it.
        if self.auto_release {
            env.fast.out.max(env.slow.out)
        } else {
            flush_denormal(gr)
        }
    }

    /// [`Self::step_unflushed`] over a run of targets, each replaced by its reduction.
    /// The mode is decided once for the run, so the loop is the bare recursion.
    #[inline]
    pub fn run_unflushed(&self, env: &mut Envelope, targets: &mut [f64]) {
        if self.auto_release {
            for t in targets {
                *t = self.step_unflushed(env, *t);
            }
        } else {
            if targets.is_empty() {
                return;
            }
            let (attack, release) = (self.attack, self.release);
            let mut stage = env.fast;
            for t in targets {
                *t = stage.step(*t, attack, release);
            }
            env.fast = stage;
            env.slow = Stage::default();
        }
    }

    /// [`Self::step`] without flushing tiny values from the state: the caller flushes
    /// with [`Envelope::flush`] often enough (every few hundred frames) that nothing
    /// decays into subnormals, and the per-sample chain is shorter.
    #[inline]
    pub fn step_unflushed(&self, env: &mut Envelope, target: f64) -> f64 {
        if self.auto_release {
            let fast = env.fast.step(target, self.attack, self.fast_release);
            let slow = env.slow.step(target, self.slow_attack, self.slow_release);
            fast.max(slow)
        } else {
            env.slow = Stage::default();
            env.fast.step(target, self.attack, self.release)
        }
    }
}

/// State of [`Ballistics`] for one channel.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Envelope {
    fast: Stage,
    slow: Stage,
}

impl Envelope {
    /// Sets values too small to matter (below 1e-30 dB) to zero, so long releases never
    /// reach subnormal numbers.
    #[inline]
    pub fn flush(&mut self) {
        for stage in [&mut self.fast, &mut self.slow] {
            stage.hold = flush_denormal(stage.hold);
            stage.out = flush_denormal(stage.out);
        }
    }
}

/// One attack/release stage: a peak hold that jumps up at once and releases
/// exponentially, followed by an attack smoother that only acts while rising. Holding
/// the peak before smoothing the attack makes a steady tone settle at the reduction of
/// its peak (not somewhere between its peaks and zero crossings), while a step still
/// rises with the attack and falls with the release time constant.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Stage {
    hold: f64,
    out: f64,
}

impl Stage {
    /// Both candidates of each step are computed and one is selected, so the step has
    /// no branch to mispredict (targets cross the held value all the time on music).
    ///
    /// With coefficients in `[0, 1)` the selections are a max and a min: released from
    /// above the target, the hold stays above it, and from below it would fall under it
    /// (so the target wins); attacked from below, the output stays under the hold, and
    /// from above it would rise over it (so the hold wins). One `maxsd` and one `minsd`,
    /// and the form of [`Pole`], keep the serial chains short: a multiply, an add and
    /// the selection for each of hold and output.
    #[inline]
    fn step(&mut self, target: f64, attack: Pole, release: Pole) -> f64 {
        let released = self.hold * release.coef + target * release.rest;
        self.hold = if released > target { released } else { target };
        let attacked = self.out * attack.coef + self.hold * attack.rest;
        self.out = if attacked < self.hold {
            attacked
        } else {
            self.hold
        };
        self.out
    }
}
