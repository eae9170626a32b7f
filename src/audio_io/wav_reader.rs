//! A direct reader for the common PCM WAV files: 16, 24 and 32-bit integer and 32-bit
//! float, in a plain `fmt ` chunk or WAVE_FORMAT_EXTENSIBLE, with the chunks in any order.
//!
//! It reads big blocks of bytes and converts them in tight loops, several times faster
//! than a general decoder's packet-by-packet path. It only takes files the general
//! decoder (symphonia) also takes and decodes them to the same samples bit for bit:
//! integer samples are scaled by 2^-(bits-1) exactly as symphonia scales them, floats are
//! copied. A header it does not recognise as one of those cases is handed back
//! ([`Probe::Other`]) so the general decoder reads the file and reports its problems, as
//! before.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use dasp_sample::{I24, Sample};
use symphonia::core::audio::Channels;

use super::decode_error::DecodeError;

/// The sample encodings read here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PcmEncoding {
    Int16,
    Int24,
    Int32,
    Float32,
}

impl PcmEncoding {
    pub fn bytes(self) -> usize {
        match self {
            PcmEncoding::Int16 => 2,
            PcmEncoding::Int24 => 3,
            PcmEncoding::Int32 | PcmEncoding::Float32 => 4,
        }
    }
}

/// What a WAV header says about its samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WavLayout {
    pub encoding: PcmEncoding,
    pub channels: usize,
    pub sample_rate_hz: u32,
    /// Byte offset of the first sample.
    pub data_offset: u64,
    /// Frames the data chunk declares.
    pub declared_frames: u64,
}

impl WavLayout {
    fn block_align(&self) -> usize {
        self.channels * self.encoding.bytes()
    }
}

/// The outcome of looking at a file's header.
#[derive(Debug)]
pub enum Probe {
    /// A plain PCM WAV file, ready to stream.
    Pcm(WavReader),
    /// Anything else: another format, or a WAV variant left to the general decoder.
    Other,
}

/// Bytes converted per read: the block buffer is at most this large.
const READ_BLOCK_BYTES: usize = 1 << 18;

/// A PCM WAV file being read front to back.
#[derive(Debug)]
pub struct WavReader {
    path: PathBuf,
    file: File,
    layout: WavLayout,
    frames_left: u64,
    frames_read: u64,
    bytes: Vec<u8>,
}

impl WavReader {
    /// Looks at the header of `file` (opened from `path`). A file that ends before all the
    /// frames its header declares is refused here, with the frames it does hold, as the
    /// general decoder would refuse it after reading them all.
    pub fn probe(path: &Path, mut file: File) -> Result<Probe, DecodeError> {
        let unreadable = |source: io::Error| DecodeError::Unreadable {
            path: path.to_path_buf(),
            source,
        };
        let file_bytes = file.metadata().map_err(unreadable)?.len();
        let Some(layout) = parse_header(&mut file).map_err(unreadable)? else {
            return Ok(Probe::Other);
        };
        let block_align = layout.block_align() as u64;
        let available_frames = file_bytes.saturating_sub(layout.data_offset) / block_align;
        if available_frames < layout.declared_frames {
            return Err(DecodeError::Corrupt {
                path: path.to_path_buf(),
                at_seconds: available_frames as f64 / f64::from(layout.sample_rate_hz),
                reason: format!(
                    "the file ends after {available_frames} of the {} frames its header declares",
                    layout.declared_frames
                ),
            });
        }
        if layout.declared_frames == 0 {
            return Err(DecodeError::Empty {
                path: path.to_path_buf(),
            });
        }
        file.seek(SeekFrom::Start(layout.data_offset))
            .map_err(unreadable)?;
        Ok(Probe::Pcm(WavReader {
            path: path.to_path_buf(),
            file,
            layout,
            frames_left: layout.declared_frames,
            frames_read: 0,
            bytes: Vec::new(),
        }))
    }

    pub fn layout(&self) -> &WavLayout {
        &self.layout
    }

