//! Track metadata (title, artist, album, track number, ISRC) from a manifest or flags,
//! and what carries it: in WAV, RIFF `LIST`/`INFO` for the tags and a BWF `bext` chunk
//! (EBU Tech 3285 version 2) with the loudness of the delivered file; in FLAC, Vorbis
//! comments for both ([`vorbis_comments`]).

use std::path::Path;

use serde::{Deserialize, Serialize};

/// Tags of one track; missing fields are left out of the file.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrackTags {
    pub title: Option<String>,
    pub artist: Option<String>,
    pub album: Option<String>,
    pub track: Option<u32>,
    pub isrc: Option<String>,
}

/// A manifest entry: the track's file (as given on the command line, or its base name)
/// and its tags.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ManifestTrack {
    pub file: String,
    #[serde(flatten)]
    pub tags: TrackTags,
}

/// A manifest file: album-wide tags and per-track tags (which win).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Manifest {
    pub artist: Option<String>,
    pub album: Option<String>,
    pub tracks: Vec<ManifestTrack>,
}

impl Manifest {
    /// Reads a manifest: JSON when the file ends in `.json`, RON otherwise.
    pub fn load(path: &Path) -> Result<Self, String> {
        let text = lathe_engine::graph::read_source_text(path)
            .map_err(|e| format!("cannot read manifest `{}`: {e}", path.display()))?;
        let parsed = if path.extension().is_some_and(|e| e == "json") {
            serde_json::from_str(&text).map_err(|e| e.to_string())
        } else {
            ron::from_str(&text).map_err(|e| e.to_string())
        };
        let manifest: Manifest =
            parsed.map_err(|e| format!("manifest `{}`: {e}", path.display()))?;
        for t in &manifest.tracks {
            if let Some(isrc) = &t.tags.isrc {
                check_isrc(isrc).map_err(|e| format!("manifest `{}`: {e}", path.display()))?;
            }
        }
        Ok(manifest)
    }

    /// The tags of the track read from `path` (number `index` from 0): the manifest entry
    /// whose `file` is the path as given or its base name, over the album-wide tags.
    /// The track number defaults to the position on the command line.
    pub fn tags_for(&self, path: &Path, index: usize) -> TrackTags {
        let base = path.file_name().map(|n| n.to_string_lossy().into_owned());
        // The path as given wins over a base name (`disc1/01.wav` and `disc2/01.wav`).
        let entry = self
            .tracks
            .iter()
            .find(|t| Path::new(&t.file) == path)
            .or_else(|| {
                self.tracks
                    .iter()
                    .find(|t| Some(t.file.as_str()) == base.as_deref())
            });
        let mut tags = entry.map(|e| e.tags.clone()).unwrap_or_default();
        tags.artist = tags.artist.or_else(|| self.artist.clone());
        tags.album = tags.album.or_else(|| self.album.clone());
        tags.track = tags.track.or(u32::try_from(index + 1).ok());
        tags.title = tags
            .title
            .or_else(|| path.file_stem().map(|s| s.to_string_lossy().into_owned()));
        tags
    }
}

/// An ISRC is 12 characters: country (2 letters), registrant (3 alphanumerics), year (2
/// digits), designation (5 digits); hyphens are allowed and dropped.
pub fn check_isrc(isrc: &str) -> Result<String, String> {
    let code: String = isrc.chars().filter(|c| *c != '-').collect();
    let b = code.as_bytes();
    let ok = b.len() == 12
        && b[..2].iter().all(u8::is_ascii_uppercase)
        && b[2..5].iter().all(u8::is_ascii_alphanumeric)
        && b[5..].iter().all(u8::is_ascii_digit);
    if ok {
        Ok(code)
    } else {
        Err(format!(
            "`{isrc}` is not an ISRC (CC-XXX-YY-NNNNN: 2 letters, 3 letters or digits, 7 digits)"
        ))
    }
}

/// Loudness of a delivered file, as the `bext` chunk stores it.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct BextLoudness {
    pub integrated_lufs: Option<f64>,
    pub range_lu: Option<f64>,
    pub true_peak_dbtp: Option<f64>,
    pub momentary_max_lufs: Option<f64>,
    pub short_term_max_lufs: Option<f64>,
}

