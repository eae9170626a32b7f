//! `lathe nodes`: list the node kinds, or describe one from its spec as built with an
//! empty config (every config field at its default).

use std::sync::Arc;

use anyhow::anyhow;
use lathe_engine::problem::edit_distance;
use lathe_engine::{BuildContext, NodeConfig, NodeKind, NodeSpec, ParamSpec, PrepareInfo};
use serde_json::{Value, json};

use crate::cli::NodesArgs;
use crate::exit::{CliError, ResultExt};

/// The rate and block size a kind is built at for its description; latencies in
/// frames are quoted at this rate.
const DESCRIBE_PREPARE: PrepareInfo = PrepareInfo {
    sample_rate_hz: 48_000.0,
    max_block_frames: 512,
    offline: false,
};

pub fn run(args: &NodesArgs) -> Result<(), CliError> {
    let registry = lathe_host::registry();
    let Some(name) = &args.kind else {
        let kinds: Vec<&Arc<dyn NodeKind>> = registry.kinds().collect();
        if args.json {
            let all: Vec<Value> = kinds.iter().map(|k| kind_json(k.as_ref())).collect();
            println!("{}", serde_json::to_string_pretty(&all).runtime_fault()?);
        } else {
            print!("{}", list_text(&kinds));
        }
        return Ok(());
    };
    let kind = registry.get(name).ok_or_else(|| {
        let names: Vec<&str> = registry.names().collect();
        let hint = match closest(name, &names) {
            Some(s) => format!(" (did you mean `{s}`?)"),
            None => String::new(),
        };
        CliError::user(anyhow!(
            "unknown node kind `{name}`{hint}; known kinds: {}",
            names.join(", ")
        ))
    })?;
    if let Some(uri) = &args.uri {
        return describe_plugin(kind.as_ref(), uri, args.json);
    }
    if args.json {
        let value = kind_json(kind.as_ref());
        println!("{}", serde_json::to_string_pretty(&value).runtime_fault()?);
    } else {
        print!("{}", kind_text(kind.as_ref()));
    }
    Ok(())
}

/// `lathe nodes lv2 --uri URI`: the node an `lv2` node with this plugin becomes, built
/// as a graph would build it (so a missing plugin is the user's error, exit 2).
fn describe_plugin(kind: &dyn NodeKind, uri: &str, json: bool) -> Result<(), CliError> {
    if kind.name() != "lv2" {
        return Err(CliError::user(anyhow!(
            "--uri describes a plugin of the `lv2` kind, not of `{}`",
            kind.name()
        )));
    }
    let config = format!("(uri: {})", ron::to_string(uri).runtime_fault()?);
    let spec = build_spec(kind, &NodeConfig::from_ron(&config))
        .map_err(|e| CliError::user(anyhow!("{uri}: {e}")))?;
    if json {
        let mut value = kind_json(kind);
        value["uri"] = json!(uri);
        spec_json(&mut value, &spec);
        println!("{}", serde_json::to_string_pretty(&value).runtime_fault()?);
    } else {
        let text = spec_text(&spec).replacen("With the default config", "As a node", 1);
        print!("lv2 ({uri})\n{text}");
    }
    Ok(())
}

fn list_text(kinds: &[&Arc<dyn NodeKind>]) -> String {
    let width = kinds.iter().map(|k| k.name().len()).max().unwrap_or(0);
    let mut out = format!(
        "{} node kinds (`lathe nodes KIND` describes one):\n",
        kinds.len()
    );
    for kind in kinds {
        out.push_str(&format!("  {:<width$}  {}\n", kind.name(), kind.summary()));
    }
    out
}

fn default_spec(kind: &dyn NodeKind) -> Result<NodeSpec, String> {
    build_spec(kind, &NodeConfig::empty())
}

fn build_spec(kind: &dyn NodeKind, config: &NodeConfig<'_>) -> Result<NodeSpec, String> {
    let ctx = BuildContext {
        prepare: DESCRIBE_PREPARE,
        node_id: kind.name(),
        base_dir: std::path::Path::new("."),
    };
    kind.build(config, &ctx)
        .map(|built| built.spec)
        .map_err(|e| e.to_string())
}

fn kind_text(kind: &dyn NodeKind) -> String {
    let mut out = format!("{}: {}\n", kind.name(), kind.summary());
    let doc = kind.doc().trim();
    if !doc.is_empty() {
        out.push('\n');
        out.push_str(doc);
        out.push('\n');
    }
    match default_spec(kind) {
        Ok(spec) => out.push_str(&spec_text(&spec)),
        Err(e) => out.push_str(&format!("\n(cannot build with the default config: {e})\n")),
    }
    out
}