    /// Fills `out` (one slice per channel, all the same length) with the next frames and
    /// returns how many: all of them unless the file ends first.
    pub fn read(&mut self, out: &mut [&mut [f32]]) -> Result<usize, DecodeError> {
        let wanted = out.first().map_or(0, |c| c.len());
        let block_align = self.layout.block_align();
        let mut done = 0;
        while done < wanted && self.frames_left > 0 {
            let frames = (wanted - done)
                .min((READ_BLOCK_BYTES / block_align).max(1))
                .min(usize::try_from(self.frames_left).unwrap_or(usize::MAX));
            self.bytes.resize(frames * block_align, 0);
            if let Err(source) = self.file.read_exact(&mut self.bytes) {
                return Err(self.read_failure(source));
            }
            let mut planes: Vec<&mut [f32]> = out
                .iter_mut()
                .map(|c| &mut c[done..done + frames])
                .collect();
            deinterleave(self.layout.encoding, &self.bytes, &mut planes);
            done += frames;
            self.frames_left -= frames as u64;
            self.frames_read += frames as u64;
        }
        Ok(done)
    }

    /// A read that failed although the header's frames were all there when the file was
    /// opened: it was cut short meanwhile, or the disk failed.
    fn read_failure(&self, source: io::Error) -> DecodeError {
        if source.kind() == io::ErrorKind::UnexpectedEof {
            DecodeError::Corrupt {
                path: self.path.clone(),
                at_seconds: self.frames_read as f64 / f64::from(self.layout.sample_rate_hz),
                reason: "the file was cut short while it was being read".to_string(),
            }
        } else {
            DecodeError::Unreadable {
                path: self.path.clone(),
                source,
            }
        }
    }
}

/// Interleaved little-endian samples in `bytes` into the planes of `out`.
///
/// Integers go through `dasp_sample`'s conversions (`s / 2^(bits-1)`, one rounding to
/// `f32`): bit for bit what symphonia gives, and as fast as a hand-written scale.
fn deinterleave(encoding: PcmEncoding, bytes: &[u8], out: &mut [&mut [f32]]) {
    let width = encoding.bytes();
    let block_align = width * out.len();
    for (c, plane) in out.iter_mut().enumerate() {
        let frames = bytes.chunks_exact(block_align).map(|f| &f[c * width..]);
        match encoding {
            PcmEncoding::Int16 => {
                for (o, f) in plane.iter_mut().zip(frames) {
                    *o = i16::from_le_bytes([f[0], f[1]]).to_sample::<f32>();
                }
            }
            PcmEncoding::Int24 => {
                for (o, f) in plane.iter_mut().zip(frames) {
                    // The three bytes in the top of an i32, shifted back down with sign.
                    let s = I24::new_unchecked(i32::from_le_bytes([0, f[0], f[1], f[2]]) >> 8);
                    *o = s.to_sample::<f32>();
                }
            }
            PcmEncoding::Int32 => {
                for (o, f) in plane.iter_mut().zip(frames) {
                    // `s as f32 / 2^31`: rounded once to f32, as the general decoder does.
                    *o = i32::from_le_bytes([f[0], f[1], f[2], f[3]]).to_sample::<f32>();
                }
            }
            PcmEncoding::Float32 => {
                for (o, f) in plane.iter_mut().zip(frames) {
                    *o = f32::from_le_bytes([f[0], f[1], f[2], f[3]]);
                }
            }
        }
    }
}

const WAVE_FORMAT_PCM: u16 = 0x0001;
const WAVE_FORMAT_IEEE_FLOAT: u16 = 0x0003;
const WAVE_FORMAT_EXTENSIBLE: u16 = 0xfffe;
/// KSDATAFORMAT_SUBTYPE_PCM and _IEEE_FLOAT share all but their first byte.
const SUBTYPE_TAIL: [u8; 14] = [
    0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71,
];
/// Channels symphonia maps without a speaker mask.
const MAX_PLAIN_CHANNELS: u16 = 26;

