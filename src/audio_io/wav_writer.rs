//! Writing WAV files as a stream: the header first (with sizes patched at the end), then
//! each chunk converted to bytes in one tight loop and written with one `write_all`.
//!
//! The header is byte for byte the one hound writes (lathe's WAV writer until now):
//! PCMWAVEFORMAT for 16-bit integer with one or two channels, WAVE_FORMAT_EXTENSIBLE with
//! the first `channels` speaker bits for everything else, no pad byte after odd-sized data.

use std::io::{self, Seek, SeekFrom, Write};

use super::encode::SampleFormat;

const KSDATAFORMAT_SUBTYPE_PCM: [u8; 16] = [
    0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71,
];
const KSDATAFORMAT_SUBTYPE_IEEE_FLOAT: [u8; 16] = [
    0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71,
];
/// Speaker bits a mask can assign; further channels get none (as hound does).
const MASKED_CHANNELS: u16 = 18;

/// The header of a WAV file of `format`, `channels` and `sample_rate_hz`, holding
/// `data_bytes` bytes of samples.
pub fn wav_header(
    format: SampleFormat,
    channels: u16,
    sample_rate_hz: u32,
    data_bytes: u32,
) -> Vec<u8> {
    let extensible = channels > 2 || format.bits() > 16;
    let bytes_per_sample = format.bits() / 8;
    let fmt_len: u32 = if extensible { 40 } else { 16 };
    // RIFF length: everything after its own 8 bytes.
    let riff_len = 4 + 8 + fmt_len + 8 + data_bytes;
    let mut h = Vec::with_capacity(68);
    h.extend_from_slice(b"RIFF");
    h.extend_from_slice(&riff_len.to_le_bytes());
    h.extend_from_slice(b"WAVE");
    h.extend_from_slice(b"fmt ");
    h.extend_from_slice(&fmt_len.to_le_bytes());
    let tag: u16 = match (extensible, format) {
        (true, _) => 0xfffe,
        (false, SampleFormat::Float32) => 3,
        (false, _) => 1,
    };
    let bytes_per_second = sample_rate_hz
        .wrapping_mul(u32::from(bytes_per_sample))
        .wrapping_mul(u32::from(channels));
    h.extend_from_slice(&tag.to_le_bytes());
    h.extend_from_slice(&channels.to_le_bytes());
    h.extend_from_slice(&sample_rate_hz.to_le_bytes());
    h.extend_from_slice(&bytes_per_second.to_le_bytes());
    // As hound derives it (the same as bytes per sample times channels unless the rate
    // times the frame size passes 4 GiB).
    let block_align = bytes_per_second.checked_div(sample_rate_hz).unwrap_or(0) as u16;
    h.extend_from_slice(&block_align.to_le_bytes());
    h.extend_from_slice(&format.bits().to_le_bytes());
    if extensible {
        h.extend_from_slice(&22u16.to_le_bytes());
        h.extend_from_slice(&format.bits().to_le_bytes());
        let mask = (0..channels.min(MASKED_CHANNELS)).fold(0u32, |m, c| m | 1 << c);
        h.extend_from_slice(&mask.to_le_bytes());
        h.extend_from_slice(match format {
            SampleFormat::Float32 => &KSDATAFORMAT_SUBTYPE_IEEE_FLOAT,
            _ => &KSDATAFORMAT_SUBTYPE_PCM,
        });
    }
    h.extend_from_slice(b"data");
    h.extend_from_slice(&data_bytes.to_le_bytes());
    h
}

/// Why a chunk could not be added to a WAV file.
#[derive(Debug, thiserror::Error)]
pub enum WavWriteError {
    #[error(transparent)]
    Io(#[from] io::Error),
    #[error("a WAV file holds at most 4 GiB of samples; write FLAC or a shorter file")]
    TooLong,
}

/// A WAV file being written: counts its data bytes and converts chunks to bytes.
#[derive(Debug)]
pub struct WavWriter {
    format: SampleFormat,
    channels: u16,
    sample_rate_hz: u32,
    header_bytes: u32,
    data_bytes: u64,
    bytes: Vec<u8>,
}

impl WavWriter {
    /// Writes the header (sizes still zero) to `out`.
    pub fn start<W: Write>(
        out: &mut W,
        format: SampleFormat,
        channels: u16,
        sample_rate_hz: u32,
    ) -> io::Result<Self> {
        let header = wav_header(format, channels, sample_rate_hz, 0);
        out.write_all(&header)?;
        Ok(Self {
            format,
            channels,
            sample_rate_hz,
            header_bytes: header.len() as u32,
            data_bytes: 0,
            bytes: Vec::new(),
        })
    }

    /// Appends integer samples (one plane per channel, `frames` each, within the
    /// format's range) as 16 or 24-bit little-endian.
    pub fn write_int<W: Write>(
        &mut self,
        out: &mut W,
        planes: &[Vec<i32>],
        frames: usize,
    ) -> Result<(), WavWriteError> {
        let width = usize::from(self.format.bits() / 8);
        self.grow(frames * width * planes.len())?;
        let block_align = width * planes.len();
        for (c, plane) in planes.iter().enumerate() {
            let slots = self
                .bytes
                .chunks_exact_mut(block_align)
                .map(|f| &mut f[c * width..]);
            match width {
                2 => {
                    for (slot, &s) in slots.zip(&plane[..frames]) {
                        slot[..2].copy_from_slice(&(s as i16).to_le_bytes());
                    }
                }
                _ => {
                    for (slot, &s) in slots.zip(&plane[..frames]) {
                        slot[..3].copy_from_slice(&s.to_le_bytes()[..3]);
                    }
                }
            }
        }
        out.write_all(&self.bytes)?;
        Ok(())
    }

