//! The CLI's one door into the engine: compiling a graph file with the `--set` values,
//! describing it, rendering audio through it, and measuring loudness. Every command goes
//! through these functions, so the rest of the CLI does not depend on the engine's API.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::anyhow;
use lathe_engine::compile::BYPASS_PARAM;
use lathe_engine::exec::MAX_HOST_CHANNELS;
use lathe_engine::{
    CompileOptions, CompiledGraph, GraphDoc, GraphError, GraphInfo, NodeConfig, NodeKind,
    PrepareInfo, Registry, Unit, compile,
};
use lathe_scripting::{ScriptHost, ScriptKind, ScriptSpec};

use crate::audio_io::Audio;
use crate::cli::{ParamSet, SetValue};
use crate::exit::CliError;
use crate::progress::Progress;

/// The sample rate `lathe check` and `lathe dot` prepare a graph for: latencies in
/// frames are quoted at this rate.
pub const DESCRIBE_SAMPLE_RATE_HZ: f64 = 48_000.0;
/// The block size `lathe check` and `lathe dot` prepare a graph for.
pub const DESCRIBE_BLOCK_FRAMES: usize = 512;

/// Frames handed to the engine per call during a render (it splits them into blocks of
/// the prepared size); also how often the progress bar moves.
pub const RENDER_CHUNK_FRAMES: usize = 16_384;

/// Every node kind this binary knows.
pub fn registry() -> Registry {
    lathe_host::registry()
}

/// A graph bus: its name and channel count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bus {
    pub name: String,
    pub channels: usize,
}

/// A graph file compiled for one sample rate and block size, with the `--set` values,
/// and its control scripts ready to tick.
pub struct LoadedGraph {
    pub path: PathBuf,
    pub inputs: Vec<Bus>,
    pub outputs: Vec<Bus>,
    compiled: CompiledGraph,
    /// None when the graph has no `script` node.
    scripts: Option<ScriptHost>,
}

/// What a render produced: one [`Audio`] per output bus, in [`LoadedGraph::outputs`] order.
#[derive(Debug)]
pub struct Rendered {
    pub outputs: Vec<Audio>,
    pub latency_frames: usize,
}

/// Reads, parses and compiles the graph at `path` for `sample_rate_hz` and blocks of
/// `block_frames`, applying `sets` in order. Every problem of the graph is reported.
pub fn load(
    path: &Path,
    sets: &[ParamSet],
    sample_rate_hz: f64,
    block_frames: usize,
) -> Result<LoadedGraph, CliError> {
    load_with(&registry(), path, sets, sample_rate_hz, block_frames)
}

/// [`load`] with the node kinds of `registry`.
pub fn load_with(
    registry: &Registry,
    path: &Path,
    sets: &[ParamSet],
    sample_rate_hz: f64,
    block_frames: usize,
) -> Result<LoadedGraph, CliError> {
    let doc = GraphDoc::load(path).map_err(|p| graph_error(GraphError::one(p)))?;
    let prepare = PrepareInfo::new(sample_rate_hz, block_frames);
    let numeric: Vec<(String, f64)> = sets
        .iter()
        .filter_map(|s| s.value.as_number().map(|v| (s.path.clone(), v)))
        .collect();
    let mut options = CompileOptions {
        prepare,
        overrides: numeric,
    };
    let mut compiled = compile(&doc, registry, &options).map_err(graph_error)?;
    if sets.iter().any(|s| matches!(s.value, SetValue::Choice(_))) {
        // Choice names resolve against the compiled params; then compile again with
        // every value, in the order given, as numbers.
        options.overrides = sets
            .iter()
            .map(|s| resolve_set(&compiled.info, s).map(|v| (s.path.clone(), v)))
            .collect::<Result<_, _>>()?;
        compiled = compile(&doc, registry, &options).map_err(graph_error)?;
    }
    let buses = |b: &[lathe_engine::BusInfo]| -> Vec<Bus> {
        b.iter()
            .map(|b| Bus {
                name: b.name.clone(),
                channels: b.channels,
            })
            .collect()
    };
    let info = &compiled.info;
    for (side, channels) in [
        ("input", info.input_channels()),
        ("output", info.output_channels()),
    ] {
        if channels > MAX_HOST_CHANNELS {
            return Err(CliError::user(anyhow!(
                "`{}`: the graph's {side} buses have {channels} channels in all; \
                 lathe renders at most {MAX_HOST_CHANNELS}",
                path.display()
            )));
        }
    }
    let scripts = script_host(info)?;
    Ok(LoadedGraph {
        path: path.to_path_buf(),
        inputs: buses(&info.inputs),
        outputs: buses(&info.outputs),
        compiled,
        scripts,
    })
}

