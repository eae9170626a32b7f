//! A codec on a real-time path: the encoder and decoder run on a worker thread, the audio
//! thread only copies samples through two lock-free rings.
//!
//! Encoders may allocate or block (LAME, symphonia's MP3 decoder do), so they never run on
//! the audio thread. [`RealtimeCodec::process`] (the audio side) writes its input into an
//! SPSC ring (`rtrb`, preallocated when the codec is opened) and reads the decoded output
//! from another; it never waits, allocates, locks or frees. The worker polls the input ring,
//! runs the [`CodecStream`] and writes the decoded frames back. The audio side plays them
//! at a fixed latency: the codec's own ([`stream_latency_frames`]) plus
//! [`worker_headroom_frames`], the time the worker has to catch up. If the worker is late
//! anyway, the frames it owes play as silence, are counted ([`RealtimeCodec::late_frames`],
//! an atomic a meter reads) and are skipped when they arrive, so the alignment never
//! drifts.
//!
//! Dropping the audio side ends the worker: it sees the rings abandoned within one poll.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use rtrb::{Consumer, Producer, RingBuffer};

use crate::stream::{CodecStream, stream_latency_frames};
use crate::{CodecError, CodecSpec};

/// How often the worker looks for input when it has none.
const POLL: Duration = Duration::from_micros(500);
/// Time the worker is given, beyond one block, to encode and decode what the audio thread
/// wrote: an Opus packet or an MP3 frame takes well under a millisecond of one core here,
/// so 10 ms covers a poll, the work and a scheduler's hiccup.
pub const WORKER_SLACK_MS: f64 = 10.0;
/// Most frames a ring holds beyond the latency and a few blocks: one second at 48 kHz.
const RING_SPARE_FRAMES: usize = 48_000;

/// Extra latency a worker-thread codec adds: one block (the audio thread's block `k` is
/// encoded while block `k + 1` plays) plus [`WORKER_SLACK_MS`].
pub fn worker_headroom_frames(sample_rate_hz: u32, max_block_frames: usize) -> usize {
    max_block_frames + (WORKER_SLACK_MS * 0.001 * f64::from(sample_rate_hz)).round() as usize
}

/// What the audio side and the worker share.
#[derive(Debug, Default)]
struct Shared {
    /// Output frames played as silence because the worker had not delivered them.
    late_frames: AtomicU64,
    /// Input frames dropped because the input ring was full (the worker stalled).
    dropped_frames: AtomicU64,
    /// The codec failed on the worker; the output is silence from then on.
    failed: AtomicBool,
    /// Bumped by the audio side to ask for a fresh codec ([`RealtimeCodec::reset`]).
    reset_asked: AtomicU32,
    /// The last request the worker has carried out.
    reset_done: AtomicU32,
}

/// The audio side of a codec whose work runs on a worker thread. Real-time safe.
pub struct RealtimeCodec {
    channels: usize,
    input: Producer<f32>,
    output: Consumer<f32>,
    shared: Arc<Shared>,
    latency_frames: usize,
    lead_total_frames: usize,
    /// Output frames of silence still to play before the decoded stream starts.
    lead_frames: usize,
    /// Decoded frames that were due and missing: skipped when they come.
    owed_frames: usize,
    /// A reset is under way: silence until the worker has a fresh codec.
    resetting: Option<u32>,
}

impl std::fmt::Debug for RealtimeCodec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RealtimeCodec")
            .field("channels", &self.channels)
            .field("latency_frames", &self.latency_frames)
            .finish_non_exhaustive()
    }
}

impl RealtimeCodec {
    /// Opens the codec and starts its worker, for blocks of at most `max_block_frames`.
    /// The latency is the codec's plus [`worker_headroom_frames`]. Allocates; call it off
    /// the audio thread.
    pub fn open(
        spec: CodecSpec,
        sample_rate_hz: u32,
        channels: usize,
        max_block_frames: usize,
    ) -> Result<Self, CodecError> {
        let latency_frames = stream_latency_frames(spec, sample_rate_hz, channels)?
            + worker_headroom_frames(sample_rate_hz, max_block_frames);
        Self::with_latency(
            spec,
            sample_rate_hz,
            channels,
            max_block_frames,
            latency_frames,
        )
    }

