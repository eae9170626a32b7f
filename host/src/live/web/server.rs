//! The console's threads: one accepts connections, each connection has its own. A
//! request is checked by the [`Guard`] before anything else; `/`, `/app.js` and
//! `/app.css` are the embedded page, `/ws` the WebSocket carrying the protocol.

use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Sender};
use std::time::{Duration, Instant};

use tungstenite::protocol::{Role, WebSocketConfig};
use tungstenite::{Message, WebSocket};

use super::UiOptions;
use super::guard::{Guard, UiBindError, settle_token};
use super::http::{self, Request};
use super::hub::{ClientQueue, Hub};
use super::protocol::{self, MAX_MESSAGE_BYTES};
use crate::live::events::Event;

const INDEX_HTML: &str = include_str!("assets/index.html");
const APP_JS: &str = include_str!("assets/app.js");
const APP_CSS: &str = include_str!("assets/app.css");

/// Connections handled at once (page loads and WebSockets together).
const MAX_CONNECTIONS: usize = 64;
/// How long a request head may take to arrive (each read, and all of it).
const HEAD_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a browser may take to accept what is written to it before it is dropped.
const WRITE_TIMEOUT: Duration = Duration::from_secs(2);
/// How long a connection thread waits for the browser before looking at its queue.
const POLL: Duration = Duration::from_millis(10);
/// How long a command waits for the control loop.
const REPLY_TIMEOUT: Duration = Duration::from_secs(2);

