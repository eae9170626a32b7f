//! Codec listening in the monitor (`monitor codec opus:128`, `monitor codec off`): the
//! listener hears the graph's main output as a codec decodes it, loudness matched to the
//! uncoded output, switched with the monitor's click-free ramp.
//!
//! The codec runs on its own worker thread ([`RealtimeCodec`]); the audio thread only
//! copies samples through its lock-free rings. A codec is opened on the control thread and
//! handed to the audio thread through an SPSC queue; the one it replaces goes back through
//! another queue to be freed on the control thread, so the audio thread never allocates or
//! frees. The codec is fed all the time it is installed, and is faded in only once it has
//! played its latency (plus [`SETTLE_FRAMES`]), so the listener never hears its start.
//!
//! Alignment: the coded path is later than the graph's output by the codec's latency `L`.
//! While codec listening is on, the unprocessed A/B path is read `L` frames further back
//! in its delay line too, so A/B stays aligned. A switch crossfades over
//! [`super::SWITCH_RAMP_MS`] between the live output and the coded output `L` frames behind
//! it: switching on, the last `L` frames (about 40 to 120 ms) are heard once more, coded;
//! switching off, they are skipped.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use lathe_codecs::CodecSpec;
use lathe_codecs::realtime::RealtimeCodec;
use rtrb::{Consumer, Producer, RingBuffer};

use super::{LoudnessTracker, MATCH_GATE_LUFS, MAX_MONITOR_CHANNELS, MonitorControls, Ramp};

/// Frames the monitor hands the codec at once (a longer block is cut up).
pub const CODEC_CHUNK_FRAMES: usize = 1024;
/// Frames a new codec plays after its latency before it may be faded in: its first
/// decoded frames are the codec starting up on a signal that began abruptly.
pub const SETTLE_FRAMES: usize = 2048;
/// Codecs in flight from the control thread to the audio thread.
const QUEUE: usize = 4;

/// The control half: what the user asked for and the queues to the running monitor.
#[derive(Debug, Default)]
pub struct CodecControl {
    /// Hear the codec (the ramp's target); false while none is installed.
    pub on: AtomicBool,
    /// Output frames the codec's worker delivered late (played as silence), as counted
    /// by the installed codec.
    pub late_frames: AtomicU64,
    state: Mutex<ControlState>,
}

#[derive(Default)]
struct ControlState {
    /// The codec listened to, kept when the monitor is rebuilt (a new sample rate).
    spec: Option<CodecSpec>,
    port: Option<ControlPort>,
}

impl std::fmt::Debug for ControlState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ControlState")
            .field("spec", &self.spec)
            .finish_non_exhaustive()
    }
}

/// The control thread's end of the queues of one monitor.
struct ControlPort {
    send: Producer<Box<RealtimeCodec>>,
    retired: Consumer<Box<RealtimeCodec>>,
    sample_rate_hz: u32,
    channels: usize,
}

