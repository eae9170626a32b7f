//! Execution: the audio-thread runtime, its delay lines, and the engine/controller pair
//! hosts use.

pub mod delay;
pub mod engine;
pub mod runtime;
pub mod tap;

pub use engine::{Controller, Engine, SwapError, engine};
