//! Writing WAV files: 16/24-bit integer with TPDF dither, or 32-bit float.
//!
//! hound writes a WAVE_FORMAT_EXTENSIBLE header by itself where the format needs one
//! (more than two channels, more than 16 bits). The file is written atomically: a
//! reader never sees a half-written output, and a failure leaves the old file in place.

use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use super::Audio;
use super::dither::Quantizer;
use crate::atomic::write_atomically;

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
    let unsupported = |reason: String| EncodeError::Unsupported {
        path: path.to_path_buf(),
        reason,
    };
    let channels = u16::try_from(audio.channels.len())
        .ok()
        .filter(|&c| c > 0)
        .ok_or_else(|| {
            unsupported(format!(
                "a WAV file holds 1..=65535 channels, found {}",
                audio.channels.len()
            ))
        })?;
    let frames = audio.frames();
    if audio.channels.iter().any(|c| c.len() != frames) {
        return Err(unsupported("channels differ in length".to_string()));
    }
    if audio.sample_rate_hz == 0 {
        return Err(unsupported("sample rate 0 Hz".to_string()));
    }
    let spec = hound::WavSpec {
        channels,
        sample_rate: audio.sample_rate_hz,
        bits_per_sample: format.bits(),
        sample_format: match format {
            SampleFormat::Float32 => hound::SampleFormat::Float,
            _ => hound::SampleFormat::Int,
        },
    };
    write_atomically(path, |file| write_samples(file, spec, audio, format)).map_err(|source| {
        EncodeError::Io {
            path: path.to_path_buf(),
            source,
        }
    })
}

fn write_samples(
    file: &mut BufWriter<std::fs::File>,
    spec: hound::WavSpec,
    audio: &Audio,
    format: SampleFormat,
) -> io::Result<()> {
    let mut writer = hound::WavWriter::new(&mut *file, spec).map_err(hound_to_io)?;
    let frames = audio.frames();
    match format {
        SampleFormat::Float32 => {
            for i in 0..frames {
                for channel in &audio.channels {
                    writer.write_sample(channel[i]).map_err(hound_to_io)?;
                }
            }
        }
        SampleFormat::Int16 | SampleFormat::Int24 => {
            let mut quantizers: Vec<Quantizer> = (0..audio.channels.len())
                .map(|c| Quantizer::new(u32::from(format.bits()), c))
                .collect();
            for i in 0..frames {
                for (channel, q) in audio.channels.iter().zip(quantizers.iter_mut()) {
                    writer
                        .write_sample(q.quantize(channel[i]))
                        .map_err(hound_to_io)?;
                }
            }
        }
    }
    writer.finalize().map_err(hound_to_io)?;
    file.flush()
}

fn hound_to_io(e: hound::Error) -> io::Error {
    match e {
        hound::Error::IoError(e) => e,
        other => io::Error::other(other.to_string()),
    }
}
