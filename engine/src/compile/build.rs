//! Compiler pass: build every leaf node from its kind and config, then check and apply
//! its params (file values, then `--set` overrides).

use crate::config::{ConfigError, NodeConfig};
use crate::graph::file::{ParamDecl, ParamValue};
use crate::graph::flatten::{FlatGraph, FlatNode, Role};
use crate::node::{
    BuildContext, NodeSpec, ParamId, ParamSpec, PortSpec, PrepareInfo, Processor, Unit,
};
use crate::problem::{Location, Problem, one_of, suggest};
use crate::registry::Registry;
use crate::tasks::ControlTask;

/// Name of the param every node has.
pub const BYPASS_PARAM: &str = "bypass";
/// How long a bypass switch crossfades.
pub const BYPASS_SMOOTHING_MS: f32 = 10.0;

/// A flat node after building: its spec (with `bypass` appended for leaves), processor
/// and initial param values (index = spec param index).
pub struct CNode {
    pub id: String,
    pub kind: String,
    pub role: Role,
    pub spec: NodeSpec,
    pub processor: Option<Box<dyn Processor>>,
    /// The node's control task, if its kind has one; collected after planning.
    pub control: Option<Box<dyn ControlTask>>,
    pub values: Vec<f32>,
    /// The values of the graph file, before overrides.
    pub file_values: Vec<f32>,
    pub config: Option<String>,
    pub at: Location,
}

impl CNode {
    /// Params the processor itself knows (the engine handles `bypass`).
    pub fn processor_params(&self) -> usize {
        if self.role == Role::Leaf {
            self.spec.params.len() - 1
        } else {
            0
        }
    }
}

pub fn bypass_spec() -> ParamSpec {
    ParamSpec::toggle(BYPASS_PARAM, false)
        .smoothing_ms(BYPASS_SMOOTHING_MS)
        .doc("1 = pass the input through (delayed by the node's latency), click-free.")
}

/// Builds every node of `flat`; problems are collected, failed nodes are skipped.
pub fn build_nodes(
    flat: &FlatGraph,
    registry: &Registry,
    prepare: PrepareInfo,
    problems: &mut Vec<Problem>,
) -> Vec<Option<CNode>> {
    flat.nodes
        .iter()
        .map(|node| build_node(node, flat, registry, prepare, problems))
        .collect()
}

fn build_node(
    node: &FlatNode,
    flat: &FlatGraph,
    registry: &Registry,
    prepare: PrepareInfo,
    problems: &mut Vec<Problem>,
) -> Option<CNode> {
    let simple = |spec: NodeSpec| CNode {
        id: node.id.clone(),
        kind: String::new(),
        role: node.role.clone(),
        spec,
        processor: None,
        control: None,
        values: Vec::new(),
        file_values: Vec::new(),
        config: None,
        at: node.at.clone(),
    };
    let spec = match &node.role {
        Role::GraphIn { bus } => NodeSpec {
            outputs: vec![PortSpec::new("out", flat.inputs[*bus].channels)],
            ..NodeSpec::default()
        },
        Role::GraphOut { bus } => NodeSpec {
            inputs: vec![PortSpec::new("in", flat.outputs[*bus].channels).optional()],
            ..NodeSpec::default()
        },
        Role::Junction { channels } => NodeSpec {
            inputs: vec![PortSpec::new("in", *channels).optional()],
            outputs: vec![PortSpec::new("out", *channels)],
            ..NodeSpec::default()
        },
        Role::Leaf => return build_leaf(node, registry, prepare, problems),
    };
    Some(simple(spec))
}

fn build_leaf(
    node: &FlatNode,
    registry: &Registry,
    prepare: PrepareInfo,
    problems: &mut Vec<Problem>,
) -> Option<CNode> {
    let Some(kind) = registry.get(&node.kind) else {
        let known: Vec<&str> = registry.names().collect();
        let hint = match suggest(&node.kind, known.iter().copied()) {
            Some(s) => format!("did you mean `{s}`? known kinds: {}", known.join(", ")),
            None => format!(
                "known kinds: {}; a subgraph kind is a path ending in `.ron`",
                known.join(", ")
            ),
        };
        problems.push(
            Problem::new(
                node.at.clone(),
                format!("node `{}` has unknown kind `{}`", node.id, node.kind),
            )
            .help(hint),
        );
        return None;
    };
    let config = match &node.config {
        Some(text) => NodeConfig::from_ron(text),
        None => NodeConfig::empty(),
    };
    let ctx = BuildContext {
        prepare,
        node_id: &node.id,
        base_dir: &node.base_dir,
    };
    let (mut built, control) = match kind.build_with_control(&config, &ctx) {
        Ok(b) => b,
        Err(e) => {
            let (at, message) = match &e {
                ConfigError::Parse { message, line, col } => {
                    (node.config_at.offset_by(*line, *col), message.clone())
                }
                ConfigError::Invalid { .. } => (node.config_at.clone(), e.to_string()),
            };
            problems.push(
                Problem::new(
                    at,
                    format!(
                        "bad config for node `{}` ({}): {message}",
                        node.id, node.kind
                    ),
                )
                .help(format!(
                    "`lathe nodes {}` lists its config fields",
                    node.kind
                )),
            );
            return None;
        }
    };
    built.spec.params.push(bypass_spec());
    let mut values: Vec<f32> = built.spec.params.iter().map(|p| p.default).collect();
    for decl in &node.params {
        if let Some((index, value)) = check_param(&node.id, &built.spec, decl, problems) {
            values[index] = value;
        }
    }
    Some(CNode {
        id: node.id.clone(),
        kind: node.kind.clone(),
        role: Role::Leaf,
        spec: built.spec,
        processor: Some(built.processor),
        control,
        file_values: values.clone(),
        values,
        config: node.config.clone(),
        at: node.at.clone(),
    })
}

