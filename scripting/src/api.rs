//! What a script sees: the `ctx` argument of `init(ctx)` and `tick(ctx)`, and the helper
//! functions (`db_to_gain`, `gain_to_db`, `clamp`, `smooth`, `slew`).
//!
//! Rhai's native functions must be `'static`, but the [`ControlSurface`] a host passes to
//! a tick is only borrowed. [`lend`] puts the borrowed surface in a thread-local slot for
//! exactly the duration of one run and takes it back when the run ends (also on error or
//! panic), so `ctx.meter(..)` and friends reach it, and nothing can reach it afterwards: a
//! `ctx` kept by a script past its tick finds the slot empty and reports an error.

use std::cell::Cell;
use std::marker::PhantomData;
use std::ptr::NonNull;

use lathe_engine::ControlSurface;
use rhai::{Dynamic, Engine, EvalAltResult, ImmutableString, Position};

type RhaiResult<T> = Result<T, Box<EvalAltResult>>;

/// The argument of `init(ctx)` and `tick(ctx)`.
#[derive(Debug, Clone)]
pub struct Ctx {
    /// The script node's id: its own params are `node_id.name`.
    pub node_id: ImmutableString,
    /// Position of this tick, in seconds from the start.
    pub time_s: f64,
    pub sample_rate_hz: f64,
    /// Time between two ticks of this script.
    pub dt_s: f64,
}

/// The surface and tick period of the run in progress on this thread.
#[derive(Clone, Copy)]
struct Lent {
    surface: NonNull<dyn ControlSurface + 'static>,
    dt_s: f64,
}

thread_local! {
    static LENT: Cell<Option<Lent>> = const { Cell::new(None) };
}

/// Takes the surface back from the slot when a run ends; holds the surface's borrow
/// until then.
pub(crate) struct LendGuard<'a> {
    previous: Option<Lent>,
    _surface: PhantomData<&'a mut ()>,
}

impl Drop for LendGuard<'_> {
    fn drop(&mut self) {
        LENT.with(|slot| slot.set(self.previous));
    }
}

