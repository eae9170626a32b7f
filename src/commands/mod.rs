//! One module per subcommand. Each receives its parsed, validated arguments and returns a
//! [`CliError`] that decides the exit code.

mod album;
mod analyze;
mod check;
mod compare;
mod dot;
pub mod engine;
pub mod live;
mod nodes;
mod plot;
mod render;

use crate::cli::Command;
use crate::exit::CliError;

/// Runs one subcommand to completion.
pub fn run(command: Command) -> Result<(), CliError> {
    match command {
        Command::Render(args) => render::run(&args),
        Command::Check(args) => check::run(&args),
        Command::Dot(args) => dot::run(&args),
        Command::Nodes(args) => nodes::run(&args),
        Command::Analyze(args) => analyze::run(&args),
        Command::Album(args) => album::run(&args),
        Command::Compare(args) => compare::run(&args),
        Command::Plot(args) => plot::run(&args),
        Command::Run(_) => unreachable!("`run` owns its exit code; main dispatches it"),
    }
}
