//! Loading a graph file for a host: read, parse and compile it once for a sample rate and
//! block size with the user's overrides (`--set`, typed values, choice names included),
//! and check it fits a host. Every problem of the graph is reported at once.

use std::path::{Path, PathBuf};

use lathe_engine::exec::MAX_HOST_CHANNELS;
use lathe_engine::offline::GraphRender;
use lathe_engine::{
    BusInfo, CompileOptions, CompiledGraph, GraphDoc, GraphError, GraphInfo, ParamValue,
    PrepareInfo, Registry, compile,
};

/// Frames handed to the engine per call of an offline render (it splits them into blocks
/// of the prepared size); also how often a progress bar moves.
pub const RENDER_CHUNK_FRAMES: usize = 16_384;

/// Why a graph could not be loaded. Both are the user's to fix.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file, its nodes or an override has problems (each names where).
    #[error(transparent)]
    Graph(#[from] GraphError),
    /// More channels on one side than a host can feed.
    #[error(
        "`{}`: the graph's {side} buses have {channels} channels in all; \
         lathe renders at most {max_channels}",
        path.display()
    )]
    TooManyChannels {
        path: PathBuf,
        /// `input` or `output`.
        side: &'static str,
        channels: usize,
        max_channels: usize,
    },
}

/// A graph file compiled for one sample rate and block size, with its overrides, its
/// control tasks still inside.
#[derive(Debug)]
pub struct LoadedGraph {
    pub path: PathBuf,
    pub inputs: Vec<BusInfo>,
    pub outputs: Vec<BusInfo>,
    compiled: CompiledGraph,
}

impl LoadedGraph {
    /// What the compiler found: nodes in order, params, links, schedule, latency.
    pub fn info(&self) -> &GraphInfo {
        &self.compiled.info
    }

    /// The graph's total latency at the rate it was compiled for.
    pub fn latency_frames(&self) -> usize {
        self.compiled.info.latency_frames
    }

    /// The compiled graph, for a host that runs it itself (take its control tasks first).
    pub fn into_compiled(self) -> CompiledGraph {
        self.compiled
    }

    /// Starts an offline render of the graph (and its control tasks) at frame 0, in calls
    /// of at most [`RENDER_CHUNK_FRAMES`].
    pub fn into_render(self) -> GraphRender {
        GraphRender::new(self.compiled, RENDER_CHUNK_FRAMES)
    }
}

/// Reads, parses and compiles the graph at `path` with the kinds of `registry`, for
/// `sample_rate_hz` and blocks of `block_frames`, applying `overrides` (`node.param`,
/// value) in order, in one compile.
pub fn load(
    registry: &Registry,
    path: &Path,
    overrides: &[(String, ParamValue)],
    sample_rate_hz: f64,
    block_frames: usize,
) -> Result<LoadedGraph, LoadError> {
    let doc = GraphDoc::load(path).map_err(GraphError::one)?;
    let options = CompileOptions::new(PrepareInfo::new(sample_rate_hz, block_frames).for_offline())
        .with_overrides(overrides.to_vec());
    let compiled = compile(&doc, registry, &options)?;
    let info = &compiled.info;
    for (side, channels) in [
        ("input", info.input_channels()),
        ("output", info.output_channels()),
    ] {
        if channels > MAX_HOST_CHANNELS {
            return Err(LoadError::TooManyChannels {
                path: path.to_path_buf(),
                side,
                channels,
                max_channels: MAX_HOST_CHANNELS,
            });
        }
    }
    Ok(LoadedGraph {
        path: path.to_path_buf(),
        inputs: info.inputs.clone(),
        outputs: info.outputs.clone(),
        compiled,
    })
}
