//! `lathe check`: validate a graph and print what it found, or every problem.

use super::engine::{self, DESCRIBE_BLOCK_FRAMES, DESCRIBE_SAMPLE_RATE_HZ};
use crate::cli::CheckArgs;
use crate::exit::CliError;

pub fn run(args: &CheckArgs) -> Result<(), CliError> {
    let graph = engine::load(
        &args.graph,
        &args.sets.sets,
        DESCRIBE_SAMPLE_RATE_HZ,
        DESCRIBE_BLOCK_FRAMES,
    )?;
    print!("{}", engine::describe(&graph));
    Ok(())
}
