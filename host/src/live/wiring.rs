//! Wiring a JACK client's ports as `lathe run` is asked to: `--connect` (the main bus to
//! the system ports), `--in BUS=PORT,...` and `--out BUS=PORT,...`.

use lathe_engine::{BusInfo, GraphInfo};

use super::args::RunOptions;
use super::audio::main_bus;
use super::backend::Backend;
use super::jack_host::JackBackend;

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
pub fn connect(host: &JackBackend, args: &RunOptions, info: &GraphInfo) -> Vec<String> {
    let mut problems = Vec::new();
    let (in_ports, out_ports) = host.ports();
    let ours = |buses: &[BusInfo], names: &[String], bus: &str| {
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
        if let Some((i, _)) = main_bus(&info.inputs) {
            let mine = ours(&info.inputs, in_ports, &info.inputs[i].name).unwrap_or_default();
            wire(true, mine, host.physical_ports(true));
        }
        if let Some((i, _)) = main_bus(&info.outputs) {
            let mine = ours(&info.outputs, out_ports, &info.outputs[i].name).unwrap_or_default();
            wire(false, mine, host.physical_ports(false));
        }
    }
    let sides = [
        (true, &args.inputs, &info.inputs, in_ports),
        (false, &args.outputs, &info.outputs, out_ports),
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
