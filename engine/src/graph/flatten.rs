//! Flattening: a graph file and the subgraph files it uses become one flat list of nodes
//! and links. Subgraph buses become pass-through junctions that the compiler later
//! dissolves, so the executor never knows subgraphs existed.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::graph::file::{BusDecl, GraphDoc, ParamDecl};
use crate::graph::link::{Endpoint, GRAPH_IN, GRAPH_OUT, is_valid_id, parse_link};
use crate::problem::{Location, Problem, one_of, suggest};

/// File extension that makes a node kind a subgraph.
pub const SUBGRAPH_EXTENSION: &str = ".ron";
pub use crate::graph::limits::{MAX_GRAPH_LINKS, MAX_GRAPH_NODES, MAX_SUBGRAPH_DEPTH};

/// What a flat node is.
#[derive(Debug, Clone, PartialEq)]
pub enum Role {
    /// A node of a registered kind.
    Leaf,
    /// A subgraph bus: one input `in`, one output `out`, passes audio through.
    Junction { channels: usize },
    /// The top graph's input bus `bus` (output port `out`).
    GraphIn { bus: usize },
    /// The top graph's output bus `bus` (input port `in`).
    GraphOut { bus: usize },
}

/// A node of the flattened graph. Subgraph nodes have dotted ids (`mb.comp_low`).
#[derive(Debug, Clone)]
pub struct FlatNode {
    pub id: String,
    pub kind: String,
    pub config: Option<String>,
    pub config_at: Location,
    pub params: Vec<ParamDecl>,
    pub at: Location,
    pub base_dir: PathBuf,
    pub role: Role,
}

/// A link between two flat nodes; ports are still names (resolved by the compiler once
/// node specs are known).
#[derive(Debug, Clone)]
pub struct FlatLink {
    pub from: usize,
    pub from_port: Option<String>,
    pub to: usize,
    pub to_port: Option<String>,
    pub at: Location,
}

/// The whole graph, subgraphs inlined.
#[derive(Debug, Clone)]
pub struct FlatGraph {
    pub inputs: Vec<BusDecl>,
    pub outputs: Vec<BusDecl>,
    pub nodes: Vec<FlatNode>,
    pub links: Vec<FlatLink>,
    /// Every file the graph was read from (the root first): what a live host watches.
    pub files: Vec<PathBuf>,
    /// Nodes a link was meant to feed whose other end could not be resolved: not
    /// reported again as unlinked.
    pub half_linked: Vec<usize>,
    /// Set once [`MAX_GRAPH_NODES`] or [`MAX_GRAPH_LINKS`] was reached: flattening stopped
    /// there and the problem is reported.
    pub too_large: bool,
    /// Set when a subgraph could not be used: links through it are missing, so whether
    /// inputs and outputs are linked cannot be judged.
    pub incomplete: bool,
}

/// Flattens `root`, adding every problem found to `problems`.
pub fn flatten(root: &GraphDoc, problems: &mut Vec<Problem>) -> FlatGraph {
    let mut flat = FlatGraph {
        inputs: root.inputs.clone(),
        outputs: root.outputs.clone(),
        nodes: Vec::new(),
        links: Vec::new(),
        files: vec![root.path.clone()],
        half_linked: Vec::new(),
        too_large: false,
        incomplete: false,
    };
    check_buses(root, problems);
    let mut bus_node = |role: Role, bus: &BusDecl, side: &str| {
        flat.nodes.push(FlatNode {
            id: format!("{side}.{}", bus.name),
            kind: String::new(),
            config: None,
            config_at: bus.at.clone(),
            params: Vec::new(),
            at: bus.at.clone(),
            base_dir: root.base_dir().to_path_buf(),
            role,
        });
        flat.nodes.len() - 1
    };
    let ins: Vec<usize> = (root.inputs.iter().enumerate())
        .map(|(i, b)| bus_node(Role::GraphIn { bus: i }, b, GRAPH_IN))
        .collect();
    let outs: Vec<usize> = (root.outputs.iter().enumerate())
        .map(|(i, b)| bus_node(Role::GraphOut { bus: i }, b, GRAPH_OUT))
        .collect();
    let mut stack = vec![canonical(&root.path)];
    add_doc(root, "", &ins, &outs, &mut stack, &mut flat, problems);
    flat
}

