//! Control tasks: the part of a node that runs off the audio thread at a control rate
//! (a script reading meters and steering params), and the one runner every host uses to
//! tick them.
//!
//! A kind returns a task from [`NodeKind::build_with_control`](crate::NodeKind); the
//! compiler collects the tasks of a graph in schedule order into a [`ControlTasks`], which
//! a host takes out of the [`CompiledGraph`](crate::CompiledGraph) before the runtime goes
//! to the audio thread. Each task ticks on its own grid of absolute frames: tick `k` is due
//! at frame `k * period_frames`, the first at frame 0. An offline host splits its engine
//! calls at [`ControlTasks::next_tick_frame`] and calls [`ControlTasks::tick_due`] there,
//! so a render depends neither on block size nor on timing (see [`crate::offline`]):
//!
//! ```text
//! while pos < end {
//!     if tasks.next_tick_frame().is_some_and(|f| f <= pos) {
//!         tasks.tick_due(pos, &mut surface);
//!     }
//!     let until = tasks.next_tick_frame().map_or(end, |f| f.min(end));
//!     process(pos .. until.max(pos + 1).min(pos + max_block));
//! }
//! ```
//!
//! A live host calls `tick_due` from its control thread with the engine's position; a
//! late call runs each due task once and moves it to the next grid frame after it. A task
//! whose tick fails is reported once (through [`ControlTasks::take_reports`] and a
//! `tracing` warning) and never ticked again; every other task keeps ticking.

use std::any::Any;
use std::path::PathBuf;

use crate::control::ControlSurface;

/// Why a tick failed: the task's own error, whose text is the whole report.
pub type TaskError = Box<dyn std::error::Error + Send + Sync>;

/// The control half of a node: ticked off the audio thread, against a [`ControlSurface`].
///
/// Built with the node (so a script is read and compiled once, at build) and owned by the
/// host's [`ControlTasks`]; it may allocate and fail, it never touches the audio thread.
pub trait ControlTask: Send + 'static {
    /// Frames between two ticks, at least 1.
    fn period_frames(&self) -> u64;

    /// Does the task still need ticks? (A script without `tick` is done after its first.)
    fn wants_ticks(&self) -> bool {
        true
    }

    /// One tick, at `position_frames` (frames since the start of the render or run).
    /// An error stops the task for good; the values it set stay.
    fn tick(
        &mut self,
        position_frames: u64,
        surface: &mut dyn ControlSurface,
    ) -> Result<(), TaskError>;

    /// Is `old`, the task of the same node in the graph this one replaces, running the
    /// same thing? Then hot reload keeps `old` (its state and place on the tick grid)
    /// instead of this fresh task, as an unchanged node keeps its filter memories.
    fn continues(&self, old: &dyn ControlTask) -> bool;

    /// Files the task was read from, for hosts that watch files to reload.
    fn files(&self) -> Vec<PathBuf> {
        Vec::new()
    }

    /// The node's config as a saved graph should write it, when it differs from the
    /// file's: a plugin node's config with the plugin's current state in it. `None`
    /// keeps the config as the file has it. Called on the control thread, by a host's
    /// `save`.
    fn config_to_save(&self) -> Option<Result<String, TaskError>> {
        None
    }

    /// The task as [`Any`], so [`ControlTask::continues`] can compare with its own type.
    fn as_any(&self) -> &dyn Any;
}

/// A task that failed and was stopped.
#[derive(Debug)]
pub struct TaskReport {
    pub node_id: String,
    /// The node's kind (`script`), so hosts can say what failed.
    pub kind: String,
    /// The frame of the tick that failed.
    pub position_frames: u64,
    pub error: TaskError,
}

impl std::fmt::Display for TaskReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.error.fmt(f)
    }
}

struct Entry {
    node_id: String,
    kind: String,
    task: Box<dyn ControlTask>,
    next_frame: u64,
    stopped: bool,
}

impl Entry {
    fn active(&self) -> bool {
        !self.stopped && self.task.wants_ticks()
    }
}

/// Every control task of a graph, in schedule order, with where each is on its grid.
#[derive(Default)]
pub struct ControlTasks {
    entries: Vec<Entry>,
    reports: Vec<TaskReport>,
    /// The host prints the reports itself: do not also log them.
    quiet: bool,
}

