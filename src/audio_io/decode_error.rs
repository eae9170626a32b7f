//! Why reading an audio file failed: one error type for every reader (the direct WAV
//! reader, symphonia's formats, the streaming [`super::AudioReader`]).
//!
//! A leaf: the readers and the functions that open files all name it, and it names none
//! of them, so they never import each other around it.

use std::io;
use std::path::PathBuf;

/// Why a file could not be decoded. Every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("input file `{}` does not exist", path.display())]
    NotFound { path: PathBuf },
    #[error("cannot read input file `{}`: {source}", path.display())]
    Unreadable { path: PathBuf, source: io::Error },
    #[error(
        "`{}` is not an audio file lathe can read (WAV, FLAC, OGG Vorbis, MP3): {reason}",
        path.display()
    )]
    NotAudio { path: PathBuf, reason: String },
    #[error("`{}` has no audio track", path.display())]
    NoAudioTrack { path: PathBuf },
    #[error("`{}` uses a codec lathe cannot decode ({codec})", path.display())]
    UnsupportedCodec { path: PathBuf, codec: String },
    #[error("`{}` has zero audio channels", path.display())]
    ZeroChannels { path: PathBuf },
    #[error("`{}` does not say its sample rate", path.display())]
    NoSampleRate { path: PathBuf },
    #[error(
        "`{}` has a bad header: {field} {value} at byte {offset}; allowed {allowed}",
        path.display()
    )]
    BadHeader {
        path: PathBuf,
        field: &'static str,
        offset: u64,
        value: u64,
        allowed: String,
    },
    #[error("`{}` contains no audio frames", path.display())]
    Empty { path: PathBuf },
    #[error("`{}` is corrupt at {at_seconds:.3} s: {reason}", path.display())]
    Corrupt {
        path: PathBuf,
        at_seconds: f64,
        reason: String,
    },
    #[error(
        "`{}` changes its format at {at_seconds:.3} s ({from} to {to}); lathe needs one \
         sample rate and channel count per file",
        path.display()
    )]
    FormatChange {
        path: PathBuf,
        at_seconds: f64,
        from: String,
        to: String,
    },
}
