//! Writing FLAC files as a stream: 16/24-bit integer samples, with a Vorbis comment
//! block for tags.
//!
//! Frames are encoded by the pure-Rust `flacenc` crate (fixed block size of
//! [`FLAC_BLOCK_FRAMES`], LPC subframes, MD5 of the samples in STREAMINFO) one block at a
//! time, and each frame goes to the file as soon as it is encoded. STREAMINFO (frame
//! sizes, total length, MD5) is only known at the end, so the metadata blocks are written
//! first with placeholder values and rewritten in place at the end; their size never
//! changes. Samples are reduced to integers by [`super::output::AudioWriter`] exactly as
//! for WAV, so a FLAC output decodes to the same samples as the WAV output of the same
//! render: [`Quantisation::Dither`] is the TPDF dither of `lathe render`'s WAV path,
//! [`Quantisation::Exact`] the exact conversion of the already dithered samples of
//! `lathe album`.

use std::io::{self, Seek, SeekFrom, Write};

use flacenc::bitsink::ByteSink;
use flacenc::component::{BitRepr, MetadataBlockData, Stream, StreamInfo};
use flacenc::encode_fixed_size_frame;
use flacenc::error::Verify;
use flacenc::source::{Context, Fill, FrameBuf};

/// Frames per FLAC frame (the reference encoder's default at 44.1/48 kHz).
pub const FLAC_BLOCK_FRAMES: usize = 4096;
/// Most channels a FLAC stream holds.
pub const FLAC_MAX_CHANNELS: usize = 8;
/// The vendor string of the Vorbis comment block.
pub const FLAC_VENDOR: &str = "lathe";
/// Metadata block type of a Vorbis comment (FLAC format, METADATA_BLOCK_HEADER).
const VORBIS_COMMENT_BLOCK: u8 = 4;

/// How `f32` samples become integers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quantisation {
    /// TPDF dither seeded per channel ([`super::Quantizer`]), as `write_wav` does.
    Dither,
    /// Samples already on the integer grid (dithered upstream) are converted exactly.
    Exact,
}

/// Why a FLAC stream could not be written.
#[derive(Debug, thiserror::Error)]
pub enum FlacError {
    #[error(transparent)]
    Io(#[from] io::Error),
    /// The encoder refused its input or configuration.
    #[error("{0}")]
    Encoder(String),
}

fn fault(what: &str, e: &dyn std::fmt::Display) -> FlacError {
    FlacError::Encoder(format!("FLAC {what}: {e}"))
}

/// A FLAC stream being written: integer samples in, encoded frames out.
///
/// Each block is encoded twice, with prediction (fixed and LPC subframes, stereo
/// decorrelation) and verbatim, and the smaller frame is kept: `flacenc` limits Rice
/// parameters to 14 without an escape code, so on loud noise at 24 bits its predicted
/// frames can come out several times larger than the samples.
pub struct FlacWriter {
    predicted: flacenc::error::Verified<flacenc::config::Encoder>,
    verbatim: flacenc::error::Verified<flacenc::config::Encoder>,
    info: StreamInfo,
    comment: Vec<u8>,
    frame: FrameBuf,
    context: Context,
    channels: usize,
    bytes_per_sample: usize,
    /// The block being filled: interleaved little-endian samples.
    block: Vec<u8>,
    block_frames: usize,
    total_frames: usize,
    sink: ByteSink,
}

impl std::fmt::Debug for FlacWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FlacWriter")
            .field("info", &self.info)
            .field("total_frames", &self.total_frames)
            .finish_non_exhaustive()
    }
}

impl FlacWriter {
    /// Checks the stream's shape and writes its metadata blocks (placeholders) to `out`.
    pub fn start<W: Write>(
        out: &mut W,
        sample_rate_hz: u32,
        channels: usize,
        bits: u32,
        comments: &[(String, String)],
    ) -> Result<Self, FlacError> {
        let predicted = verified(flacenc::config::Encoder::default())?;
        let mut plain = flacenc::config::Encoder::default();
        plain.stereo_coding.use_leftside = false;
        plain.stereo_coding.use_rightside = false;
        plain.stereo_coding.use_midside = false;
        plain.subframe_coding.use_fixed = false;
        plain.subframe_coding.use_lpc = false;
        let verbatim = verified(plain)?;
        let info = StreamInfo::new(sample_rate_hz as usize, channels, bits as usize)
            .map_err(|e| fault("stream", &e))?;
        let writer = Self {
            predicted,
            verbatim,
            info,
            comment: vorbis_comment(comments),
            frame: FrameBuf::with_size(channels, FLAC_BLOCK_FRAMES)
                .map_err(|e| fault("block", &e))?,
            context: Context::new(bits as usize, channels),
            channels,
            bytes_per_sample: bits as usize / 8,
            block: Vec::with_capacity(FLAC_BLOCK_FRAMES * channels * 4),
            block_frames: 0,
            total_frames: 0,
            sink: ByteSink::new(),
        };
        out.write_all(&writer.metadata()?)?;
        Ok(writer)
    }

