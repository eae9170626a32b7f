//! The shared checks every node kind must pass, and the offline driver set up for node
//! tests (a processor over whole signals, with param events at exact frames).
//!
//! A test binary that uses [`check_kind`] must install the allocation checker:
//! ```ignore
//! #[global_allocator]
//! static ALLOC: assert_no_alloc::AllocDisabler = assert_no_alloc::AllocDisabler;
//! ```
//! [`check_no_alloc`] verifies it is installed, so a forgotten line fails loudly instead
//! of passing silently.

use crate::config::NodeConfig;
use crate::meter::MeterCell;
use crate::node::{BuildContext, BuiltNode, NodeKind, NodeSpec, ParamId, PrepareInfo};
use crate::offline::{NodeCall, OfflineRun, SplitPoints};

/// Sample rate the harness runs at unless a case says otherwise.
pub const HARNESS_RATE_HZ: f64 = 48_000.0;
/// Largest block the harness prepares nodes for.
pub const HARNESS_MAX_BLOCK: usize = 512;

/// How the harness checks the declared latency.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LatencyCheck {
    /// An impulse on every input channel: the largest output sample of channel 0 must
    /// come exactly `latency_frames` later.
    ImpulsePeak,
    /// The kind's output is not an impulse response (a source, a meter-only node...):
    /// its own tests cover latency.
    Skip,
}

/// One configuration of a kind to check.
pub struct Case<'a> {
    pub kind: &'a dyn NodeKind,
    /// RON config text, or "" for none.
    pub config: &'a str,
    /// Initial param values by name.
    pub params: &'a [(&'a str, f32)],
    pub latency: LatencyCheck,
}

impl<'a> Case<'a> {
    pub fn new(kind: &'a dyn NodeKind) -> Self {
        Self {
            kind,
            config: "",
            params: &[],
            latency: LatencyCheck::ImpulsePeak,
        }
    }

    pub fn config(mut self, config: &'a str) -> Self {
        self.config = config;
        self
    }

    pub fn params(mut self, params: &'a [(&'a str, f32)]) -> Self {
        self.params = params;
        self
    }

    pub fn latency(mut self, latency: LatencyCheck) -> Self {
        self.latency = latency;
        self
    }
}

/// Builds a node of `case` at `rate` with its initial params applied and state reset.
pub fn build(case: &Case<'_>, prepare: PrepareInfo) -> BuiltNode {
    let config = if case.config.is_empty() {
        NodeConfig::empty()
    } else {
        NodeConfig::from_ron(case.config)
    };
    let ctx = BuildContext {
        prepare,
        node_id: "under_test",
        base_dir: std::path::Path::new("."),
    };
    let mut built = case
        .kind
        .build(&config, &ctx)
        .unwrap_or_else(|e| panic!("{}: build failed: {e}", case.kind.name()));
    for (name, value) in case.params {
        let id = built.spec.param_index(name).unwrap_or_else(|| {
            panic!(
                "{}: no param `{name}` in {:?}",
                case.kind.name(),
                param_names(&built.spec)
            )
        });
        let clamped = built.spec.params[id.index()].clamp(*value);
        built.processor.set_param(id, clamped);
    }
    built.processor.reset();
    built
}

fn param_names(spec: &NodeSpec) -> Vec<&str> {
    spec.params.iter().map(|p| p.name.as_str()).collect()
}

/// A param change at an absolute frame position.
#[derive(Debug, Clone, Copy)]
pub struct ParamEvent {
    pub frame: u64,
    pub param: ParamId,
    pub value: f32,
}

/// Drives a processor over whole signals, the way the executor does: blocks of at most
/// `block_frames`, split further at param events so changes land on exact frames.
/// Returns one Vec per output channel; meters end up in `meters`.
pub fn render(
    built: &mut BuiltNode,
    inputs: &[Vec<f32>],
    block_frames: usize,
    events: &[ParamEvent],
    meters: &[MeterCell],
) -> Vec<Vec<f32>> {
    let frames = inputs.first().map_or(0, |c| c.len());
    render_frames(built, inputs, frames, block_frames, events, meters)
}

