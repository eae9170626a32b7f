//! Opus through libopus, loaded at run time: an encoder in 20 ms packets and the
//! matching decoder. The decoded stream starts with the encoder's lookahead (the Opus
//! pre-skip of RFC 7845), which [`Encoder::delay_frames`] reports.

use std::ffi::{c_int, c_uchar, c_void};
use std::sync::OnceLock;

use crate::library::{self, LibrarySpec, SharedLibrary};
use crate::{Codec, CodecError, CodecSpec, Decoder, Encoder, Mode, Packet};

/// Rates libopus encodes and decodes at.
pub const RATES_HZ: [u32; 5] = [8_000, 12_000, 16_000, 24_000, 48_000];
const RATES_TEXT: &str =
    "8000, 12000, 16000, 24000, 48000 (other rates are resampled to 48000 first)";
/// Packet length: 20 ms, the usual choice for music.
pub const PACKET_MS: u32 = 20;
/// Largest packet libopus may produce (RFC 6716 bounds a frame at 1275 bytes).
const MAX_PACKET_BYTES: usize = 4000;
/// Longest packet a decoder may be handed: 120 ms at 48 kHz.
const MAX_PACKET_FRAMES_48K: usize = 5760;

const OPUS_APPLICATION_AUDIO: c_int = 2049;
const OPUS_SET_BITRATE_REQUEST: c_int = 4002;
const OPUS_SET_VBR_REQUEST: c_int = 4006;
const OPUS_SET_COMPLEXITY_REQUEST: c_int = 4010;
const OPUS_SET_VBR_CONSTRAINT_REQUEST: c_int = 4020;
const OPUS_GET_LOOKAHEAD_REQUEST: c_int = 4027;

static LIBRARY: OnceLock<Result<SharedLibrary, String>> = OnceLock::new();
const LIBOPUS: LibrarySpec = LibrarySpec {
    what: "libopus",
    sonames: &["libopus.so.0", "libopus.so", "libopus.0.dylib", "opus.dll"],
    package: "libopus0 (Debian, Ubuntu) or opus",
};

type EncoderCreate = unsafe extern "C" fn(i32, c_int, c_int, *mut c_int) -> *mut c_void;
type EncoderCtl = unsafe extern "C" fn(*mut c_void, c_int, ...) -> c_int;
type EncodeFloat = unsafe extern "C" fn(*mut c_void, *const f32, c_int, *mut c_uchar, i32) -> i32;
type Destroy = unsafe extern "C" fn(*mut c_void);
type DecoderCreate = unsafe extern "C" fn(i32, c_int, *mut c_int) -> *mut c_void;
type DecodeFloat =
    unsafe extern "C" fn(*mut c_void, *const c_uchar, i32, *mut f32, c_int, c_int) -> c_int;
type StrError = unsafe extern "C" fn(c_int) -> *const std::ffi::c_char;

/// The libopus functions lathe calls.
struct Api {
    encoder_create: EncoderCreate,
    encoder_ctl: EncoderCtl,
    encode_float: EncodeFloat,
    encoder_destroy: Destroy,
    decoder_create: DecoderCreate,
    decode_float: DecodeFloat,
    decoder_destroy: Destroy,
    strerror: StrError,
}

fn api() -> Result<&'static Api, CodecError> {
    static API: OnceLock<Result<Api, String>> = OnceLock::new();
    let result = API.get_or_init(|| {
        let lib = library::open(&LIBRARY, &LIBOPUS).map_err(|e| e.to_string())?;
        // SAFETY: the signatures are libopus's (opus.h), stable since 1.0.
        unsafe {
            Ok(Api {
                encoder_create: lib
                    .symbol(b"opus_encoder_create\0")
                    .map_err(|e| e.to_string())?,
                encoder_ctl: lib
                    .symbol(b"opus_encoder_ctl\0")
                    .map_err(|e| e.to_string())?,
                encode_float: lib
                    .symbol(b"opus_encode_float\0")
                    .map_err(|e| e.to_string())?,
                encoder_destroy: lib
                    .symbol(b"opus_encoder_destroy\0")
                    .map_err(|e| e.to_string())?,
                decoder_create: lib
                    .symbol(b"opus_decoder_create\0")
                    .map_err(|e| e.to_string())?,
                decode_float: lib
                    .symbol(b"opus_decode_float\0")
                    .map_err(|e| e.to_string())?,
                decoder_destroy: lib
                    .symbol(b"opus_decoder_destroy\0")
                    .map_err(|e| e.to_string())?,
                strerror: lib.symbol(b"opus_strerror\0").map_err(|e| e.to_string())?,
            })
        }
    });
    result
        .as_ref()
        .map_err(|reason| match library::open(&LIBRARY, &LIBOPUS) {
            Err(missing) => missing,
            Ok(_) => CodecError::Library {
                codec: Codec::Opus,
                operation: "loading",
                reason: reason.clone(),
            },
        })
}

