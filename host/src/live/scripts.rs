//! The graph's control scripts in `lathe run`: ticked on the control thread against the
//! running [`Controller`] (meters read and params written through its lock-free paths),
//! never on the audio thread.
//!
//! Ticks follow the same grid of absolute frames as an offline render (tick `k` of a
//! script at frame `k * period_frames`), read against the engine's audio position; the
//! control thread wakes up for the next due tick, so a script runs within a millisecond
//! or so of its frame (a late wake-up runs it once, then it keeps to its grid). Audio time,
//! not wall time, drives them: while the server is stopped they do not tick.

use std::path::{Path, PathBuf};
use std::time::Duration;

use lathe_engine::{ControlSurface, Controller, GraphInfo};
use lathe_scripting::ScriptHost;

use super::script_nodes::script_host;

/// Shortest sleep between two looks at the audio position while a tick is due soon:
/// JACK delivers position in whole periods, so finer waiting buys nothing.
const MIN_WAIT: Duration = Duration::from_millis(1);

/// The scripts of the running graph (none when it has no `script` node).
pub struct LiveScripts {
    host: Option<ScriptHost>,
}

impl LiveScripts {
    /// Compiles the scripts of a compiled graph.
    pub fn for_graph(info: &GraphInfo) -> Result<LiveScripts, String> {
        let host = script_host(info).map_err(|e| e.to_string())?;
        Ok(LiveScripts { host })
    }

    /// The script files, to watch for changes with the graph's own files.
    pub fn files(&self) -> Vec<PathBuf> {
        self.host.as_ref().map_or_else(Vec::new, |h| {
            h.files().into_iter().map(Path::to_path_buf).collect()
        })
    }

    /// Takes over from the scripts of the graph this one replaces in the same engine
    /// (same audio position and rate): unchanged scripts keep their state and their place
    /// on the tick grid. Returns the node ids of the scripts kept.
    pub fn take_over(&mut self, old: LiveScripts) -> Vec<String> {
        match (self.host.as_mut(), old.host) {
            (Some(new), Some(old)) => new.adopt_state(old),
            _ => Vec::new(),
        }
    }

    /// Runs every tick due at the engine's current position; returns the failures to
    /// report (each script's once, after which it is stopped and its values stay).
    pub fn tick(&mut self, controller: &mut Controller) -> Vec<String> {
        let Some(host) = self.host.as_mut() else {
            return Vec::new();
        };
        let position = controller.position_frames();
        if host.next_tick_frame().is_some_and(|f| f <= position) {
            host.tick_due(position, controller);
        }
        host.take_reports()
            .into_iter()
            .map(|r| format!("script error: {r}"))
            .collect()
    }

    /// How long the control thread may sleep before the next tick is due (at most `max`).
    pub fn wait(&self, controller: &Controller, max: Duration) -> Duration {
        let Some(next) = self.host.as_ref().and_then(ScriptHost::next_tick_frame) else {
            return max;
        };
        let position = controller.position_frames();
        let rate = controller.info().prepare.sample_rate_hz;
        let ahead_s = next.saturating_sub(position) as f64 / rate;
        Duration::from_secs_f64(ahead_s.max(0.0)).clamp(MIN_WAIT, max)
    }
}
