//! Where the control loop's messages go: the terminal (stdout, stderr for errors, and the
//! meter line redrawn in place when stdout is a terminal), or a channel a test reads.

use std::io::{IsTerminal, Write};
use std::sync::mpsc::Sender;

/// One message of the control loop.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub text: String,
    /// An error (stderr on a terminal).
    pub error: bool,
}

/// The destination of messages and of the meter line.
pub enum Messages {
    Terminal {
        /// stdout is a terminal: the meter line is drawn.
        tty: bool,
        /// The meter line is on screen and must be wiped before a message.
        line_shown: bool,
    },
    /// Every message is sent here; there is no meter line.
    Channel(Sender<Message>),
}

impl Messages {
    /// stdout and stderr.
    pub fn terminal() -> Self {
        Messages::Terminal {
            tty: std::io::stdout().is_terminal(),
            line_shown: false,
        }
    }

    /// Whether a meter line is drawn at all.
    pub fn shows_meter_line(&self) -> bool {
        matches!(self, Messages::Terminal { tty: true, .. })
    }

    /// Prints a line without tearing the meter line.
    pub fn say(&mut self, text: &str, error: bool) {
        match self {
            Messages::Terminal { line_shown, .. } => {
                let mut out = std::io::stdout().lock();
                if *line_shown {
                    let _ = write!(out, "\r\x1b[K");
                    *line_shown = false;
                }
                if error {
                    drop(out);
                    eprintln!("{text}");
                } else {
                    let _ = writeln!(out, "{text}");
                    let _ = out.flush();
                }
            }
            Messages::Channel(tx) => {
                let _ = tx.send(Message {
                    text: text.to_string(),
                    error,
                });
            }
        }
    }

    /// Redraws the meter line in place (on a terminal only).
    pub fn meter_line(&mut self, line: &str) {
        if let Messages::Terminal {
            tty: true,
            line_shown,
        } = self
        {
            let mut out = std::io::stdout().lock();
            let _ = write!(out, "\r\x1b[K{line}");
            let _ = out.flush();
            *line_shown = true;
        }
    }
}
