//! The `clap` node kind: a CLAP plugin inside a graph.

/// Registers the `clap` kind.
pub fn register(_registry: &mut lathe_engine::Registry) {}
