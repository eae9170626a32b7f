//! Platform preview: how many dB each streaming platform's loudness normalisation moves
//! a master and whether its peak rule or limiter engages. The platform table is data
//! (`presets/platforms.ron`, built in; a user's copy may replace it), each entry citing
//! its source and the date it was read.

use std::path::Path;

use serde::{Deserialize, Serialize};

/// The table shipped with lathe.
pub const BUILT_IN: &str = include_str!("../../presets/platforms.ron");

/// What a platform does to peaks when it normalises.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub enum PeakRule {
    /// The gain is applied as computed.
    None,
    /// Turn-up stops where the true peak would pass `max_true_peak_dbtp`.
    CapGain { max_true_peak_dbtp: f64 },
    /// The gain is applied; a limiter catches sample peaks above `threshold_dbfs`.
    Limiter { threshold_dbfs: f64 },
}

/// One platform's published (or reported) normalisation.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Platform {
    pub name: String,
    pub label: String,
    pub target_lufs: f64,
    /// Whether tracks quieter than the target are turned up.
    pub turns_up: bool,
    pub peak_rule: PeakRule,
    pub source: String,
    /// When the source was read (YYYY-MM-DD).
    pub retrieved: String,
    pub note: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct PlatformTable {
    platforms: Vec<Platform>,
}

/// Why a platform table was rejected.
#[derive(Debug, thiserror::Error)]
pub enum PlatformError {
    #[error("cannot read platform table `{path}`: {reason}")]
    Read { path: String, reason: String },
    #[error("{path}:{line}:{col}: {reason}")]
    Parse {
        path: String,
        line: usize,
        col: usize,
        reason: String,
    },
    #[error("{path}: platform `{name}`: target_lufs {value} is outside -70.0 ..= 0.0")]
    Target {
        path: String,
        name: String,
        value: f64,
    },
}

/// Parses a platform table; `path` names it in messages.
pub fn parse(text: &str, path: &str) -> Result<Vec<Platform>, PlatformError> {
    let table: PlatformTable = ron::from_str(text).map_err(|e| PlatformError::Parse {
        path: path.to_string(),
        line: e.span.start.line,
        col: e.span.start.col,
        reason: e.code.to_string(),
    })?;
    for p in &table.platforms {
        if !(-70.0..=0.0).contains(&p.target_lufs) {
            return Err(PlatformError::Target {
                path: path.to_string(),
                name: p.name.clone(),
                value: p.target_lufs,
            });
        }
    }
    Ok(table.platforms)
}

/// The built-in table, or the file at `path`.
pub fn load(path: Option<&Path>) -> Result<Vec<Platform>, PlatformError> {
    match path {
        None => parse(BUILT_IN, "presets/platforms.ron"),
        Some(p) => {
            let shown = p.display().to_string();
            // A user's file: a regular file of at most 4 MiB, as graphs and presets.
            let text =
                lathe_engine::graph::read_source_text(p).map_err(|e| PlatformError::Read {
                    path: shown.clone(),
                    reason: e.to_string(),
                })?;
            parse(&text, &shown)
        }
    }
}

/// What one platform does to one master.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Preview {
    pub platform: String,
    pub target_lufs: f64,
    /// Gain the platform applies: negative turns down.
    pub gain_db: f64,
    pub playback_lufs: f64,
    pub playback_true_peak_dbtp: f64,
    /// dB of turn-up the peak rule withheld (0 when it did not act).
    pub peak_rule_withheld_db: f64,
    /// dB the limiter must take off the loudest sample peak (0 when it does not engage).
    pub limiter_db: f64,
}

/// A master's integrated loudness and peaks, the inputs of a preview.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Master {
    pub integrated_lufs: f64,
    pub true_peak_dbtp: f64,
    pub sample_peak_dbfs: f64,
}

/// What `platform` does to `master`.
pub fn preview(platform: &Platform, master: Master) -> Preview {
    let wanted_db = platform.target_lufs - master.integrated_lufs;
    let mut gain_db = if wanted_db > 0.0 && !platform.turns_up {
        0.0
    } else {
        wanted_db
    };
    let mut withheld_db = 0.0;
    let mut limiter_db = 0.0;
    match platform.peak_rule {
        PeakRule::None => {}
        PeakRule::CapGain { max_true_peak_dbtp } => {
            if gain_db > 0.0 {
                let room_db = (max_true_peak_dbtp - master.true_peak_dbtp).max(0.0);
                if gain_db > room_db {
                    withheld_db = gain_db - room_db;
                    gain_db = room_db;
                }
            }
        }
        PeakRule::Limiter { threshold_dbfs } => {
            limiter_db = (master.sample_peak_dbfs + gain_db - threshold_dbfs).max(0.0);
        }
    }
    Preview {
        platform: platform.name.clone(),
        target_lufs: platform.target_lufs,
        gain_db,
        playback_lufs: master.integrated_lufs + gain_db,
        playback_true_peak_dbtp: master.true_peak_dbtp + gain_db,
        peak_rule_withheld_db: withheld_db,
        limiter_db,
    }
}

