//! The `lv2` node kind: an LV2 plugin inside a graph.
//!
//! `(id: "dpl", kind: "lv2", config: (uri: "http://gareus.org/oss/lv2/dpl#stereo"))`.
//! The plugin's audio inputs become the `in` port (and `sidechain` for side-chain inputs),
//! its audio outputs the `out` port; control inputs are params named by their symbols,
//! control outputs are meters. At build the plugin is instantiated, run once on silence
//! and its latency port read: that is the node's declared latency.
//!
//! liblilv is loaded at run time ([`lilv`]), never linked.

mod features;
mod instance;
mod lilv;
mod params;
mod processor;
mod state;
mod world;

use std::collections::BTreeMap;
use std::path::PathBuf;

use lathe_engine::{
    BuildContext, BuiltNode, ConfigError, ControlTask, NodeConfig, NodeKind, NodeSpec, PortSpec,
    Registry,
};
use serde::Deserialize;

use crate::info::PluginInfo;
use instance::Instance;
use processor::{Lv2Processor, PortPlan};
use world::{PluginModel, PortRole, world};

pub use state::{StateError, StateProperty, StateValue};
pub use world::Lv2Error;

/// Registers the `lv2` kind.
pub fn register(registry: &mut Registry) {
    registry.register(Lv2Kind);
}

/// The config of an `lv2` node.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Lv2Config {
    /// The plugin's URI (`lathe plugins` lists them).
    pub uri: String,
    /// A bundle folder to load besides the installed ones (relative to the graph file).
    pub bundle: Option<PathBuf>,
    /// Control inputs fixed at build, by symbol: controls that change the plugin's
    /// latency (an EQ's FIR mode) belong here, since latency is read once, at build.
    pub controls: BTreeMap<String, f32>,
    /// The plugin's state (state extension), one property a line; restored after
    /// instantiation, before activation; written by a live host's `save`.
    pub state: Option<Vec<StateProperty>>,
}

impl Lv2Config {
    /// The config as RON, with `state` in place of the file's.
    fn text_with_state(&self, state: &[StateProperty]) -> String {
        let mut fields = vec![format!("uri: {:?}", self.uri)];
        if let Some(bundle) = &self.bundle {
            fields.push(format!("bundle: {:?}", bundle.to_string_lossy()));
        }
        if !self.controls.is_empty() {
            let list: Vec<String> = self
                .controls
                .iter()
                .map(|(k, v)| format!("{k:?}: {v:?}"))
                .collect();
            fields.push(format!("controls: {{{}}}", list.join(", ")));
        }
        fields.push(format!("state: {}", state::state_ron(state)));
        format!("({})", fields.join(", "))
    }
}

pub struct Lv2Kind;