impl std::fmt::Debug for ControlTasks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ControlTasks")
            .field(
                "nodes",
                &self.entries.iter().map(|e| &e.node_id).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

impl ControlTasks {
    pub fn new() -> Self {
        Self::default()
    }

    /// Stops logging failures as they happen: for a host that prints every
    /// [report](ControlTasks::take_reports) itself, so each failure is told once.
    pub fn set_quiet(&mut self) {
        self.quiet = true;
    }

    /// Adds the task of node `node_id` (of kind `kind`) after the others; its first tick
    /// is due at frame 0.
    pub fn push(&mut self, node_id: &str, kind: &str, task: Box<dyn ControlTask>) {
        self.entries.push(Entry {
            node_id: node_id.to_string(),
            kind: kind.to_string(),
            task,
            next_frame: 0,
            stopped: false,
        });
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// The frame of the next due tick over all tasks; None when none needs ticks any more.
    pub fn next_tick_frame(&self) -> Option<u64> {
        self.entries
            .iter()
            .filter(|e| e.active())
            .map(|e| e.next_frame)
            .min()
    }

    /// Runs, in schedule order, every task whose tick is due at `position_frames`; each
    /// moves to the first frame of its grid after `position_frames`.
    pub fn tick_due(&mut self, position_frames: u64, surface: &mut dyn ControlSurface) {
        for entry in self.entries.iter_mut() {
            if !entry.active() || entry.next_frame > position_frames {
                continue;
            }
            let period = entry.task.period_frames().max(1);
            entry.next_frame = (position_frames / period + 1) * period;
            if let Err(error) = entry.task.tick(position_frames, surface) {
                entry.stopped = true;
                let report = TaskReport {
                    node_id: entry.node_id.clone(),
                    kind: entry.kind.clone(),
                    position_frames,
                    error,
                };
                if !self.quiet {
                    tracing::warn!(target: "lathe::control", "{report}");
                }
                self.reports.push(report);
            }
        }
    }

    /// Carries the running state of tasks over from `old` (the tasks of the graph this one
    /// replaces, at the same sample rate and audio position): a task that
    /// [continues](ControlTask::continues) the old one of the same node is replaced by it,
    /// with its place on the tick grid and its stopped flag. Other tasks start afresh at
    /// their next tick. Returns the node ids carried over.
    pub fn adopt_state(&mut self, old: ControlTasks) -> Vec<String> {
        let mut kept = Vec::new();
        let mut old_entries = old.entries;
        for entry in self.entries.iter_mut() {
            let Some(i) = old_entries
                .iter()
                .position(|o| o.node_id == entry.node_id && entry.task.continues(&*o.task))
            else {
                continue;
            };
            *entry = old_entries.swap_remove(i);
            kept.push(entry.node_id.clone());
        }
        kept
    }

    /// Failures since the last call, each reported once.
    pub fn take_reports(&mut self) -> Vec<TaskReport> {
        std::mem::take(&mut self.reports)
    }

    /// Has the task of node `node_id` been stopped by a failure?
    pub fn is_stopped(&self, node_id: &str) -> bool {
        self.entries
            .iter()
            .any(|e| e.stopped && e.node_id == node_id)
    }

    /// The files every task was read from.
    pub fn files(&self) -> Vec<PathBuf> {
        self.entries.iter().flat_map(|e| e.task.files()).collect()
    }

    /// The configs to write for a saved graph, by node id: those whose task has one (see
    /// [`ControlTask::config_to_save`]), in schedule order.
    pub fn configs_to_save(&self) -> Vec<(String, Result<String, TaskError>)> {
        self.entries
            .iter()
            .filter_map(|e| Some((e.node_id.clone(), e.task.config_to_save()?)))
            .collect()
    }

    /// The tasks, in schedule order, with their node ids.
    pub fn tasks(&self) -> impl Iterator<Item = (&str, &dyn ControlTask)> {
        self.entries
            .iter()
            .map(|e| (e.node_id.as_str(), &*e.task as &dyn ControlTask))
    }
}
