//! Why writing an audio file failed: one error type for every writer (WAV, FLAC, the
//! streaming [`super::AudioWriter`] and the whole-file functions). Every variant names
//! the file.
//!
//! A leaf: the writers all name it, and it names none of them.

use std::io;
use std::path::PathBuf;

/// Why an output file could not be written.
#[derive(Debug, thiserror::Error)]
pub enum EncodeError {
    #[error("cannot write `{}`: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
    #[error("cannot write `{}`: {reason}", path.display())]
    Unsupported { path: PathBuf, reason: String },
}
