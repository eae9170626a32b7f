//! `script`: a Rhai control script that reads meters and steers params, ticked as a
//! [`ControlTask`] by the host at a control rate, off the audio thread (see [`crate::task`]).
//!
//! - Ports: none. The node carries no audio; its processor does nothing.
//! - Config: `file` (script path, relative to the graph file) or `source` (the script
//!   text), `rate_hz` (ticks per second, 0 < rate <= 1000, default 20), `params` (the
//!   script's own params: `{"target_lufs": (min: -30, max: -6, default: -14, unit: "LUFS",
//!   doc: "...")}`; `unit` is a label of `lathe nodes`, default none).
//! - Params: the declared ones, unsmoothed, addressed `node.name` (`--set`, live host,
//!   `ctx.own("name")` in the script).
//! - Meters: none. Latency: 0.
//! - Build reads and compiles the script once, into the node's control task: a missing
//!   file or a syntax error is a config error naming the script and its line:col.
//!   Allocates only at build.

use lathe_engine::{
    BuildContext, BuiltNode, ConfigError, ControlTask, Io, NodeConfig, NodeKind, NodeSpec, ParamId,
    Processor,
};

use crate::spec::ScriptSpec;
use crate::task::ScriptTask;

/// The kind's name in graph files.
pub const SCRIPT_KIND: &str = "script";

pub struct ScriptKind;

const DOC: &str = "\
script: a Rhai control script that reads meters and steers params at a control rate.

Config:
  file: \"rider.rhai\"     script file, relative to the graph file
  source: \"...\"          or the script text itself
  rate_hz: 20            ticks per second (0 < rate <= 1000)
  params: {\"target_lufs\": (min: -30, max: -6, default: -14, unit: \"LUFS\", doc: \"...\")}
                         the script's own params, set like any param: rider.target_lufs

Ports: none. Meters: none. Latency: 0.

The script may define init(ctx) (once) and tick(ctx) (every tick); top-level `let`
variables keep their values between ticks. ctx.meter(\"loud.short_term_lufs\"),
ctx.param(\"trim.gain_db\"), ctx.set(\"trim.gain_db\", -2.0) (returns the clamped value),
ctx.own(\"target_lufs\"), ctx.time_s, ctx.dt_s, ctx.sample_rate_hz. Helpers: db_to_gain,
gain_to_db, clamp(x, lo, hi), smooth(current, target, time_s), slew(current, target,
max_step). A meter without a value yet reads NaN (test with is_nan). Sandboxed: no import,
no eval, no files; bounded operations per tick, call depth, strings, arrays and maps. A
failing script is reported once with its line:col and stops; its last values stay.";

impl NodeKind for ScriptKind {
    fn name(&self) -> &'static str {
        SCRIPT_KIND
    }

    fn summary(&self) -> &'static str {
        "Rhai control script: reads meters, steers params at a control rate."
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

    /// Reads and compiles the script once; the node carries no audio, its task is the
    /// script.
    fn build_with_control(
        &self,
        config: &NodeConfig<'_>,
        ctx: &BuildContext<'_>,
    ) -> Result<(BuiltNode, Option<Box<dyn ControlTask>>), ConfigError> {
        let script = ScriptSpec::from_config(ctx.node_id, config, ctx.base_dir)
            .map_err(|e| e.into_config_error())?;
        let spec = NodeSpec {
            params: script.params().to_vec(),
            ..NodeSpec::default()
        };
        let task = ScriptTask::new(script, ctx.prepare.sample_rate_hz)
            .map_err(|e| e.into_config_error())?;
        let node = BuiltNode {
            spec,
            processor: Box::new(ScriptProcessor),
        };
        Ok((node, Some(Box::new(task))))
    }
}

/// The audio side of a script node: nothing. Its params live in the engine's param table
/// only so hosts, the CLI and the script itself can set and read them.
#[derive(Debug)]
pub struct ScriptProcessor;

impl Processor for ScriptProcessor {
    fn set_param(&mut self, _id: ParamId, _value: f32) {}

    fn reset(&mut self) {}

    fn process(&mut self, _io: &mut Io<'_>) {}
}