    /// Appends `frames` frames of integer samples (one plane per channel, each within the
    /// stream's bit depth), encoding every block that fills.
    pub fn write<W: Write>(
        &mut self,
        out: &mut W,
        planes: &[Vec<i32>],
        frames: usize,
    ) -> Result<(), FlacError> {
        let mut done = 0;
        while done < frames {
            let n = (frames - done).min(FLAC_BLOCK_FRAMES - self.block_frames);
            self.append(planes, done..done + n);
            done += n;
            if self.block_frames == FLAC_BLOCK_FRAMES {
                self.encode_block(out)?;
            }
        }
        Ok(())
    }

    /// Interleaves frames `range` of `planes` onto the block as little-endian bytes.
    fn append(&mut self, planes: &[Vec<i32>], range: std::ops::Range<usize>) {
        let width = self.bytes_per_sample;
        let block_align = width * self.channels;
        let start = self.block.len();
        self.block.resize(start + range.len() * block_align, 0);
        let bytes = &mut self.block[start..];
        for (c, plane) in planes.iter().enumerate() {
            let slots = bytes
                .chunks_exact_mut(block_align)
                .map(|f| &mut f[c * width..]);
            for (slot, &s) in slots.zip(&plane[range.clone()]) {
                slot[..width].copy_from_slice(&s.to_le_bytes()[..width]);
            }
        }
        self.block_frames += range.len();
    }

    fn encode_block<W: Write>(&mut self, out: &mut W) -> Result<(), FlacError> {
        self.frame
            .fill_le_bytes(&self.block, self.bytes_per_sample)
            .map_err(|e| fault("samples", &e))?;
        self.context
            .fill_le_bytes(&self.block, self.bytes_per_sample)
            .map_err(|e| fault("samples", &e))?;
        let number = self
            .context
            .current_frame_number()
            .ok_or_else(|| FlacError::Encoder("FLAC frame number".to_string()))?;
        let p = encode_fixed_size_frame(&self.predicted, &self.frame, number, &self.info)
            .map_err(|e| fault("encoding", &e))?;
        let v = encode_fixed_size_frame(&self.verbatim, &self.frame, number, &self.info)
            .map_err(|e| fault("encoding", &e))?;
        let frame = if v.count_bits() < p.count_bits() {
            v
        } else {
            p
        };
        self.info.update_frame_info(&frame);
        self.sink.clear();
        frame
            .write(&mut self.sink)
            .map_err(|e| FlacError::Encoder(format!("FLAC writing failed: {e:?}")))?;
        out.write_all(self.sink.as_slice())?;
        self.total_frames += self.block_frames;
        self.block.clear();
        self.block_frames = 0;
        Ok(())
    }

    /// Encodes the last, shorter block and rewrites the metadata blocks at the start of
    /// `out` with the final STREAMINFO.
    pub fn finish<W: Write + Seek>(mut self, out: &mut W) -> Result<(), FlacError> {
        if self.block_frames > 0 {
            self.encode_block(out)?;
        }
        self.info.set_md5_digest(&self.context.md5_digest());
        self.info.set_total_samples(self.total_frames);
        // A fixed-blocksize stream: STREAMINFO's minimum excludes the shorter last block
        // (counting it makes decoders read the stream as variable-size).
        self.info
            .set_block_sizes(FLAC_BLOCK_FRAMES, FLAC_BLOCK_FRAMES)
            .map_err(|e| fault("block size", &e))?;
        let metadata = self.metadata()?;
        out.seek(SeekFrom::Start(0))?;
        out.write_all(&metadata)?;
        out.seek(SeekFrom::End(0))?;
        Ok(())
    }

    /// `fLaC`, STREAMINFO as it stands and the Vorbis comment block: always the same size.
    fn metadata(&self) -> Result<Vec<u8>, FlacError> {
        let mut stream = Stream::with_stream_info(self.info.clone());
        let comment = MetadataBlockData::new_unknown(VORBIS_COMMENT_BLOCK, &self.comment)
            .map_err(|e| fault("metadata", &e))?;
        stream.add_metadata_block(comment);
        let mut sink = ByteSink::new();
        stream
            .write(&mut sink)
            .map_err(|e| FlacError::Encoder(format!("FLAC writing failed: {e:?}")))?;
        Ok(sink.into_inner())
    }
}

fn verified(
    config: flacenc::config::Encoder,
) -> Result<flacenc::error::Verified<flacenc::config::Encoder>, FlacError> {
    config
        .into_verified()
        .map_err(|(_, e)| FlacError::Encoder(format!("FLAC encoder configuration: {e}")))
}