/// Previews of every platform for `master`, figures to 0.01 dB.
pub fn preview_all(platforms: &[Platform], master: Master) -> Vec<Preview> {
    let r = |x: f64| (x * 100.0).round() / 100.0;
    platforms
        .iter()
        .map(|p| {
            let mut v = preview(p, master);
            for x in [
                &mut v.gain_db,
                &mut v.playback_lufs,
                &mut v.playback_true_peak_dbtp,
                &mut v.peak_rule_withheld_db,
                &mut v.limiter_db,
            ] {
                *x = r(*x);
            }
            v
        })
        .collect()
}

/// The previews as text rows under `lathe analyze`'s per-file figures.
pub fn table(previews: &[Preview]) -> String {
    let mut out = format!(
        "  {:<16}{:>10}{:>10}{:>12}{:>14}  {}\n",
        "platform", "target", "gain", "playback", "peak after", "peak rule"
    );
    for p in previews {
        let rule = if p.limiter_db > 0.0 {
            format!("limiter takes {:.2} dB off the peaks", p.limiter_db)
        } else if p.peak_rule_withheld_db > 0.0 {
            format!(
                "turn-up held back {:.2} dB by the peak rule",
                p.peak_rule_withheld_db
            )
        } else {
            "-".to_string()
        };
        out.push_str(&format!(
            "  {:<16}{:>10}{:>10}{:>12}{:>14}  {rule}\n",
            p.platform,
            format!("{:.1} LUFS", p.target_lufs),
            format!("{:+.2} dB", p.gain_db),
            format!("{:.2} LUFS", p.playback_lufs),
            format!("{:+.2} dBTP", p.playback_true_peak_dbtp),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn platform(name: &str) -> Platform {
        load(None)
            .expect("the built-in table parses")
            .into_iter()
            .find(|p| p.name == name)
            .expect("platform in the table")
    }

    const LOUD: Master = Master {
        integrated_lufs: -8.0,
        true_peak_dbtp: -0.3,
        sample_peak_dbfs: -0.5,
    };
    const QUIET: Master = Master {
        integrated_lufs: -20.0,
        true_peak_dbtp: -5.0,
        sample_peak_dbfs: -5.2,
    };

    #[test]
    fn loud_masters_are_turned_down_to_the_target() {
        let p = preview(&platform("spotify"), LOUD);
        assert_eq!(
            (p.gain_db, p.playback_lufs, p.playback_true_peak_dbtp),
            (-6.0, -14.0, -6.3)
        );
        assert_eq!(preview(&platform("apple-music"), LOUD).gain_db, -8.0);
        assert_eq!(preview(&platform("deezer"), LOUD).gain_db, -7.0);
    }

    #[test]
    fn spotify_lifts_a_quiet_master_only_to_1_db_of_headroom() {
        // Spotify's own example: -20 LUFS with a -5 dBTP peak is lifted to -16 LUFS.
        let p = preview(&platform("spotify"), QUIET);
        assert_eq!(
            (p.gain_db, p.playback_lufs, p.peak_rule_withheld_db),
            (4.0, -16.0, 2.0)
        );
    }

    #[test]
    fn platforms_that_do_not_turn_up_leave_quiet_masters_alone() {
        let p = preview(&platform("youtube"), QUIET);
        assert_eq!((p.gain_db, p.playback_lufs), (0.0, -20.0));
    }

    #[test]
    fn spotify_loud_engages_its_limiter() {
        // -20 -> -11 LUFS is +9 dB: a -5.2 dBFS peak reaches +3.8, 4.8 dB over -1 dBFS.
        let p = preview(&platform("spotify-loud"), QUIET);
        assert_eq!(p.gain_db, 9.0);
        assert!((p.limiter_db - 4.8).abs() < 1e-9, "{}", p.limiter_db);
        assert_eq!(preview(&platform("spotify-loud"), LOUD).limiter_db, 0.0);
    }

    #[test]
    fn every_built_in_entry_cites_a_source_and_a_date() {
        for p in load(None).expect("parses") {
            assert!(p.source.starts_with("https://"), "{}", p.name);
            assert_eq!(p.retrieved.len(), 10, "{}", p.name);
        }
    }

    #[test]
    fn a_bad_table_names_the_place() {
        let e = parse("(platforms: [(name: \"x\", bogus: 1)])", "my.ron")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("my.ron:1:"), "{e}");
    }
}
