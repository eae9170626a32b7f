//! The node API: what a node kind declares on the control side, and the processor that
//! runs on the audio thread.
//!
//! A kind is two halves, as in most real-time graph engines:
//! - [`NodeKind::build`] runs off the audio thread. It parses the node's structural config,
//!   may allocate and may fail, and returns a [`NodeSpec`] (ports, params, meters, latency)
//!   together with a ready [`Processor`] sized for the [`PrepareInfo`].
//! - [`Processor`] runs on the audio thread. Its methods must not allocate, lock, log, do
//!   I/O or panic; the shared harness (`harness` feature) proves it for every kind.

use std::fmt;

use crate::config::{ConfigError, NodeConfig};
use crate::meter::MeterCell;

/// Everything a node needs to size itself: fixed for the life of a processor.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PrepareInfo {
    pub sample_rate_hz: f64,
    /// The largest block `process` will ever be called with. Hosts split larger blocks.
    pub max_block_frames: usize,
    /// The host renders offline: `process` may take as long as it needs, and must give
    /// the same output on every run. A kind whose work cannot be real-time safe (a codec)
    /// does it inline then, and on a worker thread otherwise (as a plugin's offline
    /// render mode). False unless the host says so.
    pub offline: bool,
}

impl PrepareInfo {
    pub fn new(sample_rate_hz: f64, max_block_frames: usize) -> Self {
        Self {
            sample_rate_hz,
            max_block_frames,
            offline: false,
        }
    }

    /// The same, for an offline render (see [`PrepareInfo::offline`]).
    pub fn for_offline(mut self) -> Self {
        self.offline = true;
        self
    }

    /// Converts a duration in milliseconds to whole frames at this rate (rounded).
    pub fn ms_to_frames(&self, ms: f64) -> usize {
        (ms * 0.001 * self.sample_rate_hz).round().max(0.0) as usize
    }
}

/// The unit of a param or meter, shown by `lathe nodes` and used for formatting.
/// The name of the param carries the unit too (`gain_db`); this is for display.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Db,
    Dbfs,
    Dbtp,
    Lufs,
    Lu,
    Hz,
    Ms,
    Seconds,
    Ratio,
    Percent,
    Frames,
    /// A plain factor or coefficient (Q, correlation).
    Factor,
    /// 0 = off, 1 = on.
    Toggle,
    /// An index into [`ParamSpec::choices`].
    Choice,
}

impl Unit {
    pub fn label(self) -> &'static str {
        match self {
            Unit::Db => "dB",
            Unit::Dbfs => "dBFS",
            Unit::Dbtp => "dBTP",
            Unit::Lufs => "LUFS",
            Unit::Lu => "LU",
            Unit::Hz => "Hz",
            Unit::Ms => "ms",
            Unit::Seconds => "s",
            Unit::Ratio => ":1",
            Unit::Percent => "%",
            Unit::Frames => "frames",
            Unit::Factor => "",
            Unit::Toggle => "on/off",
            Unit::Choice => "choice",
        }
    }
}

/// Default time a param change takes to settle, when a kind does not say otherwise.
pub const DEFAULT_SMOOTHING_MS: f32 = 20.0;

/// A named scalar parameter of a node: `gain_db`, `band2.freq_hz`.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamSpec {
    /// Stable name, unique within the node, with the unit in it (`attack_ms`).
    pub name: String,
    pub unit: Unit,
    pub min: f32,
    pub max: f32,
    pub default: f32,
    /// How long a change takes to reach its target. The processor applies it.
    pub smoothing_ms: f32,
    /// Names of the values of a [`Unit::Choice`] param, index = value.
    pub choices: Vec<&'static str>,
    pub doc: String,
}

impl ParamSpec {
    pub fn new(name: impl Into<String>, unit: Unit, min: f32, max: f32, default: f32) -> Self {
        Self {
            name: name.into(),
            unit,
            min,
            max,
            default,
            smoothing_ms: DEFAULT_SMOOTHING_MS,
            choices: Vec::new(),
            doc: String::new(),
        }
    }

    /// A 0/1 switch (`bass_mono`), smoothed by the node where it matters.
    pub fn toggle(name: impl Into<String>, default_on: bool) -> Self {
        Self::new(
            name,
            Unit::Toggle,
            0.0,
            1.0,
            if default_on { 1.0 } else { 0.0 },
        )
    }

