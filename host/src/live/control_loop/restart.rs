//! Surviving the audio server: what `lathe run` does when the JACK server goes away and
//! comes back. The session (graph, live values, web console, OSC, console) stays; the
//! control loop polls for the server at [`POLL_PERIOD`] and, once it answers, opens a new
//! client of the same name, compiles the graph again for the server's format with every
//! live value kept, starts a new audio side and wires the ports by the run's rules.
//!
//! Why a new engine instead of the old one: the old audio side lives inside the dead
//! client's process handler, and closing a client whose server died can block for good,
//! so it is left where it is (a few kilobytes) and the graph is built again. Node state
//! (filter memories, integrated loudness) starts afresh, which a restarted server forces
//! anyway: there was a gap in the audio.

use std::sync::Arc;
use std::time::{Duration, Instant};

use lathe_engine::{Controller, GraphDoc, GraphError, GraphInfo, PrepareInfo, Registry};

use super::{Overrides, Values, compile_with};
use crate::live::audio::{Stage, StageSender, audio_side};
use crate::live::backend::{Backend, BackendError};
use crate::live::monitor::MonitorControls;
use crate::live::scripts::LiveScripts;

/// How often a lost server is looked for: quick enough that audio is back within about
/// half a second of the server, rare enough to cost nothing while waiting.
pub const POLL_PERIOD: Duration = Duration::from_millis(500);

/// How to get a backend again after its server went away, and wire it as at start.
pub trait Reconnect<B: Backend> {
    /// Opens a new backend on the server (fails while there is none).
    fn open(&mut self) -> Result<B, BackendError>;
    /// Makes the run's connections on a started backend; returns what could not be done.
    fn wire(&mut self, backend: &B, info: &GraphInfo) -> Vec<String>;
}

/// Whether the server is there, and when to look for it next.
pub struct ServerWatch<B: Backend> {
    pub reconnect: Box<dyn Reconnect<B> + Send>,
    /// Since when the server has been gone (`None`: it is there).
    pub lost_since: Option<Instant>,
    pub next_poll: Instant,
    /// Times the server came back.
    pub reconnects: u32,
}

impl<B: Backend> ServerWatch<B> {
    pub fn new(reconnect: Box<dyn Reconnect<B> + Send>) -> Self {
        Self {
            reconnect,
            lost_since: None,
            next_poll: Instant::now(),
            reconnects: 0,
        }
    }

    /// Notes the loss (once); true the first time.
    pub fn lost(&mut self) -> bool {
        if self.lost_since.is_some() {
            return false;
        }
        self.lost_since = Some(Instant::now());
        self.next_poll = Instant::now() + POLL_PERIOD;
        true
    }

    /// True when the server should be looked for now (and schedules the next look).
    pub fn poll_due(&mut self) -> bool {
        let now = Instant::now();
        if self.lost_since.is_none() || now < self.next_poll {
            return false;
        }
        self.next_poll = now + POLL_PERIOD;
        true
    }
}

/// A graph compiled for a backend's format and started on it.
pub struct Started {
    pub controller: Controller,
    pub stages: StageSender,
    pub scripts: LiveScripts,
    pub file_values: Values,
}

/// Why the audio side could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("{0}")]
    Graph(#[from] GraphError),
    #[error("{0}")]
    Backend(#[from] BackendError),
}

/// Compiles `doc` with the live `overrides` for `backend`'s format and starts a new audio
/// side on it: what a run does at start and after the server came back.
pub fn start_audio<B: Backend>(
    backend: &mut B,
    doc: &GraphDoc,
    registry: &Registry,
    overrides: &Overrides,
    controls: &Arc<MonitorControls>,
) -> Result<Started, StartError> {
    let (rate, block) = backend.status().format();
    let prepare = PrepareInfo::new(f64::from(rate), block as usize);
    let (file_values, mut compiled) = compile_with(doc, registry, prepare, overrides)?;
    let scripts = LiveScripts::new(compiled.take_control_tasks());
    let (controller, engine) = lathe_engine::engine(compiled);
    let stage = Stage::with_monitor(engine, controller.info(), controls);
    let (audio, stages) = audio_side(Box::new(stage), controller.info(), backend.status().clone());
    backend.start(controller.info(), audio)?;
    Ok(Started {
        controller,
        stages,
        scripts,
        file_values,
    })
}
