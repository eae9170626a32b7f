//! `lathe render`: stream the inputs through the graph into the outputs and print the
//! before/after report.
//!
//! Everything that can be checked without the audio is checked first (file naming,
//! outputs that would overwrite an input or the graph, missing output folders), so a
//! mistake is reported in milliseconds rather than after a long render. Then the inputs
//! are opened (their headers read), the graph is compiled for their rate, and the audio
//! streams through a chunk at a time ([`stream`]): memory does not grow with the length
//! of the files. Inputs and outputs are measured as they stream, the outputs as written
//! (after dither and clamping).

mod inputs;
mod stream;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::anyhow;

use crate::atomic_file::{ensure_not_overwriting, write_atomically};
use crate::audio_io::{AudioReader, Container, SampleFormat, open_audio, read_audio};
use crate::cli::{InputArg, RenderArgs};
use crate::demo::demo_mix;
use crate::exit::{CliError, ResultExt};
use crate::progress::Progress;
use crate::report::{Measurement, RenderReport, table};
use inputs::InputMix;
use lathe_engine::BusInfo as Bus;
use lathe_host::RENDER_CHUNK_FRAMES;
use stream::{OutputBus, StreamError, render_stream};

pub fn run(args: &RenderArgs) -> Result<(), CliError> {
    check_naming("input", &args.inputs)?;
    check_naming("output", &args.outputs)?;
    check_output_paths(args)?;
    let sources = open_inputs(args)?;
    let rate = sources.first().map_or(0, |s| s.reader.sample_rate_hz());
    let graph = super::load(
        &args.graph,
        &args.sets.sets,
        f64::from(rate),
        args.block_frames,
    )?;
    check_graph_reads(args, &graph.info().read_files)?;
    let sources = assign_inputs(&graph.inputs, sources)?;
    let outputs = assign_outputs(&graph.outputs, &args.outputs)?;

    let wants_report = !args.quiet || args.report.is_some();
    let graph_path = graph.path.clone();
    let output_buses = graph.outputs.clone();
    let renderer = graph.into_render();
    let latency_frames = renderer.latency_frames();
    let readers = sources
        .into_iter()
        .map(|s| (s.reader, wants_report.then(|| format!("in: {}", s.label))))
        .collect();
    let inputs = InputMix::new(readers, latency_frames, RENDER_CHUNK_FRAMES);
    let progress = Progress::new(
        inputs
            .declared_frames()
            .map(|frames| frames + latency_frames as u64),
        rate,
        !args.quiet,
    );
    let mut writers = Vec::with_capacity(outputs.len());
    for (path, bus) in outputs.iter().zip(&output_buses) {
        writers.push(
            OutputBus::create(path, args.bits, bus.channels, rate, wants_report).runtime_fault()?,
        );
    }
    let streamed = render_stream(renderer, inputs, writers, &progress).map_err(|e| match e {
        StreamError::Input(e) => CliError::user(e),
        StreamError::Output(e) => CliError::runtime(e),
    })?;
    progress.finish();
    tracing::info!(frames = streamed.frames, "rendered");

    if let (Some(plot), Some(first)) = (&args.plot, outputs.first()) {
        let written = read_audio(first)
            .map_err(|e| anyhow!("cannot read the written output to plot it: {e}"))
            .runtime_fault()?;
        let panel = super::plot::loudness_panel(&written, None);
        crate::plot::draw(plot, 1200, 600, &[panel])
            .map_err(|e| anyhow!(e))
            .runtime_fault()?;
    }
    if !wants_report {
        return Ok(());
    }
    report(
        args,
        &graph_path,
        streamed.inputs,
        streamed.outputs,
        latency_frames,
    )
}

/// Either one file without a bus name, or every file as BUS=PATH with distinct buses.
fn check_naming(what: &str, files: &[InputArg]) -> Result<(), CliError> {
    let unnamed = files.iter().filter(|f| f.bus.is_none()).count();
    if unnamed > 0 && files.len() > 1 {
        return Err(CliError::user(anyhow!(
            "{} {what} files given: name the bus of each as BUS=PATH (e.g. main={})",
            files.len(),
            files[0].path.display()
        )));
    }
    let mut seen = BTreeSet::new();
    for bus in files.iter().filter_map(|f| f.bus.as_deref()) {
        if !seen.insert(bus) {
            return Err(CliError::user(anyhow!(
                "{what} bus `{bus}` is given more than once"
            )));
        }
    }
    Ok(())
}

