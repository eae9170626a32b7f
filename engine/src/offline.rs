//! The one offline driver: runs whole signals through a graph or through a single node,
//! in calls that end at every control point, so what lands at a frame lands exactly there
//! whatever the call size.
//!
//! The loop is generic over what processes a call ([`CallProcessor`]: a graph's
//! [`Engine`], or a node's bare [`Processor`](crate::Processor)) and what decides where calls split
//! ([`SplitPoints`]: the graph's [`ControlTasks`], a test's param events, or nothing).
//! Every offline host uses it: `lathe render` streams through [`GraphRender`], album
//! renders and deliveries use [`render_compensated`] (pad with the latency in silence,
//! run, drop the first latency frames), and the node test harness drives a raw processor
//! with [`OfflineRun::run`] (no guard between the loop and the processor).
//!
//! ```text
//! while pos < end {
//!     next = splits.due(pos, processor)       // control work due at pos, next split
//!     n = min(max_call, end - pos, next - pos)
//!     processor.process(pos, n, ...)
//!     pos += n
//! }
//! ```

use crate::compiled::GraphInfo;
use crate::exec::CompiledGraph;
use crate::exec::{Controller, Engine};
use crate::meter::MeterCell;
use crate::node::{BuiltNode, Io};
use crate::tasks::ControlTasks;

/// Most channels one side of a call may have: the loop slices them on the stack.
pub const MAX_CALL_CHANNELS: usize = crate::exec::MAX_HOST_CHANNELS;

/// What processes one call of the loop.
pub trait CallProcessor {
    /// Processes `frames` frames starting at `position_frames`: one slice per input and
    /// output channel, each `frames` long.
    fn process(
        &mut self,
        position_frames: u64,
        frames: usize,
        inputs: &[&[f32]],
        outputs: &mut [&mut [f32]],
    );
}

/// What decides where calls split, and does the control work due there.
pub trait SplitPoints<P: ?Sized> {
    /// Does what is due at `position_frames` (control ticks, param events; it may steer
    /// `processor`) and returns the next frame a call must end at, if any.
    fn due(&mut self, position_frames: u64, processor: &mut P) -> Option<u64>;
}

/// Calls split only at the call size.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoSplits;

impl<P: ?Sized> SplitPoints<P> for NoSplits {
    fn due(&mut self, _: u64, _: &mut P) -> Option<u64> {
        None
    }
}

/// A processor and its split points, with the frame they have reached.
///
/// Streaming hosts ask [`OfflineRun::next_call_frames`] how long the next call is, then
/// hand exactly that many frames to [`OfflineRun::process`]; [`OfflineRun::run`] does
/// both over whole buffers. Both make the same calls, so they write the same samples.
#[derive(Debug)]
pub struct OfflineRun<P, S> {
    pub processor: P,
    pub splits: S,
    max_call_frames: usize,
    position_frames: u64,
}

impl<P: CallProcessor, S: SplitPoints<P>> OfflineRun<P, S> {
    /// Starts at frame 0; calls are at most `max_call_frames` long (at least 1).
    pub fn new(processor: P, splits: S, max_call_frames: usize) -> Self {
        Self {
            processor,
            splits,
            max_call_frames: max_call_frames.max(1),
            position_frames: 0,
        }
    }

    /// Frames processed so far.
    pub fn position_frames(&self) -> u64 {
        self.position_frames
    }

    /// Does the control work due at the current frame and returns the length of the next
    /// call: at most `remaining_frames` and the call size, ending at the next split point.
    /// Call it exactly once before each [`OfflineRun::process`], while frames are left.
    pub fn next_call_frames(&mut self, remaining_frames: usize) -> usize {
        let at = self.position_frames;
        let mut frames = self.max_call_frames.min(remaining_frames);
        if let Some(next) = self.splits.due(at, &mut self.processor).filter(|&f| f > at) {
            frames = frames.min(usize::try_from(next - at).unwrap_or(usize::MAX));
        }
        frames
    }

