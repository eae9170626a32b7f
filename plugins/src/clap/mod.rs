//! The `clap` node kind: a CLAP plugin inside a graph.
//!
//! `(id: "g", kind: "clap", config: (path: "/usr/lib/clap/x.clap", id: "com.vendor.x"))`.
//! At build (off the audio thread) the file is opened, the plugin created, initialised
//! and activated for the graph's rate and largest block; its audio ports become the
//! node's ports, its params the node's params and the latency it reports the node's
//! declared latency. On the audio thread the node only calls `process`.

mod discover;
mod error;
mod host;
mod instance;
mod library;
mod params;
mod processor;
mod state;

use std::path::{Path, PathBuf};

use lathe_engine::{
    BuildContext, BuiltNode, ConfigError, ControlTask, MeterSpec, NodeConfig, NodeKind, NodeSpec,
    PortSpec, Unit,
};
use serde::Deserialize;

use crate::state_task::PluginStateTask;
use crate::state_text::Base64Text;

pub use discover::{describe_file, discover, discover_in, search_paths, search_paths_from};
pub use error::ClapError;
pub use instance::{ClapInstance, PluginParam, PluginPort};
pub use library::{ClapLibrary, Descriptor};
pub use params::{ParamRoute, map_params, symbol};
pub use processor::ClapProcessor;
pub use state::{MAX_STATE_BYTES, StateError};

/// Registers the `clap` kind.
pub fn register(registry: &mut lathe_engine::Registry) {
    registry.register(ClapKind);
}

/// What a graph file says about a `clap` node.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClapConfig {
    /// The `.clap` file; a relative path resolves from the graph file's folder.
    pub path: Option<PathBuf>,
    /// The plugin's id within the file (a `.clap` file may hold several plugins).
    pub id: Option<String>,
    /// The plugin's state (the CLAP state extension's stream) as base64: one string or a
    /// list of lines. Restored after `init`, before `activate`; written by a live
    /// host's `save`.
    pub state: Option<Base64Text>,
}

pub struct ClapKind;

/// The reference text of `lathe nodes clap`; docs/plugins.md says more.
const CLAP_DOC: &str = "\
clap: hosts a CLAP plugin (docs/plugins.md).
Config: (path: \"x.clap\", id: \"com.vendor.x\"), both required; a relative path
resolves from the graph file. `lathe plugins` lists installed plugins.
Optional `state: \"<base64>\"`: the plugin's saved state (state extension), restored
before activation; the live console's `save` writes it.
Ports: one per CLAP audio port, in the plugin's order: the first input is `in`,
the first output `out`, others take the plugin's port names; inputs after the
first are optional (silence when unlinked).
Params: each param neither hidden nor read-only, named after the plugin's name
as a symbol (`Gain dB` -> `gain_db`), with its range and default; enums become
choices. Changes reach the plugin as param events at the next block start; the
plugin smooths them itself.
Meter: failed_blocks, blocks the plugin refused (their output is silence).
Latency: what the plugin reports through the latency extension once active.
Allocates only at build, where the plugin is created and activated.";

impl NodeKind for ClapKind {
    fn name(&self) -> &'static str {
        "clap"
    }

    fn summary(&self) -> &'static str {
        "A CLAP plugin: its ports, params and latency become the node's."
    }

    fn doc(&self) -> &'static str {
        CLAP_DOC
    }

    fn build(
        &self,
        config: &NodeConfig<'_>,
        ctx: &BuildContext<'_>,
    ) -> Result<BuiltNode, ConfigError> {
        self.build_with_control(config, ctx).map(|(node, _)| node)
    }

    /// The node, and for a plugin with the state extension the task that saves its
    /// state into the graph (see [`crate::state_task`]).
    fn build_with_control(
        &self,
        config: &NodeConfig<'_>,
        ctx: &BuildContext<'_>,
    ) -> Result<(BuiltNode, Option<Box<dyn ControlTask>>), ConfigError> {
        let raw_config = config.raw().unwrap_or_default().to_string();
        let config: ClapConfig = config.parse()?;
        let written_path = config
            .path
            .ok_or_else(|| ConfigError::invalid("path", "required: the .clap file to load"))?;
        let id = config.id.ok_or_else(|| {
            ConfigError::invalid("id", "required: the plugin's id in the .clap file")
        })?;
        let state = match &config.state {
            Some(text) => Some(
                crate::base64::decode(&text.joined())
                    .map_err(|e| ConfigError::invalid("state", StateError::from(e).to_string()))?,
            ),
            None => None,
        };
        let path = resolve(&written_path, ctx.base_dir);
        let (node, plugin) = build_plugin(&path, &id, state.as_deref(), ctx)?;
        let task = state::has_state(&plugin).then(|| {
            let fingerprint = format!("{raw_config}\n{:?}", node.spec);
            let save = Box::new(move || {
                let bytes = state::save(&plugin, &id).map_err(|e| e.to_string())?;
                Ok(state::config_text(&written_path, &id, &bytes))
            });
            Box::new(PluginStateTask::new(fingerprint, save)) as Box<dyn ControlTask>
        });
        Ok((node, task))
    }
}

