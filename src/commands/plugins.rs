//! `lathe plugins`: the installed plugins a graph can host, LV2 and CLAP, with their
//! ports, latency and params, as text or JSON. Listing reads the plugins' descriptions
//! only; `--latency` also builds each LV2 plugin that reports a latency, to read it.

use anyhow::anyhow;
use lathe_plugins::{ParamInfo, PluginInfo};
use serde_json::{Value, json};

use crate::cli::PluginsArgs;
use crate::exit::{CliError, ResultExt};

/// The rate and block size plugins are probed at for the latency shown.
const PROBE_RATE_HZ: f64 = 48_000.0;
const PROBE_BLOCK_FRAMES: usize = 512;

pub fn run(args: &PluginsArgs) -> Result<(), CliError> {
    let filter = args.filter.as_deref();
    let mut plugins = match lathe_plugins::lv2::discover(filter) {
        Ok(list) => list,
        Err(e) => {
            eprintln!("warning: {e}");
            Vec::new()
        }
    };
    plugins.extend(clap_plugins(filter));
    // Building an LV2 plugin is what makes a full list slow (some take 100 ms), so only
    // `--latency` does it, and only for plugins with a latency port.
    if args.latency {
        for p in &mut plugins {
            if p.format == lathe_plugins::PluginFormat::Lv2 && p.reports_latency {
                p.latency_frames =
                    lathe_plugins::lv2::probe_latency(&p.id, PROBE_RATE_HZ, PROBE_BLOCK_FRAMES);
            }
        }
    }
    if plugins.is_empty() && filter.is_some() {
        return Err(CliError::user(anyhow!(
            "no installed plugin matches `{}`; `lathe plugins` lists them all",
            filter.unwrap_or_default()
        )));
    }
    if args.json {
        let all: Vec<Value> = plugins.iter().map(plugin_json).collect();
        println!("{}", serde_json::to_string_pretty(&all).runtime_fault()?);
    } else {
        print!("{}", list_text(&plugins, args.latency));
    }
    Ok(())
}

/// CLAP plugins on the CLAP search path (`CLAP_PATH`, `~/.clap`, `/usr/lib/clap`,
/// `/usr/local/lib/clap`) whose id or name contains `filter` (any case).
fn clap_plugins(filter: Option<&str>) -> Vec<PluginInfo> {
    let wanted = filter.map(str::to_lowercase);
    lathe_plugins::clap::discover()
        .into_iter()
        .filter(|p| {
            wanted.as_deref().is_none_or(|f| {
                p.id.to_lowercase().contains(f) || p.name.to_lowercase().contains(f)
            })
        })
        .collect()
}

/// `measured`: were latencies probed (`--latency`)?
fn list_text(plugins: &[PluginInfo], measured: bool) -> String {
    let mut out = format!(
        "{} plugins (`lathe nodes lv2 --uri URI` describes an LV2 one; latency at {PROBE_RATE_HZ} Hz):\n",
        plugins.len()
    );
    for p in plugins {
        let ports = |ports: &[lathe_plugins::AudioPortInfo]| {
            ports
                .iter()
                .map(|a| format!("{} {} ch", a.name, a.channels))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let latency = match p.latency_frames {
            Some(f) => format!("{f} frames"),
            None if !measured => "reported by the plugin, not measured (--latency)".to_string(),
            None => "unknown (does not build)".to_string(),
        };
        out.push_str(&format!("\n{}  [{}]  {}\n", p.id, p.format.kind(), p.name));
        out.push_str(&format!(
            "  audio: {} -> {}; latency {latency}\n",
            or_none(ports(&p.audio_inputs)),
            or_none(ports(&p.audio_outputs))
        ));
        let params: Vec<String> = p.params.iter().map(param_text).collect();
        out.push_str(&format!("  params: {}\n", or_none(params.join(", "))));
        let meters: Vec<&str> = p.meters.iter().map(|m| m.symbol.as_str()).collect();
        out.push_str(&format!("  meters: {}\n", or_none(meters.join(", "))));
    }
    out
}

fn or_none(s: String) -> String {
    if s.is_empty() { "none".to_string() } else { s }
}

fn param_text(p: &ParamInfo) -> String {
    let unit = p
        .unit
        .as_deref()
        .map(|u| format!(" {u}"))
        .unwrap_or_default();
    // The plugin's numbers are single precision: shown as such, not as their f64 widening.
    let (min, max, default) = (p.min as f32, p.max as f32, p.default as f32);
    format!("{} {min}..{max}{unit} ({default})", p.symbol)
}

fn param_json(p: &ParamInfo) -> Value {
    json!({
        "symbol": p.symbol, "name": p.name, "min": p.min, "max": p.max,
        "default": p.default, "unit": p.unit, "integer": p.integer, "toggle": p.toggle,
        "choices": p.choices.iter().map(|(v, l)| json!({"value": v, "label": l})).collect::<Vec<_>>(),
    })
}

fn plugin_json(p: &PluginInfo) -> Value {
    let ports = |ports: &[lathe_plugins::AudioPortInfo]| -> Vec<Value> {
        ports
            .iter()
            .map(|a| json!({"name": a.name, "channels": a.channels, "sidechain": a.sidechain}))
            .collect()
    };
    json!({
        "format": p.format.kind(),
        "id": p.id,
        "name": p.name,
        "bundle": p.bundle_path,
        "inputs": ports(&p.audio_inputs),
        "outputs": ports(&p.audio_outputs),
        "latency_frames": p.latency_frames,
        "reports_latency": p.reports_latency,
        "latency_sample_rate_hz": PROBE_RATE_HZ,
        "params": p.params.iter().map(param_json).collect::<Vec<_>>(),
        "meters": p.meters.iter().map(param_json).collect::<Vec<_>>(),
    })
}
