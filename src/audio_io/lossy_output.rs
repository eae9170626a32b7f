//! Lossy delivery files: MP3 through lathe-codecs, tagged for players' loudness
//! normalisation (the fields come from [`super::replaygain`]).

use lathe_codecs::CodecSpec;
use lathe_codecs::mp3_file::encode_file;

use super::Audio;

/// The codec `--format mp3` delivers with.
pub const MP3_DELIVERY: &str = "mp3:320";

/// `audio` as an MP3 file ([`MP3_DELIVERY`]) with `tags` in ID3v2 `TXXX` frames.
pub fn encode_mp3(audio: &Audio, tags: &[(String, String)]) -> Result<Vec<u8>, String> {
    let spec: CodecSpec = MP3_DELIVERY.parse().map_err(|e| format!("{e}"))?;
    let planes: Vec<&[f32]> = audio.channels.iter().map(Vec::as_slice).collect();
    encode_file(spec, &planes, audio.sample_rate_hz, tags).map_err(|e| e.to_string())
}
