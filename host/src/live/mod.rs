//! `lathe run`: a graph played live, with hot reload of its files, live control on stdin,
//! over OSC and from browsers (`--ui`), a monitor section and terminal meters.
//!
//! Threads: the backend's audio thread runs the engine and the monitor (real-time safe,
//! see [`audio`]); the control thread ([`control_loop`]) owns the controller and is the
//! only one that changes the graph; stdin, OSC and the file watcher send it [`Event`]s.
//! The control loop sees the audio side through the [`Backend`] trait: [`JackBackend`]
//! for `lathe run`, [`InProcessBackend`] to run the same loop without an audio server.
//!
//! Modules, leaves first: `args` (what to run), `events` and `messages` (what reaches
//! the control thread and what it prints), `monitor` (with `monitor::reference`, the reference
//! player, and `ref_deck`, its control side), `meters`, `console` (command
//! parsing), `audio` (the audio side every backend runs), `backend` (the trait),
//! `jack_host` and `in_process` (the backends), `watch`, `osc`, `scripts`,
//! `control_loop`, `session` (starting a run on any backend), `control_loop::restart` (waiting for a
//! lost server and starting again on it), `wiring` (JACK connections), `web` (the
//! browser console), `stop_signals` (SIGINT, SIGTERM and SIGHUP as `quit`).

pub mod args;
pub mod audio;
pub mod backend;
pub mod console;
pub mod control_loop;
pub mod events;
pub mod in_process;
pub mod jack_host;
pub mod messages;
mod meters;
pub mod monitor;
mod osc;
pub mod ref_deck;
mod scripts;
pub mod session;
mod stop_signals;
#[cfg(feature = "harness")]
pub mod testing;
mod watch;
pub mod web;
mod wiring;

use std::process::ExitCode;
use std::sync::mpsc::Sender;

use lathe_engine::bounded_line::{Line, read_line_bounded};
use lathe_engine::{GraphDoc, GraphError};

pub use args::{DEFAULT_CLIENT_NAME, RunOptions};
pub use backend::{Backend, BackendError};
pub use control_loop::{ControlLoop, Ending};
pub use events::{Answer, Event, Reply};
pub use in_process::{Clock, ClockInput, InProcessBackend, InProcessDriver};
pub use jack_host::JackBackend;
pub use messages::{Message, Messages};
pub use session::{LiveError, Session};

/// Runs `lathe run` as a JACK client until `quit`, SIGINT, SIGTERM or SIGHUP (exit 0). When the server goes away the
/// run waits for it and reconnects, unless `--exit-on-server-loss` asks to end (exit 1).
/// Exits 2 without a JACK server at start.
pub fn run(args: RunOptions) -> ExitCode {
    match start(&args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(e.exit_code())
        }
    }
}