    /// Processes one call of `frames` frames (what [`OfflineRun::next_call_frames`] said).
    pub fn process(&mut self, frames: usize, inputs: &[&[f32]], outputs: &mut [&mut [f32]]) {
        self.processor
            .process(self.position_frames, frames, inputs, outputs);
        self.position_frames += frames as u64;
    }

    /// Runs `frames` frames of whole buffers (each at least `frames` long, at most
    /// [`MAX_CALL_CHANNELS`] per side), calling `on_call` with each call's length. Does
    /// not allocate.
    pub fn run<I: AsRef<[f32]>, O: AsMut<[f32]>>(
        &mut self,
        inputs: &[I],
        outputs: &mut [O],
        frames: usize,
        mut on_call: impl FnMut(usize),
    ) {
        assert!(
            inputs.len() <= MAX_CALL_CHANNELS && outputs.len() <= MAX_CALL_CHANNELS,
            "an offline call takes at most {MAX_CALL_CHANNELS} channels per side"
        );
        let out_count = outputs.len();
        let mut pos = 0;
        while pos < frames {
            let n = self.next_call_frames(frames - pos);
            let mut ins: [&[f32]; MAX_CALL_CHANNELS] = [&[]; MAX_CALL_CHANNELS];
            for (slot, ch) in ins.iter_mut().zip(inputs) {
                *slot = &ch.as_ref()[pos..pos + n];
            }
            let mut outs: [&mut [f32]; MAX_CALL_CHANNELS] =
                std::array::from_fn(|_| <&mut [f32]>::default());
            for (slot, ch) in outs.iter_mut().zip(outputs.iter_mut()) {
                *slot = &mut ch.as_mut()[pos..pos + n];
            }
            self.process(n, &ins[..inputs.len()], &mut outs[..out_count]);
            on_call(n);
            pos += n;
        }
    }
}

/// Runs `inputs` (each `frames` long) through `run`, compensating `latency_frames`: the
/// run goes on over as many frames of silence and the first `latency_frames` of each of
/// its `output_channels` outputs are dropped, so the outputs are aligned with the inputs
/// and as long. `on_call` gets each call's length.
pub fn render_compensated<P: CallProcessor, S: SplitPoints<P>>(
    run: &mut OfflineRun<P, S>,
    inputs: Vec<Vec<f32>>,
    frames: usize,
    latency_frames: usize,
    output_channels: usize,
    on_call: impl FnMut(usize),
) -> Vec<Vec<f32>> {
    let total = frames + latency_frames;
    let padded: Vec<Vec<f32>> = inputs
        .into_iter()
        .map(|mut c| {
            c.resize(total, 0.0);
            c
        })
        .collect();
    let mut outputs = vec![vec![0.0f32; total]; output_channels];
    run.run(&padded, &mut outputs, total, on_call);
    for c in &mut outputs {
        c.drain(..latency_frames);
    }
    outputs
}

/// One node's processor, called directly (no guard in between, so tests see exactly
/// what it writes), with its meters and which input ports are connected.
pub struct NodeCall<'a> {
    pub built: &'a mut BuiltNode,
    pub connected: &'a [bool],
    pub meters: &'a [MeterCell],
}

impl CallProcessor for NodeCall<'_> {
    fn process(
        &mut self,
        position_frames: u64,
        frames: usize,
        inputs: &[&[f32]],
        outputs: &mut [&mut [f32]],
    ) {
        // Io ties every borrow to one lifetime: reborrow the outputs for this call.
        let count = outputs.len().min(MAX_CALL_CHANNELS);
        let mut outs: [&mut [f32]; MAX_CALL_CHANNELS] =
            std::array::from_fn(|_| <&mut [f32]>::default());
        for (slot, out) in outs.iter_mut().zip(outputs.iter_mut()) {
            *slot = &mut **out;
        }
        let mut io = Io::new(
            frames,
            inputs,
            &mut outs[..count],
            position_frames,
            self.connected,
            self.meters,
        );
        self.built.processor.process(&mut io);
    }
}

/// A compiled graph's engine, run in the caller's thread.
pub struct GraphCall {
    engine: Engine,
}

