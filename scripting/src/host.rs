//! The script runtime hosts drive off the audio thread.
//!
//! Each script ticks on its own grid of absolute frames: tick `k` is due at frame
//! `k * period_frames`, with `period_frames = round(sample_rate_hz / rate_hz)` (at least 1).
//! The first tick is at frame 0. An offline host splits its blocks at
//! [`ScriptHost::next_tick_frame`] and calls [`ScriptHost::tick_due`] there, so a render
//! depends neither on block size nor on timing:
//!
//! ```text
//! while pos < end {
//!     if host.next_tick_frame().is_some_and(|f| f <= pos) {
//!         host.tick_due(pos, &mut surface);
//!     }
//!     let until = host.next_tick_frame().map_or(end, |f| f.min(end));
//!     process(pos .. until.max(pos + 1).min(pos + max_block));
//! }
//! ```
//!
//! The live host calls `tick_due` from its control thread with the current position; a
//! late call runs each due script once and moves it to the next grid frame after it.
//!
//! A script's life: at its first tick its top level runs once (its `let` variables become
//! the state kept between ticks, in the script's own scope), then `init(ctx)` if it is
//! defined, then `tick(ctx)`; later ticks call only `tick(ctx)`. A script that fails
//! (an error, or a sandbox limit) is reported once, with its name and position, through
//! [`ScriptHost::take_reports`] and a `tracing` warning, and does not run again; the
//! values it set stay, and every other script keeps ticking.

use lathe_engine::ControlSurface;
use rhai::{AST, CallFnOptions, Dynamic, Engine, EvalAltResult, ImmutableString, Scope};

use crate::api::{self, Ctx};
use crate::sandbox::{self, ScriptPos};
use crate::spec::{ScriptError, ScriptSpec};

/// A script that failed and was stopped.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error(
    "{script}{}: {message} (script node `{node_id}` stopped at frame {position_frames})",
    match pos { Some(p) => format!(":{}:{}", p.line, p.col), None => String::new() }
)]
pub struct ScriptReport {
    pub node_id: String,
    /// The script's name: its file path, or `node (inline source)`.
    pub script: String,
    /// Where in the script it failed, when Rhai knows.
    pub pos: Option<ScriptPos>,
    pub message: String,
    /// The frame of the tick that failed.
    pub position_frames: u64,
}

/// Runs every script of a graph at its rate, against a [`ControlSurface`].
pub struct ScriptHost {
    engine: Engine,
    sample_rate_hz: f64,
    scripts: Vec<Running>,
    reports: Vec<ScriptReport>,
}

struct Running {
    spec: ScriptSpec,
    node_id: ImmutableString,
    ast: AST,
    scope: Scope<'static>,
    period_frames: u64,
    next_frame: u64,
    started: bool,
    has_init: bool,
    has_tick: bool,
    stopped: bool,
}

impl Running {
    /// Does this script still need ticks?
    fn active(&self) -> bool {
        !self.stopped && (!self.started || self.has_tick)
    }
}

impl ScriptHost {
    /// Compiles every script for a graph running at `sample_rate_hz`.
    pub fn new(scripts: Vec<ScriptSpec>, sample_rate_hz: f64) -> Result<ScriptHost, ScriptError> {
        let engine = sandbox::engine();
        let scripts = scripts
            .into_iter()
            .map(|spec| {
                let ast = spec.compile(&engine)?;
                let has_fn = |name: &str| {
                    ast.iter_functions()
                        .any(|f| f.name == name && f.params.len() == 1)
                };
                let (has_init, has_tick) = (has_fn("init"), has_fn("tick"));
                Ok(Running {
                    node_id: spec.node_id().into(),
                    period_frames: period_frames(sample_rate_hz, spec.rate_hz()),
                    spec,
                    ast,
                    scope: Scope::new(),
                    next_frame: 0,
                    started: false,
                    has_init,
                    has_tick,
                    stopped: false,
                })
            })
            .collect::<Result<Vec<_>, ScriptError>>()?;
        Ok(ScriptHost {
            engine,
            sample_rate_hz,
            scripts,
            reports: Vec::new(),
        })
    }

