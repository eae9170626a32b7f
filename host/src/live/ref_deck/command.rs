//! `monitor ref ...` as typed on the console or sent over OSC and the web console,
//! parsed; kept apart from the deck so the parsers need nothing of it.

use std::path::PathBuf;

/// `monitor ref ...`.
#[derive(Debug, Clone, PartialEq)]
pub enum RefCommand {
    /// Load a file, make it the current reference and hear it.
    Load(PathBuf),
    /// `on`/`off`; `None` toggles.
    Switch(Option<bool>),
    /// The next reference held (in loading order, round).
    Next,
    /// The references held, their loudness and where each is.
    List,
}

impl RefCommand {
    /// Parses the words after `monitor ref`. A file named like a keyword is given as
    /// `./next`. Words after the first are joined by single spaces (a path with spaces).
    pub fn parse(words: &[&str]) -> Result<RefCommand, String> {
        Ok(match words {
            [] => RefCommand::Switch(None),
            [w] => match *w {
                "on" | "1" | "true" => RefCommand::Switch(Some(true)),
                "off" | "0" | "false" => RefCommand::Switch(Some(false)),
                "next" => RefCommand::Next,
                "list" => RefCommand::List,
                path => RefCommand::Load(PathBuf::from(path)),
            },
            _ => RefCommand::Load(PathBuf::from(words.join(" "))),
        })
    }
}
