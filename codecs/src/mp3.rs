//! MP3: LAME (libmp3lame, loaded at run time) encodes, symphonia's pure-Rust decoder
//! decodes. LAME's output is cut into MPEG-1 Layer III frames, one [`Packet`] each. The
//! decoded stream starts with LAME's encoder delay plus the decoder's synthesis delay
//! ([`DECODER_DELAY_FRAMES`]), which [`Encoder::delay_frames`] reports.

use std::ffi::{c_int, c_uchar, c_void};
use std::sync::OnceLock;

use symphonia::core::codecs::{CODEC_TYPE_MP3, CodecParameters};

use crate::library::{self, LibrarySpec, SharedLibrary};
use crate::spec::MP3_BITRATES_KBPS;
use crate::symphonia_decode::PacketDecoder;
use crate::{Codec, CodecError, CodecSpec, Decoder, Encoder, Mode, Packet};

/// The MPEG-1 rates lathe encodes at.
pub const RATES_HZ: [u32; 3] = [32_000, 44_100, 48_000];
const RATES_TEXT: &str = "32000, 44100, 48000 (other rates are resampled first)";
/// The MP3 decoder's own delay: the hybrid filter bank's 528 frames plus one, the figure
/// the LAME tag's gapless fields assume and ffmpeg and mpg123 skip.
pub const DECODER_DELAY_FRAMES: usize = 529;
/// Frames in one MPEG-1 Layer III frame.
pub const FRAME_FRAMES: usize = 1152;

/// LAME's output for `n` input frames fits in 1.25 n + 7200 bytes (lame.h).
fn output_bytes(frames: usize) -> usize {
    frames + frames / 4 + 7200
}

static LIBRARY: OnceLock<Result<SharedLibrary, String>> = OnceLock::new();
const LIBMP3LAME: LibrarySpec = LibrarySpec {
    what: "LAME (libmp3lame)",
    sonames: &[
        "libmp3lame.so.0",
        "libmp3lame.so",
        "libmp3lame.0.dylib",
        "libmp3lame.dll",
    ],
    package: "libmp3lame0 (Debian, Ubuntu) or lame",
};

type Init = unsafe extern "C" fn() -> *mut c_void;
type SetInt = unsafe extern "C" fn(*mut c_void, c_int) -> c_int;
type GetInt = unsafe extern "C" fn(*mut c_void) -> c_int;
type EncodeFloat =
    unsafe extern "C" fn(*mut c_void, *const f32, *const f32, c_int, *mut c_uchar, c_int) -> c_int;
type Flush = unsafe extern "C" fn(*mut c_void, *mut c_uchar, c_int) -> c_int;
type LameTag = unsafe extern "C" fn(*mut c_void, *mut c_uchar, usize) -> usize;

/// The LAME functions lathe calls.
struct Api {
    init: Init,
    set_num_channels: SetInt,
    set_in_samplerate: SetInt,
    set_out_samplerate: SetInt,
    set_brate: SetInt,
    set_vbr: SetInt,
    set_vbr_mean_bitrate_kbps: SetInt,
    set_quality: SetInt,
    set_mode: SetInt,
    set_write_vbr_tag: SetInt,
    init_params: GetInt,
    encode_float: EncodeFloat,
    flush: Flush,
    encoder_delay: GetInt,
    lametag_frame: LameTag,
    close: GetInt,
}

fn api() -> Result<&'static Api, CodecError> {
    static API: OnceLock<Result<Api, String>> = OnceLock::new();
    let result = API.get_or_init(|| {
        let lib = library::open(&LIBRARY, &LIBMP3LAME).map_err(|e| e.to_string())?;
        let s = |e: CodecError| e.to_string();
        // SAFETY: the signatures are LAME's (lame.h, 3.99 and later).
        unsafe {
            Ok(Api {
                init: lib.symbol(b"lame_init\0").map_err(s)?,
                set_num_channels: lib.symbol(b"lame_set_num_channels\0").map_err(s)?,
                set_in_samplerate: lib.symbol(b"lame_set_in_samplerate\0").map_err(s)?,
                set_out_samplerate: lib.symbol(b"lame_set_out_samplerate\0").map_err(s)?,
                set_brate: lib.symbol(b"lame_set_brate\0").map_err(s)?,
                set_vbr: lib.symbol(b"lame_set_VBR\0").map_err(s)?,
                set_vbr_mean_bitrate_kbps: lib
                    .symbol(b"lame_set_VBR_mean_bitrate_kbps\0")
                    .map_err(s)?,
                set_quality: lib.symbol(b"lame_set_quality\0").map_err(s)?,
                set_mode: lib.symbol(b"lame_set_mode\0").map_err(s)?,
                set_write_vbr_tag: lib.symbol(b"lame_set_bWriteVbrTag\0").map_err(s)?,
                init_params: lib.symbol(b"lame_init_params\0").map_err(s)?,
                encode_float: lib.symbol(b"lame_encode_buffer_ieee_float\0").map_err(s)?,
                flush: lib.symbol(b"lame_encode_flush\0").map_err(s)?,
                encoder_delay: lib.symbol(b"lame_get_encoder_delay\0").map_err(s)?,
                lametag_frame: lib.symbol(b"lame_get_lametag_frame\0").map_err(s)?,
                close: lib.symbol(b"lame_close\0").map_err(s)?,
            })
        }
    });
    result
        .as_ref()
        .map_err(|reason| match library::open(&LIBRARY, &LIBMP3LAME) {
            Err(missing) => missing,
            Ok(_) => CodecError::Library {
                codec: Codec::Mp3,
                operation: "loading",
                reason: reason.clone(),
            },
        })
}

