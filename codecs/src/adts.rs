//! ADTS: AAC access units as a self-framing stream (ISO 14496-3, 1.A.2.2), what a `.aac`
//! file holds and any AAC decoder reads without a container. Each unit gets a 7-byte
//! header naming the profile, rate and channels; there is no place for the encoder
//! delay, so a decoder of the stream plays [`Encoder::delay_frames`] frames of priming
//! first.

use crate::aac::FdkAacEncoder;
use crate::{CodecError, CodecSpec, Encoder, Packet};

/// The sampling-frequency indices of ISO 14496-3, table 1.18.
const RATES_HZ: [u32; 12] = [
    96_000, 88_200, 64_000, 48_000, 44_100, 32_000, 24_000, 22_050, 16_000, 12_000, 11_025, 8_000,
];
/// Header bytes without a CRC.
pub const HEADER_BYTES: usize = 7;
/// Frames handed to the encoder per call.
const CHUNK_FRAMES: usize = 4096;

/// The ADTS header of one AAC-LC access unit of `payload_bytes` bytes, or `None` for a
/// rate ADTS cannot name or a unit too long for its 13-bit length field.
pub fn header(sample_rate_hz: u32, channels: usize, payload_bytes: usize) -> Option<[u8; 7]> {
    let rate_index = RATES_HZ.iter().position(|&r| r == sample_rate_hz)? as u8;
    let frame_bytes = payload_bytes + HEADER_BYTES;
    if frame_bytes >= 1 << 13 || !(1..=7).contains(&channels) {
        return None;
    }
    let len = frame_bytes as u16;
    let channels = channels as u8;
    // Object type 2 (AAC-LC) is written as profile 1; buffer fullness 0x7FF says VBR.
    Some([
        0xFF,
        0xF1, // sync, MPEG-4, layer 0, no CRC
        (1 << 6) | (rate_index << 2) | (channels >> 2),
        ((channels & 3) << 6) | (len >> 11) as u8,
        (len >> 3) as u8,
        (((len & 7) as u8) << 5) | 0x1F,
        0xFC,
    ])
}

/// Planar `channels` at `sample_rate_hz` encoded with `spec` as an ADTS stream, and the
/// frames of priming a decoder of it plays before the first source frame.
pub fn encode_stream(
    spec: CodecSpec,
    channels: &[&[f32]],
    sample_rate_hz: u32,
) -> Result<(Vec<u8>, usize), CodecError> {
    let mut encoder = FdkAacEncoder::new(spec, sample_rate_hz, channels.len())?;
    let frames = channels.first().map_or(0, |c| c.len());
    let mut packets: Vec<Packet> = Vec::new();
    let mut interleaved = Vec::with_capacity(CHUNK_FRAMES * channels.len());
    for start in (0..frames).step_by(CHUNK_FRAMES) {
        let end = (start + CHUNK_FRAMES).min(frames);
        interleaved.clear();
        for i in start..end {
            interleaved.extend(channels.iter().map(|c| c[i]));
        }
        encoder.encode(&interleaved, &mut packets)?;
    }
    encoder.finish(&mut packets)?;
    let mut stream = Vec::with_capacity(packets.iter().map(|p| p.data.len() + 7).sum());
    for packet in &packets {
        let head = header(sample_rate_hz, channels.len(), packet.data.len()).ok_or_else(|| {
            CodecError::Library {
                codec: spec.codec,
                operation: "framing as ADTS",
                reason: format!("an access unit of {} bytes", packet.data.len()),
            }
        })?;
        stream.extend_from_slice(&head);
        stream.extend_from_slice(&packet.data);
    }
    Ok((stream, encoder.delay_frames()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_carry_rate_channels_and_length() {
        let h = header(48_000, 2, 100).expect("a header");
        assert_eq!(h[0], 0xFF);
        assert_eq!(h[1] & 0xF6, 0xF0, "sync and layer 0");
        assert_eq!(h[2] >> 6, 1, "AAC-LC");
        assert_eq!((h[2] >> 2) & 0xF, 3, "48 kHz is index 3");
        assert_eq!(((h[2] & 1) << 2) | (h[3] >> 6), 2, "two channels");
        let len = (usize::from(h[3] & 3) << 11) | (usize::from(h[4]) << 3) | usize::from(h[5] >> 5);
        assert_eq!(len, 107);
        assert_eq!(header(44_100, 1, 0).expect("header")[2] >> 2 & 0xF, 4);
        assert!(header(45_000, 2, 10).is_none());
        assert!(header(48_000, 2, 8185).is_none());
    }
}
