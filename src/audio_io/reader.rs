//! One interface over every source of audio a render streams from: a plain WAV file read
//! directly, any other file through symphonia, or audio already in memory (the demo).

use super::Audio;
use super::codec_reader::CodecReader;
use super::decode_error::DecodeError;
use super::wav_reader::WavReader;

/// Audio read front to back in chunks of planar `f32`.
#[derive(Debug)]
pub enum AudioReader {
    Wav(WavReader),
    Codec(CodecReader),
    Memory(MemoryReader),
}

impl AudioReader {
    /// Streams audio that is already decoded.
    pub fn from_audio(audio: Audio) -> Self {
        AudioReader::Memory(MemoryReader { audio, position: 0 })
    }

    pub fn sample_rate_hz(&self) -> u32 {
        match self {
            AudioReader::Wav(r) => r.layout().sample_rate_hz,
            AudioReader::Codec(r) => r.sample_rate_hz(),
            AudioReader::Memory(r) => r.audio.sample_rate_hz,
        }
    }

    pub fn channel_count(&self) -> usize {
        match self {
            AudioReader::Wav(r) => r.layout().channels,
            AudioReader::Codec(r) => r.channel_count(),
            AudioReader::Memory(r) => r.audio.channel_count(),
        }
    }

    /// Frames the source says it holds, when it says: exact for WAV and memory, the
    /// container's figure otherwise (used for progress and buffer sizes, never trusted
    /// for the audio itself).
    pub fn declared_frames(&self) -> Option<u64> {
        match self {
            AudioReader::Wav(r) => Some(r.layout().declared_frames),
            AudioReader::Codec(r) => r.declared_frames(),
            AudioReader::Memory(r) => Some(r.audio.frames() as u64),
        }
    }

    /// Fills `out` (one slice per channel, all the same length) with the next frames and
    /// returns how many: all of them unless the source ends first, so a short count means
    /// the end.
    pub fn read(&mut self, out: &mut [&mut [f32]]) -> Result<usize, DecodeError> {
        match self {
            AudioReader::Wav(r) => r.read(out),
            AudioReader::Codec(r) => r.read(out),
            AudioReader::Memory(r) => Ok(r.read(out)),
        }
    }
}

/// Decoded audio handed out chunk by chunk.
#[derive(Debug)]
pub struct MemoryReader {
    audio: Audio,
    position: usize,
}

impl MemoryReader {
    fn read(&mut self, out: &mut [&mut [f32]]) -> usize {
        let wanted = out.first().map_or(0, |c| c.len());
        let n = wanted.min(self.audio.frames() - self.position);
        for (plane, channel) in out.iter_mut().zip(&self.audio.channels) {
            plane[..n].copy_from_slice(&channel[self.position..self.position + n]);
        }
        self.position += n;
        n
    }
}
