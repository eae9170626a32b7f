//! How a plugin's current state reaches a saved graph: each plugin node that can save
//! state comes with a control task that does nothing on ticks but, when a live host
//! saves the graph, asks the plugin for its state and writes it into the node's config.
//!
//! A task (not the processor) because the processor belongs to the audio thread, while
//! the task lives on the control thread beside it, sharing the plugin instance; and
//! because the engine already carries tasks over a hot reload exactly as it carries
//! processors: an unchanged node keeps its old task, which still points at the instance
//! that keeps running.

use std::any::Any;

use lathe_engine::{ControlSurface, ControlTask, TaskError};

/// Writes the node's config with the plugin's current state in it.
pub type SaveConfig = Box<dyn Fn() -> Result<String, String> + Send>;

pub struct PluginStateTask {
    /// The node's config text and built spec: what decides, as for the processor,
    /// whether a rebuilt node continues this one.
    fingerprint: String,
    save: SaveConfig,
}

impl PluginStateTask {
    pub fn new(fingerprint: String, save: SaveConfig) -> Self {
        Self { fingerprint, save }
    }
}

impl ControlTask for PluginStateTask {
    fn period_frames(&self) -> u64 {
        u64::MAX
    }

    fn wants_ticks(&self) -> bool {
        false
    }

    fn tick(&mut self, _position: u64, _surface: &mut dyn ControlSurface) -> Result<(), TaskError> {
        Ok(())
    }

    fn continues(&self, old: &dyn ControlTask) -> bool {
        old.as_any()
            .downcast_ref::<PluginStateTask>()
            .is_some_and(|old| old.fingerprint == self.fingerprint)
    }

    fn config_to_save(&self) -> Option<Result<String, TaskError>> {
        Some((self.save)().map_err(TaskError::from))
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
