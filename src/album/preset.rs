//! Delivery presets: loudness target, true-peak ceiling, sample rate, bit depth and dither,
//! as data in RON files. The files in `presets/` are built into the binary; a user may
//! pass the path of their own file instead of a name.

use std::path::Path;

use serde::{Deserialize, Serialize};

/// The presets shipped with lathe, by name, as the RON text of `presets/NAME.ron`.
const BUILT_IN: [(&str, &str); 4] = [
    ("streaming", include_str!("../../presets/streaming.ron")),
    ("broadcast", include_str!("../../presets/broadcast.ron")),
    ("podcast", include_str!("../../presets/podcast.ron")),
    ("cd", include_str!("../../presets/cd.ron")),
];

/// The delivery when no preset is given: no loudness target unless `--target-lufs`,
/// -1 dBTP, 24-bit at the source rate.
pub const DEFAULT_CEILING_DBTP: f64 = -1.0;
/// Loudness tolerance when no preset is given, in LU.
pub const DEFAULT_TOLERANCE_LU: f64 = 0.3;

/// One delivery format.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Preset {
    pub name: String,
    pub description: String,
    /// Integrated loudness to reach; `None` keeps the mix's level.
    pub target_lufs: Option<f64>,
    /// How far the result may miss the target, in LU.
    pub tolerance_lu: f64,
    /// Highest true peak of the delivered file (after resampling and dither).
    pub ceiling_dbtp: f64,
    /// Output rate; `None` keeps the source rate.
    pub sample_rate_hz: Option<u32>,
    /// 16 or 24 (integer PCM, dithered by the `dither` node kind).
    pub bits: u32,
    /// Dither shaping as the `dither` node kind names it: "none", "tpdf_hp", "shaped".
    pub shaping: String,
    /// Codecs (`opus:128`, `mp3:320`) whose decoded true peak must stay at or under the
    /// ceiling: each track is turned down until it does (docs/delivery.md).
    #[serde(default)]
    pub codec_safe: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum PresetError {
    #[error("no preset `{name}`; built-in presets: {known} (or give the path of a .ron file)")]
    Unknown { name: String, known: String },
    #[error("cannot read preset `{path}`: {source}")]
    Read {
        path: String,
        source: lathe_engine::graph::SourceFileError,
    },
    #[error("preset `{path}`: {message}")]
    Invalid { path: String, message: String },
}

impl Preset {
    /// The default delivery: 24-bit at the source rate, -1 dBTP, no loudness target.
    pub fn plain() -> Self {
        Self {
            name: "default".to_string(),
            description: "24-bit WAV at the source rate, -1 dBTP".to_string(),
            target_lufs: None,
            tolerance_lu: DEFAULT_TOLERANCE_LU,
            ceiling_dbtp: DEFAULT_CEILING_DBTP,
            sample_rate_hz: None,
            bits: 24,
            shaping: "none".to_string(),
            codec_safe: Vec::new(),
        }
    }

    /// A built-in preset by name, or a preset file when `name_or_path` ends in `.ron`
    /// or names an existing file.
    pub fn find(name_or_path: &str) -> Result<Self, PresetError> {
        if let Some((_, text)) = BUILT_IN.iter().find(|(n, _)| *n == name_or_path) {
            return Self::parse(name_or_path, text);
        }
        let path = Path::new(name_or_path);
        if name_or_path.ends_with(".ron") || path.is_file() {
            let text = lathe_engine::graph::read_source_text(path).map_err(|source| {
                PresetError::Read {
                    path: name_or_path.to_string(),
                    source,
                }
            })?;
            return Self::parse(name_or_path, &text);
        }
        Err(PresetError::Unknown {
            name: name_or_path.to_string(),
            known: BUILT_IN.map(|(n, _)| n).join(", "),
        })
    }

    /// Every built-in preset, in the order they are listed.
    pub fn built_in() -> Vec<Self> {
        BUILT_IN
            .iter()
            .map(|(name, text)| Self::parse(name, text).expect("built-in presets parse"))
            .collect()
    }

    fn parse(origin: &str, text: &str) -> Result<Self, PresetError> {
        let invalid = |message: String| PresetError::Invalid {
            path: origin.to_string(),
            message,
        };
        let preset: Preset = ron::from_str(text).map_err(|e| invalid(e.to_string()))?;
        preset.validate().map_err(invalid)?;
        Ok(preset)
    }

    fn validate(&self) -> Result<(), String> {
        if !matches!(self.bits, 16 | 24) {
            return Err(format!("bits must be 16 or 24, found {}", self.bits));
        }
        if !matches!(self.shaping.as_str(), "none" | "tpdf_hp" | "shaped") {
            return Err(format!(
                "shaping must be \"none\", \"tpdf_hp\" or \"shaped\", found \"{}\"",
                self.shaping
            ));
        }
        if !(-24.0..=0.0).contains(&self.ceiling_dbtp) {
            return Err(format!(
                "ceiling_dbtp must be in -24..=0, found {}",
                self.ceiling_dbtp
            ));
        }
        if let Some(t) = self.target_lufs
            && !(-70.0..=0.0).contains(&t)
        {
            return Err(format!("target_lufs must be in -70..=0, found {t}"));
        }
        if !(0.05..=3.0).contains(&self.tolerance_lu) {
            return Err(format!(
                "tolerance_lu must be in 0.05..=3, found {}",
                self.tolerance_lu
            ));
        }
        if let Some(rate) = self.sample_rate_hz
            && !(8_000..=384_000).contains(&rate)
        {
            return Err(format!(
                "sample_rate_hz must be in 8000..=384000, found {rate}"
            ));
        }
        Ok(())
    }

    /// One line per preset for `--list-presets`.
    pub fn listing() -> String {
        Self::built_in()
            .iter()
            .map(|p| format!("  {:<10} {}\n", p.name, p.description))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_presets_parse_with_their_figures() {
        let all = Preset::built_in();
        let get = |n: &str| all.iter().find(|p| p.name == n).expect("present");
        assert_eq!(get("streaming").target_lufs, Some(-14.0));
        assert_eq!(get("broadcast").sample_rate_hz, Some(48_000));
        assert_eq!(get("broadcast").tolerance_lu, 0.5);
        assert_eq!(get("podcast").target_lufs, Some(-16.0));
        let cd = get("cd");
        assert_eq!(
            (cd.bits, cd.sample_rate_hz, cd.ceiling_dbtp, cd.target_lufs),
            (16, Some(44_100), -0.3, None)
        );
        assert_eq!(cd.shaping, "shaped");
    }

    #[test]
    fn unknown_names_list_the_known_ones() {
        let e = Preset::find("vinyl").unwrap_err().to_string();
        assert!(e.contains("streaming, broadcast, podcast, cd"), "{e}");
    }
}