/// [`render`] for `frames` frames: also for sources, which have no input to size it.
pub fn render_frames(
    built: &mut BuiltNode,
    inputs: &[Vec<f32>],
    frames: usize,
    block_frames: usize,
    events: &[ParamEvent],
    meters: &[MeterCell],
) -> Vec<Vec<f32>> {
    let in_ch = built.spec.input_channels();
    assert_eq!(
        inputs.len(),
        in_ch,
        "render: wrong number of input channels"
    );
    let mut outputs = vec![vec![0.0f32; frames]; built.spec.output_channels()];
    let connected = vec![true; built.spec.inputs.len()];
    render_into(
        built,
        inputs,
        &mut outputs,
        block_frames,
        events,
        meters,
        &connected,
    );
    outputs
}

/// [`render`] into caller-owned buffers; runs without allocating once the caller's
/// buffers exist (used inside the no-allocation check). The offline driver calls the
/// processor directly: what a test sees is exactly what the processor wrote.
pub fn render_into(
    built: &mut BuiltNode,
    inputs: &[Vec<f32>],
    outputs: &mut [Vec<f32>],
    block_frames: usize,
    events: &[ParamEvent],
    meters: &[MeterCell],
    connected: &[bool],
) {
    let frames = outputs.first().map_or(0, |c| c.len());
    let frames = inputs.first().map_or(frames, |c| c.len());
    let node = NodeCall {
        built,
        connected,
        meters,
    };
    let splits = EventSplits { events, next: 0 };
    OfflineRun::new(node, splits, block_frames).run(inputs, outputs, frames, |_| {});
}

/// Param events as split points: each is applied (clamped to its range) at its frame.
struct EventSplits<'a> {
    events: &'a [ParamEvent],
    next: usize,
}

impl SplitPoints<NodeCall<'_>> for EventSplits<'_> {
    fn due(&mut self, position_frames: u64, node: &mut NodeCall<'_>) -> Option<u64> {
        while let Some(e) = self
            .events
            .get(self.next)
            .filter(|e| e.frame <= position_frames)
        {
            let clamped = node.built.spec.params[e.param.index()].clamp(e.value);
            node.built.processor.set_param(e.param, clamped);
            self.next += 1;
        }
        self.events.get(self.next).map(|e| e.frame)
    }
}

/// Uniform white noise in [-1, 1) from a xorshift64 generator: deterministic, cheap,
/// and the same for every test that asks for the same seed.
#[derive(Debug, Clone)]
pub struct WhiteNoise {
    state: u64,
}

impl WhiteNoise {
    /// The generator for `seed` (any value: it is mixed, so 0 works too).
    pub fn new(seed: u64) -> Self {
        Self {
            state: 0x9E37_79B9_7F4A_7C15u64 ^ (seed + 1).wrapping_mul(0x2545_F491_4F6C_DD1D),
        }
    }

