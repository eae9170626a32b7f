//! The `lathe` command line (here only `run`; the full CLI adds the other subcommands).

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod live;

#[derive(Debug, Parser)]
#[command(
    name = "lathe",
    version,
    about = "A node-graph audio engine for mastering."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a graph live as a JACK client, with hot reload and live control.
    Run(live::args::RunArgs),
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Run(args) => live::run(args),
    }
}
