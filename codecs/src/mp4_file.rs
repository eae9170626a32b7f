//! AAC delivery files (`.m4a`): AAC-LC access units from FDK in an ISO base media file
//! (ISO/IEC 14496-12 and -14), laid out as iTunes and every player expect: `ftyp`, then
//! `moov` (the sample tables, and the tags as iTunes `ilst` items), then `mdat`.
//!
//! Gapless: the edit list (`elst`) starts the presentation after the encoder delay and
//! ends it at the last source frame, so a decoder that honours it (ffmpeg, Apple's
//! players) returns exactly the frames that were encoded, aligned with the source.
//!
//! Tags: `DESCRIPTION` goes to `©cmt`; every other field (the ReplayGain 2.0 ones) is a
//! freeform `----` item of the `com.apple.iTunes` namespace, which is where foobar2000,
//! ffmpeg and taggers read ReplayGain in MP4.
//!
//! Access units are kept (compressed) until [`M4aFileWriter::finish`]: `moov` comes
//! first so a player can start before the whole file has arrived, and its tags (the
//! loudness of the whole track) are known only at the end. 256 kbps is 1.9 MB a minute.

use crate::aac::FdkAacEncoder;
use crate::packets::PacketSink;
use crate::{CodecError, CodecSpec, Encoder};

/// Frames in one AAC-LC access unit.
const FRAMES_PER_AU: u32 = 1024;
/// MPEG-4 Audio (ISO/IEC 14496-3) in an `esds` decoder config.
const OBJECT_TYPE_MPEG4_AUDIO: u8 = 0x40;
/// Audio stream (5) with the upstream flag clear and the reserved bit set.
const STREAM_TYPE_AUDIO: u8 = (0x05 << 2) | 1;
/// `ilst` data type: UTF-8 text.
const DATA_UTF8: u32 = 1;
/// Q16.16 1.0 (rates) and the identity matrix of `mvhd` and `tkhd`.
const FIXED_ONE: u32 = 0x0001_0000;
const MATRIX: [u32; 9] = [FIXED_ONE, 0, 0, 0, FIXED_ONE, 0, 0, 0, 0x4000_0000];
/// ISO 639-2 "und" packed into 15 bits, as `mdhd` stores a language.
const LANGUAGE_UND: u16 =
    ((b'u' - 0x60) as u16) << 10 | ((b'n' - 0x60) as u16) << 5 | (b'd' - 0x60) as u16;

/// An AAC `.m4a` file being encoded.
pub struct M4aFileWriter {
    sink: PacketSink<FdkAacEncoder>,
    channels: usize,
    sample_rate_hz: u32,
}

impl M4aFileWriter {
    /// A writer for `channels` (1 or 2) at `sample_rate_hz` (a rate FDK codes; others
    /// are refused naming those).
    pub fn new(spec: CodecSpec, sample_rate_hz: u32, channels: usize) -> Result<Self, CodecError> {
        if !(1..=2).contains(&channels) {
            return Err(CodecError::Channels {
                codec: spec.codec,
                found: channels,
            });
        }
        Ok(Self {
            sink: PacketSink::new(FdkAacEncoder::new(spec, sample_rate_hz, channels)?),
            channels,
            sample_rate_hz,
        })
    }

    /// Encodes the next frames: one slice per channel, all the same length.
    pub fn write(&mut self, planes: &[&[f32]]) -> Result<(), CodecError> {
        self.sink.write(planes)
    }

    /// Flushes the encoder and returns the whole file with `tags` (field, value).
    pub fn finish(mut self, tags: &[(String, String)]) -> Result<Vec<u8>, CodecError> {
        self.sink.finish()?;
        let sink = &self.sink;
        let track = Track {
            sample_rate_hz: self.sample_rate_hz,
            channels: self.channels as u16,
            delay_frames: sink.encoder.delay_frames() as u64,
            frames: sink.frames_in,
            config: sink.encoder.audio_specific_config(),
            sizes: sink.packets.iter().map(|p| p.data.len() as u32).collect(),
        };
        let payload: usize = sink.packets.iter().map(|p| p.data.len()).sum();
        let ftyp = ftyp();
        let mdat_header = mdat_header(payload);
        // `moov` holds the offset of the audio, which comes after `moov`: its size does
        // not depend on the value, so it is built once to be measured and once for real.
        let probe = moov(&track, 0, tags);
        let offset = (ftyp.len() + probe.len() + mdat_header.len()) as u64;
        let moov = moov(&track, offset, tags);
        let mut out = Vec::with_capacity(offset as usize + payload);
        out.extend_from_slice(&ftyp);
        out.extend_from_slice(&moov);
        out.extend_from_slice(&mdat_header);
        for packet in &sink.packets {
            out.extend_from_slice(&packet.data);
        }
        Ok(out)
    }
}