fn resolve(path: &Path, base_dir: &Path) -> PathBuf {
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        base_dir.join(path)
    }
}

/// Loads, creates and activates plugin `id` of `path` (with `state` restored before it
/// is activated) and maps it onto a node; returns the plugin too, for its state task.
fn build_plugin(
    path: &Path,
    id: &str,
    state: Option<&[u8]>,
    ctx: &BuildContext<'_>,
) -> Result<(BuiltNode, std::sync::Arc<instance::PluginRef>), ConfigError> {
    let library = ClapLibrary::open(path).map_err(ClapError::into_config_error)?;
    let instance = ClapInstance::create(library, id).map_err(ClapError::into_config_error)?;
    if let Some(bytes) = state {
        state::load(&instance.shared(), id, bytes)
            .map_err(|e| ConfigError::invalid("state", e.to_string()))?;
    }
    let plugin = instance.shared();
    let node = map_plugin(instance, id, ctx).map_err(ClapError::into_config_error)?;
    Ok((node, plugin))
}

/// Maps a created plugin onto a node, activating it for the graph's rate and block.
fn map_plugin(
    mut instance: ClapInstance,
    id: &str,
    ctx: &BuildContext<'_>,
) -> Result<BuiltNode, ClapError> {
    let inputs = node_ports(&instance.audio_ports(true), "in", id)?;
    let outputs = node_ports(&instance.audio_ports(false), "out", id)?;
    if outputs.is_empty() {
        return Err(ClapError::Unsupported {
            id: id.to_string(),
            what: "no audio output",
            detail: "a node must output audio".to_string(),
        });
    }
    let (param_specs, routes) = map_params(&instance.params());
    let max_block = u32::try_from(ctx.prepare.max_block_frames).unwrap_or(u32::MAX);
    instance.activate(ctx.prepare.sample_rate_hz, max_block)?;
    let latency_frames = instance.latency_frames() as usize;
    let spec = NodeSpec::with_ports(inputs, outputs)
        .with_params(param_specs)
        .with_meters(vec![MeterSpec::new(
            "failed_blocks",
            Unit::Factor,
            "Blocks the plugin refused to process since the last reset; their output is silence.",
        )])
        .with_latency(latency_frames);
    let channels = |ports: &[PortSpec]| ports.iter().map(|p| p.channels).collect::<Vec<_>>();
    let processor = ClapProcessor::new(
        instance,
        routes,
        channels(&spec.inputs),
        channels(&spec.outputs),
        ctx.prepare.max_block_frames,
        crate::crash::CrashLabel::new(ctx.node_id, id),
    );
    Ok(BuiltNode {
        spec,
        processor: Box::new(processor),
    })
}

/// Most channels one plugin port may have.
pub const MAX_PORT_CHANNELS: usize = 32;

/// The node ports of the plugin's ports on one side: the first is `main_name`, the rest
/// are named after the plugin's names; inputs after the first are optional.
fn node_ports(ports: &[PluginPort], main_name: &str, id: &str) -> Result<Vec<PortSpec>, ClapError> {
    let mut out: Vec<PortSpec> = Vec::with_capacity(ports.len());
    for (i, port) in ports.iter().enumerate() {
        if port.channels == 0 || port.channels > MAX_PORT_CHANNELS {
            return Err(ClapError::Unsupported {
                id: id.to_string(),
                what: "an audio port lathe cannot map",
                detail: format!(
                    "port `{}` has {} channels; allowed 1..={MAX_PORT_CHANNELS}",
                    port.name, port.channels
                ),
            });
        }
        if i == 0 {
            out.push(PortSpec::new(main_name, port.channels));
            continue;
        }
        let mut name = symbol(&port.name, i as u32);
        if out.iter().any(|p| p.name == name) {
            name = format!("{main_name}{}", i + 1);
        }
        let spec = PortSpec::new(name, port.channels);
        out.push(if main_name == "in" {
            spec.optional()
        } else {
            spec
        });
    }
    Ok(out)
}