fn spec_text(spec: &NodeSpec) -> String {
    let mut out = String::from("\nWith the default config:\n");
    let ports = |ports: &[lathe_engine::PortSpec]| {
        ports
            .iter()
            .map(|p| {
                let optional = if p.required { "" } else { ", optional" };
                format!("{} ({} ch{optional})", p.name, p.channels)
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    out.push_str(&format!("  inputs:  {}\n", or_none(ports(&spec.inputs))));
    out.push_str(&format!("  outputs: {}\n", or_none(ports(&spec.outputs))));
    out.push_str(&format!(
        "  latency: {} frames at {} Hz\n",
        spec.latency_frames, DESCRIBE_PREPARE.sample_rate_hz
    ));
    out.push_str("  params:\n");
    for p in &spec.params {
        out.push_str(&format!("    {}\n", param_line(p)));
    }
    out.push_str("    bypass  0 or 1, default 0 (every node has it; click-free, keeps latency)\n");
    if !spec.meters.is_empty() {
        out.push_str("  meters:\n");
        for m in &spec.meters {
            let doc = if m.doc.is_empty() {
                String::new()
            } else {
                format!("  {}", m.doc)
            };
            out.push_str(&format!("    {} ({}){doc}\n", m.name, m.unit.label()));
        }
    }
    out
}

fn or_none(s: String) -> String {
    if s.is_empty() { "none".to_string() } else { s }
}

fn param_line(p: &ParamSpec) -> String {
    let unit = p.unit.label();
    let range = if p.choices.is_empty() {
        format!("{} ..= {} {unit}, default {}", p.min, p.max, p.default)
    } else {
        let default = p
            .choices
            .get(p.default as usize)
            .copied()
            .unwrap_or_default();
        format!("one of {}, default {default}", p.choices.join(", "))
    };
    let smoothing = if p.smoothing_ms > 0.0 {
        format!(", smoothed {} ms", p.smoothing_ms)
    } else {
        String::new()
    };
    let doc = if p.doc.is_empty() {
        String::new()
    } else {
        format!("  {}", p.doc)
    };
    format!("{}  {range}{smoothing}{doc}", p.name)
}

fn kind_json(kind: &dyn NodeKind) -> Value {
    let spec = default_spec(kind);
    let mut value = json!({
        "name": kind.name(),
        "summary": kind.summary(),
        "doc": kind.doc(),
    });
    match spec {
        Ok(spec) => spec_json(&mut value, &spec),
        Err(e) => value["build_error"] = json!(e),
    }
    value
}

fn spec_json(value: &mut Value, spec: &NodeSpec) {
    let ports = |ports: &[lathe_engine::PortSpec]| -> Vec<Value> {
        ports
            .iter()
            .map(|p| json!({"name": p.name, "channels": p.channels, "required": p.required}))
            .collect()
    };
    value["inputs"] = Value::from(ports(&spec.inputs));
    value["outputs"] = Value::from(ports(&spec.outputs));
    value["latency_frames"] = json!(spec.latency_frames);
    value["latency_sample_rate_hz"] = json!(DESCRIBE_PREPARE.sample_rate_hz);
    value["params"] = spec
        .params
        .iter()
        .map(|p| {
            json!({
                "name": p.name, "unit": p.unit.label(), "min": p.min, "max": p.max,
                "default": p.default, "smoothing_ms": p.smoothing_ms,
                "choices": p.choices, "doc": p.doc,
            })
        })
        .collect();
    value["meters"] = spec
        .meters
        .iter()
        .map(|m| json!({"name": m.name, "unit": m.unit.label(), "doc": m.doc}))
        .collect();
}

/// The known name nearest to `name` by edit distance, if it is close enough to be a typo.
fn closest<'a>(name: &str, known: &[&'a str]) -> Option<&'a str> {
    known
        .iter()
        .map(|k| (edit_distance(name, k), *k))
        .filter(|(d, k)| *d <= 2.max(k.len() / 3))
        .min()
        .map(|(_, k)| k)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_near_names_only() {
        assert_eq!(closest("gian", &["gain", "limiter"]), Some("gain"));
        assert_eq!(closest("limitr", &["gain", "limiter"]), Some("limiter"));
        assert_eq!(closest("xyzzy", &["gain", "limiter"]), None);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }
}
