//! lathe-nodes: the DSP node kinds of lathe, one module per kind.
//!
//! [`register_all`] adds every kind to an engine [`Registry`].

use lathe_engine::Registry;

pub mod analysis;
pub mod balance;
pub mod biquad;
pub mod bs1770;
pub mod clipper;
pub mod compressor;
pub mod correlation;
pub mod cpu;
pub mod crossover;
pub mod dc_block;
pub mod delay;
pub mod dither;
pub mod dynamic_eq;
pub mod eq;
pub mod fastmath;
pub mod fir_bound;
pub mod gain;
pub mod input_history;
pub mod lanes;
pub mod limiter;
pub mod linear_phase;
pub mod loudness;
pub mod mix;
pub mod ms;
pub mod near_nyquist;
pub mod oversample;
pub mod peak_detector;
pub mod peak_rms;
pub mod polarity;
pub mod polyphase;
pub mod route;
pub mod sources;
pub mod spectrum;
pub mod width;

/// Registers every node kind of this crate.
pub fn register_all(registry: &mut Registry) {
    registry.register(gain::GainKind);
    registry.register(eq::EqKind);
    registry.register(dynamic_eq::DynamicEqKind);
    registry.register(crossover::CrossoverKind);
    registry.register(dc_block::DcBlockKind);
    registry.register(ms::MsEncodeKind);
    registry.register(ms::MsDecodeKind);
    registry.register(width::WidthKind);
    registry.register(balance::BalanceKind);
    registry.register(delay::DelayKind);
    registry.register(mix::MixKind);
    registry.register(route::RouteKind);
    registry.register(polarity::PolarityKind);
    registry.register(sources::SineKind);
    registry.register(sources::NoiseKind);
    registry.register(sources::ImpulseKind);
    registry.register(sources::SweepKind);
    registry.register(loudness::LoudnessKind);
    registry.register(peak_rms::PeakRmsKind);
    registry.register(correlation::CorrelationKind);
    registry.register(spectrum::SpectrumKind);
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
