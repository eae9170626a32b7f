//! Support for the live tests: a private JACK server on the dummy driver, the `lathe run`
//! process with its output collected, and test clients that play known audio into lathe
//! and record what comes out.

#![allow(dead_code)] // each test binary uses a different part

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Sample rate and period of the test server.
pub const RATE: usize = 48_000;
pub const PERIOD: usize = 256;

/// Tests share the process environment (`JACK_DEFAULT_SERVER`): one at a time.
static SERIAL: Mutex<()> = Mutex::new(());
static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// Server names tried, `lathe-test-0` first. JACK keeps a registry of eight servers per
/// machine (/dev/shm/jack-shm-registry) and takes back the entry of a server that died
/// without leaving it (SIGKILL, a crash) only for a new server of the same name: a few
/// names used again and again keep the registry from filling up with dead entries, which
/// would stop every later server from starting ("Too many servers already active").
const SERVER_NAMES: usize = 32;

/// How long a server gets to come up, and to go after SIGTERM; generous for a loaded CI
/// machine.
const SERVER_START: Duration = Duration::from_secs(20);
const SERVER_STOP: Duration = Duration::from_secs(10);

/// A `jackd` started for one test; stopped on drop (also when the test fails).
pub struct JackServer {
    pub name: String,
    child: Option<Child>,
    /// jackd's output, kept to explain a server that would not start.
    log: PathBuf,
    _serial: MutexGuard<'static, ()>,
}

fn jackd_available() -> bool {
    Command::new("jackd")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

/// How a try to start a server of one name went.
enum Started {
    Up(Child),
    /// jackd ended at once: the name is taken by a live server, or the registry is full.
    Refused(String),
}

fn spawn_jackd(name: &str, log: &Path) -> Started {
    let out = std::fs::File::create(log).expect("jackd log file");
    let mut child = Command::new("jackd")
        .args(["--no-realtime", "-n", name, "-d", "dummy", "-r"])
        .arg(RATE.to_string())
        .arg("-p")
        .arg(PERIOD.to_string())
        .stdout(out.try_clone().expect("log file"))
        .stderr(out)
        .spawn()
        .expect("jackd starts");
    let deadline = Instant::now() + SERVER_START;
    while Instant::now() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            let text = std::fs::read_to_string(log).unwrap_or_default();
            let tail: Vec<&str> = text.lines().rev().take(3).collect();
            return Started::Refused(format!("{status}: {}", tail.join(" / ")));
        }
        // SAFETY: tests run one at a time under SERIAL; nothing else reads the
        // environment concurrently.
        unsafe { std::env::set_var("JACK_DEFAULT_SERVER", name) };
        if jack::Client::new("probe", jack::ClientOptions::NO_START_SERVER).is_ok() {
            return Started::Up(child);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    stop_jackd(child);
    panic!(
        "jackd {name} did not come up within {SERVER_START:?}: {}",
        std::fs::read_to_string(log).unwrap_or_default()
    );
}

/// SIGTERM, so that the server leaves JACK's registry; SIGKILL if it has not gone after
/// [`SERVER_STOP`].
fn stop_jackd(mut child: Child) -> bool {
    let stopped = stop_child(&mut child, SERVER_STOP);
    if !stopped {
        eprintln!("notice: jackd did not stop within {SERVER_STOP:?} of SIGTERM; killed");
    }
    stopped
}

/// Ends a child process: SIGTERM, then SIGKILL if it is still there after `grace`.
/// True when SIGTERM was enough (or it had already gone).
pub fn stop_child(child: &mut Child, grace: Duration) -> bool {
    if let Ok(Some(_)) = child.try_wait() {
        return true; // already gone (and reaped: its pid may be another's now)
    }
    // SAFETY: signalling our own child, which has not been reaped.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = child.kill();
    let _ = child.wait();
    false
}

impl JackServer {
    /// Starts a server, or returns None (with a notice) when `jackd` is not installed.
    /// Panics instead when `LATHE_REQUIRE_JACK=1`.
    pub fn start() -> Option<JackServer> {
        let serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        if !jackd_available() {
            if std::env::var("LATHE_REQUIRE_JACK").as_deref() == Ok("1") {
                panic!("jackd is not installed and LATHE_REQUIRE_JACK=1");
            }
            eprintln!("notice: jackd not found; skipping this live JACK test (install jackd2)");
            return None;
        }
        let log = std::env::temp_dir().join(format!("lathe-jackd-{}.log", std::process::id()));
        let mut refusals = Vec::new();
        for k in 0..SERVER_NAMES {
            let name = format!("lathe-test-{k}");
            match spawn_jackd(&name, &log) {
                Started::Up(child) => {
                    return Some(JackServer {
                        name,
                        child: Some(child),
                        log,
                        _serial: serial,
                    });
                }
                Started::Refused(why) => refusals.push(format!("{name}: {why}")),
            }
        }
        let _ = std::fs::remove_file(&log);
        panic!(
            "no JACK server would start under any of {SERVER_NAMES} names. If every entry of \
             JACK's registry belongs to a server that died, remove /dev/shm/jack-shm-registry \
             while no jackd runs.\n{}",
            refusals.join("\n")
        );
    }

    /// Stops the server now: SIGTERM, SIGKILL if it has not gone after [`SERVER_STOP`].
    /// True when SIGTERM was enough, so the server left JACK's registry.
    pub fn kill(&mut self) -> bool {
        self.child.take().is_none_or(stop_jackd)
    }

    /// Starts the server again under the same name after [`JackServer::kill`], and waits
    /// until it answers: a server restart as a user would do it.
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "the server is still running");
        match spawn_jackd(&self.name, &self.log) {
            Started::Up(child) => self.child = Some(child),
            Started::Refused(why) => panic!("jackd {} did not start again: {why}", self.name),
        }
    }
}

