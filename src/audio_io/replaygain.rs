//! Loudness tags players read, computed from lathe's own BS.1770 measurement: the
//! ReplayGain 2.0 track and album fields of MP3 (ID3v2 `TXXX`) and FLAC (Vorbis
//! comments) deliveries, and the `R128_TRACK_GAIN`/`R128_ALBUM_GAIN` comments of Opus
//! files (RFC 7845, which asks Opus files to carry no ReplayGain fields).

use lathe_codecs::opus_file::{R128_REFERENCE_LUFS, q78};
use lathe_nodes::dsp::analysis::FileAnalysis;

/// ReplayGain 2.0's reference loudness: a track at -18 LUFS gets 0 dB.
pub const REPLAYGAIN_REFERENCE_LUFS: f64 = -18.0;

/// `REPLAYGAIN_TRACK_GAIN` and `REPLAYGAIN_TRACK_PEAK` (the true peak, linear, as
/// ReplayGain 2.0 allows) for a track measured as `analysis`; none for silence.
pub fn replaygain_track_tags(analysis: &FileAnalysis) -> Vec<(String, String)> {
    replaygain_tags("TRACK", analysis)
}

/// `REPLAYGAIN_ALBUM_GAIN` and `REPLAYGAIN_ALBUM_PEAK` for an album measured as one
/// programme (`album`: BS.1770 gated over every track together, the largest true peak),
/// as ReplayGain 2.0 defines album gain.
pub fn replaygain_album_tags(album: &FileAnalysis) -> Vec<(String, String)> {
    replaygain_tags("ALBUM", album)
}

fn replaygain_tags(scope: &str, analysis: &FileAnalysis) -> Vec<(String, String)> {
    let mut tags = Vec::new();
    if let Some(lufs) = analysis.integrated_lufs {
        let gain_db = REPLAYGAIN_REFERENCE_LUFS - lufs;
        tags.push((
            format!("REPLAYGAIN_{scope}_GAIN"),
            format!("{gain_db:+.2} dB"),
        ));
    }
    if let Some(tp) = analysis.true_peak_dbtp {
        let peak = 10f64.powf(tp / 20.0);
        tags.push((format!("REPLAYGAIN_{scope}_PEAK"), format!("{peak:.6}")));
    }
    tags
}

/// `R128_TRACK_GAIN` (and `R128_ALBUM_GAIN` when `album` is given): the gain to -23 LUFS
/// in RFC 7845's Q7.8 integer (1/256 dB), as text; none for silence.
pub fn r128_tags(track: &FileAnalysis, album: Option<&FileAnalysis>) -> Vec<(String, String)> {
    let field = |name: &str, a: &FileAnalysis| {
        a.integrated_lufs.map(|lufs| {
            (
                name.to_string(),
                q78(R128_REFERENCE_LUFS - lufs).to_string(),
            )
        })
    };
    (field("R128_TRACK_GAIN", track).into_iter())
        .chain(album.and_then(|a| field("R128_ALBUM_GAIN", a)))
        .collect()
}

/// The loudness tags of a delivery in `codec`'s file: R128 for Opus, ReplayGain 2.0
/// otherwise; album fields when `album` is given.
pub fn lossy_loudness_tags(
    codec: lathe_codecs::Codec,
    track: &FileAnalysis,
    album: Option<&FileAnalysis>,
) -> Vec<(String, String)> {
    match codec {
        lathe_codecs::Codec::Opus => r128_tags(track, album),
        _ => {
            let mut tags = replaygain_track_tags(track);
            tags.extend(album.map(replaygain_album_tags).unwrap_or_default());
            tags
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn measured(lufs: f64, tp: f64) -> FileAnalysis {
        FileAnalysis {
            integrated_lufs: Some(lufs),
            true_peak_dbtp: Some(tp),
            ..silence()
        }
    }

    fn silence() -> FileAnalysis {
        FileAnalysis {
            sample_rate: 48_000,
            channels: 2,
            duration_s: 1.0,
            integrated_lufs: None,
            loudness_range_lu: None,
            true_peak_dbtp: None,
            sample_peak_dbfs: None,
            momentary_max_lufs: None,
            short_term_max_lufs: None,
            plr_db: None,
            correlation: None,
        }
    }

    #[test]
    fn r128_gains_are_q78_relative_to_minus_23_lufs() {
        // -14 LUFS -> -9 dB -> -2304; -20.5 LUFS -> -2.5 dB -> -640.
        let tags = r128_tags(&measured(-14.0, -1.0), Some(&measured(-20.5, -1.0)));
        assert_eq!(
            tags,
            vec![
                ("R128_TRACK_GAIN".into(), "-2304".into()),
                ("R128_ALBUM_GAIN".into(), "-640".into())
            ]
        );
        assert!(r128_tags(&silence(), None).is_empty());
    }

    #[test]
    fn album_fields_follow_the_track_fields() {
        let tags = lossy_loudness_tags(
            lathe_codecs::Codec::Mp3,
            &measured(-14.0, -6.0206),
            Some(&measured(-15.0, -1.0)),
        );
        let names: Vec<&str> = tags.iter().map(|t| t.0.as_str()).collect();
        assert_eq!(
            names,
            [
                "REPLAYGAIN_TRACK_GAIN",
                "REPLAYGAIN_TRACK_PEAK",
                "REPLAYGAIN_ALBUM_GAIN",
                "REPLAYGAIN_ALBUM_PEAK"
            ]
        );
        assert_eq!(tags[2].1, "-3.00 dB");
    }

    #[test]
    fn replaygain_is_minus_18_lufs_minus_the_loudness() {
        let a = FileAnalysis {
            sample_rate: 48_000,
            channels: 2,
            duration_s: 1.0,
            integrated_lufs: Some(-14.0),
            loudness_range_lu: None,
            true_peak_dbtp: Some(-6.0206),
            sample_peak_dbfs: None,
            momentary_max_lufs: None,
            short_term_max_lufs: None,
            plr_db: None,
            correlation: None,
        };
        let tags = replaygain_track_tags(&a);
        assert_eq!(tags[0], ("REPLAYGAIN_TRACK_GAIN".into(), "-4.00 dB".into()));
        assert_eq!(tags[1], ("REPLAYGAIN_TRACK_PEAK".into(), "0.500000".into()));
    }
}
