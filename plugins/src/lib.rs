//! lathe-plugins: third-party processors as node kinds.
//!
//! An `lv2` node hosts an LV2 plugin and a `clap` node a CLAP plugin. Each becomes a node
//! like any other: its audio ports are the node's ports, its control inputs are params,
//! its control outputs are meters and its reported latency is the node's declared latency,
//! so the compiler keeps parallel paths aligned.

pub mod base64;
pub mod clap;
pub mod crash;
pub mod info;
pub mod lv2;
pub mod state_task;
pub mod state_text;

pub use info::{AudioPortInfo, ParamInfo, PluginFormat, PluginInfo};

/// Registers the plugin kinds.
pub fn register_all(registry: &mut lathe_engine::Registry) {
    lv2::register(registry);
    clap::register(registry);
}
