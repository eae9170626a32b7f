//! A live run on any [`Backend`]: compiles the graph for the backend's format, starts the
//! audio side, and sets up the control loop with its event sources (file watcher, OSC).
//! `lathe run` does this over JACK; tests do it over the in-process backend.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, Sender};

use lathe_engine::{GraphDoc, GraphError};

use super::backend::{Backend, BackendError};
use super::control_loop::restart::{StartError, start_audio};
use super::control_loop::{ControlLoop, Ending, Overrides};
use super::events::Event;
use super::messages::Messages;
use super::monitor::MonitorControls;
use super::ref_deck::ReferenceDecoder;
use super::web::{self, Hub, UiError, UiOptions, WebLink};
use super::{osc, watch};

/// Exit code when the graph is broken or the server went away.
pub const EXIT_FAILURE: u8 = 1;
/// Exit code when no audio server (or no JACK library) is available.
pub const EXIT_NO_SERVER: u8 = 2;
/// Exit code for bad input at start (a reference file that cannot be played).
pub const EXIT_BAD_INPUT: u8 = 2;

/// Why a live run could not start.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    #[error("{0}")]
    Graph(#[from] GraphError),
    /// A `--set` that does not parse.
    #[error("{0}")]
    Set(String),
    #[error("lathe: {0}")]
    Open(BackendError),
    #[error("lathe: {0}")]
    Start(BackendError),
    #[error("lathe: {0}")]
    Ui(#[from] UiError),
    /// A `--reference` that cannot be played (the message names the file).
    #[error("lathe: --reference: {0}")]
    Reference(String),
    #[error("lathe: cannot listen for OSC on {addr}: {source}")]
    Osc {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

impl LiveError {
    /// The exit status `lathe run` ends with.
    pub fn exit_code(&self) -> u8 {
        match self {
            LiveError::Open(_) | LiveError::Ui(UiError::Bind(_)) => EXIT_NO_SERVER,
            LiveError::Reference(_) => EXIT_BAD_INPUT,
            _ => EXIT_FAILURE,
        }
    }
}

/// A started live run: the audio side plays, the control loop waits for [`Session::run`].
pub struct Session<B: Backend> {
    pub control: ControlLoop<B>,
    events_tx: Sender<Event>,
    events: Receiver<Event>,
}

impl<B: Backend> Session<B> {
    /// Opens the backend with `open`, compiles `doc` (read from `graph`) with the live
    /// `overrides` for its format, and starts the audio side with the graph's latency
    /// reported.
    pub fn start(
        graph: &Path,
        doc: GraphDoc,
        overrides: Overrides,
        messages: Messages,
        open: impl FnOnce() -> Result<B, BackendError>,
    ) -> Result<Self, LiveError> {
        let registry = crate::registry();
        let mut backend = open().map_err(LiveError::Open)?;
        let controls = MonitorControls::new();
        let started = start_audio(&mut backend, &doc, &registry, &overrides, &controls).map_err(
            |e| match e {
                StartError::Graph(e) => LiveError::Graph(e),
                StartError::Backend(e) => LiveError::Start(e),
            },
        )?;
        let mut control = ControlLoop::new(
            graph.to_path_buf(),
            registry,
            doc,
            started.controller,
            overrides,
            started.file_values,
            backend,
            started.stages,
            controls,
            started.scripts,
        );
        control.set_messages(messages);
        control.set_latency(control.info().latency_frames);
        let (events_tx, events) = mpsc::channel();
        Ok(Self {
            control,
            events_tx,
            events,
        })
    }

    /// Decodes `monitor ref` files with `decoder` from now on.
    pub fn set_reference_decoder(&mut self, decoder: Arc<dyn ReferenceDecoder>) {
        self.control.references.set_decoder(decoder);
    }

    /// Loads `--reference` files before the run goes on (the first becomes current, `ref`
    /// stays off); returns a line per file. The first that cannot be played ends the start.
    pub fn load_references(&mut self, paths: &[PathBuf]) -> Result<Vec<String>, LiveError> {
        paths
            .iter()
            .map(|p| {
                self.control
                    .references
                    .load_now(p)
                    .map(|summary| format!("lathe: reference {summary}"))
                    .map_err(LiveError::Reference)
            })
            .collect()
    }

    /// Where commands and file changes are sent to the control loop.
    pub fn events(&self) -> Sender<Event> {
        self.events_tx.clone()
    }

    /// The start banner: what runs where, at which format and latency, and the ports.
    pub fn banner(&self, graph: &Path) -> String {
        let info = self.control.info();
        let (ins, outs) = self.control.backend.ports();
        format!(
            "lathe: running {} as {} ({} Hz, {} frames, latency {} frames)\n\
             lathe: inputs {}\nlathe: outputs {}\nlathe: type `help` for commands",
            graph.display(),
            self.control.backend.describe(),
            info.prepare.sample_rate_hz,
            info.prepare.max_block_frames,
            info.latency_frames,
            list_or_none(ins),
            list_or_none(outs),
        )
    }

    /// Reloads the graph when its files change (a watcher that cannot start is
    /// reported, and the run goes on without hot reload).
    pub fn watch(&mut self) {
        match watch::FileWatcher::new(self.events_tx.clone()) {
            Ok(w) => {
                self.control.watcher = Some(w);
                self.control.watch_files();
            }
            Err(e) => self.control.say(
                &format!("warning: cannot watch the graph files ({e}); hot reload is off"),
                true,
            ),
        }
    }

    /// Serves OSC on `addr`; returns the bound address (port 0 picks a free one).
    pub fn listen_osc(&mut self, addr: SocketAddr) -> Result<SocketAddr, LiveError> {
        osc::spawn(addr, self.events_tx.clone()).map_err(|source| LiveError::Osc { addr, source })
    }

    /// Serves the web console as `options` ask; returns the bound address and the token
    /// the page must present, if any.
    pub fn serve_ui(
        &mut self,
        options: &UiOptions,
    ) -> Result<(SocketAddr, Option<String>), LiveError> {
        let hub = Hub::new();
        let served = web::spawn(options, self.events_tx.clone(), hub.clone())?;
        self.control.set_web(WebLink::new(hub));
        Ok(served)
    }

    /// Runs the control loop until `quit` or until the audio side stops by itself; gives
    /// the control loop back (for its summary and to stop the backend).
    pub fn run(mut self) -> (Ending, ControlLoop<B>) {
        // The session's own sender goes: the loop notices when every source is gone.
        drop(self.events_tx);
        let ending = self.control.run(&self.events);
        (ending, self.control)
    }
}

fn list_or_none(ports: &[String]) -> String {
    if ports.is_empty() {
        "(none)".to_string()
    } else {
        ports.join(" ")
    }
}