fn canonical(path: &Path) -> PathBuf {
    path.canonicalize().unwrap_or_else(|_| path.to_path_buf())
}

fn check_buses(doc: &GraphDoc, problems: &mut Vec<Problem>) {
    for (side, buses) in [("input", &doc.inputs), ("output", &doc.outputs)] {
        for (i, bus) in buses.iter().enumerate() {
            if bus.channels == 0 || bus.channels > MAX_BUS_CHANNELS {
                problems.push(Problem::new(
                    bus.at.clone(),
                    format!(
                        "{side} bus `{}` has {} channels; allowed 1..={MAX_BUS_CHANNELS}",
                        bus.name, bus.channels
                    ),
                ));
            }
            if !is_valid_id(&bus.name) {
                problems.push(Problem::new(
                    bus.at.clone(),
                    format!(
                        "{side} bus name `{}` must be lowercase letters, digits and `_`",
                        bus.name
                    ),
                ));
            }
            if buses[..i].iter().any(|b| b.name == bus.name) {
                problems.push(Problem::new(
                    bus.at.clone(),
                    format!("duplicate {side} bus `{}`", bus.name),
                ));
            }
        }
    }
}

/// Most channels a graph bus may have.
pub const MAX_BUS_CHANNELS: usize = 32;

/// A local id in one file: a leaf node, or a subgraph with junctions for its buses.
enum Local {
    Leaf(usize),
    Sub {
        inputs: Vec<(String, usize)>,
        outputs: Vec<(String, usize)>,
    },
    /// A subgraph that could not be used (its problem is reported): links to it are
    /// left out without further messages.
    Refused,
}

fn add_doc(
    doc: &GraphDoc,
    prefix: &str,
    ins: &[usize],
    outs: &[usize],
    stack: &mut Vec<PathBuf>,
    flat: &mut FlatGraph,
    problems: &mut Vec<Problem>,
) {
    let mut locals: Vec<(String, Local)> = Vec::new();
    let mut first_of: HashMap<&str, usize> = HashMap::with_capacity(doc.nodes.len());
    for (i, node) in doc.nodes.iter().enumerate() {
        if flat.too_large {
            return;
        }
        if flat.nodes.len() >= MAX_GRAPH_NODES {
            too_large(flat, problems, &node.at, "nodes", MAX_GRAPH_NODES);
            return;
        }
        if !is_valid_id(&node.id) {
            problems.push(
                Problem::new(node.at.clone(), format!("invalid node id `{}`", node.id)).help(
                    "ids are a lowercase letter followed by lowercase letters, digits or `_`",
                ),
            );
        } else if node.id == GRAPH_IN || node.id == GRAPH_OUT {
            problems.push(
                Problem::new(
                    node.at.clone(),
                    format!("node id `{}` is reserved for the graph's buses", node.id),
                )
                .help("choose another id"),
            );
        }
        let first = *first_of.entry(node.id.as_str()).or_insert(i);
        if first != i {
            let first = &doc.nodes[first];
            problems.push(
                Problem::new(node.at.clone(), format!("duplicate node id `{}`", node.id)).help(
                    format!(
                        "`{}` is first defined at {}; ids must be unique",
                        node.id, first.at
                    ),
                ),
            );
            continue;
        }
        let id = format!("{prefix}{}", node.id);
        if node.kind.ends_with(SUBGRAPH_EXTENSION) {
            let local = add_subgraph(doc, node, &id, stack, flat, problems);
            flat.incomplete |= local.is_none();
            locals.push((node.id.clone(), local.unwrap_or(Local::Refused)));
            continue;
        }
        flat.nodes.push(FlatNode {
            id,
            kind: node.kind.clone(),
            config: node.config.clone(),
            config_at: node.config_at.clone(),
            params: node.params.clone(),
            at: node.at.clone(),
            base_dir: doc.base_dir().to_path_buf(),
            role: Role::Leaf,
        });
        locals.push((node.id.clone(), Local::Leaf(flat.nodes.len() - 1)));
    }

    let local_index: HashMap<&str, usize> = (locals.iter().enumerate())
        .map(|(k, (name, _))| (name.as_str(), k))
        .collect();
    for link in &doc.links {
        if flat.too_large {
            return;
        }
        let chain = match parse_link(&link.text) {
            Ok(c) => c,
            Err(msg) => {
                problems.push(Problem::new(link.at.clone(), msg));
                continue;
            }
        };
        for pair in chain.windows(2) {
            if flat.links.len() >= MAX_GRAPH_LINKS {
                too_large(flat, problems, &link.at, "links", MAX_GRAPH_LINKS);
                return;
            }
            let from = resolve(
                doc,
                &locals,
                &local_index,
                ins,
                outs,
                &pair[0],
                Side::From,
                &link.at,
                problems,
            );
            let to = resolve(
                doc,
                &locals,
                &local_index,
                ins,
                outs,
                &pair[1],
                Side::To,
                &link.at,
                problems,
            );
            match (from, to) {
                (Some((from, from_port)), Some((to, to_port))) => flat.links.push(FlatLink {
                    from,
                    from_port,
                    to,
                    to_port,
                    at: link.at.clone(),
                }),
                (None, Some((to, _))) => flat.half_linked.push(to),
                _ => {}
            }
        }
    }
}

