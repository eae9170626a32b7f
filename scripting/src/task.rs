//! A script as a [`ControlTask`]: compiled once when its node is built, then ticked by
//! whatever host runs the graph's [`ControlTasks`](lathe_engine::ControlTasks).
//!
//! A script's life: at its first tick its top level runs once (its `let` variables become
//! the state kept between ticks, in the script's own scope), then `init(ctx)` if it is
//! defined, then `tick(ctx)`; later ticks call only `tick(ctx)`. A script without
//! `tick(ctx)` needs no tick after its first. A failing tick (an error, or a sandbox
//! limit) returns a [`ScriptReport`] naming the script, its position and the frame; the
//! runner then stops the script, and the values it set stay.

use std::any::Any;
use std::path::PathBuf;

use lathe_engine::{ControlSurface, ControlTask, TaskError};
use rhai::{AST, CallFnOptions, Dynamic, Engine, EvalAltResult, ImmutableString, Scope};

use crate::api::{self, Ctx};
use crate::budget::TickBudget;
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

/// One compiled script of a graph, with the state it keeps between ticks.
pub struct ScriptTask {
    engine: Engine,
    /// Operations per second of audio and wall time per tick (see [`crate::budget`]).
    budget: TickBudget,
    spec: ScriptSpec,
    node_id: ImmutableString,
    ast: AST,
    scope: Scope<'static>,
    sample_rate_hz: f64,
    period_frames: u64,
    started: bool,
    has_init: bool,
    has_tick: bool,
}

impl ScriptTask {
    /// Compiles `spec` for a graph running at `sample_rate_hz`; a syntax error names the
    /// script and its line:col.
    pub fn new(spec: ScriptSpec, sample_rate_hz: f64) -> Result<ScriptTask, ScriptError> {
        let mut engine = sandbox::engine();
        let period_frames = period_frames(sample_rate_hz, spec.rate_hz());
        let budget = TickBudget::install(&mut engine, period_frames as f64 / sample_rate_hz);
        let ast = spec.compile(&engine)?;
        let has_fn = |name: &str| {
            ast.iter_functions()
                .any(|f| f.name == name && f.params.len() == 1)
        };
        let (has_init, has_tick) = (has_fn("init"), has_fn("tick"));
        Ok(ScriptTask {
            engine,
            budget,
            node_id: spec.node_id().into(),
            period_frames,
            spec,
            ast,
            scope: Scope::new(),
            sample_rate_hz,
            started: false,
            has_init,
            has_tick,
        })
    }

    pub fn spec(&self) -> &ScriptSpec {
        &self.spec
    }

    /// One tick: the first one also runs the top level and `init`.
    fn run(&mut self, ctx: Ctx) -> Result<(), Box<EvalAltResult>> {
        let options = || CallFnOptions::new().eval_ast(false).rewind_scope(true);
        if !self.started {
            self.started = true;
            self.engine.run_ast_with_scope(&mut self.scope, &self.ast)?;
            sandbox::check_state(&self.scope)?;
            if self.has_init {
                let _returned: Dynamic = self.engine.call_fn_with_options(
                    options(),
                    &mut self.scope,
                    &self.ast,
                    "init",
                    (ctx.clone(),),
                )?;
                sandbox::check_state(&self.scope)?;
            }
        }
        if self.has_tick {
            let _returned: Dynamic = self.engine.call_fn_with_options(
                options(),
                &mut self.scope,
                &self.ast,
                "tick",
                (ctx,),
            )?;
            sandbox::check_state(&self.scope)?;
        }
        Ok(())
    }
}

impl ControlTask for ScriptTask {
    fn period_frames(&self) -> u64 {
        self.period_frames
    }

    fn wants_ticks(&self) -> bool {
        !self.started || self.has_tick
    }

    fn tick(
        &mut self,
        position_frames: u64,
        surface: &mut dyn ControlSurface,
    ) -> Result<(), TaskError> {
        let ctx = Ctx {
            node_id: self.node_id.clone(),
            time_s: position_frames as f64 / self.sample_rate_hz,
            sample_rate_hz: self.sample_rate_hz,
            dt_s: self.period_frames as f64 / self.sample_rate_hz,
        };
        let result = {
            let _lent = api::lend(&mut *surface, ctx.dt_s);
            sandbox::clear_last_position();
            self.budget.begin();
            let result = self.run(ctx);
            self.budget.end();
            result
        };
        result.map_err(|err| {
            let (message, pos) = sandbox::eval_error_parts(&err);
            Box::new(ScriptReport {
                node_id: self.spec.node_id().to_string(),
                script: self.spec.name().to_string(),
                pos,
                message,
                position_frames,
            }) as TaskError
        })
    }

    /// The same script: node id, source, rate and params unchanged, at the same rate.
    fn continues(&self, old: &dyn ControlTask) -> bool {
        old.as_any()
            .downcast_ref::<ScriptTask>()
            .is_some_and(|o| o.spec == self.spec && o.sample_rate_hz == self.sample_rate_hz)
    }

    fn files(&self) -> Vec<PathBuf> {
        self.spec.file().map(PathBuf::from).into_iter().collect()
    }

    fn as_any(&self) -> &dyn Any {
        self
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
