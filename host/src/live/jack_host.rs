//! The JACK side of `lathe run`: the client, one port per bus channel, the process
//! handler that runs the engine and the monitor, server notifications, and latency
//! reporting.
//!
//! The process handler owns the ports and the running [`Stage`]; a new stage (after a
//! buffer-size or sample-rate change) arrives through a lock-free queue and the old one
//! goes back the same way, to be freed on the control thread.

use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

use jack::jack_sys as sys;
use lathe_engine::exec::engine::MAX_HOST_CHANNELS;
use lathe_engine::{BusInfo, Engine, GraphInfo};

use super::monitor::{MAX_DRY_DELAY_FRAMES, MAX_MONITOR_CHANNELS, Monitor, MonitorControls};

/// What the audio thread runs: the engine and the monitor after it.
pub struct Stage {
    pub engine: Engine,
    pub monitor: Monitor,
    /// The soloed node output (`solo` on the console), one prepared block per channel.
    solo: Box<[f32]>,
}

impl Stage {
    pub fn new(engine: Engine, monitor: Monitor) -> Self {
        let solo = vec![0.0; MAX_MONITOR_CHANNELS * engine.max_block_frames()].into_boxed_slice();
        Self {
            engine,
            monitor,
            solo,
        }
    }

    /// Runs the engine and the monitor on one JACK period. Real-time safe.
    fn process(
        &mut self,
        ins: &[&[f32]],
        outs: &mut [&mut [f32]],
        main: (Range<usize>, Range<usize>),
        frames: usize,
    ) {
        let block = self.engine.max_block_frames();
        let mut solo: [&mut [f32]; MAX_MONITOR_CHANNELS] =
            std::array::from_fn(|_| Default::default());
        // A period longer than the prepared block (before the graph is recompiled for a
        // new buffer size) is played without solo.
        let room = if frames <= block {
            MAX_MONITOR_CHANNELS
        } else {
            0
        };
        for (slot, chunk) in solo.iter_mut().zip(self.solo.chunks_mut(block)).take(room) {
            *slot = &mut chunk[..frames];
        }
        let tapped = self
            .engine
            .process_tapped(ins, outs, &mut solo[..room], frames);
        let solo: [&[f32]; MAX_MONITOR_CHANNELS] = solo.map(|s| &*s);
        let main_in = ins.get(main.0).unwrap_or(&[]);
        if let Some(main_out) = outs.get_mut(main.1) {
            self.monitor
                .process(main_in, main_out, &solo[..tapped], frames);
        }
    }
}

/// Matches JACK's audio port type (`32 bit float mono audio`).
const AUDIO_TYPE_PATTERN: &str = "audio";

/// Longest wait for the server to close the client on exit.
const STOP_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

/// Stages in flight between the control thread and the process callback.
const STAGE_QUEUE: usize = 2;

/// Events the server reports, read by the control thread.
#[derive(Debug, Default)]
pub struct HostFlags {
    pub xruns: AtomicU64,
    pub shutdown: AtomicBool,
    pub buffer_size: AtomicU32,
    pub sample_rate: AtomicU32,
    /// lathe's own time in the process callback (engine and monitor), measured around
    /// it: what lathe costs, apart from the server's scheduling and context switches
    /// that JACK's DSP load also counts.
    pub process: ProcessTime,
}

/// Time spent in lathe's process callback, accumulated by the audio thread.
#[derive(Debug, Default)]
pub struct ProcessTime {
    pub total_ns: AtomicU64,
    pub periods: AtomicU64,
    pub max_ns: AtomicU64,
    /// Periods whose processing alone took longer than the period lasts: the xruns
    /// lathe itself would cause.
    pub over_budget: AtomicU64,
    /// Length of the last period, in ns.
    pub period_ns: AtomicU64,
}

