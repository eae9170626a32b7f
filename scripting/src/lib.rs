//! lathe-scripting: the Rhai `script` node kind and the runtime that ticks scripts.
//!
//! A `script` node ([`kind`]) declares a script and its own params in a graph; it has no
//! audio. Its build compiles the script into a [`ScriptTask`], a
//! [`ControlTask`](lathe_engine::ControlTask) that hosts tick off the audio thread with
//! every other control task of the graph, against a
//! [`ControlSurface`](lathe_engine::ControlSurface), the only way a script touches the
//! engine; no host needs to know this kind. [`ScriptHost`] ticks scripts without a graph
//! (tools, tests). Scripts are sandboxed ([`sandbox`]); their API is in [`api`].

pub mod api;
pub mod budget;
pub mod config;
pub mod host;
pub mod kind;
pub mod sandbox;
pub mod spec;
pub mod task;

pub use config::{ScriptConfig, ScriptParamConfig};
pub use host::ScriptHost;
pub use kind::{SCRIPT_KIND, ScriptKind, ScriptProcessor};
pub use sandbox::ScriptPos;
pub use spec::{ScriptError, ScriptSpec};
pub use task::{ScriptReport, ScriptTask, period_frames};

/// Registers the `script` kind.
pub fn register_all(registry: &mut lathe_engine::Registry) {
    registry.register(ScriptKind);
}
