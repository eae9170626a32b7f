//! The two halves a host holds: [`Engine`] runs on the audio thread, [`Controller`] on
//! any other thread. They talk only through lock-free queues (param changes in, graphs
//! in, finished graphs back out to be freed) and atomics (meters, counters).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::compiled::{BusInfo, GraphInfo};
use crate::control::{ControlError, ControlSurface};
use crate::exec::runtime::{
    CompiledGraph, Handover, NodeFade, Runtime, RuntimeStats, SilentProcessor, fade_from,
};
use crate::exec::tap::{TapPoint, TapSelection};
use crate::meter::MeterBank;

/// How long a graph swap crossfades from the old graph to the new one.
pub const SWAP_CROSSFADE_MS: f64 = 10.0;
/// How long a rebuilt node (config changed), or a whole new graph, runs unheard beside
/// the old one after filling its latency, before the crossfade starts: a fresh
/// processor starts from rest, and a low filter (a 30 Hz high-pass settles with a
/// time constant of about 7.5 ms) would otherwise be heard starting up as a thump.
pub const SWAP_SETTLE_MS: f64 = 100.0;
/// Param changes that can wait for the next block.
pub const PARAM_QUEUE_CAPACITY: usize = 4096;
/// Most host channels on one side.
pub const MAX_HOST_CHANNELS: usize = 64;

/// A param change on its way to the audio thread.
#[derive(Debug, Clone, Copy)]
struct ParamChange {
    generation: u64,
    node: u32,
    param: u32,
    value: f32,
}

/// State both halves read.
#[derive(Debug, Default)]
struct Shared {
    position_frames: AtomicU64,
    /// Generation of the graph the audio thread is running.
    running_generation: AtomicU64,
    /// The node output the host listens to, if any.
    tap: TapSelection,
}

/// Why a swap was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SwapError {
    #[error(
        "the new graph's buses ({new}) differ from the running graph's ({old}); restart to change them"
    )]
    BusesDiffer { old: String, new: String },
    #[error(
        "the new graph was prepared for {new_rate} Hz / {new_block} frames, the engine runs {old_rate} Hz / {old_block} frames"
    )]
    PrepareDiffers {
        old_rate: f64,
        old_block: usize,
        new_rate: f64,
        new_block: usize,
    },
    #[error("a previous swap is still in progress; try again in a moment")]
    Busy,
}

/// Creates the audio-thread and control halves for a compiled graph.
pub fn engine(compiled: CompiledGraph) -> (Controller, Engine) {
    let CompiledGraph { runtime, info, .. } = compiled;
    let (param_tx, param_rx) = rtrb::RingBuffer::new(PARAM_QUEUE_CAPACITY);
    let (graph_tx, graph_rx) = rtrb::RingBuffer::new(2);
    let (trash_tx, trash_rx) = rtrb::RingBuffer::new(4);
    let shared = Arc::new(Shared::default());
    let max_block = info.prepare.max_block_frames;
    let out_channels = info.output_channels();
    let fade_frames =
        ((SWAP_CROSSFADE_MS * 0.001 * info.prepare.sample_rate_hz).round() as usize).max(1);
    let controller = Controller {
        values: info.nodes.iter().map(|n| n.values.clone()).collect(),
        meters: runtime.meters.clone(),
        stats: runtime.stats.clone(),
        info,
        params: param_tx,
        graphs: graph_tx,
        trash: trash_rx,
        shared: shared.clone(),
        generation: 0,
        listening: None,
    };
    let engine = Engine {
        current: runtime,
        fading: None,
        fade_pos: 0,
        fade_warmup: 0,
        fade_frames,
        fade_scratch: vec![0.0; out_channels * max_block].into_boxed_slice(),
        pending_trash: None,
        params: param_rx,
        graphs: graph_rx,
        trash: trash_tx,
        shared,
        max_block,
    };
    (controller, engine)
}

