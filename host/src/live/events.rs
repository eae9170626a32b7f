//! What reaches the control thread of `lathe run` (commands from the console and OSC,
//! file changes from the watcher) and what a command answers. A leaf the senders and
//! the control loop both import, so neither imports the other.

use std::sync::mpsc::Sender;

use super::console::Command;

/// What reaches the control thread.
pub enum Event {
    Command {
        cmd: Command,
        /// Where the answer goes; `None`: print it.
        reply: Option<Sender<Reply>>,
    },
    /// One of the watched files changed (the reload waits for the writes to settle).
    FilesChanged,
}

/// A command's result.
pub type Reply = Result<Answer, String>;

/// What a command that worked answers.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// A message to show as it is.
    Text(String),
    /// A param or meter value (OSC sends it back as `/lathe/value`).
    Value { path: String, value: f32 },
    /// The run is to end.
    Quit,
}
