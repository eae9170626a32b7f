//! `lathe plot`: loudness over time, spectra, a graph's frequency response, or the graph.
//!
//! The response is measured, not computed: a unit impulse scaled to
//! [`IMPULSE_LEVEL`] goes through a compiled graph (latency compensated, as in a
//! render) and the FFT of the first output channel, divided by the impulse level, gives
//! magnitude and phase. The small level keeps dynamics processors idle, so the curve is
//! that of the linear filters. Each `eq`, `dynamic_eq` and `crossover` node (or the
//! nodes named with `--node`) is measured alone, in a graph of that node only, so its
//! curve is its own whatever sits around it; a crossover gives one curve per band. The
//! whole graph's curve is drawn beside them.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::anyhow;
use lathe_engine::{NodeInfo, PortSpec};
use lathe_host::LoadedGraph;
use lathe_nodes::dsp::analysis::Analyzer;
use lathe_nodes::dsp::bs1770::Layout;
use realfft::RealFftPlanner;

use super::Rendered;
use super::compare::compare;
use crate::atomic_file::{ensure_not_overwriting, write_atomically};
use crate::audio_io::{Audio, read_audio};
use crate::cli::{PlotArgs, PlotKind};
use crate::exit::{CliError, ResultExt};
use crate::plot::{COLORS, Panel, Series, draw};
use crate::progress::Progress;

/// Frames of the impulse response: 0.34 s at 48 kHz, 2.9 Hz resolution.
pub const IMPULSE_FRAMES: usize = 16_384;
/// Amplitude of the test impulse (-40 dBFS).
pub const IMPULSE_LEVEL: f32 = 0.01;

pub fn run(args: &PlotArgs) -> Result<(), CliError> {
    check_outputs(args)?;
    for out in std::iter::once(&args.output).chain(&args.data) {
        super::ensure_output_folder(out)?;
    }
    if args.kind != PlotKind::Graph {
        check_image_extension(&args.output)?;
    }
    let panels = match args.kind {
        PlotKind::Loudness => {
            let mut panel =
                loudness_panel(&read_audio(&args.input).user_fault()?, args.target_lufs);
            panel.title = format!("Loudness over time: {}", file_name(&args.input));
            vec![panel]
        }
        PlotKind::Spectrum => spectrum_panels(args)?,
        PlotKind::Response => {
            let curves = response_curves(args)?;
            if let Some(path) = &args.data {
                let csv = response_csv(&curves);
                write_atomically(path, |w| std::io::Write::write_all(w, csv.as_bytes()))
                    .map_err(|e| anyhow!("cannot write `{}`: {e}", path.display()))
                    .runtime_fault()?;
            }
            response_panels(&curves, &file_name(&args.input))
        }
        PlotKind::Graph => return graph(&args.input, &args.output),
    };
    let height = args.height.unwrap_or_else(|| auto_height_px(panels.len()));
    draw(&args.output, args.width, height, &panels).map_err(|e| CliError::runtime(anyhow!(e)))
}

/// Refuses an image or `--data` file that is a file the plot reads (the input, the
/// reference, and for a graph every subgraph and script it reads) or the other output,
/// by file identity (`./g.ron` is `g.ron`), before anything is drawn.
fn check_outputs(args: &PlotArgs) -> Result<(), CliError> {
    let input_role = match args.kind {
        PlotKind::Response | PlotKind::Graph => "graph file",
        PlotKind::Loudness | PlotKind::Spectrum => "input file",
    };
    let mut protected: Vec<(&str, PathBuf)> = vec![(input_role, args.input.clone())];
    protected.extend(args.reference.iter().map(|r| ("reference", r.clone())));
    if matches!(args.kind, PlotKind::Response | PlotKind::Graph) {
        // A subgraph or a script is known only once the graph is compiled.
        let loaded = super::load(&args.input, &[], f64::from(args.rate), 512)?;
        let reads = loaded.info().read_files.iter();
        protected.extend(reads.map(|f| ("file the graph reads", f.clone())));
    }
    let protected: Vec<(&str, &Path)> = protected.iter().map(|(r, p)| (*r, p.as_path())).collect();
    ensure_not_overwriting(&args.output, &protected).user_fault()?;
    if let Some(data) = &args.data {
        ensure_not_overwriting(data, &protected).user_fault()?;
        ensure_not_overwriting(data, &[("plot", &args.output)]).user_fault()?;
    }
    Ok(())
}

