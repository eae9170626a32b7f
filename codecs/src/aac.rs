//! AAC-LC: the Fraunhofer FDK AAC encoder (libfdk-aac, loaded at run time) encodes raw
//! access units, symphonia's pure-Rust AAC decoder decodes them in `f32`.
//!
//! Why not fdk's own decoder: libfdk-aac's PCM is 16-bit (`INT_PCM`) on both sides, so its
//! decoder clips (or, by default, limits) every sample beyond full scale, which would hide
//! exactly the overs `codec-check` is there to find. Players that decode to float
//! (ffmpeg's native decoder, Apple's) keep them, and so does symphonia. The encoder's
//! 16-bit input costs nothing measurable: its rounding error sits some 70 dB under the
//! AAC quantisation noise at any delivery bitrate.
//!
//! The decoded stream starts with the encoder's delay (`nDelay` of `aacEncInfo`: the
//! priming a gapless player skips, 2048 frames at 1024-frame AAC-LC); the decoder adds
//! none of its own, so [`Encoder::delay_frames`] reports `nDelay`.

use std::ffi::{c_int, c_uint, c_void};
use std::sync::OnceLock;

use symphonia::core::codecs::{CODEC_TYPE_AAC, CodecParameters};

use crate::library::{self, LibrarySpec, SharedLibrary};
use crate::symphonia_decode::PacketDecoder;
use crate::{Codec, CodecError, CodecSpec, Decoder, Encoder, Mode, Packet};

/// The rates the FDK encoder takes for AAC-LC.
pub const RATES_HZ: [u32; 12] = [
    8_000, 11_025, 12_000, 16_000, 22_050, 24_000, 32_000, 44_100, 48_000, 64_000, 88_200, 96_000,
];
const RATES_TEXT: &str = "8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000, 64000, \
88200, 96000 (codec-check and album resample other rates to 44100 or 48000 first)";
/// Frames in one AAC-LC access unit.
pub const FRAME_FRAMES: usize = 1024;
/// The environment variable that names libfdk-aac's file, tried before the system's.
pub const LIBRARY_ENV: &str = "LATHE_FDK_AAC";
/// An access unit is at most 6144 bits per channel (ISO 14496-3, 4.5.3.2).
const MAX_AU_BYTES_PER_CHANNEL: usize = 768;

static LIBRARY: OnceLock<Result<SharedLibrary, String>> = OnceLock::new();
const LIBFDK_AAC: LibrarySpec = LibrarySpec {
    what: "libfdk-aac",
    sonames: &[
        "libfdk-aac.so.2",
        "libfdk-aac.so",
        "libfdk-aac.2.dylib",
        "libfdk-aac-2.dll",
    ],
    package: "it with scripts/build-fdk-aac.sh from lathe's source (it builds the library \
        from the fdk-aac-sys crate's copy of the source), or Debian non-free's libfdk-aac2, \
        or name the file in LATHE_FDK_AAC",
};

// AACENC_PARAM values (aacenc_lib.h).
const AACENC_AOT: c_int = 0x0100;
const AACENC_BITRATE: c_int = 0x0101;
const AACENC_BITRATEMODE: c_int = 0x0102;
const AACENC_SAMPLERATE: c_int = 0x0103;
const AACENC_CHANNELMODE: c_int = 0x0106;
const AACENC_CHANNELORDER: c_int = 0x0107;
const AACENC_AFTERBURNER: c_int = 0x0200;
const AACENC_TRANSMUX: c_int = 0x0300;
/// `AUDIO_OBJECT_TYPE` 2: MPEG-4 AAC Low Complexity, what the stores deliver.
const AOT_AAC_LC: c_uint = 2;
/// `TRANSPORT_TYPE` 0: raw access units, the AudioSpecificConfig out of band.
const TT_MP4_RAW: c_uint = 0;
/// `AACENC_CHANNELORDER` 1: WAV order (L, R), as lathe's planes are.
const WAV_ORDER: c_uint = 1;
// AACENC_BufferIdentifier values.
const IN_AUDIO_DATA: c_int = 0;
const OUT_BITSTREAM_DATA: c_int = 3;
const AACENC_OK: c_int = 0;
const AACENC_ENCODE_EOF: c_int = 0x80;

