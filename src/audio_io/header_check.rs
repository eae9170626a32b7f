//! Checks the header fields of WAV and FLAC files before any decoder sees them.
//!
//! Decoders trust what a header says: symphonia panics on a WAV whose sample rate is 0
//! (it builds a time base from it), and a rate of 1 Hz or 4 GHz, a block alignment of 0
//! or a bit depth of 200 leads to divisions by zero, absurd buffer sizes or files that one
//! command accepts and another refuses. Every field a decoder divides by or sizes a
//! buffer from is checked here against one range shared by all commands, and a bad one is
//! reported with its byte offset, its value and the allowed values.
//!
//! Only the fields are checked; the chunk structure is left to the readers, which already
//! report truncation and unknown layouts. Files that are neither WAV nor FLAC pass
//! through untouched.

use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;

use super::decode_error::DecodeError;

/// The lowest sample rate lathe reads: the graph compiler prepares nodes for no less.
pub const MIN_SAMPLE_RATE_HZ: u32 = 1_000;
/// The highest sample rate lathe reads (8 x 96 kHz).
pub const MAX_SAMPLE_RATE_HZ: u32 = 768_000;
/// The most channels a file may declare (the widest graph bus is 32; wider files are
/// refused here rather than by a buffer sized from the header).
pub const MAX_FILE_CHANNELS: u32 = 64;
/// The widest sample a header may declare, in bits (64-bit float).
pub const MAX_BITS_PER_SAMPLE: u32 = 64;

/// How far into a WAV file the `fmt ` chunk is looked for: chunks before it (`JUNK`,
/// `bext`, `LIST`) are skipped by their length, so this bounds the chunks walked.
const MAX_CHUNKS_BEFORE_FMT: usize = 64;

/// Checks the header of `file` (opened from `path`) and rewinds it to the start.
pub fn check_header<F: Read + Seek>(path: &Path, file: &mut F) -> Result<(), DecodeError> {
    let unreadable = |source: io::Error| DecodeError::Unreadable {
        path: path.to_path_buf(),
        source,
    };
    file.seek(SeekFrom::Start(0)).map_err(unreadable)?;
    let mut magic = [0u8; 12];
    let n = read_up_to(file, &mut magic).map_err(unreadable)?;
    let found = match &magic[..n] {
        [b'R', b'I', b'F', b'F', _, _, _, _, b'W', b'A', b'V', b'E'] => {
            wav_fields(file).map_err(unreadable)?
        }
        [b'f', b'L', b'a', b'C', ..] => flac_fields(file).map_err(unreadable)?,
        _ => None,
    };
    file.seek(SeekFrom::Start(0)).map_err(unreadable)?;
    match found.map(|fields| fields.first_bad()) {
        Some(Some(bad)) => Err(DecodeError::BadHeader {
            path: path.to_path_buf(),
            field: bad.field,
            offset: bad.offset,
            value: bad.value,
            allowed: bad.allowed,
        }),
        _ => Ok(()),
    }
}

/// One header field as read, with where it was.
#[derive(Debug, Clone, Copy)]
struct Field {
    offset: u64,
    value: u64,
}

/// The fields of a header that decoders trust.
#[derive(Debug, Default)]
struct Fields {
    sample_rate_hz: Option<Field>,
    channels: Option<Field>,
    bits_per_sample: Option<Field>,
    /// WAV only: bytes per frame, which symphonia divides by.
    block_align: Option<Field>,
}

/// A field outside its range.
struct Bad {
    field: &'static str,
    offset: u64,
    value: u64,
    allowed: String,
}

impl Fields {
    fn first_bad(&self) -> Option<Bad> {
        let range = |name: &'static str, field: Option<Field>, lo: u64, hi: u64, unit: &str| {
            field.filter(|f| f.value < lo || f.value > hi).map(|f| Bad {
                field: name,
                offset: f.offset,
                value: f.value,
                allowed: format!("{lo}..={hi}{unit}"),
            })
        };
        range(
            "sample rate",
            self.sample_rate_hz,
            MIN_SAMPLE_RATE_HZ.into(),
            MAX_SAMPLE_RATE_HZ.into(),
            " Hz",
        )
        .or_else(|| range("channels", self.channels, 1, MAX_FILE_CHANNELS.into(), ""))
        .or_else(|| {
            range(
                "bits per sample",
                self.bits_per_sample,
                1,
                MAX_BITS_PER_SAMPLE.into(),
                "",
            )
        })
        .or_else(|| {
            // At least one byte per channel; at most 8 bytes per sample on every channel.
            let channels = self.channels.map_or(1, |c| c.value.max(1));
            range(
                "block align",
                self.block_align,
                channels,
                channels * u64::from(MAX_BITS_PER_SAMPLE / 8),
                " bytes",
            )
        })
    }
}

