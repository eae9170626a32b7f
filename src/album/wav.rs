//! A WAV writer for delivered masters: integer PCM from samples that are already
//! quantised (by the `dither` node kind), with extra chunks (`bext`, `LIST`) around the
//! audio. Samples are converted exactly, without a second dither.

use std::io::{self, Write};
use std::path::Path;

use crate::atomic::write_atomically;
use crate::audio_io::{Audio, exact_pcm};

/// Writes `audio` as `bits`-bit PCM (16 or 24) with `bext` before the audio and `LIST`
/// after it, atomically.
pub fn write_pcm_wav(
    path: &Path,
    audio: &Audio,
    bits: u32,
    bext: &[u8],
    list: &[u8],
) -> io::Result<()> {
    let channels = u16::try_from(audio.channel_count())
        .ok()
        .filter(|&c| c > 0)
        .ok_or_else(|| io::Error::other("a WAV file holds 1..=65535 channels"))?;
    let bytes_per_sample = (bits / 8) as usize;
    let frames = audio.frames();
    let data_len = frames * channels as usize * bytes_per_sample;
    let chunk_total = |len: usize| 8 + len + len % 2;
    let riff_len = 4
        + chunk_total(16)
        + chunk_total(bext.len())
        + chunk_total(data_len)
        + chunk_total(list.len());
    let riff_len = u32::try_from(riff_len)
        .map_err(|_| io::Error::other("the file would exceed the 4 GiB limit of WAV"))?;
    write_atomically(path, |w| {
        w.write_all(b"RIFF")?;
        w.write_all(&riff_len.to_le_bytes())?;
        w.write_all(b"WAVE")?;
        let block_align = channels * bytes_per_sample as u16;
        let mut fmt = Vec::with_capacity(16);
        fmt.extend_from_slice(&1u16.to_le_bytes());
        fmt.extend_from_slice(&channels.to_le_bytes());
        fmt.extend_from_slice(&audio.sample_rate_hz.to_le_bytes());
        fmt.extend_from_slice(&(audio.sample_rate_hz * u32::from(block_align)).to_le_bytes());
        fmt.extend_from_slice(&block_align.to_le_bytes());
        fmt.extend_from_slice(&(bits as u16).to_le_bytes());
        write_chunk(w, b"fmt ", &fmt)?;
        write_chunk(w, b"bext", bext)?;
        w.write_all(b"data")?;
        w.write_all(&(data_len as u32).to_le_bytes())?;
        for i in 0..frames {
            for channel in &audio.channels {
                let v = exact_pcm(channel[i], bits);
                w.write_all(&v.to_le_bytes()[..bytes_per_sample])?;
            }
        }
        if data_len % 2 == 1 {
            w.write_all(&[0])?;
        }
        write_chunk(w, b"LIST", list)
    })
}

fn write_chunk(w: &mut impl Write, id: &[u8; 4], body: &[u8]) -> io::Result<()> {
    w.write_all(id)?;
    w.write_all(&(body.len() as u32).to_le_bytes())?;
    w.write_all(body)?;
    if body.len() % 2 == 1 {
        w.write_all(&[0])?;
    }
    Ok(())
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