    /// [`RealtimeCodec::open`] at a latency the caller chose (at least the codec's own).
    pub fn with_latency(
        spec: CodecSpec,
        sample_rate_hz: u32,
        channels: usize,
        max_block_frames: usize,
        latency_frames: usize,
    ) -> Result<Self, CodecError> {
        let stream = CodecStream::open(spec, sample_rate_hz, channels)?;
        let delay = stream.delay_frames();
        let ring_frames = latency_frames + 4 * max_block_frames + RING_SPARE_FRAMES;
        let (input, worker_input) = RingBuffer::new(ring_frames * channels);
        let (worker_output, output) = RingBuffer::new(ring_frames * channels);
        let shared = Arc::new(Shared::default());
        let worker = Worker {
            stream,
            input: worker_input,
            output: worker_output,
            shared: shared.clone(),
            spec,
            sample_rate_hz,
            channels,
            pending: Vec::new(),
            decoded: Vec::new(),
            interleaved: Vec::new(),
        };
        std::thread::Builder::new()
            .name(format!("lathe {spec} codec"))
            .spawn(move || worker.run())
            .map_err(|e| CodecError::Library {
                codec: spec.codec,
                operation: "starting the worker thread",
                reason: e.to_string(),
            })?;
        let lead_total_frames = latency_frames.saturating_sub(delay);
        Ok(Self {
            channels,
            input,
            output,
            shared,
            latency_frames,
            lead_total_frames,
            lead_frames: lead_total_frames,
            owed_frames: 0,
            resetting: None,
        })
    }

    pub fn latency_frames(&self) -> usize {
        self.latency_frames
    }

    /// Output frames played as silence because the worker was late, since the start.
    pub fn late_frames(&self) -> u64 {
        self.shared.late_frames.load(Ordering::Relaxed)
    }

    /// Input frames dropped because the worker stalled so long the input ring filled.
    pub fn dropped_frames(&self) -> u64 {
        self.shared.dropped_frames.load(Ordering::Relaxed)
    }

    /// The codec failed on the worker (the output is silence).
    pub fn failed(&self) -> bool {
        self.shared.failed.load(Ordering::Relaxed)
    }

    /// Starts again from silence with a fresh codec (the worker opens it). Real-time safe:
    /// the output is silence until the worker has it.
    pub fn reset(&mut self) {
        let asked = self
            .shared
            .reset_asked
            .load(Ordering::Relaxed)
            .wrapping_add(1);
        self.shared.reset_asked.store(asked, Ordering::Release);
        self.resetting = Some(asked);
    }

    /// Feeds `frames` frames of `inputs` (planar; a missing channel reads silence) to the
    /// codec and writes `frames` frames of its output, `latency_frames` late, to
    /// `outputs`. Never waits, allocates, locks or frees.
    pub fn process(&mut self, inputs: &[&[f32]], outputs: &mut [&mut [f32]], frames: usize) {
        if let Some(asked) = self.resetting {
            if self.shared.reset_done.load(Ordering::Acquire) != asked {
                silence(outputs, 0, frames);
                return;
            }
            // The worker has a fresh codec: what it decoded before is stale.
            let stale = self.output.slots();
            if let Ok(chunk) = self.output.read_chunk(stale) {
                chunk.commit_all();
            }
            self.resetting = None;
            self.lead_frames = self.lead_total_frames;
            self.owed_frames = 0;
        }
        self.write_input(inputs, frames);
        let lead = self.lead_frames.min(frames);
        silence(outputs, 0, lead);
        self.lead_frames -= lead;
        self.skip_owed();
        let due = frames - lead;
        let ready = (self.output.slots() / self.channels).min(due);
        if let Ok(chunk) = self.output.read_chunk(ready * self.channels) {
            let (a, b) = chunk.as_slices();
            for (k, &sample) in a.iter().chain(b).enumerate() {
                let (i, c) = (lead + k / self.channels, k % self.channels);
                if let Some(out) = outputs.get_mut(c) {
                    out[i] = sample;
                }
            }
            chunk.commit_all();
        }
        if ready < due {
            silence(outputs, lead + ready, frames);
            let missing = due - ready;
            self.owed_frames += missing;
            self.shared
                .late_frames
                .fetch_add(missing as u64, Ordering::Relaxed);
        }
    }

