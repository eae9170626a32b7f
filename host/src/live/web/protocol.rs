//! The console's messages, JSON text frames over one WebSocket (`/ws`). Documented for
//! users in docs/live.md; the page (assets/app.js) is the reference client.
//!
//! Server to browser, each an object with a `type`:
//! - `graph`: the running graph (nodes with params, meters and outputs; links), sent on
//!   connect and after every reload;
//! - `values`: every param's current value and the monitor switches, sent on connect and
//!   whenever something changed them (from any console, OSC, a script or a browser);
//! - `meters`: about 30 a second, every meter of the graph in the order `graph` lists
//!   them, the monitor's loudness, DSP load, xruns, goniometer points and the console's
//!   own 1/3-octave spectrum of the main output (bands named in `graph`);
//! - `message`: what the control loop says (reloads, reload errors with file:line:col);
//! - `server`: the JACK server went away (`running: false`) or is back (`true`), sent
//!   when that happens and on connect once it happened;
//! - `reply`: the answer to one command, by its `id`;
//! - `error`: a message that could not be understood.
//!
//! Browser to server: `{"id": 7, "cmd": "set", "path": "trim.gain_db", "value": -3}`,
//! and likewise `get`, `bypass` (`node`, `on`), `monitor` (`switch`, `on`; or `switch`
//! `"codec"` with `codec`: a spec such as `"opus:128"`, or `"off"`), `solo`
//! (`target` or `on`), `save` (`path`, optional). `on` left out toggles, as on the
//! console. These become the console's own commands.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};

use lathe_engine::{Controller, GraphInfo, ParamValue, Unit};

use crate::live::console::Command;
use crate::live::events::{Answer, Reply};
use crate::live::monitor::{MonitorControls, Switch};
use crate::live::ref_deck::RefCommand;

/// Largest message accepted from a browser.
pub const MAX_MESSAGE_BYTES: usize = 16 * 1024;

/// A finite number, or null (no value yet, or -inf for silence: the page shows `--`).
fn num(v: f32) -> Value {
    if v.is_finite() {
        // Rounded through the shortest f32 text, so 0.1 stays 0.1 and not 0.10000000149.
        format!("{v}")
            .parse::<f64>()
            .map_or(Value::Null, Value::from)
    } else {
        Value::Null
    }
}

fn unit_kind(u: Unit) -> &'static str {
    match u {
        Unit::Toggle => "toggle",
        Unit::Choice => "choice",
        _ => "number",
    }
}

/// `graph`: what the page draws and which controls it offers.
pub fn graph(info: &GraphInfo, graph_path: &Path, spectrum_bands: &[String]) -> String {
    let nodes: Vec<Value> = info
        .nodes
        .iter()
        .map(|n| {
            let params: Vec<Value> = n
                .spec
                .params
                .iter()
                .zip(&n.file_values)
                .map(|(p, file)| {
                    json!({
                        "name": p.name,
                        "unit": p.unit.label(),
                        "kind": unit_kind(p.unit),
                        "min": num(p.min),
                        "max": num(p.max),
                        "default": num(p.default),
                        "file": num(*file),
                        "choices": p.choices,
                        "doc": p.doc,
                    })
                })
                .collect();
            let meters: Vec<Value> = n
                .spec
                .meters
                .iter()
                .enumerate()
                .map(|(i, m)| json!({"name": m.name, "unit": m.unit.label(), "index": n.meter_start + i}))
                .collect();
            let outputs: Vec<&str> = n.spec.outputs.iter().map(|p| p.name.as_str()).collect();
            json!({
                "id": n.id,
                "kind": n.kind,
                "params": params,
                "meters": meters,
                "outputs": outputs,
                "line": n.at.line,
                "col": n.at.col,
            })
        })
        .collect();
    let links: Vec<Value> = info
        .links
        .iter()
        .map(|l| json!({"from": l.from, "to": l.to}))
        .collect();
    json!({
        "type": "graph",
        "file": graph_path.display().to_string(),
        "sample_rate_hz": info.prepare.sample_rate_hz,
        "latency_frames": info.latency_frames,
        "inputs": info.inputs.iter().map(|b| b.name.as_str()).collect::<Vec<_>>(),
        "outputs": info.outputs.iter().map(|b| b.name.as_str()).collect::<Vec<_>>(),
        "nodes": nodes,
        "links": links,
        "meters": info.meter_paths(),
        "spectrum_bands": spectrum_bands,
    })
    .to_string()
}

