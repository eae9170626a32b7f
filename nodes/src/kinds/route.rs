//! `route`: the one place where channel counts change. Links must match channel counts
//! and lathe never up- or down-mixes silently, so splitting a bus into mono channels,
//! merging mono channels into a bus, swapping sides or folding to mono is done here,
//! explicitly.
//!
//! - Config: `(mode: "split", channels: 2, outputs: 2, map: [[1, 0], [0, 1]])`; `mode` is
//!   one of:
//!   - `"split"` (default): in `in` (`channels`, default 2) -> out `out1` .. `outN`
//!     (1 channel each).
//!   - `"merge"`: in `in1` .. `inN` (1 channel each, N = `channels`, default 2) -> out
//!     `out` (N channels).
//!   - `"swap"`: in `in` (2) -> out `out` (2) with left and right exchanged.
//!   - `"mono"`: in `in` (`channels`, default 2) -> out `out` (`outputs` channels, default
//!     = `channels`), every output the mean of the inputs ((L + R) / 2 on stereo, so a
//!     centred sound keeps its level).
//!   - `"map"`: in `in` (columns of `map`) -> out `out` (rows of `map`); `map[o][i]` is the
//!     linear gain from input channel i to output channel o.
//!
//!   `outputs` is only for `"mono"`, `map` only for `"map"`; `channels` is not used by
//!   `"swap"` and, with `"map"`, must equal the row length when given.
//! - Params: none. Meters: none.
//! - Latency: 0. Allocates the routing table at build.

use lathe_engine::{
    BuildContext, BuiltNode, ConfigError, Io, NodeConfig, NodeKind, NodeSpec, ParamId, PortSpec,
    Processor,
};
use serde::Deserialize;

use crate::bus::{DEFAULT_CHANNELS, check_channels};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RouteConfig {
    pub mode: String,
    pub channels: Option<usize>,
    pub outputs: Option<usize>,
    pub map: Option<Vec<Vec<f32>>>,
}

impl Default for RouteConfig {
    fn default() -> Self {
        Self {
            mode: "split".into(),
            channels: None,
            outputs: None,
            map: None,
        }
    }
}

/// One term of the routing: `out[output] += gain * in[input]`.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Term {
    output: usize,
    input: usize,
    gain: f32,
}

/// Ports and routing terms of a config.
struct Plan {
    inputs: Vec<PortSpec>,
    outputs: Vec<PortSpec>,
    terms: Vec<Term>,
}

fn numbered(prefix: &str, n: usize, channels: usize) -> Vec<PortSpec> {
    (1..=n)
        .map(|i| PortSpec::new(format!("{prefix}{i}"), channels))
        .collect()
}

fn identity(n: usize) -> Vec<Term> {
    (0..n)
        .map(|c| Term {
            output: c,
            input: c,
            gain: 1.0,
        })
        .collect()
}

