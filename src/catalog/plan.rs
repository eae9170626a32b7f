//! From a catalogue file to this task's units of work, checking everything that can be
//! checked before the first render: every row (columns, ISRC, preset, target), every
//! output path (template fields, unsafe characters, collisions across the whole
//! catalogue, outputs that would overwrite an input), and within each of this task's
//! albums, duplicate track numbers and presets or targets that disagree.
//!
//! Memory: the rows of this task's units are kept; of every other row only two 64-bit
//! hashes (its output and input paths) and a line number, for the collision checks.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Component, Path, PathBuf};

use crate::album::metadata::{TrackTags, check_isrc};
use crate::album::preset::Preset;
use crate::album::shard::Shard;
use crate::catalog::rows::{Row, Rows};
use crate::catalog::shard::{key_hash, owns};
use crate::catalog::template::{Template, Values};
use crate::cli::{AlbumMode, DeliveryFormat};

/// Problems listed in full before the rest are only counted.
pub const MAX_LISTED_PROBLEMS: usize = 50;

/// What the plan needs to know besides the catalogue.
pub struct PlanOptions<'a> {
    pub catalogue: &'a Path,
    /// `None` for `status`/`merge`, which need the units but not their paths.
    pub template: Option<&'a Template>,
    pub sanitize: bool,
    pub mode: AlbumMode,
    pub format: DeliveryFormat,
    /// `--preset` (or the plain delivery) and `--target-lufs`.
    pub preset: &'a Preset,
    pub target_lufs: Option<f64>,
    pub shard: Shard,
    pub out_dir: &'a Path,
    /// Files no output may replace (the graph, the catalogue), with their role.
    pub protected: Vec<(&'static str, PathBuf)>,
}

/// One track of a unit.
#[derive(Debug, Clone)]
pub struct PlannedTrack {
    pub line: u64,
    /// As written in the catalogue.
    pub path: String,
    /// Resolved against the catalogue's folder.
    pub input: PathBuf,
    /// Relative to the output folder (empty for status and merge).
    pub output: PathBuf,
    pub tags: TrackTags,
}

/// One unit of work: an album (album mode) or a track (track mode).
#[derive(Debug, Clone)]
pub struct Unit {
    pub key: String,
    pub tracks: Vec<PlannedTrack>,
    pub preset: Preset,
    pub target_lufs: Option<f64>,
}

/// This task's units in key order, and what the whole catalogue holds.
#[derive(Debug)]
pub struct Plan {
    pub units: Vec<Unit>,
    pub catalogue_rows: u64,
    pub catalogue_units: u64,
}

/// Everything wrong with a catalogue, in file order.
#[derive(Debug, thiserror::Error)]
#[error("{}", list(.problems, *.more))]
pub struct PlanError {
    pub problems: Vec<String>,
    /// Problems found beyond [`MAX_LISTED_PROBLEMS`].
    pub more: usize,
}

fn list(problems: &[String], more: usize) -> String {
    let mut text = format!(
        "the catalogue has {} problem(s); nothing was rendered:",
        problems.len() + more
    );
    for p in problems {
        text.push_str("\n  ");
        text.push_str(p);
    }
    if more > 0 {
        text.push_str(&format!("\n  ... and {more} more"));
    }
    text
}

struct Problems {
    listed: Vec<String>,
    more: usize,
}

impl Problems {
    fn push(&mut self, p: String) {
        if self.listed.len() < MAX_LISTED_PROBLEMS {
            self.listed.push(p);
        } else {
            self.more += 1;
        }
    }
}

/// The fields a template can use, for one row.
struct RowValues<'a> {
    row: &'a Row,
    track: u32,
    stem: String,
    ext: &'static str,
}

impl Values for RowValues<'_> {
    fn get(&self, field: &str) -> Option<String> {
        let r = self.row;
        match field {
            "artist" => r.artist.clone(),
            "album_artist" => r.album_artist().map(str::to_string),
            "album" => Some(r.album.clone()),
            "album_id" => r.album_id.clone(),
            "track" => Some(self.track.to_string()),
            "title" => Some(r.title.clone().unwrap_or_else(|| self.stem.clone())),
            "isrc" => r.isrc.clone(),
            "stem" => Some(self.stem.clone()),
            "ext" => Some(self.ext.to_string()),
            _ => None,
        }
    }
}