/// Refuses outputs that are a file the graph read (a subgraph, a script): known only once
/// it is compiled, still before anything is written.
fn check_graph_reads(args: &RenderArgs, read_files: &[PathBuf]) -> Result<(), CliError> {
    let protected: Vec<(&str, &Path)> = (read_files.iter())
        .map(|f| ("file the graph reads", f.as_path()))
        .collect();
    let written = (args.outputs.iter().map(|o| o.path.as_path()))
        .chain(args.report.as_deref())
        .chain(args.plot.as_deref());
    for path in written {
        ensure_not_overwriting(path, &protected).user_fault()?;
    }
    Ok(())
}

/// Refuses outputs that are an input, the graph, another output or the report, and
/// outputs in folders that do not exist.
fn check_output_paths(args: &RenderArgs) -> Result<(), CliError> {
    if let Some(plot) = &args.plot
        && !plot.extension().is_some_and(|e| e == "png" || e == "svg")
    {
        return Err(CliError::user(anyhow!(
            "--plot `{}`: the plot file must end in .png or .svg",
            plot.display()
        )));
    }
    let mut protected: Vec<(&str, &Path)> = vec![("graph file", args.graph.as_path())];
    protected.extend(args.inputs.iter().map(|i| ("input file", i.path.as_path())));
    let mut written: Vec<&Path> = args.outputs.iter().map(|o| o.path.as_path()).collect();
    written.extend(args.report.as_deref());
    written.extend(args.plot.as_deref());
    for (i, path) in written.iter().enumerate() {
        ensure_not_overwriting(path, &protected).user_fault()?;
        let earlier: Vec<(&str, &Path)> = written[..i].iter().map(|p| ("output", *p)).collect();
        ensure_not_overwriting(path, &earlier).user_fault()?;
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        if !dir.is_dir() {
            return Err(CliError::user(anyhow!(
                "cannot write `{}`: folder `{}` does not exist",
                path.display(),
                dir.display()
            )));
        }
        if path.is_dir() {
            return Err(CliError::user(anyhow!(
                "cannot write `{}`: it is a folder; give a file name",
                path.display()
            )));
        }
    }
    for output in &args.outputs {
        if let Some(reason) = Container::of(&output.path).refuses(args.bits) {
            return Err(CliError::user(anyhow!(
                "cannot write `{}`: {reason}",
                output.path.display()
            )));
        }
    }
    Ok(())
}

/// An opened input and where it came from.
#[derive(Debug)]
struct Source {
    bus: Option<String>,
    label: String,
    reader: AudioReader,
}

/// Opens every input (or the demo mix) and checks they share one sample rate.
fn open_inputs(args: &RenderArgs) -> Result<Vec<Source>, CliError> {
    if args.demo {
        return Ok(vec![Source {
            bus: None,
            label: "demo".to_string(),
            reader: AudioReader::from_audio(demo_mix()),
        }]);
    }
    let mut sources = Vec::with_capacity(args.inputs.len());
    for input in &args.inputs {
        let reader = open_audio(&input.path).user_fault()?;
        tracing::info!(
            file = %input.path.display(),
            rate_hz = reader.sample_rate_hz(),
            channels = reader.channel_count(),
            frames = ?reader.declared_frames(),
            "opened input"
        );
        sources.push(Source {
            bus: input.bus.clone(),
            label: input.path.display().to_string(),
            reader,
        });
    }
    if let Some(first) = sources.first()
        && let Some(other) = sources
            .iter()
            .find(|s| s.reader.sample_rate_hz() != first.reader.sample_rate_hz())
    {
        return Err(CliError::user(anyhow!(
            "inputs differ in sample rate: `{}` is {} Hz, `{}` is {} Hz; \
             convert them to one rate first",
            first.label,
            first.reader.sample_rate_hz(),
            other.label,
            other.reader.sample_rate_hz()
        )));
    }
    Ok(sources)
}

