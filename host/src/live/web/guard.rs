//! Who may use the web console. Loopback only unless `--ui-allow-remote`; then a token
//! is required. Every request's Host must name this server (a DNS-rebinding page reaches
//! us under its own host name) and a present Origin must be this server's own (a foreign
//! page cannot drive the console from the user's browser).

use std::net::SocketAddr;

/// Why `--ui` cannot bind as asked.
#[derive(Debug, thiserror::Error)]
pub enum UiBindError {
    #[error(
        "--ui {0}: not a loopback address; the console would be reachable from the network. \
         Add --ui-allow-remote to mean it (a token is then required: --ui-token or a random one)"
    )]
    RemoteNotAllowed(SocketAddr),
    #[error("--ui-token: empty or with characters other than A-Z a-z 0-9 - _ (found `{0}`)")]
    BadToken(String),
}

/// The checks one server applies to every request.
#[derive(Debug, Clone)]
pub struct Guard {
    /// The bound address (its port is what Host must carry).
    pub bound: SocketAddr,
    pub token: Option<String>,
}

/// A random token of 128 bits, hex.
pub fn new_token() -> String {
    let mut bytes = [0u8; 16];
    // The OS generator; failing that (no /dev/urandom), the clock and process id still
    // keep a token from being guessable at a glance, and the failure is rare enough.
    if getrandom::fill(&mut bytes).is_err() {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        bytes = (t ^ u128::from(std::process::id()) << 64).to_le_bytes();
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Checks the bind policy and settles the token: `None` on loopback unless one is given;
/// on another address, the given one or a new random one.
pub fn settle_token(
    addr: SocketAddr,
    token: Option<String>,
    allow_remote: bool,
) -> Result<Option<String>, UiBindError> {
    if let Some(t) = &token
        && (t.is_empty()
            || !t
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'))
    {
        return Err(UiBindError::BadToken(t.clone()));
    }
    if addr.ip().is_loopback() {
        return Ok(token);
    }
    if !allow_remote {
        return Err(UiBindError::RemoteNotAllowed(addr));
    }
    Ok(Some(token.unwrap_or_else(new_token)))
}

impl Guard {
    /// Whether `host` (the Host header) names this server: `localhost`, or an IP literal
    /// (the bound one on loopback, any on a remote bind: a DNS rebinding needs a name),
    /// with the bound port.
    pub fn host_ok(&self, host: &str) -> bool {
        let Some((name, port)) = host.rsplit_once(':') else {
            return false;
        };
        if port.parse::<u16>().ok() != Some(self.bound.port()) {
            return false;
        }
        let name = name.trim_start_matches('[').trim_end_matches(']');
        if name.eq_ignore_ascii_case("localhost") {
            return self.bound.ip().is_loopback() || self.bound.ip().is_unspecified();
        }
        match name.parse::<std::net::IpAddr>() {
            Ok(ip) if self.bound.ip().is_loopback() => ip.is_loopback(),
            Ok(ip) if self.bound.ip().is_unspecified() => ip.is_ipv4() == self.bound.is_ipv4(),
            Ok(ip) => ip == self.bound.ip(),
            Err(_) => false,
        }
    }

    /// Whether `origin` (when the request has one) is this server's own page.
    pub fn origin_ok(&self, origin: Option<&str>, host: &str) -> bool {
        match origin {
            None => true,
            Some(o) => o
                .strip_prefix("http://")
                .is_some_and(|rest| rest.eq_ignore_ascii_case(host)),
        }
    }

    /// Whether the request carries the token (none needed without one).
    pub fn token_ok(&self, given: Option<&str>) -> bool {
        match &self.token {
            None => true,
            Some(t) => given.is_some_and(|g| constant_time_eq(g.as_bytes(), t.as_bytes())),
        }
    }
}

/// Compares without an early exit, so the time taken says nothing about the token.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guard(addr: &str, token: Option<&str>) -> Guard {
        Guard {
            bound: addr.parse().unwrap(),
            token: token.map(str::to_string),
        }
    }

    #[test]
    fn host_must_name_this_server() {
        let g = guard("127.0.0.1:8420", None);
        assert!(g.host_ok("127.0.0.1:8420"));
        assert!(g.host_ok("localhost:8420"));
        assert!(g.host_ok("[::1]:8420"));
        assert!(!g.host_ok("evil.example:8420"), "DNS rebinding");
        assert!(!g.host_ok("127.0.0.1:9999"));
        assert!(!g.host_ok("127.0.0.1"));
        let g = guard("0.0.0.0:8420", Some("t"));
        assert!(g.host_ok("192.168.1.20:8420"));
        assert!(!g.host_ok("studio.example:8420"));
    }

    #[test]
    fn origin_must_be_our_own_page() {
        let g = guard("127.0.0.1:8420", None);
        assert!(g.origin_ok(None, "127.0.0.1:8420"));
        assert!(g.origin_ok(Some("http://127.0.0.1:8420"), "127.0.0.1:8420"));
        assert!(!g.origin_ok(Some("http://evil.example"), "127.0.0.1:8420"));
        assert!(!g.origin_ok(Some("null"), "127.0.0.1:8420"));
    }

    #[test]
    fn remote_binds_need_the_flag_and_get_a_token() {
        let lo: SocketAddr = "127.0.0.1:1".parse().unwrap();
        let any: SocketAddr = "0.0.0.0:1".parse().unwrap();
        assert_eq!(settle_token(lo, None, false).unwrap(), None);
        assert!(matches!(
            settle_token(any, None, false),
            Err(UiBindError::RemoteNotAllowed(_))
        ));
        let t = settle_token(any, None, true).unwrap().unwrap();
        assert_eq!(t.len(), 32);
        assert_ne!(t, new_token());
        assert!(settle_token(lo, Some("a b".into()), false).is_err());
        let g = guard("0.0.0.0:1", Some("abc"));
        assert!(g.token_ok(Some("abc")));
        assert!(!g.token_ok(Some("abd")));
        assert!(!g.token_ok(None));
    }
}