/// Height of a plot of `panels` stacked panels when `--height` is not given: 600 pixels up
/// to three panels, then 200 a panel (a panel under about 200 pixels has no room for its
/// axis labels), at most 8000.
pub fn auto_height_px(panels: usize) -> u32 {
    let per_panel = u32::try_from(panels)
        .unwrap_or(u32::MAX)
        .saturating_mul(200);
    per_panel.clamp(600, 8000)
}

/// The name a title shows for `path`: its file name.
pub fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

/// Charts are PNG or SVG; anything else is refused before any work.
fn check_image_extension(output: &Path) -> Result<(), CliError> {
    let ext = output
        .extension()
        .map(|e| e.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    if ext == "png" || ext == "svg" {
        return Ok(());
    }
    Err(CliError::user(anyhow!(
        "cannot write `{}`: the plot file must end in .png or .svg",
        output.display()
    )))
}

/// The lowest loudness a loudness plot shows: the meter's absolute gate (EBU R128). A
/// track that ends in digital silence reads hundreds of LU below it, which would squash
/// the music into the top of the axis; what is under the gate is not counted as
/// programme anyway.
pub const LOUDNESS_FLOOR_LUFS: f64 = -70.0;

/// Momentary and short-term loudness of `audio` over time, with an optional target line.
pub fn loudness_panel(audio: &Audio, target: Option<f64>) -> Panel {
    let mut analyzer = Analyzer::new(
        f64::from(audio.sample_rate_hz),
        Layout::for_channels(audio.channel_count()),
    );
    let planes: Vec<&[f32]> = audio.channels.iter().map(Vec::as_slice).collect();
    analyzer.process(&planes);
    let series = analyzer.series();
    let points = |values: &[f64]| -> Vec<(f64, f64)> {
        values
            .iter()
            .enumerate()
            .map(|(i, &v)| ((i + 1) as f64 * series.hop_s, v))
            .filter(|p| p.1.is_finite() && p.1 >= LOUDNESS_FLOOR_LUFS)
            .collect()
    };
    Panel {
        title: "Loudness over time".into(),
        x_label: "time (s)".into(),
        y_label: "loudness (LUFS)".into(),
        log_x: false,
        series: vec![
            Series {
                name: "momentary (400 ms)".into(),
                points: points(&series.momentary_lufs),
                color: COLORS[0],
            },
            Series {
                name: "short-term (3 s)".into(),
                points: points(&series.short_term_lufs),
                color: COLORS[1],
            },
        ],
        target: target.map(|t| (t, format!("target {t} LUFS"))),
    }
}

fn spectrum_panels(args: &PlotArgs) -> Result<Vec<Panel>, CliError> {
    let audio = read_audio(&args.input).user_fault()?;
    let reference = match &args.reference {
        Some(p) => read_audio(p).user_fault()?,
        None => audio.clone(),
    };
    if reference.sample_rate_hz != audio.sample_rate_hz {
        return Err(CliError::user(anyhow!(
            "the reference is {} Hz but the input is {} Hz; plot files of one rate",
            reference.sample_rate_hz,
            audio.sample_rate_hz
        )));
    }
    let c = compare(&audio, &reference);
    let gain = c.match_gain_db;
    let mut series = vec![Series {
        name: args.input.display().to_string(),
        points: c
            .bands
            .iter()
            .filter_map(|b| Some((b.freq_hz, b.mix_db? + gain)))
            .collect(),
        color: COLORS[0],
    }];
    if let Some(p) = &args.reference {
        series.push(Series {
            name: format!("{} (reference)", p.display()),
            points: c
                .bands
                .iter()
                .filter_map(|b| Some((b.freq_hz, b.reference_db?)))
                .collect(),
            color: COLORS[1],
        });
    }
    Ok(vec![Panel {
        title: format!("Long-term 1/3-octave spectrum: {}", file_name(&args.input)),
        x_label: "frequency (Hz)".into(),
        y_label: "level (dB)".into(),
        log_x: true,
        series,
        target: None,
    }])
}

/// One measured curve: its name and (frequency Hz, magnitude dB, phase degrees) points.
#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    pub name: String,
    pub points: Vec<(f64, f64, f64)>,
}

