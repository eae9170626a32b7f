//! OSC control over UDP: the same commands as the console, through the same control loop.
//!
//! - `/lathe/set <path> <number>` replies `/lathe/value <path> <f32>` (the value applied)
//! - `/lathe/get <path>` replies `/lathe/value <path> <f32>` to the sender
//! - `/lathe/bypass <node> [on]`, `/lathe/monitor <switch> [on]` (`on`: 1/0, true/false,
//!   "on"/"off"; toggles without it); `/lathe/monitor codec <spec|"off">`
//! - `/lathe/monitor ref [on|off|next|list|FILE]` (see `monitor ref` on the console)
//! - `/lathe/save [path]`
//!
//! A refused message replies `/lathe/error <text>`.

use std::net::{SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::sync::mpsc::{self, Sender};
use std::time::Duration;

use rosc::{OscMessage, OscPacket, OscType};

use lathe_engine::ParamValue;

use super::console::{Command, parse_on_off};
use super::events::{Answer, Event};
use super::monitor::Switch;
use super::ref_deck::command::RefCommand;

/// How long a sender waits for the control loop to answer.
const REPLY_TIMEOUT: Duration = Duration::from_secs(2);
/// Largest datagram read.
const MAX_PACKET: usize = 65_536;

/// Binds `addr` and serves it on a thread of its own. Returns the bound address.
pub fn spawn(addr: SocketAddr, events: Sender<Event>) -> std::io::Result<SocketAddr> {
    let socket = UdpSocket::bind(addr)?;
    let bound = socket.local_addr()?;
    std::thread::Builder::new()
        .name("lathe-osc".into())
        .spawn(move || serve(&socket, &events))?;
    Ok(bound)
}

fn serve(socket: &UdpSocket, events: &Sender<Event>) {
    let mut buf = vec![0u8; MAX_PACKET];
    loop {
        let Ok((n, from)) = socket.recv_from(&mut buf) else {
            continue;
        };
        match rosc::decoder::decode_udp(&buf[..n]) {
            Ok((_, packet)) => {
                if !handle(packet, socket, from, events) {
                    return;
                }
            }
            Err(e) => reply_error(socket, from, &format!("undecodable OSC packet: {e}")),
        }
    }
}

/// Handles a packet; false once the control loop is gone.
fn handle(packet: OscPacket, socket: &UdpSocket, from: SocketAddr, events: &Sender<Event>) -> bool {
    match packet {
        OscPacket::Bundle(b) => b
            .content
            .into_iter()
            .all(|p| handle(p, socket, from, events)),
        OscPacket::Message(msg) => {
            let cmd = match to_command(&msg) {
                Ok(cmd) => cmd,
                Err(e) => {
                    reply_error(socket, from, &e);
                    return true;
                }
            };
            let (tx, rx) = mpsc::channel();
            if events
                .send(Event::Command {
                    cmd,
                    reply: Some(tx),
                })
                .is_err()
            {
                return false;
            }
            match rx.recv_timeout(REPLY_TIMEOUT) {
                Ok(Ok(Answer::Value { path, value })) => send(
                    socket,
                    from,
                    "/lathe/value",
                    vec![OscType::String(path), OscType::Float(value)],
                ),
                Ok(Ok(_)) => {}
                Ok(Err(e)) => reply_error(socket, from, &e),
                Err(_) => reply_error(socket, from, "no answer from lathe"),
            }
            true
        }
    }
}

fn to_command(msg: &OscMessage) -> Result<Command, String> {
    let text = |i: usize| match msg.args.get(i) {
        Some(OscType::String(s)) => Ok(s.clone()),
        _ => Err(format!("{}: argument {} must be a string", msg.addr, i + 1)),
    };
    let number = |i: usize| match msg.args.get(i) {
        Some(OscType::Float(v)) => Ok(f64::from(*v)),
        Some(OscType::Double(v)) => Ok(*v),
        Some(OscType::Int(v)) => Ok(f64::from(*v)),
        Some(OscType::Bool(b)) => Ok(if *b { 1.0 } else { 0.0 }),
        _ => Err(format!("{}: argument {} must be a number", msg.addr, i + 1)),
    };
    let toggle = |i: usize| -> Result<Option<bool>, String> {
        match msg.args.get(i) {
            None => Ok(None),
            Some(OscType::String(s)) => parse_on_off(s).map(Some),
            Some(_) => number(i).map(|v| Some(v >= 0.5)),
        }
    };
    Ok(match msg.addr.as_str() {
        "/lathe/set" => Command::Set {
            path: text(0)?,
            value: match msg.args.get(1) {
                Some(OscType::String(s)) => ParamValue::from_text(s).map_err(|e| e.to_string())?,
                _ => ParamValue::Number(number(1)?),
            },
        },
        "/lathe/get" => Command::Get { path: text(0)? },
        "/lathe/bypass" => Command::Bypass {
            node: text(0)?,
            on: toggle(1)?,
        },
        "/lathe/monitor" if text(0).as_deref() == Ok("ref") => match msg.args.get(1) {
            Some(OscType::String(s)) => Command::MonitorRef(RefCommand::parse(&[s.as_str()])?),
            _ => Command::MonitorRef(RefCommand::Switch(toggle(1)?)),
        },
        "/lathe/monitor" => {
            let name = text(0)?;
            if name == "codec" {
                return Command::monitor_codec(&text(1)?);
            }
            Command::Monitor {
                switch: Switch::parse(&name)
                    .ok_or_else(|| format!("unknown monitor switch `{name}`"))?,
                on: toggle(1)?,
            }
        }
        "/lathe/solo" => match msg.args.first() {
            Some(OscType::String(s)) => Command::solo(s),
            _ => Command::Solo {
                target: None,
                on: toggle(0)?,
            },
        },
        "/lathe/save" => Command::Save {
            path: text(0).ok().map(PathBuf::from),
        },
        other => return Err(format!("unknown OSC address `{other}`")),
    })
}

fn send(socket: &UdpSocket, to: SocketAddr, addr: &str, args: Vec<OscType>) {
    let packet = OscPacket::Message(OscMessage {
        addr: addr.to_string(),
        args,
    });
    if let Ok(bytes) = rosc::encoder::encode(&packet) {
        let _ = socket.send_to(&bytes, to);
    }
}

fn reply_error(socket: &UdpSocket, to: SocketAddr, text: &str) {
    send(
        socket,
        to,
        "/lathe/error",
        vec![OscType::String(text.to_string())],
    );
}
