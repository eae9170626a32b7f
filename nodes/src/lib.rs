//! lathe-nodes: the DSP node kinds of lathe, one module per kind.
//!
//! [`register_all`] adds every kind to an engine [`Registry`].

use lathe_engine::Registry;

pub mod clipper;
pub mod compressor;
pub mod dither;
pub mod gain;
pub mod limiter;
pub mod oversample;

/// Registers every node kind of this crate.
pub fn register_all(registry: &mut Registry) {
    registry.register(gain::GainKind);
    registry.register(compressor::CompressorKind);
    registry.register(limiter::LimiterKind);
    registry.register(clipper::ClipperKind);
    registry.register(dither::DitherKind);
}

/// A registry with every kind of this crate.
pub fn registry() -> Registry {
    let mut registry = Registry::new();
    register_all(&mut registry);
    registry
}
