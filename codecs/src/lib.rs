//! lathe-codecs: the lossy codecs a master is heard through, in process.
//!
//! Opus (libopus), MP3 (LAME to encode, symphonia to decode) and AAC-LC (libfdk-aac to
//! encode, symphonia to decode) behind one small pair of traits, [`Encoder`] and
//! [`Decoder`], set up from a [`CodecSpec`] in delivery terms (`opus:128`, `mp3:320`,
//! `aac:256`). [`roundtrip`] encodes and decodes a whole signal and removes
//! the codec's delay (Opus pre-skip, LAME's encoder delay plus the MP3 decoder's, FDK's
//! encoder delay), so the
//! decoded audio lines up with the source to the sample and is exactly as long: what
//! `lathe codec-check` measures is what a listener's decoder plays.
//!
//! [`stream`] runs a codec block by block at a fixed latency, [`realtime`] puts that on a
//! worker thread behind lock-free rings for the audio thread, and [`node`] is the `codec`
//! node kind built on both.

pub mod aac;
pub mod adts;
mod library;
pub mod lossy_file;
pub mod mp3;
pub mod mp3_file;
pub mod mp4_file;
pub mod node;
pub mod ogg;
pub mod opus;
pub mod opus_file;
mod packets;
pub mod rate_bridge;
pub mod realtime;
mod roundtrip;
pub mod spec;
pub mod stream;
mod symphonia_decode;

pub use roundtrip::{Roundtrip, roundtrip};
pub use spec::{Codec, CodecSpec, Mode, SpecError, parse_list};

/// One encoded packet: an Opus packet or one MP3 frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet {
    pub data: Vec<u8>,
}

/// A lossy encoder. Input is interleaved `f32` at full scale ±1.0.
pub trait Encoder: Send {
    /// Encodes the next frames, appending every packet completed so far to `packets`.
    fn encode(&mut self, interleaved: &[f32], packets: &mut Vec<Packet>) -> Result<(), CodecError>;
    /// Flushes the encoder: pads the last packet and pushes out its delay, so a decoder
    /// can return every source frame.
    fn finish(&mut self, packets: &mut Vec<Packet>) -> Result<(), CodecError>;
    /// Frames of the decoded stream that come before the first source frame (encoder
    /// delay plus the decoder's own, for this codec's decoder): what a gapless player
    /// skips.
    fn delay_frames(&self) -> usize;
    /// The rate the decoded stream has.
    fn sample_rate_hz(&self) -> u32;
}

/// A decoder for one encoder's packets, in order.
pub trait Decoder: Send {
    /// Decodes one packet, appending interleaved `f32` frames to `out`.
    fn decode(&mut self, packet: &Packet, out: &mut Vec<f32>) -> Result<(), CodecError>;
}

/// Why encoding or decoding failed.
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    #[error("{what} is not installed: could not load {sonames} ({reason}); install {package}")]
    LibraryMissing {
        what: &'static str,
        sonames: String,
        package: &'static str,
        reason: String,
    },
    #[error("codec library lacks `{symbol}`: {reason}")]
    Symbol { symbol: String, reason: String },
    #[error("{codec} cannot encode at {found} Hz; allowed rates: {allowed}")]
    SampleRate {
        codec: Codec,
        found: u32,
        allowed: &'static str,
    },
    #[error("{codec} encodes 1 or 2 channels, not {found}")]
    Channels { codec: Codec, found: usize },
    #[error(
        "{spec} cannot be coded with {channels} channel(s) at {sample_rate_hz} Hz; allowed kbps \
         here: {min_kbps} ..= {max_kbps}"
    )]
    BitrateRange {
        spec: CodecSpec,
        channels: usize,
        sample_rate_hz: u32,
        min_kbps: u32,
        max_kbps: u32,
    },
    #[error("{codec} {operation} failed: {reason}")]
    Library {
        codec: Codec,
        operation: &'static str,
        reason: String,
    },
    #[error("{codec} decoder: {reason}")]
    Decode { codec: Codec, reason: String },
    #[error("resampling around the codec: {reason}")]
    Resampler { reason: String },
}

/// An encoder and the decoder for its packets.
pub type CodecPair = (Box<dyn Encoder>, Box<dyn Decoder>);

/// Opens the encoder and the matching decoder for `spec`, for audio at `sample_rate_hz`
/// with `channels` channels.
pub fn open(
    spec: CodecSpec,
    sample_rate_hz: u32,
    channels: usize,
) -> Result<CodecPair, CodecError> {
    if !(1..=2).contains(&channels) {
        return Err(CodecError::Channels {
            codec: spec.codec,
            found: channels,
        });
    }
    match spec.codec {
        Codec::Opus => Ok((
            Box::new(opus::OpusEncoder::new(spec, sample_rate_hz, channels)?),
            Box::new(opus::OpusDecoder::new(sample_rate_hz, channels)?),
        )),
        Codec::Mp3 => Ok((
            Box::new(mp3::LameEncoder::new(spec, sample_rate_hz, channels)?),
            Box::new(mp3::Mp3Decoder::new(sample_rate_hz, channels)?),
        )),
        Codec::Aac => {
            let encoder = aac::FdkAacEncoder::new(spec, sample_rate_hz, channels)?;
            let decoder = aac::AacDecoder::new(encoder.audio_specific_config())?;
            Ok((Box::new(encoder), Box::new(decoder)))
        }
    }
}

/// The rate a codec's decoder plays `sample_rate_hz` source audio at: Opus runs at 48 kHz
/// (and a few lower rates), MP3 keeps its MPEG-1 rates, AAC its rates up to 48 kHz.
/// Callers resample to this first.
pub fn coded_rate_hz(codec: Codec, sample_rate_hz: u32) -> u32 {
    match codec {
        Codec::Opus if opus::RATES_HZ.contains(&sample_rate_hz) => sample_rate_hz,
        Codec::Opus => 48_000,
        Codec::Mp3 if mp3::RATES_HZ.contains(&sample_rate_hz) => sample_rate_hz,
        Codec::Mp3 if sample_rate_hz > 48_000 => 48_000,
        Codec::Mp3 => 44_100,
        Codec::Aac if aac::RATES_HZ.contains(&sample_rate_hz) && sample_rate_hz <= 48_000 => {
            sample_rate_hz
        }
        Codec::Aac if sample_rate_hz > 48_000 => 48_000,
        Codec::Aac => 44_100,
    }
}
