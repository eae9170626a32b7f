//! The running graph's `script` nodes, loaded as a [`ScriptHost`] for the live host
//! (the same loading the offline renderer does for its own ticks).

use std::path::Path;

use lathe_engine::{GraphInfo, NodeConfig, NodeKind};
use lathe_scripting::{ScriptError, ScriptHost, ScriptKind, ScriptSpec};

/// Loads and compiles the graph's `script` nodes, in schedule order; `None` without any.
pub fn script_host(info: &GraphInfo) -> Result<Option<ScriptHost>, ScriptError> {
    let mut specs = Vec::new();
    for node in info.nodes.iter().filter(|n| n.kind == ScriptKind.name()) {
        let config = node
            .config
            .as_deref()
            .map_or_else(NodeConfig::empty, NodeConfig::from_ron);
        let base_dir = node.at.file.parent().unwrap_or(Path::new("."));
        specs.push(ScriptSpec::from_config(&node.id, &config, base_dir)?);
    }
    if specs.is_empty() {
        return Ok(None);
    }
    ScriptHost::new(specs, info.prepare.sample_rate_hz).map(Some)
}
