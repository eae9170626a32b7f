//! The graph's control tasks in `lathe run` (its scripts, and any other kind's): ticked on
//! the control thread against the running [`Controller`] (meters read and params written
//! through its lock-free paths), never on the audio thread, by the engine's one
//! [`ControlTasks`] runner.
//!
//! Ticks follow the same grid of absolute frames as an offline render (tick `k` of a
//! task at frame `k * period_frames`), read against the engine's audio position; the
//! control thread wakes up for the next due tick, so a task runs within a millisecond
//! or so of its frame (a late wake-up runs it once, then it keeps to its grid). Audio time,
//! not wall time, drives them: while the server is stopped they do not tick.

use std::path::PathBuf;
use std::time::Duration;

use lathe_engine::{ControlSurface, ControlTasks, Controller};

/// Shortest sleep between two looks at the audio position while a tick is due soon:
/// JACK delivers position in whole periods, so finer waiting buys nothing.
const MIN_WAIT: Duration = Duration::from_millis(1);

/// The control tasks of the running graph (none when it has no control node).
pub struct LiveScripts {
    tasks: ControlTasks,
}

impl LiveScripts {
    /// The tasks taken out of a compiled graph
    /// ([`CompiledGraph::take_control_tasks`](lathe_engine::CompiledGraph::take_control_tasks)).
    pub fn new(mut tasks: ControlTasks) -> LiveScripts {
        // The control loop prints each failure (`script error: ...`): once, not also as
        // a log line.
        tasks.set_quiet();
        LiveScripts { tasks }
    }

    /// The files the tasks were read from, to watch for changes with the graph's own.
    pub fn files(&self) -> Vec<PathBuf> {
        self.tasks.files()
    }

    /// Takes over from the tasks of the graph this one replaces in the same engine
    /// (same audio position and rate): unchanged tasks keep their state and their place
    /// on the tick grid. Returns the node ids of the tasks kept.
    pub fn take_over(&mut self, old: LiveScripts) -> Vec<String> {
        self.tasks.adopt_state(old.tasks)
    }

    /// Runs every tick due at the engine's current position; returns the failures to
    /// report (each task's once, after which it is stopped and its values stay), as
    /// `KIND error: REPORT`.
    pub fn tick(&mut self, controller: &mut Controller) -> Vec<String> {
        let position = controller.position_frames();
        if self.tasks.next_tick_frame().is_some_and(|f| f <= position) {
            self.tasks.tick_due(position, controller);
        }
        self.tasks
            .take_reports()
            .into_iter()
            .map(|r| format!("{} error: {r}", r.kind))
            .collect()
    }

    /// The configs a saved graph writes in place of the file's, by node id (a plugin
    /// node's config with the plugin's current state); an error names the node.
    pub fn configs_to_save(&self) -> Result<Vec<(String, String)>, String> {
        self.tasks
            .configs_to_save()
            .into_iter()
            .map(|(id, config)| {
                config
                    .map(|text| (id.clone(), text))
                    .map_err(|e| format!("cannot save the state of node `{id}`: {e}"))
            })
            .collect()
    }

    /// How long the control thread may sleep before the next tick is due (at most `max`).
    pub fn wait(&self, controller: &Controller, max: Duration) -> Duration {
        let Some(next) = self.tasks.next_tick_frame() else {
            return max;
        };
        let position = controller.position_frames();
        let rate = controller.info().prepare.sample_rate_hz;
        let ahead_s = next.saturating_sub(position) as f64 / rate;
        Duration::from_secs_f64(ahead_s.max(0.0)).clamp(MIN_WAIT, max)
    }
}
