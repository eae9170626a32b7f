//! An output file written chunk by chunk: samples reduced to the file's format (TPDF
//! dither for integers), put in a WAV or FLAC container, in a temporary file that replaces
//! the target only when [`AudioWriter::finish`] succeeds.
//!
//! Memory stays the size of one chunk whatever the length of the file, and the samples
//! of each chunk as written stay readable ([`AudioWriter::written`]) so a render can
//! measure its output without reading the file back.

use std::path::{Path, PathBuf};

use lathe_codecs::CodecSpec;

use super::Audio;
use super::dither::{Quantizer, exact_pcm};
use super::encode_error::EncodeError;
use super::flac::{FLAC_MAX_CHANNELS, FlacError, FlacWriter, Quantisation};
use super::lossy_output::{self, LossyWriter};
use super::sample_format::SampleFormat;
use super::wav_writer::{WavLayout, WavWriteError, WavWriter};
use crate::atomic_file::AtomicFile;

/// Frames converted per step when a whole [`Audio`] is written.
const WRITE_CHUNK_FRAMES: usize = 1 << 16;

/// An output file being written.
#[derive(Debug)]
pub struct AudioWriter {
    path: PathBuf,
    file: AtomicFile,
    container: ContainerWriter,
    samples: Samples,
}

#[derive(Debug)]
enum ContainerWriter {
    Wav(WavWriter),
    Flac(Box<FlacWriter>),
    Lossy(Box<LossyWriter>),
}

/// How `f32` samples become the file's samples.
#[derive(Debug)]
enum Samples {
    /// 32-bit float, written as given.
    Float,
    /// Integers of `bits` bits: dithered by `quantizers` (one per channel), or converted
    /// exactly when there are none. `planes` holds the last chunk's integers.
    Int {
        bits: u32,
        quantizers: Option<Vec<Quantizer>>,
        planes: Vec<Vec<i32>>,
        frames: usize,
    },
}

/// The samples of the last chunk written, as a reader of the file decodes them.
#[derive(Debug)]
pub enum Written<'a> {
    /// Exactly the `f32` samples given (32-bit float files).
    AsGiven,
    /// Integers of `bits` bits, one plane per channel, `frames` long (the planes may be
    /// longer): each decodes to `s / 2^(bits-1)`.
    Int {
        bits: u32,
        planes: &'a [Vec<i32>],
        frames: usize,
    },
}

impl Written<'_> {
    /// Writes the decoded values into `out` (one plane per channel, at least `frames`
    /// long). Does nothing for [`Written::AsGiven`].
    pub fn decode_into(&self, out: &mut [Vec<f32>]) {
        if let Written::Int {
            bits,
            planes,
            frames,
        } = self
        {
            // Exact: |s| < 2^24 and the scale is a power of two.
            let scale = 1.0 / (1u64 << (bits - 1)) as f32;
            for (o, p) in out.iter_mut().zip(planes.iter()) {
                for (o, &s) in o[..*frames].iter_mut().zip(&p[..*frames]) {
                    *o = s as f32 * scale;
                }
            }
        }
    }
}

impl AudioWriter {
    /// An output at `path` in `format`: FLAC where the path ends in `.flac`, Opus, MP3 or
    /// AAC at the delivery bitrate for `.opus`, `.mp3` and `.m4a` (`format` unused: the encoder takes
    /// the samples as they are), WAV otherwise; integer formats get the same TPDF dither
    /// either way.
    pub fn create(
        path: &Path,
        format: SampleFormat,
        channels: usize,
        sample_rate_hz: u32,
    ) -> Result<Self, EncodeError> {
        let lossy = |codec| {
            let spec = lossy_output::default_spec(codec);
            Self::create_lossy(path, spec, channels, sample_rate_hz)
        };
        match super::Container::of(path) {
            super::Container::Opus => lossy(lathe_codecs::Codec::Opus),
            super::Container::Mp3 => lossy(lathe_codecs::Codec::Mp3),
            super::Container::M4a => lossy(lathe_codecs::Codec::Aac),
            super::Container::Wav => Self::create_wav(path, format, channels, sample_rate_hz),
            super::Container::Flac => Self::create_flac(
                path,
                channels,
                sample_rate_hz,
                u32::from(format.bits()),
                Quantisation::Dither,
                &[],
            ),
        }
    }

    /// A WAV output in `format` (integers TPDF-dithered), as a render writes it.
    pub fn create_wav(
        path: &Path,
        format: SampleFormat,
        channels: usize,
        sample_rate_hz: u32,
    ) -> Result<Self, EncodeError> {
        Self::create_wav_with(
            path,
            format,
            channels,
            sample_rate_hz,
            Quantisation::Dither,
            WavLayout::default(),
        )
    }

