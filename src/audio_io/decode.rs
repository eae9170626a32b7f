//! Decoding audio files (WAV, FLAC, OGG Vorbis, MP3 and whatever else symphonia knows)
//! into planar `f32`.
//!
//! Integer samples are scaled by 2^(bits-1), so a 16-bit sample `s` becomes exactly
//! `s / 32768`; the WAV writer uses the same scale, so a file round-trips bit-exactly
//! apart from dither.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

use symphonia::core::audio::{AudioBuffer, Signal, SignalSpec};
use symphonia::core::codecs::{CODEC_TYPE_NULL, DecoderOptions};
use symphonia::core::errors::Error as SymphoniaError;
use symphonia::core::formats::FormatOptions;
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;
use symphonia::core::probe::Hint;

use super::Audio;

/// Why a file could not be decoded. Every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("input file `{}` does not exist", path.display())]
    NotFound { path: PathBuf },
    #[error("cannot read input file `{}`: {source}", path.display())]
    Unreadable { path: PathBuf, source: io::Error },
    #[error(
        "`{}` is not an audio file lathe can read (WAV, FLAC, OGG Vorbis, MP3): {reason}",
        path.display()
    )]
    NotAudio { path: PathBuf, reason: String },
    #[error("`{}` has no audio track", path.display())]
    NoAudioTrack { path: PathBuf },
    #[error("`{}` uses a codec lathe cannot decode ({codec})", path.display())]
    UnsupportedCodec { path: PathBuf, codec: String },
    #[error("`{}` has zero audio channels", path.display())]
    ZeroChannels { path: PathBuf },
    #[error("`{}` does not say its sample rate", path.display())]
    NoSampleRate { path: PathBuf },
    #[error("`{}` contains no audio frames", path.display())]
    Empty { path: PathBuf },
    #[error("`{}` is corrupt at {at_seconds:.3} s: {reason}", path.display())]
    Corrupt {
        path: PathBuf,
        at_seconds: f64,
        reason: String,
    },
    #[error(
        "`{}` changes its format at {at_seconds:.3} s ({from} to {to}); lathe needs one \
         sample rate and channel count per file",
        path.display()
    )]
    FormatChange {
        path: PathBuf,
        at_seconds: f64,
        from: String,
        to: String,
    },
}

/// Decodes the first audio track of `path` completely.
pub fn read_audio(path: &Path) -> Result<Audio, DecodeError> {
    let file = File::open(path).map_err(|source| match source.kind() {
        io::ErrorKind::NotFound => DecodeError::NotFound {
            path: path.to_path_buf(),
        },
        _ => DecodeError::Unreadable {
            path: path.to_path_buf(),
            source,
        },
    })?;
    if file.metadata().is_ok_and(|m| m.is_dir()) {
        return Err(DecodeError::Unreadable {
            path: path.to_path_buf(),
            source: io::Error::other("it is a directory"),
        });
    }
    let stream = MediaSourceStream::new(Box::new(file), Default::default());
    let mut hint = Hint::new();
    if let Some(ext) = path.extension().and_then(|e| e.to_str()) {
        hint.with_extension(ext);
    }
    let probed = symphonia::default::get_probe()
        .format(
            &hint,
            stream,
            &FormatOptions::default(),
            &MetadataOptions::default(),
        )
        .map_err(|e| match e {
            SymphoniaError::IoError(source) if source.kind() != io::ErrorKind::UnexpectedEof => {
                DecodeError::Unreadable {
                    path: path.to_path_buf(),
                    source,
                }
            }
            SymphoniaError::IoError(_) => DecodeError::NotAudio {
                path: path.to_path_buf(),
                reason: "it ends before any audio was found".to_string(),
            },
            SymphoniaError::Unsupported(_) => DecodeError::NotAudio {
                path: path.to_path_buf(),
                reason: "its format was not recognised".to_string(),
            },
            other => DecodeError::NotAudio {
                path: path.to_path_buf(),
                reason: other.to_string(),
            },
        })?;
    let mut format = probed.format;
    let track = format
        .tracks()
        .iter()
        .find(|t| t.codec_params.codec != CODEC_TYPE_NULL)
        .ok_or_else(|| DecodeError::NoAudioTrack {
            path: path.to_path_buf(),
        })?;
    let track_id = track.id;
    let params = track.codec_params.clone();
    if params.channels.is_some_and(|c| c.count() == 0) {
        return Err(DecodeError::ZeroChannels {
            path: path.to_path_buf(),
        });
    }
    let mut decoder = symphonia::default::get_codecs()
        .make(&params, &DecoderOptions::default())
        .map_err(|e| DecodeError::UnsupportedCodec {
            path: path.to_path_buf(),
            codec: codec_name(params.codec, &e),
        })?;

    let mut sink = PlanarSink::new(path, params.sample_rate, params.n_frames);
    let timing = exact_timing(params.codec);
    loop {
        let packet = match format.next_packet() {
            Ok(packet) => packet,
            Err(SymphoniaError::IoError(e)) if e.kind() == io::ErrorKind::UnexpectedEof => break,
            Err(e) => return Err(sink.corrupt(e)),
        };
        if packet.track_id() != track_id {
            continue;
        }
        if timing {
            sink.check_position(packet.ts())?;
        }
        match decoder.decode(&packet) {
            Ok(decoded) => {
                let spec = *decoded.spec();
                let frames = decoded.frames();
                let buffer = sink.buffer_for(spec, decoded.capacity())?;
                decoded.convert(buffer);
                sink.append(frames);
            }
            Err(e) => return Err(sink.corrupt(e)),
        }
    }
    if timing {
        sink.check_complete()?;
    }
    sink.finish()
}