/// `AACENC_BufDesc`.
#[repr(C)]
struct BufDesc {
    num_bufs: c_int,
    bufs: *mut *mut c_void,
    buffer_identifiers: *mut c_int,
    buf_sizes: *mut c_int,
    buf_el_sizes: *mut c_int,
}

/// `AACENC_InArgs`.
#[repr(C)]
struct InArgs {
    num_in_samples: c_int,
    num_anc_bytes: c_int,
}

/// `AACENC_OutArgs`.
#[repr(C)]
#[derive(Default)]
struct OutArgs {
    num_out_bytes: c_int,
    num_in_samples: c_int,
    num_anc_bytes: c_int,
    bit_res_state: c_int,
}

/// `AACENC_InfoStruct`.
#[repr(C)]
struct InfoStruct {
    max_out_buf_bytes: c_uint,
    max_anc_bytes: c_uint,
    in_buf_fill_level: c_uint,
    input_channels: c_uint,
    frame_length: c_uint,
    n_delay: c_uint,
    n_delay_core: c_uint,
    conf_buf: [u8; 64],
    conf_size: c_uint,
}

type Handle = *mut c_void;
type Open = unsafe extern "C" fn(*mut Handle, c_uint, c_uint) -> c_int;
type Close = unsafe extern "C" fn(*mut Handle) -> c_int;
type Encode = unsafe extern "C" fn(
    Handle,
    *const BufDesc,
    *const BufDesc,
    *const InArgs,
    *mut OutArgs,
) -> c_int;
type Info = unsafe extern "C" fn(Handle, *mut InfoStruct) -> c_int;
type SetParam = unsafe extern "C" fn(Handle, c_int, c_uint) -> c_int;
type GetParam = unsafe extern "C" fn(Handle, c_int) -> c_uint;

/// The libfdk-aac encoder functions lathe calls.
struct Api {
    open: Open,
    close: Close,
    encode: Encode,
    info: Info,
    set_param: SetParam,
    get_param: GetParam,
}

fn api() -> Result<&'static Api, CodecError> {
    static API: OnceLock<Result<Api, String>> = OnceLock::new();
    let result = API.get_or_init(|| {
        let lib = library::open_with_env(&LIBRARY, &LIBFDK_AAC, LIBRARY_ENV)
            .map_err(|e| e.to_string())?;
        let s = |e: CodecError| e.to_string();
        // SAFETY: the signatures are libfdk-aac 2's (aacenc_lib.h); enums are C ints.
        unsafe {
            Ok(Api {
                open: lib.symbol(b"aacEncOpen\0").map_err(s)?,
                close: lib.symbol(b"aacEncClose\0").map_err(s)?,
                encode: lib.symbol(b"aacEncEncode\0").map_err(s)?,
                info: lib.symbol(b"aacEncInfo\0").map_err(s)?,
                set_param: lib.symbol(b"aacEncoder_SetParam\0").map_err(s)?,
                get_param: lib.symbol(b"aacEncoder_GetParam\0").map_err(s)?,
            })
        }
    });
    result.as_ref().map_err(|reason| {
        match library::open_with_env(&LIBRARY, &LIBFDK_AAC, LIBRARY_ENV) {
            Err(missing) => missing,
            Ok(_) => CodecError::Library {
                codec: Codec::Aac,
                operation: "loading",
                reason: reason.clone(),
            },
        }
    })
}

/// The name of an `AACENC_ERROR` code.
fn error_name(code: c_int) -> &'static str {
    match code {
        0x20 => "invalid handle",
        0x21 => "memory allocation failed",
        0x22 => "unsupported parameter",
        0x23 => "invalid configuration",
        0x40 => "initialisation error",
        0x41 => "AAC initialisation error",
        0x42 => "SBR initialisation error",
        0x43 => "transport initialisation error",
        0x44 => "metadata initialisation error",
        0x45 => "MPS initialisation error",
        0x60 => "encoding error",
        _ => "unknown error",
    }
}

fn failure(operation: &'static str, code: c_int) -> CodecError {
    CodecError::Library {
        codec: Codec::Aac,
        operation,
        reason: format!("{} ({code:#x})", error_name(code)),
    }
}

