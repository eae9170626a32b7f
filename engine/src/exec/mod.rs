//! Execution: the audio-thread runtime, its delay lines and taps, and the two halves a
//! host holds ([`Engine`] on the audio thread, [`Controller`] beside it).

pub mod delay;
pub mod halves;
pub mod runtime;
pub mod tap;

pub use halves::{
    Controller, Engine, MAX_HOST_CHANNELS, PARAM_QUEUE_CAPACITY, SWAP_CROSSFADE_MS, SWAP_SETTLE_MS,
    SwapError, engine,
};
pub use runtime::CompiledGraph;