/// EBU Tech 3285 v2: "a value of 0x7FFF indicates that the field is not used".
const BEXT_UNSET: i16 = 0x7FFF;
/// Size of the fixed part of `bext` before CodingHistory.
pub const BEXT_FIXED_BYTES: usize = 602;

/// A `bext` chunk body (version 2): description, originator, the origination date and
/// time, and the loudness fields in hundredths (-2305 = -23.05 LUFS).
pub fn bext_chunk(description: &str, date: &str, time: &str, loudness: &BextLoudness) -> Vec<u8> {
    let mut out = Vec::with_capacity(BEXT_FIXED_BYTES);
    push_fixed(&mut out, description, 256);
    push_fixed(&mut out, "lathe", 32);
    push_fixed(&mut out, "", 32);
    push_fixed(&mut out, date, 10);
    push_fixed(&mut out, time, 8);
    out.extend_from_slice(&0u32.to_le_bytes()); // TimeReferenceLow
    out.extend_from_slice(&0u32.to_le_bytes()); // TimeReferenceHigh
    out.extend_from_slice(&2u16.to_le_bytes()); // Version
    out.extend_from_slice(&[0u8; 64]); // UMID
    for value in [
        loudness.integrated_lufs,
        loudness.range_lu,
        loudness.true_peak_dbtp,
        loudness.momentary_max_lufs,
        loudness.short_term_max_lufs,
    ] {
        out.extend_from_slice(&hundredths(value).to_le_bytes());
    }
    out.extend_from_slice(&[0u8; 180]); // Reserved
    out
}

fn hundredths(value: Option<f64>) -> i16 {
    value.filter(|v| v.is_finite()).map_or(BEXT_UNSET, |v| {
        (v * 100.0).round().clamp(-32768.0, 32766.0) as i16
    })
}

/// ASCII `text` cut or zero-padded to `len` bytes.
fn push_fixed(out: &mut Vec<u8>, text: &str, len: usize) {
    let bytes: Vec<u8> = text.bytes().filter(u8::is_ascii).take(len).collect();
    out.extend_from_slice(&bytes);
    out.resize(out.len() + len - bytes.len(), 0);
}

/// A `LIST` chunk body of type `INFO` with the tags that are set (INAM title, IART
/// artist, IPRD album, ITRK track number, ISRC) and ISFT naming lathe.
pub fn info_chunk(tags: &TrackTags) -> Vec<u8> {
    let mut out = b"INFO".to_vec();
    let track = tags.track.map(|t| t.to_string());
    let fields = [
        (b"INAM", tags.title.as_deref()),
        (b"IART", tags.artist.as_deref()),
        (b"IPRD", tags.album.as_deref()),
        (b"ITRK", track.as_deref()),
        (b"ISRC", tags.isrc.as_deref()),
        (b"ISFT", Some("lathe")),
    ];
    for (id, value) in fields {
        let Some(value) = value else { continue };
        let mut text = value.as_bytes().to_vec();
        text.push(0);
        out.extend_from_slice(id);
        out.extend_from_slice(&(text.len() as u32).to_le_bytes());
        out.extend_from_slice(&text);
        if text.len() % 2 == 1 {
            out.push(0);
        }
    }
    out
}

/// Vorbis comment names of the loudness of a delivered FLAC file: the five values of
/// the `bext` chunk, in the same units, as decimals with two places (the precision
/// `bext` stores).
pub const VORBIS_LOUDNESS_FIELDS: [&str; 5] = [
    "LOUDNESS_INTEGRATED_LUFS",
    "LOUDNESS_RANGE_LU",
    "LOUDNESS_TRUE_PEAK_DBTP",
    "LOUDNESS_MOMENTARY_MAX_LUFS",
    "LOUDNESS_SHORT_TERM_MAX_LUFS",
];

