//! lathe-nodes: the DSP node kinds of lathe, one module per kind.
//!
//! [`register_all`] adds every kind to an engine [`Registry`].

use lathe_engine::Registry;

pub mod biquad;
pub mod dynamic_eq;
pub mod eq;
pub mod gain;
pub mod linear_phase;

/// Registers every node kind of this crate.
pub fn register_all(registry: &mut Registry) {
    registry.register(gain::GainKind);
    registry.register(eq::EqKind);
    registry.register(dynamic_eq::DynamicEqKind);
}

/// A registry with every kind of this crate.
pub fn registry() -> Registry {
    let mut registry = Registry::new();
    register_all(&mut registry);
    registry
}
