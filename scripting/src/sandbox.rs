//! The sandboxed Rhai engine every script runs in, and the conversion of Rhai's errors
//! into messages with the script's name and position.
//!
//! What a script cannot do: load modules (`import` is disabled and there is no module
//! resolver), evaluate text (`eval`), touch files, the network or processes (Rhai has
//! none of these without a host adding them); `sleep`, `timestamp` and `exit` fail.
//! What it cannot exceed per run (one tick, or the first run of the top level and
//! `init`): the limits below. All limits count work, not wall time, so a render stops a
//! runaway script at the same point every time. Across ticks, [`crate::budget`] bounds
//! the operations per second of audio, with a wall-clock backstop per tick.

use std::cell::Cell;

use rhai::debugger::{DebuggerCommand, DebuggerEvent};
use rhai::{Dynamic, Engine, EvalAltResult, ParseError, Position, Scope};

use crate::api;

/// Rhai operations one tick may take: far above what a control law needs, low enough
/// that a runaway tick costs the host only milliseconds.
pub const MAX_OPERATIONS_PER_TICK: u64 = 200_000;
/// Depth of nested function calls.
pub const MAX_CALL_LEVELS: usize = 32;
/// Nesting depth of expressions, at top level and inside functions.
pub const MAX_EXPR_DEPTH: usize = 64;
pub const MAX_FN_EXPR_DEPTH: usize = 32;
/// Bytes in one string.
pub const MAX_STRING_BYTES: usize = 4096;
/// Items in one array.
pub const MAX_ARRAY_ITEMS: usize = 4096;
/// Entries in one object map.
pub const MAX_MAP_ENTRIES: usize = 256;
/// Variables alive at once, and functions one script may define.
pub const MAX_VARIABLES: usize = 256;
pub const MAX_FUNCTIONS: usize = 64;

/// A new engine with the limits above and the control API of [`api`] registered.
pub fn engine() -> Engine {
    let mut engine = Engine::new();
    engine
        .set_max_operations(MAX_OPERATIONS_PER_TICK)
        .set_max_call_levels(MAX_CALL_LEVELS)
        .set_max_expr_depths(MAX_EXPR_DEPTH, MAX_FN_EXPR_DEPTH)
        .set_max_string_size(MAX_STRING_BYTES)
        .set_max_array_size(MAX_ARRAY_ITEMS)
        .set_max_map_size(MAX_MAP_ENTRIES)
        .set_max_variables(MAX_VARIABLES)
        .set_max_functions(MAX_FUNCTIONS)
        .set_max_modules(0)
        .set_module_resolver(rhai::module_resolvers::DummyModuleResolver::new())
        .disable_symbol("eval")
        .disable_symbol("import")
        // `print`/`debug` go to the log, never to stdout.
        .on_print(|text| tracing::info!(target: "lathe::script", "{text}"))
        .on_debug(|text, source, pos| {
            tracing::debug!(target: "lathe::script", "{}{}: {text}", source.unwrap_or(""), at(pos))
        });
    withdraw_unsafe_builtins(&mut engine);
    track_positions(&mut engine);
    api::register(&mut engine);
    engine
}

/// Replaces Rhai built-ins that have no place in a control script by errors: `sleep`
/// would stall the host, `timestamp` (wall time) would make renders differ between runs,
/// `exit` would end a run as if it succeeded. Functions registered on the engine take
/// precedence over its standard packages.
fn withdraw_unsafe_builtins(engine: &mut Engine) {
    fn withdrawn(name: &str) -> Box<EvalAltResult> {
        EvalAltResult::ErrorRuntime(
            format!("`{name}` is not available in scripts").into(),
            Position::NONE,
        )
        .into()
    }
    engine
        .register_fn("sleep", |_: rhai::INT| -> Result<(), _> {
            Err(withdrawn("sleep"))
        })
        .register_fn("sleep", |_: rhai::FLOAT| -> Result<(), _> {
            Err(withdrawn("sleep"))
        })
        .register_fn("timestamp", || -> Result<(), _> {
            Err(withdrawn("timestamp"))
        })
        .register_fn("exit", || -> Result<(), _> { Err(withdrawn("exit")) })
        .register_fn("exit", |_: Dynamic| -> Result<(), _> {
            Err(withdrawn("exit"))
        });
}

