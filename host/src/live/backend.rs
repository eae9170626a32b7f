//! What the control loop of `lathe run` needs from whatever plays the audio: a
//! [`Backend`]. [`JackBackend`](super::jack_host::JackBackend) is a JACK client;
//! [`InProcessBackend`](super::in_process::InProcessBackend) runs the same audio side driven
//! by a test or by a clock thread, so the control loop can be exercised without a server.
//!
//! The audio itself never passes through the trait: every backend calls the same
//! [`AudioSide`] once per period, and the control loop hands new stages over through the
//! [`StageSender`](super::audio::StageSender) paired with it. A backend only carries the
//! audio side to its audio thread and reports what happens there.

use std::sync::Arc;

use lathe_engine::GraphInfo;

use super::audio::{AudioSide, AudioStatus};

/// Why a backend could not be opened or started.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    /// No audio server (or no library to reach one).
    #[error("{0}")]
    NoServer(String),
    /// The server refused something (ports, activation).
    #[error("{0}")]
    Refused(String),
}

/// The audio side of a live run, as the control loop sees it. Opened by its own
/// constructor (which learns the format the graph must be compiled for), then started
/// once with the compiled graph's audio side, then stopped.
pub trait Backend {
    /// What the start banner says lathe runs as: "JACK client `lathe`".
    fn describe(&self) -> String;

    /// The status the backend and its audio side write: sample rate and period size
    /// (which may change while running), xruns, shutdown, processing time. Valid from
    /// opening on.
    fn status(&self) -> &Arc<AudioStatus>;

    /// Registers one port per channel of `info`'s buses and starts calling `audio` once
    /// per period.
    fn start(&mut self, info: &GraphInfo, audio: AudioSide) -> Result<(), BackendError>;

    /// Full names of the input and the output ports, in bus order (empty before start).
    fn ports(&self) -> (&[String], &[String]);

    /// Tells the outside world the graph's latency (JACK's latency API).
    fn set_latency(&self, latency_frames: usize);

    /// The load of the audio thread in percent, as the backend measures it (JACK counts
    /// its own scheduling too).
    fn dsp_load_percent(&self) -> f32;

    /// Stops the audio side. `gone`: it already stopped by itself (the server went away),
    /// so nothing is waited for.
    fn stop(self, gone: bool)
    where
        Self: Sized;
}
