//! lathe-host: what every host of lathe shares, offline or live.
//!
//! A host (the `lathe` command line, the live JACK client, a test) gets its node kinds from
//! [`registry`], loads a graph file with its overrides, and drives the engine.

pub mod live;

use lathe_engine::Registry;

/// Every node kind lathe knows: the DSP kinds of `lathe-nodes` and the control kinds of
/// `lathe-scripting`.
pub fn registry() -> Registry {
    let mut registry = lathe_nodes::registry();
    lathe_scripting::register_all(&mut registry);
    registry
}