    /// A WAV output in `format` with integers made by `quantisation` and the header
    /// style and extra chunks of `layout` (a delivered master's `bext` and `LIST`).
    pub fn create_wav_with(
        path: &Path,
        format: SampleFormat,
        channels: usize,
        sample_rate_hz: u32,
        quantisation: Quantisation,
        layout: WavLayout,
    ) -> Result<Self, EncodeError> {
        let channel_count = wav_channels(path, channels)?;
        if sample_rate_hz == 0 {
            return Err(unsupported(path, "sample rate 0 Hz".to_string()));
        }
        let mut file = AtomicFile::create(path).map_err(|e| io_error(path, e))?;
        let wav =
            WavWriter::start_with(file.writer(), format, channel_count, sample_rate_hz, layout)
                .map_err(|e| io_error(path, e))?;
        let samples = match format {
            SampleFormat::Float32 => Samples::Float,
            _ => Samples::int(u32::from(format.bits()), channels, quantisation),
        };
        Ok(Self {
            path: path.to_path_buf(),
            file,
            container: ContainerWriter::Wav(wav),
            samples,
        })
    }

    /// A FLAC output of `bits` bits (16 or 24) with the Vorbis comments `comments`.
    pub fn create_flac(
        path: &Path,
        channels: usize,
        sample_rate_hz: u32,
        bits: u32,
        quantisation: Quantisation,
        comments: &[(String, String)],
    ) -> Result<Self, EncodeError> {
        if bits != 16 && bits != 24 {
            return Err(unsupported(
                path,
                format!(
                    "FLAC output is 16 or 24-bit integer, not {bits}-bit (use --bits 16 or 24)"
                ),
            ));
        }
        if !(1..=FLAC_MAX_CHANNELS).contains(&channels) {
            return Err(unsupported(
                path,
                format!("a FLAC file holds 1..={FLAC_MAX_CHANNELS} channels, found {channels}"),
            ));
        }
        let mut file = AtomicFile::create(path).map_err(|e| io_error(path, e))?;
        let flac = FlacWriter::start(file.writer(), sample_rate_hz, channels, bits, comments)
            .map_err(|e| flac_error(path, e))?;
        Ok(Self {
            path: path.to_path_buf(),
            file,
            container: ContainerWriter::Flac(Box::new(flac)),
            samples: Samples::int(bits, channels, quantisation),
        })
    }

    /// A lossy output encoded with `spec` (Ogg Opus or MP3), tagged with the loudness of
    /// what was written. The samples go to the encoder as they are (no dither); the
    /// rate must be one the codec takes as it is and there must be 1 or 2 channels.
    pub fn create_lossy(
        path: &Path,
        spec: CodecSpec,
        channels: usize,
        sample_rate_hz: u32,
    ) -> Result<Self, EncodeError> {
        if !lossy_output::takes_rate(spec.codec, sample_rate_hz) {
            return Err(unsupported(
                path,
                format!(
                    "{} is written at {} Hz, not {sample_rate_hz} Hz",
                    spec.codec,
                    lossy_output::allowed_rates(spec.codec)
                ),
            ));
        }
        if !(1..=2).contains(&channels) {
            return Err(unsupported(
                path,
                format!("{} holds 1 or 2 channels, found {channels}", spec.codec),
            ));
        }
        let lossy = LossyWriter::new(spec, sample_rate_hz, channels)
            .map_err(|e| unsupported(path, e.to_string()))?;
        let file = AtomicFile::create(path).map_err(|e| io_error(path, e))?;
        Ok(Self {
            path: path.to_path_buf(),
            file,
            container: ContainerWriter::Lossy(Box::new(lossy)),
            samples: Samples::Float,
        })
    }