/// What the sample tables describe.
struct Track<'a> {
    sample_rate_hz: u32,
    channels: u16,
    /// Frames the decoder returns before the first source frame.
    delay_frames: u64,
    /// Source frames: the presentation's length.
    frames: u64,
    /// The AudioSpecificConfig.
    config: &'a [u8],
    /// Bytes of each access unit.
    sizes: Vec<u32>,
}

impl Track<'_> {
    /// Frames the access units present: the delay and the source, not the padding FDK
    /// coded after the last source frame (the last unit's duration is cut to end there).
    fn media_frames(&self) -> u64 {
        let coded = self.sizes.len() as u64 * u64::from(FRAMES_PER_AU);
        (self.delay_frames + self.frames)
            .clamp(coded.saturating_sub(u64::from(FRAMES_PER_AU) - 1), coded)
    }

    /// `stts`: every unit 1024 frames long but the last, which ends with the source.
    fn durations(&self) -> Vec<(u32, u32)> {
        let n = self.sizes.len() as u32;
        if n == 0 {
            return Vec::new();
        }
        let last = (self.media_frames() - u64::from(n - 1) * u64::from(FRAMES_PER_AU)) as u32;
        if last == FRAMES_PER_AU {
            vec![(n, FRAMES_PER_AU)]
        } else if n == 1 {
            vec![(1, last)]
        } else {
            vec![(n - 1, FRAMES_PER_AU), (1, last)]
        }
    }

    /// Average and highest bit rate over one-second windows, and the largest access
    /// unit: the `esds` decoder config's figures.
    fn rates(&self) -> (u32, u32, u32) {
        let per_second = self.sample_rate_hz.div_ceil(FRAMES_PER_AU).max(1) as usize;
        let max_bits = self
            .sizes
            .chunks(per_second)
            .map(|w| {
                w.iter().map(|&s| u64::from(s)).sum::<u64>() * 8 * per_second as u64
                    / w.len() as u64
            })
            .max()
            .unwrap_or(0);
        let total_bits: u64 = self.sizes.iter().map(|&s| u64::from(s) * 8).sum();
        let seconds = self.media_frames() as f64 / f64::from(self.sample_rate_hz);
        let average = if seconds > 0.0 {
            (total_bits as f64 / seconds) as u64
        } else {
            0
        };
        let largest = self.sizes.iter().copied().max().unwrap_or(0);
        (clamp32(average), clamp32(max_bits), largest)
    }
}

fn clamp32(v: u64) -> u32 {
    v.min(u64::from(u32::MAX)) as u32
}

/// A box: size, type, body.
fn boxed(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + body.len());
    out.extend_from_slice(&((8 + body.len()) as u32).to_be_bytes());
    out.extend_from_slice(kind);
    out.extend_from_slice(body);
    out
}

/// A full box: a box whose body starts with a version byte and 24 bits of flags.
fn full_box(kind: &[u8; 4], version: u8, flags: u32, body: &[u8]) -> Vec<u8> {
    let mut inner = Vec::with_capacity(4 + body.len());
    inner.push(version);
    inner.extend_from_slice(&flags.to_be_bytes()[1..]);
    inner.extend_from_slice(body);
    boxed(kind, &inner)
}

/// Big-endian fields, appended in order.
#[derive(Default)]
struct Fields(Vec<u8>);

impl Fields {
    fn u8(mut self, v: u8) -> Self {
        self.0.push(v);
        self
    }
    fn u16(mut self, v: u16) -> Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    fn u32(mut self, v: u32) -> Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    fn u64(mut self, v: u64) -> Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    fn bytes(mut self, v: &[u8]) -> Self {
        self.0.extend_from_slice(v);
        self
    }
    fn zeros(mut self, n: usize) -> Self {
        self.0.resize(self.0.len() + n, 0);
        self
    }
    fn matrix(self) -> Self {
        MATRIX.iter().fold(self, |f, &m| f.u32(m))
    }
}