/// Loads and compiles the graph's `script` nodes, in schedule order.
pub(crate) fn script_host(info: &GraphInfo) -> Result<Option<ScriptHost>, CliError> {
    let mut specs = Vec::new();
    for node in info.nodes.iter().filter(|n| n.kind == ScriptKind.name()) {
        let config = node
            .config
            .as_deref()
            .map_or_else(NodeConfig::empty, NodeConfig::from_ron);
        let base_dir = node.at.file.parent().unwrap_or(Path::new("."));
        specs.push(ScriptSpec::from_config(&node.id, &config, base_dir).map_err(CliError::user)?);
    }
    if specs.is_empty() {
        return Ok(None);
    }
    ScriptHost::new(specs, info.prepare.sample_rate_hz)
        .map(Some)
        .map_err(CliError::user)
}

impl std::fmt::Debug for LoadedGraph {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedGraph")
            .field("path", &self.path)
            .field("inputs", &self.inputs)
            .field("outputs", &self.outputs)
            .field("compiled", &self.compiled)
            .field("scripts", &self.scripts.is_some())
            .finish()
    }
}

impl LoadedGraph {
    /// The graph's total latency at the rate it was compiled for.
    pub fn latency_frames(&self) -> usize {
        self.compiled.info.latency_frames
    }
}

fn graph_error(e: GraphError) -> CliError {
    CliError::located(e)
}

/// The number a `--set` value stands for: choice names become their index.
fn resolve_set(info: &GraphInfo, set: &ParamSet) -> Result<f64, CliError> {
    let name = match &set.value {
        SetValue::Choice(name) => name,
        other => return Ok(other.as_number().unwrap_or_default()),
    };
    let path = &set.path;
    let Some((node, param)) = info.find_param(path) else {
        let hint = info
            .suggest_param(path)
            .map(|s| format!(" (did you mean `{s}`?)"))
            .unwrap_or_default();
        return Err(CliError::user(anyhow!(
            "--set: unknown param `{path}`{hint}; `lathe check GRAPH` lists every param"
        )));
    };
    let spec = &info.nodes[node].spec.params[param];
    match spec.choices.iter().position(|c| c == name) {
        Some(index) => Ok(index as f64),
        None if spec.choices.is_empty() => Err(CliError::user(anyhow!(
            "--set {path}={name}: `{path}` takes a number ({} ..= {}), not a name",
            spec.min,
            spec.max
        ))),
        None => Err(CliError::user(anyhow!(
            "--set {path}={name}: `{name}` is not a choice of `{path}`; allowed: {}",
            spec.choices.join(", ")
        ))),
    }
}