    /// Appends one chunk: one slice per channel, all the same length.
    pub fn write(&mut self, chunk: &[&[f32]]) -> Result<(), EncodeError> {
        let path = &self.path;
        let out = self.file.writer();
        match (&mut self.samples, &mut self.container) {
            (Samples::Float, ContainerWriter::Wav(wav)) => {
                wav.write_float(out, chunk).map_err(|e| wav_error(path, e))
            }
            (Samples::Float, ContainerWriter::Flac(_)) => Err(unsupported(
                path,
                "FLAC holds integer samples, not floats".to_string(),
            )),
            (Samples::Float, ContainerWriter::Lossy(lossy)) => lossy
                .write(chunk)
                .map_err(|e| unsupported(path, e.to_string())),
            (
                Samples::Int {
                    bits,
                    quantizers,
                    planes,
                    frames,
                },
                container,
            ) => {
                *frames = chunk.first().map_or(0, |c| c.len());
                for (c, input) in chunk.iter().enumerate() {
                    let plane = &mut planes[c];
                    if plane.len() < *frames {
                        plane.resize(*frames, 0);
                    }
                    let plane = &mut plane[..*frames];
                    match quantizers.as_mut() {
                        Some(q) => q[c].quantize_into(input, plane),
                        None => {
                            for (o, &x) in plane.iter_mut().zip(input.iter()) {
                                *o = exact_pcm(x, *bits);
                            }
                        }
                    }
                }
                match container {
                    ContainerWriter::Wav(wav) => wav
                        .write_int(out, planes, *frames)
                        .map_err(|e| wav_error(path, e)),
                    ContainerWriter::Flac(flac) => flac
                        .write(out, planes, *frames)
                        .map_err(|e| flac_error(path, e)),
                    ContainerWriter::Lossy(_) => Err(unsupported(
                        path,
                        "a lossy file is encoded from float samples".to_string(),
                    )),
                }
            }
        }
    }

    /// Writes all of `audio`, a chunk at a time.
    pub fn write_audio(&mut self, audio: &Audio) -> Result<(), EncodeError> {
        let frames = audio.frames();
        if audio.channels.iter().any(|c| c.len() != frames) {
            return Err(unsupported(
                &self.path,
                "channels differ in length".to_string(),
            ));
        }
        let mut start = 0;
        while start < frames {
            let end = (start + WRITE_CHUNK_FRAMES).min(frames);
            let chunk: Vec<&[f32]> = audio.channels.iter().map(|c| &c[start..end]).collect();
            self.write(&chunk)?;
            start = end;
        }
        Ok(())
    }

    /// The samples of the last [`AudioWriter::write`] as the file holds them.
    pub fn written(&self) -> Written<'_> {
        match &self.samples {
            Samples::Float => Written::AsGiven,
            Samples::Int {
                bits,
                planes,
                frames,
                ..
            } => Written::Int {
                bits: *bits,
                planes,
                frames: *frames,
            },
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Completes the headers and puts the file in place of the target.
    pub fn finish(mut self) -> Result<(), EncodeError> {
        let path = self.path.clone();
        let out = self.file.writer();
        match self.container {
            ContainerWriter::Wav(wav) => wav.finish(out).map_err(|e| io_error(&path, e))?,
            ContainerWriter::Flac(flac) => flac.finish(out).map_err(|e| flac_error(&path, e))?,
            ContainerWriter::Lossy(lossy) => {
                let bytes = lossy
                    .finish(&[])
                    .map_err(|e| unsupported(&path, e.to_string()))?;
                std::io::Write::write_all(out, &bytes).map_err(|e| io_error(&path, e))?;
            }
        }
        self.file.commit().map_err(|e| io_error(&path, e))
    }
}

impl Samples {
    fn int(bits: u32, channels: usize, quantisation: Quantisation) -> Self {
        Samples::Int {
            bits,
            quantizers: (quantisation == Quantisation::Dither)
                .then(|| (0..channels).map(|c| Quantizer::new(bits, c)).collect()),
            planes: vec![Vec::new(); channels],
            frames: 0,
        }
    }
}

/// The channel count of a WAV file, if it can hold `channels`.
pub(super) fn wav_channels(path: &Path, channels: usize) -> Result<u16, EncodeError> {
    u16::try_from(channels)
        .ok()
        .filter(|&c| c > 0)
        .ok_or_else(|| {
            unsupported(
                path,
                format!("a WAV file holds 1..=65535 channels, found {channels}"),
            )
        })
}

fn unsupported(path: &Path, reason: String) -> EncodeError {
    EncodeError::Unsupported {
        path: path.to_path_buf(),
        reason,
    }
}

fn io_error(path: &Path, source: std::io::Error) -> EncodeError {
    EncodeError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn wav_error(path: &Path, e: WavWriteError) -> EncodeError {
    match e {
        WavWriteError::Io(source) => io_error(path, source),
        other => unsupported(path, other.to_string()),
    }
}

fn flac_error(path: &Path, e: FlacError) -> EncodeError {
    match e {
        FlacError::Io(source) => io_error(path, source),
        FlacError::Encoder(reason) => unsupported(path, reason),
    }
}