/// The audio-thread half. `process` is real-time safe: no allocation, lock, log or I/O.
pub struct Engine {
    current: Box<Runtime>,
    fading: Option<Box<Runtime>>,
    fade_pos: usize,
    /// Frames the outgoing graph is heard alone before the crossfade (see
    /// [`SWAP_SETTLE_MS`]).
    fade_warmup: usize,
    fade_frames: usize,
    fade_scratch: Box<[f32]>,
    pending_trash: Option<Box<Runtime>>,
    params: rtrb::Consumer<ParamChange>,
    graphs: rtrb::Consumer<Box<Runtime>>,
    trash: rtrb::Producer<Box<Runtime>>,
    shared: Arc<Shared>,
    max_block: usize,
}

impl Engine {
    pub fn max_block_frames(&self) -> usize {
        self.max_block
    }

    /// Clears all state (a new render from the start). Real-time safe.
    pub fn reset(&mut self) {
        self.current.reset();
        self.shared.position_frames.store(0, Ordering::Relaxed);
    }

    /// Processes `frames` frames of any count: split into blocks of at most the prepared
    /// size. `inputs`/`outputs` hold one slice per host channel, at least `frames` long.
    pub fn process(&mut self, inputs: &[&[f32]], outputs: &mut [&mut [f32]], frames: usize) {
        self.process_tapped(inputs, outputs, &mut [], frames);
    }

    /// [`Engine::process`], also copying the node output chosen with
    /// [`Controller::listen`] into `tap` (one slice per channel, at least `frames` long).
    /// Returns how many channels were tapped: 0 when nothing is chosen, or when a block
    /// ran a graph the choice was not made for (it is re-made after a swap).
    pub fn process_tapped(
        &mut self,
        inputs: &[&[f32]],
        outputs: &mut [&mut [f32]],
        tap: &mut [&mut [f32]],
        frames: usize,
    ) -> usize {
        let mut tapped = usize::MAX;
        let _ftz = crate::rt::DenormalGuard::new();
        let mut done = 0;
        while done < frames {
            let n = (frames - done).min(self.max_block);
            self.begin_block();
            let mut ins: [&[f32]; MAX_HOST_CHANNELS] = [&[]; MAX_HOST_CHANNELS];
            for (slot, ch) in ins.iter_mut().zip(inputs) {
                *slot = &ch[done..done + n];
            }
            let in_count = inputs.len().min(MAX_HOST_CHANNELS);
            let out_count = outputs.len().min(MAX_HOST_CHANNELS);
            {
                let mut outs: [&mut [f32]; MAX_HOST_CHANNELS] =
                    std::array::from_fn(|_| Default::default());
                for (slot, ch) in outs.iter_mut().zip(outputs.iter_mut()) {
                    *slot = &mut ch[done..done + n];
                }
                self.current
                    .process(&ins[..in_count], &mut outs[..out_count], n);
                if self.fading.is_some() {
                    self.crossfade(&ins[..in_count], &mut outs[..out_count], n);
                }
            }
            self.shared
                .position_frames
                .store(self.current.position_frames, Ordering::Relaxed);
            let mut count = 0;
            for (dst, src) in tap.iter_mut().zip(self.current.tap.channels(n)) {
                dst[done..done + n].copy_from_slice(src);
                count += 1;
            }
            tapped = tapped.min(count);
            done += n;
        }
        if tapped == usize::MAX { 0 } else { tapped }
    }

    /// Runs the outgoing graph on the same input, heard alone while the new one warms up,
    /// then fades from it to the new one with a raised cosine (gains sum to one: unchanged
    /// paths pass through untouched).
    fn crossfade(&mut self, ins: &[&[f32]], outs: &mut [&mut [f32]], n: usize) {
        let Some(old) = self.fading.as_mut() else {
            return;
        };
        let max_block = self.max_block;
        {
            let mut scratch: [&mut [f32]; MAX_HOST_CHANNELS] =
                std::array::from_fn(|_| Default::default());
            for (slot, chunk) in scratch
                .iter_mut()
                .zip(self.fade_scratch.chunks_mut(max_block))
            {
                *slot = &mut chunk[..n];
            }
            old.process(ins, &mut scratch[..outs.len()], n);
        }
        for (ch, out) in outs.iter_mut().enumerate() {
            let old_out = &self.fade_scratch[ch * max_block..ch * max_block + n];
            for (i, (y, &o)) in out.iter_mut().zip(old_out).enumerate() {
                *y = fade_from(o, *y, self.fade_pos + i, self.fade_warmup, self.fade_frames);
            }
        }
        self.fade_pos += n;
        if self.fade_pos >= self.fade_warmup + self.fade_frames {
            self.pending_trash = self.fading.take();
            self.fade_pos = 0;
        }
    }

