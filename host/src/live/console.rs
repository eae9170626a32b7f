//! Live commands, typed on stdin or sent over OSC: parsing and the help text. The
//! control loop carries them out (see `control_loop.rs`).

use std::path::PathBuf;

use lathe_engine::ParamValue;

use super::monitor::Switch;
use super::ref_deck::command::RefCommand;

/// One command.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    Set {
        path: String,
        /// A number, on/off or a choice's name; resolved against the param when set.
        value: ParamValue,
    },
    Get {
        path: String,
    },
    /// `on: None` toggles.
    Bypass {
        node: String,
        on: Option<bool>,
    },
    Meters,
    Save {
        path: Option<PathBuf>,
    },
    Monitor {
        switch: Switch,
        on: Option<bool>,
    },
    /// `monitor ref FILE|on|off|next|list`: the reference in place of the output.
    MonitorRef(RefCommand),
    /// `monitor codec SPEC|off`: `spec: None` stops codec listening.
    MonitorCodec {
        spec: Option<lathe_codecs::CodecSpec>,
    },
    /// `target: None` with `on: None` shows what is soloed.
    Solo {
        target: Option<String>,
        on: Option<bool>,
    },
    Help,
    Quit,
}

impl Command {
    /// `monitor codec WORD`: `off`, or a codec spec (`opus:128`).
    pub fn monitor_codec(word: &str) -> Result<Command, String> {
        let spec = match word {
            "off" => None,
            spec => Some(
                spec.parse()
                    .map_err(|e: lathe_codecs::SpecError| e.to_string())?,
            ),
        };
        Ok(Command::MonitorCodec { spec })
    }

    /// `solo WORD`: `on`/`off`, or the node output to solo.
    pub fn solo(word: &str) -> Command {
        match parse_on_off(word) {
            Ok(on) => Command::Solo {
                target: None,
                on: Some(on),
            },
            Err(_) => Command::Solo {
                target: Some(word.to_string()),
                on: Some(true),
            },
        }
    }
}

pub const HELP: &str = "\
commands:
  set PATH VALUE          set a param (`trim.gain_db -3`, `limit.mode fast`); kept over reloads unless the file changes it
  get PATH                read a param or a meter
  bypass NODE [on|off]    bypass a node (toggles without on/off)
  meters                  print every meter
  save [PATH]             write the running graph with current values (default: GRAPH.saved.ron)
  monitor SWITCH [on|off] monitor section, SWITCH one of: ab (hear the unprocessed input,
                          loudness-matched), match, mono, side, dim (-20 dB); toggles without on/off
  monitor ref FILE        load a reference and hear it in place of the output, loudness-matched;
  monitor ref [on|off]    `monitor ref next` for the next one loaded, `monitor ref list` for all
  monitor codec SPEC|off  hear the output through a codec (`opus:128`, `mp3:320`), loudness-matched
  solo NODE[.PORT]        hear one node output instead of the graph's (a crossover band:
                          `solo bands.band2`); `solo off` / `solo on` to leave / return
  help                    this text
  quit                    stop";

/// Parses `on`/`off` (and `1`/`0`, `true`/`false`).
pub fn parse_on_off(word: &str) -> Result<bool, String> {
    match word {
        "on" | "1" | "true" => Ok(true),
        "off" | "0" | "false" => Ok(false),
        _ => Err(format!("expected `on` or `off`, found `{word}`")),
    }
}

/// Parses a param value with the grammar `--set` uses: a number, `on`/`off`/`true`/`false`
/// (1/0), or a choice's name.
pub fn parse_value(word: &str) -> Result<ParamValue, String> {
    ParamValue::from_text(word).map_err(|e| e.to_string())
}

