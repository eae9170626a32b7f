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
mod level;
mod lossy;
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
use crate::report::{Leveling, Measurement, RenderReport, table};
use inputs::InputMix;
use lathe_engine::BusInfo as Bus;
use lathe_host::RENDER_CHUNK_FRAMES;
use level::Delivery;
use stream::{OutputBus, StreamError, render_stream};

pub fn run(args: &RenderArgs) -> Result<(), CliError> {
    let buses = graph_buses(args);
    check_naming(
        "input",
        &args.inputs,
        buses.as_ref().map(|b| b.0.as_slice()),
    )?;
    check_naming(
        "output",
        &args.outputs,
        buses.as_ref().map(|b| b.1.as_slice()),
    )?;
    let delivery = Delivery::from_args(args)?;
    check_output_paths(args, delivery.bits)?;
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
    for (path, bus) in outputs.iter().zip(&graph.outputs) {
        lossy::check_bus(path, bus.channels, rate)?;
    }
    let leveling = if delivery.leveled {
        Some(level::find(&delivery, |gain_db| {
            measuring_pass(args, gain_db)
        })?)
    } else {
        None
    };
    let (gain_db, safety_gain_db) = leveling
        .as_ref()
        .map_or((0.0, 0.0), |l| (l.gain_db, l.safety_gain_db));

    let wants_report = !args.quiet || args.report.is_some();
    let graph_path = graph.path.clone();
    let output_buses = graph.outputs.clone();
    let renderer = graph.into_render();
    let latency_frames = renderer.latency_frames();
    let readers = sources
        .into_iter()
        .map(|s| (s.reader, wants_report.then(|| format!("in: {}", s.label))))
        .collect();
    let inputs = InputMix::new(readers, latency_frames, RENDER_CHUNK_FRAMES).with_gain_db(gain_db);
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
            OutputBus::create(
                path,
                delivery.bits,
                lossy::spec_of(path, args.codec),
                bus.channels,
                rate,
                wants_report,
            )
            .runtime_fault()?
            .with_gain_db(safety_gain_db),
        );
    }
    let streamed =
        render_stream(renderer, inputs, writers, &progress, args.strict).map_err(stream_error)?;
    progress.finish();
    tracing::info!(frames = streamed.frames, "rendered");
    if !streamed.stopped.is_empty() {
        // Said after the render as well as when it happened, so it is not lost above a
        // long report.
        eprintln!(
            "warning: {}\nthe render went on with the values the script had set; \
             --strict makes this an error",
            stream::describe_stopped(&streamed.stopped, rate)
        );
    }

    if let (Some(plot), Some(first)) = (&args.plot, outputs.first()) {
        let written = read_audio(first)
            .map_err(|e| anyhow!("cannot read the written output to plot it: {e}"))
            .runtime_fault()?;
        let mut panel = super::plot::loudness_panel(&written, delivery.target_lufs);
        panel.title = format!("Loudness over time: {}", super::plot::file_name(first));
        crate::plot::draw(plot, 1200, 600, &[panel])
            .map_err(|e| anyhow!(e))
            .runtime_fault()?;
    }
    if !wants_report {
        return Ok(());
    }
    report(
        args,
        &delivery,
        &graph_path,
        streamed.inputs,
        streamed.outputs,
        latency_frames,
        leveling,
    )
}

/// Whose fault a stopped stream was: a bad input or a strict render's failed script is
/// the user's, a failed write the run's.
fn stream_error(error: StreamError) -> CliError {
    match error {
        StreamError::Input(e) => CliError::user(e),
        StreamError::Output(e) => CliError::runtime(e),
        e @ StreamError::ScriptStopped(..) => CliError::user(anyhow!(
            "{e}\nno output was written (--strict); fix the script, or render without \
             --strict to keep the audio"
        )),
    }
}