fn add_subgraph(
    doc: &GraphDoc,
    node: &crate::graph::file::NodeDecl,
    id: &str,
    stack: &mut Vec<PathBuf>,
    flat: &mut FlatGraph,
    problems: &mut Vec<Problem>,
) -> Option<Local> {
    let path = doc.base_dir().join(&node.kind);
    if node.config.is_some() || !node.params.is_empty() {
        problems.push(
            Problem::new(
                node.at.clone(),
                format!("subgraph node `{id}` cannot take `config` or `params`"),
            )
            .help(format!(
                "set the subgraph's params through the node, e.g. `{id}.<inner node>.<param>`, \
                 or change them in {}",
                node.kind
            )),
        );
    }
    let canonical_path = canonical(&path);
    if stack.contains(&canonical_path) {
        problems.push(Problem::new(
            node.at.clone(),
            format!(
                "subgraph `{}` includes itself (directly or through others)",
                node.kind
            ),
        ));
        return None;
    }
    if stack.len() >= MAX_SUBGRAPH_DEPTH {
        problems.push(
            Problem::new(
                node.at.clone(),
                format!(
                    "subgraph `{}` is nested {} deep; the limit is {MAX_SUBGRAPH_DEPTH}",
                    node.kind,
                    stack.len() + 1
                ),
            )
            .help("inline some of the subgraphs into their parents"),
        );
        return None;
    }
    let child = match GraphDoc::load(&path) {
        Ok(child) => child,
        Err(p) => {
            problems.push(
                Problem::new(
                    node.at.clone(),
                    format!("cannot use subgraph `{}`", node.kind),
                )
                .help(p.to_string()),
            );
            return None;
        }
    };
    check_buses(&child, problems);
    flat.files.push(child.path.clone());
    let mut junctions = |buses: &[BusDecl]| -> Vec<(String, usize)> {
        buses
            .iter()
            .map(|b| {
                flat.nodes.push(FlatNode {
                    id: format!("{id}.{}", b.name),
                    kind: String::new(),
                    config: None,
                    config_at: b.at.clone(),
                    params: Vec::new(),
                    at: node.at.clone(),
                    base_dir: child.base_dir().to_path_buf(),
                    role: Role::Junction {
                        channels: b.channels,
                    },
                });
                (b.name.clone(), flat.nodes.len() - 1)
            })
            .collect()
    };
    let inputs = junctions(&child.inputs);
    let outputs = junctions(&child.outputs);
    let ins: Vec<usize> = inputs.iter().map(|(_, j)| *j).collect();
    let outs: Vec<usize> = outputs.iter().map(|(_, j)| *j).collect();
    stack.push(canonical_path);
    add_doc(
        &child,
        &format!("{id}."),
        &ins,
        &outs,
        stack,
        flat,
        problems,
    );
    stack.pop();
    Some(Local::Sub { inputs, outputs })
}