    fn begin_block(&mut self) {
        if let Some(old) = self.pending_trash.take()
            && let Err(rtrb::PushError::Full(old)) = self.trash.push(old)
        {
            self.pending_trash = Some(old); // freed once the controller collects
        }
        if self.fading.is_none()
            && self.pending_trash.is_none()
            && let Ok(mut new) = self.graphs.pop()
        {
            let whole_fade = new.take_over(&mut self.current);
            let old = std::mem::replace(&mut self.current, new);
            if let Some(warmup) = whole_fade {
                self.fading = Some(old);
                self.fade_pos = 0;
                self.fade_warmup = warmup;
            } else {
                self.pending_trash = Some(old); // freed off this thread
            }
            self.shared
                .running_generation
                .store(self.current.generation, Ordering::Release);
        }
        let tap = self.shared.tap.get(self.current.generation);
        self.current.tap.select(tap);
        while let Ok(change) = self.params.peek() {
            if change.generation > self.current.generation {
                break; // for a graph still queued: wait for it
            }
            let change = *change;
            let _ = self.params.pop();
            if change.generation == self.current.generation {
                self.current
                    .set_param(change.node, change.param, change.value);
            }
        }
    }
}

/// Decides how `new` takes over from `old` (see [`Controller::swap`]) and allocates the
/// node fade slots it needs, here, off the audio thread. A node is the same node when its
/// id and kind are; it keeps its processor when its config and ports are unchanged too,
/// whatever was added, removed or relinked around it.
fn plan_handover(old: &GraphInfo, new: &GraphInfo, runtime: &mut Runtime) -> Handover {
    let fade_frames =
        ((SWAP_CROSSFADE_MS * 0.001 * new.prepare.sample_rate_hz).round() as usize).max(1);
    let settle_frames = (SWAP_SETTLE_MS * 0.001 * new.prepare.sample_rate_hz).round() as usize;
    let old_index: HashMap<(&str, &str), usize> = old
        .nodes
        .iter()
        .enumerate()
        .map(|(j, o)| ((o.id.as_str(), o.kind.as_str()), j))
        .collect();
    let mut moves = Vec::new();
    let mut fades = Vec::new();
    let mut fresh = Vec::new();
    let mut slots: Vec<Option<NodeFade>> = (0..new.nodes.len()).map(|_| None).collect();
    for (i, n) in new.nodes.iter().enumerate() {
        let Some(&j) = old_index.get(&(n.id.as_str(), n.kind.as_str())) else {
            fresh.push(i as u32);
            continue;
        };
        let o = &old.nodes[j];
        if o.config == n.config && o.spec == n.spec {
            moves.push((i as u32, j as u32));
        } else if o.spec.inputs == n.spec.inputs && o.spec.outputs == n.spec.outputs {
            fades.push((i as u32, j as u32));
            slots[i] = Some(NodeFade {
                old: Box::new(SilentProcessor),
                scratch: vec![0.0; n.spec.output_channels().max(1) * new.prepare.max_block_frames]
                    .into_boxed_slice(),
                pos: 0,
                warmup: n.spec.latency_frames + settle_frames,
                frames: fade_frames,
                active: false,
            });
        } else {
            fresh.push(i as u32);
        }
    }
    if moves.is_empty() && fades.is_empty() && !new.nodes.is_empty() {
        return Handover::Crossfade {
            warmup_frames: new.latency_frames + settle_frames,
        };
    }
    runtime.fades = slots.into_boxed_slice();
    Handover::Nodes {
        moves: moves.into_boxed_slice(),
        fades: fades.into_boxed_slice(),
        fresh: fresh.into_boxed_slice(),
    }
}

