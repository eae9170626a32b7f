//! The front the file writers share: planar chunks in, interleaved into the encoder, its
//! packets kept (compressed) until the file is finished, because each format's header
//! holds what is known only at the end (the loudness tags, the sample tables).

use crate::stream::interleave;
use crate::{CodecError, Encoder, Packet};

/// An encoder, the packets it has made so far and the frames it has been given.
pub struct PacketSink<E> {
    pub encoder: E,
    pub packets: Vec<Packet>,
    /// Source frames written so far.
    pub frames_in: u64,
    interleaved: Vec<f32>,
}

impl<E: Encoder> PacketSink<E> {
    pub fn new(encoder: E) -> Self {
        Self {
            encoder,
            packets: Vec::new(),
            frames_in: 0,
            interleaved: Vec::new(),
        }
    }

    /// Encodes the next frames: one slice per channel, all the same length.
    pub fn write(&mut self, planes: &[&[f32]]) -> Result<(), CodecError> {
        let frames = planes.first().map_or(0, |p| p.len());
        interleave(planes, frames, planes.len(), &mut self.interleaved);
        self.frames_in += frames as u64;
        self.encoder.encode(&self.interleaved, &mut self.packets)
    }

    /// Flushes the encoder: the last packets, padded, with its delay pushed out.
    pub fn finish(&mut self) -> Result<(), CodecError> {
        self.encoder.finish(&mut self.packets)
    }
}