/// `values`: every param by path, the monitor switches, the solo, and whether the live
/// values differ from the file's.
pub fn values(controller: &Controller, controls: &MonitorControls) -> String {
    let info = controller.info();
    let mut params = Map::new();
    let mut modified = false;
    for (n, vals) in info.nodes.iter().zip(controller.values()) {
        for ((p, &v), &file) in n.spec.params.iter().zip(vals).zip(&n.file_values) {
            params.insert(format!("{}.{}", n.id, p.name), num(v));
            modified |= v != file;
        }
    }
    let mut monitor = Map::new();
    for name in Switch::NAMES {
        if let Some(s) = Switch::parse(name) {
            monitor.insert((*name).to_string(), Value::Bool(controls.get(s)));
        }
    }
    let solo = controls.solo.load(std::sync::atomic::Ordering::Relaxed);
    let on = controls
        .reference
        .on
        .load(std::sync::atomic::Ordering::Relaxed);
    monitor.insert("ref".to_string(), Value::Bool(on));
    json!({
        "type": "values",
        "params": params,
        "monitor": monitor,
        "codec": controls.codec.spec().map(|s| s.to_string()),
        "solo": solo.then(|| controller.listening()).flatten(),
        "modified": modified,
    })
    .to_string()
}

/// `meters`: every meter (graph order), the monitor loudness, DSP load and xruns.
pub fn meters(
    controller: &Controller,
    controls: &MonitorControls,
    dsp_load_percent: f32,
    xruns: u64,
    scope: &[[f32; 2]],
    spectrum_db: &[f32],
) -> String {
    let values: Vec<Value> = (0..controller.info().meter_count)
        .map(|i| num(controller.meter_index(i)))
        .collect();
    let (wet, dry) = controls.loudness();
    json!({
        "type": "meters",
        "m": values,
        "monitor_lufs": [num(wet), num(dry)],
        "dsp": num(dsp_load_percent),
        "xruns": xruns,
        // Left, right, left, right... to 3 decimals: enough for a 200-pixel scope.
        "scope": scope
            .iter()
            .flat_map(|p| p.iter().map(|&v| (f64::from(v) * 1000.0).round() / 1000.0))
            .collect::<Vec<f64>>(),
        "spectrum": spectrum_db.iter().map(|&v| num(v)).collect::<Vec<Value>>(),
    })
    .to_string()
}

/// `message`: a line the control loop said.
pub fn message(text: &str, error: bool) -> String {
    json!({"type": "message", "text": text, "error": error}).to_string()
}

/// `server`: whether the audio server is there, and what the control loop said about it.
pub fn server(running: bool, text: &str) -> String {
    json!({"type": "server", "running": running, "text": text}).to_string()
}

/// `error`: an unusable message from the browser.
pub fn error(text: &str) -> String {
    json!({"type": "error", "error": text}).to_string()
}

/// `reply`: a command's answer.
pub fn reply(id: Option<u64>, reply: &Reply) -> String {
    match reply {
        Ok(Answer::Value { path, value }) => {
            json!({"type": "reply", "id": id, "ok": true, "path": path, "value": num(*value)})
        }
        Ok(Answer::Text(t)) => json!({"type": "reply", "id": id, "ok": true, "text": t}),
        Ok(Answer::Quit) => json!({"type": "reply", "id": id, "ok": true}),
        Err(e) => json!({"type": "reply", "id": id, "ok": false, "error": e}),
    }
    .to_string()
}

