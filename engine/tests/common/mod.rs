//! Small node kinds for engine tests: the engine knows no DSP, so its tests bring their own.

#![allow(dead_code)]

use std::path::Path;

use lathe_engine::{
    BuildContext, BuiltNode, CompileOptions, CompiledGraph, ConfigError, GraphDoc, GraphError, Io,
    NodeConfig, NodeKind, NodeSpec, ParamId, ParamSpec, PortSpec, PrepareInfo, Processor, Registry,
    Unit, compile,
};
use serde::Deserialize;

pub const RATE_HZ: f64 = 48_000.0;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DelayConfig {
    pub latency: usize,
    pub channels: usize,
    /// Smoothing of the `gain` param.
    pub smoothing_ms: f32,
    /// A structural output scale (changing it is a config change).
    pub scale: f32,
}

impl Default for DelayConfig {
    fn default() -> Self {
        Self {
            latency: 0,
            channels: 2,
            smoothing_ms: 0.0,
            scale: 1.0,
        }
    }
}

/// `tdelay`: delays its input by `latency` frames and declares it; a linear `gain` param
/// (no smoothing) and a `level` meter (last output sample of channel 0).
pub struct TestDelay;

struct TestDelayProc {
    rings: Vec<Vec<f32>>,
    pos: usize,
    gain: lathe_engine::LinearSmoother,
    scale: f32,
}

impl NodeKind for TestDelay {
    fn name(&self) -> &'static str {
        "tdelay"
    }
    fn summary(&self) -> &'static str {
        "test: fixed delay with declared latency"
    }
    fn build(
        &self,
        config: &NodeConfig<'_>,
        _: &BuildContext<'_>,
    ) -> Result<BuiltNode, ConfigError> {
        let c: DelayConfig = config.parse()?;
        if c.channels == 0 {
            return Err(ConfigError::invalid(
                "channels",
                "must be at least 1, found 0",
            ));
        }
        Ok(BuiltNode {
            spec: NodeSpec {
                inputs: vec![PortSpec::new("in", c.channels)],
                outputs: vec![PortSpec::new("out", c.channels)],
                params: vec![
                    ParamSpec::new("gain", Unit::Factor, -4.0, 4.0, 1.0)
                        .smoothing_ms(c.smoothing_ms),
                ],
                meters: vec![lathe_engine::MeterSpec::new(
                    "level",
                    Unit::Factor,
                    "last sample",
                )],
                latency_frames: c.latency,
            },
            processor: Box::new(TestDelayProc {
                rings: vec![vec![0.0; c.latency]; c.channels],
                pos: 0,
                gain: lathe_engine::LinearSmoother::new(1.0, c.smoothing_ms, RATE_HZ),
                scale: c.scale,
            }),
        })
    }
}

impl Processor for TestDelayProc {
    fn set_param(&mut self, _: ParamId, value: f32) {
        self.gain.set_target(value);
    }
    fn reset(&mut self) {
        self.rings.iter_mut().for_each(|r| r.fill(0.0));
        self.pos = 0;
        self.gain.snap();
    }
    fn process(&mut self, io: &mut Io<'_>) {
        let len = self.rings[0].len();
        let start = self.pos;
        let gain_start = self.gain;
        for (ch, ring) in self.rings.iter_mut().enumerate() {
            let mut pos = start;
            self.gain = gain_start;
            for i in 0..io.frames {
                let x = io.inputs[ch][i];
                let y = if len == 0 {
                    x
                } else {
                    let y = ring[pos];
                    ring[pos] = x;
                    pos = (pos + 1) % len;
                    y
                };
                io.outputs[ch][i] = y * self.gain.next() * self.scale;
            }
        }
        if len > 0 {
            self.pos = (start + io.frames) % len;
        }
        let last = io.outputs[0][io.frames - 1];
        io.set_meter(0, last);
    }
}

/// `tsplit`: one stereo input copied to outputs `a` and `b`.
pub struct TestSplit;

struct TestSplitProc;

impl NodeKind for TestSplit {
    fn name(&self) -> &'static str {
        "tsplit"
    }
    fn summary(&self) -> &'static str {
        "test: copies its input to two outputs"
    }
    fn build(&self, _: &NodeConfig<'_>, _: &BuildContext<'_>) -> Result<BuiltNode, ConfigError> {
        Ok(BuiltNode {
            spec: NodeSpec {
                inputs: vec![PortSpec::new("in", 2)],
                outputs: vec![PortSpec::new("a", 2), PortSpec::new("b", 2)],
                ..NodeSpec::default()
            },
            processor: Box::new(TestSplitProc),
        })
    }
}