/// The text `lathe check` prints for a valid graph: buses, nodes in processing order
/// with latency and param values, the compensation delays and the total latency.
pub fn describe(graph: &LoadedGraph) -> String {
    let info = &graph.compiled.info;
    let rate = info.prepare.sample_rate_hz;
    let ms = |frames: usize| frames as f64 * 1000.0 / rate;
    let buses = |b: &[Bus]| {
        b.iter()
            .map(|b| format!("{} ({} ch)", b.name, b.channels))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut out = format!("{}: ok\n", graph.path.display());
    let _ = writeln!(out, "inputs:  {}", buses(&graph.inputs));
    let _ = writeln!(out, "outputs: {}", buses(&graph.outputs));
    let _ = writeln!(out, "nodes, in processing order:");
    for node in &info.nodes {
        let latency = if node.spec.latency_frames > 0 {
            format!(", latency {} frames", node.spec.latency_frames)
        } else {
            String::new()
        };
        let _ = writeln!(out, "  {} ({}{latency})", node.id, node.kind);
        for (spec, value) in node.spec.params.iter().zip(&node.values) {
            if spec.name == BYPASS_PARAM && *value == 0.0 {
                continue;
            }
            let _ = writeln!(
                out,
                "    {}.{} = {}",
                node.id,
                spec.name,
                param_value_text(spec, *value)
            );
        }
    }
    let delayed: Vec<_> = info.links.iter().filter(|l| l.delay_frames > 0).collect();
    if !delayed.is_empty() {
        let _ = writeln!(out, "compensation delays:");
        for link in delayed {
            let _ = writeln!(
                out,
                "  {} -> {}: {} frames",
                link.from, link.to, link.delay_frames
            );
        }
    }
    let _ = writeln!(
        out,
        "schedule ({} ops over {} one-channel buffers):",
        info.schedule.len(),
        info.buffers
    );
    for op in &info.schedule {
        let _ = writeln!(out, "  {op}");
    }
    let _ = writeln!(
        out,
        "latency: {} frames ({:.2} ms at {rate} Hz), compensated by `lathe render`",
        info.latency_frames,
        ms(info.latency_frames)
    );
    out
}

fn param_value_text(spec: &lathe_engine::ParamSpec, value: f32) -> String {
    match spec.unit {
        Unit::Choice => spec
            .choices
            .get(value as usize)
            .map_or_else(|| value.to_string(), |c| c.to_string()),
        Unit::Toggle => (if value >= 0.5 { "on" } else { "off" }).to_string(),
        Unit::Factor => value.to_string(),
        unit => format!("{value} {}", unit.label()),
    }
}

/// The graph in Graphviz DOT.
pub fn dot(graph: &LoadedGraph) -> String {
    lathe_engine::dot::to_dot(&graph.compiled.info)
}

/// Renders `inputs` (one per input bus, in [`LoadedGraph::inputs`] order, equal length
/// and rate) through the graph, compensating its latency: the graph runs on
/// `latency_frames` extra frames of silence and the first `latency_frames` of its output
/// are dropped, so the outputs are aligned with the inputs and as long.
///
/// Scripts tick between engine calls at exactly their grid frames, and the params they
/// set land at that frame, so a render is the same whatever the block size. A failing
/// script is stopped and logged by its host; the render goes on with its last values.
/// `lathe render` streams through a [`Renderer`] instead; both make the same calls.
pub fn render(graph: LoadedGraph, inputs: Vec<Audio>, progress: &Progress) -> Rendered {
    let rate = inputs.first().map_or(0, |a| a.sample_rate_hz);
    let frames = inputs.first().map_or(0, Audio::frames);
    let mut renderer = graph.into_renderer();
    let latency = renderer.latency_frames();
    let total = frames + latency;
    let padded: Vec<Vec<f32>> = inputs
        .into_iter()
        .flat_map(|a| a.channels)
        .map(|mut c| {
            c.resize(total, 0.0);
            c
        })
        .collect();
    let mut out: Vec<Vec<f32>> = vec![vec![0.0; total]; renderer.output_channels()];
    let mut pos = 0;
    while pos < total {
        let n = renderer.next_call_frames(total - pos);
        let ins: Vec<&[f32]> = padded.iter().map(|c| &c[pos..pos + n]).collect();
        let mut outs: Vec<&mut [f32]> = out.iter_mut().map(|c| &mut c[pos..pos + n]).collect();
        renderer.process(&ins, &mut outs);
        progress.advance(n as u64);
        pos += n;
    }
    let output_buses = renderer.finish();
    let mut channels = out.into_iter().map(|mut c| {
        c.drain(..latency);
        c
    });
    let outputs = output_buses
        .iter()
        .map(|&bus_channels| Audio {
            sample_rate_hz: rate,
            channels: channels.by_ref().take(bus_channels).collect(),
        })
        .collect();
    Rendered {
        outputs,
        latency_frames: latency,
    }
}

/// A loaded graph running over audio that arrives in chunks: the engine, its control
/// scripts and the frame they have reached.
///
/// The caller asks [`Renderer::next_call_frames`] how many frames the next engine call
/// takes, then hands exactly that many to [`Renderer::process`]. Calls are at most
/// [`RENDER_CHUNK_FRAMES`] long and end at every script tick, so the scripts' params land
/// at exact frames; a render in memory ([`render`]) and a streamed one make the same
/// calls and so write the same samples.
pub struct Renderer {
    info: GraphInfo,
    scripts: Option<ScriptHost>,
    controller: lathe_engine::Controller,
    engine: lathe_engine::Engine,
    position_frames: u64,
}

impl std::fmt::Debug for Renderer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Renderer")
            .field("position_frames", &self.position_frames)
            .field("scripts", &self.scripts.is_some())
            .finish_non_exhaustive()
    }
}

