//! ReplayGain 2.0 track fields computed from lathe's own BS.1770 measurement, for the
//! tags of MP3 (ID3v2 `TXXX`) and FLAC (Vorbis comments) deliveries.

use lathe_nodes::dsp::analysis::FileAnalysis;

/// ReplayGain 2.0's reference loudness: a track at -18 LUFS gets 0 dB.
pub const REPLAYGAIN_REFERENCE_LUFS: f64 = -18.0;

/// `REPLAYGAIN_TRACK_GAIN` and `REPLAYGAIN_TRACK_PEAK` (the true peak, linear, as
/// ReplayGain 2.0 allows) for a track measured as `analysis`; none for silence.
pub fn replaygain_track_tags(analysis: &FileAnalysis) -> Vec<(String, String)> {
    let mut tags = Vec::new();
    if let Some(lufs) = analysis.integrated_lufs {
        let gain_db = REPLAYGAIN_REFERENCE_LUFS - lufs;
        tags.push((
            "REPLAYGAIN_TRACK_GAIN".to_string(),
            format!("{gain_db:+.2} dB"),
        ));
    }
    if let Some(tp) = analysis.true_peak_dbtp {
        let peak = 10f64.powf(tp / 20.0);
        tags.push(("REPLAYGAIN_TRACK_PEAK".to_string(), format!("{peak:.6}")));
    }
    tags
}

#[cfg(test)]
mod tests {
    use super::*;

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
