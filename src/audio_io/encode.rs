//! Output sample formats and write errors, and writing a whole [`Audio`] as WAV: 16/24-bit
//! integer with TPDF dither, or 32-bit float.
//!
//! The file is written atomically: a reader never sees a half-written output, and a
//! failure leaves the old file in place. Renders stream through
//! [`super::output::AudioWriter`] instead, which this uses too.

use std::io;
use std::path::{Path, PathBuf};

use super::Audio;
use super::output::{AudioWriter, wav_channels};

/// The sample format of a written WAV file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SampleFormat {
    /// 16-bit integer, TPDF-dithered.
    Int16,
    /// 24-bit integer, TPDF-dithered.
    Int24,
    /// 32-bit IEEE float, written as is (no clamping: float keeps overs).
    Float32,
}

impl SampleFormat {
    pub const ALL: [SampleFormat; 3] = [
        SampleFormat::Int16,
        SampleFormat::Int24,
        SampleFormat::Float32,
    ];

    pub fn bits(self) -> u16 {
        match self {
            SampleFormat::Int16 => 16,
            SampleFormat::Int24 => 24,
            SampleFormat::Float32 => 32,
        }
    }

    /// The name used on the command line: `16`, `24`, `32f`.
    pub fn name(self) -> &'static str {
        match self {
            SampleFormat::Int16 => "16",
            SampleFormat::Int24 => "24",
            SampleFormat::Float32 => "32f",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum EncodeError {
    #[error("cannot write `{}`: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
    #[error("cannot write `{}`: {reason}", path.display())]
    Unsupported { path: PathBuf, reason: String },
}

/// Writes `audio` to `path` as WAV in `format`, atomically (temp file, fsync, rename).
pub fn write_wav(path: &Path, audio: &Audio, format: SampleFormat) -> Result<(), EncodeError> {
    wav_channels(path, audio.channels.len())?;
    let frames = audio.frames();
    if audio.channels.iter().any(|c| c.len() != frames) {
        return Err(EncodeError::Unsupported {
            path: path.to_path_buf(),
            reason: "channels differ in length".to_string(),
        });
    }
    let mut writer =
        AudioWriter::create_wav(path, format, audio.channel_count(), audio.sample_rate_hz)?;
    writer.write_audio(audio)?;
    writer.finish()
}