fn check_rate(sample_rate_hz: u32) -> Result<(), CodecError> {
    if RATES_HZ.contains(&sample_rate_hz) {
        Ok(())
    } else {
        Err(CodecError::SampleRate {
            codec: Codec::Aac,
            found: sample_rate_hz,
            allowed: RATES_TEXT,
        })
    }
}

/// The FDK VBR mode (1..=5) whose nominal rate per channel is nearest `kbps` over
/// `channels`: FDK's VBR modes are quality levels, not rates (aacenc_lib.h gives
/// 32-48, 40-56, 48-64, 64-80 and 96-120 kbps per channel; the middles are used).
pub fn vbr_mode(kbps: u32, channels: usize) -> u32 {
    const MIDDLE_KBPS_PER_CHANNEL: [u32; 5] = [40, 48, 56, 72, 108];
    let per_channel = kbps / channels.max(1) as u32;
    (1..=5)
        .min_by_key(|&m| MIDDLE_KBPS_PER_CHANNEL[m as usize - 1].abs_diff(per_channel))
        .unwrap_or(5)
}

/// An FDK AAC-LC encoder making raw access units of 1024 frames.
pub struct FdkAacEncoder {
    api: &'static Api,
    handle: Handle,
    channels: usize,
    sample_rate_hz: u32,
    delay_frames: usize,
    /// The AudioSpecificConfig (ISO 14496-3, 1.6.2.1) a decoder of the raw units needs.
    config: Vec<u8>,
    /// Interleaved 16-bit input not yet taken by the encoder.
    pending: Vec<i16>,
    out: Vec<u8>,
}

// SAFETY: the encoder instance is owned by this value alone and libfdk-aac keeps no
// thread affinity; it is only used through `&mut self`.
unsafe impl Send for FdkAacEncoder {}

impl FdkAacEncoder {
    /// An encoder for `spec` (CBR at its bitrate, or the FDK VBR mode nearest it).
    pub fn new(spec: CodecSpec, sample_rate_hz: u32, channels: usize) -> Result<Self, CodecError> {
        let encoder = Self::configured(spec, sample_rate_hz, channels)?;
        if spec.mode == Mode::Cbr {
            // FDK moves a rate it cannot code (too high for one channel, too low for the
            // headers) without a word; a delivery check must encode what was asked or say
            // why not. Probing the two extremes finds the rates it would take.
            let kbps_taken = |kbps: u32| -> Result<u32, CodecError> {
                let probe = CodecSpec {
                    bitrate_kbps: kbps,
                    ..spec
                };
                Ok(Self::configured(probe, sample_rate_hz, channels)?.bitrate_kbps())
            };
            if encoder.bitrate_kbps() != spec.bitrate_kbps {
                return Err(CodecError::BitrateRange {
                    spec,
                    channels,
                    sample_rate_hz,
                    min_kbps: kbps_taken(1)?.max(8),
                    max_kbps: kbps_taken(1000)?.min(320),
                });
            }
        }
        Ok(encoder)
    }

    /// The bitrate the encoder settled on, in whole kbps.
    fn bitrate_kbps(&self) -> u32 {
        // SAFETY: a live, configured handle.
        let bps = unsafe { (self.api.get_param)(self.handle, AACENC_BITRATE) };
        (bps + 500) / 1000
    }