    /// A choice among named values, stored as the index.
    pub fn choice(name: impl Into<String>, choices: &[&'static str], default: usize) -> Self {
        let mut spec = Self::new(
            name,
            Unit::Choice,
            0.0,
            choices.len().saturating_sub(1) as f32,
            default as f32,
        );
        spec.choices = choices.to_vec();
        spec.smoothing_ms = 0.0;
        spec
    }

    pub fn smoothing_ms(mut self, ms: f32) -> Self {
        self.smoothing_ms = ms;
        self
    }

    pub fn doc(mut self, doc: impl Into<String>) -> Self {
        self.doc = doc.into();
        self
    }

    /// Clamps to the range; choices and toggles are rounded to whole values.
    /// NaN becomes the default so a bad value can never reach the audio path.
    pub fn clamp(&self, value: f32) -> f32 {
        if value.is_nan() {
            return self.default;
        }
        let v = value.clamp(self.min, self.max);
        match self.unit {
            Unit::Toggle | Unit::Choice => v.round(),
            _ => v,
        }
    }

    pub fn contains(&self, value: f64) -> bool {
        value.is_finite() && value >= self.min as f64 && value <= self.max as f64
    }
}

/// A named, read-only value a node publishes (`short_term_lufs`, `gain_reduction_db`).
#[derive(Debug, Clone, PartialEq)]
pub struct MeterSpec {
    pub name: String,
    pub unit: Unit,
    pub doc: String,
}

impl MeterSpec {
    pub fn new(name: impl Into<String>, unit: Unit, doc: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            unit,
            doc: doc.into(),
        }
    }
}

/// A named port: a bus of `channels` channels.
#[derive(Debug, Clone, PartialEq)]
pub struct PortSpec {
    pub name: String,
    pub channels: usize,
    /// Inputs only: must a link feed it? Optional inputs (a `sidechain`) read silence
    /// when unconnected, and the processor can ask [`Io::is_connected`].
    pub required: bool,
}

impl PortSpec {
    pub fn new(name: impl Into<String>, channels: usize) -> Self {
        Self {
            name: name.into(),
            channels,
            required: true,
        }
    }

    pub fn optional(mut self) -> Self {
        self.required = false;
        self
    }

    /// The main input of a node: `in`, `channels` wide.
    pub fn main_in(channels: usize) -> Self {
        Self::new("in", channels)
    }

    /// The main output of a node: `out`, `channels` wide.
    pub fn main_out(channels: usize) -> Self {
        Self::new("out", channels)
    }

    /// An optional `sidechain` input: reads silence when unlinked.
    pub fn sidechain(channels: usize) -> Self {
        Self::new("sidechain", channels).optional()
    }
}

/// The control-side description of one configured node.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct NodeSpec {
    pub inputs: Vec<PortSpec>,
    pub outputs: Vec<PortSpec>,
    pub params: Vec<ParamSpec>,
    pub meters: Vec<MeterSpec>,
    /// Delay the node adds between its inputs and outputs, in frames. The compiler
    /// delays parallel paths by the difference so merges stay sample-aligned.
    pub latency_frames: usize,
}

impl NodeSpec {
    /// The shape of most kinds: one `in` and one `out` port of `channels` channels, no
    /// params, no meters, no latency; the `with_*` builders add the rest.
    pub fn in_out(channels: usize) -> Self {
        Self::with_ports(
            vec![PortSpec::main_in(channels)],
            vec![PortSpec::main_out(channels)],
        )
    }

    /// A spec with these ports and nothing else yet.
    pub fn with_ports(inputs: Vec<PortSpec>, outputs: Vec<PortSpec>) -> Self {
        Self {
            inputs,
            outputs,
            ..Self::default()
        }
    }

    pub fn with_params(mut self, params: Vec<ParamSpec>) -> Self {
        self.params = params;
        self
    }

    pub fn with_meters(mut self, meters: Vec<MeterSpec>) -> Self {
        self.meters = meters;
        self
    }

    pub fn with_latency(mut self, latency_frames: usize) -> Self {
        self.latency_frames = latency_frames;
        self
    }

    /// Adds an input port after the existing ones (a `sidechain`).
    pub fn with_input(mut self, port: PortSpec) -> Self {
        self.inputs.push(port);
        self
    }

    pub fn param_index(&self, name: &str) -> Option<ParamId> {
        self.params
            .iter()
            .position(|p| p.name == name)
            .map(|i| ParamId(i as u32))
    }

    pub fn meter_index(&self, name: &str) -> Option<usize> {
        self.meters.iter().position(|m| m.name == name)
    }

    pub fn input_index(&self, name: &str) -> Option<usize> {
        self.inputs.iter().position(|p| p.name == name)
    }

    pub fn output_index(&self, name: &str) -> Option<usize> {
        self.outputs.iter().position(|p| p.name == name)
    }

    pub fn input_channels(&self) -> usize {
        self.inputs.iter().map(|p| p.channels).sum()
    }

    pub fn output_channels(&self) -> usize {
        self.outputs.iter().map(|p| p.channels).sum()
    }
}

/// Index of a param within its node's [`NodeSpec::params`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ParamId(pub u32);