    /// Appends float samples (one plane per channel, all the same length) as they are.
    pub fn write_float<W: Write>(
        &mut self,
        out: &mut W,
        planes: &[&[f32]],
    ) -> Result<(), WavWriteError> {
        let frames = planes.first().map_or(0, |p| p.len());
        self.grow(frames * 4 * planes.len())?;
        let block_align = 4 * planes.len();
        for (c, plane) in planes.iter().enumerate() {
            let slots = self
                .bytes
                .chunks_exact_mut(block_align)
                .map(|f| &mut f[c * 4..]);
            for (slot, &s) in slots.zip(plane.iter()) {
                slot[..4].copy_from_slice(&s.to_le_bytes());
            }
        }
        out.write_all(&self.bytes)?;
        Ok(())
    }

    /// Sizes the byte buffer for `bytes` more data bytes, refusing to pass the 4 GiB a
    /// WAV header can count.
    fn grow(&mut self, bytes: usize) -> Result<(), WavWriteError> {
        let total = self.data_bytes + bytes as u64;
        if total + u64::from(self.header_bytes) - 8 > u64::from(u32::MAX) {
            return Err(WavWriteError::TooLong);
        }
        self.data_bytes = total;
        self.bytes.resize(bytes, 0);
        Ok(())
    }

    /// Writes the final sizes into the header at the start of `out`.
    pub fn finish<W: Write + Seek>(self, out: &mut W) -> io::Result<()> {
        // Checked in `grow`: the sizes fit.
        let data_bytes = self.data_bytes as u32;
        let header = wav_header(self.format, self.channels, self.sample_rate_hz, data_bytes);
        out.seek(SeekFrom::Start(0))?;
        out.write_all(&header)?;
        out.seek(SeekFrom::End(0))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bytes hound writes for the same spec and samples.
    fn hound_bytes(format: SampleFormat, channels: u16, rate: u32, samples: &[i32]) -> Vec<u8> {
        let spec = hound::WavSpec {
            channels,
            sample_rate: rate,
            bits_per_sample: format.bits(),
            sample_format: match format {
                SampleFormat::Float32 => hound::SampleFormat::Float,
                _ => hound::SampleFormat::Int,
            },
        };
        let mut cursor = io::Cursor::new(Vec::new());
        let mut w = hound::WavWriter::new(&mut cursor, spec).unwrap();
        for &s in samples {
            match format {
                SampleFormat::Float32 => w.write_sample(s as f32 / 1000.0).unwrap(),
                _ => w.write_sample(s).unwrap(),
            }
        }
        w.finalize().unwrap();
        cursor.into_inner()
    }

    fn ours(format: SampleFormat, channels: u16, rate: u32, samples: &[i32]) -> Vec<u8> {
        let c = usize::from(channels);
        let frames = samples.len() / c;
        let planes: Vec<Vec<i32>> = (0..c)
            .map(|ch| (0..frames).map(|i| samples[i * c + ch]).collect())
            .collect();
        let mut cursor = io::Cursor::new(Vec::new());
        let mut w = WavWriter::start(&mut cursor, format, channels, rate).unwrap();
        // In two uneven chunks, as a render writes them.
        let split = frames / 3;
        match format {
            SampleFormat::Float32 => {
                let floats: Vec<Vec<f32>> = planes
                    .iter()
                    .map(|p| p.iter().map(|&s| s as f32 / 1000.0).collect())
                    .collect();
                for range in [0..split, split..frames] {
                    let chunk: Vec<&[f32]> = floats.iter().map(|p| &p[range.clone()]).collect();
                    w.write_float(&mut cursor, &chunk).unwrap();
                }
            }
            _ => {
                for range in [0..split, split..frames] {
                    let chunk: Vec<Vec<i32>> =
                        planes.iter().map(|p| p[range.clone()].to_vec()).collect();
                    w.write_int(&mut cursor, &chunk, range.len()).unwrap();
                }
            }
        }
        w.finish(&mut cursor).unwrap();
        cursor.into_inner()
    }

    #[test]
    fn files_are_byte_identical_to_hound() {
        for format in SampleFormat::ALL {
            for channels in [1u16, 2, 3, 6, 20] {
                let bits = format.bits().min(24);
                let max = (1i32 << (bits - 1)) - 1;
                // Odd frame counts: odd data sizes for 24-bit mono.
                let samples: Vec<i32> = (0..usize::from(channels) * 101)
                    .map(|i| ((i as i64 * 7919 % (2 * max as i64 + 1)) - max as i64) as i32)
                    .collect();
                assert_eq!(
                    ours(format, channels, 44_100, &samples),
                    hound_bytes(format, channels, 44_100, &samples),
                    "{format:?}, {channels} ch"
                );
            }
        }
    }

    #[test]
    fn empty_files_match_too() {
        assert_eq!(
            ours(SampleFormat::Int24, 2, 48_000, &[]),
            hound_bytes(SampleFormat::Int24, 2, 48_000, &[])
        );
    }
}
