//! Writing WAV files as a stream, for every command that writes one: the header first
//! (with sizes patched at the end), then each chunk converted to bytes in one tight loop
//! and written with one `write_all`, then any chunks that follow the audio.
//!
//! Two header styles ([`WavHeader`]), one per kind of output:
//! - [`WavHeader::Extensible`], `lathe render` and `write_wav`: byte for byte the header
//!   hound writes (lathe's WAV writer until it had its own): PCMWAVEFORMAT for 16-bit
//!   integer with one or two channels, WAVE_FORMAT_EXTENSIBLE with the first `channels`
//!   speaker bits for everything else, as Microsoft asks of more than 16 bits or 2
//!   channels.
//! - [`WavHeader::Plain`], `lathe album`: a plain PCMWAVEFORMAT at every width and channel
//!   count, the `fmt ` chunk broadcast WAV (EBU Tech 3285) specifies and that delivery
//!   checkers expect beside a `bext` chunk.
//!
//! Extra chunks ([`WavLayout`]) go before the audio (`bext`) or after it (`LIST`). Every
//! chunk of odd size is followed by a pad byte, as RIFF requires, except odd-sized data
//! that ends the file (nothing after it to align), which hound leaves unpadded too: so a
//! render's output keeps the bytes it always had.

use std::io::{self, Seek, SeekFrom, Write};

use super::sample_format::SampleFormat;

const KSDATAFORMAT_SUBTYPE_PCM: [u8; 16] = [
    0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71,
];
const KSDATAFORMAT_SUBTYPE_IEEE_FLOAT: [u8; 16] = [
    0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71,
];
/// Speaker bits a mask can assign; further channels get none (as hound does).
const MASKED_CHANNELS: u16 = 18;

/// The style of the `fmt ` chunk (see the module doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WavHeader {
    /// WAVE_FORMAT_EXTENSIBLE beyond 16 bits or 2 channels (hound's header).
    #[default]
    Extensible,
    /// PCMWAVEFORMAT (or the IEEE float tag) at every width and channel count.
    Plain,
}

/// One RIFF chunk: its four-character id and its body (the writer adds the size and
/// the pad byte).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WavChunk {
    pub id: [u8; 4],
    pub body: Vec<u8>,
}

/// Everything about a WAV file besides its samples: the header style and the chunks
/// around the audio. The default is a render's file: hound's header, no extra chunks.
#[derive(Debug, Clone, Default)]
pub struct WavLayout {
    pub header: WavHeader,
    /// Chunks between `fmt ` and `data` (e.g. `bext`).
    pub before_data: Vec<WavChunk>,
    /// Chunks after `data` (e.g. `LIST`).
    pub after_data: Vec<WavChunk>,
}

/// The header of a WAV file of `format`, `channels` and `sample_rate_hz` in the default
/// layout, holding `data_bytes` bytes of samples.
pub fn wav_header(
    format: SampleFormat,
    channels: u16,
    sample_rate_hz: u32,
    data_bytes: u32,
) -> Vec<u8> {
    let riff_len = 4 + 8 + fmt_len(WavHeader::Extensible, channels, format) + 8 + data_bytes;
    header(
        &WavLayout::default(),
        format,
        channels,
        sample_rate_hz,
        riff_len,
        data_bytes,
    )
}

/// Size of the `fmt ` chunk's body.
fn fmt_len(style: WavHeader, channels: u16, format: SampleFormat) -> u32 {
    if is_extensible(style, channels, format) {
        40
    } else {
        16
    }
}

fn is_extensible(style: WavHeader, channels: u16, format: SampleFormat) -> bool {
    style == WavHeader::Extensible && (channels > 2 || format.bits() > 16)
}

/// Bytes of `chunk` in the file: id, size, body and pad byte.
fn chunk_bytes(chunk: &WavChunk) -> u64 {
    let len = chunk.body.len() as u64;
    8 + len + len % 2
}

fn push_chunk(out: &mut Vec<u8>, chunk: &WavChunk) {
    out.extend_from_slice(&chunk.id);
    out.extend_from_slice(&(chunk.body.len() as u32).to_le_bytes());
    out.extend_from_slice(&chunk.body);
    if chunk.body.len() % 2 == 1 {
        out.push(0);
    }
}

