//! `lathe run` over a JACK server that goes away and comes back: a private jackd (dummy
//! driver) is killed by its PID and started again under the same name while lathe runs,
//! with its web console watched over the WebSocket protocol. Skipped with a notice when
//! jackd is missing, unless `LATHE_REQUIRE_JACK=1`. Every process is stopped by its PID
//! on drop, also when a check fails.

mod jack_support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use jack_support::{JackServer, Lathe, RATE, Rig, TempDir, connections, gain_graph, ports_of};
use serde_json::Value;

const SECOND: Duration = Duration::from_secs(1);

/// A WebSocket client of the web console: the handshake by hand, framing by tungstenite.
struct Console(tungstenite::WebSocket<TcpStream>);

impl Console {
    fn connect(port: u16) -> Console {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("console listens");
        write!(
            stream,
            "GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n\
             Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
             Sec-WebSocket-Version: 13\r\n\r\n"
        )
        .expect("handshake sent");
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            stream.read_exact(&mut byte).expect("handshake answer");
            head.push(byte[0]);
        }
        let head = String::from_utf8_lossy(&head);
        assert!(head.starts_with("HTTP/1.1 101"), "{head}");
        stream
            .set_read_timeout(Some(Duration::from_millis(100)))
            .expect("timeout");
        Console(tungstenite::WebSocket::from_raw_socket(
            stream,
            tungstenite::protocol::Role::Client,
            None,
        ))
    }

    /// The next message of type `kind` that satisfies `pred`, within `timeout`.
    fn wait(&mut self, kind: &str, timeout: Duration, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            match self.0.read() {
                Ok(tungstenite::Message::Text(text)) => {
                    let v: Value = serde_json::from_str(&text).expect("JSON from the console");
                    if v["type"] == kind && pred(&v) {
                        return v;
                    }
                }
                Ok(_) => {}
                Err(tungstenite::Error::Io(e))
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) => {}
                Err(e) => panic!("console connection: {e}"),
            }
        }
        panic!("no `{kind}` message within {timeout:?}");
    }
}

/// Lines of lathe's stdout that contain `text`.
fn count_stdout(lathe: &Lathe, text: &str) -> usize {
    let lines = lathe.stdout.lock().unwrap();
    lines.iter().filter(|l| l.contains(text)).count()
}

/// The JACK server is killed while lathe runs, and started again under its name: lathe
/// says so on its console and on the web console, keeps running (a `get` answers while the
/// server is away), comes back as the same client with the same ports and its `--connect`
/// connections, and a tone played into it after the restart comes out through the graph
/// at the gain set live before the restart.
#[test]
fn run_survives_a_server_restart() {
    let Some(mut server) = JackServer::start() else {
        return;
    };
    let dir = TempDir::new();
    let graph = dir.write("g.ron", &gain_graph(0.0));
    let mut lathe = Lathe::start(
        &server,
        &graph,
        &["--name", "lr", "--connect", "--ui", "127.0.0.1:0"],
    );
    let port = lathe.web_console_port();
    lathe.send("set trim.gain_db -6");
    assert!(lathe.wait_stdout(|l| l == "trim.gain_db = -6", 5 * SECOND));
    let mut console = Console::connect(port);
    console.wait("graph", 5 * SECOND, |_| true);

    server.kill();
    assert!(
        lathe.wait_stderr(|l| l.contains("JACK server gone, waiting"), 5 * SECOND),
        "no word of the lost server: {}",
        lathe.stderr_text()
    );
    let gone = console.wait("server", 5 * SECOND, |v| v["running"] == false);
    assert!(gone["text"].as_str().unwrap_or("").contains("waiting"));
    // Still running, and still answering, while the server is away.
    assert!(lathe.wait_exit(SECOND).is_none(), "lathe exited");
    let before = count_stdout(&lathe, "trim.gain_db = -6");
    lathe.send("get trim.gain_db");
    let deadline = Instant::now() + 5 * SECOND;
    while count_stdout(&lathe, "trim.gain_db = -6") == before {
        assert!(
            Instant::now() < deadline,
            "no answer while the server is away"
        );
        std::thread::sleep(Duration::from_millis(20));
    }

    let restarted = Instant::now();
    server.restart();
    assert!(
        lathe.wait_stdout(|l| l.contains("JACK server back"), 10 * SECOND),
        "no reconnect: {}\n{}",
        lathe.stdout_text(),
        lathe.stderr_text()
    );
    println!(
        "reconnected {:?} after the server came back",
        restarted.elapsed()
    );
    let back = console.wait("server", 5 * SECOND, |v| v["running"] == true);
    assert!(back["text"].as_str().unwrap_or("").contains("reconnected"));
    // Meter frames flow again.
    console.wait("meters", 5 * SECOND, |_| true);

    let mut ports = ports_of("lr:");
    ports.sort();
    assert_eq!(
        ports,
        [
            "lr:main_in_1",
            "lr:main_in_2",
            "lr:main_out_1",
            "lr:main_out_2"
        ]
    );
    assert!(connections("lr:main_out_1").contains(&"system:playback_1".to_string()));
    assert!(connections("lr:main_in_2").contains(&"system:capture_2".to_string()));

    // A 1 kHz tone at 0.5 comes out at 0.5 * -6 dB: audio flows, and the live value holds.
    let tone: Vec<f32> = (0..RATE)
        .map(|i| 0.5 * (std::f32::consts::TAU * 1000.0 * i as f32 / RATE as f32).sin())
        .collect();
    let rig = Rig::start("lr", vec![tone.clone(), tone], true, 4 * RATE);
    let deadline = Instant::now() + 20 * SECOND;
    while rig.position() < RATE && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let take = rig.finish();
    let frames = take.channels[0].len();
    assert!(frames > RATE / 2, "only {frames} frames recorded");
    let peak = (4096..frames)
        .filter(|&i| take.trusted(i))
        .map(|i| take.channels[0][i].abs().max(take.channels[1][i].abs()))
        .fold(0.0f32, f32::max);
    let expected = 0.5 * 10f32.powf(-6.0 / 20.0);
    println!("peak after the restart {peak:.5}, expected {expected:.5}");
    assert!(
        (peak - expected).abs() < 0.005 * expected,
        "peak {peak} after the restart, expected {expected}"
    );

    lathe.send("quit");
    let (status, _) = lathe.wait_exit(5 * SECOND).expect("lathe quits");
    assert!(status.success());
}
