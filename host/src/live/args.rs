//! What `lathe run` is asked to do: the graph, the JACK client and its connections, the
//! live values to start with, the control sources. The command line fills it in.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use super::ref_deck::ReferenceDecoder;

/// JACK client name unless another is given.
pub const DEFAULT_CLIENT_NAME: &str = "lathe";

/// `lathe run GRAPH`: play a graph live as a JACK client.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The graph file to run (watched for changes unless `no_watch`).
    pub graph: PathBuf,
    /// JACK client name.
    pub name: String,
    /// Wire the main bus to the system capture and playback ports.
    pub connect: bool,
    /// Connect input bus channels from JACK ports: `BUS=PORT,PORT...`.
    pub inputs: Vec<String>,
    /// Connect output bus channels to JACK ports: `BUS=PORT,PORT...`.
    pub outputs: Vec<String>,
    /// `NODE.PARAM=VALUE` set before starting (kept over reloads, like a live `set`).
    pub set: Vec<String>,
    /// Listen for OSC control messages over UDP on this address.
    pub osc: Option<SocketAddr>,
    /// Do not reload the graph when its files change.
    pub no_watch: bool,
    /// Serve the web console (`--ui`).
    pub ui: Option<super::web::UiOptions>,
    /// Reference files for the monitor (`--reference`), loaded at start.
    pub references: Vec<PathBuf>,
    /// What decodes reference files (the `lathe` binary's decoders).
    pub reference_decoder: Option<Arc<dyn ReferenceDecoder>>,
    /// End the run (exit 1) when the JACK server goes away, instead of waiting for it.
    pub exit_on_server_loss: bool,
}

impl RunOptions {
    /// Runs `graph` with every option at its default.
    pub fn new(graph: impl Into<PathBuf>) -> Self {
        Self {
            graph: graph.into(),
            name: DEFAULT_CLIENT_NAME.to_string(),
            connect: false,
            inputs: Vec::new(),
            outputs: Vec::new(),
            set: Vec::new(),
            osc: None,
            no_watch: false,
            ui: None,
            references: Vec::new(),
            reference_decoder: None,
            exit_on_server_loss: false,
        }
    }
}
