//! What discovery says about an installed plugin, whatever its format.
//!
//! `lathe plugins` lists these and `lathe nodes lv2 --uri URI` describes one; both formats
//! fill the same record so the listing, its JSON and the checks read one shape.

use std::path::PathBuf;

/// The plugin standards lathe hosts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PluginFormat {
    Lv2,
    Clap,
}

impl PluginFormat {
    /// The node kind that hosts plugins of this format.
    pub fn kind(self) -> &'static str {
        match self {
            PluginFormat::Lv2 => "lv2",
            PluginFormat::Clap => "clap",
        }
    }
}

/// One installed plugin.
#[derive(Debug, Clone)]
pub struct PluginInfo {
    pub format: PluginFormat,
    /// The LV2 URI or the CLAP plugin id: what a graph's `config` names.
    pub id: String,
    pub name: String,
    /// The bundle (LV2) or `.clap` file the plugin was found in.
    pub bundle_path: PathBuf,
    pub audio_inputs: Vec<AudioPortInfo>,
    pub audio_outputs: Vec<AudioPortInfo>,
    pub params: Vec<ParamInfo>,
    /// Control outputs: the node's meters.
    pub meters: Vec<ParamInfo>,
    /// The latency the plugin reports with its default settings, where discovery could
    /// ask it (a probe run), or 0 for an LV2 plugin without a latency port; `None` when
    /// it was not asked or could not be built.
    pub latency_frames: Option<u32>,
    /// Does the plugin report a latency (an LV2 latency port, the CLAP latency
    /// extension)? Only those need a probe run to know it.
    pub reports_latency: bool,
}

/// One audio port (LV2) or one port group / bus (CLAP), as lathe maps it.
#[derive(Debug, Clone)]
pub struct AudioPortInfo {
    /// The lathe port name.
    pub name: String,
    pub channels: usize,
    /// A sidechain input rather than a main one.
    pub sidechain: bool,
}

/// One control: a param (input) or a meter (output).
#[derive(Debug, Clone)]
pub struct ParamInfo {
    /// The control-port symbol (LV2) or the param's name made into a symbol (CLAP).
    pub symbol: String,
    pub name: String,
    pub min: f64,
    pub max: f64,
    pub default: f64,
    /// A unit label where the plugin gives one (`dB`, `ms`, `Hz`).
    pub unit: Option<String>,
    /// Named values, in order, where the control is an enumeration.
    pub choices: Vec<(f64, String)>,
    pub integer: bool,
    pub toggle: bool,
}