fn plan(cfg: &RouteConfig) -> Result<Plan, ConfigError> {
    if cfg.outputs.is_some() && cfg.mode != "mono" {
        return Err(ConfigError::invalid(
            "outputs",
            format!("only applies to mode \"mono\", found mode \"{}\"", cfg.mode),
        ));
    }
    if cfg.map.is_some() && cfg.mode != "map" {
        return Err(ConfigError::invalid(
            "map",
            format!("only applies to mode \"map\", found mode \"{}\"", cfg.mode),
        ));
    }
    let channels = || check_channels(cfg.channels.unwrap_or(DEFAULT_CHANNELS));
    match cfg.mode.as_str() {
        "split" => {
            let n = channels()?;
            Ok(Plan {
                inputs: vec![PortSpec::main_in(n)],
                outputs: numbered("out", n, 1),
                terms: identity(n),
            })
        }
        "merge" => {
            let n = channels()?;
            Ok(Plan {
                inputs: numbered("in", n, 1),
                outputs: vec![PortSpec::main_out(n)],
                terms: identity(n),
            })
        }
        "swap" => {
            if cfg.channels.is_some_and(|c| c != 2) {
                return Err(ConfigError::invalid(
                    "channels",
                    "mode \"swap\" works on 2 channels; leave `channels` out",
                ));
            }
            let terms = [(0, 1), (1, 0)]
                .map(|(output, input)| Term {
                    output,
                    input,
                    gain: 1.0,
                })
                .to_vec();
            Ok(Plan {
                inputs: vec![PortSpec::main_in(2)],
                outputs: vec![PortSpec::main_out(2)],
                terms,
            })
        }
        "mono" => {
            let n = channels()?;
            let outs = cfg.outputs.unwrap_or(n);
            if outs == 0 || outs > crate::bus::MAX_CHANNELS {
                return Err(ConfigError::invalid(
                    "outputs",
                    format!("must be 1..={}, found {outs}", crate::bus::MAX_CHANNELS),
                ));
            }
            let gain = 1.0 / n as f32;
            let terms = (0..outs)
                .flat_map(|output| {
                    (0..n).map(move |input| Term {
                        output,
                        input,
                        gain,
                    })
                })
                .collect();
            Ok(Plan {
                inputs: vec![PortSpec::main_in(n)],
                outputs: vec![PortSpec::main_out(outs)],
                terms,
            })
        }
        "map" => {
            let map = cfg.map.as_deref().unwrap_or_default();
            let cols = map.first().map_or(0, Vec::len);
            check_channels(map.len()).map_err(|_| {
                ConfigError::invalid(
                    "map",
                    format!(
                        "must have 1..={} rows, found {}",
                        crate::bus::MAX_CHANNELS,
                        map.len()
                    ),
                )
            })?;
            check_channels(cols).map_err(|_| {
                ConfigError::invalid(
                    "map[0]",
                    format!(
                        "must have 1..={} gains, found {cols}",
                        crate::bus::MAX_CHANNELS
                    ),
                )
            })?;
            if let Some(c) = cfg.channels.filter(|c| *c != cols) {
                return Err(ConfigError::invalid(
                    "channels",
                    format!("must equal the {cols} columns of `map`, found {c}"),
                ));
            }
            let mut terms = Vec::new();
            for (output, row) in map.iter().enumerate() {
                if row.len() != cols {
                    return Err(ConfigError::invalid(
                        format!("map[{output}]"),
                        format!("must have {cols} gains like map[0], found {}", row.len()),
                    ));
                }
                for (input, gain) in row.iter().enumerate() {
                    if !gain.is_finite() || gain.abs() > 16.0 {
                        return Err(ConfigError::invalid(
                            format!("map[{output}][{input}]"),
                            format!("must be a gain in -16..=16, found {gain}"),
                        ));
                    }
                    if *gain != 0.0 {
                        terms.push(Term {
                            output,
                            input,
                            gain: *gain,
                        });
                    }
                }
            }
            Ok(Plan {
                inputs: vec![PortSpec::main_in(cols)],
                outputs: vec![PortSpec::main_out(map.len())],
                terms,
            })
        }
        other => Err(ConfigError::invalid(
            "mode",
            format!(
                "must be \"split\", \"merge\", \"swap\", \"mono\" or \"map\", found \"{other}\""
            ),
        )),
    }
}

pub struct RouteKind;

impl NodeKind for RouteKind {
    fn name(&self) -> &'static str {
        "route"
    }

    fn summary(&self) -> &'static str {
        "Channel routing: split, merge, swap, mono fold or a gain matrix (changes channel counts)."
    }

    fn doc(&self) -> &'static str {
        "route: explicit channel routing, the only way to change channel counts.\n\
         Config: (mode: \"split\", channels: 2, outputs: 2, map: [[1, 0], [0, 1]])\n\
         mode \"split\" (default): in `in` (channels) -> out `out1`..`outN` (1 each)\n\
         mode \"merge\": in `in1`..`inN` (1 each, N = channels) -> out `out` (N)\n\
         mode \"swap\":  in `in` (2) -> out `out` (2), left and right exchanged\n\
         mode \"mono\":  in `in` (channels) -> out `out` (outputs, default = channels),\n\
                        each output = mean of the inputs, (L + R) / 2 on stereo\n\
         mode \"map\":   in `in` (columns) -> out `out` (rows), map[o][i] = gain from\n\
                        input i to output o (linear, -16..16)\n\
         No params. Latency 0."
    }

    fn build(
        &self,
        config: &NodeConfig<'_>,
        _ctx: &BuildContext<'_>,
    ) -> Result<BuiltNode, ConfigError> {
        let cfg: RouteConfig = config.parse()?;
        let plan = plan(&cfg)?;
        Ok(BuiltNode {
            spec: NodeSpec {
                inputs: plan.inputs,
                outputs: plan.outputs,
                params: vec![],
                meters: vec![],
                latency_frames: 0,
            },
            processor: Box::new(RouteProcessor { terms: plan.terms }),
        })
    }
}

pub struct RouteProcessor {
    terms: Vec<Term>,
}

impl Processor for RouteProcessor {
    fn set_param(&mut self, _id: ParamId, _value: f32) {}

    fn reset(&mut self) {}

    fn process(&mut self, io: &mut Io<'_>) {
        let frames = io.frames;
        for out in io.outputs.iter_mut() {
            out[..frames].fill(0.0);
        }
        for t in &self.terms {
            let (Some(out), Some(inp)) = (io.outputs.get_mut(t.output), io.inputs.get(t.input))
            else {
                continue;
            };
            for (o, x) in out[..frames].iter_mut().zip(&inp[..frames]) {
                *o += t.gain * x;
            }
        }
    }
}