impl CallProcessor for GraphCall {
    fn process(&mut self, _: u64, frames: usize, inputs: &[&[f32]], outputs: &mut [&mut [f32]]) {
        self.engine.process(inputs, outputs, frames);
    }
}

/// A graph's control tasks, ticked at their exact frames against its [`Controller`]: the
/// params they set land at that frame.
pub struct TaskSplits {
    pub controller: Controller,
    pub tasks: ControlTasks,
}

impl SplitPoints<GraphCall> for TaskSplits {
    fn due(&mut self, position_frames: u64, _: &mut GraphCall) -> Option<u64> {
        if self
            .tasks
            .next_tick_frame()
            .is_some_and(|f| f <= position_frames)
        {
            self.tasks.tick_due(position_frames, &mut self.controller);
        }
        self.tasks.next_tick_frame()
    }
}

/// A compiled graph rendering offline: its engine and control tasks from frame 0.
///
/// A task that fails is stopped and logged by the runner; the render goes on with the
/// values it last set.
pub struct GraphRender {
    info: GraphInfo,
    run: OfflineRun<GraphCall, TaskSplits>,
}

impl std::fmt::Debug for GraphRender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GraphRender")
            .field("position_frames", &self.run.position_frames())
            .field("tasks", &self.run.splits.tasks)
            .finish_non_exhaustive()
    }
}

impl GraphRender {
    /// Starts `compiled` (and its control tasks) at frame 0, in calls of at most
    /// `max_call_frames` (the engine splits them into blocks of the prepared size).
    pub fn new(mut compiled: CompiledGraph, max_call_frames: usize) -> Self {
        let tasks = compiled.take_control_tasks();
        let info = compiled.info.clone();
        let (controller, engine) = crate::engine(compiled);
        Self {
            info,
            run: OfflineRun::new(
                GraphCall { engine },
                TaskSplits { controller, tasks },
                max_call_frames,
            ),
        }
    }

    pub fn info(&self) -> &GraphInfo {
        &self.info
    }

    /// Frames of latency the caller compensates: silence fed after the input, as many
    /// frames dropped from the start of the output.
    pub fn latency_frames(&self) -> usize {
        self.info.latency_frames
    }

    pub fn input_channels(&self) -> usize {
        self.info.input_channels()
    }

    pub fn output_channels(&self) -> usize {
        self.info.output_channels()
    }

    /// See [`OfflineRun::next_call_frames`]: ticks the tasks due now.
    pub fn next_call_frames(&mut self, remaining_frames: usize) -> usize {
        self.run.next_call_frames(remaining_frames)
    }

    /// Processes one call: one slice per input and output channel, in bus order, each as
    /// long as [`GraphRender::next_call_frames`] said.
    pub fn process(&mut self, inputs: &[&[f32]], outputs: &mut [&mut [f32]]) {
        let frames = outputs
            .first()
            .map(|c| c.len())
            .or_else(|| inputs.first().map(|c| c.len()))
            .unwrap_or(0);
        self.run.process(frames, inputs, outputs);
    }

    /// Renders `inputs` (one per input channel, each `frames` long) with the latency
    /// compensated; see [`render_compensated`].
    pub fn render(
        &mut self,
        inputs: Vec<Vec<f32>>,
        frames: usize,
        on_call: impl FnMut(usize),
    ) -> Vec<Vec<f32>> {
        let (latency, channels) = (self.latency_frames(), self.output_channels());
        render_compensated(&mut self.run, inputs, frames, latency, channels, on_call)
    }

    /// Control tasks that stopped since the last call (a script that failed), each once:
    /// the CLI reports them at the end of a render and `--strict` refuses the output.
    pub fn take_task_reports(&mut self) -> Vec<crate::TaskReport> {
        self.run.splits.tasks.take_reports()
    }

    /// Ends the render: logs the nodes that produced non-finite samples, and returns the
    /// channel count of each output bus, in bus order.
    pub fn finish(self) -> Vec<usize> {
        for (node, count) in self.run.splits.controller.non_finite_report() {
            tracing::warn!(
                "node `{node}` produced {count} non-finite samples, replaced by silence"
            );
        }
        self.info.outputs.iter().map(|b| b.channels).collect()
    }
}