impl Drop for JackServer {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_file(&self.log);
    }
}

/// A temporary directory for graphs, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new() -> TempDir {
        let dir = std::env::temp_dir().join(format!(
            "lathe-live-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).expect("temp dir");
        TempDir(dir)
    }

    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, text).expect("write graph");
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A stereo graph with one gain node `trim` at `gain_db`.
pub fn gain_graph(gain_db: f64) -> String {
    format!(
        "(\n    inputs: {{\"main\": 2}},\n    outputs: {{\"main\": 2}},\n    nodes: [(id: \"trim\", kind: \"gain\", params: {{\"gain_db\": {gain_db:?}}})],\n    links: [\"in.main -> trim -> out.main\"],\n)\n"
    )
}

/// `lathe run` as a child process; killed on drop.
pub struct Lathe {
    child: Child,
    stdin: Option<ChildStdin>,
    pub stdout: Arc<Mutex<Vec<String>>>,
    pub stderr: Arc<Mutex<Vec<String>>>,
}

fn collect(reader: impl std::io::Read + Send + 'static) -> Arc<Mutex<Vec<String>>> {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let sink = lines.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(reader).lines() {
            let Ok(line) = line else { return };
            sink.lock().unwrap().push(line);
        }
    });
    lines
}

impl Lathe {
    /// Starts `lathe run GRAPH ARGS...` against `server` and waits until it runs.
    pub fn start(server: &JackServer, graph: &Path, args: &[&str]) -> Lathe {
        let mut child = Command::new(env!("CARGO_BIN_EXE_lathe"))
            .arg("run")
            .arg(graph)
            .args(args)
            .env("JACK_DEFAULT_SERVER", &server.name)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("lathe starts");
        let stdin = child.stdin.take();
        let stdout = collect(child.stdout.take().expect("piped"));
        let stderr = collect(child.stderr.take().expect("piped"));
        let lathe = Lathe {
            child,
            stdin,
            stdout,
            stderr,
        };
        assert!(
            lathe.wait_stdout(|l| l.contains("type `help`"), Duration::from_secs(10)),
            "lathe did not start: {:?} {:?}",
            lathe.stdout.lock().unwrap(),
            lathe.stderr.lock().unwrap()
        );
        lathe
    }

    pub fn send(&mut self, line: &str) {
        self.send_bytes(line.as_bytes());
    }