fn ftyp() -> Vec<u8> {
    let body = Fields::default()
        .bytes(b"M4A ")
        .u32(0x200)
        .bytes(b"M4A mp42isom")
        .0;
    boxed(b"ftyp", &body)
}

/// The `mdat` header for `payload` bytes: the 64-bit form when the 32-bit size would
/// not hold it.
fn mdat_header(payload: usize) -> Vec<u8> {
    let small = payload as u64 + 8;
    if small <= u64::from(u32::MAX) {
        Fields::default().u32(small as u32).bytes(b"mdat").0
    } else {
        Fields::default()
            .u32(1)
            .bytes(b"mdat")
            .u64(payload as u64 + 16)
            .0
    }
}

/// A duration as the 32-bit fields of version-0 boxes hold it.
fn duration32(frames: u64) -> u32 {
    clamp32(frames)
}

fn moov(track: &Track, audio_offset: u64, tags: &[(String, String)]) -> Vec<u8> {
    let timescale = track.sample_rate_hz;
    let mvhd = full_box(
        b"mvhd",
        0,
        0,
        &Fields::default()
            .u32(0)
            .u32(0)
            .u32(timescale)
            .u32(duration32(track.frames))
            .u32(FIXED_ONE)
            .u16(0x0100)
            .zeros(10)
            .matrix()
            .zeros(24)
            .u32(2)
            .0,
    );
    let mut body = mvhd;
    body.extend_from_slice(&trak(track, audio_offset));
    body.extend_from_slice(&udta(tags));
    boxed(b"moov", &body)
}

fn trak(track: &Track, audio_offset: u64) -> Vec<u8> {
    // Enabled, in the movie, in the preview.
    let tkhd = full_box(
        b"tkhd",
        0,
        0x7,
        &Fields::default()
            .u32(0)
            .u32(0)
            .u32(1)
            .u32(0)
            .u32(duration32(track.frames))
            .zeros(8)
            .u16(0)
            .u16(0)
            .u16(0x0100)
            .u16(0)
            .matrix()
            .u32(0)
            .u32(0)
            .0,
    );
    let elst = full_box(
        b"elst",
        0,
        0,
        &Fields::default()
            .u32(1)
            .u32(duration32(track.frames))
            .u32(duration32(track.delay_frames))
            .u32(FIXED_ONE)
            .0,
    );
    let mut body = tkhd;
    body.extend_from_slice(&boxed(b"edts", &elst));
    body.extend_from_slice(&mdia(track, audio_offset));
    boxed(b"trak", &body)
}

fn mdia(track: &Track, audio_offset: u64) -> Vec<u8> {
    let mdhd = full_box(
        b"mdhd",
        0,
        0,
        &Fields::default()
            .u32(0)
            .u32(0)
            .u32(track.sample_rate_hz)
            .u32(duration32(track.media_frames()))
            .u16(LANGUAGE_UND)
            .u16(0)
            .0,
    );
    let hdlr = full_box(
        b"hdlr",
        0,
        0,
        &Fields::default()
            .u32(0)
            .bytes(b"soun")
            .zeros(12)
            .bytes(b"SoundHandler\0")
            .0,
    );
    let smhd = full_box(b"smhd", 0, 0, &Fields::default().u16(0).u16(0).0);
    let url = full_box(b"url ", 0, 1, &[]);
    let dref = full_box(b"dref", 0, 0, &Fields::default().u32(1).bytes(&url).0);
    let mut minf = smhd;
    minf.extend_from_slice(&boxed(b"dinf", &dref));
    minf.extend_from_slice(&stbl(track, audio_offset));
    let mut body = mdhd;
    body.extend_from_slice(&hdlr);
    body.extend_from_slice(&boxed(b"minf", &minf));
    boxed(b"mdia", &body)
}

