//! The CLI's one door into the engine: loading a graph, describing it, rendering audio
//! through it, and measuring loudness. Every command goes through these functions, so
//! the rest of the CLI does not depend on the engine's API.

use std::path::{Path, PathBuf};

use lathe_engine::Registry;

use crate::audio_io::Audio;
use crate::cli::ParamSet;
use crate::exit::{CliError, ResultExt};
use crate::progress::Progress;
use crate::report::Loudness;

/// Every node kind this binary knows.
pub fn registry() -> Registry {
    lathe_nodes::registry()
}

/// A graph bus: its name and channel count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bus {
    pub name: String,
    pub channels: usize,
}

/// A graph file loaded and validated, with the `--set` values applied.
#[derive(Debug)]
pub struct LoadedGraph {
    pub path: PathBuf,
    pub inputs: Vec<Bus>,
    pub outputs: Vec<Bus>,
}

/// What a render produced: one [`Audio`] per output bus, in [`LoadedGraph::outputs`] order.
#[derive(Debug)]
pub struct Rendered {
    pub outputs: Vec<Audio>,
    pub latency_frames: usize,
}

/// Reads, parses and validates the graph at `path` and applies `sets`.
pub fn load(path: &Path, sets: &[ParamSet]) -> Result<LoadedGraph, CliError> {
    read_graph_text(path)?;
    let _ = sets;
    Err(CliError::unavailable("loading graph files"))
}

/// Reads a graph file, with a message that names it when it cannot.
pub fn read_graph_text(path: &Path) -> Result<String, CliError> {
    std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("cannot read graph file `{}`: {e}", path.display()))
        .user_fault()
}

/// The text `lathe check` prints for a valid graph: nodes, params, latency.
pub fn describe(graph: &LoadedGraph) -> Result<String, CliError> {
    let _ = graph;
    Err(CliError::unavailable("describing graphs"))
}

/// The graph in Graphviz DOT.
pub fn dot(graph: &LoadedGraph) -> Result<String, CliError> {
    let _ = graph;
    Err(CliError::unavailable("drawing graphs"))
}

/// Renders `inputs` (one per input bus, in [`LoadedGraph::inputs`] order, equal length
/// and rate) through the graph in blocks of `block_frames`, compensating its latency so
/// the outputs are aligned with the inputs and as long.
pub fn render(
    graph: &LoadedGraph,
    inputs: &[Audio],
    block_frames: usize,
    progress: &Progress,
) -> Result<Rendered, CliError> {
    let _ = (graph, inputs, block_frames, progress);
    Err(CliError::unavailable("rendering"))
}

/// Integrated loudness, true peak and loudness range of `audio`.
pub fn loudness(audio: &Audio) -> Result<Loudness, CliError> {
    let _ = audio;
    Err(CliError::unavailable("loudness measurement"))
}