fn check_param(
    node_id: &str,
    spec: &NodeSpec,
    decl: &ParamDecl,
    problems: &mut Vec<Problem>,
) -> Option<(usize, f32)> {
    let Some(index) = spec.param_index(&decl.name).map(ParamId::index) else {
        let names: Vec<&str> = spec.params.iter().map(|p| p.name.as_str()).collect();
        let help = match suggest(&decl.name, names.iter().copied()) {
            Some(s) => format!("did you mean `{s}`?"),
            None => format!("its params: {}", one_of(&names)),
        };
        problems.push(
            Problem::new(
                decl.at.clone(),
                format!("node `{node_id}` has no param `{}`", decl.name),
            )
            .help(help),
        );
        return None;
    };
    let param = &spec.params[index];
    match param_value(param, &decl.value) {
        Ok(v) => Some((index, v)),
        Err(msg) => {
            problems.push(Problem::new(
                decl.at.clone(),
                format!("`{node_id}.{}`: {msg}", decl.name),
            ));
            None
        }
    }
}

/// Converts a file value to the param's number, or says what is allowed.
pub fn param_value(param: &ParamSpec, value: &ParamValue) -> Result<f32, String> {
    let number = match (value, param.unit) {
        (ParamValue::Bool(b), Unit::Toggle) => return Ok(if *b { 1.0 } else { 0.0 }),
        (ParamValue::Text(name), Unit::Choice) => {
            return param
                .choices
                .iter()
                .position(|c| c == name)
                .map(|i| i as f32)
                .ok_or_else(|| {
                    format!(
                        "unknown choice \"{name}\"; allowed: {}",
                        one_of(&param.choices)
                    )
                });
        }
        (ParamValue::Number(v), _) => *v,
        (other, _) => {
            return Err(format!("expected {}, found {other}", allowed_text(param)));
        }
    };
    check_number(param, number)
}

/// Converts an override (`--set`, a value set live) of the param at `path` to its number:
/// a number, or on/off as 1/0, for any param; a name for a choice param.
pub fn override_value(path: &str, param: &ParamSpec, value: &ParamValue) -> Result<f32, String> {
    let number = match value {
        ParamValue::Text(name) => match param.choices.iter().position(|c| c == name) {
            Some(index) => index as f64,
            None if param.choices.is_empty() => {
                return Err(format!(
                    "`{path}` takes a number ({} ..= {}), not a name",
                    param.min, param.max
                ));
            }
            None => {
                return Err(format!(
                    "`{name}` is not a choice of `{path}`; allowed: {}",
                    param.choices.join(", ")
                ));
            }
        },
        ParamValue::Number(v) => *v,
        ParamValue::Bool(b) => f64::from(u8::from(*b)),
    };
    check_number(param, number).map_err(|msg| format!("`{path}`: {msg}"))
}

/// Range and kind check for a numeric param value.
pub fn check_number(param: &ParamSpec, value: f64) -> Result<f32, String> {
    let whole = value.fract() == 0.0;
    let ok = param.contains(value) && (whole || !matches!(param.unit, Unit::Toggle | Unit::Choice));
    if ok {
        Ok(value as f32)
    } else {
        Err(format!(
            "value {value} is out of range; allowed {}",
            allowed_text(param)
        ))
    }
}

/// "-60 ..= 0 dB" or "0/1 (or false/true)" or "\"peak\" or \"rms\"".
pub fn allowed_text(param: &ParamSpec) -> String {
    match param.unit {
        Unit::Toggle => "0 or 1 (or false/true)".to_string(),
        Unit::Choice => format!(
            "{} (or their index 0..={})",
            param
                .choices
                .iter()
                .map(|c| format!("\"{c}\""))
                .collect::<Vec<_>>()
                .join(", "),
            param.choices.len().saturating_sub(1)
        ),
        unit => format!("{} ..= {} {}", param.min, param.max, unit.label())
            .trim_end()
            .to_string(),
    }
}