/// Reports that the graph grew past `limit` `what` at `at`, once, and stops flattening.
fn too_large(
    flat: &mut FlatGraph,
    problems: &mut Vec<Problem>,
    at: &Location,
    what: &str,
    limit: usize,
) {
    if !flat.too_large {
        flat.too_large = true;
        problems.push(
            Problem::new(
                at.clone(),
                format!(
                    "the graph has more than {limit} {what} with its subgraphs inlined \
                     (the limit); flattening stopped here"
                ),
            )
            .help("split the work into several graphs, or use fewer nested subgraphs"),
        );
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Side {
    From,
    To,
}

#[allow(clippy::too_many_arguments)]
fn resolve(
    doc: &GraphDoc,
    locals: &[(String, Local)],
    local_index: &HashMap<&str, usize>,
    ins: &[usize],
    outs: &[usize],
    end: &Endpoint,
    side: Side,
    at: &Location,
    problems: &mut Vec<Problem>,
) -> Option<(usize, Option<String>)> {
    let bus_end = |buses: &[BusDecl], nodes: &[usize], word: &str| {
        let names: Vec<&str> = buses.iter().map(|b| b.name.as_str()).collect();
        let index = match &end.port {
            Some(p) => names.iter().position(|n| n == p),
            None if names.len() == 1 => Some(0),
            None => None,
        };
        match index {
            Some(i) => Ok((nodes[i], None)),
            None => Err(Problem::new(
                at.clone(),
                match &end.port {
                    Some(p) => format!("the graph has no {word} bus `{p}`"),
                    None => format!("the graph has several {word} buses: name one"),
                },
            )
            .help(format!("{word} buses: {}", one_of(&names)))),
        }
    };
    let result = match (end.node.as_str(), side) {
        (GRAPH_IN, Side::From) => bus_end(&doc.inputs, ins, "input"),
        (GRAPH_OUT, Side::To) => bus_end(&doc.outputs, outs, "output"),
        (GRAPH_IN, Side::To) => Err(Problem::new(
            at.clone(),
            "`in` is the graph's input: it can only start a link",
        )),
        (GRAPH_OUT, Side::From) => Err(Problem::new(
            at.clone(),
            "`out` is the graph's output: it can only end a link",
        )),
        (id, _) => match local_index.get(id).map(|&k| &locals[k]) {
            Some((_, Local::Leaf(i))) => Ok((*i, end.port.clone())),
            Some((_, Local::Refused)) => return None,
            Some((_, Local::Sub { inputs, outputs })) => {
                let buses = if side == Side::To { inputs } else { outputs };
                let names: Vec<&str> = buses.iter().map(|(n, _)| n.as_str()).collect();
                let found = match &end.port {
                    Some(p) => buses.iter().find(|(n, _)| n == p),
                    None if buses.len() == 1 => buses.first(),
                    None => None,
                };
                match found {
                    Some((_, j)) => Ok((*j, None)),
                    None => Err(Problem::new(
                        at.clone(),
                        format!(
                            "subgraph `{id}` has no {} port {}",
                            if side == Side::To { "input" } else { "output" },
                            end.port
                                .as_deref()
                                .map_or("to pick without a name".to_string(), |p| format!("`{p}`"))
                        ),
                    )
                    .help(format!("its ports: {}", one_of(&names)))),
                }
            }
            None => {
                let known: Vec<&str> = locals.iter().map(|(n, _)| n.as_str()).collect();
                Err(
                    Problem::new(at.clone(), format!("link names unknown node `{id}`")).with_help(
                        suggest(id, known.iter().copied()).map(|s| format!("did you mean `{s}`?")),
                    ),
                )
            }
        },
    };
    result.map_err(|p| problems.push(p)).ok()
}
