//! The decoders lathe takes from symphonia (MP3, AAC-LC), fed one packet at a time: one
//! type for both, so the packet timing, the sample buffer reuse and the error mapping are
//! written once.

use symphonia::core::audio::SampleBuffer;
use symphonia::core::codecs::{CodecParameters, DecoderOptions};

use crate::{Codec, CodecError, Packet};

/// A symphonia decoder for one codec's packets, in order, each `frames_per_packet` long.
pub(crate) struct PacketDecoder {
    codec: Codec,
    decoder: Box<dyn symphonia::core::codecs::Decoder>,
    /// Reused between packets; replaced only when a packet needs more room.
    samples: Option<SampleBuffer<f32>>,
    frames_per_packet: u64,
    next_ts: u64,
}

impl PacketDecoder {
    /// Opens symphonia's decoder for `params` (which name the codec type).
    pub(crate) fn new(
        codec: Codec,
        params: &CodecParameters,
        frames_per_packet: usize,
    ) -> Result<Self, CodecError> {
        let decoder = symphonia::default::get_codecs()
            .make(params, &DecoderOptions::default())
            .map_err(|e| CodecError::Decode {
                codec,
                reason: e.to_string(),
            })?;
        Ok(Self {
            codec,
            decoder,
            samples: None,
            frames_per_packet: frames_per_packet as u64,
            next_ts: 0,
        })
    }

    /// Decodes one packet, appending interleaved `f32` frames to `out`.
    pub(crate) fn decode(&mut self, packet: &Packet, out: &mut Vec<f32>) -> Result<(), CodecError> {
        let input = symphonia::core::formats::Packet::new_from_slice(
            0,
            self.next_ts,
            self.frames_per_packet,
            &packet.data,
        );
        self.next_ts += self.frames_per_packet;
        let decoded = self
            .decoder
            .decode(&input)
            .map_err(|e| CodecError::Decode {
                codec: self.codec,
                reason: e.to_string(),
            })?;
        let spec = *decoded.spec();
        let capacity = decoded.capacity();
        let samples = match &mut self.samples {
            Some(s) if s.capacity() >= capacity * spec.channels.count() => s,
            slot => slot.insert(SampleBuffer::new(capacity as u64, spec)),
        };
        samples.copy_interleaved_ref(decoded);
        out.extend_from_slice(samples.samples());
        Ok(())
    }
}