fn failure(api: &Api, operation: &'static str, code: c_int) -> CodecError {
    // SAFETY: opus_strerror returns a static NUL-terminated string for any code.
    let reason = unsafe { std::ffi::CStr::from_ptr((api.strerror)(code)) }
        .to_string_lossy()
        .into_owned();
    CodecError::Library {
        codec: Codec::Opus,
        operation,
        reason,
    }
}

fn check_rate(sample_rate_hz: u32) -> Result<(), CodecError> {
    if RATES_HZ.contains(&sample_rate_hz) {
        Ok(())
    } else {
        Err(CodecError::SampleRate {
            codec: Codec::Opus,
            found: sample_rate_hz,
            allowed: RATES_TEXT,
        })
    }
}

/// A libopus encoder making 20 ms packets.
pub struct OpusEncoder {
    api: &'static Api,
    state: *mut c_void,
    channels: usize,
    sample_rate_hz: u32,
    packet_frames: usize,
    lookahead_frames: usize,
    /// Interleaved input not yet filling a packet.
    pending: Vec<f32>,
    /// Source frames taken so far.
    frames_in: usize,
    out: Vec<u8>,
}

// SAFETY: the encoder state is owned by this value alone and libopus keeps no thread
// affinity; it is only ever used through `&mut self`.
unsafe impl Send for OpusEncoder {}

impl OpusEncoder {
    pub fn new(spec: CodecSpec, sample_rate_hz: u32, channels: usize) -> Result<Self, CodecError> {
        check_rate(sample_rate_hz)?;
        let api = api()?;
        let mut error: c_int = 0;
        // SAFETY: valid arguments per opus.h; the result is checked before use.
        let state = unsafe {
            (api.encoder_create)(
                sample_rate_hz as i32,
                channels as c_int,
                OPUS_APPLICATION_AUDIO,
                &mut error,
            )
        };
        if state.is_null() || error != 0 {
            return Err(failure(api, "encoder creation", error));
        }
        let mut encoder = Self {
            api,
            state,
            channels,
            sample_rate_hz,
            packet_frames: (sample_rate_hz * PACKET_MS / 1000) as usize,
            lookahead_frames: 0,
            pending: Vec::new(),
            frames_in: 0,
            out: vec![0; MAX_PACKET_BYTES],
        };
        let bitrate_bps = (spec.bitrate_kbps * 1000) as c_int;
        let vbr = c_int::from(spec.mode == Mode::Vbr);
        encoder.set(OPUS_SET_BITRATE_REQUEST, bitrate_bps)?;
        encoder.set(OPUS_SET_VBR_REQUEST, vbr)?;
        encoder.set(OPUS_SET_VBR_CONSTRAINT_REQUEST, 0)?;
        encoder.set(OPUS_SET_COMPLEXITY_REQUEST, 10)?;
        let mut lookahead: i32 = 0;
        // SAFETY: OPUS_GET_LOOKAHEAD takes an opus_int32 pointer.
        let code = unsafe {
            (api.encoder_ctl)(
                state,
                OPUS_GET_LOOKAHEAD_REQUEST,
                &mut lookahead as *mut i32,
            )
        };
        if code != 0 {
            return Err(failure(api, "lookahead query", code));
        }
        encoder.lookahead_frames = usize::try_from(lookahead).unwrap_or(0);
        Ok(encoder)
    }

    fn set(&mut self, request: c_int, value: c_int) -> Result<(), CodecError> {
        // SAFETY: every setter used here takes one opus_int32 argument.
        let code = unsafe { (self.api.encoder_ctl)(self.state, request, value) };
        if code == 0 {
            Ok(())
        } else {
            Err(failure(self.api, "setting", code))
        }
    }

