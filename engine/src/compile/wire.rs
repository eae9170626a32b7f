//! Compiler passes on links: resolve port names, check channel counts, find cycles,
//! dissolve subgraph junctions, check that required inputs are fed, order the nodes.

use petgraph::algo::{tarjan_scc, toposort};
use petgraph::graph::{DiGraph, NodeIndex};

use crate::compile::build::CNode;
use crate::graph::flatten::{FlatGraph, Role};
use crate::problem::{Location, Problem, one_of};

/// A link between resolved ports (indices into the node's spec).
#[derive(Debug, Clone, PartialEq)]
pub struct Edge {
    pub from: usize,
    pub from_port: usize,
    pub to: usize,
    pub to_port: usize,
    pub at: Location,
}

/// Resolves every flat link to port indices and checks channel counts. Also returns the
/// (node, input port) pairs of rejected links, so they are not reported again as unlinked.
pub fn resolve_links(
    flat: &FlatGraph,
    nodes: &[Option<CNode>],
    problems: &mut Vec<Problem>,
) -> (Vec<Edge>, Vec<(usize, Option<usize>)>) {
    let mut edges: Vec<Edge> = Vec::new();
    // Ends of every edge kept, to find a duplicate without a scan.
    let mut first_with_ends = std::collections::HashMap::new();
    let mut rejected: Vec<(usize, Option<usize>)> =
        flat.half_linked.iter().map(|&n| (n, None)).collect();
    for link in &flat.links {
        let (Some(from), Some(to)) = (&nodes[link.from], &nodes[link.to]) else {
            // The node's own problem is already reported; its link is not "missing".
            rejected.push((link.to, None));
            continue;
        };
        let from_port = pick_port(from, link.from_port.as_deref(), false, &link.at, problems);
        let to_port = pick_port(to, link.to_port.as_deref(), true, &link.at, problems);
        let (Some(fp), Some(tp)) = (from_port, to_port) else {
            rejected.push((link.to, to_port));
            continue;
        };
        let out_ch = from.spec.outputs[fp].channels;
        let in_ch = to.spec.inputs[tp].channels;
        if out_ch != in_ch {
            problems.push(
                Problem::new(
                    link.at.clone(),
                    format!(
                        "channel mismatch: `{}` carries {out_ch} channel{} but `{}` takes {in_ch}",
                        port_name(from, fp, false),
                        if out_ch == 1 { "" } else { "s" },
                        port_name(to, tp, true),
                    ),
                )
                .help(
                    "insert a `route` node (split, merge, mono...) between them; \
                     lathe never up- or down-mixes silently",
                ),
            );
            rejected.push((link.to, Some(tp)));
            continue;
        }
        let edge = Edge {
            from: link.from,
            from_port: fp,
            to: link.to,
            to_port: tp,
            at: link.at.clone(),
        };
        let ends = (edge.from, edge.from_port, edge.to, edge.to_port);
        if let Some(&first) = first_with_ends.get(&ends) {
            let first: &Edge = &edges[first];
            problems.push(
                Problem::new(
                    link.at.clone(),
                    format!(
                        "duplicate link `{} -> {}`",
                        port_name(from, fp, false),
                        port_name(to, tp, true)
                    ),
                )
                .help(format!(
                    "it is already linked at {}; links into one port are summed",
                    first.at
                )),
            );
            continue;
        }
        first_with_ends.insert(ends, edges.len());
        edges.push(edge);
    }
    (edges, rejected)
}

/// `node.port` as a user reads it (graph buses as `in.NAME` / `out.NAME`).
pub fn port_name(node: &CNode, port: usize, input: bool) -> String {
    match node.role {
        Role::GraphIn { .. } | Role::GraphOut { .. } | Role::Junction { .. } => node.id.clone(),
        Role::Leaf => {
            let ports = if input {
                &node.spec.inputs
            } else {
                &node.spec.outputs
            };
            format!("{}.{}", node.id, ports[port].name)
        }
    }
}

