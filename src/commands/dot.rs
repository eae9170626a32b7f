//! `lathe dot`: print a graph in Graphviz DOT format.

use super::engine;
use crate::cli::DotArgs;
use crate::exit::CliError;

pub fn run(args: &DotArgs) -> Result<(), CliError> {
    let graph = engine::load(&args.graph, &[])?;
    print!("{}", engine::dot(&graph)?);
    Ok(())
}