/// Charts leave out bins below this magnitude (a crossover band's stop band), where the
/// curve, and its phase most of all, is rounding noise and would squash the scale; the
/// `--data` CSV keeps every bin.
pub const CHART_FLOOR_DB: f64 = -60.0;

/// Node kinds whose response `lathe plot response` draws by default.
pub const RESPONSE_KINDS: [&str; 3] = ["eq", "dynamic_eq", "crossover"];

/// Magnitude (dB) and phase (degrees) of the whole graph at `rate`, from its impulse
/// response on the first channel of its first output bus.
pub fn response(graph_path: &Path, rate: u32) -> Result<Vec<(f64, f64, f64)>, CliError> {
    let graph = super::load(graph_path, &[], f64::from(rate), 512)?;
    let rendered = impulse_render(graph, rate);
    let out = rendered
        .outputs
        .first()
        .and_then(|a| a.channels.first())
        .ok_or_else(|| CliError::user(anyhow!("the graph has no output channel")))?;
    spectrum_of(out, rate)
}

/// The responses of nodes of `graph_path` measured one by one: each node is compiled
/// alone (its config and the graph's param values) into a graph whose input buses are
/// its required input ports and whose output buses are its output ports, and an
/// impulse goes through it. A node with several output ports (a crossover's bands)
/// gives one curve per port. `ids` picks nodes by id; empty picks every node of
/// [`RESPONSE_KINDS`].
pub fn node_responses(
    graph_path: &Path,
    rate: u32,
    ids: &[String],
) -> Result<Vec<Response>, CliError> {
    // Loading reports a bad graph with every problem and its position.
    let loaded = super::load(graph_path, &[], f64::from(rate), 512)?;
    let nodes = &loaded.info().nodes;
    for id in ids {
        if !nodes.iter().any(|n| &n.id == id) {
            let known: Vec<&str> = nodes.iter().map(|n| n.id.as_str()).collect();
            return Err(CliError::user(anyhow!(
                "--node `{id}`: no such node in `{}`; its nodes: {}",
                graph_path.display(),
                known.join(", ")
            )));
        }
    }
    let chosen = nodes.iter().filter(|n| {
        if ids.is_empty() {
            RESPONSE_KINDS.contains(&n.kind.as_str())
        } else {
            ids.contains(&n.id)
        }
    });
    let dir = tempfile_dir()?;
    let mut curves = Vec::new();
    for node in chosen {
        let path = dir.path.join("node.ron");
        let text = isolated_graph(node);
        std::fs::write(&path, &text)
            .map_err(|e| anyhow!("cannot write `{}`: {e}", path.display()))
            .runtime_fault()?;
        let graph = super::load(&path, &[], f64::from(rate), 512)?;
        if graph.inputs.is_empty() {
            return Err(CliError::user(anyhow!(
                "--node `{}`: a `{}` node has no input, so no response",
                node.id,
                node.kind
            )));
        }
        let buses: Vec<String> = graph.outputs.iter().map(|b| b.name.clone()).collect();
        let rendered = impulse_render(graph, rate);
        let several = node.spec.outputs.len() > 1;
        for (k, port) in node.spec.outputs.iter().enumerate() {
            let bus = format!("o{k}");
            let Some(first) = buses
                .iter()
                .position(|b| *b == bus)
                .and_then(|i| rendered.outputs.get(i))
                .and_then(|a| a.channels.first())
            else {
                continue;
            };
            curves.push(Response {
                name: if several {
                    format!("{}.{}", node.id, port.name)
                } else {
                    node.id.clone()
                },
                points: spectrum_of(first, rate)?,
            });
        }
    }
    Ok(curves)
}