    /// One line of any bytes (not UTF-8, very long) on lathe's stdin.
    pub fn send_bytes(&mut self, line: &[u8]) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        stdin.write_all(line).expect("write to lathe");
        stdin.write_all(b"\n").expect("write to lathe");
        stdin.flush().expect("flush");
    }

    fn wait(lines: &Mutex<Vec<String>>, pred: impl Fn(&str) -> bool, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if lines.lock().unwrap().iter().any(|l| pred(l)) {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    pub fn wait_stdout(&self, pred: impl Fn(&str) -> bool, timeout: Duration) -> bool {
        Self::wait(&self.stdout, pred, timeout)
    }

    pub fn wait_stderr(&self, pred: impl Fn(&str) -> bool, timeout: Duration) -> bool {
        Self::wait(&self.stderr, pred, timeout)
    }

    pub fn stdout_text(&self) -> String {
        self.stdout.lock().unwrap().join("\n")
    }

    pub fn stderr_text(&self) -> String {
        self.stderr.lock().unwrap().join("\n")
    }

    /// The web console's URL, from the line `lathe run --ui` prints (waits up to 5 s).
    pub fn web_console_url(&self) -> String {
        assert!(
            self.wait_stdout(|l| l.contains("web console on"), Duration::from_secs(5)),
            "no console line: {}\n{}",
            self.stdout_text(),
            self.stderr_text()
        );
        let text = self.stdout_text();
        let line = text
            .lines()
            .find(|l| l.contains("web console on"))
            .expect("line");
        line.split_whitespace().last().expect("url").to_string()
    }

    /// The web console's port, from [`Self::web_console_url`].
    pub fn web_console_port(&self) -> u16 {
        self.web_console_url()
            .trim_start_matches("http://")
            .split(['/', '?'])
            .next()
            .and_then(|hp| hp.rsplit_once(':'))
            .and_then(|(_, p)| p.parse().ok())
            .expect("port in url")
    }

    /// Sends `signal` to the process.
    pub fn signal(&self, signal: libc::c_int) {
        // SAFETY: signalling our own child, which has not been reaped (`wait_exit` reaps
        // it, and a signal after that is a test's mistake this assert catches).
        assert_eq!(unsafe { libc::kill(self.child.id() as i32, signal) }, 0);
    }

    /// Waits for the process to exit; its status and how long it took.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<(std::process::ExitStatus, Duration)> {
        let start = Instant::now();
        while start.elapsed() < timeout {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some((status, start.elapsed()));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        None
    }
}

impl Drop for Lathe {
    /// SIGTERM first: lathe then leaves the JACK server in order, as on `quit`. A client
    /// killed outright while its server is being stopped can hang the server's stop (jackd
    /// waits for a graph change that its stopped driver never makes).
    fn drop(&mut self) {
        stop_child(&mut self.child, Duration::from_secs(5));
    }
}

/// Plays `signal` (one Vec per channel) from the first cycle after `go`, looped or once.
struct Player {
    ports: Vec<jack::Port<jack::AudioOut>>,
    signal: Vec<Vec<f32>>,
    looped: bool,
    pos: usize,
    go: Arc<AtomicBool>,
    start_frame: Arc<AtomicU64>,
    stop_frame: Arc<AtomicU64>,
    played: Arc<AtomicUsize>,
    /// Sleep about a period in each cycle: the pace of a freewheeling server.
    pace: bool,
}

impl jack::ProcessHandler for Player {
    fn process(&mut self, _: &jack::Client, ps: &jack::ProcessScope) -> jack::Control {
        let playing = self.go.load(Ordering::Acquire);
        if playing && self.pos == 0 {
            self.start_frame
                .store(u64::from(ps.last_frame_time()), Ordering::Release);
        }
        if !playing && self.pos > 0 && self.stop_frame.load(Ordering::Acquire) == 0 {
            self.stop_frame
                .store(u64::from(ps.last_frame_time()), Ordering::Release);
        }
        let n = ps.n_frames() as usize;
        let len = self.signal[0].len();
        for (port, sig) in self.ports.iter_mut().zip(&self.signal) {
            let out = port.as_mut_slice(ps);
            for (i, y) in out.iter_mut().enumerate() {
                let k = self.pos + i;
                *y = match (playing, self.looped) {
                    (false, _) => 0.0,
                    (true, true) => sig[k % len],
                    (true, false) => sig.get(k).copied().unwrap_or(0.0),
                };
            }
        }
        if playing {
            self.pos += n;
            self.played.store(self.pos, Ordering::Release);
            // The server freewheels while playing: pace it at about real time so that
            // reloads and commands land in the middle of the audio.
            if self.pace {
                std::thread::sleep(Duration::from_secs_f64(n as f64 / RATE as f64));
            }
        }
        jack::Control::Continue
    }
}

/// Records every channel, placing each cycle at its frame time so that a cycle the
/// recorder missed leaves a NaN gap instead of shifting what follows.
struct Recorder {
    ports: Vec<jack::Port<jack::AudioIn>>,
    data: Vec<Vec<f32>>,
    len: usize,
    start_frame: Option<u64>,
}

impl jack::ProcessHandler for Recorder {
    fn process(&mut self, _: &jack::Client, ps: &jack::ProcessScope) -> jack::Control {
        let now = u64::from(ps.last_frame_time());
        let base = *self.start_frame.get_or_insert(now);
        let at = now.wrapping_sub(base) as usize;
        let cap = self.data[0].len();
        if at >= cap {
            return jack::Control::Continue;
        }
        let n = (ps.n_frames() as usize).min(cap - at);
        for (port, data) in self.ports.iter().zip(self.data.iter_mut()) {
            data[at..at + n].copy_from_slice(&port.as_slice(ps)[..n]);
        }
        self.len = self.len.max(at + n);
        jack::Control::Continue
    }
}

/// Notes the (estimated) frame time of every xrun the server reports.
struct XrunLog(Arc<Mutex<Vec<u64>>>);

impl jack::NotificationHandler for XrunLog {
    fn xrun(&mut self, client: &jack::Client) -> jack::Control {
        if let Ok(mut v) = self.0.lock() {
            v.push(u64::from(client.frame_time()));
        }
        jack::Control::Continue
    }
}

/// A player feeding lathe's main input and a recorder on its main output, with the server
/// freewheeling (see [`set_freewheel`]) while they run.
pub struct Rig {
    player: jack::AsyncClient<(), Player>,
    recorder: jack::AsyncClient<XrunLog, Recorder>,
    xruns: Arc<Mutex<Vec<u64>>>,
    go: Arc<AtomicBool>,
    start_frame: Arc<AtomicU64>,
    stop_frame: Arc<AtomicU64>,
    played: Arc<AtomicUsize>,
    freewheel: bool,
}

/// Frames either side of a reported xrun that are not trusted.
pub const XRUN_GUARD_FRAMES: usize = 4 * PERIOD;

/// What the recorder caught, aligned to the player's first sample.
pub struct Take {
    /// `channels[c][i]` was recorded at the frame the player played sample `i`; NaN
    /// where the recorder missed a cycle.
    pub channels: Vec<Vec<f32>>,
    /// Xruns during the take, as frames relative to the player's first sample.
    pub xruns: Vec<i64>,
}

impl Take {
    /// Frame `i` was recorded and is not near an xrun (the server on a loaded machine
    /// without real-time scheduling misses deadlines now and then; those cycles carry
    /// silence or stale buffers whatever the client does).
    pub fn trusted(&self, i: usize) -> bool {
        !self.channels[0][i].is_nan()
            && self
                .xruns
                .iter()
                .all(|&x| (i as i64 - x).unsigned_abs() as usize > XRUN_GUARD_FRAMES)
    }
}

impl Rig {
    /// Connects to `lathe_client`'s `main_in_*`/`main_out_*` ports (2 channels) and starts
    /// playing `signal` once connected. Records up to `record_frames`.
    pub fn start(
        lathe_client: &str,
        signal: Vec<Vec<f32>>,
        looped: bool,
        record_frames: usize,
    ) -> Rig {
        Self::start_with(lathe_client, signal, looped, record_frames, true)
    }

    /// As [`Rig::start`], but the server keeps its own clock (no freewheeling): for what
    /// freewheeling forbids, such as a buffer-size change while playing (libjack aborts the
    /// process when the size changes during freewheel). Cycles the machine misses show up
    /// as xruns, which [`Take::trusted`] leaves out.
    pub fn start_realtime(
        lathe_client: &str,
        signal: Vec<Vec<f32>>,
        looped: bool,
        record_frames: usize,
    ) -> Rig {
        Self::start_with(lathe_client, signal, looped, record_frames, false)
    }

    fn start_with(
        lathe_client: &str,
        signal: Vec<Vec<f32>>,
        looped: bool,
        record_frames: usize,
        freewheel: bool,
    ) -> Rig {
        let (pc, _) = jack::Client::new("player", jack::ClientOptions::NO_START_SERVER)
            .expect("player client");
        let (rc, _) = jack::Client::new("recorder", jack::ClientOptions::NO_START_SERVER)
            .expect("recorder client");
        let channels = signal.len();
        let outs: Vec<_> = (0..channels)
            .map(|c| {
                pc.register_port(&format!("out_{}", c + 1), jack::AudioOut::default())
                    .unwrap()
            })
            .collect();
        let ins: Vec<_> = (0..channels)
            .map(|c| {
                rc.register_port(&format!("in_{}", c + 1), jack::AudioIn::default())
                    .unwrap()
            })
            .collect();
        let go = Arc::new(AtomicBool::new(false));
        let start_frame = Arc::new(AtomicU64::new(0));
        let stop_frame = Arc::new(AtomicU64::new(0));
        let played = Arc::new(AtomicUsize::new(0));
        let player = pc
            .activate_async(
                (),
                Player {
                    ports: outs,
                    signal,
                    looped,
                    pos: 0,
                    go: go.clone(),
                    start_frame: start_frame.clone(),
                    stop_frame: stop_frame.clone(),
                    played: played.clone(),
                    pace: freewheel,
                },
            )
            .unwrap();
        let xruns = Arc::new(Mutex::new(Vec::new()));
        let recorder = rc
            .activate_async(
                XrunLog(xruns.clone()),
                Recorder {
                    ports: ins,
                    data: vec![vec![f32::NAN; record_frames]; channels],
                    len: 0,
                    start_frame: None,
                },
            )
            .unwrap();
        let client = player.as_client();
        let (pn, rn) = (
            client.name().to_string(),
            recorder.as_client().name().to_string(),
        );
        for c in 1..=channels {
            client
                .connect_ports_by_name(
                    &format!("{pn}:out_{c}"),
                    &format!("{lathe_client}:main_in_{c}"),
                )
                .expect("connect player");
            client
                .connect_ports_by_name(
                    &format!("{lathe_client}:main_out_{c}"),
                    &format!("{rn}:in_{c}"),
                )
                .expect("connect recorder");
        }
        std::thread::sleep(Duration::from_millis(100));
        if freewheel {
            set_freewheel(client, true);
        }
        go.store(true, Ordering::Release);
        Rig {
            player,
            recorder,
            xruns,
            go,
            start_frame,
            stop_frame,
            played,
            freewheel,
        }
    }

    /// Frames played so far (an index into the coming [`Take`]).
    pub fn position(&self) -> usize {
        self.played.load(Ordering::Acquire)
    }

    /// Stops both clients and returns the recording from the player's first sample to its
    /// last.
    pub fn finish(self) -> Take {
        // The player stops first and notes when; what the recorder catches later is cut.
        // The player then no longer sleeps in its callback: JACK may cancel a client thread
        // on deactivation, and a cancelled sleep in Rust code aborts.
        self.go.store(false, Ordering::Release);
        let deadline = Instant::now() + Duration::from_secs(2);
        while self.stop_frame.load(Ordering::Acquire) == 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        if self.freewheel {
            set_freewheel(self.player.as_client(), false);
        }
        let (_, _, rec) = self.recorder.deactivate().expect("deactivate recorder");
        let _ = self.player.deactivate();
        let start = self.start_frame.load(Ordering::Acquire);
        let stop = self.stop_frame.load(Ordering::Acquire);
        let base = rec.start_frame.expect("recorder ran");
        let from = (start.wrapping_sub(base) as usize).min(rec.len);
        let to = (stop.wrapping_sub(base) as usize).clamp(from, rec.len);
        let channels = rec.data.into_iter().map(|d| d[from..to].to_vec()).collect();
        let xruns = self
            .xruns
            .lock()
            .unwrap()
            .iter()
            .map(|&x| x as i64 - start as i64)
            .collect();
        Take { channels, xruns }
    }
}

/// Freewheeling, the server runs each cycle once every client has finished it, with no
/// deadline: on a loaded machine without real-time scheduling a late cycle is not an xrun
/// with silence or stale buffers, so what lathe outputs can be compared sample by sample.
fn set_freewheel(client: &jack::Client, on: bool) {
    // SAFETY: the client is open.
    let rc = unsafe { jack::jack_sys::jack_set_freewheel(client.raw(), i32::from(on)) };
    assert_eq!(rc, 0, "freewheel {on}");
}

/// Latency range of a port as JACK reports it.
pub fn port_latency(port: &str, capture: bool) -> (u32, u32) {
    let (client, _) =
        jack::Client::new("inspector", jack::ClientOptions::NO_START_SERVER).expect("client");
    let port = client
        .port_by_name(port)
        .unwrap_or_else(|| panic!("no port {port}"));
    port.get_latency_range(if capture {
        jack::LatencyType::Capture
    } else {
        jack::LatencyType::Playback
    })
}

/// Asks the server for a new buffer size.
pub fn set_buffer_size(frames: u32) {
    let (client, _) =
        jack::Client::new("inspector", jack::ClientOptions::NO_START_SERVER).expect("client");
    client.set_buffer_size(frames).expect("buffer size changes");
}

/// The ports `port` is connected to.
pub fn connections(port: &str) -> Vec<String> {
    let (client, _) =
        jack::Client::new("inspector", jack::ClientOptions::NO_START_SERVER).expect("client");
    let port = client
        .port_by_name(port)
        .unwrap_or_else(|| panic!("no port {port}"));
    port.get_connections()
}

/// Every port whose name starts with `prefix`.
pub fn ports_of(prefix: &str) -> Vec<String> {
    let (client, _) =
        jack::Client::new("inspector", jack::ClientOptions::NO_START_SERVER).expect("client");
    client.ports(Some(&format!("^{prefix}")), None, jack::PortFlags::empty())
}

/// Deterministic white noise in [-amp, amp).
pub fn noise(frames: usize, seed: u64, amp: f32) -> Vec<f32> {
    let mut state = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
    (0..frames)
        .map(|_| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            ((state >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0) * amp
        })
        .collect()
}

/// A plain JACK client that copies `main_in_N` to `main_out_N`: what the server itself does
/// to audio passing through a client (at a buffer-size change, say), for comparison with
/// lathe.
pub struct PassThrough {
    _client: jack::AsyncClient<(), PassThroughProcess>,
}

pub struct PassThroughProcess {
    ins: Vec<jack::Port<jack::AudioIn>>,
    outs: Vec<jack::Port<jack::AudioOut>>,
}

impl jack::ProcessHandler for PassThroughProcess {
    fn process(&mut self, _: &jack::Client, ps: &jack::ProcessScope) -> jack::Control {
        for (i, o) in self.ins.iter().zip(self.outs.iter_mut()) {
            o.as_mut_slice(ps).copy_from_slice(i.as_slice(ps));
        }
        jack::Control::Continue
    }

    fn buffer_size(&mut self, _: &jack::Client, _: jack::Frames) -> jack::Control {
        jack::Control::Continue
    }
}

impl PassThrough {
    /// Opens client `name` with `channels` ports each way, named as lathe's main bus.
    pub fn start(name: &str, channels: usize) -> PassThrough {
        let (client, _) =
            jack::Client::new(name, jack::ClientOptions::NO_START_SERVER).expect("client");
        let ins = (1..=channels)
            .map(|c| {
                client
                    .register_port(&format!("main_in_{c}"), jack::AudioIn::default())
                    .expect("port")
            })
            .collect();
        let outs = (1..=channels)
            .map(|c| {
                client
                    .register_port(&format!("main_out_{c}"), jack::AudioOut::default())
                    .expect("port")
            })
            .collect();
        let client = client
            .activate_async((), PassThroughProcess { ins, outs })
            .expect("activate");
        PassThrough { _client: client }
    }
}

/// Runs of exact digital silence on every channel of `take` (start, frames), from the
/// first trusted non-silent frame on, counting only trusted frames; runs of one frame are
/// left out (a signal crosses zero).
pub fn zero_runs(take: &Take) -> Vec<(usize, usize)> {
    let x = &take.channels;
    let len = x[0].len();
    let silent = |i: usize| x.iter().all(|c| c[i] == 0.0);
    let Some(first) = (0..len).position(|i| take.trusted(i) && !silent(i)) else {
        return Vec::new();
    };
    let mut runs = Vec::new();
    let mut i = first;
    while i < len {
        if take.trusted(i) && silent(i) {
            let start = i;
            while i < len && take.trusted(i) && silent(i) {
                i += 1;
            }
            if i - start > 1 {
                runs.push((start, i - start));
            }
        }
        i += 1;
    }
    runs
}