    fn encode_packet(&mut self, packets: &mut Vec<Packet>) -> Result<(), CodecError> {
        let samples = self.packet_frames * self.channels;
        // SAFETY: `pending` holds at least one packet of interleaved frames and `out` has
        // MAX_PACKET_BYTES bytes.
        let len = unsafe {
            (self.api.encode_float)(
                self.state,
                self.pending.as_ptr(),
                self.packet_frames as c_int,
                self.out.as_mut_ptr(),
                MAX_PACKET_BYTES as i32,
            )
        };
        if len < 0 {
            return Err(failure(self.api, "encoding", len));
        }
        packets.push(Packet {
            data: self.out[..len as usize].to_vec(),
        });
        self.pending.drain(..samples);
        Ok(())
    }
}

impl Encoder for OpusEncoder {
    fn encode(&mut self, interleaved: &[f32], packets: &mut Vec<Packet>) -> Result<(), CodecError> {
        self.pending.extend_from_slice(interleaved);
        self.frames_in += interleaved.len() / self.channels;
        while self.pending.len() >= self.packet_frames * self.channels {
            self.encode_packet(packets)?;
        }
        Ok(())
    }

    fn finish(&mut self, packets: &mut Vec<Packet>) -> Result<(), CodecError> {
        // The decoder returns `lookahead` frames late: feed silence until every source
        // frame has come out, then pad to a whole packet.
        let needed = self.frames_in + self.lookahead_frames;
        let packets_needed = needed.div_ceil(self.packet_frames);
        let total_samples = packets_needed * self.packet_frames * self.channels;
        let already = (self.frames_in - self.pending.len() / self.channels) * self.channels;
        self.pending.resize(total_samples - already, 0.0);
        while !self.pending.is_empty() {
            self.encode_packet(packets)?;
        }
        Ok(())
    }

    fn delay_frames(&self) -> usize {
        self.lookahead_frames
    }

    fn sample_rate_hz(&self) -> u32 {
        self.sample_rate_hz
    }
}

impl Drop for OpusEncoder {
    fn drop(&mut self) {
        // SAFETY: created by opus_encoder_create and destroyed once.
        unsafe { (self.api.encoder_destroy)(self.state) }
    }
}

/// A libopus decoder.
pub struct OpusDecoder {
    api: &'static Api,
    state: *mut c_void,
    channels: usize,
    buffer: Vec<f32>,
    max_frames: usize,
}

// SAFETY: as for the encoder: owned state, used only through `&mut self`.
unsafe impl Send for OpusDecoder {}

impl OpusDecoder {
    pub fn new(sample_rate_hz: u32, channels: usize) -> Result<Self, CodecError> {
        check_rate(sample_rate_hz)?;
        let api = api()?;
        let mut error: c_int = 0;
        // SAFETY: valid arguments per opus.h; checked before use.
        let state =
            unsafe { (api.decoder_create)(sample_rate_hz as i32, channels as c_int, &mut error) };
        if state.is_null() || error != 0 {
            return Err(failure(api, "decoder creation", error));
        }
        let max_frames = MAX_PACKET_FRAMES_48K * sample_rate_hz as usize / 48_000;
        Ok(Self {
            api,
            state,
            channels,
            buffer: vec![0.0; max_frames * channels],
            max_frames,
        })
    }
}

impl Decoder for OpusDecoder {
    fn decode(&mut self, packet: &Packet, out: &mut Vec<f32>) -> Result<(), CodecError> {
        // SAFETY: `buffer` holds `max_frames` frames of `channels` samples.
        let frames = unsafe {
            (self.api.decode_float)(
                self.state,
                packet.data.as_ptr(),
                packet.data.len() as i32,
                self.buffer.as_mut_ptr(),
                self.max_frames as c_int,
                0,
            )
        };
        if frames < 0 {
            return Err(failure(self.api, "decoding", frames));
        }
        out.extend_from_slice(&self.buffer[..frames as usize * self.channels]);
        Ok(())
    }
}

impl Drop for OpusDecoder {
    fn drop(&mut self) {
        // SAFETY: created by opus_decoder_create and destroyed once.
        unsafe { (self.api.decoder_destroy)(self.state) }
    }
}
