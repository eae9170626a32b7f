//! What the compiler hands on, as plain data: the description of a compiled graph the
//! control side reads ([`GraphInfo`] and its nodes, buses, links and inserted delays) and
//! the [`Op`]s of the schedule the audio side walks.
//!
//! A leaf: it depends on the node model and problem reporting only, so the compiler (which produces these) and
//! the executor (which runs and reports on them) both import it and never each other's
//! types in a circle. The compiled graph itself ([`crate::exec::CompiledGraph`]) pairs a
//! [`GraphInfo`] with the audio-side runtime and lives with that runtime in `exec`.

use std::path::PathBuf;

use crate::node::{NodeSpec, ParamId, PrepareInfo};
use crate::problem::{Location, suggest};

/// One step of the schedule. Buffers are indices into the pool, one channel each.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Op {
    /// Host input channel -> buffer.
    Input {
        host_ch: u32,
        dst: u32,
    },
    Copy {
        src: u32,
        dst: u32,
    },
    Add {
        src: u32,
        dst: u32,
    },
    /// Delay `src` through delay line `line` into `dst` (added when `add`).
    Delay {
        line: u32,
        src: u32,
        dst: u32,
        add: bool,
    },
    Process {
        node: u32,
    },
    /// Buffer -> host output channel, non-finite samples replaced by silence.
    Output {
        src: u32,
        host_ch: u32,
    },
    /// Host output channel set to silence (an output bus nothing feeds).
    OutputSilence {
        host_ch: u32,
    },
}

/// A graph bus as the host sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct BusInfo {
    pub name: String,
    pub channels: usize,
}

/// A node of a compiled graph, as the control side sees it.
#[derive(Debug, Clone)]
pub struct NodeInfo {
    /// Full id (`mb.comp_low` inside subgraph `mb`).
    pub id: String,
    pub kind: String,
    /// Spec with the engine's `bypass` param appended.
    pub spec: NodeSpec,
    /// Raw config text: with id and kind, what decides whether state carries over a swap.
    pub config: Option<String>,
    pub at: Location,
    /// When this node's input is aligned, relative to the graph input.
    pub input_latency_frames: usize,
    /// Index of its first meter in the meter bank.
    pub meter_start: usize,
    /// Initial param values (after the file and overrides).
    pub values: Vec<f32>,
    /// The values the graph file gives (defaults where it is silent), before overrides.
    pub file_values: Vec<f32>,
}

/// A link of the compiled graph, for display (`lathe dot`, `lathe check`).
#[derive(Debug, Clone, PartialEq)]
pub struct LinkInfo {
    pub from: String,
    pub to: String,
    /// Compensation delay inserted on this link.
    pub delay_frames: usize,
}

/// Everything the control side knows about a compiled graph.
#[derive(Debug, Clone)]
pub struct GraphInfo {
    pub prepare: PrepareInfo,
    pub inputs: Vec<BusInfo>,
    pub outputs: Vec<BusInfo>,
    /// Runtime nodes in schedule order (index = runtime node index).
    pub nodes: Vec<NodeInfo>,
    pub links: Vec<LinkInfo>,
    pub latency_frames: usize,
    pub delays: Vec<InsertedDelay>,
    pub schedule: Vec<String>,
    pub buffers: usize,
    /// Every file the graph came from, the root first.
    pub files: Vec<PathBuf>,
    /// Every file compiling the graph read: its graph files, then the files its nodes
    /// read (scripts). A command must never write its output over one of them.
    pub read_files: Vec<PathBuf>,
    /// Total meters in the bank.
    pub meter_count: usize,
}

impl GraphInfo {
    pub fn input_channels(&self) -> usize {
        self.inputs.iter().map(|b| b.channels).sum()
    }

    pub fn output_channels(&self) -> usize {
        self.outputs.iter().map(|b| b.channels).sum()
    }

    /// Resolves `node.param` (node ids may contain dots: subgraphs).
    pub fn find_param(&self, path: &str) -> Option<(usize, usize)> {
        let nodes = self.nodes.iter().enumerate();
        find_param_path(path, nodes.map(|(i, n)| (i, n.id.as_str(), &n.spec)))
            .map(|(n, p)| (n, p.index()))
    }

    /// Resolves `node.meter` to its index in the meter bank.
    pub fn find_meter(&self, path: &str) -> Option<usize> {
        self.nodes.iter().find_map(|node| {
            let rest = path.strip_prefix(node.id.as_str())?.strip_prefix('.')?;
            node.spec.meter_index(rest).map(|m| node.meter_start + m)
        })
    }

    /// Every param path, for suggestions and listings.
    pub fn param_paths(&self) -> Vec<String> {
        self.nodes
            .iter()
            .flat_map(|n| {
                n.spec
                    .params
                    .iter()
                    .map(move |p| format!("{}.{}", n.id, p.name))
            })
            .collect()
    }

    /// Every meter path.
    pub fn meter_paths(&self) -> Vec<String> {
        self.nodes
            .iter()
            .flat_map(|n| {
                n.spec
                    .meters
                    .iter()
                    .map(move |m| format!("{}.{}", n.id, m.name))
            })
            .collect()
    }

    /// The closest param path to a misspelt one.
    pub fn suggest_param(&self, path: &str) -> Option<String> {
        let paths = self.param_paths();
        suggest(path, paths.iter().map(String::as_str)).map(str::to_string)
    }

    pub fn suggest_meter(&self, path: &str) -> Option<String> {
        let paths = self.meter_paths();
        suggest(path, paths.iter().map(String::as_str)).map(str::to_string)
    }
}

/// A compensation delay inserted on one edge.
#[derive(Debug, Clone, PartialEq)]
pub struct InsertedDelay {
    /// Stable key: `from.port->to.port#channel`; a recompile hands the audio over by key.
    pub key: String,
    pub frames: usize,
}

/// The one resolver of a param path: `node.param` against nodes given as (index, id,
/// spec), where node ids may contain dots (subgraphs). Returns the node's index and the
/// param's id.
pub fn find_param_path<'a>(
    path: &str,
    nodes: impl IntoIterator<Item = (usize, &'a str, &'a NodeSpec)>,
) -> Option<(usize, ParamId)> {
    nodes.into_iter().find_map(|(i, id, spec)| {
        let rest = path.strip_prefix(id)?.strip_prefix('.')?;
        spec.param_index(rest).map(|p| (i, p))
    })
}