/// One render that writes nothing: the inputs at `gain_db` through a freshly loaded
/// graph, measuring the first output bus (a step of the loudness search).
fn measuring_pass(args: &RenderArgs, gain_db: f64) -> Result<Measurement, CliError> {
    let sources = open_inputs(args)?;
    let rate = sources.first().map_or(0, |s| s.reader.sample_rate_hz());
    let graph = super::load(
        &args.graph,
        &args.sets.sets,
        f64::from(rate),
        args.block_frames,
    )?;
    let sources = assign_inputs(&graph.inputs, sources)?;
    let buses = graph.outputs.clone();
    let renderer = graph.into_render();
    let readers = sources.into_iter().map(|s| (s.reader, None)).collect();
    let inputs = InputMix::new(readers, renderer.latency_frames(), RENDER_CHUNK_FRAMES)
        .with_gain_db(gain_db);
    let outputs = buses
        .iter()
        .map(|b| OutputBus::measure_only(&b.name, b.channels, rate))
        .collect();
    let streamed = render_stream(renderer, inputs, outputs, &Progress::hidden(), args.strict)
        .map_err(stream_error)?;
    let measured = streamed
        .outputs
        .into_iter()
        .next()
        .ok_or_else(|| CliError::user(anyhow!("the graph has no output bus to measure")))?;
    tracing::info!(
        gain_db,
        integrated_lufs = ?measured.integrated_lufs,
        true_peak_dbtp = ?measured.true_peak_dbtp,
        "loudness search pass"
    );
    Ok(measured)
}

/// The graph's input and output buses when several files are given without bus names,
/// so the message can show the right names; `None` when the graph does not load (its
/// problems are reported by the load that follows).
fn graph_buses(args: &RenderArgs) -> Option<(Vec<Bus>, Vec<Bus>)> {
    let unnamed = |files: &[InputArg]| files.len() > 1 && files.iter().any(|f| f.bus.is_none());
    if !unnamed(&args.inputs) && !unnamed(&args.outputs) {
        return None;
    }
    let graph = super::load(&args.graph, &[], 48_000.0, args.block_frames).ok()?;
    Some((graph.inputs.clone(), graph.outputs.clone()))
}

