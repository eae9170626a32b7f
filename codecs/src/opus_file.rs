//! Ogg Opus files (RFC 7845): an `OpusHead` page with the encoder's pre-skip, `OpusTags`
//! pages with the vendor and the comments (e.g. `R128_TRACK_GAIN`), then the audio
//! packets with granule positions, the last page trimmed so a decoder returns exactly
//! the frames that were encoded.
//!
//! Packets are kept (compressed) until [`OpusFileWriter::finish`], because the tags come
//! first in the file and their values (the loudness of the whole track) are known only
//! at the end: 160 kbps is 1.2 MB a minute.

use crate::ogg::OggWriter;
use crate::opus::{OpusEncoder, PACKET_MS};
use crate::packets::PacketSink;
use crate::{CodecError, CodecSpec, Encoder};

/// The rate every Opus granule position and the pre-skip count in.
const GRANULE_RATE_HZ: u32 = 48_000;
/// RFC 7845's reference for `R128_TRACK_GAIN`/`R128_ALBUM_GAIN` (EBU R 128): a track at
/// -23 LUFS gets 0.
pub const R128_REFERENCE_LUFS: f64 = -23.0;
/// Audio pages are closed at about this size, so a player seeks in small steps.
const PAGE_BYTES: usize = 4096;
/// Stream serial number; a file holds one stream, any value will do.
const SERIAL: u32 = 0x6C61_7468; // "lath"

/// A gain in dB as RFC 7845's Q7.8 fixed point (1/256 dB steps), rounded, clamped to the
/// range an `i16` holds (-128 ..= +127.996 dB).
pub fn q78(gain_db: f64) -> i16 {
    (gain_db * 256.0)
        .round()
        .clamp(f64::from(i16::MIN), f64::from(i16::MAX)) as i16
}

/// An Ogg Opus file being encoded.
pub struct OpusFileWriter {
    sink: PacketSink<OpusEncoder>,
    channels: usize,
    sample_rate_hz: u32,
    /// Granule units (48 kHz frames) per encoded frame.
    granule_per_frame: u64,
}

impl OpusFileWriter {
    /// A writer for `channels` (1 or 2) at `sample_rate_hz`, one of
    /// [`crate::opus::RATES_HZ`] (others are refused, naming those).
    pub fn new(spec: CodecSpec, sample_rate_hz: u32, channels: usize) -> Result<Self, CodecError> {
        if !(1..=2).contains(&channels) {
            return Err(CodecError::Channels {
                codec: spec.codec,
                found: channels,
            });
        }
        let encoder = OpusEncoder::new(spec, sample_rate_hz, channels)?;
        Ok(Self {
            sink: PacketSink::new(encoder),
            channels,
            sample_rate_hz,
            granule_per_frame: u64::from(GRANULE_RATE_HZ / sample_rate_hz),
        })
    }

    /// Encodes the next frames: one slice per channel, all the same length.
    pub fn write(&mut self, planes: &[&[f32]]) -> Result<(), CodecError> {
        self.sink.write(planes)
    }

    /// Flushes the encoder and returns the whole file, with `comments` (field, value) in
    /// its `OpusTags`.
    pub fn finish(mut self, comments: &[(String, String)]) -> Result<Vec<u8>, CodecError> {
        self.sink.finish()?;
        let pre_skip = self.sink.encoder.delay_frames() as u64 * self.granule_per_frame;
        let mut ogg = OggWriter::new(SERIAL);
        ogg.packet(&self.opus_head(pre_skip), 0);
        ogg.flush();
        ogg.packet(&opus_tags(comments), 0);
        ogg.flush();
        let packet_granules =
            u64::from(self.sample_rate_hz * PACKET_MS / 1000) * self.granule_per_frame;
        // The end: every source frame after the pre-skip, and not one more (the last
        // page's granule trims the padding of the last packet, RFC 7845 section 4.4).
        let end = pre_skip + self.sink.frames_in * self.granule_per_frame;
        let count = self.sink.packets.len();
        for (k, packet) in self.sink.packets.iter().enumerate() {
            if ogg.pending_bytes() + packet.data.len() > PAGE_BYTES && k + 1 < count {
                ogg.flush();
            }
            let granule = ((k as u64 + 1) * packet_granules).min(end);
            ogg.packet(&packet.data, granule);
        }
        Ok(ogg.finish())
    }

    /// The identification header (RFC 7845 section 5.1), output gain 0: loudness is
    /// left to the R128 tags, so a player without normalisation plays the master as is.
    fn opus_head(&self, pre_skip: u64) -> Vec<u8> {
        let mut head = b"OpusHead".to_vec();
        head.push(1); // version
        head.push(self.channels as u8);
        head.extend_from_slice(&(pre_skip.min(u64::from(u16::MAX)) as u16).to_le_bytes());
        head.extend_from_slice(&self.sample_rate_hz.to_le_bytes());
        head.extend_from_slice(&0i16.to_le_bytes()); // output gain, Q7.8
        head.push(0); // channel mapping family 0: mono or stereo
        head
    }
}

/// The comment header (RFC 7845 section 5.2): vendor, then `FIELD=value` comments.
fn opus_tags(comments: &[(String, String)]) -> Vec<u8> {
    let vendor = format!("lathe {} (libopus)", env!("CARGO_PKG_VERSION"));
    let mut tags = b"OpusTags".to_vec();
    tags.extend_from_slice(&(vendor.len() as u32).to_le_bytes());
    tags.extend_from_slice(vendor.as_bytes());
    tags.extend_from_slice(&(comments.len() as u32).to_le_bytes());
    for (field, value) in comments {
        let comment = format!("{field}={value}");
        tags.extend_from_slice(&(comment.len() as u32).to_le_bytes());
        tags.extend_from_slice(comment.as_bytes());
    }
    tags
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn q78_rounds_to_256ths_of_a_db() {
        assert_eq!(q78(0.0), 0);
        assert_eq!(q78(-9.0), -2304);
        assert_eq!(q78(1.0 / 512.0 + 1e-9), 1);
        assert_eq!(q78(500.0), i16::MAX);
    }

    #[test]
    fn tags_hold_vendor_and_comments() {
        let t = opus_tags(&[("R128_TRACK_GAIN".into(), "-2304".into())]);
        assert_eq!(&t[..8], b"OpusTags");
        let vendor_len = u32::from_le_bytes(t[8..12].try_into().unwrap()) as usize;
        let at = 12 + vendor_len;
        assert_eq!(u32::from_le_bytes(t[at..at + 4].try_into().unwrap()), 1);
        assert_eq!(&t[at + 8..], b"R128_TRACK_GAIN=-2304");
    }
}
