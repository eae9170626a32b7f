//! WAV files of delivered masters: integer PCM from samples that are already quantised
//! (by the `dither` node kind), with extra chunks (`bext`, `LIST`) around the audio, and
//! reading those chunks back. Samples are converted exactly, without a second dither;
//! the writing itself is the one WAV writer of [`crate::audio_io`].

use std::path::Path;

use crate::audio_io::{
    Audio, AudioWriter, EncodeError, Quantisation, SampleFormat, WavChunk, WavHeader, WavLayout,
};

/// Writes `audio` as `bits`-bit PCM (16 or 24) with `bext` before the audio and `LIST`
/// after it, atomically, through the same streaming writer as a render: a plain
/// PCMWAVEFORMAT header (what broadcast WAV specifies) and the samples converted exactly.
pub fn write_pcm_wav(
    path: &Path,
    audio: &Audio,
    bits: u32,
    bext: &[u8],
    list: &[u8],
) -> Result<(), EncodeError> {
    let format = match bits {
        16 => SampleFormat::Int16,
        24 => SampleFormat::Int24,
        _ => {
            return Err(EncodeError::Unsupported {
                path: path.to_path_buf(),
                reason: format!("a delivered WAV is 16 or 24-bit, not {bits}-bit"),
            });
        }
    };
    let layout = WavLayout {
        header: WavHeader::Plain,
        before_data: vec![WavChunk {
            id: *b"bext",
            body: bext.to_vec(),
        }],
        after_data: vec![WavChunk {
            id: *b"LIST",
            body: list.to_vec(),
        }],
    };
    let mut writer = AudioWriter::create_wav_with(
        path,
        format,
        audio.channel_count(),
        audio.sample_rate_hz,
        Quantisation::Exact,
        layout,
    )?;
    writer.write_audio(audio)?;
    writer.finish()
}

/// The chunks of a RIFF/WAVE file as (id, body), in file order; empty when `bytes` is
/// not a WAV file.
pub fn read_chunks(bytes: &[u8]) -> Vec<([u8; 4], &[u8])> {
    let mut chunks = Vec::new();
    if bytes.get(..4) != Some(b"RIFF") || bytes.get(8..12) != Some(b"WAVE") {
        return chunks;
    }
    let mut pos = 12;
    while pos + 8 <= bytes.len() {
        let id = [bytes[pos], bytes[pos + 1], bytes[pos + 2], bytes[pos + 3]];
        let len = u32::from_le_bytes([
            bytes[pos + 4],
            bytes[pos + 5],
            bytes[pos + 6],
            bytes[pos + 7],
        ]) as usize;
        let end = (pos + 8 + len).min(bytes.len());
        chunks.push((id, &bytes[pos + 8..end]));
        pos = pos + 8 + len + len % 2;
    }
    chunks
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio_io::read_audio;

    #[test]
    fn quantised_samples_are_written_exactly_with_chunks_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.wav");
        let lsb = 1.0 / 32768.0;
        let audio = Audio {
            sample_rate_hz: 44_100,
            channels: vec![vec![0.0, lsb, -1.0], vec![0.5, -lsb, 1.0 - lsb]],
        };
        write_pcm_wav(&path, &audio, 16, b"abc", b"INFO").unwrap();
        let bytes = std::fs::read(&path).unwrap();
        let ids: Vec<[u8; 4]> = read_chunks(&bytes).iter().map(|c| c.0).collect();
        assert_eq!(ids, [*b"fmt ", *b"bext", *b"data", *b"LIST"]);
        assert_eq!(read_audio(&path).unwrap(), audio);
    }
}