impl LoadedGraph {
    /// Starts the graph's engine (and scripts) at frame 0.
    pub fn into_renderer(self) -> Renderer {
        let info = self.compiled.info.clone();
        let (controller, engine) = lathe_engine::engine(self.compiled);
        Renderer {
            info,
            scripts: self.scripts,
            controller,
            engine,
            position_frames: 0,
        }
    }
}

impl Renderer {
    /// Frames of latency the caller compensates: silence fed after the input, as many
    /// frames dropped from the start of the output.
    pub fn latency_frames(&self) -> usize {
        self.info.latency_frames
    }

    pub fn input_channels(&self) -> usize {
        self.info.input_channels()
    }

    pub fn output_channels(&self) -> usize {
        self.info.output_channels()
    }

    /// Runs the control scripts due at the current frame and returns the length of the
    /// next engine call: at most `remaining_frames` and [`RENDER_CHUNK_FRAMES`], ending at
    /// the next script tick. Call it exactly once before each [`Renderer::process`], and
    /// only while there are frames left to render.
    pub fn next_call_frames(&mut self, remaining_frames: usize) -> usize {
        let mut n = RENDER_CHUNK_FRAMES.min(remaining_frames);
        if let Some(host) = self.scripts.as_mut() {
            let at = self.position_frames;
            if host.next_tick_frame().is_some_and(|f| f <= at) {
                host.tick_due(at, &mut self.controller);
            }
            if let Some(next) = host.next_tick_frame().filter(|&f| f > at) {
                n = n.min((next - at) as usize);
            }
        }
        n
    }

    /// Processes one call: `inputs` (one slice per input channel, in bus order) into
    /// `outputs` (one per output channel), all as long as [`Renderer::next_call_frames`]
    /// said.
    pub fn process(&mut self, inputs: &[&[f32]], outputs: &mut [&mut [f32]]) {
        let frames = outputs
            .first()
            .map(|c| c.len())
            .or_else(|| inputs.first().map(|c| c.len()))
            .unwrap_or(0);
        self.engine.process(inputs, outputs, frames);
        self.position_frames += frames as u64;
    }

    /// Ends the render: logs the nodes that produced non-finite samples, and returns the
    /// channel count of each output bus, in [`LoadedGraph::outputs`] order.
    pub fn finish(self) -> Vec<usize> {
        for (node, count) in self.controller.non_finite_report() {
            tracing::warn!(
                "node `{node}` produced {count} non-finite samples, replaced by silence"
            );
        }
        self.info.outputs.iter().map(|b| b.channels).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lathe_engine::{
        BuildContext, BuiltNode, ConfigError, Io, NodeSpec, ParamId, ParamSpec, PortSpec, Processor,
    };

    /// A pure delay of [`DELAY_FRAMES`] on a stereo bus: latency that must be compensated.
    const DELAY_FRAMES: usize = 100;

    struct DelayKind;

    impl NodeKind for DelayKind {
        fn name(&self) -> &'static str {
            "delay"
        }

        fn summary(&self) -> &'static str {
            "A fixed delay, for tests."
        }

