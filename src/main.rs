//! The `lathe` binary: parse the command line, set up logging, run one command, and
//! exit with 0 (success), 1 (failure while running) or 2 (bad arguments or input).

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;

use lathe::cli::{Cli, Command};
use lathe::commands;

/// The decoder logs every rejected file at error level; the CLI reports those itself,
/// with the file name, so the decoder's own lines are only shown when RUST_LOG asks.
const DEFAULT_LOG_FILTER: &str = "warn,symphonia=off";

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    lathe::audio_io::install_quiet_decoder_panics();
    if !matches!(cli.command, Command::Run(_)) {
        end_quietly_on_closed_pipe();
    }
    match cli.command {
        // The live host runs until quit or server loss and decides its own exit code.
        Command::Run(args) => commands::live::run(args),
        // A catalogue run has a code of its own for "some units failed".
        Command::Catalog(args) => commands::catalog::run(args),
        command => match commands::run(command) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => e.report(),
        },
    }
}

/// Logs go to stderr, filtered by RUST_LOG (default: warnings and errors only).
fn init_logging() {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_LOG_FILTER));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .init();
}

/// `lathe nodes --json | head` closes the pipe before lathe has printed everything. The
/// Rust runtime ignores SIGPIPE, so the next print fails with EPIPE and `println!`
/// panics; a command-line tool should instead end at once and quietly, as `cat` does.
/// Restoring the default action does that. The live host keeps the runtime's setting:
/// it talks to the JACK server over sockets and must see a lost server as an error,
/// not die of a signal.
fn end_quietly_on_closed_pipe() {
    #[cfg(unix)]
    // SAFETY: called once on the main thread before any other thread exists; setting
    // the disposition of SIGPIPE to its default has no other effect on the process.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}