/// The Vorbis comments of a delivered FLAC file: the usual names for the tags that are
/// set (TITLE, ARTIST, ALBUM, TRACKNUMBER, ISRC), DESCRIPTION, and the loudness fields
/// of [`VORBIS_LOUDNESS_FIELDS`] that were measured.
pub fn vorbis_comments(
    tags: &TrackTags,
    description: &str,
    loudness: &BextLoudness,
) -> Vec<(String, String)> {
    let track = tags.track.map(|t| t.to_string());
    let text = [
        ("TITLE", tags.title.as_deref()),
        ("ARTIST", tags.artist.as_deref()),
        ("ALBUM", tags.album.as_deref()),
        ("TRACKNUMBER", track.as_deref()),
        ("ISRC", tags.isrc.as_deref()),
        ("DESCRIPTION", Some(description)),
    ];
    let values = [
        loudness.integrated_lufs,
        loudness.range_lu,
        loudness.true_peak_dbtp,
        loudness.momentary_max_lufs,
        loudness.short_term_max_lufs,
    ];
    let mut out: Vec<(String, String)> = text
        .into_iter()
        .filter_map(|(name, value)| Some((name.to_string(), value?.to_string())))
        .collect();
    for (name, value) in VORBIS_LOUDNESS_FIELDS.into_iter().zip(values) {
        if let Some(v) = value.filter(|v| v.is_finite()) {
            out.push((name.to_string(), format!("{v:.2}")));
        }
    }
    out
}

/// Where a delivered file came from, so a file found years later names the chain that
/// made it: the lathe version and the SHA-256 of the graph (file and `--set` values).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provenance {
    pub lathe_version: String,
    pub graph_sha256: String,
    pub preset: String,
}

impl Provenance {
    /// The BWF `CodingHistory` line (EBU R 98: `A=`, `F=`, `W=`, `M=`, `T=` fields,
    /// ending in CR LF) of a PCM file of `rate_hz`, `bits` and `channels`, written after
    /// the fixed part of `bext`.
    pub fn coding_history(&self, rate_hz: u32, bits: u32, channels: usize) -> String {
        let mode = match channels {
            1 => "mono",
            2 => "stereo",
            _ => "multichannel",
        };
        format!(
            "A=PCM,F={rate_hz},W={bits},M={mode},T=lathe {}; graph sha256 {}; preset {}\r\n",
            self.lathe_version, self.graph_sha256, self.preset
        )
    }

    /// The Vorbis comments of a delivered FLAC file that carry the provenance.
    pub fn vorbis_comments(&self) -> Vec<(String, String)> {
        vec![
            (
                "ENCODER".to_string(),
                format!("lathe {}", self.lathe_version),
            ),
            ("LATHE_GRAPH_SHA256".to_string(), self.graph_sha256.clone()),
            ("LATHE_PRESET".to_string(), self.preset.clone()),
        ]
    }
}

/// The `CodingHistory` text of a `bext` chunk body (after its fixed part), NULs dropped.
pub fn parse_coding_history(body: &[u8]) -> String {
    body.get(BEXT_FIXED_BYTES..)
        .map(|h| {
            String::from_utf8_lossy(h)
                .trim_end_matches('\0')
                .to_string()
        })
        .unwrap_or_default()
}

/// The `LIST`/`INFO` fields of a chunk body written by [`info_chunk`], for reading back.
pub fn parse_info(body: &[u8]) -> Vec<(String, String)> {
    let mut fields = Vec::new();
    if body.get(..4) != Some(b"INFO") {
        return fields;
    }
    let mut pos = 4;
    while pos + 8 <= body.len() {
        let id = String::from_utf8_lossy(&body[pos..pos + 4]).into_owned();
        let len = u32::from_le_bytes([body[pos + 4], body[pos + 5], body[pos + 6], body[pos + 7]])
            as usize;
        let start = pos + 8;
        let Some(raw) = body.get(start..start + len) else {
            break;
        };
        let text = String::from_utf8_lossy(raw)
            .trim_end_matches('\0')
            .to_string();
        fields.push((id, text));
        pos = start + len + len % 2;
    }
    fields
}

/// The loudness fields of a `bext` chunk body, in dB/LU (`None` where unset).
pub fn parse_bext_loudness(body: &[u8]) -> Option<BextLoudness> {
    let field = |i: usize| -> Option<Option<f64>> {
        let at = 412 + 2 * i;
        let raw = i16::from_le_bytes([*body.get(at)?, *body.get(at + 1)?]);
        Some((raw != BEXT_UNSET).then(|| f64::from(raw) / 100.0))
    };
    Some(BextLoudness {
        integrated_lufs: field(0)?,
        range_lu: field(1)?,
        true_peak_dbtp: field(2)?,
        momentary_max_lufs: field(3)?,
        short_term_max_lufs: field(4)?,
    })
}

