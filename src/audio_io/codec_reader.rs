//! Any file symphonia knows (FLAC, OGG Vorbis, MP3, WAV variants), decoded packet by
//! packet into planar `f32`: only one packet is held at a time, whatever the file's length.
//!
//! Lossy files come out as long as the audio that was encoded, aligned with it: the
//! encoder's delay and padding are removed (MP3: the LAME/Xing header, through
//! symphonia's gapless mode; Ogg Vorbis: granule positions, likewise; MP4/M4A: the
//! edit list, applied here by [`super::mp4_edit`]).
//!
//! The checks are those of a whole-file decode: lossless codecs must not skip frames
//! (a gap between packet timestamps, or fewer frames than the header declares, means
//! damaged data was dropped), and the format must hold still.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

use symphonia::core::audio::{AudioBuffer, Signal, SignalSpec};
use symphonia::core::codecs::{CODEC_TYPE_NULL, Decoder, DecoderOptions};
use symphonia::core::errors::Error as SymphoniaError;
use symphonia::core::formats::{FormatOptions, FormatReader};
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;
use symphonia::core::probe::Hint;

use super::decode_error::DecodeError;
use super::panic_guard::contained;

/// A file being decoded by symphonia.
pub struct CodecReader {
    path: PathBuf,
    format: Box<dyn FormatReader>,
    decoder: Box<dyn Decoder>,
    track_id: u32,
    /// Whether packet timestamps count frames exactly (see [`exact_timing`]).
    timing: bool,
    declared_rate: Option<u32>,
    declared_frames: Option<u64>,
    /// The format of the first decoded packet; every later one must match it.
    spec: Option<SignalSpec>,
    /// The last decoded packet, converted to `f32`.
    buffer: Option<AudioBuffer<f32>>,
    /// Frames of `buffer` not handed out yet: `pending.0 .. pending.1`.
    pending: (usize, usize),
    decoded_frames: u64,
    ended: bool,
    /// Decoded frames still to drop at the start (an MP4 edit's priming frames).
    skip_frames_left: u64,
    /// Frames the file holds after the skip, when an MP4 edit says so.
    keep_frames: Option<u64>,
    /// Frames handed out by [`CodecReader::read`].
    delivered_frames: u64,
}

impl std::fmt::Debug for CodecReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CodecReader")
            .field("path", &self.path)
            .field("spec", &self.spec)
            .field("decoded_frames", &self.decoded_frames)
            .finish_non_exhaustive()
    }
}

impl CodecReader {
    /// Probes `file` (opened from `path`), sets up the decoder of its first audio track
    /// and decodes up to the first audio, so the channels and rate are known.
    pub fn open(path: &Path, file: File) -> Result<Self, DecodeError> {
        let stream = MediaSourceStream::new(Box::new(file), Default::default());
        let mut hint = Hint::new();
        if let Some(ext) = path.extension().and_then(|e| e.to_str()) {
            hint.with_extension(ext);
        }
        let probed = contained(|| {
            symphonia::default::get_probe().format(
                &hint,
                stream,
                &FormatOptions {
                    enable_gapless: true,
                    ..FormatOptions::default()
                },
                &MetadataOptions::default(),
            )
        })
        .map_err(|reason| DecodeError::Corrupt {
            path: path.to_path_buf(),
            at_seconds: 0.0,
            reason,
        })?
        .map_err(|e| probe_error(path, e))?;
        let format = probed.format;
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
        let decoder = contained(|| {
            symphonia::default::get_codecs().make(&params, &DecoderOptions::default())
        })
        .map_err(|reason| DecodeError::Corrupt {
            path: path.to_path_buf(),
            at_seconds: 0.0,
            reason,
        })?
        .map_err(|e| DecodeError::UnsupportedCodec {
            path: path.to_path_buf(),
            codec: codec_name(params.codec, &e),
        })?;
        let mut reader = Self {
            path: path.to_path_buf(),
            format,
            decoder,
            track_id,
            timing: exact_timing(params.codec),
            declared_rate: params.sample_rate,
            declared_frames: params.n_frames,
            spec: None,
            buffer: None,
            pending: (0, 0),
            decoded_frames: 0,
            ended: false,
            skip_frames_left: 0,
            keep_frames: None,
            delivered_frames: 0,
        };
        if let Some(trim) = params
            .sample_rate
            .and_then(|rate| super::mp4_edit::edit_trim(path, rate))
        {
            reader.skip_frames_left = trim.skip_frames;
            reader.keep_frames = Some(trim.keep_frames);
            reader.declared_frames = Some(trim.keep_frames);
        }
        reader.decode_next()?;
        let path = path.to_path_buf();
        match reader.spec {
            None => Err(DecodeError::Empty { path }),
            Some(spec) if spec.rate == 0 => Err(DecodeError::NoSampleRate { path }),
            Some(_) if reader.decoded_frames == 0 => Err(DecodeError::Empty { path }),
            Some(_) => Ok(reader),
        }
    }

    pub fn sample_rate_hz(&self) -> u32 {
        self.spec.map_or(0, |s| s.rate)
    }

    pub fn channel_count(&self) -> usize {
        self.spec.map_or(0, |s| s.channels.count())
    }

    /// The length the container declares, if it does (lossy formats may be off).
    pub fn declared_frames(&self) -> Option<u64> {
        self.declared_frames
    }

