//! Support for the web console tests: chromedriver started on a free port and stopped by
//! its PID, and a small blocking WebDriver client (W3C WebDriver is HTTP + JSON) over a
//! plain `TcpStream`, so the tests pull in no async runtime.

#![allow(dead_code)] // each test uses a different part

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// The W3C key of an element reference.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// Where Debian installs the browser.
const CHROMIUM: &str = "/usr/bin/chromium";

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn installed(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// `chromedriver` on a free port; killed by its PID on drop (also when the test fails).
pub struct Driver {
    child: Child,
    pub port: u16,
    profiles: PathBuf,
}

impl Driver {
    /// Starts chromedriver, or returns None (with a notice) when chromium or chromedriver
    /// is missing. Panics instead when `LATHE_REQUIRE_CHROMIUM=1`.
    pub fn start(scratch: &Path) -> Option<Driver> {
        if !installed("chromedriver") || !Path::new(CHROMIUM).exists() {
            if std::env::var("LATHE_REQUIRE_CHROMIUM").as_deref() == Ok("1") {
                panic!("chromium or chromedriver is missing and LATHE_REQUIRE_CHROMIUM=1");
            }
            eprintln!(
                "notice: chromium/chromedriver not found; skipping this browser test \
                 (install chromium and chromium-driver)"
            );
            return None;
        }
        let port = free_port();
        let child = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let driver = Driver {
            child,
            port,
            profiles: scratch.to_path_buf(),
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok((200, v)) = request(port, "GET", "/status", None)
                && v["value"]["ready"] == json!(true)
            {
                return Some(driver);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("chromedriver did not come up within 20 s");
    }

    /// A new headless browser window with its own profile, logging the page's console.
    pub fn browser(&self, name: &str) -> Browser {
        let profile = self.profiles.join(format!("profile-{name}"));
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                         "--disable-dev-shm-usage", "--window-size=1400,1000",
                         format!("--user-data-dir={}", profile.display())],
            },
            "goog:loggingPrefs": {"browser": "ALL"},
        }}});
        let (status, v) = request(self.port, "POST", "/session", Some(&caps)).expect("session");
        assert_eq!(status, 200, "new session: {v}");
        let id = v["value"]["sessionId"]
            .as_str()
            .expect("session id")
            .to_string();
        Browser {
            port: self.port,
            session: id,
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One browser session. Closed on drop.
pub struct Browser {
    port: u16,
    session: String,
}

impl Browser {
    fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Value {
        let url = format!("/session/{}{path}", self.session);
        let (status, v) = request(self.port, method, &url, body)
            .unwrap_or_else(|e| panic!("{method} {url}: {e}"));
        assert_eq!(status, 200, "{method} {url}: {v}");
        v["value"].clone()
    }

    pub fn goto(&self, url: &str) {
        self.call("POST", "/url", Some(&json!({"url": url})));
    }

    /// Runs `script` (a function body; `arguments` are `args`) in the page.
    pub fn js(&self, script: &str, args: Value) -> Value {
        self.call(
            "POST",
            "/execute/sync",
            Some(&json!({"script": script, "args": args})),
        )
    }

    /// Runs `script` asynchronously: it ends by calling `arguments[arguments.length - 1]`
    /// with its result.
    pub fn js_async(&self, script: &str, args: Value) -> Value {
        self.call(
            "POST",
            "/execute/async",
            Some(&json!({"script": script, "args": args})),
        )
    }

    /// The element matching a CSS selector.
    pub fn find(&self, css: &str) -> String {
        let v = self.call(
            "POST",
            "/element",
            Some(&json!({"using": "css selector", "value": css})),
        );
        v[ELEMENT_KEY]
            .as_str()
            .unwrap_or_else(|| panic!("no element {css}: {v}"))
            .to_string()
    }

    pub fn text(&self, css: &str) -> String {
        let id = self.find(css);
        self.call("GET", &format!("/element/{id}/text"), None)
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    pub fn click(&self, css: &str) {
        let id = self.find(css);
        self.call("POST", &format!("/element/{id}/click"), Some(&json!({})));
    }

    /// Types into an element (WebDriver key codes allowed: `\u{E004}` Tab).
    pub fn keys(&self, css: &str, text: &str) {
        let id = self.find(css);
        self.call(
            "POST",
            &format!("/element/{id}/value"),
            Some(&json!({"text": text})),
        );
    }

    pub fn clear(&self, css: &str) {
        let id = self.find(css);
        self.call("POST", &format!("/element/{id}/clear"), Some(&json!({})));
    }

    /// The page's console messages since the last call: (level, text).
    pub fn console_log(&self) -> Vec<(String, String)> {
        let v = self.call("POST", "/se/log", Some(&json!({"type": "browser"})));
        v.as_array()
            .map(|entries| {
                entries
                    .iter()
                    .map(|e| {
                        (
                            e["level"].as_str().unwrap_or_default().to_string(),
                            e["message"].as_str().unwrap_or_default().to_string(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// A PNG of the window.
    pub fn screenshot(&self) -> Vec<u8> {
        let v = self.call("GET", "/screenshot", None);
        decode_base64(v.as_str().expect("base64 PNG"))
    }

    /// Waits until `pred` holds for the text of `css`; the last text seen either way.
    pub fn wait_text(
        &self,
        css: &str,
        timeout: Duration,
        pred: impl Fn(&str) -> bool,
    ) -> (bool, String) {
        let deadline = Instant::now() + timeout;
        loop {
            let t = self.text(css);
            if pred(&t) {
                return (true, t);
            }
            if Instant::now() >= deadline {
                return (false, t);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = request(
            self.port,
            "DELETE",
            &format!("/session/{}", self.session),
            None,
        );
    }
}

/// One HTTP/1.1 request to localhost:`port`; the status and the JSON body.
pub fn request(
    port: u16,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> std::io::Result<(u16, Value)> {
    let body = body.map(Value::to_string).unwrap_or_default();
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(60)))?;
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    // chromedriver keeps the connection open whatever `Connection: close` says: read the
    // head, then Content-Length bytes (or chunks up to the last one, or to the end).
    let mut raw = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        let n = s.read(&mut buf)?;
        raw.extend_from_slice(&buf[..n]);
        let (_, head, body) = split_response(&raw);
        let lower = head.to_ascii_lowercase();
        let length = lower.lines().find_map(|l| {
            l.strip_prefix("content-length:")
                .and_then(|v| v.trim().parse::<usize>().ok())
        });
        let complete = match length {
            _ if !head.ends_with("\r\n\r\n") => false,
            Some(len) => body.len() >= len,
            None if lower.contains("transfer-encoding: chunked") => {
                body.windows(5).any(|w| w == b"0\r\n\r\n")
            }
            None => false,
        };
        if n == 0 || complete {
            break;
        }
    }
    let (status, head, payload) = split_response(&raw);
    let payload = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(payload)
    } else {
        payload.to_vec()
    };
    let v = serde_json::from_slice(&payload).unwrap_or(Value::Null);
    Ok((status, v))
}

/// A raw response's status, head text and body.
pub fn split_response(raw: &[u8]) -> (u16, String, &[u8]) {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(raw.len(), |p| p + 4);
    let head = String::from_utf8_lossy(&raw[..end]).to_string();
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, head, &raw[end..])
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(p) = data.windows(2).position(|w| w == b"\r\n") {
        let size =
            usize::from_str_radix(String::from_utf8_lossy(&data[..p]).trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        let start = p + 2;
        out.extend_from_slice(&data[start..(start + size).min(data.len())]);
        data = &data[(start + size + 2).min(data.len())..];
    }
    out
}

fn decode_base64(text: &str) -> Vec<u8> {
    let value = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let digits: Vec<u32> = text.bytes().filter_map(value).collect();
    let mut out = Vec::with_capacity(digits.len() * 3 / 4);
    for chunk in digits.chunks(4) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, d)| acc | d << (18 - 6 * i));
        let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&bytes[..chunk.len().saturating_sub(1)]);
    }
    out
}

/// Sends a raw request to the console and returns the status line's code.
pub fn raw_status(port: u16, head: &str) -> u16 {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(head.as_bytes()).expect("write");
    // Up to the end of the head: an accepted upgrade keeps the connection open.
    let mut raw = Vec::new();
    let mut buf = [0u8; 1024];
    while !raw.windows(4).any(|w| w == b"\r\n\r\n") {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => raw.extend_from_slice(&buf[..n]),
        }
    }
    split_response(&raw).0
}

/// Plays a looped signal into `client:main_in_*` at the server's own pace (no
/// freewheeling: xruns count as they would on a desk).
pub struct Feeder(jack::AsyncClient<(), LoopPlayer>);

pub struct LoopPlayer {
    ports: Vec<jack::Port<jack::AudioOut>>,
    signal: Vec<Vec<f32>>,
    pos: usize,
}

impl jack::ProcessHandler for LoopPlayer {
    fn process(&mut self, _: &jack::Client, ps: &jack::ProcessScope) -> jack::Control {
        let len = self.signal[0].len();
        for (port, sig) in self.ports.iter_mut().zip(&self.signal) {
            for (i, y) in port.as_mut_slice(ps).iter_mut().enumerate() {
                *y = sig[(self.pos + i) % len];
            }
        }
        self.pos = (self.pos + ps.n_frames() as usize) % len;
        jack::Control::Continue
    }
}

impl Feeder {
    pub fn start(lathe_client: &str, signal: Vec<Vec<f32>>) -> Feeder {
        let (c, _) = jack::Client::new("feeder", jack::ClientOptions::NO_START_SERVER)
            .expect("feeder client");
        let ports = (0..signal.len())
            .map(|i| {
                c.register_port(&format!("out_{}", i + 1), jack::AudioOut::default())
                    .expect("port")
            })
            .collect();
        let active = c
            .activate_async(
                (),
                LoopPlayer {
                    ports,
                    signal,
                    pos: 0,
                },
            )
            .expect("feeder runs");
        let name = active.as_client().name().to_string();
        for i in 1..=2 {
            active
                .as_client()
                .connect_ports_by_name(
                    &format!("{name}:out_{i}"),
                    &format!("{lathe_client}:main_in_{i}"),
                )
                .expect("connect feeder");
        }
        Feeder(active)
    }
}

/// A child process killed by its PID on drop (also when the test fails).
pub struct KillOnDrop(pub Child);

impl Drop for KillOnDrop {
    /// SIGTERM first (see [`crate::jack_support::stop_child`]): a `lathe run` leaves its
    /// JACK server in order.
    fn drop(&mut self) {
        crate::jack_support::stop_child(&mut self.0, std::time::Duration::from_secs(5));
    }
}
