//! The audio-side form of a compiled graph: a buffer pool, a flat list of ops, and the
//! nodes' processors. Running it walks the ops in order; it never sees petgraph.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::compiled::{GraphInfo, Op};
use crate::exec::delay::DelayLine;
use crate::exec::tap::TapBuffer;
use crate::meter::MeterBank;
use crate::node::{Io, ParamId, PrepareInfo, Processor};
use crate::smooth::LinearSmoother;
use crate::tasks::ControlTasks;

/// Most channels one node may have on each side.
pub const MAX_NODE_CHANNELS: usize = 64;

/// A compiled graph: the runtime for the audio thread and its description.
///
/// It lives beside the runtime it carries: the compiler builds it (compile depends on
/// exec, its target) and the executor takes it apart ([`crate::exec::engine`]) without
/// naming anything of the compiler.
pub struct CompiledGraph {
    pub(crate) runtime: Box<Runtime>,
    pub info: GraphInfo,
    /// The control tasks of its nodes, in schedule order, until a host takes them.
    pub(crate) tasks: ControlTasks,
}

impl CompiledGraph {
    /// Takes the graph's control tasks out (in schedule order), for the host to tick off
    /// the audio thread. Take them before handing the graph to [`crate::engine`] or
    /// [`crate::Controller::swap`], which leave them out.
    pub fn take_control_tasks(&mut self) -> ControlTasks {
        std::mem::take(&mut self.tasks)
    }
}

impl std::fmt::Debug for CompiledGraph {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompiledGraph")
            .field("info", &self.info)
            .finish_non_exhaustive()
    }
}

/// Bypass of one node: a crossfade between its output and its input delayed by its
/// latency, for every output channel that has a matching input channel.
#[derive(Clone)]
pub struct Bypass {
    pub amount: LinearSmoother,
    /// (input channel index, output channel index) pairs within the node.
    pub pairs: Box<[(u32, u32)]>,
    /// One line per pair, `latency_frames` long: keeps the dry path aligned.
    pub dry: Box<[DelayLine]>,
    /// Output channels with no dry counterpart: faded to silence when bypassed.
    pub unpaired: Box<[u32]>,
}

/// A node whose config changed in a swap: its old processor keeps running beside the
/// new one on the same inputs, heard alone while the new one warms up (a fresh
/// processor holds silence in its lookahead and its filters start from rest), then
/// crossfaded to the new one.
pub struct NodeFade {
    /// Holds a placeholder until the swap moves the old processor in.
    pub old: Box<dyn Processor>,
    /// Old processor's output, `channels * max_block`.
    pub scratch: Box<[f32]>,
    /// Frames since the swap.
    pub pos: usize,
    /// Frames the new processor runs unheard before the crossfade starts.
    pub warmup: usize,
    /// Length of the crossfade.
    pub frames: usize,
    pub active: bool,
}

/// A processor that outputs silence: a placeholder while a slot waits for a real one.
pub struct SilentProcessor;

impl Processor for SilentProcessor {
    fn set_param(&mut self, _: ParamId, _: f32) {}
    fn reset(&mut self) {}
    fn process(&mut self, io: &mut Io<'_>) {
        for out in io.outputs.iter_mut() {
            out.fill(0.0);
        }
    }
}

/// How a new runtime takes over from the running one.
pub enum Handover {
    /// The graphs share nodes: move unchanged processors across (exact state, whatever
    /// else changed around them), crossfade changed ones at node level, glide new ones in
    /// from bypass. The old runtime stops at once.
    Nodes {
        /// (new node, old node): processor moved.
        moves: Box<[(u32, u32)]>,
        /// (new node, old node): old processor moved into the new node's fade slot.
        fades: Box<[(u32, u32)]>,
        /// New nodes (or nodes whose ports changed): start fresh, fully bypassed, and
        /// glide to their bypass value.
        fresh: Box<[u32]>,
    },
    /// Nothing in common: run both runtimes, the old one heard alone for `warmup_frames`
    /// while the new one fills its latency and settles, then crossfade the whole output.
    Crossfade { warmup_frames: usize },
}

