//! Lossy delivery files: Ogg Opus, MP3 and AAC (`.m4a`) through lathe-codecs, tagged for players'
//! loudness normalisation (the fields come from [`super::replaygain`]).
//!
//! [`LossyWriter`] takes the audio a chunk at a time (a render), measures it as it goes
//! (lathe's BS.1770 meters, on the samples handed to the encoder) and writes the tags
//! from that measurement when the file is finished; [`encode_lossy`] does the same for a
//! whole track whose measurement is already known (an album, with album tags).

use lathe_codecs::lossy_file::LossyFileWriter;
use lathe_codecs::{Codec, CodecError, CodecSpec};
use lathe_nodes::dsp::analysis::{Analyzer, FileAnalysis};
use lathe_nodes::dsp::bs1770::Layout;

use super::{Audio, replaygain};

/// The codec `--format mp3` delivers with, and a `.mp3` render without `--codec`.
pub const MP3_DELIVERY: &str = "mp3:320";
/// The codec `--format opus` delivers with, and a `.opus` render without `--codec`:
/// 160 kbps VBR, transparent for most music and what streaming services use at their
/// high settings.
pub const OPUS_DELIVERY: &str = "opus:160";
/// The codec `--format m4a` delivers with, and a `.m4a` render without `--codec`: what
/// Apple Music distributes (AAC-LC at 256 kbps).
pub const AAC_DELIVERY: &str = "aac:256";
/// Frames handed to the encoder per call when a whole track is encoded.
const CHUNK_FRAMES: usize = 1 << 14;

/// The delivery spec of `codec` when the user names no bitrate.
pub fn default_spec(codec: Codec) -> CodecSpec {
    let text = match codec {
        Codec::Opus => OPUS_DELIVERY,
        Codec::Mp3 => MP3_DELIVERY,
        Codec::Aac => AAC_DELIVERY,
    };
    text.parse()
        .expect("the delivery defaults are valid codec specs")
}

/// Rates `codec` writes files at without resampling, as text for messages.
pub fn allowed_rates(codec: Codec) -> String {
    let rates: &[u32] = match codec {
        Codec::Opus => &lathe_codecs::opus::RATES_HZ,
        Codec::Mp3 => &lathe_codecs::mp3::RATES_HZ,
        Codec::Aac => &lathe_codecs::aac::RATES_HZ,
    };
    rates
        .iter()
        .filter(|&&rate| takes_rate(codec, rate))
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Whether `codec` writes files at `sample_rate_hz` as it is.
pub fn takes_rate(codec: Codec, sample_rate_hz: u32) -> bool {
    lathe_codecs::coded_rate_hz(codec, sample_rate_hz) == sample_rate_hz
}

/// A lossy file being encoded and measured chunk by chunk.
pub struct LossyWriter {
    codec: Codec,
    writer: LossyFileWriter,
    analyzer: Analyzer,
}

impl std::fmt::Debug for LossyWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "LossyWriter({})", self.codec)
    }
}

impl LossyWriter {
    pub fn new(spec: CodecSpec, sample_rate_hz: u32, channels: usize) -> Result<Self, CodecError> {
        Ok(Self {
            codec: spec.codec,
            writer: LossyFileWriter::new(spec, sample_rate_hz, channels)?,
            analyzer: Analyzer::new(f64::from(sample_rate_hz), Layout::for_channels(channels)),
        })
    }

    /// Encodes and measures one chunk: one slice per channel, all the same length.
    pub fn write(&mut self, planes: &[&[f32]]) -> Result<(), CodecError> {
        self.analyzer.process(planes);
        self.writer.write(planes)
    }

    /// The file: the track's loudness tags (from what was written) and `extra` tags.
    pub fn finish(self, extra: &[(String, String)]) -> Result<Vec<u8>, CodecError> {
        let mut tags = extra.to_vec();
        tags.extend(replaygain::lossy_loudness_tags(
            self.codec,
            &self.analyzer.analysis(),
            None,
        ));
        self.writer.finish(&tags)
    }
}

/// `audio` as a `spec` file with `tags` first, then the loudness tags of `track` (its
/// measurement) and of `album` when given.
pub fn encode_lossy(
    spec: CodecSpec,
    audio: &Audio,
    tags: &[(String, String)],
    track: &FileAnalysis,
    album: Option<&FileAnalysis>,
) -> Result<Vec<u8>, CodecError> {
    let mut writer = LossyFileWriter::new(spec, audio.sample_rate_hz, audio.channel_count())?;
    let frames = audio.frames();
    for start in (0..frames).step_by(CHUNK_FRAMES) {
        let end = (start + CHUNK_FRAMES).min(frames);
        let chunk: Vec<&[f32]> = audio.channels.iter().map(|c| &c[start..end]).collect();
        writer.write(&chunk)?;
    }
    let mut all = tags.to_vec();
    all.extend(replaygain::lossy_loudness_tags(spec.codec, track, album));
    writer.finish(&all)
}
