//! The compiler: a graph file becomes a runtime the audio thread can run.
//!
//! Passes, in order: parse (in `graph::file`) -> flatten subgraphs -> build nodes and check
//! params -> resolve ports and channel counts -> detect cycles -> dissolve subgraph
//! junctions -> check required inputs -> topological order -> latency compensation ->
//! buffer assignment with reuse -> flat schedule. Every pass up to ordering collects its
//! problems; compilation stops before ordering if any were found.

pub mod build;
pub mod plan;
pub mod wire;

use std::path::Path;

use crate::compiled::{BusInfo, GraphInfo, LinkInfo, NodeInfo};
use crate::exec::CompiledGraph;
use crate::graph::file::{GraphDoc, ParamValue};
use crate::graph::flatten::{Role, flatten};
use crate::node::PrepareInfo;
use crate::problem::{GraphError, Location, Problem, suggest};
use crate::registry::Registry;
use crate::tasks::ControlTasks;

pub use build::{BYPASS_PARAM, allowed_text};

/// What the compiler needs besides the graph.
#[derive(Debug, Clone)]
pub struct CompileOptions {
    pub prepare: PrepareInfo,
    /// `node.param = value` assignments applied after the file's values, in order
    /// (`--set`, values set live): numbers, on/off, or a choice's name, resolved against
    /// the param by [`build::override_value`].
    pub overrides: Vec<(String, ParamValue)>,
    /// Leave out overrides of params the graph does not have instead of reporting them
    /// (a live host keeping its values over an edit that removed their node).
    pub skip_unknown_overrides: bool,
}

impl CompileOptions {
    pub fn new(prepare: PrepareInfo) -> Self {
        Self {
            prepare,
            overrides: Vec::new(),
            skip_unknown_overrides: false,
        }
    }

    /// With `overrides`, in order.
    pub fn with_overrides(mut self, overrides: Vec<(String, ParamValue)>) -> Self {
        self.overrides = overrides;
        self
    }
}

/// Loads and compiles a graph file.
pub fn compile_file(
    path: &Path,
    registry: &Registry,
    options: &CompileOptions,
) -> Result<CompiledGraph, GraphError> {
    let doc = GraphDoc::load(path)?;
    compile(&doc, registry, options)
}

/// Compiles a parsed graph, reporting every problem found.
pub fn compile(
    doc: &GraphDoc,
    registry: &Registry,
    options: &CompileOptions,
) -> Result<CompiledGraph, GraphError> {
    let prepare = options.prepare;
    if !(prepare.sample_rate_hz.is_finite() && prepare.sample_rate_hz >= 1000.0)
        || prepare.max_block_frames == 0
    {
        return Err(GraphError::one(Problem::new(
            Location::file(&doc.path),
            format!(
                "cannot prepare for {} Hz with blocks of {} frames",
                prepare.sample_rate_hz, prepare.max_block_frames
            ),
        )));
    }
    let mut problems = Vec::new();
    let flat = flatten(doc, &mut problems);
    if flat.too_large {
        // Nothing past the limit was read: other problems would be false (unlinked inputs).
        return Err(GraphError { problems });
    }
    // A link that names an unknown node leaves the ports it meant to feed unfed; saying
    // so again for each of them would turn one typo into several problems.
    let links_unresolved = problems
        .iter()
        .any(|p| p.message.starts_with("link names unknown node"));
    let mut nodes = build::build_nodes(&flat, registry, prepare, &mut problems);
    apply_overrides(&mut nodes, options, &mut problems);
    let (edges, attempted) = wire::resolve_links(&flat, &nodes, &mut problems);
    let cyclic = wire::find_cycles(&nodes, &edges, &mut problems);
    let edges = if cyclic {
        edges
    } else {
        let edges = wire::dissolve_junctions(&nodes, edges);
        if !links_unresolved && !flat.incomplete {
            wire::check_required(&nodes, &edges, &attempted, &mut problems);
        }
        edges
    };
    for node in nodes.iter().flatten() {
        if node.spec.input_channels() > crate::exec::runtime::MAX_NODE_CHANNELS
            || node.spec.output_channels() > crate::exec::runtime::MAX_NODE_CHANNELS
        {
            problems.push(Problem::new(
                node.at.clone(),
                format!(
                    "node `{}` has more than {} channels on one side",
                    node.id,
                    crate::exec::runtime::MAX_NODE_CHANNELS
                ),
            ));
        }
    }
    // The same problem found twice (both ends of `in -> typo -> out`) is said once.
    let mut seen = Vec::with_capacity(problems.len());
    problems.retain(|p| {
        let new = !seen.contains(p);
        if new {
            seen.push(p.clone());
        }
        new
    });
    if !problems.is_empty() {
        problems.sort_by(|a, b| {
            (&a.at.file, a.at.line, a.at.col).cmp(&(&b.at.file, b.at.line, b.at.col))
        });
        // A name that appears twice in one link chain is reported once.
        let mut seen = std::collections::HashSet::new();
        problems
            .retain(|p| seen.insert((p.at.file.clone(), p.at.line, p.at.col, p.message.clone())));
        return Err(GraphError { problems });
    }
    let order = wire::order(&nodes, &edges);
    let in_ch: Vec<usize> = flat.inputs.iter().map(|b| b.channels).collect();
    let out_ch: Vec<usize> = flat.outputs.iter().map(|b| b.channels).collect();
    let (runtime, plan) = plan::plan(&mut nodes, &edges, &order, prepare, &in_ch, &out_ch);
    // Every node's files, also those of nodes the plan left out: they were read all the same.
    let read_files: Vec<_> = (flat.files.iter().cloned())
        .chain(
            nodes
                .iter()
                .flatten()
                .filter_map(|n| n.control.as_ref())
                .flat_map(|task| task.files()),
        )
        .collect();
    let mut tasks = ControlTasks::new();
    for &i in &plan.runtime_nodes {
        if let Some(node) = nodes[i].as_mut()
            && let Some(task) = node.control.take()
        {
            tasks.push(&node.id, &node.kind, task);
        }
    }
    let lat = &plan.latencies;
    let links = edges
        .iter()
        .map(|e| {
            let from = nodes[e.from].as_ref().expect("built");
            let to = nodes[e.to].as_ref().expect("built");
            LinkInfo {
                from: wire::port_name(from, e.from_port, false),
                to: wire::port_name(to, e.to_port, true),
                delay_frames: lat.input_frames[e.to]
                    - (lat.input_frames[e.from] + lat.own_frames[e.from]),
            }
        })
        .collect();
    let info = GraphInfo {
        prepare,
        inputs: bus_infos(&flat.inputs),
        outputs: bus_infos(&flat.outputs),
        nodes: plan
            .runtime_nodes
            .iter()
            .map(|&i| {
                let n = nodes[i].as_ref().expect("built");
                NodeInfo {
                    id: n.id.clone(),
                    kind: n.kind.clone(),
                    spec: n.spec.clone(),
                    config: n.config.clone(),
                    at: n.at.clone(),
                    input_latency_frames: plan.latencies.input_frames[i],
                    meter_start: plan.meter_start[i],
                    values: n.values.clone(),
                    file_values: n.file_values.clone(),
                }
            })
            .collect(),
        links,
        latency_frames: plan.latencies.total_frames,
        delays: plan.delays,
        schedule: plan.schedule,
        buffers: plan.physical_buffers,
        read_files,
        files: flat.files,
        meter_count: runtime.meters.len(),
    };
    Ok(CompiledGraph {
        runtime: Box::new(runtime),
        info,
        tasks,
    })
}

