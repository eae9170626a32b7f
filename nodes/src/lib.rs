//! lathe-nodes: the DSP node kinds of lathe, one module per kind.
//!
//! [`register_all`] adds every kind to an engine [`Registry`].

use lathe_engine::Registry;

pub mod analysis;
pub mod bs1770;
pub mod correlation;
pub mod gain;
pub mod loudness;
pub mod peak_rms;
pub mod spectrum;

/// Registers every node kind of this crate.
pub fn register_all(registry: &mut Registry) {
    registry.register(gain::GainKind);
    registry.register(loudness::LoudnessKind);
    registry.register(peak_rms::PeakRmsKind);
    registry.register(correlation::CorrelationKind);
    registry.register(spectrum::SpectrumKind);
}

/// A registry with every kind of this crate.
pub fn registry() -> Registry {
    let mut registry = Registry::new();
    register_all(&mut registry);
    registry
}
