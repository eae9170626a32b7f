//! The node kinds: one module per kind (a folder for a kind with submodules). A kind
//! builds its processor from DSP primitives in [`crate::dsp`], never from another kind.

pub mod balance;
pub mod clipper;
pub mod compressor;
pub mod correlation;
pub mod crossover;
pub mod dc_block;
pub mod delay;
pub mod dither;
pub mod dynamic_eq;
pub mod eq;
pub mod gain;
pub mod limiter;
pub mod loudness;
pub mod mid_side;
pub mod mix;
pub mod peak_rms;
pub mod polarity;
pub mod route;
pub mod sources;
pub mod spectrum;
pub mod width;
