//! One module per subcommand. Each receives its parsed, validated arguments and returns a
//! [`CliError`] that decides the exit code. Shared by several: [`load`] (a graph file with
//! the `--set` values, through the host layer) and [`render_audio`] (a graph over whole
//! signals in memory).

mod album;
mod analyze;
pub mod catalog;
mod check;
pub mod codec_check;
mod compare;
mod dot;
pub mod live;
mod nodes;
mod plot;
mod plugins;
mod render;
pub mod run_reference;

use std::path::Path;

use lathe_host::{LoadError, LoadedGraph};

use crate::audio_io::Audio;
use crate::cli::{Command, ParamSet};
use crate::exit::CliError;
use crate::progress::Progress;

#[cfg(test)]
mod graph_tests;

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
        Command::Plugins(args) => plugins::run(&args),
        Command::CodecCheck(args) => codec_check::run(&args),
        Command::Run(_) => unreachable!("`run` owns its exit code; main dispatches it"),
        Command::Catalog(_) => unreachable!("`catalog` owns its exit code; main dispatches it"),
    }
}

/// Loads the graph at `path` with every node kind lathe knows, for `sample_rate_hz` and
/// blocks of `block_frames`, applying `sets` in order (one compile). Problems of the
/// graph or the values are the user's (exit 2).
pub fn load(
    path: &Path,
    sets: &[ParamSet],
    sample_rate_hz: f64,
    block_frames: usize,
) -> Result<LoadedGraph, CliError> {
    load_with(
        &lathe_host::registry(),
        path,
        sets,
        sample_rate_hz,
        block_frames,
    )
}

/// [`load`] with the node kinds of `registry`.
pub fn load_with(
    registry: &lathe_engine::Registry,
    path: &Path,
    sets: &[ParamSet],
    sample_rate_hz: f64,
    block_frames: usize,
) -> Result<LoadedGraph, CliError> {
    let overrides: Vec<_> = sets.iter().map(ParamSet::as_override).collect();
    lathe_host::load(registry, path, &overrides, sample_rate_hz, block_frames).map_err(
        |e| match e {
            LoadError::Graph(e) => CliError::located(e),
            e @ LoadError::TooManyChannels { .. } => CliError::user(e),
        },
    )
}

/// What an in-memory render produced: one [`Audio`] per output bus, in the graph's order.
#[derive(Debug)]
pub struct Rendered {
    pub outputs: Vec<Audio>,
    pub latency_frames: usize,
}

/// Renders `inputs` (one per input bus, in the graph's order, equal length and rate)
/// through the graph with its latency compensated and its control tasks ticked at their
/// exact frames: the outputs are aligned with the inputs and as long. `lathe render`
/// streams instead, making the same engine calls.
pub fn render_audio(graph: LoadedGraph, inputs: Vec<Audio>, progress: &Progress) -> Rendered {
    let rate = inputs.first().map_or(0, |a| a.sample_rate_hz);
    let frames = inputs.first().map_or(0, Audio::frames);
    let mut render = graph.into_render();
    let latency_frames = render.latency_frames();
    let channels = inputs.into_iter().flat_map(|a| a.channels).collect();
    let out = render.render(channels, frames, |n| progress.advance(n as u64));
    let output_buses = render.finish();
    let mut channels = out.into_iter();
    let outputs = output_buses
        .iter()
        .map(|&bus_channels| Audio {
            sample_rate_hz: rate,
            channels: channels.by_ref().take(bus_channels).collect(),
        })
        .collect();
    Rendered {
        outputs,
        latency_frames,
    }
}

/// The one rule for every output file a command writes: its folder must exist (lathe
/// creates no folders for files, so a typo in a path is reported, not obeyed). Checked
/// before any audio is read, so the mistake costs milliseconds.
pub fn ensure_output_folder(path: &Path) -> Result<(), CliError> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if dir.is_dir() {
        return Ok(());
    }
    Err(CliError::user(anyhow::anyhow!(
        "cannot write `{}`: folder `{}` does not exist",
        path.display(),
        dir.display()
    )))
}
