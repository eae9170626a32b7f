//! The time budget of a script: how much work its ticks may do per second of audio, and
//! a wall-clock backstop for one tick.
//!
//! The sandbox's per-run limits bound one tick, but not a script that spends its whole
//! allowance on every tick: at 1000 ticks per second, 200,000 operations a tick cost
//! seconds of host time per second of audio, and some operations (`f.curry(i)` on a
//! growing function, `print`) cost far more time than others.
//!
//! Two limits, checked by the host while the script runs:
//! - **Operations per second of audio** (deterministic): an allowance that fills at
//!   [`MAX_OPERATIONS_PER_AUDIO_SECOND`] over the frames between ticks, holds at most
//!   [`crate::sandbox::MAX_OPERATIONS_PER_TICK`], and every tick spends. It counts work,
//!   not time, so an offline render stops a greedy script at the same frame every time.
//! - **Wall-clock time of one tick** ([`MAX_TICK_WALL_MS`]): a backstop for work that
//!   is slow per operation. It depends on the machine, so it is set far above what the
//!   operations budget lets a normal script spend: a render that hits it is already
//!   broken.
//!
//! Either stops the script like any other script error, with a message naming the limit.

use std::sync::Arc;
use std::sync::LazyLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rhai::{Dynamic, Engine};

use crate::sandbox::MAX_OPERATIONS_PER_TICK;

/// Rhai operations a script's ticks may spend per second of audio, on average.
pub const MAX_OPERATIONS_PER_AUDIO_SECOND: u64 = 2_000_000;
/// Wall-clock time one tick (with the first run of the top level and `init`) may take.
pub const MAX_TICK_WALL_MS: u64 = 1000;
/// The clock is read once per this many operations: reading it costs more than one.
const CLOCK_EVERY_OPS: u64 = 256;

/// A common origin for the tick start times kept in an atomic.
static EPOCH: LazyLock<Instant> = LazyLock::new(Instant::now);

/// What the engine's progress callback shares with the task (atomics: the engine must
/// be `Send + Sync`; only one thread ever runs it at a time).
#[derive(Debug, Default)]
struct Shared {
    limit_ops: AtomicU64,
    /// Operations of the Rhai calls of this tick that have finished.
    done_ops: AtomicU64,
    /// The operation count of the Rhai call running now (it restarts at each call).
    call_ops: AtomicU64,
    started_ns: AtomicU64,
}

impl Shared {
    fn used_ops(&self) -> u64 {
        self.done_ops.load(Ordering::Relaxed) + self.call_ops.load(Ordering::Relaxed)
    }
}

/// One script's allowance of operations, and the hook that enforces it.
#[derive(Debug)]
pub struct TickBudget {
    shared: Arc<Shared>,
    allowance_ops: u64,
    refill_ops: u64,
}

impl TickBudget {
    /// Installs the budget's check on `engine`, for ticks `period_s` seconds of audio
    /// apart. The allowance starts full, so the first tick (top level and `init`) may
    /// use a whole tick's operations.
    pub fn install(engine: &mut Engine, period_s: f64) -> Self {
        let shared = Arc::new(Shared::default());
        let hook = Arc::clone(&shared);
        engine.on_progress(move |ops| {
            if ops < hook.call_ops.load(Ordering::Relaxed) {
                // A new Rhai call of the same tick (top level, init, tick).
                let last = hook.call_ops.swap(0, Ordering::Relaxed);
                hook.done_ops.fetch_add(last, Ordering::Relaxed);
            }
            hook.call_ops.store(ops, Ordering::Relaxed);
            let limit = hook.limit_ops.load(Ordering::Relaxed);
            if hook.used_ops() > limit {
                return Some(Dynamic::from(format!(
                    "the script used more than its budget of {MAX_OPERATIONS_PER_AUDIO_SECOND} \
                     operations per second of audio ({limit} were left for this tick); \
                     do less work per tick or lower `rate_hz`"
                )));
            }
            if ops % CLOCK_EVERY_OPS == 0 {
                let started = Duration::from_nanos(hook.started_ns.load(Ordering::Relaxed));
                let elapsed = EPOCH.elapsed().saturating_sub(started);
                if elapsed > Duration::from_millis(MAX_TICK_WALL_MS) {
                    return Some(Dynamic::from(format!(
                        "a tick ran longer than {MAX_TICK_WALL_MS} ms of wall-clock time \
                         (after {} operations)",
                        hook.used_ops()
                    )));
                }
            }
            None
        });
        let refill = MAX_OPERATIONS_PER_AUDIO_SECOND as f64 * period_s.max(0.0);
        TickBudget {
            shared,
            allowance_ops: MAX_OPERATIONS_PER_TICK,
            refill_ops: (refill.ceil() as u64).max(1),
        }
    }

    /// Starts a tick: its limit is what is left of the allowance.
    pub fn begin(&self) {
        let s = &self.shared;
        s.limit_ops.store(self.allowance_ops, Ordering::Relaxed);
        s.done_ops.store(0, Ordering::Relaxed);
        s.call_ops.store(0, Ordering::Relaxed);
        let now = u64::try_from(EPOCH.elapsed().as_nanos()).unwrap_or(u64::MAX);
        s.started_ns.store(now, Ordering::Relaxed);
    }

    /// Ends a tick: spends what it used and adds the allowance of the frames until the
    /// next tick.
    pub fn end(&mut self) {
        let used = self.shared.used_ops();
        self.allowance_ops = (self.allowance_ops.saturating_sub(used) + self.refill_ops)
            .min(MAX_OPERATIONS_PER_TICK);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn engine_with(period_s: f64) -> (Engine, TickBudget) {
        let mut engine = Engine::new();
        let budget = TickBudget::install(&mut engine, period_s);
        (engine, budget)
    }

    #[test]
    fn a_light_script_runs_forever_and_a_greedy_one_is_stopped_at_a_fixed_tick() {
        // 1000 ticks per second leave 2000 operations per tick on average.
        let stopped_at = || {
            let (engine, mut budget) = engine_with(0.001);
            for tick in 0..1000 {
                budget.begin();
                let result = engine.run("let x = 0; for i in 0..3000 { x += i; }");
                budget.end();
                if let Err(e) = result {
                    let rhai::EvalAltResult::ErrorTerminated(reason, _) = *e else {
                        panic!("stopped by the budget, not {e}");
                    };
                    let reason = reason.to_string();
                    assert!(
                        reason.contains("operations per second of audio"),
                        "{reason}"
                    );
                    return Some(tick);
                }
            }
            None
        };
        let first = stopped_at().expect("3000 loop turns a tick at 1000 Hz is over budget");
        assert!(first > 0, "the full allowance covers the first ticks");
        assert_eq!(stopped_at(), Some(first), "deterministic");

        let (engine, mut budget) = engine_with(0.001);
        for _ in 0..2000 {
            budget.begin();
            engine
                .run("let x = 0; for i in 0..100 { x += i; }")
                .unwrap();
            budget.end();
        }
    }
}
