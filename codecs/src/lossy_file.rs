//! A lossy delivery file of any codec, written chunk by chunk: Ogg Opus
//! ([`crate::opus_file`]), MP3 ([`crate::mp3_file`]) or AAC in `.m4a`
//! ([`crate::mp4_file`]). The tags are given at the end,
//! when the whole track has been measured.

use crate::mp3_file::Mp3FileWriter;
use crate::mp4_file::M4aFileWriter;
use crate::opus_file::OpusFileWriter;
use crate::{Codec, CodecError, CodecSpec};

/// An Opus, MP3 or AAC file being encoded.
pub enum LossyFileWriter {
    Opus(OpusFileWriter),
    Mp3(Box<Mp3FileWriter>),
    Aac(Box<M4aFileWriter>),
}

impl LossyFileWriter {
    /// A writer for `spec` at `sample_rate_hz` (a rate the codec takes as it is: see
    /// [`crate::coded_rate_hz`]) with `channels` (1 or 2).
    pub fn new(spec: CodecSpec, sample_rate_hz: u32, channels: usize) -> Result<Self, CodecError> {
        match spec.codec {
            Codec::Opus => Ok(Self::Opus(OpusFileWriter::new(
                spec,
                sample_rate_hz,
                channels,
            )?)),
            Codec::Mp3 => Ok(Self::Mp3(Box::new(Mp3FileWriter::new(
                spec,
                sample_rate_hz,
                channels,
            )?))),
            Codec::Aac => Ok(Self::Aac(Box::new(M4aFileWriter::new(
                spec,
                sample_rate_hz,
                channels,
            )?))),
        }
    }

    /// Encodes the next frames: one slice per channel, all the same length.
    pub fn write(&mut self, planes: &[&[f32]]) -> Result<(), CodecError> {
        match self {
            Self::Opus(w) => w.write(planes),
            Self::Mp3(w) => w.write(planes),
            Self::Aac(w) => w.write(planes),
        }
    }

    /// The finished file, with `tags` (field, value): Opus comments, ID3v2 `TXXX` or
    /// iTunes `ilst` items.
    pub fn finish(self, tags: &[(String, String)]) -> Result<Vec<u8>, CodecError> {
        match self {
            Self::Opus(w) => w.finish(tags),
            Self::Mp3(w) => w.finish(tags),
            Self::Aac(w) => w.finish(tags),
        }
    }
}