        fn build(
            &self,
            _: &NodeConfig<'_>,
            _: &BuildContext<'_>,
        ) -> Result<BuiltNode, ConfigError> {
            Ok(BuiltNode {
                spec: NodeSpec {
                    inputs: vec![PortSpec::new("in", 2)],
                    outputs: vec![PortSpec::new("out", 2)],
                    params: vec![ParamSpec::choice("mode", &["short", "long"], 0)],
                    meters: vec![],
                    latency_frames: DELAY_FRAMES,
                },
                processor: Box::new(DelayProcessor {
                    lines: vec![vec![0.0; DELAY_FRAMES]; 2],
                    pos: 0,
                }),
            })
        }
    }

    struct DelayProcessor {
        lines: Vec<Vec<f32>>,
        pos: usize,
    }

    impl Processor for DelayProcessor {
        fn set_param(&mut self, _: ParamId, _: f32) {}

        fn reset(&mut self) {
            self.lines.iter_mut().for_each(|l| l.fill(0.0));
            self.pos = 0;
        }

        fn process(&mut self, io: &mut Io<'_>) {
            for i in 0..io.frames {
                for (c, line) in self.lines.iter_mut().enumerate() {
                    io.outputs[c][i] = line[self.pos];
                    line[self.pos] = io.inputs[c][i];
                }
                self.pos = (self.pos + 1) % DELAY_FRAMES;
            }
        }
    }

    /// A graph mixing a delayed path with a dry one; the compiler delays the dry path.
    fn graph_file(dir: &Path) -> PathBuf {
        let path = dir.join("parallel.ron");
        std::fs::write(
            &path,
            r#"(
                nodes: [(id: "late", kind: "delay"), (id: "dry", kind: "gain")],
                links: ["in -> late -> out", "in -> dry -> out"],
            )"#,
        )
        .expect("write graph");
        path
    }

    #[test]
    fn render_compensates_latency_and_keeps_the_length() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut registry = lathe_nodes::registry();
        registry.register(DelayKind);
        let path = graph_file(dir.path());
        for block in [1, 64, 4096] {
            let graph = load_with(&registry, &path, &[], 48_000.0, block).expect("compiles");
            assert_eq!(graph.latency_frames(), DELAY_FRAMES);
            let mut input = Audio::silence(48_000, 2, 1000);
            input.channels[0][10] = 0.25;
            input.channels[1][999] = 0.5;
            let rendered = render(graph, vec![input], &Progress::hidden());
            assert_eq!(rendered.latency_frames, DELAY_FRAMES);
            let out = &rendered.outputs[0];
            assert_eq!(out.frames(), 1000, "as long as the input");
            // Both paths land on the input's own frame and sum: aligned, not smeared.
            assert_eq!(out.channels[0][10], 0.5, "block {block}");
            assert_eq!(out.channels[1][999], 1.0, "the last frame is not cut off");
            let energy: f32 = out.channels.iter().flatten().map(|s| s.abs()).sum();
            assert_eq!(energy, 1.5, "nothing anywhere else");
        }
    }

    #[test]
    fn choice_names_in_sets_resolve_to_their_index() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut registry = lathe_nodes::registry();
        registry.register(DelayKind);
        let path = graph_file(dir.path());
        let choice = |name: &str| ParamSet {
            path: "late.mode".to_string(),
            value: SetValue::Choice(name.to_string()),
        };
        let graph = load_with(&registry, &path, &[choice("long")], 48_000.0, 64).expect("valid");
        assert!(
            describe(&graph).contains("late.mode = long"),
            "{}",
            describe(&graph)
        );
        let err = load_with(&registry, &path, &[choice("medium")], 48_000.0, 64)
            .expect_err("not a choice");
        assert!(
            err.to_string()
                .contains("`medium` is not a choice of `late.mode`; allowed: short, long"),
            "{err}"
        );
    }

    #[test]
    fn choice_names_in_sets_need_a_choice_param() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut registry = lathe_nodes::registry();
        registry.register(DelayKind);
        let path = graph_file(dir.path());
        let set = |path: &str, value: SetValue| ParamSet {
            path: path.to_string(),
            value,
        };
        let err = load_with(
            &registry,
            &path,
            &[set("dry.gain_db", SetValue::Choice("loud".into()))],
            48_000.0,
            64,
        )
        .expect_err("not a choice");
        assert!(
            err.to_string()
                .contains("`dry.gain_db` takes a number (-96 ..= 24), not a name")
        );
        let err = load_with(
            &registry,
            &path,
            &[set("dry.gian_db", SetValue::Choice("loud".into()))],
            48_000.0,
            64,
        )
        .expect_err("unknown");
        assert!(
            err.to_string()
                .contains("unknown param `dry.gian_db` (did you mean `dry.gain_db`?)")
        );
        let graph = load_with(
            &registry,
            &path,
            &[set("dry.bypass", SetValue::Bool(true))],
            48_000.0,
            64,
        )
        .expect("toggle from a bool");
        assert!(describe(&graph).contains("dry.bypass = on"));
    }
}