fn pick_port(
    node: &CNode,
    name: Option<&str>,
    input: bool,
    at: &Location,
    problems: &mut Vec<Problem>,
) -> Option<usize> {
    let ports = if input {
        &node.spec.inputs
    } else {
        &node.spec.outputs
    };
    let side = if input { "input" } else { "output" };
    let names: Vec<&str> = ports.iter().map(|p| p.name.as_str()).collect();
    let found = match name {
        Some(n) => ports.iter().position(|p| p.name == n),
        None if ports.len() == 1 => Some(0),
        // `comp` means `comp.in`: an unnamed input is the only required one, so optional
        // inputs (a `sidechain`) never have to be mentioned.
        None if input && ports.iter().filter(|p| p.required).count() == 1 => {
            ports.iter().position(|p| p.required)
        }
        None => None,
    };
    if found.is_none() {
        let problem = match (name, ports.len()) {
            (_, 0) => Problem::new(
                at.clone(),
                format!("node `{}` has no {side} ports", node.id),
            )
            .help(if input {
                "it is a source: it can only start a link"
            } else {
                "it only consumes audio: it can only end a link"
            }),
            (Some(n), _) => Problem::new(
                at.clone(),
                format!("node `{}` has no {side} port `{n}`", node.id),
            )
            .with_help(
                crate::problem::suggest(n, names.iter().copied())
                    .map(|s| format!("did you mean `{}.{s}`?", node.id))
                    .or_else(|| Some(format!("its {side} ports: {}", one_of(&names)))),
            ),
            (None, n) => Problem::new(
                at.clone(),
                format!("node `{}` has {n} {side} ports: name one", node.id),
            )
            .help(format!(
                "write `{}.PORT` with PORT one of {}",
                node.id,
                one_of(&names)
            )),
        };
        problems.push(problem);
    }
    found
}

/// Reports every cycle as `a -> b -> c -> a`. Returns true if there was one.
pub fn find_cycles(nodes: &[Option<CNode>], edges: &[Edge], problems: &mut Vec<Problem>) -> bool {
    let mut g: DiGraph<usize, usize> = DiGraph::new();
    let idx: Vec<NodeIndex> = (0..nodes.len()).map(|i| g.add_node(i)).collect();
    for (k, e) in edges.iter().enumerate() {
        g.add_edge(idx[e.from], idx[e.to], k);
    }
    let mut found = false;
    for scc in tarjan_scc(&g) {
        let self_loop = scc.len() == 1 && g.contains_edge(scc[0], scc[0]);
        if scc.len() < 2 && !self_loop {
            continue;
        }
        found = true;
        let path = cycle_path(&g, &scc);
        let names: Vec<String> = path
            .iter()
            .map(|n| {
                nodes[g[*n]]
                    .as_ref()
                    .map_or("?".to_string(), |c| c.id.clone())
            })
            .collect();
        let first_edge = g
            .find_edge(path[0], path[1 % path.len()])
            .map(|e| g[e])
            .unwrap_or(0);
        problems.push(
            Problem::new(
                edges[first_edge].at.clone(),
                format!("cycle in the graph: {} -> {}", names.join(" -> "), names[0]),
            )
            .help("audio cannot feed back into itself; remove one of these links"),
        );
    }
    found
}

/// A simple cycle through the first node of a strongly connected component.
fn cycle_path(g: &DiGraph<usize, usize>, scc: &[NodeIndex]) -> Vec<NodeIndex> {
    let start = *scc.iter().min().expect("a component has a node");
    // Breadth-first search back to `start` inside the component gives the shortest loop.
    let mut prev: std::collections::HashMap<NodeIndex, NodeIndex> = Default::default();
    let mut queue = std::collections::VecDeque::from([start]);
    while let Some(n) = queue.pop_front() {
        for m in g.neighbors(n) {
            if !scc.contains(&m) {
                continue;
            }
            if m == start {
                let mut path = vec![n];
                let mut cur = n;
                while cur != start {
                    cur = prev[&cur];
                    path.push(cur);
                }
                path.reverse();
                return path;
            }
            if let std::collections::hash_map::Entry::Vacant(e) = prev.entry(m) {
                e.insert(n);
                queue.push_back(m);
            }
        }
    }
    vec![start]
}

