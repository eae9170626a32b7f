//! Writing FLAC files: 16/24-bit integer samples, with a Vorbis comment block for tags.
//!
//! Frames are encoded by the pure-Rust `flacenc` crate (fixed block size of
//! [`FLAC_BLOCK_FRAMES`], LPC subframes, MD5 of the samples in STREAMINFO). Samples are
//! reduced to integers exactly as the WAV writers do, so a FLAC output decodes to the
//! same samples as the WAV output of the same render: [`Quantisation::Dither`] is the
//! TPDF dither of `lathe render`'s WAV path, [`Quantisation::Exact`] the exact
//! conversion of the already dithered samples of `lathe album`. The file is written
//! atomically, like every output.

use std::path::Path;

use flacenc::bitsink::ByteSink;
use flacenc::component::{BitRepr, MetadataBlockData, Stream};
use flacenc::encode_fixed_size_frame;
use flacenc::error::{SourceError, Verify};
use flacenc::source::{Context, Fill, FrameBuf, Source};

use super::Audio;
use super::dither::{Quantizer, exact_pcm};
use super::encode::EncodeError;
use crate::atomic::write_atomically;

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
    /// TPDF dither seeded per channel ([`Quantizer`]), as `write_wav` does.
    Dither,
    /// Samples already on the integer grid (dithered upstream) are converted exactly.
    Exact,
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
    let unsupported = |reason: String| EncodeError::Unsupported {
        path: path.to_path_buf(),
        reason,
    };
    if bits != 16 && bits != 24 {
        return Err(unsupported(format!(
            "FLAC output is 16 or 24-bit integer, not {bits}-bit (use --bits 16 or 24)"
        )));
    }
    let channels = audio.channel_count();
    if !(1..=FLAC_MAX_CHANNELS).contains(&channels) {
        return Err(unsupported(format!(
            "a FLAC file holds 1..={FLAC_MAX_CHANNELS} channels, found {channels}"
        )));
    }
    let frames = audio.frames();
    if audio.channels.iter().any(|c| c.len() != frames) {
        return Err(unsupported("channels differ in length".to_string()));
    }
    let bytes = encode(audio, bits, quantisation, comments).map_err(unsupported)?;
    write_atomically(path, |w| std::io::Write::write_all(w, &bytes)).map_err(|source| {
        EncodeError::Io {
            path: path.to_path_buf(),
            source,
        }
    })
}

/// The whole FLAC file in memory (compressed, so at most about the size of the audio).
///
/// Each block is encoded twice, with prediction (fixed and LPC subframes, stereo
/// decorrelation) and verbatim, and the smaller frame is kept: `flacenc` limits Rice
/// parameters to 14 without an escape code, so on loud noise at 24 bits its predicted
/// frames can come out several times larger than the samples.
fn encode(
    audio: &Audio,
    bits: u32,
    quantisation: Quantisation,
    comments: &[(String, String)],
) -> Result<Vec<u8>, String> {
    let predicted = verified(flacenc::config::Encoder::default())?;
    let mut plain = flacenc::config::Encoder::default();
    plain.stereo_coding.use_leftside = false;
    plain.stereo_coding.use_rightside = false;
    plain.stereo_coding.use_midside = false;
    plain.subframe_coding.use_fixed = false;
    plain.subframe_coding.use_lpc = false;
    let verbatim = verified(plain)?;
    let fault = |what: &str, e: &dyn std::fmt::Display| format!("FLAC {what}: {e}");
    let channels = audio.channel_count();
    let mut stream = Stream::new(audio.sample_rate_hz as usize, channels, bits as usize)
        .map_err(|e| fault("stream", &e))?;
    let mut source = PlanarSource::new(audio, bits, quantisation);
    let mut block = (
        FrameBuf::with_size(channels, FLAC_BLOCK_FRAMES).map_err(|e| fault("block", &e))?,
        Context::new(bits as usize, channels),
    );
    while source
        .read_samples(FLAC_BLOCK_FRAMES, &mut block)
        .map_err(|e| fault("samples", &e))?
        > 0
    {
        let number = block
            .1
            .current_frame_number()
            .ok_or_else(|| "FLAC frame number".to_string())?;
        let info = stream.stream_info();
        let p = encode_fixed_size_frame(&predicted, &block.0, number, info)
            .map_err(|e| fault("encoding", &e))?;
        let v = encode_fixed_size_frame(&verbatim, &block.0, number, info)
            .map_err(|e| fault("encoding", &e))?;
        stream.add_frame(if v.count_bits() < p.count_bits() {
            v
        } else {
            p
        });
    }
    let info = stream.stream_info_mut();
    info.set_md5_digest(&block.1.md5_digest());
    info.set_total_samples(audio.frames());
    // A fixed-blocksize stream: STREAMINFO's minimum excludes the shorter last block
    // (counting it makes decoders read the stream as variable-size).
    info.set_block_sizes(FLAC_BLOCK_FRAMES, FLAC_BLOCK_FRAMES)
        .map_err(|e| fault("block size", &e))?;
    let metadata = MetadataBlockData::new_unknown(VORBIS_COMMENT_BLOCK, &vorbis_comment(comments))
        .map_err(|e| fault("metadata", &e))?;
    stream.add_metadata_block(metadata);
    let mut sink = ByteSink::new();
    stream
        .write(&mut sink)
        .map_err(|e| format!("FLAC writing failed: {e:?}"))?;
    Ok(sink.into_inner())
}

fn verified(
    config: flacenc::config::Encoder,
) -> Result<flacenc::error::Verified<flacenc::config::Encoder>, String> {
    config
        .into_verified()
        .map_err(|(_, e)| format!("FLAC encoder configuration: {e}"))
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

/// Planar `f32` audio read as interleaved integers, one FLAC block at a time, so no
/// second copy of the track is made.
struct PlanarSource<'a> {
    audio: &'a Audio,
    bits: u32,
    quantizers: Option<Vec<Quantizer>>,
    position: usize,
    block: Vec<i32>,
}

impl<'a> PlanarSource<'a> {
    fn new(audio: &'a Audio, bits: u32, quantisation: Quantisation) -> Self {
        let quantizers = (quantisation == Quantisation::Dither).then(|| {
            (0..audio.channel_count())
                .map(|c| Quantizer::new(bits, c))
                .collect()
        });
        Self {
            audio,
            bits,
            quantizers,
            position: 0,
            block: Vec::new(),
        }
    }
}

impl Source for PlanarSource<'_> {
    fn channels(&self) -> usize {
        self.audio.channel_count()
    }

    fn bits_per_sample(&self) -> usize {
        self.bits as usize
    }

    fn sample_rate(&self) -> usize {
        self.audio.sample_rate_hz as usize
    }

    fn read_samples<F: Fill>(
        &mut self,
        block_size: usize,
        dest: &mut F,
    ) -> Result<usize, SourceError> {
        let end = (self.position + block_size).min(self.audio.frames());
        self.block.clear();
        for i in self.position..end {
            for (c, channel) in self.audio.channels.iter().enumerate() {
                let x = channel[i];
                let v = match self.quantizers.as_mut().and_then(|q| q.get_mut(c)) {
                    Some(q) => q.quantize(x),
                    None => exact_pcm(x, self.bits),
                };
                self.block.push(v);
            }
        }
        dest.fill_interleaved(&self.block)?;
        let read = end - self.position;
        self.position = end;
        Ok(read)
    }

    fn len_hint(&self) -> Option<usize> {
        Some(self.audio.frames())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio_io::{SampleFormat, read_audio, write_wav};

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