/// A node on the audio side.
pub struct RtNode {
    pub processor: Box<dyn Processor>,
    pub in_bufs: Box<[u32]>,
    pub out_bufs: Box<[u32]>,
    pub connected: Box<[bool]>,
    pub meter_start: usize,
    pub meter_count: usize,
    /// Params the processor knows; index `bypass_param` goes to `bypass`.
    pub bypass_param: u32,
    pub bypass: Bypass,
    /// The graph's param values for this node (bypass last): re-applied as targets after
    /// a state hand-over so an edited value glides from the carried one.
    pub values: Box<[f32]>,
}

/// Counters the audio thread publishes for the host.
#[derive(Debug, Default)]
pub struct RuntimeStats {
    /// Non-finite samples replaced by silence, per node (index = runtime node).
    pub non_finite_per_node: Box<[AtomicU64]>,
}

impl RuntimeStats {
    pub fn new(nodes: usize) -> Self {
        Self {
            non_finite_per_node: (0..nodes).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    pub fn non_finite_total(&self) -> u64 {
        self.non_finite_per_node
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .sum()
    }
}

/// A compiled graph ready for the audio thread.
pub struct Runtime {
    pub generation: u64,
    pub prepare: PrepareInfo,
    pub pool: Box<[f32]>,
    pub ops: Box<[Op]>,
    pub nodes: Box<[RtNode]>,
    pub delays: Box<[DelayLine]>,
    pub meters: MeterBank,
    pub stats: Arc<RuntimeStats>,
    /// Scratch channel for bypass's delayed dry signal.
    pub scratch: Box<[f32]>,
    pub position_frames: u64,
    /// Filled by the controller on a swap: how to take over, and (new line, old line)
    /// delay lines keyed by the same edge whose audio carries over.
    pub handover: Handover,
    pub carry_delays: Box<[(u32, u32)]>,
    /// Per node: a fade slot, present only for nodes that will crossfade on a swap.
    pub fades: Box<[Option<NodeFade>]>,
    /// A copy of one node output for the host (see [`crate::exec::tap`]).
    pub tap: TapBuffer,
}

impl Runtime {
    /// Applies a param target. Real-time safe.
    pub fn set_param(&mut self, node: u32, param: u32, value: f32) {
        let Some(n) = self.nodes.get_mut(node as usize) else {
            return;
        };
        if param == n.bypass_param {
            n.bypass.amount.set_target(value);
        } else if param < n.bypass_param {
            n.processor.set_param(ParamId(param), value);
        }
    }

    /// Clears every node, delay line and meter position.
    pub fn reset(&mut self) {
        for n in self.nodes.iter_mut() {
            n.processor.reset();
            n.bypass.amount.snap();
            n.bypass.dry.iter_mut().for_each(DelayLine::clear);
        }
        self.delays.iter_mut().for_each(DelayLine::clear);
        self.position_frames = 0;
    }

    /// Takes over from `old` as planned in `handover`: moves processors, arms node fades,
    /// carries delay-line audio. Returns `Some(warmup_frames)` when the whole output must
    /// crossfade from `old` (which then keeps running); otherwise `old` is finished. No
    /// allocation.
    pub fn take_over(&mut self, old: &mut Runtime) -> Option<usize> {
        for &(new_i, old_i) in self.carry_delays.iter() {
            if let (Some(d), Some(od)) = (
                self.delays.get_mut(new_i as usize),
                old.delays.get(old_i as usize),
            ) {
                d.take_history_from(od);
            }
        }
        self.position_frames = old.position_frames;
        let (moves, fades, fresh) = match &self.handover {
            Handover::Nodes {
                moves,
                fades,
                fresh,
            } => (moves, fades, fresh),
            Handover::Crossfade { warmup_frames } => return Some(*warmup_frames),
        };
        for &new_i in fresh.iter() {
            if let Some(n) = self.nodes.get_mut(new_i as usize) {
                n.bypass.amount.ramp_from(1.0);
            }
        }
        for &(new_i, old_i) in moves.iter() {
            let (Some(n), Some(o)) = (
                self.nodes.get_mut(new_i as usize),
                old.nodes.get_mut(old_i as usize),
            ) else {
                continue;
            };
            std::mem::swap(&mut n.processor, &mut o.processor);
            n.bypass.amount = o.bypass.amount;
            for (d, od) in n.bypass.dry.iter_mut().zip(o.bypass.dry.iter()) {
                d.take_history_from(od);
            }
            // The moved processor holds the old targets: glide to this graph's values.
            for (i, &v) in n.values.iter().enumerate() {
                if (i as u32) < n.bypass_param {
                    n.processor.set_param(ParamId(i as u32), v);
                } else {
                    n.bypass.amount.set_target(v);
                }
            }
        }
        for &(new_i, old_i) in fades.iter() {
            let (Some(Some(fade)), Some(o)) = (
                self.fades.get_mut(new_i as usize),
                old.nodes.get_mut(old_i as usize),
            ) else {
                continue;
            };
            std::mem::swap(&mut fade.old, &mut o.processor);
            fade.pos = 0;
            fade.active = true;
        }
        None
    }

    fn max_block(&self) -> usize {
        self.prepare.max_block_frames
    }

    /// Runs one block of `frames` (<= max block) from host inputs to host outputs.
    pub fn process(&mut self, inputs: &[&[f32]], outputs: &mut [&mut [f32]], frames: usize) {
        debug_assert!(frames <= self.max_block());
        let stride = self.max_block();
        let pool = self.pool.as_mut_ptr();
        let pool_len = self.pool.len();
        // SAFETY (for every `chan`/`chan_mut` below): buffer indices come from the
        // compiler's allocation, each < pool_len / stride, and an op never reads and
        // writes the same buffer except `Add`'s destination, which is distinct from its
        // source. A node's output buffers are distinct from each other and from its
        // inputs. Slices never outlive the op that made them.
        let chan = |b: u32| -> &[f32] {
            debug_assert!((b as usize + 1) * stride <= pool_len);
            unsafe { std::slice::from_raw_parts(pool.add(b as usize * stride), frames) }
        };
        let chan_mut = |b: u32| -> &mut [f32] {
            debug_assert!((b as usize + 1) * stride <= pool_len);
            unsafe { std::slice::from_raw_parts_mut(pool.add(b as usize * stride), frames) }
        };
        for op in self.ops.iter() {
            match *op {
                Op::Input { host_ch, dst } => match inputs.get(host_ch as usize) {
                    Some(src) => chan_mut(dst).copy_from_slice(&src[..frames]),
                    None => chan_mut(dst).fill(0.0),
                },
                Op::Copy { src, dst } => chan_mut(dst).copy_from_slice(chan(src)),
                Op::Add { src, dst } => {
                    let s = chan(src);
                    chan_mut(dst).iter_mut().zip(s).for_each(|(d, x)| *d += x);
                }
                Op::Delay {
                    line,
                    src,
                    dst,
                    add,
                } => {
                    if let Some(d) = self.delays.get_mut(line as usize) {
                        d.process(chan(src), chan_mut(dst), add);
                    }
                }
                Op::Process { node } => {
                    let Some(n) = self.nodes.get_mut(node as usize) else {
                        continue;
                    };
                    let mut in_store = SliceList::<&[f32]>::new();
                    for &b in n.in_bufs.iter() {
                        in_store.push(chan(b));
                    }
                    let ins = in_store.as_slice();
                    let meters = self
                        .meters
                        .get(n.meter_start..n.meter_start + n.meter_count)
                        .unwrap_or(&[]);
                    {
                        // `Io` ties the slice list's borrow to the slices' lifetime, so the
                        // list used for processing is a separate one from the list below.
                        let mut out_store = SliceList::<&mut [f32]>::new();
                        for &b in n.out_bufs.iter() {
                            out_store.push(chan_mut(b));
                        }
                        let mut io = Io::new(
                            frames,
                            ins,
                            out_store.as_mut_slice(),
                            self.position_frames,
                            &n.connected,
                            meters,
                        );
                        n.processor.process(&mut io);
                    }
                    if let Some(Some(fade)) = self.fades.get_mut(node as usize)
                        && fade.active
                    {
                        run_node_fade(
                            fade,
                            n,
                            ins,
                            frames,
                            self.position_frames,
                            meters,
                            &chan_mut,
                        );
                    }
                    let mut out_store = SliceList::<&mut [f32]>::new();
                    for &b in n.out_bufs.iter() {
                        out_store.push(chan_mut(b));
                    }
                    let outs = out_store.as_mut_slice();
                    apply_bypass(&mut n.bypass, ins, outs, &mut self.scratch[..frames]);
                    let mut bad = 0u64;
                    for out in outs.iter_mut() {
                        bad += sanitize(out);
                    }
                    if bad > 0
                        && let Some(c) = self.stats.non_finite_per_node.get(node as usize)
                    {
                        c.fetch_add(bad, Ordering::Relaxed);
                    }
                    if self.tap.node() == Some(node) {
                        self.tap.capture(outs);
                    }
                }
                Op::Output { src, host_ch } => {
                    if let Some(out) = outputs.get_mut(host_ch as usize) {
                        out[..frames].copy_from_slice(chan(src));
                    }
                }
                Op::OutputSilence { host_ch } => {
                    if let Some(out) = outputs.get_mut(host_ch as usize) {
                        out[..frames].fill(0.0);
                    }
                }
            }
        }
        self.position_frames += frames as u64;
    }
}

/// Runs a changed node's old processor on the same inputs; its output is heard alone
/// until the new processor has warmed up, then faded to the new processor's (raised
/// cosine: the gains sum to one).
fn run_node_fade<'a>(
    fade: &mut NodeFade,
    n: &RtNode,
    ins: &[&'a [f32]],
    frames: usize,
    position_frames: u64,
    meters: &[crate::meter::MeterCell],
    chan_mut: &impl Fn(u32) -> &'a mut [f32],
) {
    let stride = fade.scratch.len() / n.out_bufs.len().max(1);
    {
        let mut outs: [&mut [f32]; MAX_NODE_CHANNELS] = std::array::from_fn(|_| Default::default());
        for (slot, chunk) in outs.iter_mut().zip(fade.scratch.chunks_mut(stride.max(1))) {
            *slot = &mut chunk[..frames];
        }
        let out_count = n.out_bufs.len();
        let mut io = Io::new(
            frames,
            ins,
            &mut outs[..out_count],
            position_frames,
            &n.connected,
            meters,
        );
        fade.old.process(&mut io);
    }
    for (ch, &b) in n.out_bufs.iter().enumerate() {
        let new = chan_mut(b);
        let old = &fade.scratch[ch * stride..ch * stride + frames];
        for (i, (y, &o)) in new.iter_mut().zip(old).enumerate() {
            *y = fade_from(o, *y, fade.pos + i, fade.warmup, fade.frames);
        }
    }
    fade.pos += frames;
    if fade.pos >= fade.warmup + fade.frames {
        fade.active = false;
    }
}

/// Frame `pos` (counted from the swap) of a fade from `old` to `new` that starts after
/// `warmup` frames of `old` alone and lasts `frames` frames. Until the fade starts the
/// new side is not even multiplied in, so whatever a warming-up processor outputs
/// (non-finite values included) is never heard.
#[inline]
pub fn fade_from(old: f32, new: f32, pos: usize, warmup: usize, frames: usize) -> f32 {
    if pos <= warmup {
        return old;
    }
    let g = crossfade_gain(pos - warmup, frames);
    new * g + old * (1.0 - g)
}

/// Gain of the incoming side at frame `pos` of a raised-cosine fade of `frames` frames.
#[inline]
pub fn crossfade_gain(pos: usize, frames: usize) -> f32 {
    let t = (pos as f64 / frames.max(1) as f64).min(1.0);
    (0.5 - 0.5 * (std::f64::consts::PI * t).cos()) as f32
}

/// Mixes the node's delayed input into its outputs by the bypass amount. The dry delay
/// lines run every block so switching bypass on is seamless.
fn apply_bypass(b: &mut Bypass, ins: &[&[f32]], outs: &mut [&mut [f32]], scratch: &mut [f32]) {
    let steady = !b.amount.is_smoothing();
    let amount = b.amount.value();
    if steady && amount == 0.0 {
        for (&(i, _), line) in b.pairs.iter().zip(b.dry.iter_mut()) {
            if line.delay_frames() > 0 {
                line.process(ins[i as usize], scratch, false);
            }
        }
        return;
    }
    let frames = scratch.len();
    let start = b.amount;
    for (&(i, o), line) in b.pairs.iter().zip(b.dry.iter_mut()) {
        line.process(ins[i as usize], scratch, false);
        let mut ramp = start;
        for (y, &dry) in outs[o as usize].iter_mut().zip(scratch.iter()) {
            let a = ramp.next();
            *y += (dry - *y) * a;
        }
    }
    for &o in b.unpaired.iter() {
        let mut ramp = start;
        for y in outs[o as usize].iter_mut() {
            *y *= 1.0 - ramp.next();
        }
    }
    b.amount.skip(frames);
}

/// Replaces non-finite samples with silence; returns how many there were. It runs on
/// every node output of every block, so the common case is a read-only count (no
/// stores, vectorised, 8 lanes wide where AVX2 is present) and only a block that has a
/// bad sample is rewritten.
#[inline]
fn sanitize(buf: &mut [f32]) -> u64 {
    let bad = count_non_finite(buf);
    if bad > 0 {
        for x in buf.iter_mut() {
            if !x.is_finite() {
                *x = 0.0;
            }
        }
    }
    u64::from(bad)
}

/// Number of NaN and infinite samples: those whose exponent bits are all set.
#[inline]
fn count_non_finite(buf: &[f32]) -> u32 {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2, checked just above.
            return unsafe { count_non_finite_avx2(buf) };
        }
    }
    count_non_finite_portable(buf)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn count_non_finite_avx2(buf: &[f32]) -> u32 {
    count_non_finite_portable(buf)
}

#[inline(always)]
fn count_non_finite_portable(buf: &[f32]) -> u32 {
    const EXPONENT: u32 = 0x7f80_0000;
    buf.iter()
        .map(|x| u32::from(x.to_bits() & EXPONENT == EXPONENT))
        .sum()
}

/// A fixed-capacity list of channel slices on the stack. Only the entries pushed are
/// initialised, so building one costs what it holds, not [`MAX_NODE_CHANNELS`].
struct SliceList<T> {
    items: [std::mem::MaybeUninit<T>; MAX_NODE_CHANNELS],
    len: usize,
}

impl<T> SliceList<T> {
    #[inline]
    fn new() -> Self {
        Self {
            items: [const { std::mem::MaybeUninit::uninit() }; MAX_NODE_CHANNELS],
            len: 0,
        }
    }

