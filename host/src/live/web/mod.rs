//! The web console of `lathe run --ui`: one more control surface beside the console and
//! OSC, served to browsers from the binary itself (the page is embedded, no build step).
//!
//! Threads: one accepts connections; each connection gets a thread of its own that reads
//! the browser's commands (sent to the control loop as [`Event`]s, exactly like console
//! commands, so changes glide the same) and writes what the [`Hub`] queued for it. The
//! control loop publishes into the hub: the graph after every (re)load, param values after
//! every change from any source, its messages (reload errors), and about 30 meter frames a
//! second read from the same lock-free meter atomics. Nothing here touches the audio
//! thread, and a slow browser only loses meter frames (its queue keeps the latest one).
//!
//! Why not an async web framework: the server has a handful of clients and four paths, so
//! `std::net` with a small bounded HTTP/1.1 request parser and `tungstenite` (sync
//! WebSocket framing) keep the dependency tree and the build small.
//!
//! Modules: `http` (request heads and responses), `guard` (who may connect: Host, Origin,
//! token, bind address), `protocol` (the JSON messages both ways), `hub` (client queues
//! and broadcast), `server` (the threads); [`WebLink`] here is the control loop's end.

mod guard;
mod http;
mod hub;
pub mod protocol;
pub mod scope;
mod server;
pub mod spectrum;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use lathe_engine::Controller;

pub use guard::{UiBindError, settle_token};
pub use hub::Hub;
pub use server::{UiError, spawn};

use super::monitor::MonitorControls;
use hub::Kind;

/// Goniometer points sent per meter frame.
pub const SCOPE_PAIRS_PER_FRAME: usize = 256;

/// Time between meter frames (about 30 a second).
pub const FRAME_PERIOD: Duration = Duration::from_millis(33);

/// The address `--ui` binds when given without one.
pub const DEFAULT_UI_ADDR: &str = "127.0.0.1:8420";

/// What `--ui` asks for.
#[derive(Debug, Clone)]
pub struct UiOptions {
    pub addr: SocketAddr,
    /// A token the page must present (`?token=`); required for a non-loopback address.
    pub token: Option<String>,
    /// Binding a non-loopback address was asked for explicitly.
    pub allow_remote: bool,
}

/// The control loop's end of the console: publishes the graph, values, messages and
/// meter frames into the [`Hub`]. Called on the control thread only; never blocks.
pub struct WebLink {
    hub: Arc<Hub>,
    next_frame: Instant,
    /// The last `values` message sent: sent again only when something changed.
    last_values: String,
    /// The goniometer's samples from the audio thread.
    pub scope: Option<scope::ScopeReader>,
    /// The main output's every frame from the audio thread, for the console's spectrum.
    pub spectrum_ring: Option<spectrum::SpectrumReader>,
    /// The console's own analyser (built for the running graph's sample rate).
    analyser: Option<spectrum::ConsoleSpectrum>,
}

impl WebLink {
    pub fn new(hub: Arc<Hub>) -> Self {
        Self {
            hub,
            next_frame: Instant::now(),
            last_values: String::new(),
            scope: None,
            spectrum_ring: None,
            analyser: None,
        }
    }

    /// The graph now running (at start and after every reload).
    pub fn graph(&mut self, controller: &Controller, graph_path: &Path) {
        let rate_hz = controller.info().prepare.sample_rate_hz;
        if self.analyser.as_ref().map(|a| a.sample_rate_hz()) != Some(rate_hz) {
            // Only a broken build of the fixed analyser graph fails: the page then shows
            // no console spectrum, and nothing else changes.
            self.analyser = spectrum::ConsoleSpectrum::new(rate_hz).ok();
        }
        let labels = self.analyser.as_ref().map_or_else(Vec::new, |a| a.labels());
        self.hub.publish(
            Kind::Graph,
            protocol::graph(controller.info(), graph_path, &labels),
        );
        self.last_values.clear();
    }

    /// A line the control loop said; the last one stays on show for new browsers.
    pub fn say(&self, text: &str, error: bool) {
        self.hub
            .publish(Kind::Status, protocol::message(text, error));
    }

    /// Whether the audio server is there (`running`) or gone, with what was said.
    pub fn server(&self, running: bool, text: &str) {
        self.hub
            .publish(Kind::Server, protocol::server(running, text));
    }

    /// Sends a meter frame, and the values when they changed, once a frame is due.
    /// Returns how long until the next one.
    pub fn tick(
        &mut self,
        controller: &Controller,
        controls: &MonitorControls,
        dsp_load_percent: f32,
        xruns: u64,
    ) -> Duration {
        let now = Instant::now();
        if now < self.next_frame {
            return self.next_frame - now;
        }
        self.next_frame = (self.next_frame + FRAME_PERIOD).max(now);
        let values = protocol::values(controller, controls);
        if values != self.last_values {
            self.hub.publish(Kind::Values, values.clone());
            self.last_values = values;
        }
        let pairs = self
            .scope
            .as_mut()
            .map_or_else(Vec::new, |s| s.drain(SCOPE_PAIRS_PER_FRAME));
        let spectrum = match (&mut self.analyser, &mut self.spectrum_ring) {
            (Some(a), Some(ring)) => {
                a.feed(ring);
                a.levels_db()
            }
            _ => Vec::new(),
        };
        self.hub.publish_meters(protocol::meters(
            controller,
            controls,
            dsp_load_percent,
            xruns,
            &pairs,
            &spectrum,
        ));
        FRAME_PERIOD
    }

    /// Browsers connected now.
    pub fn clients(&self) -> usize {
        self.hub.client_count()
    }
}