/// A browser's command: its id (echoed in the reply) and the console command.
pub fn parse(text: &str) -> Result<(Option<u64>, Command), String> {
    let v: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    let obj = v.as_object().ok_or("expected a JSON object")?;
    let id = obj.get("id").and_then(Value::as_u64);
    let cmd = obj
        .get("cmd")
        .and_then(Value::as_str)
        .ok_or("missing \"cmd\" (one of set, get, bypass, monitor, solo, save)")?;
    let text_of = |key: &str| -> Result<String, String> {
        obj.get(key)
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| format!("{cmd}: missing string \"{key}\""))
    };
    let on = || -> Result<Option<bool>, String> {
        match obj.get("on") {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(other) => Err(format!(
                "{cmd}: \"on\" must be true or false, found {other}"
            )),
        }
    };
    let command = match cmd {
        "set" => Command::Set {
            path: text_of("path")?,
            value: match obj.get("value") {
                Some(Value::Number(n)) => ParamValue::Number(
                    n.as_f64()
                        .filter(|x| x.is_finite())
                        .ok_or("set: \"value\" is not a finite number")?,
                ),
                Some(Value::Bool(b)) => ParamValue::Bool(*b),
                Some(Value::String(s)) => ParamValue::from_text(s).map_err(|e| e.to_string())?,
                _ => return Err("set: \"value\" must be a number, true/false or a choice".into()),
            },
        },
        "get" => Command::Get {
            path: text_of("path")?,
        },
        "bypass" => Command::Bypass {
            node: text_of("node")?,
            on: on()?,
        },
        "monitor" if obj.get("switch").and_then(Value::as_str) == Some("ref") => {
            Command::MonitorRef(RefCommand::Switch(on()?))
        }
        "monitor" => {
            let name = text_of("switch")?;
            if name == "codec" {
                return Ok((id, Command::monitor_codec(&text_of("codec")?)?));
            }
            Command::Monitor {
                switch: Switch::parse(&name).ok_or_else(|| {
                    format!(
                        "unknown monitor switch `{name}`; one of {}",
                        Switch::NAMES.join(", ")
                    )
                })?,
                on: on()?,
            }
        }
        "solo" => match obj.get("target").and_then(Value::as_str) {
            Some(t) => Command::Solo {
                target: Some(t.to_string()),
                on: Some(on()?.unwrap_or(true)),
            },
            None => Command::Solo {
                target: None,
                on: on()?,
            },
        },
        "save" => Command::Save {
            path: obj.get("path").and_then(Value::as_str).map(PathBuf::from),
        },
        other => {
            return Err(format!(
                "unknown cmd `{other}`; one of set, get, bypass, monitor, solo, save"
            ));
        }
    };
    Ok((id, command))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn browser_commands_become_console_commands() {
        assert_eq!(
            parse(r#"{"id":3,"cmd":"set","path":"trim.gain_db","value":-3.5}"#).unwrap(),
            (
                Some(3),
                Command::Set {
                    path: "trim.gain_db".into(),
                    value: ParamValue::Number(-3.5)
                }
            )
        );
        assert_eq!(
            parse(r#"{"cmd":"bypass","node":"eq"}"#).unwrap().1,
            Command::Bypass {
                node: "eq".into(),
                on: None
            }
        );
        assert_eq!(
            parse(r#"{"cmd":"solo","target":"bands.band2"}"#).unwrap().1,
            Command::Solo {
                target: Some("bands.band2".into()),
                on: Some(true)
            }
        );
        assert!(parse("[1]").unwrap_err().contains("object"));
        assert!(parse("{").unwrap_err().starts_with("not JSON"));
        assert!(
            parse(r#"{"cmd":"quit"}"#)
                .unwrap_err()
                .contains("unknown cmd")
        );
        assert!(parse(r#"{"cmd":"set","path":"a.b"}"#).is_err());
        assert!(parse(r#"{"cmd":"monitor","switch":"wide"}"#).is_err());
        assert!(parse(r#"{"cmd":"bypass","node":"eq","on":"yes"}"#).is_err());
    }
}