/// A Vorbis comment block body: little-endian lengths, `NAME=value` in UTF-8.
pub fn vorbis_comment(comments: &[(String, String)]) -> Vec<u8> {
    fn push(out: &mut Vec<u8>, text: &[u8]) {
        out.extend_from_slice(&(text.len() as u32).to_le_bytes());
        out.extend_from_slice(text);
    }
    let mut out = Vec::new();
    push(&mut out, FLAC_VENDOR.as_bytes());
    out.extend_from_slice(&(comments.len() as u32).to_le_bytes());
    for (name, value) in comments {
        push(&mut out, format!("{name}={value}").as_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio_io::{Audio, SampleFormat, read_audio, write_flac, write_wav};

    fn noise(frames: usize, seed: u64, amp: f32) -> Vec<f32> {
        let mut rng = crate::audio_io::SplitMix64::new(seed);
        (0..frames)
            .map(|_| amp * (rng.next_unit() as f32 * 2.0 - 1.0))
            .collect()
    }

    #[test]
    fn dithered_flac_decodes_to_the_samples_of_the_wav_path() {
        let dir = tempfile::tempdir().unwrap();
        // Past one FLAC block, with a short last block; one sample over full scale.
        let mut left = noise(10_000, 1, 0.7);
        left[5] = 1.5;
        let audio = Audio {
            sample_rate_hz: 48_000,
            channels: vec![left, noise(10_000, 2, 0.001)],
        };
        for (format, bits) in [(SampleFormat::Int16, 16), (SampleFormat::Int24, 24)] {
            let wav = dir.path().join(format!("x{bits}.wav"));
            let flac = dir.path().join(format!("x{bits}.flac"));
            write_wav(&wav, &audio, format).unwrap();
            write_flac(&flac, &audio, bits, Quantisation::Dither, &[]).unwrap();
            assert_eq!(read_audio(&flac).unwrap(), read_audio(&wav).unwrap());
        }
    }

    #[test]
    fn loud_noise_is_never_much_larger_than_its_samples() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("noise.flac");
        let frames = 20_000;
        let audio = Audio {
            sample_rate_hz: 48_000,
            channels: vec![noise(frames, 3, 0.9), noise(frames, 4, 0.9)],
        };
        write_flac(&path, &audio, 24, Quantisation::Dither, &[]).unwrap();
        let raw = frames * 2 * 3;
        let size = std::fs::metadata(&path).unwrap().len() as usize;
        // Verbatim frames: the samples plus headers (under 1 %) and the metadata.
        assert!(
            size < raw + raw / 100 + 1024,
            "{size} bytes for {raw} bytes of samples"
        );
        assert_eq!(read_audio(&path).unwrap().frames(), frames);
    }

    #[test]
    fn exact_samples_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.flac");
        let lsb = 1.0 / 8_388_608.0;
        let audio = Audio {
            sample_rate_hz: 44_100,
            channels: vec![vec![0.0, lsb, -1.0, 0.5], vec![-lsb, 1.0 - lsb, 0.25, 0.0]],
        };
        write_flac(&path, &audio, 24, Quantisation::Exact, &[]).unwrap();
        assert_eq!(read_audio(&path).unwrap(), audio);
    }

    #[test]
    fn the_comment_block_follows_streaminfo() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.flac");
        let audio = Audio::silence(48_000, 1, 100);
        let comments = [("TITLE".to_string(), "Été".to_string())];
        write_flac(&path, &audio, 16, Quantisation::Exact, &comments).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(&bytes[..4], b"fLaC");
        // STREAMINFO header: not last, type 0, 34 bytes.
        assert_eq!(&bytes[4..8], &[0x00, 0, 0, 34]);
        let header = &bytes[42..46];
        assert_eq!(header[0], 0x80 | VORBIS_COMMENT_BLOCK, "last block, type 4");
        let body = vorbis_comment(&comments);
        let len = u32::from_be_bytes([0, header[1], header[2], header[3]]) as usize;
        assert_eq!(&bytes[46..46 + len], body.as_slice());
        assert!(body.ends_with("TITLE=Été".as_bytes()));
    }

    #[test]
    fn float_and_too_many_channels_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.flac");
        let err = write_flac(
            &path,
            &Audio::silence(48_000, 2, 10),
            32,
            Quantisation::Dither,
            &[],
        )
        .unwrap_err();
        assert!(err.to_string().contains("16 or 24-bit"), "{err}");
        let err = write_flac(
            &path,
            &Audio::silence(48_000, 9, 10),
            16,
            Quantisation::Dither,
            &[],
        )
        .unwrap_err();
        assert!(err.to_string().contains("1..=8 channels"), "{err}");
        assert!(!path.exists());
    }
}