/// Parses one line; `Ok(None)` for an empty line or a comment.
pub fn parse(line: &str) -> Result<Option<Command>, String> {
    let words: Vec<&str> = line.split_whitespace().collect();
    let Some((&name, args)) = words.split_first() else {
        return Ok(None);
    };
    if name.starts_with('#') {
        return Ok(None);
    }
    let usage = |u: &str| Err(format!("usage: {u}"));
    let cmd = match (name, args) {
        ("set", [path, value]) => Command::Set {
            path: path.to_string(),
            value: parse_value(value)?,
        },
        ("set", _) => return usage("set PATH VALUE"),
        ("get", [path]) => Command::Get {
            path: path.to_string(),
        },
        ("get", _) => return usage("get PATH"),
        ("bypass", [node]) => Command::Bypass {
            node: node.to_string(),
            on: None,
        },
        ("bypass", [node, on]) => Command::Bypass {
            node: node.to_string(),
            on: Some(parse_on_off(on)?),
        },
        ("bypass", _) => return usage("bypass NODE [on|off]"),
        ("meters", []) => Command::Meters,
        ("save", []) => Command::Save { path: None },
        ("save", [path]) => Command::Save {
            path: Some(PathBuf::from(path)),
        },
        ("save", _) => return usage("save [PATH]"),
        ("monitor", ["ref", rest @ ..]) => Command::MonitorRef(RefCommand::parse(rest)?),
        ("monitor", ["codec", word]) => Command::monitor_codec(word)?,
        ("monitor", ["codec", ..]) => return usage("monitor codec opus:128|mp3:320|off"),
        ("monitor", [switch, rest @ ..]) if rest.len() <= 1 => {
            let switch = Switch::parse(switch).ok_or_else(|| {
                format!(
                    "unknown monitor switch `{switch}`; one of {}",
                    Switch::NAMES.join(", ")
                )
            })?;
            let on = rest.first().map(|w| parse_on_off(w)).transpose()?;
            Command::Monitor { switch, on }
        }
        ("monitor", _) => {
            return usage("monitor ab|match|mono|side|dim|ref [on|off] | monitor codec SPEC|off");
        }
        ("solo", []) => Command::Solo {
            target: None,
            on: None,
        },
        ("solo", [word]) => Command::solo(word),
        ("solo", _) => return usage("solo NODE[.PORT] | solo on|off"),
        ("help" | "?", _) => Command::Help,
        ("quit" | "exit", _) => Command::Quit,
        _ => {
            return Err(format!(
                "unknown command `{name}`; type `help` for the list"
            ));
        }
    };
    Ok(Some(cmd))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_commands_and_rejects_bad_ones() {
        assert_eq!(
            parse("set trim.gain_db -3.5").unwrap(),
            Some(Command::Set {
                path: "trim.gain_db".into(),
                value: ParamValue::Number(-3.5)
            })
        );
        assert_eq!(
            parse("bypass eq off").unwrap(),
            Some(Command::Bypass {
                node: "eq".into(),
                on: Some(false)
            })
        );
        assert_eq!(
            parse("monitor dim").unwrap(),
            Some(Command::Monitor {
                switch: Switch::Dim,
                on: None
            })
        );
        assert_eq!(
            parse("solo bands.band2").unwrap(),
            Some(Command::Solo {
                target: Some("bands.band2".into()),
                on: Some(true)
            })
        );
        assert_eq!(
            parse("solo off").unwrap(),
            Some(Command::Solo {
                target: None,
                on: Some(false)
            })
        );
        assert!(parse("solo a b").unwrap_err().starts_with("usage: solo"));
        assert_eq!(parse("  ").unwrap(), None);
        assert_eq!(
            parse("set limit.mode fast").unwrap(),
            Some(Command::Set {
                path: "limit.mode".into(),
                value: ParamValue::Text("fast".into())
            })
        );
        assert_eq!(
            parse("set a.bypass on").unwrap(),
            Some(Command::Set {
                path: "a.bypass".into(),
                value: ParamValue::Bool(true)
            })
        );
        assert_eq!(
            parse("set a.b nan").unwrap_err(),
            "value `nan` is not a finite number"
        );
        assert_eq!(
            parse("set a.b 1x").unwrap_err(),
            "value `1x` is not a number, true/false or a choice name"
        );
        assert!(
            parse("monitor wide on")
                .unwrap_err()
                .contains("unknown monitor switch")
        );
        assert!(parse("frobnicate").unwrap_err().contains("unknown command"));
        assert_eq!(parse("get").unwrap_err(), "usage: get PATH");
    }
}