    /// The frame of the next due tick over all running scripts; None when no script
    /// needs ticks any more.
    pub fn next_tick_frame(&self) -> Option<u64> {
        self.scripts
            .iter()
            .filter(|s| s.active())
            .map(|s| s.next_frame)
            .min()
    }

    /// Runs, in graph order, every script whose tick is due at `position_frames`.
    pub fn tick_due(&mut self, position_frames: u64, surface: &mut dyn ControlSurface) {
        for script in self.scripts.iter_mut() {
            if !script.active() || script.next_frame > position_frames {
                continue;
            }
            script.next_frame = (position_frames / script.period_frames + 1) * script.period_frames;
            let ctx = Ctx {
                node_id: script.node_id.clone(),
                time_s: position_frames as f64 / self.sample_rate_hz,
                sample_rate_hz: self.sample_rate_hz,
                dt_s: script.period_frames as f64 / self.sample_rate_hz,
            };
            let result = {
                let _lent = api::lend(&mut *surface, ctx.dt_s);
                sandbox::clear_last_position();
                run(&self.engine, script, ctx)
            };
            if let Err(err) = result {
                script.stopped = true;
                let (message, pos) = sandbox::eval_error_parts(&err);
                let report = ScriptReport {
                    node_id: script.spec.node_id().to_string(),
                    script: script.spec.name().to_string(),
                    pos,
                    message,
                    position_frames,
                };
                tracing::warn!(target: "lathe::script", "{report}");
                self.reports.push(report);
            }
        }
    }

    /// Carries the running state of scripts over from `old` (the host of the graph this
    /// one replaces, at the same sample rate and audio position): a script whose node id,
    /// source, rate and params are unchanged keeps its top-level variables, its place on the
    /// tick grid and its stopped flag, as an unchanged node keeps its filter memories. Other
    /// scripts start afresh at their next tick. Returns the node ids carried over.
    pub fn adopt_state(&mut self, old: ScriptHost) -> Vec<String> {
        let mut kept = Vec::new();
        let mut old_scripts = old.scripts;
        for script in self.scripts.iter_mut() {
            let Some(i) = old_scripts.iter().position(|o| o.spec == script.spec) else {
                continue;
            };
            let previous = old_scripts.swap_remove(i);
            kept.push(script.spec.node_id().to_string());
            *script = previous;
        }
        kept
    }

    /// Failures since the last call, each reported once.
    pub fn take_reports(&mut self) -> Vec<ScriptReport> {
        std::mem::take(&mut self.reports)
    }

    /// Has the script of node `node_id` been stopped by a failure?
    pub fn is_stopped(&self, node_id: &str) -> bool {
        self.scripts
            .iter()
            .any(|s| s.stopped && s.spec.node_id() == node_id)
    }

    /// The script files the scripts were read from.
    pub fn files(&self) -> Vec<&std::path::Path> {
        self.scripts.iter().filter_map(|s| s.spec.file()).collect()
    }

    pub fn sample_rate_hz(&self) -> f64 {
        self.sample_rate_hz
    }
}

/// Frames between two ticks at `rate_hz`, on the grid every host agrees on.
pub fn period_frames(sample_rate_hz: f64, rate_hz: f64) -> u64 {
    let frames = (sample_rate_hz / rate_hz).round();
    if frames.is_finite() && frames >= 1.0 {
        frames as u64
    } else {
        1
    }
}

/// One tick of `script`: the first one also runs the top level and `init`.
fn run(engine: &Engine, script: &mut Running, ctx: Ctx) -> Result<(), Box<EvalAltResult>> {
    let options = || CallFnOptions::new().eval_ast(false).rewind_scope(true);
    if !script.started {
        script.started = true;
        engine.run_ast_with_scope(&mut script.scope, &script.ast)?;
        sandbox::check_state(&script.scope)?;
        if script.has_init {
            let _returned: Dynamic = engine.call_fn_with_options(
                options(),
                &mut script.scope,
                &script.ast,
                "init",
                (ctx.clone(),),
            )?;
            sandbox::check_state(&script.scope)?;
        }
    }
    if script.has_tick {
        let _returned: Dynamic = engine.call_fn_with_options(
            options(),
            &mut script.scope,
            &script.ast,
            "tick",
            (ctx,),
        )?;
        sandbox::check_state(&script.scope)?;
    }
    Ok(())
}
