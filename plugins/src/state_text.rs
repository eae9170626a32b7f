//! How a plugin state's text sits in a graph file: base64 as one RON string, or, when
//! long, as a list of lines (one string each), so a small change of a large state is a
//! small diff. Both forms read back the same.

use serde::Deserialize;

/// A state's base64 as a graph file gives it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum Base64Text {
    One(String),
    Lines(Vec<String>),
}

impl Base64Text {
    /// The whole text, lines joined.
    pub fn joined(&self) -> String {
        match self {
            Base64Text::One(text) => text.clone(),
            Base64Text::Lines(lines) => lines.concat(),
        }
    }
}

/// `coded` (base64, so no character needs escaping) as RON: one string up to
/// `line_chars` characters, else a list of strings of that many, one a line.
pub fn base64_ron(coded: &str, line_chars: usize) -> String {
    if coded.len() <= line_chars {
        return format!("\"{coded}\"");
    }
    let mut out = String::from("[\n");
    for chunk in coded.as_bytes().chunks(line_chars) {
        out.push_str("            \"");
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push_str("\",\n");
    }
    out.push_str("        ]");
    out
}
