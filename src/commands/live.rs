//! `lathe run`: its command-line arguments, handed to the live host of `lathe-host`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use lathe_host::live::web::{DEFAULT_UI_ADDR, UiOptions};
use lathe_host::live::{DEFAULT_CLIENT_NAME, RunOptions};

use super::run_reference::FileReferenceDecoder;

/// `lathe run GRAPH`: play a graph live as a JACK client.
#[derive(Debug, Clone, clap::Args)]
pub struct RunArgs {
    /// The graph file to run (watched for changes unless --no-watch).
    pub graph: PathBuf,

    /// JACK client name.
    #[arg(long = "name", value_name = "CLIENT", default_value = DEFAULT_CLIENT_NAME)]
    pub name: String,

    /// Wire the main bus to the system capture and playback ports.
    #[arg(long)]
    pub connect: bool,

    /// Connect input bus channels from JACK ports: `BUS=PORT,PORT...` (one port per channel,
    /// in order). Repeat for several buses.
    #[arg(long = "in", value_name = "BUS=PORT,...")]
    pub inputs: Vec<String>,

    /// Connect output bus channels to JACK ports: `BUS=PORT,PORT...`.
    #[arg(long = "out", value_name = "BUS=PORT,...")]
    pub outputs: Vec<String>,

    /// Set a param before starting: `NODE.PARAM=VALUE` (kept over reloads, like a live `set`).
    #[arg(long = "set", value_name = "NODE.PARAM=VALUE")]
    pub set: Vec<String>,

    /// Listen for OSC control messages over UDP on this address (`127.0.0.1:9000`).
    #[arg(long, value_name = "ADDR:PORT")]
    pub osc: Option<SocketAddr>,

    /// Do not reload the graph when its files change.
    #[arg(long)]
    pub no_watch: bool,

    /// Serve the web console on this address (default 127.0.0.1:8420; port 0 picks a
    /// free one). The URL is printed at start. See docs/live.md.
    #[arg(long, value_name = "ADDR:PORT", num_args = 0..=1, default_missing_value = DEFAULT_UI_ADDR)]
    pub ui: Option<SocketAddr>,

    /// A token the page must present (`?token=` in its URL); letters, digits, - and _.
    /// A non-loopback --ui gets a random one unless this is given.
    #[arg(long, value_name = "TOKEN", requires = "ui")]
    pub ui_token: Option<String>,

    /// Allow --ui on an address other than loopback (reachable from the network; a
    /// token is then always required).
    #[arg(long, requires = "ui")]
    pub ui_allow_remote: bool,

    /// A reference to compare against in the monitor (`monitor ref` on the console hears
    /// it, loudness-matched); any file `lathe analyze` reads. Repeat for several
    /// (`monitor ref next`). See docs/live.md.
    #[arg(long = "reference", value_name = "FILE")]
    pub references: Vec<PathBuf>,
    /// Exit (code 1) when the JACK server goes away, instead of waiting for it to come
    /// back and reconnecting (for scripts and supervisors that restart lathe themselves).
    #[arg(long)]
    pub exit_on_server_loss: bool,
}

impl From<RunArgs> for RunOptions {
    fn from(a: RunArgs) -> Self {
        RunOptions {
            graph: a.graph,
            name: a.name,
            connect: a.connect,
            inputs: a.inputs,
            outputs: a.outputs,
            set: a.set,
            osc: a.osc,
            no_watch: a.no_watch,
            ui: a.ui.map(|addr| UiOptions {
                addr,
                token: a.ui_token,
                allow_remote: a.ui_allow_remote,
            }),
            references: a.references,
            reference_decoder: Some(Arc::new(FileReferenceDecoder)),
            exit_on_server_loss: a.exit_on_server_loss,
        }
    }
}

/// Runs until `quit` (or server loss with --exit-on-server-loss); the live host decides
/// the exit code.
pub fn run(args: RunArgs) -> ExitCode {
    lathe_host::live::run(args.into())
}