fn start(args: &RunOptions) -> Result<ExitCode, LiveError> {
    if let Some(ui) = &args.ui {
        // A refused bind is bad input: said before anything starts.
        web::settle_token(ui.addr, ui.token.clone(), ui.allow_remote)
            .map_err(|e| LiveError::Ui(e.into()))?;
    }
    let doc = GraphDoc::load(&args.graph).map_err(GraphError::from)?;
    let overrides = parse_sets(&args.set).map_err(LiveError::Set)?;
    let mut session = Session::start(&args.graph, doc, overrides, Messages::terminal(), || {
        JackBackend::open(&args.name)
    })?;
    if let Some(decoder) = &args.reference_decoder {
        session.set_reference_decoder(decoder.clone());
    }
    let reference_lines = session.load_references(&args.references)?;
    for warning in wiring::connect(&session.control.backend, args, session.control.info()) {
        eprintln!("warning: {warning}");
    }
    if !args.exit_on_server_loss {
        let reconnect = JackReconnect { args: args.clone() };
        session.control.survive_server_loss(Box::new(reconnect));
    }
    println!("{}", session.banner(&args.graph));
    for line in reference_lines {
        println!("{line}");
    }
    if !args.no_watch {
        session.watch();
    }
    if let Some(addr) = args.osc {
        let bound = session.listen_osc(addr)?;
        println!("lathe: OSC on udp {bound}");
    }
    if let Some(ui) = &args.ui {
        let (bound, token) = session.serve_ui(ui)?;
        match token {
            Some(t) => println!("lathe: web console on http://{bound}/?token={t}"),
            None => println!("lathe: web console on http://{bound}/"),
        }
    }
    stop_signals::install(session.events());
    spawn_console(session.events());
    let (ending, control) = session.run();
    let summary = control.summary();
    let ControlLoop { backend, .. } = control;
    match ending {
        Ending::Quit => {
            backend.stop(false);
            println!("\n{summary}");
            Ok(ExitCode::SUCCESS)
        }
        Ending::ServerGone => {
            backend.stop(true);
            println!("\n{summary}");
            eprintln!("lathe: the JACK server has stopped; exiting");
            Ok(ExitCode::from(session::EXIT_FAILURE))
        }
    }
}

/// A new JACK client of the same name on a server that came back, wired by the same
/// `--connect`, `--in` and `--out` rules as at start.
struct JackReconnect {
    args: RunOptions,
}

impl control_loop::restart::Reconnect<JackBackend> for JackReconnect {
    fn open(&mut self) -> Result<JackBackend, BackendError> {
        // libjack prints four lines for every failed look: quiet while looking.
        jack::set_logger(jack::LoggerType::None);
        let opened = JackBackend::open(&self.args.name);
        jack::set_logger(jack::LoggerType::Stdio);
        opened
    }

    fn wire(&mut self, backend: &JackBackend, info: &lathe_engine::GraphInfo) -> Vec<String> {
        wiring::connect(backend, &self.args, info)
    }
}

/// The longest command read from stdin: a command is a few words; stdin may be a file
/// with no line breaks.
const MAX_CONSOLE_LINE_BYTES: u64 = 64 * 1024;

/// Reads commands from stdin on a thread of its own. End of input leaves lathe running
/// (it may be started with stdin closed); `quit` stops it.
fn spawn_console(events: Sender<Event>) {
    let _ = std::thread::Builder::new()
        .name("lathe-console".into())
        .spawn(move || {
            let mut stdin = std::io::stdin().lock();
            let mut bytes = Vec::new();
            loop {
                match read_line_bounded(&mut stdin, &mut bytes, MAX_CONSOLE_LINE_BYTES) {
                    Err(_) | Ok(Line::End) => return,
                    Ok(Line::TooLong) => {
                        eprintln!(
                            "error: a command line is longer than {MAX_CONSOLE_LINE_BYTES} bytes; it was dropped"
                        );
                        continue;
                    }
                    Ok(Line::Read) => {}
                }
                let Ok(line) = std::str::from_utf8(&bytes) else {
                    eprintln!("error: a command line is not UTF-8 text; it was dropped");
                    continue;
                };
                match console::parse(line) {
                    Ok(Some(cmd)) => {
                        if events.send(Event::Command { cmd, reply: None }).is_err() {
                            return;
                        }
                    }
                    Ok(None) => {}
                    Err(e) => eprintln!("error: {e}"),
                }
            }
        });
}

/// `--set NODE.PARAM=VALUE` values, as live overrides.
fn parse_sets(sets: &[String]) -> Result<control_loop::Overrides, String> {
    sets.iter()
        .map(|s| {
            let (path, value) = s
                .rsplit_once('=')
                .ok_or_else(|| format!("--set `{s}`: expected NODE.PARAM=VALUE"))?;
            let value =
                console::parse_value(value.trim()).map_err(|e| format!("--set `{s}`: {e}"))?;
            Ok((path.trim().to_string(), value))
        })
        .collect()
}