/// Date and time (UTC) as `bext` wants them, `yyyy-mm-dd` and `hh:mm:ss`, for the Unix
/// time `secs`.
pub fn bext_date_time(secs: u64) -> (String, String) {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil date from days since 1970-01-01 (proleptic Gregorian).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (
        format!("{year:04}-{month:02}-{day:02}"),
        format!("{:02}:{:02}:{:02}", rem / 3600, rem / 60 % 60, rem % 60),
    )
}

/// The time written into `bext`: `SOURCE_DATE_EPOCH` when set (reproducible builds of
/// a release), otherwise now.
pub fn origination_secs() -> u64 {
    std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs())
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bext_has_the_fixed_size_and_hundredths_at_their_offsets() {
        let l = BextLoudness {
            integrated_lufs: Some(-23.054),
            range_lu: Some(6.2),
            true_peak_dbtp: Some(-1.0),
            momentary_max_lufs: None,
            short_term_max_lufs: Some(-18.0),
        };
        let body = bext_chunk("x", "2024-01-02", "03:04:05", &l);
        assert_eq!(body.len(), BEXT_FIXED_BYTES);
        assert_eq!(i16::from_le_bytes([body[412], body[413]]), -2305);
        assert_eq!(i16::from_le_bytes([body[346], body[347]]), 2, "version");
        let back = parse_bext_loudness(&body).unwrap();
        assert_eq!(back.range_lu, Some(6.2));
        assert_eq!(back.momentary_max_lufs, None);
        assert_eq!(&body[320..330], b"2024-01-02");
    }

    #[test]
    fn info_round_trips() {
        let tags = TrackTags {
            title: Some("Odd".into()),
            artist: Some("Band".into()),
            album: None,
            track: Some(3),
            isrc: Some("GBAYE2400001".into()),
        };
        let fields = parse_info(&info_chunk(&tags));
        assert!(fields.contains(&("INAM".into(), "Odd".into())));
        assert!(fields.contains(&("ITRK".into(), "3".into())));
        assert!(fields.contains(&("ISRC".into(), "GBAYE2400001".into())));
        assert!(!fields.iter().any(|(k, _)| k == "IPRD"));
    }

    #[test]
    fn vorbis_comments_name_tags_and_loudness() {
        let tags = TrackTags {
            title: Some("Odd".into()),
            track: Some(3),
            ..TrackTags::default()
        };
        let loudness = BextLoudness {
            integrated_lufs: Some(-14.004),
            true_peak_dbtp: Some(-1.2),
            ..BextLoudness::default()
        };
        let pairs = vorbis_comments(&tags, "d", &loudness);
        let get = |k: &str| pairs.iter().find(|p| p.0 == k).map(|p| p.1.as_str());
        assert_eq!(get("TITLE"), Some("Odd"));
        assert_eq!(get("TRACKNUMBER"), Some("3"));
        assert_eq!(get("ARTIST"), None);
        assert_eq!(get("LOUDNESS_INTEGRATED_LUFS"), Some("-14.00"));
        assert_eq!(get("LOUDNESS_TRUE_PEAK_DBTP"), Some("-1.20"));
        assert_eq!(get("LOUDNESS_RANGE_LU"), None);
    }

    #[test]
    fn dates_follow_the_calendar() {
        assert_eq!(bext_date_time(0), ("1970-01-01".into(), "00:00:00".into()));
        assert_eq!(
            bext_date_time(1_709_210_096),
            ("2024-02-29".into(), "12:34:56".into())
        );
    }

    #[test]
    fn provenance_reads_back_from_coding_history() {
        let p = Provenance {
            lathe_version: "1.2.3".into(),
            graph_sha256: "ab".repeat(32),
            preset: "streaming".into(),
        };
        let mut body = bext_chunk("d", "2024-01-02", "03:04:05", &BextLoudness::default());
        body.extend_from_slice(p.coding_history(48_000, 24, 2).as_bytes());
        let history = parse_coding_history(&body);
        assert!(history.starts_with("A=PCM,F=48000,W=24,M=stereo,T=lathe 1.2.3;"));
        assert!(history.contains(&"ab".repeat(32)) && history.ends_with("\r\n"));
    }

    #[test]
    fn isrc_shape_is_checked() {
        assert_eq!(check_isrc("GB-AYE-24-00001").unwrap(), "GBAYE2400001");
        assert!(check_isrc("GBAYE24001").is_err());
    }
}