fn stbl(track: &Track, audio_offset: u64) -> Vec<u8> {
    let count = track.sizes.len() as u32;
    let stsd = full_box(
        b"stsd",
        0,
        0,
        &Fields::default().u32(1).bytes(&mp4a(track)).0,
    );
    let durations = track.durations();
    let stts = full_box(
        b"stts",
        0,
        0,
        &(durations.iter())
            .fold(
                Fields::default().u32(durations.len() as u32),
                |f, &(n, d)| f.u32(n).u32(d),
            )
            .0,
    );
    // One chunk holds every access unit: a single track needs no interleaving.
    let stsc = full_box(
        b"stsc",
        0,
        0,
        &Fields::default().u32(1).u32(1).u32(count).u32(1).0,
    );
    let sizes = track
        .sizes
        .iter()
        .fold(Fields::default().u32(0).u32(count), |f, &s| f.u32(s));
    let stsz = full_box(b"stsz", 0, 0, &sizes.0);
    let chunk_offset = match u32::try_from(audio_offset) {
        Ok(small) => full_box(b"stco", 0, 0, &Fields::default().u32(1).u32(small).0),
        Err(_) => full_box(b"co64", 0, 0, &Fields::default().u32(1).u64(audio_offset).0),
    };
    let mut body = stsd;
    for b in [stts, stsc, stsz, chunk_offset] {
        body.extend_from_slice(&b);
    }
    boxed(b"stbl", &body)
}

/// The sample entry: an AudioSampleEntry with its `esds`.
fn mp4a(track: &Track) -> Vec<u8> {
    let body = Fields::default()
        .zeros(6)
        .u16(1) // data reference index
        .zeros(8)
        .u16(track.channels)
        .u16(16)
        .u16(0)
        .u16(0)
        .u32(track.sample_rate_hz << 16)
        .bytes(&esds(track))
        .0;
    boxed(b"mp4a", &body)
}

/// An MPEG-4 descriptor: tag, length in the four-byte form, body.
fn descriptor(tag: u8, body: &[u8]) -> Vec<u8> {
    let n = body.len() as u32;
    let mut out = vec![
        tag,
        0x80 | ((n >> 21) & 0x7F) as u8,
        0x80 | ((n >> 14) & 0x7F) as u8,
        0x80 | ((n >> 7) & 0x7F) as u8,
        (n & 0x7F) as u8,
    ];
    out.extend_from_slice(body);
    out
}

fn esds(track: &Track) -> Vec<u8> {
    let (average, max, largest) = track.rates();
    let decoder_specific = descriptor(0x05, track.config);
    let decoder_config = descriptor(
        0x04,
        &Fields::default()
            .u8(OBJECT_TYPE_MPEG4_AUDIO)
            .u8(STREAM_TYPE_AUDIO)
            .bytes(&largest.min(0xFF_FFFF).to_be_bytes()[1..])
            .u32(max)
            .u32(average)
            .bytes(&decoder_specific)
            .0,
    );
    let sync_layer = descriptor(0x06, &[0x02]);
    let es = descriptor(
        0x03,
        &Fields::default()
            .u16(1) // ES_ID
            .u8(0)
            .bytes(&decoder_config)
            .bytes(&sync_layer)
            .0,
    );
    full_box(b"esds", 0, 0, &es)
}

/// `udta/meta/ilst`: the tags, and the encoder's name.
fn udta(tags: &[(String, String)]) -> Vec<u8> {
    let hdlr = full_box(
        b"hdlr",
        0,
        0,
        &Fields::default()
            .u32(0)
            .bytes(b"mdir")
            .bytes(b"appl")
            .zeros(8)
            .u8(0)
            .0,
    );
    let mut items = item(b"\xA9too", &format!("lathe {}", env!("CARGO_PKG_VERSION")));
    for (field, value) in tags {
        if field.eq_ignore_ascii_case("DESCRIPTION") {
            items.extend_from_slice(&item(b"\xA9cmt", value));
        } else {
            items.extend_from_slice(&freeform(field, value));
        }
    }
    let mut meta = hdlr;
    meta.extend_from_slice(&boxed(b"ilst", &items));
    boxed(b"udta", &full_box(b"meta", 0, 0, &meta))
}

/// A `data` box of UTF-8 text.
fn data(value: &str) -> Vec<u8> {
    boxed(
        b"data",
        &Fields::default()
            .u32(DATA_UTF8)
            .u32(0)
            .bytes(value.as_bytes())
            .0,
    )
}

/// A standard text item such as `©cmt`.
fn item(kind: &[u8; 4], value: &str) -> Vec<u8> {
    boxed(kind, &data(value))
}

