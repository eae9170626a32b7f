//! MP3 files as players expect them: an ID3v2.4 tag (text frames as `TXXX`, e.g. the
//! ReplayGain 2.0 fields), then a LAME/Xing tag frame whose encoder delay and padding
//! let gapless decoders (ffmpeg, mpg123, foobar2000...) drop the codec delay, then the
//! audio frames.

use crate::mp3::LameEncoder;
use crate::packets::PacketSink;
use crate::{CodecError, CodecSpec};

/// Frames handed to the encoder per call.
const CHUNK_FRAMES: usize = 4096;

/// Encodes planar `channels` at `sample_rate_hz` with `spec` into a complete MP3 file
/// carrying `tags` (description, value) as ID3v2.4 `TXXX` frames.
pub fn encode_file(
    spec: CodecSpec,
    channels: &[&[f32]],
    sample_rate_hz: u32,
    tags: &[(String, String)],
) -> Result<Vec<u8>, CodecError> {
    let mut writer = Mp3FileWriter::new(spec, sample_rate_hz, channels.len())?;
    let frames = channels.first().map_or(0, |c| c.len());
    for start in (0..frames).step_by(CHUNK_FRAMES) {
        let end = (start + CHUNK_FRAMES).min(frames);
        let chunk: Vec<&[f32]> = channels.iter().map(|c| &c[start..end]).collect();
        writer.write(&chunk)?;
    }
    writer.finish(tags)
}

/// An MP3 file being encoded. The frames are kept (compressed) until
/// [`Mp3FileWriter::finish`], because the ID3v2 tag comes first in the file and its
/// values (the loudness of the whole track) are known only at the end.
pub struct Mp3FileWriter {
    sink: PacketSink<LameEncoder>,
}

impl Mp3FileWriter {
    pub fn new(spec: CodecSpec, sample_rate_hz: u32, channels: usize) -> Result<Self, CodecError> {
        Ok(Self {
            sink: PacketSink::new(LameEncoder::with_lame_tag(spec, sample_rate_hz, channels)?),
        })
    }

    /// Encodes the next frames: one slice per channel, all the same length.
    pub fn write(&mut self, planes: &[&[f32]]) -> Result<(), CodecError> {
        self.sink.write(planes)
    }

    /// Flushes the encoder and returns the whole file with `tags` (description, value)
    /// as ID3v2.4 `TXXX` frames.
    pub fn finish(mut self, tags: &[(String, String)]) -> Result<Vec<u8>, CodecError> {
        self.sink.finish()?;
        // LAME wrote an empty frame first, to be replaced by the finished LAME tag.
        let tag_frame = self.sink.encoder.lame_tag_frame()?;
        let mut out = id3v2_tag(tags);
        let mut audio = self.sink.packets.into_iter();
        if !tag_frame.is_empty() {
            audio.next();
            out.extend_from_slice(&tag_frame);
        }
        for packet in audio {
            out.extend_from_slice(&packet.data);
        }
        Ok(out)
    }
}

/// A 28-bit size as ID3v2 writes it: seven bits a byte.
fn syncsafe(n: usize) -> [u8; 4] {
    [
        (n >> 21) as u8 & 0x7F,
        (n >> 14) as u8 & 0x7F,
        (n >> 7) as u8 & 0x7F,
        n as u8 & 0x7F,
    ]
}

/// An ID3v2.4 tag of UTF-8 `TXXX` frames.
pub fn id3v2_tag(tags: &[(String, String)]) -> Vec<u8> {
    let mut frames = Vec::new();
    for (description, value) in tags {
        let mut body = vec![3u8]; // UTF-8
        body.extend_from_slice(description.as_bytes());
        body.push(0);
        body.extend_from_slice(value.as_bytes());
        frames.extend_from_slice(b"TXXX");
        frames.extend_from_slice(&syncsafe(body.len()));
        frames.extend_from_slice(&[0, 0]);
        frames.extend_from_slice(&body);
    }
    let mut tag = b"ID3\x04\x00\x00".to_vec();
    tag.extend_from_slice(&syncsafe(frames.len()));
    tag.extend_from_slice(&frames);
    tag
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id3_sizes_are_syncsafe() {
        assert_eq!(syncsafe(0x3FFF), [0, 0, 0x7F, 0x7F]);
        let tag = id3v2_tag(&[("A".into(), "b".into())]);
        // header 10 + frame header 10 + body (1 + 1 + 1 + 1)
        assert_eq!(tag.len(), 24);
        assert_eq!(&tag[6..10], &[0, 0, 0, 14]);
    }
}
