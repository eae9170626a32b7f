//! `lathe check`: validate a graph and print what it found, or every problem.

use std::fmt::Write as _;

use lathe_engine::compile::BYPASS_PARAM;
use lathe_engine::{BusInfo, ParamSpec, Unit};
use lathe_host::LoadedGraph;

use crate::cli::CheckArgs;
use crate::exit::CliError;

/// The sample rate `lathe check` and `lathe dot` prepare a graph for: latencies in
/// frames are quoted at this rate.
pub const DESCRIBE_SAMPLE_RATE_HZ: f64 = 48_000.0;
/// The block size `lathe check` and `lathe dot` prepare a graph for.
pub const DESCRIBE_BLOCK_FRAMES: usize = 512;

pub fn run(args: &CheckArgs) -> Result<(), CliError> {
    let graph = super::load(
        &args.graph,
        &args.sets.sets,
        DESCRIBE_SAMPLE_RATE_HZ,
        DESCRIBE_BLOCK_FRAMES,
    )?;
    print!("{}", describe(&graph));
    Ok(())
}

/// The text `lathe check` prints for a valid graph: buses, nodes in processing order
/// with latency and param values, the compensation delays and the total latency.
pub fn describe(graph: &LoadedGraph) -> String {
    let info = graph.info();
    let rate = info.prepare.sample_rate_hz;
    let ms = |frames: usize| frames as f64 * 1000.0 / rate;
    let buses = |b: &[BusInfo]| {
        b.iter()
            .map(|b| format!("{} ({} ch)", b.name, b.channels))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut out = format!("{}: ok\n", graph.path.display());
    let _ = writeln!(out, "inputs:  {}", buses(&graph.inputs));
    let _ = writeln!(out, "outputs: {}", buses(&graph.outputs));
    let _ = writeln!(out, "nodes, in processing order:");
    for node in &info.nodes {
        let latency = if node.spec.latency_frames > 0 {
            format!(", latency {} frames", node.spec.latency_frames)
        } else {
            String::new()
        };
        let _ = writeln!(out, "  {} ({}{latency})", node.id, node.kind);
        for (spec, value) in node.spec.params.iter().zip(&node.values) {
            if spec.name == BYPASS_PARAM && *value == 0.0 {
                continue;
            }
            let _ = writeln!(
                out,
                "    {}.{} = {}",
                node.id,
                spec.name,
                param_value_text(spec, *value)
            );
        }
    }
    let delayed: Vec<_> = info.links.iter().filter(|l| l.delay_frames > 0).collect();
    if !delayed.is_empty() {
        let _ = writeln!(out, "compensation delays:");
        for link in delayed {
            let _ = writeln!(
                out,
                "  {} -> {}: {} frames",
                link.from, link.to, link.delay_frames
            );
        }
    }
    let _ = writeln!(
        out,
        "schedule ({} ops over {} one-channel buffers):",
        info.schedule.len(),
        info.buffers
    );
    for op in &info.schedule {
        let _ = writeln!(out, "  {op}");
    }
    let _ = writeln!(
        out,
        "latency: {} frames ({:.2} ms at {rate} Hz), compensated by `lathe render`",
        info.latency_frames,
        ms(info.latency_frames)
    );
    out
}

fn param_value_text(spec: &ParamSpec, value: f32) -> String {
    match spec.unit {
        Unit::Choice => spec
            .choices
            .get(value as usize)
            .map_or_else(|| value.to_string(), |c| c.to_string()),
        Unit::Toggle => (if value >= 0.5 { "on" } else { "off" }).to_string(),
        Unit::Factor => value.to_string(),
        unit => format!("{value} {}", unit.label()),
    }
}