/// Everything before the samples: RIFF, `fmt `, the chunks before the data and the
/// `data` chunk's header.
fn header(
    layout: &WavLayout,
    format: SampleFormat,
    channels: u16,
    sample_rate_hz: u32,
    riff_len: u32,
    data_bytes: u32,
) -> Vec<u8> {
    let extensible = is_extensible(layout.header, channels, format);
    let bytes_per_sample = format.bits() / 8;
    let mut h = Vec::with_capacity(68);
    h.extend_from_slice(b"RIFF");
    h.extend_from_slice(&riff_len.to_le_bytes());
    h.extend_from_slice(b"WAVE");
    h.extend_from_slice(b"fmt ");
    h.extend_from_slice(&fmt_len(layout.header, channels, format).to_le_bytes());
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
    for chunk in &layout.before_data {
        push_chunk(&mut h, chunk);
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
    layout: WavLayout,
    header_bytes: u64,
    /// Bytes of the chunks after the data, with a pad byte for odd data.
    trailer_bytes: u64,
    data_bytes: u64,
    bytes: Vec<u8>,
}

impl WavWriter {
    /// Writes the header of a file in `layout` (sizes still zero) to `out`.
    pub fn start_with<W: Write>(
        out: &mut W,
        format: SampleFormat,
        channels: u16,
        sample_rate_hz: u32,
        layout: WavLayout,
    ) -> io::Result<Self> {
        let header = header(&layout, format, channels, sample_rate_hz, 0, 0);
        out.write_all(&header)?;
        let after: u64 = layout.after_data.iter().map(chunk_bytes).sum();
        Ok(Self {
            format,
            channels,
            sample_rate_hz,
            header_bytes: header.len() as u64,
            // One more for the pad byte odd data may need before them.
            trailer_bytes: if layout.after_data.is_empty() {
                0
            } else {
                after + 1
            },
            layout,
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
    /// RIFF header can count.
    fn grow(&mut self, bytes: usize) -> Result<(), WavWriteError> {
        let total = self.data_bytes + bytes as u64;
        if total + self.header_bytes + self.trailer_bytes - 8 > u64::from(u32::MAX) {
            return Err(WavWriteError::TooLong);
        }
        self.data_bytes = total;
        self.bytes.resize(bytes, 0);
        Ok(())
    }

    /// Writes the chunks after the data, then the final sizes into the header at the
    /// start of `out`.
    pub fn finish<W: Write + Seek>(self, out: &mut W) -> io::Result<()> {
        // Checked in `grow`: the sizes fit.
        let data_bytes = self.data_bytes as u32;
        let mut trailer = Vec::new();
        if !self.layout.after_data.is_empty() && data_bytes % 2 == 1 {
            trailer.push(0);
        }
        for chunk in &self.layout.after_data {
            push_chunk(&mut trailer, chunk);
        }
        out.write_all(&trailer)?;
        let riff_len = (self.header_bytes - 8 + self.data_bytes) as u32 + trailer.len() as u32;
        let header = header(
            &self.layout,
            self.format,
            self.channels,
            self.sample_rate_hz,
            riff_len,
            data_bytes,
        );
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
        let mut w =
            WavWriter::start_with(&mut cursor, format, channels, rate, WavLayout::default())
                .unwrap();
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

    /// A delivered master's bytes as lathe album has always laid them out: plain
    /// PCMWAVEFORMAT, `bext` before the data, a pad byte after odd data, `LIST` after.
    fn album_bytes(bits: u16, channels: u16, rate: u32, samples: &[i32]) -> Vec<u8> {
        let width = usize::from(bits / 8);
        let data: Vec<u8> = samples
            .iter()
            .flat_map(|s| s.to_le_bytes()[..width].to_vec())
            .collect();
        let chunk = |id: &[u8], body: &[u8]| {
            let mut c = [id, &(body.len() as u32).to_le_bytes()[..], body].concat();
            if body.len() % 2 == 1 {
                c.push(0);
            }
            c
        };
        let block_align = channels * bits / 8;
        let fmt = [
            &1u16.to_le_bytes()[..],
            &channels.to_le_bytes(),
            &rate.to_le_bytes(),
            &(rate * u32::from(block_align)).to_le_bytes(),
            &block_align.to_le_bytes(),
            &bits.to_le_bytes(),
        ]
        .concat();
        let body = [
            &b"WAVE"[..],
            &chunk(b"fmt ", &fmt),
            &chunk(b"bext", b"bext body"),
            &chunk(b"data", &data),
            &chunk(b"LIST", b"INFO"),
        ]
        .concat();
        [&b"RIFF"[..], &(body.len() as u32).to_le_bytes(), &body].concat()
    }

    #[test]
    fn the_plain_layout_with_chunks_is_the_album_file() {
        for (format, bits) in [(SampleFormat::Int16, 16u16), (SampleFormat::Int24, 24)] {
            for channels in [1u16, 2, 6] {
                // 101 frames: odd data for 24-bit mono, so a pad byte before LIST.
                let samples: Vec<i32> = (0..i32::from(channels) * 101)
                    .map(|i| (i * 7919 % 30_001) - 15_000)
                    .collect();
                let c = usize::from(channels);
                let planes: Vec<Vec<i32>> = (0..c)
                    .map(|ch| samples.iter().skip(ch).step_by(c).copied().collect())
                    .collect();
                let layout = WavLayout {
                    header: WavHeader::Plain,
                    before_data: vec![WavChunk {
                        id: *b"bext",
                        body: b"bext body".to_vec(),
                    }],
                    after_data: vec![WavChunk {
                        id: *b"LIST",
                        body: b"INFO".to_vec(),
                    }],
                };
                let mut cursor = io::Cursor::new(Vec::new());
                let mut w =
                    WavWriter::start_with(&mut cursor, format, channels, 44_100, layout).unwrap();
                w.write_int(&mut cursor, &planes, 101).unwrap();
                w.finish(&mut cursor).unwrap();
                assert_eq!(
                    cursor.into_inner(),
                    album_bytes(bits, channels, 44_100, &samples),
                    "{format:?}, {channels} ch"
                );
            }
        }
    }
}