/// Either one file without a bus name, or every file as BUS=PATH with distinct buses.
fn check_naming(what: &str, files: &[InputArg], buses: Option<&[Bus]>) -> Result<(), CliError> {
    let unnamed = files.iter().filter(|f| f.bus.is_none()).count();
    if unnamed > 0 && files.len() > 1 {
        let example = match buses {
            Some(buses) if !buses.is_empty() => buses
                .iter()
                .zip(files.iter().chain(std::iter::repeat(&files[0])))
                .map(|(bus, f)| format!("{}={}", bus.name, f.path.display()))
                .collect::<Vec<_>>()
                .join(" "),
            _ => format!("main={}", files[0].path.display()),
        };
        let prefix = if what == "output" { "-o " } else { "" };
        let example = example.replace(' ', &format!(" {prefix}"));
        return Err(CliError::user(anyhow!(
            "{} {what} files given: name the bus of each as BUS=PATH (e.g. {prefix}{example})",
            files.len(),
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
fn check_output_paths(args: &RenderArgs, bits: SampleFormat) -> Result<(), CliError> {
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
        super::ensure_output_folder(path)?;
        if path.is_dir() {
            return Err(CliError::user(anyhow!(
                "cannot write `{}`: it is a folder; give a file name",
                path.display()
            )));
        }
    }
    let output_paths: Vec<&Path> = args.outputs.iter().map(|o| o.path.as_path()).collect();
    lossy::check_codec_used(&output_paths, args.codec)?;
    lossy::check_plot(output_paths.first().copied(), args.plot.as_deref())?;
    for output in &args.outputs {
        check_output_extension(&output.path)?;
        lossy::check_output(&output.path, args.bits, args.codec)?;
        if let Some(reason) = Container::of(&output.path).refuses(bits) {
            return Err(CliError::user(anyhow!(
                "cannot write `{}`: {reason}",
                output.path.display()
            )));
        }
    }
    Ok(())
}

/// The file name extensions render writes: the container follows the extension.
const OUTPUT_EXTENSIONS: [&str; 6] = ["wav", "wave", "flac", "opus", "mp3", "m4a"];

/// Refuses an output whose extension promises a format lathe does not write (an
/// `out.mp3` would otherwise hold WAV bytes). A name without extension is written as WAV.
fn check_output_extension(path: &Path) -> Result<(), CliError> {
    let Some(ext) = path.extension() else {
        return Ok(());
    };
    if OUTPUT_EXTENSIONS
        .iter()
        .any(|known| ext.eq_ignore_ascii_case(known))
    {
        return Ok(());
    }
    Err(CliError::user(anyhow!(
        "cannot write `{}`: lathe writes WAV (.wav), FLAC (.flac), Opus (.opus), MP3 (.mp3) \
         and AAC (.m4a), not .{}; convert the WAV afterwards (e.g. with ffmpeg) for other formats",
        path.display(),
        ext.to_string_lossy()
    )))
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
    delivery: &Delivery,
    graph: &Path,
    before: Vec<Measurement>,
    after: Vec<Measurement>,
    latency_frames: usize,
    leveling: Option<Leveling>,
) -> Result<(), CliError> {
    if !args.quiet {
        let columns: Vec<&Measurement> = before.iter().chain(&after).collect();
        print!("{}", table(&columns));
        match &leveling {
            Some(l) => print!("{}", level::summary(l, after.first())),
            None => print!("{}", quieter_hint(&before, &after)),
        }
    }
    if let Some(path) = &args.report {
        let report = RenderReport {
            graph: graph.display().to_string(),
            output_format: output_format_name(args, delivery.bits),
            block_frames: args.block_frames,
            latency_frames,
            inputs: before,
            outputs: after,
            leveling,
        };
        let json = serde_json::to_vec_pretty(&report).runtime_fault()?;
        write_atomically(path, |w| std::io::Write::write_all(w, &json))
            .map_err(|e| anyhow!("cannot write report `{}`: {e}", path.display()))
            .runtime_fault()?;
    }
    Ok(())
}

/// A render without a target that came out quieter than its (single) input says how to
/// master to a loudness instead; otherwise nothing.
fn quieter_hint(before: &[Measurement], after: &[Measurement]) -> String {
    let ([input], [output]) = (before, after) else {
        return String::new();
    };
    match (input.integrated_lufs, output.integrated_lufs) {
        (Some(i), Some(o)) if o < i - 0.5 => format!(
            "note: the output is {:.1} LU quieter than the input; to master to a loudness, \
             add --target-lufs -14 or --preset streaming\n",
            i - o
        ),
        _ => String::new(),
    }
}

/// E.g. "24-bit integer FLAC, TPDF dither"; outputs of both containers name both, and
/// lossy outputs their codec setting ("Opus opus:160").
fn output_format_name(args: &RenderArgs, bits: SampleFormat) -> String {
    let mut containers: Vec<&str> = Vec::new();
    let mut lossy: Vec<String> = Vec::new();
    for o in &args.outputs {
        let container = Container::of(&o.path);
        match lossy::spec_of(&o.path, args.codec) {
            Some(spec) => lossy.push(format!("{} {spec}", container.name())),
            None => containers.push(container.name()),
        }
    }
    containers.dedup();
    lossy.dedup();
    let mut parts = Vec::new();
    if !containers.is_empty() {
        let container = containers.join("/");
        parts.push(match bits {
            SampleFormat::Float32 => format!("32-bit float {container}"),
            other => format!("{}-bit integer {container}, TPDF dither", other.bits()),
        });
    }
    parts.extend(lossy);
    parts.join("; ")
}