fn check_rate(sample_rate_hz: u32) -> Result<(), CodecError> {
    if RATES_HZ.contains(&sample_rate_hz) {
        Ok(())
    } else {
        Err(CodecError::SampleRate {
            codec: Codec::Mp3,
            found: sample_rate_hz,
            allowed: RATES_TEXT,
        })
    }
}

fn lame_failure(operation: &'static str, code: c_int) -> CodecError {
    CodecError::Library {
        codec: Codec::Mp3,
        operation,
        reason: format!("LAME returned {code}"),
    }
}

/// LAME's rate-control modes (lame.h `vbr_mode`).
const VBR_OFF: c_int = 0;
const VBR_ABR: c_int = 3;
/// `MPEG_mode`: joint stereo for two channels, mono for one.
const JOINT_STEREO: c_int = 1;
const MONO: c_int = 3;
/// LAME's quality 2: "near-best", the setting LAME recommends for quality.
const QUALITY: c_int = 2;

/// A LAME encoder whose output is cut into MP3 frames.
pub struct LameEncoder {
    api: &'static Api,
    state: *mut c_void,
    channels: usize,
    sample_rate_hz: u32,
    delay_frames: usize,
    left: Vec<f32>,
    right: Vec<f32>,
    out: Vec<u8>,
    /// Encoded bytes not yet forming a whole frame.
    stream: Vec<u8>,
}

// SAFETY: the LAME state is owned by this value alone and used only through `&mut self`.
unsafe impl Send for LameEncoder {}

impl LameEncoder {
    /// An encoder of bare frames, for [`Mp3Decoder`] in process.
    pub fn new(spec: CodecSpec, sample_rate_hz: u32, channels: usize) -> Result<Self, CodecError> {
        Self::build(spec, sample_rate_hz, channels, false)
    }

    /// An encoder for a file: its first frame is a placeholder for the LAME tag
    /// ([`LameEncoder::lame_tag_frame`] after [`Encoder::finish`]).
    pub fn with_lame_tag(
        spec: CodecSpec,
        sample_rate_hz: u32,
        channels: usize,
    ) -> Result<Self, CodecError> {
        Self::build(spec, sample_rate_hz, channels, true)
    }

    /// The finished LAME/Xing tag frame (encoder delay, padding, length) that replaces
    /// the placeholder; empty for an encoder made by [`LameEncoder::new`].
    pub fn lame_tag_frame(&self) -> Result<Vec<u8>, CodecError> {
        let mut frame = vec![0u8; 2880];
        // SAFETY: a live state and a buffer of the stated size (the largest MP3 frame).
        let len = unsafe { (self.api.lametag_frame)(self.state, frame.as_mut_ptr(), frame.len()) };
        if len > frame.len() {
            return Err(lame_failure("writing the LAME tag", -1));
        }
        frame.truncate(len);
        Ok(frame)
    }

    fn build(
        spec: CodecSpec,
        sample_rate_hz: u32,
        channels: usize,
        lame_tag: bool,
    ) -> Result<Self, CodecError> {
        check_rate(sample_rate_hz)?;
        let api = api()?;
        // SAFETY: lame_init has no preconditions; checked for null.
        let state = unsafe { (api.init)() };
        if state.is_null() {
            return Err(lame_failure("initialisation", -1));
        }
        let mut encoder = Self {
            api,
            state,
            channels,
            sample_rate_hz,
            delay_frames: 0,
            left: Vec::new(),
            right: Vec::new(),
            out: Vec::new(),
            stream: Vec::new(),
        };
        let kbps = spec.bitrate_kbps as c_int;
        let mode = if channels == 1 { MONO } else { JOINT_STEREO };
        // SAFETY: setters on a live state; LAME validates the values in init_params.
        let code = unsafe {
            (api.set_num_channels)(state, channels as c_int);
            (api.set_in_samplerate)(state, sample_rate_hz as c_int);
            (api.set_out_samplerate)(state, sample_rate_hz as c_int);
            (api.set_mode)(state, mode);
            (api.set_quality)(state, QUALITY);
            // Bare frames for decoding in process; files get a LAME tag placeholder.
            (api.set_write_vbr_tag)(state, c_int::from(lame_tag));
            match spec.mode {
                Mode::Cbr => {
                    (api.set_vbr)(state, VBR_OFF);
                    (api.set_brate)(state, kbps);
                }
                Mode::Vbr => {
                    (api.set_vbr)(state, VBR_ABR);
                    (api.set_vbr_mean_bitrate_kbps)(state, kbps);
                }
            }
            (api.init_params)(state)
        };
        if code < 0 {
            return Err(lame_failure("setup", code));
        }
        // SAFETY: a live, initialised state.
        let delay = unsafe { (api.encoder_delay)(state) };
        encoder.delay_frames = usize::try_from(delay).unwrap_or(0) + DECODER_DELAY_FRAMES;
        Ok(encoder)
    }

