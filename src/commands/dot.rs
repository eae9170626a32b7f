//! `lathe dot`: print a graph in Graphviz DOT format.

use super::check::{DESCRIBE_BLOCK_FRAMES, DESCRIBE_SAMPLE_RATE_HZ};
use crate::cli::DotArgs;
use crate::exit::CliError;

pub fn run(args: &DotArgs) -> Result<(), CliError> {
    let graph = super::load(
        &args.graph,
        &[],
        DESCRIBE_SAMPLE_RATE_HZ,
        DESCRIBE_BLOCK_FRAMES,
    )?;
    print!("{}", lathe_engine::dot::to_dot(graph.info()));
    Ok(())
}
