//! The in-process backend: the live audio side without an audio server. The control loop
//! gets an [`InProcessBackend`]; whoever plays the audio holds the paired
//! [`InProcessDriver`] and calls it period by period, with input buffers it chooses and
//! output buffers it reads: a test stepping frames, or a [`Clock`] thread that paces
//! periods in real time, reading its input from a buffer and recording its output.
//!
//! The driver runs the same [`AudioSide`] the JACK process callback runs, so everything
//! the control loop does (reloads, commands, the monitor, scripts) can be checked here
//! without jackd.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use lathe_engine::GraphInfo;
use lathe_engine::exec::MAX_HOST_CHANNELS;

use super::audio::{AudioSide, AudioStatus, port_names};
use super::backend::{Backend, BackendError};

/// The audio side as it crosses to the driver at start, with the number of channels
/// on each side.
struct Started {
    audio: AudioSide,
    in_channels: usize,
    out_channels: usize,
}

/// The control loop's end of an in-process run.
pub struct InProcessBackend {
    name: String,
    status: Arc<AudioStatus>,
    latency_frames: Arc<AtomicUsize>,
    start_tx: SyncSender<Started>,
    in_ports: Vec<String>,
    out_ports: Vec<String>,
    /// The driver stops when this is set (`Backend::stop`).
    stopped: Arc<AtomicBool>,
}

/// The audio end of an in-process run: processes periods once the backend has started.
pub struct InProcessDriver {
    status: Arc<AudioStatus>,
    latency_frames: Arc<AtomicUsize>,
    start_rx: Receiver<Started>,
    started: Option<Started>,
    stopped: Arc<AtomicBool>,
}

impl InProcessBackend {
    /// A backend named `name` (ports are `name:main_in_1`...) running at `sample_rate_hz`
    /// with periods of at most `buffer_frames`, and the driver that plays it.
    pub fn new(name: &str, sample_rate_hz: u32, buffer_frames: u32) -> (Self, InProcessDriver) {
        let status = AudioStatus::new(sample_rate_hz, buffer_frames);
        let latency_frames = Arc::new(AtomicUsize::new(0));
        let stopped = Arc::new(AtomicBool::new(false));
        let (start_tx, start_rx) = mpsc::sync_channel(1);
        let backend = Self {
            name: name.to_string(),
            status: status.clone(),
            latency_frames: latency_frames.clone(),
            start_tx,
            in_ports: Vec::new(),
            out_ports: Vec::new(),
            stopped: stopped.clone(),
        };
        let driver = InProcessDriver {
            status,
            latency_frames,
            start_rx,
            started: None,
            stopped,
        };
        (backend, driver)
    }
}

impl Backend for InProcessBackend {
    fn describe(&self) -> String {
        format!("in-process client `{}`", self.name)
    }

    fn status(&self) -> &Arc<AudioStatus> {
        &self.status
    }

    fn start(&mut self, info: &GraphInfo, audio: AudioSide) -> Result<(), BackendError> {
        let in_names = port_names(&info.inputs, "in");
        let out_names = port_names(&info.outputs, "out");
        if in_names.len() > MAX_HOST_CHANNELS || out_names.len() > MAX_HOST_CHANNELS {
            return Err(BackendError::Refused(format!(
                "the graph has more than {MAX_HOST_CHANNELS} channels on one side"
            )));
        }
        let started = Started {
            audio,
            in_channels: in_names.len(),
            out_channels: out_names.len(),
        };
        self.start_tx
            .try_send(started)
            .map_err(|_| BackendError::Refused("already started".into()))?;
        let full_name = |short: &String| format!("{}:{short}", self.name);
        self.in_ports = in_names.iter().map(full_name).collect();
        self.out_ports = out_names.iter().map(full_name).collect();
        self.latency_frames
            .store(info.latency_frames, Ordering::Relaxed);
        Ok(())
    }