impl ProcessTime {
    /// Records one callback. Real-time safe (relaxed atomics).
    fn record(&self, spent_ns: u64, period_ns: u64) {
        self.total_ns.fetch_add(spent_ns, Ordering::Relaxed);
        self.periods.fetch_add(1, Ordering::Relaxed);
        self.max_ns.fetch_max(spent_ns, Ordering::Relaxed);
        self.period_ns.store(period_ns, Ordering::Relaxed);
        if spent_ns > period_ns {
            self.over_budget.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// `mean X us, max Y us per Z us period (A% / B%), N periods over budget`.
    pub fn describe(&self) -> String {
        let periods = self.periods.load(Ordering::Relaxed).max(1);
        let mean_us = self.total_ns.load(Ordering::Relaxed) as f64 / periods as f64 / 1e3;
        let max_us = self.max_ns.load(Ordering::Relaxed) as f64 / 1e3;
        let period_us = (self.period_ns.load(Ordering::Relaxed) as f64 / 1e3).max(1e-3);
        format!(
            "lathe's own processing mean {mean_us:.1} us ({:.2}% of the {period_us:.0} us period), \
             max {max_us:.1} us ({:.1}%); {} periods over budget",
            100.0 * mean_us / period_us,
            100.0 * max_us / period_us,
            self.over_budget.load(Ordering::Relaxed)
        )
    }
}

/// Why JACK could not be used.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    #[error("{0}")]
    NoServer(String),
    #[error("JACK: {0}")]
    Jack(#[from] jack::Error),
}

/// How to get a server running, for the message printed when there is none.
pub const START_SERVER_HELP: &str = "start a JACK server first, for example `jackd -d alsa` \
(a sound card) or `jackd -d dummy -r 48000` (no hardware); under PipeWire, run lathe \
through its JACK layer: `pw-jack lathe run ...`";

/// Opens a client (never starting a server itself).
pub fn open_client(name: &str) -> Result<jack::Client, HostError> {
    match jack::Client::new(name, jack::ClientOptions::NO_START_SERVER) {
        Ok((client, _)) => Ok(client),
        Err(jack::Error::LibraryError(msg)) => Err(HostError::NoServer(format!(
            "the JACK library (libjack) could not be loaded ({msg}); install JACK or \
             PipeWire's JACK layer, then {START_SERVER_HELP}"
        ))),
        Err(e) => Err(HostError::NoServer(format!(
            "no JACK server is running ({e}); {START_SERVER_HELP}"
        ))),
    }
}

/// Port short names for the buses, `<bus>_in_<n>` / `<bus>_out_<n>` (1-based).
pub fn port_names(buses: &[BusInfo], side: &str) -> Vec<String> {
    buses
        .iter()
        .flat_map(|b| (1..=b.channels).map(move |n| format!("{}_{side}_{n}", b.name)))
        .collect()
}

/// The channels of the main bus (`main`, else the first) among all host channels.
pub fn main_bus(buses: &[BusInfo]) -> Option<(usize, Range<usize>)> {
    let index = buses
        .iter()
        .position(|b| b.name == lathe_engine::graph::file::DEFAULT_BUS)
        .or(if buses.is_empty() { None } else { Some(0) })?;
    let start: usize = buses[..index].iter().map(|b| b.channels).sum();
    Some((index, start..start + buses[index].channels))
}

/// The graph latency as JACK sees it: read by the latency callback, written on reloads.
struct LatencyReport {
    ins: Vec<PortPtr>,
    outs: Vec<PortPtr>,
    latency_frames: AtomicU32,
}

/// A registered port's handle, valid while the client lives.
struct PortPtr(*mut sys::jack_port_t);
// SAFETY: JACK port handles may be used from any of the client's threads.
unsafe impl Send for PortPtr {}
unsafe impl Sync for PortPtr {}

/// JACK's latency callback: output capture latency = upstream capture latency + graph
/// latency; input playback latency = downstream playback latency + graph latency.
unsafe extern "C" fn latency_callback(mode: sys::jack_latency_callback_mode_t, arg: *mut CVoid) {
    // SAFETY: `arg` is the leaked `LatencyReport` registered with this callback.
    let report = unsafe { &*(arg as *const LatencyReport) };
    let extra = report.latency_frames.load(Ordering::Relaxed);
    let (from, to) = if mode == sys::JackCaptureLatency {
        (&report.ins, &report.outs)
    } else {
        (&report.outs, &report.ins)
    };
    let mut range = (u32::MAX, 0u32);
    for p in from {
        let mut r = sys::jack_latency_range_t { min: 0, max: 0 };
        // SAFETY: the port belongs to this client and is registered.
        unsafe { sys::jack_port_get_latency_range(p.0, mode, &mut r) };
        range = (range.0.min(r.min), range.1.max(r.max));
    }
    if from.is_empty() {
        range = (0, 0);
    }
    let mut r = sys::jack_latency_range_t {
        min: range.0.saturating_add(extra),
        max: range.1.saturating_add(extra),
    };
    for p in to {
        // SAFETY: as above.
        unsafe { sys::jack_port_set_latency_range(p.0, mode, &mut r) };
    }
}

type CVoid = std::ffi::c_void;

/// The JACK client once running.
pub struct Host {
    client: jack::AsyncClient<Notifications, AudioHandler>,
    latency: &'static LatencyReport,
    pub flags: Arc<HostFlags>,
    stages: rtrb::Producer<Box<Stage>>,
    old_stages: rtrb::Consumer<Box<Stage>>,
    pub in_ports: Vec<String>,
    pub out_ports: Vec<String>,
}

impl Host {
    /// Registers the ports for `info`'s buses, installs the latency callback and starts
    /// processing with `stage`.
    pub fn start(
        client: jack::Client,
        info: &GraphInfo,
        stage: Box<Stage>,
    ) -> Result<Host, HostError> {
        let mut ins = Vec::new();
        let mut outs = Vec::new();
        let in_names = port_names(&info.inputs, "in");
        let out_names = port_names(&info.outputs, "out");
        if in_names.len() > MAX_HOST_CHANNELS || out_names.len() > MAX_HOST_CHANNELS {
            return Err(HostError::NoServer(format!(
                "the graph has more than {MAX_HOST_CHANNELS} channels on one side"
            )));
        }
        for n in &in_names {
            ins.push(client.register_port(n, jack::AudioIn::default())?);
        }
        for n in &out_names {
            outs.push(client.register_port(n, jack::AudioOut::default())?);
        }
        // Leaked once per run: JACK may call the latency callback until the client closes.
        let latency: &'static LatencyReport = Box::leak(Box::new(LatencyReport {
            ins: ins.iter().map(|p| PortPtr(p.raw())).collect(),
            outs: outs.iter().map(|p| PortPtr(p.raw())).collect(),
            latency_frames: AtomicU32::new(info.latency_frames as u32),
        }));
        // SAFETY: the client is not active yet; `latency` lives for the rest of the program.
        unsafe {
            sys::jack_set_latency_callback(
                client.raw(),
                Some(latency_callback),
                latency as *const LatencyReport as *mut CVoid,
            );
        }
        let flags = Arc::new(HostFlags::default());
        flags
            .buffer_size
            .store(client.buffer_size(), Ordering::Relaxed);
        flags
            .sample_rate
            .store(client.sample_rate(), Ordering::Relaxed);
        let (stage_tx, stage_rx) = rtrb::RingBuffer::new(STAGE_QUEUE);
        let (old_tx, old_rx) = rtrb::RingBuffer::new(STAGE_QUEUE + 1);
        let full_name = |short: &String| format!("{}:{short}", client.name());
        let in_ports = in_names.iter().map(full_name).collect();
        let out_ports = out_names.iter().map(full_name).collect();
        let handler = AudioHandler {
            stage,
            pending_old: None,
            stages: stage_rx,
            old_stages: old_tx,
            ins,
            outs,
            main_in: main_bus(&info.inputs).map_or(0..0, |(_, r)| r),
            main_out: main_bus(&info.outputs).map_or(0..0, |(_, r)| r),
            flags: flags.clone(),
        };
        let notifications = Notifications {
            flags: flags.clone(),
        };
        let client = client.activate_async(notifications, handler)?;
        Ok(Host {
            client,
            latency,
            flags,
            stages: stage_tx,
            old_stages: old_rx,
            in_ports,
            out_ports,
        })
    }

    pub fn client(&self) -> &jack::Client {
        self.client.as_client()
    }

    /// Reports a new graph latency to JACK (and lines the monitor's A/B path up with it).
    pub fn set_latency(&self, frames: usize, controls: &MonitorControls) {
        let frames = frames.min(u32::MAX as usize) as u32;
        controls
            .latency_frames
            .store(frames.min(MAX_DRY_DELAY_FRAMES as u32), Ordering::Relaxed);
        if self.latency.latency_frames.swap(frames, Ordering::Relaxed) != frames {
            // SAFETY: the client is open and active.
            unsafe { sys::jack_recompute_total_latencies(self.client().raw()) };
        }
    }

    /// Hands a new stage to the process callback; gives it back if the queue is full.
    pub fn send_stage(&mut self, stage: Box<Stage>) -> Result<(), Box<Stage>> {
        match self.stages.push(stage) {
            Ok(()) => Ok(()),
            Err(rtrb::PushError::Full(stage)) => Err(stage),
        }
    }

    /// Frees stages the process callback has finished with.
    pub fn collect_stages(&mut self) {
        while let Ok(old) = self.old_stages.pop() {
            drop(old);
        }
    }

    /// Connects `from` to `to` by full port names.
    pub fn connect(&self, from: &str, to: &str) -> Result<(), String> {
        self.client()
            .connect_ports_by_name(from, to)
            .map_err(|e| format!("cannot connect `{from}` to `{to}`: {e}"))
    }

    /// Physical ports of the system, capture (`output == true`, audio coming in) or
    /// playback, in order.
    pub fn physical_ports(&self, capture: bool) -> Vec<String> {
        let flags = jack::PortFlags::IS_PHYSICAL
            | if capture {
                jack::PortFlags::IS_OUTPUT
            } else {
                jack::PortFlags::IS_INPUT
            };
        self.client().ports(None, Some(AUDIO_TYPE_PATTERN), flags)
    }

    /// Stops the client. When the server is gone, closing it could block: leave it. A
    /// server in trouble can also stall a normal close: give up after [`STOP_TIMEOUT`].
    pub fn stop(self, server_gone: bool) {
        if server_gone {
            std::mem::forget(self.client);
            return;
        }
        let (done_tx, done) = std::sync::mpsc::channel();
        let client = self.client;
        let closing = std::thread::Builder::new().spawn(move || {
            let _ = client.deactivate();
            let _ = done_tx.send(());
        });
        if closing.is_ok() && done.recv_timeout(STOP_TIMEOUT).is_err() {
            eprintln!("lathe: the JACK server did not let the client close; exiting anyway");
        }
    }
}