    /// The next value, a multiple of 2^-23.
    pub fn next_value(&mut self) -> f32 {
        self.state ^= self.state << 13;
        self.state ^= self.state >> 7;
        self.state ^= self.state << 17;
        (self.state >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0
    }
}

/// `frames` values of [`WhiteNoise`] for `seed`.
pub fn white_noise(seed: u64, frames: usize) -> Vec<f32> {
    let mut noise = WhiteNoise::new(seed);
    (0..frames).map(|_| noise.next_value()).collect()
}

/// Deterministic test signal: bursts of noise at varied levels, silence, a full-scale
/// stretch and a low sine, different on every channel.
pub fn test_signal(channels: usize, frames: usize) -> Vec<Vec<f32>> {
    (0..channels)
        .map(|ch| {
            let mut generator = WhiteNoise::new(ch as u64);
            (0..frames)
                .map(|i| {
                    let noise = generator.next_value();
                    let t = i as f32 / HARNESS_RATE_HZ as f32;
                    let sine = (2.0 * std::f32::consts::PI * 55.0 * t).sin();
                    match (i * 8 / frames.max(1)) as u32 {
                        0 => 0.25 * noise,
                        1 => 0.0,
                        2 => 0.9 * noise,
                        3 => 0.5 * sine + 0.05 * noise,
                        4 => {
                            if (i / 200) % 2 == 0 {
                                1.0
                            } else {
                                -1.0
                            }
                        }
                        5 => 0.01 * noise,
                        6 => 0.0,
                        _ => 0.6 * noise * sine,
                    }
                })
                .collect()
        })
        .collect()
}

/// Param changes spread over a signal: each param moves to a point inside its range
/// twice, so smoothing paths are exercised at arbitrary frames.
pub fn param_sweep_events(spec: &NodeSpec, frames: usize) -> Vec<ParamEvent> {
    let mut events = Vec::new();
    for (i, p) in spec.params.iter().enumerate() {
        if p.name == "bypass" {
            continue;
        }
        let span = p.max - p.min;
        for (k, frac) in [(1u64, 0.3f32), (2, 0.7)] {
            let frame = (frames as u64 * k) / 3 + 37 * i as u64 + 11;
            let mut value = p.min + span * frac;
            if p.unit == crate::Unit::Toggle || p.unit == crate::Unit::Choice {
                value = value.round();
            }
            events.push(ParamEvent {
                frame,
                param: ParamId(i as u32),
                value,
            });
        }
    }
    events.sort_by_key(|e| e.frame);
    events
}

/// Runs every shared check on `case`.
pub fn check_kind(case: &Case<'_>) {
    check_block_size_invariance(case);
    check_reset_determinism(case);
    if case.latency == LatencyCheck::ImpulsePeak {
        check_latency(case);
    }
    check_finite_at_extremes(case);
    check_no_alloc(case);
}

fn prepare() -> PrepareInfo {
    PrepareInfo::new(HARNESS_RATE_HZ, HARNESS_MAX_BLOCK)
}

const CHECK_FRAMES: usize = 24_000;

/// Output is bit-identical for block sizes 1, 7, 64 and the prepared maximum, with
/// param changes landing mid-block.
pub fn check_block_size_invariance(case: &Case<'_>) {
    let name = case.kind.name();
    let mut reference: Option<Vec<Vec<f32>>> = None;
    for block in [HARNESS_MAX_BLOCK, 64, 7, 1] {
        let mut built = build(case, prepare());
        let input = test_signal(built.spec.input_channels(), CHECK_FRAMES);
        let events = param_sweep_events(&built.spec, CHECK_FRAMES);
        let meters = meters_for(&built.spec);
        let out = render_frames(&mut built, &input, CHECK_FRAMES, block, &events, &meters);
        match &reference {
            None => reference = Some(out),
            Some(r) => {
                for (ch, (a, b)) in r.iter().zip(&out).enumerate() {
                    if let Some(i) = a
                        .iter()
                        .zip(b)
                        .position(|(x, y)| x.to_bits() != y.to_bits())
                    {
                        panic!(
                            "{name}: block size {block} differs from {HARNESS_MAX_BLOCK} at \
                             channel {ch} frame {i}: {} vs {}",
                            b[i], a[i]
                        );
                    }
                }
            }
        }
    }
}

/// After `reset()`, the same input gives the same output as a fresh build.
pub fn check_reset_determinism(case: &Case<'_>) {
    let name = case.kind.name();
    let mut built = build(case, prepare());
    let input = test_signal(built.spec.input_channels(), CHECK_FRAMES);
    let meters = meters_for(&built.spec);
    let first = render_frames(&mut built, &input, CHECK_FRAMES, 256, &[], &meters);
    built.processor.reset();
    let second = render_frames(&mut built, &input, CHECK_FRAMES, 256, &[], &meters);
    for (ch, (a, b)) in first.iter().zip(&second).enumerate() {
        if let Some(i) = a
            .iter()
            .zip(b)
            .position(|(x, y)| x.to_bits() != y.to_bits())
        {
            panic!("{name}: output after reset differs at channel {ch} frame {i}");
        }
    }
}

/// An impulse comes out exactly `latency_frames` later (largest sample of channel 0).
pub fn check_latency(case: &Case<'_>) {
    let name = case.kind.name();
    let mut built = build(case, prepare());
    let frames = 8192;
    let at = 1000;
    let mut input = vec![vec![0.0f32; frames]; built.spec.input_channels()];
    for ch in &mut input {
        ch[at] = 0.5;
    }
    let meters = meters_for(&built.spec);
    let out = render(&mut built, &input, 256, &[], &meters);
    let peak = out[0]
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.abs().total_cmp(&b.1.abs()))
        .map(|(i, _)| i)
        .expect("at least one output channel");
    assert_eq!(
        peak as isize - at as isize,
        built.spec.latency_frames as isize,
        "{name}: measured latency differs from the declared {} frames",
        built.spec.latency_frames
    );
}