    /// An encoder set up for `spec`, at whatever rate FDK makes of it.
    fn configured(
        spec: CodecSpec,
        sample_rate_hz: u32,
        channels: usize,
    ) -> Result<Self, CodecError> {
        check_rate(sample_rate_hz)?;
        if !(1..=2).contains(&channels) {
            return Err(CodecError::Channels {
                codec: Codec::Aac,
                found: channels,
            });
        }
        let api = api()?;
        let mut handle: Handle = std::ptr::null_mut();
        // SAFETY: a valid out pointer; module flag 0x01 is the AAC core alone.
        let code = unsafe { (api.open)(&mut handle, 0x01, channels as c_uint) };
        if code != AACENC_OK || handle.is_null() {
            return Err(failure("opening the encoder", code));
        }
        // From here on `Drop` closes the handle on every early return.
        let mut encoder = Self {
            api,
            handle,
            channels,
            sample_rate_hz,
            delay_frames: 0,
            config: Vec::new(),
            pending: Vec::new(),
            out: vec![0; MAX_AU_BYTES_PER_CHANNEL * channels],
        };
        encoder.set(AACENC_AOT, AOT_AAC_LC)?;
        encoder.set(AACENC_SAMPLERATE, sample_rate_hz)?;
        encoder.set(AACENC_CHANNELMODE, channels as c_uint)?;
        encoder.set(AACENC_CHANNELORDER, WAV_ORDER)?;
        encoder.set(AACENC_TRANSMUX, TT_MP4_RAW)?;
        encoder.set(AACENC_AFTERBURNER, 1)?;
        match spec.mode {
            Mode::Cbr => {
                encoder.set(AACENC_BITRATEMODE, 0)?;
                encoder.set(AACENC_BITRATE, spec.bitrate_kbps * 1000)?;
            }
            Mode::Vbr => encoder.set(AACENC_BITRATEMODE, vbr_mode(spec.bitrate_kbps, channels))?,
        }
        // SAFETY: a call with no buffers applies the configuration (aacenc_lib.h).
        let code = unsafe {
            (api.encode)(
                handle,
                std::ptr::null(),
                std::ptr::null(),
                std::ptr::null(),
                std::ptr::null_mut(),
            )
        };
        if code != AACENC_OK {
            return Err(failure("configuring", code));
        }
        let mut info = InfoStruct {
            max_out_buf_bytes: 0,
            max_anc_bytes: 0,
            in_buf_fill_level: 0,
            input_channels: 0,
            frame_length: 0,
            n_delay: 0,
            n_delay_core: 0,
            conf_buf: [0; 64],
            conf_size: 0,
        };
        // SAFETY: a live handle and a struct of aacenc_lib.h's layout.
        let code = unsafe { (api.info)(handle, &mut info) };
        if code != AACENC_OK {
            return Err(failure("reading the configuration", code));
        }
        encoder.delay_frames = info.n_delay as usize;
        let conf_size = (info.conf_size as usize).min(info.conf_buf.len());
        encoder.config = info.conf_buf[..conf_size].to_vec();
        encoder
            .out
            .resize((info.max_out_buf_bytes as usize).max(encoder.out.len()), 0);
        Ok(encoder)
    }

    /// The AudioSpecificConfig of the stream (what an MP4 `esds` box or a decoder of raw
    /// access units needs).
    pub fn audio_specific_config(&self) -> &[u8] {
        &self.config
    }

    fn set(&mut self, param: c_int, value: c_uint) -> Result<(), CodecError> {
        // SAFETY: a live handle; FDK validates the value.
        let code = unsafe { (self.api.set_param)(self.handle, param, value) };
        if code == AACENC_OK {
            Ok(())
        } else {
            Err(failure("setting a parameter", code))
        }
    }

    /// One `aacEncEncode` call over `pending` (or a flush when `flush`): returns the
    /// status code, the samples taken and pushes the access unit made, if any.
    fn call(
        &mut self,
        flush: bool,
        packets: &mut Vec<Packet>,
    ) -> Result<(c_int, usize), CodecError> {
        let mut in_ptr = self.pending.as_mut_ptr().cast::<c_void>();
        let mut in_id = IN_AUDIO_DATA;
        let mut in_size = (self.pending.len() * 2) as c_int;
        let mut in_el_size: c_int = 2;
        let in_desc = BufDesc {
            num_bufs: 1,
            bufs: &mut in_ptr,
            buffer_identifiers: &mut in_id,
            buf_sizes: &mut in_size,
            buf_el_sizes: &mut in_el_size,
        };
        let mut out_ptr = self.out.as_mut_ptr().cast::<c_void>();
        let mut out_id = OUT_BITSTREAM_DATA;
        let mut out_size = self.out.len() as c_int;
        let mut out_el_size: c_int = 1;
        let out_desc = BufDesc {
            num_bufs: 1,
            bufs: &mut out_ptr,
            buffer_identifiers: &mut out_id,
            buf_sizes: &mut out_size,
            buf_el_sizes: &mut out_el_size,
        };
        let in_args = InArgs {
            num_in_samples: if flush {
                -1
            } else {
                self.pending.len() as c_int
            },
            num_anc_bytes: 0,
        };
        let mut out_args = OutArgs::default();
        // SAFETY: the descriptors point at live buffers of the stated sizes for the
        // duration of the call.
        let code =
            unsafe { (self.api.encode)(self.handle, &in_desc, &out_desc, &in_args, &mut out_args) };
        if code != AACENC_OK && code != AACENC_ENCODE_EOF {
            return Err(failure("encoding", code));
        }
        let written = usize::try_from(out_args.num_out_bytes)
            .unwrap_or(0)
            .min(self.out.len());
        if written > 0 {
            packets.push(Packet {
                data: self.out[..written].to_vec(),
            });
        }
        let taken = usize::try_from(out_args.num_in_samples)
            .unwrap_or(0)
            .min(self.pending.len());
        Ok((code, taken))
    }
}

