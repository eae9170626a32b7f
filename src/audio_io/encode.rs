//! Writing a whole [`Audio`] at once: as WAV (16/24-bit integer with TPDF dither, or
//! 32-bit float) or as FLAC with tags.
//!
//! The file is written atomically: a reader never sees a half-written output, and a
//! failure leaves the old file in place. Both go through the streaming
//! [`super::output::AudioWriter`] that renders use, a chunk at a time.

use std::path::Path;

use super::Audio;
use super::encode_error::EncodeError;
use super::flac::Quantisation;
use super::output::{AudioWriter, wav_channels};
use super::sample_format::SampleFormat;

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

/// Writes `audio` to `path` as FLAC of `bits` bits (16 or 24) with the Vorbis comments
/// `comments` (field name, value), atomically.
pub fn write_flac(
    path: &Path,
    audio: &Audio,
    bits: u32,
    quantisation: Quantisation,
    comments: &[(String, String)],
) -> Result<(), EncodeError> {
    let mut writer = AudioWriter::create_flac(
        path,
        audio.channel_count(),
        audio.sample_rate_hz,
        bits,
        quantisation,
        comments,
    )?;
    writer.write_audio(audio)?;
    writer.finish()
}