fn bus_infos(buses: &[crate::graph::file::BusDecl]) -> Vec<BusInfo> {
    buses
        .iter()
        .map(|b| BusInfo {
            name: b.name.clone(),
            channels: b.channels,
        })
        .collect()
}

/// Applies the overrides of `options` in order; every bad one is a problem at `--set`.
fn apply_overrides(
    nodes: &mut [Option<build::CNode>],
    options: &CompileOptions,
    problems: &mut Vec<Problem>,
) {
    let at = Location::file(Path::new("--set"));
    for (path, value) in &options.overrides {
        let found = crate::compiled::find_param_path(
            path,
            nodes.iter().enumerate().filter_map(|(i, n)| {
                n.as_ref()
                    .filter(|n| n.role == Role::Leaf)
                    .map(|n| (i, n.id.as_str(), &n.spec))
            }),
        );
        match found {
            Some((n, param)) => {
                let node = nodes[n].as_mut().expect("found among built nodes");
                let index = param.index();
                match build::override_value(path, &node.spec.params[index], value) {
                    Ok(v) => node.values[index] = v,
                    Err(msg) => problems.push(Problem::new(at.clone(), msg)),
                }
            }
            None if options.skip_unknown_overrides => {}
            None => {
                let paths: Vec<String> = nodes
                    .iter()
                    .flatten()
                    .filter(|n| n.role == Role::Leaf)
                    .flat_map(|n| {
                        n.spec
                            .params
                            .iter()
                            .map(move |p| format!("{}.{}", n.id, p.name))
                    })
                    .collect();
                let help = numbered_family_help(path, &paths).or_else(|| {
                    suggest(path, paths.iter().map(String::as_str))
                        .map(|s| format!("did you mean `{s}`?"))
                });
                problems.push(
                    Problem::new(at.clone(), format!("unknown param `{path}`")).with_help(
                        help.or(Some("`lathe check GRAPH` lists every param path".into())),
                    ),
                );
            }
        }
    }
}

/// For `eq.band9.gain_db` on an eq of five bands: "`eq` has 5 bands: band1..band5". A
/// numbered family is a path segment of letters then digits (`band2`, `in3`) that other
/// params of the node share.
fn numbered_family_help(path: &str, paths: &[String]) -> Option<String> {
    let mut segments = path.splitn(3, '.');
    let (node, member) = (segments.next()?, segments.next()?);
    let stem = member.trim_end_matches(|c: char| c.is_ascii_digit());
    if stem.is_empty() || stem.len() == member.len() {
        return None;
    }
    let prefix = format!("{node}.{stem}");
    let mut numbers: Vec<u32> = paths
        .iter()
        .filter_map(|p| p.strip_prefix(&prefix)?.split('.').next()?.parse().ok())
        .collect();
    numbers.sort_unstable();
    numbers.dedup();
    // Only a number out of range is this mistake; `band2.gian_db` is a misspelt name.
    let asked: u32 = member[stem.len()..].parse().ok()?;
    if numbers.contains(&asked) {
        return None;
    }
    let (first, last) = (numbers.first()?, numbers.last()?);
    Some(format!(
        "`{node}` has {} {stem}s: {stem}{first}..{stem}{last}",
        numbers.len()
    ))
}