    fn ports(&self) -> (&[String], &[String]) {
        (&self.in_ports, &self.out_ports)
    }

    fn set_latency(&self, latency_frames: usize) {
        self.latency_frames.store(latency_frames, Ordering::Relaxed);
    }

    fn dsp_load_percent(&self) -> f32 {
        self.status.process.mean_load_percent()
    }

    fn stop(self, _gone: bool) {
        self.stopped.store(true, Ordering::Release);
    }
}

impl InProcessDriver {
    /// Whether the backend has started (the audio side is here).
    pub fn is_started(&mut self) -> bool {
        if self.started.is_none() {
            self.started = self.start_rx.try_recv().ok();
        }
        self.started.is_some()
    }

    /// Channels of the graph's input and output buses, all buses in order (after start).
    pub fn channels(&mut self) -> Option<(usize, usize)> {
        self.is_started();
        self.started
            .as_ref()
            .map(|s| (s.in_channels, s.out_channels))
    }

    /// Processes one period: `ins` one slice per input channel, `outs` one per output
    /// channel, all of `frames` frames. Before start the outputs are silent and false is
    /// returned. Real-time safe once started.
    pub fn process(&mut self, ins: &[&[f32]], outs: &mut [&mut [f32]], frames: usize) -> bool {
        if !self.is_started() {
            for out in outs.iter_mut() {
                out.fill(0.0);
            }
            return false;
        }
        if let Some(started) = self.started.as_mut() {
            started.audio.process(ins, outs, frames);
        }
        true
    }

    /// Plays `frames` frames in periods of the current buffer size: input channel `c` is
    /// `input[c]` (silence where it is missing or shorter), and the output of every
    /// channel is returned. Allocates: for tests.
    pub fn run(&mut self, input: &[Vec<f32>], frames: usize) -> Vec<Vec<f32>> {
        let (n_in, n_out) = self.channels().unwrap_or((0, 0));
        let mut output = vec![vec![0.0f32; frames]; n_out];
        let mut period_in = vec![Vec::new(); n_in];
        let mut done = 0;
        while done < frames {
            let period = (self.status.format().1 as usize).max(1).min(frames - done);
            for (c, buf) in period_in.iter_mut().enumerate() {
                buf.clear();
                buf.resize(period, 0.0);
                if let Some(src) = input.get(c) {
                    let end = src.len().min(done + period);
                    if done < end {
                        buf[..end - done].copy_from_slice(&src[done..end]);
                    }
                }
            }
            let ins: Vec<&[f32]> = period_in.iter().map(Vec::as_slice).collect();
            let mut outs: Vec<&mut [f32]> = output
                .iter_mut()
                .map(|c| &mut c[done..done + period])
                .collect();
            self.process(&ins, &mut outs, period);
            done += period;
        }
        output
    }

    /// What an audio server does when its format changes: the control loop follows
    /// (recompiling for the new rate and period size).
    pub fn set_format(&self, sample_rate_hz: u32, buffer_frames: u32) {
        self.status
            .sample_rate
            .store(sample_rate_hz, Ordering::Release);
        self.status
            .buffer_size
            .store(buffer_frames, Ordering::Release);
    }

    /// The graph latency the backend was last told.
    pub fn latency_frames(&self) -> usize {
        self.latency_frames.load(Ordering::Relaxed)
    }

    /// Counts an xrun, as a server reports one.
    pub fn xrun(&self) {
        self.status.xruns.fetch_add(1, Ordering::Relaxed);
    }

    /// Ends the run from the audio side, as a server going away does.
    pub fn shut_down(&self) {
        self.status.shutdown.store(true, Ordering::Release);
    }

    /// The control loop has stopped the backend.
    pub fn is_stopped(&self) -> bool {
        self.stopped.load(Ordering::Acquire)
    }

