//! lathe-host: what every host of lathe shares, offline or live.
//!
//! A host (the `lathe` command line, the live JACK client, a test) gets its node kinds from
//! [`registry`], loads a graph file with its overrides ([`load()`]), and drives the engine:
//! offline through [`lathe_engine::offline`], ticking the graph's control tasks
//! ([`lathe_engine::ControlTasks`]) with it; live on its control thread. A value a user
//! types for a param is read by [`lathe_engine::ParamValue::from_text`] and resolved by
//! [`value::number_for`] (live) or by the compiler (`--set`).

pub mod load;
pub mod value;

pub mod live;

use lathe_engine::Registry;

pub use load::{LoadError, LoadedGraph, RENDER_CHUNK_FRAMES, load};

/// Every node kind lathe knows: the DSP kinds of `lathe-nodes`, the control kinds of
/// `lathe-scripting`, the plugin kinds of `lathe-plugins` and the `codec` kind of
/// `lathe-codecs`.
pub fn registry() -> Registry {
    let mut registry = lathe_nodes::registry();
    lathe_scripting::register_all(&mut registry);
    lathe_plugins::register_all(&mut registry);
    lathe_codecs::node::register(&mut registry);
    registry
}