/// The control half: resolves paths, clamps values, sends changes and new graphs, reads
/// meters. Use it from any non-audio thread (it is `Send`, not `Sync`).
pub struct Controller {
    info: GraphInfo,
    values: Vec<Vec<f32>>,
    meters: MeterBank,
    stats: Arc<RuntimeStats>,
    params: rtrb::Producer<ParamChange>,
    graphs: rtrb::Producer<Box<Runtime>>,
    trash: rtrb::Consumer<Box<Runtime>>,
    shared: Arc<Shared>,
    generation: u64,
    /// The node output the host listens to (see [`Controller::listen`]).
    listening: Option<String>,
}

impl Controller {
    /// The description of the newest graph (the one changes go to).
    pub fn info(&self) -> &GraphInfo {
        &self.info
    }

    /// Sets param `param` of runtime node `node` (indices into `info()`); clamps.
    pub fn set_param_index(
        &mut self,
        node: usize,
        param: usize,
        value: f64,
    ) -> Result<f32, ControlError> {
        let spec = &self.info.nodes[node].spec.params[param];
        let path = || format!("{}.{}", self.info.nodes[node].id, spec.name);
        if !value.is_finite() {
            return Err(ControlError::NotFinite {
                path: path(),
                value,
            });
        }
        let clamped = spec.clamp(value as f32);
        let change = ParamChange {
            generation: self.generation,
            node: node as u32,
            param: param as u32,
            value: clamped,
        };
        if self.params.push(change).is_err() {
            return Err(ControlError::QueueFull { path: path() });
        }
        self.values[node][param] = clamped;
        Ok(clamped)
    }

    /// Current values of every param, by runtime node.
    pub fn values(&self) -> &[Vec<f32>] {
        &self.values
    }

    /// Replaces the running graph at a block boundary, click-free, keeping every state
    /// the new graph can use:
    /// - every node whose id, kind, config and ports are unchanged keeps running with its
    ///   state (the processor is moved, not copied: envelopes, meters' histories) and
    ///   glides to the new param values, whatever nodes or links were added, removed or
    ///   rerouted around it;
    /// - a node whose config changed is rebuilt: the new processor runs unheard beside
    ///   the old one on the same input for its latency plus [`SWAP_SETTLE_MS`] (it fills
    ///   its lookahead, its filters settle), then the node's output crossfades from the
    ///   old processor to the new one over [`SWAP_CROSSFADE_MS`];
    /// - a new node starts fresh, fully bypassed, and glides in over its bypass
    ///   smoothing time, so inserting a stage is heard as that stage fading in;
    /// - a removed node stops at the swap (bypass it first to fade it out);
    /// - a graph with no node in common with the running one crossfades as a whole, after
    ///   the same warm-up (the new graph's latency plus [`SWAP_SETTLE_MS`]).
    ///
    /// Delay lines of the same edge keep their audio, re-primed from the old line when
    /// their length changed.
    pub fn swap(&mut self, compiled: CompiledGraph) -> Result<(), SwapError> {
        self.collect_garbage();
        let CompiledGraph {
            mut runtime, info, ..
        } = compiled;
        let buses = |i: &GraphInfo| {
            let f = |b: &[BusInfo]| {
                b.iter()
                    .map(|b| format!("{}:{}", b.name, b.channels))
                    .collect::<Vec<_>>()
                    .join(",")
            };
            format!("in {} / out {}", f(&i.inputs), f(&i.outputs))
        };
        if buses(&info) != buses(&self.info) {
            return Err(SwapError::BusesDiffer {
                old: buses(&self.info),
                new: buses(&info),
            });
        }
        if info.prepare != self.info.prepare {
            return Err(SwapError::PrepareDiffers {
                old_rate: self.info.prepare.sample_rate_hz,
                old_block: self.info.prepare.max_block_frames,
                new_rate: info.prepare.sample_rate_hz,
                new_block: info.prepare.max_block_frames,
            });
        }
        runtime.handover = plan_handover(&self.info, &info, &mut runtime);
        runtime.carry_delays = info
            .delays
            .iter()
            .enumerate()
            .filter_map(|(i, d)| {
                self.info
                    .delays
                    .iter()
                    .position(|o| o.key == d.key)
                    .map(|j| (i as u32, j as u32))
            })
            .collect();
        runtime.generation = self.generation + 1;
        let meters = runtime.meters.clone();
        let stats = runtime.stats.clone();
        if let Err(rtrb::PushError::Full(_)) = self.graphs.push(runtime) {
            return Err(SwapError::Busy);
        }
        self.generation += 1;
        self.values = info.nodes.iter().map(|n| n.values.clone()).collect();
        self.info = info;
        self.meters = meters;
        self.stats = stats;
        if let Some(path) = self.listening.take() {
            // The same point in the new graph, if it still has it.
            let _ = self.listen(Some(&path));
        }
        Ok(())
    }