impl Processor for TestSplitProc {
    fn set_param(&mut self, _: ParamId, _: f32) {}
    fn reset(&mut self) {}
    fn process(&mut self, io: &mut Io<'_>) {
        for ch in 0..4 {
            let src = io.inputs[ch % 2];
            io.outputs[ch].copy_from_slice(src);
        }
    }
}

/// `tmono`: a 1-channel pass-through (for channel mismatch tests).
pub struct TestMono;

impl NodeKind for TestMono {
    fn name(&self) -> &'static str {
        "tmono"
    }
    fn summary(&self) -> &'static str {
        "test: mono pass-through"
    }
    fn build(&self, _: &NodeConfig<'_>, _: &BuildContext<'_>) -> Result<BuiltNode, ConfigError> {
        Ok(BuiltNode {
            spec: NodeSpec {
                inputs: vec![PortSpec::new("in", 1)],
                outputs: vec![PortSpec::new("out", 1)],
                ..NodeSpec::default()
            },
            processor: Box::new(TestSplitProc),
        })
    }
}

/// `tnan`: writes NaN into every output sample.
pub struct TestNan;

struct TestNanProc;

impl NodeKind for TestNan {
    fn name(&self) -> &'static str {
        "tnan"
    }
    fn summary(&self) -> &'static str {
        "test: emits NaN"
    }
    fn build(&self, _: &NodeConfig<'_>, _: &BuildContext<'_>) -> Result<BuiltNode, ConfigError> {
        Ok(BuiltNode {
            spec: NodeSpec {
                inputs: vec![PortSpec::new("in", 2)],
                outputs: vec![PortSpec::new("out", 2)],
                ..NodeSpec::default()
            },
            processor: Box::new(TestNanProc),
        })
    }
}

impl Processor for TestNanProc {
    fn set_param(&mut self, _: ParamId, _: f32) {}
    fn reset(&mut self) {}
    fn process(&mut self, io: &mut Io<'_>) {
        for out in io.outputs.iter_mut() {
            out.fill(f32::NAN);
        }
    }
}

pub fn registry() -> Registry {
    let mut r = Registry::new();
    r.register(TestDelay)
        .register(TestSplit)
        .register(TestMono)
        .register(TestNan);
    r
}

pub fn prepare(max_block: usize) -> PrepareInfo {
    PrepareInfo::new(RATE_HZ, max_block)
}

/// Compiles graph text as if it were the file `name` (in the tests' temp folder).
pub fn compile_text(text: &str, max_block: usize) -> Result<CompiledGraph, GraphError> {
    let doc = GraphDoc::parse(Path::new("test.ron"), text)?;
    compile(&doc, &registry(), &CompileOptions::new(prepare(max_block)))
}

/// Renders planar `input` through a compiled graph in blocks of `block` frames.
pub fn render(compiled: CompiledGraph, input: &[Vec<f32>], block: usize) -> Vec<Vec<f32>> {
    let outs = compiled.info.output_channels();
    let (_ctl, mut engine) = lathe_engine::engine(compiled);
    render_engine(&mut engine, input, outs, block)
}

pub fn render_engine(
    engine: &mut lathe_engine::Engine,
    input: &[Vec<f32>],
    out_channels: usize,
    block: usize,
) -> Vec<Vec<f32>> {
    let frames = input[0].len();
    let mut out = vec![vec![0.0f32; frames]; out_channels];
    let mut pos = 0;
    while pos < frames {
        let n = block.min(frames - pos);
        let ins: Vec<&[f32]> = input.iter().map(|c| &c[pos..pos + n]).collect();
        let mut outs: Vec<&mut [f32]> = out.iter_mut().map(|c| &mut c[pos..pos + n]).collect();
        engine.process(&ins, &mut outs, n);
        pos += n;
    }
    out
}

pub fn impulse(channels: usize, frames: usize, at: usize) -> Vec<Vec<f32>> {
    let mut v = vec![vec![0.0f32; frames]; channels];
    for c in &mut v {
        c[at] = 1.0;
    }
    v
}

pub fn sine(channels: usize, frames: usize, freq_hz: f64) -> Vec<Vec<f32>> {
    (0..channels)
        .map(|_| {
            (0..frames)
                .map(|i| {
                    (0.5 * (2.0 * std::f64::consts::PI * freq_hz * i as f64 / RATE_HZ).sin()) as f32
                })
                .collect()
        })
        .collect()
}
