//! `lathe run`: a graph played live as a JACK client, with hot reload of its files, live
//! control on stdin and over OSC, a monitor section and terminal meters.
//!
//! Threads: JACK's process thread runs the engine and the monitor (real-time safe, see
//! `jack_host`); the control thread (`control_loop`) owns the controller and is the only one
//! that changes the graph; stdin, OSC and the file watcher send it events.

pub mod args;
mod console;
mod control_loop;
mod jack_host;
mod meters;
mod monitor;
mod osc;
mod script_nodes;
mod scripts;
mod watch;

use std::collections::BTreeMap;
use std::io::BufRead;
use std::process::ExitCode;
use std::sync::mpsc::{self, Sender};

use lathe_engine::{GraphDoc, GraphError, PrepareInfo};

use args::RunArgs;
use control_loop::{ControlLoop, Ending, Event, compile_with, new_monitor};
use jack_host::{Host, Stage};
use monitor::MonitorControls;

/// JACK client name unless `--name` is given.
pub const DEFAULT_CLIENT_NAME: &str = "lathe";

/// Exit code when the graph is broken or the server went away.
const EXIT_FAILURE: u8 = 1;
/// Exit code when no JACK server (or no JACK library) is available.
const EXIT_NO_JACK: u8 = 2;

/// Runs `lathe run` until `quit` (exit 0) or the server goes away (exit 1). Exits 2
/// without a JACK server.
pub fn run(args: RunArgs) -> ExitCode {
    match start(&args) {
        Ok(code) => code,
        Err((code, message)) => {
            eprintln!("{message}");
            ExitCode::from(code)
        }
    }
}

type Failure = (u8, String);

fn start(args: &RunArgs) -> Result<ExitCode, Failure> {
    let registry = crate::registry();
    let doc =
        GraphDoc::load(&args.graph).map_err(|p| (EXIT_FAILURE, GraphError::from(p).to_string()))?;
    let overrides = parse_sets(&args.set).map_err(|e| (EXIT_FAILURE, e))?;
    let client =
        jack_host::open_client(&args.name).map_err(|e| (EXIT_NO_JACK, format!("lathe: {e}")))?;
    let prepare = PrepareInfo::new(
        f64::from(client.sample_rate()),
        client.buffer_size() as usize,
    );
    let (file_values, compiled) = compile_with(&doc, &registry, prepare, &overrides)
        .map_err(|e| (EXIT_FAILURE, e.to_string()))?;
    let scripts = scripts::LiveScripts::for_graph(&compiled.info).map_err(|e| (EXIT_FAILURE, e))?;
    let controls = MonitorControls::new();
    let (controller, engine) = lathe_engine::engine(compiled);
    let monitor = new_monitor(controller.info(), &controls);
    let host = Host::start(
        client,
        controller.info(),
        Box::new(Stage::new(engine, monitor)),
    )
    .map_err(|e| (EXIT_FAILURE, format!("lathe: {e}")))?;
    host.set_latency(controller.info().latency_frames, &controls);
    for warning in connect(&host, args, controller.info()) {
        eprintln!("warning: {warning}");
    }
    let (events_tx, events) = mpsc::channel();
    let info = controller.info();
    println!(
        "lathe: running {} as JACK client `{}` ({} Hz, {} frames, latency {} frames)\n\
         lathe: inputs {}\nlathe: outputs {}\nlathe: type `help` for commands",
        args.graph.display(),
        host.client().name(),
        prepare.sample_rate_hz,
        prepare.max_block_frames,
        info.latency_frames,
        list_or_none(&host.in_ports),
        list_or_none(&host.out_ports),
    );
    let mut control = ControlLoop::new(
        args.graph.clone(),
        registry,
        doc,
        controller,
        overrides,
        file_values,
        host,
        controls,
        scripts,
    );
    if !args.no_watch {
        match watch::FileWatcher::new(events_tx.clone()) {
            Ok(w) => {
                control.watcher = Some(w);
                control.watch_files();
            }
            Err(e) => eprintln!("warning: cannot watch the graph files ({e}); hot reload is off"),
        }
    }
    if let Some(addr) = args.osc {
        match osc::spawn(addr, events_tx.clone()) {
            Ok(bound) => println!("lathe: OSC on udp {bound}"),
            Err(e) => {
                return Err((
                    EXIT_FAILURE,
                    format!("lathe: cannot listen for OSC on {addr}: {e}"),
                ));
            }
        }
    }
    spawn_console(events_tx);
    let ending = control.run(&events);
    let summary = control.summary();
    let ControlLoop { host, .. } = control;
    match ending {
        Ending::Quit => {
            host.stop(false);
            println!("\n{summary}");
            Ok(ExitCode::SUCCESS)
        }
        Ending::ServerGone => {
            host.stop(true);
            println!("\n{summary}");
            Err((
                EXIT_FAILURE,
                "lathe: the JACK server has stopped; exiting".to_string(),
            ))
        }
    }
}