    fn write_input(&mut self, inputs: &[&[f32]], frames: usize) {
        let channels = self.channels;
        let room = (self.input.slots() / channels).min(frames);
        if let Ok(chunk) = self.input.write_chunk_uninit(room * channels) {
            let samples = (0..room * channels)
                .map(|k| inputs.get(k % channels).map_or(0.0, |ch| ch[k / channels]));
            chunk.fill_from_iter(samples);
        }
        if room < frames {
            self.shared
                .dropped_frames
                .fetch_add((frames - room) as u64, Ordering::Relaxed);
        }
    }

    /// Drops decoded frames that were played as silence when they were due.
    fn skip_owed(&mut self) {
        if self.owed_frames == 0 {
            return;
        }
        let skip = (self.output.slots() / self.channels).min(self.owed_frames);
        if let Ok(chunk) = self.output.read_chunk(skip * self.channels) {
            chunk.commit_all();
            self.owed_frames -= skip;
        }
    }
}

fn silence(outputs: &mut [&mut [f32]], from: usize, to: usize) {
    for out in outputs.iter_mut() {
        out[from..to].fill(0.0);
    }
}

/// The worker half: owns the codec, allocates freely.
struct Worker {
    stream: CodecStream,
    input: Consumer<f32>,
    output: Producer<f32>,
    shared: Arc<Shared>,
    spec: CodecSpec,
    sample_rate_hz: u32,
    channels: usize,
    /// Decoded samples the output ring had no room for yet.
    pending: Vec<f32>,
    decoded: Vec<f32>,
    interleaved: Vec<f32>,
}

impl Worker {
    fn run(mut self) {
        loop {
            if self.input.is_abandoned() {
                return;
            }
            let asked = self.shared.reset_asked.load(Ordering::Acquire);
            if asked != self.shared.reset_done.load(Ordering::Relaxed) {
                self.restart();
                self.shared.reset_done.store(asked, Ordering::Release);
                continue;
            }
            let worked = self.flush_pending() | self.step();
            if !worked {
                std::thread::sleep(POLL);
            }
        }
    }

    /// Encodes and decodes what the input ring holds, in whole frames.
    fn step(&mut self) -> bool {
        if self.shared.failed.load(Ordering::Relaxed) {
            let all = self.input.slots();
            if let Ok(chunk) = self.input.read_chunk(all) {
                chunk.commit_all();
            }
            return false;
        }
        let whole = self.input.slots() / self.channels * self.channels;
        if whole == 0 {
            return false;
        }
        self.interleaved.clear();
        if let Ok(chunk) = self.input.read_chunk(whole) {
            let (a, b) = chunk.as_slices();
            self.interleaved.extend_from_slice(a);
            self.interleaved.extend_from_slice(b);
            chunk.commit_all();
        }
        self.decoded.clear();
        if self
            .stream
            .push(&self.interleaved, &mut self.decoded)
            .is_err()
        {
            self.shared.failed.store(true, Ordering::Relaxed);
            return false;
        }
        self.pending.extend_from_slice(&self.decoded);
        self.flush_pending();
        true
    }

    /// Moves decoded samples into the output ring as far as it has room.
    fn flush_pending(&mut self) -> bool {
        let n = self.output.slots().min(self.pending.len());
        if n == 0 {
            return false;
        }
        if let Ok(chunk) = self.output.write_chunk_uninit(n) {
            chunk.fill_from_iter(self.pending.drain(..n));
        }
        true
    }

    /// A fresh codec: input written before the request and decoded output not yet
    /// delivered are dropped (the audio side drops what was delivered).
    fn restart(&mut self) {
        let all = self.input.slots();
        if let Ok(chunk) = self.input.read_chunk(all) {
            chunk.commit_all();
        }
        self.pending.clear();
        match CodecStream::open(self.spec, self.sample_rate_hz, self.channels) {
            Ok(stream) => {
                self.stream = stream;
                self.shared.failed.store(false, Ordering::Relaxed);
            }
            Err(_) => self.shared.failed.store(true, Ordering::Relaxed),
        }
    }
}