    /// Fills `out` (one slice per channel, all the same length) with the next frames and
    /// returns how many: all of them unless the file ends first.
    pub fn read(&mut self, out: &mut [&mut [f32]]) -> Result<usize, DecodeError> {
        let mut wanted = out.first().map_or(0, |c| c.len());
        if let Some(keep) = self.keep_frames {
            let left = keep.saturating_sub(self.delivered_frames);
            wanted = wanted.min(usize::try_from(left).unwrap_or(usize::MAX));
        }
        let mut done = 0;
        while done < wanted {
            let (start, end) = self.pending;
            if start < end {
                let n = (end - start).min(wanted - done);
                if let Some(buffer) = &self.buffer {
                    for (c, plane) in out.iter_mut().enumerate() {
                        plane[done..done + n].copy_from_slice(&buffer.chan(c)[start..start + n]);
                    }
                }
                self.pending.0 += n;
                done += n;
                self.delivered_frames += n as u64;
            } else if self.ended {
                break;
            } else {
                self.decode_next()?;
            }
        }
        Ok(done)
    }

    /// Decodes packets until one holds audio, or the file ends (then checks that nothing
    /// was cut off).
    fn decode_next(&mut self) -> Result<(), DecodeError> {
        loop {
            let next = contained(|| self.format.next_packet());
            let next = match next {
                Ok(next) => next,
                Err(reason) => return Err(self.fail_for_good(reason)),
            };
            let packet = match next {
                Ok(packet) => packet,
                Err(SymphoniaError::IoError(e)) if e.kind() == io::ErrorKind::UnexpectedEof => {
                    self.ended = true;
                    if self.timing {
                        self.check_complete()?;
                    }
                    return Ok(());
                }
                Err(e) => return Err(self.corrupt(e)),
            };
            if packet.track_id() != self.track_id {
                continue;
            }
            if self.timing {
                self.check_position(packet.ts())?;
            }
            // Where this packet starts, for errors while its buffer is borrowed.
            let at_seconds = self.position_seconds();
            let decoder = &mut self.decoder;
            let decoded = match contained(|| decoder.decode(&packet).map(|_| ())) {
                Ok(result) => result,
                Err(reason) => return Err(self.fail_for_good(reason)),
            };
            let decoded = match decoded.map(|()| self.decoder.last_decoded()) {
                Ok(decoded) => decoded,
                Err(e) => {
                    return Err(DecodeError::Corrupt {
                        path: self.path.clone(),
                        at_seconds,
                        reason: e.to_string(),
                    });
                }
            };
            let spec = *decoded.spec();
            let frames = decoded.frames();
            let capacity = decoded.capacity();
            match self.spec {
                None => {
                    if spec.channels.count() == 0 {
                        return Err(DecodeError::ZeroChannels {
                            path: self.path.clone(),
                        });
                    }
                    self.spec = Some(spec);
                }
                Some(first) if first != spec => {
                    return Err(DecodeError::FormatChange {
                        path: self.path.clone(),
                        at_seconds,
                        from: describe(&first),
                        to: describe(&spec),
                    });
                }
                Some(_) => {}
            }
            if self.buffer.as_ref().is_none_or(|b| b.capacity() < capacity) {
                self.buffer = Some(AudioBuffer::new(capacity as u64, spec));
            }
            if let Some(buffer) = self.buffer.as_mut() {
                decoded.convert(buffer);
            }
            self.decoded_frames += frames as u64;
            // An MP4 edit's priming frames are decoded (the decoder needs them) and dropped.
            let skip = usize::try_from(self.skip_frames_left)
                .unwrap_or(usize::MAX)
                .min(frames);
            self.skip_frames_left -= skip as u64;
            self.pending = (skip, frames);
            if frames > skip {
                return Ok(());
            }
        }
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
            self.decoded_frames as f64 / f64::from(rate)
        }
    }

    /// A decoder panicked (see [`contained`]): its state is unknown, so the reader ends
    /// here and the file is reported as corrupt at the position reached.
    fn fail_for_good(&mut self, reason: String) -> DecodeError {
        self.ended = true;
        self.pending = (0, 0);
        DecodeError::Corrupt {
            path: self.path.clone(),
            at_seconds: self.position_seconds(),
            reason,
        }
    }

    fn corrupt(&self, error: SymphoniaError) -> DecodeError {
        DecodeError::Corrupt {
            path: self.path.clone(),
            at_seconds: self.position_seconds(),
            reason: error.to_string(),
        }
    }

    /// Fails when a packet starts later than the audio decoded so far ends: the
    /// demuxer dropped damaged data in between.
    fn check_position(&self, packet_ts: u64) -> Result<(), DecodeError> {
        if packet_ts > self.decoded_frames {
            return Err(DecodeError::Corrupt {
                path: self.path.clone(),
                at_seconds: self.position_seconds(),
                reason: format!(
                    "{} frames are missing (damaged data was skipped)",
                    packet_ts - self.decoded_frames
                ),
            });
        }
        Ok(())
    }

    /// Fails when fewer frames were decoded than the header declares (a cut-off file).
    fn check_complete(&self) -> Result<(), DecodeError> {
        let decoded = self.decoded_frames;
        match self.declared_frames {
            Some(declared) if decoded < declared => Err(DecodeError::Corrupt {
                path: self.path.clone(),
                at_seconds: self.position_seconds(),
                reason: format!(
                    "the file ends after {decoded} of the {declared} frames its header declares"
                ),
            }),
            _ => Ok(()),
        }
    }
}

fn probe_error(path: &Path, error: SymphoniaError) -> DecodeError {
    match error {
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
    }
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

fn describe(spec: &SignalSpec) -> String {
    format!("{} Hz, {} channels", spec.rate, spec.channels.count())
}