fn list_or_none(ports: &[String]) -> String {
    if ports.is_empty() {
        "(none)".to_string()
    } else {
        ports.join(" ")
    }
}

/// Reads commands from stdin on a thread of its own. End of input leaves lathe running
/// (it may be started with stdin closed); `quit` stops it.
fn spawn_console(events: Sender<Event>) {
    let _ = std::thread::Builder::new()
        .name("lathe-console".into())
        .spawn(move || {
            for line in std::io::stdin().lock().lines() {
                let Ok(line) = line else { return };
                match console::parse(&line) {
                    Ok(Some(cmd)) => {
                        if events.send(Event::Command { cmd, reply: None }).is_err() {
                            return;
                        }
                    }
                    Ok(None) => {}
                    Err(e) => eprintln!("error: {e}"),
                }
            }
        });
}

/// `--set NODE.PARAM=VALUE` values, as live overrides.
fn parse_sets(sets: &[String]) -> Result<BTreeMap<String, f64>, String> {
    sets.iter()
        .map(|s| {
            let (path, value) = s
                .rsplit_once('=')
                .ok_or_else(|| format!("--set `{s}`: expected NODE.PARAM=VALUE"))?;
            let value =
                console::parse_value(value.trim()).map_err(|e| format!("--set `{s}`: {e}"))?;
            Ok((path.trim().to_string(), value))
        })
        .collect()
}

/// `BUS=PORT,PORT...` into the bus name and its ports.
fn parse_wiring(spec: &str) -> Result<(&str, Vec<&str>), String> {
    let (bus, ports) = spec
        .split_once('=')
        .ok_or_else(|| format!("`{spec}`: expected BUS=PORT,PORT..."))?;
    let ports: Vec<&str> = ports
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect();
    if ports.is_empty() {
        return Err(format!("`{spec}`: no port given"));
    }
    Ok((bus.trim(), ports))
}

/// Makes the connections asked for; returns what could not be done.
fn connect(host: &Host, args: &RunArgs, info: &lathe_engine::GraphInfo) -> Vec<String> {
    let mut problems = Vec::new();
    let ours = |buses: &[lathe_engine::BusInfo], names: &[String], bus: &str| {
        let mut start = 0;
        for b in buses {
            if b.name == bus {
                return Some(names[start..start + b.channels].to_vec());
            }
            start += b.channels;
        }
        None
    };
    let mut wire = |capture: bool, ours: Vec<String>, theirs: Vec<String>| {
        for (a, b) in ours.iter().zip(&theirs) {
            let r = if capture {
                host.connect(b, a)
            } else {
                host.connect(a, b)
            };
            if let Err(e) = r {
                problems.push(e);
            }
        }
    };
    if args.connect {
        if let Some((i, _)) = jack_host::main_bus(&info.inputs) {
            let mine = ours(&info.inputs, &host.in_ports, &info.inputs[i].name).unwrap_or_default();
            wire(true, mine, host.physical_ports(true));
        }
        if let Some((i, _)) = jack_host::main_bus(&info.outputs) {
            let mine =
                ours(&info.outputs, &host.out_ports, &info.outputs[i].name).unwrap_or_default();
            wire(false, mine, host.physical_ports(false));
        }
    }
    let sides = [
        (true, &args.inputs, &info.inputs, &host.in_ports),
        (false, &args.outputs, &info.outputs, &host.out_ports),
    ];
    let mut bad = Vec::new();
    for (capture, specs, buses, names) in sides {
        for spec in specs {
            match parse_wiring(spec) {
                Ok((bus, ports)) => match ours(buses, names, bus) {
                    Some(mine) => {
                        if ports.len() != mine.len() {
                            bad.push(format!(
                                "`{spec}`: bus `{bus}` has {} channels, {} ports given",
                                mine.len(),
                                ports.len()
                            ));
                        }
                        wire(capture, mine, ports.iter().map(|p| p.to_string()).collect());
                    }
                    None => bad.push(format!(
                        "`{spec}`: no {} bus `{bus}` in the graph",
                        if capture { "input" } else { "output" }
                    )),
                },
                Err(e) => bad.push(e),
            }
        }
    }
    problems.extend(bad);
    problems
}
