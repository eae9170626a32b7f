//! `lathe check`: validate a graph and print what it found, or every problem.

use super::engine;
use crate::cli::CheckArgs;
use crate::exit::CliError;

pub fn run(args: &CheckArgs) -> Result<(), CliError> {
    let graph = engine::load(&args.graph, &args.sets.sets)?;
    print!("{}", engine::describe(&graph)?);
    Ok(())
}
