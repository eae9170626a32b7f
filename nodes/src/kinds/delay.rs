//! `delay`: delays a bus by a settable time, for aligning or offsetting paths by hand.
//!
//! This delay is the node's purpose, not processing latency: it is not reported as
//! latency, so the compiler does not compensate it (a node's latency is what the
//! compiler removes; this is a delay the user asked for).
//!
//! - Config: `(channels: 2, max_ms: 1000)`: `max_ms` 0 ..= 60000 sizes the delay line
//!   and is the top of the `delay_ms` range ([`DelayParam`], `lathe nodes delay`).
//! - `delay_ms` is rounded to whole frames. A change crossfades linearly from the old
//!   delay to the new one over [`CROSSFADE_MS`] (no pitch sweep, no click); a change
//!   arriving during a crossfade starts when that one ends.
//! - Latency: 0. Allocates the delay line at build: `channels x max_ms` worth of f32.

use lathe_engine::{
    BuildContext, BuiltNode, ConfigError, Io, NodeConfig, NodeKind, NodeSpec, ParamDecl, ParamId,
    ParamTable, Processor, Unit, params,
};
use serde::Deserialize;

use crate::bus::{DEFAULT_CHANNELS, check_channels};

/// Delay line length when the config does not say.
pub const DEFAULT_MAX_MS: f64 = 1000.0;
/// Longest delay line a config may ask for.
pub const MAX_MAX_MS: f64 = 60_000.0;
/// Crossfade time of a delay change.
pub const CROSSFADE_MS: f32 = 20.0;

params! {
    /// The params of `delay`. The top of `delay_ms` is the config's `max_ms`.
    pub enum DelayParam {
        DelayMs = ParamDecl::new("delay_ms", Unit::Ms, 0.0, DEFAULT_MAX_MS as f32, 0.0)
            .smoothing_ms(CROSSFADE_MS)
            .doc("Delay in ms, rounded to whole frames; changes crossfade."),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DelayConfig {
    pub channels: usize,
    pub max_ms: f64,
}

impl Default for DelayConfig {
    fn default() -> Self {
        Self {
            channels: DEFAULT_CHANNELS,
            max_ms: DEFAULT_MAX_MS,
        }
    }
}

pub struct DelayKind;

impl NodeKind for DelayKind {
    fn name(&self) -> &'static str {
        "delay"
    }

    fn summary(&self) -> &'static str {
        "Deliberate delay of a bus (not latency), changed click-free by crossfade."
    }

    fn doc(&self) -> &'static str {
        "delay: delays a bus; a deliberate delay, not reported as latency.\n\
         Ports: in `in` (channels), out `out` (channels).\n\
         Config: (channels: 2, max_ms: 1000), max_ms 0..60000.\n\
         Params: delay_ms up to max_ms, whole frames; changes crossfade over 20 ms.\n\
         Latency 0. Allocates channels x max_ms of f32 at build."
    }

    fn build(
        &self,
        config: &NodeConfig<'_>,
        ctx: &BuildContext<'_>,
    ) -> Result<BuiltNode, ConfigError> {
        let cfg: DelayConfig = config.parse()?;
        let channels = check_channels(cfg.channels)?;
        if !(0.0..=MAX_MAX_MS).contains(&cfg.max_ms) {
            return Err(ConfigError::invalid(
                "max_ms",
                format!("must be 0..={MAX_MAX_MS} ms, found {}", cfg.max_ms),
            ));
        }
        let rate = ctx.prepare.sample_rate_hz;
        let max_frames = ctx.prepare.ms_to_frames(cfg.max_ms);
        let len = (max_frames + 1).next_power_of_two();
        let delay_ms = DelayParam::DelayMs.decl().with_max(cfg.max_ms as f32);
        let processor = DelayProcessor {
            rate,
            max_frames,
            mask: len - 1,
            line: vec![0.0; channels * len],
            write: 0,
            target: 0,
            current: 0,
            next: 0,
            fade_frames: ctx.prepare.ms_to_frames(CROSSFADE_MS as f64) as u32,
            fade_done: 0,
        };
        Ok(BuiltNode {
            spec: NodeSpec::in_out(channels).with_params(vec![delay_ms.spec()]),
            processor: Box::new(processor),
        })
    }
}

pub struct DelayProcessor {
    rate: f64,
    max_frames: usize,
    /// Line length - 1 (the length is a power of two).
    mask: usize,
    /// `[channel][line]`.
    line: Vec<f32>,
    write: usize,
    /// Delay asked for, in frames.
    target: usize,
    /// Delay playing now, and the one being faded to while `fade_done > 0`.
    current: usize,
    next: usize,
    fade_frames: u32,
    fade_done: u32,
}

impl Processor for DelayProcessor {
    fn set_param(&mut self, id: ParamId, value: f32) {
        if let Some(DelayParam::DelayMs) = DelayParam::from_id(id) {
            let frames = (f64::from(value) * 0.001 * self.rate).round().max(0.0) as usize;
            self.target = frames.min(self.max_frames);
        }
    }

    fn reset(&mut self) {
        self.line.fill(0.0);
        self.write = 0;
        self.current = self.target;
        self.next = self.target;
        self.fade_done = 0;
    }

    fn process(&mut self, io: &mut Io<'_>) {
        let len = self.mask + 1;
        for i in 0..io.frames {
            if self.fade_done == 0 && self.current != self.target {
                if self.fade_frames == 0 {
                    self.current = self.target;
                } else {
                    self.next = self.target;
                    self.fade_done = 1;
                }
            }
            let w = self.write;
            let old_at = (w + len - self.current) & self.mask;
            let new_at = (w + len - self.next) & self.mask;
            let fade = self.fade_done as f32 / self.fade_frames.max(1) as f32;
            for ((out, inp), line) in io
                .outputs
                .iter_mut()
                .zip(io.inputs)
                .zip(self.line.chunks_exact_mut(len))
            {
                line[w] = inp[i];
                out[i] = if self.fade_done == 0 {
                    line[old_at]
                } else {
                    line[old_at] + (line[new_at] - line[old_at]) * fade
                };
            }
            if self.fade_done > 0 {
                if self.fade_done >= self.fade_frames {
                    self.current = self.next;
                    self.fade_done = 0;
                } else {
                    self.fade_done += 1;
                }
            }
            self.write = (w + 1) & self.mask;
        }
    }
}