/// Whether packet timestamps of `codec` count frames exactly (lossless codecs), so a
/// gap between them or a short total means the demuxer skipped damaged data. Lossy
/// codecs have encoder delay and overlapping blocks, so their timestamps do not.
fn exact_timing(codec: symphonia::core::codecs::CodecType) -> bool {
    symphonia::default::get_codecs()
        .get_codec(codec)
        .is_some_and(|desc| desc.short_name == "flac" || desc.short_name.starts_with("pcm_"))
}

fn codec_name(codec: symphonia::core::codecs::CodecType, error: &SymphoniaError) -> String {
    match symphonia::default::get_codecs().get_codec(codec) {
        Some(desc) => format!("{}: {error}", desc.long_name),
        None => format!("codec id {codec}"),
    }
}

/// Collects decoded packets into planar channels, checking that the format holds still.
struct PlanarSink<'a> {
    path: &'a Path,
    declared_rate: Option<u32>,
    spec: Option<SignalSpec>,
    buffer: Option<AudioBuffer<f32>>,
    channels: Vec<Vec<f32>>,
    reserve_frames: usize,
    declared_frames: Option<u64>,
}

impl<'a> PlanarSink<'a> {
    fn new(path: &'a Path, declared_rate: Option<u32>, n_frames: Option<u64>) -> Self {
        // A declared length only pre-sizes the buffers; it is capped so a lying header
        // cannot make us reserve absurd amounts of memory.
        const MAX_RESERVE_FRAMES: u64 = 48_000 * 60 * 30;
        Self {
            path,
            declared_rate,
            spec: None,
            buffer: None,
            channels: Vec::new(),
            reserve_frames: n_frames.unwrap_or(0).min(MAX_RESERVE_FRAMES) as usize,
            declared_frames: n_frames,
        }
    }

    fn frames(&self) -> usize {
        self.channels.first().map_or(0, Vec::len)
    }

    fn position_seconds(&self) -> f64 {
        let rate = self
            .spec
            .map(|s| s.rate)
            .or(self.declared_rate)
            .unwrap_or(0);
        if rate == 0 {
            0.0
        } else {
            self.frames() as f64 / rate as f64
        }
    }

    fn corrupt(&self, error: SymphoniaError) -> DecodeError {
        DecodeError::Corrupt {
            path: self.path.to_path_buf(),
            at_seconds: self.position_seconds(),
            reason: error.to_string(),
        }
    }

    /// Fails when a packet starts later than the audio decoded so far ends: the
    /// demuxer dropped damaged data in between.
    fn check_position(&self, packet_ts: u64) -> Result<(), DecodeError> {
        let decoded = self.frames() as u64;
        if packet_ts > decoded {
            return Err(DecodeError::Corrupt {
                path: self.path.to_path_buf(),
                at_seconds: self.position_seconds(),
                reason: format!(
                    "{} frames are missing (damaged data was skipped)",
                    packet_ts - decoded
                ),
            });
        }
        Ok(())
    }

    /// Fails when fewer frames were decoded than the header declares (a cut-off file).
    fn check_complete(&self) -> Result<(), DecodeError> {
        let decoded = self.frames() as u64;
        match self.declared_frames {
            Some(declared) if decoded < declared => Err(DecodeError::Corrupt {
                path: self.path.to_path_buf(),
                at_seconds: self.position_seconds(),
                reason: format!(
                    "the file ends after {decoded} of the {declared} frames its header declares"
                ),
            }),
            _ => Ok(()),
        }
    }

    /// A conversion buffer for a packet of `spec`, at least `capacity` frames long.
    fn buffer_for(
        &mut self,
        spec: SignalSpec,
        capacity: usize,
    ) -> Result<&mut AudioBuffer<f32>, DecodeError> {
        match self.spec {
            None => {
                if spec.channels.count() == 0 {
                    return Err(DecodeError::ZeroChannels {
                        path: self.path.to_path_buf(),
                    });
                }
                self.channels = (0..spec.channels.count())
                    .map(|_| Vec::with_capacity(self.reserve_frames))
                    .collect();
                self.spec = Some(spec);
            }
            Some(first) if first != spec => {
                return Err(DecodeError::FormatChange {
                    path: self.path.to_path_buf(),
                    at_seconds: self.position_seconds(),
                    from: describe(&first),
                    to: describe(&spec),
                });
            }
            Some(_) => {}
        }
        let fits = self
            .buffer
            .as_ref()
            .is_some_and(|b| b.capacity() >= capacity);
        if !fits {
            self.buffer = None;
        }
        Ok(self
            .buffer
            .get_or_insert_with(|| AudioBuffer::new(capacity as u64, spec)))
    }

    fn append(&mut self, frames: usize) {
        if let Some(buffer) = &self.buffer {
            for (c, channel) in self.channels.iter_mut().enumerate() {
                channel.extend_from_slice(&buffer.chan(c)[..frames]);
            }
        }
    }

    fn finish(self) -> Result<Audio, DecodeError> {
        let path = self.path.to_path_buf();
        let Some(spec) = self.spec else {
            return Err(DecodeError::Empty { path });
        };
        if spec.rate == 0 {
            return Err(DecodeError::NoSampleRate { path });
        }
        if self.channels.first().is_none_or(Vec::is_empty) {
            return Err(DecodeError::Empty { path });
        }
        Ok(Audio {
            sample_rate_hz: spec.rate,
            channels: self.channels,
        })
    }
}

fn describe(spec: &SignalSpec) -> String {
    format!("{} Hz, {} channels", spec.rate, spec.channels.count())
}
