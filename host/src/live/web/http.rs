//! The little HTTP/1.1 the console needs: one request head read with a size bound, its
//! method, path, query and headers, and plain responses. Bodies are never read: only
//! GET is served.

use std::io::{Read, Write};
use std::time::Instant;

/// Largest request head accepted (request line and headers).
pub const MAX_HEAD_BYTES: usize = 8 * 1024;
/// Most headers accepted.
const MAX_HEADERS: usize = 64;

/// A parsed request head.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub method: String,
    /// The path without the query (`/ws`).
    pub path: String,
    /// The raw query (`token=...`), if any.
    pub query: Option<String>,
    /// Header names in lower case, values trimmed.
    pub headers: Vec<(String, String)>,
}

/// Why a request head was refused.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum HeadError {
    #[error("request head over {MAX_HEAD_BYTES} bytes")]
    TooLarge,
    #[error("connection closed before the request head ended")]
    Closed,
    #[error("request head too slow")]
    TooSlow,
    #[error("malformed request: {0}")]
    Malformed(&'static str),
}

impl Request {
    /// The first header of this (lower-case) name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// A query parameter's value (no percent-decoding: tokens are plain).
    pub fn query_param(&self, name: &str) -> Option<&str> {
        self.query
            .as_deref()?
            .split('&')
            .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
    }

    /// Whether this is a WebSocket upgrade request.
    pub fn is_upgrade(&self) -> bool {
        self.header("upgrade")
            .is_some_and(|u| u.eq_ignore_ascii_case("websocket"))
            && self
                .header("connection")
                .is_some_and(|c| c.to_ascii_lowercase().contains("upgrade"))
    }
}

/// Reads one request head (up to the blank line) from `stream`, bounded in bytes and by
/// `deadline` (checked between reads; each read has the stream's own timeout), so a
/// client trickling bytes cannot hold a connection thread for long.
pub fn read_head(stream: &mut impl Read, deadline: Instant) -> Result<Request, HeadError> {
    let mut head = Vec::with_capacity(1024);
    let mut byte = [0u8; 1];
    // Byte by byte: the head is small, and nothing after it (a WebSocket frame) may be
    // consumed here.
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() >= MAX_HEAD_BYTES {
            return Err(HeadError::TooLarge);
        }
        if Instant::now() > deadline {
            return Err(HeadError::TooSlow);
        }
        match stream.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => return Err(HeadError::Closed),
        }
    }
    parse_head(&head)
}

/// Parses a complete head (ending with an empty line).
pub fn parse_head(head: &[u8]) -> Result<Request, HeadError> {
    let text = std::str::from_utf8(head).map_err(|_| HeadError::Malformed("not UTF-8"))?;
    let mut lines = text.split("\r\n");
    let line = lines.next().ok_or(HeadError::Malformed("empty"))?;
    let mut parts = line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(HeadError::Malformed("request line"));
    };
    if !version.starts_with("HTTP/1.") {
        return Err(HeadError::Malformed("HTTP version"));
    }
    if !target.starts_with('/') {
        return Err(HeadError::Malformed("target"));
    }
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p.to_string(), Some(q.to_string())),
        None => (target.to_string(), None),
    };
    let mut headers = Vec::new();
    for line in lines.take_while(|l| !l.is_empty()) {
        let (name, value) = line
            .split_once(':')
            .ok_or(HeadError::Malformed("header line"))?;
        if headers.len() == MAX_HEADERS {
            return Err(HeadError::Malformed("too many headers"));
        }
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
    }
    Ok(Request {
        method: method.to_string(),
        path,
        query,
        headers,
    })
}

/// Writes a complete response and lets the connection close.
pub fn respond(stream: &mut impl Write, status: &str, content_type: &str, body: &[u8]) {
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
         Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n\
         X-Frame-Options: DENY\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(body);
    let _ = stream.flush();
}

/// A plain-text error response.
pub fn refuse(stream: &mut impl Write, status: &str, why: &str) {
    respond(stream, status, "text/plain; charset=utf-8", why.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn soon() -> Instant {
        Instant::now() + std::time::Duration::from_secs(5)
    }

    #[test]
    fn parses_a_head_and_bounds_it() {
        let head = b"GET /ws?token=abc&x=1 HTTP/1.1\r\nHost: 127.0.0.1:8420\r\n\
            Upgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n\r\n";
        let r = read_head(&mut &head[..], soon()).unwrap();
        assert_eq!(r.path, "/ws");
        assert_eq!(r.query_param("token"), Some("abc"));
        assert_eq!(r.header("host"), Some("127.0.0.1:8420"));
        assert!(r.is_upgrade());
        let big = vec![b'a'; MAX_HEAD_BYTES + 10];
        assert_eq!(read_head(&mut &big[..], soon()), Err(HeadError::TooLarge));
        assert_eq!(
            read_head(&mut &b"GET / HTTP/1.1\r\n"[..], soon()),
            Err(HeadError::Closed)
        );
        assert_eq!(
            read_head(
                &mut &head[..],
                Instant::now() - std::time::Duration::from_secs(1)
            ),
            Err(HeadError::TooSlow)
        );
        assert!(parse_head(b"GET http://x/ HTTP/1.1\r\n\r\n").is_err());
        assert!(parse_head(b"GET / HTTP/1.1\r\nnocolon\r\n\r\n").is_err());
    }
}

/// The `Sec-WebSocket-Accept` value for a client's `Sec-WebSocket-Key` (RFC 6455 4.2.2):
/// base64 of the SHA-1 of the key and the protocol's GUID.
pub fn websocket_accept(key: &str) -> String {
    use sha1::{Digest, Sha1};
    let mut h = Sha1::new();
    h.update(key.trim().as_bytes());
    h.update(b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11");
    base64(&h.finalize())
}

/// Standard base64 with padding.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod accept_tests {
    #[test]
    fn accept_key_of_the_rfc_example() {
        assert_eq!(
            super::websocket_accept("dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
        assert_eq!(super::base64(b"ab"), "YWI=");
        assert_eq!(super::base64(b"a"), "YQ==");
    }
}