    /// Adds an item; beyond capacity it is dropped (the compiler rejects such nodes).
    #[inline]
    fn push(&mut self, item: T) {
        if let Some(slot) = self.items.get_mut(self.len) {
            slot.write(item);
            self.len += 1;
        }
    }

    #[inline]
    fn as_slice(&self) -> &[T] {
        // SAFETY: the first `len` items were written by `push`; MaybeUninit<T> has T's layout.
        unsafe { std::slice::from_raw_parts(self.items.as_ptr().cast::<T>(), self.len) }
    }

    #[inline]
    fn as_mut_slice(&mut self) -> &mut [T] {
        // SAFETY: as in `as_slice`.
        unsafe { std::slice::from_raw_parts_mut(self.items.as_mut_ptr().cast::<T>(), self.len) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitize_counts_and_silences_exactly_the_non_finite_samples() {
        // Every odd length up to 67 (vector bodies and tails), bad values at varied
        // places, against the plain `is_finite` reference.
        let specials = [f32::NAN, f32::INFINITY, f32::NEG_INFINITY, -f32::NAN];
        for len in 0..68 {
            for bad_every in [1usize, 3, 7, 1000] {
                let mut buf: Vec<f32> = (0..len)
                    .map(|i| {
                        if i % bad_every == bad_every - 1 {
                            specials[i % specials.len()]
                        } else {
                            [f32::MAX, -f32::MAX, 1e-40, 0.5, -0.0][i % 5]
                        }
                    })
                    .collect();
                let want_bad = buf.iter().filter(|x| !x.is_finite()).count() as u64;
                let want: Vec<f32> = buf
                    .iter()
                    .map(|&x| if x.is_finite() { x } else { 0.0 })
                    .collect();
                assert_eq!(sanitize(&mut buf), want_bad, "len {len}");
                assert_eq!(
                    buf.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
                    want.iter().map(|x| x.to_bits()).collect::<Vec<_>>()
                );
            }
        }
    }
}