    /// Chooses a node output for [`Engine::process_tapped`] to copy out (`node.port`, or
    /// `node` for its first output), or none. Kept over swaps while the new graph has it.
    /// The error names the node's outputs (or the nodes) to choose from.
    pub fn listen(&mut self, path: Option<&str>) -> Result<(), String> {
        let point = match path {
            Some(p) => Some(TapPoint::resolve(&self.info, p, self.generation)?),
            None => None,
        };
        self.shared.tap.set(point);
        self.listening = path.map(str::to_string);
        Ok(())
    }

    /// The node output chosen with [`Controller::listen`], while the graph has it.
    pub fn listening(&self) -> Option<&str> {
        self.listening.as_deref()
    }

    /// Has the audio thread switched to the newest graph?
    pub fn swap_done(&self) -> bool {
        self.shared.running_generation.load(Ordering::Acquire) == self.generation
    }

    /// Frees graphs the audio thread has finished with. Call now and then.
    pub fn collect_garbage(&mut self) -> usize {
        let mut freed = 0;
        while let Ok(old) = self.trash.pop() {
            drop(old);
            freed += 1;
        }
        freed
    }

    /// The value of meter `index` of the bank (see [`GraphInfo::find_meter`]).
    pub fn meter_index(&self, index: usize) -> f32 {
        self.meters.get(index).map_or(f32::NAN, |m| m.load())
    }

    /// Non-finite samples the engine replaced by silence, per node id (non-zero only).
    pub fn non_finite_report(&self) -> Vec<(String, u64)> {
        self.stats
            .non_finite_per_node
            .iter()
            .zip(&self.info.nodes)
            .map(|(c, n)| (n.id.clone(), c.load(Ordering::Relaxed)))
            .filter(|(_, c)| *c > 0)
            .collect()
    }

    pub fn non_finite_total(&self) -> u64 {
        self.stats.non_finite_total()
    }
}

impl ControlSurface for Controller {
    fn meter(&self, path: &str) -> Result<f32, ControlError> {
        self.info
            .find_meter(path)
            .map(|i| self.meter_index(i))
            .ok_or_else(|| ControlError::UnknownMeter {
                path: path.to_string(),
                suggestion: self.info.suggest_meter(path),
            })
    }

    fn param(&self, path: &str) -> Result<f32, ControlError> {
        self.info
            .find_param(path)
            .map(|(n, p)| self.values[n][p])
            .ok_or_else(|| ControlError::UnknownParam {
                path: path.to_string(),
                suggestion: self.info.suggest_param(path),
            })
    }

    fn set_param(&mut self, path: &str, value: f64) -> Result<f32, ControlError> {
        let (n, p) = self
            .info
            .find_param(path)
            .ok_or_else(|| ControlError::UnknownParam {
                path: path.to_string(),
                suggestion: self.info.suggest_param(path),
            })?;
        self.set_param_index(n, p, value)
    }

    fn sample_rate_hz(&self) -> f64 {
        self.info.prepare.sample_rate_hz
    }

    fn position_frames(&self) -> u64 {
        self.shared.position_frames.load(Ordering::Relaxed)
    }
}