/// The `fmt ` fields of a RIFF/WAVE file positioned after its 12-byte header, or None
/// when no `fmt ` chunk is found (the readers report that).
fn wav_fields<F: Read + Seek>(file: &mut F) -> io::Result<Option<Fields>> {
    let mut position: u64 = 12;
    for _ in 0..MAX_CHUNKS_BEFORE_FMT {
        file.seek(SeekFrom::Start(position))?;
        let mut chunk = [0u8; 8];
        if read_up_to(file, &mut chunk)? < chunk.len() {
            return Ok(None);
        }
        let len = u64::from(u32::from_le_bytes([chunk[4], chunk[5], chunk[6], chunk[7]]));
        let body = position + 8;
        if &chunk[0..4] == b"fmt " {
            let mut fmt = [0u8; 16];
            let n = read_up_to(file, &mut fmt)?;
            let u16_at = |i: usize| (i + 2 <= n).then(|| u16::from_le_bytes([fmt[i], fmt[i + 1]]));
            let u32_at = |i: usize| {
                (i + 4 <= n)
                    .then(|| u32::from_le_bytes([fmt[i], fmt[i + 1], fmt[i + 2], fmt[i + 3]]))
            };
            let at = |i: usize, v: Option<u64>| {
                v.map(|value| Field {
                    offset: body + i as u64,
                    value,
                })
            };
            return Ok(Some(Fields {
                channels: at(2, u16_at(2).map(u64::from)),
                sample_rate_hz: at(4, u32_at(4).map(u64::from)),
                block_align: at(12, u16_at(12).map(u64::from)),
                bits_per_sample: at(14, u16_at(14).map(u64::from)),
            }));
        }
        // Chunks are padded to an even length.
        position = body + len + (len & 1);
    }
    Ok(None)
}

/// The STREAMINFO fields of a FLAC file positioned after its 4-byte marker, or None
/// when the first metadata block is not STREAMINFO (the decoder reports that).
fn flac_fields<F: Read + Seek>(file: &mut F) -> io::Result<Option<Fields>> {
    file.seek(SeekFrom::Start(4))?;
    // Block header (4 bytes), then STREAMINFO: min/max block (4), min/max frame (6),
    // then 20 bits of rate, 3 of channels-1, 5 of bits-1, 36 of total samples.
    let mut block = [0u8; 4 + 18];
    if read_up_to(file, &mut block)? < block.len() || block[0] & 0x7f != 0 {
        return Ok(None);
    }
    let packed = u64::from_be_bytes([
        block[14], block[15], block[16], block[17], block[18], block[19], block[20], block[21],
    ]);
    let offset = 4 + 14;
    let field = |value: u64| Some(Field { offset, value });
    Ok(Some(Fields {
        sample_rate_hz: field(packed >> 44),
        channels: field(((packed >> 41) & 0x7) + 1),
        bits_per_sample: field(((packed >> 36) & 0x1f) + 1),
        block_align: None,
    }))
}

/// Reads into `buf` until it is full or the input ends; returns the bytes read.
fn read_up_to<R: Read>(reader: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    /// A PCM WAV header with the given `fmt ` fields and two frames of data.
    fn wav(channels: u16, rate_hz: u32, block_align: u16, bits: u16) -> Vec<u8> {
        let mut out = b"RIFF".to_vec();
        out.extend_from_slice(&36u32.to_le_bytes());
        out.extend_from_slice(b"WAVEfmt ");
        out.extend_from_slice(&16u32.to_le_bytes());
        out.extend_from_slice(&1u16.to_le_bytes());
        out.extend_from_slice(&channels.to_le_bytes());
        out.extend_from_slice(&rate_hz.to_le_bytes());
        out.extend_from_slice(&(rate_hz.wrapping_mul(u32::from(block_align))).to_le_bytes());
        out.extend_from_slice(&block_align.to_le_bytes());
        out.extend_from_slice(&bits.to_le_bytes());
        out.extend_from_slice(b"data");
        out.extend_from_slice(&4u32.to_le_bytes());
        out.extend_from_slice(&[0; 4]);
        out
    }

    fn check(bytes: Vec<u8>) -> Result<(), DecodeError> {
        check_header(Path::new("x.wav"), &mut Cursor::new(bytes))
    }

    #[test]
    fn a_plain_header_passes_and_is_rewound() {
        let mut file = Cursor::new(wav(2, 48_000, 4, 16));
        check_header(Path::new("x.wav"), &mut file).unwrap();
        assert_eq!(file.position(), 0);
    }

    #[test]
    fn every_trusted_field_is_range_checked() {
        for (bytes, field, value) in [
            (wav(1, 0, 2, 16), "sample rate", 0),
            (wav(1, 1, 2, 16), "sample rate", 1),
            (wav(1, 4_000_000_000, 2, 16), "sample rate", 4_000_000_000),
            (wav(0, 48_000, 2, 16), "channels", 0),
            (wav(1, 48_000, 2, 0), "bits per sample", 0),
            (wav(1, 48_000, 0, 16), "block align", 0),
            (wav(2, 48_000, 1000, 16), "block align", 1000),
        ] {
            let err = check(bytes).unwrap_err();
            let message = err.to_string();
            assert!(
                matches!(&err, DecodeError::BadHeader { field: f, value: v, .. } if *f == field && *v == value),
                "{message}"
            );
            assert!(message.contains("allowed"), "{message}");
            assert!(message.contains("byte"), "{message}");
        }
    }

    #[test]
    fn a_flac_rate_of_zero_is_refused() {
        let mut bytes = b"fLaC".to_vec();
        bytes.extend_from_slice(&[0x80, 0, 0, 34]);
        bytes.extend_from_slice(&[0x10, 0x00, 0x10, 0x00, 0, 0, 0, 0, 0, 0]);
        // rate 0, 2 channels, 16 bits, 0 samples.
        let packed: u64 = (1 << 41) | (15 << 36);
        bytes.extend_from_slice(&packed.to_be_bytes());
        bytes.extend_from_slice(&[0; 16]);
        let err = check(bytes).unwrap_err();
        assert!(err.to_string().contains("sample rate 0"), "{err}");
    }

    #[test]
    fn other_files_pass_through() {
        check(b"ID3\x04rest of an mp3".to_vec()).unwrap();
        check(Vec::new()).unwrap();
    }
}
