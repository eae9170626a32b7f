//! The control thread of `lathe run`: owns the [`Controller`], carries out commands from
//! the console and OSC, reloads the graph when its files change, follows buffer-size and
//! sample-rate changes, and draws the meter line. It talks to the audio side only
//! through a [`Backend`] and the [`StageSender`], so it runs the same on JACK and
//! in-process.

pub mod restart;
mod save_file;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use lathe_engine::{
    CompileOptions, CompiledGraph, ControlSurface, Controller, GraphDoc, GraphError, GraphInfo,
    ParamValue, PrepareInfo, Registry, SwapError,
};

use super::audio::{Stage, StageSender};
use super::backend::Backend;
use super::console::{Command, HELP};
use super::events::{Answer, Event, Reply};
use super::messages::Messages;
use super::meters::{MeterLine, number};
use super::monitor::{MAX_DRY_DELAY_FRAMES, MonitorControls};
use super::ref_deck::RefDeck;
use super::scripts::LiveScripts;
use super::watch::FileWatcher;
use super::web::WebLink;
use restart::{Reconnect, ServerWatch, start_audio};

/// How often the control thread wakes up when nothing happens.
const TICK: Duration = Duration::from_millis(50);
/// Meter line refresh period.
const METER_PERIOD: Duration = Duration::from_millis(250);
/// Quiet time after a file change before reloading (editors write in several steps).
const RELOAD_DEBOUNCE: Duration = Duration::from_millis(120);
/// How long `solo` waits for the soloed output to fade out before moving to another
/// (the monitor's switch ramp, and a period to spare).
const SOLO_HANDOVER: Duration = Duration::from_millis(super::monitor::SWITCH_RAMP_MS as u64 + 15);
/// Retry delay when the engine is still busy with a previous swap.
const RETRY: Duration = Duration::from_millis(50);

/// Params as `path -> value`.
pub type Values = BTreeMap<String, f32>;

/// Compiles `doc` once with live `overrides` kept, returning the file's own values too
/// (what decides whether a later file edit wins over a live value). Overrides of params
/// the graph no longer has are left out.
pub fn compile_with(
    doc: &GraphDoc,
    registry: &Registry,
    prepare: PrepareInfo,
    overrides: &Overrides,
) -> Result<(Values, CompiledGraph), GraphError> {
    let mut options = CompileOptions::new(prepare).with_overrides(
        overrides
            .iter()
            .map(|(p, v)| (p.clone(), v.clone()))
            .collect(),
    );
    options.skip_unknown_overrides = true;
    let compiled = lathe_engine::compile(doc, registry, &options)?;
    let file_values = compiled
        .info
        .nodes
        .iter()
        .flat_map(|n| {
            let names = n
                .spec
                .params
                .iter()
                .map(move |p| format!("{}.{}", n.id, p.name));
            names.zip(n.file_values.iter().copied())
        })
        .collect();
    Ok((file_values, compiled))
}

/// Values set live (and by `--set`), by param path.
pub type Overrides = BTreeMap<String, ParamValue>;

/// DSP load seen over the run.
#[derive(Debug, Default)]
struct LoadStats {
    sum: f64,
    count: u64,
    max: f32,
    last: f32,
}

impl LoadStats {
    fn add(&mut self, load: f32) {
        if load.is_finite() {
            self.sum += f64::from(load);
            self.count += 1;
            self.max = self.max.max(load);
            self.last = load;
        }
    }

    fn mean(&self) -> f64 {
        if self.count == 0 {
            0.0
        } else {
            self.sum / self.count as f64
        }
    }
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    Quit,
    /// The audio side stopped by itself (the JACK server went away) and the run was not
    /// asked to wait for it.
    ServerGone,
}

/// The control thread's state: the running graph, the live values, and the backend.
pub struct ControlLoop<B: Backend> {
    pub graph_path: PathBuf,
    pub registry: Registry,
    pub doc: GraphDoc,
    pub controller: Controller,
    /// Params changed live (or with `--set`): kept over reloads unless the file changes them.
    pub overrides: Overrides,
    /// The file's own values of the running graph.
    pub file_values: Values,
    pub backend: B,
    /// Hands new stages to the backend's audio side.
    stages: StageSender,
    pub controls: Arc<MonitorControls>,
    /// The monitor's references (`monitor ref`).
    pub references: RefDeck,
    pub watcher: Option<FileWatcher>,
    /// The running graph's control scripts.
    scripts: LiveScripts,
    pending_reload: Option<Instant>,
    pending_stage: Option<Box<Stage>>,
    meter_line: MeterLine,
    messages: Messages,
    /// The web console, when `--ui` serves one.
    web: Option<WebLink>,
    next_meters: Instant,
    load: LoadStats,
    started: Instant,
    /// The period size last announced: the engine keeps its prepared block whatever the
    /// server's period (it splits longer periods), so only a rate change recompiles.
    period_frames: u32,
    /// Waits for a lost server and reconnects (`None`: the run ends when it goes).
    server: Option<ServerWatch<B>>,
}