/// Why `--ui` could not start.
#[derive(Debug, thiserror::Error)]
pub enum UiError {
    #[error("{0}")]
    Bind(#[from] UiBindError),
    #[error("--ui {addr}: cannot listen: {source}")]
    Listen { addr: SocketAddr, source: io::Error },
}

/// Binds the console's address and serves it on threads of its own. Returns the bound
/// address and the token the page must present, if any.
pub fn spawn(
    options: &UiOptions,
    events: Sender<Event>,
    hub: Arc<Hub>,
) -> Result<(SocketAddr, Option<String>), UiError> {
    let token = settle_token(options.addr, options.token.clone(), options.allow_remote)?;
    let listen_err = |source| UiError::Listen {
        addr: options.addr,
        source,
    };
    let listener = TcpListener::bind(options.addr).map_err(listen_err)?;
    let bound = listener.local_addr().map_err(listen_err)?;
    let guard = Arc::new(Guard {
        bound,
        token: token.clone(),
    });
    std::thread::Builder::new()
        .name("lathe-web".into())
        .spawn(move || accept(&listener, &guard, &events, &hub))
        .map_err(listen_err)?;
    Ok((bound, token))
}

fn accept(listener: &TcpListener, guard: &Arc<Guard>, events: &Sender<Event>, hub: &Arc<Hub>) {
    let active = Arc::new(AtomicUsize::new(0));
    for stream in listener.incoming() {
        let Ok(mut stream) = stream else { continue };
        if active.load(Ordering::Relaxed) >= MAX_CONNECTIONS {
            http::refuse(
                &mut stream,
                "503 Service Unavailable",
                "too many connections\n",
            );
            continue;
        }
        active.fetch_add(1, Ordering::Relaxed);
        let (guard, events, hub, done) =
            (guard.clone(), events.clone(), hub.clone(), active.clone());
        let spawned = std::thread::Builder::new()
            .name("lathe-web-conn".into())
            .spawn(move || {
                serve(stream, &guard, &events, &hub);
                done.fetch_sub(1, Ordering::Relaxed);
            });
        if spawned.is_err() {
            active.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

/// One connection: a page asset or a WebSocket.
fn serve(mut stream: TcpStream, guard: &Guard, events: &Sender<Event>, hub: &Hub) {
    let _ = stream.set_read_timeout(Some(HEAD_TIMEOUT));
    let _ = stream.set_write_timeout(Some(WRITE_TIMEOUT));
    let request = match http::read_head(&mut stream, Instant::now() + HEAD_TIMEOUT) {
        Ok(r) => r,
        Err(e) => return http::refuse(&mut stream, "400 Bad Request", &format!("{e}\n")),
    };
    if let Err((status, why)) = check(&request, guard) {
        return http::refuse(&mut stream, status, why);
    }
    match (request.path.as_str(), request.is_upgrade()) {
        ("/ws", true) => {
            if !guard.token_ok(request.query_param("token")) {
                return http::refuse(&mut stream, "401 Unauthorized", "token missing or wrong\n");
            }
            websocket(stream, &request, events, hub);
        }
        ("/", false) => http::respond(
            &mut stream,
            "200 OK",
            "text/html; charset=utf-8",
            INDEX_HTML.as_bytes(),
        ),
        ("/app.js", false) => http::respond(
            &mut stream,
            "200 OK",
            "text/javascript; charset=utf-8",
            APP_JS.as_bytes(),
        ),
        ("/app.css", false) => http::respond(
            &mut stream,
            "200 OK",
            "text/css; charset=utf-8",
            APP_CSS.as_bytes(),
        ),
        _ => http::refuse(&mut stream, "404 Not Found", "not found\n"),
    }
}

/// The checks every request passes: GET only, Host naming this server, no foreign Origin.
fn check(request: &Request, guard: &Guard) -> Result<(), (&'static str, &'static str)> {
    if request.method != "GET" {
        return Err(("405 Method Not Allowed", "only GET\n"));
    }
    let host = request.header("host").unwrap_or("");
    if !guard.host_ok(host) {
        return Err((
            "403 Forbidden",
            "Host not allowed: use the address lathe printed\n",
        ));
    }
    if !guard.origin_ok(request.header("origin"), host) {
        return Err(("403 Forbidden", "cross-origin request refused\n"));
    }
    Ok(())
}

/// Completes the upgrade and runs the protocol until either side leaves.
fn websocket(mut stream: TcpStream, request: &Request, events: &Sender<Event>, hub: &Hub) {
    let Some(key) = request.header("sec-websocket-key") else {
        return http::refuse(
            &mut stream,
            "400 Bad Request",
            "missing Sec-WebSocket-Key\n",
        );
    };
    if request.header("sec-websocket-version") != Some("13") {
        return http::refuse(
            &mut stream,
            "426 Upgrade Required",
            "WebSocket version 13 only\n",
        );
    }
    let Some(queue) = hub.join() else {
        return http::refuse(
            &mut stream,
            "503 Service Unavailable",
            "too many browsers\n",
        );
    };
    let head = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {}\r\n\r\n",
        http::websocket_accept(key)
    );
    if io::Write::write_all(&mut stream, head.as_bytes()).is_err() {
        return queue.close();
    }
    let _ = stream.set_read_timeout(Some(POLL));
    let peer = stream.peer_addr().ok();
    let config = WebSocketConfig::default()
        .max_message_size(Some(MAX_MESSAGE_BYTES))
        .max_frame_size(Some(MAX_MESSAGE_BYTES));
    let mut ws = WebSocket::from_raw_socket(stream, Role::Server, Some(config));
    let mut client = Client {
        queue: &queue,
        events,
        warned: false,
        peer,
    };
    client.run(&mut ws);
    queue.close();
}

struct Client<'a> {
    queue: &'a ClientQueue,
    events: &'a Sender<Event>,
    /// A bad message was logged already (once per browser).
    warned: bool,
    peer: Option<SocketAddr>,
}

impl Client<'_> {
    fn run(&mut self, ws: &mut WebSocket<TcpStream>) {
        loop {
            match ws.read() {
                Ok(Message::Text(text)) => {
                    let answer = self.command(text.as_str());
                    if ws.send(Message::text(answer)).is_err() {
                        return;
                    }
                }
                Ok(Message::Binary(_)) => {
                    let e = protocol::error("binary messages are not part of the protocol");
                    self.warn("a binary message");
                    if ws.send(Message::text(e)).is_err() {
                        return;
                    }
                }
                Ok(Message::Close(_)) => return,
                Ok(_) => {}
                Err(tungstenite::Error::Io(e))
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) => {}
                Err(tungstenite::Error::Capacity(e)) => {
                    self.warn(&format!("an oversized message ({e})"));
                    let _ = ws.send(Message::text(protocol::error(&format!(
                        "message too large: at most {MAX_MESSAGE_BYTES} bytes"
                    ))));
                    return;
                }
                Err(_) => return,
            }
            let Some(out) = self.queue.take(Duration::ZERO) else {
                return;
            };
            for msg in out {
                if ws.send(Message::text(msg.as_ref())).is_err() {
                    return;
                }
            }
        }
    }

    /// Carries out one browser message; the reply (or error) to send back.
    fn command(&mut self, text: &str) -> String {
        let (id, cmd) = match protocol::parse(text) {
            Ok(c) => c,
            Err(e) => {
                self.warn(&e);
                return protocol::error(&e);
            }
        };
        let (tx, rx) = mpsc::channel();
        if self
            .events
            .send(Event::Command {
                cmd,
                reply: Some(tx),
            })
            .is_err()
        {
            return protocol::reply(id, &Err("lathe is stopping".into()));
        }
        let reply = rx
            .recv_timeout(REPLY_TIMEOUT)
            .unwrap_or_else(|_| Err("no answer from lathe".into()));
        protocol::reply(id, &reply)
    }

    /// Logs a browser's first bad message (later ones are only answered).
    fn warn(&mut self, what: &str) {
        if !self.warned {
            self.warned = true;
            let from = self.peer.map_or_else(|| "?".to_string(), |p| p.to_string());
            eprintln!(
                "lathe: web console: bad message from {from}: {what} (further ones not logged)"
            );
        }
    }
}