/// The layout of a plain PCM WAV file, or None for anything else. Walks the chunks the
/// way symphonia does (RIFF length checks, pad bytes after odd-sized chunks) so that
/// whatever it accepts here, symphonia would have accepted too.
fn parse_header<R: Read + Seek>(file: &mut R) -> io::Result<Option<WavLayout>> {
    let mut head = [0u8; 12];
    if !read_fully(file, &mut head)? || &head[0..4] != b"RIFF" || &head[8..12] != b"WAVE" {
        return Ok(None);
    }
    let riff_len = u32::from_le_bytes([head[4], head[5], head[6], head[7]]);
    let mut consumed: u32 = 0;
    let mut position: u64 = 12;
    let mut format: Option<(PcmEncoding, usize, u32)> = None;
    let mut data: Option<(u64, u32)> = None;
    loop {
        if consumed & 1 == 1 {
            consumed = consumed.saturating_add(1);
            position += 1;
        }
        if consumed.saturating_add(8) > riff_len {
            break;
        }
        let mut chunk = [0u8; 8];
        file.seek(SeekFrom::Start(position))?;
        if !read_fully(file, &mut chunk)? {
            break;
        }
        let len = u32::from_le_bytes([chunk[4], chunk[5], chunk[6], chunk[7]]);
        consumed += 8;
        if riff_len - consumed < len {
            // Symphonia refuses this, except for streams of unknown length; both are left
            // to it.
            return Ok(None);
        }
        consumed = consumed.saturating_add(len);
        let body = position + 8;
        position = body + u64::from(len);
        match &chunk[0..4] {
            b"fmt " => {
                let mut fmt = [0u8; 40];
                let n = (len as usize).min(fmt.len());
                file.seek(SeekFrom::Start(body))?;
                if !read_fully(file, &mut fmt[..n])? {
                    return Ok(None);
                }
                format = parse_fmt(&fmt[..n], len);
                if format.is_none() {
                    return Ok(None);
                }
            }
            b"data" if data.is_none() => data = Some((body, len)),
            _ => {}
        }
        if format.is_some() && data.is_some() {
            break;
        }
    }
    let (Some((encoding, channels, sample_rate_hz)), Some((data_offset, data_len))) =
        (format, data)
    else {
        return Ok(None);
    };
    let block_align = (channels * encoding.bytes()) as u64;
    Ok(Some(WavLayout {
        encoding,
        channels,
        sample_rate_hz,
        data_offset,
        declared_frames: u64::from(data_len) / block_align,
    }))
}

/// Encoding, channels and rate of a `fmt ` chunk of `len` bytes (`fmt` holds its first
/// 40 at most), when it is one of the plain cases.
fn parse_fmt(fmt: &[u8], len: u32) -> Option<(PcmEncoding, usize, u32)> {
    let u16_at = |i: usize| Some(u16::from_le_bytes([*fmt.get(i)?, *fmt.get(i + 1)?]));
    let u32_at = |i: usize| {
        Some(u32::from_le_bytes([
            *fmt.get(i)?,
            *fmt.get(i + 1)?,
            *fmt.get(i + 2)?,
            *fmt.get(i + 3)?,
        ]))
    };
    let tag = u16_at(0)?;
    let channels = u16_at(2)?;
    let sample_rate_hz = u32_at(4)?;
    let block_align = u16_at(12)?;
    let bits = u16_at(14)?;
    let encoding = match tag {
        WAVE_FORMAT_PCM if matches!(len, 16 | 18 | 40) => int_encoding(bits)?,
        // An IEEE float `fmt ` may carry an empty extension, nothing else.
        WAVE_FORMAT_IEEE_FLOAT if bits == 32 && (len == 16 || len == 40) => PcmEncoding::Float32,
        WAVE_FORMAT_IEEE_FLOAT if bits == 32 && len == 18 && u16_at(16)? == 0 => {
            PcmEncoding::Float32
        }
        WAVE_FORMAT_EXTENSIBLE if len == 40 && u16_at(16)? == 22 => {
            let valid_bits = u16_at(18)?;
            let mask = u32_at(20)?;
            let mask_ok = (mask.count_ones() == u32::from(channels)
                && Channels::from_bits(mask).is_some())
                || (mask == 0 && channels <= MAX_PLAIN_CHANNELS);
            if !mask_ok || valid_bits > bits || fmt.get(26..40)? != SUBTYPE_TAIL {
                return None;
            }
            match u16_at(24)? {
                1 => int_encoding(bits)?,
                3 if bits == 32 && valid_bits == 32 => PcmEncoding::Float32,
                _ => return None,
            }
        }
        _ => return None,
    };
    let plain = tag != WAVE_FORMAT_EXTENSIBLE;
    if channels == 0
        || (plain && channels > MAX_PLAIN_CHANNELS)
        || sample_rate_hz == 0
        || usize::from(block_align) != usize::from(channels) * encoding.bytes()
    {
        return None;
    }
    Some((encoding, usize::from(channels), sample_rate_hz))
}