/// A float sample as the encoder's 16-bit input, rounded and held at full scale.
fn to_i16(sample: f32) -> i16 {
    (sample * 32_768.0).round().clamp(-32_768.0, 32_767.0) as i16
}

impl Encoder for FdkAacEncoder {
    fn encode(&mut self, interleaved: &[f32], packets: &mut Vec<Packet>) -> Result<(), CodecError> {
        self.pending.extend(interleaved.iter().copied().map(to_i16));
        let frame_samples = FRAME_FRAMES * self.channels;
        // Each call takes what fills the encoder's frame and codes at most one unit;
        // less than a frame is left here until more input (or `finish`) comes.
        while self.pending.len() >= frame_samples {
            let (_, taken) = self.call(false, packets)?;
            if taken == 0 {
                break;
            }
            self.pending.drain(..taken);
        }
        Ok(())
    }

    fn finish(&mut self, packets: &mut Vec<Packet>) -> Result<(), CodecError> {
        // The last partial frame goes into the encoder's own buffer...
        while !self.pending.is_empty() {
            let (_, taken) = self.call(false, packets)?;
            if taken == 0 {
                break;
            }
            self.pending.drain(..taken);
        }
        // ...then the flush pads it and pushes out the delay line, one unit per call,
        // until FDK says the stream has ended.
        self.pending.clear();
        for _ in 0..64 {
            let before = packets.len();
            let (code, _) = self.call(true, packets)?;
            if code == AACENC_ENCODE_EOF || packets.len() == before {
                break;
            }
        }
        Ok(())
    }

    fn delay_frames(&self) -> usize {
        self.delay_frames
    }

    fn sample_rate_hz(&self) -> u32 {
        self.sample_rate_hz
    }
}

impl Drop for FdkAacEncoder {
    fn drop(&mut self) {
        // SAFETY: opened by aacEncOpen and closed once (it nulls the handle).
        unsafe { (self.api.close)(&mut self.handle) };
    }
}

/// symphonia's AAC-LC decoder fed one raw access unit at a time.
pub struct AacDecoder {
    inner: PacketDecoder,
}

impl AacDecoder {
    /// A decoder for the raw access units of a stream with this AudioSpecificConfig.
    pub fn new(audio_specific_config: &[u8]) -> Result<Self, CodecError> {
        let mut params = CodecParameters::new();
        params
            .for_codec(CODEC_TYPE_AAC)
            .with_extra_data(audio_specific_config.into());
        Ok(Self {
            inner: PacketDecoder::new(Codec::Aac, &params, FRAME_FRAMES)?,
        })
    }
}

impl Decoder for AacDecoder {
    fn decode(&mut self, packet: &Packet, out: &mut Vec<f32>) -> Result<(), CodecError> {
        self.inner.decode(packet, out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vbr_modes_follow_the_rate_per_channel() {
        assert_eq!(vbr_mode(256, 2), 5);
        assert_eq!(vbr_mode(128, 2), 3);
        assert_eq!(vbr_mode(144, 2), 4);
        assert_eq!(vbr_mode(72, 1), 4);
        assert_eq!(vbr_mode(8, 2), 1);
    }

    #[test]
    fn samples_round_to_16_bits_and_hold_at_full_scale() {
        assert_eq!(to_i16(0.0), 0);
        assert_eq!(to_i16(1.0), 32_767);
        assert_eq!(to_i16(-1.0), -32_768);
        assert_eq!(to_i16(1.5), 32_767);
        assert_eq!(to_i16(0.5 / 32_768.0), 1);
    }
}