impl<B: Backend> ControlLoop<B> {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        graph_path: PathBuf,
        registry: Registry,
        doc: GraphDoc,
        controller: Controller,
        overrides: Overrides,
        file_values: Values,
        backend: B,
        stages: StageSender,
        controls: Arc<MonitorControls>,
        scripts: LiveScripts,
    ) -> Self {
        let meter_line = MeterLine::new(controller.info());
        let period_frames = backend.status().format().1;
        Self {
            graph_path,
            registry,
            doc,
            controller,
            overrides,
            file_values,
            backend,
            stages,
            references: RefDeck::new(controls.clone()),
            controls,
            watcher: None,
            scripts,
            pending_reload: None,
            pending_stage: None,
            meter_line,
            messages: Messages::terminal(),
            web: None,
            next_meters: Instant::now(),
            load: LoadStats::default(),
            started: Instant::now(),
            period_frames,
            server: None,
        }
    }

    /// Keeps the session when the server goes away: waits for it and reconnects with
    /// `reconnect` instead of ending the run.
    pub fn survive_server_loss(&mut self, reconnect: Box<dyn Reconnect<B> + Send>) {
        self.server = Some(ServerWatch::new(reconnect));
    }

    /// The server went away and has not come back yet.
    pub fn server_lost(&self) -> bool {
        self.server.as_ref().is_some_and(|w| w.lost_since.is_some())
    }

    /// Sends the control loop's messages somewhere else than the terminal (a test reads
    /// them from a channel).
    pub fn set_messages(&mut self, messages: Messages) {
        self.messages = messages;
    }

    /// Publishes to the web console from now on, starting with the running graph.
    pub fn set_web(&mut self, mut link: WebLink) {
        link.graph(&self.controller, &self.graph_path);
        link.scope = self.stages.scope.take();
        link.spectrum_ring = self.stages.spectrum.take();
        self.web = Some(link);
    }

    /// Browsers on the web console now.
    pub fn web_clients(&self) -> usize {
        self.web.as_ref().map_or(0, WebLink::clients)
    }

    /// Runs until `quit` or until the audio side stops by itself.
    pub fn run(&mut self, events: &Receiver<Event>) -> Ending {
        loop {
            if let Some(ending) = self.turn(events) {
                return ending;
            }
        }
    }

    /// One turn of the loop: due script ticks, at most one event (waiting until the next
    /// tick or [`TICK`]), then the housekeeping. `Some` when the run is over.
    pub fn turn(&mut self, events: &Receiver<Event>) -> Option<Ending> {
        if !self.server_lost() {
            // Scripts steer audio; with none playing they wait (and start afresh after).
            self.tick_scripts();
        }
        let tick = match &mut self.web {
            // Meter frames for the browsers are due more often than the tick.
            Some(web) => web.tick(
                &self.controller,
                &self.controls,
                self.load.last,
                self.backend.status().xruns.load(Ordering::Relaxed),
            ),
            None => TICK,
        };
        match events.recv_timeout(self.scripts.wait(&self.controller, tick.min(TICK))) {
            Ok(Event::Command { cmd, reply }) => {
                let result = self.execute(cmd);
                let quit = matches!(result, Ok(Answer::Quit));
                match reply {
                    Some(tx) => {
                        let _ = tx.send(result);
                    }
                    None => self.print_reply(result),
                }
                if quit {
                    return Some(Ending::Quit);
                }
            }
            Ok(Event::FilesChanged) => {
                self.pending_reload = Some(Instant::now() + RELOAD_DEBOUNCE);
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => std::thread::sleep(TICK),
        }
        if self.backend.status().shutdown.load(Ordering::Acquire) {
            let Some(watch) = self.server.as_mut() else {
                return Some(Ending::ServerGone);
            };
            if watch.lost() {
                self.on_server_lost();
            }
            if self.server.as_mut().is_some_and(ServerWatch::poll_due) {
                self.reconnect();
            }
        }
        if self.pending_reload.is_some_and(|t| Instant::now() >= t) {
            self.pending_reload = None;
            self.reload();
        }
        if self.server_lost() {
            // Nothing runs the engine: its queues are left alone until the new one starts.
            return None;
        }
        self.follow_server_format();
        for (text, error) in self.references.poll() {
            self.say(&text, error);
        }
        self.controller.collect_garbage();
        self.stages.collect();
        self.controls.codec.collect();
        if let Some(stage) = self.pending_stage.take() {
            self.pending_stage = self.stages.send(stage).err();
        }
        self.load.add(self.backend.dsp_load_percent());
        if self.messages.shows_meter_line() && Instant::now() >= self.next_meters {
            self.next_meters = Instant::now() + METER_PERIOD;
            self.draw_meters();
        }
        None
    }

    /// The graph now running: its buses, params, meters, latency and format.
    pub fn info(&self) -> &GraphInfo {
        self.controller.info()
    }

    /// Reports the graph latency to the backend and lines the monitor's A/B path up
    /// with it.
    pub fn set_latency(&self, latency_frames: usize) {
        let frames = latency_frames.min(u32::MAX as usize) as u32;
        self.controls
            .latency_frames
            .store(frames.min(MAX_DRY_DELAY_FRAMES as u32), Ordering::Relaxed);
        self.backend.set_latency(latency_frames);
    }

    /// Runs the scripts' due ticks and reports their failures.
    fn tick_scripts(&mut self) {
        for failure in self.scripts.tick(&mut self.controller) {
            self.say(&failure, true);
        }
    }

    /// The summary printed when the run ends.
    pub fn summary(&self) -> String {
        format!(
            "lathe: ran {:.1} s; DSP load mean {:.1}% max {:.1}%; {} xruns\nlathe: {}",
            self.started.elapsed().as_secs_f64(),
            self.load.mean(),
            self.load.max,
            self.backend.status().xruns.load(Ordering::Relaxed),
            self.backend.status().process.describe(),
        )
    }

    /// Prints a line without tearing the meter line.
    pub fn say(&mut self, text: &str, error: bool) {
        self.messages.say(text, error);
        if let Some(web) = &self.web {
            web.say(text, error);
        }
    }

    fn print_reply(&mut self, reply: Reply) {
        match reply {
            Ok(Answer::Text(t)) => self.say(&t, false),
            // `+ 0.0` turns -0 into 0: a param at zero reads `0`, not `-0`.
            Ok(Answer::Value { path, value }) => {
                self.say(&format!("{path} = {}", value + 0.0), false)
            }
            Ok(Answer::Quit) => {}
            Err(e) => self.say(&format!("error: {e}"), true),
        }
    }

    fn draw_meters(&mut self) {
        let line = self.meter_line.render(
            &self.controller,
            self.load.last,
            self.backend.status().xruns.load(Ordering::Relaxed),
            &self.monitor_state(),
        );
        self.messages.meter_line(&line);
    }

    /// Carries out one command.
    pub fn execute(&mut self, cmd: Command) -> Reply {
        match cmd {
            Command::Set { path, value } => {
                let number = crate::value::number_for(self.controller.info(), &path, &value)?;
                let applied = self
                    .controller
                    .set_param(&path, number)
                    .map_err(|e| e.to_string())?;
                let kept = ParamValue::Number(f64::from(applied));
                self.overrides.insert(path.clone(), kept);
                Ok(Answer::Value {
                    path,
                    value: applied,
                })
            }
            Command::Get { path } => self.get(&path),
            Command::Bypass { node, on } => {
                let path = format!("{node}.{}", lathe_engine::compile::BYPASS_PARAM);
                let now = self.controller.param(&path).map_err(|_| {
                    let ids: Vec<&str> = self
                        .controller
                        .info()
                        .nodes
                        .iter()
                        .map(|n| n.id.as_str())
                        .collect();
                    format!("unknown node `{node}`; nodes: {}", ids.join(", "))
                })?;
                let on = on.unwrap_or(now < 0.5);
                self.execute(Command::Set {
                    path,
                    value: ParamValue::Bool(on),
                })
                .map(|_| Answer::Text(format!("{node} {}", if on { "bypassed" } else { "active" })))
            }
            Command::Meters => Ok(Answer::Text(self.meters_text())),
            Command::Save { path } => self.save(path).map(Answer::Text),
            Command::Monitor { switch, on } => {
                let on = on.unwrap_or(!self.controls.get(switch));
                self.controls.set(switch, on);
                Ok(Answer::Text(format!("monitor: {}", self.monitor_state())))
            }
            Command::MonitorRef(cmd) => self.references.execute(cmd),
            Command::MonitorCodec { spec } => {
                let block = self.controller.info().prepare.max_block_frames;
                self.controls.codec.listen(spec, block)?;
                if spec.is_some() {
                    // Compare at equal loudness from then on, as `ab on` does.
                    self.controls.set(super::monitor::Switch::Match, true);
                }
                Ok(Answer::Text(format!("monitor: {}", self.monitor_state())))
            }
            Command::Solo { target, on } => self.solo(target, on).map(Answer::Text),
            Command::Help => Ok(Answer::Text(HELP.to_string())),
            Command::Quit => Ok(Answer::Quit),
        }
    }

    /// `solo NODE.PORT`, `solo on|off`, or `solo` alone (what is soloed).
    fn solo(&mut self, target: Option<String>, on: Option<bool>) -> Result<String, String> {
        let flag = &self.controls.solo;
        if let Some(path) = target
            && self.controller.listening() != Some(path.as_str())
        {
            if flag.load(Ordering::Relaxed) {
                // Fade the current solo out before the tap moves, so it never clicks.
                flag.store(false, Ordering::Relaxed);
                std::thread::sleep(SOLO_HANDOVER);
            }
            self.controller.listen(Some(&path))?;
        }
        if let Some(on) = on {
            if on && self.controller.listening().is_none() {
                return Err("nothing to solo; give a node output: solo bands.band2".into());
            }
            flag.store(on, Ordering::Relaxed);
        }
        Ok(format!("monitor: {}", self.monitor_state()))
    }

    /// The monitor switches that are on, and the soloed output.
    fn monitor_state(&self) -> String {
        let mut switches = match self.references.describe() {
            Some(r) if self.controls.describe() == "off" => r,
            Some(r) => format!("{} {r}", self.controls.describe()),
            None => self.controls.describe(),
        };
        if let Some(spec) = self.controls.codec.spec() {
            let late = self.controls.codec.late_frames.load(Ordering::Relaxed);
            let codec = match late {
                0 => format!("codec {spec}"),
                n => format!("codec {spec} ({n} frames late)"),
            };
            switches = if switches == "off" {
                codec
            } else {
                format!("{switches} {codec}")
            };
        }
        match (
            self.controls.solo.load(Ordering::Relaxed),
            self.controller.listening(),
        ) {
            (true, Some(path)) if switches == "off" => format!("solo {path}"),
            (true, Some(path)) => format!("{switches} solo {path}"),
            _ => switches,
        }
    }

    fn get(&self, path: &str) -> Reply {
        match self.controller.param(path) {
            Ok(value) => Ok(Answer::Value {
                path: path.to_string(),
                value,
            }),
            Err(param_err) => match self.controller.meter(path) {
                Ok(value) => Ok(Answer::Value {
                    path: path.to_string(),
                    value,
                }),
                Err(meter_err) => {
                    let info = self.controller.info();
                    match (info.suggest_param(path), info.suggest_meter(path)) {
                        (None, Some(_)) => Err(meter_err.to_string()),
                        _ => Err(format!("no param or meter `{path}`: {param_err}")),
                    }
                }
            },
        }
    }

    fn meters_text(&self) -> String {
        let info = self.controller.info();
        let mut lines: Vec<String> = info
            .meter_paths()
            .into_iter()
            .enumerate()
            .map(|(i, p)| format!("{p} = {}", number(self.controller.meter_index(i)).trim()))
            .collect();
        let (wet, dry) = self.controls.loudness();
        lines.push(format!(
            "monitor: {}; short-term loudness processed {} LUFS, unprocessed {} LUFS",
            self.monitor_state(),
            number(wet).trim(),
            number(dry).trim()
        ));
        lines.push(format!(
            "DSP load {:.1}%, {} xruns",
            self.load.last,
            self.backend.status().xruns.load(Ordering::Relaxed)
        ));
        lines.join("\n")
    }

    /// Writes the running graph with its current values.
    fn save(&self, path: Option<PathBuf>) -> Result<String, String> {
        let target = match path {
            Some(p) => p,
            None => free_saved_name(&self.graph_path),
        };
        // Every file the session reads: the graph, its subgraphs and scripts, references.
        let mut protected = vec![("graph file", self.graph_path.clone())];
        let reads = self.info().read_files.iter();
        protected.extend(reads.map(|f| ("file the graph reads", f.clone())));
        protected.extend(
            self.references
                .paths()
                .map(|p| ("reference", p.to_path_buf())),
        );
        if let Some((role, file)) = save_file::replaces(&target, &protected) {
            return Err(format!(
                "refusing to write over the {role} {}; give another path",
                file.display()
            ));
        }
        let current = values_of_controller(&self.controller);
        let mut per_node: Vec<(String, Vec<(String, f64)>)> = Vec::new();
        let mut skipped = Vec::new();
        for path in self.overrides.keys() {
            let Some(&value) = current.get(path) else {
                continue;
            };
            let root = self.doc.nodes.iter().find_map(|n| {
                let param = path.strip_prefix(n.id.as_str())?.strip_prefix('.')?;
                let is_leaf = self.controller.info().nodes.iter().any(|i| i.id == n.id);
                is_leaf.then(|| (n.id.clone(), param.to_string()))
            });
            match root {
                Some((id, param)) => match per_node.iter_mut().find(|(n, _)| *n == id) {
                    Some((_, list)) => list.push((param, f64::from(value))),
                    None => per_node.push((id, vec![(param, f64::from(value))])),
                },
                None => skipped.push(path.clone()),
            }
        }
        let mut configs = self.scripts.configs_to_save()?;
        configs.retain(|(id, _)| {
            let at_root = self.doc.nodes.iter().any(|n| n.id == *id);
            if !at_root {
                skipped.push(format!("{id} (plugin state)"));
            }
            at_root
        });
        let text = lathe_engine::graph::save::to_ron_with_configs(&self.doc, &per_node, &configs);
        save_file::write_replacing(&target, &text)
            .map_err(|e| format!("cannot write {}: {e}", target.display()))?;
        let mut msg = format!("saved {}", target.display());
        if !skipped.is_empty() {
            msg.push_str(&format!(
                " (values inside subgraph files not written: {})",
                skipped.join(", ")
            ));
        }
        Ok(msg)
    }

    /// Reloads the graph after a file change; a broken edit keeps the running graph.
    fn reload(&mut self) {
        let prepare = self.controller.info().prepare;
        let doc = match GraphDoc::load(&self.graph_path) {
            Ok(doc) => doc,
            Err(problem) => return self.reload_failed(&GraphError::from(problem)),
        };
        let (file_values, compiled) =
            match compile_with(&doc, &self.registry, prepare, &self.overrides) {
                Ok(c) => c,
                Err(e) => return self.reload_failed(&e),
            };
        let mut dropped = Vec::new();
        let old_file = &self.file_values;
        self.overrides.retain(|path, _| {
            let keep = match (old_file.get(path), file_values.get(path)) {
                (Some(a), Some(b)) => a == b,
                (None, Some(_)) => true,
                _ => false,
            };
            if !keep {
                dropped.push(path.clone());
            }
            keep
        });
        let mut compiled = if dropped.is_empty() {
            compiled
        } else {
            // The file's edits win: compile again without the dropped live values.
            drop(compiled);
            match compile_with(&doc, &self.registry, prepare, &self.overrides) {
                Ok((_, c)) => c,
                Err(e) => return self.reload_failed(&e),
            }
        };
        if self.server_lost() {
            // No engine runs: the new graph starts when the server is back.
            self.doc = doc;
            self.file_values = file_values;
            self.watch_files();
            let msg = format!(
                "reloaded {}; it starts when the JACK server is back",
                self.graph_path.display()
            );
            return self.say(&msg, false);
        }
        let scripts = LiveScripts::new(compiled.take_control_tasks());
        if self.install(compiled, scripts) {
            self.doc = doc;
            self.file_values = file_values;
            self.watch_files();
            let mut msg = format!(
                "reloaded {} (latency {} frames)",
                self.graph_path.display(),
                self.controller.info().latency_frames
            );
            if !dropped.is_empty() {
                msg.push_str(&format!("; the file now sets {}", dropped.join(", ")));
            }
            self.say(&msg, false);
        }
    }

    fn reload_failed(&mut self, e: &GraphError) {
        self.say(
            &format!("{e}\nreload failed; the running graph is unchanged"),
            true,
        );
    }

    /// Puts a compiled graph and its scripts in place of the running ones. False if it
    /// was not.
    fn install(&mut self, compiled: CompiledGraph, scripts: LiveScripts) -> bool {
        let latency = compiled.info.latency_frames;
        if compiled.info.prepare != self.controller.info().prepare {
            if let Err(e) = self.replace_engine(compiled) {
                self.say(&format!("error: {e}"), true);
                return false;
            }
            // A new engine starts at frame 0 (and maybe another rate): scripts start afresh.
            self.scripts = scripts;
        } else {
            match self.controller.swap(compiled) {
                Ok(()) => {
                    let old = std::mem::replace(&mut self.scripts, scripts);
                    self.scripts.take_over(old);
                }
                Err(SwapError::Busy) => {
                    self.pending_reload = Some(Instant::now() + RETRY);
                    return false;
                }
                Err(e) => {
                    self.say(&format!("error: {e}; the running graph is unchanged"), true);
                    return false;
                }
            }
        }
        self.meter_line = MeterLine::new(self.controller.info());
        if let Some(web) = &mut self.web {
            web.graph(&self.controller, &self.graph_path);
        }
        self.set_latency(latency);
        if self.controls.solo.load(Ordering::Relaxed) && self.controller.listening().is_none() {
            self.controls.solo.store(false, Ordering::Relaxed);
            self.say(
                "solo off: the soloed output is no longer in the graph",
                false,
            );
        }
        true
    }

    /// A new engine for a new prepare (the swap path needs the same one): state restarts.
    fn replace_engine(&mut self, compiled: CompiledGraph) -> Result<(), String> {
        let (old, new) = (self.controller.info(), &compiled.info);
        if old.inputs != new.inputs || old.outputs != new.outputs {
            return Err(SwapError::BusesDiffer {
                old: format!("{:?} / {:?}", old.inputs, old.outputs),
                new: format!("{:?} / {:?}", new.inputs, new.outputs),
            }
            .to_string());
        }
        if self.pending_stage.is_some() {
            return Err("a previous engine change is still in progress".into());
        }
        let (controller, engine) = lathe_engine::engine(compiled);
        let stage = Stage::with_monitor(engine, controller.info(), &self.controls);
        self.pending_stage = self.stages.send(Box::new(stage)).err();
        // The new monitor listens through the same codec, opened for its rate.
        if let Some(spec) = self.controls.codec.spec() {
            let block = controller.info().prepare.max_block_frames;
            if let Err(e) = self.controls.codec.listen(Some(spec), block) {
                self.say(&format!("monitor codec off: {e}"), true);
                let _ = self.controls.codec.listen(None, block);
            }
        }
        let listening = self.controller.listening().map(str::to_string);
        self.controller = controller;
        if let Some(path) = listening {
            let _ = self.controller.listen(Some(&path));
        }
        Ok(())
    }

    /// Says that the server went away, here and on the web console.
    fn on_server_lost(&mut self) {
        let text = format!(
            "lathe: JACK server gone, waiting for it (looking every {:.1} s); the session, \
             its values and its controls stay",
            restart::POLL_PERIOD.as_secs_f64()
        );
        self.say(&text, true);
        if let Some(web) = &self.web {
            web.server(false, &text);
        }
    }

    /// Looks for the server once; when it answers, starts the graph on a new client with
    /// every live value kept, and wires it as at start.
    fn reconnect(&mut self) {
        let Some(mut watch) = self.server.take() else {
            return;
        };
        self.reconnect_with(&mut watch);
        self.server = Some(watch);
    }

    fn reconnect_with(&mut self, watch: &mut ServerWatch<B>) {
        let Ok(mut backend) = watch.reconnect.open() else {
            return; // not back yet
        };
        let started = match start_audio(
            &mut backend,
            &self.doc,
            &self.registry,
            &self.overrides,
            &self.controls,
        ) {
            Ok(s) => s,
            Err(e) => {
                let text =
                    format!("lathe: the JACK server is back but the graph cannot start on it: {e}");
                return self.say(&text, true);
            }
        };
        let xruns = self.backend.status().xruns.load(Ordering::Relaxed);
        backend.status().xruns.fetch_add(xruns, Ordering::Relaxed);
        std::mem::replace(&mut self.backend, backend).stop(true);
        let listening = self.controller.listening().map(str::to_string);
        self.controller = started.controller;
        if let Some(path) = listening {
            let _ = self.controller.listen(Some(&path));
        }
        self.stages = started.stages;
        self.scripts = started.scripts;
        self.file_values = started.file_values;
        self.pending_stage = None;
        self.period_frames = self.backend.status().format().1;
        self.meter_line = MeterLine::new(self.controller.info());
        if let Some(web) = &mut self.web {
            web.scope = self.stages.scope.take();
            web.spectrum_ring = self.stages.spectrum.take();
            web.graph(&self.controller, &self.graph_path);
        }
        self.set_latency(self.controller.info().latency_frames);
        let away = watch
            .lost_since
            .take()
            .map_or(0.0, |t| t.elapsed().as_secs_f64());
        watch.reconnects += 1;
        for problem in watch.reconnect.wire(&self.backend, self.controller.info()) {
            self.say(&format!("warning: {problem}"), true);
        }
        let info = self.controller.info();
        let text = format!(
            "lathe: JACK server back after {away:.1} s; reconnected as {} ({} Hz, {} frames), \
             ports and connections restored",
            self.backend.describe(),
            info.prepare.sample_rate_hz,
            info.prepare.max_block_frames,
        );
        self.say(&text, false);
        if let Some(web) = &self.web {
            web.server(true, &text);
        }
    }

    /// Follows the server's format. A new period size keeps the running engine, its
    /// state and its latency: the engine splits a period longer than its prepared block,
    /// so nothing is heard but the server's own switch. A new sample rate recompiles (the
    /// state of every filter depends on it) and restarts the graph.
    fn follow_server_format(&mut self) {
        let (rate, block) = self.backend.status().format();
        if block == 0 || self.pending_stage.is_some() {
            return;
        }
        let rate_hz = f64::from(rate);
        if rate_hz == self.controller.info().prepare.sample_rate_hz {
            if block != self.period_frames {
                self.period_frames = block;
                self.say(
                    &format!("lathe: now running at {rate} Hz, {block} frames"),
                    false,
                );
            }
            return;
        }
        let prepared_block = self.controller.info().prepare.max_block_frames;
        let prepare = PrepareInfo::new(rate_hz, prepared_block);
        let prepared = compile_with(&self.doc, &self.registry, prepare, &self.overrides)
            .map_err(|e| e.to_string())
            .map(|(_, mut compiled)| {
                let scripts = LiveScripts::new(compiled.take_control_tasks());
                (compiled, scripts)
            });
        match prepared {
            Ok((compiled, scripts)) => {
                if self.install(compiled, scripts) {
                    self.period_frames = block;
                    self.say(
                        &format!("lathe: now running at {rate} Hz, {block} frames"),
                        false,
                    );
                }
            }
            Err(e) => self.say(
                &format!("{e}\ncannot prepare the graph for {rate} Hz / {block} frames"),
                true,
            ),
        }
    }

    /// Watches the running graph's files and scripts (they change when subgraphs or
    /// scripts are added).
    pub fn watch_files(&mut self) {
        let mut files = self.controller.info().files.clone();
        files.extend(self.scripts.files());
        if let Some(w) = self.watcher.as_mut()
            && let Err(e) = w.set_files(&files)
        {
            self.say(&format!("warning: cannot watch the graph files: {e}"), true);
        }
    }
}

/// Current values of every param of the controller's graph.
fn values_of_controller(c: &Controller) -> Values {
    let info = c.info();
    info.nodes
        .iter()
        .zip(c.values())
        .flat_map(|(n, vals)| {
            n.spec
                .params
                .iter()
                .zip(vals)
                .map(move |(p, &v)| (format!("{}.{}", n.id, p.name), v))
        })
        .collect()
}

/// `master.ron` -> `master.saved.ron`, then `master.saved-2.ron`... whichever is free.
pub fn free_saved_name(graph: &Path) -> PathBuf {
    let stem = graph
        .file_stem()
        .map_or_else(|| "graph".to_string(), |s| s.to_string_lossy().into_owned());
    let dir = graph.parent().unwrap_or(Path::new(""));
    let mut n = 1;
    loop {
        let name = if n == 1 {
            format!("{stem}.saved.ron")
        } else {
            format!("{stem}.saved-{n}.ron")
        };
        let candidate = dir.join(name);
        if !candidate.exists() {
            return candidate;
        }
        n += 1;
    }
}