/// Replaces every junction by links from each of its sources to each of its sinks.
/// Summing then fanning out equals fanning out each source and summing at each sink.
///
/// Junctions are dissolved one at a time, the first one met in link order; the links of a
/// dissolved junction leave the list and their products join its end. The order of the
/// result decides the order inputs are summed in (so renders depend on it): it is kept
/// exactly, while per-node lists of link indices make the pass linear in links instead
/// of rescanning the whole list for every junction.
pub fn dissolve_junctions(nodes: &[Option<CNode>], edges: Vec<Edge>) -> Vec<Edge> {
    let is_junction = |i: usize| {
        matches!(
            nodes[i].as_ref().map(|n| &n.role),
            Some(Role::Junction { .. })
        )
    };
    let mut slots: Vec<Option<Edge>> = edges.into_iter().map(Some).collect();
    let mut into: Vec<Vec<usize>> = vec![Vec::new(); nodes.len()];
    let mut out_of: Vec<Vec<usize>> = vec![Vec::new(); nodes.len()];
    for (k, e) in slots.iter().enumerate() {
        if let Some(e) = e {
            into[e.to].push(k);
            out_of[e.from].push(k);
        }
    }
    // Every live link before `cursor` touches no junction; links never change, and new
    // ones join the end, so the cursor only moves forward.
    let mut cursor = 0;
    while cursor < slots.len() {
        let j = match &slots[cursor] {
            Some(e) if is_junction(e.to) => e.to,
            Some(e) if is_junction(e.from) => e.from,
            _ => {
                cursor += 1;
                continue;
            }
        };
        let sources: Vec<Edge> = std::mem::take(&mut into[j])
            .into_iter()
            .filter_map(|k| slots[k].take())
            .collect();
        let sinks: Vec<Edge> = std::mem::take(&mut out_of[j])
            .into_iter()
            .filter_map(|k| slots[k].take())
            .collect();
        for s in &sources {
            for t in &sinks {
                let k = slots.len();
                into[t.to].push(k);
                out_of[s.from].push(k);
                slots.push(Some(Edge {
                    from: s.from,
                    from_port: s.from_port,
                    to: t.to,
                    to_port: t.to_port,
                    at: t.at.clone(),
                }));
            }
        }
    }
    slots.into_iter().flatten().collect()
}

/// Every required input and every graph output bus must be fed.
pub fn check_required(
    nodes: &[Option<CNode>],
    edges: &[Edge],
    rejected: &[(usize, Option<usize>)],
    problems: &mut Vec<Problem>,
) {
    use std::collections::HashSet;
    // Sets instead of scans: this pass is linear in nodes and links.
    let fed_ports: HashSet<(usize, usize)> = edges.iter().map(|e| (e.to, e.to_port)).collect();
    let fed_nodes: HashSet<usize> = edges.iter().map(|e| e.to).collect();
    let tried_ports: HashSet<(usize, Option<usize>)> = rejected.iter().copied().collect();
    let tried_nodes: HashSet<usize> = rejected.iter().map(|&(n, _)| n).collect();
    for (i, node) in nodes.iter().enumerate() {
        let Some(node) = node else { continue };
        match node.role {
            Role::Leaf => {
                for (p, port) in node.spec.inputs.iter().enumerate() {
                    let fed = fed_ports.contains(&(i, p));
                    let tried =
                        tried_ports.contains(&(i, None)) || tried_ports.contains(&(i, Some(p)));
                    if port.required && !fed && !tried {
                        problems.push(
                            Problem::new(
                                node.at.clone(),
                                format!("input `{}.{}` is not linked", node.id, port.name),
                            )
                            .help(format!(
                                "add a link such as \"in -> {}.{}\" (or from another node)",
                                node.id, port.name
                            )),
                        );
                    }
                }
            }
            Role::GraphOut { .. } if !fed_nodes.contains(&i) && !tried_nodes.contains(&i) => {
                problems.push(
                    Problem::new(
                        node.at.clone(),
                        format!("graph output bus `{}` is not linked", node.id),
                    )
                    .help(format!("add a link such as \"limit -> {}\"", node.id)),
                );
            }
            _ => {}
        }
    }
}

/// Topological order of the nodes that take part in processing (no junctions).
pub fn order(nodes: &[Option<CNode>], edges: &[Edge]) -> Vec<usize> {
    let mut g: DiGraph<usize, ()> = DiGraph::new();
    let idx: Vec<NodeIndex> = (0..nodes.len()).map(|i| g.add_node(i)).collect();
    for e in edges {
        g.add_edge(idx[e.from], idx[e.to], ());
    }
    let sorted = toposort(&g, None).expect("cycles are rejected before ordering");
    sorted
        .into_iter()
        .map(|n| g[n])
        .filter(|&i| {
            nodes[i]
                .as_ref()
                .is_some_and(|n| !matches!(n.role, Role::Junction { .. }))
        })
        .collect()
}