    /// Plays in real time on a thread of its own from now on.
    pub fn spawn_clock(self, input: ClockInput, record_frames: usize) -> std::io::Result<Clock> {
        let halt = Arc::new(AtomicBool::new(false));
        let thread_halt = halt.clone();
        let thread = std::thread::Builder::new()
            .name("lathe-clock".into())
            .spawn(move || run_clock(self, input, record_frames, &thread_halt))?;
        Ok(Clock { halt, thread })
    }
}

/// What a [`Clock`] feeds the inputs with.
pub struct ClockInput {
    /// One buffer per input channel (silence for channels without one).
    pub channels: Vec<Vec<f32>>,
    /// Start again at the end; otherwise silence follows.
    pub looped: bool,
}

/// A driver played in real time on its own thread: one period per period length of
/// wall time. A period started more than one period late counts as an xrun.
pub struct Clock {
    halt: Arc<AtomicBool>,
    thread: JoinHandle<(InProcessDriver, Vec<Vec<f32>>)>,
}

impl Clock {
    /// Stops the clock; gives back the driver and the recorded output (from the first
    /// period after start, up to the frames asked for).
    pub fn stop(self) -> (InProcessDriver, Vec<Vec<f32>>) {
        self.halt.store(true, Ordering::Release);
        match self.thread.join() {
            Ok(result) => result,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }
}

/// The clock thread: buffers are sized up front, so periods do not allocate.
fn run_clock(
    mut driver: InProcessDriver,
    input: ClockInput,
    record_frames: usize,
    halt: &AtomicBool,
) -> (InProcessDriver, Vec<Vec<f32>>) {
    let mut recorded: Vec<Vec<f32>> = Vec::new();
    let mut period_in: Vec<Vec<f32>> = Vec::new();
    let mut period_out: Vec<Vec<f32>> = Vec::new();
    let mut position = 0usize;
    let mut deadline = Instant::now();
    while !halt.load(Ordering::Acquire) && !driver.is_stopped() {
        let (rate, block) = driver.status.format();
        let block = (block as usize).max(1);
        let period = Duration::from_secs_f64(block as f64 / f64::from(rate.max(1)));
        deadline += period;
        let now = Instant::now();
        if now > deadline + period {
            driver.xrun();
            deadline = now;
        } else if deadline > now {
            std::thread::sleep(deadline - now);
        }
        let Some((n_in, n_out)) = driver.channels() else {
            continue;
        };
        if recorded.len() != n_out {
            recorded = (0..n_out)
                .map(|_| Vec::with_capacity(record_frames))
                .collect();
        }
        period_in.resize_with(n_in, Vec::new);
        period_out.resize_with(n_out, Vec::new);
        for (c, buf) in period_in.iter_mut().enumerate() {
            buf.resize(block, 0.0);
            let src = input.channels.get(c).map_or(&[][..], Vec::as_slice);
            for (i, x) in buf.iter_mut().enumerate() {
                let at = position + i;
                *x = match (src.len(), input.looped) {
                    (0, _) => 0.0,
                    (len, true) => src[at % len],
                    (_, false) => src.get(at).copied().unwrap_or(0.0),
                };
            }
        }
        for buf in period_out.iter_mut() {
            buf.resize(block, 0.0);
        }
        let ins: [&[f32]; MAX_HOST_CHANNELS] =
            std::array::from_fn(|c| period_in.get(c).map_or(&[][..], Vec::as_slice));
        let mut outs: [&mut [f32]; MAX_HOST_CHANNELS] = std::array::from_fn(|_| Default::default());
        for (slot, buf) in outs.iter_mut().zip(period_out.iter_mut()) {
            *slot = buf.as_mut_slice();
        }
        driver.process(&ins[..n_in], &mut outs[..n_out], block);
        for (rec, out) in recorded.iter_mut().zip(&period_out) {
            let room = record_frames - rec.len();
            rec.extend_from_slice(&out[..room.min(block)]);
        }
        position += block;
    }
    (driver, recorded)
}
