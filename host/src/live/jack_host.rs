//! The JACK backend of `lathe run`: the client, one port per bus channel, the process
//! callback that runs the [`AudioSide`], server notifications, and latency reporting.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use jack::jack_sys as sys;
use lathe_engine::GraphInfo;
use lathe_engine::exec::MAX_HOST_CHANNELS;

use super::audio::{AudioSide, AudioStatus, port_names};
use super::backend::{Backend, BackendError};

/// Matches JACK's audio port type (`32 bit float mono audio`).
const AUDIO_TYPE_PATTERN: &str = "audio";

/// Longest wait for the server to close the client on exit.
const STOP_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

/// How to get a server running, for the message printed when there is none.
pub const START_SERVER_HELP: &str = "start a JACK server first, for example `jackd -d alsa` \
(a sound card) or `jackd -d dummy -r 48000` (no hardware); under PipeWire, run lathe \
through its JACK layer: `pw-jack lathe run ...`";

/// Opens a client (never starting a server itself).
fn open_client(name: &str) -> Result<jack::Client, BackendError> {
    match jack::Client::new(name, jack::ClientOptions::NO_START_SERVER) {
        Ok((client, _)) => Ok(client),
        Err(jack::Error::LibraryError(msg)) => Err(BackendError::NoServer(format!(
            "the JACK library (libjack) could not be loaded ({msg}); install JACK or \
             PipeWire's JACK layer, then {START_SERVER_HELP}"
        ))),
        Err(e) => Err(BackendError::NoServer(format!(
            "no JACK server is running ({e}); {START_SERVER_HELP}"
        ))),
    }
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

/// JACK errors as the backend reports them.
fn refused(e: jack::Error) -> BackendError {
    BackendError::Refused(format!("JACK: {e}"))
}

/// A JACK client: opened (the server's format known), then started with the graph's
/// ports and the audio side in its process callback.
pub struct JackBackend {
    state: State,
    /// The client's name as the server gave it (it may differ from the one asked for).
    name: String,
    status: Arc<AudioStatus>,
    in_ports: Vec<String>,
    out_ports: Vec<String>,
}

enum State {
    Opened(jack::Client),
    Running {
        client: jack::AsyncClient<Notifications, AudioHandler>,
        latency: &'static LatencyReport,
    },
    /// After a failed start (activation takes the client with it).
    Closed,
}

impl JackBackend {
    /// Opens a client named `name` on the running server.
    pub fn open(name: &str) -> Result<Self, BackendError> {
        let client = open_client(name)?;
        let status = AudioStatus::new(client.sample_rate(), client.buffer_size());
        Ok(Self {
            name: client.name().to_string(),
            state: State::Opened(client),
            status,
            in_ports: Vec::new(),
            out_ports: Vec::new(),
        })
    }

    /// The client, unless a failed start closed it.
    pub fn client(&self) -> Option<&jack::Client> {
        match &self.state {
            State::Opened(client) => Some(client),
            State::Running { client, .. } => Some(client.as_client()),
            State::Closed => None,
        }
    }

    /// Connects `from` to `to` by full port names.
    pub fn connect(&self, from: &str, to: &str) -> Result<(), String> {
        let client = self.client().ok_or("the JACK client is closed")?;
        client
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
        self.client()
            .map_or_else(Vec::new, |c| c.ports(None, Some(AUDIO_TYPE_PATTERN), flags))
    }
}

impl Backend for JackBackend {
    fn describe(&self) -> String {
        format!("JACK client `{}`", self.name)
    }

    fn status(&self) -> &Arc<AudioStatus> {
        &self.status
    }

    /// Registers the ports for `info`'s buses, installs the latency callback and starts
    /// processing.
    fn start(&mut self, info: &GraphInfo, audio: AudioSide) -> Result<(), BackendError> {
        let State::Opened(client) = std::mem::replace(&mut self.state, State::Closed) else {
            return Err(BackendError::Refused("the JACK client is not open".into()));
        };
        let (client, latency) = start_client(client, info, audio, &self.status)?;
        let full_name = |short: &String| format!("{}:{short}", self.name);
        self.in_ports = port_names(&info.inputs, "in")
            .iter()
            .map(full_name)
            .collect();
        self.out_ports = port_names(&info.outputs, "out")
            .iter()
            .map(full_name)
            .collect();
        self.state = State::Running { client, latency };
        Ok(())
    }

    fn ports(&self) -> (&[String], &[String]) {
        (&self.in_ports, &self.out_ports)
    }

    /// Reports a new graph latency to JACK.
    fn set_latency(&self, latency_frames: usize) {
        let State::Running { client, latency } = &self.state else {
            return;
        };
        let frames = latency_frames.min(u32::MAX as usize) as u32;
        if latency.latency_frames.swap(frames, Ordering::Relaxed) != frames {
            // SAFETY: the client is open and active.
            unsafe { sys::jack_recompute_total_latencies(client.as_client().raw()) };
        }
    }

    fn dsp_load_percent(&self) -> f32 {
        self.client().map_or(0.0, jack::Client::cpu_load)
    }

    /// Stops the client. When the server is gone, closing it could block: leave it. A
    /// server in trouble can also stall a normal close: give up after [`STOP_TIMEOUT`].
    fn stop(self, gone: bool) {
        let client = match self.state {
            State::Running { client, .. } => client,
            State::Opened(_) | State::Closed => return,
        };
        if gone {
            std::mem::forget(client);
            return;
        }
        let (done_tx, done) = std::sync::mpsc::channel();
        let closing = std::thread::Builder::new().spawn(move || {
            let _ = client.deactivate();
            let _ = done_tx.send(());
        });
        if closing.is_ok() && done.recv_timeout(STOP_TIMEOUT).is_err() {
            eprintln!("lathe: the JACK server did not let the client close; exiting anyway");
        }
    }
}

type Started = (
    jack::AsyncClient<Notifications, AudioHandler>,
    &'static LatencyReport,
);

/// Registers the ports, installs the latency callback and activates.
fn start_client(
    client: jack::Client,
    info: &GraphInfo,
    audio: AudioSide,
    status: &Arc<AudioStatus>,
) -> Result<Started, BackendError> {
    let in_names = port_names(&info.inputs, "in");
    let out_names = port_names(&info.outputs, "out");
    if in_names.len() > MAX_HOST_CHANNELS || out_names.len() > MAX_HOST_CHANNELS {
        let e = format!("the graph has more than {MAX_HOST_CHANNELS} channels on one side");
        return Err(BackendError::NoServer(e));
    }
    let mut ins = Vec::new();
    let mut outs = Vec::new();
    for n in &in_names {
        ins.push(
            client
                .register_port(n, jack::AudioIn::default())
                .map_err(refused)?,
        );
    }
    for n in &out_names {
        outs.push(
            client
                .register_port(n, jack::AudioOut::default())
                .map_err(refused)?,
        );
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
    let handler = AudioHandler {
        audio,
        ins,
        outs,
        status: status.clone(),
    };
    let notifications = Notifications {
        status: status.clone(),
    };
    let client = client
        .activate_async(notifications, handler)
        .map_err(refused)?;
    Ok((client, latency))
}

/// Server notifications, recorded in the status the control loop reads.
struct Notifications {
    status: Arc<AudioStatus>,
}

impl jack::NotificationHandler for Notifications {
    unsafe fn shutdown(&mut self, _status: jack::ClientStatus, _reason: &str) {
        self.status.shutdown.store(true, Ordering::Release);
    }

    fn sample_rate(&mut self, _: &jack::Client, rate: jack::Frames) -> jack::Control {
        self.status.sample_rate.store(rate, Ordering::Release);
        jack::Control::Continue
    }

    fn xrun(&mut self, _: &jack::Client) -> jack::Control {
        self.status.xruns.fetch_add(1, Ordering::Relaxed);
        jack::Control::Continue
    }
}

/// The process handler: owns the ports and the audio side.
struct AudioHandler {
    audio: AudioSide,
    ins: Vec<jack::Port<jack::AudioIn>>,
    outs: Vec<jack::Port<jack::AudioOut>>,
    status: Arc<AudioStatus>,
}

impl jack::ProcessHandler for AudioHandler {
    fn process(&mut self, _: &jack::Client, ps: &jack::ProcessScope) -> jack::Control {
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
        self.audio.process(&ins[..n_in], &mut outs[..n_out], frames);
        jack::Control::Continue
    }

    fn buffer_size(&mut self, _: &jack::Client, size: jack::Frames) -> jack::Control {
        // Engine::process splits larger blocks, so audio goes on; the control thread
        // recompiles for the new size and sends a new stage.
        self.status.buffer_size.store(size, Ordering::Release);
        jack::Control::Continue
    }
}
