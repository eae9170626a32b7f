//! The `lv2` node kind: an LV2 plugin inside a graph.

/// Registers the `lv2` kind.
pub fn register(_registry: &mut lathe_engine::Registry) {}
