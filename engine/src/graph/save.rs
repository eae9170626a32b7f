//! Writing a graph back to RON, with current param values, so a chain tweaked live or by
//! a script can be kept. Comments of the original are not preserved; configs are written
//! exactly as they were in the file.

use std::fmt::Write;

use crate::graph::file::{GraphDoc, ParamValue};

/// Renders `doc` as a graph file. `values` gives param values to write for a node
/// (`(node id, [(param, value)])`); they replace or extend the node's own params.
pub fn to_ron(doc: &GraphDoc, values: &[(String, Vec<(String, f64)>)]) -> String {
    to_ron_with_configs(doc, values, &[])
}

/// [`to_ron`], with `configs` (`(node id, config text)`) written in place of those nodes'
/// own configs: how a plugin's current state reaches the saved file.
pub fn to_ron_with_configs(
    doc: &GraphDoc,
    values: &[(String, Vec<(String, f64)>)],
    configs: &[(String, String)],
) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "// Saved by lathe from {}", doc.path.display());
    out.push_str("(\n");
    let buses = |buses: &[crate::graph::file::BusDecl]| {
        buses
            .iter()
            .map(|b| format!("{:?}: {}", b.name, b.channels))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let _ = writeln!(out, "    inputs: {{{}}},", buses(&doc.inputs));
    let _ = writeln!(out, "    outputs: {{{}}},", buses(&doc.outputs));
    out.push_str("    nodes: [\n");
    for node in &doc.nodes {
        let mut params: Vec<(String, String)> = node
            .params
            .iter()
            .map(|p| (p.name.clone(), value_text(&p.value)))
            .collect();
        if let Some((_, vals)) = values.iter().find(|(id, _)| *id == node.id) {
            for (name, v) in vals {
                let text = number_text(*v);
                match params.iter_mut().find(|(n, _)| n == name) {
                    Some(slot) => slot.1 = text,
                    None => params.push((name.clone(), text)),
                }
            }
        }
        let _ = write!(out, "        (id: {:?}, kind: {:?}", node.id, node.kind);
        let config = configs
            .iter()
            .find(|(id, _)| *id == node.id)
            .map(|(_, text)| text)
            .or(node.config.as_ref());
        if let Some(config) = config {
            let _ = write!(out, ", config: {config}");
        }
        if !params.is_empty() {
            let list = params
                .iter()
                .map(|(n, v)| format!("{n:?}: {v}"))
                .collect::<Vec<_>>()
                .join(", ");
            let _ = write!(out, ", params: {{{list}}}");
        }
        out.push_str("),\n");
    }
    out.push_str("    ],\n    links: [\n");
    for link in &doc.links {
        let _ = writeln!(out, "        {:?},", link.text);
    }
    out.push_str("    ],\n)\n");
    out
}

fn value_text(v: &ParamValue) -> String {
    match v {
        ParamValue::Number(x) => number_text(*x),
        ParamValue::Bool(b) => b.to_string(),
        ParamValue::Text(s) => format!("{s:?}"),
    }
}

/// Shortest text that reads back as the same f32 (params are f32 in the engine).
fn number_text(x: f64) -> String {
    let f = x as f32;
    let s = format!("{f}");
    if s.contains('.') || s.contains('e') || s.contains("inf") || s.contains("NaN") {
        s
    } else {
        format!("{s}.0")
    }
}