    fn take_frames(&mut self, written: usize, packets: &mut Vec<Packet>) {
        self.stream.extend_from_slice(&self.out[..written]);
        let mut start = 0;
        while let Some(at) = find_sync(&self.stream[start..]) {
            let begin = start + at;
            let Some(len) = frame_bytes(&self.stream[begin..]) else {
                start = begin + 1;
                continue;
            };
            if begin + len > self.stream.len() {
                start = begin;
                break;
            }
            packets.push(Packet {
                data: self.stream[begin..begin + len].to_vec(),
            });
            start = begin + len;
        }
        self.stream.drain(..start.min(self.stream.len()));
    }
}

/// Offset of the first byte that could start a frame header.
fn find_sync(bytes: &[u8]) -> Option<usize> {
    bytes
        .windows(2)
        .position(|w| w[0] == 0xFF && w[1] & 0xE0 == 0xE0)
}

/// Length of the MPEG-1 Layer III frame whose header starts `bytes`, if it is one.
pub fn frame_bytes(bytes: &[u8]) -> Option<usize> {
    let &[b0, b1, b2, _, ..] = bytes else {
        return None;
    };
    let mpeg1 = (b1 >> 3) & 3 == 3;
    let layer3 = (b1 >> 1) & 3 == 1;
    if b0 != 0xFF || !mpeg1 || !layer3 {
        return None;
    }
    let kbps = *MP3_BITRATES_KBPS.get(usize::from(b2 >> 4).checked_sub(1)?)?;
    let rate_hz = [44_100, 48_000, 32_000]
        .get(usize::from((b2 >> 2) & 3))
        .copied()?;
    let padding = usize::from((b2 >> 1) & 1);
    Some(144_000 * kbps as usize / rate_hz as usize + padding)
}

impl Encoder for LameEncoder {
    fn encode(&mut self, interleaved: &[f32], packets: &mut Vec<Packet>) -> Result<(), CodecError> {
        let frames = interleaved.len() / self.channels;
        self.left.clear();
        self.right.clear();
        for frame in interleaved.chunks_exact(self.channels) {
            self.left.push(frame[0]);
            self.right.push(frame[frame.len() - 1]);
        }
        self.out.resize(output_bytes(frames), 0);
        // SAFETY: both planes hold `frames` samples; `out` has the size LAME asks for.
        let written = unsafe {
            (self.api.encode_float)(
                self.state,
                self.left.as_ptr(),
                self.right.as_ptr(),
                frames as c_int,
                self.out.as_mut_ptr(),
                self.out.len() as c_int,
            )
        };
        if written < 0 {
            return Err(lame_failure("encoding", written));
        }
        self.take_frames(written as usize, packets);
        Ok(())
    }

    fn finish(&mut self, packets: &mut Vec<Packet>) -> Result<(), CodecError> {
        self.out.resize(output_bytes(0), 0);
        // SAFETY: `out` holds 7200 bytes, what lame.h asks for a flush.
        let written =
            unsafe { (self.api.flush)(self.state, self.out.as_mut_ptr(), self.out.len() as c_int) };
        if written < 0 {
            return Err(lame_failure("flushing", written));
        }
        self.take_frames(written as usize, packets);
        Ok(())
    }

    fn delay_frames(&self) -> usize {
        self.delay_frames
    }

    fn sample_rate_hz(&self) -> u32 {
        self.sample_rate_hz
    }
}

impl Drop for LameEncoder {
    fn drop(&mut self) {
        // SAFETY: created by lame_init and closed once.
        unsafe { (self.api.close)(self.state) };
    }
}

/// symphonia's MP3 decoder fed one frame at a time.
pub struct Mp3Decoder {
    inner: PacketDecoder,
}

impl Mp3Decoder {
    pub fn new(sample_rate_hz: u32, _channels: usize) -> Result<Self, CodecError> {
        let mut params = CodecParameters::new();
        params
            .for_codec(CODEC_TYPE_MP3)
            .with_sample_rate(sample_rate_hz);
        Ok(Self {
            inner: PacketDecoder::new(Codec::Mp3, &params, FRAME_FRAMES)?,
        })
    }
}

impl Decoder for Mp3Decoder {
    fn decode(&mut self, packet: &Packet, out: &mut Vec<f32>) -> Result<(), CodecError> {
        self.inner.decode(packet, out)
    }
}
