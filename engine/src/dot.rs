//! Graphviz DOT output of a compiled graph (`lathe dot`).

use std::fmt::Write;

use crate::compiled::GraphInfo;

/// The graph as DOT: nodes labelled with id, kind and latency; links with the ports they
/// join and any compensation delay the compiler inserted.
pub fn to_dot(info: &GraphInfo) -> String {
    let mut out = String::from(
        "digraph lathe {\n  rankdir=LR;\n  node [shape=box, fontname=\"Helvetica\"];\n",
    );
    for bus in &info.inputs {
        let _ = writeln!(
            out,
            "  \"in.{0}\" [shape=cds, label=\"in.{0}\\n{1} ch\"];",
            bus.name, bus.channels
        );
    }
    for bus in &info.outputs {
        let _ = writeln!(
            out,
            "  \"out.{0}\" [shape=cds, label=\"out.{0}\\n{1} ch\"];",
            bus.name, bus.channels
        );
    }
    for node in &info.nodes {
        let latency = if node.spec.latency_frames > 0 {
            format!("\\nlatency {} frames", node.spec.latency_frames)
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "  \"{0}\" [label=\"{0}\\n({1}){2}\"];",
            node.id, node.kind, latency
        );
    }
    for link in &info.links {
        let node_of = |port: &str| -> String {
            if port.starts_with("in.") || port.starts_with("out.") {
                return port.to_string();
            }
            info.nodes
                .iter()
                .map(|n| n.id.as_str())
                .filter(|id| port.starts_with(&format!("{id}.")))
                .max_by_key(|id| id.len())
                .unwrap_or(port)
                .to_string()
        };
        let (from, to) = (node_of(&link.from), node_of(&link.to));
        let port = |full: &str, node: &str| {
            full.strip_prefix(node)
                .unwrap_or("")
                .trim_start_matches('.')
                .to_string()
        };
        let mut label = format!("{} -> {}", port(&link.from, &from), port(&link.to, &to));
        if link.delay_frames > 0 {
            let _ = write!(label, "\\n+{} frames", link.delay_frames);
        }
        let _ = writeln!(
            out,
            "  \"{from}\" -> \"{to}\" [label=\"{}\"];",
            label.trim_matches(|c| c == ' ' || c == '-' || c == '>')
        );
    }
    out.push_str("}\n");
    out
}