/// A graph file of `node` alone: bus `iK` feeds its K-th required input port, its K-th
/// output port feeds bus `oK`, params at the values the whole graph gave them.
fn isolated_graph(node: &NodeInfo) -> String {
    let inputs: Vec<(usize, &PortSpec)> = node
        .spec
        .inputs
        .iter()
        .filter(|p| p.required)
        .enumerate()
        .collect();
    let outputs: Vec<(usize, &PortSpec)> = node.spec.outputs.iter().enumerate().collect();
    let buses = |prefix: &str, ports: &[(usize, &PortSpec)]| {
        ports
            .iter()
            .map(|(k, p)| format!("\"{prefix}{k}\": {}", p.channels))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut links: Vec<String> = inputs
        .iter()
        .map(|(k, p)| format!("\"in.i{k} -> node.{}\"", p.name))
        .collect();
    links.extend(
        outputs
            .iter()
            .map(|(k, p)| format!("\"node.{} -> out.o{k}\"", p.name)),
    );
    let params: Vec<String> = node
        .spec
        .params
        .iter()
        .zip(&node.values)
        .map(|(p, v)| format!("{:?}: {v:?}", p.name))
        .collect();
    let config = node
        .config
        .as_deref()
        .map(|c| format!(", config: {c}"))
        .unwrap_or_default();
    format!(
        "(\n    inputs: {{{}}},\n    outputs: {{{}}},\n    nodes: [(id: \"node\", kind: {:?}{config}, \
         params: {{{}}})],\n    links: [{}],\n)\n",
        buses("i", &inputs),
        buses("o", &outputs),
        node.kind,
        params.join(", "),
        links.join(", ")
    )
}

/// A private folder under the system's temp dir, removed when dropped.
struct TempDir {
    path: PathBuf,
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

fn tempfile_dir() -> Result<TempDir, CliError> {
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let path = std::env::temp_dir().join(format!("lathe-response-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&path)
        .map_err(|e| anyhow!("cannot create `{}`: {e}", path.display()))
        .runtime_fault()?;
    Ok(TempDir { path })
}

/// Renders an impulse of [`IMPULSE_LEVEL`] on every channel of the first input bus
/// (silence on the others) through `graph`, latency compensated.
fn impulse_render(graph: LoadedGraph, rate: u32) -> Rendered {
    let inputs: Vec<Audio> = graph
        .inputs
        .iter()
        .enumerate()
        .map(|(bus, b)| {
            let mut a = Audio::silence(rate, b.channels, IMPULSE_FRAMES);
            if bus == 0 {
                a.channels.iter_mut().for_each(|c| c[0] = IMPULSE_LEVEL);
            }
            a
        })
        .collect();
    super::render_audio(graph, inputs, &Progress::hidden())
}

/// Magnitude and phase of an impulse response of [`IMPULSE_LEVEL`], from 10 Hz up.
fn spectrum_of(out: &[f32], rate: u32) -> Result<Vec<(f64, f64, f64)>, CliError> {
    let mut planner = RealFftPlanner::<f64>::new();
    let fft = planner.plan_fft_forward(IMPULSE_FRAMES);
    let mut input: Vec<f64> = out.iter().map(|&s| f64::from(s / IMPULSE_LEVEL)).collect();
    input.resize(IMPULSE_FRAMES, 0.0);
    let mut spectrum = fft.make_output_vec();
    fft.process(&mut input, &mut spectrum)
        .map_err(|e| CliError::runtime(anyhow!("FFT failed: {e}")))?;
    let bin_hz = f64::from(rate) / IMPULSE_FRAMES as f64;
    Ok(spectrum
        .iter()
        .enumerate()
        .skip(1)
        .map(|(i, c)| {
            (
                i as f64 * bin_hz,
                20.0 * c.norm().max(1e-12).log10(),
                c.arg().to_degrees(),
            )
        })
        .filter(|p| p.0 >= 10.0)
        .collect())
}

/// The curves `lathe plot response` draws: the chosen nodes, and the whole graph when
/// no node is named or `--whole` is given.
fn response_curves(args: &PlotArgs) -> Result<Vec<Response>, CliError> {
    let mut curves = node_responses(&args.input, args.rate, &args.nodes)?;
    if args.nodes.is_empty() || args.whole {
        curves.push(Response {
            name: "whole graph".to_string(),
            points: response(&args.input, args.rate)?,
        });
    }
    Ok(curves)
}

/// One magnitude panel per node (a crossover's bands together) and one for the whole
/// graph, each scaled to its own curves, so a +-1.5 dB EQ is not flattened by a
/// crossover's stop band or hidden under the whole graph's curve; then one phase panel
/// with every curve.
fn response_panels(curves: &[Response], file: &str) -> Vec<Panel> {
    let series = |members: &[(usize, &Response)], pick: fn(&(f64, f64, f64)) -> f64| {
        members
            .iter()
            .map(|&(i, c)| Series {
                name: c.name.clone(),
                points: c
                    .points
                    .iter()
                    .filter(|p| p.1 >= CHART_FLOOR_DB)
                    .map(|p| (p.0, pick(p)))
                    .collect(),
                color: COLORS[i % COLORS.len()],
            })
            .collect()
    };
    let panel = |title: String, y: &str, series: Vec<Series>| Panel {
        title,
        x_label: "frequency (Hz)".into(),
        y_label: y.into(),
        log_x: true,
        series,
        target: None,
    };
    // Curves of one node share a panel: `bands.band1` and `bands.band2` are `bands`.
    let mut groups: Vec<(String, Vec<(usize, &Response)>)> = Vec::new();
    for (i, c) in curves.iter().enumerate() {
        let node = c.name.split('.').next().unwrap_or(&c.name).to_string();
        match groups.iter_mut().find(|(n, _)| *n == node) {
            Some((_, members)) => members.push((i, c)),
            None => groups.push((node, vec![(i, c)])),
        }
    }
    let mut panels: Vec<Panel> = groups
        .iter()
        .map(|(node, members)| {
            panel(
                format!("Magnitude: {node} ({file})"),
                "gain (dB)",
                series(members, |p| p.1),
            )
        })
        .collect();
    let all: Vec<(usize, &Response)> = curves.iter().enumerate().collect();
    panels.push(panel(
        format!("Phase ({file})"),
        "phase (degrees)",
        series(&all, |p| p.2),
    ));
    panels
}

/// The curves as CSV: `freq_hz`, then `NAME gain_db` and `NAME phase_deg` per curve
/// (every curve is measured on the same frequency bins).
fn response_csv(curves: &[Response]) -> String {
    let mut out = String::from("freq_hz");
    for c in curves {
        let name = c.name.replace([',', '"'], "_");
        let _ = write!(out, ",{name} gain_db,{name} phase_deg");
    }
    out.push('\n');
    let rows = curves.first().map_or(0, |c| c.points.len());
    for i in 0..rows {
        let _ = write!(out, "{}", curves[0].points[i].0);
        for c in curves {
            let (_, m, p) = c
                .points
                .get(i)
                .copied()
                .unwrap_or((0.0, f64::NAN, f64::NAN));
            let _ = write!(out, ",{m:.4},{p:.3}");
        }
        out.push('\n');
    }
    out
}

/// What `plot graph` writes, by the output's extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum GraphPicture {
    Png,
    Svg,
    Dot,
}

impl GraphPicture {
    /// The picture an output path asks for; the error names the ones lathe writes.
    fn of(output: &Path) -> Result<Self, CliError> {
        let ext = output
            .extension()
            .map(|e| e.to_string_lossy().to_lowercase())
            .unwrap_or_default();
        match ext.as_str() {
            "png" => Ok(Self::Png),
            "svg" => Ok(Self::Svg),
            "dot" | "gv" => Ok(Self::Dot),
            _ => Err(CliError::user(anyhow!(
                "cannot write `{}`: `plot graph` writes .png, .svg or .dot (Graphviz text)",
                output.display()
            ))),
        }
    }
}

/// The graph as a picture: Graphviz lays it out where `dot` is installed; otherwise lathe
/// draws it itself ([`crate::plot::graph`]). A `.dot` output is the DOT text.
fn graph(path: &Path, output: &Path) -> Result<(), CliError> {
    let picture = GraphPicture::of(output)?;
    let loaded = super::load(
        path,
        &[],
        super::check::DESCRIBE_SAMPLE_RATE_HZ,
        super::check::DESCRIBE_BLOCK_FRAMES,
    )?;
    let text = lathe_engine::dot::to_dot(loaded.info());
    let bytes = match picture {
        GraphPicture::Dot => text.into_bytes(),
        GraphPicture::Png | GraphPicture::Svg => {
            let format = if picture == GraphPicture::Png {
                "-Tpng"
            } else {
                "-Tsvg"
            };
            match run_dot(&text, format) {
                Some(bytes) => bytes,
                None => {
                    let (boxes, edges) = graph_boxes(loaded.info());
                    return crate::plot::graph::draw_graph(output, &boxes, &edges)
                        .map_err(|e| CliError::runtime(anyhow!(e)));
                }
            }
        }
    };
    write_atomically(output, |w| std::io::Write::write_all(w, &bytes))
        .map_err(|e| anyhow!("cannot write `{}`: {e}", output.display()))
        .runtime_fault()
}

/// The boxes (input buses, nodes, output buses) and links of a compiled graph.
fn graph_boxes(
    info: &lathe_engine::GraphInfo,
) -> (Vec<crate::plot::graph::GraphBox>, Vec<(usize, usize)>) {
    use crate::plot::graph::GraphBox;
    let mut boxes: Vec<GraphBox> = Vec::new();
    for bus in &info.inputs {
        boxes.push(GraphBox {
            name: format!("in.{}", bus.name),
            label: format!("in.{}\n{} ch", bus.name, bus.channels),
        });
    }
    for node in &info.nodes {
        let latency = if node.spec.latency_frames > 0 {
            format!(", {} fr", node.spec.latency_frames)
        } else {
            String::new()
        };
        boxes.push(GraphBox {
            name: node.id.clone(),
            label: format!("{}\n({}{latency})", node.id, node.kind),
        });
    }
    for bus in &info.outputs {
        boxes.push(GraphBox {
            name: format!("out.{}", bus.name),
            label: format!("out.{}\n{} ch", bus.name, bus.channels),
        });
    }
    // A port `node.port` belongs to the box whose name is its longest prefix; a bus
    // port `in.main` is its own box.
    let box_of = |port: &str| -> Option<usize> {
        boxes
            .iter()
            .enumerate()
            .filter(|(_, b)| port == b.name || port.starts_with(&format!("{}.", b.name)))
            .max_by_key(|(_, b)| b.name.len())
            .map(|(i, _)| i)
    };
    let edges = info
        .links
        .iter()
        .filter_map(|l| Some((box_of(&l.from)?, box_of(&l.to)?)))
        .collect();
    (boxes, edges)
}

fn run_dot(text: &str, format: &str) -> Option<Vec<u8>> {
    let mut child = Command::new("dot")
        .arg(format)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    std::io::Write::write_all(&mut child.stdin.take()?, text.as_bytes()).ok()?;
    let out = child.wait_with_output().ok()?;
    out.status.success().then_some(out.stdout)
}

#[cfg(test)]
mod tests {
    use super::*;

    const RATE: u32 = 48_000;

    #[test]
    fn a_loudness_plot_stops_at_the_gate_under_a_silent_ending() {
        // Two seconds of a -20 dBFS tone, then eight of a level no meter calls programme
        // (about -560 LUFS): the axis must follow the music, not the silence.
        let frames = 10 * RATE as usize;
        let plane: Vec<f32> = (0..frames)
            .map(|i| {
                let level = if i < 2 * RATE as usize { 0.1 } else { 1e-28 };
                level * (i as f32 * 0.05).sin()
            })
            .collect();
        let audio = Audio {
            sample_rate_hz: RATE,
            channels: vec![plane.clone(), plane],
        };
        let panel = loudness_panel(&audio, None);
        let lowest = panel
            .series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.1))
            .fold(f64::INFINITY, f64::min);
        assert!(lowest >= LOUDNESS_FLOOR_LUFS, "axis down to {lowest} LUFS");
    }

    #[test]
    fn a_plot_of_many_panels_grows_taller() {
        assert_eq!(auto_height_px(1), 600);
        assert_eq!(auto_height_px(3), 600);
        assert_eq!(
            auto_height_px(4),
            800,
            "master.ron's response: eq, bands, graph, phase"
        );
        assert_eq!(auto_height_px(12), 2400);
        assert_eq!(auto_height_px(1000), 8000);
    }

    #[test]
    fn each_node_and_the_whole_graph_get_their_own_magnitude_panel() {
        let curve = |name: &str, gain_db: f64| Response {
            name: name.into(),
            points: vec![(100.0, gain_db, 0.0), (1000.0, gain_db, 10.0)],
        };
        let curves = [
            curve("eq", 1.5),
            curve("bands.band1", -40.0),
            curve("bands.band2", 0.0),
            curve("whole graph", 1.0),
        ];
        let panels = response_panels(&curves, "master.ron");
        let titles: Vec<&str> = panels.iter().map(|p| p.title.as_str()).collect();
        assert_eq!(
            titles,
            [
                "Magnitude: eq (master.ron)",
                "Magnitude: bands (master.ron)",
                "Magnitude: whole graph (master.ron)",
                "Phase (master.ron)"
            ]
        );
        // The eq's panel holds only the eq: its scale is its own +-1.5 dB.
        assert_eq!(panels[0].series.len(), 1);
        assert_eq!(panels[3].series.len(), 4);
    }

    /// A graph whose eq (bell at 1 kHz, +6 dB, Q 1) sits between two gains and a
    /// 2-band LR4 crossover at 1 kHz feeds the output: each node alone must show its
    /// own curve, not the graph's.
    const GRAPH: &str = r#"(
        nodes: [
            (id: "pre", kind: "gain", params: {"gain_db": -3.0}),
            (id: "eq", kind: "eq", config: (bands: [(type: "bell")]),
             params: {"band1.freq_hz": 1000, "band1.gain_db": 6.0, "band1.q": 1.0}),
            (id: "xo", kind: "crossover", config: (freqs_hz: [1000], slope: "lr4")),
            (id: "mix", kind: "mix", config: (inputs: 2)),
        ],
        links: ["in -> pre -> eq -> xo", "xo.band1 -> mix.in1", "xo.band2 -> mix.in2",
                "mix -> out"],
    )"#;

    fn curves(ids: &[&str]) -> Vec<Response> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("g.ron");
        std::fs::write(&path, GRAPH).unwrap();
        let ids: Vec<String> = ids.iter().map(|s| s.to_string()).collect();
        node_responses(&path, RATE, &ids).unwrap_or_else(|e| panic!("{e:?}"))
    }

    /// The analog bell prototype: (s^2 + s A/Q + 1) / (s^2 + s/(A Q) + 1), A = 10^(G/40).
    fn bell_db(f: f64, f0: f64, gain_db: f64, q: f64) -> f64 {
        let a = 10f64.powf(gain_db / 40.0);
        let w = f / f0;
        let num = num_complex(1.0 - w * w, w * a / q);
        let den = num_complex(1.0 - w * w, w / (a * q));
        20.0 * (num / den).log10()
    }

    fn num_complex(re: f64, im: f64) -> f64 {
        (re * re + im * im).sqrt()
    }

    #[test]
    fn an_eq_band_alone_matches_its_analytic_curve_within_a_tenth_of_a_db() {
        let curves = curves(&["eq"]);
        assert_eq!(curves.len(), 1);
        assert_eq!(curves[0].name, "eq");
        let mut checked = 0;
        // Up to 5 kHz (a tenth of the rate): above it a digital bell and the analog
        // prototype part by design.
        for &(f, db, _) in curves[0].points.iter().filter(|p| p.0 <= 5_000.0) {
            let want = bell_db(f, 1000.0, 6.0, 1.0);
            assert!(
                (db - want).abs() <= 0.1,
                "{f} Hz: {db} dB, analytic {want} dB"
            );
            checked += 1;
        }
        assert!(checked > 1000);
        let peak = curves[0]
            .points
            .iter()
            .map(|p| p.1)
            .fold(f64::NEG_INFINITY, f64::max);
        assert!((peak - 6.0).abs() < 0.05, "peak {peak}");
    }

    #[test]
    fn a_crossover_gives_one_curve_per_band_with_lr4_magnitudes() {
        let curves = curves(&[]);
        let names: Vec<&str> = curves.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["eq", "xo.band1", "xo.band2"], "default kinds only");
        // LR4 = squared Butterworth: |low| = 1 / (1 + w^4), |high| = w^4 / (1 + w^4), with
        // w the bilinear transform's warped frequency ratio tan(pi f/fs) / tan(pi fc/fs).
        let warp = |f: f64| (std::f64::consts::PI * f / f64::from(RATE)).tan();
        for (curve, high) in [(&curves[1], false), (&curves[2], true)] {
            for &(f, db, _) in curve.points.iter().filter(|p| p.0 <= 10_000.0) {
                let r = (warp(f) / warp(1000.0)).powi(4);
                let want = 20.0 * if high { r / (1.0 + r) } else { 1.0 / (1.0 + r) }.log10();
                if want > -40.0 {
                    assert!(
                        (db - want).abs() <= 0.1,
                        "{}: {f} Hz {db} vs {want}",
                        curve.name
                    );
                }
            }
        }
    }

    #[test]
    fn unknown_nodes_are_named_with_the_known_ones() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("g.ron");
        std::fs::write(&path, GRAPH).unwrap();
        let err = node_responses(&path, RATE, &["nope".to_string()]).unwrap_err();
        let text = format!("{err:?}");
        assert!(
            text.contains("no such node") && text.contains("pre, eq, xo, mix"),
            "{text}"
        );
    }

    #[test]
    fn csv_has_a_column_pair_per_curve() {
        let curves = vec![
            Response {
                name: "a".into(),
                points: vec![(10.0, 1.0, 2.0), (20.0, 3.0, 4.0)],
            },
            Response {
                name: "b,c".into(),
                points: vec![(10.0, 5.0, 6.0), (20.0, 7.0, 8.0)],
            },
        ];
        let csv = response_csv(&curves);
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(
            lines[0],
            "freq_hz,a gain_db,a phase_deg,b_c gain_db,b_c phase_deg"
        );
        assert_eq!(lines[2], "20,3.0000,4.000,7.0000,8.000");
    }
}