/// A freeform `----` item in the `com.apple.iTunes` namespace.
fn freeform(name: &str, value: &str) -> Vec<u8> {
    let mut body = full_box(b"mean", 0, 0, b"com.apple.iTunes");
    body.extend_from_slice(&full_box(b"name", 0, 0, name.as_bytes()));
    body.extend_from_slice(&data(value));
    boxed(b"----", &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The boxes directly inside `bytes`: (type, body).
    fn children(bytes: &[u8]) -> Vec<([u8; 4], &[u8])> {
        let mut out = Vec::new();
        let mut at = 0;
        while at + 8 <= bytes.len() {
            let size = u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
            let kind: [u8; 4] = bytes[at + 4..at + 8].try_into().unwrap();
            assert!(
                size >= 8 && at + size <= bytes.len(),
                "box {kind:?} overruns"
            );
            out.push((kind, &bytes[at + 8..at + size]));
            at += size;
        }
        assert_eq!(at, bytes.len(), "trailing bytes");
        out
    }

    fn child<'a>(bytes: &'a [u8], kind: &[u8; 4]) -> &'a [u8] {
        children(bytes)
            .into_iter()
            .find(|(k, _)| k == kind)
            .unwrap_or_else(|| panic!("no {}", String::from_utf8_lossy(kind)))
            .1
    }

    fn track(sizes: Vec<u32>) -> Track<'static> {
        Track {
            sample_rate_hz: 48_000,
            channels: 2,
            delay_frames: 2048,
            frames: 100_000,
            config: &[0x11, 0x90],
            sizes,
        }
    }

    #[test]
    fn the_box_tree_nests_and_the_edit_list_skips_the_delay() {
        let t = track(vec![700; 100]);
        let tags = [("REPLAYGAIN_TRACK_GAIN".to_string(), "-4.20 dB".to_string())];
        let moov_bytes = moov(&t, 1234, &tags);
        let (kind, moov_body) = children(&moov_bytes)[0];
        assert_eq!(&kind, b"moov");
        let trak = child(moov_body, b"trak");
        let elst = child(child(trak, b"edts"), b"elst");
        // version+flags, count, segment duration, media time, rate
        assert_eq!(&elst[4..8], &1u32.to_be_bytes());
        assert_eq!(&elst[8..12], &100_000u32.to_be_bytes());
        assert_eq!(&elst[12..16], &2048u32.to_be_bytes());
        let stbl = child(child(child(trak, b"mdia"), b"minf"), b"stbl");
        let stco = child(stbl, b"stco");
        assert_eq!(&stco[8..12], &1234u32.to_be_bytes());
        let stsz = child(stbl, b"stsz");
        assert_eq!(stsz.len(), 12 + 4 * 100);
        let ilst = child(
            child(child(moov_body, b"udta"), b"meta")[4..].as_ref(),
            b"ilst",
        );
        let free = child(ilst, b"----");
        assert_eq!(&child(free, b"name")[4..], b"REPLAYGAIN_TRACK_GAIN");
        assert_eq!(&child(free, b"data")[8..], b"-4.20 dB");
    }

    #[test]
    fn esds_lengths_cover_their_bodies() {
        let t = track(vec![500, 900, 700]);
        let esds = esds(&t);
        let es = &esds[12..];
        assert_eq!(es[0], 0x03);
        let len = es[1..5]
            .iter()
            .fold(0usize, |n, b| (n << 7) | usize::from(b & 0x7F));
        assert_eq!(len, es.len() - 5);
        // the largest access unit is the buffer size
        let config = &es[5 + 3..];
        assert_eq!(config[0], 0x04);
        assert_eq!(&config[7..10], &[0, 3, 0x84]);
    }

    #[test]
    fn the_last_access_unit_ends_with_the_source() {
        // 2048 + 100_000 frames in 100 units of 1024: the last presents 672 of them.
        let t = track(vec![700; 100]);
        assert_eq!(t.durations(), vec![(99, 1024), (1, 672)]);
        assert_eq!(t.media_frames(), 102_048);
        let exact = Track {
            frames: 100 * 1024 - 2048,
            ..track(vec![700; 100])
        };
        assert_eq!(exact.durations(), vec![(100, 1024)]);
    }

    #[test]
    fn a_huge_payload_gets_the_64_bit_mdat_size() {
        assert_eq!(mdat_header(10).len(), 8);
        let big = mdat_header(u32::MAX as usize);
        assert_eq!(big.len(), 16);
        assert_eq!(&big[0..4], &1u32.to_be_bytes());
    }
}
