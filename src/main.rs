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