impl ParamId {
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

impl fmt::Display for ParamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// What [`NodeKind::build`] gets besides the config.
#[derive(Debug, Clone, Copy)]
pub struct BuildContext<'a> {
    pub prepare: PrepareInfo,
    /// The node's id in its graph, for messages.
    pub node_id: &'a str,
    /// Folder of the graph file the node is in: relative paths in configs (scripts,
    /// impulse files) resolve from here.
    pub base_dir: &'a std::path::Path,
}

/// A configured node: its description and its processor.
pub struct BuiltNode {
    pub spec: NodeSpec,
    pub processor: Box<dyn Processor>,
}

/// A kind of node (`eq`, `limiter`, ...), registered in a [`crate::Registry`].
pub trait NodeKind: Send + Sync + 'static {
    /// The name used in graph files (`kind: "eq"`).
    fn name(&self) -> &'static str;

    /// One line for `lathe nodes`.
    fn summary(&self) -> &'static str;

    /// Longer reference text: config fields, ports, params, latency, what it allocates.
    fn doc(&self) -> &'static str {
        ""
    }

    /// Parses and validates `config`, then builds the spec and the processor for `ctx`.
    /// Runs off the audio thread; may allocate. An empty config must be accepted
    /// (every config field has a default) so `lathe nodes` can describe the kind.
    fn build(
        &self,
        config: &NodeConfig<'_>,
        ctx: &BuildContext<'_>,
    ) -> Result<BuiltNode, ConfigError>;

    /// [`NodeKind::build`] for kinds with a control half (a script): the node and the
    /// [`ControlTask`](crate::tasks::ControlTask) hosts tick off the audio thread. The
    /// compiler calls this one; the default builds the node alone.
    fn build_with_control(
        &self,
        config: &NodeConfig<'_>,
        ctx: &BuildContext<'_>,
    ) -> Result<(BuiltNode, Option<Box<dyn crate::tasks::ControlTask>>), ConfigError> {
        Ok((self.build(config, ctx)?, None))
    }
}

/// Audio and context for one call of [`Processor::process`].
///
/// `inputs` and `outputs` list every channel of every port, port after port, each slice
/// `frames` long. Output buffers never alias input buffers. Unconnected optional inputs
/// read silence. Outputs hold garbage on entry: a processor writes every output sample.
pub struct Io<'a> {
    pub frames: usize,
    pub inputs: &'a [&'a [f32]],
    pub outputs: &'a mut [&'a mut [f32]],
    /// Absolute position of the first frame since the processor was reset. Nodes that
    /// update at a control rate count from this so the output does not depend on how
    /// the host splits blocks.
    pub position_frames: u64,
    pub(crate) connected: &'a [bool],
    pub(crate) meters: &'a [MeterCell],
}

impl<'a> Io<'a> {
    /// Builds an `Io` by hand: for hosts, tests and nodes that wrap other processors.
    pub fn new(
        frames: usize,
        inputs: &'a [&'a [f32]],
        outputs: &'a mut [&'a mut [f32]],
        position_frames: u64,
        connected: &'a [bool],
        meters: &'a [MeterCell],
    ) -> Self {
        Self {
            frames,
            inputs,
            outputs,
            position_frames,
            connected,
            meters,
        }
    }

    /// Was input port `port` linked in the graph? (false for a bare optional input)
    pub fn is_connected(&self, port: usize) -> bool {
        self.connected.get(port).copied().unwrap_or(false)
    }

    /// Publishes meter `index` (of [`NodeSpec::meters`]). Lock-free, wait-free.
    /// NaN means "no value yet" (e.g. integrated loudness of silence).
    #[inline]
    pub fn set_meter(&self, index: usize, value: f32) {
        if let Some(cell) = self.meters.get(index) {
            cell.store(value);
        }
    }

    /// Copies input channel `i` to output channel `i` for every channel both sides have.
    pub fn copy_through(&mut self) {
        let frames = self.frames;
        for (out, inp) in self.outputs.iter_mut().zip(self.inputs.iter()) {
            out[..frames].copy_from_slice(&inp[..frames]);
        }
    }
}

/// The audio-thread half of a node.
///
/// No method may allocate, lock, log, do I/O or panic. On a graph swap an unchanged node's
/// processor is moved into the new graph, so its state carries over without copying. `set_param` only records a new
/// target (already clamped to the param's range); the processor smooths toward it over
/// the param's `smoothing_ms`, per sample, so output never depends on block size.
pub trait Processor: Send + 'static {
    /// Sets the target of param `id`. Called at block starts, before `process`.
    fn set_param(&mut self, id: ParamId, value: f32);

    /// Clears all signal state (filter memories, delay lines, envelopes, meters) and snaps
    /// smoothed params to their targets, so output restarts as from a fresh build.
    fn reset(&mut self);

    /// Processes one block of `io.frames` frames (1 ..= max_block_frames).
    fn process(&mut self, io: &mut Io<'_>);
}
