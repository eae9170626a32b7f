//! A whole signal through a codec and back, aligned: the decoded frames that precede
//! the source (the codec's delay) are dropped and the tail is cut, so frame `i` of the
//! result is the decoder's rendering of source frame `i`.

use crate::{CodecError, CodecSpec, Packet};

/// Frames handed to the encoder per call.
const CHUNK_FRAMES: usize = 4096;

/// A decoded signal aligned with its source.
#[derive(Debug, Clone, PartialEq)]
pub struct Roundtrip {
    pub spec: CodecSpec,
    pub sample_rate_hz: u32,
    /// Planar, exactly as long as the source.
    pub channels: Vec<Vec<f32>>,
    /// Frames removed from the start of the decoded stream.
    pub delay_frames: usize,
    /// Size of the encoded stream (packets only, no container).
    pub encoded_bytes: usize,
}

/// Encodes `channels` (planar, equal length, at a rate the codec takes: see
/// [`crate::coded_rate_hz`]) with `spec`, decodes the packets and aligns the result.
pub fn roundtrip(
    spec: CodecSpec,
    channels: &[&[f32]],
    sample_rate_hz: u32,
) -> Result<Roundtrip, CodecError> {
    let channel_count = channels.len();
    let frames = channels.first().map_or(0, |c| c.len());
    let (mut encoder, mut decoder) = crate::open(spec, sample_rate_hz, channel_count)?;
    let mut packets: Vec<Packet> = Vec::new();
    let mut interleaved = Vec::with_capacity(CHUNK_FRAMES * channel_count);
    let mut decoded = Vec::with_capacity((frames + 8192) * channel_count);
    let mut encoded_bytes = 0;
    let mut drain = |packets: &mut Vec<Packet>, decoded: &mut Vec<f32>| -> Result<(), CodecError> {
        for packet in packets.drain(..) {
            encoded_bytes += packet.data.len();
            decoder.decode(&packet, decoded)?;
        }
        Ok(())
    };
    for start in (0..frames).step_by(CHUNK_FRAMES) {
        let end = (start + CHUNK_FRAMES).min(frames);
        interleaved.clear();
        for i in start..end {
            interleaved.extend(channels.iter().map(|c| c[i]));
        }
        encoder.encode(&interleaved, &mut packets)?;
        drain(&mut packets, &mut decoded)?;
    }
    encoder.finish(&mut packets)?;
    drain(&mut packets, &mut decoded)?;
    let delay_frames = encoder.delay_frames();
    let mut planar = vec![Vec::with_capacity(frames); channel_count];
    for frame in decoded
        .chunks_exact(channel_count)
        .skip(delay_frames)
        .take(frames)
    {
        for (plane, &s) in planar.iter_mut().zip(frame) {
            plane.push(s);
        }
    }
    // A stream that came out short (it never should) ends in silence rather than shorter.
    for plane in &mut planar {
        plane.resize(frames, 0.0);
    }
    Ok(Roundtrip {
        spec,
        sample_rate_hz,
        channels: planar,
        delay_frames,
        encoded_bytes,
    })
}