const DOC: &str = "\
Hosts an LV2 plugin. Config: `uri` (required), `bundle` (a bundle folder to load, relative
to the graph file), `controls` (control inputs fixed at build, by symbol: use it for
controls that change the plugin's latency), `state` (the plugin's saved state, a list of
(key, type, value), restored before activation; the live console's `save` writes it).
Ports: `in` (the plugin's main audio inputs), `sidechain` (its side-chain inputs,
optional), `out`. Params: the control inputs by symbol, with the plugin's ranges and
defaults. Meters: the control outputs. Latency: what the plugin's latency port reports
after a probe run at build. `lathe nodes lv2 --uri URI` describes one plugin; see
docs/plugins.md.";

impl NodeKind for Lv2Kind {
    fn name(&self) -> &'static str {
        "lv2"
    }

    fn summary(&self) -> &'static str {
        "An LV2 plugin: ports, params (control symbols), meters and latency from the plugin."
    }

    fn doc(&self) -> &'static str {
        DOC
    }

    fn build(
        &self,
        config: &NodeConfig<'_>,
        ctx: &BuildContext<'_>,
    ) -> Result<BuiltNode, ConfigError> {
        self.build_with_control(config, ctx).map(|(node, _)| node)
    }

    /// The node, and for a plugin with the state interface the task that saves its
    /// state into the graph (see [`crate::state_task`]).
    fn build_with_control(
        &self,
        config: &NodeConfig<'_>,
        ctx: &BuildContext<'_>,
    ) -> Result<(BuiltNode, Option<Box<dyn ControlTask>>), ConfigError> {
        let raw_config = config.raw().unwrap_or_default().to_string();
        let cfg: Lv2Config = config.parse()?;
        if cfg.uri.is_empty() {
            return Err(ConfigError::invalid(
                "uri",
                "name the plugin, e.g. `(uri: \"http://gareus.org/oss/lv2/dpl#stereo\")`; \
                 `lathe plugins` lists the installed ones",
            ));
        }
        let uri_err = |e: Lv2Error| ConfigError::invalid("uri", e.to_string());
        let (model, instance) = {
            let mut world =
                world().map_err(|e| ConfigError::invalid("uri", format!("`{}`: {e}", cfg.uri)))?;
            if let Some(bundle) = &cfg.bundle {
                world
                    .load_bundle(&ctx.base_dir.join(bundle))
                    .map_err(|e| ConfigError::invalid("bundle", e.to_string()))?;
            }
            let plugin = world.find(&cfg.uri).map_err(uri_err)?;
            let model = world.describe(plugin);
            check_features(&model).map_err(uri_err)?;
            check_ports(&world, plugin, &model).map_err(uri_err)?;
            check_controls(&model, &cfg.controls)?;
            let instance = Instance::new(
                &world,
                plugin,
                &cfg.uri,
                ctx.prepare.sample_rate_hz,
                ctx.prepare.max_block_frames,
            )
            .map_err(uri_err)?;
            (model, instance)
        };
        let shared = instance.shared();
        if let Some(saved) = &cfg.state {
            state::restore(&shared, &cfg.uri, saved)
                .map_err(|e| ConfigError::invalid("state", e.to_string()))?;
        }
        let (plan, spec) = plan(&model, &cfg.controls);
        let mut processor = Lv2Processor::new(instance, plan, ctx.prepare.max_block_frames);
        processor.set_crash_label(crate::crash::CrashLabel::new(ctx.node_id, &cfg.uri));
        processor.activate();
        processor.run_silence(ctx.prepare.max_block_frames);
        let latency_frames = model
            .latency_port
            .map(|p| processor.control(p))
            .filter(|v| v.is_finite() && *v > 0.0)
            .map_or(0, |v| v.round() as usize);
        let node = BuiltNode {
            spec: spec.with_latency(latency_frames),
            processor: Box::new(processor),
        };
        let task = state::has_state(&shared).then(|| {
            let fingerprint = format!("{raw_config}\n{:?}", node.spec);
            let save = Box::new(move || {
                let saved = state::save(&shared, &cfg.uri).map_err(|e| e.to_string())?;
                Ok(cfg.text_with_state(&saved))
            });
            Box::new(crate::state_task::PluginStateTask::new(fingerprint, save))
                as Box<dyn ControlTask>
        });
        Ok((node, task))
    }
}

/// Every feature the plugin requires must be one lathe provides.
fn check_features(model: &PluginModel) -> Result<(), Lv2Error> {
    match model
        .required_features
        .iter()
        .find(|f| !features::SUPPORTED.contains(&f.as_str()))
    {
        None => Ok(()),
        Some(feature) => Err(Lv2Error::UnsupportedFeature {
            uri: model.info.id.clone(),
            feature: feature.clone(),
            provided: features::SUPPORTED.join(", "),
        }),
    }
}

/// A port of a type lathe does not know must be allowed to stay unconnected.
fn check_ports(
    world: &world::World,
    plugin: *const lilv::LilvPlugin,
    model: &PluginModel,
) -> Result<(), Lv2Error> {
    match model
        .ports
        .iter()
        .find(|p| p.role == PortRole::Unconnected && !world.port_optional(plugin, p.index))
    {
        None => Ok(()),
        Some(p) => Err(Lv2Error::UnsupportedPort {
            uri: model.info.id.clone(),
            symbol: p.symbol.clone(),
        }),
    }
}

/// `controls` names control inputs, each within its range.
fn check_controls(
    model: &PluginModel,
    controls: &BTreeMap<String, f32>,
) -> Result<(), ConfigError> {
    for (symbol, &value) in controls {
        let field = format!("controls.{symbol}");
        let Some(info) = model.info.params.iter().find(|p| &p.symbol == symbol) else {
            let known: Vec<&str> = model
                .info
                .params
                .iter()
                .map(|p| p.symbol.as_str())
                .collect();
            return Err(ConfigError::invalid(
                field,
                format!(
                    "`{symbol}` is not a control input of `{}`; its control inputs: {}",
                    model.info.id,
                    known.join(", ")
                ),
            ));
        };
        if !(value as f64 >= info.min && value as f64 <= info.max) {
            return Err(ConfigError::invalid(
                field,
                format!("{value} is outside {} ..= {}", info.min, info.max),
            ));
        }
    }
    Ok(())
}