struct Notifications {
    flags: Arc<HostFlags>,
}

impl jack::NotificationHandler for Notifications {
    unsafe fn shutdown(&mut self, _status: jack::ClientStatus, _reason: &str) {
        self.flags.shutdown.store(true, Ordering::Release);
    }

    fn sample_rate(&mut self, _: &jack::Client, rate: jack::Frames) -> jack::Control {
        self.flags.sample_rate.store(rate, Ordering::Release);
        jack::Control::Continue
    }

    fn xrun(&mut self, _: &jack::Client) -> jack::Control {
        self.flags.xruns.fetch_add(1, Ordering::Relaxed);
        jack::Control::Continue
    }
}

/// The process handler: owns the ports and the running stage.
struct AudioHandler {
    stage: Box<Stage>,
    /// A replaced stage waiting for room in the return queue.
    pending_old: Option<Box<Stage>>,
    stages: rtrb::Consumer<Box<Stage>>,
    old_stages: rtrb::Producer<Box<Stage>>,
    ins: Vec<jack::Port<jack::AudioIn>>,
    outs: Vec<jack::Port<jack::AudioOut>>,
    main_in: Range<usize>,
    main_out: Range<usize>,
    flags: Arc<HostFlags>,
}

impl AudioHandler {
    /// Takes a new stage if one is waiting, sending the old one back. Real-time safe.
    fn take_new_stage(&mut self) {
        if let Some(old) = self.pending_old.take()
            && let Err(rtrb::PushError::Full(old)) = self.old_stages.push(old)
        {
            self.pending_old = Some(old);
            return;
        }
        if let Ok(new) = self.stages.pop() {
            let old = std::mem::replace(&mut self.stage, new);
            if let Err(rtrb::PushError::Full(old)) = self.old_stages.push(old) {
                self.pending_old = Some(old);
            }
        }
    }
}