/// Lends `surface` (and the tick period used by `smooth`) to the script API until the
/// returned guard is dropped. Crate-private: soundness relies on the guard being
/// dropped (not forgotten) before the borrow ends, which the host does.
pub(crate) fn lend<'a>(surface: &'a mut (dyn ControlSurface + 'a), dt_s: f64) -> LendGuard<'a> {
    let ptr = NonNull::from(surface);
    // SAFETY: only the lifetime bound is erased (same fat pointer). The pointer is
    // dereferenced only through `with_surface` while the guard is alive, and the guard
    // does not outlive the `&mut` borrow it came from (it is dropped at the end of the
    // host's run, which holds that borrow); the host does not touch the surface while a
    // script runs, and API calls never nest, so no two `&mut` to it exist at once.
    let surface: NonNull<dyn ControlSurface + 'static> = unsafe { std::mem::transmute(ptr) };
    let previous = LENT.with(|slot| slot.replace(Some(Lent { surface, dt_s })));
    LendGuard {
        previous,
        _surface: PhantomData,
    }
}

fn lent() -> RhaiResult<Lent> {
    LENT.with(Cell::get)
        .ok_or_else(|| error("`ctx` can only be used while `init` or `tick` runs".into()))
}

fn with_surface<T>(f: impl FnOnce(&mut dyn ControlSurface) -> T) -> RhaiResult<T> {
    let lent = lent()?;
    // SAFETY: see `lend`: the borrow behind the pointer is alive while it is in the slot,
    // and this is the only reference to it made during this call.
    let surface = unsafe { &mut *lent.surface.as_ptr() };
    Ok(f(surface))
}

/// An error at the script position of the call (Rhai fills in the position).
fn error(message: String) -> Box<EvalAltResult> {
    EvalAltResult::ErrorRuntime(message.into(), Position::NONE).into()
}

/// A script number (integer or float) as f64; anything else is an error naming `what`.
fn number(value: &Dynamic, what: &str) -> RhaiResult<f64> {
    if let Ok(f) = value.as_float() {
        return Ok(f);
    }
    if let Ok(i) = value.as_int() {
        return Ok(i as f64);
    }
    Err(error(format!(
        "{what} must be a number, found {}",
        value.type_name()
    )))
}

fn meter(_ctx: &mut Ctx, path: &str) -> RhaiResult<f64> {
    match with_surface(|s| s.meter(path))? {
        Ok(v) => Ok(v as f64),
        Err(e) => Err(error(e.to_string())),
    }
}

fn param(_ctx: &mut Ctx, path: &str) -> RhaiResult<f64> {
    match with_surface(|s| s.param(path))? {
        Ok(v) => Ok(v as f64),
        Err(e) => Err(error(e.to_string())),
    }
}

fn own(ctx: &mut Ctx, name: &str) -> RhaiResult<f64> {
    let path = format!("{}.{name}", ctx.node_id);
    param(ctx, &path)
}

fn set(_ctx: &mut Ctx, path: &str, value: Dynamic) -> RhaiResult<f64> {
    let value = number(&value, &format!("the value for `{path}`"))?;
    match with_surface(|s| s.set_param(path, value))? {
        Ok(applied) => Ok(applied as f64),
        Err(e) => Err(error(e.to_string())),
    }
}

fn db_to_gain(db: Dynamic) -> RhaiResult<f64> {
    Ok(10f64.powf(number(&db, "db_to_gain's argument")? * 0.05))
}

fn gain_to_db(gain: Dynamic) -> RhaiResult<f64> {
    Ok(20.0 * number(&gain, "gain_to_db's argument")?.abs().log10())
}

fn clamp(x: Dynamic, lo: Dynamic, hi: Dynamic) -> RhaiResult<f64> {
    let (x, lo, hi) = (
        number(&x, "clamp's value")?,
        number(&lo, "clamp's lower bound")?,
        number(&hi, "clamp's upper bound")?,
    );
    // f64::clamp panics on these.
    if lo.is_nan() || hi.is_nan() || lo > hi {
        return Err(error(format!(
            "clamp: the bounds must be ordered numbers, found {lo} and {hi}"
        )));
    }
    Ok(x.clamp(lo, hi))
}

/// One step per tick of a one-pole filter with time constant `time_s`.
fn smooth(current: Dynamic, target: Dynamic, time_s: Dynamic) -> RhaiResult<f64> {
    let current = number(&current, "smooth's current value")?;
    let target = number(&target, "smooth's target")?;
    let time_s = number(&time_s, "smooth's time_s")?;
    let dt_s = lent()?.dt_s;
    Ok(smooth_step(current, target, time_s, dt_s))
}

/// `current` moved toward `target` by the fraction a one-pole filter of time constant
/// `time_s` covers in `dt_s`; a zero (or negative) time jumps to the target.
pub fn smooth_step(current: f64, target: f64, time_s: f64, dt_s: f64) -> f64 {
    if time_s <= 0.0 {
        return target;
    }
    current + (target - current) * (1.0 - (-dt_s / time_s).exp())
}

/// `current` moved toward `target` by at most `max_step` (its magnitude).
fn slew(current: Dynamic, target: Dynamic, max_step: Dynamic) -> RhaiResult<f64> {
    let current = number(&current, "slew's current value")?;
    let target = number(&target, "slew's target")?;
    let max_step = number(&max_step, "slew's max_step")?.abs();
    Ok(current + (target - current).clamp(-max_step, max_step))
}

/// Registers `Ctx` and the helpers on `engine`.
pub(crate) fn register(engine: &mut Engine) {
    engine
        .register_type_with_name::<Ctx>("Ctx")
        .register_get("time_s", |c: &mut Ctx| c.time_s)
        .register_get("sample_rate_hz", |c: &mut Ctx| c.sample_rate_hz)
        .register_get("dt_s", |c: &mut Ctx| c.dt_s)
        .register_fn("meter", meter)
        .register_fn("param", param)
        .register_fn("own", own)
        .register_fn("set", set)
        .register_fn("db_to_gain", db_to_gain)
        .register_fn("gain_to_db", gain_to_db)
        .register_fn("clamp", clamp)
        .register_fn("smooth", smooth)
        .register_fn("slew", slew);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smooth_step_covers_one_minus_e_per_time_constant() {
        // dt = tau: the step covers 1 - 1/e of the distance (exact to f64 rounding).
        let v = smooth_step(0.0, 1.0, 0.5, 0.5);
        assert!((v - (1.0 - (-1.0f64).exp())).abs() < 1e-15);
        assert_eq!(smooth_step(3.0, 1.0, 0.0, 0.05), 1.0);
    }
}