impl CodecControl {
    /// The codec listened to, if any.
    pub fn spec(&self) -> Option<CodecSpec> {
        self.lock().spec
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ControlState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Listens through `spec` (or stops, for `None`): opens the codec here, off the audio
    /// thread, for the running monitor's rate and channels, and hands it over. Frees the
    /// codecs the audio thread has given back. `max_block_frames` is the engine's block.
    pub fn listen(&self, spec: Option<CodecSpec>, max_block_frames: usize) -> Result<(), String> {
        let mut state = self.lock();
        let Some(spec) = spec else {
            state.spec = None;
            self.on.store(false, Ordering::Relaxed);
            return Ok(());
        };
        let port = state
            .port
            .as_mut()
            .ok_or("the monitor has no main output bus to listen to")?;
        while port.retired.pop().is_ok() {}
        if port.channels == 0 || port.channels > 2 {
            return Err(format!(
                "codec listening needs a mono or stereo main output, not {} channels",
                port.channels
            ));
        }
        let codec = RealtimeCodec::open(spec, port.sample_rate_hz, port.channels, max_block_frames)
            .map_err(|e| format!("monitor codec {spec}: {e}"))?;
        port.send
            .push(Box::new(codec))
            .map_err(|_| "a codec change is still in progress; try again".to_string())?;
        state.spec = Some(spec);
        self.on.store(true, Ordering::Relaxed);
        Ok(())
    }

    /// Frees the codecs the audio thread has given back (their worker threads end).
    pub fn collect(&self) {
        if let Some(port) = self.lock().port.as_mut() {
            while port.retired.pop().is_ok() {}
        }
    }

    /// A new monitor's queues replace the old ones; the codec listened to is reopened for
    /// it (by the control thread, [`CodecControl::listen`] with [`CodecControl::spec`]).
    fn attach(&self, port: ControlPort) {
        self.lock().port = Some(port);
    }
}

/// The audio half, inside [`super::Monitor`]. Real-time safe.
#[derive(Debug)]
pub struct MonitorCodec {
    receive: Consumer<Box<RealtimeCodec>>,
    retire: Producer<Box<RealtimeCodec>>,
    current: Option<Box<RealtimeCodec>>,
    /// Frames the current codec has been fed.
    fed_frames: usize,
    pending: Option<Box<RealtimeCodec>>,
    /// Planar coded output of the chunk being processed.
    coded: Box<[f32]>,
    tracker: LoudnessTracker,
    mix: Ramp,
    gain: Ramp,
    /// Latency of the codec being heard (0 without one).
    latency_frames: usize,
}

impl MonitorCodec {
    /// The audio half for a main output of `channels` channels, with its control port
    /// attached to `controls`. Allocates.
    pub fn new(
        controls: &Arc<MonitorControls>,
        channels: usize,
        sample_rate_hz: f64,
        switch_frames: usize,
        match_frames: usize,
    ) -> Self {
        let (send, receive) = RingBuffer::new(QUEUE);
        let (retire, retired) = RingBuffer::new(QUEUE + 1);
        controls.codec.attach(ControlPort {
            send,
            retired,
            sample_rate_hz: sample_rate_hz.round() as u32,
            channels,
        });
        Self {
            receive,
            retire,
            current: None,
            fed_frames: 0,
            pending: None,
            coded: vec![0.0; MAX_MONITOR_CHANNELS * CODEC_CHUNK_FRAMES].into_boxed_slice(),
            tracker: LoudnessTracker::new(channels, sample_rate_hz),
            mix: Ramp::new(0.0, switch_frames),
            gain: Ramp::new(1.0, match_frames),
            latency_frames: 0,
        }
    }

    /// How far the coded path lags the graph's output now (for the A/B path's second tap).
    pub fn latency_frames(&self) -> usize {
        self.latency_frames
    }