fn bus_list(buses: &[Bus]) -> String {
    buses
        .iter()
        .map(|b| format!("`{}` ({} ch)", b.name, b.channels))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Orders the sources as the graph's input buses and checks channel counts (shorter
/// inputs are padded with silence to the longest as they stream).
fn assign_inputs(buses: &[Bus], mut sources: Vec<Source>) -> Result<Vec<Source>, CliError> {
    if let [source] = sources.as_mut_slice()
        && source.bus.is_none()
    {
        match buses {
            [bus] => source.bus = Some(bus.name.clone()),
            _ => {
                return Err(CliError::user(anyhow!(
                    "the graph has {} input buses ({}); give one input per bus as BUS=PATH",
                    buses.len(),
                    bus_list(buses)
                )));
            }
        }
    }
    for source in &sources {
        let name = source.bus.as_deref().unwrap_or_default();
        if !buses.iter().any(|b| b.name == name) {
            return Err(CliError::user(anyhow!(
                "the graph has no input bus `{name}`; its input buses are {}",
                bus_list(buses)
            )));
        }
    }
    let mut ordered = Vec::with_capacity(buses.len());
    for bus in buses {
        let index = sources
            .iter()
            .position(|s| s.bus.as_deref() == Some(bus.name.as_str()))
            .ok_or_else(|| {
                CliError::user(anyhow!(
                    "no input for the graph's input bus `{}` ({} ch); give it as {}=PATH",
                    bus.name,
                    bus.channels,
                    bus.name
                ))
            })?;
        let source = sources.swap_remove(index);
        if source.reader.channel_count() != bus.channels {
            return Err(CliError::user(anyhow!(
                "`{}` has {} channel(s) but input bus `{}` takes {}; \
                 use a file with {} channel(s) or add a `route` node to the graph",
                source.label,
                source.reader.channel_count(),
                bus.name,
                bus.channels,
                bus.channels
            )));
        }
        ordered.push(source);
    }
    Ok(ordered)
}

/// The output path of each output bus, in the graph's order.
fn assign_outputs(buses: &[Bus], outputs: &[InputArg]) -> Result<Vec<PathBuf>, CliError> {
    if let [output] = outputs
        && output.bus.is_none()
    {
        return match buses {
            [_] => Ok(vec![output.path.clone()]),
            _ => Err(CliError::user(anyhow!(
                "the graph has {} output buses ({}); give one -o BUS=PATH per bus",
                buses.len(),
                bus_list(buses)
            ))),
        };
    }
    for output in outputs {
        let name = output.bus.as_deref().unwrap_or_default();
        if !buses.iter().any(|b| b.name == name) {
            return Err(CliError::user(anyhow!(
                "the graph has no output bus `{name}`; its output buses are {}",
                bus_list(buses)
            )));
        }
    }
    buses
        .iter()
        .map(|bus| {
            outputs
                .iter()
                .find(|o| o.bus.as_deref() == Some(bus.name.as_str()))
                .map(|o| o.path.clone())
                .ok_or_else(|| {
                    CliError::user(anyhow!(
                        "no output file for the graph's output bus `{}`; give it as -o {}=PATH",
                        bus.name,
                        bus.name
                    ))
                })
        })
        .collect()
}

/// Prints the before/after table unless quiet, and writes the `--report` JSON.
fn report(
    args: &RenderArgs,
    graph: &Path,
    before: Vec<Measurement>,
    after: Vec<Measurement>,
    latency_frames: usize,
) -> Result<(), CliError> {
    if !args.quiet {
        let columns: Vec<&Measurement> = before.iter().chain(&after).collect();
        print!("{}", table(&columns));
    }
    if let Some(path) = &args.report {
        let report = RenderReport {
            graph: graph.display().to_string(),
            output_format: output_format_name(args),
            block_frames: args.block_frames,
            latency_frames,
            inputs: before,
            outputs: after,
        };
        let json = serde_json::to_vec_pretty(&report).runtime_fault()?;
        write_atomically(path, |w| std::io::Write::write_all(w, &json))
            .map_err(|e| anyhow!("cannot write report `{}`: {e}", path.display()))
            .runtime_fault()?;
    }
    Ok(())
}

/// E.g. "24-bit integer FLAC, TPDF dither"; outputs of both containers name both.
fn output_format_name(args: &RenderArgs) -> String {
    let mut containers: Vec<&str> = args
        .outputs
        .iter()
        .map(|o| Container::of(&o.path).name())
        .collect();
    containers.dedup();
    let container = containers.join("/");
    match args.bits {
        SampleFormat::Float32 => format!("32-bit float {container}"),
        other => format!("{}-bit integer {container}, TPDF dither", other.bits()),
    }
}