/// `path` made absolute against the current folder, with `.` and `..` resolved by
/// name (symbolic links are not followed: two names of one file are not caught).
pub fn normalise(path: &Path) -> PathBuf {
    let absolute = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir().unwrap_or_default().join(path)
    };
    let mut out = PathBuf::new();
    for c in absolute.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            c => out.push(c),
        }
    }
    out
}

fn path_hash(path: &Path, fold_case: bool) -> u64 {
    let text = path.to_string_lossy();
    if fold_case {
        key_hash(&text.to_lowercase())
    } else {
        key_hash(&text)
    }
}

/// A track of one of this task's units with its row's `preset` and `target_lufs`,
/// checked for agreement across the album once every row is read.
type RowOfUnit = (PlannedTrack, Option<String>, Option<f64>);

/// Streams the catalogue once and returns this task's units.
pub fn plan(opts: &PlanOptions<'_>) -> Result<Plan, PlanError> {
    let mut problems = Problems {
        listed: Vec::new(),
        more: 0,
    };
    let base = opts.catalogue.parent().unwrap_or(Path::new("."));
    let rows = Rows::open(opts.catalogue).map_err(|e| PlanError {
        problems: vec![e.to_string()],
        more: 0,
    })?;
    let ext = opts.format.extension();
    let out_dir = normalise(opts.out_dir);
    let protected: Vec<(&str, u64)> = opts
        .protected
        .iter()
        .map(|(role, p)| (*role, path_hash(&normalise(p), false)))
        .collect();
    let mut presets: HashMap<String, Result<Preset, String>> = HashMap::new();
    // Output paths compared without case: the delivery may land on a case-insensitive
    // file system (macOS, Windows, many NAS shares).
    let mut outputs: HashMap<u64, u64> = HashMap::new();
    let mut inputs: HashMap<u64, u64> = HashMap::new();
    let mut exact_outputs: HashMap<u64, u64> = HashMap::new();
    let mut positions: HashMap<u64, u32> = HashMap::new();
    let mut units: BTreeMap<String, Vec<RowOfUnit>> = BTreeMap::new();
    let mut unit_keys: HashSet<u64> = HashSet::new();
    let mut catalogue_rows = 0;
    for item in rows {
        let (line, row) = match item {
            Ok(r) => r,
            Err(e) => {
                problems.push(e.to_string());
                continue;
            }
        };
        catalogue_rows += 1;
        let at = format!("{}:{line}", opts.catalogue.display());
        let album_key = row.album_key();
        let position = positions.entry(key_hash(&album_key)).or_insert(0);
        *position += 1;
        let track = row.track.unwrap_or(*position);
        if track == 0 {
            problems.push(format!("{at}: track 0; track numbers start at 1"));
        }
        if row.path.is_empty() {
            problems.push(format!("{at}: `path` is empty"));
            continue;
        }
        if row.album.is_empty() {
            problems.push(format!("{at}: `album` is empty"));
        }
        let isrc = match row.isrc.as_deref().map(check_isrc) {
            Some(Err(e)) => {
                problems.push(format!("{at}: {e}"));
                None
            }
            Some(Ok(code)) => Some(code),
            None => None,
        };
        if let Some(t) = row.target_lufs
            && !(-70.0..=0.0).contains(&t)
        {
            problems.push(format!("{at}: target_lufs {t} is outside -70..=0 LUFS"));
        }
        if let Some(name) = &row.preset {
            let found = presets
                .entry(name.clone())
                .or_insert_with(|| find_preset(name, base));
            if let Err(e) = found {
                problems.push(format!("{at}: {e}"));
            }
        }
        let input = normalise(&base.join(&row.path));
        let stem = Path::new(&row.path)
            .file_stem()
            .map_or_else(String::new, |s| s.to_string_lossy().into_owned());
        let input_hash = path_hash(&input, false);
        inputs.entry(input_hash).or_insert(line);
        if let Some(other) = exact_outputs.get(&input_hash) {
            problems.push(format!(
                "{at}: the input `{}` is the output of line {other}",
                input.display()
            ));
        }
        let mut output = PathBuf::new();
        if let Some(template) = opts.template {
            let values = RowValues {
                row: &row,
                track,
                stem: stem.clone(),
                ext,
            };
            match template.fill(&values, opts.sanitize) {
                Err(e) => problems.push(format!("{at}: {e}")),
                Ok(rel) => {
                    let full = out_dir.join(&rel);
                    if let Some(first) = outputs.insert(path_hash(&full, true), line) {
                        problems.push(format!(
                            "{at}: the output `{}` is also the output of line {first} (names compared ignoring case); add a field such as {{track}} or {{album_id}} to the template",
                            rel.display()
                        ));
                    }
                    let exact = path_hash(&full, false);
                    exact_outputs.entry(exact).or_insert(line);
                    if let Some(other) = inputs.get(&exact) {
                        problems.push(format!(
                            "{at}: the output `{}` would overwrite the input of line {other}",
                            full.display()
                        ));
                    }
                    for (role, hash) in &protected {
                        if *hash == exact {
                            problems.push(format!(
                                "{at}: the output `{}` would overwrite the {role}",
                                full.display()
                            ));
                        }
                    }
                    output = rel;
                }
            }
        }
        let key = match opts.mode {
            AlbumMode::Album => format!("album:{album_key}"),
            AlbumMode::Track => format!("track:{album_key} #{track}"),
        };
        unit_keys.insert(key_hash(&key));
        if !owns(opts.shard, &key) {
            continue;
        }
        let tags = TrackTags {
            title: Some(row.title.clone().unwrap_or(stem)),
            artist: row.artist.clone(),
            album: Some(row.album.clone()),
            track: Some(track),
            isrc,
        };
        let planned = PlannedTrack {
            line,
            path: row.path.clone(),
            input,
            output,
            tags,
        };
        units
            .entry(key)
            .or_default()
            .push((planned, row.preset.clone(), row.target_lufs));
    }
    let mut planned = Vec::with_capacity(units.len());
    for (key, mut tracks) in units {
        tracks.sort_by_key(|(t, _, _)| (t.tags.track, t.line));
        for pair in tracks.windows(2) {
            if pair[0].0.tags.track == pair[1].0.tags.track {
                problems.push(format!(
                    "{}:{}: track {} of `{key}` is also on line {}",
                    opts.catalogue.display(),
                    pair[1].0.line,
                    pair[1].0.tags.track.unwrap_or(0),
                    pair[0].0.line
                ));
            }
        }
        let (first, preset_name, target) = (&tracks[0].0, &tracks[0].1, tracks[0].2);
        for (t, p, g) in &tracks[1..] {
            if p != preset_name || *g != target {
                problems.push(format!(
                    "{}:{}: {} but line {} of the same album `{key}` has {}; an album is delivered with one preset and target",
                    opts.catalogue.display(),
                    t.line,
                    describe(p, *g),
                    first.line,
                    describe(preset_name, target)
                ));
            }
        }
        let preset = match preset_name {
            Some(name) => match presets.get(name) {
                Some(Ok(p)) => p.clone(),
                _ => continue,
            },
            None => opts.preset.clone(),
        };
        planned.push(Unit {
            key,
            target_lufs: target.or(opts.target_lufs),
            preset,
            tracks: tracks.into_iter().map(|(t, _, _)| t).collect(),
        });
    }
    if !problems.listed.is_empty() {
        return Err(PlanError {
            problems: problems.listed,
            more: problems.more,
        });
    }
    Ok(Plan {
        units: planned,
        catalogue_rows,
        catalogue_units: unit_keys.len() as u64,
    })
}

/// `preset X, target_lufs Y` of a row, for messages.
fn describe(preset: &Option<String>, target_lufs: Option<f64>) -> String {
    format!(
        "preset {}, target_lufs {}",
        preset.as_deref().unwrap_or("(none)"),
        target_lufs.map_or_else(|| "(none)".to_string(), |t| t.to_string())
    )
}

/// A preset by built-in name, or a `.ron` file relative to the catalogue's folder.
fn find_preset(name: &str, base: &Path) -> Result<Preset, String> {
    match Preset::find(name) {
        Ok(p) => Ok(p),
        Err(e) => {
            let path = base.join(name);
            if path.is_file() {
                Preset::find(&path.to_string_lossy()).map_err(|e| e.to_string())
            } else {
                Err(e.to_string())
            }
        }
    }
}