impl jack::ProcessHandler for AudioHandler {
    fn process(&mut self, _: &jack::Client, ps: &jack::ProcessScope) -> jack::Control {
        let started = std::time::Instant::now();
        self.take_new_stage();
        let frames = ps.n_frames() as usize;
        let (n_in, n_out) = (self.ins.len(), self.outs.len());
        let mut ins: [&[f32]; MAX_HOST_CHANNELS] = [&[]; MAX_HOST_CHANNELS];
        for (slot, port) in ins.iter_mut().zip(&self.ins) {
            *slot = port.as_slice(ps);
        }
        let mut outs: [&mut [f32]; MAX_HOST_CHANNELS] = std::array::from_fn(|_| Default::default());
        for (slot, port) in outs.iter_mut().zip(self.outs.iter_mut()) {
            *slot = port.as_mut_slice(ps);
        }
        let main = (self.main_in.clone(), self.main_out.clone());
        self.stage
            .process(&ins[..n_in], &mut outs[..n_out], main, frames);
        let rate = u64::from(self.flags.sample_rate.load(Ordering::Relaxed)).max(1);
        let spent_ns = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.flags
            .process
            .record(spent_ns, frames as u64 * 1_000_000_000 / rate);
        jack::Control::Continue
    }

    fn buffer_size(&mut self, _: &jack::Client, size: jack::Frames) -> jack::Control {
        // Engine::process splits larger blocks, so audio goes on; the control thread
        // recompiles for the new size and sends a new stage.
        self.flags.buffer_size.store(size, Ordering::Release);
        jack::Control::Continue
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bus(name: &str, channels: usize) -> BusInfo {
        BusInfo {
            name: name.into(),
            channels,
        }
    }

    #[test]
    fn ports_are_named_per_bus_channel_and_main_is_found() {
        let buses = [bus("key", 1), bus("main", 2)];
        assert_eq!(
            port_names(&buses, "in"),
            ["key_in_1", "main_in_1", "main_in_2"]
        );
        assert_eq!(main_bus(&buses), Some((1, 1..3)));
        assert_eq!(main_bus(&[bus("stems", 4)]), Some((0, 0..4)));
        assert_eq!(main_bus(&[]), None);
    }
}
