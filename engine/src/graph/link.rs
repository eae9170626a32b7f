//! Link strings: `"eq.out -> comp.in"`, `"trim -> eq -> comp"`, `"in.main -> eq"`.

/// One end of a link as written: a node id (or `in`/`out` for graph buses) and an
/// optional port (or bus) name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub node: String,
    pub port: Option<String>,
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.port {
            Some(p) => write!(f, "{}.{}", self.node, p),
            None => write!(f, "{}", self.node),
        }
    }
}

/// The reserved id of the graph's input buses in links.
pub const GRAPH_IN: &str = "in";
/// The reserved id of the graph's output buses in links.
pub const GRAPH_OUT: &str = "out";

/// Parses a link chain into its endpoints (at least two).
pub fn parse_link(text: &str) -> Result<Vec<Endpoint>, String> {
    let parts: Vec<&str> = text.split("->").map(str::trim).collect();
    if parts.len() < 2 {
        return Err(format!(
            "link `{text}` has no `->`; write links as \"from.port -> to.port\""
        ));
    }
    parts
        .iter()
        .map(|part| {
            if part.is_empty() {
                return Err(format!("link `{text}` has an empty side of `->`"));
            }
            let (node, port) = match part.split_once('.') {
                Some((n, p)) => (n, Some(p)),
                None => (*part, None),
            };
            if !is_valid_id(node) {
                return Err(format!(
                    "`{part}` in link `{text}` is not `node` or `node.port` \
                     (ids are lowercase letters, digits and `_`)"
                ));
            }
            if let Some(p) = port
                && !is_valid_port(p)
            {
                return Err(format!("`{p}` in link `{text}` is not a valid port name"));
            }
            Ok(Endpoint {
                node: node.to_string(),
                port: port.map(str::to_string),
            })
        })
        .collect()
}

/// Node ids: a lowercase letter, then lowercase letters, digits or `_`.
pub fn is_valid_id(id: &str) -> bool {
    let mut chars = id.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

fn is_valid_port(port: &str) -> bool {
    !port.is_empty() && port.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_chains_and_ports() {
        let l = parse_link("in.main -> eq -> comp.sidechain").expect("valid");
        assert_eq!(l.len(), 3);
        assert_eq!(l[0].to_string(), "in.main");
        assert_eq!(l[1].port, None);
        assert_eq!(l[2].port.as_deref(), Some("sidechain"));
    }

    #[test]
    fn rejects_malformed_links() {
        assert!(parse_link("eq comp").is_err());
        assert!(parse_link("eq -> ").is_err());
        assert!(parse_link("Eq -> comp").is_err());
    }
}