/// Where each port goes and the node's spec (without latency).
fn plan(model: &PluginModel, controls: &BTreeMap<String, f32>) -> (PortPlan, NodeSpec) {
    let mut plan = PortPlan {
        port_count: model.ports.len(),
        param_ports: Vec::new(),
        meter_ports: Vec::new(),
        audio_in: Vec::new(),
        audio_out: Vec::new(),
        atom_in: Vec::new(),
        atom_out: Vec::new(),
        cv: Vec::new(),
        control_values: Vec::new(),
    };
    let mut params = Vec::new();
    let mut meters = Vec::new();
    let mut sidechain = Vec::new();
    for port in &model.ports {
        match port.role {
            PortRole::AudioIn { sidechain: false } => plan.audio_in.push(port.index),
            PortRole::AudioIn { sidechain: true } => sidechain.push(port.index),
            PortRole::AudioOut => plan.audio_out.push(port.index),
            PortRole::ControlIn => {
                let info = port
                    .control
                    .as_ref()
                    .expect("control ports carry their info");
                let value = match controls.get(&port.symbol) {
                    Some(&fixed) => fixed,
                    None => {
                        plan.param_ports.push(port.index);
                        params.push(params::param_spec(info));
                        info.default as f32
                    }
                };
                plan.control_values.push((port.index, value));
            }
            PortRole::ControlOut => {
                let info = port
                    .control
                    .as_ref()
                    .expect("control ports carry their info");
                plan.meter_ports.push(port.index);
                meters.push(params::meter_spec(info));
            }
            PortRole::AtomIn => plan.atom_in.push(port.index),
            PortRole::AtomOut => plan.atom_out.push(port.index),
            PortRole::CvIn | PortRole::CvOut => plan.cv.push(port.index),
            PortRole::Unconnected => {}
        }
    }
    let mut inputs = Vec::new();
    if !plan.audio_in.is_empty() {
        inputs.push(PortSpec::main_in(plan.audio_in.len()));
    }
    if !sidechain.is_empty() {
        inputs.push(PortSpec::sidechain(sidechain.len()));
    }
    plan.audio_in.extend(sidechain);
    let outputs = if plan.audio_out.is_empty() {
        Vec::new()
    } else {
        vec![PortSpec::main_out(plan.audio_out.len())]
    };
    let spec = NodeSpec::with_ports(inputs, outputs)
        .with_params(params)
        .with_meters(meters);
    (plan, spec)
}

/// Every installed LV2 plugin whose URI or name contains `filter` (case-insensitive),
/// described without running it (`latency_frames` stays `None`).
pub fn discover(filter: Option<&str>) -> Result<Vec<PluginInfo>, Lv2Error> {
    let world = world()?;
    let filter = filter.map(str::to_lowercase);
    Ok(world
        .all()
        .into_iter()
        .filter(|&p| match &filter {
            None => true,
            Some(f) => {
                world.plugin_uri(p).to_lowercase().contains(f)
                    || world.plugin_name(p).to_lowercase().contains(f)
            }
        })
        .map(|p| world.describe(p).info)
        .collect())
}

/// The latency `uri` reports at this rate and block size with its default controls: a
/// build of the node, as a graph would do it.
pub fn probe_latency(uri: &str, sample_rate_hz: f64, max_block_frames: usize) -> Option<u32> {
    let raw = format!(
        "(uri: \"{}\")",
        uri.replace('\\', "\\\\").replace('"', "\\\"")
    );
    let ctx = BuildContext {
        prepare: lathe_engine::PrepareInfo::new(sample_rate_hz, max_block_frames),
        node_id: "probe",
        base_dir: std::path::Path::new("."),
    };
    Lv2Kind
        .build(&NodeConfig::from_ron(&raw), &ctx)
        .ok()
        .map(|b| b.spec.latency_frames as u32)
}

/// Which of `uris` are not installed (empty when all are); an error when liblilv itself
/// cannot be loaded. For tests and tools that need particular plugins.
pub fn installed(uris: &[&str]) -> Result<Vec<String>, Lv2Error> {
    let world = world()?;
    Ok(uris
        .iter()
        .filter(|uri| world.find(uri).is_err())
        .map(|uri| uri.to_string())
        .collect())
}