    /// Takes a codec the control thread sent, swaps it in once the old one is faded out,
    /// feeds the codec `wet` (`frames` ≤ [`CODEC_CHUNK_FRAMES`] frames of the graph's
    /// output) and sets the ramps' targets for this chunk.
    pub fn prepare(&mut self, controls: &MonitorControls, wet: &[&mut [f32]], frames: usize) {
        if let Ok(codec) = self.receive.pop()
            && let Some(old) = self.pending.replace(codec)
        {
            self.give_back(old);
        }
        if self.pending.is_some() && (self.current.is_none() || self.mix.value == 0.0) {
            if let Some(old) = self.current.take() {
                self.give_back(old);
            }
            self.current = self.pending.take();
            self.fed_frames = 0;
            clear(&mut self.tracker);
            self.latency_frames = self.current.as_ref().map_or(0, |c| c.latency_frames());
        }
        let on = controls.codec.on.load(Ordering::Relaxed);
        if !on && self.mix.value == 0.0 && self.pending.is_none() {
            // Listening ended and the codec is faded out: stop feeding it.
            if let Some(old) = self.current.take() {
                self.give_back(old);
            }
            self.latency_frames = 0;
        }
        let channels = self.tracker.filters.len();
        let Some(codec) = self.current.as_mut() else {
            self.mix.snap(0.0);
            return;
        };
        let mut outs: [&mut [f32]; MAX_MONITOR_CHANNELS] =
            std::array::from_fn(|_| Default::default());
        for (slot, chunk) in outs
            .iter_mut()
            .zip(self.coded.chunks_mut(CODEC_CHUNK_FRAMES))
        {
            *slot = &mut chunk[..frames];
        }
        let mut ins: [&[f32]; MAX_MONITOR_CHANNELS] = [&[]; MAX_MONITOR_CHANNELS];
        for (slot, ch) in ins.iter_mut().zip(wet) {
            *slot = &ch[..frames];
        }
        codec.process(&ins[..channels], &mut outs[..channels], frames);
        self.fed_frames = self.fed_frames.saturating_add(frames);
        controls
            .codec
            .late_frames
            .store(codec.late_frames(), Ordering::Relaxed);
        let settled = self.fed_frames >= codec.latency_frames() + SETTLE_FRAMES;
        let wanted = on && self.pending.is_none();
        self.mix
            .set_target(if wanted && settled { 1.0 } else { 0.0 });
        // The coded output's loudness follows the uncoded output's while matching is on,
        // once the coded tracker has a full window of the codec's real output (a partial
        // window would compare a moment with three seconds).
        let (wet_lufs, coded_lufs) = (controls.loudness().0, self.tracker.lufs());
        let full = self.tracker.filled_slots == self.tracker.slots.len();
        let matching = controls.match_loudness.load(Ordering::Relaxed)
            && wet_lufs > MATCH_GATE_LUFS
            && coded_lufs > MATCH_GATE_LUFS
            && full;
        self.gain.set_target(if matching {
            lathe_engine::db_to_gain(wet_lufs - coded_lufs)
        } else {
            1.0
        });
    }

    /// The codec's share of the output at the next frame (0 = uncoded, 1 = coded).
    pub fn next_mix(&mut self) -> f32 {
        self.mix.next()
    }

    /// Mixes the coded frame `i` of the chunk into `wet` by `mix` (from [`Self::next_mix`]).
    pub fn apply(&mut self, wet: &mut [f32], i: usize, mix: f32) {
        if self.current.is_none() {
            return;
        }
        let mut frame = [0.0f32; MAX_MONITOR_CHANNELS];
        for (ch, f) in frame.iter_mut().enumerate().take(wet.len()) {
            *f = self.coded[ch * CODEC_CHUNK_FRAMES + i];
        }
        // Measure only the codec's real output, not its lead-in silence.
        if self.fed_frames >= self.latency_frames {
            self.tracker.push(&frame[..wet.len()]);
        }
        let gain = self.gain.next();
        if mix > 0.0 {
            for (w, &c) in wet.iter_mut().zip(&frame) {
                *w = *w * (1.0 - mix) + c * gain * mix;
            }
        }
    }

    /// Hands a codec back to the control thread to be freed there. If the queue is full
    /// (it never is: the control thread empties it before each send) it is leaked rather
    /// than freed here.
    fn give_back(&mut self, codec: Box<RealtimeCodec>) {
        if let Err(rtrb::PushError::Full(codec)) = self.retire.push(codec) {
            std::mem::forget(codec);
        }
    }
}

/// Empties a loudness tracker in place (no allocation): a new codec is measured afresh.
fn clear(tracker: &mut LoudnessTracker) {
    tracker.filters.fill(Default::default());
    tracker.slots.fill(0.0);
    tracker.slot = 0;
    tracker.filled_slots = 0;
    tracker.frames_in_slot = 0;
    tracker.current = 0.0;
}
