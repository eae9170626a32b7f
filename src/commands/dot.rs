//! `lathe dot`: print a graph in Graphviz DOT format.

use super::engine::{self, DESCRIBE_BLOCK_FRAMES, DESCRIBE_SAMPLE_RATE_HZ};
use crate::cli::DotArgs;
use crate::exit::CliError;

pub fn run(args: &DotArgs) -> Result<(), CliError> {
    let graph = engine::load(
        &args.graph,
        &[],
        DESCRIBE_SAMPLE_RATE_HZ,
        DESCRIBE_BLOCK_FRAMES,
    )?;
    print!("{}", engine::dot(&graph));
    Ok(())
}