/// Every param at its minimum, then at its maximum, with hostile input: output finite.
pub fn check_finite_at_extremes(case: &Case<'_>) {
    let name = case.kind.name();
    for pick_max in [false, true] {
        let mut built = build(case, prepare());
        let spec = built.spec.clone();
        for (i, p) in spec.params.iter().enumerate() {
            let v = if pick_max { p.max } else { p.min };
            built.processor.set_param(ParamId(i as u32), p.clamp(v));
        }
        let mut input = test_signal(spec.input_channels(), CHECK_FRAMES);
        for ch in &mut input {
            for (i, x) in ch.iter_mut().enumerate() {
                if i % 997 == 0 {
                    *x = 1.0e4; // far over full scale
                }
            }
        }
        let meters = meters_for(&spec);
        let out = render_frames(&mut built, &input, CHECK_FRAMES, 128, &[], &meters);
        for (ch, c) in out.iter().enumerate() {
            if let Some(i) = c.iter().position(|x| !x.is_finite()) {
                panic!(
                    "{name}: non-finite output {} at channel {ch} frame {i} with params at {}",
                    c[i],
                    if pick_max { "max" } else { "min" }
                );
            }
        }
    }
}

/// `process`, `set_param` and `reset` never allocate or free.
pub fn check_no_alloc(case: &Case<'_>) {
    use assert_no_alloc::{assert_no_alloc, reset_violation_count, violation_count};
    let name = case.kind.name();
    // The violation counter is global: checks running on parallel test threads would
    // disturb each other's counts, so they take turns.
    static TURN: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _turn = TURN.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    // Self-check: the allocator must be installed, or this check would prove nothing.
    reset_violation_count();
    assert_no_alloc(|| drop(std::hint::black_box(vec![0u8; 16])));
    assert!(
        violation_count() > 0,
        "check_no_alloc: install `assert_no_alloc::AllocDisabler` as the global allocator"
    );
    reset_violation_count();

    let mut built = build(case, prepare());
    let spec = built.spec.clone();
    let input = test_signal(spec.input_channels(), CHECK_FRAMES);
    let mut outputs = vec![vec![0.0f32; CHECK_FRAMES]; spec.output_channels()];
    let events = param_sweep_events(&spec, CHECK_FRAMES);
    let meters = meters_for(&spec);
    let connected = vec![true; spec.inputs.len()];
    assert_no_alloc(|| {
        for block in [HARNESS_MAX_BLOCK, 1, 33] {
            render_into(
                &mut built,
                &input,
                &mut outputs,
                block,
                &events,
                &meters,
                &connected,
            );
        }
        built.processor.reset();
    });
    let count = violation_count();
    reset_violation_count();
    assert_eq!(count, 0, "{name}: {count} allocations on the audio path");
}

/// Meter cells for a spec, all "no value".
pub fn meters_for(spec: &NodeSpec) -> Vec<MeterCell> {
    (0..spec.meters.len()).map(|_| MeterCell::new()).collect()
}