thread_local! {
    /// The last script position the engine stepped on, on this thread.
    static LAST_POS: Cell<Position> = const { Cell::new(Position::NONE) };
}

/// Rhai gives the limit errors (operations, call depth, sizes) the position of the
/// outermost call, which for `tick` is the host's call: none. Stepping through the
/// script with the debugger hook records where it really was.
fn track_positions(engine: &mut Engine) {
    // Rhai marks the debugger API volatile (it may change), not as going away.
    #[allow(deprecated)]
    engine.register_debugger(
        |_, debugger| debugger,
        |_, event, _, _, pos| {
            // Only steps: exit events carry the position of the function's end.
            if matches!(event, DebuggerEvent::Step) && !pos.is_none() {
                LAST_POS.with(|p| p.set(pos));
            }
            Ok(DebuggerCommand::StepInto)
        },
    );
}

/// Forgets the last position, before a run.
pub(crate) fn clear_last_position() {
    LAST_POS.with(|p| p.set(Position::NONE));
}

/// Checks the values a script keeps between runs against the size limits. Rhai checks
/// sizes as values are built, but not every way of growing one (`m[key] = v` on a map),
/// so a value kept in the state could otherwise grow a little on every tick.
pub(crate) fn check_state(scope: &Scope) -> Result<(), Box<EvalAltResult>> {
    for (name, _, value) in scope.iter_raw() {
        if let Some(problem) = oversized(value) {
            clear_last_position();
            let what = format!("{problem} in `{name}`, kept between ticks,");
            return Err(EvalAltResult::ErrorDataTooLarge(what, Position::NONE).into());
        }
    }
    Ok(())
}

/// What in `value` (or in a value inside it) is over its limit.
fn oversized(value: &Dynamic) -> Option<String> {
    if let Ok(map) = value.as_map_ref() {
        if map.len() > MAX_MAP_ENTRIES {
            return Some(format!("Object map of {} entries", map.len()));
        }
        return map.values().find_map(oversized);
    }
    if let Ok(array) = value.as_array_ref() {
        if array.len() > MAX_ARRAY_ITEMS {
            return Some(format!("Array of {} items", array.len()));
        }
        return array.iter().find_map(oversized);
    }
    match value.as_immutable_string_ref() {
        Ok(text) if text.len() > MAX_STRING_BYTES => {
            Some(format!("String of {} bytes", text.len()))
        }
        _ => None,
    }
}

/// Where in a script something happened: 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScriptPos {
    pub line: usize,
    pub col: usize,
}

impl ScriptPos {
    pub fn from_rhai(pos: Position) -> Option<Self> {
        Some(Self {
            line: pos.line()?,
            col: pos.position().unwrap_or(1),
        })
    }
}

fn at(pos: Position) -> String {
    match ScriptPos::from_rhai(pos) {
        Some(p) => format!(":{}:{}", p.line, p.col),
        None => String::new(),
    }
}

/// A syntax error: its message (without position) and position.
pub(crate) fn parse_error_parts(err: &ParseError) -> (String, Option<ScriptPos>) {
    (err.0.to_string(), ScriptPos::from_rhai(err.1))
}

/// A run-time error: the message of the innermost error (where it happened), prefixed
/// with the chain of script functions it happened in, and its position (where the
/// script had stepped to, when the error itself has none).
pub(crate) fn eval_error_parts(err: &EvalAltResult) -> (String, Option<ScriptPos>) {
    let mut chain = Vec::new();
    let mut inner = err;
    while let EvalAltResult::ErrorInFunctionCall(name, _, next, _) = inner {
        chain.push(name.as_str());
        inner = next;
    }
    let pos = match inner.position() {
        pos if pos.is_none() => LAST_POS.with(Cell::get),
        pos => pos,
    };
    let message = match inner {
        // Errors raised by the control API carry their text as the value.
        EvalAltResult::ErrorRuntime(value, _) => value.to_string(),
        // The budget's hook stops a script with the reason as the value.
        EvalAltResult::ErrorTerminated(value, _) => value.to_string(),
        other => {
            let text = other.to_string();
            let suffix = format!(" ({})", inner.position());
            text.strip_suffix(&suffix).unwrap_or(&text).to_string()
        }
    };
    let message = if chain.is_empty() {
        message
    } else {
        format!("in {}: {message}", chain.join(" -> "))
    };
    (message, ScriptPos::from_rhai(pos))
}
