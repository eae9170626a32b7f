//! lathe-scripting: the Rhai `script` node kind and the runtime that ticks scripts.
//!
//! A `script` node ([`kind`]) declares a script and its own params in a graph; it has no
//! audio. Hosts collect the script nodes of a graph as [`ScriptSpec`]s, run them with a
//! [`ScriptHost`] off the audio thread, and give it a
//! [`ControlSurface`](lathe_engine::ControlSurface), the only way a script touches the
//! engine. Scripts are sandboxed ([`sandbox`]); their API is in [`api`].

pub mod api;
pub mod config;
pub mod host;
pub mod kind;
pub mod sandbox;
pub mod spec;

pub use config::{ScriptConfig, ScriptParamConfig};
pub use host::{ScriptHost, ScriptReport, period_frames};
pub use kind::{ScriptKind, ScriptProcessor};
pub use sandbox::ScriptPos;
pub use spec::{ScriptError, ScriptSpec};

/// Registers the `script` kind.
pub fn register_all(registry: &mut lathe_engine::Registry) {
    registry.register(ScriptKind);
}