fn int_encoding(bits: u16) -> Option<PcmEncoding> {
    match bits {
        16 => Some(PcmEncoding::Int16),
        24 => Some(PcmEncoding::Int24),
        32 => Some(PcmEncoding::Int32),
        _ => None,
    }
}

/// Reads all of `buf`; false when the input ends first.
fn read_fully<R: Read>(reader: &mut R, buf: &mut [u8]) -> io::Result<bool> {
    match reader.read_exact(buf) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(false),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio_io::codec_reader::CodecReader;
    use crate::audio_io::reader::AudioReader;

    const GUID_TAIL: [u8; 14] = SUBTYPE_TAIL;

    /// A WAV file's bytes: the given `fmt ` body, `extra` chunks before the data, and
    /// `data`; `fmt_after_data` puts `fmt ` last.
    fn wav(
        fmt: &[u8],
        extra: &[(&[u8; 4], Vec<u8>)],
        data: &[u8],
        fmt_after_data: bool,
    ) -> Vec<u8> {
        fn chunk(out: &mut Vec<u8>, tag: &[u8; 4], body: &[u8]) {
            out.extend_from_slice(tag);
            out.extend_from_slice(&(body.len() as u32).to_le_bytes());
            out.extend_from_slice(body);
            if body.len() % 2 == 1 {
                out.push(0);
            }
        }
        let mut body = b"WAVE".to_vec();
        if !fmt_after_data {
            chunk(&mut body, b"fmt ", fmt);
        }
        for (tag, bytes) in extra {
            chunk(&mut body, tag, bytes);
        }
        chunk(&mut body, b"data", data);
        if fmt_after_data {
            chunk(&mut body, b"fmt ", fmt);
        }
        let mut out = b"RIFF".to_vec();
        out.extend_from_slice(&(body.len() as u32).to_le_bytes());
        out.extend_from_slice(&body);
        out
    }

    /// A `fmt ` body: plain (tag 1 or 3, optionally with an empty extension) or
    /// extensible (`sub` 1 = PCM, 3 = float).
    fn fmt(tag: u16, channels: u16, rate: u32, bits: u16, ext: Option<(u16, u32, u16)>) -> Vec<u8> {
        let block = channels * bits / 8;
        let mut f = Vec::new();
        f.extend_from_slice(&tag.to_le_bytes());
        f.extend_from_slice(&channels.to_le_bytes());
        f.extend_from_slice(&rate.to_le_bytes());
        f.extend_from_slice(&(rate * u32::from(block)).to_le_bytes());
        f.extend_from_slice(&block.to_le_bytes());
        f.extend_from_slice(&bits.to_le_bytes());
        if let Some((valid, mask, sub)) = ext {
            f.extend_from_slice(&22u16.to_le_bytes());
            f.extend_from_slice(&valid.to_le_bytes());
            f.extend_from_slice(&mask.to_le_bytes());
            f.extend_from_slice(&sub.to_le_bytes());
            f.extend_from_slice(&GUID_TAIL);
        }
        f
    }

    /// Deterministic sample bytes covering the full range, extremes included.
    fn data(frames: usize, channels: usize, width: usize, float: bool) -> Vec<u8> {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut out = Vec::new();
        for i in 0..frames * channels {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let bytes = if float {
                let x = ((state >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 3.0;
                x.to_le_bytes().to_vec()
            } else {
                let v = match i % 7 {
                    0 => u64::MAX,
                    1 => 1u64 << (width * 8 - 1),
                    2 => (1u64 << (width * 8 - 1)) - 1,
                    _ => state >> 7,
                };
                v.to_le_bytes()[..width].to_vec()
            };
            out.extend_from_slice(&bytes);
        }
        out
    }

    fn read_all(mut reader: AudioReader, chunk: usize) -> Result<Vec<Vec<f32>>, DecodeError> {
        let mut channels = vec![Vec::new(); reader.channel_count()];
        loop {
            let mut bufs = vec![vec![0.0; chunk]; channels.len()];
            let mut planes: Vec<&mut [f32]> = bufs.iter_mut().map(|b| b.as_mut_slice()).collect();
            let n = reader.read(&mut planes)?;
            for (c, b) in channels.iter_mut().zip(&bufs) {
                c.extend_from_slice(&b[..n]);
            }
            if n < chunk {
                return Ok(channels);
            }
        }
    }

    /// Decodes `bytes` directly (asserting the direct path takes it, when `direct`) and
    /// through symphonia, and asserts the same samples, bit for bit, or the same error.
    fn same_as_symphonia(bytes: &[u8], direct: bool, what: &str) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.wav");
        std::fs::write(&path, bytes).unwrap();
        let fast = match WavReader::probe(&path, File::open(&path).unwrap()) {
            Ok(Probe::Pcm(r)) => Some(read_all(AudioReader::Wav(r), 777)),
            Ok(Probe::Other) => None,
            Err(e) => Some(Err(e)),
        };
        assert_eq!(fast.is_some(), direct, "{what}: direct path taken");
        let Some(fast) = fast else { return };
        let slow = CodecReader::open(&path, File::open(&path).unwrap())
            .and_then(|r| read_all(AudioReader::Codec(r), 1000));
        match (fast, slow) {
            (Ok(a), Ok(b)) => {
                assert_eq!(a.len(), b.len(), "{what}: channels");
                for (x, y) in a.iter().zip(&b) {
                    assert_eq!(x.len(), y.len(), "{what}: frames");
                    assert!(
                        x.iter().zip(y).all(|(p, q)| p.to_bits() == q.to_bits()),
                        "{what}: samples differ"
                    );
                }
            }
            (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string(), "{what}"),
            (a, b) => panic!("{what}: direct {a:?} but symphonia {b:?}"),
        }
    }

    #[test]
    fn every_plain_pcm_case_decodes_as_symphonia_does() {
        for (bits, float) in [(16, false), (24, false), (32, false), (32, true)] {
            let width = usize::from(bits / 8);
            for channels in [1u16, 2, 3, 6] {
                let samples = data(2500, usize::from(channels), width, float);
                let tag = if float { 3 } else { 1 };
                let sub = tag;
                let mask = (1u32 << channels) - 1;
                let cases = [
                    (
                        "plain",
                        fmt(tag, channels, 44_100, bits, None),
                        vec![],
                        false,
                    ),
                    (
                        "extensible",
                        fmt(0xfffe, channels, 48_000, bits, Some((bits, mask, sub))),
                        vec![],
                        false,
                    ),
                    (
                        "extensible without a mask",
                        fmt(0xfffe, channels, 48_000, bits, Some((bits, 0, sub))),
                        vec![],
                        false,
                    ),
                    (
                        "odd chunks before the data",
                        fmt(tag, channels, 96_000, bits, None),
                        vec![
                            (b"LIST", b"INFOISFT\x03\x00\x00\x00ab\x00\x00".to_vec()),
                            (b"junk", vec![7u8; 13]),
                            (b"fact", 2500u32.to_le_bytes().to_vec()),
                        ],
                        false,
                    ),
                ];
                for (name, f, extra, after) in cases {
                    let what = format!(
                        "{bits}-bit{} {channels} ch, {name}",
                        if float { " float" } else { "" }
                    );
                    same_as_symphonia(&wav(&f, &extra, &samples, after), true, &what);
                }
                // An 18-byte `fmt ` with an empty extension.
                let mut f18 = fmt(tag, channels, 44_100, bits, None);
                f18.extend_from_slice(&[0, 0]);
                same_as_symphonia(&wav(&f18, &[], &samples, false), true, "18-byte fmt");
            }
        }
        // 24 valid bits in 32-bit containers decode as the containers say.
        let f = fmt(0xfffe, 2, 48_000, 32, Some((24, 3, 1)));
        same_as_symphonia(
            &wav(&f, &[], &data(300, 2, 4, false), false),
            true,
            "24 in 32",
        );
        // An odd data size: the partial last frame is ignored.
        let mut odd = data(300, 2, 3, false);
        odd.push(1);
        let f = fmt(0xfffe, 2, 48_000, 24, Some((24, 3, 1)));
        same_as_symphonia(
            &wav(&f, &[(b"junk", vec![1; 3])], &odd, false),
            true,
            "odd data",
        );
    }

    #[test]
    fn a_damaged_list_chunk_does_not_hide_the_audio() {
        // Symphonia refuses a LIST chunk it cannot parse; the direct reader skips it like
        // any chunk it does not need.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("list.wav");
        let f = fmt(1, 2, 48_000, 16, None);
        std::fs::write(
            &path,
            wav(&f, &[(b"LIST", vec![1; 3])], &data(10, 2, 2, false), false),
        )
        .unwrap();
        let Ok(Probe::Pcm(reader)) = WavReader::probe(&path, File::open(&path).unwrap()) else {
            panic!("read directly");
        };
        assert_eq!(read_all(AudioReader::Wav(reader), 4).unwrap()[0].len(), 10);
    }

    #[test]
    fn cut_off_files_fail_with_the_same_message() {
        for (bits, channels) in [(16u16, 1u16), (24, 2), (32, 6)] {
            let f = fmt(1, channels, 48_000, bits, None);
            let full = wav(
                &f,
                &[],
                &data(5000, usize::from(channels), usize::from(bits / 8), false),
                false,
            );
            for cut in [full.len() / 2, full.len() - 1, 45, 44] {
                same_as_symphonia(&full[..cut], true, &format!("{bits}-bit cut at {cut}"));
            }
        }
    }

    #[test]
    fn empty_data_fails_as_symphonia_does() {
        let f = fmt(1, 2, 48_000, 16, None);
        same_as_symphonia(&wav(&f, &[], &[], false), true, "no frames");
    }

    #[test]
    fn other_variants_are_left_to_symphonia() {
        let samples = data(100, 2, 1, false);
        // 8-bit, 64-bit float, a-law, fmt after data, a 20-byte fmt, ambiguous masks.
        let cases: Vec<(&str, Vec<u8>)> = vec![
            (
                "8-bit",
                wav(&fmt(1, 2, 8000, 8, None), &[], &samples, false),
            ),
            (
                "64-bit float",
                wav(&fmt(3, 1, 8000, 64, None), &[], &samples, false),
            ),
            (
                "a-law",
                wav(&fmt(6, 2, 8000, 8, None), &[], &samples, false),
            ),
            (
                "mask of the wrong size",
                wav(
                    &fmt(0xfffe, 2, 8000, 16, Some((16, 7, 1))),
                    &[],
                    &samples,
                    false,
                ),
            ),
            (
                "valid bits over the container",
                wav(
                    &fmt(0xfffe, 2, 8000, 16, Some((24, 3, 1))),
                    &[],
                    &samples,
                    false,
                ),
            ),
            (
                "no channels",
                wav(&fmt(1, 0, 8000, 16, None), &[], &samples, false),
            ),
            ("rate 0", wav(&fmt(1, 2, 0, 16, None), &[], &samples, false)),
        ];
        for (what, bytes) in cases {
            same_as_symphonia(&bytes, false, what);
        }
        let mut f20 = fmt(1, 2, 8000, 16, None);
        f20.extend_from_slice(&[0, 0, 0, 0]);
        same_as_symphonia(&wav(&f20, &[], &samples, false), false, "20-byte fmt");
        // The RIFF length shorter than the data chunk says.
        let mut short_riff = wav(&fmt(1, 2, 8000, 16, None), &[], &samples, false);
        short_riff[4..8].copy_from_slice(&40u32.to_le_bytes());
        same_as_symphonia(&short_riff, false, "RIFF length too short");
    }

    #[test]
    fn fmt_after_the_data_is_read_directly() {
        // Symphonia needs `fmt ` first; the direct reader takes any order.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("late.wav");
        let samples = data(1000, 2, 2, false);
        std::fs::write(
            &path,
            wav(&fmt(1, 2, 48_000, 16, None), &[], &samples, true),
        )
        .unwrap();
        let Ok(Probe::Pcm(reader)) = WavReader::probe(&path, File::open(&path).unwrap()) else {
            panic!("read directly");
        };
        let audio = read_all(AudioReader::Wav(reader), 300).unwrap();
        assert_eq!(audio[1].len(), 1000);
        let first = i16::from_le_bytes([samples[2], samples[3]]);
        assert_eq!(audio[1][0], f32::from(first) / 32_768.0);
    }
}
