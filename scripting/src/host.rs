//! A standalone runner of scripts, for tools and tests that tick scripts without a
//! compiled graph: [`ScriptSpec`]s become [`ScriptTask`]s ticked by the engine's
//! [`ControlTasks`], the same runner every host uses for a graph's control tasks.
//!
//! Each script ticks on its own grid of absolute frames: tick `k` is due at frame
//! `k * period_frames`, with `period_frames = round(sample_rate_hz / rate_hz)` (at least 1).
//! See [`lathe_engine::tasks`] for the tick rules and [`crate::task`] for a script's life.

use lathe_engine::{ControlSurface, ControlTasks};

use crate::spec::{ScriptError, ScriptSpec};
use crate::task::{ScriptReport, ScriptTask};

/// Runs scripts at their rates, against a [`ControlSurface`].
pub struct ScriptHost {
    sample_rate_hz: f64,
    tasks: ControlTasks,
}

impl ScriptHost {
    /// Compiles every script for a graph running at `sample_rate_hz`.
    pub fn new(scripts: Vec<ScriptSpec>, sample_rate_hz: f64) -> Result<ScriptHost, ScriptError> {
        let mut tasks = ControlTasks::new();
        for spec in scripts {
            let node_id = spec.node_id().to_string();
            let task = ScriptTask::new(spec, sample_rate_hz)?;
            tasks.push(&node_id, crate::kind::SCRIPT_KIND, Box::new(task));
        }
        Ok(ScriptHost {
            sample_rate_hz,
            tasks,
        })
    }

    /// The frame of the next due tick over all running scripts; None when no script
    /// needs ticks any more.
    pub fn next_tick_frame(&self) -> Option<u64> {
        self.tasks.next_tick_frame()
    }

    /// Runs, in order, every script whose tick is due at `position_frames`.
    pub fn tick_due(&mut self, position_frames: u64, surface: &mut dyn ControlSurface) {
        self.tasks.tick_due(position_frames, surface);
    }

    /// Carries the running state of unchanged scripts over from `old` (see
    /// [`ControlTasks::adopt_state`]). Returns the node ids carried over.
    pub fn adopt_state(&mut self, old: ScriptHost) -> Vec<String> {
        self.tasks.adopt_state(old.tasks)
    }

    /// Failures since the last call, each reported once.
    pub fn take_reports(&mut self) -> Vec<ScriptReport> {
        self.tasks
            .take_reports()
            .into_iter()
            .filter_map(|r| r.error.downcast::<ScriptReport>().ok().map(|r| *r))
            .collect()
    }

    /// Has the script of node `node_id` been stopped by a failure?
    pub fn is_stopped(&self, node_id: &str) -> bool {
        self.tasks.is_stopped(node_id)
    }

    /// The script files the scripts were read from.
    pub fn files(&self) -> Vec<std::path::PathBuf> {
        self.tasks.files()
    }

    pub fn sample_rate_hz(&self) -> f64 {
        self.sample_rate_hz
    }
}
