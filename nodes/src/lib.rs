//! lathe-nodes: the DSP node kinds of lathe ([`kinds`], one module per kind) and the DSP
//! primitives they are built from ([`dsp`]).
//!
//! [`register_all`] adds every kind to an engine [`Registry`].

use lathe_engine::Registry;

pub mod bus;
pub mod dsp;
pub mod kinds;

/// Registers every node kind of this crate.
pub fn register_all(registry: &mut Registry) {
    registry.register(kinds::gain::GainKind);
    registry.register(kinds::eq::EqKind);
    registry.register(kinds::dynamic_eq::DynamicEqKind);
    registry.register(kinds::crossover::CrossoverKind);
    registry.register(kinds::dc_block::DcBlockKind);
    registry.register(kinds::mid_side::MsEncodeKind);
    registry.register(kinds::mid_side::MsDecodeKind);
    registry.register(kinds::width::WidthKind);
    registry.register(kinds::balance::BalanceKind);
    registry.register(kinds::delay::DelayKind);
    registry.register(kinds::mix::MixKind);
    registry.register(kinds::route::RouteKind);
    registry.register(kinds::polarity::PolarityKind);
    registry.register(kinds::sources::SineKind);
    registry.register(kinds::sources::NoiseKind);
    registry.register(kinds::sources::ImpulseKind);
    registry.register(kinds::sources::SweepKind);
    registry.register(kinds::loudness::LoudnessKind);
    registry.register(kinds::peak_rms::PeakRmsKind);
    registry.register(kinds::correlation::CorrelationKind);
    registry.register(kinds::spectrum::SpectrumKind);
    registry.register(kinds::compressor::CompressorKind);
    registry.register(kinds::limiter::LimiterKind);
    registry.register(kinds::clipper::ClipperKind);
    registry.register(kinds::dither::DitherKind);
}

/// A registry with every kind of this crate.
pub fn registry() -> Registry {
    let mut registry = Registry::new();
    register_all(&mut registry);
    registry
}
